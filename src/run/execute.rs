//! Running the misses: a bounded pool of workers, each analysing one `(file, type)`; results are
//! printed in the order they finish and their entries written in batches per shard (paid results
//! at least once a second; those of the built-in analyzers at the end of the run). One file failing never stops
//! the others; Ctrl-C stops taking new work and keeps everything already analysed.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::Result;

use crate::cache::shard::ShardId;
use crate::cache::store::{Edit, Location, Place};
use crate::cache::{Entry, Tokens, SCHEMA_VERSION};
use crate::git::{looks_binary, FileId, Repo, Source};
use crate::util::interrupt::{interrupted, stop_new_work};
use crate::util::par::cores;
use crate::workspace::Workspace;

use super::report::{line as skip, Cause, FileResult, Status};
use super::{Job, Plan, RunOptions, QUIET_HITS_ABOVE};

/// Run the misses on a pool of workers; results arrive on a channel and are printed in the
/// order they finish. Returns the shards written, for the index, and where the entries went.
pub(crate) fn execute(
    session: &Workspace,
    plans: &[Plan],
    jobs: Vec<Job>,
    opts: &RunOptions,
    results: &mut Vec<FileResult>,
    out: crate::output::Printer,
    repeats: &mut super::report::Repeats,
) -> Result<(Vec<Location>, Option<super::report::StoredIn>)> {
    crate::util::interrupt::catch_ctrl_c();
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
    let (tx, rx) = mpsc::channel::<(usize, FileResult, Vec<Entry>, bool)>();
    // Lines are printed in job order (path, then type), whatever order the workers finish in:
    // results wait here until every earlier job's line is out.
    let mut pending: std::collections::BTreeMap<usize, FileResult> = Default::default();
    let mut printed = 0usize;
    let jobs = &jobs;
    let mut writer = Writer::new(session, opts, remote);
    std::thread::scope(|s| {
        for _ in 0..workers {
            let tx = tx.clone();
            let next = &next;
            s.spawn(move || loop {
                if stop_new_work() {
                    break;
                }
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(job) = jobs.get(i) else { break };
                if opts.deadline.is_some_and(|d| Instant::now() >= d) {
                    let r = skip(
                        job.file.path.clone(),
                        crate::util::interned(&plans[job.plan].cache_type),
                        Some(job.file.blob.clone()),
                        Status::Skipped,
                        "time limit reached".into(),
                    )
                    .because(Cause::TimeLimit);
                    if tx.send((i, r, Vec::new(), false)).is_err() {
                        break;
                    }
                    continue;
                }
                if remote {
                    // Printed before the request so a slow provider shows what it is waiting on.
                    out.detail(&format!(
                        "🔍 Analyzing {} ({})...",
                        job.file.path, plans[job.plan].cache_type
                    ));
                }
                let (r, entries) = analyze_one(session, &plans[job.plan], job, opts);
                let staged = job.file.source == Source::Object;
                if tx.send((i, r, entries, staged)).is_err() {
                    break;
                }
            });
        }
        drop(tx);
        loop {
            let (i, r, entries, staged) = match rx.recv_timeout(FLUSH_EVERY) {
                Ok(got) => got,
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    writer.flush_if_due(results);
                    continue;
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            };
            // The item entries of one request are written together, in the item shard the
            // analysed file's blob names (cache::homes).
            let home = r.blob.as_ref().map(|b| b.as_str()[..2].to_string());
            for e in entries {
                let shard = match &home {
                    Some(prefix) if crate::cache::key::is_items_type(&e.cache_type) => ShardId {
                        cache_type: e.cache_type.clone(),
                        prefix: prefix.clone(),
                    },
                    _ => ShardId::of(&e.key()),
                };
                writer.push(e, shard, staged, results.len());
            }
            pending.insert(i, r.clone());
            while let Some(r) = pending.remove(&printed) {
                bar.suspend(|| say(&r, remote, out, repeats));
                printed += 1;
            }
            bar.inc(1);
            results.push(r);
            writer.flush_if_due(results);
        }
    });
    // Jobs never started (Ctrl-C, a closed stdout) leave gaps: the rest print in order.
    for r in pending.values() {
        bar.suspend(|| say(r, remote, out, repeats));
    }
    writer.flush(results);
    bar.finish_and_clear();
    if interrupted() {
        out.warn("interrupted: every entry already written is kept; run again to finish");
    }
    let stored_in = writer.hook_runs.map(|hook| {
        if hook {
            super::report::StoredIn::Overlay
        } else {
            super::report::StoredIn::Shards
        }
    });
    Ok((writer.touched, stored_in))
}

