//! Installing the hook shims into the folder git really uses — or, where a hook manager owns
//! that folder, telling the user the one line to add to the manager's config — plus the merge
//! driver and diff textconv for entries, and a status that says which hooks will really run.
//!
//! What callers may rely on:
//! - a hook manager's files are never renamed or rewritten: husky (`core.hooksPath = .husky/_`,
//!   whose shims find the user's script by their own file name), lefthook and the pre-commit
//!   framework (hooks they generated), and a hooks folder inside the work tree (tracked,
//!   shared with the team) are left byte for byte as they are;
//! - in a plain hooks folder, `install` never loses a hook (a foreign one is renamed to
//!   `NAME.rustassistant-chained` and run first by the shim); `uninstall` puts every file back
//!   exactly as it was and removes orphaned shims of ours (e.g. one lefthook renamed to
//!   `NAME.old`); both are idempotent.

use std::path::{Path, PathBuf};

use super::Repo;

/// The hooks and their shims (the files in the repository's `hooks/` folder).
pub const SHIMS: &[(&str, &str)] = &[
    ("pre-commit", include_str!("../../hooks/pre-commit")),
    ("pre-push", include_str!("../../hooks/pre-push")),
    ("post-merge", include_str!("../../hooks/post-merge")),
    ("post-checkout", include_str!("../../hooks/post-checkout")),
    ("post-rewrite", include_str!("../../hooks/post-rewrite")),
];

/// The line that marks a shim as ours (any version).
const MARKER: &str = "# rustassistant-hook v";
/// Suffix of a chained foreign hook.
pub const CHAINED: &str = ".rustassistant-chained";
/// Suffixes under which other tools leave a hook they displaced: lefthook renames a foreign
/// hook to `NAME.old` (and does not run it); the pre-commit framework to `NAME.legacy` (and runs
/// it first).
const DISPLACED: &[&str] = &[".old", ".legacy"];
/// What a manager's config must run for hook `NAME`.
pub fn run_line(name: &str) -> String {
    format!("rustassistant hooks run {name}")
}

/// Who owns the hooks git runs.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Manager {
    /// A plain hooks folder: the shims are installed there.
    Plain,
    /// husky: `core.hooksPath` is `.husky/_`; the user's scripts are `.husky/NAME`.
    Husky {
        /// The folder of the user's scripts (`.husky`).
        scripts: PathBuf,
    },
    /// lefthook: a `lefthook.yml` (or its variants) in the work tree, or hooks it generated.
    Lefthook {
        /// Its config file, when found.
        config: Option<PathBuf>,
    },
    /// The pre-commit framework: `.pre-commit-config.yaml`, or a hook it generated.
    PreCommit {
        /// Its config file, when found.
        config: Option<PathBuf>,
    },
    /// `core.hooksPath` points into the work tree: a folder the team shares.
    Tracked,
}

impl Manager {
    /// A short name for messages.
    pub fn name(&self) -> &'static str {
        match self {
            Manager::Plain => "plain",
            Manager::Husky { .. } => "husky",
            Manager::Lefthook { .. } => "lefthook",
            Manager::PreCommit { .. } => "pre-commit",
            Manager::Tracked => "a hooks folder in the work tree",
        }
    }
}

/// What happened to one hook.
#[derive(Debug, Clone, serde::Serialize)]
pub struct HookChange {
    /// Hook name.
    pub name: String,
    /// What was done.
    pub action: Action,
    /// Details (a reason, or a file).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// What `install` or `uninstall` did to one hook.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// Our shim written where there was none.
    Installed,
    /// Our shim rewritten.
    Updated,
    /// A foreign hook kept (renamed) and run first by our shim.
    Chained,
    /// Our shim removed.
    Removed,
    /// A foreign hook put back.
    Restored,
    /// Nothing there.
    Absent,
    /// An orphaned shim of ours removed.
    OrphanRemoved,
    /// A manager owns this hook: nothing written; the user adds a line to its config.
    Manual,
    /// Not done; `detail` says why.
    Skipped,
}

/// One instruction for a manager's config.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Instruction {
    /// Hook name.
    pub hook: String,
    /// The file to edit.
    pub file: String,
    /// What to add.
    pub add: String,
}

/// The folder git runs hooks from: `core.hooksPath` (relative to the work tree) when set,
/// else the common git dir's `hooks`.
pub fn hooks_dir(repo: &Repo) -> PathBuf {
    match configured_hooks_path(repo) {
        Some(p) if p.is_absolute() => p,
        Some(p) => repo.workdir().join(p),
        None => repo.commondir.join("hooks"),
    }
}

