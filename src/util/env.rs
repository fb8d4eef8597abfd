//! [`Env`]: the process environment, captured once by `main` and handed down, so the library
//! never reads it deep inside and tests run many sealed environments in one process.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// A snapshot of the environment variables the tool looks at.
#[derive(Debug, Clone, Default)]
pub struct Env {
    vars: HashMap<String, String>,
}

impl Env {
    /// Capture the process environment.
    pub fn from_process() -> Env {
        Env {
            vars: std::env::vars().collect(),
        }
    }

    /// An environment with exactly these variables (tests).
    pub fn from_pairs<I: IntoIterator<Item = (String, String)>>(pairs: I) -> Env {
        Env {
            vars: pairs.into_iter().collect(),
        }
    }

    /// The value of `name`, if set and not empty.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// The per-user folder: `$RUSTASSISTANT_HOME`, else `~/.rustassistant`.
    pub fn user_home(&self) -> Option<PathBuf> {
        if let Some(h) = self.get("RUSTASSISTANT_HOME") {
            return Some(PathBuf::from(h));
        }
        self.get("HOME")
            .map(|h| Path::new(h).join(".rustassistant"))
    }
}
