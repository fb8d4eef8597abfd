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
}

impl Store {
    /// A store rooted at `root` (the `.rustassistant` folder) writing with `compression`.
    pub fn new(root: PathBuf, compression: Compression) -> Store {
        Store {
            root,
            compression,
            signatures: None,
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
            if let Ok(m) = std::fs::metadata(&path) {
                if m.is_file() {
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
        match read_entry_file(&path, Some(key), Some(size)) {
            Ok(entry) => match self
                .signatures
                .as_ref()
                .and_then(|k| super::signature_problem(&entry, k.as_deref()))
            {
                Some(problem) => Lookup::Invalid {
                    path,
                    error: EntryError::Signature(problem),
                },
                None => Lookup::Hit {
                    entry: Box::new(entry),
                    path,
                },
            },
            Err(error) => Lookup::Invalid { path, error },
        }
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
        if let Ok(existing) = std::fs::read(&path) {
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
