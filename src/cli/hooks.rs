//! `hooks install | uninstall | run NAME`

use std::io::Read;
use std::path::PathBuf;

use anyhow::Result;
use serde_json::json;

use crate::cache::shard::ShardId;
use crate::cache::Key;
use crate::config::{PreCommitMode, PrePushMode};
use crate::error::{Exit, UserError};
use crate::git::hooks::{hooks_dir, Action, HookChange};
use crate::index::Index;
use crate::output::{count, sanitize};
use crate::workspace::Workspace;

/// Git hooks that keep the cache in step with commits, pulls and pushes.
#[derive(Debug, clap::Subcommand)]
pub enum HooksCmd {
    /// Install the hooks (pre-commit, pre-push, post-merge, post-checkout, post-rewrite) where
    /// git runs them (core.hooksPath respected), chaining any hook already there, and set the
    /// merge driver and diff textconv for entries in .git/config.
    ///
    /// Under a hook manager (husky, lefthook, the pre-commit framework) or a hooks folder in the
    /// work tree, nothing of the manager's is renamed or rewritten: the command prints the one
    /// line to add to the manager's config instead.
    Install,
    /// Remove the hooks, restore whatever was there before byte for byte, and remove orphaned
    /// shims (e.g. one lefthook renamed to NAME.old).
    Uninstall,
    /// Say which hooks will really run rustassistant, and why not where they will not.
    Status,
    /// Run one hook (what the installed shims call).
    Run {
        /// pre-commit, pre-push, post-merge, post-checkout or post-rewrite.
        name: String,
        /// The arguments git passed to the hook.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
}

/// Run a hooks subcommand.
pub fn run(session: &Workspace, cmd: HooksCmd) -> Result<Exit> {
    match cmd {
        HooksCmd::Install => install(session),
        HooksCmd::Uninstall => {
            let changes = crate::git::hooks::uninstall(&session.repo)?;
            let out = session.out;
            if out.json {
                out.json_doc(&json!({"hooks_dir": hooks_dir(&session.repo), "changes": changes}));
                return Ok(Exit::Success);
            }
            for c in &changes {
                out.detail(&format!("  {}: {}", c.name, describe(c)));
            }
            let orphans = changes
                .iter()
                .filter(|c| c.action == Action::OrphanRemoved)
                .count();
            out.line(&format!(
                "🪝 Hooks uninstalled from {}{}",
                hooks_dir(&session.repo).display(),
                match orphans {
                    0 => String::new(),
                    n => format!(" ({} removed)", count(n, "orphaned shim", "orphaned shims")),
                }
            ));
            for c in changes.iter().filter(|c| c.action == Action::Skipped) {
                out.warn(&format!("{}: {}", c.name, describe(c)));
            }
            Ok(Exit::Success)
        }
        HooksCmd::Status => status(session),
        HooksCmd::Run { name, args } => match name.as_str() {
            "pre-commit" => pre_commit(session),
            "pre-push" => pre_push(session),
            "post-merge" | "post-rewrite" => after_rewrite(session, &name, &args),
            // post-checkout: the local index follows the checkout, silently (a branch switch
            // is not news; FLAG 0, a file checkout, changes no shard).
            "post-checkout" => {
                if args.get(2).map(String::as_str) != Some("0") {
                    let _ = Index::open(session);
                }
                Ok(Exit::Success)
            }
            other => Err(UserError::Usage(format!(
                "unknown hook `{}` (known: pre-commit, pre-push, post-merge, post-checkout, post-rewrite)",
                sanitize(other)
            ))
            .into()),
        },
    }
}

fn describe(c: &HookChange) -> String {
    let a = serde_json::to_value(c.action)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    match &c.detail {
        Some(d) => format!("{a} ({d})"),
        None => a,
    }
}

/// `hooks install`, also used by `init --hooks`.
pub fn install(session: &Workspace) -> Result<Exit> {
    let bin = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("rustassistant"));
    let done = crate::git::hooks::install(&session.repo, &bin)?;
    let out = session.out;
    let skipped = done.changes.iter().any(|c| c.action == Action::Skipped);
    if out.json {
        out.json_doc(&serde_json::to_value(&done)?);
        return Ok(if skipped {
            Exit::Failure
        } else {
            Exit::Success
        });
    }
    for c in &done.changes {
        if c.action == Action::Skipped {
            out.warn(&format!("{}: {}", c.name, describe(c)));
        } else {
            out.detail(&format!("  {}: {}", c.name, describe(c)));
        }
    }
    let written = done
        .changes
        .iter()
        .filter(|c| {
            matches!(
                c.action,
                Action::Installed | Action::Updated | Action::Chained
            )
        })
        .count();
    let kept = done
        .changes
        .iter()
        .filter(|c| c.action == Action::Chained)
        .count();
    if written > 0 {
        out.line(&format!(
            "🪝 Hooks installed in {}{}",
            done.hooks_dir.display(),
            match kept {
                0 => String::new(),
                n => format!(
                    " ({} kept and chained)",
                    count(n, "existing hook", "existing hooks")
                ),
            }
        ));
    }
    if !done.instructions.is_empty() {
        out.line(&format!(
            "🪝 {} owns {}: rustassistant leaves its files alone. To run rustassistant's hooks, add:",
            done.manager.name(),
            if written > 0 { "some hooks" } else { "the hooks" },
        ));
        for i in &done.instructions {
            out.line(&format!("   to {} ({}):", i.file, i.hook));
            for l in i.add.lines() {
                out.line(&format!("       {l}"));
            }
        }
        out.line("   `rustassistant hooks status` says which hooks will really run.");
    }
    Ok(if skipped {
        Exit::Failure
    } else {
        Exit::Success
    })
}

