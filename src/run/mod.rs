//! One analysis run: select the files, look every key up, execute the misses, tally, and
//! record the run in the local index.
//!
//! The run: collect the target files, identify each by blob id (in parallel: the index answers
//! for unmodified tracked files without reading them), look every `(type, blob, variant)` key
//! up, then run the misses on a bounded pool of workers, writing each entry atomically the
//! moment it is ready. One file failing never stops the others; Ctrl-C stops taking new work
//! and keeps everything already written.

pub mod commit_hook;
mod execute;
mod items;
mod lookup;
pub mod maintenance;
mod promote;
mod report;
mod select;
mod sort;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Result;
use rustc_hash::FxHashSet;

use crate::cache::Key;
use crate::git::FileId;
use crate::index::Index;
use crate::output::Printer;
use crate::workspace::Workspace;

pub use crate::analyzer::registry::Plan;
pub use report::{Cause, FileResult, Report, Status, StoredIn, Summary};
pub use select::Filter;

use report::line;
use sort::{sort, Sorted};

/// Up to this many named files are identified by hashing them rather than by loading the git
/// index (see `select::collect`).
const FEW_FILES: usize = 16;

/// Runs over more files than this show a progress bar and list hits only with `-v`.
const QUIET_HITS_ABOVE: usize = 20;

/// Which files to analyse.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// Files and folders named on the command line.
    pub paths: Vec<PathBuf>,
    /// Every tracked file matching include/exclude.
    pub all: bool,
    /// The staged content (from the index git is using).
    pub staged: bool,
    /// Files changed against HEAD, untracked ones included.
    pub changed: bool,
    /// Files whose content differs from this revision (untracked ones included).
    pub since: Option<String>,
}

/// How to run.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Re-analyse even on a hit.
    pub force: bool,
    /// List what would be analysed; write nothing.
    pub dry_run: bool,
    /// Workers for remote analyzers (built-in ones use every core).
    pub jobs: Option<usize>,
    /// `GIT_INDEX_FILE`, for `--staged`.
    pub index_file: Option<String>,
    /// Stop starting new analyses after this instant (hooks).
    pub deadline: Option<Instant>,
    /// Print no per-file lines (hooks report in one line of their own).
    pub quiet: bool,
    /// Move overlay hits of staged content into the shards (`promote`). Off where the caller
    /// stages the shards itself, as the pre-commit hook does: it moves the same entries.
    pub promote: bool,
    /// Count hits in the summary without a line each in [`Report::results`], which then holds
    /// the other lines only: for a caller that prints neither the lines nor `--json`. An
    /// all-cached run of 10,000 files then builds none of its 20,000 lines.
    pub hits_as_totals: bool,
    /// Count hits (and the cost they saved) in the local index and stamp their access times.
    /// Off for the pre-commit hook: it looks up every staged blob to find the few the commit
    /// lacks, which is bookkeeping, not use (a one-file commit in a 10,000-file repository
    /// stamped 20,000 rows, 11-14 ms, and counted 20,000 hits).
    pub record_hits: bool,
}

/// A file to analyse, identified or skipped.
pub(crate) struct Target {
    id: std::result::Result<FileId, Skip>,
}

/// A file that could not be identified: its path, the status to report and why.
#[derive(Debug)]
pub(crate) struct Skip {
    path: String,
    status: Status,
    reason: String,
}

/// Work for a worker: one `(file, plan)` miss.
pub(crate) struct Job {
    file: Arc<FileId>,
    plan: usize,
    key: Key,
}

/// The files a selection names, identified by blob id; files that cannot be (binary, too
/// large, unreadable) are left out, as are submodules.
pub fn identify(session: &Workspace, sel: &Selection) -> Result<Vec<FileId>> {
    let walk = select::start_walk(&session.repo, sel);
    let collected = select::collect(session, sel, &RunOptions::default(), walk)?;
    Ok(collected
        .targets
        .into_iter()
        .filter_map(|t| t.id.ok())
        .collect())
}

