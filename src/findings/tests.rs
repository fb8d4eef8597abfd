use serde_json::json;

use super::*;

fn key(t: &str) -> Key {
    Key {
        cache_type: t.into(),
        blob: "ab".repeat(20),
        variant: "0123456789abcdef".into(),
    }
}

#[test]
fn every_type_maps_its_result_to_findings() {
    let t = Thresholds::default();
    let refactor = json!({"summary": "s", "smells": [
        {"type": "Long Function", "severity": "high", "location": {"line_start": 10, "line_end": 80, "symbol": "run"}, "description": "does five things"},
        {"type": "naming", "severity": "low", "location": {"line_start": 0, "line_end": null}, "description": "vague"}],
        "suggestions": [{"title": "split run", "description": "extract steps", "priority": "high", "effort": "medium", "location": {"line_start": 10, "line_end": 5}}],
        "scores": {}});
    let f = derive("refactor", &refactor, &t);
    assert_eq!(f.len(), 3);
    assert_eq!(
        (
            f[0].line_start,
            f[0].line_end,
            f[0].kind.as_str(),
            f[0].severity
        ),
        (10, 80, "long-function", Severity::Error)
    );
    assert_eq!(
        (f[1].line_start, f[1].line_end, f[1].severity),
        (1, 1, Severity::Note)
    );
    assert_eq!(
        (f[2].kind.as_str(), f[2].severity, f[2].line_end),
        ("suggestion", Severity::Warning, 10)
    );
    assert_eq!(f[2].message, "split run: extract steps");

    let analysis = json!({
        "quality": {"score": 8, "findings": [{"severity": "medium", "description": "dup", "line": 4}]},
        "complexity": {"score": 3, "hotspots": [{"symbol": "f", "line": 9, "reason": "deep"}]},
        "security": {"score": 9, "findings": [{"severity": "critical", "description": "sql injection", "line": 7}]}});
    let f = derive("analysis", &analysis, &t);
    let got: Vec<_> = f
        .iter()
        .map(|x| (x.kind.as_str(), x.severity, x.line_start))
        .collect();
    assert_eq!(
        got,
        vec![
            ("quality", Severity::Warning, 4),
            ("security", Severity::Error, 7),
            ("complexity", Severity::Note, 9)
        ]
    );
    assert_eq!(f[2].message, "f: deep");

    let todos = json!({"count": 2, "items": [{"line": 2, "tag": "TODO", "owner": "alice", "text": "split"}, {"line": 5, "tag": "FIXME", "owner": null, "text": "leaks"}]});
    let f = derive("todos", &todos, &t);
    assert_eq!(f[0].message, "TODO: (alice) split");
    assert_eq!(
        (f[1].kind.as_str(), f[1].severity),
        ("fixme", Severity::Warning)
    );

    let metrics = json!({"by_function": [
            {"name": "big", "line": 3, "lines": 120, "nesting": 6, "test": false},
            {"name": "small", "line": 130, "lines": 5, "nesting": 1, "test": false}],
        "panic_sites": {"sites": [{"line": 7, "kind": "unwrap", "in_test": false}, {"line": 140, "kind": "expect", "in_test": true}]}});
    let f = derive("metrics", &metrics, &t);
    let got: Vec<_> = f
        .iter()
        .map(|x| (x.kind.as_str(), x.line_start, x.line_end))
        .collect();
    assert_eq!(
        got,
        vec![
            ("long-function", 3, 122),
            ("deep-nesting", 3, 122),
            ("panic-site", 7, 7)
        ]
    );
    let strict = Thresholds {
        function_lines: 4,
        nesting: 0,
        panic_sites: false,
    };
    assert_eq!(derive("metrics", &metrics, &strict).len(), 4);

    assert!(derive("docs", &json!({"markdown": "# x"}), &t).is_empty());
    // Shapes an LLM or a forger may send give no findings, never a panic.
    for odd in [
        json!(null),
        json!([1]),
        json!({"smells": "x"}),
        json!({"quality": 3}),
        json!({"items": [7]}),
    ] {
        for ty in ["refactor", "analysis", "todos", "metrics"] {
            let _ = derive(ty, &odd, &t);
        }
    }
}

#[test]
fn messages_are_bounded_single_lines_and_huge_lines_clamp() {
    let long = "x\ny ".repeat(2000);
    let r = json!({"items": [{"line": 99999999999u64, "tag": "TODO", "text": long}]});
    let f = derive("todos", &r, &Thresholds::default());
    assert_eq!(f[0].line_start, u32::MAX);
    assert!(!f[0].message.contains('\n'));
    assert!(f[0].message.chars().count() <= MAX_MESSAGE_CHARS + 1);
}