/// `hooks status`
fn status(session: &Workspace) -> Result<Exit> {
    let (m, hooks) = crate::git::hooks::status(&session.repo);
    let out = session.out;
    let hooked = crate::git::hooks::pre_commit_runs(&hooks);
    let rule = if hooked {
        crate::run::StoredIn::Overlay
    } else {
        crate::run::StoredIn::Shards
    };
    if out.json {
        out.json_doc(&json!({"hooks_dir": hooks_dir(&session.repo), "manager": m, "hooks": hooks, "new_analyses_go_to": rule}));
        return Ok(Exit::Success);
    }
    out.line(&format!(
        "Hooks run from {} ({})",
        hooks_dir(&session.repo).display(),
        m.name()
    ));
    for h in &hooks {
        out.line(&format!(
            "  {} {:<14} {}",
            if h.runs { "✔" } else { "✗" },
            h.name,
            h.why
        ));
        for o in &h.orphans {
            out.line(&format!(
                "      orphaned shim {} no longer runs (`rustassistant hooks uninstall` removes it)",
                o.display()
            ));
        }
    }
    out.line(&format!(
        "Where analyses go: {}",
        if hooked {
            "the local overlay, until a commit holds their content (the pre-commit hook carries them into it)"
        } else {
            ".rustassistant/cache, to commit with your changes (no pre-commit hook runs rustassistant)"
        }
    ));
    Ok(Exit::Success)
}

/// The pre-commit hook: analyse the staged content that lacks entries, stage exactly those
/// entries (dropping stale ones with `prune_on_commit`), say what happened, and block only what
/// strict mode may block (the policy is `run::commit_hook`).
fn pre_commit(session: &Workspace) -> Result<Exit> {
    let outcome = crate::run::commit_hook::pre_commit(session)?;
    Ok(say(session, &outcome, "this commit"))
}

