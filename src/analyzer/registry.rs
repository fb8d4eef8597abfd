//! Which analyzer answers each analysis type under the current configuration: the built-in
//! offline ones, or an LLM type on the configured provider (wrapped in the budget), with the
//! repository's prompt override when it has a safe one.

use std::sync::Arc;

use anyhow::Result;

use super::builtin::Builtin;
use super::Analyzer;
use crate::cache::{KNOWN_TYPES, LLM_TYPES};
use crate::error::UserError;
use crate::output::sanitize;
use crate::workspace::Workspace;

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
    session: &crate::workspace::Workspace,
) -> anyhow::Result<Option<(Arc<dyn crate::llm::Provider>, super::llm::LlmSettings)>> {
    use crate::error::UserError;
    let cfg = &session.config;
    let Some(name) = &cfg.provider else {
        return Ok(None);
    };
    let names: Vec<&str> = crate::llm::PRESETS.iter().map(|p| p.name).collect();
    let preset = crate::llm::PRESETS
        .iter()
        .find(|p| p.name == name)
        .ok_or_else(|| {
            UserError::Usage(format!(
                "unknown provider `{}` (known: {})",
                crate::output::sanitize(name),
                names.join(", ")
            ))
        })?;
    let from = &cfg.llm_from;
    let base = cfg.base_url.as_deref().or(preset.base_url).ok_or_else(|| {
        UserError::Usage(format!("provider `{name}` (from {from}) needs a base URL: set RUSTASSISTANT_BASE_URL or [llm] base_url (e.g. http://localhost:8080/v1)"))
    })?;
    let model = cfg.model.as_deref().or(preset.default_model).ok_or_else(|| {
        UserError::Usage(format!("provider `{name}` (from {from}) needs a model: pass --model, set RUSTASSISTANT_MODEL or [llm] model"))
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
    let http: Arc<dyn crate::llm::Provider> = Arc::new(
        crate::llm::http::Http::new(preset.name, model, preset.wire, base, key, timeout)
            .map_err(anyhow::Error::msg)?
            .with_printer(session.out),
    );
    let pricing = Arc::new(crate::budget::Pricing::new(&cfg.file.pricing));
    let free = preset.name == "ollama";
    let settings = super::llm::LlmSettings {
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
    let provider: Arc<dyn crate::llm::Provider> = if free {
        http
    } else {
        Arc::new(crate::budget::Budgeted::new(
            http,
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
    session: &crate::workspace::Workspace,
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

/// One analysis type in a run: its analyzer, or why it cannot run.
pub struct Plan {
    /// Analysis type.
    pub cache_type: String,
    /// The analyzer, or the reason every file of this type is skipped.
    pub analyzer: std::result::Result<Arc<dyn Analyzer>, String>,
}

/// Check type names; an unknown one is a usage error listing the known ones.
pub fn check_types(types: &[String]) -> Result<(), UserError> {
    for t in types {
        if !KNOWN_TYPES.contains(&t.as_str()) {
            return Err(UserError::Usage(format!(
                "unknown analysis type `{}` (known: {})",
                sanitize(t),
                KNOWN_TYPES.join(", ")
            )));
        }
    }
    Ok(())
}

/// How to enable the LLM types, in one line.
pub const ENABLE_LLM_HINT: &str = "set a provider to enable refactor/docs/analysis: e.g. RUSTASSISTANT_PROVIDER=xai with XAI_API_KEY, or [llm] provider in .rustassistant/config.toml";

/// The analyzer for each requested type. A mistake in the provider settings is an error.
pub fn plans(session: &Workspace, types: &[String]) -> Result<Vec<Plan>> {
    plans_with(session, types, false)
}

/// [`plans`] for hooks and for commands that only read (`show`): a mistake in the provider
/// settings makes each LLM type's plan an error naming it (its files are skipped, the offline
/// types run), rather than failing the whole command.
pub fn plans_lenient(session: &Workspace, types: &[String]) -> Result<Vec<Plan>> {
    plans_with(session, types, true)
}

fn plans_with(session: &Workspace, types: &[String], lenient: bool) -> Result<Vec<Plan>> {
    let mut out = Vec::new();
    let needs_llm = types.iter().any(|t| LLM_TYPES.contains(&t.as_str()));
    let mut provider_error = None;
    let provider = if needs_llm {
        match crate::analyzer::registry::configured_provider(session) {
            Ok(p) => p,
            Err(e) if lenient => {
                provider_error = Some(e.to_string());
                None
            }
            Err(e) => return Err(e),
        }
    } else {
        None
    };
    for t in types {
        let analyzer: std::result::Result<Arc<dyn Analyzer>, String> =
            if let Some(b) = Builtin::new(t) {
                Ok(Arc::new(b))
            } else if LLM_TYPES.contains(&t.as_str()) {
                match &provider {
                    Some((p, settings)) => {
                        let tpl = crate::analyzer::registry::template_override(session, t)?;
                        Ok(Arc::new(crate::analyzer::llm::LlmAnalyzer::new(
                            t,
                            p.clone(),
                            tpl,
                            settings,
                        )))
                    }
                    None => Err(provider_error.clone().unwrap_or_else(|| {
                        format!("`{t}` needs an LLM provider: {ENABLE_LLM_HINT}")
                    })),
                }
            } else {
                Err(format!("unknown analysis type `{t}`"))
            };
        out.push(Plan {
            cache_type: t.clone(),
            analyzer,
        });
    }
    Ok(out)
}
