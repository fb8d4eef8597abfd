//! `cache verify`: every shard and overlay file read and checked line by line, and the local
//! index compared with what is on disk.
//!
//! What callers may rely on: [`Index::verify`] reads every shard once; it names every line that
//! cannot be trusted, every key held twice with different results, every file in a shard's
//! place that is not a regular shard, and every shard whose rows in the index differ from its
//! lines (those are repaired: the shard's rows are dropped and read again, and named).

use std::collections::{BTreeMap, BTreeSet};

use anyhow::Result;
use rusqlite::params;

use super::Index;
use crate::cache::shard;
use crate::cache::store::{Location, Place};
use crate::workspace::Workspace;

/// One thing `cache verify` found wrong.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Problem {
    /// The file (absolute), with `:line` or `:blob` where one line is meant.
    pub path: String,
    /// What is wrong.
    pub problem: String,
}

/// What `cache verify` found.
#[derive(Debug, Default, serde::Serialize)]
pub struct Verified {
    /// Valid entries (one per key).
    pub entries: usize,
    /// Shards read (both places).
    pub shards: usize,
    /// Lines a union merge left for a key already held, with the same result (harmless: the
    /// next write drops them).
    pub duplicates: usize,
    /// Everything wrong.
    pub problems: Vec<Problem>,
    /// Shards whose index rows differed from their lines, and were read again.
    pub index_repaired: Vec<String>,
}

impl Index {
    /// Check every shard and the index against them (see the module doc).
    pub fn verify(&mut self, session: &Workspace) -> Result<Verified> {
        let store = &session.store;
        let mut out = Verified::default();
        let mut shards = Vec::new();
        let mut old = 0;
        for place in Place::ALL {
            let l = store.list(place);
            shards.extend(l.shards.into_iter().map(|(loc, _)| loc));
            for s in l.strays {
                let what = std::fs::symlink_metadata(&s)
                    .map(|m| crate::util::fs::describe(&m.file_type()))
                    .unwrap_or("is not readable");
                out.problems.push(Problem {
                    path: s.display().to_string(),
                    problem: format!(
                        "not a shard (cache/<type>/<b0b1>.jsonl): it {}; left as it is",
                        what.trim_start_matches("is ")
                    ),
                });
            }
            old += l.old_layout;
        }
        out.shards = shards.len();
        // The lines each shard holds as the index records them: (line hash, validity).
        type Lines = Vec<(u64, i64)>;
        let checked = crate::util::par::parallel_map(&shards, |loc| {
            let path = store.path_of(loc).display().to_string();
            let mut problems = Vec::new();
            let (mut entries, mut duplicates) = (0, 0);
            let mut lines: Lines = Vec::new();
            let mut by_reference = Vec::new();
            match store.read_shard(loc) {
                Ok(Some(bytes)) => {
                    // The index records what a plain parse finds (its winners decide hits
                    // only when no signature is required).
                    let raw = shard::parse(&bytes, &loc.shard);
                    lines.extend(raw.entries.iter().map(|d| (d.line.hash, 1)));
                    lines.extend(raw.superseded.iter().map(|d| (d.line.hash, 2)));
                    lines.extend(raw.invalid.iter().map(|(_, l, _)| (l.hash, 0)));
                    let p = store.parse(&bytes, &loc.shard);
                    entries = p.entries.len();
                    for (n, _, e) in &p.invalid {
                        problems.push(Problem {
                            path: format!("{path}:{n}"),
                            problem: e.to_string(),
                        });
                    }
                    for d in &p.entries {
                        if d.entry.by_reference() {
                            by_reference.push(d.entry.clone());
                        }
                        if let Some(e) = store.untrusted(&d.entry) {
                            problems.push(Problem {
                                path: format!("{path}:{}", d.key.blob),
                                problem: e.to_string(),
                            });
                        }
                    }
                    let conflicts = p.conflicts(&bytes);
                    duplicates = p.superseded.len();
                    for (key, at) in &conflicts {
                        duplicates -= at.len() - 1;
                        let at: Vec<String> = at.iter().map(|n| n.to_string()).collect();
                        problems.push(Problem {
                            path: format!("{path}:{}", at.join(",")),
                            problem: format!(
                                "lines {} hold different results for one key ({} of blob {}, variant {}): a union merge of two analyses; the earliest is used, and the next write keeps only it",
                                at.join(" and "),
                                key.cache_type,
                                key.blob,
                                key.variant
                            ),
                        });
                    }
                }
                Ok(None) => {}
                Err(e) => {
                    lines.push((0, 0));
                    problems.push(Problem {
                        path: path.clone(),
                        problem: format!(
                            "{e}; left as it is, its new entries wait in the local overlay"
                        ),
                    });
                }
            }
            (entries, duplicates, problems, lines, by_reference)
        });
        let mut on_disk: BTreeMap<String, Lines> = BTreeMap::new();
        let mut by_reference = Vec::new();
        for (loc, (n, d, p, lines, refs)) in shards.iter().zip(checked) {
            out.entries += n;
            out.duplicates += d;
            out.problems.extend(p);
            on_disk.insert(loc.rel(), lines);
            let path = store.path_of(loc).display().to_string();
            by_reference.extend(refs.into_iter().map(|e| (path.clone(), e)));
        }
        // Results stored by reference: each must still assemble from its items' entries.
        // Content this clone does not have (a shallow clone) cannot be checked here.
        let (paths, entries): (Vec<String>, Vec<crate::cache::Entry>) =
            by_reference.into_iter().unzip();
        // (File entries by reference hold no result: cloning them is cheap.)
        let assembled = store.complete(&session.repo, entries.clone());
        for ((path, e), r) in paths.iter().zip(&entries).zip(assembled) {
            match r {
                Ok(_) | Err(crate::cache::assemble::Incomplete::NoContent(_)) => {}
                Err(why) => out.problems.push(Problem {
                    path: format!("{path}:{}", e.blob),
                    problem: format!(
                        "the {ty} result of {file} cannot be assembled: {why}; `rustassistant analyze --force -t {ty} {file}` asks for the missing items only",
                        ty = e.cache_type,
                        file = e.path
                    ),
                }),
            }
        }
        if old > 0 {
            out.problems.push(Problem {
                path: store.cache_dir().display().to_string(),
                problem: crate::cache::listing::old_layout_message(old),
            });
        }
        out.index_repaired = self.repair_against(store, &on_disk)?;
        Ok(out)
    }

