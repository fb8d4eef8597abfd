//! The entry files under `.rustassistant/cache/`: lookup, atomic write, removal.
//!
//! Contract: [`Store::lookup`] returns a hit only for an entry that decodes within bounds and
//! whose fields derive the key it is stored under; anything else is a miss or an invalid entry,
//! never an error that stops the caller. [`Store::write`] never leaves a half-written entry and
//! does not touch a file whose bytes would not change.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use super::entry::{Entry, EntryError, MAX_ENTRY_FILE_BYTES};
use super::key::Key;
use crate::config::Compression;
use crate::util::{write_atomic, TEMP_PREFIX};

/// Temporary files older than this are leftovers of a crashed writer, not a writer at work: no
/// single entry write takes anywhere near this long.
const STALE_TEMP_AGE: Duration = Duration::from_secs(3600);

/// Result of looking a key up.
#[derive(Debug)]
pub enum Lookup {
    /// A valid entry.
    Hit {
        /// The decoded entry.
        entry: Box<Entry>,
        /// Its file.
        path: PathBuf,
    },
    /// No entry file for the key.
    Miss,
    /// An entry file exists but cannot be trusted; callers report it and treat it as a miss.
    Invalid {
        /// The file.
        path: PathBuf,
        /// Why.
        error: EntryError,
    },
}

/// An entry file found on disk.
#[derive(Debug, Clone)]
pub struct Probe {
    /// Its path.
    pub path: PathBuf,
    /// Its path relative to `.rustassistant/`.
    pub rel: String,
    /// Size in bytes.
    pub size: u64,
    /// Modification time in nanoseconds.
    pub mtime_ns: i64,
}

/// The folder of entries (`<work tree>/.rustassistant`).
#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
    compression: Compression,
    /// `[cache] require_signature`: `Some(key)` (the key may be absent) when on.
    signatures: Option<Option<Vec<u8>>>,
    /// Whether `.rustassistant` and `cache` are real folders, or why not (checked once).
    real: std::sync::OnceLock<Result<(), String>>,
    /// Shard folders already checked by a write or delete of this process: a run writes
    /// thousands of entries into a few hundred folders, so each folder is lstat'ed once.
    checked_dirs: std::sync::Arc<std::sync::Mutex<std::collections::HashSet<PathBuf>>>,
}

impl Store {
    /// A store rooted at `root` (the `.rustassistant` folder) writing with `compression`.
    pub fn new(root: PathBuf, compression: Compression) -> Store {
        Store {
            root,
            compression,
            signatures: None,
            real: std::sync::OnceLock::new(),
            checked_dirs: Default::default(),
        }
    }

    /// Require every entry to carry a valid signature under `key` (`[cache] require_signature`).
    pub fn require_signatures(mut self, key: Option<Vec<u8>>) -> Store {
        self.signatures = Some(key);
        self
    }

    /// Whether signatures are required (lookups then always read and check the file).
    pub fn requires_signatures(&self) -> bool {
        self.signatures.is_some()
    }

    /// The `.rustassistant` folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The `cache` folder.
    pub fn cache_dir(&self) -> PathBuf {
        self.root.join("cache")
    }

    /// Encoding of new writes.
    pub fn compression(&self) -> Compression {
        self.compression
    }

    /// The file for `key` in the given encoding.
    pub fn path_for(&self, key: &Key, zstd: bool) -> PathBuf {
        self.root.join(key.rel(zstd))
    }

    /// The existing file for `key`, if any, trying the configured encoding first: one stat per
    /// encoding, nothing read.
    pub fn probe(&self, key: &Key) -> Option<Probe> {
        if !self.is_real() {
            return None;
        }
        let prefer_zst = self.compression == Compression::Zstd;
        let mut rel = key.rel(prefer_zst);
        // Sized once, with room for the other encoding's `.zst`: this runs for every key.
        let full = |rel: &str| {
            let root = self.root.as_os_str();
            let mut p = std::ffi::OsString::with_capacity(root.len() + rel.len() + 5);
            p.push(root);
            p.push("/");
            p.push(rel);
            p
        };
        let mut path = full(&rel);
        for zst in [prefer_zst, !prefer_zst] {
            if zst != prefer_zst {
                // The other encoding: add or drop the `.zst` suffix.
                if zst {
                    rel.push_str(".zst");
                    path.push(".zst");
                } else {
                    rel.truncate(rel.len() - 4);
                    path = full(&rel);
                }
            }
            // lstat: an entry that is a symlink is not an entry; one this process cannot read
            // is not a hit (it would be one in `analyze` and none in `show`).
            if let Ok(m) = std::fs::symlink_metadata(&path) {
                if m.is_file() && likely_readable(&m) {
                    return Some(Probe {
                        path: PathBuf::from(path),
                        rel,
                        size: m.len(),
                        mtime_ns: crate::util::fs::mtime_ns(&m),
                    });
                }
            }
        }
        None
    }

