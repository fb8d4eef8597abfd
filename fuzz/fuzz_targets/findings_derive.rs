//! Findings from arbitrary results (an LLM's reply or a forged entry): never a panic, every
//! finding has lines 1 ≤ start ≤ end and a one-line bounded message, and every output format
//! takes them (Markdown carries no raw markup, SARIF indexes its own rules).
#![no_main]

use libfuzzer_sys::fuzz_target;
use rustassistant::cache::Key;
use rustassistant::findings::{derive, format, sarif, Finding, Thresholds};

fuzz_target!(|data: &[u8]| {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    let t = Thresholds { function_lines: 3, nesting: 1, panic_sites: true };
    let mut all = Vec::new();
    for ty in ["refactor", "analysis", "todos", "metrics", "docs"] {
        let key = Key { cache_type: ty.into(), blob: "ab".repeat(20), variant: "0123456789abcdef".into() };
        for raw in derive(ty, &v, &t) {
            assert!(raw.line_start >= 1 && raw.line_end >= raw.line_start);
            assert!(!raw.message.contains('\n') && raw.message.chars().count() <= 1001);
            all.push(Finding::at("src/a b.rs", &key, raw));
        }
    }
    Finding::sort(&mut all);
    let md = format::markdown(&all);
    assert!(!md.contains("<script"));
    let log = sarif::log(&all, "0.0.0");
    let rules = log["runs"][0]["tool"]["driver"]["rules"].as_array().unwrap().len();
    for r in log["runs"][0]["results"].as_array().unwrap() {
        assert!((r["ruleIndex"].as_u64().unwrap() as usize) < rules);
    }
});
