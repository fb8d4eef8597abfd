//! What git's history and working state say: files changed against HEAD, the files a push
//! carries, what a commit's tree holds, and running the git binary with a hook's environment.
//! Every lock on the libgit2 handle is taken and released inside one method here.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use git2::ObjectType;

use super::{pack, GitError, Repo};

impl Repo {
    /// Every blob id in HEAD's tree (recursively), or `None` when there is no commit yet.
    ///
    /// The walk goes by object ids, never by path names, so a folder whose name is not UTF-8
    /// (Latin-1, say) is walked like any other; any object that cannot be read is an error —
    /// callers delete entries on this evidence, and an incomplete walk must never look like
    /// "not present".
    pub fn head_blob_ids(&self) -> Result<Option<HashSet<String>>, git2::Error> {
        Ok(self.head_blobs()?.map(|b| b.into_keys().collect()))
    }

    /// Every blob of the tree at HEAD with the file name (last path component) of one place
    /// it is at; `None` before the first commit. As complete as [`Repo::head_blob_ids`].
    pub fn head_blobs(&self) -> Result<Option<HashMap<String, Vec<u8>>>, git2::Error> {
        let git = self.git();
        let head = match git.head() {
            Ok(h) => h,
            Err(e) if e.code() == git2::ErrorCode::UnbornBranch => return Ok(None),
            Err(e) if e.code() == git2::ErrorCode::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        let root = head.peel_to_tree()?.id();
        let mut blobs = HashMap::new();
        let mut seen_trees = HashSet::new();
        let mut stack = vec![root];
        while let Some(id) = stack.pop() {
            if !seen_trees.insert(id) {
                continue;
            }
            let tree = git.find_tree(id)?;
            for e in tree.iter() {
                match e.kind() {
                    Some(ObjectType::Blob) => {
                        blobs
                            .entry(e.id().to_string())
                            .or_insert_with(|| e.name_bytes().to_vec());
                    }
                    Some(ObjectType::Tree) => stack.push(e.id()),
                    // A gitlink (submodule commit) holds no blob of this repository.
                    Some(ObjectType::Commit) => {}
                    _ => {
                        return Err(git2::Error::from_str(&format!(
                            "unexpected object {} in tree {id}",
                            e.id()
                        )))
                    }
                }
            }
        }
        Ok(Some(blobs))
    }

    /// Merge `base`, `ours` and `theirs` as text the way git would, writing the result (with
    /// conflict markers where the sides conflict) into `ours`. Returns whether it was clean.
    pub fn merge_file_as_text(ours: &Path, base: &Path, theirs: &Path) -> std::io::Result<bool> {
        let status = std::process::Command::new("git")
            .args([
                "merge-file",
                "-L",
                "ours",
                "-L",
                "base",
                "-L",
                "theirs",
                "--",
            ])
            .arg(ours)
            .arg(base)
            .arg(theirs)
            .status()?;
        match status.code() {
            Some(0) => Ok(true),
            Some(n) if n > 0 => Ok(false),
            _ => Err(std::io::Error::other("git merge-file failed")),
        }
    }

    /// Paths changed against HEAD (staged or not), untracked ones included, deletions and
    /// ignored files left out.
    pub fn changed_paths(&self) -> Result<Vec<String>, git2::Error> {
        let mut so = git2::StatusOptions::new();
        so.include_untracked(true)
            .recurse_untracked_dirs(true)
            .include_ignored(false);
        let git = self.git();
        let mut out = Vec::new();
        for s in git.statuses(Some(&mut so))?.iter() {
            let st = s.status();
            if st.is_wt_deleted() || st.is_index_deleted() || st.is_ignored() {
                continue;
            }
            if let Ok(p) = s.path() {
                out.push(p.to_string());
            }
        }
        Ok(out)
    }

    /// Paths whose working-tree content differs from revision `rev` (what a pull request
    /// based on `rev` touches, uncommitted edits and untracked files included), deletions and
    /// ignored files left out. An unknown revision is an error naming it.
    pub fn changed_since(&self, rev: &str) -> Result<Vec<String>, git2::Error> {
        let git = self.git();
        let tree = git.revparse_single(rev)?.peel_to_tree()?;
        let mut opts = git2::DiffOptions::new();
        opts.include_untracked(true)
            .recurse_untracked_dirs(true)
            .include_ignored(false);
        let diff = git.diff_tree_to_workdir_with_index(Some(&tree), Some(&mut opts))?;
        let mut out: Vec<String> = diff
            .deltas()
            .filter(|d| d.status() != git2::Delta::Deleted)
            .filter_map(|d| {
                d.new_file()
                    .path()
                    .and_then(|p| p.to_str())
                    .map(str::to_string)
            })
            .collect();
        out.sort();
        out.dedup();
        Ok(out)
    }

    /// The files a push of `local_sha` carries (changed in commits the remote does not have:
    /// those after `remote_sha`, or, for a new branch, those no remote-tracking branch has),
    /// that `keep` accepts, as `(path, blob id at local_sha)`; files deleted by then are left
    /// out.
    pub fn pushed_files(
        &self,
        local_sha: &str,
        remote_sha: &str,
        keep: impl Fn(&str) -> bool,
    ) -> Result<Vec<(String, String)>, git2::Error> {
        let tip_id = self.oid(local_sha)?;
        let remote = self.oid(remote_sha).ok();
        let git = self.git();
        let tip = git.find_commit(tip_id)?;
        let tip_tree = tip.tree()?;
        let mut walk = git.revwalk()?;
        walk.push(tip.id())?;
        if remote_sha.bytes().all(|b| b == b'0') {
            for r in git.references_glob("refs/remotes/*")?.flatten() {
                if let Some(o) = r.target() {
                    let _ = walk.hide(o);
                }
            }
        } else if let Some(o) = remote {
            let _ = walk.hide(o);
        }
        let mut changed: HashSet<String> = HashSet::new();
        for oid in walk.flatten() {
            let c = git.find_commit(oid)?;
            let parent_tree = c.parents().next().and_then(|p| p.tree().ok());
            let diff = git.diff_tree_to_tree(parent_tree.as_ref(), Some(&c.tree()?), None)?;
            for d in diff.deltas() {
                if let Some(p) = d.new_file().path().and_then(|p| p.to_str()) {
                    if keep(p) {
                        changed.insert(p.to_string());
                    }
                }
            }
        }
        let mut out = Vec::new();
        for path in changed {
            let Ok(entry) = tip_tree.get_path(Path::new(&path)) else {
                continue;
            };
            if entry.kind() == Some(ObjectType::Blob) {
                out.push((path, entry.id().to_string()));
            }
        }
        out.sort();
        Ok(out)
    }

    /// The blob id of `path` (repository-relative) in revision `rev` (`HEAD`, a branch, a
    /// commit id, `HEAD~2`…): `Ok(None)` when that revision has no file there.
    pub fn blob_at(&self, rev: &str, path: &str) -> Result<Option<String>, git2::Error> {
        let git = self.git();
        let tree = git.revparse_single(rev)?.peel_to_tree()?;
        Ok(match tree.get_path(Path::new(path)) {
            Ok(e) if e.kind() == Some(ObjectType::Blob) => Some(e.id().to_string()),
            _ => None,
        })
    }

    /// The content of the file at `path` in commit `sha`, `None` when the commit has no such
    /// file; a file over `limit` bytes is an error, never read.
    pub fn file_at(
        &self,
        sha: &str,
        path: &str,
        limit: u64,
    ) -> Result<Option<Vec<u8>>, git2::Error> {
        let id = self.oid(sha)?;
        let git = self.git();
        let tree = git.find_commit(id)?.tree()?;
        let Ok(entry) = tree.get_path(Path::new(path)) else {
            return Ok(None);
        };
        let blob = git.find_blob(entry.id())?;
        if blob.size() as u64 > limit {
            return Err(git2::Error::from_str(&format!(
                "{path} in {sha} is {} bytes, over the bound readers accept",
                blob.size()
            )));
        }
        Ok(Some(blob.content().to_vec()))
    }

    /// The blob ids a commit of `index_file` (git's index when `None`) adds and drops against
    /// HEAD: (new blobs, old blobs). Before the first commit every blob is new. Submodules are
    /// left out.
    ///
    /// Asked of `git diff-index --cached`, which skips every folder git's cache tree records
    /// as unchanged: at 10,000 files it takes 3 ms, process included, where libgit2's diff of
    /// the index against HEAD's tree read the whole index and every tree (14 ms).
    pub fn staged_changes(
        &self,
        index_file: Option<&str>,
    ) -> Result<(HashSet<String>, HashSet<String>), GitError> {
        let head = {
            let git = self.git();
            let head = match git.head() {
                Ok(h) => h.peel_to_tree().map(|t| t.id())?,
                Err(e)
                    if matches!(
                        e.code(),
                        git2::ErrorCode::UnbornBranch | git2::ErrorCode::NotFound
                    ) =>
                {
                    // git knows the empty tree without it being stored.
                    git2::Oid::hash_object_ext(ObjectType::Tree, b"", self.format)?
                }
                Err(e) => return Err(e.into()),
            };
            head
        };
        let env: Vec<(&str, &std::ffi::OsStr)> = index_file
            .map(|f| ("GIT_INDEX_FILE", std::ffi::OsStr::new(f)))
            .into_iter()
            .collect();
        let tree = head.to_string();
        let out = self.git_with_input(
            &[
                "diff-index",
                "--cached",
                "--raw",
                "-z",
                "--no-renames",
                &tree,
                "--",
            ],
            &env,
            &[],
        )?;
        parse_raw_diff(&out)
    }

    /// Run `git ARGS` on the index a commit is being made from: the one `GIT_INDEX_FILE` names
    /// (inherited), and, for `git commit PATH` (a temporary index beside the real one being
    /// rewritten in `index.lock`), that one too, so what is staged is not left looking deleted
    /// after the commit.
    pub fn run_git_for_commit(
        &self,
        args: &[&str],
        index_file: Option<&str>,
    ) -> Result<(), GitError> {
        self.run_git(args, &[])?;
        let git_dir = self.git_dir();
        let lock = git_dir.join("index.lock");
        let using = index_file.map(|f| {
            let p = Path::new(f);
            if p.is_absolute() {
                p.to_path_buf()
            } else {
                self.workdir().join(p)
            }
        });
        if let Some(u) = using {
            if lock.exists() && u != lock && u != git_dir.join("index") {
                self.run_git(args, &[("GIT_INDEX_FILE", &lock)])?;
            }
        }
        Ok(())
    }

    /// Write `blobs` into the object database as one pack instead of a loose object each, and
    /// return their ids in order. For a commit that stages a hundred shards this is the
    /// difference between creating two files and a hundred: `git add` then finds every object
    /// present and writes none.
    ///
    /// Done in process, pack and index (see [`super::pack`]), into the object directory git
    /// was told to use. Objects already present are skipped.
    pub fn write_blobs_packed(&self, blobs: &[&[u8]]) -> Result<Vec<String>, GitError> {
        let what = |source: std::io::Error| GitError::Io {
            what: format!("writing a pack of {} blobs", blobs.len()),
            source,
        };
        let raw: Vec<Vec<u8>> = blobs
            .iter()
            .map(|b| pack::blob_id(b, self.format))
            .collect();
        let ids: Vec<git2::Oid> = raw
            .iter()
            .map(|r| git2::Oid::from_bytes(r))
            .collect::<Result<_, _>>()?;
        let git = self.git();
        let odb = git.odb()?;
        let mut seen = HashSet::new();
        // Without NO_REFRESH, every object not found makes libgit2 re-list the pack folder
        // (6 ms for a commit's 160 shards); a pack another process wrote meanwhile is missed,
        // and its objects are then written once more, which git tolerates.
        let missing: Vec<usize> = (0..blobs.len())
            .filter(|&i| {
                seen.insert(ids[i]) && !odb.exists_ext(ids[i], git2::OdbLookupFlags::NO_REFRESH)
            })
            .collect();
        if !missing.is_empty() {
            let bytes: Vec<&[u8]> = missing.iter().map(|&i| blobs[i]).collect();
            let their_ids = missing.iter().map(|&i| raw[i].clone()).collect();
            let pack = pack::Pack::of_blobs(&bytes, their_ids, self.format).map_err(what)?;
            pack.install(&self.objects_dir()).map_err(what)?;
            odb.refresh()?;
        }
        Ok(ids.iter().map(|o| o.to_string()).collect())
    }

    /// Run the git binary in the work tree with the environment this process received (a
    /// hook's `GIT_INDEX_FILE` included), plus `extra`. Fails with git's own message.
    pub fn run_git(&self, args: &[&str], extra: &[(&str, &Path)]) -> Result<(), GitError> {
        let env: Vec<(&str, &std::ffi::OsStr)> =
            extra.iter().map(|(k, v)| (*k, v.as_os_str())).collect();
        self.git_with_input(args, &env, &[]).map(drop)
    }

    /// Whether git's index holds exactly HEAD's content outside `prefix` (a folder of the work
    /// tree): nothing of the user's is staged there.
    pub fn index_matches_head_outside(&self, prefix: &str) -> bool {
        let exclude = format!(":(exclude){prefix}");
        let args = [
            "diff-index",
            "--cached",
            "--quiet",
            "HEAD",
            "--",
            ".",
            &exclude,
        ];
        self.run_git(&args, &[]).is_ok()
    }

    /// Whether HEAD is a merge commit this repository's last HEAD move created (`git merge` or
    /// `git pull` making a merge commit, not a fast-forward to someone else's merge).
    pub fn head_is_new_merge(&self) -> bool {
        self.run_git(&["rev-parse", "-q", "--verify", "HEAD^2"], &[])
            .is_ok()
            && self
                .git_text(&["reflog", "-1", "--format=%gs", "HEAD"], &[])
                .is_ok_and(|s| s.contains("Merge made by"))
    }
}

/// The (new, old) blob ids of `git diff --raw -z` output without renames: records of
/// `:MODE MODE ID ID STATUS` then the path, each ended by NUL. An id of zeros (no blob on that
/// side) and submodules (mode 160000) are left out.
fn parse_raw_diff(out: &[u8]) -> Result<(HashSet<String>, HashSet<String>), GitError> {
    let bad = || GitError::Unexpected("diff-index");
    let (mut new, mut old) = (HashSet::new(), HashSet::new());
    let mut fields = out.split(|&b| b == 0);
    while let Some(meta) = fields.next() {
        if meta.is_empty() {
            break;
        }
        let meta =
            std::str::from_utf8(meta.strip_prefix(b":").ok_or_else(bad)?).map_err(|_| bad())?;
        let parts: Vec<&str> = meta.split(' ').collect();
        let [old_mode, new_mode, old_id, new_id, _status] = parts[..] else {
            return Err(bad());
        };
        fields.next().ok_or_else(bad)?; // the path
        for (mode, id, set) in [(old_mode, old_id, &mut old), (new_mode, new_id, &mut new)] {
            if mode != "160000" && !id.bytes().all(|b| b == b'0') {
                set.insert(id.to_string());
            }
        }
    }
    Ok((new, old))
}

#[cfg(test)]
mod tests {
    use super::*;
    use git2::Repository;

