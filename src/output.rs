//! Printing: neutralising terminal control characters in text that came from entries or files,
//! and the one switch between human and `--json` output.

/// Replace terminal control characters (C0 except tab and newline, DEL, C1) with a visible
/// escape, so text from an entry someone else committed cannot move the cursor, recolour the
/// terminal or rewrite earlier lines.
pub fn sanitize(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if is_control(c) {
            out.push_str(&c.escape_unicode().to_string());
        } else {
            out.push(c);
        }
    }
    out
}

/// A character that a terminal interprets rather than prints (tab and newline excepted).
pub fn is_control(c: char) -> bool {
    (c.is_control() && c != '\n' && c != '\t') || ('\u{80}'..='\u{9f}').contains(&c)
}

/// True when `s` holds any character [`sanitize`] would rewrite.
pub fn has_control(s: &str) -> bool {
    s.chars().any(is_control)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_sequences_are_neutralised() {
        let evil = "ok\x1b[2J\x1b]0;pwned\x07 done\n";
        let clean = sanitize(evil);
        assert!(!clean.contains('\x1b'));
        assert!(!clean.contains('\x07'));
        assert!(clean.ends_with(" done\n"));
        assert!(has_control(evil));
        assert!(!has_control(&clean));
        assert!(has_control("\u{9b}31m"));
    }
}

/// Where human and machine output go. Human lines go to stdout unless `--json` or `-q`;
/// warnings go to stderr unless `-q`; with `--json` stdout carries exactly one document.
#[derive(Debug, Clone, Copy, Default)]
pub struct Printer {
    /// `--json`
    pub json: bool,
    /// `-q`
    pub quiet: bool,
    /// `-v` count.
    pub verbose: u8,
}

impl Printer {
    /// A human status line (stdout).
    pub fn line(&self, s: &str) {
        if !self.json && !self.quiet {
            println!("{s}");
        }
    }

    /// A detail line shown with `-v` (stdout).
    pub fn detail(&self, s: &str) {
        if self.verbose > 0 {
            self.line(s);
        }
    }

    /// A warning (stderr), always shown (`-q` keeps errors and warnings).
    pub fn warn(&self, s: &str) {
        eprintln!("warning: {s}");
    }

    /// A note (stderr), shown unless `-q`.
    pub fn note(&self, s: &str) {
        if !self.quiet {
            eprintln!("{s}");
        }
    }

    /// Print the one JSON document.
    pub fn json_doc(&self, v: &serde_json::Value) {
        println!("{}", serde_json::to_string_pretty(v).unwrap_or_default());
    }
}
