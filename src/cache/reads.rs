//! Reads that need less than a shard's winners: one line the index located, and every entry
//! of one blob under any variant (what `show` falls back on).

use super::entry::Entry;
use super::key::{valid_type_name, Key};
use super::shard::{self, memmem, ShardId};
use super::store::{Location, Place, Store};

impl Store {
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
        use std::io::{Read as _, Seek as _};
        if at.place == Place::Tree && !self.is_real() {
            return None;
        }
        let path = self.path_of(at);
        if !std::fs::symlink_metadata(&path).ok()?.is_file()
            || range.len() as u64 > super::entry::MAX_ENTRY_FILE_BYTES
        {
            return None;
        }
        let mut f = std::fs::File::open(&path).ok()?;
        f.seek(std::io::SeekFrom::Start(range.start as u64)).ok()?;
        let mut line = vec![0; range.len()];
        f.read_exact(&mut line).ok()?;
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
