//! The local SQLite index at `<git dir>/rustassistant/index.db`: derived from the shards,
//! never committed, rebuilt at will.
//!
//! What callers may rely on:
//! - [`Index::open`] never fails the user's command: a corrupt or outdated database is rebuilt
//!   with one warning, and a database held by another process past a short wait degrades to an
//!   in-memory index built from the shards.
//! - [`Index::sync`] costs in proportion to what changed: a shard whose stat data (inode, size,
//!   mtime) is unchanged is skipped; a changed shard is compared line by line with the line
//!   hashes recorded for it, and only new lines are decoded.
//! - Each valid row says where its line lives (shard, and through `shards.lines` its offset),
//!   so a hit needs no shard read; counters (hits, misses, cost saved) and access history live
//!   only here.

mod blob_items;
mod findings;
pub mod hits;
mod query;
mod records;
mod savings;
pub mod schema;
mod sync;
mod verify;

pub use findings::Known;
pub use query::{Group, IndexHit, InvalidReplies, ItemSavings, Row, Stats, Tally};
pub use savings::Saving;
pub use sync::{stat as shard_stat, Sig};
pub use verify::{Problem, Verified};

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::Connection;
use serde::Serialize;

use crate::cache::Key;
use crate::workspace::Workspace;

/// How long a command waits for another process's write to finish before degrading. Long
/// enough for any sync or run record (they are milliseconds), short enough that a hook never
/// stalls a commit noticeably.
const BUSY_WAIT: Duration = Duration::from_secs(5);

/// How recent a shard's mtime must be to count as racily clean: at least the timestamp
/// granularity of the file system (Linux stamps files from its coarse clock, which ticks every
/// 1–10 ms). A change made after a sync read the shard, within the same tick as the mtime it
/// saw, would keep that mtime; once the tick is over, any later change gets a later one. Only
/// an in-place rewrite of the same size could otherwise go unseen at all: every writer here
/// (and git) replaces files, which changes the inode.
///
/// It was 100 ms, which marked every shard a command wrote (then synced a few milliseconds
/// later) racy, so the next command read all of them again: 160 shards, 8 ms, in each
/// pre-commit hook after an `analyze`.
const RACY_NS: i64 = 10_000_000;
/// The same for a file system that stamps whole seconds (ext4 with small inodes, FAT at two
/// seconds, some network file systems): recognised by an mtime with no fraction of a second.
const COARSE_RACY_NS: i64 = 2_000_000_000;

/// Whether a shard with this mtime, seen by a sync that started at `started_ns`, is racily
/// clean (must be read again by the next sync).
pub(crate) fn is_racy(mtime_ns: i64, started_ns: i64) -> bool {
    let window = if mtime_ns % 1_000_000_000 == 0 {
        COARSE_RACY_NS
    } else {
        RACY_NS
    };
    mtime_ns >= started_ns - window
}

/// Past this many rows in one sync, totals are recomputed in one pass instead of by trigger.
const BULK_ROWS: usize = 2000;

/// The open index.
pub struct Index {
    conn: Connection,
    /// Whether this is the in-memory fallback (nothing persists).
    pub degraded: bool,
    /// Whether the database was created empty by this process.
    pub fresh: bool,
    /// What the most recent [`Index::sync`] found.
    pub last_sync: SyncStats,
}

/// What a sync changed.
#[derive(Debug, Default, Clone, Copy, Serialize)]
pub struct SyncStats {
    /// Lines newly indexed.
    pub added: usize,
    /// Rows removed because their line is gone.
    pub removed: usize,
    /// Shards re-read because their stat data changed.
    pub shards_read: usize,
    /// Shards whose stat data was compared.
    pub shards_seen: usize,
    /// Entry files of the earlier per-entry layout found (not read: `cache migrate` moves them).
    pub old_layout: usize,
    /// Shards another process recorded while this sync read them (left to its record).
    pub raced: usize,
}

impl Index {
    /// Open (creating or repairing as needed) the index of `session`'s repository and sync it.
    pub fn open(session: &Workspace) -> Index {
        Self::open_with(session, true)
    }

    /// Open without the sweep of [`Index::sync`]: for `analyze`, which trusts the index only
    /// for shards whose stat data still matches what it recorded (the others are read) and
    /// brings those shards up to date itself.
    pub fn open_for_lookup(session: &Workspace) -> Index {
        Self::open_with(session, false)
    }

