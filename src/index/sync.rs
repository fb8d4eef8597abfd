//! Bringing the index up to date with the shards: stat every shard (or the ones named), and
//! for each whose stat data changed, compare its lines with the line hashes recorded for it;
//! only new lines are decoded, only vanished ones deleted.

use std::collections::{HashMap, HashSet};

use anyhow::Result;
use rusqlite::{params, OptionalExtension, TransactionBehavior};

use super::records::{decode_lines, encode_lines, forget_shards, LineRec};
use super::*;
use crate::cache::shard::{self, Decoded, Line, ShardId};
use crate::cache::store::{Location, Place};
use crate::cache::{Entry, EntryError, Store};
use crate::util::par::parallel_map;

/// (inode, size, mtime_ns) of a shard.
pub type Sig = (u64, u64, i64);

/// A row to insert.
struct NewRow {
    hash: u64,
    len: usize,
    /// 1 valid, 0 invalid, 2 superseded.
    valid: i64,
    what: Result<(Key, Entry), EntryError>,
}

/// What to do with one changed shard.
struct ShardWork {
    loc: Location,
    /// `None`: the shard is gone.
    now: Option<(Sig, Vec<LineRec>)>,
    /// Every recorded row of the shard is replaced.
    full: bool,
    insert: Vec<NewRow>,
    delete: Vec<u64>,
}

impl Index {
    /// Remove every row and re-read every shard (`cache rebuild-index`). Access history and
    /// counters are kept.
    pub fn rebuild(&mut self, session: &Workspace) -> Result<SyncStats> {
        {
            let tx = self
                .conn
                .transaction_with_behavior(TransactionBehavior::Immediate)?;
            // Without the triggers, SQLite empties a table at once instead of row by row; and
            // without its indexes a table is filled in one pass, the indexes then built by
            // sorting (far cheaper than growing each B-tree a row at a time).
            tx.execute_batch(
                "DROP TRIGGER IF EXISTS entries_ins; DROP TRIGGER IF EXISTS entries_del;
                 DELETE FROM entries; DELETE FROM shards; DELETE FROM shard_lines; DELETE FROM shard_hits; DELETE FROM totals;
                 DELETE FROM findings;",
            )?;
            tx.execute_batch(schema::DROP_ENTRY_INDEXES)?;
            tx.execute_batch(schema::TRIGGERS)?;
            tx.commit()?;
        }
        let synced = self.sync(session);
        // The indexes come back whatever happened (a failed sync leaves a slower index, never
        // one without them).
        self.conn.execute_batch(schema::SCHEMA)?;
        synced
    }

    /// Bring the index up to date with every shard in both places.
    pub fn sync(&mut self, session: &Workspace) -> Result<SyncStats> {
        let store = &session.store;
        let mut current: Vec<(Location, Option<Sig>)> = Vec::new();
        let mut old_layout = 0;
        for place in Place::ALL {
            let mut l = store.list(place);
            old_layout += l.old_layout;
            if place == Place::Tree {
                remove_untracked_empty(session, &mut l.shards);
            }
            current.extend(l.shards.into_iter().map(|(l, sig)| (l, Some(sig))));
        }
        let mut st = self.refresh(store, current, true, &HashMap::new())?;
        st.old_layout = old_layout;
        self.last_sync = st;
        Ok(st)
    }

    /// Bring the rows of the named shards up to date (after this command wrote them, or found
    /// them changed).
    pub fn sync_shards(&self, store: &Store, locs: &[Location]) -> Result<SyncStats> {
        self.refresh(store, stat_each(store, locs), false, &HashMap::new())
    }

    /// [`Index::sync_shards`] for shards this command has just written, holding the cache
    /// lock, with the bytes it wrote: compared without being read back (the pre-commit hook
    /// writes a few hundred).
    pub fn sync_written(&self, store: &Store, written: &[(Location, &[u8])]) -> Result<SyncStats> {
        let known: HashMap<&Location, &[u8]> = written.iter().map(|(l, b)| (l, *b)).collect();
        let current = stat_each(store, written.iter().map(|(l, _)| l));
        self.refresh(store, current, false, &known)
    }

