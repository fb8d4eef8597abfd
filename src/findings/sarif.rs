//! SARIF 2.1.0 (OASIS) for code scanning: one run, the tool's rules, each finding a result with
//! a repository-relative URI, its region, and `partialFingerprints` derived from the entry key,
//! so a finding keeps its identity across commits that do not change the file's content.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

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

/// Where a reader of the log learns what the tool is (SARIF `tool.driver.informationUri`).
pub const INFORMATION_URI: &str = "https://crates.io/crates/rustassistant";

/// A rule of the log's driver.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Rule {
    id: String,
    name: String,
    short_description: Text,
    full_description: Text,
    default_configuration: Level,
    properties: Tags,
}

#[derive(Serialize)]
struct Text {
    text: String,
}

#[derive(Serialize)]
struct Level {
    level: &'static str,
}

#[derive(Serialize)]
struct Tags {
    tags: [String; 1],
}

/// One result, borrowing from its finding.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SarifResult<'a> {
    rule_id: String,
    rule_index: usize,
    level: &'static str,
    message: Text,
    locations: [Location; 1],
    partial_fingerprints: BTreeMap<&'static str, String>,
    properties: EntryKey<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Location {
    physical_location: Physical,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Physical {
    artifact_location: Artifact,
    region: Region,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Artifact {
    uri: String,
    uri_base_id: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Region {
    start_line: u32,
    end_line: u32,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct EntryKey<'a> {
    entry_key: &'a str,
}

/// The whole log, as written.
#[derive(Serialize)]
pub struct Log<'a> {
    #[serde(rename = "$schema")]
    schema: &'static str,
    version: &'static str,
    runs: [Run<'a>; 1],
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Run<'a> {
    tool: Value,
    original_uri_base_ids: Value,
    column_kind: &'static str,
    results: Vec<SarifResult<'a>>,
}

/// The SARIF log for `list` (sorted), written by tool `version`, ready to serialise.
pub fn build<'a>(list: &'a [Finding], version: &str) -> Log<'a> {
    // Rules, sorted by id, each with the most severe level seen as its default.
    let mut rules: BTreeMap<String, (&str, &str, Severity)> = BTreeMap::new();
    for f in list {
        let e =
            rules
                .entry(f.rule())
                .or_insert((f.cache_type.as_str(), f.kind.as_str(), f.severity));
        e.2 = e.2.min(f.severity);
    }
    let index: HashMap<&str, usize> = rules
        .keys()
        .enumerate()
        .map(|(i, k)| (k.as_str(), i))
        .collect();
    let rules_out: Vec<Rule> = rules
        .iter()
        .map(|(id, (ty, kind, sev))| Rule {
            id: id.clone(),
            name: pascal(&format!("{ty}-{kind}")),
            short_description: Text {
                text: describe(ty, kind),
            },
            full_description: Text {
                text: describe(ty, kind),
            },
            default_configuration: Level {
                level: sev.as_str(),
            },
            properties: Tags {
                tags: [ty.to_string()],
            },
        })
        .collect();
    let mut seen: HashMap<(&str, &str, &str, &str), usize> = HashMap::new();
    let results = list
        .iter()
        .map(|f| {
            let rule = f.rule();
            let n = seen
                .entry((
                    f.key.as_str(),
                    f.cache_type.as_str(),
                    f.kind.as_str(),
                    f.message.as_str(),
                ))
                .or_default();
            let fp = fingerprint(f, *n);
            *n += 1;
            SarifResult {
                rule_index: index[rule.as_str()],
                rule_id: rule,
                level: f.severity.as_str(),
                message: Text {
                    text: sentence(&f.message),
                },
                locations: [Location {
                    physical_location: Physical {
                        artifact_location: Artifact {
                            uri: uri(&f.path),
                            uri_base_id: "%SRCROOT%",
                        },
                        region: Region {
                            start_line: f.line_start,
                            end_line: f.line_end,
                        },
                    },
                }],
                partial_fingerprints: BTreeMap::from([(FINGERPRINT, fp)]),
                properties: EntryKey { entry_key: &f.key },
            }
        })
        .collect();
    Log {
        schema: SCHEMA_URI,
        version: "2.1.0",
        runs: [Run {
            tool: json!({"driver": {
                "name": "rustassistant",
                "informationUri": INFORMATION_URI,
                "version": version,
                "semanticVersion": version,
                "rules": rules_out,
            }}),
            original_uri_base_ids: json!({
                "%SRCROOT%": {"description": {"text": "The root of the repository."}}
            }),
            column_kind: "unicodeCodePoints",
            results,
        }],
    }
}

/// The SARIF log for `list` as a JSON value (what tests and small callers inspect).
pub fn log(list: &[Finding], version: &str) -> Value {
    serde_json::to_value(build(list, version)).unwrap_or(Value::Null)
}
