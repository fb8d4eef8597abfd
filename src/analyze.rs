//! Planning and running an analysis over a set of files.
//!
//! The run: collect the target files, identify each by blob id (in parallel: the index answers
//! for unmodified tracked files without reading them), look every `(type, blob, variant)` key
//! up, then run the misses on a bounded pool of workers, writing each entry atomically the
//! moment it is ready. One file failing never stops the others; Ctrl-C stops taking new work
//! and keeps everything already written.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Instant;

use anyhow::Result;
use serde::Serialize;
use serde_json::json;

use crate::analyzer::AnalyzeError;
use crate::cache::{Entry, Key, Lookup, Tokens, SCHEMA_VERSION};
use crate::config::Config;
use crate::error::UserError;
use crate::git::{looks_binary, FileId, Repo, Source, Tracked, WorkFile};
use crate::index::{Index, Written};
use crate::workspace::Workspace;

pub use crate::analyzer::registry::Plan;
pub use crate::util::interrupt::INTERRUPTED;
use crate::util::par::{cores, parallel_map};

/// Up to this many named files are identified by hashing them rather than by loading the git
/// index (see `collect`).
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
}

/// Outcome of one `(file, type)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// A valid entry existed.
    Hit,
    /// Analysed now (or, with `--dry-run`, would be).
    Miss,
    /// Not analysed, with a reason.
    Skipped,
    /// The analysis failed.
    Error,
}

/// Why a `(file, type)` was skipped or failed, as a value: hooks decide on this, never on the
/// wording of `reason`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Cause {
    /// Hit or miss: nothing to explain.
    #[default]
    None,
    /// Not analysable content or deliberately not sent (binary, too large, secret, not UTF-8).
    Content,
    /// The type needs an LLM provider and none is configured.
    NoProvider,
    /// The provider could not be used: no key, unreachable, timed out, rate limited, failing.
    Unavailable,
    /// Refused by the monthly budget.
    Budget,
    /// The hook's time bound was reached before this one started.
    TimeLimit,
    /// `--dry-run`: would be analysed.
    DryRun,
    /// Any other failure (an invalid reply, an entry that cannot be written).
    Failed,
}

/// One line of the report.
#[derive(Debug, Clone, Serialize)]
pub struct FileResult {
    /// Repository-relative path.
    pub path: String,
    /// Analysis type.
    #[serde(rename = "type")]
    pub cache_type: String,
    /// Blob id, when known.
    pub blob: Option<String>,
    /// What happened.
    pub status: Status,
    /// Tokens spent now (zero on a hit).
    pub tokens: Tokens,
    /// Cost spent now, when known.
    pub cost_usd: Option<f64>,
    /// Why it was skipped or failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Entry file, relative to the work tree, when one exists now.
    #[serde(skip)]
    pub entry_path: Option<PathBuf>,
    /// Why it was skipped or failed.
    #[serde(skip)]
    pub cause: Cause,
    /// Cost the hit saved (the entry's own cost).
    #[serde(skip)]
    pub saved_usd: f64,
}

/// Totals of a run.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    /// Hits.
    pub hits: usize,
    /// Misses (analysed now).
    pub misses: usize,
    /// Skipped.
    pub skipped: usize,
    /// Errors.
    pub errors: usize,
    /// Tokens spent.
    pub tokens: Tokens,
    /// Cost spent (known prices only).
    pub cost_usd: f64,
    /// Wall time.
    pub elapsed_ms: u128,
    /// Entries that existed but could not be trusted.
    #[serde(skip)]
    pub invalid_entries: usize,
    /// Whether any request was refused by the budget.
    #[serde(skip)]
    pub budget_refused: bool,
    /// Whether the run was interrupted.
    #[serde(skip)]
    pub interrupted: bool,
    /// Submodules (and nested repositories) left out of the walk.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub skipped_submodules: Vec<String>,
}

/// The whole report.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// One line per `(file, type)`.
    pub results: Vec<FileResult>,
    /// Totals.
    pub summary: Summary,
}

impl Report {
    /// The `--json` document.
    pub fn to_json(&self) -> serde_json::Value {
        json!({ "results": self.results, "summary": self.summary })
    }
}