    /// Bring the index up to date, then compare each shard's rows with its lines (`on_disk`,
    /// by [`Location::rel`]); a shard that differs, or rows of a shard that is not on disk, are
    /// forgotten and read again. Returns the shards repaired.
    fn repair_against(
        &mut self,
        store: &crate::cache::Store,
        on_disk: &BTreeMap<String, Vec<(u64, i64)>>,
    ) -> Result<Vec<String>> {
        let recorded: BTreeSet<String> = {
            let mut q = self
                .conn
                .prepare("SELECT shard FROM shards UNION SELECT DISTINCT shard FROM entries")?;
            let rows = q.query_map([], |r| r.get::<_, String>(0))?;
            rows.collect::<rusqlite::Result<_>>()?
        };
        let mut differ = Vec::new();
        {
            let mut q = self
                .conn
                .prepare("SELECT line_hash, valid FROM entries WHERE shard = ?1")?;
            for rel in recorded.iter().chain(on_disk.keys()) {
                let mut rows: Vec<(u64, i64)> = q
                    .query_map(params![rel], |r| {
                        Ok((r.get::<_, i64>(0)? as u64, r.get::<_, i64>(1)?))
                    })?
                    .collect::<rusqlite::Result<_>>()?;
                rows.sort_unstable();
                let mut want = on_disk.get(rel).cloned().unwrap_or_default();
                want.sort_unstable();
                if rows != want && !differ.contains(rel) {
                    differ.push(rel.clone());
                }
            }
        }
        if differ.is_empty() {
            return Ok(differ);
        }
        {
            let tx = self.conn.unchecked_transaction()?;
            super::records::forget(&tx, &differ)?;
            tx.commit()?;
        }
        let locs: Vec<Location> = differ
            .iter()
            .filter_map(|r| Location::from_rel(r))
            .collect();
        self.sync_shards(store, &locs)?;
        Ok(differ)
    }
}
