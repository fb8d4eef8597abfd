//! Installing the hook shims into the folder git really uses, chaining any hook already there,
//! and configuring the merge driver and diff textconv for entries.
//!
//! What callers may rely on: `install` never loses a hook (a foreign one is renamed to
//! `NAME.rustassistant-chained` and run first by the shim); `uninstall` puts every file back
//! exactly as it was (a rename, so bytes and mode are preserved); both are idempotent.

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

/// What happened to one hook.
#[derive(Debug, Clone, serde::Serialize)]
pub struct HookChange {
    /// Hook name.
    pub name: String,
    /// `installed`, `updated`, `chained` (a foreign hook kept and run first), `removed`,
    /// `restored` (the foreign hook put back), `absent`, or `skipped: reason`.
    pub action: String,
}

/// The folder git runs hooks from: `core.hooksPath` (relative to the work tree) when set,
/// else the common git dir's `hooks`.
pub fn hooks_dir(repo: &Repo) -> PathBuf {
    let configured = repo
        .git()
        .config()
        .ok()
        .and_then(|c| c.get_path("core.hooksPath").ok());
    match configured {
        Some(p) if p.is_absolute() => p,
        Some(p) => repo.workdir().join(p),
        None => repo.commondir.join("hooks"),
    }
}

fn is_ours(path: &Path) -> bool {
    std::fs::read_to_string(path)
        .map(|t| t.contains(MARKER))
        .unwrap_or(false)
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

/// Install every shim; `bin` is embedded as the fallback when `rustassistant` is not on PATH.
pub fn install(repo: &Repo, bin: &Path) -> anyhow::Result<Vec<HookChange>> {
    let dir = hooks_dir(repo);
    std::fs::create_dir_all(&dir)?;
    let mut out = Vec::new();
    for (name, shim) in SHIMS {
        let target = dir.join(name);
        let chained = dir.join(format!("{name}{CHAINED}"));
        let text = shim.replace("@INSTALLED_BIN@", &shell_quote(&bin.display().to_string()));
        let action = if target.exists() && !is_ours(&target) {
            if chained.exists() {
                out.push(HookChange {
                    name: name.to_string(),
                    action: format!(
                        "skipped: both {} and {} exist; merge them by hand",
                        target.display(),
                        chained.display()
                    ),
                });
                continue;
            }
            std::fs::rename(&target, &chained)?;
            "chained"
        } else if target.exists() {
            "updated"
        } else {
            "installed"
        };
        crate::util::write_atomic(&target, text.as_bytes())?;
        make_executable(&target)?;
        out.push(HookChange {
            name: name.to_string(),
            action: action.to_string(),
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
    Ok(out)
}

/// Remove every shim of ours and put chained hooks back.
pub fn uninstall(repo: &Repo) -> anyhow::Result<Vec<HookChange>> {
    let dir = hooks_dir(repo);
    let mut out = Vec::new();
    for (name, _) in SHIMS {
        let target = dir.join(name);
        let chained = dir.join(format!("{name}{CHAINED}"));
        let action = if target.exists() && !is_ours(&target) {
            "skipped: not ours".to_string()
        } else {
            let had = target.exists();
            if had {
                std::fs::remove_file(&target)?;
            }
            if chained.exists() {
                std::fs::rename(&chained, &target)?;
                "restored".to_string()
            } else if had {
                "removed".to_string()
            } else {
                "absent".to_string()
            }
        };
        out.push(HookChange {
            name: name.to_string(),
            action,
        });
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