    /// Look `key` up, reading and checking the entry.
    pub fn lookup(&self, key: &Key) -> Lookup {
        let Some(Probe { path, size, .. }) = self.probe(key) else {
            return Lookup::Miss;
        };
        match self.read_trusted(&path, key, Some(size)) {
            Ok(entry) => Lookup::Hit {
                entry: Box::new(entry),
                path,
            },
            Err(error) => Lookup::Invalid { path, error },
        }
    }

    /// Read the entry file at `path` for `key` and apply every trust check a hit needs (bounds,
    /// key derivation, and the signature policy): the one read path `analyze`, `show` and every
    /// other reader share.
    pub fn read_trusted(
        &self,
        path: &Path,
        key: &Key,
        len: Option<u64>,
    ) -> Result<Entry, EntryError> {
        let entry = read_entry_file(path, Some(key), len)?;
        match self
            .signatures
            .as_ref()
            .and_then(|k| super::signature_problem(&entry, k.as_deref()))
        {
            Some(problem) => Err(EntryError::Signature(problem)),
            None => Ok(entry),
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

    fn is_real(&self) -> bool {
        self.ensure_real().is_ok()
    }

    /// [`Store::check_dir`] for the folder of an entry being written or deleted, once per
    /// folder and process.
    fn check_entry_dir(&self, dir: &Path) -> std::io::Result<()> {
        let mut done = self.checked_dirs.lock().unwrap_or_else(|p| p.into_inner());
        if !done.contains(dir) {
            self.check_dir(dir)?;
            done.insert(dir.to_path_buf());
        }
        Ok(())
    }

    /// Refuse to write into or delete from `dir` unless every folder from the work tree down to
    /// it is a real folder: a committed `.rustassistant/cache` that is a symlink must not make
    /// this tool write or delete outside the repository.
    pub fn check_dir(&self, dir: &Path) -> std::io::Result<()> {
        crate::util::fs::check_real_dirs(self.work_tree(), dir)
    }

    /// Write `entry` atomically in the configured encoding and return its path. An existing
    /// file with identical bytes is left alone (no new mtime, nothing for git to notice).
    pub fn write(&self, entry: &Entry) -> std::io::Result<PathBuf> {
        self.write_sized(entry).map(|(p, _)| p)
    }

    /// [`Store::write`], also returning the length of the entry's JSON.
    pub fn write_sized(&self, entry: &Entry) -> std::io::Result<(PathBuf, u64)> {
        let zst = self.compression == Compression::Zstd;
        let path = self.path_for(&entry.key(), zst);
        let (bytes, json_len) = entry.to_bytes_sized(zst);
        if bytes.len() as u64 > super::entry::MAX_ENTRY_FILE_BYTES {
            // Never write what no reader would accept.
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!(
                    "the entry would be {} bytes, over the {}-byte bound readers accept; not written",
                    bytes.len(),
                    super::entry::MAX_ENTRY_FILE_BYTES
                ),
            ));
        }
        if let Some(dir) = path.parent() {
            self.check_entry_dir(dir)?;
        }
        if let Ok(existing) = read_bounded(&path, bytes.len() as u64) {
            if existing == bytes {
                return Ok((path, json_len));
            }
        }
        write_atomic(&path, &bytes)?;
        // An untrusted entry for the same key in the other encoding (a forged .json.zst beside
        // this .json, say) would otherwise linger and be reported forever: it is replaced now.
        let other = self.path_for(&entry.key(), !zst);
        if other.is_file() && read_entry_file(&other, Some(&entry.key()), None).is_err() {
            let _ = std::fs::remove_file(&other);
        }
        Ok((path, json_len))
    }