/// Collect, identify and analyse; print progress through `session.out`.
///
/// `index` is the local index the keys are looked up in and the run is recorded in: the
/// caller's, or when `None`, one the run opens ([`Index::open_for_lookup`]) and leaves there.
/// The run opens it while `--all`'s folder walk is under way, rather than before.
pub fn run(
    session: &Workspace,
    sel: &Selection,
    plans: &[Plan],
    opts: &RunOptions,
    index: &mut Option<Index>,
) -> Result<Report> {
    let started = Instant::now();
    let out = printer_for(session, opts);
    let walk = select::start_walk(&session.repo, sel);
    if index.is_none() {
        *index = Some(Index::open_for_lookup(session));
    }
    let select::Collected {
        targets,
        submodules,
        not_matched,
    } = select::collect(session, sel, opts, walk)?;
    say_submodules(out, &submodules);
    for p in &not_matched {
        out.detail(&format!(
            "   not matched by [analysis] include/exclude: {p}"
        ));
    }
    let lookup::Looked {
        found,
        variants,
        stale,
        bad,
    } = lookup::lookup_all(session, &targets, plans, index.as_ref());
    let mut repeats = report::Repeats::default();
    let mut sorted = sort(
        targets,
        &found,
        &variants,
        plans,
        opts,
        session,
        (out, &mut repeats),
    );
    sorted.invalid = bad.len();
    if out.verbose > 0 {
        for b in &bad {
            out.warn(&format!("ignoring untrusted cache line {b}"));
        }
    } else {
        sorted.first_invalid = bad.into_iter().next();
    }
    warn_untrusted(out, &sorted);
    if !sorted.jobs.is_empty() {
        // Entries in the old layout would be paid for again: say how to keep them.
        if let Some(hint) = session.store.old_layout_hint() {
            session.out.warn(&hint);
        }
    }
    let mut estimate = None;
    let mut stored_in = None;
    let mut written = if opts.dry_run {
        estimate = dry_run(session, &sorted.jobs, plans, out, &mut sorted.results);
        Vec::new()
    } else if sorted.jobs.is_empty() {
        Vec::new()
    } else {
        let jobs = std::mem::take(&mut sorted.jobs);
        let (written, place) = execute::execute(
            session,
            plans,
            jobs,
            opts,
            &mut sorted.results,
            out,
            &mut repeats,
        )?;
        stored_in = place;
        written
    };
    // Without the commit hook, analyses of content since staged move into the shards, to be
    // committed with it; with the hook they wait in the overlay, for the hook to carry.
    let promote = opts.promote && !sorted.overlay_hits.is_empty() && !session.commit_hook_runs();
    if !opts.dry_run && promote {
        written.extend(promote::promote(
            session,
            &sorted.overlay_hits,
            opts.index_file.as_deref(),
        ));
    }
    repeats.finish(out);
    let mut summary = tally(&sorted, submodules, started);
    summary.not_matched = not_matched.len();
    summary.estimate = estimate;
    summary.stored_in = stored_in;
    summary.elapsed_ms = started.elapsed().as_millis();
    if !opts.dry_run {
        written.extend(stale);
        // What the hits of paid analyses saved, per model and type.
        let savings: Vec<crate::index::Saving> = plans
            .iter()
            .zip(&sorted.by_plan)
            .filter(|(_, (n, _))| *n > 0)
            .filter_map(|(p, (n, saved))| {
                let a = p.analyzer.as_ref().ok().filter(|a| a.is_remote())?;
                Some(crate::index::Saving {
                    month: String::new(),
                    model: a.identity().model.clone(),
                    cache_type: p.cache_type.clone(),
                    hits: *n,
                    saved_usd: *saved,
                })
            })
            .collect();
        record(
            session,
            index.as_mut(),
            (
                opts.record_hits.then_some(sorted.hit_ids.as_slice()),
                &savings,
            ),
            &written,
            &summary,
            out,
        );
    }
    Ok(Report {
        results: sorted.results,
        summary,
        unlisted_files: sorted.unlisted_files,
    })
}

/// The run's printer: hooks print no per-file lines (they report in one line of their own).
fn printer_for(session: &Workspace, opts: &RunOptions) -> Printer {
    Printer {
        quiet: session.out.quiet || opts.quiet,
        ..session.out
    }
}

fn say_submodules(out: Printer, submodules: &[String]) {
    for sub in submodules {
        out.line(&format!(
            "⏭️  Skipped submodule {sub}/: a repository of its own (run rustassistant there)"
        ));
    }
}

/// Untrusted entries: one line for the run (each one with -v; all of them in `cache verify`).
fn warn_untrusted(out: Printer, s: &Sorted) {
    if let Some(first) = &s.first_invalid {
        out.warn(&format!(
            "{} untrusted cache {} (e.g. {first}); `rustassistant cache verify` lists them, the next write of a shard drops them",
            s.invalid,
            if s.invalid == 1 {
                "entry ignored, treated as a miss"
            } else {
                "entries ignored, treated as misses"
            }
        ));
    }
}

