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

pub mod scan;
pub mod schema;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, Result};
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use serde::Serialize;

use crate::cache::entry::decode_json_bytes;
use crate::cache::{Entry, EntryError, Key, Store};
use crate::git::Repo;
use crate::util::fs::mtime_ns;
use crate::util::par::parallel_map;
use crate::workspace::Workspace;
use scan::{FileSig, GitStat, Manifest};

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

/// Eviction order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Policy {
    /// Least recently used first (never-used entries by creation time).
    Lru,
    /// Oldest `created_at` first.
    Oldest,
    /// Largest on disk first.
    Largest,
    /// Most tokens (the dearest to have produced) first.
    Expensive,
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

    /// Remove every row and re-read every entry file (`cache rebuild-index`). Access history
    /// and counters are kept.
    pub fn rebuild(&mut self, session: &Workspace) -> Result<SyncStats> {
        {
            let tx = self
                .conn
                .transaction_with_behavior(TransactionBehavior::Immediate)?;
            tx.execute_batch(
                "DELETE FROM entries; DELETE FROM dirs; DELETE FROM manifests; DELETE FROM totals;",
            )?;
            tx.commit()?;
        }
        self.sync(session)
    }

    /// Bring the index up to date with the entry files (git's index lends evidence that files
    /// are unchanged; see [`scan`]).
    pub fn sync(&mut self, session: &Workspace) -> Result<SyncStats> {
        let st = self.sync_inner(&session.store, Some(&session.repo))?;
        self.last_sync = st;
        Ok(st)
    }

    fn sync_inner(&mut self, store: &Store, repo: Option<&Repo>) -> Result<SyncStats> {
        // Plan without the write lock (listing and reading files takes a while), then apply
        // under it. Should another process write in between, plan again under the lock: what
        // the plan read (manifests, rows) may be out of date.
        let version = self.data_version()?;
        let Some(plan) = self.plan(store, repo)? else {
            return Ok(SyncStats::default());
        };
        let tx = rusqlite::Transaction::new_unchecked(&self.conn, TransactionBehavior::Immediate)?;
        let plan = if self.data_version()? == version {
            plan
        } else {
            match self.plan(store, repo)? {
                Some(p) => p,
                None => return Ok(SyncStats::default()),
            }
        };
        let mut st = plan.stats;
        st.removed = self.apply(&tx, plan)?;
        tx.commit()?;
        self.checkpoint_if_large(st.added + st.changed + st.removed);
        Ok(st)
    }

    /// SQLite's count of commits by other connections since this one opened.
    fn data_version(&self) -> Result<i64> {
        Ok(self
            .conn
            .query_row("PRAGMA data_version", [], |r| r.get(0))?)
    }

    /// What changed since the last sync, with the changed entry files read; `None` when
    /// nothing did.
    fn plan(&self, store: &Store, repo: Option<&Repo>) -> Result<Option<Plan>> {
        let started_ns = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as i64)
            .unwrap_or(i64::MAX);
        let mut st = SyncStats::default();
        // Every cache/<type>/<b0b1> folder with its mtime, stat'ed before listing so a change
        // during the listing shows up as a changed folder next time.
        let mut current: HashMap<String, i64> = HashMap::new();
        // A cache folder that is a symlink is indexed as empty: nothing outside the work tree
        // is read, and no temporary file there is cleaned up.
        let listable = store.check_dir(&store.cache_dir()).is_ok();
        if let Ok(types) = std::fs::read_dir(store.cache_dir())
            .map_err(|_| ())
            .and_then(|d| if listable { Ok(d) } else { Err(()) })
        {
            for t in types.flatten() {
                let Ok(tname) = t.file_name().into_string() else {
                    continue;
                };
                if !t.file_type().is_ok_and(|f| f.is_dir()) {
                    continue;
                }
                let Ok(prefixes) = std::fs::read_dir(t.path()) else {
                    continue;
                };
                for p in prefixes.flatten() {
                    let Ok(pname) = p.file_name().into_string() else {
                        continue;
                    };
                    if let Ok(m) = p.metadata() {
                        if m.is_dir() {
                            current.insert(format!("cache/{tname}/{pname}"), mtime_ns(&m));
                        }
                    }
                }
            }
        }
        // Each recorded folder: its mtime, and whether its manifest lists all its rows.
        let recorded: HashMap<String, (i64, bool)> = {
            let mut q = self
                .conn
                .prepare_cached("SELECT dir, mtime_ns, manifest_ok FROM dirs")?;
            let rows = q.query_map([], |r| Ok((r.get::<_, String>(0)?, (r.get(1)?, r.get(2)?))))?;
            rows.collect::<rusqlite::Result<_>>()?
        };
        let gone: Vec<String> = recorded
            .keys()
            .filter(|d| !current.contains_key(*d))
            .cloned()
            .collect();
        let mut changed: Vec<(String, i64)> = current
            .into_iter()
            .filter(|(d, m)| recorded.get(d).map(|r| r.0) != Some(*m))
            .collect();
        changed.sort();
        if gone.is_empty() && changed.is_empty() {
            return Ok(None);
        }
        let root = store.root().to_path_buf();
        // What the last sync recorded in each changed folder.
        let known: Vec<Known> = changed
            .iter()
            .map(|(dir, _)| self.known_in(dir, recorded.get(dir).is_some_and(|r| r.1)))
            .collect::<Result<_>>()?;
        let recorded_files: usize = known.iter().map(|k| k.manifest.len()).sum();
        // Reading git's index costs ~1.5 ns a byte (16 MB, ~25 ms, with 100,000 entries); each
        // file it vouches for spares a stat of ~2 µs. Read it when it spares more than it costs.
        let git_repo = repo.filter(|r| {
            r.index_len()
                .is_some_and(|len| len / 1024 < recorded_files as u64)
        });
        // List the changed folders on every core while git's index is read (much of either is
        // waiting for the disk), then stat what git cannot vouch for; read only new or changed
        // files.
        let (listings, git) = std::thread::scope(|s| {
            let git = git_repo.map(|r| s.spawn(|| GitStat::load(r, &root)));
            // Listing a folder whose blocks left the page cache mostly waits for the disk: two
            // threads a core keep the cores busy meanwhile (~8% faster on a cold cache).
            let threads = (2 * crate::util::par::cores()).min(16);
            let listings = crate::util::par::parallel_map_on(threads, &changed, |(dir, _)| {
                scan::list_folder(&root, dir)
            });
            let git = git.and_then(|h| h.join().ok().flatten());
            (listings, git.unwrap_or_default())
        });
        let work: Vec<(&str, i64, &scan::Listing, &Manifest)> = changed
            .iter()
            .zip(&listings)
            .zip(&known)
            .map(|(((d, m), l), k)| (d.as_str(), *m, l, &k.manifest))
            .collect();
        let scanned = parallel_map(&work, |(dir, mtime, listing, known)| {
            scan::compare_folder(&root, dir, listing, known, git.folder(dir, *mtime))
        });
        // Rows whose file is gone, looked up only in folders that lost a file.
        let mut to_delete: Vec<String> = Vec::new();
        for ((dir, _), s) in changed.iter().zip(&scanned) {
            if s.something_gone {
                let now = s.manifest();
                for rel in self.rels_in(dir)? {
                    let name = rel.rsplit_once('/').map_or(rel.as_str(), |(_, n)| n);
                    if !now.contains(scan::name_hash(name.as_bytes())) {
                        to_delete.push(rel);
                    }
                }
            }
        }
        let mut to_read: Vec<(String, Key, FileSig)> = Vec::new();
        let mut folders = Vec::with_capacity(scanned.len());
        for (((dir, mtime), s), known) in changed.into_iter().zip(scanned).zip(known) {
            st.dirs_scanned += 1;
            st.added += s.added;
            st.changed += s.changed;
            st.stat_calls += s.stat_calls;
            to_read.extend(s.to_read);
            folders.push(FolderUpdate {
                dir,
                // Racily clean (git's term): file times come from a coarse clock, so a folder
                // changed in the same tick as this sync could keep this mtime. Record such
                // recent folders as unknown (0) so the next sync lists them again.
                mtime: if mtime >= started_ns - RACY_NS {
                    0
                } else {
                    mtime
                },
                present: s.present,
                fresh: s.fresh,
                something_gone: s.something_gone,
                known,
            });
        }
        let decoded = parallel_map(&to_read, |(rel, key, sig)| {
            read_for_index(&root.join(rel), key, sig.1)
        });
        Ok(Some(Plan {
            stats: st,
            gone,
            to_delete,
            to_read,
            decoded,
            folders,
        }))
    }

    /// Write what `plan` found, in the caller's transaction. Returns the rows removed.
    fn apply(&self, tx: &rusqlite::Transaction<'_>, plan: Plan) -> Result<usize> {
        let mut removed = 0;
        for d in &plan.gone {
            removed += tx.execute(
                &format!("DELETE FROM entries WHERE {IN_FOLDER}"),
                folder_params(d),
            )?;
            tx.execute("DELETE FROM dirs WHERE dir = ?1", [d.as_str()])?;
            tx.execute("DELETE FROM manifests WHERE dir = ?1", [d.as_str()])?;
        }
        for rel in &plan.to_delete {
            removed += tx
                .prepare_cached("DELETE FROM entries WHERE id = ?1 AND rel = ?2")?
                .execute(params![rel_id(rel), rel])?;
        }
        // A bulk load (rebuild, a large pull) skips the per-row trigger work and recomputes the
        // totals in one pass: a third of the time at 100,000 entries.
        let bulk = plan.to_read.len() > BULK_ROWS;
        if bulk {
            tx.execute_batch(
                "DROP TRIGGER IF EXISTS entries_ins; DROP TRIGGER IF EXISTS entries_del;",
            )?;
        }
        for ((rel, key, stat), (entry, json_size)) in plan.to_read.iter().zip(plan.decoded) {
            upsert(tx, rel, key, &entry, *stat, json_size)?;
        }
        for f in plan.folders {
            tx.prepare_cached("INSERT OR REPLACE INTO dirs VALUES (?1, ?2, 1)")?
                .execute(params![f.dir, f.mtime])?;
            // A pull adds a few files to every folder: append them as a small delta instead of
            // rewriting the folder's whole manifest, until the deltas grow past a share of it
            // that differs per folder (so folders do not all compact in the same sync).
            let share = 8 + (scan::fnv64(f.dir.as_bytes()) % 8) as usize;
            let limit = 32 + f.known.base_len * share / 64;
            if f.known.from_manifest
                && !f.something_gone
                && f.known.delta_len + f.fresh.len() <= limit
            {
                if !f.fresh.is_empty() {
                    tx.prepare_cached("INSERT INTO manifests VALUES (?1, ?2, ?3)")?
                        .execute(params![
                            f.dir,
                            f.known.next_seq,
                            Manifest::from_records(f.fresh).encode()
                        ])?;
                }
            } else {
                tx.prepare_cached("DELETE FROM manifests WHERE dir = ?1")?
                    .execute([f.dir.as_str()])?;
                tx.prepare_cached("INSERT INTO manifests VALUES (?1, 0, ?2)")?
                    .execute(params![f.dir, Manifest::from_records(f.present).encode()])?;
            }
        }
        if bulk {
            tx.execute_batch(schema::RECOMPUTE_TOTALS)?;
            tx.execute_batch(schema::TRIGGERS)?;
        }
        Ok(removed)
    }

    /// What the last sync recorded for folder `dir`: its manifest (base and deltas) when
    /// `manifest_ok` (it lists every row of the folder), else, or when it is damaged, the rows
    /// themselves.
    fn known_in(&self, dir: &str, manifest_ok: bool) -> Result<Known> {
        if manifest_ok {
            if let Some(k) = self.stored_manifest(dir)? {
                return Ok(k);
            }
        }
        Ok(Known {
            manifest: self.manifest_from_rows(dir)?,
            ..Known::default()
        })
    }

    /// The stored manifest of folder `dir`; `None` when there is none or it is damaged (a
    /// record that does not decode, deltas without their base).
    fn stored_manifest(&self, dir: &str) -> Result<Option<Known>> {
        let mut q = self
            .conn
            .prepare_cached("SELECT seq, records FROM manifests WHERE dir = ?1 ORDER BY seq")?;
        let mut rows = q.query([dir])?;
        let mut k = Known {
            from_manifest: true,
            ..Known::default()
        };
        let mut parts = Vec::new();
        while let Some(r) = rows.next()? {
            let seq: i64 = r.get(0)?;
            let Some(m) = Manifest::decode(r.get_ref(1)?.as_blob()?) else {
                return Ok(None);
            };
            // The base (seq 0) comes first, deltas after it.
            if (seq == 0) != parts.is_empty() {
                return Ok(None);
            }
            if seq == 0 {
                k.base_len = m.len();
            } else {
                k.delta_len += m.len();
            }
            parts.push(m);
            k.next_seq = seq + 1;
        }
        if parts.is_empty() {
            return Ok(None);
        }
        k.manifest = Manifest::merge(parts);
        Ok(Some(k))
    }

    /// The entry rows of folder `dir`, as a manifest.
    fn manifest_from_rows(&self, dir: &str) -> Result<Manifest> {
        let mut q = self.conn.prepare_cached(&format!(
            "SELECT rel, ino, size_on_disk, mtime_ns FROM entries WHERE {IN_FOLDER}"
        ))?;
        let mut rows = q.query(folder_params(dir))?;
        let mut records = Vec::new();
        while let Some(r) = rows.next()? {
            let rel = r.get_ref(0)?.as_str()?;
            let name = rel.rsplit_once('/').map_or(rel, |(_, n)| n);
            records.push((
                scan::name_hash(name.as_bytes()),
                (
                    r.get::<_, i64>(1)? as u64,
                    r.get::<_, i64>(2)? as u64,
                    r.get::<_, i64>(3)?,
                ),
            ));
        }
        Ok(Manifest::from_records(records))
    }

    /// The paths of the entry rows in folder `dir`.
    fn rels_in(&self, dir: &str) -> Result<Vec<String>> {
        let mut q = self
            .conn
            .prepare_cached(&format!("SELECT rel FROM entries WHERE {IN_FOLDER}"))?;
        let rows = q.query_map(folder_params(dir), |r| r.get(0))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

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
    pub fn rows(&self, policy: Option<Policy>) -> Result<Vec<Row>> {
        let order = match policy {
            None => "e.rel",
            Some(Policy::Lru) => {
                "COALESCE(a.last_accessed, unixepoch(e.created_at), 0) ASC, e.created_at ASC, e.rel"
            }
            Some(Policy::Oldest) => "e.created_at ASC, e.rel",
            Some(Policy::Largest) => "e.size_on_disk DESC, e.rel",
            Some(Policy::Expensive) => {
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
    pub fn evict(&self, store: &Store, policy: Policy, max_bytes: u64) -> Result<(Vec<Row>, u64)> {
        let victims = self.eviction_victims(policy, max_bytes)?;
        let freed = self.remove(store, &victims)?;
        Ok((victims, freed))
    }

    /// The entries `policy` removes, in order, for the cache to fit in `max_bytes`.
    pub fn eviction_victims(&self, policy: Policy, max_bytes: u64) -> Result<Vec<Row>> {
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

/// What a sync found, to be written under the lock.
struct Plan {
    stats: SyncStats,
    /// Folders that no longer exist.
    gone: Vec<String>,
    /// Rows whose file is gone.
    to_delete: Vec<String>,
    /// New or changed files, with what reading them gave.
    to_read: Vec<(String, Key, FileSig)>,
    decoded: Vec<(std::result::Result<Entry, EntryError>, u64)>,
    /// Every changed folder.
    folders: Vec<FolderUpdate>,
}

/// One changed folder as a sync found it.
struct FolderUpdate {
    dir: String,
    /// Its mtime to record (0: list it again next time).
    mtime: i64,
    /// Every entry file in it now, unsorted.
    present: Vec<(u64, FileSig)>,
    /// The records not in the known manifest.
    fresh: Vec<(u64, FileSig)>,
    something_gone: bool,
    known: Known,
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

/// What the last sync recorded for a folder.
#[derive(Default)]
struct Known {
    manifest: Manifest,
    /// Whether `manifest` came from the stored manifest (else from the rows).
    from_manifest: bool,
    /// Records in the stored base and deltas.
    base_len: usize,
    delta_len: usize,
    /// The sequence number of the next delta.
    next_seq: i64,
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
