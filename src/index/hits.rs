//! Hit tables: for each shard the index records, the valid keys it holds (its winners, see
//! `cache::shard`) as one sorted blob of `(key id, cost saved, created_at)` records, kept in
//! `shard_hits` beside the shard's stat data. An all-cached run of 20,000 keys reads a few
//! hundred blobs in one query and answers every key by binary search, instead of reading
//! 20,000 rows.
//!
//! What callers may rely on: a shard's hit table is written in the same transaction as its rows
//! and its stat data, so a table whose shard's stat data still matches the file answers exactly
//! as the rows would.

use anyhow::Result;
use rusqlite::{params, OptionalExtension};
use rustc_hash::FxHashMap;

use super::{Index, Sig};
use crate::cache::store::UNKNOWN_TIME;

/// Bytes per record: key id, cost saved (f64), created_at (Unix seconds), little-endian.
const REC: usize = 24;

/// One shard's stat data as recorded, its untrusted line count and its hit table.
#[derive(Debug, Clone)]
pub struct ShardHits {
    /// The stat data the rows were read at.
    pub sig: Sig,
    /// Untrusted lines in the shard.
    pub invalid: i64,
    recs: Vec<u8>,
    /// The records' key ids alone, in the same order: what a search reads. A third of the
    /// records' bytes, so the tables of a 100,000-file run (1.6 MB of ids against 4.8 MB of
    /// records) stay in cache while 200,000 keys are looked up in shard after random shard.
    ids: Vec<i64>,
    /// Some record saves a cost (offline types' entries save none).
    costly: bool,
    /// The earliest creation time among the records (`i64::MAX` when there are none).
    oldest: i64,
}

/// The 8 bytes at offset `k` of the record `r` (key id at 0, cost saved at 8, created at 16).
fn word(r: &[u8], k: usize) -> [u8; 8] {
    <[u8; 8]>::try_from(&r[k..k + 8]).expect("8 bytes")
}

impl ShardHits {
    /// A table from its encoded records (key id, cost saved, created_at; sorted by key id).
    fn new(sig: Sig, invalid: i64, recs: Vec<u8>) -> ShardHits {
        let mut ids = Vec::with_capacity(recs.len() / REC);
        let (mut costly, mut oldest) = (false, i64::MAX);
        for r in recs.chunks_exact(REC) {
            ids.push(i64::from_le_bytes(word(r, 0)));
            costly |= f64::from_le_bytes(word(r, 8)) != 0.0;
            oldest = oldest.min(i64::from_le_bytes(word(r, 16)));
        }
        ShardHits {
            sig,
            invalid,
            recs,
            ids,
            costly,
            oldest,
        }
    }

    /// The cost saved and the creation time (Unix seconds) of key `id`, if the shard holds it
    /// (the lookup reads only what it needs: see [`ShardHits::position`]).
    #[cfg(test)]
    pub fn find(&self, id: i64) -> Option<(f64, i64)> {
        let i = self.position(id)?;
        Some((self.saved(i), self.created(i)))
    }

    /// Where key `id`'s record is, if the shard holds it: for [`ShardHits::saved`] and
    /// [`ShardHits::created`], which a caller reads only when [`ShardHits::costly`] and
    /// [`ShardHits::oldest`] say they matter (reading them misses the cache once a key).
    pub fn position(&self, id: i64) -> Option<usize> {
        self.ids.binary_search(&id).ok()
    }

    /// The cost record `i` saves.
    pub fn saved(&self, i: usize) -> f64 {
        f64::from_le_bytes(word(&self.recs[i * REC..], 8))
    }

    /// Record `i`'s creation time (Unix seconds).
    pub fn created(&self, i: usize) -> i64 {
        i64::from_le_bytes(word(&self.recs[i * REC..], 16))
    }

    /// Whether some record saves a cost: if none does, every hit saves 0.
    pub fn costly(&self) -> bool {
        self.costly
    }

    /// The earliest creation time of the records (`i64::MAX` for an empty table): if it is not
    /// past `max_age`, no record is.
    pub fn oldest(&self) -> i64 {
        self.oldest
    }
}

/// A shard's valid keys while its hit table is being brought up to date.
#[derive(Debug, Default)]
pub(crate) struct HitSet {
    pub invalid: i64,
    pub recs: FxHashMap<i64, (f64, i64)>,
}