/// List what would be analysed; the most the paid requests among it could cost.
fn dry_run(
    session: &Workspace,
    jobs: &[Job],
    plans: &[Plan],
    out: Printer,
    results: &mut Vec<FileResult>,
) -> Option<report::DryRunEstimate> {
    let mut est = report::DryRunEstimate::default();
    for j in jobs {
        let Ok(a) = &plans[j.plan].analyzer else {
            continue;
        };
        // Paid requests are counted on what they would send: the file is read for that.
        let content = a
            .is_remote()
            .then(|| {
                execute::read_content(&session.repo, &j.file, session.config.max_file_bytes()).ok()
            })
            .flatten();
        let text = content.as_deref().and_then(|c| std::str::from_utf8(c).ok());
        // By items: only the items without a result would be sent (none: no request).
        let by_items = (session.config.settings.granularity == crate::config::Granularity::Item)
            .then(|| a.item_identity().zip(text))
            .flatten()
            .and_then(|(id, text)| {
                let split = crate::items::split(&j.file.path, text).ok()?;
                let (send, _, _) =
                    items::cached_items(session, &plans[j.plan].cache_type, id, &split);
                Some(if send.is_empty() {
                    None
                } else {
                    a.estimate_items(&j.file.path, &split, &send)
                })
            });
        let estimate = match by_items {
            Some(e) => e,
            None => a.estimate(&j.file.path, text, j.file.size),
        };
        if let Some(e) = estimate {
            est.requests += 1;
            est.tokenized += usize::from(e.tokenizer);
            est.input_tokens += e.input_tokens;
            est.max_output_tokens += e.max_output_tokens;
            match e.max_cost_usd {
                Some(c) => est.max_cost_usd += c,
                None => est.unknown_price += 1,
            }
            est.max_batch_cost_usd += e.max_batch_cost_usd.unwrap_or(0.0);
        }
        out.line(&format!(
            "🔍 Would analyze {} ({})",
            j.file.path, plans[j.plan].cache_type
        ));
        results.push(
            line(
                j.file.path.clone(),
                crate::util::interned(&plans[j.plan].cache_type),
                Some(j.file.blob.clone()),
                Status::Miss,
                "dry run: not analysed".into(),
            )
            .because(Cause::DryRun),
        );
    }
    (est.requests > 0).then_some(est)
}

fn tally(sorted: &Sorted, submodules: Vec<String>, started: Instant) -> Summary {
    let results = &sorted.results;
    let mut summary = Summary {
        invalid_entries: sorted.invalid,
        skipped_submodules: submodules,
        hits: sorted.unlisted_hits,
        saved_usd: sorted.unlisted_saved,
        ..Summary::default()
    };
    // A file's results share one string for its path (`sort` gives the file's own to each, as
    // `execute` and `dry_run` give their job's, and keeps it for the files with hits counted
    // only), and are mostly neighbours: files are counted by that string's address, looked up
    // only when it changes, instead of hashing 100,000 paths.
    let mut files: FxHashSet<*const u8> = FxHashSet::default();
    // Files with counted hits are each one target, so distinct: hashed only when some file may
    // also have a line (an all-cached quiet run has none).
    let (mut counted, unlisted) = (0, &sorted.unlisted_files);
    if results.is_empty() {
        counted = unlisted.len();
    } else {
        // At most one path per result, most files holding several: sized once.
        files.reserve(results.len() / 2 + unlisted.len());
        files.extend(unlisted.iter().map(|p| p.as_ptr()));
    }
    let mut last = std::ptr::null();
    for r in results {
        if r.path.as_ptr() != last {
            last = r.path.as_ptr();
            files.insert(last);
        }
        match r.status {
            Status::Hit => summary.hits += 1,
            Status::Miss => summary.misses += 1,
            Status::Skipped => summary.skipped += 1,
            Status::Error => summary.errors += 1,
        }
        summary.tokens = summary.tokens.add(&r.tokens);
        summary.cost_usd += r.cost_usd.unwrap_or(0.0);
        if let Some(u) = r.items {
            let t = summary.items.get_or_insert_with(Default::default);
            t.sent += u.sent;
            t.reused += u.reused;
            t.bytes_not_sent += u.bytes_not_sent;
            t.saved_usd += u.saved_usd;
        }
        summary.budget_refused |= r.cause == Cause::Budget;
        if r.status == Status::Hit {
            summary.saved_usd += r.saved_usd;
        }
    }
    summary.files = files.len() + counted;
    debug_assert_eq!(
        summary.files,
        results
            .iter()
            .map(|r| &*r.path)
            .chain(sorted.unlisted_files.iter().map(|p| &**p))
            .collect::<FxHashSet<_>>()
            .len(),
        "a file's results share its path"
    );
    summary.interrupted = crate::util::interrupt::stop_new_work();
    summary.elapsed_ms = started.elapsed().as_millis();
    summary
}

/// Index the entries written, count misses and, with `hit_ids` (see
/// [`RunOptions::record_hits`]), hits, stamping their access times. A failure only warns: the
/// index catches up on the next sync.
fn record(
    session: &Workspace,
    index: Option<&mut Index>,
    (hit_ids, savings): (Option<&[i64]>, &[crate::index::Saving]),
    written: &[crate::cache::store::Location],
    summary: &Summary,
    out: Printer,
) {
    let Some(ix) = index else { return };
    let tally = crate::index::Tally {
        items: summary
            .items
            .map(|u| crate::index::ItemSavings {
                reused: u.reused as u64,
                bytes_not_sent: u.bytes_not_sent,
                saved_usd: u.saved_usd,
            })
            .unwrap_or_default(),
        hits: hit_ids.map_or(0, |_| summary.hits as u64),
        misses: summary.misses as u64,
        saved_usd: hit_ids.map_or(0.0, |_| summary.saved_usd),
        savings: if hit_ids.is_some() {
            savings.to_vec()
        } else {
            Vec::new()
        },
    };
    if let Err(e) = ix.record_run(session, hit_ids.unwrap_or_default(), written, &tally) {
        out.warn(&format!(
            "could not update the local index ({e}); it will catch up on the next run"
        ));
    }
}
