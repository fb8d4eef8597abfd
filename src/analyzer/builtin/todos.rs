//! The `todos` analyzer: every TODO / FIXME / HACK / XXX in comments, with line, tag, owner
//! and text.

use serde_json::{json, Value};

use super::lex::{lex, Lang};

/// Bumped whenever the output for some input would change: part of the key.
pub const VERSION: u32 = 1;
/// The tags looked for, in reporting order.
pub const TAGS: &[&str] = &["TODO", "FIXME", "HACK", "XXX"];

/// Analyse `text` (from `path`, whose extension picks the comment syntax).
pub fn analyze(path: &str, text: &str) -> Value {
    let lang = Lang::of(path);
    let mut items = Vec::new();
    let mut by_tag = serde_json::Map::new();
    for (idx, line) in lex(text, lang).iter().enumerate() {
        // In prose files (Markdown, plain text) the whole line counts; in code only comments.
        let haystack = if lang == Lang::Plain {
            &line.code
        } else {
            &line.comment
        };
        if let Some((tag, owner, text)) = find_tag(haystack) {
            *by_tag.entry(tag).or_insert(json!(0)) =
                json!(by_tag.get(tag).and_then(Value::as_u64).unwrap_or(0) + 1);
            items.push(json!({ "line": idx + 1, "tag": tag, "owner": owner, "text": text }));
        }
    }
    json!({ "count": items.len(), "by_tag": by_tag, "items": items })
}

/// The first tag in `s` that stands as a word, with its owner (`TODO(alice)`, `TODO @alice`,
/// `TODO [alice]`) and the remaining text.
fn find_tag(s: &str) -> Option<(&'static str, Option<String>, String)> {
    let bytes = s.as_bytes();
    let mut best: Option<(usize, &'static str)> = None;
    for tag in TAGS {
        let mut from = 0;
        while let Some(pos) = s[from..].find(tag) {
            let at = from + pos;
            let before_ok =
                at == 0 || !(bytes[at - 1].is_ascii_alphanumeric() || bytes[at - 1] == b'_');
            let after = at + tag.len();
            let after_ok = after >= bytes.len()
                || !(bytes[after].is_ascii_alphanumeric() || bytes[after] == b'_');
            if before_ok && after_ok {
                if best.is_none_or(|(b, _)| at < b) {
                    best = Some((at, tag));
                }
                break;
            }
            from = after;
        }
    }
    let (at, tag) = best?;
    let mut rest = s[at + tag.len()..].trim_start();
    let mut owner = None;
    for (open, close) in [('(', ')'), ('[', ']')] {
        if let Some(r) = rest.strip_prefix(open) {
            if let Some(end) = r.find(close) {
                owner = Some(r[..end].trim().to_string()).filter(|o| !o.is_empty());
                rest = r[end + 1..].trim_start();
            }
            break;
        }
    }
    rest = rest.trim_start_matches([':', '-', ' ', '!']);
    if owner.is_none() {
        if let Some(r) = rest.strip_prefix('@') {
            let end = r
                .find(|c: char| c.is_whitespace() || c == ':')
                .unwrap_or(r.len());
            owner = Some(r[..end].to_string()).filter(|o| !o.is_empty());
            rest = r[end..].trim_start_matches([':', '-', ' ']);
        }
    }
    let text = rest
        .trim()
        .trim_end_matches("*/")
        .trim_end_matches("-->")
        .trim()
        .to_string();
    Some((tag, owner, text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_tags_with_owners_in_comments_only() {
        let src = "fn a() {}\n// TODO(alice): split this\nlet s = \"TODO not me\";\n/* FIXME @bob leaks */\n# HACK in rust is not a comment\n// XXXL is not a tag; XXX is\n";
        let v = analyze("src/lib.rs", src);
        let items = v["items"].as_array().unwrap();
        assert_eq!(v["count"], 3, "{v}");
        assert_eq!(
            items[0],
            json!({"line": 2, "tag": "TODO", "owner": "alice", "text": "split this"})
        );
        assert_eq!(items[1]["tag"], "FIXME");
        assert_eq!(items[1]["owner"], "bob");
        assert_eq!(items[1]["text"], "leaks");
        assert_eq!(items[2]["tag"], "XXX");
        assert_eq!(v["by_tag"]["TODO"], 1);
    }

    #[test]
    fn python_and_markdown() {
        let v = analyze("a.py", "x = 1  # TODO: later\ns = '# TODO no'\n");
        assert_eq!(v["count"], 1);
        let v = analyze("NOTES.md", "- TODO write docs\n");
        assert_eq!(v["items"][0]["text"], "write docs");
    }
}
