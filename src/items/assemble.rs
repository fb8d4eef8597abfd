//! Assembly of a file's result from its items' results (DESIGN.md, "Items"), the documented
//! rule: lists (smells, suggestions, findings, hotspots) are concatenated in file order with
//! line numbers made absolute; numbers (the scores) are the mean over the items that give
//! them, weighted by the items' line counts, to one decimal; text (the summary) is the header
//! item's, else the first item's in file order that has one. A request asks one item for a
//! summary, describing the whole file: the header, else the first item
//! (`analyzer::items::summary_item`); the others leave theirs empty.
//!
//! A file analysed by items stores no copy of this: its entry says how many items it has, and
//! readers assemble the result from the item entries whenever they read it, so each result is
//! stored once.

use std::collections::HashMap;

use serde_json::{Map, Value};

use super::{Item, Kind, Split};

/// Keys whose numbers are line numbers, relative to an item in an item's result.
pub const LINE_KEYS: &[&str] = &["line", "line_start", "line_end"];

/// `v` with its line numbers made absolute for `item`.
fn absolute(v: &Value, item: &Item) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, x)| {
                    let x = match (LINE_KEYS.contains(&k.as_str()), x.as_u64()) {
                        (true, Some(l)) => item.absolute(l).map(Value::from).unwrap_or(Value::Null),
                        _ => absolute(x, item),
                    };
                    (k.clone(), x)
                })
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(|x| absolute(x, item)).collect()),
        other => other.clone(),
    }
}

/// The file's result from its items' results (`results` by item id; every item of `split`
/// must have one), by the rule in the module docs.
pub fn assemble(split: &Split, results: &HashMap<String, Value>) -> Value {
    // Text first from the header, then the others in file order.
    let mut order: Vec<&Item> = split.items.iter().collect();
    order.sort_by_key(|it| (it.kind != Kind::Header, it.first_line()));
    let mut sums: HashMap<Vec<String>, (f64, f64)> = HashMap::new();
    let mut acc = Value::Object(Map::new());
    for it in order {
        let Some(r) = results.get(&it.id) else {
            continue;
        };
        let r = absolute(r, it);
        merge(
            &mut acc,
            &r,
            it.line_count() as f64,
            &mut Vec::new(),
            &mut sums,
        );
    }
    // Numbers: weighted means.
    for (path, (sum, weight)) in sums {
        if let Some(slot) = pointer_mut(&mut acc, &path) {
            let mean = if weight > 0.0 { sum / weight } else { 0.0 };
            *slot = Value::from((mean * 10.0).round() / 10.0);
        }
    }
    acc
}

fn merge(
    acc: &mut Value,
    v: &Value,
    weight: f64,
    path: &mut Vec<String>,
    sums: &mut HashMap<Vec<String>, (f64, f64)>,
) {
    match (acc, v) {
        (Value::Object(a), Value::Object(m)) => {
            for (k, x) in m {
                path.push(k.clone());
                let slot = a.entry(k.clone()).or_insert(Value::Null);
                merge(slot, x, weight, path, sums);
                path.pop();
            }
        }
        (slot @ Value::Null, Value::Object(_)) => {
            *slot = Value::Object(Map::new());
            merge(slot, v, weight, path, sums);
        }
        (Value::Array(a), Value::Array(b)) => a.extend(b.iter().cloned()),
        (slot @ Value::Null, Value::Array(b)) => *slot = Value::Array(b.clone()),
        (slot, Value::Number(n)) if slot.is_null() || slot.is_number() => {
            let e = sums.entry(path.clone()).or_insert((0.0, 0.0));
            e.0 += n.as_f64().unwrap_or(0.0) * weight;
            e.1 += weight;
            *slot = Value::from(0);
        }
        // Text: the first non-empty one (an empty one holds the place until then).
        (slot, Value::String(s))
            if slot.is_null() || (slot.as_str() == Some("") && !s.is_empty()) =>
        {
            *slot = Value::String(s.clone());
        }
        (slot @ Value::Null, other) if !other.is_null() => *slot = other.clone(),
        _ => {}
    }
}

fn pointer_mut<'v>(v: &'v mut Value, path: &[String]) -> Option<&'v mut Value> {
    let mut cur = v;
    for k in path {
        cur = cur.as_object_mut()?.get_mut(k)?;
    }
    Some(cur)
}
