//! What can go wrong talking to git, whether the binary or libgit2.

/// A failure of git: the binary could not be run, it ran and failed (with its own message),
/// libgit2 failed, or git printed what it never prints.
#[derive(Debug, thiserror::Error)]
pub enum GitError {
    /// The git binary could not be started or talked to.
    #[error("running git: {0}")]
    Spawn(#[source] std::io::Error),
    /// `git COMMAND` ran and failed; `message` is what it said on stderr.
    #[error("git {command}: {message}")]
    Failed {
        /// Its first argument (`write-tree`, `add`, …).
        command: String,
        /// Its stderr, trimmed.
        message: String,
    },
    /// libgit2 failed.
    #[error("{}", .0.message())]
    Lib(#[from] git2::Error),
    /// A file of the object database could not be written.
    #[error("{what}: {source}")]
    Io {
        /// What was being written.
        what: String,
        /// Why it failed.
        #[source]
        source: std::io::Error,
    },
    /// git printed something it never prints.
    #[error("git {0} printed what it never prints")]
    Unexpected(&'static str),
}

impl GitError {
    /// `git ARGS` failed with `stderr`.
    pub(crate) fn failed(args: &[&str], stderr: &[u8]) -> GitError {
        GitError::Failed {
            command: args.first().unwrap_or(&"").to_string(),
            message: String::from_utf8_lossy(stderr).trim().to_string(),
        }
    }
}
