//! The shard format: `cache/<type>/<b0b1>.jsonl`, one entry per line.
//!
//! A line is the entry as compact JSON with its keys in sorted order plus its `variant`, ended
//! by `\n`; a shard's lines are sorted by key with at most one line per key, so the same
//! entries always give the same bytes ([`render`]). Readers accept what a union merge leaves
//! ([`parse`]): unsorted lines, and two lines for one key, of which the earliest `created_at`
//! wins, then the smaller bytes — both sides of any merge pick the same one. A line that does
//! not parse, or does not derive its own key, or belongs in another shard, is set aside as
//! invalid; the next write drops it.

use std::ops::Range;

use serde_json::Value;

use super::entry::{Entry, EntryError, MAX_ENTRY_FILE_BYTES};
use super::key::{valid_type_name, Key};
use crate::util::is_lower_hex;

/// Largest shard read. 256 shards a type keep real shards well under a megabyte even with
/// 100,000 `docs` results; this bound only stops a planted multi-gigabyte file.
pub const MAX_SHARD_BYTES: u64 = 256 << 20;

/// File name suffix of a shard.
pub const SUFFIX: &str = ".jsonl";

/// A shard: its type and two hex digits, the first of the blobs of its file entries.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ShardId {
    /// Analysis type.
    pub cache_type: String,
    /// Two lower-case hex digits.
    pub prefix: String,
}

impl ShardId {
    /// The shard of `key`.
    pub fn of(key: &Key) -> ShardId {
        ShardId {
            cache_type: key.cache_type.clone(),
            prefix: key.blob[..2].to_string(),
        }
    }

    /// Whether `key`'s line may live in this shard: one of its type's, named by the first two
    /// hex digits of its blob. An item entry lives in any shard of its type: those of one
    /// request are written together, in the shard named by the analysed file's blob (a
    /// commit then adds one shard version, not one per item: DESIGN.md's git cost), and
    /// readers find them by their ids ([`super::Store::locations_of`]).
    pub fn holds(&self, key: &Key) -> bool {
        key.cache_type == self.cache_type
            && (super::key::is_items_type(&key.cache_type) || key.blob[..2] == self.prefix)
    }

    /// `<type>/<b0b1>.jsonl`: the path below `cache/` (or the overlay folder).
    pub fn rel(&self) -> String {
        let mut rel = String::with_capacity(self.rel_len());
        self.push_rel(&mut rel);
        rel
    }

    /// [`ShardId::rel`] appended to `out`: pushed rather than `format!`ed (a lookup names a
    /// thousand shards), and into a string of the caller's, which may hold a prefix already.
    pub fn push_rel(&self, out: &mut String) {
        out.push_str(&self.cache_type);
        out.push('/');
        out.push_str(&self.prefix);
        out.push_str(SUFFIX);
    }

    /// The length of [`ShardId::rel`].
    pub fn rel_len(&self) -> usize {
        self.cache_type.len() + 1 + self.prefix.len() + SUFFIX.len()
    }

    /// Parse `<type>/<b0b1>.jsonl` (or `<type>/items/<i0i1>.jsonl`) back; `None` for
    /// anything else.
    pub fn from_rel(rel: &str) -> Option<ShardId> {
        let (ty, file) = rel.rsplit_once('/')?;
        let prefix = file.strip_suffix(SUFFIX)?;
        (valid_type_name(ty) && prefix.len() == 2 && is_lower_hex(prefix)).then(|| ShardId {
            cache_type: ty.to_string(),
            prefix: prefix.to_string(),
        })
    }
}

/// The line of `entry`: compact JSON, sorted keys, the derived `variant` included, no `\n`.
pub fn encode_line(entry: &Entry) -> Vec<u8> {
    encode_line_as(entry, &entry.key().variant)
}

