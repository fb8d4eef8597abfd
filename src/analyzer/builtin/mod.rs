//! The built-in, offline analyzers (`todos`, `metrics`). They cost nothing, need no key and no
//! network, and record `provider = "builtin"`, their name and version as `model`, zero tokens
//! and zero cost.

pub mod lex;
pub mod metrics;
pub mod todos;

use super::{AnalyzeError, Analyzer, Identity, Outcome};
use crate::cache::Tokens;

/// A built-in analyzer.
pub struct Builtin {
    cache_type: &'static str,
    identity: Identity,
}

impl Builtin {
    /// The analyzer for `cache_type`, if it is a built-in type.
    pub fn new(cache_type: &str) -> Option<Builtin> {
        let (ty, version, options): (&'static str, u32, String) = match cache_type {
            "todos" => (
                "todos",
                todos::VERSION,
                format!("tags={}", todos::TAGS.join(",")),
            ),
            "metrics" => (
                "metrics",
                metrics::VERSION,
                "panic-sites,nesting,functions".to_string(),
            ),
            _ => return None,
        };
        // The analyzer's version and options play the part of the prompt in the key: changing
        // either moves every entry to a new path.
        let prompt_hash =
            crate::util::sha256_hex(format!("builtin\0{ty}\0v{version}\0{options}").as_bytes());
        Some(Builtin {
            cache_type: ty,
            identity: Identity {
                provider: "builtin".into(),
                model: format!("{ty}-v{version}"),
                prompt_hash,
            },
        })
    }
}

impl Analyzer for Builtin {
    fn cache_type(&self) -> &str {
        self.cache_type
    }

    fn identity(&self) -> &Identity {
        &self.identity
    }

    fn analyze(
        &self,
        path: &str,
        content: &str,
        _deadline: Option<std::time::Instant>,
    ) -> Result<Outcome, AnalyzeError> {
        let result = match self.cache_type {
            "todos" => todos::analyze(path, content),
            _ => metrics::analyze(path, content),
        };
        Ok(Outcome {
            result,
            tokens: Tokens::default(),
            cost_usd: Some(0.0),
            response_model: None,
            invalid: None,
        })
    }
}
