//! Errors a user can act on, and the one place that maps any error to an exit code.
//!
//! Exit codes (DESIGN.md): 0 success, 1 failure, 2 usage error, 3 refused by the budget.

use std::path::PathBuf;

/// A mistake the user can fix, or a refusal they must know about. Its message says what to do
/// next; the CLI prints it as one line.
#[derive(Debug, thiserror::Error)]
pub enum UserError {
    /// Not inside a git repository.
    #[error("not a git repository: {0} (run this inside a git work tree, or pass -C PATH)")]
    NotARepo(PathBuf),
    /// A bare repository has no work tree to analyse.
    #[error("{0} is a bare repository: rustassistant needs a work tree")]
    Bare(PathBuf),
    /// A malformed configuration file.
    #[error("{}{}: {reason} (fix or remove the file)", path.display(), line.map(|l| format!(":{l}")).unwrap_or_default())]
    Config {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
        /// 1-based line, when known.
        line: Option<usize>,
    },
    /// Bad arguments or values.
    #[error("{0}")]
    Usage(String),
    /// Something named on the command line does not exist or cannot be used.
    #[error("{0}")]
    Input(String),
    /// Refused by the monthly budget.
    #[error("{0}")]
    Budget(String),
}

impl UserError {
    /// The process exit code for this error.
    pub fn exit_code(&self) -> i32 {
        match self {
            UserError::Usage(_) | UserError::Config { .. } => 2,
            UserError::Budget(_) => 3,
            _ => 1,
        }
    }
}

/// Exit code of a failed command: a [`UserError`] anywhere in the chain decides, anything else
/// is an internal failure (1).
pub fn exit_code_of(err: &anyhow::Error) -> i32 {
    for cause in err.chain() {
        if let Some(u) = cause.downcast_ref::<UserError>() {
            return u.exit_code();
        }
    }
    1
}

/// Render `err` for stderr: a user error as its single line, an internal one with its whole
/// cause chain so it can be reported.
pub fn render(err: &anyhow::Error) -> String {
    if let Some(u) = err.chain().find_map(|c| c.downcast_ref::<UserError>()) {
        if err.chain().count() == 1 || err.downcast_ref::<UserError>().is_some() {
            return format!("error: {u}");
        }
    }
    let mut s = format!("error: {err}");
    for cause in err.chain().skip(1) {
        s.push_str(&format!("\n  caused by: {cause}"));
    }
    s
}
