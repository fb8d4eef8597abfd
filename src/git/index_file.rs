//! A direct reader of git's index file (`.git/index`, versions 2 to 4, SHA-1 and SHA-256), for
//! the hot path. libgit2 builds a full in-memory index with lookup maps, which costs ~25 ms for
//! 30,000 entries; reading the fields we need straight from the file costs ~3 ms. Anything
//! unusual (a split index, an unknown version, a malformed file) returns `None` and the caller
//! falls back to libgit2, so correctness never depends on this parser.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// Git's index file at `path`: its bytes and mtime, from one open file (git replaces its index by
/// a rename, so the two belong together).
/// No bytes when there is no index yet; `None` when it cannot be read.
pub(crate) fn read(path: &Path) -> Option<(IndexBytes, (i64, i64))> {
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Some((Vec::new(), (0, 0)));
        }
        Err(_) => return None,
    };
    let meta = file.metadata().ok()?;
    use std::io::Read as _;
    let mut data = Vec::with_capacity(meta.len() as usize);
    (&file).read_to_end(&mut data).ok()?;
    Some((data, (meta.mtime(), meta.mtime_nsec())))
}

/// The bytes of git's index.
pub(crate) type IndexBytes = Vec<u8>;

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
pub fn parse(data: &[u8], oid_len: usize, each: impl FnMut(RawEntry<'_>)) -> Option<()> {
    match oid_len {
        20 => parse_with::<20>(data, each),
        32 => parse_with::<32>(data, each),
        _ => None,
    }
}

/// [`parse`] for ids of `OID` bytes: every offset in an entry's fixed part is then a constant,
/// so one bounds check covers the whole part (this loop runs for every entry of the index on
/// the main thread, before anything can be identified).
fn parse_with<const OID: usize>(data: &[u8], mut each: impl FnMut(RawEntry<'_>)) -> Option<()> {
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
    for _ in 0..count {
        let start = pos;
        let fixed = data.get(pos..pos + 42 + OID)?;
        let word = |at: usize| {
            u32::from_be_bytes([fixed[at], fixed[at + 1], fixed[at + 2], fixed[at + 3]])
        };
        let ctime = word(0);
        let mtime = (word(8), word(12));
        let ino = word(20);
        let mode = word(24);
        let size = word(36);
        let oid = &fixed[40..40 + OID];
        let flags = u16::from_be_bytes([fixed[40 + OID], fixed[41 + OID]]);
        pos += 42 + OID;
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
                // Checked: a run of continuation bytes in a corrupt file must not wrap the
                // count (or, with overflow checks on, panic), only end the read.
                strip = strip.checked_mul(128)?.checked_add((b & 0x7f) as usize)?;
                if b & 0x80 == 0 {
                    break;
                }
                strip = strip.checked_add(1)?;
            }
            let end = pos + data.get(pos..)?.iter().position(|&b| b == 0)?;
            let keep = prev.len().checked_sub(strip)?;
            prev.truncate(keep);
            prev.extend_from_slice(&data[pos..end]);
            pos = end + 1;
            &prev
        } else {
            // The flags give the name's length below 0xfff, as git reads it (the NUL after
            // the name is checked); a longer name is found by its NUL.
            let named = (flags & 0x0fff) as usize;
            let end = if named < 0x0fff && data.get(pos + named) == Some(&0) {
                pos + named
            } else {
                pos + data.get(pos..)?.iter().position(|&b| b == 0)?
            };
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
    while ext + 8 <= data.len().saturating_sub(OID) {
        let sig = &data[ext..ext + 4];
        let len = be32(data, ext + 4)? as usize;
        if sig == b"link" {
            return None;
        }
        ext += 8 + len;
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A version-2 index of SHA-1 entries with these paths (stat data zero but the size).
    fn index_of(paths: &[&[u8]]) -> Vec<u8> {
        let mut d = b"DIRC".to_vec();
        d.extend_from_slice(&2u32.to_be_bytes());
        d.extend_from_slice(&(paths.len() as u32).to_be_bytes());
        for (i, p) in paths.iter().enumerate() {
            let start = d.len();
            d.extend_from_slice(&[0; 24]);
            d.extend_from_slice(&0o100644u32.to_be_bytes());
            d.extend_from_slice(&[0; 8]);
            d.extend_from_slice(&(i as u32).to_be_bytes());
            d.extend_from_slice(&[i as u8; 20]);
            d.extend_from_slice(&(p.len().min(0xfff) as u16).to_be_bytes());
            d.extend_from_slice(p);
            d.push(0);
            while !(d.len() - start).is_multiple_of(8) {
                d.push(0);
            }
        }
        d.extend_from_slice(&[0; 20]);
        d
    }

    #[test]
    fn names_come_from_the_flags_below_0xfff_and_from_their_nul_above() {
        let long = vec![b'a'; 5000];
        let edge = vec![b'b'; 0xfff];
        let paths: [&[u8]; 4] = [b"x.rs", &long, b"src/y.rs", &edge];
        let mut got = Vec::new();
        parse(&index_of(&paths), 20, |e| {
            got.push((e.path.to_vec(), e.size, e.oid[0]))
        })
        .unwrap();
        let want: Vec<_> = paths
            .iter()
            .enumerate()
            .map(|(i, p)| (p.to_vec(), i as u32, i as u8))
            .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn a_cut_file_or_a_wrong_id_length_is_not_read() {
        let data = index_of(&[b"x.rs", b"y.rs"]);
        for cut in [3, 12, 40, 70, 80] {
            assert!(parse(&data[..cut], 20, |_| {}).is_none(), "cut at {cut}");
        }
        assert!(parse(&data, 21, |_| {}).is_none());
    }

    #[test]
    fn a_runaway_prefix_length_in_a_version_4_index_ends_the_read() {
        // Found by the index_parse fuzz target: the varint wrapped (a panic with overflow
        // checks on).
        let mut d = b"DIRC".to_vec();
        d.extend_from_slice(&4u32.to_be_bytes());
        d.extend_from_slice(&1u32.to_be_bytes());
        d.extend_from_slice(&[0; 62]);
        // Each 0xfe makes the count 2^(7k) - 1; the tenth leaves it at usize::MAX, and the
        // next continuation byte would add one more.
        d.extend_from_slice(&[0xfe; 10]);
        d.extend_from_slice(&[0xff, 0x00]);
        d.extend_from_slice(b"x\0");
        assert!(parse(&d, 20, |_| {}).is_none());
    }
}