#[test]
fn sort_is_by_path_then_line_and_sarif_has_rules_uris_and_fingerprints() {
    let raw = |l: u32, sev, kind: &str, m: &str| Raw {
        line_start: l,
        line_end: l,
        kind: kind.into(),
        severity: sev,
        message: m.into(),
    };
    let mut list = vec![
        Finding::at(
            "src/b c.rs",
            &key("todos"),
            raw(3, Severity::Note, "todo", "TODO: x"),
        ),
        Finding::at(
            "src/a.rs",
            &key("metrics"),
            raw(9, Severity::Warning, "long-function", "long"),
        ),
        Finding::at(
            "src/a.rs",
            &key("refactor"),
            raw(2, Severity::Error, "naming", "bad"),
        ),
        Finding::at(
            "src/a.rs",
            &key("refactor"),
            raw(2, Severity::Error, "naming", "bad"),
        ),
    ];
    Finding::sort(&mut list);
    let order: Vec<_> = list
        .iter()
        .map(|f| (f.path.as_str(), f.line_start))
        .collect();
    assert_eq!(
        order,
        vec![
            ("src/a.rs", 2),
            ("src/a.rs", 2),
            ("src/a.rs", 9),
            ("src/b c.rs", 3)
        ]
    );
    let log = sarif::log(&list, "1.2.3");
    let run = &log["runs"][0];
    assert_eq!(log["version"], "2.1.0");
    assert_eq!(run["tool"]["driver"]["version"], "1.2.3");
    assert_eq!(
        run["tool"]["driver"]["informationUri"],
        "https://crates.io/crates/rustassistant"
    );
    let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
    assert_eq!(rules.len(), 3);
    let results = run["results"].as_array().unwrap();
    assert_eq!(
        results[3]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
        "src/b%20c.rs"
    );
    for r in results {
        let i = r["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(rules[i]["id"], r["ruleId"]);
        assert!(r["message"]["text"].as_str().unwrap().ends_with('.'));
    }
    // The same finding twice gets two fingerprints; the same input always the same ones.
    let fp = |i: usize| {
        results[i]["partialFingerprints"][sarif::FINGERPRINT]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_ne!(fp(0), fp(1));
    assert_eq!(sarif::log(&list, "1.2.3"), log);
}

#[test]
fn markdown_escapes_markup_and_counts_read_well() {
    let f = Finding::at(
        "a.rs",
        &key("analysis"),
        Raw {
            line_start: 1,
            line_end: 3,
            kind: "security".into(),
            severity: Severity::Error,
            message: "</script><script>alert(1)</script> | `x`".into(),
        },
    );
    let md = format::markdown(std::slice::from_ref(&f));
    assert!(!md.contains("<script>"), "{md}");
    assert!(
        md.contains("&lt;script&gt;") && md.contains("\\|") && md.contains("\\`x\\`"),
        "{md}"
    );
    assert_eq!(
        format::Counts::of(std::slice::from_ref(&f)).sentence(),
        "1 finding (1 error, 0 warnings, 0 notes) in 1 file"
    );
    assert_eq!(
        format::text(&[f])[0],
        "a.rs:1-3: error: </script><script>alert(1)</script> | `x` [analysis/security]"
    );
    assert_eq!(parse_fail_on("warning").unwrap(), Some(Severity::Warning));
    assert_eq!(parse_fail_on("none").unwrap(), None);
    assert!(parse_fail_on("loud").is_err());
    assert!(
        Severity::Error.at_least(Severity::Warning) && !Severity::Note.at_least(Severity::Warning)
    );
}

#[test]
fn markdown_neutralises_mentions_links_and_bidirectional_text() {
    let f = Finding::at(
        "a.rs",
        &key("analysis"),
        Raw {
            line_start: 1,
            line_end: 1,
            kind: "security".into(),
            severity: Severity::Warning,
            message: "ping @octocat and @org/team, see https://evil.example/x|y or www.evil.example; mail a@b.example; \u{202E}nimda\u{202C} ok".into(),
        },
    );
    let md = format::markdown(std::slice::from_ref(&f));
    for code in [
        "`@octocat`",
        "`@org/team,`",
        "`https://evil.example/x\\|y`",
        "`www.evil.example;`",
        "`a@b.example;`",
    ] {
        assert!(md.contains(code), "{code} in {md}");
    }
    assert!(!md.contains(" @octocat"), "{md}");
    assert!(!md.chars().any(crate::output::is_bidi), "{md}");
    assert!(md.contains("U+202E"), "{md}");
    let text = format::text(std::slice::from_ref(&f)).join("\n");
    let shown = crate::output::sanitize(&text);
    assert!(!shown.chars().any(crate::output::is_bidi), "{shown}");
}
