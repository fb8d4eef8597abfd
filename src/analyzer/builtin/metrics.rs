//! The `metrics` analyzer: size, functions, the longest function, nesting depth and panic
//! sites. Rust is understood through the lexer (strings and comments excluded, `fn` bodies by
//! brace matching, test code told apart); other brace languages use the same brace matching;
//! indentation languages and plain text get line-based figures.

use serde_json::{json, Value};

use super::lex::{lex, Lang, Line};

/// Bumped whenever the output for some input would change: part of the key. Version 2 lists
/// every function (`by_function`: name, first line, length, nesting, whether a test), so
/// `findings` can name each function over a threshold.
pub const VERSION: u32 = 3;

/// Calls and macros that can panic at run time (Rust).
const PANIC_SITES: &[(&str, &str)] = &[
    (".unwrap()", "unwrap"),
    (".expect(", "expect"),
    ("panic!", "panic"),
    ("unreachable!", "unreachable"),
    ("todo!", "todo"),
    ("unimplemented!", "unimplemented"),
];

/// Function keyword per language family.
fn fn_keywords(lang: Lang) -> &'static [&'static str] {
    match lang {
        Lang::Rust => &["fn"],
        Lang::CLike => &["function", "func", "fun", "def"],
        Lang::Python => &["def"],
        Lang::Hash => &["def", "function"],
        Lang::Plain => &[],
    }
}

struct Func {
    name: String,
    start: usize,
    end: usize,
    nesting: usize,
    test: bool,
}

/// Analyse `text` from `path`.
pub fn analyze(path: &str, text: &str) -> Value {
    let lang = Lang::of(path);
    let lines = lex(text, lang);
    let total = lines.len();
    let blank = text.lines().filter(|l| l.trim().is_empty()).count();
    let code = lines.iter().filter(|l| !l.code.trim().is_empty()).count();
    let comment = lines
        .iter()
        .filter(|l| l.code.trim().is_empty() && !l.comment.trim().is_empty())
        .count();

    let (funcs, max_depth) = match lang {
        Lang::Rust | Lang::CLike => brace_functions(&lines, lang),
        Lang::Python | Lang::Hash => indent_functions(text, &lines, lang),
        Lang::Plain => (Vec::new(), 0),
    };
    let longest = funcs
        .iter()
        .max_by_key(|f| (f.end - f.start, std::cmp::Reverse(f.start)))
        .map(|f| json!({"name": f.name, "line": f.start + 1, "lines": f.end - f.start + 1}));
    let max_nesting = funcs
        .iter()
        .map(|f| f.nesting)
        .max()
        .unwrap_or(0)
        .max(if funcs.is_empty() { max_depth } else { 0 });

    let mut panics = Vec::new();
    // A file under tests/, benches/ or examples/ is test code as a whole.
    let test_file = is_test_path(path);
    if lang == Lang::Rust {
        for (i, l) in lines.iter().enumerate() {
            let in_test = test_file || funcs.iter().any(|f| f.test && f.start <= i && i <= f.end);
            for (needle, kind) in PANIC_SITES {
                let mut from = 0;
                while let Some(p) = l.code[from..].find(needle) {
                    let at = from + p;
                    let ok = !needle.starts_with(|c: char| c.is_alphabetic())
                        || at == 0
                        || !l.code.as_bytes()[at - 1].is_ascii_alphanumeric()
                            && l.code.as_bytes()[at - 1] != b'_';
                    if ok {
                        panics.push(json!({"line": i + 1, "kind": kind, "in_test": in_test}));
                    }
                    from = at + needle.len();
                }
            }
        }
    }
    let by_function: Vec<Value> = funcs
        .iter()
        .map(|f| {
            json!({"name": f.name, "line": f.start + 1, "lines": f.end - f.start + 1,
                "nesting": f.nesting, "test": f.test})
        })
        .collect();
    let panic_outside_tests = panics.iter().filter(|p| p["in_test"] == false).count();
    let fn_count = funcs.len();
    let test_fns = funcs.iter().filter(|f| f.test).count();
    json!({
        "language": lang.name(),
        "lines": { "total": total, "code": code, "comment": comment, "blank": blank },
        "functions": fn_count,
        "test_functions": test_fns,
        "longest_function": longest,
        "by_function": by_function,
        "max_nesting": max_nesting,
        "panic_sites": { "total": panics.len(), "outside_tests": panic_outside_tests, "sites": panics },
    })
}

/// Whether `path` lies in a folder of test code: `tests/`, `benches/`, `examples/`, at any
/// depth (a workspace member's own included).
fn is_test_path(path: &str) -> bool {
    path.split('/')
        .rev()
        .skip(1)
        .any(|d| matches!(d, "tests" | "benches" | "examples"))
}

