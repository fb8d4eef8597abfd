//! The shards under `.rustassistant/cache/` and the local overlay under
//! `<git dir>/rustassistant/overlay/`: lookup, and locked, batched, atomic edits.
//!
//! Contract: [`Store::lookup`] returns a hit only for a line that decodes within bounds, derives
//! the key it is stored under, passes the signature policy and is not older than `max_age`;
//! anything else is a miss or an invalid entry, never an error that stops the caller.
//! [`Store::apply`] holds the cache lock only while it reads, edits and replaces shards (never
//! across a network request), normalises what it writes, and leaves a shard whose bytes would
//! not change untouched.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::entry::{Entry, EntryError};
use super::key::Key;
use super::lock::CacheLock;
pub use super::place::{Location, Place};
use super::shard::{self, memmem, ShardId};

/// Result of looking a key up.
#[derive(Debug)]
pub enum Lookup {
    /// A valid entry.
    Hit {
        /// The decoded entry.
        entry: Box<Entry>,
        /// Its shard.
        at: Location,
    },
    /// No entry for the key.
    Miss,
    /// A line for the key exists but cannot be trusted; callers report it and treat it as a miss.
    Invalid {
        /// The shard file.
        path: PathBuf,
        /// Why.
        error: EntryError,
    },
}

/// A change to one shard: entries to add, and which to drop.
#[derive(Default)]
pub struct Edit {
    /// Entries to add (an equal result already stored keeps its line).
    pub add: Vec<Entry>,
    /// Keys to drop.
    pub drop_keys: HashSet<Key>,
    /// The shard as git's index has it: an added result equal to a line there gets that line
    /// back (its `created_at` too), so a re-analysis after `cache clear` leaves git clean.
    pub committed: Option<Vec<u8>>,
}

/// What [`Store::apply`] did to one shard.
#[derive(Debug, Clone)]
pub struct Applied {
    /// The shard.
    pub at: Location,
    /// Whether its file changed.
    pub changed: bool,
    /// Entries added (new keys or replaced results).
    pub added: usize,
    /// Entries dropped by the edit, with the bytes their lines took.
    pub dropped: Vec<(Key, u64)>,
    /// Invalid or superseded lines the rewrite dropped.
    pub cleaned: usize,
    /// Why the shard was left as it is (a link, folder or other non-regular file in its place,
    /// a file over the size bound, one that cannot be read or replaced), if it was.
    pub refused: Option<String>,
    /// Entries of a refused work-tree shard that were stored in the local overlay instead (they
    /// are hits there, and the commit hook carries them once the shard is usable again).
    pub diverted: usize,
}

impl Applied {
    fn refused(at: Location, why: String) -> Applied {
        Applied {
            at,
            changed: false,
            added: 0,
            dropped: Vec::new(),
            cleaned: 0,
            refused: Some(why),
            diverted: 0,
        }
    }

    /// Whether the entries of this edit were stored (in the shard, or diverted to the overlay).
    pub fn stored(&self) -> bool {
        self.refused.is_none() || self.diverted > 0
    }
}

/// The shard files of one place, as listed.
#[derive(Debug, Default)]
pub struct Listing {
    /// Every shard with its (inode, size, mtime_ns).
    pub shards: Vec<(Location, (u64, u64, i64))>,
    /// Files that are neither shards nor temporary files (reported by `cache verify`).
    pub strays: Vec<PathBuf>,
    /// Entry files of the per-entry layout (`cache/<type>/<b0b1>/…json[.zst]`) still there.
    pub old_layout: usize,
}

/// A `created_at` that does not parse as a timestamp, in Unix seconds.
pub const UNKNOWN_TIME: i64 = i64::MIN;

