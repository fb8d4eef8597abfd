//! What produces an analysis: the [`Analyzer`] seam, the built-in offline analyzers, and (in
//! `http`) the LLM providers speaking each vendor's wire format.

pub mod anthropic;
pub mod builtin;
pub mod gemini;
pub mod http;
pub mod llm;
pub mod openai;
pub mod prompts;
pub mod secrets;

use std::sync::Arc;

use serde_json::Value;

use crate::cache::Tokens;

/// What identifies an analyzer in a key: `provider`, `model` and `prompt_hash`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// Provider name (`builtin`, `xai`, …).
    pub provider: String,
    /// Model requested.
    pub model: String,
    /// sha256 of the expanded prompt template and every option that changes the request.
    pub prompt_hash: String,
}

/// A finished analysis.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The result, shaped by the type's schema.
    pub result: Value,
    /// Token usage.
    pub tokens: Tokens,
    /// Cost in USD, `None` when the price is unknown.
    pub cost_usd: Option<f64>,
    /// The model name the server reported.
    pub response_model: Option<String>,
}

/// Why one file was not analysed. Never fatal to the run: it becomes that file's result line.
#[derive(Debug, Clone, thiserror::Error)]
pub enum AnalyzeError {
    /// The analysis failed (provider error, invalid reply, …).
    #[error("{0}")]
    Failed(String),
    /// Not sent: it would cross the monthly budget.
    #[error("{0}")]
    Budget(String),
    /// The provider could not be used (no key, unreachable, timed out, rate limited, failing):
    /// nothing the content or the repository could change.
    #[error("{0}")]
    Unavailable(String),
    /// Deliberately not analysed (no provider, secret file, …).
    #[error("{0}")]
    Skipped(String),
}

/// Something that turns a file's content into a result for one analysis type.
///
/// Contract: `analyze` is called only on UTF-8 text within the size bound; it returns an
/// [`Outcome`] only for a real result (never a placeholder), and it may be called from several
/// threads at once.
pub trait Analyzer: Send + Sync {
    /// The analysis type it answers.
    fn cache_type(&self) -> &str;
    /// Its identity in keys.
    fn identity(&self) -> &Identity;
    /// Analyse `content`, the text of the file at repository-relative `path`, giving up at
    /// `deadline` if one is set (requests in flight included).
    fn analyze(
        &self,
        path: &str,
        content: &str,
        deadline: Option<std::time::Instant>,
    ) -> Result<Outcome, AnalyzeError>;
    /// Whether a call costs money and time (an LLM), which bounds its concurrency.
    fn is_remote(&self) -> bool {
        false
    }
}

/// A provider name's wire format, default endpoint, key variable and default model.
#[derive(Debug, Clone, Copy)]
pub struct Preset {
    /// Name used in config and keys.
    pub name: &'static str,
    /// Wire format.
    pub wire: http::Wire,
    /// Default base URL (`None`: the user must give one).
    pub base_url: Option<&'static str>,
    /// Environment variable holding the key.
    pub key_var: Option<&'static str>,
    /// Whether requests need the key.
    pub key_required: bool,
    /// Model used when none is configured.
    pub default_model: Option<&'static str>,
}

/// Every provider name the tool knows.
pub const PRESETS: &[Preset] = &[
    Preset {
        name: "xai",
        wire: http::Wire::OpenAi,
        base_url: Some("https://api.x.ai/v1"),
        key_var: Some("XAI_API_KEY"),
        key_required: true,
        default_model: Some("grok-4-fast"),
    },
    Preset {
        name: "openai",
        wire: http::Wire::OpenAi,
        base_url: Some("https://api.openai.com/v1"),
        key_var: Some("OPENAI_API_KEY"),
        key_required: true,
        default_model: Some("gpt-4o-mini"),
    },
    Preset {
        name: "anthropic",
        wire: http::Wire::Anthropic,
        base_url: Some("https://api.anthropic.com"),
        key_var: Some("ANTHROPIC_API_KEY"),
        key_required: true,
        default_model: Some("claude-sonnet-4-20250514"),
    },
    Preset {
        name: "gemini",
        wire: http::Wire::Gemini,
        base_url: Some("https://generativelanguage.googleapis.com"),
        key_var: Some("GEMINI_API_KEY"),
        key_required: true,
        default_model: Some("gemini-2.5-flash"),
    },
    Preset {
        name: "ollama",
        wire: http::Wire::OpenAi,
        base_url: Some("http://localhost:11434/v1"),
        key_var: None,
        key_required: false,
        default_model: Some("llama3.1"),
    },
    Preset {
        name: "openai-compatible",
        wire: http::Wire::OpenAi,
        base_url: None,
        key_var: Some("OPENAI_API_KEY"),
        key_required: false,
        default_model: None,
    },
];