/// Whether a line (trimmed) is an attribute that marks a test: one whose path's last segment
/// ends in `test` (`#[test]`, `#[tokio::test]`, `#[cargo_test]`, `#[rstest]`,
/// `#[test_case(..)]` excepted as it does not end so, but `#[wasm_bindgen_test]` included).
fn is_test_attribute(t: &str) -> bool {
    let Some(body) = t.strip_prefix("#[") else {
        return false;
    };
    let path = body
        .split(|c: char| c == '(' || c == ']' || c == '=' || c.is_whitespace())
        .next()
        .unwrap_or("");
    path.rsplit("::")
        .next()
        .is_some_and(|last| last.ends_with("test"))
}

/// Functions in brace languages: a keyword followed by a name, whose body is the next `{` and
/// its matching `}`. Nesting is brace depth inside the body, the body itself being depth 0.
fn brace_functions(lines: &[Line], lang: Lang) -> (Vec<Func>, usize) {
    let keywords = fn_keywords(lang);
    let mut funcs: Vec<Func> = Vec::new();
    // Open functions: (index into funcs, brace depth of the body once opened).
    let mut open: Vec<(usize, Option<usize>)> = Vec::new();
    let mut depth = 0usize;
    let mut max_depth = 0usize;
    let mut test_attr = false;
    // Brace depths at which a `#[cfg(test)]` module body opened.
    let mut test_mods: Vec<usize> = Vec::new();
    let mut pending_test_mod = false;
    for (i, l) in lines.iter().enumerate() {
        let code = &l.code;
        if lang == Lang::Rust {
            let t = code.trim();
            if is_test_attribute(t) {
                test_attr = true;
            }
            if t.starts_with("#[cfg(test)]") {
                // On a module, its body; on a function, that function.
                pending_test_mod = true;
                test_attr = true;
            }
        }
        let toks = tokens(code);
        let mut ti = 0;
        let bytes: Vec<char> = code.chars().collect();
        let mut ci = 0;
        // Walk characters for braces, tokens for keywords, in order of position.
        while ci < bytes.len() {
            let c = bytes[ci];
            if c.is_alphabetic() || c == '_' {
                // identifier token
                let start = ci;
                while ci < bytes.len() && (bytes[ci].is_alphanumeric() || bytes[ci] == '_') {
                    ci += 1;
                }
                let word: String = bytes[start..ci].iter().collect();
                ti += 1;
                if keywords.contains(&word.as_str()) {
                    let name = toks
                        .get(ti)
                        .cloned()
                        .filter(|n| {
                            n.chars()
                                .next()
                                .is_some_and(|c| c.is_alphabetic() || c == '_')
                        })
                        .unwrap_or_else(|| "<anonymous>".into());
                    let in_test_mod = !test_mods.is_empty();
                    funcs.push(Func {
                        name,
                        start: i,
                        end: i,
                        nesting: 0,
                        test: test_attr || in_test_mod,
                    });
                    open.push((funcs.len() - 1, None));
                    test_attr = false;
                    pending_test_mod = false;
                }
                if word == "mod" && pending_test_mod {
                    test_mods.push(depth + 1);
                    pending_test_mod = false;
                    test_attr = false;
                }
                continue;
            }
            match c {
                '{' => {
                    depth += 1;
                    max_depth = max_depth.max(depth);
                    if let Some(last) = open.last_mut() {
                        if last.1.is_none() {
                            last.1 = Some(depth);
                        }
                    }
                    for (f, body) in &open {
                        if let Some(b) = body {
                            let n = depth - b;
                            if n > funcs[*f].nesting {
                                funcs[*f].nesting = n;
                            }
                        }
                    }
                }
                '}' => {
                    if let Some(&(f, Some(b))) = open.last() {
                        if depth == b {
                            funcs[f].end = i;
                            open.pop();
                        }
                    }
                    if test_mods.last() == Some(&depth) {
                        test_mods.pop();
                    }
                    depth = depth.saturating_sub(1);
                }
                ';' => {
                    // A declaration without a body (trait method, prototype).
                    if let Some(&(f, None)) = open.last() {
                        open.pop();
                        funcs.remove(f);
                    }
                }
                _ => {}
            }
            ci += 1;
        }
    }
    // Unclosed bodies run to the end of the file.
    for (f, body) in open {
        if body.is_some() {
            funcs[f].end = lines.len().saturating_sub(1);
        } else {
            funcs[f].end = funcs[f].start;
        }
    }
    (funcs, max_depth)
}

fn tokens(code: &str) -> Vec<String> {
    code.split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .collect()
}

