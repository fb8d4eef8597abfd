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
//! recognised by name, and only untracked files and folders meet the ignore rules. The reads
//! ([`walk`]) need no index, so they can overlap reading it.

use std::path::Path;

use ignore::gitignore::{Gitignore, GitignoreBuilder};

use crate::util::stat::{read_folder, Kind};

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
    walk(root, info_exclude).untracked(tracked)
}

/// The first half of [`untracked`]: every folder read (those ignored left out), before the
/// index is known. A caller starts it on a thread of its own while it reads git's index, then
/// asks [`Walked::untracked`] with what the index tracks.
pub fn walk(root: &Path, info_exclude: &Path) -> Walked {
    let mut base = GitignoreBuilder::new(root);
    if info_exclude.is_file() {
        // A malformed line is skipped by the builder; the rest of the file still applies.
        let _ = base.add(info_exclude);
    }
    let mut w = Walked {
        root: root.to_path_buf(),
        rules: vec![Rules {
            set: base.build().unwrap_or_else(|_| Gitignore::empty()),
            outer: None,
        }],
        folders: Vec::new(),
        nested: Vec::new(),
    };
    w.folder(&mut String::new(), 0, 0);
    w
}

/// The folders a [`walk`] read, in walk order, each with its files and the ignore rules in
/// force there.
pub struct Walked {
    root: std::path::PathBuf,
    /// `info/exclude` first, then each `.gitignore` met, each pointing to the set around it.
    rules: Vec<Rules>,
    folders: Vec<Folder>,
    nested: Vec<String>,
}

/// One `.gitignore` (or `info/exclude`), and the rules around it.
struct Rules {
    set: Gitignore,
    outer: Option<usize>,
}

/// A folder's regular files (repository-relative) and its innermost rules.
struct Folder {
    /// The files' paths one after the other (one allocation per folder, not per file: most
    /// are tracked and only ever compared), each ending at its offset in `ends`.
    paths: String,
    ends: Vec<usize>,
    rules: usize,
}

impl Folder {
    fn files(&self) -> impl Iterator<Item = &str> {
        let mut start = 0;
        self.ends.iter().map(move |&end| {
            let p = &self.paths[start..end];
            start = end;
            p
        })
    }
}

impl Walked {
    /// The untracked, not ignored files: `tracked` says whether git's index records a path.
    pub fn untracked(self, tracked: &(dyn Fn(&str) -> bool + Sync)) -> Untracked {
        let mut files = Vec::new();
        for f in &self.folders {
            for p in f.files() {
                if !tracked(p) && !self.ignored(p, false, f.rules) {
                    files.push(p.to_string());
                }
            }
        }
        Untracked {
            files,
            nested: self.nested,
        }
    }

    /// Read the folder `rel` (at `depth` below the root, `outer` the rules around it), then
    /// the folders in it that are not ignored.
    fn folder(&mut self, rel: &mut String, depth: usize, outer: usize) {
        let abs = self.root.join(&*rel);
        let mut paths = String::new();
        let mut ends: Vec<usize> = Vec::new();
        let mut dirs: Vec<String> = Vec::new();
        let mut has_gitignore = false;
        let mut nested = false;
        read_folder(&abs, |name, kind| {
            if name == ".git" {
                // In a folder below the root: a repository of its own, none of it ours.
                nested = depth > 0;
                return !nested;
            }
            match kind {
                Kind::Dir if !(depth == 0 && name == ".rustassistant") => {
                    dirs.push(name.to_string())
                }
                Kind::File => {
                    has_gitignore |= name == ".gitignore";
                    paths.push_str(rel);
                    paths.push_str(name);
                    ends.push(paths.len());
                }
                _ => {}
            }
            true
        });
        if nested {
            self.nested.push(rel.trim_end_matches('/').to_string());
            return;
        }
        let rules = if has_gitignore {
            let mut b = GitignoreBuilder::new(&abs);
            let _ = b.add(abs.join(".gitignore"));
            self.rules.push(Rules {
                set: b.build().unwrap_or_else(|_| Gitignore::empty()),
                outer: Some(outer),
            });
            self.rules.len() - 1
        } else {
            outer
        };
        self.folders.push(Folder { paths, ends, rules });
        dirs.sort_unstable();
        for d in dirs {
            let len = rel.len();
            rel.push_str(&d);
            if !self.ignored(rel, true, rules) {
                rel.push('/');
                self.folder(rel, depth + 1, rules);
            }
            rel.truncate(len);
        }
    }

    /// Whether `rel` is ignored: the nearest rule set that has an opinion decides.
    fn ignored(&self, rel: &str, is_dir: bool, innermost: usize) -> bool {
        let abs = self.root.join(rel);
        let mut at = Some(innermost);
        while let Some(i) = at {
            let m = self.rules[i].set.matched(&abs, is_dir);
            if m.is_ignore() {
                return true;
            }
            if m.is_whitelist() {
                return false;
            }
            at = self.rules[i].outer;
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
