//! Answering from the index: hits it vouches for, statistics, rows for eviction and pruning;
//! and recording what a command did (a run's entries and counters, deletions).

use anyhow::{Context as _, Result};
use rusqlite::params;
use serde::Serialize;

use super::*;
use crate::cache::Store;
use crate::config::Eviction;
use crate::util::fs::mtime_ns;
use crate::workspace::Workspace;

/// One group in the statistics (a type or a model).
#[derive(Debug, Default, Clone, Serialize)]
pub struct Group {
    /// The type or model name.
    pub name: String,
    /// Entries.
    pub entries: u64,
    /// Bytes on disk.
    pub size_bytes: u64,
    /// Input + output tokens.
    pub total_tokens: u64,
    /// Input tokens.
    pub tokens_in: u64,
    /// Output tokens.
    pub tokens_out: u64,
    /// Sum of known costs.
    #[serde(serialize_with = "crate::util::money::ser_usd")]
    pub cost_usd: f64,
}

/// Cache statistics (`cache stats`).
#[derive(Debug, Default, Clone, Serialize)]
pub struct Stats {
    /// Valid entries.
    pub total_entries: u64,
    /// Entries that failed verification.
    pub invalid_entries: u64,
    /// Bytes on disk of valid entries.
    pub total_size_bytes: u64,
    /// Bytes of their JSON, uncompressed.
    pub uncompressed_size_bytes: u64,
    /// Input + output tokens over all entries.
    pub total_tokens: u64,
    /// Input tokens.
    pub tokens_in: u64,
    /// Output tokens.
    pub tokens_out: u64,
    /// Cached input tokens.
    pub tokens_cached: u64,
    /// Sum of known entry costs.
    #[serde(serialize_with = "crate::util::money::ser_usd")]
    pub estimated_cost_usd: f64,
    /// Entries whose cost is unknown (model without a price).
    pub unknown_cost_entries: u64,
    /// Cache hits recorded.
    pub hits: u64,
    /// Misses recorded.
    pub misses: u64,
    /// hits / (hits + misses), 0 when nothing was recorded.
    pub hit_rate: f64,
    /// Cost the hits saved.
    #[serde(serialize_with = "crate::util::money::ser_usd")]
    pub saved_usd: f64,
    /// `[cache] max_size` in bytes, when set.
    pub max_size_bytes: Option<u64>,
    /// Per analysis type.
    pub by_type: Vec<Group>,
    /// Per model.
    pub by_model: Vec<Group>,
}

/// One indexed entry, as eviction and clearing see it.
#[derive(Debug, Clone)]
pub struct Row {
    /// Path relative to `.rustassistant/`.
    pub rel: String,
    /// Analysis type.
    pub cache_type: String,
    /// Blob id.
    pub blob: String,
    /// Recorded source path.
    pub path: Option<String>,
    /// Bytes on disk.
    pub size_on_disk: u64,
    /// Whether it verified.
    pub valid: bool,
    /// Why not.
    pub error: Option<String>,
}

/// The counters one run adds to the index.
#[derive(Debug, Clone, Copy, Default)]
pub struct Tally {
    /// Cache hits.
    pub hits: u64,
    /// Misses (analysed now).
    pub misses: u64,
    /// Cost the hits saved, in USD.
    pub saved_usd: f64,
}

