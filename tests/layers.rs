//! The shape of the code (issue 12): dependencies run one way, top to bottom, as in STYLE.md;
//! no file holds two ideas (600 lines); git2 and the git binary only under `src/git/`; no test
//! file forgotten by `tests/main.rs`. These read the sources, so a change that breaks the
//! layering fails the suite.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The top-level modules, top to bottom: each may use only modules below it.
const LAYERS: &[&str] = &[
    "cli",
    "report",
    "run",
    "analyzer",
    "budget",
    "llm",
    "index",
    "findings",
    "workspace",
    "cache",
    "items",
    "git",
    "config",
    "output",
    "util",
    "error",
    "sys",
];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

/// Every `.rs` file below `dir`, with its text up to its unit tests (`#[cfg(test)]`).
fn sources(dir: &Path) -> Vec<(PathBuf, String)> {
    let mut out = Vec::new();
    for e in walkdir::WalkDir::new(dir).into_iter().flatten() {
        if e.path().extension().is_some_and(|x| x == "rs") {
            let text = std::fs::read_to_string(e.path()).unwrap();
            let code = match text.find("#[cfg(test)]") {
                Some(i) => text[..i].to_string(),
                None => text,
            };
            out.push((e.path().to_path_buf(), code));
        }
    }
    out.sort();
    out
}

/// Code without `//` comments (doc comments name modules freely).
fn code_only(text: &str) -> String {
    text.lines()
        .map(|l| match l.find("//") {
            Some(i) if !l[..i].contains('"') => &l[..i],
            _ => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The modules `text` names as `crate::NAME` (in paths and in `use crate::{a, b}` groups).
fn crate_refs(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = text;
    while let Some(i) = rest.find("crate::") {
        rest = &rest[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            for part in group[..end].split(',') {
                let name: String = part
                    .trim()
                    .chars()
                    .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                    .collect();
                if !name.is_empty() {
                    out.insert(name);
                }
            }
        } else {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                .collect();
            if !name.is_empty() {
                out.insert(name);
            }
        }
    }
    out
}

fn top_module(path: &Path) -> String {
    let rel = path.strip_prefix(root().join("src")).unwrap();
    let first = rel
        .components()
        .next()
        .unwrap()
        .as_os_str()
        .to_string_lossy();
    first.trim_end_matches(".rs").to_string()
}

#[test]
fn dependencies_run_one_way_down_the_layers() {
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (path, text) in sources(&root().join("src")) {
        let me = top_module(&path);
        if me == "lib" || me == "main" {
            continue;
        }
        assert!(
            LAYERS.contains(&me.as_str()),
            "{}: module `{me}` is in no layer (add it to LAYERS in tests/layers.rs and STYLE's order)",
            path.display()
        );
        for dep in crate_refs(&code_only(&text)) {
            if dep != me {
                graph.entry(me.clone()).or_default().insert(dep);
            }
        }
    }
    let rank = |m: &str| LAYERS.iter().position(|l| *l == m);
    let mut upward = Vec::new();
    for (m, deps) in &graph {
        for d in deps {
            match (rank(m), rank(d)) {
                (Some(a), Some(b)) if b > a => {}
                _ => upward.push(format!("{m} -> {d}")),
            }
        }
    }
    assert!(
        upward.is_empty(),
        "imports that go up (or sideways) the layers, which is how cycles start: {upward:?}"
    );
}

#[test]
fn sibling_files_import_each_other_without_cycles() {
    // Within each folder, `super::NAME` edges between sibling files must form no cycle.
    let mut by_dir: BTreeMap<PathBuf, BTreeMap<String, BTreeSet<String>>> = BTreeMap::new();
    for (path, text) in sources(&root().join("src")) {
        let name = path.file_stem().unwrap().to_string_lossy().to_string();
        if name == "mod" || name == "lib" || name == "main" {
            continue;
        }
        let dir = path.parent().unwrap().to_path_buf();
        let code = code_only(&text);
        let mut deps = BTreeSet::new();
        let mut rest = code.as_str();
        while let Some(i) = rest.find("super::") {
            rest = &rest[i + "super::".len()..];
            let n: String = rest
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                .collect();
            deps.insert(n);
        }
        by_dir.entry(dir).or_default().insert(name, deps);
    }
    for (dir, files) in &by_dir {
        // Depth-first search for a cycle among the files of this folder.
        fn visit(
            n: &str,
            files: &BTreeMap<String, BTreeSet<String>>,
            stack: &mut Vec<String>,
            done: &mut BTreeSet<String>,
        ) -> Option<Vec<String>> {
            if let Some(i) = stack.iter().position(|s| s == n) {
                return Some(stack[i..].to_vec());
            }
            if done.contains(n) || !files.contains_key(n) {
                return None;
            }
            stack.push(n.to_string());
            for d in &files[n] {
                if let Some(c) = visit(d, files, stack, done) {
                    return Some(c);
                }
            }
            stack.pop();
            done.insert(n.to_string());
            None
        }
        let mut done = BTreeSet::new();
        for f in files.keys() {
            if let Some(cycle) = visit(f, files, &mut Vec::new(), &mut done) {
                panic!(
                    "import cycle among the files of {}: {cycle:?}",
                    dir.display()
                );
            }
        }
    }
}

#[test]
fn no_source_file_holds_two_ideas() {
    let mut long = Vec::new();
    for e in walkdir::WalkDir::new(root().join("src"))
        .into_iter()
        .flatten()
    {
        if e.path().extension().is_some_and(|x| x == "rs") {
            let n = std::fs::read_to_string(e.path()).unwrap().lines().count();
            if n > 600 {
                long.push(format!("{} ({n} lines)", e.path().display()));
            }
        }
    }
    assert!(long.is_empty(), "files over 600 lines: {long:?}");
}

#[test]
fn git2_and_the_git_binary_stay_under_src_git() {
    let mut outside = Vec::new();
    for (path, text) in sources(&root().join("src")) {
        if path.starts_with(root().join("src/git")) {
            continue;
        }
        let code = code_only(&text);
        if code.contains("git2::") || code.contains("Command::new(\"git\")") {
            outside.push(path.display().to_string());
        }
    }
    assert!(outside.is_empty(), "git used outside src/git: {outside:?}");
}

#[test]
fn no_test_file_is_forgotten() {
    let main = std::fs::read_to_string(root().join("tests/main.rs")).unwrap();
    let listed: BTreeSet<String> = main
        .lines()
        .filter_map(|l| l.trim().strip_prefix("mod "))
        .map(|m| m.trim_end_matches(';').to_string())
        .collect();
    let mut forgotten = Vec::new();
    for e in std::fs::read_dir(root().join("tests")).unwrap().flatten() {
        let name = e.file_name().to_string_lossy().to_string();
        if let Some(stem) = name.strip_suffix(".rs") {
            if stem != "main" && !listed.contains(stem) {
                forgotten.push(name);
            }
        }
    }
    assert!(
        forgotten.is_empty(),
        "test files tests/main.rs does not include (they never run): {forgotten:?}"
    );
}