impl HitSet {
    fn decode(invalid: i64, b: &[u8]) -> HitSet {
        let mut recs = FxHashMap::default();
        for r in b.chunks_exact(REC) {
            recs.insert(
                i64::from_le_bytes(word(r, 0)),
                (
                    f64::from_le_bytes(word(r, 8)),
                    i64::from_le_bytes(word(r, 16)),
                ),
            );
        }
        HitSet { invalid, recs }
    }

    fn encode(&self) -> Vec<u8> {
        let mut v: Vec<(&i64, &(f64, i64))> = self.recs.iter().collect();
        v.sort_unstable_by_key(|(k, _)| **k);
        let mut out = Vec::with_capacity(v.len() * REC);
        for (k, (saved, created)) in v {
            out.extend_from_slice(&k.to_le_bytes());
            out.extend_from_slice(&saved.to_le_bytes());
            out.extend_from_slice(&created.to_le_bytes());
        }
        out
    }
}

/// `created_at` as Unix seconds ([`UNKNOWN_TIME`] when it does not parse).
pub fn created_secs(created_at: Option<&str>) -> i64 {
    created_at
        .and_then(|t| t.parse::<jiff::Timestamp>().ok())
        .map_or(UNKNOWN_TIME, |t| t.as_second())
}

/// The hit-table query: every recorded shard's stat data and hit table.
const HITS_SELECT: &str = "SELECT s.shard, s.ino, s.size, s.mtime_ns, h.invalid, h.hits
     FROM shards s JOIN shard_hits h ON h.shard = s.shard";

/// One row of [`HITS_SELECT`]: shard, ino, size, mtime_ns, invalid, hits.
fn shard_hits_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(String, ShardHits)> {
    Ok((
        r.get::<_, String>(0)?,
        ShardHits::new(
            (
                r.get::<_, i64>(1)? as u64,
                r.get::<_, i64>(2)? as u64,
                r.get(3)?,
            ),
            r.get(4)?,
            r.get(5)?,
        ),
    ))
}