    #[test]
    fn head_blob_ids_walk_every_tree_whatever_its_names() {
        let dir = tempfile::tempdir().unwrap();
        let git = Repository::init(dir.path()).unwrap();
        let blob = |text: &str| git.blob(text.as_bytes()).unwrap();
        let (a, x, z) = (blob("a"), blob("x"), blob("z"));
        // A folder whose name is Latin-1, sorted between two files.
        let mut inner = git.treebuilder(None).unwrap();
        inner.insert("x.txt", x, 0o100644).unwrap();
        let inner = inner.write().unwrap();
        let mut root = git.treebuilder(None).unwrap();
        root.insert("a.rs", a, 0o100644).unwrap();
        root.insert(b"caf\xe9".as_slice(), inner, 0o040000).unwrap();
        root.insert("z.rs", z, 0o100644).unwrap();
        let tree = git.find_tree(root.write().unwrap()).unwrap();
        let sig = git2::Signature::now("t", "t@example.com").unwrap();
        git.commit(Some("HEAD"), &sig, &sig, "t", &tree, &[])
            .unwrap();
        let repo = Repo::discover(dir.path()).unwrap();
        let ids = repo.head_blob_ids().unwrap().unwrap();
        for b in [a, x, z] {
            assert!(ids.contains(&b.to_string()), "{b} missing");
        }
        assert_eq!(ids.len(), 3);
    }

