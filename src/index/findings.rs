//! Findings kept in the index: each valid line's findings are derived once (decoding its
//! result) and stored by key id with the line's hash, so `findings` and `report` over a large
//! repository read rows, not shards. A row is used only while its line hash and the thresholds'
//! fingerprint still match; anything else is derived again from the shard, read once.

use std::collections::{BTreeMap, HashMap};

use anyhow::Result;
use rusqlite::params;

use super::Index;
use crate::cache::shard;
use crate::cache::store::Location;
use crate::cache::{Entry, Key, Store};
use crate::findings::{derive, Raw, Severity, Thresholds};

/// A valid entry as the index knows it.
#[derive(Debug, Clone)]
pub struct Known {
    /// Its key.
    pub key: Key,
    /// [`super::key_id`] of the key.
    pub key_id: i64,
    /// The shard holding its line (`cache/…` or `overlay/…`).
    pub shard: String,
    /// The line's hash.
    pub line_hash: u64,
    /// When it was written (RFC 3339).
    pub created_at: String,
    /// The model that produced it.
    pub model: String,
    /// What it cost (`None`: unknown price).
    pub cost_usd: Option<f64>,
    /// The path it was analysed at (informational).
    pub path: String,
}

impl Index {
    /// Every valid entry of the given types (every type when `types` is empty), of the given
    /// blobs only when `blobs` is set (a few files: the rest of the table is never materialised).
    pub fn known_entries(&self, types: &[String], blobs: Option<&[&str]>) -> Result<Vec<Known>> {
        let sql = format!(
            "SELECT cache_type, blob, variant, key_id, shard, line_hash, COALESCE(created_at, ''),
                    COALESCE(model, ''), cost_usd, COALESCE(path, '')
             FROM entries{}",
            // One pass over the table: through an index, every row would be a B-tree descent.
            if blobs.is_some() {
                " NOT INDEXED WHERE valid = 1 AND blob IN (SELECT value FROM json_each(?1))"
            } else {
                " NOT INDEXED WHERE valid = 1"
            }
        );
        let mut stmt = self.conn.prepare(&sql)?;
        let wanted = serde_json::to_string(&blobs.unwrap_or_default())?;
        let params: &[&dyn rusqlite::ToSql] = if blobs.is_some() { &[&wanted] } else { &[] };
        let rows = stmt.query_map(params, |r| {
            Ok(Known {
                key: Key {
                    cache_type: r.get(0)?,
                    blob: r.get(1)?,
                    variant: r.get(2)?,
                },
                key_id: r.get(3)?,
                shard: r.get(4)?,
                line_hash: r.get::<_, i64>(5)? as u64,
                created_at: r.get(6)?,
                model: r.get(7)?,
                cost_usd: r.get(8)?,
                path: r.get(9)?,
            })
        })?;
        let mut out = Vec::new();
        for k in rows {
            let k = k?;
            if types.is_empty() || types.contains(&k.key.cache_type) {
                out.push(k);
            }
        }
        Ok(out)
    }

