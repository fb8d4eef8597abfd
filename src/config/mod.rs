//! Layered configuration.
//!
//! Precedence, highest first: command-line flag > environment (`RUSTASSISTANT_PROVIDER`,
//! `RUSTASSISTANT_MODEL`, `RUSTASSISTANT_BASE_URL`) > user config (`$RUSTASSISTANT_HOME/config.toml`)
//! > repository config (`.rustassistant/config.toml`) > built-in defaults.
//!
//! The repository's file is other people's data: [`trust`] decides what it may set.
//!
//! The library never reads the process environment itself: `main` captures it once into an
//! [`Env`], and everything below receives that, which is what lets tests run many sealed
//! configurations in one process.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::UserError;

pub mod trust;

/// Largest configuration file read: a real one is a few kilobytes.
pub const MAX_CONFIG_BYTES: u64 = 256 * 1024;

pub use crate::util::env::Env;

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
            line: e
                .span()
                .map(|s| text[..s.start.min(text.len())].lines().count().max(1)),
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
    fn overlay(mut self, higher: ConfigFile) -> ConfigFile {
        macro_rules! take {
            ($sec:ident: $($f:ident),*) => { $( if higher.$sec.$f.is_some() { self.$sec.$f = higher.$sec.$f; } )* };
        }
        take!(llm: provider, model, base_url, timeout, max_concurrency, max_tokens, temperature);
        take!(analysis: types, include, exclude, max_file_bytes, allow_secrets);
        take!(cache: compression, max_size, eviction, prune_on_commit, require_signature);
        take!(budget: monthly_limit_usd, warn_at, alert_at, hard_limit, allow_unknown_price);
        take!(hooks: pre_commit, pre_push, strict, pre_commit_timeout_s);
        self.pricing.extend(higher.pricing);
        self
    }
}

/// Entry encoding on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// Plain, pretty JSON (`.json`).
    None,
    /// zstd-compressed JSON (`.json.zst`).
    Zstd,
}

/// Default include patterns: source files of common languages.
pub const DEFAULT_INCLUDE: &[&str] = &[
    "**/*.rs",
    "**/*.py",
    "**/*.js",
    "**/*.jsx",
    "**/*.ts",
    "**/*.tsx",
    "**/*.go",
    "**/*.java",
    "**/*.kt",
    "**/*.c",
    "**/*.h",
    "**/*.cc",
    "**/*.cpp",
    "**/*.hpp",
    "**/*.cs",
    "**/*.rb",
    "**/*.php",
    "**/*.swift",
    "**/*.scala",
    "**/*.sh",
    "**/*.lua",
    "**/*.zig",
    "**/*.ex",
    "**/*.exs",
    "**/*.hs",
    "**/*.ml",
    "**/*.sql",
    "**/*.toml",
    "**/*.md",
];

/// Default exclude patterns: build output, vendored code and the cache itself.
pub const DEFAULT_EXCLUDE: &[&str] = &[
    ".rustassistant/**",
    "target/**",
    "node_modules/**",
    "vendor/**",
    "dist/**",
    "build/**",
    ".git/**",
    "**/*.min.js",
    "**/*.lock",
];

/// The repository layer of the configuration: the work tree whose `.rustassistant/config.toml`
/// is read, and the clone's local state folder (which holds the signature ratchet).
#[derive(Debug, Clone, Copy)]
pub struct RepoLayer<'a> {
    /// The work tree root.
    pub workdir: &'a Path,
    /// `<git dir>/rustassistant`.
    pub state_dir: Option<&'a Path>,
}

/// What was read from the repository's config file.
#[derive(Debug, Clone)]
pub struct RepoConfigInfo {
    /// Its absolute path.
    pub path: PathBuf,
    /// sha256 of its bytes.
    pub sha256: String,
    /// Whether the user trusted exactly these bytes at this path.
    pub trusted: bool,
}

/// The repository config file's path relative to the work tree.
pub const REPO_CONFIG: &str = ".rustassistant/config.toml";

