//! A list of globs (`[analysis] include` / `exclude`) matched against repository-relative
//! paths, with globset's meaning (`literal_separator`: `*` never crosses a `/`), and cheaply
//! for the shapes configurations are made of.
//!
//! `analyze --all` asks every tracked path, so at 10,000 files globset's general machinery
//! (literal, suffix, Aho-Corasick and regex strategies, run one after the other for every path)
//! was 15% of the run's instructions. Patterns of the common shapes — `**/*.rs`, `target/**`,
//! `**/target/**`, `**/Cargo.lock`, `*.md`, `README.md` — are matched here by string
//! comparison; any other pattern goes to a globset of its own, compiled only when there is one.
//!
//! What callers may rely on: [`GlobList::is_match`] answers exactly as a `globset::GlobSet`
//! built from the same patterns with `literal_separator(true)` would (a unit test holds the two
//! equal over tricky paths), and building fails on exactly the patterns globset rejects.

use rustc_hash::FxHashSet;

/// One pattern of a shape matched by string comparison.
#[derive(Debug, Clone, PartialEq)]
enum Shape {
    /// `**/*S`: the last component ends with `S`.
    Suffix(String),
    /// `*S` (no `/` in `S`): a top-level path ending with `S`.
    TopSuffix(String),
    /// `P/**`: below the folder `P` (`P` is not matched itself).
    Under(String),
    /// `**/P/**`: below a folder `P` at any depth.
    UnderAny(String),
    /// `**/L`: `L` itself or `L` below any folder.
    Named(String),
    /// `L`: exactly this path.
    Exact(String),
}

impl Shape {
    /// The shape of `pattern`, when it has one of those matched by comparison.
    fn of(pattern: &str) -> Option<Shape> {
        // Classes, alternation, escapes and `?` go to globset, and so does a leading `/`
        // (which no relative path has, but globset decides what it means).
        if pattern.is_empty()
            || pattern.starts_with('/')
            || pattern.contains(['?', '[', ']', '{', '}', '\\'])
        {
            return None;
        }
        let plain = |s: &str| !s.is_empty() && !s.contains('*');
        let component = |s: &str| !s.contains('/');
        // Neither a leading nor a trailing `/`, nor an empty component, in a literal part.
        let clean =
            |s: &str| plain(s) && !s.starts_with('/') && !s.ends_with('/') && !s.contains("//");
        if let Some(s) = pattern.strip_prefix("**/*") {
            return (!s.contains('*') && component(s)).then(|| Shape::Suffix(s.to_string()));
        }
        if let Some(p) = pattern
            .strip_prefix("**/")
            .and_then(|r| r.strip_suffix("/**"))
        {
            return clean(p).then(|| Shape::UnderAny(p.to_string()));
        }
        if let Some(l) = pattern.strip_prefix("**/") {
            return clean(l).then(|| Shape::Named(l.to_string()));
        }
        if let Some(p) = pattern.strip_suffix("/**") {
            return clean(p).then(|| Shape::Under(p.to_string()));
        }
        if let Some(s) = pattern.strip_prefix('*') {
            return (!s.contains('*') && component(s)).then(|| Shape::TopSuffix(s.to_string()));
        }
        clean(pattern).then(|| Shape::Exact(pattern.to_string()))
    }

    fn matches(&self, path: &str) -> bool {
        match self {
            // `S` holds no `/`, so the path ends with it exactly when its last component does.
            Shape::Suffix(s) => path.ends_with(s.as_str()),
            Shape::TopSuffix(s) => !path.contains('/') && path.ends_with(s.as_str()),
            Shape::Under(p) => below(path, p, 0),
            Shape::UnderAny(p) => {
                // At the start, or right after any `/`.
                below(path, p, 0) || path.match_indices('/').any(|(i, _)| below(path, p, i + 1))
            }
            Shape::Named(l) => {
                path == l
                    || (path.len() > l.len()
                        && path.ends_with(l.as_str())
                        && path.as_bytes()[path.len() - l.len() - 1] == b'/')
            }
            Shape::Exact(l) => path == l,
        }
    }
}

/// Whether `path[at..]` is `folder/` followed by at least one more character.
fn below(path: &str, folder: &str, at: usize) -> bool {
    let rest = &path[at..];
    rest.len() > folder.len() + 1
        && rest.starts_with(folder)
        && rest.as_bytes()[folder.len()] == b'/'
}