    /// The stat data recorded for the shards `rels` (by [`Location::rel`]): a query each for a
    /// few, one scan for many.
    pub fn shard_sigs_for(&self, rels: &[String]) -> Result<HashMap<String, Sig>> {
        if rels.len() > 64 {
            return self.shard_sigs();
        }
        let mut q = self
            .conn
            .prepare_cached("SELECT ino, size, mtime_ns FROM shards WHERE shard = ?1")?;
        let mut out = HashMap::new();
        for rel in rels {
            if let Some(sig) = q
                .query_row([rel], |r| {
                    Ok((
                        r.get::<_, i64>(0)? as u64,
                        r.get::<_, i64>(1)? as u64,
                        r.get::<_, i64>(2)?,
                    ))
                })
                .optional()?
            {
                out.insert(rel.clone(), sig);
            }
        }
        Ok(out)
    }

    /// The stat data recorded for every shard (by [`Location::rel`]).
    pub fn shard_sigs(&self) -> Result<HashMap<String, Sig>> {
        let mut q = self
            .conn
            .prepare_cached("SELECT shard, ino, size, mtime_ns FROM shards")?;
        let rows = q.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                (
                    r.get::<_, i64>(1)? as u64,
                    r.get::<_, i64>(2)? as u64,
                    r.get::<_, i64>(3)?,
                ),
            ))
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// `current` lists shards as they are now (`None`: absent); with `complete`, recorded
    /// shards not in it are gone too. `known` holds the bytes of shards this command wrote.
    fn refresh(
        &self,
        store: &Store,
        current: Vec<(Location, Option<Sig>)>,
        complete: bool,
        known: &HashMap<&Location, &[u8]>,
    ) -> Result<SyncStats> {
        let mut st = SyncStats {
            shards_seen: current.len(),
            ..SyncStats::default()
        };
        let recorded = self.shard_sigs()?;
        let mut changed: Vec<(Location, Option<Sig>)> = Vec::new();
        let mut listed = HashSet::new();
        for (loc, sig) in current {
            let rel = loc.rel();
            let before = recorded.get(&rel).copied();
            listed.insert(rel);
            if before != sig {
                changed.push((loc, sig));
            }
        }
        if complete {
            for rel in recorded.keys().filter(|r| !listed.contains(*r)) {
                if let Some(loc) = Location::from_rel(rel) {
                    changed.push((loc, None));
                }
            }
        }
        if changed.is_empty() {
            return Ok(st);
        }
        // What each changed shard held, then read and compare them on every core; the reads
        // of the index share one snapshot (on their own, each takes and drops a WAL read lock).
        let snapshot = self.conn.unchecked_transaction()?;
        let old: Vec<Vec<LineRec>> = changed
            .iter()
            .map(|(l, _)| self.line_table(&l.rel()))
            .collect::<Result<_>>()?;
        let started_ns = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as i64)
            .unwrap_or(i64::MAX);
        let numbered: Vec<usize> = (0..changed.len()).collect();
        let mut work: Vec<ShardWork> = parallel_map(&numbered, |&i| {
            let (loc, sig) = &changed[i];
            compare(
                store,
                loc,
                *sig,
                &old[i],
                started_ns,
                known.get(loc).copied(),
            )
        });
        // Keys a shard holds twice need every line of the shard to pick the winner.
        for w in &mut work {
            if !w.full && w.now.is_some() && self.needs_full(w)? {
                let old: Vec<LineRec> = Vec::new();
                let sig = w.now.as_ref().map(|(s, _)| *s);
                let bytes = known.get(&w.loc).copied();
                *w = compare(store, &w.loc, sig, &old, started_ns, bytes);
                w.full = true;
            }
        }
        snapshot.finish()?;
        let rows: usize = work.iter().map(|w| w.insert.len() + w.delete.len()).sum();
        let bulk = rows > BULK_ROWS;
        let tx = rusqlite::Transaction::new_unchecked(&self.conn, TransactionBehavior::Immediate)?;
        if bulk {
            tx.execute_batch(
                "DROP TRIGGER IF EXISTS entries_ins; DROP TRIGGER IF EXISTS entries_del;",
            )?;
        }
        // Shards that are gone (an emptied overlay shard: a commit moves a hundred of them up at
        // once) lose their rows in one statement per table, after the loop.
        let mut gone: Vec<String> = Vec::new();
        let mut now_recorded =
            tx.prepare_cached("SELECT ino, size, mtime_ns FROM shards WHERE shard = ?1")?;
        for (w, was) in work.iter().zip(&old) {
            let rel = w.loc.rel();
            // Another process may have recorded this shard since this one read what the index
            // held (a hook in a linked worktree, a parallel analyze): its rows are then not the
            // ones this diff was made against, and applying it would leave rows without lines
            // or lines without rows. Its record stands; the next sync compares the file with it.
            let recorded_now: Option<Sig> = now_recorded
                .query_row([&rel], |r| {
                    Ok((
                        r.get::<_, i64>(0)? as u64,
                        r.get::<_, i64>(1)? as u64,
                        r.get::<_, i64>(2)?,
                    ))
                })
                .optional()?;
            if recorded_now != recorded.get(&rel).copied() {
                st.raced += 1;
                continue;
            }
            if w.now.is_none() {
                gone.push(rel);
                continue;
            }
            st.shards_read += 1;
            // Touched but holding the same lines at the same places (a shard recorded as racily
            // clean, read again): its rows, line table and hit table stand; only its stat data
            // is new.
            if let Some((sig, _)) = w.now.as_ref().filter(|(_, l)| !w.full && l == was) {
                let same = w.insert.is_empty() && w.delete.is_empty();
                if same
                    && tx
                        .prepare_cached(
                            "UPDATE shards SET ino = ?2, size = ?3, mtime_ns = ?4 WHERE shard = ?1",
                        )?
                        .execute(params![rel, sig.0 as i64, sig.1 as i64, sig.2])?
                        == 1
                {
                    continue;
                }
            }
            // The shard's hit table follows its rows: rebuilt from the lines read when every
            // row is replaced, else the recorded one less what is deleted plus what is added.
            let mut set = if w.full {
                hits::HitSet::default()
            } else {
                hits::recorded(&tx, &rel)?
            };
            if w.full {
                // A shard the index does not record has no rows (they are written together,
                // and this is the write transaction, so another process's sync is seen):
                // no delete, which matters when `rebuild` has dropped the index on `shard`.
                let has_rows = tx
                    .prepare_cached("SELECT 1 FROM shards WHERE shard = ?1")?
                    .exists([&rel])?;
                if has_rows {
                    st.removed += tx
                        .prepare_cached("DELETE FROM entries WHERE shard = ?1")?
                        .execute([&rel])?;
                }
            } else {
                let mut del = tx.prepare_cached(
                    "DELETE FROM entries WHERE shard = ?1 AND line_hash = ?2 RETURNING key_id, valid",
                )?;
                for h in &w.delete {
                    let gone = del.query_map(params![rel, *h as i64], |r| {
                        Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?))
                    })?;
                    for g in gone {
                        let (id, valid) = g?;
                        st.removed += 1;
                        match valid {
                            1 => {
                                set.recs.remove(&id);
                            }
                            0 => set.invalid -= 1,
                            _ => {}
                        }
                    }
                }
            }
            for r in &w.insert {
                insert_row(&tx, &rel, &w.loc.shard, r)?;
                st.added += 1;
                match (&r.what, r.valid) {
                    (Ok((key, e)), 1) => {
                        let created = hits::created_secs(Some(&e.created_at));
                        set.recs
                            .insert(key_id(key), (e.cost_usd.unwrap_or(0.0), created));
                    }
                    (_, 0) => set.invalid += 1,
                    _ => {}
                }
            }
            if let Some((sig, lines)) = &w.now {
                tx.prepare_cached(
                    "INSERT INTO shards VALUES (?1, ?2, ?3, ?4) ON CONFLICT (shard) DO UPDATE
                     SET ino = excluded.ino, size = excluded.size, mtime_ns = excluded.mtime_ns",
                )?
                .execute(params![rel, sig.0 as i64, sig.1 as i64, sig.2])?;
                tx.prepare_cached(
                    "INSERT INTO shard_lines VALUES (?1, ?2) ON CONFLICT (shard) DO UPDATE
                     SET lines = excluded.lines",
                )?
                .execute(params![rel, encode_lines(lines)])?;
                hits::store(&tx, &rel, &set)?;
            }
        }
        drop(now_recorded);
        st.removed += forget_shards(&tx, &gone)?;
        if bulk {
            tx.execute_batch(schema::RECOMPUTE_TOTALS)?;
            tx.execute_batch(schema::TRIGGERS)?;
        }
        tx.commit()?;
        self.checkpoint();
        Ok(st)
    }

    /// The line records stored for shard `rel` (empty when unknown).
    pub(crate) fn line_table(&self, rel: &str) -> Result<Vec<LineRec>> {
        let blob: Option<Vec<u8>> = self
            .conn
            .prepare_cached("SELECT lines FROM shard_lines WHERE shard = ?1")?
            .query_row([rel], |r| r.get(0))
            .optional()?;
        Ok(blob.map(|b| decode_lines(&b)).unwrap_or_default())
    }

    /// Whether an incremental update of `w` could leave two rows for one key (the winner
    /// must then be picked among every line of the shard).
    fn needs_full(&self, w: &ShardWork) -> Result<bool> {
        let rel = w.loc.rel();
        let dup: i64 = self
            .conn
            .prepare_cached("SELECT count(*) FROM entries WHERE shard = ?1 AND valid = 2")?
            .query_row([&rel], |r| r.get(0))?;
        if dup > 0 {
            return Ok(true);
        }
        let mut seen = HashSet::new();
        let deleting: HashSet<u64> = w.delete.iter().copied().collect();
        let mut q = self
            .conn
            .prepare_cached("SELECT line_hash FROM entries WHERE shard = ?1 AND key_id = ?2")?;
        for r in &w.insert {
            let Ok((key, _)) = &r.what else { continue };
            let id = key_id(key);
            if !seen.insert(id) {
                return Ok(true);
            }
            let others: Vec<i64> = q
                .query_map(params![rel, id], |x| x.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            if others.iter().any(|h| !deleting.contains(&(*h as u64))) {
                return Ok(true);
            }
        }
        Ok(false)
    }
}

