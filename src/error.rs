//! Errors a user can act on, and the one place that maps any error to an exit code.
//!
//! Exit codes (DESIGN.md): 0 success, 1 failure, 2 usage error, 3 refused by the budget, 130
//! interrupted; [`exit_code`] is the one table.

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
}

impl UserError {
    /// The process exit code for this error.
    pub fn exit_code(&self) -> i32 {
        match self {
            UserError::Usage(_) | UserError::Config { .. } => 2,
            _ => 1,
        }
    }
}

/// How a command that ran to its end finished. Commands return this; [`exit_code`] alone turns
/// it (or an error) into the process's exit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Everything asked for was done.
    Success,
    /// Something failed (an analysis, a check, a strict hook).
    Failure,
    /// Work was refused by the monthly budget.
    Budget,
    /// Ctrl-C: stopped taking new work, kept everything written.
    Interrupted,
}

/// The one table of exit codes (DESIGN.md): 0 success, 1 failure, 2 usage error, 3 refused by
/// the budget, 130 interrupted. A command whose reader closed stdout (`… | head`) ends with 0,
/// as ripgrep does. An error's code is decided by the first [`UserError`] in its chain; any
/// other error is an internal failure (1).
pub fn exit_code(outcome: &anyhow::Result<Exit>, stdout_closed: bool) -> i32 {
    match outcome {
        Ok(_) if stdout_closed => 0,
        Ok(Exit::Success) => 0,
        Ok(Exit::Failure) => 1,
        Ok(Exit::Budget) => 3,
        Ok(Exit::Interrupted) => 130,
        Err(e) => e
            .chain()
            .find_map(|c| c.downcast_ref::<UserError>())
            .map_or(1, UserError::exit_code),
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_outcome_has_its_documented_code() {
        let code = |o: anyhow::Result<Exit>| exit_code(&o, false);
        assert_eq!(code(Ok(Exit::Success)), 0);
        assert_eq!(code(Ok(Exit::Failure)), 1);
        assert_eq!(code(Ok(Exit::Budget)), 3);
        assert_eq!(code(Ok(Exit::Interrupted)), 130);
        assert_eq!(code(Err(UserError::Usage("x".into()).into())), 2);
        assert_eq!(
            code(Err(UserError::Config {
                path: "c.toml".into(),
                reason: "bad".into(),
                line: Some(1)
            }
            .into())),
            2
        );
        assert_eq!(code(Err(UserError::Input("missing".into()).into())), 1);
        assert_eq!(code(Err(anyhow::anyhow!("internal"))), 1);
        // A user error wrapped in context still decides.
        let wrapped = anyhow::Error::from(UserError::Usage("x".into())).context("while doing y");
        assert_eq!(code(Err(wrapped)), 2);
        // A closed stdout is a quiet success, whatever the run's own outcome.
        assert_eq!(exit_code(&Ok(Exit::Failure), true), 0);
    }
}