fn configured_hooks_path(repo: &Repo) -> Option<PathBuf> {
    repo.git()
        .config()
        .ok()
        .and_then(|c| c.get_path("core.hooksPath").ok())
}

/// Config files lefthook reads.
const LEFTHOOK_CONFIGS: &[&str] = &[
    "lefthook.yml",
    ".lefthook.yml",
    "lefthook.yaml",
    ".lefthook.yaml",
    "lefthook.toml",
    ".lefthook.toml",
    "lefthook.json",
    ".lefthook.json",
];

/// Who owns the hooks of this repository.
pub fn manager(repo: &Repo) -> Manager {
    let dir = hooks_dir(repo);
    let wt = repo.workdir();
    if configured_hooks_path(repo).is_some() {
        let husky = dir.file_name().is_some_and(|n| n == "_")
            && dir
                .parent()
                .and_then(Path::file_name)
                .is_some_and(|n| n == ".husky");
        if husky {
            return Manager::Husky {
                scripts: dir.parent().unwrap_or(&dir).to_path_buf(),
            };
        }
        if dir.file_name().is_some_and(|n| n == ".husky") {
            // husky v4–v8 layout: the scripts are the hooks themselves.
            return Manager::Husky {
                scripts: dir.clone(),
            };
        }
        let canon = dir.canonicalize().unwrap_or(dir.clone());
        if canon.starts_with(wt) {
            return Manager::Tracked;
        }
    }
    let generated_by = |needle: &str| {
        SHIMS.iter().any(|(name, _)| {
            read_small(&dir.join(name)).is_some_and(|t| t.contains(needle) && !t.contains(MARKER))
        })
    };
    let lefthook_config = LEFTHOOK_CONFIGS
        .iter()
        .map(|c| wt.join(c))
        .find(|p| p.is_file());
    if lefthook_config.is_some() || generated_by("lefthook") {
        return Manager::Lefthook {
            config: lefthook_config,
        };
    }
    let pc = wt.join(".pre-commit-config.yaml");
    if pc.is_file() || generated_by("File generated by pre-commit") {
        return Manager::PreCommit {
            config: pc.is_file().then_some(pc),
        };
    }
    Manager::Plain
}

/// A hook file's text, bounded (hooks are small scripts; a large file is not one to inspect).
fn read_small(p: &Path) -> Option<String> {
    crate::util::fs::read_user_file(p, 1024 * 1024)
        .ok()
        .map(|b| String::from_utf8_lossy(&b).into_owned())
}

fn is_ours(path: &Path) -> bool {
    read_small(path).is_some_and(|t| t.contains(MARKER))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

fn make_executable(p: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mut perm = std::fs::metadata(p)?.permissions();
    perm.set_mode(0o755);
    std::fs::set_permissions(p, perm)
}

/// Whether this manager owns hook `name` (so nothing of ours is written there).
fn owned_by_manager(m: &Manager, dir: &Path, name: &str) -> bool {
    match m {
        Manager::Plain => false,
        Manager::Husky { .. } | Manager::Tracked | Manager::Lefthook { .. } => true,
        // The framework owns the hook types it installed (pre-commit by default); it runs a
        // displaced hook as `NAME.legacy`, so the others can stay plain.
        Manager::PreCommit { .. } => {
            name == "pre-commit"
                || read_small(&dir.join(name))
                    .is_some_and(|t| t.contains("File generated by pre-commit"))
        }
    }
}

/// The line to add for hook `name` under manager `m`: (file, text).
pub fn instruction(repo: &Repo, m: &Manager, name: &str) -> Option<Instruction> {
    let rel = |p: &Path| {
        p.strip_prefix(repo.workdir())
            .unwrap_or(p)
            .display()
            .to_string()
    };
    let (file, add) = match m {
        Manager::Plain => return None,
        Manager::Husky { scripts } => (
            rel(&scripts.join(name)),
            format!("{} \"$@\"", run_line(name)),
        ),
        Manager::Tracked => (
            rel(&hooks_dir(repo).join(name)),
            format!("{} \"$@\"", run_line(name)),
        ),
        Manager::Lefthook { config } => (
            config
                .as_deref()
                .map(rel)
                .unwrap_or_else(|| "lefthook.yml".into()),
            format!(
                "{name}:\n  commands:\n    rustassistant:\n      run: {}{}",
                run_line(name),
                match name {
                    "pre-push" | "post-rewrite" => "\n      use_stdin: true",
                    "post-checkout" => " {1} {2} {3}",
                    _ => "",
                }
            ),
        ),
        Manager::PreCommit { config } => (
            config
                .as_deref()
                .map(rel)
                .unwrap_or_else(|| ".pre-commit-config.yaml".into()),
            format!(
                "- repo: local\n  hooks:\n    - id: rustassistant\n      name: rustassistant\n      entry: {}\n      language: system\n      pass_filenames: false\n      always_run: true{}",
                run_line(name),
                if name == "pre-commit" {
                    String::new()
                } else {
                    format!("\n      stages: [{name}]")
                }
            ),
        ),
    };
    Some(Instruction {
        hook: name.to_string(),
        file,
        add,
    })
}

/// What `install` did: per-hook changes, and the lines a manager's config needs.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Installed {
    /// The folder git runs hooks from.
    pub hooks_dir: PathBuf,
    /// Who owns it.
    pub manager: Manager,
    /// Per hook.
    pub changes: Vec<HookChange>,
    /// Lines to add to the manager's config (empty for a plain folder).
    pub instructions: Vec<Instruction>,
}