/// A file to analyse, identified or skipped.
struct Target {
    path: String,
    id: std::result::Result<FileId, (Status, String)>,
}

/// Work for a worker: one `(file, plan)` miss.
struct Job {
    file: Arc<FileId>,
    plan: usize,
    key: Key,
}

/// Collect, identify and analyse; print progress through `session.out`.
pub fn run(
    session: &Workspace,
    sel: &Selection,
    plans: &[Plan],
    opts: &RunOptions,
    index: Option<&Index>,
) -> Result<Report> {
    let started = Instant::now();
    let out = if opts.quiet {
        crate::output::Printer {
            quiet: true,
            ..session.out
        }
    } else {
        session.out
    };
    let (targets, submodules) = collect(session, sel, opts)?;
    for sub in &submodules {
        out.line(&format!(
            "⏭️  Skipped submodule {sub}/: a repository of its own (run rustassistant there)"
        ));
    }
    let explicit_small = targets.len() <= QUIET_HITS_ABOVE;

    // Phase 1: look every key up. Hits are cheap; misses become jobs.
    let mut results: Vec<FileResult> = Vec::new();
    let mut jobs: Vec<Job> = Vec::new();
    let mut summary = Summary::default();
    let mut first_invalid: Option<String> = None;
    let lookups = lookup_all(session, &targets, plans, index);
    let mut hit_rels: Vec<String> = Vec::new();
    let mut written: Vec<Written> = Vec::new();
    for (t, per_plan) in targets.iter().zip(lookups) {
        let file = match &t.id {
            Ok(f) => Arc::new(f.clone()),
            Err((status, reason)) => {
                for p in plans {
                    results.push(skip(&t.path, &p.cache_type, None, *status, reason.clone()));
                }
                continue;
            }
        };
        for (pi, found) in per_plan.into_iter().enumerate() {
            let plan = &plans[pi];
            let Some((key, found)) = found else {
                let reason = plan.analyzer.as_ref().err().cloned().unwrap_or_default();
                let mut r = skip(
                    &file.path,
                    &plan.cache_type,
                    Some(&file.blob),
                    Status::Skipped,
                    reason,
                );
                r.cause = Cause::NoProvider;
                results.push(r);
                continue;
            };
            match found {
                Found::Hit { rel, saved } if !opts.force => {
                    if explicit_small || out.verbose > 0 {
                        out.line(&format!("📦 Using cached analysis for {}", file.path));
                    }
                    hit_rels.push(rel.clone());
                    let mut r = skip(
                        &file.path,
                        &plan.cache_type,
                        Some(&file.blob),
                        Status::Hit,
                        String::new(),
                    );
                    r.reason = None;
                    r.entry_path = Some(PathBuf::from(".rustassistant").join(rel));
                    r.saved_usd = saved;
                    results.push(r);
                }
                other => {
                    if let Found::Invalid { path, error } = &other {
                        summary.invalid_entries += 1;
                        if out.verbose > 0 {
                            out.warn(&format!(
                                "ignoring untrusted entry {}: {}",
                                path.display(),
                                crate::output::sanitize(error)
                            ));
                        } else if first_invalid.is_none() {
                            first_invalid = Some(format!(
                                "{}: {}",
                                path.display(),
                                crate::output::sanitize(error)
                            ));
                        }
                    }
                    jobs.push(Job {
                        file: file.clone(),
                        plan: pi,
                        key,
                    });
                }
            }
        }
    }

    // Untrusted entries: one line for the run (each one with -v; all of them in `cache verify`).
    if let Some(first) = &first_invalid {
        out.warn(&format!(
            "{} untrusted cache {} (e.g. {first}); `rustassistant cache verify` lists them",
            summary.invalid_entries,
            if summary.invalid_entries == 1 {
                "entry ignored, treated as a miss"
            } else {
                "entries ignored, treated as misses"
            }
        ));
    }
    // Phase 2: the misses.
    if opts.dry_run {
        for j in &jobs {
            out.line(&format!(
                "🔍 Would analyze {} ({})",
                j.file.path, plans[j.plan].cache_type
            ));
            let mut r = skip(
                &j.file.path,
                &plans[j.plan].cache_type,
                Some(&j.file.blob),
                Status::Miss,
                "dry run: not analysed".into(),
            );
            r.cause = Cause::DryRun;
            r.tokens = Tokens::default();
            results.push(r);
        }
    } else if !jobs.is_empty() {
        written = execute(session, plans, jobs, opts, &mut results, out)?;
    }

    for r in &results {
        match r.status {
            Status::Hit => summary.hits += 1,
            Status::Miss => summary.misses += 1,
            Status::Skipped => summary.skipped += 1,
            Status::Error => summary.errors += 1,
        }
        summary.tokens = summary.tokens.add(&r.tokens);
        summary.cost_usd += r.cost_usd.unwrap_or(0.0);
        summary.budget_refused |= r.cause == Cause::Budget;
    }
    summary.interrupted = INTERRUPTED.load(Ordering::SeqCst);
    summary.skipped_submodules = submodules;
    summary.elapsed_ms = started.elapsed().as_millis();
    if let Some(ix) = index {
        if !opts.dry_run {
            let tally = crate::index::Tally {
                hits: summary.hits as u64,
                misses: summary.misses as u64,
                saved_usd: results
                    .iter()
                    .filter(|r| r.status == Status::Hit)
                    .map(|r| r.saved_usd)
                    .sum(),
            };
            if let Err(e) = ix.record_run(session, &hit_rels, &written, &tally) {
                out.warn(&format!(
                    "could not update the local index ({e}); it will catch up on the next run"
                ));
            }
        }
    }
    Ok(Report { results, summary })
}