/// [`encode_line`] for an entry whose variant the caller has derived already (it is a hash).
fn encode_line_as(entry: &Entry, variant: &str) -> Vec<u8> {
    serde_json::to_vec(&Canonical { e: entry, variant }).expect("entry serialisation cannot fail")
}

/// An entry and its variant, serialised with every object's keys in byte order: the line
/// format. Written out field by field rather than through a `serde_json::Value` (whose map is
/// sorted) because rendering is much of what the pre-commit hook does; `result` is a `Value`
/// already, so its keys come sorted. `canonical_matches_the_value_route` holds the two equal.
struct Canonical<'a> {
    e: &'a Entry,
    variant: &'a str,
}

impl serde::Serialize for Canonical<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct as _;
        /// `Tokens` with its keys sorted.
        struct SortedTokens<'a>(&'a super::entry::Tokens);
        impl serde::Serialize for SortedTokens<'_> {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let mut m = s.serialize_struct("Tokens", 3)?;
                m.serialize_field("cached_input", &self.0.cached_input)?;
                m.serialize_field("input", &self.0.input)?;
                m.serialize_field("output", &self.0.output)?;
                m.end()
            }
        }
        // Destructured so that a new field of `Entry` does not compile until it is placed here.
        let Entry {
            schema_version,
            cache_type,
            blob,
            path,
            file_size,
            provider,
            model,
            prompt_hash,
            created_at,
            tool_version,
            tokens,
            cost_usd,
            response_model,
            items,
            item_variant,
            invalid,
            signature,
            result,
        } = self.e;
        // A compact item entry: what its key and result need, and nothing else (its other
        // fields are empty, as they decode; Entry::compact).
        if self.e.compact() {
            let mut m = s.serialize_struct("Entry", 6)?;
            m.serialize_field("blob", blob)?;
            m.serialize_field("cache_type", cache_type)?;
            if let Some(c) = cost_usd {
                m.serialize_field("cost_usd", c)?;
            }
            m.serialize_field("result", result)?;
            if let Some(sig) = signature {
                m.serialize_field("signature", sig)?;
            }
            m.serialize_field("variant", self.variant)?;
            return m.end();
        }
        let mut m = s.serialize_struct("Entry", 16)?;
        m.serialize_field("blob", blob)?;
        m.serialize_field("cache_type", cache_type)?;
        m.serialize_field("cost_usd", cost_usd)?;
        m.serialize_field("created_at", created_at)?;
        m.serialize_field("file_size", file_size)?;
        if let Some(why) = invalid {
            m.serialize_field("invalid", why)?;
        }
        if let Some(v) = item_variant {
            m.serialize_field("item_variant", v)?;
        }
        if let Some(n) = items {
            m.serialize_field("items", n)?;
        }
        m.serialize_field("model", model)?;
        m.serialize_field("path", path)?;
        m.serialize_field("prompt_hash", prompt_hash)?;
        m.serialize_field("provider", provider)?;
        if let Some(r) = response_model {
            m.serialize_field("response_model", r)?;
        }
        m.serialize_field("result", result)?;
        m.serialize_field("schema_version", schema_version)?;
        if let Some(sig) = signature {
            m.serialize_field("signature", sig)?;
        }
        m.serialize_field("tokens", &SortedTokens(tokens))?;
        m.serialize_field("tool_version", tool_version)?;
        m.serialize_field("variant", self.variant)?;
        m.end()
    }
}

/// Decode one untrusted line found in `shard`: bounded, checked field by field, and it must
/// derive the key it claims and belong in that shard.
pub fn decode_line(bytes: &[u8], shard: &ShardId) -> Result<Entry, EntryError> {
    decode_line_keyed(bytes, shard).map(|(entry, _)| entry)
}

