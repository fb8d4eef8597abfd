//! The files git would track next: a walk of the work tree that lists regular files absent from
//! the index and not excluded by `.gitignore` files or `.git/info/exclude`.
//!
//! What callers may rely on:
//! - git's precedence: the `.gitignore` nearest the path decides, then those above it, then
//!   `info/exclude`; within one file the last matching pattern wins; nothing below an ignored
//!   folder is listed (git cannot re-include it either).
//! - `.git` and `.rustassistant` at the root are never entered; a folder holding a `.git` (a
//!   submodule's checkout or a nested clone) is a repository of its own: it is named in
//!   [`Untracked::nested`] and nothing in it is listed.
//! - Symbolic links are neither followed nor listed.
//!
//! Its cost is one directory read per folder and a hash lookup per entry: tracked files are
//! recognised by name, and only untracked files and folders meet the ignore rules.

use std::path::Path;

use ignore::gitignore::{Gitignore, GitignoreBuilder};

/// What the walk found.
#[derive(Debug, Default)]
pub struct Untracked {
    /// Untracked, not ignored regular files (repository-relative, `/`-separated), in walk order.
    pub files: Vec<String>,
    /// Folders that are repositories of their own, left out.
    pub nested: Vec<String>,
}

/// Walk the work tree at `root`; `tracked` says whether git's index records a path (such paths
/// are skipped), `info_exclude` is the repository's `info/exclude` file.
pub fn untracked(
    root: &Path,
    info_exclude: &Path,
    tracked: &(dyn Fn(&str) -> bool + Sync),
) -> Untracked {
    let mut base = GitignoreBuilder::new(root);
    if info_exclude.is_file() {
        // A malformed line is skipped by the builder; the rest of the file still applies.
        let _ = base.add(info_exclude);
    }
    let mut w = Walker {
        root,
        tracked,
        rules: vec![base.build().unwrap_or_else(|_| Gitignore::empty())],
        out: Untracked::default(),
        rel: String::new(),
    };
    w.folder(0);
    w.out
}

struct Walker<'a> {
    root: &'a Path,
    tracked: &'a (dyn Fn(&str) -> bool + Sync),
    /// The ignore rules in force, outermost first (`info/exclude`, then each folder's
    /// `.gitignore` down to the one being walked; folders without one push an empty set).
    rules: Vec<Gitignore>,
    out: Untracked,
    /// The folder being walked, relative to the root (`""` or ending in `/`).
    rel: String,
}

impl Walker<'_> {
    /// Walk the folder `self.rel` (at `depth` below the root).
    fn folder(&mut self, depth: usize) {
        let abs = self.root.join(&self.rel);
        let Ok(read) = std::fs::read_dir(&abs) else {
            return;
        };
        let mut files: Vec<String> = Vec::new();
        let mut dirs: Vec<String> = Vec::new();
        let mut has_gitignore = false;
        for entry in read.flatten() {
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if name == ".git" {
                if depth > 0 {
                    // A repository of its own: none of this folder is ours.
                    self.out
                        .nested
                        .push(self.rel.trim_end_matches('/').to_string());
                    return;
                }
                continue;
            }
            if kind.is_dir() {
                if !(depth == 0 && name == ".rustassistant") {
                    dirs.push(name.to_string());
                }
            } else if kind.is_file() {
                has_gitignore |= name == ".gitignore";
                let path = format!("{}{name}", self.rel);
                if !(self.tracked)(&path) {
                    files.push(path);
                }
            }
        }
        let rules = if has_gitignore {
            let mut b = GitignoreBuilder::new(&abs);
            let _ = b.add(abs.join(".gitignore"));
            b.build().unwrap_or_else(|_| Gitignore::empty())
        } else {
            Gitignore::empty()
        };
        self.rules.push(rules);
        for f in files {
            if !self.ignored(&f, false) {
                self.out.files.push(f);
            }
        }
        dirs.sort_unstable();
        for d in dirs {
            let len = self.rel.len();
            self.rel.push_str(&d);
            if !self.ignored(&self.rel, true) {
                self.rel.push('/');
                self.folder(depth + 1);
            }
            self.rel.truncate(len);
        }
        self.rules.pop();
    }

    /// Whether `rel` is ignored: the nearest rule set that has an opinion decides.
    fn ignored(&self, rel: &str, is_dir: bool) -> bool {
        let abs = self.root.join(rel);
        for r in self.rules.iter().rev() {
            let m = r.matched(&abs, is_dir);
            if m.is_ignore() {
                return true;
            }
            if m.is_whitelist() {
                return false;
            }
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(root: &Path, rel: &str, body: &str) {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, body).unwrap();
    }

    #[test]
    fn lists_what_git_would_track_with_gitignore_precedence() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write(root, ".git/info/exclude", "*.tmp\n");
        write(root, ".gitignore", "*.log\nbuild/\n!keep.log\n");
        write(root, "src/.gitignore", "!debug.log\ngen.rs\n");
        for f in [
            "a.rs",
            "a.log",
            "keep.log",
            "x.tmp",
            "src/lib.rs",
            "src/gen.rs",
            "src/debug.log",
            "src/other.log",
            "build/out.rs",
            "src/build/also.rs",
            "tracked.rs",
            ".rustassistant/cache/x.jsonl",
            "sub/.git",
            "sub/inner.rs",
        ] {
            write(root, f, "x");
        }
        std::os::unix::fs::symlink("a.rs", root.join("link.rs")).unwrap();
        let mut got = untracked(root, &root.join(".git/info/exclude"), &|p| {
            p == "tracked.rs"
        });
        got.files.sort();
        assert_eq!(
            got.files,
            [
                ".gitignore",
                "a.rs",
                "keep.log",
                "src/.gitignore",
                "src/debug.log",
                "src/lib.rs"
            ]
        );
        assert_eq!(got.nested, ["sub"]);
    }
}
