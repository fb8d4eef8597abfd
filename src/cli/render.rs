//! Results for a human (`show`): each analysis type rendered as text a person reads top to
//! bottom, most important first. Anything that does not have the type's shape (an older or
//! hand-made entry) falls back to pretty JSON, so nothing is ever hidden. The caller sanitises.

use serde_json::Value;

/// The text for one entry's `result` of type `cache_type`.
pub fn result(cache_type: &str, r: &Value) -> String {
    let text = match cache_type {
        "docs" => r
            .get("markdown")
            .and_then(Value::as_str)
            .map(str::to_string),
        "todos" => todos(r),
        "refactor" => refactor(r),
        "analysis" => analysis(r),
        "metrics" => metrics(r),
        _ => None,
    };
    text.unwrap_or_else(|| serde_json::to_string_pretty(r).unwrap_or_default())
}

fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v.get(k).and_then(Value::as_str).unwrap_or("")
}

fn n(v: &Value, k: &str) -> Option<u64> {
    v.get(k).and_then(Value::as_u64)
}

/// `lines 12-30 (main)`, from a `location` object or a bare `line`.
fn place(v: &Value) -> String {
    let loc = v.get("location").unwrap_or(v);
    let start = n(loc, "line_start").or_else(|| n(loc, "line"));
    let end = n(loc, "line_end");
    let symbol = loc.get("symbol").and_then(Value::as_str);
    let mut out = match (start, end) {
        (Some(a), Some(b)) if b > a => format!("lines {a}-{b}"),
        (Some(a), _) => format!("line {a}"),
        _ => String::new(),
    };
    if let Some(sym) = symbol.filter(|s| !s.is_empty()) {
        out = if out.is_empty() {
            sym.to_string()
        } else {
            format!("{out} ({sym})")
        };
    }
    out
}

/// Rank of a severity or priority word: most urgent first.
fn rank(word: &str) -> u8 {
    match word.to_ascii_lowercase().as_str() {
        "critical" => 0,
        "high" | "error" => 1,
        "medium" | "warning" => 2,
        "low" | "note" => 3,
        _ => 4,
    }
}

fn sorted_by<'a>(items: &'a [Value], key: &str) -> Vec<&'a Value> {
    let mut v: Vec<&Value> = items.iter().collect();
    v.sort_by_key(|x| {
        (
            rank(s(x, key)),
            n(x.get("location").unwrap_or(x), "line_start"),
        )
    });
    v
}

fn todos(r: &Value) -> Option<String> {
    let items = r.get("items")?.as_array()?;
    if items.is_empty() {
        return Some("no TODO/FIXME/HACK/XXX".to_string());
    }
    Some(
        items
            .iter()
            .map(|it| {
                let owner = it
                    .get("owner")
                    .and_then(Value::as_str)
                    .map(|o| format!("({o}) "))
                    .unwrap_or_default();
                format!(
                    "{:>5}  {:<5} {}{}",
                    n(it, "line").unwrap_or(0),
                    s(it, "tag"),
                    owner,
                    s(it, "text")
                )
            })
            .collect::<Vec<_>>()
            .join("\n"),
    )
}

fn refactor(r: &Value) -> Option<String> {
    let smells = r.get("smells")?.as_array()?;
    let suggestions = r.get("suggestions")?.as_array()?;
    let mut out = Vec::new();
    if !s(r, "summary").is_empty() {
        out.push(s(r, "summary").to_string());
        out.push(String::new());
    }
    out.push(format!("Smells ({}):", smells.len()));
    for sm in sorted_by(smells, "severity") {
        out.push(format!(
            "  [{}] {} at {}: {}",
            s(sm, "severity"),
            s(sm, "type"),
            place(sm),
            s(sm, "description")
        ));
    }
    out.push(format!("Suggestions ({}):", suggestions.len()));
    for sg in sorted_by(suggestions, "priority") {
        let at = place(sg);
        out.push(format!(
            "  [{} priority, {} effort] {}{}",
            s(sg, "priority"),
            s(sg, "effort"),
            s(sg, "title"),
            if at.is_empty() {
                String::new()
            } else {
                format!(" ({at})")
            }
        ));
        if !s(sg, "description").is_empty() {
            out.push(format!("      {}", s(sg, "description")));
        }
    }
    if let Some(sc) = r.get("scores").filter(|v| v.is_object()) {
        let score = |k| {
            sc.get(k)
                .map(Value::to_string)
                .unwrap_or_else(|| "?".into())
        };
        out.push(format!(
            "Scores: maintainability {}/10, readability {}/10, complexity {}/10",
            score("maintainability"),
            score("readability"),
            score("complexity")
        ));
    }
    Some(out.join("\n"))
}

fn analysis(r: &Value) -> Option<String> {
    let mut out = Vec::new();
    for (title, key, list, word) in [
        ("Quality", "quality", "findings", "description"),
        ("Complexity", "complexity", "hotspots", "reason"),
        ("Security", "security", "findings", "description"),
    ] {
        let sec = r.get(key)?;
        let score = sec
            .get("score")
            .map(Value::to_string)
            .unwrap_or_else(|| "?".into());
        let items = sec
            .get(list)
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        out.push(format!("{title}: {score}/10"));
        if items.is_empty() {
            out.push("  nothing to report".to_string());
        }
        for it in sorted_by(&items, "severity") {
            let sev = s(it, "severity");
            out.push(format!(
                "  {}{}: {}",
                if sev.is_empty() {
                    String::new()
                } else {
                    format!("[{sev}] ")
                },
                place(it),
                s(it, word)
            ));
        }
    }
    Some(out.join("\n"))
}