use crate::config::trust::{DEFAULT_MAX_TOKENS, DEFAULT_TIMEOUT_S};

/// The most output tokens any request asks for, whatever the configuration says: at a few bytes
/// per token (JSON escaping included) a reply this long still fits the entry bound, so a
/// provider that honours `max_tokens` can never return a result no reader would accept.
pub const MAX_TOKENS_CAP: u32 = 65_536;
/// Low temperature: reviews should be stable, not creative.
const DEFAULT_TEMPERATURE: f64 = 0.2;

/// The configured provider and the settings its analyzers share, or `None` when no provider is
/// configured. Unknown names and missing required settings are usage errors.
pub fn configured_provider(
    session: &crate::session::Session,
) -> anyhow::Result<Option<(Arc<dyn http::Provider>, llm::LlmSettings)>> {
    use crate::error::UserError;
    let cfg = &session.config;
    let Some(name) = &cfg.provider else {
        return Ok(None);
    };
    let names: Vec<&str> = PRESETS.iter().map(|p| p.name).collect();
    let preset = PRESETS.iter().find(|p| p.name == name).ok_or_else(|| {
        UserError::Usage(format!(
            "unknown provider `{}` (known: {})",
            crate::output::sanitize(name),
            names.join(", ")
        ))
    })?;
    let base = cfg.base_url.as_deref().or(preset.base_url).ok_or_else(|| {
        UserError::Usage(format!("provider `{name}` needs a base URL: set RUSTASSISTANT_BASE_URL or [llm] base_url (e.g. http://localhost:8080/v1)"))
    })?;
    let model = cfg.model.as_deref().or(preset.default_model).ok_or_else(|| {
        UserError::Usage(format!("provider `{name}` needs a model: pass --model, set RUSTASSISTANT_MODEL or [llm] model"))
    })?;
    let key = preset
        .key_var
        .and_then(|v| session.env.get(v))
        .map(str::to_string);
    let missing_key = if preset.key_required && key.is_none() {
        preset.key_var
    } else {
        None
    };
    let timeout =
        std::time::Duration::from_secs(cfg.file.llm.timeout.unwrap_or(DEFAULT_TIMEOUT_S).max(1));
    let http: Arc<dyn http::Provider> = Arc::new(
        http::Http::new(preset.name, model, preset.wire, base, key, timeout)
            .map_err(anyhow::Error::msg)?,
    );
    let pricing = Arc::new(crate::budget::Pricing::new(&cfg.file.pricing));
    let free = preset.name == "ollama";
    let settings = llm::LlmSettings {
        max_tokens: cfg
            .file
            .llm
            .max_tokens
            .unwrap_or(DEFAULT_MAX_TOKENS)
            .min(MAX_TOKENS_CAP),
        temperature: cfg.file.llm.temperature.unwrap_or(DEFAULT_TEMPERATURE),
        pricing: pricing.clone(),
        free,
        missing_key,
    };
    // Local inference is not billed: only paid providers go through the budget.
    let provider: Arc<dyn http::Provider> = if free {
        http
    } else {
        Arc::new(crate::budget::Budgeted::new(
            http,
            crate::budget::open_ledger(&session.env),
            pricing,
            crate::budget::Settings::from_config(cfg),
            session.repo.workdir().display().to_string(),
            session.env.clone(),
        ))
    };
    Ok(Some((provider, settings)))
}

/// Largest prompt template read: a real one is a page.
const MAX_PROMPT_BYTES: u64 = 64 * 1024;

/// The prompt override for `cache_type`, if the repository has one. Only a regular file inside
/// the work tree is read (a symlink to `~/.ssh/id_ed25519` or `/proc/self/environ` is refused,
/// never sent), and only up to a bound.
pub fn template_override(
    session: &crate::session::Session,
    cache_type: &str,
) -> anyhow::Result<Option<String>> {
    let rel = std::path::PathBuf::from(".rustassistant/prompts").join(format!("{cache_type}.md"));
    match crate::util::fs::read_in_tree(session.repo.workdir(), &rel, MAX_PROMPT_BYTES) {
        Ok(Some(bytes)) => Ok(Some(String::from_utf8(bytes).map_err(|_| {
            crate::error::UserError::Input(format!("{}: not UTF-8 text", rel.display()))
        })?)),
        Ok(None) => Ok(None),
        Err(e) => {
            Err(crate::error::UserError::Input(format!("prompt override refused: {e}")).into())
        }
    }
}