fn skip(path: &str, ty: &str, blob: Option<&str>, status: Status, reason: String) -> FileResult {
    let cause = match status {
        Status::Hit | Status::Miss => Cause::None,
        Status::Skipped => Cause::Content,
        Status::Error => Cause::Failed,
    };
    FileResult {
        path: path.to_string(),
        cache_type: ty.to_string(),
        blob: blob.map(str::to_string),
        status,
        tokens: Tokens::default(),
        cost_usd: None,
        reason: Some(reason),
        entry_path: None,
        cause,
        saved_usd: 0.0,
    }
}

enum Found {
    Hit { rel: String, saved: f64 },
    Miss,
    Invalid { path: PathBuf, error: String },
}

/// Look every `(target, plan)` key up. Three phases: stat the candidate entry files on every
/// core; let the index confirm the ones it verified at that size and mtime (so they are not
/// read); read and verify the rest, again on every core.
fn lookup_all(
    session: &Workspace,
    targets: &[Target],
    plans: &[Plan],
    index: Option<&Index>,
) -> Vec<Vec<Option<(Key, Found)>>> {
    let variants: Vec<Option<String>> = plans
        .iter()
        .map(|p| {
            p.analyzer.as_ref().ok().map(|a| {
                let id = a.identity();
                crate::cache::variant(&id.provider, &id.model, &id.prompt_hash, SCHEMA_VERSION)
            })
        })
        .collect();
    let root = session.store.root();
    // Phase 1: stat.
    type Probe = Option<(Key, Option<(String, u64, i64)>)>;
    let probes: Vec<Vec<Probe>> = parallel_map(targets, |t| {
        let Ok(file) = &t.id else { return Vec::new() };
        plans
            .iter()
            .enumerate()
            .map(|(pi, p)| {
                let key = Key {
                    cache_type: p.cache_type.clone(),
                    blob: file.blob.clone(),
                    variant: variants[pi].clone()?,
                };
                let existing = session
                    .store
                    .probe(&key)
                    .map(|p| (p.rel, p.size, p.mtime_ns));
                Some((key, existing))
            })
            .collect()
    });
    // Phase 2: the index confirms what it has verified.
    let candidates: Vec<(&str, u64, i64)> = probes
        .iter()
        .flatten()
        .flatten()
        .filter_map(|(_, e)| e.as_ref().map(|(r, s, m)| (r.as_str(), *s, *m)))
        .collect();
    // With signatures required, every hit is read and its signature checked.
    let mut confirmed = match index {
        Some(ix) if !session.store.requires_signatures() => ix.confirm(&candidates),
        _ => vec![None; candidates.len()],
    }
    .into_iter();
    // Per probe with an existing file, in probe order: Some(cost) when the index vouches for it.
    let confirmed: Vec<Option<f64>> = probes
        .iter()
        .flatten()
        .flatten()
        .filter(|(_, e)| e.is_some())
        .map(|_| confirmed.next().flatten())
        .collect();
    // Phase 3: read and verify the unconfirmed.
    let unconfirmed: Vec<&Key> = probes
        .iter()
        .flatten()
        .flatten()
        .filter(|(_, e)| e.is_some())
        .zip(&confirmed)
        .filter(|(_, c)| c.is_none())
        .map(|((k, _), _)| k)
        .collect();
    let verified: HashMap<Key, Found> = unconfirmed
        .iter()
        .map(|k| (*k).clone())
        .zip(parallel_map(&unconfirmed, |k| {
            match session.store.lookup(k) {
                Lookup::Hit { entry, path } => Found::Hit {
                    rel: path
                        .strip_prefix(root)
                        .unwrap_or(&path)
                        .to_string_lossy()
                        .into_owned(),
                    saved: entry.cost_usd.unwrap_or(0.0),
                },
                Lookup::Miss => Found::Miss,
                Lookup::Invalid { path, error } => Found::Invalid {
                    path,
                    error: error.to_string(),
                },
            }
        }))
        .collect();
    let mut confirmed = confirmed.into_iter();
    probes
        .into_iter()
        .map(|per| {
            per.into_iter()
                .map(|p| {
                    let (key, existing) = p?;
                    let found = match existing {
                        None => Found::Miss,
                        Some((rel, _, _)) => match confirmed.next().flatten() {
                            Some(saved) => Found::Hit { rel, saved },
                            None => match verified.get(&key) {
                                Some(Found::Hit { rel, saved }) => Found::Hit {
                                    rel: rel.clone(),
                                    saved: *saved,
                                },
                                Some(Found::Invalid { path, error }) => Found::Invalid {
                                    path: path.clone(),
                                    error: error.clone(),
                                },
                                _ => Found::Miss,
                            },
                        },
                    };
                    Some((key, found))
                })
                .collect()
        })
        .collect()
}

