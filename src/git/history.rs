//! What git's history and working state say: files changed against HEAD, the files a push
//! carries, what a commit's tree holds, and running the git binary with a hook's environment.
//! Every lock on the libgit2 handle is taken and released inside one method here.

use std::collections::HashSet;
use std::path::Path;

use git2::ObjectType;

use super::Repo;

impl Repo {
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

    /// Which of `paths` the tree of commit `sha` holds.
    pub fn commit_has_paths(&self, sha: &str, paths: &[String]) -> Result<Vec<bool>, git2::Error> {
        let id = self.oid(sha)?;
        let git = self.git();
        let tree = git.find_commit(id)?.tree()?;
        Ok(paths
            .iter()
            .map(|p| tree.get_path(Path::new(p)).is_ok())
            .collect())
    }

    /// Run the git binary in the work tree with the environment this process received (a
    /// hook's `GIT_INDEX_FILE` included), plus `extra`. Fails with git's own message.
    pub fn run_git(&self, args: &[&str], extra: &[(&str, &Path)]) -> Result<(), String> {
        let mut c = std::process::Command::new("git");
        c.current_dir(self.workdir()).args(args);
        for (k, v) in extra {
            c.env(k, v);
        }
        let out = c.output().map_err(|e| format!("running git: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "git {}: {}",
                args.first().unwrap_or(&""),
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(())
    }
}
