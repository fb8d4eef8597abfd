//! The commit hooks' policy: what a commit is to carry, and when a hook may block.
//!
//! - [`pre_commit`]: analyse the staged content that lacks entries (within the hook's time and
//!   cost bound) and stage the shards of exactly the committed content, carrying every overlay
//!   entry whose blob the commit's tree holds.
//! - [`carry_into_head`]: the same for a commit git made without the pre-commit hook (an
//!   automatic merge, whose `pre-merge-commit` hook cannot change the tree git already wrote,
//!   and the tip of a rebase), by amending that commit right after it was made.
//!
//! What callers may rely on: nothing here prints; each returns a typed outcome the CLI words.
//! A hook blocks only what [`judge`] says it may (DESIGN.md, "Trust").

use anyhow::Result;

use crate::cache::commit::Staged;
use crate::config::PreCommitMode;
use crate::index::Index;
use crate::workspace::Workspace;

use super::{Cause, FileResult, Report, RunOptions, Selection};

/// What a commit hook did.
#[derive(Debug, Default)]
pub struct CommitOutcome {
    /// The hook stepped aside: why (the cache folder is not usable, the hook is off).
    pub skipped: Option<String>,
    /// What was staged.
    pub staged: Staged,
    /// Analyses the commit goes without: failures and bounded-out work (not binary or
    /// oversize files, which are skips).
    pub left_out: Vec<FileResult>,
    /// Whether the hook refuses the commit.
    pub block: bool,
    /// Whether a commit was amended to carry the analyses ([`carry_into_head`]).
    pub amended: bool,
}

/// The pre-commit hook (and what a commit made without it is given afterwards).
pub fn pre_commit(session: &Workspace) -> Result<CommitOutcome> {
    commit(session, false)
}

fn commit(session: &Workspace, sweep: bool) -> Result<CommitOutcome> {
    let mode = session.config.pre_commit_mode();
    if mode == PreCommitMode::Off {
        return Ok(CommitOutcome {
            skipped: Some("[hooks] pre_commit = \"off\"".into()),
            ..CommitOutcome::default()
        });
    }
    let fresh = !session.initialised();
    if fresh && mode == PreCommitMode::Analyze {
        crate::cache::layout::ensure(&session.store)?;
    }
    if let Err(e) = session.store.ensure_real() {
        return Ok(CommitOutcome {
            skipped: Some(e.to_string()),
            ..CommitOutcome::default()
        });
    }
    let mut index = Some(Index::open_for_lookup(session));
    let report = analyse_staged(session, mode, &mut index)?;
    let mut index = index.expect("the run keeps the index it is given");
    let staged = if mode == PreCommitMode::Analyze {
        stage(session, &mut index, fresh, sweep)?
    } else {
        Staged::default()
    };
    let (left_out, block) = judge(session, &report);
    Ok(CommitOutcome {
        skipped: None,
        staged,
        left_out,
        block,
        amended: false,
    })
}

/// After git made a commit without the pre-commit hook (an automatic merge: git writes its
/// tree before `pre-merge-commit` runs; the tip of a rebase), give it the analyses of its
/// content by amending it, as the user would have. Only when the index holds exactly that
/// commit's content (nothing else staged: the amend must add analyses and nothing of the
/// user's). The amend is plumbing ([`crate::git::Repo::amend_head`]): it runs no hook, so it
/// never starts another. `None`: nothing to do.
pub fn carry_into_head(session: &Workspace) -> Result<Option<CommitOutcome>> {
    if session.config.pre_commit_mode() != PreCommitMode::Analyze
        || !session.initialised()
        || !session
            .repo
            .index_matches_head_outside(".rustassistant/cache")
    {
        return Ok(None);
    }
    // Its shards came from both sides of a merge, or from commits replayed onto others: every
    // shard is looked at, so none keeps entries of content the commit no longer holds.
    let mut outcome = commit(session, true)?;
    if outcome.skipped.is_some() {
        return Ok(Some(outcome));
    }
    if outcome.staged.shards > 0 || outcome.staged.added > 0 || outcome.staged.pruned > 0 {
        session
            .repo
            .amend_head("rustassistant: the analyses of this commit's content (amend)")?;
        outcome.amended = true;
    }
    Ok(Some(outcome))
}

/// Run the configured types over the staged content, within the hook's time bound.
fn analyse_staged(
    session: &Workspace,
    mode: PreCommitMode,
    index: &mut Option<Index>,
) -> Result<Report> {
    let types = session.config.default_types();
    let plans = crate::analyzer::registry::plans_lenient(session, &types)?;
    let bound = session
        .config
        .file
        .hooks
        .pre_commit_timeout_s
        .unwrap_or(crate::config::trust::DEFAULT_PRE_COMMIT_TIMEOUT_S);
    let opts = RunOptions {
        force: false,
        dry_run: mode == PreCommitMode::Check,
        jobs: None,
        index_file: session.env.get("GIT_INDEX_FILE").map(str::to_string),
        // The time bound of the whole hook (default 30 s): what is not done by then is left
        // out, requests in flight included.
        deadline: Some(std::time::Instant::now() + std::time::Duration::from_secs(bound)),
        // No per-file lines: the hook reports in one line of its own.
        quiet: true,
        // `stage` moves the overlay entries of the committed content itself.
        promote: false,
        // `judge` reads the lines.
        hits_as_totals: false,
        // Looking every staged blob up is how the hook finds the few to analyse.
        record_hits: false,
    };
    let staged = Selection {
        staged: true,
        ..Selection::default()
    };
    super::run(session, &staged, &plans, &opts, index)
}