impl Index {
    /// Every recorded shard's stat data and hit table, by [`crate::cache::store::Location::rel`].
    pub fn hit_tables(&self) -> Result<FxHashMap<String, ShardHits>> {
        let mut q = self.conn.prepare_cached(HITS_SELECT)?;
        let rows = q.query_map([], shard_hits_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// [`Index::hit_tables`] of the shards of `types` only, in both places: a run of two types
    /// in a repository that caches five reads two fifths of the tables.
    pub fn hit_tables_of(&self, types: &[&str]) -> Result<FxHashMap<String, ShardHits>> {
        if types.is_empty() {
            return Ok(FxHashMap::default());
        }
        // Each type's shards are one range of the primary key in each place.
        let ranges: Vec<String> = (0..types.len() * 2)
            .map(|i| format!("(s.shard >= ?{} AND s.shard < ?{})", 2 * i + 1, 2 * i + 2))
            .collect();
        let sql = format!("{HITS_SELECT} WHERE {}", ranges.join(" OR "));
        let mut bounds: Vec<String> = Vec::with_capacity(types.len() * 4);
        for t in types {
            for place in ["cache/", "overlay/"] {
                // `/` is followed by `0` in byte order: [PLACE/TYPE/, PLACE/TYPE0).
                bounds.push(format!("{place}{t}/"));
                bounds.push(format!("{place}{t}0"));
            }
        }
        let mut q = self.conn.prepare_cached(&sql)?;
        let rows = q.query_map(rusqlite::params_from_iter(bounds.iter()), shard_hits_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// [`Index::hit_tables`] of the shards `rels` only (those the index records), read in one
    /// snapshot.
    pub fn hit_tables_for(&self, rels: &[String]) -> Result<FxHashMap<String, ShardHits>> {
        let snapshot = if self.conn.is_autocommit() {
            Some(self.conn.unchecked_transaction()?)
        } else {
            None
        };
        let mut q = self
            .conn
            .prepare_cached(&format!("{HITS_SELECT} WHERE s.shard = ?1"))?;
        let mut out = FxHashMap::default();
        for rel in rels {
            if let Some((k, v)) = q.query_row([rel], shard_hits_row).optional()? {
                out.insert(k, v);
            }
        }
        drop(q);
        if let Some(tx) = snapshot {
            tx.finish()?;
        }
        Ok(out)
    }
}

/// The hit set of shard `rel` as recorded (inside the write transaction `tx`): from its hit
/// table, or, where it has none, from its rows.
pub(crate) fn recorded(tx: &rusqlite::Transaction<'_>, rel: &str) -> Result<HitSet> {
    let row: Option<(i64, Vec<u8>)> = tx
        .prepare_cached("SELECT invalid, hits FROM shard_hits WHERE shard = ?1")?
        .query_row([rel], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    match row {
        Some((invalid, b)) => Ok(HitSet::decode(invalid, &b)),
        None => from_rows(tx, rel),
    }
}

/// The hit set of shard `rel` counted from its rows.
pub(crate) fn from_rows(conn: &rusqlite::Connection, rel: &str) -> Result<HitSet> {
    let mut set = HitSet::default();
    let mut q = conn.prepare_cached(
        "SELECT key_id, valid, COALESCE(cost_usd, 0), created_at FROM entries WHERE shard = ?1",
    )?;
    let rows = q.query_map([rel], |r| {
        Ok((
            r.get::<_, i64>(0)?,
            r.get::<_, i64>(1)?,
            r.get::<_, f64>(2)?,
            r.get::<_, Option<String>>(3)?,
        ))
    })?;
    for row in rows {
        let (id, valid, saved, created) = row?;
        match valid {
            1 => {
                set.recs
                    .insert(id, (saved, created_secs(created.as_deref())));
            }
            0 => set.invalid += 1,
            _ => {}
        }
    }
    Ok(set)
}

/// Store the hit set of shard `rel` (inside the write transaction that changed its rows).
pub(crate) fn store(tx: &rusqlite::Transaction<'_>, rel: &str, set: &HitSet) -> Result<()> {
    tx.prepare_cached(
        "INSERT INTO shard_hits VALUES (?1, ?2, ?3) ON CONFLICT (shard) DO UPDATE
         SET invalid = excluded.invalid, hits = excluded.hits",
    )?
    .execute(params![rel, set.invalid, set.encode()])?;
    Ok(())
}

/// Every shard's hit table against a recount from its rows (tests of the code that keeps them).
#[cfg(test)]
pub(crate) fn assert_tables_match_rows(ix: &Index) {
    let tables = ix.hit_tables().unwrap();
    let shards: i64 = ix
        .conn
        .query_row("SELECT count(*) FROM shards", [], |r| r.get(0))
        .unwrap();
    assert_eq!(tables.len() as i64, shards, "a hit table for every shard");
    // Those of some types are exactly the ones whose names say so.
    for types in [&["todos"][..], &["metrics", "todos"], &["refactor"]] {
        let some = ix.hit_tables_of(types).unwrap();
        let want: std::collections::BTreeSet<&String> = tables
            .keys()
            .filter(|rel| {
                types.iter().any(|t| {
                    rel.starts_with(&format!("cache/{t}/"))
                        || rel.starts_with(&format!("overlay/{t}/"))
                })
            })
            .collect();
        assert_eq!(some.keys().collect::<std::collections::BTreeSet<_>>(), want);
    }
    for (rel, t) in tables {
        let table = HitSet::decode(t.invalid, &t.recs);
        let rows = from_rows(&ix.conn, &rel).unwrap();
        assert_eq!(
            (table.invalid, &table.recs),
            (rows.invalid, &rows.recs),
            "{rel}"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{add, entry};
    use super::*;
    use crate::cache::shard::{self, ShardId};
    use crate::cache::store::{Location, Place};
    use crate::cache::Entry;

    #[test]
    fn hit_tables_follow_every_kind_of_change_to_a_shard() {
        let dir = tempfile::tempdir().unwrap();
        let ws = crate::workspace::test_workspace(dir.path());
        let blob = |p: &str, c: char| format!("{p}{}", c.to_string().repeat(38));
        let es: Vec<Entry> = "abcdef"
            .chars()
            .map(|c| {
                let mut e = entry('a', "todos");
                e.blob = blob("aa", c);
                e.cost_usd = Some(0.5);
                e
            })
            .collect();
        add(&ws, &es);
        let mut ix = Index::open(&ws);
        assert_tables_match_rows(&ix);
        let at = Location {
            place: Place::Tree,
            shard: ShardId::of(&es[0].key()),
        };
        let p = ws.store.path_of(&at);
        let rewrite = |ix: &mut Index, bytes: Vec<u8>| {
            std::fs::write(&p, bytes).unwrap();
            let f = std::fs::File::options().write(true).open(&p).unwrap();
            let n = std::fs::metadata(&p).unwrap().len();
            f.set_modified(
                std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000 + n),
            )
            .unwrap();
            let st = ix.sync(&ws).unwrap();
            assert_tables_match_rows(ix);
            st
        };
        // Lines deleted and added in one edit (the incremental path), with a garbage line and a
        // line of another shard; then lines deleted only; then a second line for a key (the
        // whole shard is read again).
        let text = String::from_utf8(std::fs::read(&p).unwrap()).unwrap();
        let mut lines: Vec<&str> = text.lines().collect();
        lines.remove(2);
        let mut new = es[0].clone();
        new.blob = blob("aa", 'z');
        new.cost_usd = Some(0.25);
        new.created_at = "2026-11-01T00:00:00Z".into();
        let new = String::from_utf8(shard::encode_line(&new)).unwrap();
        lines.push(&new);
        lines.push("{not json");
        let mut other = entry('b', "todos");
        other.blob = blob("bb", 'x');
        let foreign = String::from_utf8(shard::encode_line(&other)).unwrap();
        lines.push(&foreign);
        let st = rewrite(&mut ix, format!("{}\n", lines.join("\n")).into_bytes());
        assert_eq!((st.removed, st.added), (1, 3), "the incremental path");
        lines.truncate(3);
        let st = rewrite(&mut ix, format!("{}\n", lines.join("\n")).into_bytes());
        assert_eq!((st.removed, st.added), (5, 0), "deletions only");
        let mut dup = es[1].clone();
        dup.created_at = "2020-01-01T00:00:00Z".into();
        dup.result = serde_json::json!({"dup": true});
        let dup = String::from_utf8(shard::encode_line(&dup)).unwrap();
        lines.push(&dup);
        rewrite(&mut ix, format!("{}\n", lines.join("\n")).into_bytes());
        std::fs::remove_file(&p).unwrap();
        ix.sync(&ws).unwrap();
        assert_tables_match_rows(&ix);
        ix.rebuild(&ws).unwrap();
        assert_tables_match_rows(&ix);
    }

    #[test]
    fn a_hit_table_finds_exactly_its_keys() {
        let mut set = HitSet::default();
        for i in [5i64, -3, 900, 17, i64::MIN, i64::MAX] {
            set.recs.insert(i, (i as f64 / 2.0, i ^ 1));
        }
        let table = ShardHits::new((1, 2, 3), 0, set.encode());
        for i in [5i64, -3, 900, 17, i64::MIN, i64::MAX] {
            assert_eq!(table.find(i), Some((i as f64 / 2.0, i ^ 1)), "{i}");
        }
        for i in [0i64, 4, 6, 901, -4] {
            assert_eq!(table.find(i), None, "{i}");
        }
        let back = HitSet::decode(0, &table.recs);
        assert_eq!(back.recs, set.recs);
    }

    #[test]
    fn a_hit_table_of_any_size_finds_exactly_its_keys() {
        for n in [0usize, 1, 2, 3, 7, 8, 9, 255, 256, 257, 390] {
            let mut set = HitSet::default();
            let keys: Vec<i64> = (0..n as i64)
                .map(|i| i.wrapping_mul(0x9e37_79b9_7f4a_7c15u64 as i64) | 1)
                .collect();
            for &k in &keys {
                set.recs.insert(k, (k as f64, k >> 3));
            }
            let table = ShardHits::new((1, 2, 3), 0, set.encode());
            for &k in &keys {
                assert_eq!(table.find(k), Some((k as f64, k >> 3)), "n={n} key {k}");
                // Even ids are never keys here.
                assert_eq!(table.find(k ^ 1), None, "n={n} near {k}");
            }
            assert_eq!(table.find(i64::MIN), None, "n={n}");
        }
    }
}
