//! Item requests (DESIGN.md, "Items"): one request per file carrying the file's skeleton as
//! context and the items that have no result yet, each tagged with its id; a reply gives a
//! result per item id, in the type's schema, with line numbers relative to the item. The
//! file's result is assembled from its items' results by [`crate::items::assemble`], which
//! documents the rule. `docs` is not analysed by items: module
//! documentation is about the module as a whole, and assembled per-function notes are not that.

use serde_json::Value;

use crate::items::assemble::LINE_KEYS;
use crate::items::{Item, Kind, Split};

/// The types that can be analysed by items.
pub fn supports(cache_type: &str) -> bool {
    matches!(cache_type, "refactor" | "analysis")
}

/// The system message of an item request. The reply's shape and each result's schema are the
/// request's structured output (`schema::item_reply`), not words here: stated twice they would
/// be paid for twice on every request (a server that takes no schema gets it in the system
/// message instead: `llm::wire::openai`).
pub fn system(_cache_type: &str) -> String {
    "You are a meticulous senior software engineer reviewing parts (items) of one source file. \
Give one result for every item id you were given and for no other id. Line numbers in a result count from the item's \
first line (line 1), never from the top of the file."
        .to_string()
}

/// The instructions of an item request.
pub fn template(cache_type: &str) -> &'static str {
    match cache_type {
        "refactor" => "Review the items below of `{{path}}` ({{language}}) for refactoring opportunities, and score each item's \
maintainability, readability and complexity from 0 to 10. The skeleton shows the whole file as context; review only the \
items. Only the item marked `summary of the file` gets a summary, of the whole file; leave the others' empty.",
        _ => "Review the items below of `{{path}}` ({{language}}) for quality, complexity and security, with concrete findings \
and their lines. The skeleton shows the whole file as context; review only the items.",
    }
}

/// The item whose result carries the file's summary: the header, else the first item. Only it
/// is asked for one: the assembled result shows one summary (`items::assemble`), and a
/// summary per item would be paid for, stored and committed for nothing.
pub fn summary_item(split: &Split) -> Option<&Item> {
    split
        .items
        .iter()
        .find(|i| i.kind == Kind::Header)
        .or(split.items.first())
}

/// The user message: the instructions, the skeleton, then each item with its id.
pub fn user(cache_type: &str, path: &str, split: &Split, items: &[&Item]) -> String {
    // Only a type whose results have a summary asks one item for the file's.
    let has_summary = super::schema::top_level(&super::schema::result(cache_type))
        .iter()
        .any(|(f, _)| f == "summary");
    let carrier = summary_item(split)
        .filter(|_| has_summary)
        .map(|i| i.id.as_str());
    let mut s = template(cache_type)
        .replace("{{path}}", path)
        .replace("{{language}}", split.lang.name());
    s.push_str("\n\nSkeleton of the file:\n```\n");
    s.push_str(&split.skeleton(items.iter().any(|i| i.kind == Kind::Header)));
    s.push_str("```\n");
    for it in items {
        s.push_str(&format!(
            "\n### item {} ({} {}{}, {} lines)\n```\n{}\n```\n",
            it.id,
            it.kind.name(),
            if it.name.is_empty() { "-" } else { &it.name },
            if carrier == Some(it.id.as_str()) {
                ", summary of the file"
            } else {
                ""
            },
            it.line_count(),
            it.text
        ));
    }
    s
}

/// What an item reply gave: per item id sent, its result or why it is unusable; and the ids
/// the reply named that were not sent.
#[derive(Debug, Default)]
pub struct ItemReply {
    /// Per item sent, in the order sent.
    pub results: Vec<(String, Result<Value, String>)>,
    /// Ids the reply named that were not sent.
    pub unknown: Vec<String>,
}