/// [`decode_line`], with the key the entry derives (a hash, so worth not deriving twice).
pub fn decode_line_keyed(bytes: &[u8], shard: &ShardId) -> Result<(Entry, Key), EntryError> {
    if bytes.len() as u64 > MAX_ENTRY_FILE_BYTES {
        return Err(EntryError::TooLarge {
            size: bytes.len() as u64,
            limit: MAX_ENTRY_FILE_BYTES,
        });
    }
    let malformed = |e: serde_json::Error| EntryError::Malformed(e.to_string());
    // The line as this tool writes it ends with its variant (the last key in sorted order):
    // decode the entry straight from the bytes (serde skips the variant) and take the claim
    // from the end. Anything else goes through a JSON value first. Either way the key used is
    // the one the fields derive; the claim only reports mislabelled lines.
    let (entry, claimed): (Entry, Option<String>) = match canonical_claim(bytes) {
        Some(claim) => (
            serde_json::from_slice(bytes).map_err(malformed)?,
            Some(claim.to_string()),
        ),
        None => {
            let mut v: Value = serde_json::from_slice(bytes).map_err(malformed)?;
            let claimed = match v.as_object_mut().map(|m| m.remove("variant")) {
                Some(Some(Value::String(s))) => Some(s),
                Some(None) => None,
                Some(Some(_)) => {
                    return Err(EntryError::Malformed("variant is not a string".into()))
                }
                None => return Err(EntryError::Malformed("not a JSON object".into())),
            };
            (serde_json::from_value(v).map_err(malformed)?, claimed)
        }
    };
    let mut entry = entry;
    // A compact item entry's variant is the one its line names.
    if entry.compact() && entry.item_variant.is_none() {
        entry.item_variant = claimed.clone();
    }
    entry.check()?;
    let key = entry.key();
    if let Some(c) = claimed.filter(|c| *c != key.variant) {
        return Err(EntryError::Mislabelled(format!(
            "provider/model/prompt_hash/schema_version derive variant {} but the line says {}",
            key.variant,
            crate::output::sanitize(&c)
        )));
    }
    if !shard.holds(&key) {
        return Err(EntryError::Mislabelled(format!(
            "a {} entry for blob {} does not belong in shard {}",
            key.cache_type,
            key.blob,
            shard.rel()
        )));
    }
    Ok((entry, key))
}

/// The variant a line claims when it ends the way [`encode_line`] writes it:
/// `,"variant":"<16 hex>"}`.
fn canonical_claim(bytes: &[u8]) -> Option<&str> {
    const TAIL: &[u8] = b",\"variant\":\"";
    let n = bytes.len();
    let end = n.checked_sub(2)?;
    let start = end.checked_sub(16)?;
    (bytes.get(n - 2..)? == b"\"}"
        && bytes.get(start.checked_sub(TAIL.len())?..start)? == TAIL
        && bytes[start..end]
            .iter()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b)))
    .then(|| std::str::from_utf8(&bytes[start..end]).ok())
    .flatten()
}

/// One line of a shard file.
#[derive(Debug, Clone)]
pub struct Line {
    /// Its bytes in the file, `\n` excluded.
    pub range: Range<usize>,
    /// [`line_hash`] of those bytes.
    pub hash: u64,
}

/// Split `bytes` into lines (a last line without `\n` counts; empty lines do not).
pub fn lines(bytes: &[u8]) -> Vec<Line> {
    let mut out = Vec::with_capacity(bytes.len() / 512 + 1);
    let mut start = 0;
    while start < bytes.len() {
        let end = memchr_nl(&bytes[start..]).map_or(bytes.len(), |i| start + i);
        if end > start {
            out.push(Line {
                range: start..end,
                hash: line_hash(&bytes[start..end]),
            });
        }
        start = end + 1;
    }
    out
}

fn memchr_nl(b: &[u8]) -> Option<usize> {
    memchr::memchr(b'\n', b)
}

