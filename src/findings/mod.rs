//! Findings: what each analysis type's result says is worth a developer's attention, in one
//! shape (`{path, line_start, line_end, type, kind, severity, message, key}`) whatever the type.
//!
//! - refactor: each smell (its severity) and each suggestion (by priority);
//! - analysis: quality and security findings, complexity hotspots;
//! - todos: every TODO/FIXME/HACK/XXX;
//! - metrics: functions longer than `[findings] function_lines`, nesting deeper than
//!   `[findings] nesting`, panic sites outside tests;
//! - docs: none (documentation is not a finding).
//!
//! Results are other people's data: numbers are clamped, strings bounded, and a result that does
//! not have its type's shape gives no findings rather than an error. Printing sanitises.

pub mod format;
pub mod sarif;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::cache::Key;
use crate::config::Config;
use crate::error::UserError;

/// Longest message kept (characters); an entry can hold anything.
const MAX_MESSAGE_CHARS: usize = 1000;

/// Most findings taken from one entry.
const MAX_PER_ENTRY: usize = 500;

/// How much a finding matters, most severe first (SARIF's `level` names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Must be fixed.
    Error,
    /// Should be looked at.
    Warning,
    /// Worth knowing.
    Note,
}

impl Severity {
    /// The lowercase name (`error`, `warning`, `note`).
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Note => "note",
        }
    }

    /// Whether `self` is at least as severe as `floor`.
    pub fn at_least(self, floor: Severity) -> bool {
        self <= floor
    }

    /// Parse `error`, `warning` or `note`.
    pub fn parse(s: &str) -> Option<Severity> {
        match s {
            "error" => Some(Severity::Error),
            "warning" => Some(Severity::Warning),
            "note" => Some(Severity::Note),
            _ => None,
        }
    }

    /// The severity of an LLM's word for it (`critical`, `high`, `medium`, `low`).
    fn of_word(word: &str) -> Severity {
        match word.to_ascii_lowercase().as_str() {
            "critical" | "high" | "error" => Severity::Error,
            "medium" | "warning" | "moderate" => Severity::Warning,
            _ => Severity::Note,
        }
    }
}

/// One finding, as stored in the index (no path: an entry is keyed by content, and the same
/// content can live at several paths).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Raw {
    /// First line (1-based).
    pub line_start: u32,
    /// Last line (≥ `line_start`).
    pub line_end: u32,
    /// What kind of finding within the type (`long-function`, `security`, `todo`…).
    pub kind: String,
    /// How much it matters.
    pub severity: Severity,
    /// What it says.
    pub message: String,
}

/// The kind of the one note a stored reply that missed its type's schema gives (shown only
/// when asked: `findings --include-invalid`).
pub const INVALID_REPLY: &str = "invalid-reply";

/// The note of a stored `cache_type` reply that missed its schema for `why`.
pub fn invalid_reply(cache_type: &str, why: &str) -> Raw {
    Raw {
        line_start: 1,
        line_end: 1,
        kind: INVALID_REPLY.to_string(),
        severity: Severity::Note,
        message: format!(
            "the stored {cache_type} reply missed its schema ({why}); `rustassistant analyze --force` asks again"
        ),
    }
}

/// One finding at a path.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    /// Repository-relative path, `/`-separated.
    pub path: String,
    /// First line (1-based).
    pub line_start: u32,
    /// Last line.
    pub line_end: u32,
    /// Analysis type.
    #[serde(rename = "type")]
    pub cache_type: String,
    /// Kind within the type.
    pub kind: String,
    /// Severity.
    pub severity: Severity,
    /// Message.
    pub message: String,
    /// The entry's key, `type/blob/variant`.
    pub key: String,
}

impl Finding {
    /// `raw` found by the entry `key` for the file at `path`.
    pub fn at(path: &str, key: &Key, raw: Raw) -> Finding {
        Finding {
            path: path.to_string(),
            line_start: raw.line_start,
            line_end: raw.line_end,
            cache_type: key.cache_type.clone(),
            kind: raw.kind,
            severity: raw.severity,
            message: raw.message,
            key: format!("{}/{}/{}", key.cache_type, key.blob, key.variant),
        }
    }

    /// The rule a finding belongs to (`refactor/long-function`): type and kind.
    pub fn rule(&self) -> String {
        format!("{}/{}", self.cache_type, self.kind)
    }