/// The shards of one repository.
#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
    state: PathBuf,
    /// `[cache] require_signature`: `Some(key)` (the key may be absent) when on.
    signatures: Option<Option<Vec<u8>>>,
    /// `[cache] max_age`: older entries are misses.
    max_age: Option<Duration>,
    /// Whether `.rustassistant` and `cache` are real folders, or why not (checked once).
    real: std::sync::OnceLock<Result<(), String>>,
    /// Type folders already checked by a write of this process (a commit writes hundreds of
    /// shards into a handful of folders: each is lstat'ed once, component by component).
    checked: std::sync::Arc<std::sync::Mutex<HashSet<PathBuf>>>,
    /// Replaced shards' inodes, reused for the next replacements (see [`super::spare`]).
    spares: std::sync::Arc<super::spare::Spares>,
    /// Which item shards name each item id, per items type, built on first need
    /// ([`super::homes`]).
    pub(super) homes: std::sync::Arc<std::sync::Mutex<super::homes::Homes>>,
}

impl Store {
    /// A store rooted at `root` (the `.rustassistant` folder) whose overlay and lock live in
    /// `state` (`<git dir>/rustassistant`).
    pub fn new(root: PathBuf, state: PathBuf) -> Store {
        Store {
            root,
            signatures: None,
            max_age: None,
            real: std::sync::OnceLock::new(),
            checked: Default::default(),
            spares: std::sync::Arc::new(super::spare::Spares::new(state.join("spare"))),
            homes: Default::default(),
            state,
        }
    }

    /// [`Store::check_dir`] for the folder of a tree shard being written, once per folder and
    /// process.
    fn check_shard_dir(&self, dir: &Path) -> std::io::Result<()> {
        let mut done = self.checked.lock().unwrap_or_else(|p| p.into_inner());
        if !done.contains(dir) {
            self.check_dir(dir)?;
            done.insert(dir.to_path_buf());
        }
        Ok(())
    }

    /// Whether the folder of a work-tree shard is a real folder inside the work tree (checked
    /// once per folder and process): a type folder a commit made a symbolic link is never read
    /// through, as it is never written through.
    pub(crate) fn folder_is_real(&self, at: &Location) -> bool {
        at.place != Place::Tree
            || self
                .path_of(at)
                .parent()
                .is_none_or(|dir| self.check_shard_dir(dir).is_ok())
    }

    /// Require every entry to carry a valid signature under `key` (`[cache] require_signature`).
    pub fn require_signatures(mut self, key: Option<Vec<u8>>) -> Store {
        self.signatures = Some(key);
        self
    }

    /// Treat entries older than `age` as misses (`[cache] max_age`).
    pub fn with_max_age(mut self, age: Option<Duration>) -> Store {
        self.max_age = age;
        self
    }

    /// `[cache] require_signature`: `Some(key)` (the key may be absent) when on.
    pub(super) fn signatures(&self) -> Option<&Option<Vec<u8>>> {
        self.signatures.as_ref()
    }

    /// Whether signatures are required (lookups then always read and check the line).
    pub fn requires_signatures(&self) -> bool {
        self.signatures.is_some()
    }

    /// `[cache] max_age`, if set.
    pub fn max_age(&self) -> Option<Duration> {
        self.max_age
    }

    /// The `.rustassistant` folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The `cache` folder.
    pub fn cache_dir(&self) -> PathBuf {
        self.root.join("cache")
    }

    /// The folder a place's shards live in.
    pub fn place_dir(&self, place: Place) -> PathBuf {
        match place {
            Place::Tree => self.cache_dir(),
            Place::Overlay => self.state.join("overlay"),
        }
    }

    /// The file of a shard.
    pub fn path_of(&self, at: &Location) -> PathBuf {
        self.place_dir(at.place).join(at.shard.rel())
    }

    /// The work-tree-relative path of a tree shard (`.rustassistant/cache/<type>/<b0b1>.jsonl`).
    pub fn tree_rel(shard: &ShardId) -> String {
        format!(".rustassistant/cache/{}", shard.rel())
    }

    /// Look `key` up in its shard, then in the overlay.
    pub fn lookup(&self, key: &Key) -> Lookup {
        let mut invalid = None;
        for at in self.locations_of(key) {
            let bytes = match self.read_shard(&at) {
                Ok(Some(b)) => b,
                Ok(None) => continue,
                Err(error) => {
                    invalid.get_or_insert((self.path_of(&at), error));
                    continue;
                }
            };
            match self.find_in(&bytes, &at, key) {
                Ok(Some(entry)) => {
                    return Lookup::Hit {
                        entry: Box::new(entry),
                        at,
                    }
                }
                Ok(None) => {}
                Err(error) => {
                    invalid.get_or_insert((self.path_of(&at), error));
                }
            }
        }
        match invalid {
            Some((path, error)) => Lookup::Invalid { path, error },
            None => Lookup::Miss,
        }
    }

