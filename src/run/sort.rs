//! The lookups sorted into result lines (hits, skips) and jobs (misses), on every core for long
//! runs: at 100,000 files that is 200,000 lines.

use std::sync::Arc;

use crate::cache::Key;
use crate::git::{BlobId, FileId};
use crate::output::Printer;
use crate::util::par::Filler;

use super::lookup::{self, Found};
use super::report::{self, line, Cause, FileResult, Status};
use super::{Job, Plan, RunOptions, Skip, Target, QUIET_HITS_ABOVE};

/// Below this many targets per core the lines are made on one thread.
const PAR_MIN: usize = 2048;

/// The lookups sorted into result lines (hits, skips) and jobs (misses).
#[derive(Default)]
pub(super) struct Sorted {
    pub results: Vec<FileResult>,
    pub jobs: Vec<Job>,
    /// The key ids of the hits (for their access stamps).
    pub hit_ids: Vec<i64>,
    /// Hits found in the local overlay (candidates for the shards once staged).
    pub overlay_hits: Vec<(Arc<FileId>, Key)>,
    pub invalid: usize,
    pub first_invalid: Option<String>,
    /// With [`RunOptions::hits_as_totals`]: the hits without a line, the cost they saved, and
    /// the paths of the files with such hits (for the count of files).
    pub unlisted_hits: usize,
    pub unlisted_saved: f64,
    pub unlisted_files: Vec<Arc<str>>,
    /// Hits and the cost they saved, per plan (every hit, with a line or not): what the run
    /// records as savings.
    pub by_plan: Vec<(u64, f64)>,
}

/// What sorting has to say on screen, kept in order while the lines are made on several threads.
enum Said {
    /// A hit's line.
    Line(String),
    /// A result to say through [`report::Repeats`].
    Result(FileResult),
}

/// What every target is sorted with.
struct Sorting<'a> {
    variants: &'a [Option<String>],
    plans: &'a [Plan],
    /// Each type's name, shared by its results.
    types: Vec<&'static str>,
    opts: &'a RunOptions,
    list_hits: bool,
    /// Whether each plan's analyses are paid requests (those analyse source files only, see
    /// [`crate::config::Config::llm_analyses`]).
    remote: Vec<bool>,
    config: &'a crate::config::Config,
}

/// Sort each target's answers (`lookups[t * plans + p]`) into result lines and jobs.
pub(super) fn sort(
    mut targets: Vec<Target>,
    lookups: &[Option<(i64, Found)>],
    variants: &[Option<String>],
    plans: &[Plan],
    opts: &RunOptions,
    session: &crate::workspace::Workspace,
    (out, repeats): (Printer, &mut report::Repeats),
) -> Sorted {
    let config = &session.config;
    // No plans, no answers and no lines.
    if plans.is_empty() {
        return Sorted::default();
    }
    let how = Sorting {
        variants,
        plans,
        types: plans
            .iter()
            .map(|p| crate::util::interned(&p.cache_type))
            .collect(),
        opts,
        list_hits: targets.len() <= QUIET_HITS_ABOVE || out.verbose > 0,
        remote: plans
            .iter()
            .map(|p| p.analyzer.as_ref().is_ok_and(|a| a.is_remote()))
            .collect(),
        config,
    };
    let np = plans.len();
    // One counter per plan, every chunk's the same length as the run's.
    let counters = || Sorted {
        by_plan: vec![(0, 0.0); np],
        ..Sorted::default()
    };
    let mut all = counters();
    // Lines go straight into the run's list, each chunk of targets into its own region (at most
    // one line per plan each); jobs, hit ids and overlay hits are gathered per chunk.
    let parts = crate::util::par::parallel_fill(
        &mut targets,
        PAR_MIN,
        np,
        &mut all.results,
        |at, chunk, results| {
            let mut s = counters();
            let mut said = Vec::new();
            for (k, t) in chunk.iter_mut().enumerate() {
                // Taken out whole (an empty skip allocates nothing): its strings move into its
                // lines.
                let taken = std::mem::replace(
                    t,
                    Target {
                        id: Err(Skip {
                            path: String::new(),
                            status: Status::Skipped,
                            reason: String::new(),
                        }),
                    },
                );
                let t = at + k;
                how.one(
                    taken,
                    &lookups[t * np..(t + 1) * np],
                    results,
                    &mut s,
                    &mut said,
                );
            }
            (s, said)
        },
    );
    for (s, said) in parts {
        all.jobs.extend(s.jobs);
        all.hit_ids.extend(s.hit_ids);
        all.overlay_hits.extend(s.overlay_hits);
        all.unlisted_hits += s.unlisted_hits;
        all.unlisted_saved += s.unlisted_saved;
        all.unlisted_files.extend(s.unlisted_files);
        for (a, b) in all.by_plan.iter_mut().zip(&s.by_plan) {
            a.0 += b.0;
            a.1 += b.1;
        }
        say(out, said, repeats);
    }
    all
}

fn say(out: Printer, said: Vec<Said>, repeats: &mut report::Repeats) {
    for s in said {
        match s {
            Said::Line(l) => out.line(&l),
            Said::Result(r) => repeats.say(&r, out),
        }
    }
}