/// Parse an item reply to the `sent` items: valid JSON (or JSON in a code fence) whose `items`
/// lists `{"id", "result"}` (the schema the request asks for: `schema::item_reply`), or maps
/// ids to results (what a model without the schema may answer; an id given twice: the first);
/// each item's result must follow the type's schema with its lines inside the item.
pub fn parse_reply(cache_type: &str, text: &str, sent: &[&Item]) -> Result<ItemReply, String> {
    let v = super::prompts::parse_json(text)?;
    let items: serde_json::Map<String, Value> = match v.get("items") {
        Some(Value::Object(m)) => m.clone(),
        Some(Value::Array(list)) => {
            let mut m = serde_json::Map::new();
            for e in list {
                if let (Some(id), Some(r)) = (e.get("id").and_then(Value::as_str), e.get("result"))
                {
                    m.entry(id.to_string()).or_insert_with(|| r.clone());
                }
            }
            m
        }
        _ => return Err("the reply has no `items` list".into()),
    };
    let mut out = ItemReply::default();
    for it in sent {
        let r = match items.get(&it.id) {
            None => Err("the reply gives no result for it".to_string()),
            Some(r) => super::prompts::check_schema(cache_type, r.clone()).and_then(|r| {
                match first_bad_line(&r, it.line_count() as u64) {
                    Some(n) => Err(format!(
                        "line {n} is outside the item (lines 1-{})",
                        it.line_count()
                    )),
                    None => Ok(r),
                }
            }),
        };
        out.results.push((it.id.clone(), r));
    }
    out.unknown = items
        .keys()
        .filter(|k| !sent.iter().any(|it| &it.id == *k))
        .map(|k| crate::output::sanitize(k))
        .collect();
    Ok(out)
}

/// The first line number in `v` outside `1..=lines`.
fn first_bad_line(v: &Value, lines: u64) -> Option<i64> {
    match v {
        Value::Object(m) => m.iter().find_map(|(k, x)| {
            if LINE_KEYS.contains(&k.as_str()) {
                match x {
                    Value::Null => None,
                    Value::Number(n) => match n.as_u64() {
                        Some(l) if (1..=lines).contains(&l) => None,
                        _ => Some(n.as_i64().unwrap_or(-1)),
                    },
                    _ => Some(-1),
                }
            } else {
                first_bad_line(x, lines)
            }
        }),
        Value::Array(a) => a.iter().find_map(|x| first_bad_line(x, lines)),
        _ => None,
    }
}