/// A compiled list of globs: a path matches when any pattern does.
#[derive(Debug, Clone, Default)]
pub struct GlobList {
    /// `**/*.EXT` with no `.` in `EXT`: the last component's extension is one of these.
    exts: FxHashSet<Box<str>>,
    /// `**/P/**` and `P/**` with `P` one component: a folder on the path (any, or the first)
    /// is named so.
    folders_any: FxHashSet<Box<str>>,
    folders_top: FxHashSet<Box<str>>,
    /// Cheap first checks before hashing (most components and extensions of a path match no
    /// pattern): the lengths of `exts` (bit `n` for length `n`, lengths over 63 on bit 63), and
    /// the first bytes of the folders.
    ext_lens: u64,
    folder_firsts: [u64; 4],
    /// Every other simple shape.
    shapes: Vec<Shape>,
    /// The patterns of no simple shape, compiled by globset; `None` when there are none.
    rest: Option<globset::GlobSet>,
}

impl GlobList {
    /// Compile `patterns`; the error names the first pattern globset rejects and why.
    pub fn new<S: AsRef<str>>(patterns: &[S]) -> Result<GlobList, (String, globset::Error)> {
        let mut list = GlobList::default();
        let mut rest = globset::GlobSetBuilder::new();
        let mut any_rest = false;
        let one = |p: &str| !p.contains('/');
        for p in patterns {
            let p = p.as_ref();
            match Shape::of(p) {
                Some(Shape::Suffix(s))
                    if s.len() > 1 && s.starts_with('.') && !s[1..].contains('.') =>
                {
                    list.ext_lens |= length_bit(s.len() - 1);
                    list.exts.insert(s[1..].into());
                }
                Some(Shape::UnderAny(f)) if one(&f) => {
                    list.note_folder(&f);
                    list.folders_any.insert(f.into());
                }
                Some(Shape::Under(f)) if one(&f) => {
                    list.note_folder(&f);
                    list.folders_top.insert(f.into());
                }
                Some(s) => list.shapes.push(s),
                None => {
                    let g = glob(p).map_err(|e| (p.to_string(), e))?;
                    rest.add(g);
                    any_rest = true;
                }
            }
        }
        if any_rest {
            list.rest = Some(rest.build().map_err(|e| (String::new(), e))?);
        }
        Ok(list)
    }

    fn note_folder(&mut self, folder: &str) {
        let b = folder.as_bytes()[0];
        self.folder_firsts[(b >> 6) as usize] |= 1 << (b & 63);
    }

    /// Whether a folder pattern may name `d` (its first byte begins one of them).
    fn may_be_folder(&self, d: &[u8]) -> bool {
        d.first()
            .is_some_and(|&b| self.folder_firsts[(b >> 6) as usize] & (1 << (b & 63)) != 0)
    }

    /// Whether any pattern matches `path` (repository-relative, `/`-separated).
    pub fn is_match(&self, path: &str) -> bool {
        // Plain loops over the bytes rather than memchr or `str` searches: paths are short, and
        // this runs twice (include, exclude) for every tracked path of an `analyze --all`, so
        // per-call set-up and hashing dominated (~450 instructions a call, 13% of a 10,000-file
        // run's, before).
        let bytes = path.as_bytes();
        // One pass from the end: where the last component starts, and its last `.`.
        let mut base = 0;
        let mut dot = None;
        for (i, &c) in bytes.iter().enumerate().rev() {
            if c == b'/' {
                base = i + 1;
                break;
            }
            if c == b'.' && dot.is_none() {
                dot = Some(i);
            }
        }
        if let Some(d) = dot {
            let ext = &path[d + 1..];
            if self.ext_lens & length_bit(ext.len()) != 0 && self.exts.contains(ext) {
                return true;
            }
        }
        let any = !self.folders_any.is_empty();
        if base > 0 && (any || !self.folders_top.is_empty()) {
            // The folders: `path[..base - 1]`, one component at a time.
            let dirs = &bytes[..base - 1];
            let mut start = 0;
            loop {
                let end = dirs[start..]
                    .iter()
                    .position(|&c| c == b'/')
                    .map_or(dirs.len(), |j| start + j);
                let d = &dirs[start..end];
                if self.may_be_folder(d) {
                    let d = &path[start..end];
                    if (any && self.folders_any.contains(d))
                        || (start == 0 && self.folders_top.contains(d))
                    {
                        return true;
                    }
                }
                // Only `folders_any` looks past the first folder.
                if end == dirs.len() || !any {
                    break;
                }
                start = end + 1;
            }
        }
        self.shapes.iter().any(|s| s.matches(path))
            || self.rest.as_ref().is_some_and(|r| r.is_match(path))
    }
}

/// Bit `n` of a length mask (lengths over 63 share bit 63).
fn length_bit(n: usize) -> u64 {
    1 << n.min(63)
}