/// The effective configuration after layering.
#[derive(Debug, Clone)]
pub struct Config {
    /// The merged file-level settings.
    pub file: ConfigFile,
    /// Effective provider (`None` when no LLM is configured).
    pub provider: Option<String>,
    /// Effective model.
    pub model: Option<String>,
    /// Effective base URL override.
    pub base_url: Option<String>,
    /// Settings of an untrusted repository config that were ignored (one warning each).
    pub ignored: Vec<String>,
    /// The repository config, when there is one.
    pub repo_config: Option<RepoConfigInfo>,
    /// Whether `[hooks] strict` comes from the user (user config, or a trusted repository
    /// config). A repository's own strictness never blocks a commit for a user who has no key
    /// or whose provider is unreachable.
    pub strict_from_user: bool,
}

/// Command-line overrides that take precedence over everything else.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// `--provider`
    pub provider: Option<String>,
    /// `--model`
    pub model: Option<String>,
}

impl Config {
    /// Layer defaults, the repository config (restricted unless trusted), the user config and
    /// the environment, then `overrides`.
    pub fn load(
        repo: Option<RepoLayer<'_>>,
        env: &Env,
        overrides: &Overrides,
    ) -> Result<Config, UserError> {
        let mut file = ConfigFile::default();
        let mut ignored = Vec::new();
        let mut repo_config = None;
        let mut repo_strict_trusted = false;
        if let Some(layer) = repo {
            let rel = Path::new(REPO_CONFIG);
            let path = layer.workdir.join(rel);
            let bytes = crate::util::fs::read_in_tree(layer.workdir, rel, MAX_CONFIG_BYTES)
                .map_err(|e| UserError::Config {
                    path: path.clone(),
                    reason: e.to_string(),
                    line: None,
                })?;
            if let Some(bytes) = bytes {
                let text = String::from_utf8_lossy(&bytes);
                let parsed = ConfigFile::parse(&text, &path)?;
                let sha256 = crate::util::sha256_hex(&bytes);
                let trusted = trust::is_trusted(env, &path, &sha256);
                let ratchet = layer.state_dir.is_some_and(trust::signature_ratchet);
                let parsed = if trusted {
                    if parsed.cache.require_signature != Some(true) {
                        if let Some(sd) = layer.state_dir {
                            trust::clear_signature_ratchet(sd);
                        }
                    }
                    repo_strict_trusted = parsed.hooks.strict.is_some();
                    parsed
                } else {
                    let (kept, dropped) = trust::restrict(parsed, ratchet);
                    ignored = dropped;
                    kept
                };
                if parsed.cache.require_signature == Some(true) {
                    if let Some(sd) = layer.state_dir {
                        trust::set_signature_ratchet(sd);
                    }
                }
                file = file.overlay(parsed);
                repo_config = Some(RepoConfigInfo {
                    path,
                    sha256,
                    trusted,
                });
            }
        }
        let mut user_strict = false;
        if let Some(home) = env.user_home() {
            let user = ConfigFile::load(&home.join("config.toml"))?;
            user_strict = user.hooks.strict.is_some();
            file = file.overlay(user);
        }
        let mut cfg = Config::from_file(file, env, overrides)?;
        cfg.ignored = ignored;
        cfg.repo_config = repo_config;
        cfg.strict_from_user = user_strict || repo_strict_trusted;
        Ok(cfg)
    }

    /// The effective configuration of an already layered `file`: environment and flags on top,
    /// then validated.
    pub fn from_file(
        file: ConfigFile,
        env: &Env,
        overrides: &Overrides,
    ) -> Result<Config, UserError> {
        let pick = |flag: &Option<String>, var: &str, conf: &Option<String>| {
            flag.clone()
                .or_else(|| env.get(var).map(str::to_string))
                .or_else(|| conf.clone())
        };
        let provider = pick(
            &overrides.provider,
            "RUSTASSISTANT_PROVIDER",
            &file.llm.provider,
        )
        .filter(|p| !p.eq_ignore_ascii_case("none") && !p.is_empty());
        let model = pick(&overrides.model, "RUSTASSISTANT_MODEL", &file.llm.model);
        let base_url = pick(&None, "RUSTASSISTANT_BASE_URL", &file.llm.base_url);
        let cfg = Config {
            file,
            provider,
            model,
            base_url,
            ignored: Vec::new(),
            repo_config: None,
            strict_from_user: true,
        };
        cfg.validate()?;
        Ok(cfg)
    }

