//! `rustassistant init`

use anyhow::Result;

use crate::error::Exit;

use crate::cache::layout::ensure;

use crate::workspace::Workspace;

/// Create .rustassistant/ in the repository: README.md, config.toml with commented defaults,
/// .gitattributes (shards merge with git's union driver) and cache/. Safe to run again:
/// existing files are never overwritten, except a .gitattributes an earlier version wrote.
#[derive(Debug, clap::Args)]
pub struct InitArgs {
    /// Also install the git hooks (pre-commit, pre-push, post-merge, …).
    #[arg(long)]
    pub hooks: bool,
}

/// Run `init`.
pub fn run(session: &Workspace, args: &InitArgs) -> Result<Exit> {
    let created = ensure(&session.store)?;
    if crate::cache::layout::update_attributes(&session.store)? {
        session
            .out
            .line("✔ .rustassistant/.gitattributes now merges shards with git's union driver");
    }
    if let Some(hint) = session.store.old_layout_hint() {
        session.out.warn(&hint);
    }
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
    Ok(Exit::Success)
}