    /// The trusted entry for `key` in a shard's bytes: only lines that mention its blob are
    /// decoded. An untrusted line for the key is an error when no trusted one exists.
    pub fn find_in(
        &self,
        bytes: &[u8],
        at: &Location,
        key: &Key,
    ) -> Result<Option<Entry>, EntryError> {
        let needle = blob_needle(key);
        let parsed = shard::parse_only(bytes, &at.shard, |line| memmem(line, needle.as_bytes()));
        self.judge(&parsed, bytes, key).map(|e| e.cloned())
    }

    /// What a parsed shard (read from `bytes`) says about `key`: its trusted, unexpired entry;
    /// none; or why the line for the key (its winner, or an untrusted line naming its blob)
    /// cannot be trusted. The one rule every reader of shard bytes applies.
    pub fn judge<'p>(
        &self,
        parsed: &'p shard::Parsed,
        bytes: &[u8],
        key: &Key,
    ) -> Result<Option<&'p Entry>, EntryError> {
        if let Some(d) = parsed.get(key) {
            let d = match self.untrusted(&d.entry) {
                None => d,
                // A twin that passes the policy wins over an untrusted earliest line.
                Some(e) => match self.trusted_twin(parsed, bytes, key) {
                    Some(t) => t,
                    None => return Err(e),
                },
            };
            return Ok((!self.expired(&d.entry.created_at)).then_some(&d.entry));
        }
        let needle = blob_needle(key);
        match parsed
            .invalid
            .iter()
            .find(|(_, l, _)| memmem(&bytes[l.range.clone()], needle.as_bytes()))
        {
            Some((n, _, e)) => Err(EntryError::Malformed(format!("line {n}: {e}"))),
            None => Ok(None),
        }
    }

    /// The work tree the `.rustassistant` folder sits in.
    fn work_tree(&self) -> &Path {
        self.root.parent().unwrap_or(&self.root)
    }

    /// An error saying the cache folder is not a real folder, if it is not (checked once).
    pub fn ensure_real(&self) -> Result<(), crate::error::UserError> {
        self.real
            .get_or_init(|| self.check_dir(&self.cache_dir()).map_err(|e| e.to_string()))
            .clone()
            .map_err(crate::error::UserError::Input)
    }

    pub(crate) fn is_real(&self) -> bool {
        self.ensure_real().is_ok()
    }

    /// Refuse to write into or delete from `dir` unless every folder from the work tree down to
    /// it is a real folder: a committed `.rustassistant/cache` that is a symlink must not make
    /// this tool write or delete outside the repository.
    pub fn check_dir(&self, dir: &Path) -> std::io::Result<()> {
        crate::util::fs::check_real_dirs(self.work_tree(), dir)
    }

    /// Hold the cache lock (`<git dir>/rustassistant/cache.lock`) until the guard drops.
    pub fn lock(&self) -> std::io::Result<CacheLock> {
        std::fs::create_dir_all(&self.state)?;
        CacheLock::take(&self.state.join("cache.lock"))
    }

    /// Apply `edits` to the shards of `place` under the cache lock: read each shard, apply its
    /// edit, normalise, and replace it atomically when its bytes change (an empty shard is
    /// removed).
    ///
    /// One bad shard never fails the others: a shard that is not a regular file, is over the
    /// size bound, cannot be read or cannot be replaced is left exactly as it is and comes back
    /// with [`Applied::refused`]. The entries meant for a refused work-tree shard are stored in
    /// the local overlay instead ([`Applied::diverted`]), so nothing paid is lost. Only a
    /// failure to take the lock is an error.
    pub fn apply(
        &self,
        place: Place,
        edits: BTreeMap<ShardId, Edit>,
    ) -> std::io::Result<Vec<Applied>> {
        if edits.is_empty() {
            return Ok(Vec::new());
        }
        let _lock = self.lock()?;
        let mut out = Vec::with_capacity(edits.len());
        for (shard, edit) in edits {
            let at = Location { place, shard };
            let mut applied = match self.apply_one(&at, &edit) {
                Ok(a) => a,
                Err(e) => Applied::refused(at.clone(), e.to_string()),
            };
            if applied.refused.is_some() && place == Place::Tree && !edit.add.is_empty() {
                let over = Location {
                    place: Place::Overlay,
                    shard: at.shard.clone(),
                };
                let divert = Edit {
                    add: edit.add,
                    ..Edit::default()
                };
                if let Ok(o) = self.apply_one(&over, &divert) {
                    applied.diverted = divert.add.len();
                    if o.changed {
                        out.push(o);
                    }
                }
            }
            out.push(applied);
        }
        Ok(out)
    }

    fn apply_one(&self, at: &Location, edit: &Edit) -> std::io::Result<Applied> {
        let path = self.path_of(at);
        if let Some(dir) = path.parent() {
            if at.place == Place::Tree {
                self.check_shard_dir(dir)?;
            }
        }
        // A shard no reader accepts (a link, folder or FIFO in its place, a file over the
        // bound, one this process cannot read) may hold other people's lines: it is never
        // replaced, least of all by a shard holding only this edit's lines.
        let old = match self.read_shard(at) {
            Ok(b) => b.unwrap_or_default(),
            Err(e) => return Err(std::io::Error::other(format!("{}: {e}", path.display()))),
        };
        let parsed = self.parse(&old, &at.shard);
        let mut applied = Applied {
            at: at.clone(),
            changed: false,
            added: 0,
            dropped: Vec::new(),
            cleaned: parsed.invalid.len() + parsed.superseded.len(),
            refused: None,
            diverted: 0,
        };
        let mut kept: BTreeMap<Key, Entry> = BTreeMap::new();
        for d in parsed.entries {
            if edit.drop_keys.contains(&d.key) {
                applied.dropped.push((d.key, d.line.range.len() as u64 + 1));
            } else {
                kept.insert(d.key, d.entry);
            }
        }
        let committed = edit
            .committed
            .as_deref()
            .map(|b| shard::parse(b, &at.shard))
            .unwrap_or_default();
        // An overlay entry that repeats what the work tree's shard holds (an unchanged result
        // of `--force` on committed content) would only be a second copy: not written.
        let tree = match at.place {
            Place::Overlay if !edit.add.is_empty() => {
                let t = Location {
                    place: Place::Tree,
                    shard: at.shard.clone(),
                };
                let bytes = self.read_shard(&t).ok().flatten().unwrap_or_default();
                self.parse(&bytes, &at.shard)
            }
            _ => shard::Parsed::default(),
        };
        let same = |old: &Entry, new: &Entry| {
            old.result == new.result
                && !self.expired(&old.created_at)
                && (old.signature.is_some() || new.signature.is_none())
        };
        for e in &edit.add {
            let key = e.key();
            if !at.shard.holds(&key) {
                continue;
            }
            if kept.get(&key).is_some_and(|old| same(old, e))
                || tree.get(&key).is_some_and(|t| same(&t.entry, e))
            {
                continue;
            }
            let e = match committed.get(&key) {
                Some(c) if same(&c.entry, e) => c.entry.clone(),
                _ => e.clone(),
            };
            kept.insert(key, e);
            applied.added += 1;
        }
        let bytes = shard::render(kept.values());
        if bytes == old {
            return Ok(applied);
        }
        applied.changed = true;
        self.replace_shard(at, &bytes)?;
        self.note_items(at, kept.keys());
        Ok(applied)
    }

    /// Replace a shard's file with `bytes` atomically. The caller holds the cache lock.
    ///
    /// A committed shard that becomes empty stays, as an empty file: git pairs a deleted file
    /// with a similar added one as a rename, and two branches that each emptied one shard and
    /// filled another would then stop a merge with rename/rename conflicts. An overlay shard
    /// that becomes empty is removed.
    pub fn replace_shard(&self, at: &Location, bytes: &[u8]) -> std::io::Result<()> {
        let path = self.path_of(at);
        if let Some(dir) = path.parent() {
            if at.place == Place::Tree {
                self.check_shard_dir(dir)?;
                if !dir.exists() {
                    self.create_type_folder(&at.shard.cache_type)?;
                }
            }
        }
        if bytes.is_empty() && at.place == Place::Tree {
            return match std::fs::symlink_metadata(&path) {
                Ok(_) => self.spares.replace(&path, bytes),
                Err(_) => Ok(()),
            };
        }
        if bytes.is_empty() {
            match self.spares.remove(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
            if let Some(dir) = path.parent() {
                let _ = std::fs::remove_dir(dir);
            }
            Ok(())
        } else {
            self.spares.replace(&path, bytes)
        }
    }
}

