//! Printing: neutralising terminal control characters in text that came from entries or files,
//! and the one switch between human and `--json` output.

/// Replace terminal control characters (C0 except tab and newline, DEL, C1) and bidirectional
/// controls with a visible escape, so text from an entry someone else committed cannot move
/// the cursor, recolour the terminal, rewrite earlier lines or reorder what is shown.
pub fn sanitize(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if is_control(c) || is_bidi(c) {
            out.push_str(&c.escape_unicode().to_string());
        } else {
            out.push(c);
        }
    }
    out
}

/// A bidirectional formatting character (embeddings and overrides U+202A–U+202E, isolates
/// U+2066–U+2069, and the marks U+200E, U+200F, U+061C): text carrying one can display in
/// another order than it is read ("Trojan Source"). Never passed to a terminal, Markdown or
/// HTML: they get [`bidi_name`] instead.
pub fn is_bidi(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}')
}

/// The visible stand-in for a bidirectional character in Markdown and HTML (`U+202E`).
pub fn bidi_name(c: char) -> String {
    format!("U+{:04X}", c as u32)
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
    fn plain_lines_lose_their_leading_emoji_only() {
        assert_eq!(
            undecorate("📦 Using cached analysis for a.rs"),
            "Using cached analysis for a.rs"
        );
        assert_eq!(
            undecorate("⏭️  Skipped x (todos): binary file"),
            "Skipped x (todos): binary file"
        );
        assert_eq!(undecorate("warning: ⚠️  billed"), "warning: billed");
        assert_eq!(undecorate("ℹ️  ran"), "ran");
        assert_eq!(undecorate("🪝 Hooks installed"), "Hooks installed");
        assert_eq!(undecorate("✅ 3 files"), "3 files");
        assert_eq!(undecorate("src/🦀.rs: 1 finding"), "src/🦀.rs: 1 finding");
        assert_eq!(undecorate("plain"), "plain");
    }

    #[test]
    fn bidirectional_controls_are_shown_not_obeyed() {
        let evil = "access = \"user\u{202E} \u{2066}// admin\u{2069} \u{2066}\"";
        let clean = sanitize(evil);
        assert!(!clean.chars().any(is_bidi), "{clean}");
        assert!(clean.contains("\\u{202e}"), "{clean}");
        assert_eq!(bidi_name('\u{2067}'), "U+2067");
    }

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

/// `n` and the noun in the right number: `1 analysis`, `3 analyses`.
pub fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// Set once a write to stdout failed because the reader went away (`rustassistant … | head`).
static STDOUT_CLOSED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Whether stdout was closed by its reader during this command.
pub fn stdout_closed() -> bool {
    STDOUT_CLOSED.load(std::sync::atomic::Ordering::SeqCst)
}

/// Write `text` and a newline to stdout. A closed pipe (EPIPE) is not an error: as ripgrep does,
/// the command stops printing, stops taking new work (requests in flight finish and are kept)
/// and ends with status 0. Other write errors are ignored: output is best effort, the cache is not.
pub fn print_stdout(text: &str) {
    use std::io::Write as _;
    if stdout_closed() {
        return;
    }
    let mut out = std::io::stdout().lock();
    let r = out
        .write_all(text.as_bytes())
        .and_then(|()| out.write_all(b"\n"))
        .and_then(|()| out.flush());
    if let Err(e) = r {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            STDOUT_CLOSED.store(true, std::sync::atomic::Ordering::SeqCst);
            crate::util::interrupt::STOP_NEW_WORK.store(true, std::sync::atomic::Ordering::SeqCst);
        }
    }
}

/// Write `text` (sanitised: it often names paths from someone else's commit) and a newline to
/// stderr, ignoring a closed stderr (never a panic).
pub fn print_stderr(text: &str) {
    use std::io::Write as _;
    let text = sanitize(text);
    let mut err = std::io::stderr().lock();
    let _ = err
        .write_all(text.as_bytes())
        .and_then(|()| err.write_all(b"\n"));
}

/// Where human and machine output go. Human lines go to stdout unless `--json` or `-q`;
/// warnings go to stderr unless `-q`; with `--json` stdout carries exactly one document.
/// Every human line is passed through [`sanitize`]: paths and messages may come from someone
/// else's commit, and none of them may drive the terminal.
#[derive(Debug, Clone, Copy, Default)]
pub struct Printer {
    /// `--json`
    pub json: bool,
    /// `-q`
    pub quiet: bool,
    /// `-v` count.
    pub verbose: u8,
    /// Whether stdout lines keep their emoji (a terminal, no `NO_COLOR`, no `--plain`).
    pub emoji_out: bool,
    /// Whether stderr lines keep theirs.
    pub emoji_err: bool,
}

/// Whether `c` is one of the pictographs human lines start with (or a joiner or variation
/// selector belonging to one).
fn is_emoji(c: char) -> bool {
    matches!(c as u32, 0x1F300..=0x1FAFF | 0x2600..=0x27BF | 0x2B00..=0x2BFF | 0x23E9..=0x23FA | 0x2139 | 0xFE0F | 0x200D)
}

/// `s` without the emoji that decorate its start (after a `warning: ` prefix too) and the
/// spaces after them: what a pipe, a log file or `NO_COLOR` gets. Emoji elsewhere (in a path,
/// say) are the user's text and stay.
pub fn undecorate(s: &str) -> std::borrow::Cow<'_, str> {
    let (prefix, rest) = match s.strip_prefix("warning: ") {
        Some(r) => ("warning: ", r),
        None => ("", s),
    };
    let trimmed = rest.trim_start_matches(is_emoji);
    if trimmed.len() == rest.len() {
        return std::borrow::Cow::Borrowed(s);
    }
    std::borrow::Cow::Owned(format!("{prefix}{}", trimmed.trim_start_matches(' ')))
}

impl Printer {
    /// `s` as this printer shows it on stdout (`err` false) or stderr.
    pub fn decorate<'a>(&self, s: &'a str, err: bool) -> std::borrow::Cow<'a, str> {
        if (err && self.emoji_err) || (!err && self.emoji_out) {
            std::borrow::Cow::Borrowed(s)
        } else {
            undecorate(s)
        }
    }
}

impl Printer {
    /// A human status line (stdout).
    pub fn line(&self, s: &str) {
        if !self.json && !self.quiet {
            print_stdout(&sanitize(&self.decorate(s, false)));
        }
    }

    /// Content the user asked for (stdout), printed even with `-q` (e.g. `show`).
    pub fn content(&self, s: &str) {
        if !self.json {
            print_stdout(&sanitize(s));
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
        print_stderr(&self.decorate(&format!("warning: {s}"), true));
    }

    /// A line for stderr shown even with `-q` (what a hook says about the commit or push).
    pub fn err(&self, s: &str) {
        print_stderr(&self.decorate(s, true));
    }

    /// A note (stderr), shown unless `-q`.
    pub fn note(&self, s: &str) {
        if !self.quiet {
            print_stderr(&self.decorate(s, true));
        }
    }

    /// Print the one JSON document (serde_json escapes every control character).
    pub fn json_doc(&self, v: &serde_json::Value) {
        print_stdout(&serde_json::to_string_pretty(v).unwrap_or_default());
    }
}
