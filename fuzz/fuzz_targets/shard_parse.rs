//! Shard parsing on arbitrary bytes (what a union merge, a hand edit or a hostile commit may
//! leave): never a panic, every accepted line derives its own key and belongs in the shard, and
//! rendering the accepted entries gives a normal shard that parses back to the same entries.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rustassistant::cache::shard::{self, ShardId};

fuzz_target!(|data: &[u8]| {
    let id = ShardId::from_rel("todos/ab.jsonl").expect("a shard name");
    let parsed = shard::parse(data, &id);
    for d in &parsed.entries {
        assert_eq!(d.entry.key(), d.key);
        assert_eq!(ShardId::of(&d.key), id);
    }
    let bytes = shard::render(parsed.entries.iter().map(|d| &d.entry));
    let again = shard::parse(&bytes, &id);
    assert!(again.is_normal(&bytes));
    assert_eq!(again.entries.len(), parsed.entries.len());
    for (a, b) in again.entries.iter().zip(&parsed.entries) {
        assert_eq!(a.entry, b.entry);
    }
    let _ = ShardId::from_rel(&String::from_utf8_lossy(data));
});
