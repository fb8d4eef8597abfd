//! Bringing the index up to date with the entry files: plan without the write lock (list the
//! changed folders, compare them with what the last sync recorded, read new or changed files),
//! then apply under it.

use std::collections::HashMap;

use anyhow::Result;
use rusqlite::{params, TransactionBehavior};

use super::scan::{self, FileSig, GitStat, Manifest};
use super::*;
use crate::cache::{Key, Store};
use crate::git::Repo;
use crate::util::fs::mtime_ns;
use crate::util::par::parallel_map;
use crate::workspace::Workspace;

impl Index {
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
    fn plan(&self, store: &Store, repo: Option<&Repo>) -> Result<Option<SyncPlan>> {
        let started_ns = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as i64)
            .unwrap_or(i64::MAX);
        let mut st = SyncStats::default();
        let current = current_folders(store);
        let recorded = self.recorded_folders()?;
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
        let to_delete = self.rows_gone(&changed, &scanned)?;
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
        Ok(Some(SyncPlan {
            stats: st,
            gone,
            to_delete,
            to_read,
            decoded,
            folders,
        }))
    }

    /// Each folder the last sync recorded: its mtime, and whether its manifest lists all its
    /// rows.
    fn recorded_folders(&self) -> Result<HashMap<String, (i64, bool)>> {
        let mut q = self
            .conn
            .prepare_cached("SELECT dir, mtime_ns, manifest_ok FROM dirs")?;
        let rows = q.query_map([], |r| Ok((r.get::<_, String>(0)?, (r.get(1)?, r.get(2)?))))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Rows whose file is gone, looked up only in the folders that lost a file.
    fn rows_gone(
        &self,
        changed: &[(String, i64)],
        scanned: &[scan::FolderScan],
    ) -> Result<Vec<String>> {
        let mut to_delete: Vec<String> = Vec::new();
        for ((dir, _), s) in changed.iter().zip(scanned) {
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
        Ok(to_delete)
    }

    /// Write what `plan` found, in the caller's transaction. Returns the rows removed.
    fn apply(&self, tx: &rusqlite::Transaction<'_>, plan: SyncPlan) -> Result<usize> {
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
}

/// What a sync found, to be written under the lock.
struct SyncPlan {
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

/// Every `cache/<type>/<b0b1>` folder with its mtime, stat'ed before listing so a change during
/// the listing shows up as a changed folder next time. A cache folder that is a symlink is
/// indexed as empty: nothing outside the work tree is read, and no temporary file there is
/// cleaned up.
fn current_folders(store: &Store) -> HashMap<String, i64> {
    let mut current: HashMap<String, i64> = HashMap::new();
    if store.check_dir(&store.cache_dir()).is_err() {
        return current;
    }
    let Ok(types) = std::fs::read_dir(store.cache_dir()) else {
        return current;
    };
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
    current
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::{Entry, Tokens};

    fn entry(blob: char, ty: &str) -> Entry {
        Entry {
            schema_version: crate::cache::SCHEMA_VERSION,
            cache_type: ty.into(),
            blob: blob.to_string().repeat(40),
            path: format!("{blob}.rs"),
            file_size: 1,
            provider: "builtin".into(),
            model: "m".into(),
            prompt_hash: "0".repeat(64),
            created_at: "2026-11-21T10:00:00Z".into(),
            tool_version: "test".into(),
            tokens: Tokens::default(),
            cost_usd: Some(0.0),
            response_model: None,
            signature: None,
            result: serde_json::json!({"items": []}),
        }
    }

    #[test]
    fn a_sync_plans_only_what_changed() {
        let dir = tempfile::tempdir().unwrap();
        let ws = crate::workspace::test_workspace(dir.path());
        let mut ix = Index::in_memory(&ws);
        assert!(ix.plan(&ws.store, None).unwrap().is_none(), "nothing yet");
        let a = ws.store.write(&entry('a', "todos")).unwrap();
        ws.store.write(&entry('b', "todos")).unwrap();
        let plan = ix.plan(&ws.store, None).unwrap().expect("two new entries");
        assert_eq!(plan.stats.added, 2);
        assert_eq!(plan.stats.dirs_scanned, 2);
        assert!(plan.to_delete.is_empty() && plan.gone.is_empty());
        ix.sync(&ws).unwrap();
        // Folder mtimes recorded within the racy window are listed again, but find nothing new.
        if let Some(p) = ix.plan(&ws.store, None).unwrap() {
            assert_eq!(p.stats.added + p.stats.changed, 0);
        }
        // A deleted entry empties its folder: the folder is gone, its rows with it.
        ws.store.remove(&a).unwrap();
        let plan = ix
            .plan(&ws.store, None)
            .unwrap()
            .expect("a folder went away");
        assert_eq!(plan.gone.len(), 1, "{:?}", plan.gone);
        assert!(plan.gone[0].starts_with("cache/todos/aa"));
        let removed = ix.sync(&ws).unwrap().removed;
        assert_eq!(removed, 1);
    }
}
