//! Key derivation: `(cache_type, blob, variant)` and the entry path it names.

use std::path::Path;

use sha2::{Digest, Sha256};

use crate::util::{hex, is_lower_hex};

/// Version of the entry schema. Part of every variant: bumping it moves every new entry to a
/// new path, so entries written under an older schema are never misread.
pub const SCHEMA_VERSION: u32 = 1;

/// Every analysis type the tool knows.
pub const KNOWN_TYPES: &[&str] = &["refactor", "docs", "analysis", "todos", "metrics"];

/// The types answered by an LLM (the others are built in and offline).
pub const LLM_TYPES: &[&str] = &["refactor", "docs", "analysis"];

/// Longest accepted type name; keeps crafted entries from producing absurd paths.
const MAX_TYPE_LEN: usize = 32;

/// `sha256("provider\0model\0prompt_hash\0schema_version")`, first 16 hex digits.
///
/// Every line of a shard derives its variant when read and when written, and a repository has
/// a handful of (provider, model, prompt) combinations: the last few are remembered per thread
/// (a sha256 and its hex cost ~10% of decoding a line).
pub fn variant(provider: &str, model: &str, prompt_hash: &str, schema_version: u32) -> String {
    type Memo = Vec<((String, String, String, u32), String)>;
    const KEPT: usize = 8;
    thread_local! {
        static MEMO: std::cell::RefCell<Memo> = const { std::cell::RefCell::new(Vec::new()) };
    }
    MEMO.with(|m| {
        let mut m = m.borrow_mut();
        let hit = m.iter().position(|((p, mo, ph, sv), _)| {
            p == provider && mo == model && ph == prompt_hash && *sv == schema_version
        });
        if let Some(i) = hit {
            return m[i].1.clone();
        }
        let v = variant_uncached(provider, model, prompt_hash, schema_version);
        if m.len() == KEPT {
            m.remove(0);
        }
        let parts = (
            provider.into(),
            model.into(),
            prompt_hash.into(),
            schema_version,
        );
        m.push((parts, v.clone()));
        v
    })
}

fn variant_uncached(provider: &str, model: &str, prompt_hash: &str, schema_version: u32) -> String {
    let mut h = Sha256::new();
    h.update(provider.as_bytes());
    h.update([0]);
    h.update(model.as_bytes());
    h.update([0]);
    h.update(prompt_hash.as_bytes());
    h.update([0]);
    h.update(schema_version.to_string().as_bytes());
    hex(&h.finalize())[..16].to_string()
}

/// The identity of one analysis result.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key {
    /// Analysis type (`refactor`, `todos`, …).
    pub cache_type: String,
    /// Git blob id of the analysed content (40 or 64 hex).
    pub blob: String,
    /// 16 hex digits from [`variant`].
    pub variant: String,
}

impl Key {
    /// Path of the entry relative to `.rustassistant/`, `/`-separated:
    /// `cache/<type>/<b0b1>/<blob[2..]>-<variant>.json`, with `.zst` appended when compressed.
    pub fn rel(&self, zstd: bool) -> String {
        // Built by appending: this runs for every key of every lookup.
        let mut s = String::with_capacity(
            28 + self.cache_type.len() + self.blob.len() + self.variant.len(),
        );
        s.push_str("cache/");
        s.push_str(&self.cache_type);
        s.push('/');
        s.push_str(&self.blob[..2]);
        s.push('/');
        s.push_str(&self.blob[2..]);
        s.push('-');
        s.push_str(&self.variant);
        s.push_str(if zstd { ".json.zst" } else { ".json" });
        s
    }

    /// Parse a key back from a path relative to `.rustassistant/cache/` (`<type>/<b0b1>/<rest>-<variant>.json[.zst]`),
    /// returning the key and whether it is zstd-compressed. `None` for anything that is not an
    /// entry name.
    pub fn from_relative(rel: &Path) -> Option<(Key, bool)> {
        let mut comps = rel.components().map(|c| c.as_os_str().to_str());
        let ty = comps.next()??;
        let prefix = comps.next()??;
        let file = comps.next()??;
        if comps.next().is_some()
            || !valid_base_type_name(ty)
            || prefix.len() != 2
            || !is_lower_hex(prefix)
        {
            return None;
        }
        let (stem, zst) = if let Some(s) = file.strip_suffix(".json.zst") {
            (s, true)
        } else if let Some(s) = file.strip_suffix(".json") {
            (s, false)
        } else {
            return None;
        };
        let (rest, variant) = stem.rsplit_once('-')?;
        let blob = format!("{prefix}{rest}");
        if variant.len() != 16
            || !is_lower_hex(variant)
            || !matches!(blob.len(), 40 | 64)
            || !is_lower_hex(&blob)
        {
            return None;
        }
        Some((
            Key {
                cache_type: ty.to_string(),
                blob,
                variant: variant.to_string(),
            },
            zst,
        ))
    }
}

