//! Layered configuration.
//!
//! Precedence, highest first: command-line flag > environment (`RUSTASSISTANT_PROVIDER`,
//! `RUSTASSISTANT_MODEL`, `RUSTASSISTANT_BASE_URL`, `RUSTASSISTANT_GRANULARITY`) > user config
//! (`$RUSTASSISTANT_HOME/config.toml`) > repository config (`.rustassistant/config.toml`) > built-in defaults.
//!
//! The repository's file is other people's data: [`trust`] decides what it may set.
//!
//! The library never reads the process environment itself: `main` captures it once into an
//! [`Env`], and everything below receives that, which is what lets tests run many sealed
//! configurations in one process.

use std::path::{Path, PathBuf};

use crate::error::UserError;

mod file;
mod modes;
mod template;
pub mod trust;

pub use file::{
    AnalysisSection, BudgetSection, CacheSection, ConfigFile, HooksSection, LlmSection, Price,
};
pub use modes::{Compression, Eviction, Granularity, PreCommitMode, PrePushMode, Settings};
pub use template::{set_value, DEFAULT_CONFIG_TOML};

/// Largest configuration file read: a real one is a few kilobytes.
pub const MAX_CONFIG_BYTES: u64 = 256 * 1024;

pub use crate::util::env::Env;

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
    /// Where the provider and model were chosen (`--provider`, `RUSTASSISTANT_PROVIDER`, a
    /// config file's path), for a message about a mistake in them.
    pub llm_from: String,
    /// The settings of `file` written as words, sizes and durations, parsed once on load.
    pub settings: Settings,
}