/// One glob as the configuration means it: `*` stays within a path component.
pub fn glob(pattern: &str) -> Result<globset::Glob, globset::Error> {
    globset::GlobBuilder::new(pattern)
        .literal_separator(true)
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    const PATTERNS: &[&str] = &[
        "**/*.rs",
        "**/*.min.js",
        "**/*",
        "**/*.lock",
        "target/**",
        "**/target/**",
        "**/.rustassistant/**",
        ".rustassistant/**",
        "node_modules/**",
        "a/b/**",
        "**/a/b/**",
        "**/Cargo.lock",
        "**/a/Cargo.lock",
        "*.md",
        "*",
        "README.md",
        "docs/README.md",
        "src/*.rs",
        "src/**/*.rs",
        "**",
        "x**",
        "**x",
        "a/**/b",
        "**/*.{rs,py}",
        "f?.rs",
        "[ab].rs",
        "**/*.r*",
        "**/",
        "/abs/**",
        "target/",
        "a//b/**",
        "***/x",
        "**/**/*.rs",
        "**/target",
    ];

    const PATHS: &[&str] = &[
        "a.rs",
        ".rs",
        "rs",
        "a.rs.bak",
        "src/a.rs",
        "src/deep/er/a.rs",
        "src/a.rsx",
        "x.min.js",
        "min.js",
        ".min.js",
        "a/b/x.min.js",
        "Cargo.lock",
        "a/Cargo.lock",
        "b/a/Cargo.lock",
        "xCargo.lock",
        "a/xCargo.lock",
        "target",
        "target/x",
        "target/x/y.rs",
        "xtarget/y",
        "a/target/b",
        "a/target",
        "a/xtarget/b",
        ".rustassistant",
        ".rustassistant/cache/x.jsonl",
        "src/.rustassistant/x",
        "node_modules/p/i.js",
        "a/node_modules/p/i.js",
        "a/b",
        "a/b/c",
        "x/a/b/c",
        "x/a/bc/d",
        "README.md",
        "docs/README.md",
        "x/docs/README.md",
        "docs/x.md",
        "f1.rs",
        "a.py",
        "b.rs",
        "ab.rs",
        "x",
        "xx/y",
        "a/x/b",
        "a/b/**",
        // Dots in folders, a trailing dot, folders that share a first byte or a length with a
        // pattern's, an extension as long as one of the patterns' but not it.
        "x.rs/y",
        "a.lock/b.py",
        "a.",
        "src/.",
        "tarqet/x.rs",
        "t/x.rs",
        "a/b/targetx/y.rs",
        "vendor.rs",
        "a/vendor",
        "x.lck.rs",
        "x.rock",
        "n/o/d/node_modules/y/z.lock",
    ];

    #[test]
    fn answers_as_globset_does() {
        for p in PATTERNS {
            let Ok(g) = glob(p) else {
                assert!(GlobList::new(&[p]).is_err(), "{p} should be rejected");
                continue;
            };
            let reference = globset::GlobSetBuilder::new().add(g).build().unwrap();
            let ours = GlobList::new(&[p]).unwrap();
            for path in PATHS {
                assert_eq!(
                    ours.is_match(path),
                    reference.is_match(path),
                    "pattern {p:?} on {path:?} (shape {:?})",
                    Shape::of(p)
                );
            }
        }
    }

    #[test]
    fn lists_answer_as_globset_does() {
        let lists: [&[&str]; 3] = [
            crate::config::DEFAULT_INCLUDE,
            &[
                "**/*.rs",
                "**/*.min.js",
                "**/target/**",
                "vendor/**",
                "**/a/b/**",
                "a/b/**",
            ],
            &[
                "**/*.lock",
                "**/node_modules/**",
                "node_modules/**",
                "*.md",
                "src/*.rs",
            ],
        ];
        for list in lists {
            let mut b = globset::GlobSetBuilder::new();
            for p in list {
                b.add(glob(p).unwrap());
            }
            let reference = b.build().unwrap();
            let ours = GlobList::new(list).unwrap();
            for path in PATHS
                .iter()
                .chain(&["x/y/z.md", "a.MD", "lib.toml", "src/x/a.rs"])
            {
                assert_eq!(
                    ours.is_match(path),
                    reference.is_match(path),
                    "{list:?} on {path:?}"
                );
            }
        }
    }

    #[test]
    fn the_default_patterns_all_have_simple_shapes() {
        for p in crate::config::DEFAULT_INCLUDE
            .iter()
            .chain(crate::config::DEFAULT_EXCLUDE)
        {
            assert!(Shape::of(p).is_some(), "{p}");
            assert!(
                Shape::of(&format!("**/{p}")).is_some() || p.starts_with("**/"),
                "{p}"
            );
        }
    }

    #[test]
    fn a_list_mixes_shapes_and_globset() {
        let list = GlobList::new(&["**/*.rs", "src/*.py"]).unwrap();
        assert!(list.exts.contains("rs"));
        assert!(list.rest.is_some());
        assert!(list.is_match("x/y.rs"));
        assert!(list.is_match("src/a.py"));
        assert!(!list.is_match("src/x/a.py"));
        assert!(GlobList::new(&["src/[.py"]).is_err());
    }
}
