//! Replacing HEAD by a commit with the index's tree and everything else of HEAD's: what
//! `git commit --amend --no-edit` does, in plumbing, which also works where git refuses an
//! amend (in a `post-merge` hook git still counts as inside the merge).

use super::{GitError, Repo};

impl Repo {
    /// Replace HEAD with a commit of git's index (its tree), HEAD's parents, author and message;
    /// the committer is whoever runs this, as for an amend. The branch moves with a reflog entry
    /// that says why. Runs no hook. Returns the new commit's id.
    pub fn amend_head(&self, why: &str) -> Result<String, GitError> {
        let tree = self.git_text(&["write-tree"], &[])?;
        let old = self.git_text(&["rev-parse", "--verify", "HEAD"], &[])?;
        let raw = self.git_with_input(&["cat-file", "commit", &old], &[], &[])?;
        let raw = String::from_utf8_lossy(&raw);
        let (headers, message) = raw.split_once("\n\n").unwrap_or((&raw, ""));
        let mut args: Vec<String> = vec!["commit-tree".into(), tree];
        let mut author: Option<(String, String, String)> = None;
        for h in headers.lines() {
            if let Some(p) = h.strip_prefix("parent ") {
                args.push("-p".into());
                args.push(p.to_string());
            } else if let Some(a) = h.strip_prefix("author ") {
                // `Name <email> 1700000000 +0000`
                let (who, date) = a.rsplit_once('>').unwrap_or((a, ""));
                let (name, email) = who.split_once('<').unwrap_or((who, ""));
                author = Some((
                    name.trim().to_string(),
                    email.trim().to_string(),
                    date.trim().to_string(),
                ));
            }
        }
        let (name, email, date) = author.ok_or(GitError::Unexpected("cat-file"))?;
        let env = [
            ("GIT_AUTHOR_NAME", name.as_ref()),
            ("GIT_AUTHOR_EMAIL", email.as_ref()),
            ("GIT_AUTHOR_DATE", date.as_ref()),
        ];
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        let new = self.git_text_with_input(&a, &env, message.as_bytes())?;
        self.git_text(&["update-ref", "-m", why, "HEAD", &new, &old], &[])?;
        Ok(new)
    }
}