    /// Remove an entry file and any folder it leaves empty (up to `cache/<type>`).
    pub fn remove(&self, path: &Path) -> std::io::Result<()> {
        if let Some(dir) = path.parent() {
            self.check_entry_dir(dir)?;
        }
        match std::fs::remove_file(path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        if let Some(dir) = path.parent() {
            // Fails harmlessly when the folder still holds entries.
            let _ = std::fs::remove_dir(dir);
        }
        Ok(())
    }

    /// Every entry file under `cache/`, with its key and encoding, plus the files that sit
    /// there but are not entry names (reported by `cache verify`). Stale temporary files are
    /// removed on the way.
    pub fn walk(&self) -> (Vec<(PathBuf, Key, bool)>, Vec<PathBuf>) {
        let cache = self.cache_dir();
        let mut entries = Vec::new();
        let mut strays = Vec::new();
        if !self.is_real() {
            // A symlinked cache folder is walked by nobody (nor are its temp files cleaned).
            strays.push(cache);
            return (entries, strays);
        }
        for item in walkdir::WalkDir::new(&cache)
            .min_depth(1)
            .follow_links(false)
            .sort_by_file_name()
        {
            let Ok(item) = item else { continue };
            if !item.file_type().is_file() {
                continue;
            }
            let name = item.file_name().to_string_lossy();
            if name.starts_with(TEMP_PREFIX) {
                remove_if_stale(item.path());
                continue;
            }
            if name == ".gitkeep" {
                continue;
            }
            let rel = item.path().strip_prefix(&cache).unwrap_or(item.path());
            match Key::from_relative(rel) {
                Some((k, zst)) => entries.push((item.path().to_path_buf(), k, zst)),
                None => strays.push(item.path().to_path_buf()),
            }
        }
        (entries, strays)
    }
}

/// Whether this process can probably read a file with `meta`, by its mode bits for our
/// effective user and group (root reads everything). [`Store::probe`] treats a `false` as no
/// entry, so the content is analysed again and the entry rewritten readable. Supplementary
/// groups are not consulted: a file readable only through one counts as unreadable (a wasted
/// analysis at worst, never a hit that `show` could not read).
pub fn likely_readable(meta: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    // Asked once per process: this runs for every key looked up.
    static IDS: std::sync::OnceLock<(u32, u32)> = std::sync::OnceLock::new();
    // SAFETY: geteuid and getegid cannot fail and touch no memory.
    let &(uid, gid) = IDS.get_or_init(|| unsafe { (libc::geteuid(), libc::getegid()) });
    let mode = meta.mode();
    if uid == 0 {
        return true;
    }
    if meta.uid() == uid {
        mode & 0o400 != 0
    } else if meta.gid() == gid {
        mode & 0o040 != 0
    } else {
        mode & 0o004 != 0
    }
}

/// Remove a temporary file a crashed writer left behind, once it is old enough that no live
/// writer can own it.
pub fn remove_if_stale(path: &Path) {
    let old = std::fs::metadata(path)
        .and_then(|m| m.modified())
        .map(|t| SystemTime::now().duration_since(t).unwrap_or_default() > STALE_TEMP_AGE)
        .unwrap_or(false);
    if old {
        let _ = std::fs::remove_file(path);
    }
}

/// Read and check one entry file. `len` is its size when the caller already has it: a file
/// over the bound is refused before reading.
pub fn read_entry_file(
    path: &Path,
    expected: Option<&Key>,
    len: Option<u64>,
) -> Result<Entry, EntryError> {
    let len = match len {
        Some(l) => l,
        None => std::fs::metadata(path)
            .map_err(|e| EntryError::Malformed(format!("cannot read: {e}")))?
            .len(),
    };
    Entry::decode(&read_bounded(path, len)?, expected)
}

/// The bytes of the entry file at `path`, whose stat said `len` bytes: refused past the bound
/// before reading, and never read past it (the file may have grown since).
pub fn read_bounded(path: &Path, len: u64) -> Result<Vec<u8>, EntryError> {
    use std::io::Read as _;
    let too_large = |size| EntryError::TooLarge {
        size,
        limit: MAX_ENTRY_FILE_BYTES,
    };
    if len > MAX_ENTRY_FILE_BYTES {
        return Err(too_large(len));
    }
    let cannot = |e: std::io::Error| EntryError::Malformed(format!("cannot read: {e}"));
    let mut bytes = Vec::with_capacity(len as usize);
    std::fs::File::open(path)
        .map_err(cannot)?
        .take(MAX_ENTRY_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(cannot)?;
    if bytes.len() as u64 > MAX_ENTRY_FILE_BYTES {
        return Err(too_large(bytes.len() as u64));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::entry::tests::sample;

    #[test]
    fn write_then_lookup_in_both_encodings() {
        let dir = tempfile::tempdir().unwrap();
        for comp in [Compression::None, Compression::Zstd] {
            let store = Store::new(dir.path().join(format!("{comp:?}")), comp);
            let e = sample();
            let p = store.write(&e).unwrap();
            assert_eq!(
                p.extension().unwrap(),
                if comp == Compression::Zstd {
                    "zst"
                } else {
                    "json"
                }
            );
            match store.lookup(&e.key()) {
                Lookup::Hit { entry, path } => {
                    assert_eq!(*entry, e);
                    assert_eq!(path, p);
                }
                other => panic!("{other:?}"),
            }
            let (found, strays) = store.walk();
            assert_eq!(found.len(), 1);
            assert!(strays.is_empty());
        }
    }

    #[test]
    fn rewriting_identical_bytes_keeps_the_mtime() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path().to_path_buf(), Compression::None);
        let p = store.write(&sample()).unwrap();
        let t0 = std::fs::metadata(&p).unwrap().modified().unwrap();
        std::thread::sleep(Duration::from_millis(20));
        store.write(&sample()).unwrap();
        assert_eq!(std::fs::metadata(&p).unwrap().modified().unwrap(), t0);
    }

    #[test]
    fn a_hand_edited_entry_is_invalid_not_a_hit() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path().to_path_buf(), Compression::None);
        let e = sample();
        let p = store.write(&e).unwrap();
        let text = std::fs::read_to_string(&p)
            .unwrap()
            .replace("grok-4-fast", "grok-4");
        std::fs::write(&p, text).unwrap();
        assert!(matches!(
            store.lookup(&e.key()),
            Lookup::Invalid {
                error: EntryError::Mislabelled(_),
                ..
            }
        ));
        std::fs::write(&p, "{truncated").unwrap();
        assert!(matches!(
            store.lookup(&e.key()),
            Lookup::Invalid {
                error: EntryError::Malformed(_),
                ..
            }
        ));
    }
}
