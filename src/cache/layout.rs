//! The skeleton of `.rustassistant/` that `init` (and the first `analyze` or commit hook)
//! creates: README, commented config, `.gitattributes`, `.gitignore`, `cache/`. Existing files
//! are never overwritten, and nothing is created through a symlink.

use anyhow::{Context as _, Result};

use super::Store;

/// `.rustassistant/README.md`, for someone browsing the repository.
pub const README: &str = "# .rustassistant\n\nThis folder is the analysis cache of [rustassistant](https://crates.io/crates/rustassistant).\n\
Each file under `cache/<type>/` holds one analysis result (refactoring suggestions, module docs,\n\
a quality review, TODOs, metrics) for one version of one source file, named by that content's\n\
git blob id plus the model and prompt that produced it. It is committed with the code so that\n\
nobody pays for the same analysis twice: after `git pull`, `rustassistant analyze` reuses it.\n\n\
- `config.toml`: team settings (provider, model, analysis types, include/exclude, compression).\n\
- `prompts/<type>.md`: optional overrides of the built-in prompt templates.\n\
- `.gitattributes`: merges entries with `rustassistant merge-entry`, diffs `.json.zst` with `rustassistant cat --textconv`.\n\n\
Entries are plain data: deleting any of them only means it is computed again.\n";

/// Routes entries to the merge driver, compressed entries to the textconv.
pub const GITATTRIBUTES: &str =
    "# Written by rustassistant init. Entries merge deterministically (earliest created_at wins)\n\
# and compressed entries diff as JSON; `rustassistant hooks install` configures both drivers.\n\
cache/**/*.json merge=rustassistant\n\
cache/**/*.json.zst merge=rustassistant diff=rustassistant -text\n";

/// `.rustassistant/.gitignore`: temporary files of interrupted writes.
pub const GITIGNORE: &str =
    "# Temporary files of interrupted writes (entries, config.toml); never commit them.\n.tmp-*\n";

/// Create whatever is missing; returns whether anything was created.
pub fn ensure(store: &Store) -> Result<bool> {
    let root = store.root();
    let mut created = false;
    // Never create files through a committed symlink.
    store
        .check_dir(&root.join("cache"))
        .map_err(|e| crate::error::UserError::Input(e.to_string()))?;
    std::fs::create_dir_all(root.join("cache"))
        .with_context(|| format!("creating {}", root.display()))?;
    for (name, content) in [
        ("README.md", README),
        ("config.toml", crate::config::DEFAULT_CONFIG_TOML),
        (".gitattributes", GITATTRIBUTES),
        (".gitignore", GITIGNORE),
        ("cache/.gitkeep", ""),
    ] {
        let p = root.join(name);
        if std::fs::symlink_metadata(&p).is_err() {
            crate::util::write_atomic(&p, content.as_bytes())
                .with_context(|| format!("writing {}", p.display()))?;
            created = true;
        }
    }
    Ok(created)
}