    fn open_with(session: &Workspace, sync: bool) -> Index {
        let dir = session.repo.state_dir();
        let path = dir.join("index.db");
        let out = session.out;
        match Self::open_file(&dir, &path) {
            Ok(ix) if !sync => return ix,
            Ok(mut ix) => match ix.sync(session) {
                Ok(st) => {
                    if st.old_layout > 0 {
                        out.warn(&crate::cache::listing::old_layout_message(st.old_layout));
                    }
                    return ix;
                }
                Err(e) if is_busy(&e) => out.warn(
                    "the local index is busy in another process; reading the shards directly",
                ),
                Err(e) => {
                    out.warn(&format!("the local index could not be updated ({e:#}); rebuilding it from the shards"));
                    drop(ix);
                    if let Ok(mut ix) = Self::recreate(&dir, &path) {
                        if ix.sync(session).is_ok() {
                            return ix;
                        }
                    }
                }
            },
            Err(OpenError::Busy) => {
                out.warn("the local index is busy in another process; reading the shards directly")
            }
            Err(OpenError::Corrupt(reason)) => {
                out.warn(&format!(
                    "the local index was unusable ({reason}); rebuilt it from the shards"
                ));
                if let Ok(mut ix) = Self::recreate(&dir, &path) {
                    if ix.sync(session).is_ok() {
                        return ix;
                    }
                }
            }
        }
        Self::in_memory(session)
    }

    /// An index held in memory, built from the shards (the degraded mode).
    pub fn in_memory(session: &Workspace) -> Index {
        let conn = Connection::open_in_memory().expect("an in-memory database always opens");
        conn.execute_batch(schema::SCHEMA)
            .expect("the schema is valid SQL");
        conn.execute_batch(schema::TRIGGERS)
            .expect("the triggers are valid SQL");
        let mut ix = Index {
            conn,
            degraded: true,
            fresh: true,
            last_sync: SyncStats::default(),
        };
        let _ = ix.sync(session);
        ix
    }