/// The identity of a line's bytes in the local index: a multiply-xorshift hash over four
/// independent lanes of eight bytes (a sync hashes every line of every changed shard: after a
/// pull into 100,000 entries that is ~200 MB, so this runs near memory speed).
pub fn line_hash(bytes: &[u8]) -> u64 {
    const K: u64 = 0x9e37_79b9_7f4a_7c15;
    #[inline(always)]
    fn mix(h: u64, w: u64) -> u64 {
        let h = (h ^ w).wrapping_mul(K);
        h ^ (h >> 29)
    }
    let word = |c: &[u8]| u64::from_le_bytes(c.try_into().expect("8 bytes"));
    let mut lanes = [
        bytes.len() as u64 ^ 0x5851_f42d_4c95_7f2d,
        0x2545_f491_4f6c_dd1d,
        0x9e37_79b9_7f4a_7c15,
        0xbf58_476d_1ce4_e5b9,
    ];
    let mut blocks = bytes.chunks_exact(32);
    for c in &mut blocks {
        lanes[0] = mix(lanes[0], word(&c[0..8]));
        lanes[1] = mix(lanes[1], word(&c[8..16]));
        lanes[2] = mix(lanes[2], word(&c[16..24]));
        lanes[3] = mix(lanes[3], word(&c[24..32]));
    }
    let mut h = mix(mix(mix(lanes[0], lanes[1]), lanes[2]), lanes[3]);
    let mut rest = blocks.remainder().chunks_exact(8);
    for c in &mut rest {
        h = mix(h, word(c));
    }
    let tail = rest.remainder();
    if !tail.is_empty() {
        let mut last = [0u8; 8];
        last[..tail.len()].copy_from_slice(tail);
        h = mix(h, u64::from_le_bytes(last));
    }
    mix(h, 0x94d0_49bb_1331_11eb)
}

/// The blob ids a shard's lines name (`"blob":"<hex>"`), read without decoding the lines: a
/// cheap first look (what they name is only a claim until a line is decoded).
pub fn blobs_named(bytes: &[u8]) -> impl Iterator<Item = &str> {
    const NEEDLE: &[u8] = b"\"blob\":\"";
    memchr::memmem::find_iter(bytes, NEEDLE).filter_map(move |at| {
        let start = at + NEEDLE.len();
        let len = bytes[start..]
            .iter()
            .take(65)
            .take_while(|b| b.is_ascii_hexdigit())
            .count();
        std::str::from_utf8(&bytes[start..start + len]).ok()
    })
}

/// Whether `needle` occurs in `hay`.
pub fn memmem(hay: &[u8], needle: &[u8]) -> bool {
    memchr::memmem::find(hay, needle).is_some()
}

/// A decoded line.
#[derive(Debug, Clone)]
pub struct Decoded {
    /// The entry.
    pub entry: Entry,
    /// Its key.
    pub key: Key,
    /// Where its bytes are.
    pub line: Line,
}

/// A shard read and sorted out.
#[derive(Debug, Default)]
pub struct Parsed {
    /// The winning line of each key, in key order.
    pub entries: Vec<Decoded>,
    /// Lines a duplicate key lost to a winner (dropped by the next write).
    pub superseded: Vec<Decoded>,
    /// Lines that cannot be trusted: 1-based line number and why.
    pub invalid: Vec<(usize, Line, EntryError)>,
    /// Whether the lines are sorted by key.
    sorted: bool,
}

impl Parsed {
    /// Whether `bytes` (what was parsed) are exactly what [`render`] would write for
    /// `entries`: sorted, one line per key, nothing untrusted, each line canonical.
    pub fn is_normal(&self, bytes: &[u8]) -> bool {
        self.sorted
            && self.superseded.is_empty()
            && self.invalid.is_empty()
            && bytes.last().is_none_or(|&b| b == b'\n')
            && lines_are_canonical(bytes, &self.entries)
    }

    /// The winner for `key`, if any.
    pub fn get(&self, key: &Key) -> Option<&Decoded> {
        self.entries
            .binary_search_by(|d| d.key.cmp(key))
            .ok()
            .map(|i| &self.entries[i])
    }
}