fn metrics(r: &Value) -> Option<String> {
    let lines = r.get("lines")?;
    let mut out = vec![
        format!(
            "Lines        {:>6}  ({} code, {} comment, {} blank)",
            n(lines, "total")?,
            n(lines, "code").unwrap_or(0),
            n(lines, "comment").unwrap_or(0),
            n(lines, "blank").unwrap_or(0)
        ),
        format!(
            "Functions    {:>6}  ({} tests)",
            n(r, "functions").unwrap_or(0),
            n(r, "test_functions").unwrap_or(0)
        ),
        format!("Max nesting  {:>6}", n(r, "max_nesting").unwrap_or(0)),
    ];
    if let Some(p) = r.get("panic_sites") {
        out.push(format!(
            "Panic sites  {:>6}  ({} outside tests)",
            n(p, "total").unwrap_or(0),
            n(p, "outside_tests").unwrap_or(0)
        ));
    }
    // Metrics v2 list every function: the five longest outside tests; v1 only the longest.
    let mut funcs: Vec<&Value> = r
        .get("by_function")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter(|f| f.get("test") != Some(&Value::Bool(true)))
                .collect()
        })
        .unwrap_or_default();
    if funcs.is_empty() {
        funcs.extend(r.get("longest_function").filter(|f| f.is_object()));
    }
    funcs.sort_by_key(|f| (std::cmp::Reverse(n(f, "lines")), n(f, "line")));
    if !funcs.is_empty() {
        out.push("Longest functions:".to_string());
    }
    for f in funcs.iter().take(5) {
        let nesting = n(f, "nesting")
            .map(|d| format!(", nesting {d}"))
            .unwrap_or_default();
        out.push(format!(
            "  {:>5} lines  {} (line {}{nesting})",
            n(f, "lines").unwrap_or(0),
            s(f, "name"),
            n(f, "line").unwrap_or(0)
        ));
    }
    Some(out.join("\n"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn refactor_puts_the_summary_first_and_the_worst_smell_before_the_mild_one() {
        let r = json!({
            "summary": "Mostly fine.",
            "smells": [
                {"type": "naming", "severity": "low", "location": {"line_start": 3, "line_end": 3, "symbol": null}, "description": "x is vague"},
                {"type": "long-function", "severity": "high", "location": {"line_start": 10, "line_end": 80, "symbol": "run"}, "description": "does five things"}
            ],
            "suggestions": [{"title": "split run", "description": "extract steps", "priority": "high", "effort": "medium", "location": {"line_start": 10, "line_end": 80, "symbol": "run"}}],
            "scores": {"maintainability": 6, "readability": 7, "complexity": 4}
        });
        let t = result("refactor", &r);
        assert!(t.starts_with("Mostly fine."), "{t}");
        let high = t.find("[high] long-function at lines 10-80 (run)").unwrap();
        let low = t.find("[low] naming at line 3").unwrap();
        assert!(high < low, "{t}");
        assert!(t.contains("[high priority, medium effort] split run (lines 10-80 (run))"));
        assert!(t.contains("maintainability 6/10"));
        assert!(!t.contains('{'), "no JSON: {t}");
    }

    #[test]
    fn analysis_has_three_sections_and_metrics_a_table() {
        let a = json!({
            "quality": {"score": 8, "findings": [{"severity": "low", "description": "dup", "line": 4}]},
            "complexity": {"score": 3, "hotspots": [{"symbol": "f", "line": 9, "reason": "deep"}]},
            "security": {"score": 9, "findings": []}
        });
        let t = result("analysis", &a);
        for want in [
            "Quality: 8/10",
            "[low] line 4: dup",
            "Complexity: 3/10",
            "line 9 (f): deep",
            "Security: 9/10",
            "nothing to report",
        ] {
            assert!(t.contains(want), "{want} in {t}");
        }
        let m = json!({"language": "rust", "lines": {"total": 10, "code": 7, "comment": 2, "blank": 1},
            "functions": 2, "test_functions": 0, "longest_function": {"name": "main", "line": 4, "lines": 6},
            "max_nesting": 2, "panic_sites": {"total": 1, "outside_tests": 1, "sites": []}});
        let t = result("metrics", &m);
        assert!(
            t.contains("Lines            10  (7 code, 2 comment, 1 blank)"),
            "{t}"
        );
        assert!(
            t.contains("Longest functions:\n      6 lines  main (line 4)"),
            "{t}"
        );
        let v2 = json!({"lines": {"total": 10}, "by_function": [
            {"name": "small", "line": 1, "lines": 3, "nesting": 1, "test": false},
            {"name": "big", "line": 5, "lines": 40, "nesting": 3, "test": false},
            {"name": "a_test", "line": 50, "lines": 90, "nesting": 0, "test": true}]});
        let t = result("metrics", &v2);
        let big = t.find("40 lines  big (line 5, nesting 3)").unwrap();
        let small = t.find("3 lines  small (line 1, nesting 1)").unwrap();
        assert!(big < small && !t.contains("a_test"), "{t}");
    }

    #[test]
    fn an_unexpected_shape_falls_back_to_json() {
        let t = result("refactor", &json!({"odd": true}));
        assert!(t.contains("\"odd\": true"), "{t}");
    }
}
