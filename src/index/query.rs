//! Answering from the index: hits it vouches for, statistics, rows for eviction and pruning;
//! and recording what a command did (a run's entries and counters, deletions).

use std::collections::{BTreeMap, HashMap};

use anyhow::Result;
use rusqlite::{params, OptionalExtension};
use serde::Serialize;

use super::*;
use crate::cache::shard::ShardId;
use crate::cache::store::{Edit, Location};
use crate::cache::Store;
use crate::config::Eviction;
use crate::workspace::Workspace;

/// Access stamps older than this (seconds) are rewritten by a run that hits their entry: half
/// the hour recency is kept to (see `record_run`).
const STAMP_STEP: i64 = 1800;
/// How many recently stamped sets of hits `meta.last_stamp` remembers.
const STAMPS_KEPT: usize = 8;

/// A digest of a set of key ids, whatever their order (128 bits of two independent mixes, and
/// the count): names the set of hits a run stamped.
fn ids_digest(ids: &[i64]) -> String {
    let mix = |x: u64, k: u64| {
        let mut z = x.wrapping_add(k);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    let (mut a, mut b) = (0u64, 0u64);
    for &id in ids {
        a = a.wrapping_add(mix(id as u64, 0x9e37_79b9_7f4a_7c15));
        b ^= mix(id as u64, 0x2545_f491_4f6c_dd1d);
    }
    format!("{a:016x}{b:016x}-{}", ids.len())
}

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
    /// What item reuse saved the files analysed by items (DESIGN.md, "Items").
    pub items: ItemSavings,
    /// Stored replies that missed their type's schema (kept so they are paid for once).
    pub invalid_replies: InvalidReplies,
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
    /// Its shard ([`Location::rel`]).
    pub shard: String,
    /// Its key (variant empty for an untrusted line).
    pub key: Key,
    /// Line hash (identifies an untrusted line).
    pub line_hash: u64,
    /// Creation time.
    pub created_at: Option<String>,
    /// Recorded source path.
    pub path: Option<String>,
    /// Bytes on disk.
    pub size_on_disk: u64,
    /// Whether it verified.
    pub valid: bool,
    /// Why not.
    pub error: Option<String>,
}

/// Stored replies that missed their type's schema, and what they cost.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct InvalidReplies {
    /// How many.
    pub entries: u64,
    /// What they cost, in USD.
    #[serde(serialize_with = "crate::util::money::ser_usd")]
    pub cost_usd: f64,
}

/// What item reuse saved: items whose cached result a file analysed by items reused instead
/// of sending them, their bytes, and the cost they had when they were analysed.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct ItemSavings {
    /// Items reused.
    pub reused: u64,
    /// Bytes of their text not sent.
    pub bytes_not_sent: u64,
    /// USD not spent: their share of the request that analysed them.
    #[serde(serialize_with = "crate::util::money::ser_usd")]
    pub saved_usd: f64,
}

/// The counters one run adds to the index.
#[derive(Debug, Clone, Default)]
pub struct Tally {
    /// Item reuse by the files analysed by items.
    pub items: ItemSavings,
    /// Cache hits.
    pub hits: u64,
    /// Misses (analysed now).
    pub misses: u64,
    /// Cost the hits saved, in USD.
    pub saved_usd: f64,
    /// The hits of paid analyses and what they saved, per model and type: recorded for
    /// `costs` and the report (statistics, in this local index, never in the money ledger).
    pub savings: Vec<super::Saving>,
}