/// Install every shim where git will run it, or, for hooks a manager owns, work out the line
/// to add; `bin` is embedded as the fallback when `rustassistant` is not on PATH.
pub fn install(repo: &Repo, bin: &Path) -> anyhow::Result<Installed> {
    let dir = hooks_dir(repo);
    let m = manager(repo);
    let mut changes = Vec::new();
    let mut instructions = Vec::new();
    for (name, shim) in SHIMS {
        let target = dir.join(name);
        let chained = dir.join(format!("{name}{CHAINED}"));
        if owned_by_manager(&m, &dir, name) {
            // An earlier version may have put a shim of ours here: give the manager its file
            // back before anything else.
            if is_ours(&target) && chained.exists() {
                std::fs::rename(&chained, &target)?;
            }
            if let Some(i) = instruction(repo, &m, name) {
                instructions.push(i);
            }
            changes.push(HookChange {
                name: name.to_string(),
                action: Action::Manual,
                detail: Some(format!("owned by {}", m.name())),
            });
            continue;
        }
        let text = shim.replace("@INSTALLED_BIN@", &shell_quote(&bin.display().to_string()));
        std::fs::create_dir_all(&dir)?;
        let action = if target.exists() && !is_ours(&target) {
            if chained.exists() {
                changes.push(HookChange {
                    name: name.to_string(),
                    action: Action::Skipped,
                    detail: Some(format!(
                        "both {} and {} exist; merge them by hand",
                        target.display(),
                        chained.display()
                    )),
                });
                continue;
            }
            std::fs::rename(&target, &chained)?;
            Action::Chained
        } else if target.exists() {
            Action::Updated
        } else {
            Action::Installed
        };
        crate::util::write_atomic(&target, text.as_bytes())?;
        make_executable(&target)?;
        changes.push(HookChange {
            name: name.to_string(),
            action,
            detail: None,
        });
    }
    let git = repo.git();
    let mut cfg = git.config()?;
    cfg.set_str(
        "merge.rustassistant.name",
        "rustassistant cache entries (earliest result wins)",
    )?;
    cfg.set_str(
        "merge.rustassistant.driver",
        "rustassistant merge-entry %O %A %B",
    )?;
    cfg.set_str(
        "diff.rustassistant.textconv",
        "rustassistant cat --textconv",
    )?;
    Ok(Installed {
        hooks_dir: dir,
        manager: m,
        changes,
        instructions,
    })
}

/// Remove every shim of ours (orphans included) and put chained hooks back. A manager's files
/// are never touched.
pub fn uninstall(repo: &Repo) -> anyhow::Result<Vec<HookChange>> {
    let dir = hooks_dir(repo);
    let m = manager(repo);
    let mut out = Vec::new();
    for (name, _) in SHIMS {
        let target = dir.join(name);
        let chained = dir.join(format!("{name}{CHAINED}"));
        let (action, detail) = if target.exists() && !is_ours(&target) {
            (
                Action::Skipped,
                Some(if owned_by_manager(&m, &dir, name) {
                    format!(
                        "owned by {}: remove the rustassistant line from its config",
                        m.name()
                    )
                } else {
                    "not ours".to_string()
                }),
            )
        } else {
            let had = target.exists();
            if had {
                std::fs::remove_file(&target)?;
            }
            if chained.exists() {
                std::fs::rename(&chained, &target)?;
                (Action::Restored, None)
            } else if had {
                (Action::Removed, None)
            } else {
                (Action::Absent, None)
            }
        };
        out.push(HookChange {
            name: name.to_string(),
            action,
            detail,
        });
        for suffix in DISPLACED {
            let displaced = dir.join(format!("{name}{suffix}"));
            if is_ours(&displaced) {
                std::fs::remove_file(&displaced)?;
                out.push(HookChange {
                    name: name.to_string(),
                    action: Action::OrphanRemoved,
                    detail: Some(displaced.display().to_string()),
                });
            }
        }
    }
    let git = repo.git();
    let mut cfg = git.config()?;
    for k in [
        "merge.rustassistant.name",
        "merge.rustassistant.driver",
        "diff.rustassistant.textconv",
    ] {
        let _ = cfg.remove(k);
    }
    Ok(out)
}

