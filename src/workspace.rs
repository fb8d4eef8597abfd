//! A [`Workspace`]: the repository, configuration and store one command works on, built once
//! from the process's context. Tests and hooks build it the same way, from an explicit
//! [`Env`] and working directory.

use std::path::PathBuf;

use anyhow::Result;

use crate::cache::Store;
use crate::config::{Config, Env, Overrides};
use crate::git::Repo;
use crate::output::Printer;

/// Everything a command needs.
pub struct Workspace {
    /// The repository.
    pub repo: Repo,
    /// Effective configuration.
    pub config: Config,
    /// The entry store.
    pub store: Store,
    /// Environment snapshot.
    pub env: Env,
    /// Directory relative paths are resolved from.
    pub cwd: PathBuf,
    /// Where output goes.
    pub out: Printer,
    /// Whether a `git commit` runs rustassistant's pre-commit hook, read once.
    hook_runs: std::sync::OnceLock<bool>,
}

impl Workspace {
    /// Open the repository containing `cwd` and load its configuration.
    pub fn open(cwd: PathBuf, env: Env, overrides: &Overrides, out: Printer) -> Result<Workspace> {
        let repo = Repo::discover(&cwd)?;
        // Objects git was told to keep elsewhere (a hook in a quarantine, a build system's
        // shared store) are read from there, and the commit hook writes its shards there.
        if let Err(e) = repo.use_object_dirs(
            &cwd,
            env.get("GIT_OBJECT_DIRECTORY"),
            env.get("GIT_ALTERNATE_OBJECT_DIRECTORIES"),
        ) {
            out.warn(&format!(
                "cannot use the object directories in GIT_OBJECT_DIRECTORY / GIT_ALTERNATE_OBJECT_DIRECTORIES ({}); objects there are not read",
                e.message()
            ));
        }
        let root = repo.workdir().join(".rustassistant");
        let config = config_for(Some(&repo), &env, overrides, out)?;
        if config.compression() == crate::config::Compression::Zstd {
            out.warn("[cache] compression = \"zstd\" no longer applies: shards are plain text, which git delta-compresses and union-merges (see README, \"Compression\")");
        }
        let mut store = Store::new(root, repo.state_dir()).with_max_age(config.max_age());
        if config.file.cache.require_signature == Some(true) {
            let key = env
                .get("RUSTASSISTANT_SIGNING_KEY")
                .map(|k| k.as_bytes().to_vec());
            store = store.require_signatures(key);
        }
        Ok(Workspace {
            repo,
            config,
            store,
            env,
            cwd,
            out,
            hook_runs: std::sync::OnceLock::new(),
        })
    }

    /// Whether a `git commit` here runs rustassistant's pre-commit hook (read once a command:
    /// it decides where new entries go, DESIGN.md "Where entries go").
    pub fn commit_hook_runs(&self) -> bool {
        *self
            .hook_runs
            .get_or_init(|| crate::git::hooks::commit_hook_runs(&self.repo))
    }

    /// Whether `.rustassistant/` exists.
    pub fn initialised(&self) -> bool {
        self.store.root().join("config.toml").is_file() || self.store.cache_dir().is_dir()
    }
}

/// The effective configuration for `repo` (or outside any repository), with one warning line per
/// repository setting the trust boundary ignored. What `Workspace::open` uses, and commands
/// that work outside a repository too (`budget`).
pub fn config_for(
    repo: Option<&Repo>,
    env: &Env,
    overrides: &Overrides,
    out: Printer,
) -> Result<Config> {
    let state_dir = repo.map(Repo::state_dir);
    let layer = repo.map(|r| crate::config::RepoLayer {
        workdir: r.workdir(),
        state_dir: state_dir.as_deref(),
    });
    let config = Config::load(layer, env, overrides)?;
    warn_ignored(&config, out);
    Ok(config)
}

/// One warning line per repository setting the trust boundary ignored.
pub fn warn_ignored(config: &Config, out: Printer) {
    for setting in &config.ignored {
        out.warn(&format!(
            "ignored {setting} in {}: a repository config may not set it until you trust that exact file (review it, then run `rustassistant trust`)",
            crate::config::REPO_CONFIG
        ));
    }
}

/// A workspace on a fresh repository in `dir`, with its own user home, for unit tests.
#[cfg(test)]
pub(crate) fn test_workspace(dir: &std::path::Path) -> Workspace {
    crate::git::init_for_tests(dir);
    let env = Env::from_pairs([(
        "RUSTASSISTANT_HOME".to_string(),
        dir.join("home").display().to_string(),
    )]);
    let out = Printer {
        quiet: true,
        ..Printer::default()
    };
    Workspace::open(dir.to_path_buf(), env, &Overrides::default(), out).expect("workspace")
}