/// Functions in indentation languages: `def name` to the last line indented deeper than it.
/// Nesting counts indentation steps inside the body.
fn indent_functions(text: &str, lines: &[Line], lang: Lang) -> (Vec<Func>, usize) {
    let keywords = fn_keywords(lang);
    let raw: Vec<&str> = text.lines().collect();
    let indent = |s: &str| s.len() - s.trim_start().len();
    let unit = raw
        .iter()
        .map(|l| indent(l))
        .filter(|&n| n > 0)
        .min()
        .unwrap_or(4)
        .max(1);
    let mut funcs = Vec::new();
    let mut max_depth = 0;
    for (i, l) in lines.iter().enumerate() {
        let t = l.code.trim_start();
        let t = t.strip_prefix("async ").unwrap_or(t);
        let Some(kw) = keywords.iter().find(|k| t.starts_with(&format!("{k} "))) else {
            if !l.code.trim().is_empty() {
                max_depth = max_depth.max(indent(raw[i]) / unit);
            }
            continue;
        };
        let name: String = t[kw.len()..]
            .trim_start()
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        let base = indent(raw[i]);
        let mut end = i;
        let mut nesting = 0;
        for (j, r) in raw.iter().enumerate().skip(i + 1) {
            if r.trim().is_empty() {
                continue;
            }
            let ind = indent(r);
            if ind <= base {
                break;
            }
            end = j;
            nesting = nesting.max((ind - base) / unit);
        }
        let name = if name.is_empty() {
            "<anonymous>".into()
        } else {
            name
        };
        funcs.push(Func {
            name,
            start: i,
            end,
            nesting: nesting.saturating_sub(1),
            test: false,
        });
    }
    (funcs, max_depth)
}

#[cfg(test)]
mod tests {
    use super::*;

    const RUST: &str = r#"
pub trait T { fn decl(&self); }

fn short() -> u8 { 1 }

fn longer(x: Option<u8>) -> u8 {
    if x.is_some() {
        for i in 0..3 {
            let _ = i;
        }
    }
    let s = "x.unwrap() in a string";
    // x.unwrap() in a comment
    x.unwrap()
}

#[cfg(test)]
mod tests {
    #[test]
    fn t() {
        Some(1).expect("fine in tests");
        panic!("boom");
    }
}
"#;

    #[test]
    fn rust_functions_nesting_and_panics() {
        let v = analyze("src/x.rs", RUST);
        assert_eq!(v["language"], "rust");
        assert_eq!(v["functions"], 3, "{v:#}");
        assert_eq!(v["test_functions"], 1);
        assert_eq!(v["longest_function"]["name"], "longer");
        assert_eq!(v["longest_function"]["lines"], 10);
        assert_eq!(v["max_nesting"], 2);
        assert_eq!(v["panic_sites"]["total"], 3, "{v:#}");
        assert_eq!(v["panic_sites"]["outside_tests"], 1);
        assert_eq!(v["panic_sites"]["sites"][0]["line"], 14);
    }

    #[test]
    fn panics_in_tests_benches_and_test_functions_are_not_counted_outside_tests() {
        let src = "fn real(x: Option<u8>) -> u8 { x.unwrap() }\n\n#[tokio::test]\nasync fn t1() { None::<u8>.unwrap(); }\n\n#[cargo_test]\nfn t2() { None::<u8>.unwrap(); }\n\n#[cfg(test)]\nfn helper() { None::<u8>.unwrap(); }\n\n#[test_case(1)]\nfn not_a_test_attribute() { None::<u8>.unwrap(); }\n";
        let v = analyze("src/lib.rs", src);
        assert_eq!(v["panic_sites"]["total"], 5, "{v:#}");
        assert_eq!(v["panic_sites"]["outside_tests"], 2, "{v:#}");
        for p in [
            "tests/it.rs",
            "crates/a/tests/x.rs",
            "benches/b.rs",
            "examples/e.rs",
        ] {
            let v = analyze(p, src);
            assert_eq!(v["panic_sites"]["outside_tests"], 0, "{p}");
        }
        assert_eq!(
            analyze("src/tests.rs", src)["panic_sites"]["outside_tests"],
            2
        );
    }

    #[test]
    fn python_by_indentation() {
        let src = "def a():\n    if x:\n        for y in z:\n            pass\n\ndef b():\n    return 1\n";
        let v = analyze("m.py", src);
        assert_eq!(v["functions"], 2);
        assert_eq!(v["longest_function"]["name"], "a");
        assert_eq!(v["longest_function"]["lines"], 4);
        assert_eq!(v["max_nesting"], 2);
    }

    #[test]
    fn plain_text_counts_lines() {
        let v = analyze("README.md", "# Title\n\ntext\n");
        assert_eq!(v["lines"]["total"], 3);
        assert_eq!(v["lines"]["blank"], 1);
        assert_eq!(v["functions"], 0);
    }
}
