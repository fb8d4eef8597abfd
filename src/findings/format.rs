//! Findings as text (one line each, like a compiler), Markdown (a table per file, for a pull
//! request comment) and JSON. SARIF is in [`super::sarif`]. Every string here came from an
//! entry: text output is sanitised by the printer, Markdown escapes what Markdown interprets.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::{Finding, Severity};

/// Counts by severity, and the number of files.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    /// Errors.
    pub errors: usize,
    /// Warnings.
    pub warnings: usize,
    /// Notes.
    pub notes: usize,
    /// Distinct paths.
    pub files: usize,
}

impl Counts {
    /// Count `list`.
    pub fn of(list: &[Finding]) -> Counts {
        let mut c = Counts::default();
        for f in list {
            match f.severity {
                Severity::Error => c.errors += 1,
                Severity::Warning => c.warnings += 1,
                Severity::Note => c.notes += 1,
            }
        }
        let mut paths: Vec<&str> = list.iter().map(|f| f.path.as_str()).collect();
        paths.dedup();
        c.files = paths.len();
        c
    }

    /// All findings.
    pub fn total(&self) -> usize {
        self.errors + self.warnings + self.notes
    }

    /// `12 findings (1 error, 3 warnings, 8 notes) in 4 files`.
    pub fn sentence(&self) -> String {
        use crate::output::count;
        if self.total() == 0 {
            return "no findings".to_string();
        }
        format!(
            "{} ({}, {}, {}) in {}",
            count(self.total(), "finding", "findings"),
            count(self.errors, "error", "errors"),
            count(self.warnings, "warning", "warnings"),
            count(self.notes, "note", "notes"),
            count(self.files, "file", "files")
        )
    }
}

/// `path:line[-end]: severity: message [type/kind]`, one per finding.
pub fn text(list: &[Finding]) -> Vec<String> {
    list.iter()
        .map(|f| {
            let lines = if f.line_end > f.line_start {
                format!("{}-{}", f.line_start, f.line_end)
            } else {
                f.line_start.to_string()
            };
            format!(
                "{}:{lines}: {}: {} [{}]",
                f.path,
                f.severity.as_str(),
                f.message,
                f.rule()
            )
        })
        .collect()
}

/// The HTML entity for a character HTML interprets in text and attribute values.
pub fn html_entity(c: char) -> Option<&'static str> {
    match c {
        '<' => Some("&lt;"),
        '>' => Some("&gt;"),
        '&' => Some("&amp;"),
        '"' => Some("&quot;"),
        '\'' => Some("&#39;"),
        _ => None,
    }
}

/// Text that Markdown renders literally: characters with meaning in Markdown or HTML are
/// backslash-escaped or written as entities, so a finding cannot inject markup or break the
/// table.
pub fn md_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    // Word by word: a mention or a bare link becomes code, which renders as written and never
    // notifies anyone or links anywhere (a finding is someone else's text).
    let mut first = true;
    for word in s.split([' ', '\n', '\r', '\t']) {
        if !first {
            out.push(' ');
        }
        first = false;
        if is_mention_or_link(word) {
            out.push('`');
            for c in word.chars() {
                match c {
                    '`' => out.push('\''),
                    '|' => out.push_str("\\|"),
                    c if crate::output::is_control(c) => {}
                    c if crate::output::is_bidi(c) => out.push_str(&crate::output::bidi_name(c)),
                    c => out.push(c),
                }
            }
            out.push('`');
            continue;
        }
        for c in word.chars() {
            match c {
                '<' | '>' | '&' => out.push_str(html_entity(c).unwrap_or_default()),
                '\\' | '`' | '*' | '_' | '[' | ']' | '|' | '#' | '!' | '~' => {
                    out.push('\\');
                    out.push(c);
                }
                c if crate::output::is_control(c) => {}
                c if crate::output::is_bidi(c) => out.push_str(&crate::output::bidi_name(c)),
                c => out.push(c),
            }
        }
    }
    out
}

/// Whether `word` would notify someone (`@name`, `@org/team`) or become a link (a URL, a bare
/// `www.` address, an e-mail address) where Markdown is rendered (GitHub, GitLab).
fn is_mention_or_link(word: &str) -> bool {
    let lower = word.to_ascii_lowercase();
    let at_name = word.char_indices().any(|(i, c)| {
        c == '@'
            && word[i + 1..]
                .chars()
                .next()
                .is_some_and(|n| n.is_ascii_alphanumeric() || n == '_' || n == '-')
    });
    at_name || lower.contains("://") || lower.starts_with("www.") || lower.contains("(www.")
}

/// A Markdown report: a heading with the counts, then a table per file.
pub fn markdown(list: &[Finding]) -> String {
    let counts = Counts::of(list);
    let mut out = format!("## rustassistant findings\n\n{}\n", counts.sentence());
    let mut by_path: BTreeMap<&str, Vec<&Finding>> = BTreeMap::new();
    for f in list {
        by_path.entry(&f.path).or_default().push(f);
    }
    for (path, items) in by_path {
        out.push_str(&format!(
            "\n### {}\n\n| line | severity | rule | message |\n|---:|---|---|---|\n",
            md_escape(path)
        ));
        for f in items {
            let lines = if f.line_end > f.line_start {
                format!("{}–{}", f.line_start, f.line_end)
            } else {
                f.line_start.to_string()
            };
            out.push_str(&format!(
                "| {lines} | {} | {} | {} |\n",
                f.severity.as_str(),
                md_escape(&f.rule()),
                md_escape(&f.message)
            ));
        }
    }
    out
}

/// The `--json` document: `{"findings": [...], "summary": {...}}`.
pub fn json(list: &[Finding]) -> Value {
    let c = Counts::of(list);
    json!({
        "findings": list,
        "summary": {
            "total": c.total(),
            "errors": c.errors,
            "warnings": c.warnings,
            "notes": c.notes,
            "files": c.files,
        }
    })
}