/// With the commit hook installed, remove the empty work-tree shards git does not track (left
/// by a hook killed between creating a type's shards and staging them): git would list them
/// as untracked files, and the next hooked commit creates and stages whatever its types lack.
/// Without the hook they are the type's new shards, for the user to commit. An empty shard git
/// tracks stays. Costs nothing unless an empty shard exists.
fn remove_untracked_empty(session: &Workspace, shards: &mut Vec<(Location, Sig)>) {
    if !shards.iter().any(|(_, sig)| sig.1 == 0) || !session.commit_hook_runs() {
        return;
    }
    let Ok((_, tracked, odd)) = session
        .repo
        .index_blobs_and_paths(None, ".rustassistant/cache/")
    else {
        return;
    };
    let tracked: HashSet<String> = tracked.into_iter().map(|(p, _)| p).chain(odd).collect();
    let store = &session.store;
    let Ok(_lock) = store.lock() else { return };
    shards.retain(|(loc, sig)| {
        if sig.1 != 0 || tracked.contains(&Store::tree_rel(&loc.shard)) {
            return true;
        }
        let path = store.path_of(loc);
        // Still empty under the lock: no writer is filling it.
        let empty = std::fs::symlink_metadata(&path).is_ok_and(|m| m.is_file() && m.len() == 0);
        !(empty && std::fs::remove_file(&path).is_ok())
    });
}

