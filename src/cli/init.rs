//! `rustassistant init`

use anyhow::{Context as _, Result};

use crate::session::Session;

/// Create .rustassistant/ in the repository: README.md, config.toml with commented defaults,
/// .gitattributes (merge driver and diff textconv for entries) and cache/. Safe to run again:
/// existing files are never overwritten.
#[derive(Debug, clap::Args)]
pub struct InitArgs {
    /// Also install the git hooks (pre-commit, pre-push, post-merge, …).
    #[arg(long)]
    pub hooks: bool,
}

const README: &str = "# .rustassistant\n\nThis folder is the analysis cache of [rustassistant](https://crates.io/crates/rustassistant).\n\
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

const GITIGNORE: &str =
    "# Temporary files of interrupted writes; never commit them.\ncache/**/.tmp-*\n";

/// Create whatever is missing; returns whether anything was created.
pub fn ensure(session: &Session) -> Result<bool> {
    let root = session.store.root();
    let mut created = false;
    // Never create files through a committed symlink.
    session
        .store
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

/// Run `init`.
pub fn run(session: &Session, args: &InitArgs) -> Result<i32> {
    let created = ensure(session)?;
    let root = session.store.root();
    if created {
        session
            .out
            .line(&format!("✨ Initialised {}", root.display()));
        session.out.line(
            "   Next: rustassistant analyze --all, then commit .rustassistant/ with your code.",
        );
    } else {
        session
            .out
            .line(&format!("✔ {} is already set up", root.display()));
    }
    if args.hooks {
        super::hooks::install(session)?;
    }
    if session.out.json {
        session
            .out
            .json_doc(&serde_json::json!({"root": root, "created": created}));
    }
    Ok(0)
}