/// Which of two lines for one key wins: the earliest `created_at`, then the smaller bytes.
pub fn wins(a: (&Entry, &[u8]), b: (&Entry, &[u8])) -> bool {
    let ta = a.0.created_at.parse::<jiff::Timestamp>().ok();
    let tb = b.0.created_at.parse::<jiff::Timestamp>().ok();
    (ta, a.1) < (tb, b.1)
}

/// Read a shard's bytes (untrusted): every line decoded, duplicates resolved, the rest set
/// aside.
pub fn parse(bytes: &[u8], shard: &ShardId) -> Parsed {
    parse_only(bytes, shard, |_| true)
}

/// [`parse`], decoding only lines `want` accepts (cheap pre-filter on the raw bytes; lines it
/// refuses are neither entries nor invalid).
pub fn parse_only(bytes: &[u8], shard: &ShardId, want: impl Fn(&[u8]) -> bool) -> Parsed {
    let mut p = Parsed::default();
    let mut all: Vec<Decoded> = Vec::new();
    for (n, line) in lines(bytes).into_iter().enumerate() {
        let raw = &bytes[line.range.clone()];
        if !want(raw) {
            continue;
        }
        match decode_line_keyed(raw, shard) {
            Ok((entry, key)) => all.push(Decoded { key, entry, line }),
            Err(e) => p.invalid.push((n + 1, line, e)),
        }
    }
    let sorted = all.windows(2).all(|w| w[0].key < w[1].key);
    if !sorted {
        all.sort_by(|a, b| a.key.cmp(&b.key));
    }
    for d in all {
        match p.entries.last_mut() {
            Some(last) if last.key == d.key => {
                let new = (&d.entry, &bytes[d.line.range.clone()]);
                if wins(new, (&last.entry, &bytes[last.line.range.clone()])) {
                    p.superseded.push(std::mem::replace(last, d));
                } else {
                    p.superseded.push(d);
                }
            }
            _ => p.entries.push(d),
        }
    }
    p.sorted = sorted;
    p
}

/// Whether each line's bytes are exactly what [`encode_line`] writes and nothing else is there.
fn lines_are_canonical(bytes: &[u8], entries: &[Decoded]) -> bool {
    let total: usize = entries.iter().map(|d| d.line.range.len() + 1).sum();
    total == bytes.len()
        && entries
            .iter()
            .all(|d| encode_line_as(&d.entry, &d.key.variant) == bytes[d.line.range.clone()])
}

/// The bytes of a shard holding `entries` (any order, duplicates resolved by [`wins`]).
pub fn render<'a>(entries: impl IntoIterator<Item = &'a Entry>) -> Vec<u8> {
    let keyed: Vec<(Key, &Entry)> = entries.into_iter().map(|e| (e.key(), e)).collect();
    render_keyed(keyed.iter().map(|(k, e)| (k, *e)))
}

/// [`render`] for entries whose keys the caller has (each must be the key its entry derives,
/// as [`decode_line_keyed`] returns it).
pub fn render_keyed<'a>(entries: impl IntoIterator<Item = (&'a Key, &'a Entry)>) -> Vec<u8> {
    let mut lines: Vec<(&Key, &Entry, Vec<u8>)> = entries
        .into_iter()
        .map(|(key, e)| (key, e, encode_line_as(e, &key.variant)))
        .collect();
    lines.sort_by(|a, b| a.0.cmp(b.0));
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let mut best = i;
        let mut j = i + 1;
        while j < lines.len() && lines[j].0 == lines[i].0 {
            if wins((lines[j].1, &lines[j].2), (lines[best].1, &lines[best].2)) {
                best = j;
            }
            j += 1;
        }
        out.extend_from_slice(&lines[best].2);
        out.push(b'\n');
        i = j;
    }
    out
}

#[cfg(test)]
mod tests;