/// What a type's item entries are stored under, after the type's name: `refactor/items`
/// (DESIGN.md, "Items"): their shards are `cache/refactor/items/<i0i1>.jsonl`, and an item
/// entry's `blob` is its item id.
pub const ITEMS_SUFFIX: &str = "/items";

/// The type the item entries of `cache_type` are stored under.
pub fn items_type(cache_type: &str) -> String {
    format!("{cache_type}{ITEMS_SUFFIX}")
}

/// Whether `cache_type` holds item entries (`refactor/items`).
pub fn is_items_type(cache_type: &str) -> bool {
    cache_type.ends_with(ITEMS_SUFFIX)
}

/// A type name that can safely be a folder name: lower-case ASCII letters, digits, `-`, `_`;
/// or such a name followed by [`ITEMS_SUFFIX`].
pub fn valid_type_name(t: &str) -> bool {
    match t.strip_suffix(ITEMS_SUFFIX) {
        Some(base) => valid_base_type_name(base),
        None => valid_base_type_name(t),
    }
}

fn valid_base_type_name(t: &str) -> bool {
    !t.is_empty()
        && t.len() <= MAX_TYPE_LEN
        && t.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    const BLOB: &str = "f13893335dc53501e525a24eed8c429a2c9bfd4e";

    #[test]
    fn each_component_changes_the_variant() {
        let base = variant("xai", "grok-4-fast", "p", 1);
        assert_eq!(base.len(), 16);
        assert_eq!(base, variant("xai", "grok-4-fast", "p", 1), "deterministic");
        for other in [
            variant("openai", "grok-4-fast", "p", 1),
            variant("xai", "grok-4", "p", 1),
            variant("xai", "grok-4-fast", "q", 1),
            variant("xai", "grok-4-fast", "p", 2),
            // the separator matters: moving a byte between fields is a different key
            variant("xa", "igrok-4-fast", "p", 1),
        ] {
            assert_ne!(base, other);
        }
    }

    #[test]
    fn variant_matches_the_documented_formula() {
        let expected = &crate::util::sha256_hex(b"xai\0grok-4-fast\0abc\x001")[..16];
        assert_eq!(variant("xai", "grok-4-fast", "abc", 1), expected);
    }

    #[test]
    fn remembered_variants_are_the_derived_ones() {
        // More combinations than are remembered, each asked for twice, interleaved.
        for round in 0..2 {
            for i in 0..20u32 {
                let (p, m) = (format!("p{}", i % 3), format!("m{i}"));
                assert_eq!(
                    variant(&p, &m, "h", i % 2),
                    variant_uncached(&p, &m, "h", i % 2),
                    "round {round}, combination {i}"
                );
            }
        }
        assert_ne!(variant("a", "b", "c", 1), variant("a", "b", "c", 2));
    }

    #[test]
    fn path_round_trips() {
        let k = Key {
            cache_type: "refactor".into(),
            blob: BLOB.into(),
            variant: "0123456789abcdef".into(),
        };
        assert_eq!(
            k.rel(false),
            "cache/refactor/f1/3893335dc53501e525a24eed8c429a2c9bfd4e-0123456789abcdef.json"
        );
        let rel = Path::new(
            "refactor/f1/3893335dc53501e525a24eed8c429a2c9bfd4e-0123456789abcdef.json.zst",
        );
        assert_eq!(Key::from_relative(rel), Some((k, true)));
    }

    #[test]
    fn non_entry_names_are_rejected() {
        for p in [
            "refactor/f1/.tmp-abc",
            "refactor/f1/3893335dc53501e525a24eed8c429a2c9bfd4e-0123456789abcdef.txt",
            "refactor/F1/3893335dc53501e525a24eed8c429a2c9bfd4e-0123456789abcdef.json",
            "refactor/f1/3893-0123456789abcdef.json",
            "../x/f1/3893335dc53501e525a24eed8c429a2c9bfd4e-0123456789abcdef.json",
            "refactor/f1/3893335dc53501e525a24eed8c429a2c9bfd4e-0123456789abcdeg.json",
        ] {
            assert!(Key::from_relative(Path::new(p)).is_none(), "{p}");
        }
    }
}