/// Run the misses on a pool of workers; results arrive on a channel and are printed in the
/// order they finish. Returns the entries written, for the index.
fn execute(
    session: &Workspace,
    plans: &[Plan],
    jobs: Vec<Job>,
    opts: &RunOptions,
    results: &mut Vec<FileResult>,
    out: crate::output::Printer,
) -> Result<Vec<Written>> {
    let remote = jobs.iter().any(|j| {
        plans[j.plan]
            .analyzer
            .as_ref()
            .map(|a| a.is_remote())
            .unwrap_or(false)
    });
    let cores = cores();
    let workers = if remote {
        opts.jobs
            .or(session.config.file.llm.max_concurrency)
            .unwrap_or(crate::config::trust::DEFAULT_MAX_CONCURRENCY)
            .max(1)
    } else {
        opts.jobs.unwrap_or(cores).max(1)
    }
    .min(jobs.len());
    let total = jobs.len();
    let bar = progress_bar(total, out);
    let next = AtomicUsize::new(0);
    let (tx, rx) = mpsc::channel::<(FileResult, Option<Written>)>();
    let jobs = &jobs;
    let mut written = Vec::new();
    std::thread::scope(|s| {
        for _ in 0..workers {
            let tx = tx.clone();
            let next = &next;
            s.spawn(move || loop {
                if INTERRUPTED.load(Ordering::SeqCst) {
                    break;
                }
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(job) = jobs.get(i) else { break };
                if opts.deadline.is_some_and(|d| Instant::now() >= d) {
                    let mut r = skip(
                        &job.file.path,
                        &plans[job.plan].cache_type,
                        Some(&job.file.blob),
                        Status::Skipped,
                        "time limit reached".into(),
                    );
                    r.cause = Cause::TimeLimit;
                    if tx.send((r, None)).is_err() {
                        break;
                    }
                    continue;
                }
                if remote {
                    // Printed before the request so a slow provider shows what it is waiting on.
                    out.detail(&format!("🔍 Analyzing {}...", job.file.path));
                }
                let res = analyze_one(session, &plans[job.plan], job, opts);
                if tx.send(res).is_err() {
                    break;
                }
            });
        }
        drop(tx);
        for (r, rel) in rx {
            match r.status {
                Status::Miss => {
                    bar.suspend(|| {
                        // With -v a remote analysis announced itself when its request left.
                        if !(remote && out.verbose > 0) {
                            out.line(&format!("🔍 Analyzing {}...", r.path));
                        }
                        out.line("💾 Analysis cached");
                    });
                }
                Status::Error => bar.suspend(|| {
                    out.note(&format!(
                        "❌ {} ({}): {}",
                        r.path,
                        r.cache_type,
                        r.reason.as_deref().unwrap_or("")
                    ))
                }),
                Status::Skipped => bar.suspend(|| {
                    out.line(&format!(
                        "⏭️  Skipped {} ({}): {}",
                        r.path,
                        r.cache_type,
                        r.reason.as_deref().unwrap_or("")
                    ))
                }),
                Status::Hit => {}
            }
            bar.inc(1);
            if let Some(w) = rel {
                written.push(w);
            }
            results.push(r);
        }
    });
    bar.finish_and_clear();
    if INTERRUPTED.load(Ordering::SeqCst) {
        out.warn("interrupted: every entry already written is kept; run again to finish");
    }
    Ok(written)
}