    /// The findings of each of `wanted`, by key id: stored rows where the line and the
    /// thresholds are unchanged; the others derived now (each shard involved read once,
    /// every line judged as a hit would be) and stored. An entry whose line can no longer be
    /// read or trusted has no answer. With `floor`, a stored entry whose worst finding is less
    /// severe answers an empty list without its findings being decoded.
    pub fn findings_of(
        &mut self,
        store: &Store,
        repo: &crate::git::Repo,
        wanted: &[&Known],
        t: &Thresholds,
        floor: Option<Severity>,
    ) -> Result<HashMap<i64, Vec<Raw>>> {
        let rules = t.fingerprint();
        let recorded: Option<String> = self
            .conn
            .query_row(
                "SELECT value FROM meta WHERE key = 'findings_rules'",
                [],
                |r| r.get(0),
            )
            .ok();
        let mut stale_rules = recorded.as_deref() != Some(rules.as_str());
        if stale_rules {
            let reset = || -> rusqlite::Result<()> {
                let tx = self.conn.unchecked_transaction()?;
                tx.execute("DELETE FROM findings", [])?;
                tx.execute(
                    "INSERT OR REPLACE INTO meta VALUES ('findings_rules', ?1)",
                    [&rules],
                )?;
                tx.commit()
            };
            // Stored rows are a cache: when they cannot be reset (a read-only or busy index),
            // none is used and everything is derived.
            stale_rules = reset().is_err();
        }
        let mut out: HashMap<i64, Vec<Raw>> = HashMap::with_capacity(wanted.len());
        let mut missing: BTreeMap<&str, Vec<&Known>> = BTreeMap::new();
        {
            // One read transaction (one lock, not one per query); past a few hundred keys one
            // scan of the table beats a lookup per key.
            let tx = self.conn.unchecked_transaction()?;
            // (line hash, worst severity, findings) per key id; the findings text is left out
            // where the worst is below the floor.
            type Stored = (u64, Option<i64>, Option<String>);
            let floor = floor.map(|f| f as i64);
            let row = |r: &rusqlite::Row<'_>, at: usize| -> rusqlite::Result<Stored> {
                let worst: Option<i64> = r.get(at + 1)?;
                let wanted = floor.is_none_or(|f| worst.is_some_and(|w| w <= f));
                Ok((
                    r.get::<_, i64>(at)? as u64,
                    worst,
                    if wanted { r.get(at + 2)? } else { None },
                ))
            };
            let stored: HashMap<i64, Stored> = if stale_rules {
                HashMap::new()
            } else if wanted.len() > 256 {
                let mut stmt = tx.prepare("SELECT key_id, line_hash, worst, data FROM findings")?;
                let rows = stmt.query_map([], |r| Ok((r.get::<_, i64>(0)?, row(r, 1)?)))?;
                rows.collect::<rusqlite::Result<_>>()?
            } else {
                let mut stmt = tx.prepare_cached(
                    "SELECT line_hash, worst, data FROM findings WHERE key_id = ?1",
                )?;
                let mut m = HashMap::new();
                for k in wanted {
                    if let Ok(got) = stmt.query_row([k.key_id], |r| row(r, 0)) {
                        m.insert(k.key_id, got);
                    }
                }
                m
            };
            drop(tx);
            for k in wanted {
                match stored
                    .get(&k.key_id)
                    .filter(|(h, _, _)| *h == k.line_hash)
                    .and_then(|(_, _, d)| match d {
                        Some(d) => serde_json::from_str::<Vec<Raw>>(d).ok(),
                        None => Some(Vec::new()),
                    }) {
                    Some(list) => {
                        out.insert(k.key_id, list);
                    }
                    None => missing.entry(k.shard.as_str()).or_default().push(k),
                }
            }
        }
        if missing.is_empty() {
            return Ok(out);
        }
        let (known, entries): (Vec<&Known>, Vec<Entry>) = missing
            .iter()
            .flat_map(|(rel, keys)| entries_in_shard(store, rel, keys))
            .unzip();
        // Results of files analysed by items are assembled from their items' entries first; one
        // that cannot be (its items pruned elsewhere) has no answer, as an untrusted line has none.
        let derived: Vec<(&Known, Vec<Raw>)> = known
            .into_iter()
            .zip(store.complete(repo, entries))
            .filter_map(|(k, e)| {
                let e = e.ok()?;
                // A stored reply that missed its schema has one note, saying so.
                if let Some(why) = &e.invalid {
                    return Some((k, vec![crate::findings::invalid_reply(&e.cache_type, why)]));
                }
                Some((k, derive(&e.cache_type, &e.result, t)))
            })
            .collect();
        // Storing is best effort: a busy or read-only index only means deriving again next time.
        let put = || -> Result<()> {
            let tx = self.conn.unchecked_transaction()?;
            {
                let mut put = tx.prepare_cached(
                    "INSERT OR REPLACE INTO findings VALUES (?1, ?2, ?3, ?4, ?5)",
                )?;
                for (k, list) in &derived {
                    let worst = list.iter().map(|f| f.severity as i64).min();
                    put.execute(params![
                        k.key_id,
                        k.line_hash as i64,
                        list.len() as i64,
                        worst,
                        serde_json::to_string(list)?
                    ])?;
                }
                // Rows of lines that are gone (rewritten, pruned, evicted) go with this write.
                tx.execute(
                    "DELETE FROM findings WHERE key_id NOT IN (SELECT key_id FROM entries WHERE valid = 1)",
                    [],
                )?;
            }
            tx.commit()?;
            Ok(())
        };
        if !stale_rules && put().is_ok() {
            self.checkpoint();
        }
        out.extend(derived.into_iter().map(|(k, list)| (k.key_id, list)));
        Ok(out)
    }
}

/// The trusted entries of `keys`, all in the shard `rel`, from its current bytes.
fn entries_in_shard<'k>(store: &Store, rel: &str, keys: &[&'k Known]) -> Vec<(&'k Known, Entry)> {
    let Some(at) = Location::from_rel(rel) else {
        return Vec::new();
    };
    let Ok(Some(bytes)) = store.read_shard(&at) else {
        return Vec::new();
    };
    let parsed = shard::parse(&bytes, &at.shard);
    debug_assert!(keys.iter().all(|k| at.shard.holds(&k.key)));
    keys.iter()
        .filter_map(|k| match store.judge(&parsed, &bytes, &k.key) {
            Ok(Some(e)) => Some((*k, e.clone())),
            _ => None,
        })
        .collect()
}
