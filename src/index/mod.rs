//! The local SQLite index at `<git dir>/rustassistant/index.db`: derived from the entry files,
//! never committed, rebuilt at will.
//!
//! What callers may rely on:
//! - [`Index::open`] never fails the user's command: a corrupt or outdated database is rebuilt
//!   with one warning, and a database held by another process past a short wait degrades to an
//!   in-memory index built from the entry files.
//! - [`Index::sync`] costs in proportion to what changed: it compares the modification time of
//!   every `cache/<type>/<b0b1>` folder with the one recorded and lists only folders that
//!   changed (a `git pull`, a checkout, `git clean` or an editor all add, remove or rename
//!   files, which changes the folder). Within them, git's own index vouches for the files git
//!   has not rewritten, so only the others are stat'ed ([`scan`]); files are read only when new
//!   or changed.
//! - Counters (hits, misses, cost saved) and access history live only here.

mod query;
pub mod scan;
pub mod schema;
mod sync;

pub use query::{Group, Row, Stats, Tally};

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;

use crate::cache::entry::decode_json_bytes;
use crate::cache::{Entry, EntryError, Key};
use crate::workspace::Workspace;
use scan::FileSig;

/// How long a command waits for another process's write to finish before degrading. Long
/// enough for any sync or run record (they are milliseconds), short enough that a hook never
/// stalls a commit noticeably.
const BUSY_WAIT: Duration = Duration::from_secs(5);

/// How recent a folder's mtime must be to count as racily clean: well above any file-system
/// timestamp granularity (jiffies, FAT's two seconds aside).
const RACY_NS: i64 = 1_000_000_000;

/// An entry a run has just written, handed to [`Index::record_run`].
pub struct Written {
    /// Path relative to `.rustassistant/`.
    pub rel: String,
    /// The entry (already checked before it was written).
    pub entry: Entry,
    /// Length of its JSON.
    pub json_size: u64,
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
    /// Entry files newly indexed.
    pub added: usize,
    /// Rows removed because their file is gone.
    pub removed: usize,
    /// Files re-read because they changed.
    pub changed: usize,
    /// Folders listed.
    pub dirs_scanned: usize,
    /// Files stat'ed in them (the others were vouched for by git's index).
    pub stat_calls: usize,
}

impl Index {
    /// Open (creating or repairing as needed) the index of `session`'s repository and sync it.
    pub fn open(session: &Workspace) -> Index {
        Self::open_with(session, true)
    }