fn progress_bar(total: usize, out: crate::output::Printer) -> indicatif::ProgressBar {
    use std::io::IsTerminal;
    if out.json || out.quiet || total <= QUIET_HITS_ABOVE || !std::io::stdout().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(total as u64);
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{bar:40} {pos}/{len} {wide_msg} [{elapsed_precise}, eta {eta}]",
    ) {
        bar.set_style(style);
    }
    bar
}

/// Analyse one miss and write its entry. Never panics on bad content; every failure becomes
/// the file's result.
fn analyze_one(
    session: &Workspace,
    plan: &Plan,
    job: &Job,
    opts: &RunOptions,
) -> (FileResult, Option<Written>) {
    let file = &job.file;
    let ty = &plan.cache_type;
    let fail = |status: Status, reason: String| {
        (skip(&file.path, ty, Some(&file.blob), status, reason), None)
    };
    let analyzer = match &plan.analyzer {
        Ok(a) => a,
        Err(reason) => {
            let (mut r, _) = fail(Status::Skipped, reason.clone());
            r.cause = Cause::NoProvider;
            return (r, None);
        }
    };
    let content = match read_content(&session.repo, file, session.config.max_file_bytes()) {
        Ok(c) => c,
        Err(e) => return fail(Status::Error, format!("cannot read: {e}")),
    };
    if looks_binary(&content) {
        return fail(Status::Skipped, "binary file".into());
    }
    let Ok(text) = std::str::from_utf8(&content) else {
        return fail(Status::Skipped, "not UTF-8 text".into());
    };
    if analyzer.is_remote() && !session_allows_secret(session, &file.path) {
        if let Some(why) = crate::analyzer::secrets::reason(&file.path, text) {
            return fail(Status::Skipped, why);
        }
    }
    // What would be written must be storable before anything is paid for: a path no entry
    // may carry (control characters, `..`) is refused here, not after the request.
    let id = analyzer.identity();
    let mut entry = Entry {
        schema_version: SCHEMA_VERSION,
        cache_type: ty.clone(),
        blob: file.blob.clone(),
        path: file.path.clone(),
        file_size: file.size,
        provider: id.provider.clone(),
        model: id.model.clone(),
        prompt_hash: id.prompt_hash.clone(),
        created_at: crate::util::now_rfc3339(&session.env),
        tool_version: env!("CARGO_PKG_VERSION").to_string(),
        tokens: Tokens::default(),
        cost_usd: None,
        response_model: None,
        signature: None,
        result: serde_json::Value::Null,
    };
    if let Err(e) = entry.check() {
        return fail(
            Status::Skipped,
            format!("cannot be cached, so not analysed: {e}"),
        );
    }
    let outcome = match analyzer.analyze(&file.path, text, opts.deadline) {
        Ok(o) => o,
        Err(AnalyzeError::Budget(m)) => {
            let (mut r, _) = fail(Status::Skipped, m);
            r.cause = Cause::Budget;
            return (r, None);
        }
        Err(AnalyzeError::Unavailable(m)) => {
            let (mut r, _) = fail(Status::Error, m);
            r.cause = Cause::Unavailable;
            return (r, None);
        }
        Err(AnalyzeError::Skipped(m)) => return fail(Status::Skipped, m),
        Err(AnalyzeError::Failed(m)) => return fail(Status::Error, m),
    };
    entry.tokens = outcome.tokens;
    entry.cost_usd = outcome.cost_usd;
    entry.response_model = outcome
        .response_model
        .filter(|m| m != &id.model)
        .map(|m| crate::output::sanitize(&m));
    // Control characters in a paid result are neutralised rather than refusing the entry (and
    // paying again on every run).
    entry.result = crate::cache::entry::neutralise_controls(outcome.result);
    if let Some(key) = session.env.get("RUSTASSISTANT_SIGNING_KEY") {
        entry.signature = Some(crate::cache::sign(key.as_bytes(), &entry));
    }
    debug_assert_eq!(entry.key(), job.key);
    if let Err(e) = entry.check() {
        return fail(Status::Error, format!("result rejected: {e}"));
    }
    match session.store.write_sized(&entry) {
        Ok((p, json_size)) => {
            let rel = p
                .strip_prefix(session.store.root())
                .unwrap_or(&p)
                .to_string_lossy()
                .into_owned();
            let r = FileResult {
                path: file.path.clone(),
                cache_type: ty.clone(),
                blob: Some(file.blob.clone()),
                status: Status::Miss,
                tokens: entry.tokens,
                cost_usd: entry.cost_usd,
                reason: None,
                entry_path: Some(PathBuf::from(".rustassistant").join(&rel)),
                cause: Cause::None,
                saved_usd: 0.0,
            };
            (
                r,
                Some(Written {
                    rel,
                    entry,
                    json_size,
                }),
            )
        }
        Err(e) => fail(Status::Error, format!("cannot write entry: {e}")),
    }
}

