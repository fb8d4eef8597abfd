//! A direct reader of git's index file (`.git/index`, versions 2 to 4, SHA-1 and SHA-256), for
//! the hot path. libgit2 builds a full in-memory index with lookup maps, which costs ~25 ms for
//! 30,000 entries; reading the fields we need straight from the file costs ~3 ms. Anything
//! unusual (a split index, an unknown version, a malformed file) returns `None` and the caller
//! falls back to libgit2, so correctness never depends on this parser.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// Git's index file at `path`: its bytes and mtime, from one open file (git replaces its index by
/// a rename, so the two belong together, and never rewrites it in place, so it can be mapped).
/// No bytes when there is no index yet; `None` when it cannot be read.
pub(crate) fn read(path: &Path) -> Option<(IndexBytes, (i64, i64))> {
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Some((IndexBytes::Read(Vec::new()), (0, 0)));
        }
        Err(_) => return None,
    };
    let meta = file.metadata().ok()?;
    let bytes = match crate::util::fs::Mapped::new(&file) {
        Ok(m) => IndexBytes::Mapped(m),
        // A file system that cannot map: read it.
        Err(_) => {
            use std::io::Read as _;
            let mut data = Vec::with_capacity(meta.len() as usize);
            (&file).read_to_end(&mut data).ok()?;
            IndexBytes::Read(data)
        }
    };
    Some((bytes, (meta.mtime(), meta.mtime_nsec())))
}

/// The bytes of git's index, mapped or read.
pub(crate) enum IndexBytes {
    Mapped(crate::util::fs::Mapped),
    Read(Vec<u8>),
}

impl std::ops::Deref for IndexBytes {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match self {
            IndexBytes::Mapped(m) => m,
            IndexBytes::Read(v) => v,
        }
    }
}

/// The number of entries the index file's header announces (0 when there is no header). It
/// comes from a file: callers bound what they reserve for it.
pub fn entry_count(data: &[u8]) -> usize {
    be32(data, 8).map_or(0, |n| n as usize)
}

/// One index entry with the stat data git recorded, borrowing from the file's bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct RawEntry<'a> {
    /// Path, `/`-separated, as bytes.
    pub path: &'a [u8],
    /// Object id.
    pub oid: &'a [u8],
    /// File mode.
    pub mode: u32,
    /// Size (truncated to 32 bits).
    pub size: u32,
    /// mtime seconds and nanoseconds.
    pub mtime: (u32, u32),
    /// ctime seconds.
    pub ctime: u32,
    /// Inode (truncated to 32 bits).
    pub ino: u32,
    /// Merge stage.
    pub stage: u16,
    /// Whether git was told not to check this file's stat data (assume-unchanged or
    /// skip-worktree): its recorded stat says nothing about the file.
    pub stat_ignored: bool,
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    b.get(at..at + 4)
        .map(|s| u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    b.get(at..at + 2).map(|s| u16::from_be_bytes([s[0], s[1]]))
}

/// Parse `data` (the whole index file) with object ids of `oid_len` bytes (20 or 32), calling
/// `each` for every entry. Returns `None` (having possibly called `each` already: callers
/// discard what they collected) when the file is not something this reader handles.
pub fn parse(data: &[u8], oid_len: usize, mut each: impl FnMut(RawEntry<'_>)) -> Option<()> {
    if data.get(0..4)? != b"DIRC" {
        return None;
    }
    let version = be32(data, 4)?;
    if !(2..=4).contains(&version) {
        return None;
    }
    let count = be32(data, 8)? as usize;
    let mut pos = 12;
    let mut prev: Vec<u8> = Vec::new();
    let fixed = 40 + oid_len + 2;
    for _ in 0..count {
        let start = pos;
        let ctime = be32(data, pos)?;
        let mtime = (be32(data, pos + 8)?, be32(data, pos + 12)?);
        let ino = be32(data, pos + 20)?;
        let mode = be32(data, pos + 24)?;
        let size = be32(data, pos + 36)?;
        let oid = data.get(pos + 40..pos + 40 + oid_len)?;
        let flags = be16(data, pos + 40 + oid_len)?;
        pos += fixed;
        let mut skip_worktree = false;
        if flags & 0x4000 != 0 {
            if version < 3 {
                return None;
            }
            skip_worktree = be16(data, pos)? & 0x4000 != 0;
            pos += 2;
        }
        let stage = (flags >> 12) & 0x3;
        let path: &[u8] = if version == 4 {
            // Prefix compression: a varint of bytes to drop from the previous path, then the
            // NUL-terminated rest.
            let mut strip: usize = 0;
            loop {
                let b = *data.get(pos)?;
                pos += 1;
                strip = (strip << 7) | (b & 0x7f) as usize;
                if b & 0x80 == 0 {
                    break;
                }
                strip += 1;
            }
            let end = pos + data.get(pos..)?.iter().position(|&b| b == 0)?;
            let keep = prev.len().checked_sub(strip)?;
            prev.truncate(keep);
            prev.extend_from_slice(&data[pos..end]);
            pos = end + 1;
            &prev
        } else {
            let end = pos + data.get(pos..)?.iter().position(|&b| b == 0)?;
            let path = &data[pos..end];
            // Entries are padded with 1 to 8 NULs to a multiple of 8 bytes.
            pos = start + (end - start + 8) / 8 * 8;
            path
        };
        each(RawEntry {
            path,
            oid,
            mode,
            size,
            mtime,
            ctime,
            ino,
            stage,
            stat_ignored: flags & 0x8000 != 0 || skip_worktree,
        });
    }
    // A split index keeps most entries in a shared file: leave that to libgit2.
    let mut ext = pos;
    while ext + 8 <= data.len().saturating_sub(oid_len) {
        let sig = &data[ext..ext + 4];
        let len = be32(data, ext + 4)? as usize;
        if sig == b"link" {
            return None;
        }
        ext += 8 + len;
    }
    Some(())
}