    fn validate(&self) -> Result<(), UserError> {
        let bad = |what: &str, why: String| {
            Err(UserError::Usage(format!(
                "invalid configuration: {what}: {why}"
            )))
        };
        if let Some(c) = &self.file.cache.compression {
            if !matches!(c.as_str(), "none" | "json" | "zstd") {
                return bad(
                    "[cache] compression",
                    format!("`{c}` is not one of none, zstd"),
                );
            }
        }
        if let Some(e) = &self.file.cache.eviction {
            if !matches!(e.as_str(), "lru" | "oldest" | "largest" | "expensive") {
                return bad(
                    "[cache] eviction",
                    format!("`{e}` is not one of lru, oldest, largest, expensive"),
                );
            }
        }
        if let Some(s) = &self.file.cache.max_size {
            if let Err(e) = crate::util::parse_size(s) {
                return bad("[cache] max_size", e);
            }
        }
        if let Some(l) = self.file.budget.monthly_limit_usd {
            if !(l.is_finite() && l >= 0.0) {
                return bad(
                    "[budget] monthly_limit_usd",
                    format!("{l} is not a non-negative amount"),
                );
            }
        }
        for (name, v) in [
            ("warn_at", self.file.budget.warn_at),
            ("alert_at", self.file.budget.alert_at),
        ] {
            if let Some(v) = v {
                if !(v.is_finite() && (0.0..=1.0).contains(&v)) {
                    return bad(
                        &format!("[budget] {name}"),
                        format!("{v} is not a fraction between 0 and 1"),
                    );
                }
            }
        }
        for (model, p) in &self.file.pricing {
            let cached = p.cached_input.unwrap_or(p.input);
            if [p.input, p.output, cached]
                .iter()
                .any(|v| !v.is_finite() || *v < 0.0)
            {
                return bad(
                    &format!("[pricing.\"{model}\"]"),
                    "prices must be non-negative numbers".into(),
                );
            }
        }
        if let Some(m) = &self.file.hooks.pre_commit {
            if !matches!(m.as_str(), "analyze" | "check" | "off") {
                return bad(
                    "[hooks] pre_commit",
                    format!("`{m}` is not one of analyze, check, off"),
                );
            }
        }
        if let Some(m) = &self.file.hooks.pre_push {
            if !matches!(m.as_str(), "warn" | "strict" | "off") {
                return bad(
                    "[hooks] pre_push",
                    format!("`{m}` is not one of warn, strict, off"),
                );
            }
        }
        Ok(())
    }

    /// Entry encoding for new writes.
    pub fn compression(&self) -> Compression {
        match self.file.cache.compression.as_deref() {
            Some("zstd") => Compression::Zstd,
            _ => Compression::None,
        }
    }

    /// Files larger than this are skipped (default 256 KiB: past that an LLM review is rarely
    /// useful and the request cost grows linearly).
    pub fn max_file_bytes(&self) -> u64 {
        self.file.analysis.max_file_bytes.unwrap_or(256 * 1024)
    }

    /// Include globs.
    pub fn include(&self) -> Vec<String> {
        self.file
            .analysis
            .include
            .clone()
            .unwrap_or_else(|| DEFAULT_INCLUDE.iter().map(|s| s.to_string()).collect())
    }

    /// Exclude globs (the cache folder is always excluded).
    pub fn exclude(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .file
            .analysis
            .exclude
            .clone()
            .unwrap_or_else(|| DEFAULT_EXCLUDE.iter().map(|s| s.to_string()).collect());
        v.push(".rustassistant/**".into());
        v
    }

    /// Types run when `analyze` is given no `--type`: the configured list, else the built-in
    /// offline types plus `refactor` when a provider is configured.
    pub fn default_types(&self) -> Vec<String> {
        if let Some(t) = &self.file.analysis.types {
            return t.clone();
        }
        let mut v = vec!["todos".to_string(), "metrics".to_string()];
        if self.provider.is_some() {
            v.push("refactor".into());
        }
        v
    }

    /// Whether the pre-commit hook removes entries of blobs not in the committed tree.
    pub fn prune_on_commit(&self) -> bool {
        self.file.cache.prune_on_commit.unwrap_or(true)
    }
}