/// `total` (a request's tokens or cost) apportioned to `items` by the bytes each sent, the
/// skeleton's share spread the same way: the parts add up to `total` (the last takes the
/// rounding).
pub fn apportion(total: u64, items: &[&Item]) -> Vec<u64> {
    let bytes: Vec<u64> = items.iter().map(|i| i.text.len() as u64 + 1).collect();
    let sum: u64 = bytes.iter().sum::<u64>().max(1);
    let mut out: Vec<u64> = bytes.iter().map(|b| total * b / sum).collect();
    let given: u64 = out.iter().sum();
    if let Some(last) = out.last_mut() {
        *last += total - given;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::items::assemble::assemble;
    use crate::items::split;
    use std::collections::HashMap;

    const FILE: &str =
        "use a::b;\n\nfn one() {\n    a();\n}\n\nfn two() {\n    b();\n    c();\n}\n";

    fn result(line: u64, score: f64, summary: &str) -> Value {
        serde_json::json!({
            "summary": summary,
            "smells": [{"type": "naming", "severity": "low", "location": {"line_start": line, "line_end": line, "symbol": null}, "description": "d"}],
            "suggestions": [],
            "scores": {"maintainability": score, "readability": score, "complexity": 1}
        })
    }

    #[test]
    fn a_file_result_is_its_items_results_in_file_order_with_absolute_lines() {
        let s = split("a.rs", FILE).unwrap();
        let ids: Vec<&str> = s.items.iter().map(|i| i.id.as_str()).collect();
        assert_eq!(s.items[0].kind, Kind::Header);
        let mut r = HashMap::new();
        r.insert(ids[0].to_string(), result(1, 9.0, "the file"));
        r.insert(ids[1].to_string(), result(2, 6.0, "one"));
        r.insert(ids[2].to_string(), result(3, 3.0, "two"));
        let file = assemble(&s, &r);
        assert_eq!(file["summary"], "the file");
        let lines: Vec<u64> = file["smells"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x["location"]["line_start"].as_u64().unwrap())
            .collect();
        // header line 1 is file line 1; `one` starts at 3 (its line 2 is 4); `two` at 7.
        assert_eq!(lines, [1, 4, 9]);
        // Weighted by lines: header 1 line, one 3, two 4 → (9 + 18 + 12) / 8 = 4.875.
        assert_eq!(file["scores"]["maintainability"], 4.9);
        assert_eq!(file["scores"]["complexity"], 1.0);
        assert!(super::super::prompts::check_schema("refactor", file).is_ok());
    }

    #[test]
    fn a_reply_that_omits_invents_or_oversteps_an_item_fails_only_that_item() {
        let s = split("a.rs", FILE).unwrap();
        let sent: Vec<&Item> = s.items.iter().skip(1).collect();
        let reply = serde_json::json!({"items": {
            sent[0].id.clone(): result(4, 5.0, "x"),
            "00000000deadbeef": result(1, 5.0, "y"),
        }});
        let r = parse_reply("refactor", &reply.to_string(), &sent).unwrap();
        assert!(r.results[0]
            .1
            .as_ref()
            .unwrap_err()
            .contains("outside the item"));
        assert!(r.results[1].1.as_ref().unwrap_err().contains("no result"));
        assert_eq!(r.unknown, ["00000000deadbeef"]);
        let ok = serde_json::json!({"items": {
            sent[0].id.clone(): result(3, 5.0, "x"),
            sent[1].id.clone(): result(1, 5.0, "y"),
        }});
        let r = parse_reply("refactor", &ok.to_string(), &sent).unwrap();
        assert!(r.results.iter().all(|(_, x)| x.is_ok()));
        // The list the request's schema asks for; an id given twice counts once, the first.
        let listed = serde_json::json!({"items": [
            {"id": sent[1].id.clone(), "result": result(1, 5.0, "")},
            {"id": sent[0].id.clone(), "result": result(3, 5.0, "")},
            {"id": sent[0].id.clone(), "result": result(99, 5.0, "")},
        ]});
        let r = parse_reply("refactor", &listed.to_string(), &sent).unwrap();
        assert!(r.results.iter().all(|(_, x)| x.is_ok()), "{:?}", r.results);
        assert!(r.unknown.is_empty());
        assert!(parse_reply("refactor", "prose", &sent).is_err());
    }

    #[test]
    fn one_item_is_asked_for_the_files_summary() {
        let marked = |text: &str, skip: usize| {
            let s = split("a.rs", text).unwrap();
            let sent: Vec<&Item> = s.items.iter().skip(skip).collect();
            let u = user("refactor", "a.rs", &s, &sent);
            let ids: Vec<String> = u
                .lines()
                .filter(|l| l.contains(", summary of the file, "))
                .map(|l| {
                    l["### item ".len()..]
                        .split(' ')
                        .next()
                        .unwrap()
                        .to_string()
                })
                .collect();
            (ids, s)
        };
        // The header, when the file has one.
        let (ids, s) = marked(FILE, 0);
        assert_eq!(ids, [s.items[0].id.clone()]);
        // Not sent (cached): no item is asked.
        assert!(marked(FILE, 1).0.is_empty());
        // No header: the first item.
        let no_header = "fn one() {\n    a();\n}\n\nfn two() {\n    b();\n}\n";
        let (ids, s) = marked(no_header, 0);
        assert_ne!(s.items[0].kind, Kind::Header);
        assert_eq!(ids, [s.items[0].id.clone()]);
        // The assembled summary is that item's, whatever order the items come in.
        let mut r = HashMap::new();
        r.insert(s.items[0].id.clone(), result(1, 5.0, "the file"));
        r.insert(s.items[1].id.clone(), result(1, 5.0, ""));
        assert_eq!(assemble(&s, &r)["summary"], "the file");
        // An empty summary before it does not hide it.
        r.insert(s.items[0].id.clone(), result(1, 5.0, ""));
        r.insert(s.items[1].id.clone(), result(1, 5.0, "later"));
        assert_eq!(assemble(&s, &r)["summary"], "later");
    }

    #[test]
    fn apportioned_parts_add_up() {
        let s = split("a.rs", FILE).unwrap();
        let items: Vec<&Item> = s.items.iter().collect();
        for total in [0, 1, 7, 1000, 123_457] {
            let parts = apportion(total, &items);
            assert_eq!(parts.iter().sum::<u64>(), total);
        }
    }
}