/// The line a finished job prints.
fn say(
    r: &FileResult,
    remote: bool,
    out: crate::output::Printer,
    repeats: &mut super::report::Repeats,
) {
    match r.status {
        // One line per analysis, which never reads like a hit (`📦 Using cached analysis`).
        // With -v a remote analysis announced itself when its request left: this closes it.
        Status::Miss if remote && out.verbose > 0 => out.line(&format!(
            "💾 Analysis cached for {} ({})",
            r.path, r.cache_type
        )),
        Status::Miss => out.line(&format!(
            "🔍 Analyzing {} ({})... analysis cached",
            r.path, r.cache_type
        )),
        Status::Error | Status::Skipped => repeats.say(r, out),
        Status::Hit => {}
    }
    // -v: how a miss was analysed (by items, or whole and why).
    if let (Status::Miss, Some(how)) = (r.status, &r.reason) {
        out.detail(&format!("   {}: {how}", r.path));
    }
}

/// Entries wait at most this long before they are written.
const FLUSH_EVERY: Duration = Duration::from_secs(1);
/// ... or until this many are waiting.
const FLUSH_AT: usize = 512;
/// Entries of the built-in (free, fast) analyzers are written at the end of the run, or when
/// this many wait: each write reads and rewrites whole shards, so writing every second on a
/// 100,000-file first run would rewrite every shard hundreds of times. A kill loses only
/// seconds of local work.
const LOCAL_FLUSH_AT: usize = 50_000;

/// Batches a run's entries per shard: committed or staged content goes to the shards, content
/// only in the working tree to the local overlay (DESIGN.md, "What goes into shards").
struct Writer<'a> {
    session: &'a Workspace,
    index_file: Option<&'a str>,
    /// Blob ids git's index records per path ([`Writer::index_blobs`]).
    staged: Option<HashMap<String, String>>,
    /// (place, entry, the result it belongs to).
    pending: Vec<(Place, ShardId, Entry, usize)>,
    last: Instant,
    /// Whether paid (remote) results are being written: then at least once a second.
    remote: bool,
    /// Shards whose bytes changed.
    touched: Vec<Location>,
    /// Entries stored in the overlay because their work-tree shard was refused.
    diverted: usize,
    /// Whether the commit hook runs (decided on the first write).
    hook_runs: Option<bool>,
}