    /// The order findings are listed in: path, line, then the rest, so output is stable.
    pub fn sort(list: &mut [Finding]) {
        list.sort_by(|a, b| {
            (&a.path, a.line_start, a.line_end, a.severity, &a.cache_type)
                .cmp(&(&b.path, b.line_start, b.line_end, b.severity, &b.cache_type))
                .then_with(|| (&a.kind, &a.message).cmp(&(&b.kind, &b.message)))
        });
    }
}

/// When metrics become findings (`[findings]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Thresholds {
    /// Functions longer than this many lines.
    pub function_lines: u64,
    /// Nesting deeper than this.
    pub nesting: u64,
    /// Whether panic sites outside tests are findings.
    pub panic_sites: bool,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            function_lines: 80,
            nesting: 4,
            panic_sites: true,
        }
    }
}

impl Thresholds {
    /// The thresholds `config` sets (defaults for the rest).
    pub fn of(config: &Config) -> Thresholds {
        let f = &config.file.findings;
        let d = Thresholds::default();
        Thresholds {
            function_lines: f.function_lines.unwrap_or(d.function_lines),
            nesting: f.nesting.unwrap_or(d.nesting),
            panic_sites: f.panic_sites.unwrap_or(d.panic_sites),
        }
    }

    /// A short text naming these thresholds and the derivation's version: findings stored
    /// under another fingerprint are derived again.
    pub fn fingerprint(&self) -> String {
        format!(
            "v1 function_lines={} nesting={} panic_sites={}",
            self.function_lines, self.nesting, self.panic_sites
        )
    }
}

/// `[findings] fail_on` (or `--fail-on`): the lowest severity that fails the command; `None`
/// for `none`.
pub fn parse_fail_on(s: &str) -> Result<Option<Severity>, UserError> {
    match s {
        "none" => Ok(None),
        _ => Severity::parse(s).map(Some).ok_or_else(|| {
            UserError::Usage(format!(
                "fail-on `{}`: expected error, warning, note or none",
                crate::output::sanitize(s)
            ))
        }),
    }
}

/// The findings in the `result` of an entry of `cache_type`.
pub fn derive(cache_type: &str, result: &Value, t: &Thresholds) -> Vec<Raw> {
    let mut out = Vec::new();
    match cache_type {
        "refactor" => refactor(result, &mut out),
        "analysis" => analysis(result, &mut out),
        "todos" => todos(result, &mut out),
        "metrics" => metrics(result, t, &mut out),
        _ => {}
    }
    out.truncate(MAX_PER_ENTRY);
    out
}

fn text<'a>(v: &'a Value, k: &str) -> &'a str {
    v.get(k).and_then(Value::as_str).unwrap_or("")
}

fn num(v: &Value, k: &str) -> Option<u64> {
    v.get(k).and_then(Value::as_u64)
}

fn list<'a>(v: &'a Value, k: &str) -> &'a [Value] {
    v.get(k)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

/// A line number as given (clamped to 1..=u32::MAX; missing or 0 means the file's first line).
fn line_of(n: Option<u64>) -> u32 {
    n.unwrap_or(1).clamp(1, u32::MAX as u64) as u32
}

/// A message from untrusted text: one line of bounded length, never empty.
fn message(parts: &[&str]) -> String {
    let joined = parts
        .iter()
        .map(|p| p.trim())
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join(": ");
    let one_line = joined.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut m: String = one_line.chars().take(MAX_MESSAGE_CHARS).collect();
    if one_line.chars().count() > MAX_MESSAGE_CHARS {
        m.push('…');
    }
    if m.is_empty() {
        m.push_str("(no description)");
    }
    m
}

/// A kind from untrusted text: lowercase letters, digits and dashes, bounded.
fn kind(word: &str, default: &str) -> String {
    let k: String = word
        .trim()
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .take(40)
        .collect();
    let k = k.trim_matches('-').to_string();
    if k.is_empty() {
        default.to_string()
    } else {
        k
    }
}

/// `(line_start, line_end)` from a `location` object or a bare `line`.
fn span(v: &Value) -> (u32, u32) {
    let loc = v.get("location").filter(|l| l.is_object()).unwrap_or(v);
    let start = line_of(num(loc, "line_start").or_else(|| num(loc, "line")));
    let end = line_of(num(loc, "line_end").or(Some(start as u64))).max(start);
    (start, end)
}