/// The commented defaults written by `init` into `.rustassistant/config.toml`.
pub const DEFAULT_CONFIG_TOML: &str = r#"# rustassistant team settings, committed with the repository.
# Personal settings (budget, default provider) belong in ~/.rustassistant/config.toml.
# Precedence: flags > RUSTASSISTANT_* environment > user config > this file > defaults.
# Settings marked (trust) take effect from this file only after `rustassistant trust`:
# whoever committed last wrote it, so it may not move your key, budget or secrets.

[llm]
# provider = "xai"            # xai | openai | anthropic | gemini | ollama | openai-compatible | none
# model = "grok-4-fast"
# base_url = "http://localhost:11434/v1"   # (trust) OpenAI-style URLs include the version
# timeout = 120               # seconds per request, retries included (above 120: trust)
# max_concurrency = 4         # requests in flight (above 4: trust)
# max_tokens = 4096           # output tokens per request (above 4096: trust)

[analysis]
# types = ["todos", "metrics", "refactor"]   # default: todos + metrics (+ refactor with a provider)
# include = ["**/*.rs", "**/*.py"]            # default: common source extensions
# exclude = ["target/**", "vendor/**"]
# max_file_bytes = 262144
# allow_secrets = []         # (trust) globs of paths that may be sent even if they look like secrets

[cache]
# compression = "none"        # none | zstd (.json.zst entries, ~70% smaller)
# max_size = "500MB"          # evict after writes when the cache grows past this
# eviction = "lru"            # lru | oldest | largest | expensive
# prune_on_commit = true      # the pre-commit hook drops entries of blobs no longer committed
# require_signature = false   # with RUSTASSISTANT_SIGNING_KEY: unsigned entries are misses (lowering: trust)

[budget]                      # (trust) the whole section; personal budgets belong in ~/.rustassistant
# monthly_limit_usd = 3.00
# warn_at = 0.75
# alert_at = 0.90
# hard_limit = true
# allow_unknown_price = false # allow models without a known price under a hard limit

[hooks]
# pre_commit = "analyze"      # analyze | check | off
# pre_push = "warn"           # warn | strict | off
# strict = false              # a failed analysis blocks the commit (never for a missing key or provider)
# pre_commit_timeout_s = 30   # (above 30: trust)

# [pricing."my-local-model"]  # (trust)
# input = 0.0                 # USD per million tokens
# output = 0.0
# cached_input = 0.0
"#;