impl Index {
    /// For each `(rel, size, mtime_ns)`, the entry's cost when the index verified that file at
    /// exactly that size and mtime (so it need not be read again), else `None`.
    pub fn confirm(&self, items: &[(&str, u64, i64)]) -> Vec<Option<f64>> {
        // A few keys: one indexed query each. Many: one scan beats thousands of queries.
        if items.len() < 2000 {
            let Ok(mut q) = self.conn.prepare_cached("SELECT size_on_disk, mtime_ns, COALESCE(cost_usd, 0) FROM entries WHERE id = ?1 AND rel = ?2 AND valid = 1") else {
                return vec![None; items.len()];
            };
            return items
                .iter()
                .map(|(rel, size, mtime)| {
                    q.query_row(params![rel_id(rel), rel], |r| {
                        Ok((
                            r.get::<_, i64>(0)? as u64,
                            r.get::<_, i64>(1)?,
                            r.get::<_, f64>(2)?,
                        ))
                    })
                    .ok()
                    .filter(|(s, m, _)| (s, m) == (size, mtime))
                    .map(|(_, _, c)| c)
                })
                .collect();
        }
        let mut snap: HashMap<i64, (u64, i64, f64)> = HashMap::with_capacity(items.len());
        if let Ok(mut q) = self.conn.prepare(
            "SELECT id, size_on_disk, mtime_ns, COALESCE(cost_usd, 0) FROM entries WHERE valid = 1",
        ) {
            if let Ok(rows) = q.query_map([], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    (
                        r.get::<_, i64>(1)? as u64,
                        r.get::<_, i64>(2)?,
                        r.get::<_, f64>(3)?,
                    ),
                ))
            }) {
                snap.extend(rows.flatten());
            }
        }
        items
            .iter()
            .map(|(rel, size, mtime)| {
                snap.get(&rel_id(rel))
                    .filter(|v| (v.0, v.1) == (*size, *mtime))
                    .map(|v| v.2)
            })
            .collect()
    }

    /// Record a finished run: index the entries it wrote, count hits and misses, stamp the
    /// access time of every hit.
    pub fn record_run(
        &self,
        session: &Workspace,
        hit_rels: &[String],
        written: &[Written],
        tally: &Tally,
    ) -> Result<()> {
        let root = session.store.root();
        let now = crate::util::now_timestamp(&session.env).as_second();
        let (hits, misses, saved) = (tally.hits as f64, tally.misses as f64, tally.saved_usd);
        let tx = self.conn.unchecked_transaction()?;
        // The run just wrote these and holds them: index them from memory, with one stat for the
        // file's signature, instead of reading and decoding them back.
        for w in written {
            let Ok(meta) = std::fs::metadata(root.join(&w.rel)) else {
                continue;
            };
            let stat = (
                std::os::unix::fs::MetadataExt::ino(&meta),
                meta.len(),
                mtime_ns(&meta),
            );
            upsert(
                &tx,
                &w.rel,
                &w.entry.key(),
                &Ok(w.entry.clone()),
                stat,
                w.json_size,
            )?;
            // The folder's manifest no longer lists every row of it: the next sync of the
            // folder goes by the rows. A folder no sync has recorded yet is recorded now with
            // no mtime, so the next sync lists it (or notices it is gone) rather than never
            // looking at these rows again.
            if let Some((dir, _)) = w.rel.rsplit_once('/') {
                mark_dir_stale(&tx, dir)?;
            }
        }
        // One statement for every hit (a JSON array of paths): thousands of hits cost a few
        // milliseconds instead of one round trip each.
        let hit_ids: Vec<i64> = hit_rels.iter().map(|r| rel_id(r)).collect();
        if !hit_ids.is_empty() {
            tx.execute(
                "INSERT INTO access SELECT value, ?2, 1 FROM json_each(?1) WHERE true
                 ON CONFLICT (id) DO UPDATE SET last_accessed = excluded.last_accessed, access_count = access_count + 1",
                params![serde_json::to_string(&hit_ids)?, now],
            )?;
        }
        for (name, v) in [("hits", hits), ("misses", misses), ("saved_usd", saved)] {
            tx.execute("INSERT INTO counters VALUES (?1, ?2) ON CONFLICT (name) DO UPDATE SET value = value + excluded.value", params![name, v])?;
        }
        tx.commit()?;
        // Access stamps are small rows: SQLite's automatic checkpoint (1000 pages) takes care
        // of them; forcing one (with its fsync) after every all-hit run would only cost time.
        self.checkpoint_if_large(written.len());
        Ok(())
    }

    /// Reset the hit, miss and saved-cost counters (`cache stats --zero`); entries and access
    /// history are kept.
    pub fn zero_counters(&self) -> Result<()> {
        self.conn.execute("DELETE FROM counters", [])?;
        Ok(())
    }

    /// Forget the rows of entries the caller has just deleted (`rels` relative to
    /// `.rustassistant/`), so counts stay equal to what is on disk in the same command.
    pub fn forget(&self, rels: &[String]) -> Result<()> {
        let tx = self.conn.unchecked_transaction()?;
        for rel in rels {
            tx.execute(
                "DELETE FROM entries WHERE id = ?1 AND rel = ?2",
                params![rel_id(rel), rel],
            )?;
            tx.execute("DELETE FROM access WHERE id = ?1", [rel_id(rel)])?;
            if let Some((dir, _)) = rel.rsplit_once('/') {
                mark_dir_stale(&tx, dir)?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Statistics from the aggregates the triggers maintain.
    pub fn stats(&self, max_size: Option<u64>) -> Result<Stats> {
        let mut s = Stats {
            max_size_bytes: max_size,
            ..Stats::default()
        };
        let mut by_type: HashMap<String, Group> = HashMap::new();
        let mut by_model: HashMap<String, Group> = HashMap::new();
        let mut q = self.conn.prepare(
            "SELECT cache_type, model, valid, n, size_on_disk, json_size, tokens_in, tokens_out, tokens_cached, cost_usd, cost_unknown FROM totals",
        )?;
        let mut rows = q.query([])?;
        while let Some(r) = rows.next()? {
            let valid: i64 = r.get(2)?;
            let n: u64 = r.get::<_, i64>(3)? as u64;
            if valid == 0 {
                s.invalid_entries += n;
                continue;
            }
            let (ty, model): (String, String) = (r.get(0)?, r.get(1)?);
            let size = r.get::<_, i64>(4)? as u64;
            let tin = r.get::<_, i64>(6)? as u64;
            let tout = r.get::<_, i64>(7)? as u64;
            let cost: f64 = r.get(9)?;
            s.total_entries += n;
            s.total_size_bytes += size;
            s.uncompressed_size_bytes += r.get::<_, i64>(5)? as u64;
            s.tokens_in += tin;
            s.tokens_out += tout;
            s.tokens_cached += r.get::<_, i64>(8)? as u64;
            s.estimated_cost_usd += cost;
            s.unknown_cost_entries += r.get::<_, i64>(10)? as u64;
            for (map, name) in [(&mut by_type, ty), (&mut by_model, model)] {
                let g = map.entry(name.clone()).or_insert_with(|| Group {
                    name,
                    ..Group::default()
                });
                g.entries += n;
                g.size_bytes += size;
                g.tokens_in += tin;
                g.tokens_out += tout;
                g.total_tokens += tin + tout;
                g.cost_usd += cost;
            }
        }
        s.total_tokens = s.tokens_in + s.tokens_out;
        let counter = |name: &str| -> f64 {
            self.conn
                .query_row("SELECT value FROM counters WHERE name = ?1", [name], |r| {
                    r.get(0)
                })
                .optional()
                .ok()
                .flatten()
                .unwrap_or(0.0)
        };
        s.hits = counter("hits") as u64;
        s.misses = counter("misses") as u64;
        s.saved_usd = counter("saved_usd");
        s.hit_rate = if s.hits + s.misses > 0 {
            s.hits as f64 / (s.hits + s.misses) as f64
        } else {
            0.0
        };
        let sort = |m: HashMap<String, Group>| {
            let mut v: Vec<Group> = m.into_values().collect();
            v.sort_by(|a, b| b.entries.cmp(&a.entries).then(a.name.cmp(&b.name)));
            v
        };
        s.by_type = sort(by_type);
        s.by_model = sort(by_model);
        Ok(s)
    }

    /// Every indexed entry, in the order `policy` evicts them (or by path with `None`).
    pub fn rows(&self, policy: Option<Eviction>) -> Result<Vec<Row>> {
        let order = match policy {
            None => "e.rel",
            Some(Eviction::Lru) => {
                "COALESCE(a.last_accessed, unixepoch(e.created_at), 0) ASC, e.created_at ASC, e.rel"
            }
            Some(Eviction::Oldest) => "e.created_at ASC, e.rel",
            Some(Eviction::Largest) => "e.size_on_disk DESC, e.rel",
            Some(Eviction::Expensive) => {
                "(e.tokens_in + e.tokens_out) DESC, COALESCE(e.cost_usd, 0) DESC, e.rel"
            }
        };
        let sql = format!(
            "SELECT e.rel, e.cache_type, e.blob, e.path, e.size_on_disk, e.valid, e.error FROM entries e LEFT JOIN access a ON a.id = e.id ORDER BY {order}"
        );
        let mut q = self.conn.prepare(&sql)?;
        let rows = q.query_map([], |r| {
            Ok(Row {
                rel: r.get(0)?,
                cache_type: r.get(1)?,
                blob: r.get(2)?,
                path: r.get(3)?,
                size_on_disk: r.get::<_, i64>(4)? as u64,
                valid: r.get::<_, i64>(5)? != 0,
                error: r.get(6)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Remove the entry files of `rows` and their index rows. Returns bytes freed.
    pub fn remove(&self, store: &Store, rows: &[Row]) -> Result<u64> {
        let mut freed = 0;
        let tx = self.conn.unchecked_transaction()?;
        for r in rows {
            store
                .remove(&store.root().join(&r.rel))
                .with_context(|| format!("removing {}", r.rel))?;
            tx.execute(
                "DELETE FROM entries WHERE id = ?1 AND rel = ?2",
                params![rel_id(&r.rel), r.rel],
            )?;
            tx.execute("DELETE FROM access WHERE id = ?1", [rel_id(&r.rel)])?;
            freed += r.size_on_disk;
        }
        tx.commit()?;
        self.checkpoint_if_large(rows.len());
        Ok(freed)
    }

    /// Evict by `policy` until valid entries total at most `max_bytes`. Returns what went.
    pub fn evict(
        &self,
        store: &Store,
        policy: Eviction,
        max_bytes: u64,
    ) -> Result<(Vec<Row>, u64)> {
        let victims = self.eviction_victims(policy, max_bytes)?;
        let freed = self.remove(store, &victims)?;
        Ok((victims, freed))
    }

    /// The entries `policy` removes, in order, for the cache to fit in `max_bytes`.
    pub fn eviction_victims(&self, policy: Eviction, max_bytes: u64) -> Result<Vec<Row>> {
        let rows = self.rows(Some(policy))?;
        let mut total: u64 = rows.iter().map(|r| r.size_on_disk).sum();
        let mut victims = Vec::new();
        for r in rows {
            if total <= max_bytes {
                break;
            }
            total -= r.size_on_disk;
            victims.push(r);
        }
        Ok(victims)
    }
}

/// Make the next sync look at folder `dir` by its rows: its manifest is stale, and a folder no
/// sync recorded yet gets mtime 0, so it counts as changed (listed, or found gone).
fn mark_dir_stale(tx: &rusqlite::Transaction<'_>, dir: &str) -> rusqlite::Result<()> {
    tx.prepare_cached(
        "INSERT INTO dirs (dir, mtime_ns, manifest_ok) VALUES (?1, 0, 0)
         ON CONFLICT (dir) DO UPDATE SET manifest_ok = 0",
    )?
    .execute([dir])?;
    Ok(())
}