fn read_content(repo: &Repo, file: &FileId, max: u64) -> std::io::Result<Vec<u8>> {
    if let Some(c) = &file.content {
        return Ok(c.clone());
    }
    match file.source {
        Source::WorkTree => crate::util::fs::read_user_file(&repo.workdir().join(&file.path), max)
            .map_err(|e| std::io::Error::other(e.to_string())),
        Source::Object => repo.read_blob(&file.blob).map_err(std::io::Error::other),
    }
}

/// Turn the selection into identified files.
fn collect(
    session: &Workspace,
    sel: &Selection,
    opts: &RunOptions,
) -> Result<(Vec<Target>, Vec<String>)> {
    let repo = &session.repo;
    let cfg = &session.config;
    let filter = Filter::new(cfg)?;
    let max = cfg.max_file_bytes();
    let mut seen = std::collections::HashSet::new();
    let mut targets = Vec::new();
    let submodules: Arc<std::sync::Mutex<Vec<String>>> = Arc::default();

    if sel.staged {
        // The staged content, from the object database: exactly what the commit will hold.
        for t in repo.tracked(opts.index_file.as_deref())? {
            if !filter.matches(&t.path) || !seen.insert(t.path.clone()) {
                continue;
            }
            let id = if t.size as u64 > max {
                Err((
                    Status::Skipped,
                    format!("over max_file_bytes ({} > {max})", t.size),
                ))
            } else {
                Ok(FileId {
                    path: t.path.clone(),
                    blob: t.blob.clone(),
                    size: t.size as u64,
                    content: None,
                    source: Source::Object,
                })
            };
            targets.push(Target { path: t.path, id });
        }
        return Ok((targets, Vec::new()));
    }

    // Only entries that can be wanted are materialised: --all needs those passing the filter,
    // named paths need their own (or, for folders, those below them).
    let named: Vec<String> = sel
        .paths
        .iter()
        .map(|g| repo.relative(&session.cwd, g))
        .collect::<Result<_, _>>()?;
    let under = |p: &str, n: &str| {
        n.is_empty() || p == n || (p.starts_with(n) && p.as_bytes().get(n.len()) == Some(&b'/'))
    };
    // A handful of named files: hashing them (bounded by max_file_bytes) is cheaper than
    // loading the git index, which is megabytes once the cache itself is tracked, and gives
    // the same ids.
    let few_named_files = !sel.all
        && !sel.changed
        && named.len() <= FEW_FILES
        && named.iter().all(|n| repo.workdir().join(n).is_file());
    let tracked = if few_named_files {
        Vec::new()
    } else {
        repo.tracked_where(None, |p| {
            ((sel.all || sel.changed) && filter.matches(p)) || named.iter().any(|n| under(p, n))
        })?
    };
    let by_path: HashMap<&str, &Tracked> = tracked.iter().map(|t| (t.path.as_str(), t)).collect();
    let mut wanted: Vec<String> = Vec::new();
    if sel.all {
        // Without named paths, everything tracked_where kept passed the filter already.
        wanted.extend(
            tracked
                .iter()
                .filter(|t| named.is_empty() || filter.matches(&t.path))
                .map(|t| t.path.clone()),
        );
        // And what git would track next: untracked files that .gitignore does not exclude.
        wanted.extend(untracked_files(repo, &filter, &by_path, &submodules));
    }
    if sel.changed {
        let mut so = git2::StatusOptions::new();
        so.include_untracked(true)
            .recurse_untracked_dirs(true)
            .include_ignored(false);
        let git = repo.git();
        for s in git.statuses(Some(&mut so))?.iter() {
            let st = s.status();
            if st.is_wt_deleted() || st.is_index_deleted() || st.is_ignored() {
                continue;
            }
            if let Ok(p) = s.path() {
                if filter.matches(p) {
                    wanted.push(p.to_string());
                }
            }
        }
    }
    for (given, rel) in sel.paths.iter().zip(named) {
        let abs = repo.workdir().join(&rel);
        if abs.is_dir() {
            let mut walk = ignore::WalkBuilder::new(&abs);
            walk.hidden(false)
                .git_ignore(true)
                .git_exclude(true)
                .parents(true)
                .require_git(false);
            let root = repo.workdir().to_path_buf();
            let subs = submodules.clone();
            walk.filter_entry(move |e| e.file_name() != ".git" && !is_nested_repo(e, &root, &subs));
            for item in walk.build().flatten() {
                if !item.file_type().is_some_and(|t| t.is_file()) {
                    continue;
                }
                if let Ok(r) = item.path().strip_prefix(repo.workdir()) {
                    let r = r.to_string_lossy().replace(std::path::MAIN_SEPARATOR, "/");
                    if filter.matches(&r) {
                        wanted.push(r);
                    }
                }
            }
        } else if rel.starts_with(".rustassistant/") {
            return Err(UserError::Input(format!(
                "{}: is a cache entry, not a source file",
                given.display()
            ))
            .into());
        } else {
            wanted.push(rel);
        }
    }
    wanted.retain(|p| seen.insert(p.clone()));
    let resolved = parallel_map(&wanted, |p| {
        let id = match repo.work_file(p, by_path.get(p.as_str()).copied(), max) {
            Ok(Some(WorkFile::Known(f))) => {
                if f.content.as_deref().is_some_and(looks_binary) {
                    Err((Status::Skipped, "binary file".to_string()))
                } else {
                    Ok(f)
                }
            }
            Ok(Some(WorkFile::TooLarge(n))) => Err((
                Status::Skipped,
                format!("over max_file_bytes ({n} > {max})"),
            )),
            Ok(None) => Err((Status::Skipped, "not a regular file".to_string())),
            Err(e) => Err((Status::Error, format!("cannot read: {e}"))),
        };
        Target {
            path: p.clone(),
            id,
        }
    });
    targets.extend(resolved);
    let mut submodules = std::mem::take(&mut *submodules.lock().unwrap_or_else(|p| p.into_inner()));
    submodules.sort();
    submodules.dedup();
    Ok((targets, submodules))
}