/// Set `key = value` (a TOML literal) in `[section]` of the file at `path`, keeping every other
/// line and comment: an existing assignment (or its commented-out default) is replaced in
/// place, else the line is added to the section, else the section is appended.
pub fn set_value(path: &Path, section: &str, key: &str, value: &str) -> std::io::Result<()> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let header = format!("[{section}]");
    let new_line = format!("{key} = {value}");
    let mut in_section = false;
    let mut section_at = None;
    let mut target = None;
    for (i, l) in lines.iter().enumerate() {
        let t = l.trim();
        if t.starts_with('[') {
            in_section = t == header;
            if in_section {
                section_at = Some(i);
            }
            continue;
        }
        if in_section {
            let bare = t.trim_start_matches('#').trim_start();
            if bare.starts_with(key) && bare[key.len()..].trim_start().starts_with('=') {
                let commented = t.starts_with('#');
                if target.is_none() || !commented {
                    target = Some(i);
                }
            }
        }
    }
    match (target, section_at) {
        (Some(i), _) => lines[i] = new_line,
        (None, Some(s)) => lines.insert(s + 1, new_line),
        (None, None) => {
            lines.push(String::new());
            lines.push(header);
            lines.push(new_line);
        }
    }
    let mut out = lines.join("\n");
    out.push('\n');
    crate::util::write_atomic(path, out.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_config_template_parses_and_is_all_defaults() {
        let f = ConfigFile::parse(DEFAULT_CONFIG_TOML, Path::new("config.toml")).unwrap();
        assert!(f.llm.provider.is_none());
        assert!(f.pricing.is_empty());
    }

    /// A work tree at `dir/wt` whose repository config is `text`.
    fn work_tree(dir: &Path, text: &str) -> PathBuf {
        let wt = dir.join("wt");
        std::fs::create_dir_all(wt.join(".rustassistant")).unwrap();
        std::fs::write(wt.join(REPO_CONFIG), text).unwrap();
        wt
    }

    fn layer(wt: &Path) -> Option<RepoLayer<'_>> {
        Some(RepoLayer {
            workdir: wt,
            state_dir: None,
        })
    }

    #[test]
    fn flags_beat_environment_beat_files() {
        let dir = tempfile::tempdir().unwrap();
        let wt = work_tree(
            dir.path(),
            "[llm]\nprovider = \"openai\"\nmodel = \"gpt-4o\"\n",
        );
        let home = dir.path().join("home");
        std::fs::create_dir_all(&home).unwrap();
        std::fs::write(home.join("config.toml"), "[llm]\nmodel = \"gpt-4o-mini\"\n").unwrap();
        let env = Env::from_pairs([("RUSTASSISTANT_HOME".to_string(), home.display().to_string())]);
        let c = Config::load(layer(&wt), &env, &Overrides::default()).unwrap();
        assert_eq!(c.provider.as_deref(), Some("openai"));
        assert_eq!(c.model.as_deref(), Some("gpt-4o-mini"));

        let env2 = Env::from_pairs([
            ("RUSTASSISTANT_HOME".to_string(), home.display().to_string()),
            ("RUSTASSISTANT_MODEL".to_string(), "env-model".to_string()),
        ]);
        let c = Config::load(layer(&wt), &env2, &Overrides::default()).unwrap();
        assert_eq!(c.model.as_deref(), Some("env-model"));
        let o = Overrides {
            provider: None,
            model: Some("flag-model".into()),
        };
        let c = Config::load(layer(&wt), &env2, &o).unwrap();
        assert_eq!(c.model.as_deref(), Some("flag-model"));
    }

    #[test]
    fn a_repository_base_url_counts_only_once_trusted() {
        let dir = tempfile::tempdir().unwrap();
        let text = "[llm]\nprovider = \"openai\"\nbase_url = \"http://127.0.0.1:9/v1\"\n";
        let wt = work_tree(dir.path(), text);
        let home = dir.path().join("home");
        let env = Env::from_pairs([("RUSTASSISTANT_HOME".to_string(), home.display().to_string())]);
        let c = Config::load(layer(&wt), &env, &Overrides::default()).unwrap();
        assert_eq!(c.base_url, None);
        assert_eq!(c.ignored, vec!["[llm] base_url".to_string()]);
        let sha = crate::util::sha256_hex(text.as_bytes());
        trust::trust(&env, &wt.join(REPO_CONFIG), &sha).unwrap();
        let c = Config::load(layer(&wt), &env, &Overrides::default()).unwrap();
        assert_eq!(c.base_url.as_deref(), Some("http://127.0.0.1:9/v1"));
        assert!(c.ignored.is_empty());
        std::fs::write(wt.join(REPO_CONFIG), format!("{text}# changed\n")).unwrap();
        let c = Config::load(layer(&wt), &env, &Overrides::default()).unwrap();
        assert_eq!(c.base_url, None, "a changed file needs a new trust");
    }

    #[test]
    fn malformed_config_names_file_and_line() {
        let err =
            ConfigFile::parse("[llm]\nprovider = \n", Path::new("x/config.toml")).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("x/config.toml"), "{msg}");
        let err = ConfigFile::parse("[llm]\nbogus = 1\n", Path::new("c.toml")).unwrap_err();
        assert!(err.to_string().contains("bogus"), "{err}");
    }

    #[test]
    fn invalid_values_are_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("home");
        std::fs::create_dir_all(&home).unwrap();
        let env = Env::from_pairs([("RUSTASSISTANT_HOME".to_string(), home.display().to_string())]);
        for bad in [
            "[budget]\nmonthly_limit_usd = -1.0\n",
            "[cache]\ncompression = \"lz4\"\n",
            "[pricing.\"m\"]\ninput = 1.0\n",
        ] {
            std::fs::write(home.join("config.toml"), bad).unwrap();
            assert!(
                Config::load(None, &env, &Overrides::default()).is_err(),
                "{bad}"
            );
        }
    }
}
