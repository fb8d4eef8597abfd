//! `trust [--revoke]`

use anyhow::Result;
use serde_json::json;

use crate::config::{trust, ConfigFile, Env, MAX_CONFIG_BYTES, REPO_CONFIG};
use crate::error::{Exit, UserError};
use crate::git::Repo;
use crate::output::Printer;

/// Trust this repository's .rustassistant/config.toml exactly as it is now.
///
/// A repository's config is written by whoever committed last, so until you trust it, it may
/// only choose what to analyse and ask for more safety. Ignored until trusted: [llm] base_url
/// (where your key goes), [budget], [pricing], [analysis] allow_secrets, lowering
/// [cache] require_signature, and timeouts or limits above the defaults. Review the file, then
/// run this: its sha256 is recorded in $RUSTASSISTANT_HOME/trusted.tsv, and any later change to
/// the file needs a new trust (like direnv allow).
#[derive(Debug, clap::Args)]
pub struct TrustArgs {
    /// Forget the trust of this repository's config.
    #[arg(long)]
    pub revoke: bool,
}

/// Run `trust`.
pub fn run(repo: &Repo, env: &Env, out: Printer, args: &TrustArgs) -> Result<Exit> {
    let path = repo.workdir().join(REPO_CONFIG);
    if args.revoke {
        let had = trust::revoke(env, &path)?;
        if out.json {
            out.json_doc(&json!({"path": path, "revoked": had}));
        } else if had {
            out.line(&format!("🔒 No longer trusting {}", path.display()));
        } else {
            out.line(&format!("{} was not trusted", path.display()));
        }
        return Ok(Exit::Success);
    }
    let bytes = crate::util::fs::read_in_tree(
        repo.workdir(),
        std::path::Path::new(REPO_CONFIG),
        MAX_CONFIG_BYTES,
    )
    .map_err(|e| UserError::Input(e.to_string()))?
    .ok_or_else(|| {
        UserError::Input(format!(
            "{}: no such file (nothing to trust; `rustassistant init` creates it)",
            path.display()
        ))
    })?;
    let text = String::from_utf8_lossy(&bytes);
    // A file that does not parse is not trusted: the user could not have reviewed what it does.
    let parsed = ConfigFile::parse(&text, &path)?;
    let (_, unlocks) = trust::restrict(parsed, false);
    let sha = crate::util::sha256_hex(&bytes);
    let list = trust::trust(env, &path, &sha)?;
    if out.json {
        out.json_doc(&json!({
            "path": path,
            "sha256": sha,
            "trusted": true,
            "unlocks": unlocks,
            "trust_file": list,
        }));
        return Ok(Exit::Success);
    }
    out.line(&format!(
        "🔓 Trusting {} (sha256 {})",
        path.display(),
        &sha[..16]
    ));
    if unlocks.is_empty() {
        out.line(
            "   It sets nothing that needs trust today; a later change will need a new trust.",
        );
    } else {
        out.line("   Now in effect:");
        for u in &unlocks {
            out.line(&format!("     {u}"));
        }
    }
    out.line(
        "   Any change to the file needs `rustassistant trust` again; `--revoke` undoes this.",
    );
    Ok(Exit::Success)
}
