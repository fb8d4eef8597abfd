//! Running the git binary in the work tree, with this process's environment (a hook's
//! `GIT_INDEX_FILE` included) plus variables of our choosing, and bytes on its stdin: the one
//! place the crate starts git.

use std::ffi::OsStr;

use super::{GitError, Repo};

impl Repo {
    /// What git printed, trimmed.
    pub(crate) fn git_text(
        &self,
        args: &[&str],
        env: &[(&str, &OsStr)],
    ) -> Result<String, GitError> {
        self.git_text_with_input(args, env, &[])
    }

    /// [`Repo::git_text`] with `input` on git's stdin.
    pub(crate) fn git_text_with_input(
        &self,
        args: &[&str],
        env: &[(&str, &OsStr)],
        input: &[u8],
    ) -> Result<String, GitError> {
        self.git_with_input(args, env, input)
            .map(|out| String::from_utf8_lossy(&out).trim().to_string())
    }

    /// Run git in the work tree with `env` added to this process's environment and `input` on
    /// its stdin; what it printed, or its own message when it fails.
    pub(crate) fn git_with_input(
        &self,
        args: &[&str],
        env: &[(&str, &OsStr)],
        input: &[u8],
    ) -> Result<Vec<u8>, GitError> {
        use std::io::Write as _;
        let mut c = std::process::Command::new("git");
        c.current_dir(self.workdir())
            .args(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        for (k, v) in env {
            c.env(k, v);
        }
        let mut child = c.spawn().map_err(GitError::Spawn)?;
        let mut stdin = child
            .stdin
            .take()
            .ok_or_else(|| GitError::Spawn(std::io::Error::other("no stdin")))?;
        let written = stdin.write_all(input);
        drop(stdin);
        let out = child.wait_with_output().map_err(GitError::Spawn)?;
        if !out.status.success() {
            return Err(GitError::failed(args, &out.stderr));
        }
        written.map_err(GitError::Spawn)?;
        Ok(out.stdout)
    }
}