/// Stat a shard (`None`: absent or not a regular file).
pub fn stat(store: &Store, loc: &Location) -> Option<Sig> {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::symlink_metadata(store.path_of(loc)).ok()?;
    m.is_file()
        .then(|| (m.ino(), m.len(), crate::util::fs::mtime_ns(&m)))
}

/// The stat data of each of `locs`, once each, in their order.
fn stat_each<'a>(
    store: &Store,
    locs: impl IntoIterator<Item = &'a Location>,
) -> Vec<(Location, Option<Sig>)> {
    let mut seen = HashSet::new();
    locs.into_iter()
        .filter(|l| seen.insert(*l))
        .map(|l| (l.clone(), stat(store, l)))
        .collect()
}

/// Read one changed shard (unless its bytes are `known`) and compare it with the line records
/// `old`.
fn compare(
    store: &Store,
    loc: &Location,
    sig: Option<Sig>,
    old: &[LineRec],
    started_ns: i64,
    known: Option<&[u8]>,
) -> ShardWork {
    let mut w = ShardWork {
        loc: loc.clone(),
        now: None,
        full: old.is_empty(),
        insert: Vec::new(),
        delete: Vec::new(),
    };
    let Some(sig) = sig else {
        return w;
    };
    // Racily clean (git's term): a shard changed in the same clock tick as this sync could
    // keep this mtime; record such a shard with no mtime so the next sync reads it again.
    let sig = if super::is_racy(sig.2, started_ns) {
        (sig.0, sig.1, 0)
    } else {
        sig
    };
    let read;
    // What this command wrote is what the file holds (it holds the cache lock); a size that
    // disagrees with the stat all the same sends it to the file.
    let bytes: &[u8] = match known.filter(|b| b.len() as u64 == sig.1) {
        Some(b) => b,
        None => match store.read_shard(loc) {
            Ok(Some(b)) => {
                read = b;
                &read
            }
            Ok(None) => return w,
            Err(e) => {
                // The whole file is one untrusted "line".
                w.full = true;
                w.now = Some((sig, Vec::new()));
                w.insert.push(NewRow {
                    hash: 0,
                    len: sig.1 as usize,
                    valid: 0,
                    what: Err(e),
                });
                return w;
            }
        },
    };
    let lines = shard::lines(bytes);
    let recs: Vec<LineRec> = lines
        .iter()
        .map(|l| (l.hash, l.range.start as u32, l.range.len() as u32))
        .collect();
    if w.full {
        let p = shard::parse(bytes, &loc.shard);
        let row = |d: Decoded, valid| NewRow {
            hash: d.line.hash,
            len: d.line.range.len(),
            valid,
            what: Ok((d.key, d.entry)),
        };
        w.insert.extend(p.entries.into_iter().map(|d| row(d, 1)));
        w.insert.extend(p.superseded.into_iter().map(|d| row(d, 2)));
        w.insert
            .extend(p.invalid.into_iter().map(|(n, l, e)| invalid_row(n, &l, e)));
    } else {
        let before: HashSet<u64> = old.iter().map(|r| r.0).collect();
        let now: HashSet<u64> = lines.iter().map(|l| l.hash).collect();
        w.delete = before.difference(&now).copied().collect();
        let mut added = HashSet::new();
        for (n, l) in lines.iter().enumerate() {
            if before.contains(&l.hash) || !added.insert(l.hash) {
                continue;
            }
            let raw = &bytes[l.range.clone()];
            w.insert
                .push(match shard::decode_line_keyed(raw, &loc.shard) {
                    Ok((e, key)) => NewRow {
                        hash: l.hash,
                        len: l.range.len(),
                        valid: 1,
                        what: Ok((key, e)),
                    },
                    Err(e) => invalid_row(n + 1, l, e),
                });
        }
    }
    w.now = Some((sig, recs));
    w
}