impl<'a> Writer<'a> {
    fn new(session: &'a Workspace, opts: &'a RunOptions, remote: bool) -> Writer<'a> {
        Writer {
            session,
            index_file: opts.index_file.as_deref(),
            staged: None,
            pending: Vec::new(),
            last: Instant::now(),
            remote,
            touched: Vec::new(),
            diverted: 0,
            hook_runs: None,
        }
    }

    /// Where `e` belongs: the shards when git's index holds exactly this content at its path.
    /// The blob id git's index records for every path (read once a run): where entries
    /// belong, and the committed version of each shard.
    fn index_blobs(&mut self) -> &HashMap<String, String> {
        let (repo, index_file) = (&self.session.repo, self.index_file);
        self.staged.get_or_insert_with(|| {
            repo.tracked(index_file)
                .map(|v| {
                    v.into_iter()
                        .map(|t| (t.path.to_string(), t.blob.to_string()))
                        .collect()
                })
                .unwrap_or_default()
        })
    }

    /// Where `e` goes (DESIGN.md, "Where entries go"): the content a commit hook is staging
    /// (`staged`) into the shards it stages; otherwise, with the commit hook installed, into
    /// the local overlay, which the hook carries into the commit that holds the content, so
    /// that `analyze` never leaves a tracked shard modified; without it, into the shards, to be
    /// committed like a lock file.
    fn place(&mut self, staged: bool) -> Place {
        if staged {
            return Place::Tree;
        }
        let session = self.session;
        if *self
            .hook_runs
            .get_or_insert_with(|| session.commit_hook_runs())
        {
            Place::Overlay
        } else {
            Place::Tree
        }
    }

    /// Queue `e` for result `at`.
    fn push(&mut self, e: Entry, shard: ShardId, staged: bool, at: usize) {
        let place = self.place(staged);
        self.pending.push((place, shard, e, at));
    }

    fn flush_if_due(&mut self, results: &mut [FileResult]) {
        let due = if self.remote {
            self.pending.len() >= FLUSH_AT
                || (!self.pending.is_empty() && self.last.elapsed() >= FLUSH_EVERY)
        } else {
            self.pending.len() >= LOCAL_FLUSH_AT
        };
        if due {
            self.flush(results);
        }
    }

    /// Attach git's version of each shard about to be written (see [`Edit::committed`]).
    fn add_committed(&mut self, edits: &mut BTreeMap<ShardId, Edit>) {
        let repo = &self.session.repo;
        let oids = self.index_blobs();
        for (shard, edit) in edits.iter_mut() {
            if let Some(oid) = oids.get(&crate::cache::Store::tree_rel(shard)) {
                edit.committed = repo
                    .read_blob_within(oid, crate::cache::shard::MAX_SHARD_BYTES)
                    .ok();
            }
        }
    }

    /// Write what is waiting. A shard that cannot be written fails only its own entries: those
    /// for a refused work-tree shard wait in the local overlay (said once per shard), and an
    /// entry stored nowhere turns its result into an error.
    fn flush(&mut self, results: &mut [FileResult]) {
        self.last = Instant::now();
        if self.pending.is_empty() {
            return;
        }
        let mut by_place: BTreeMap<Place, BTreeMap<ShardId, Edit>> = BTreeMap::new();
        let mut owners: BTreeMap<(Place, ShardId), Vec<usize>> = BTreeMap::new();
        // An item two requests sent at once (the same function in two files) is stored once:
        // item entries do not share a shard by key, so no shard's rewrite would merge them.
        let pending = std::mem::take(&mut self.pending);
        let item_keys: Vec<crate::cache::Key> = pending
            .iter()
            .filter(|(_, _, e, _)| crate::cache::key::is_items_type(&e.cache_type))
            .map(|(_, _, e, _)| e.key())
            .collect();
        let stored = if item_keys.is_empty() {
            HashMap::new()
        } else {
            self.session.store.lookup_many(&item_keys)
        };
        let mut items_written = std::collections::HashSet::new();
        for (place, shard, e, at) in pending {
            if crate::cache::key::is_items_type(&e.cache_type) {
                let key = e.key();
                if stored.contains_key(&key) || !items_written.insert(key) {
                    continue;
                }
            }
            owners.entry((place, shard.clone())).or_default().push(at);
            by_place
                .entry(place)
                .or_default()
                .entry(shard)
                .or_default()
                .add
                .push(e);
        }
        if let Some(tree) = by_place.get_mut(&Place::Tree) {
            self.add_committed(tree);
        }
        let mut fail = |place: Place, shard: &ShardId, why: &str| {
            for &i in owners.get(&(place, shard.clone())).into_iter().flatten() {
                if let Some(r) = results.get_mut(i) {
                    r.status = Status::Error;
                    r.reason = Some(format!("cannot write entry: {why}"));
                }
            }
        };
        for (place, edits) in by_place {
            let shards: Vec<ShardId> = edits.keys().cloned().collect();
            match self.session.store.apply(place, edits) {
                Ok(applied) => {
                    for a in applied {
                        match &a.refused {
                            None if a.changed => self.touched.push(a.at),
                            None => {}
                            Some(why) if a.diverted > 0 => {
                                self.session.out.warn(&format!(
                                    "{why}; {} new {} for it wait{} in the local overlay (`rustassistant cache verify` names the shard)",
                                    a.diverted,
                                    if a.diverted == 1 { "entry" } else { "entries" },
                                    if a.diverted == 1 { "s" } else { "" },
                                ));
                                self.diverted += a.diverted;
                            }
                            Some(why) => fail(a.at.place, &a.at.shard, why),
                        }
                    }
                }
                Err(e) => {
                    for shard in &shards {
                        fail(place, shard, &e.to_string());
                    }
                }
            }
        }
    }
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
) -> (FileResult, Vec<Entry>) {
    let file = &job.file;
    let ty = &plan.cache_type;
    let fail_because = |status: Status, cause: Cause, reason: String| {
        (
            skip(
                file.path.clone(),
                crate::util::interned(ty),
                Some(file.blob.clone()),
                status,
                reason,
            )
            .because(cause),
            Vec::new(),
        )
    };
    let fail = |status: Status, reason: String| {
        (
            skip(
                file.path.clone(),
                crate::util::interned(ty),
                Some(file.blob.clone()),
                status,
                reason,
            ),
            Vec::new(),
        )
    };
    let analyzer = match &plan.analyzer {
        Ok(a) => a,
        Err(reason) => return fail_because(Status::Skipped, Cause::NoProvider, reason.clone()),
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
        blob: file.blob.to_string(),
        path: file.path.to_string(),
        file_size: file.size,
        provider: id.provider.clone(),
        model: id.model.clone(),
        prompt_hash: id.prompt_hash.clone(),
        created_at: crate::util::now_rfc3339(&session.env),
        tool_version: env!("CARGO_PKG_VERSION").to_string(),
        tokens: Tokens::default(),
        cost_usd: None,
        response_model: None,
        items: None,
        item_variant: None,
        invalid: None,
        signature: None,
        // A placeholder: the result is set once there is one.
        result: serde_json::json!({}),
    };
    if let Err(e) = entry.check() {
        return fail(
            Status::Skipped,
            format!("cannot be cached, so not analysed: {e}"),
        );
    }
    // By items (DESIGN.md, "Items"): only the functions, methods and types without a result
    // are sent. A file that cannot be split is analysed whole, and says why with -v.
    let mut whole_because = None;
    if session.config.settings.granularity == crate::config::Granularity::Item {
        if let Some(item_id) = analyzer.item_identity() {
            match crate::items::split(&file.path, text) {
                Ok(split) => {
                    return super::items::analyze_by_items(
                        session,
                        &**analyzer,
                        item_id,
                        &split,
                        file,
                        entry,
                        opts.deadline,
                    )
                }
                Err(crate::items::Whole::NoGrammar) => {}
                Err(why) => whole_because = Some(format!("analysed whole: {why}")),
            }
        }
    }
    let outcome = match analyzer.analyze(&file.path, text, opts.deadline) {
        Ok(o) => o,
        Err(e) => {
            let (status, cause, m) = super::report::failure(&e);
            return fail_because(status, cause, m);
        }
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
    debug_assert_eq!(entry.key(), job.key);
    // A reply that misses the schema is stored, marked, so it is paid for once: an error line
    // now, a hit (with nothing to show) until `--force`.
    entry.invalid = outcome.invalid;
    if let Err(why) = super::report::seal(session, &mut entry) {
        return fail(Status::Error, why);
    }
    if let Some(why) = &entry.invalid {
        let mut r = fail(Status::Error, super::report::invalid_stored(why)).0;
        r.tokens = entry.tokens;
        r.cost_usd = entry.cost_usd;
        return (r, vec![entry]);
    }
    let r = FileResult {
        path: file.path.clone(),
        cache_type: crate::util::interned(ty),
        blob: Some(file.blob.clone()),
        status: Status::Miss,
        tokens: entry.tokens,
        cost_usd: entry.cost_usd,
        reason: whole_because,
        cause: Cause::None,
        saved_usd: 0.0,
        items: None,
    };
    (r, vec![entry])
}

pub(crate) fn read_content(repo: &Repo, file: &FileId, max: u64) -> std::io::Result<Vec<u8>> {
    if let Some(c) = &file.content {
        return Ok(c.clone());
    }
    match file.source {
        Source::WorkTree => crate::util::fs::read_user_file(&repo.workdir().join(&*file.path), max)
            .map_err(|e| std::io::Error::other(e.to_string())),
        Source::Object => repo.read_blob(&file.blob).map_err(std::io::Error::other),
    }
}

/// Whether `[analysis] allow_secrets` lets `path` be sent even if it looks like a secret. Its
/// patterns match as include/exclude do: `*` stays within a folder, `**` crosses folders (the
/// configuration's validation refused patterns that do not build).
fn session_allows_secret(session: &Workspace, path: &str) -> bool {
    let Some(globs) = &session.config.file.analysis.allow_secrets else {
        return false;
    };
    crate::util::glob::GlobList::new(globs).is_ok_and(|g| g.is_match(path))
}
