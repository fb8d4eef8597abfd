//! Who added which cache lines: the history of the committed shards, read with `git log -p`
//! (streamed, merges left out: a union merge re-adds lines its parents already counted).

use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};

use super::{GitError, Repo};

/// A line added to the committed cache by one commit.
#[derive(Debug, Clone)]
pub struct AddedLine {
    /// The commit's author name.
    pub author: String,
    /// The author's email.
    pub email: String,
    /// Author time, unix seconds.
    pub time: i64,
    /// The line as added.
    pub line: String,
}

/// Longest line kept from the log (an entry line longer than this is not a cost record).
const MAX_LINE: usize = 1 << 20;

impl Repo {
    /// Lines added under `path` (e.g. `.rustassistant/cache`) by non-merge commits reachable
    /// from HEAD, newest commit first; `keep` chooses which lines are worth holding. At most
    /// `max_commits` commits are read. A repository without commits has no history.
    pub fn added_lines(
        &self,
        path: &str,
        max_commits: usize,
        keep: impl Fn(&str) -> bool,
    ) -> Result<Vec<AddedLine>, GitError> {
        if self.git().head().is_err() {
            return Ok(Vec::new());
        }
        let mut child = Command::new("git")
            .current_dir(self.workdir())
            .args([
                "-c",
                "core.quotepath=false",
                "log",
                "--no-merges",
                "--no-renames",
                "--no-ext-diff",
                "--no-textconv",
                "--no-color",
                "--unified=0",
                "-p",
                &format!("--max-count={max_commits}"),
                "--format=%x00commit%x00%an%x00%ae%x00%at",
                "HEAD",
                "--",
                path,
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(GitError::Spawn)?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| GitError::Spawn(std::io::Error::other("no stdout")))?;
        let mut out = Vec::new();
        let (mut author, mut email, mut time) = (String::new(), String::new(), 0i64);
        let mut reader = BufReader::new(stdout);
        let mut buf = Vec::new();
        loop {
            buf.clear();
            match reader.read_until(b'\n', &mut buf) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) => return Err(GitError::Spawn(e)),
            }
            if buf.len() > MAX_LINE {
                continue;
            }
            let line = String::from_utf8_lossy(&buf);
            let line = line.trim_end_matches('\n');
            if let Some(rest) = line.strip_prefix("\0commit\0") {
                let mut parts = rest.split('\0');
                author = parts.next().unwrap_or("").to_string();
                email = parts.next().unwrap_or("").to_string();
                time = parts.next().and_then(|t| t.parse().ok()).unwrap_or(0);
            } else if let Some(added) = line.strip_prefix('+') {
                if !added.starts_with("++") && keep(added) {
                    out.push(AddedLine {
                        author: author.clone(),
                        email: email.clone(),
                        time,
                        line: added.to_string(),
                    });
                }
            }
        }
        let status = child.wait().map_err(GitError::Spawn)?;
        if !status.success() {
            let mut err = Vec::new();
            if let Some(mut e) = child.stderr.take() {
                let _ = std::io::Read::read_to_end(&mut e, &mut err);
            }
            return Err(GitError::failed(&["log"], &err));
        }
        Ok(out)
    }
}