fn invalid_row(n: usize, l: &Line, e: EntryError) -> NewRow {
    NewRow {
        hash: l.hash,
        len: l.range.len(),
        valid: 0,
        what: Err(EntryError::Malformed(format!("line {n}: {e}"))),
    }
}

fn insert_row(
    tx: &rusqlite::Transaction<'_>,
    rel: &str,
    shard: &ShardId,
    r: &NewRow,
) -> rusqlite::Result<()> {
    let size = r.len as i64 + 1;
    let overlay = rel.starts_with("overlay/");
    match &r.what {
        Ok((key, e)) => tx.prepare_cached(
            // `error` of a trusted line: the reply it stores missed its schema (Entry::invalid).
            "INSERT INTO entries (shard, line_hash, key_id, cache_type, blob, variant, valid, path, file_size, provider, model, created_at,
                tokens_in, tokens_out, tokens_cached, cost_usd, size_on_disk, json_size, overlay, error)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20)",
        )?.execute(params![
            rel, r.hash as i64, key_id(key), key.cache_type, key.blob, key.variant, r.valid, e.path, e.file_size as i64,
            e.provider, e.model, e.created_at, e.tokens.input as i64, e.tokens.output as i64,
            e.tokens.cached_input as i64, e.cost_usd, size, r.len as i64, overlay, e.invalid
        ])?,
        Err(err) => tx.prepare_cached(
            "INSERT INTO entries (shard, line_hash, key_id, cache_type, blob, variant, valid, error, size_on_disk, json_size, overlay)
             VALUES (?1, ?2, ?3, ?4, '', '', 0, ?5, ?6, ?7, ?8)",
        )?.execute(params![rel, r.hash as i64, r.hash as i64, shard.cache_type, err.to_string(), size, r.len as i64, overlay])?,
    };
    Ok(())
}

#[cfg(test)]
mod tests;