impl Index {
    /// For each key, the cost a hit saves and (with `ages`) the line's creation time, when the
    /// index has a valid line for it.
    pub fn lookup_keys(&self, keys: &[&Key], ages: bool) -> Vec<Option<IndexHit>> {
        let hit = |r: &rusqlite::Row<'_>, at: usize| -> rusqlite::Result<IndexHit> {
            Ok(IndexHit {
                saved: r.get(at)?,
                created_at: r.get(at + 1)?,
                overlay: r.get(at + 2)?,
            })
        };
        let Ok(mut q) = self.conn.prepare_cached(
            "SELECT COALESCE(cost_usd, 0), CASE WHEN ?5 THEN created_at END, overlay FROM entries
             WHERE key_id = ?1 AND valid = 1 AND cache_type = ?2 AND blob = ?3 AND variant = ?4
             ORDER BY overlay",
        ) else {
            return vec![None; keys.len()];
        };
        // One read transaction for all of them: each query on its own takes and drops a WAL
        // read lock (two fcntl calls and a look at the WAL header).
        let snapshot = (keys.len() > 1 && self.conn.is_autocommit())
            .then(|| self.conn.unchecked_transaction().ok())
            .flatten();
        let hits = keys
            .iter()
            .map(|k| {
                q.query_row(
                    params![key_id(k), k.cache_type, k.blob, k.variant, ages],
                    |r| hit(r, 0),
                )
                .ok()
            })
            .collect();
        drop(q);
        if let Some(tx) = snapshot {
            let _ = tx.finish();
        }
        hits
    }

    /// Every untrusted line the index knows: (shard, why).
    pub fn invalid_lines(&self) -> Result<Vec<(String, String)>> {
        let mut q = self
            .conn
            .prepare_cached("SELECT shard, COALESCE(error, '') FROM entries WHERE valid = 0")?;
        let rows = q.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Where the line of `key` is: its shard and the byte range in it, as last synced.
    pub fn locate(&self, key: &Key) -> Option<(Location, std::ops::Range<usize>, u64)> {
        let (shard, hash): (String, i64) = self
            .conn
            .prepare_cached(
                "SELECT shard, line_hash FROM entries
                 WHERE key_id = ?1 AND valid = 1 AND cache_type = ?2 AND blob = ?3 AND variant = ?4",
            )
            .ok()?
            .query_row(
                params![key_id(key), key.cache_type, key.blob, key.variant],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .ok()??;
        let hash = hash as u64;
        let (_, off, len) = self
            .line_table(&shard)
            .ok()?
            .into_iter()
            .find(|r| r.0 == hash)?;
        let loc = Location::from_rel(&shard)?;
        Some((loc, off as usize..(off + len) as usize, hash))
    }

    /// Record a finished run: bring the shards it wrote (or found changed) up to date, count
    /// hits and misses, stamp the access time of every hit.
    pub fn record_run(
        &mut self,
        session: &Workspace,
        hit_ids: &[i64],
        touched: &[Location],
        tally: &Tally,
    ) -> Result<()> {
        if !touched.is_empty() {
            self.sync_shards(&session.store, touched)?;
        }
        let now = crate::util::now_timestamp(&session.env).as_second();
        let (nh, nm, saved) = (tally.hits as f64, tally.misses as f64, tally.saved_usd);
        let tx = self.conn.unchecked_transaction()?;
        // One statement for every hit (a JSON array of ids): thousands of hits cost a few
        // milliseconds instead of one round trip each. Recency is kept to the hour (what LRU
        // eviction needs): after any run, each hit's stamp is less than an hour old. A stamp
        // rewrites the rows older than half an hour, and `meta.last_stamp` names the last few
        // sets of ids stamped (a digest each) and when; a run with one of those sets within its
        // half hour skips the statement, its rows being at most an hour old already. Several
        // sets, because runs of different types alternate (the hook's offline types, then a
        // paid one): with only the last set remembered, each would stamp 20,000 rows again.
        if !hit_ids.is_empty() {
            let digest = ids_digest(hit_ids);
            let last: Option<String> = tx
                .prepare_cached("SELECT value FROM meta WHERE key = 'last_stamp'")?
                .query_row([], |r| r.get(0))
                .optional()?;
            let recent: Vec<(&str, i64)> = last
                .as_deref()
                .unwrap_or("")
                .split(';')
                .filter_map(|s| {
                    let (d, at) = s.split_once(' ')?;
                    let at = at.parse::<i64>().ok()?;
                    (at <= now && now - at < STAMP_STEP).then_some((d, at))
                })
                .collect();
            if !recent.iter().any(|(d, _)| *d == digest) {
                tx.execute(
                    "INSERT INTO access SELECT value, ?2, 1 FROM json_each(?1) WHERE true
                     ON CONFLICT (id) DO UPDATE SET last_accessed = excluded.last_accessed, access_count = access_count + 1
                     WHERE access.last_accessed < excluded.last_accessed - ?3",
                    params![serde_json::to_string(&hit_ids)?, now, STAMP_STEP],
                )?;
                let kept = std::iter::once(format!("{digest} {now}"))
                    .chain(recent.iter().map(|(d, at)| format!("{d} {at}")))
                    .take(STAMPS_KEPT)
                    .collect::<Vec<_>>()
                    .join(";");
                tx.execute(
                    "INSERT OR REPLACE INTO meta VALUES ('last_stamp', ?1)",
                    [kept],
                )?;
            }
        }
        // One statement for the three counters (each statement is parsed afresh: a process
        // runs this once).
        tx.execute(
            "INSERT INTO counters VALUES ('hits', ?1), ('misses', ?2), ('saved_usd', ?3),
               ('items_reused', ?4), ('items_bytes_not_sent', ?5), ('items_saved_usd', ?6)
             ON CONFLICT (name) DO UPDATE SET value = value + excluded.value",
            params![
                nh,
                nm,
                saved,
                tally.items.reused as f64,
                tally.items.bytes_not_sent as f64,
                tally.items.saved_usd
            ],
        )?;
        if !tally.savings.is_empty() {
            let month = crate::util::now_timestamp(&session.env)
                .strftime("%Y-%m")
                .to_string();
            let mut q = tx.prepare_cached(
                "INSERT INTO savings VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO UPDATE SET
                 hits = hits + excluded.hits, saved_usd = saved_usd + excluded.saved_usd",
            )?;
            for v in &tally.savings {
                q.execute(params![
                    month,
                    v.model,
                    v.cache_type,
                    v.hits as i64,
                    v.saved_usd
                ])?;
            }
        }
        if tally.hits + tally.misses > 0 {
            let day = crate::util::now_timestamp(&session.env)
                .strftime("%Y-%m-%d")
                .to_string();
            tx.execute(
                "INSERT INTO daily VALUES (?1, ?2, ?3, ?4) ON CONFLICT (day) DO UPDATE SET
                 hits = hits + excluded.hits, misses = misses + excluded.misses, saved_usd = saved_usd + excluded.saved_usd",
                params![day, tally.hits as i64, tally.misses as i64, saved],
            )?;
        }
        tx.commit()?;
        self.checkpoint();
        Ok(())
    }

    /// Hits and misses per UTC day (`YYYY-MM-DD`), oldest first.
    pub fn daily(&self) -> Result<Vec<(String, u64, u64)>> {
        let mut q = self
            .conn
            .prepare("SELECT day, hits, misses FROM daily ORDER BY day")?;
        let rows = q.query_map([], |r| {
            Ok((
                r.get(0)?,
                r.get::<_, i64>(1)? as u64,
                r.get::<_, i64>(2)? as u64,
            ))
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Reset the hit, miss and saved-cost counters (`cache stats --zero`); entries and access
    /// history are kept.
    pub fn zero_counters(&self) -> Result<()> {
        self.conn.execute("DELETE FROM counters", [])?;
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
            if valid != 1 {
                // A duplicate line a union merge left: its key counts once.
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
            // An item entry's tokens and cost are its share of a request whose whole tokens
            // and cost its file's entry records: counted once, there (the item type's own row
            // shows the shares).
            let item = crate::cache::key::is_items_type(&ty);
            let group = |map: &mut HashMap<String, Group>, name: String, whole: bool| {
                let g = map.entry(name.clone()).or_insert_with(|| Group {
                    name,
                    ..Group::default()
                });
                g.entries += n;
                g.size_bytes += size;
                if whole {
                    g.tokens_in += tin;
                    g.tokens_out += tout;
                    g.total_tokens += tin + tout;
                    g.cost_usd += cost;
                }
            };
            group(&mut by_type, ty, true);
            group(&mut by_model, model, !item);
            if !item {
                s.tokens_in += tin;
                s.tokens_out += tout;
                s.tokens_cached += r.get::<_, i64>(8)? as u64;
                s.estimated_cost_usd += cost;
                s.unknown_cost_entries += r.get::<_, i64>(10)? as u64;
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
        s.items = ItemSavings {
            reused: counter("items_reused") as u64,
            bytes_not_sent: counter("items_bytes_not_sent") as u64,
            saved_usd: counter("items_saved_usd"),
        };
        s.invalid_replies = self.invalid_replies()?;
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

    /// The stored replies that missed their type's schema, and what they cost.
    pub fn invalid_replies(&self) -> Result<InvalidReplies> {
        let (n, cost): (i64, f64) = self.conn.query_row(
            "SELECT count(*), COALESCE(sum(cost_usd), 0) FROM entries WHERE valid = 1 AND error IS NOT NULL",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        Ok(InvalidReplies {
            entries: n as u64,
            cost_usd: cost,
        })
    }

    /// Every indexed line (superseded duplicates aside), in the order `policy` evicts them (or
    /// by shard with `None`).
    pub fn rows(&self, policy: Option<Eviction>) -> Result<Vec<Row>> {
        let order = match policy {
            None => "e.shard, e.blob, e.variant",
            Some(Eviction::Lru) => {
                "COALESCE(a.last_accessed, unixepoch(e.created_at), 0) ASC, e.created_at ASC, e.shard, e.blob"
            }
            Some(Eviction::Oldest) => "e.created_at ASC, e.shard, e.blob",
            Some(Eviction::Largest) => "e.size_on_disk DESC, e.shard, e.blob",
            Some(Eviction::Expensive) => {
                "(e.tokens_in + e.tokens_out) DESC, COALESCE(e.cost_usd, 0) DESC, e.shard, e.blob"
            }
        };
        let sql = format!(
            "SELECT e.shard, e.cache_type, e.blob, e.variant, e.line_hash, e.created_at, e.path, e.size_on_disk, e.valid, e.error
             FROM entries e LEFT JOIN access a ON a.id = e.key_id WHERE e.valid != 2 ORDER BY {order}"
        );
        let mut q = self.conn.prepare(&sql)?;
        let rows = q.query_map([], |r| {
            Ok(Row {
                shard: r.get(0)?,
                key: Key {
                    cache_type: r.get(1)?,
                    blob: r.get(2)?,
                    variant: r.get(3)?,
                },
                line_hash: r.get::<_, i64>(4)? as u64,
                created_at: r.get(5)?,
                path: r.get(6)?,
                size_on_disk: r.get::<_, i64>(7)? as u64,
                valid: r.get::<_, i64>(8)? == 1,
                error: r.get(9)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Remove the lines of `rows` from their shards (an untrusted line goes with the rewrite of
    /// its shard) and bring those shards' rows up to date. Returns bytes freed.
    pub fn remove(&mut self, store: &Store, rows: &[Row]) -> Result<u64> {
        let mut by_place: BTreeMap<crate::cache::store::Place, BTreeMap<ShardId, Edit>> =
            BTreeMap::new();
        let mut locs = Vec::new();
        for r in rows {
            let Some(loc) = Location::from_rel(&r.shard) else {
                continue;
            };
            let edit = by_place
                .entry(loc.place)
                .or_default()
                .entry(loc.shard.clone())
                .or_default();
            if r.valid {
                edit.drop_keys.insert(r.key.clone());
            }
            locs.push(loc);
        }
        let mut freed = 0;
        for (place, edits) in by_place {
            for a in store.apply(place, edits)? {
                freed += a.dropped.iter().map(|d| d.1).sum::<u64>();
            }
        }
        self.sync_shards(store, &locs)?;
        let tx = self.conn.unchecked_transaction()?;
        for r in rows.iter().filter(|r| r.valid) {
            tx.execute("DELETE FROM access WHERE id = ?1", [key_id(&r.key)])?;
        }
        tx.commit()?;
        Ok(freed)
    }

    /// Evict by `policy` until valid entries total at most `max_bytes`. Returns what went.
    pub fn evict(
        &mut self,
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
        let rows: Vec<Row> = self
            .rows(Some(policy))?
            .into_iter()
            .filter(|r| r.valid)
            .collect();
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

/// What the index knows of a key's line.
#[derive(Debug, Clone)]
pub struct IndexHit {
    /// The cost a hit saves.
    pub saved: f64,
    /// Its creation time, when asked for.
    pub created_at: Option<String>,
    /// Whether the line found is in the local overlay (a line in the shards wins).
    pub overlay: bool,
}

#[cfg(test)]
mod tests;