fn refactor(r: &Value, out: &mut Vec<Raw>) {
    for sm in list(r, "smells") {
        let (line_start, line_end) = span(sm);
        out.push(Raw {
            line_start,
            line_end,
            kind: kind(text(sm, "type"), "smell"),
            severity: Severity::of_word(text(sm, "severity")),
            message: message(&[text(sm, "description")]),
        });
    }
    for sg in list(r, "suggestions") {
        let (line_start, line_end) = span(sg);
        // A suggestion is advice: a high-priority one is a warning, the others notes.
        let severity = match Severity::of_word(text(sg, "priority")) {
            Severity::Error => Severity::Warning,
            _ => Severity::Note,
        };
        out.push(Raw {
            line_start,
            line_end,
            kind: "suggestion".into(),
            severity,
            message: message(&[text(sg, "title"), text(sg, "description")]),
        });
    }
}

fn analysis(r: &Value, out: &mut Vec<Raw>) {
    for (section, items, word) in [
        ("quality", "findings", "description"),
        ("security", "findings", "description"),
        ("complexity", "hotspots", "reason"),
    ] {
        let Some(sec) = r.get(section) else { continue };
        for it in list(sec, items) {
            let (line_start, line_end) = span(it);
            let severity = match it.get("severity").and_then(Value::as_str) {
                Some(w) => Severity::of_word(w),
                // Hotspots carry no severity: where complexity concentrates is a note.
                None => Severity::Note,
            };
            let symbol = text(it, "symbol");
            out.push(Raw {
                line_start,
                line_end,
                kind: section.into(),
                severity,
                message: message(&[symbol, text(it, word)]),
            });
        }
    }
}

fn todos(r: &Value, out: &mut Vec<Raw>) {
    for it in list(r, "items") {
        let tag = text(it, "tag");
        let line = line_of(num(it, "line"));
        let owner = it
            .get("owner")
            .and_then(Value::as_str)
            .map(|o| format!("({o}) "))
            .unwrap_or_default();
        out.push(Raw {
            line_start: line,
            line_end: line,
            kind: kind(tag, "todo"),
            // FIXME and XXX mark something known to be wrong; TODO and HACK are plans.
            severity: if matches!(tag, "FIXME" | "XXX") {
                Severity::Warning
            } else {
                Severity::Note
            },
            message: message(&[tag, &format!("{owner}{}", text(it, "text"))]),
        });
    }
}

fn metrics(r: &Value, t: &Thresholds, out: &mut Vec<Raw>) {
    // Version 2 lists every function; version 1 entries only the longest and the deepest.
    let per_function = list(r, "by_function");
    let funcs: Vec<&Value> = if per_function.is_empty() {
        r.get("longest_function")
            .filter(|f| f.is_object())
            .into_iter()
            .collect()
    } else {
        per_function.iter().collect()
    };
    for f in &funcs {
        let lines = num(f, "lines").unwrap_or(0);
        let start = line_of(num(f, "line"));
        let end = start.saturating_add(lines.saturating_sub(1).min(u32::MAX as u64) as u32);
        if lines > t.function_lines {
            out.push(Raw {
                line_start: start,
                line_end: end,
                kind: "long-function".into(),
                severity: Severity::Warning,
                message: message(&[&format!(
                    "function `{}` is {lines} lines long (over {})",
                    text(f, "name"),
                    t.function_lines
                )]),
            });
        }
        if let Some(depth) = num(f, "nesting").filter(|d| *d > t.nesting) {
            out.push(Raw {
                line_start: start,
                line_end: end,
                kind: "deep-nesting".into(),
                severity: Severity::Warning,
                message: message(&[&format!(
                    "function `{}` nests {depth} levels deep (over {})",
                    text(f, "name"),
                    t.nesting
                )]),
            });
        }
    }
    if per_function.is_empty() {
        if let Some(depth) = num(r, "max_nesting").filter(|d| *d > t.nesting) {
            out.push(Raw {
                line_start: 1,
                line_end: 1,
                kind: "deep-nesting".into(),
                severity: Severity::Warning,
                message: format!("nesting {depth} levels deep (over {})", t.nesting),
            });
        }
    }
    if t.panic_sites {
        let sites = r
            .get("panic_sites")
            .map(|p| list(p, "sites"))
            .unwrap_or(&[]);
        for s in sites
            .iter()
            .filter(|s| s.get("in_test") == Some(&Value::Bool(false)))
        {
            let line = line_of(num(s, "line"));
            out.push(Raw {
                line_start: line,
                line_end: line,
                kind: "panic-site".into(),
                severity: Severity::Note,
                message: message(&[&format!(
                    "`{}` can panic outside tests",
                    kind(text(s, "kind"), "panic")
                )]),
            });
        }
    }
}

#[cfg(test)]
mod tests;