/// Whether one hook will really run rustassistant.
#[derive(Debug, Clone, serde::Serialize)]
pub struct HookStatus {
    /// Hook name.
    pub name: String,
    /// The file git runs.
    pub file: PathBuf,
    /// Who owns it: `rustassistant`, `husky`, `lefthook`, `pre-commit`, `other`, `none`.
    pub owner: String,
    /// Whether a commit (push, merge…) will run `rustassistant hooks run NAME`.
    pub runs: bool,
    /// Why, in a sentence.
    pub why: String,
    /// Shims of ours that no longer run (`hooks uninstall` removes them).
    pub orphans: Vec<PathBuf>,
}

/// Which hooks will really run rustassistant, and why.
pub fn status(repo: &Repo) -> (Manager, Vec<HookStatus>) {
    let dir = hooks_dir(repo);
    let m = manager(repo);
    let mut out = Vec::new();
    for (name, _) in SHIMS {
        let file = dir.join(name);
        let text = read_small(&file);
        let line = run_line(name);
        let calls_us = |t: &Option<String>| t.as_deref().is_some_and(|t| t.contains(&line));
        let mut orphans = Vec::new();
        let mut legacy_runs = false;
        for suffix in DISPLACED {
            let displaced = dir.join(format!("{name}{suffix}"));
            if is_ours(&displaced) {
                if *suffix == ".legacy" && text.as_deref().is_some_and(|t| t.contains("pre-commit"))
                {
                    legacy_runs = true;
                } else {
                    orphans.push(displaced);
                }
            }
        }
        let (owner, runs, why) = match (&m, &text) {
            (Manager::Husky { scripts }, _) => {
                let script = scripts.join(name);
                let shim_ok = is_executable(&file);
                let calls = calls_us(&read_small(&script));
                (
                    "husky".to_string(),
                    shim_ok && calls,
                    if !shim_ok {
                        format!(
                            "husky's shim {} is missing: run `npx husky`",
                            file.display()
                        )
                    } else if calls {
                        format!("{} runs `{line}`", script.display())
                    } else {
                        format!("add `{line}` to {}", script.display())
                    },
                )
            }
            (Manager::Tracked, t) => (
                "other".to_string(),
                calls_us(t) && is_executable(&file),
                if calls_us(t) {
                    format!("{} runs `{line}`", file.display())
                } else {
                    format!(
                        "add `{line}` to {} (a folder the team shares)",
                        file.display()
                    )
                },
            ),
            (_, None) => ("none".to_string(), false, "no hook installed".to_string()),
            (_, Some(t)) if t.contains(MARKER) => (
                "rustassistant".to_string(),
                is_executable(&file),
                if is_executable(&file) {
                    "our shim".to_string()
                } else {
                    "our shim is not executable: run `rustassistant hooks install`".to_string()
                },
            ),
            (_, Some(t)) if t.contains("lefthook") => {
                let config = match &m {
                    Manager::Lefthook { config: Some(c) } => read_small(c),
                    _ => None,
                };
                let calls = calls_us(&config);
                (
                    "lefthook".to_string(),
                    calls,
                    if calls {
                        "lefthook's config runs it".to_string()
                    } else {
                        format!("add `{line}` to lefthook's config for {name}")
                    },
                )
            }
            (_, Some(t)) if t.contains("File generated by pre-commit") => {
                let config = match &m {
                    Manager::PreCommit { config: Some(c) } => read_small(c),
                    _ => None,
                };
                let calls = calls_us(&config) || legacy_runs;
                (
                    "pre-commit".to_string(),
                    calls,
                    if legacy_runs {
                        "pre-commit runs our shim as its legacy hook".to_string()
                    } else if calls {
                        "the pre-commit config runs it".to_string()
                    } else {
                        format!("add a local hook with `entry: {line}` to .pre-commit-config.yaml")
                    },
                )
            }
            (_, t) => (
                "other".to_string(),
                calls_us(t) && is_executable(&file),
                if calls_us(t) {
                    "the hook runs it".to_string()
                } else {
                    "a hook of someone else's that does not run rustassistant".to_string()
                },
            ),
        };
        out.push(HookStatus {
            name: name.to_string(),
            file,
            owner,
            runs,
            why,
            orphans,
        });
    }
    (m, out)
}
