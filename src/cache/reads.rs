//! Reading shards: whole, one line the index located, and every entry of one blob under any
//! variant (what `show` falls back on).

use std::fs::{File, Metadata};
use std::path::Path;

use super::entry::{Entry, EntryError};
use super::key::{valid_type_name, Key};
use super::shard::{self, memmem, ShardId, MAX_SHARD_BYTES};
use super::store::{Location, Place, Store};

/// The shard file at `path`, opened for reading, and what it is; `None` when there is none. A
/// symlink, folder, FIFO or anything else that is not a regular file in its place is refused,
/// never followed or waited on.
///
/// One path walk: the file is opened without following a symlink (`O_NOFOLLOW`, ELOOP) or
/// waiting for a FIFO's writer (`O_NONBLOCK`), then checked by what was opened. (`lstat`
/// then `open` walked the path twice; the pre-commit hook reads a few hundred shards.)
fn open_shard(path: &Path) -> Result<Option<(File, Metadata)>, EntryError> {
    let file = match crate::sys::open_read_no_follow(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) if crate::sys::is_symlink_refusal(&e) => {
            return Err(EntryError::NotRegular("is a symbolic link"))
        }
        Err(e) => return Err(EntryError::Unreadable(e.to_string())),
    };
    let meta = file
        .metadata()
        .map_err(|e| EntryError::Unreadable(e.to_string()))?;
    if !meta.is_file() {
        return Err(EntryError::NotRegular(crate::util::fs::describe(
            &meta.file_type(),
        )));
    }
    Ok(Some((file, meta)))
}

impl Store {
    /// The bytes of a shard, `None` when there is none. A symlink, a folder or an oversized
    /// file in its place is an error (reported, never followed or read whole).
    pub fn read_shard(&self, at: &Location) -> Result<Option<Vec<u8>>, EntryError> {
        use std::io::Read as _;
        if at.place == Place::Tree && !self.is_real() {
            return Ok(None);
        }
        if !self.folder_is_real(at) {
            return Err(EntryError::NotRegular(
                "lies behind a symbolic link (its type folder is one)",
            ));
        }
        let Some((file, meta)) = open_shard(&self.path_of(at))? else {
            return Ok(None);
        };
        let too_large = |size| EntryError::TooLarge {
            size,
            limit: MAX_SHARD_BYTES,
        };
        if meta.len() > MAX_SHARD_BYTES {
            return Err(too_large(meta.len()));
        }
        let mut bytes = Vec::with_capacity(meta.len() as usize);
        file.take(MAX_SHARD_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| EntryError::Unreadable(e.to_string()))?;
        if bytes.len() as u64 > MAX_SHARD_BYTES {
            return Err(too_large(bytes.len() as u64));
        }
        Ok(Some(bytes))
    }

    /// The entry for `key` from the bytes `range` of a shard, when they still are the line
    /// whose hash the index recorded (a shard rewritten since reads differently) and that line
    /// passes every check a hit needs.
    pub fn read_line(
        &self,
        at: &Location,
        range: std::ops::Range<usize>,
        hash: u64,
        key: &Key,
    ) -> Option<Entry> {
        use std::os::unix::fs::FileExt as _;
        if at.place == Place::Tree && !self.is_real()
            || range.len() as u64 > super::entry::MAX_ENTRY_FILE_BYTES
            || !self.folder_is_real(at)
        {
            return None;
        }
        let (f, _) = open_shard(&self.path_of(at)).ok()??;
        let mut line = vec![0; range.len()];
        f.read_exact_at(&mut line, range.start as u64).ok()?;
        if shard::line_hash(&line) != hash {
            return None;
        }
        let e = shard::decode_line(&line, &at.shard).ok()?;
        (e.key() == *key && self.untrusted(&e).is_none() && !self.expired(&e.created_at))
            .then_some(e)
    }

    /// Every trusted, unexpired entry of `cache_type` for `blob`, under any variant, from the
    /// shard and the overlay (what `show` falls back on when the current prompt has none).
    pub fn trusted_for_blob(&self, cache_type: &str, blob: &str) -> Vec<Entry> {
        if !valid_type_name(cache_type) || blob.len() < 2 || !crate::util::is_lower_hex(blob) {
            return Vec::new();
        }
        let shard = ShardId {
            cache_type: cache_type.to_string(),
            prefix: blob[..2].to_string(),
        };
        let needle = format!("\"blob\":\"{blob}\"");
        let mut out = Vec::new();
        for at in Location::each(&shard) {
            let Ok(Some(bytes)) = self.read_shard(&at) else {
                continue;
            };
            let parsed = shard::parse_only(&bytes, &shard, |l| memmem(l, needle.as_bytes()));
            out.extend(
                parsed
                    .entries
                    .into_iter()
                    .map(|d| d.entry)
                    .filter(|e| e.blob == blob)
                    .filter(|e| self.untrusted(e).is_none() && !self.expired(&e.created_at)),
            );
        }
        out
    }
}

/// The bytes of the file at `path`, whose stat said `len` bytes: refused past `limit` before
/// reading, and never read past it (the file may have grown since).
pub fn read_bounded(path: &Path, len: u64, limit: u64) -> Result<Vec<u8>, EntryError> {
    use std::io::Read as _;
    let too_large = |size| EntryError::TooLarge { size, limit };
    if len > limit {
        return Err(too_large(len));
    }
    let cannot = |e: std::io::Error| EntryError::Unreadable(e.to_string());
    let mut bytes = Vec::with_capacity(len as usize);
    std::fs::File::open(path)
        .map_err(cannot)?
        .take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(cannot)?;
    if bytes.len() as u64 > limit {
        return Err(too_large(bytes.len() as u64));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_regular_file_is_read_as_a_shard() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path().join(".rustassistant"), dir.path().join("state"));
        let at = |prefix: &str| Location {
            place: Place::Overlay,
            shard: ShardId {
                cache_type: "todos".into(),
                prefix: prefix.into(),
            },
        };
        let folder = store.path_of(&at("00")).parent().unwrap().to_path_buf();
        std::fs::create_dir_all(&folder).unwrap();
        std::fs::write(folder.join("aa.jsonl"), "a line\n").unwrap();
        std::fs::write(dir.path().join("outside"), "secret\n").unwrap();
        std::os::unix::fs::symlink(dir.path().join("outside"), folder.join("bb.jsonl")).unwrap();
        std::fs::create_dir(folder.join("cc.jsonl")).unwrap();
        assert!(std::process::Command::new("mkfifo")
            .arg(folder.join("dd.jsonl"))
            .status()
            .unwrap()
            .success());
        let big = std::fs::File::create(folder.join("ee.jsonl")).unwrap();
        big.set_len(MAX_SHARD_BYTES + 1).unwrap();

        assert_eq!(
            store.read_shard(&at("aa")).unwrap(),
            Some(b"a line\n".to_vec())
        );
        assert_eq!(store.read_shard(&at("ff")).unwrap(), None);
        for refused in ["bb", "cc", "dd"] {
            let e = store.read_shard(&at(refused)).unwrap_err();
            assert!(matches!(e, EntryError::NotRegular(_)), "{refused}: {e:?}");
        }
        let e = store.read_shard(&at("ee")).unwrap_err();
        assert!(matches!(e, EntryError::TooLarge { .. }), "{e:?}");
    }
}