/// Say what a commit hook did, in at most three lines; the exit it asks for.
fn say(session: &Workspace, o: &crate::run::commit_hook::CommitOutcome, what: &str) -> Exit {
    if let Some(why) = &o.skipped {
        if !why.starts_with("[hooks]") {
            session.out.warn(&format!("pre-commit hook skipped: {why}"));
        }
        return Exit::Success;
    }
    let (added, pruned) = (o.staged.added, o.staged.pruned);
    if added > 0 || pruned > 0 {
        session.out.err(&format!(
            "rustassistant: {} added to {what}{}{}",
            count(added, "analysis", "analyses"),
            if pruned > 0 {
                format!(", {pruned} stale ones dropped")
            } else {
                String::new()
            },
            if o.amended { " (amended)" } else { "" }
        ));
    }
    say_left(session, &o.staged.left);
    if let Some(first) = o.left_out.first() {
        let strict = session.config.file.hooks.strict.unwrap_or(false);
        let verb = if session.config.pre_commit_mode() == PreCommitMode::Check {
            "lack analyses"
        } else {
            "left out"
        };
        session.out.err(&format!(
            "rustassistant: {} {verb} of {what} (e.g. {} {}: {}){}",
            count(o.left_out.len(), "analysis", "analyses"),
            first.path,
            first.cache_type,
            sanitize(first.reason.as_deref().unwrap_or("not analysed")),
            if o.block {
                "; [hooks] strict = true refuses the commit"
            } else if strict {
                "; not blocking: the repository's [hooks] strict does not refuse a commit for a missing key, provider or budget"
            } else {
                ""
            }
        ));
    }
    if o.block {
        Exit::Failure
    } else {
        Exit::Success
    }
}

/// One line for the shards the commit left as they are (never a reason to block it).
fn say_left(session: &Workspace, left: &[(String, String)]) {
    let Some((path, why)) = left.first() else {
        return;
    };
    session.out.err(&format!(
        "rustassistant: left {} as {} (e.g. {}: {}); {} new analyses wait in the local overlay, and `rustassistant cache verify` names {}",
        count(left.len(), "shard", "shards"),
        if left.len() == 1 { "it is" } else { "they are" },
        sanitize(path),
        sanitize(why),
        if left.len() == 1 { "its" } else { "their" },
        if left.len() == 1 { "it" } else { "them" },
    ));
}

/// post-merge and post-rewrite: say what arrived; then give a commit git made without the
/// pre-commit hook (an automatic merge commit, the tip of a rebase) the analyses of its
/// content, by amending it.
fn after_rewrite(session: &Workspace, name: &str, args: &[String]) -> Result<Exit> {
    arrivals(session)?;
    let carry = match name {
        // `post-merge 1` is a squash: no commit was made.
        "post-merge" => {
            args.first().map(String::as_str) != Some("1") && session.repo.head_is_new_merge()
        }
        // `post-rewrite amend` follows a commit the pre-commit hook already ran for.
        "post-rewrite" => args.first().map(String::as_str) == Some("rebase"),
        _ => false,
    };
    if !carry {
        return Ok(Exit::Success);
    }
    let what = if name == "post-merge" {
        "the merge commit"
    } else {
        "the rebased tip"
    };
    match crate::run::commit_hook::carry_into_head(session) {
        Ok(Some(o)) => {
            say(session, &o, what);
        }
        Ok(None) => {}
        // After the commit is made nothing may fail it: say so in one line.
        Err(e) => session.out.warn(&format!(
            "could not add the analyses of {what} ({e:#}); the next commit carries them"
        )),
    }
    Ok(Exit::Success)
}

fn arrivals(session: &Workspace) -> Result<Exit> {
    let ix = Index::open(session);
    // A brand-new index finds every entry "new": that is not news from a pull.
    let n = if ix.fresh { 0 } else { ix.last_sync.added };
    if n > 0 {
        session.out.err(&format!(
            "📥 {n} analyses arrived with this {}",
            if session
                .env
                .get("GIT_REFLOG_ACTION")
                .is_some_and(|a| a.starts_with("pull"))
            {
                "pull"
            } else {
                "update"
            }
        ));
    }
    Ok(Exit::Success)
}