impl Sorting<'_> {
    /// One target's lines and jobs, one answer per plan.
    fn one(
        &self,
        target: Target,
        per_plan: &[Option<(i64, Found)>],
        results: &mut Filler<'_, FileResult>,
        s: &mut Sorted,
        said: &mut Vec<Said>,
    ) {
        let (plans, variants, opts) = (self.plans, self.variants, self.opts);
        let file = match target.id {
            Ok(f) => f,
            Err(Skip {
                path,
                status,
                reason,
            }) => {
                let path: Arc<str> = path.into();
                // Said on screen, not only in --json: a skip always shows its reason.
                for ty in &self.types {
                    let r = line(path.clone(), ty, None, status, reason.clone()).because(
                        if status == Status::Error {
                            Cause::Failed
                        } else {
                            Cause::Content
                        },
                    );
                    said.push(Said::Result(r.clone()));
                    results.push(r);
                }
                return;
            }
        };
        // The file is shared (with the jobs, the overlay hits) only when some plan needs it: an
        // all-cached run of 100,000 files allocates and frees none. Its path and blob id move
        // into its last result and are copied for the others: each copy of the shared path is
        // an atomic count (the blob id is inline), and counts were a million per 100,000 files.
        let needed = per_plan
            .iter()
            .zip(variants)
            .any(|(found, variant)| needs_file(found, variant.is_some(), opts.force));
        let (shared, path, blob) = if needed {
            let (path, blob) = (file.path.clone(), file.blob.clone());
            (Some(Arc::new(file)), path, blob)
        } else {
            let FileId { path, blob, .. } = file;
            (None, path, blob)
        };
        let shared = || {
            shared
                .as_ref()
                .expect("needs_file said a plan needs the file")
        };
        let mut names = Some((path, blob));
        // With hits counted only, the last result to take the names may be none: the path is
        // kept for the count of files (the blob id is not needed).
        let mut unlisted = false;
        let last = per_plan.len().saturating_sub(1);
        let names_for = |names: &mut Option<(Arc<str>, BlobId)>, pi: usize| {
            if pi == last {
                names.take().expect("the last result takes the names once")
            } else {
                let (p, b) = names.as_ref().expect("taken only by the last result");
                (p.clone(), b.clone())
            }
        };
        for (pi, found) in per_plan.iter().enumerate() {
            let plan = &plans[pi];
            let ty = self.types[pi];
            let (Some((id, found)), Some(variant)) = (found, &variants[pi]) else {
                let (path, blob) = names_for(&mut names, pi);
                let reason = plan.analyzer.as_ref().err().cloned().unwrap_or_default();
                results.push(
                    line(path, ty, Some(blob), Status::Skipped, reason).because(Cause::NoProvider),
                );
                continue;
            };
            match found {
                Found::Hit { saved, overlay } if !opts.force => {
                    if *overlay {
                        let file = shared();
                        s.overlay_hits
                            .push((file.clone(), lookup::key_of(plan, file, variant)));
                    }
                    if self.list_hits {
                        let (path, _) = names.as_ref().expect("taken only by the last result");
                        said.push(Said::Line(format!(
                            "📦 Using cached analysis for {} ({})",
                            path, plan.cache_type
                        )));
                    }
                    s.hit_ids.push(*id);
                    s.by_plan[pi].0 += 1;
                    s.by_plan[pi].1 += *saved;
                    if opts.hits_as_totals {
                        s.unlisted_hits += 1;
                        s.unlisted_saved += *saved;
                        unlisted = true;
                        continue;
                    }
                    let (path, blob) = names_for(&mut names, pi);
                    let mut r = line(path, ty, Some(blob), Status::Hit, String::new());
                    r.reason = None;
                    r.saved_usd = *saved;
                    results.push(r);
                }
                _ if self.remote[pi] && !self.config.llm_analyses(&shared().path) => {
                    let (path, blob) = names_for(&mut names, pi);
                    let r = line(
                        path,
                        ty,
                        Some(blob),
                        Status::Skipped,
                        "not source code (the paid types analyse source files unless [analysis] include says otherwise)".into(),
                    )
                    .because(Cause::Content);
                    said.push(Said::Result(r.clone()));
                    results.push(r);
                }
                _ => {
                    // An untrusted line is a miss; the run warns once about all of them.
                    let file = shared();
                    s.jobs.push(Job {
                        key: lookup::key_of(plan, file, variant),
                        file: file.clone(),
                        plan: pi,
                    });
                }
            }
        }
        // A file whose last result took its path has a line; one with hits counted only and
        // no line (yet: a job's comes later, with the same path) is counted by its path.
        if let (true, Some((path, _))) = (unlisted, names) {
            s.unlisted_files.push(path);
        }
    }
}

/// Whether `sort` gives a plan's answer `found` the file itself (a job, an overlay hit to
/// promote) rather than only its path and blob id; the branches there follow the same cases.
fn needs_file(found: &Option<(i64, Found)>, has_variant: bool, force: bool) -> bool {
    match found {
        _ if !has_variant => false,
        None => false,
        Some((_, Found::Hit { overlay, .. })) if !force => *overlay,
        Some(_) => true,
    }
}