/// `[analysis] include` / `exclude` as compiled glob sets.
pub struct Filter {
    include: globset::GlobSet,
    exclude: globset::GlobSet,
}

impl Filter {
    /// Compile the configured patterns; a bad pattern is a usage error naming it.
    pub fn new(cfg: &Config) -> Result<Filter, UserError> {
        let build = |pats: Vec<String>, what: &str| {
            let mut b = globset::GlobSetBuilder::new();
            for p in pats {
                let g = globset::GlobBuilder::new(&p)
                    .literal_separator(true)
                    .build()
                    .map_err(|e| {
                        UserError::Usage(format!("invalid [analysis] {what} pattern `{p}`: {e}"))
                    })?;
                b.add(g);
                // `dir/**` should match the folder itself at any depth too, like .gitignore.
                if !p.starts_with("**/") && !p.starts_with('/') {
                    if let Ok(g) = globset::GlobBuilder::new(&format!("**/{p}"))
                        .literal_separator(true)
                        .build()
                    {
                        if what == "exclude" {
                            b.add(g);
                        }
                    }
                }
            }
            b.build()
                .map_err(|e| UserError::Usage(format!("invalid [analysis] {what} patterns: {e}")))
        };
        Ok(Filter {
            include: build(cfg.include(), "include")?,
            exclude: build(cfg.exclude(), "exclude")?,
        })
    }

