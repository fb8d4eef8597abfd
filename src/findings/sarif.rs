//! SARIF 2.1.0 (OASIS) for code scanning: one run, the tool's rules, each finding a result with
//! a repository-relative URI, its region, and `partialFingerprints` derived from the entry key,
//! so a finding keeps its identity across commits that do not change the file's content.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::{Finding, Severity};

/// The SARIF schema the log declares.
pub const SCHEMA_URI: &str = "https://json.schemastore.org/sarif-2.1.0.json";

/// The `partialFingerprints` property name (versioned: a new derivation gets a new name).
pub const FINGERPRINT: &str = "rustassistantEntry/v1";

/// What a rule is about, by kind; rules of kinds an LLM invented get a generic description.
fn describe(cache_type: &str, kind: &str) -> String {
    let what = match (cache_type, kind) {
        ("refactor", "suggestion") => "A refactoring suggestion",
        ("refactor", _) => "A code smell found by the refactor review",
        ("analysis", "quality") => "A code quality finding",
        ("analysis", "security") => "A security finding",
        ("analysis", "complexity") => "A complexity hotspot",
        ("todos", _) => "A TODO, FIXME, HACK or XXX comment",
        ("metrics", "long-function") => "A function longer than [findings] function_lines",
        ("metrics", "deep-nesting") => "Nesting deeper than [findings] nesting",
        ("metrics", "panic-site") => "A call or macro that can panic, outside tests",
        _ => "A finding",
    };
    format!("{what} ({cache_type}: {kind}).")
}

/// `AbcDef` from `abc-def`, for a rule's `name`.
fn pascal(s: &str) -> String {
    s.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect()
}

/// A repository-relative path as a URI reference: every byte outside RFC 3986's unreserved
/// set (and `/`) percent-encoded.
pub fn uri(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A message as SARIF wants it: a sentence ending in a period.
fn sentence(m: &str) -> String {
    if m.ends_with(['.', '!', '?']) {
        m.to_string()
    } else {
        format!("{m}.")
    }
}

/// The fingerprint of `f`: the entry key, the rule and the message (and, for the same three
/// repeated, which repetition), hashed.
fn fingerprint(f: &Finding, repeat: usize) -> String {
    let text = format!("{}\0{}\0{}\0{repeat}", f.key, f.rule(), f.message);
    crate::util::sha256_hex(text.as_bytes())[..32].to_string()
}

/// The SARIF log for `list` (sorted), written by tool `version`.
pub fn log(list: &[Finding], version: &str) -> Value {
    // Rules, sorted by id, each with the most severe level seen as its default.
    let mut rules: BTreeMap<String, (String, String, Severity)> = BTreeMap::new();
    for f in list {
        let e = rules
            .entry(f.rule())
            .or_insert_with(|| (f.cache_type.clone(), f.kind.clone(), f.severity));
        e.2 = e.2.min(f.severity);
    }
    let index: BTreeMap<&str, usize> = rules
        .keys()
        .enumerate()
        .map(|(i, k)| (k.as_str(), i))
        .collect();
    let rules_json: Vec<Value> = rules
        .iter()
        .map(|(id, (ty, kind, sev))| {
            json!({
                "id": id,
                "name": pascal(&format!("{ty}-{kind}")),
                "shortDescription": {"text": describe(ty, kind)},
                "fullDescription": {"text": describe(ty, kind)},
                "defaultConfiguration": {"level": sev.as_str()},
                "properties": {"tags": [ty]},
            })
        })
        .collect();
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let results: Vec<Value> = list
        .iter()
        .map(|f| {
            let rule = f.rule();
            let n = seen
                .entry(format!("{}\0{rule}\0{}", f.key, f.message))
                .or_default();
            let fp = fingerprint(f, *n);
            *n += 1;
            json!({
                "ruleId": rule,
                "ruleIndex": index[rule.as_str()],
                "level": f.severity.as_str(),
                "message": {"text": sentence(&f.message)},
                "locations": [{
                    "physicalLocation": {
                        "artifactLocation": {"uri": uri(&f.path), "uriBaseId": "%SRCROOT%"},
                        "region": {"startLine": f.line_start, "endLine": f.line_end},
                    }
                }],
                "partialFingerprints": {FINGERPRINT: fp},
                "properties": {"entryKey": f.key},
            })
        })
        .collect();
    json!({
        "$schema": SCHEMA_URI,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "rustassistant",
                "version": version,
                "semanticVersion": version,
                "rules": rules_json,
            }},
            "originalUriBaseIds": {
                "%SRCROOT%": {"description": {"text": "The root of the repository."}}
            },
            "columnKind": "unicodeCodePoints",
            "results": results,
        }]
    })
}
