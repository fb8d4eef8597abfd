//! One configuration file as written: every section and field optional so files can be
//! layered, parsed with errors that name the file and line, and read with a bound.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use super::MAX_CONFIG_BYTES;
use crate::error::UserError;

/// `[llm]`
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct LlmSection {
    /// Provider name (`xai`, `openai`, `anthropic`, `gemini`, `ollama`, `openai-compatible`,
    /// or `none`).
    pub provider: Option<String>,
    /// Model name.
    pub model: Option<String>,
    /// Base URL overriding the provider's default.
    pub base_url: Option<String>,
    /// Request timeout in seconds.
    pub timeout: Option<u64>,
    /// Most requests in flight at once.
    pub max_concurrency: Option<usize>,
    /// Most output tokens asked for per request.
    pub max_tokens: Option<u32>,
    /// Sampling temperature sent with each request.
    pub temperature: Option<f64>,
}

/// `[analysis]`
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct AnalysisSection {
    /// Analysis types run by `analyze` when no `--type` is given.
    pub types: Option<Vec<String>>,
    /// Glob patterns a file must match (any) to be analysed by `--all` and folder walks.
    pub include: Option<Vec<String>>,
    /// Glob patterns that exclude a file.
    pub exclude: Option<Vec<String>>,
    /// Files larger than this are skipped with a reason.
    pub max_file_bytes: Option<u64>,
    /// Globs of paths that may be sent to a provider even though they look like secrets.
    pub allow_secrets: Option<Vec<String>>,
    /// `item` (paid types send only the functions a file's new version changed, where a
    /// grammar exists) or `file` (the whole file, every time).
    pub granularity: Option<String>,
}

/// `[cache]`
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct CacheSection {
    /// `none` (plain JSON) or `zstd`.
    pub compression: Option<String>,
    /// Size above which entries are evicted after writes (`500MB`).
    pub max_size: Option<String>,
    /// Policy used by automatic eviction.
    pub eviction: Option<String>,
    /// Whether the pre-commit hook drops entries whose blob is not in the committed tree.
    pub prune_on_commit: Option<bool>,
    /// Whether unsigned or badly signed entries are treated as misses.
    pub require_signature: Option<bool>,
    /// Entries older than this (`90d`, `12w`, `36h`) are misses, so analyses refresh.
    pub max_age: Option<String>,
}

/// `[budget]`
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct BudgetSection {
    /// Monthly limit in USD.
    pub monthly_limit_usd: Option<f64>,
    /// Fraction of the limit at which the status becomes Warning.
    pub warn_at: Option<f64>,
    /// Fraction of the limit at which the status becomes Alert.
    pub alert_at: Option<f64>,
    /// Whether requests that would cross the limit are refused.
    pub hard_limit: Option<bool>,
    /// Whether models with no known price may be used under a hard limit.
    pub allow_unknown_price: Option<bool>,
}

/// `[hooks]`
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct HooksSection {
    /// `analyze`, `check` or `off`.
    pub pre_commit: Option<String>,
    /// `warn`, `strict` or `off`.
    pub pre_push: Option<String>,
    /// Whether a failed analysis in a hook blocks the commit.
    pub strict: Option<bool>,
    /// Time bound of the pre-commit analysis, in seconds.
    pub pre_commit_timeout_s: Option<u64>,
}

/// `[findings]`: when a metric becomes a finding, and what fails `findings` in CI.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct FindingsSection {
    /// A function longer than this many lines is a finding (default 80).
    pub function_lines: Option<u64>,
    /// Block nesting deeper than this inside a function is a finding (default 4).
    pub nesting: Option<u64>,
    /// Whether each panic site outside tests (`unwrap`, `expect`, `panic!`…) is a finding.
    pub panic_sites: Option<bool>,
    /// The lowest severity that makes `findings` exit 1 (`error`, `warning`, `note`, `none`).
    pub fail_on: Option<String>,
}

/// Prices in USD per million tokens.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Price {
    /// Input tokens.
    pub input: f64,
    /// Output tokens.
    pub output: f64,
    /// Cached input tokens (defaults to the input price).
    pub cached_input: Option<f64>,
    /// Input tokens of a batch job (defaults to half the input price, as the vendors' batch
    /// APIs bill).
    pub batch_input: Option<f64>,
    /// Output tokens of a batch job (defaults to half the output price).
    pub batch_output: Option<f64>,
}

/// One configuration file, as written. Every field is optional so files can be layered.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// `[llm]`
    #[serde(default)]
    pub llm: LlmSection,
    /// `[analysis]`
    #[serde(default)]
    pub analysis: AnalysisSection,
    /// `[cache]`
    #[serde(default)]
    pub cache: CacheSection,
    /// `[budget]`
    #[serde(default)]
    pub budget: BudgetSection,
    /// `[hooks]`
    #[serde(default)]
    pub hooks: HooksSection,
    /// `[findings]`
    #[serde(default)]
    pub findings: FindingsSection,
    /// `[pricing."<model>"]`
    #[serde(default)]
    pub pricing: BTreeMap<String, Price>,
}

impl ConfigFile {
    /// Parse `text` (the content of `path`, named in errors).
    pub fn parse(text: &str, path: &Path) -> Result<ConfigFile, UserError> {
        toml::from_str(text).map_err(|e| UserError::Config {
            path: path.to_path_buf(),
            reason: e.message().to_string(),
            // 1-based: the newlines before the offending key, plus one.
            line: e.span().map(|s| {
                text.as_bytes()[..s.start.min(text.len())]
                    .iter()
                    .filter(|&&b| b == b'\n')
                    .count()
                    + 1
            }),
        })
    }

    /// Load the user's own config at `path` (bounded, regular file); a missing file is an empty
    /// config, an unreadable or malformed one an error.
    pub fn load(path: &Path) -> Result<ConfigFile, UserError> {
        match crate::util::fs::read_user_file(path, MAX_CONFIG_BYTES) {
            Ok(bytes) => ConfigFile::parse(&String::from_utf8_lossy(&bytes), path),
            Err(crate::util::fs::ReadError::Io { source, .. })
                if source.kind() == std::io::ErrorKind::NotFound =>
            {
                Ok(ConfigFile::default())
            }
            Err(e) => Err(UserError::Config {
                path: path.to_path_buf(),
                reason: e.to_string(),
                line: None,
            }),
        }
    }

    /// Overlay `higher` on `self`: every field `higher` sets wins.
    pub(super) fn overlay(mut self, higher: ConfigFile) -> ConfigFile {
        macro_rules! take {
            ($sec:ident: $($f:ident),*) => { $( if higher.$sec.$f.is_some() { self.$sec.$f = higher.$sec.$f; } )* };
        }
        take!(llm: provider, model, base_url, timeout, max_concurrency, max_tokens, temperature);
        take!(analysis: types, include, exclude, max_file_bytes, allow_secrets, granularity);
        take!(cache: compression, max_size, eviction, prune_on_commit, require_signature, max_age);
        take!(budget: monthly_limit_usd, warn_at, alert_at, hard_limit, allow_unknown_price);
        take!(hooks: pre_commit, pre_push, strict, pre_commit_timeout_s);
        take!(findings: function_lines, nesting, panic_sites, fail_on);
        self.pricing.extend(higher.pricing);
        self
    }
}
