//! A small line lexer shared by the built-in analyzers: separates code from comments and
//! string literals so that a `TODO` inside a string, or an `unwrap` inside a comment, is not
//! mistaken for the real thing. It is deliberately forgiving: on input it does not understand
//! it degrades to treating text as code, never fails.

/// Language family, chosen from the file extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// Rust.
    Rust,
    /// C-like brace languages with `//` and `/* */` comments.
    CLike,
    /// Python.
    Python,
    /// `#` comments, no braces worth counting (shell, Ruby, TOML, …).
    Hash,
    /// Anything else: line-based only.
    Plain,
}

impl Lang {
    /// Language of a path, by extension.
    pub fn of(path: &str) -> Lang {
        let ext = path
            .rsplit_once('.')
            .map(|(_, e)| e.to_ascii_lowercase())
            .unwrap_or_default();
        match ext.as_str() {
            "rs" => Lang::Rust,
            "c" | "h" | "cc" | "cpp" | "hpp" | "cxx" | "java" | "js" | "jsx" | "ts" | "tsx"
            | "go" | "cs" | "kt" | "swift" | "scala" | "php" | "zig" | "dart" => Lang::CLike,
            "py" => Lang::Python,
            "sh" | "bash" | "rb" | "toml" | "yaml" | "yml" | "pl" | "r" | "ex" | "exs" => {
                Lang::Hash
            }
            _ => Lang::Plain,
        }
    }

    /// Name used in results.
    pub fn name(self) -> &'static str {
        match self {
            Lang::Rust => "rust",
            Lang::CLike => "c-like",
            Lang::Python => "python",
            Lang::Hash => "script",
            Lang::Plain => "text",
        }
    }

    fn slash_comments(self) -> bool {
        matches!(self, Lang::Rust | Lang::CLike)
    }

    fn hash_comments(self) -> bool {
        matches!(self, Lang::Python | Lang::Hash)
    }
}

/// One source line split into its parts.
#[derive(Debug, Default, Clone)]
pub struct Line {
    /// Code with string and char literal contents blanked out and comments removed.
    pub code: String,
    /// Comment text on this line (without the markers).
    pub comment: String,
}

#[derive(Clone, Copy, PartialEq)]
enum State {
    Code,
    Block(u32),
    Str,
    RawStr(usize),
}

/// Split `text` into [`Line`]s for `lang`.
pub fn lex(text: &str, lang: Lang) -> Vec<Line> {
    let mut out = Vec::new();
    let mut state = State::Code;
    for raw in text.lines() {
        let mut line = Line::default();
        if lang == Lang::Plain {
            line.code = raw.to_string();
            out.push(line);
            continue;
        }
        let chars: Vec<char> = raw.chars().collect();
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            let next = chars.get(i + 1).copied();
            match state {
                State::Block(depth) => {
                    if c == '*' && next == Some('/') {
                        state = if depth > 1 {
                            State::Block(depth - 1)
                        } else {
                            State::Code
                        };
                        i += 2;
                        continue;
                    }
                    if lang == Lang::Rust && c == '/' && next == Some('*') {
                        state = State::Block(depth + 1);
                        i += 2;
                        continue;
                    }
                    line.comment.push(c);
                }
                State::Str => {
                    if c == '\\' {
                        i += 2;
                        continue;
                    }
                    if c == '"' {
                        state = State::Code;
                        line.code.push('"');
                    }
                }
                State::RawStr(hashes) => {
                    if c == '"'
                        && chars[i + 1..]
                            .iter()
                            .take(hashes)
                            .filter(|&&h| h == '#')
                            .count()
                            == hashes
                    {
                        state = State::Code;
                        line.code.push('"');
                        i += 1 + hashes;
                        continue;
                    }
                }
                State::Code => {
                    if lang.slash_comments() && c == '/' && next == Some('/') {
                        line.comment.extend(&chars[i + 2..]);
                        break;
                    }
                    if lang.hash_comments() && c == '#' {
                        line.comment.extend(&chars[i + 1..]);
                        break;
                    }
                    if lang.slash_comments() && c == '/' && next == Some('*') {
                        state = State::Block(1);
                        i += 2;
                        continue;
                    }
                    if c == '"' {
                        line.code.push('"');
                        state = State::Str;
                    } else if lang == Lang::Rust
                        && c == 'r'
                        && (next == Some('"') || next == Some('#'))
                        && !prev_is_ident(&chars, i)
                    {
                        let hashes = chars[i + 1..].iter().take_while(|&&h| h == '#').count();
                        if chars.get(i + 1 + hashes) == Some(&'"') {
                            line.code.push('"');
                            state = State::RawStr(hashes);
                            i += 2 + hashes;
                            continue;
                        }
                        line.code.push(c);
                    } else if c == '\'' {
                        // A char literal ('x', '\n', '\u{1F600}') is blanked; a Rust lifetime
                        // ('a) or a lone quote is kept as code.
                        if let Some(len) = char_literal_len(&chars[i..]) {
                            line.code.push_str("' '");
                            i += len;
                            continue;
                        }
                        if lang != Lang::Rust && lang != Lang::CLike {
                            // Single-quoted strings (Python, shell): skip to the closing quote.
                            if let Some(end) = chars[i + 1..].iter().position(|&q| q == '\'') {
                                line.code.push_str("''");
                                i += end + 2;
                                continue;
                            }
                        }
                        line.code.push(c);
                    } else {
                        line.code.push(c);
                    }
                }
            }
            i += 1;
        }
        // Unterminated plain strings do not continue onto the next line outside Rust/C.
        if state == State::Str && !matches!(lang, Lang::Rust | Lang::CLike) {
            state = State::Code;
        }
        out.push(line);
    }
    out
}

fn prev_is_ident(chars: &[char], i: usize) -> bool {
    i > 0 && (chars[i - 1].is_alphanumeric() || chars[i - 1] == '_')
}

fn char_literal_len(s: &[char]) -> Option<usize> {
    // s[0] == '\''
    match s.get(1)? {
        '\\' => {
            let end = s[2..].iter().take(10).position(|&c| c == '\'')?;
            Some(end + 3)
        }
        _ if s.get(2) == Some(&'\'') => Some(3),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_and_comments_are_separated() {
        let src = "let s = \"// not a comment\"; // real TODO\n/* block\n still */ let c = '\"'; let l: &'a str = r#\"raw \"q\" \"#;";
        let lines = lex(src, Lang::Rust);
        assert!(!lines[0].code.contains("not a comment"));
        assert_eq!(lines[0].comment.trim(), "real TODO");
        assert!(lines[1].code.is_empty());
        assert!(lines[2].code.contains("let c"));
        assert!(lines[2].code.contains("&'a str"));
        assert!(!lines[2].code.contains("raw"));
    }

    #[test]
    fn python_hash_comments() {
        let lines = lex("x = '#no'  # yes\n", Lang::Python);
        assert_eq!(lines[0].comment.trim(), "yes");
        assert!(!lines[0].code.contains("no"));
    }
}
