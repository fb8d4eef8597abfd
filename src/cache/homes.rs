//! Where item entries live. A file entry lives in the shard its blob names; the item entries a
//! request produced are written together, in the item shard named by the analysed file's blob
//! ([`super::shard::ShardId::holds`]): a commit that changed a few functions of a file then
//! adds one new version of one item shard, not one per item, and git stores a few hundred bytes
//! for it instead of a delta, a tree entry and an object header per item (BENCHMARKS.md, item
//! granularity). An item used again by another file stays where it was first written, so item
//! ids do not name their shard: this table finds them. It is built from the item shards of a
//! type (both places) the first time this process looks an item of that type up, and kept up
//! to date by this process's own writes ([`Store::note_items`]); every hit is still read and
//! judged from the shard, so a stale row costs one read and is never trusted.

use std::collections::HashMap;

use super::key::{is_items_type, Key};
use super::place::{Location, Place};
use super::shard::{self, ShardId};
use super::Store;

/// The item shards of one type that name each item id: (place, prefix) packed in a `u16`,
/// keyed by the id's first 64 bits (a collision only costs a read).
#[derive(Debug, Default)]
pub(super) struct Homes(HashMap<String, HashMap<u64, Vec<u16>>>);

fn id_bits(id: &str) -> u64 {
    let head = &id[..id.len().min(16)];
    u64::from_str_radix(head, 16).unwrap_or_else(|_| {
        use std::hash::{Hash as _, Hasher as _};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        id.hash(&mut h);
        h.finish()
    })
}

fn pack(at: &Location) -> Option<u16> {
    let prefix = u8::from_str_radix(&at.shard.prefix, 16).ok()?;
    Some(u16::from(prefix) | if at.place == Place::Overlay { 0x100 } else { 0 })
}

fn unpack(cache_type: &str, code: u16) -> Location {
    Location {
        place: if code & 0x100 != 0 {
            Place::Overlay
        } else {
            Place::Tree
        },
        shard: ShardId {
            cache_type: cache_type.to_string(),
            prefix: format!("{:02x}", code & 0xff),
        },
    }
}

impl Store {
    /// Where `key`'s line may be, in lookup order (the shards, then the overlay): its blob's
    /// shard in each place; for an item key, every item shard of its type that names it.
    pub fn locations_of(&self, key: &Key) -> Vec<Location> {
        if !is_items_type(&key.cache_type) {
            return Location::each(&ShardId::of(key)).to_vec();
        }
        let mut homes = self.homes.lock().unwrap_or_else(|p| p.into_inner());
        let table = homes
            .0
            .entry(key.cache_type.clone())
            .or_insert_with(|| self.scan_items(&key.cache_type));
        let mut codes = table.get(&id_bits(&key.blob)).cloned().unwrap_or_default();
        drop(homes);
        codes.sort_unstable();
        codes.dedup();
        codes
            .into_iter()
            .map(|c| unpack(&key.cache_type, c))
            .collect()
    }

    /// Every id each item shard of `cache_type` names, in both places.
    fn scan_items(&self, cache_type: &str) -> HashMap<u64, Vec<u16>> {
        let mut table: HashMap<u64, Vec<u16>> = HashMap::new();
        for shard in Store::full_set(cache_type) {
            for at in Location::each(&shard) {
                let Ok(Some(bytes)) = self.read_shard(&at) else {
                    continue;
                };
                let Some(code) = pack(&at) else { continue };
                for id in shard::blobs_named(&bytes) {
                    table.entry(id_bits(id)).or_default().push(code);
                }
            }
        }
        table
    }

    /// Record that the item shard `at` now holds `keys` (a write of this process), when the
    /// table of its type has been built.
    pub(super) fn note_items<'k>(&self, at: &Location, keys: impl Iterator<Item = &'k Key>) {
        if !is_items_type(&at.shard.cache_type) {
            return;
        }
        let Some(code) = pack(at) else { return };
        let mut homes = self.homes.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(table) = homes.0.get_mut(&at.shard.cache_type) {
            for k in keys {
                let v = table.entry(id_bits(&k.blob)).or_default();
                if !v.contains(&code) {
                    v.push(code);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for place in Place::ALL {
            for prefix in ["00", "7f", "ff"] {
                let at = Location {
                    place,
                    shard: ShardId {
                        cache_type: "refactor/items".into(),
                        prefix: prefix.into(),
                    },
                };
                assert_eq!(unpack("refactor/items", pack(&at).unwrap()), at);
            }
        }
        // Tree before overlay in the sorted codes: lookup order.
        assert!(pack(&unpack("t", 0xff)).unwrap() < pack(&unpack("t", 0x100)).unwrap());
        assert_eq!(id_bits("0008b2f989561d96"), 0x0008_b2f9_8956_1d96);
        assert_ne!(id_bits("zz"), id_bits("zy"));
    }
}