    /// Open without the folder sweep of [`Index::sync`]: for `analyze`, which asks the index
    /// only to confirm specific files at their current size and mtime (a stale row simply
    /// fails to confirm) and records what it writes itself.
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
                Ok(_) => return ix,
                Err(e) if is_busy(&e) => out.warn(
                    "the local index is busy in another process; reading the entry files directly",
                ),
                Err(e) => {
                    out.warn(&format!("the local index could not be updated ({e:#}); rebuilding it from the entry files"));
                    drop(ix);
                    if let Ok(mut ix) = Self::recreate(&dir, &path) {
                        if ix.sync(session).is_ok() {
                            return ix;
                        }
                    }
                }
            },
            Err(OpenError::Busy) => out.warn(
                "the local index is busy in another process; reading the entry files directly",
            ),
            Err(OpenError::Corrupt(reason)) => {
                out.warn(&format!(
                    "the local index was unusable ({reason}); rebuilt it from the entry files"
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

    /// An index held in memory, built from the entry files (the degraded mode).
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
        let conn = Connection::open(path).map_err(classify)?;
        conn.busy_timeout(BUSY_WAIT).map_err(classify)?;
        // WAL lets readers work while one process writes; NORMAL sync is durable enough for a
        // derived index (the worst a crash can do is lose the last sync, which is redone).
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(classify)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(classify)?;
        // The last connection to close would checkpoint the WAL and fsync every time: a few
        // milliseconds on each one-file run. SQLite's automatic checkpoint (every 1000 pages)
        // keeps the WAL bounded anyway.
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

    /// After a write of many rows, fold the WAL back into the database. Checkpoint-on-close is
    /// off (it costs every small run an fsync), so without this a large WAL would linger and
    /// every later connection would pay to re-index it.
    fn checkpoint_if_large(&self, rows: usize) {
        // ~100 rows is a few WAL pages: cheap to keep, cheap to re-read.
        if rows > 100 {
            let _ = self.conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)");
        }
    }
}

/// Bits of [`rel_id`] that come from the file name.
const NAME_BITS: u32 = 44;

/// The key of an entry's row and of its access history: its folder's hash in the top 20 bits
/// and its file name's in the other 44. A folder's rows are then one range of ids, and the rows
/// a pull adds to every folder land in few pages of the id index (the rows themselves are
/// appended). Ids may collide (odds ~1e-9 at 100,000 entries): rows are found by id *and* path,
/// and a collision only makes two entries share recency.
pub fn rel_id(rel: &str) -> i64 {
    let (dir, name) = rel.rsplit_once('/').unwrap_or(("", rel));
    let (lo, _) = folder_ids(dir);
    lo | (scan::name_hash(name.as_bytes()) & ((1 << NAME_BITS) - 1)) as i64
}

/// The first and last [`rel_id`] of folder `dir` (the same top bits: in order as signed
/// numbers too).
fn folder_ids(dir: &str) -> (i64, i64) {
    let lo = (scan::fnv64(dir.as_bytes()) >> NAME_BITS) << NAME_BITS;
    (lo as i64, (lo | ((1 << NAME_BITS) - 1)) as i64)
}

/// The bounds of the rows of folder `dir` in `entries`: every `rel` strictly between
/// `dir/` and `dir0` (`0` follows `/`) lies in the folder.
fn folder_range(dir: &str) -> (String, String) {
    (format!("{dir}/"), format!("{dir}0"))
}

/// The WHERE clause of the rows of one folder, for [`folder_params`].
const IN_FOLDER: &str = "id BETWEEN ?1 AND ?2 AND rel > ?3 AND rel < ?4";

/// The parameters of [`IN_FOLDER`].
fn folder_params(dir: &str) -> (i64, i64, String, String) {
    let (a, b) = folder_ids(dir);
    let (lo, hi) = folder_range(dir);
    (a, b, lo, hi)
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

/// Read an entry file of `len` bytes for the index: the entry (or why it is not one) and the
/// length of its JSON.
fn read_for_index(
    path: &Path,
    key: &Key,
    len: u64,
) -> (std::result::Result<Entry, EntryError>, u64) {
    let json = crate::cache::store::read_bounded(path, len).and_then(|b| decode_json_bytes(&b));
    match json {
        Ok(json) => (Entry::decode(&json, Some(key)), json.len() as u64),
        Err(e) => (Err(e), 0),
    }
}

fn upsert(
    tx: &rusqlite::Transaction<'_>,
    rel: &str,
    key: &Key,
    entry: &std::result::Result<Entry, EntryError>,
    (ino, size, mtime): FileSig,
    json_size: u64,
) -> rusqlite::Result<()> {
    // Delete then insert (not REPLACE) so the triggers keep `totals` exact.
    tx.prepare_cached("DELETE FROM entries WHERE id = ?1 AND rel = ?2")?
        .execute(params![rel_id(rel), rel])?;
    match entry {
        Ok(e) => tx.prepare_cached(
            "INSERT INTO entries (rel, id, cache_type, blob, variant, valid, path, file_size, provider, model, created_at,
                tokens_in, tokens_out, tokens_cached, cost_usd, size_on_disk, json_size, mtime_ns, ino)
             VALUES (?1, ?17, ?2, ?3, ?4, 1, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?18)",
        )?.execute(
            params![
                rel, key.cache_type, key.blob, key.variant, e.path, e.file_size as i64, e.provider, e.model, e.created_at,
                e.tokens.input as i64, e.tokens.output as i64, e.tokens.cached_input as i64, e.cost_usd, size as i64, json_size as i64, mtime, rel_id(rel), ino as i64
            ],
        )?,
        Err(err) => tx.prepare_cached(
            "INSERT INTO entries (rel, id, cache_type, blob, variant, valid, error, size_on_disk, json_size, mtime_ns, ino)
             VALUES (?1, ?9, ?2, ?3, ?4, 0, ?5, ?6, ?7, ?8, ?10)",
        )?.execute(
            params![rel, key.cache_type, key.blob, key.variant, err.to_string(), size as i64, json_size as i64, mtime, rel_id(rel), ino as i64],
        )?,
    };
    Ok(())
}
