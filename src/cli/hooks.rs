//! `hooks install | uninstall | run NAME`

use std::collections::HashSet;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use serde_json::json;

use crate::cache::Key;
use crate::config::{PreCommitMode, PrePushMode};
use crate::error::{Exit, UserError};
use crate::git::hooks::{hooks_dir, Action, HookChange};
use crate::index::Index;
use crate::output::sanitize;
use crate::run::{Cause, RunOptions, Selection, Status};
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
                    1 => " (1 orphaned shim removed)".to_string(),
                    n => format!(" ({n} orphaned shims removed)"),
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
            "post-merge" | "post-rewrite" => arrivals(session),
            // post-checkout PREV NEW FLAG: FLAG 0 is a file checkout, nothing arrives.
            "post-checkout" => {
                if args.get(2).map(String::as_str) == Some("0") {
                    Ok(Exit::Success)
                } else {
                    arrivals(session)
                }
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
                1 => " (1 existing hook kept and chained)".to_string(),
                n => format!(" ({n} existing hooks kept and chained)"),
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
    if out.json {
        out.json_doc(&json!({"hooks_dir": hooks_dir(&session.repo), "manager": m, "hooks": hooks}));
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
    Ok(Exit::Success)
}

/// Run `git` with the environment the hook received (GIT_INDEX_FILE included), plus `extra`.
fn git(session: &Workspace, args: &[&str], extra: &[(&str, &Path)]) -> Result<()> {
    let mut c = std::process::Command::new("git");
    c.current_dir(session.repo.workdir()).args(args);
    for (k, v) in extra {
        c.env(k, v);
    }
    let out = c.output().context("running git")?;
    if !out.status.success() {
        anyhow::bail!(
            "git {}: {}",
            args.first().unwrap_or(&""),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

/// Stage (or unstage with `rm`) `paths` in the index git is committing, and, for `git commit
/// PATH` (a temporary index beside the real one being rewritten in `index.lock`), in the real
/// one too, so the entries are not left looking deleted after the commit.
fn stage(session: &Workspace, verb: &[&str], paths: &[String]) -> Result<()> {
    if paths.is_empty() {
        return Ok(());
    }
    for chunk in paths.chunks(500) {
        let mut args: Vec<&str> = verb.to_vec();
        args.push("--");
        args.extend(chunk.iter().map(String::as_str));
        git(session, &args, &[])?;
        let git_dir = session.repo.git_dir();
        let lock = git_dir.join("index.lock");
        let using = session.env.get("GIT_INDEX_FILE").map(|f| {
            let p = Path::new(f);
            if p.is_absolute() {
                p.to_path_buf()
            } else {
                session.repo.workdir().join(p)
            }
        });
        if let Some(u) = using {
            if lock.exists() && u != lock && u != git_dir.join("index") {
                git(session, &args, &[("GIT_INDEX_FILE", &lock)])?;
            }
        }
    }
    Ok(())
}

fn pre_commit(session: &Workspace) -> Result<Exit> {
    let cfg = &session.config.file.hooks;
    let mode = session.config.pre_commit_mode();
    if mode == PreCommitMode::Off {
        return Ok(Exit::Success);
    }
    let strict = cfg.strict.unwrap_or(false);
    let started = Instant::now();
    let fresh = !session.initialised();
    if fresh && mode == PreCommitMode::Analyze {
        crate::cache::layout::ensure(&session.store)?;
    }
    if let Err(e) = session.store.ensure_real() {
        // Someone else's commit cannot block this user's commits: say it and step aside.
        session.out.warn(&format!("pre-commit hook skipped: {e}"));
        return Ok(Exit::Success);
    }
    let types = session.config.default_types();
    let plans = super::analyze::plans(session, &types)?;

    let opts = RunOptions {
        force: false,
        dry_run: mode == PreCommitMode::Check,
        jobs: None,
        index_file: session.env.get("GIT_INDEX_FILE").map(str::to_string),
        // The time bound of the whole hook (default 30 s): what is not done by then is left out.
        deadline: Some(
            started
                + Duration::from_secs(
                    cfg.pre_commit_timeout_s
                        .unwrap_or(crate::config::trust::DEFAULT_PRE_COMMIT_TIMEOUT_S),
                ),
        ),
        // No per-file lines: the hook reports in one line below.
        quiet: true,
    };
    let index = Index::open_for_lookup(session);
    let report = crate::run::run(
        session,
        &Selection {
            staged: true,
            ..Selection::default()
        },
        &plans,
        &opts,
        Some(&index),
    )?;
    let mut written: Vec<String> = report
        .results
        .iter()
        .filter(|r| r.status == Status::Miss && !opts.dry_run)
        .filter_map(|r| r.entry_path.as_ref().map(|p| p.display().to_string()))
        .collect();
    if fresh && !written.is_empty() {
        for f in [
            "README.md",
            "config.toml",
            ".gitattributes",
            ".gitignore",
            "cache/.gitkeep",
        ] {
            written.push(format!(".rustassistant/{f}"));
        }
    }
    stage(session, &["add", "-f"], &written)?;
    let pruned = if session.config.prune_on_commit() && mode == PreCommitMode::Analyze {
        prune_staged(session, &index)?
    } else {
        0
    };

    // What the commit goes without: failures and bounded-out work, not binary or oversize files.
    let left_out: Vec<&crate::run::FileResult> = report
        .results
        .iter()
        .filter(|r| match r.cause {
            Cause::Failed | Cause::Unavailable | Cause::NoProvider => true,
            Cause::Budget | Cause::TimeLimit | Cause::DryRun => true,
            Cause::None | Cause::Content => false,
        })
        .collect();
    // A strict repository config blocks only what the user could have fixed: never a missing
    // key or provider, an unreachable or failing provider, their own budget, or the hook's time
    // bound (DESIGN.md, Trust). The user's own (or a trusted) strict blocks on anything left out.
    let blocking = left_out
        .iter()
        .filter(|r| {
            session.config.strict_from_user || matches!(r.cause, Cause::Failed | Cause::DryRun)
        })
        .count();
    let added = if opts.dry_run {
        0
    } else {
        report.summary.misses
    };
    if added > 0 || pruned > 0 {
        crate::output::print_stderr(&format!(
            "rustassistant: {added} analyses added to this commit{}",
            if pruned > 0 {
                format!(", {pruned} stale ones dropped")
            } else {
                String::new()
            }
        ));
    }
    if !left_out.is_empty() {
        let first = left_out[0];
        let what = if mode == PreCommitMode::Check {
            "lack analyses"
        } else {
            "left out"
        };
        crate::output::print_stderr(&format!(
            "rustassistant: {} analyses {what} of this commit (e.g. {} {}: {}){}",
            left_out.len(),
            first.path,
            first.cache_type,
            sanitize(first.reason.as_deref().unwrap_or("not analysed")),
            if strict && blocking > 0 {
                "; [hooks] strict = true refuses the commit"
            } else if strict {
                "; not blocking: the repository's [hooks] strict does not refuse a commit for a missing key, provider or budget"
            } else {
                ""
            }
        ));
        if strict && blocking > 0 {
            return Ok(Exit::Failure);
        }
    }
    Ok(Exit::Success)
}

/// Unstage and delete staged entries whose blob is nowhere in the tree being committed.
fn prune_staged(session: &Workspace, index: &Index) -> Result<usize> {
    let idx = session.env.get("GIT_INDEX_FILE");
    // Every blob the commit holds, whatever its path's encoding (an entry is dropped only on
    // complete evidence that its content is gone), and the staged entries, in one index read.
    let (blobs, entries) = session
        .repo
        .index_blobs_and_paths(idx, ".rustassistant/cache/")?;
    let stale: Vec<String> = entries
        .into_iter()
        .filter(|p| {
            let Some(rel) = p.strip_prefix(".rustassistant/cache/") else {
                return false;
            };
            Key::from_relative(Path::new(rel)).is_some_and(|(key, _)| !blobs.contains(&key.blob))
        })
        .collect();
    stage(
        session,
        &["rm", "-q", "--cached", "--ignore-unmatch"],
        &stale,
    )?;
    // Unlinks dominate a large prune; spread them over the cores.
    let removed = crate::util::par::parallel_map(&stale, |p| {
        session.store.remove(&session.repo.workdir().join(p))
    });
    if let Some(Err(e)) = removed.into_iter().find(|r| r.is_err()) {
        session
            .out
            .warn(&format!("could not delete a stale entry: {e}"));
    }
    // The local index forgets them in the same command.
    let rels: Vec<String> = stale
        .iter()
        .filter_map(|p| p.strip_prefix(".rustassistant/").map(str::to_string))
        .collect();
    if let Err(e) = index.forget(&rels) {
        session.out.warn(&format!(
            "could not update the local index ({e}); it will catch up on the next run"
        ));
    }
    Ok(stale.len())
}

fn arrivals(session: &Workspace) -> Result<Exit> {
    let ix = Index::open(session);
    // A brand-new index finds every entry "new": that is not news from a pull.
    let n = if ix.fresh { 0 } else { ix.last_sync.added };
    if n > 0 {
        crate::output::print_stderr(&format!(
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

fn pre_push(session: &Workspace) -> Result<Exit> {
    let mode = session.config.pre_push_mode();
    if mode == PrePushMode::Off {
        return Ok(Exit::Success);
    }
    let mut input = String::new();
    std::io::stdin().read_to_string(&mut input).ok();
    let types = session.config.default_types();
    let plans = super::analyze::plans(session, &types)?;
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
    let mut missing: Vec<(String, String, String)> = Vec::new();
    let repo = &session.repo;
    let git = repo.git();
    for line in input.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 4 {
            continue;
        }
        let (local_sha, remote_sha) = (f[1], f[3]);
        if local_sha.bytes().all(|b| b == b'0') {
            continue; // deletion
        }
        let tip = git.find_commit(repo.oid(local_sha)?)?;
        let tip_tree = tip.tree()?;
        let mut walk = git.revwalk()?;
        walk.push(tip.id())?;
        if remote_sha.bytes().all(|b| b == b'0') {
            // A new branch: what no remote-tracking branch has yet.
            for r in git.references_glob("refs/remotes/*")?.flatten() {
                if let Some(o) = r.target() {
                    let _ = walk.hide(o);
                }
            }
        } else if let Ok(o) = repo.oid(remote_sha) {
            let _ = walk.hide(o);
        }
        let mut changed: HashSet<String> = HashSet::new();
        for oid in walk.flatten() {
            let c = git.find_commit(oid)?;
            let parent_tree = c.parents().next().and_then(|p| p.tree().ok());
            let diff = git.diff_tree_to_tree(parent_tree.as_ref(), Some(&c.tree()?), None)?;
            for d in diff.deltas() {
                if let Some(p) = d.new_file().path().and_then(|p| p.to_str()) {
                    if filter.matches(p) {
                        changed.insert(p.to_string());
                    }
                }
            }
        }
        for path in changed {
            // The file as the pushed tip has it (deleted since: nothing to analyse).
            let Ok(entry) = tip_tree.get_path(Path::new(&path)) else {
                continue;
            };
            if entry.kind() != Some(git2::ObjectType::Blob) {
                continue;
            }
            let blob = entry.id().to_string();
            for (ty, variant) in &variants {
                let key = Key {
                    cache_type: ty.clone(),
                    blob: blob.clone(),
                    variant: variant.clone(),
                };
                let present = [false, true].iter().any(|&zst| {
                    tip_tree
                        .get_path(Path::new(&format!(".rustassistant/{}", key.rel(zst))))
                        .is_ok()
                });
                if !present {
                    missing.push((path.clone(), ty.clone(), local_sha.to_string()));
                }
            }
        }
    }
    if missing.is_empty() {
        return Ok(Exit::Success);
    }
    missing.sort();
    let strict = mode == PrePushMode::Strict;
    crate::output::print_stderr(&format!(
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
        crate::output::print_stderr(&format!("  {} ({t})", sanitize(p)));
    }
    if missing.len() > 20 {
        crate::output::print_stderr(&format!("  … and {} more", missing.len() - 20));
    }
    crate::output::print_stderr(
        "  Run `rustassistant analyze --all`, commit .rustassistant/, and push again.",
    );
    Ok(if strict { Exit::Failure } else { Exit::Success })
}
