//! `hooks status`: for each hook, whether a commit (push, merge…) will really run
//! `rustassistant hooks run NAME`, who owns the file git runs, and orphaned shims of ours.

use std::path::PathBuf;

use super::{
    is_executable, is_ours, locate, read_small, run_line, Manager, DISPLACED, LEFTHOOK_GENERATED,
    MARKER, PRE_COMMIT_GENERATED, SHIMS,
};
use crate::git::Repo;

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

/// Whether a `git commit` in `repo` will run rustassistant's pre-commit hook: this decides
/// where `analyze` writes (DESIGN.md, "Where entries go").
pub fn commit_hook_runs(repo: &Repo) -> bool {
    pre_commit_runs(&status(repo).1)
}

/// Whether, by `hooks` (what [`status`] found), rustassistant's pre-commit hook runs.
pub fn pre_commit_runs(hooks: &[HookStatus]) -> bool {
    hooks.iter().any(|h| h.name == "pre-commit" && h.runs)
}

/// Which hooks will really run rustassistant, and why.
pub fn status(repo: &Repo) -> (Manager, Vec<HookStatus>) {
    let (dir, m) = locate(repo);
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
                // The framework runs a displaced hook it renamed to NAME.legacy.
                let framework_hook = text
                    .as_deref()
                    .is_some_and(|t| t.contains(PRE_COMMIT_GENERATED));
                if *suffix == ".legacy" && framework_hook {
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
            (_, Some(t)) if t.contains(LEFTHOOK_GENERATED) => {
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
            (_, Some(t)) if t.contains(PRE_COMMIT_GENERATED) => {
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