/// Stage the shards of exactly the committed content (and the skeleton on a first commit).
fn stage(session: &Workspace, index: &mut Index, fresh: bool, sweep: bool) -> Result<Staged> {
    let idx = session.env.get("GIT_INDEX_FILE");
    // The local index learns what changed in the same command, while git stages the shards.
    let mut sync_failed = None;
    let index = std::cell::RefCell::new(index);
    let sync = |written: &[(crate::cache::store::Location, &[u8])]| {
        if let Err(e) = index.borrow_mut().sync_written(&session.store, written) {
            sync_failed = Some(e.to_string());
        }
    };
    let items = || super::items::items_in_tree(session, &index.borrow(), idx);
    let staged = crate::cache::commit::stage_for_commit(
        &session.store,
        &session.repo,
        idx,
        session.config.prune_on_commit(),
        sweep,
        items,
        sync,
    )?;
    if let Some(e) = sync_failed {
        session.out.warn(&format!(
            "could not update the local index ({e}); it will catch up on the next run"
        ));
    }
    if fresh && staged.shards > 0 {
        let mut args: Vec<String> = vec!["add".into(), "-f".into(), "--".into()];
        for f in [
            "README.md",
            "config.toml",
            ".gitattributes",
            ".gitignore",
            "cache/.gitkeep",
        ] {
            args.push(format!(".rustassistant/{f}"));
        }
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        session.repo.run_git_for_commit(&a, idx)?;
    }
    Ok(staged)
}

/// What the commit goes without (failures and bounded-out work, not binary or oversize files),
/// and whether that blocks it. A strict repository config blocks only what the user could have
/// fixed: never a missing key or provider, an unreachable or failing provider, their own
/// budget, or the hook's time bound (DESIGN.md, Trust). The user's own (or a trusted) strict
/// blocks on anything left out.
fn judge(session: &Workspace, report: &Report) -> (Vec<FileResult>, bool) {
    let strict = session.config.file.hooks.strict.unwrap_or(false);
    let left_out: Vec<FileResult> = report
        .results
        .iter()
        .filter(|r| match r.cause {
            Cause::Failed | Cause::Unavailable | Cause::NoProvider => true,
            Cause::Budget | Cause::TimeLimit | Cause::DryRun => true,
            Cause::None | Cause::Content => false,
        })
        .cloned()
        .collect();
    let blocking = left_out.iter().any(|r| {
        session.config.strict_from_user || matches!(r.cause, Cause::Failed | Cause::DryRun)
    });
    (left_out, strict && blocking)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn git(dir: &std::path::Path, args: &[&str]) {
        let out = crate::git::testing::git(dir, args, &[]);
        assert!(out.status.success(), "git {args:?}: {out:?}");
    }

    /// The hook's policy driven as a library call: the staged files are analysed, their
    /// entries staged with them, and nothing blocks; a second call with nothing new stages
    /// nothing; `off` steps aside and says why.
    #[test]
    fn the_hook_stages_the_analyses_of_exactly_the_staged_content() {
        let dir = tempfile::tempdir().unwrap();
        let ws = crate::workspace::test_workspace(dir.path());
        std::fs::write(dir.path().join("a.rs"), "// TODO: one\nfn a() {}\n").unwrap();
        std::fs::write(dir.path().join("b.rs"), "fn b() {}\n").unwrap();
        git(dir.path(), &["add", "a.rs", "b.rs"]);
        let first = pre_commit(&ws).unwrap();
        assert_eq!(first.skipped, None);
        assert!(!first.block);
        assert!(first.left_out.is_empty());
        // Two files, the two offline types.
        assert_eq!(first.staged.added, 4, "{first:?}");
        assert!(first.staged.shards > 0);
        git(
            dir.path(),
            &[
                "-c",
                "user.name=t",
                "-c",
                "user.email=t@t",
                "commit",
                "-qm",
                "one",
                "--no-verify",
            ],
        );
        let again = pre_commit(&ws).unwrap();
        assert_eq!(again.staged.added, 0, "{again:?}");

        std::fs::write(
            dir.path().join(".rustassistant/config.toml"),
            "[hooks]\npre_commit = \"off\"\n",
        )
        .unwrap();
        let ws = Workspace::open(
            dir.path().to_path_buf(),
            ws.env.clone(),
            &crate::config::Overrides::default(),
            ws.out,
        )
        .unwrap();
        let off = pre_commit(&ws).unwrap();
        assert_eq!(off.skipped.as_deref(), Some("[hooks] pre_commit = \"off\""));
    }
}