    fn open_file(dir: &Path, path: &Path) -> std::result::Result<Index, OpenError> {
        std::fs::create_dir_all(dir).map_err(|e| OpenError::Corrupt(e.to_string()))?;
        // SQLite follows links: only regular files are ever opened (a link is replaced by a new
        // index, never written through).
        for suffix in ["", "-wal", "-shm"] {
            let mut p = path.as_os_str().to_owned();
            p.push(suffix);
            crate::util::fs::regular_or_absent(Path::new(&p))
                .map_err(|e| OpenError::Corrupt(e.to_string()))?;
        }
        let conn = Connection::open(path).map_err(classify)?;
        conn.busy_timeout(BUSY_WAIT).map_err(classify)?;
        // A sync's loop over shards uses a dozen statements, after a dozen others: with
        // rusqlite's default of 16 cached statements, some would be compiled again each time.
        conn.set_prepared_statement_cache_capacity(64);
        // WAL lets readers work while one process writes. No fsync at all: this is derived
        // data, and WAL mode stays consistent through a crash of the process; a power loss can
        // at worst corrupt it, which the next open detects and rebuilds from the shards (access
        // history and counters are what would be lost). An fsync per checkpoint cost every
        // small run milliseconds.
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(classify)?;
        conn.pragma_update(None, "synchronous", "OFF")
            .map_err(classify)?;
        // Room for a sync after a large pull without spilling pages mid-transaction, and pages
        // read through a memory map rather than copied by a read call each (every command opens
        // the database afresh).
        conn.pragma_update(None, "cache_size", -32000)
            .map_err(classify)?;
        let _ = conn.pragma_update(None, "mmap_size", 256i64 << 20);
        // A small WAL: every process start reads all of it back (see Index::checkpoint).
        conn.pragma_update(None, "wal_autocheckpoint", 64)
            .map_err(classify)?;
        // The last connection to close would checkpoint the WAL every time; the automatic
        // checkpoint (64 pages) keeps it small anyway.
        let _ = conn.set_db_config(
            rusqlite::config::DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE,
            true,
        );
        let version: Option<String> = match conn.query_row(
            "SELECT value FROM meta WHERE key = 'schema_version'",
            [],
            |r| r.get(0),
        ) {
            Ok(v) => Some(v),
            Err(rusqlite::Error::QueryReturnedNoRows) => None,
            Err(rusqlite::Error::SqliteFailure(_, Some(msg))) if msg.contains("no such table") => {
                None
            }
            Err(e) => return Err(classify(e)),
        };
        let mut fresh = false;
        match version.as_deref().map(str::parse::<i64>) {
            None => {
                fresh = true;
                let tables: i64 = conn
                    .query_row(
                        "SELECT count(*) FROM sqlite_master WHERE type = 'table'",
                        [],
                        |r| r.get(0),
                    )
                    .map_err(classify)?;
                if tables > 0 {
                    return Err(OpenError::Corrupt(
                        "unknown tables and no schema version".into(),
                    ));
                }
                conn.execute_batch(schema::SCHEMA).map_err(classify)?;
                conn.execute_batch(schema::TRIGGERS).map_err(classify)?;
                conn.execute(
                    "INSERT OR REPLACE INTO meta VALUES ('schema_version', ?1)",
                    [schema::VERSION.to_string()],
                )
                .map_err(classify)?;
            }
            Some(Ok(v)) if v == schema::VERSION => {}
            Some(Ok(14)) => {
                conn.execute_batch(&format!(
                    "BEGIN IMMEDIATE; {} {} COMMIT;",
                    schema::SCHEMA,
                    schema::MIGRATE_14,
                ))
                .map_err(classify)?;
            }
            Some(Ok(13)) => {
                conn.execute_batch(&format!(
                    "BEGIN IMMEDIATE; {} {} {} COMMIT;",
                    schema::SCHEMA,
                    schema::MIGRATE_13,
                    schema::TRIGGERS
                ))
                .map_err(classify)?;
            }
            Some(_) => {
                return Err(OpenError::Corrupt(format!(
                    "schema version {} is not {}",
                    version.unwrap_or_default(),
                    schema::VERSION
                )))
            }
        }
        Ok(Index {
            conn,
            degraded: false,
            fresh,
            last_sync: SyncStats::default(),
        })
    }

    fn recreate(dir: &Path, path: &Path) -> std::result::Result<Index, OpenError> {
        for suffix in ["", "-wal", "-shm"] {
            let mut p = path.as_os_str().to_owned();
            p.push(suffix);
            let _ = std::fs::remove_file(PathBuf::from(p));
        }
        Self::open_file(dir, path)
    }

    /// Fold the WAL back into the database and truncate it, after a command wrote.
    /// Checkpoint-on-close is off (it costs every small run an fsync), so without this a large
    /// WAL would linger and the next process would pay for it: the first connection to open a
    /// database whose WAL outlived every connection reads the whole WAL back (SQLite's
    /// recovery), ~1 ms per 250 pages, on every command.
    ///
    /// A WAL of a few pages (what a run of hits writes: counters and the day's tally) is left
    /// for a later command to fold: reading it back costs microseconds, while a checkpoint costs
    /// every run two page writes and two truncations.
    fn checkpoint(&self) {
        const SMALL_WAL: u64 = 16 * 4096;
        let wal = self.conn.path().map(|p| format!("{p}-wal"));
        if let Some(Ok(meta)) = wal.map(std::fs::metadata) {
            if meta.len() <= SMALL_WAL {
                return;
            }
        }
        let _ = self.conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)");
    }
}

/// The id of a key in `entries.key_id` and `access`: a 64-bit hash of type, blob and variant.
/// Ids may collide (odds ~1e-9 at 100,000 entries): rows are matched on the key too, and a
/// collision only makes two entries share recency.
pub fn key_id(key: &Key) -> i64 {
    key_id_of(&key.cache_type, &key.blob, &key.variant)
}

/// [`key_id`] of the key with these parts: the hash of `type\0blob\0variant`. A run's many
/// keys go through [`KeyIds`], which builds the same bytes once per type.
pub fn key_id_of(cache_type: &str, blob: &str, variant: &str) -> i64 {
    let mut buf = Vec::with_capacity(cache_type.len() + blob.len() + variant.len() + 2);
    buf.extend_from_slice(cache_type.as_bytes());
    buf.push(0);
    buf.extend_from_slice(blob.as_bytes());
    buf.push(0);
    buf.extend_from_slice(variant.as_bytes());
    crate::cache::shard::line_hash(&buf) as i64
}