    #[test]
    fn no_commit_yet_is_none_not_empty() {
        let dir = tempfile::tempdir().unwrap();
        Repository::init(dir.path()).unwrap();
        assert!(Repo::discover(dir.path())
            .unwrap()
            .head_blob_ids()
            .unwrap()
            .is_none());
    }

    #[test]
    fn staged_changes_are_the_blobs_the_commit_adds_and_drops() {
        let dir = tempfile::tempdir().unwrap();
        let git = |args: &[&str], index: Option<&str>| {
            let env: Vec<(&str, &str)> = index.map(|i| ("GIT_INDEX_FILE", i)).into_iter().collect();
            let out = crate::git::testing::git(dir.path(), args, &env);
            assert!(
                out.status.success(),
                "{args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            String::from_utf8_lossy(&out.stdout).trim().to_string()
        };
        git(&["init", "-q"], None);
        let write = |name: &str, text: &str| std::fs::write(dir.path().join(name), text).unwrap();
        write("kept", "kept\n");
        write("edited", "before\n");
        write("gone", "gone\n");
        git(&["add", "-A"], None);
        let repo = Repo::discover(dir.path()).unwrap();
        // Before the first commit, every staged blob is new.
        let ids = |names: &[&str]| -> HashSet<String> {
            names
                .iter()
                .map(|n| git(&["hash-object", n], None))
                .collect()
        };
        let (new, old) = repo.staged_changes(None).unwrap();
        assert_eq!(new, ids(&["kept", "edited", "gone"]));
        assert!(old.is_empty());
        git(&["commit", "-q", "-m", "one"], None);
        let before = ids(&["edited", "gone"]);
        write("edited", "after\n");
        write("new file\twith a tab", "new\n");
        std::fs::remove_file(dir.path().join("gone")).unwrap();
        git(&["add", "-A"], None);
        // A submodule's commit is not a blob.
        let sub = format!("160000,{},sub", "1".repeat(40));
        git(&["update-index", "--add", "--cacheinfo", &sub], None);
        let (new, old) = repo.staged_changes(None).unwrap();
        assert_eq!(new, ids(&["edited", "new file\twith a tab"]));
        assert_eq!(old, before);
        // Another index (GIT_INDEX_FILE, as `git commit PATH` sets it): read, not git's own.
        let other = dir.path().join("other-index");
        let other = other.to_str().unwrap();
        git(&["read-tree", "HEAD"], Some(other));
        let (new, old) = repo.staged_changes(Some(other)).unwrap();
        assert!(new.is_empty() && old.is_empty(), "{new:?} {old:?}");
    }

    #[test]
    fn blobs_written_as_one_pack_are_what_git_reads() {
        for sha256 in [false, true] {
            let dir = tempfile::tempdir().unwrap();
            let mut args = vec!["init", "-q"];
            if sha256 {
                args.push("--object-format=sha256");
            }
            let git = |args: &[&str]| crate::git::testing::git(dir.path(), args, &[]);
            assert!(git(&args).status.success());
            let repo = Repo::discover(dir.path()).unwrap();
            let big = "x".repeat(70_000);
            // Bytes that do not compress: the stream is longer than its input.
            let noise = crate::git::testing::noise(100_000, 1);
            let blobs: Vec<&[u8]> = vec![b"", b"one line\n", big.as_bytes(), b"one line\n", &noise];
            let ids = repo.write_blobs_packed(&blobs).unwrap();
            // The same bytes twice: one object, named twice.
            assert_eq!(ids[1], ids[3]);
            for (id, b) in ids.iter().zip(&blobs) {
                assert_eq!(id, &repo.hash_blob(b));
                let out = git(&["cat-file", "blob", id]);
                assert!(out.status.success(), "{id} unreadable (sha256: {sha256})");
                assert_eq!(&out.stdout, b);
            }
            let fsck = git(&["fsck", "--full", "--strict"]);
            assert!(
                fsck.status.success(),
                "{}",
                String::from_utf8_lossy(&fsck.stderr)
            );
            let count = git(&["count-objects", "-v"]);
            let text = String::from_utf8_lossy(&count.stdout);
            assert!(text.contains("count: 0\n"), "{text}");
            assert!(text.contains("in-pack: 4\n"), "{text}");
            // Present already: nothing is written again.
            repo.write_blobs_packed(&blobs[1..2]).unwrap();
            let packs = std::fs::read_dir(dir.path().join(".git/objects/pack"))
                .unwrap()
                .filter(|e| {
                    e.as_ref()
                        .unwrap()
                        .path()
                        .extension()
                        .is_some_and(|x| x == "pack")
                })
                .count();
            assert_eq!(packs, 1);
        }
    }
}