/// [`Config::llm_from`] when the provider came from configuration files (`load` names the file).
const LLM_FROM_FILES: &str = "the configuration";

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
        let mut llm_from = repo_config
            .as_ref()
            .filter(|_| file.llm.provider.is_some() || file.llm.model.is_some())
            .map(|r: &RepoConfigInfo| r.path.display().to_string());
        if let Some(home) = env.user_home() {
            let path = home.join("config.toml");
            let user = ConfigFile::load(&path)?;
            user_strict = user.hooks.strict.is_some();
            if user.llm.provider.is_some()
                || user.llm.model.is_some()
                || user.llm.base_url.is_some()
            {
                llm_from = Some(path.display().to_string());
            }
            file = file.overlay(user);
        }
        let mut cfg = Config::from_file(file, env, overrides)?;
        // A file is named only where no flag or variable chose the provider.
        if let Some(from) = llm_from.filter(|_| cfg.llm_from == LLM_FROM_FILES) {
            cfg.llm_from = from;
        }
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
        let llm_from = if overrides.provider.is_some() {
            "--provider".to_string()
        } else if env.get("RUSTASSISTANT_PROVIDER").is_some() {
            "RUSTASSISTANT_PROVIDER".to_string()
        } else {
            LLM_FROM_FILES.to_string()
        };
        let cfg = Config {
            file,
            provider,
            model,
            base_url,
            ignored: Vec::new(),
            repo_config: None,
            strict_from_user: true,
            llm_from,
            settings: Settings::default(),
        };
        let mut cfg = cfg;
        cfg.settings = cfg.validate()?;
        // `[analysis] granularity` for one command or one CI job (what a file says otherwise).
        if let Some(g) = env.get("RUSTASSISTANT_GRANULARITY") {
            cfg.settings.granularity = g.parse().map_err(|why| {
                UserError::Usage(format!("invalid RUSTASSISTANT_GRANULARITY: {why}"))
            })?;
        }
        Ok(cfg)
    }

    /// Check the merged settings and parse those written as words, sizes and durations.
    fn validate(&self) -> Result<Settings, UserError> {
        let bad = |what: &str, why: String| {
            Err(UserError::Usage(format!(
                "invalid configuration: {what}: {why}"
            )))
        };
        let mut settings = Settings::default();
        /// `value` parsed by `parse` into `into`, or the error naming `what`.
        macro_rules! parse {
            ($value:expr, $what:literal, $parse:expr, $into:expr) => {
                if let Some(v) = $value {
                    match $parse(v.as_str()) {
                        Ok(t) => $into = t,
                        Err(why) => return bad($what, why),
                    }
                }
            };
        }
        let c = &self.file.cache;
        parse!(
            &c.compression,
            "[cache] compression",
            str::parse,
            settings.compression
        );
        parse!(
            &c.eviction,
            "[cache] eviction",
            str::parse,
            settings.eviction
        );
        parse!(
            &c.max_size,
            "[cache] max_size",
            |s| crate::util::parse_size(s).map(Some),
            settings.max_size
        );
        parse!(
            &c.max_age,
            "[cache] max_age",
            |s| crate::util::parse_age(s).map(Some),
            settings.max_age
        );
        let h = &self.file.hooks;
        parse!(
            &h.pre_commit,
            "[hooks] pre_commit",
            str::parse,
            settings.pre_commit
        );
        parse!(
            &h.pre_push,
            "[hooks] pre_push",
            str::parse,
            settings.pre_push
        );
        parse!(
            &self.file.analysis.granularity,
            "[analysis] granularity",
            str::parse,
            settings.granularity
        );
        // Matched as include/exclude are (`*` stays within a folder): a pattern that does not
        // build would otherwise let nothing through without saying why.
        if let Some(globs) = &self.file.analysis.allow_secrets {
            if let Err((p, e)) = crate::util::glob::GlobList::new(globs) {
                return bad("[analysis] allow_secrets", format!("pattern `{p}`: {e}"));
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
            let batch = [p.batch_input.unwrap_or(0.0), p.batch_output.unwrap_or(0.0)];
            if [p.input, p.output, cached, batch[0], batch[1]]
                .iter()
                .any(|v| !v.is_finite() || *v < 0.0)
            {
                return bad(
                    &format!("[pricing.\"{model}\"]"),
                    "prices must be non-negative numbers".into(),
                );
            }
        }
        Ok(settings)
    }

    /// Entry encoding for new writes.
    pub fn compression(&self) -> Compression {
        self.settings.compression
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

    /// Whether the paid (LLM) types analyse `path`: source files only, unless the
    /// configuration names its own include patterns. Documentation, manifests and lock files
    /// (`.md`, `.toml`, `.lock`, …) are in the default include for the offline types (their
    /// TODOs count), but a paid review of them is rarely what anyone wants.
    pub fn llm_analyses(&self, path: &str) -> bool {
        if self.file.analysis.include.is_some() {
            return true;
        }
        let ext = path.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase());
        !matches!(
            ext.as_deref(),
            Some("md" | "toml" | "lock" | "json" | "yaml" | "yml" | "txt" | "rst" | "ini" | "cfg")
        )
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

    /// `[hooks] pre_commit` (validated on load).
    pub fn pre_commit_mode(&self) -> PreCommitMode {
        self.settings.pre_commit
    }

    /// `[hooks] pre_push` (validated on load).
    pub fn pre_push_mode(&self) -> PrePushMode {
        self.settings.pre_push
    }

    /// `[cache] eviction` (validated on load; default lru).
    pub fn eviction(&self) -> Eviction {
        self.settings.eviction
    }

    /// `[cache] max_size` in bytes (validated on load), the one place it is parsed.
    pub fn max_size_bytes(&self) -> Option<u64> {
        self.settings.max_size
    }

    /// `[cache] max_age`, when set and valid.
    pub fn max_age(&self) -> Option<std::time::Duration> {
        self.settings.max_age
    }

    /// Whether the pre-commit hook removes entries of blobs not in the committed tree.
    pub fn prune_on_commit(&self) -> bool {
        self.file.cache.prune_on_commit.unwrap_or(true)
    }
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

    #[test]
    fn a_misspelt_key_is_reported_at_its_own_line() {
        for (text, line) in [
            ("[analysis]\ntypes = [\"todos\"]\nmax_file_bytez = 3\n", 3),
            (
                "[analysis]\ntypes = [\"todos\"]\n\n[llm]\nmodle = \"x\"\n",
                5,
            ),
            ("modle = 1\n", 1),
        ] {
            match ConfigFile::parse(text, Path::new("c.toml")) {
                Err(UserError::Config { line: Some(l), .. }) => assert_eq!(l, line, "{text}"),
                other => panic!("{other:?}"),
            }
        }
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