/// [`key_id_of`] for many blobs under one type and variant (a run's keys, plan by plan): the
/// bytes around the blob are written once and each id overwrites only the blob's 40 (or 64)
/// bytes before hashing, where building each key again cost as much as hashing it.
pub struct KeyIds {
    buf: Vec<u8>,
    /// Where the blob starts (after `type\0`), and the length of the one in `buf` (`None`
    /// before the first).
    head: usize,
    blob_len: Option<usize>,
    variant: String,
}

impl KeyIds {
    /// Ids of keys of `cache_type` and `variant`.
    pub fn new(cache_type: &str, variant: &str) -> KeyIds {
        let mut buf = Vec::with_capacity(cache_type.len() + 66 + variant.len());
        buf.extend_from_slice(cache_type.as_bytes());
        buf.push(0);
        KeyIds {
            head: buf.len(),
            buf,
            blob_len: None,
            variant: variant.to_string(),
        }
    }

    /// `key_id_of(cache_type, blob, variant)`.
    pub fn id(&mut self, blob: &str) -> i64 {
        if self.blob_len == Some(blob.len()) {
            self.buf[self.head..self.head + blob.len()].copy_from_slice(blob.as_bytes());
        } else {
            self.buf.truncate(self.head);
            self.buf.extend_from_slice(blob.as_bytes());
            self.buf.push(0);
            self.buf.extend_from_slice(self.variant.as_bytes());
            self.blob_len = Some(blob.len());
        }
        crate::cache::shard::line_hash(&self.buf) as i64
    }
}

enum OpenError {
    Busy,
    Corrupt(String),
}

fn classify(e: rusqlite::Error) -> OpenError {
    match &e {
        rusqlite::Error::SqliteFailure(f, _)
            if matches!(
                f.code,
                rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
            ) =>
        {
            OpenError::Busy
        }
        _ => OpenError::Corrupt(e.to_string()),
    }
}

fn is_busy(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        matches!(c.downcast_ref::<rusqlite::Error>(), Some(rusqlite::Error::SqliteFailure(f, _)) if matches!(f.code, rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked))
    })
}

/// Shards written as the tests of this module need them.
#[cfg(test)]
pub(crate) mod test_support {
    use std::collections::BTreeMap;

    use crate::cache::entry::tests::sample;
    use crate::cache::shard::ShardId;
    use crate::cache::store::{Edit, Place};
    use crate::cache::Entry;
    use crate::workspace::Workspace;

    /// A sample entry of type `ty` for the blob `blob` repeated.
    pub fn entry(blob: char, ty: &str) -> Entry {
        let mut e = sample();
        e.cache_type = ty.into();
        e.blob = blob.to_string().repeat(40);
        e
    }

    /// Write `es` into the tree shards, aged past the racily-clean window.
    pub fn add(ws: &Workspace, es: &[Entry]) {
        let mut edits: BTreeMap<ShardId, Edit> = BTreeMap::new();
        for e in es {
            edits
                .entry(ShardId::of(&e.key()))
                .or_default()
                .add
                .push(e.clone());
        }
        ws.store.apply(Place::Tree, edits).unwrap();
        // Age the shards past the racily-clean window, as if written a while ago.
        for (loc, _) in ws.store.list(Place::Tree).shards {
            let f = std::fs::File::options()
                .write(true)
                .open(ws.store.path_of(&loc))
                .unwrap();
            f.set_modified(std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000))
                .unwrap();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_ids_are_key_id_of_whatever_blobs_follow_each_other() {
        let mut ids = KeyIds::new("refactor", "openai.gpt-4o.abc.v3");
        let sha1 = ["ab".repeat(20), "cd".repeat(20)];
        let sha256 = "ef".repeat(32);
        let empty = String::new();
        for blob in [
            &sha1[0], &sha1[1], &sha256, &sha1[0], &empty, &sha256, &sha256,
        ] {
            assert_eq!(
                ids.id(blob),
                key_id_of("refactor", blob, "openai.gpt-4o.abc.v3"),
                "{blob}"
            );
        }
    }
}