/// The bytes by which a line names `key`'s blob (keys are sorted, so always as written here).
pub fn blob_needle(key: &Key) -> String {
    format!("\"blob\":\"{}\"", key.blob)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::entry::tests::sample;

    fn store(dir: &Path) -> Store {
        Store::new(dir.join(".rustassistant"), dir.join("state"))
    }

    fn add(s: &Store, place: Place, e: &Entry) -> Vec<Applied> {
        let mut edits = BTreeMap::new();
        edits.insert(
            ShardId::of(&e.key()),
            Edit {
                add: vec![e.clone()],
                ..Edit::default()
            },
        );
        s.apply(place, edits).unwrap()
    }

    #[test]
    fn write_then_lookup_in_both_places() {
        let dir = tempfile::tempdir().unwrap();
        let s = store(dir.path());
        let e = sample();
        assert!(matches!(s.lookup(&e.key()), Lookup::Miss));
        add(&s, Place::Overlay, &e);
        match s.lookup(&e.key()) {
            Lookup::Hit { entry, at } => {
                assert_eq!(*entry, e);
                assert_eq!(at.place, Place::Overlay);
            }
            other => panic!("{other:?}"),
        }
        add(&s, Place::Tree, &e);
        assert!(matches!(s.lookup(&e.key()), Lookup::Hit { at, .. } if at.place == Place::Tree));
        let l = s.list(Place::Tree);
        assert_eq!(
            l.shards.len(),
            256,
            "a type's shards exist from its first write"
        );
        assert!(l.strays.is_empty());
    }

    #[test]
    fn an_equal_result_keeps_the_stored_line_and_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let s = store(dir.path());
        let e = sample();
        add(&s, Place::Tree, &e);
        let p = s.path_of(&Location::each(&ShardId::of(&e.key()))[0]);
        let before = std::fs::read(&p).unwrap();
        let t0 = std::fs::metadata(&p).unwrap().modified().unwrap();
        std::thread::sleep(Duration::from_millis(20));
        let mut again = e.clone();
        again.created_at = "2027-01-01T00:00:00Z".into();
        let applied = add(&s, Place::Tree, &again);
        assert!(!applied[0].changed);
        assert_eq!(std::fs::read(&p).unwrap(), before);
        assert_eq!(std::fs::metadata(&p).unwrap().modified().unwrap(), t0);
        // A different result replaces it.
        again.result = serde_json::json!({"changed": 1});
        assert!(add(&s, Place::Tree, &again)[0].changed);
    }

    #[test]
    fn a_hand_edited_line_is_invalid_not_a_hit() {
        let dir = tempfile::tempdir().unwrap();
        let s = store(dir.path());
        let e = sample();
        add(&s, Place::Tree, &e);
        let p = s.path_of(&Location::each(&ShardId::of(&e.key()))[0]);
        let text = std::fs::read_to_string(&p).unwrap().replace(
            "\"tool_version\"",
            "\"tool_version\":\"x\",\"model\":\"grok-4\",\"zz\"",
        );
        std::fs::write(&p, text).unwrap();
        assert!(
            matches!(s.lookup(&e.key()), Lookup::Invalid { .. }),
            "{:?}",
            s.lookup(&e.key())
        );
    }
}