    /// Whether `path` (repository-relative) is analysed by walks and `--all`.
    pub fn matches(&self, path: &str) -> bool {
        self.include.is_match(path)
            && !self.exclude.is_match(path)
            && !Path::new(path).starts_with(".rustassistant")
    }
}

/// Untracked files that `.gitignore` (and `.git/info/exclude`) do not exclude and the filter
/// accepts. `.git` and `.rustassistant` are pruned from the walk, so its cost is that of
/// listing the source folders.
fn untracked_files(
    repo: &Repo,
    filter: &Filter,
    tracked: &HashMap<&str, &Tracked>,
    submodules: &Arc<std::sync::Mutex<Vec<String>>>,
) -> Vec<String> {
    let root = repo.workdir().to_path_buf();
    let mut walk = ignore::WalkBuilder::new(&root);
    walk.hidden(false)
        .git_ignore(true)
        .git_exclude(true)
        .git_global(false)
        .parents(false)
        .require_git(false);
    let prune_root = root.clone();
    let submodules = submodules.clone();
    walk.filter_entry(move |e| {
        let p = e.path();
        if p == prune_root.join(".git") || p == prune_root.join(".rustassistant") {
            return false;
        }
        !is_nested_repo(e, &prune_root, &submodules)
    });
    let mut out = Vec::new();
    for item in walk.build().flatten() {
        if !item.file_type().is_some_and(|t| t.is_file()) {
            continue;
        }
        let Ok(rel) = item.path().strip_prefix(&root) else {
            continue;
        };
        let Some(rel) = rel.to_str() else { continue };
        if !tracked.contains_key(rel) && filter.matches(rel) {
            out.push(rel.to_string());
        }
    }
    out
}

/// Whether the walked folder `e` is a repository of its own (a submodule's checkout, or a
/// nested clone): its files are not this repository's, so it is skipped and recorded.
fn is_nested_repo(
    e: &ignore::DirEntry,
    root: &Path,
    found: &std::sync::Mutex<Vec<String>>,
) -> bool {
    if e.depth() == 0 || !e.file_type().is_some_and(|t| t.is_dir()) {
        return false;
    }
    if std::fs::symlink_metadata(e.path().join(".git")).is_err() {
        return false;
    }
    if let Ok(rel) = e.path().strip_prefix(root) {
        let mut v = found.lock().unwrap_or_else(|p| p.into_inner());
        v.push(
            rel.to_string_lossy()
                .replace(std::path::MAIN_SEPARATOR, "/"),
        );
    }
    true
}

/// Whether `[analysis] allow_secrets` lets `path` be sent even if it looks like a secret.
fn session_allows_secret(session: &Workspace, path: &str) -> bool {
    let Some(globs) = &session.config.file.analysis.allow_secrets else {
        return false;
    };
    globs.iter().any(|g| {
        globset::Glob::new(g)
            .map(|g| g.compile_matcher().is_match(path))
            .unwrap_or(false)
    })
}