/// Whether content `blob` is one no analysis is made of (over `[analysis] max_file_bytes`, or
/// binary): a skip, never missing.
fn is_skipped(session: &Workspace, blob: &str) -> bool {
    match session
        .repo
        .read_blob_within(blob, session.config.max_file_bytes())
    {
        Ok(bytes) => crate::git::looks_binary(&bytes),
        Err(_) => true,
    }
}

fn pre_push(session: &Workspace) -> Result<Exit> {
    let mode = session.config.pre_push_mode();
    if mode == PrePushMode::Off {
        return Ok(Exit::Success);
    }
    let mut input = String::new();
    std::io::stdin().read_to_string(&mut input).ok();
    let types = session.config.default_types();
    let plans = crate::analyzer::registry::plans_lenient(session, &types)?;
    let variants: Vec<(String, String)> = plans
        .iter()
        .filter_map(|p| {
            let a = p.analyzer.as_ref().ok()?;
            let id = a.identity();
            Some((
                p.cache_type.clone(),
                crate::cache::variant(
                    &id.provider,
                    &id.model,
                    &id.prompt_hash,
                    crate::cache::SCHEMA_VERSION,
                ),
            ))
        })
        .collect();
    let filter = crate::run::Filter::new(&session.config)?;
    let mut missing: Vec<(String, String, bool)> = Vec::new();
    let repo = &session.repo;
    for line in input.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 4 {
            continue;
        }
        let (local_sha, remote_sha) = (f[1], f[3]);
        if local_sha.bytes().all(|b| b == b'0') {
            continue; // deletion
        }
        // Each shard of the pushed tip is read (and parsed) once.
        let mut shards: std::collections::HashMap<ShardId, crate::cache::shard::Parsed> =
            std::collections::HashMap::new();
        for (path, blob) in repo.pushed_files(local_sha, remote_sha, |p| filter.matches(p))? {
            for (ty, variant) in &variants {
                let key = Key {
                    cache_type: ty.clone(),
                    blob: blob.clone(),
                    variant: variant.clone(),
                };
                let shard = ShardId::of(&key);
                if !shards.contains_key(&shard) {
                    let bytes = repo
                        .file_at(
                            local_sha,
                            &crate::cache::Store::tree_rel(&shard),
                            crate::cache::shard::MAX_SHARD_BYTES,
                        )?
                        .unwrap_or_default();
                    let parsed = crate::cache::shard::parse(&bytes, &shard);
                    shards.insert(shard.clone(), parsed);
                }
                if shards[&shard].get(&key).is_none() && !is_skipped(session, &blob) {
                    let waiting = matches!(
                        session.store.lookup(&key),
                        crate::cache::Lookup::Hit { at, .. }
                            if at.place == crate::cache::store::Place::Overlay
                    );
                    missing.push((path.clone(), ty.clone(), waiting));
                }
            }
        }
    }
    if missing.is_empty() {
        return Ok(Exit::Success);
    }
    missing.sort();
    let strict = mode == PrePushMode::Strict;
    session.out.err(&format!(
        "{} rustassistant: {} file analyses missing from the pushed commits{}:",
        if strict { "❌" } else { "⚠️ " },
        missing.len(),
        if strict {
            " ([hooks] pre_push = \"strict\" refuses the push)"
        } else {
            ""
        }
    ));
    for (p, t, _) in missing.iter().take(20) {
        session.out.err(&format!("  {} ({t})", sanitize(p)));
    }
    if missing.len() > 20 {
        session
            .out
            .err(&format!("  … and {} more", missing.len() - 20));
    }
    let waiting = missing.iter().filter(|m| m.2).count();
    if waiting > 0 {
        session.out.err(&format!(
            "  {waiting} of them wait in the local overlay: the next commit carries them (or `git commit --amend --no-edit` now)."
        ));
    }
    if waiting < missing.len() {
        session.out.err(if session.commit_hook_runs() {
            "  Run `rustassistant analyze --all`, commit, and push again."
        } else {
            "  Run `rustassistant analyze --all`, commit .rustassistant/, and push again."
        });
    }
    Ok(if strict { Exit::Failure } else { Exit::Success })
}
