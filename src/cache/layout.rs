//! The skeleton of `.rustassistant/` that `init` (and the first `analyze` or commit hook)
//! creates: README, commented config, `.gitattributes`, `.gitignore`, `cache/`. Existing files
//! are never overwritten, and nothing is created through a symlink.

use anyhow::{Context as _, Result};

use super::Store;

/// `.rustassistant/README.md`, for someone browsing the repository.
pub const README: &str = "# .rustassistant\n\nThis folder is the analysis cache of [rustassistant](https://crates.io/crates/rustassistant).\n\
Each line of `cache/<type>/<b0b1>.jsonl` holds one analysis result (refactoring suggestions,\n\
module docs, a quality review, TODOs, metrics) for one version of one source file, keyed by that\n\
content's git blob id (the shard is named by its first two hex digits) plus the model and prompt\n\
that produced it. It is committed with the code so that nobody pays for the same analysis twice:\n\
after `git pull`, `rustassistant analyze` reuses it.\n\n\
- `config.toml`: team settings (provider, model, analysis types, include/exclude).\n\
- `prompts/<type>.md`: optional overrides of the built-in prompt templates.\n\
- `.gitattributes`: shards merge with git's built-in `union` driver, so merges never conflict here.\n\n\
Lines are plain data: deleting any of them only means it is computed again.\n";

/// Shards merge with git's built-in union driver: any clone merges them without conflicts,
/// with or without this tool.
pub const GITATTRIBUTES: &str =
    "# Written by rustassistant. Shards hold one entry per line: git's built-in union merge\n\
# keeps both sides' lines, and readers resolve duplicates (the earliest created_at wins).\n\
cache/**/*.jsonl merge=union\n";

/// The `.gitattributes` earlier versions wrote (replaced by `cache migrate` and `init`).
const OLD_GITATTRIBUTES_MARK: &str = "cache/**/*.json merge=rustassistant";

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

/// Replace a `.gitattributes` an earlier version wrote (per-entry files, our merge driver)
/// with the shard one; a file the team wrote themselves is left alone. Returns whether it
/// changed.
pub fn update_attributes(store: &Store) -> Result<bool> {
    let p = store.root().join(".gitattributes");
    let Ok(Some(old)) = crate::util::fs::read_in_tree(
        store.root().parent().unwrap_or(store.root()),
        std::path::Path::new(".rustassistant/.gitattributes"),
        64 * 1024,
    ) else {
        return Ok(false);
    };
    let old = String::from_utf8_lossy(&old);
    if !old.contains(OLD_GITATTRIBUTES_MARK) || old.contains("*.jsonl") {
        return Ok(false);
    }
    crate::util::write_atomic(&p, GITATTRIBUTES.as_bytes())
        .with_context(|| format!("writing {}", p.display()))?;
    Ok(true)
}

impl Store {
    /// Create the work-tree folder of `cache_type` with all of its 256 shards, empty. A type's
    /// shards exist from its first commit on, so that every later commit only modifies them:
    /// a cherry-pick, revert or rebase of a commit that touched a shard never meets a branch
    /// where that shard was never created (a modify/delete conflict). Existing files are left
    /// as they are. The caller holds the cache lock.
    pub fn create_type_folder(&self, cache_type: &str) -> std::io::Result<()> {
        let dir = self.cache_dir().join(cache_type);
        self.check_dir(&dir)?;
        std::fs::create_dir_all(&dir)?;
        for b in 0..=255u8 {
            let p = dir.join(format!("{b:02x}{}", super::shard::SUFFIX));
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&p)
            {
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// The shard names of a type's full set, below `cache/`.
    pub fn full_set(cache_type: &str) -> impl Iterator<Item = super::shard::ShardId> + '_ {
        (0..=255u8).map(move |b| super::shard::ShardId {
            cache_type: cache_type.to_string(),
            prefix: format!("{b:02x}"),
        })
    }
}
