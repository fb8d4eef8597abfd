use super::*;
use crate::cache::entry::tests::sample;

fn with(blob_tail: char, created: &str) -> Entry {
    let mut e = sample();
    e.blob = format!("f1{}", blob_tail.to_string().repeat(38));
    e.created_at = created.into();
    e
}

#[test]
fn render_is_sorted_deterministic_and_parses_back_as_normal() {
    let a = with('a', "2026-01-01T00:00:00Z");
    let b = with('b', "2026-01-01T00:00:00Z");
    let one = render([&b, &a]);
    assert_eq!(one, render([&a, &b, &a]));
    let shard = ShardId::of(&a.key());
    let p = parse(&one, &shard);
    assert!(p.is_normal(&one), "{p:?}");
    assert_eq!(p.entries.len(), 2);
    assert_eq!(p.entries[0].entry, a);
    // Keys are sorted within each line, the variant is written.
    let first = std::str::from_utf8(&one[p.entries[0].line.range.clone()]).unwrap();
    assert!(first.starts_with("{\"blob\":"), "{first}");
    assert!(first.contains(&format!("\"variant\":\"{}\"", a.key().variant)));
}

#[test]
fn a_union_merge_leftover_resolves_to_the_earliest_line_on_both_sides() {
    let early = with('a', "2026-01-01T00:00:00Z");
    let mut late = early.clone();
    late.created_at = "2026-02-01T00:00:00Z".into();
    late.result = serde_json::json!({"other": true});
    let shard = ShardId::of(&early.key());
    for order in [[&late, &early], [&early, &late]] {
        let mut bytes = Vec::new();
        for e in order {
            bytes.extend(encode_line(e));
            bytes.push(b'\n');
        }
        let p = parse(&bytes, &shard);
        assert!(!p.is_normal(&bytes));
        assert_eq!(p.entries.len(), 1);
        assert_eq!(p.entries[0].entry, early);
        assert_eq!(p.superseded.len(), 1);
        assert_eq!(render(order), render([&early]));
    }
}

#[test]
fn bad_lines_are_set_aside_not_fatal() {
    let good = with('a', "2026-01-01T00:00:00Z");
    let shard = ShardId::of(&good.key());
    let mut forged = encode_line(&good);
    let text = String::from_utf8(forged.clone())
        .unwrap()
        .replace("grok-4-fast", "grok-4");
    forged = text.into_bytes();
    let mut elsewhere = good.clone();
    elsewhere.blob = "aa".repeat(20);
    let mut bytes = b"{truncated\n".to_vec();
    bytes.extend(forged);
    bytes.push(b'\n');
    bytes.extend(encode_line(&elsewhere));
    bytes.push(b'\n');
    bytes.extend(encode_line(&good));
    let p = parse(&bytes, &shard);
    assert_eq!(p.entries.len(), 1);
    assert_eq!(p.invalid.len(), 3, "{:?}", p.invalid);
    assert!(matches!(p.invalid[1].2, EntryError::Mislabelled(_)));
    assert!(matches!(p.invalid[2].2, EntryError::Mislabelled(_)));
    assert!(!p.is_normal(&bytes));
}

#[test]
fn canonical_matches_the_value_route() {
    // The line format as first defined: the entry as a JSON value (a sorted map), the
    // variant added. Options present and absent, a non-finite cost, nested results.
    let value_route = |e: &Entry| {
        let mut v = serde_json::to_value(e).unwrap();
        v.as_object_mut()
            .unwrap()
            .insert("variant".into(), Value::String(e.key().variant));
        serde_json::to_vec(&v).unwrap()
    };
    let mut e = sample();
    let mut cases = vec![e.clone()];
    e.response_model = Some("m-2026".into());
    e.signature = Some("sig\"\u{1}".into());
    e.cost_usd = None;
    e.result = serde_json::json!({"z": [1, {"b": 2, "a": "\n"}], "a": null, "m": 1.5e300});
    cases.push(e.clone());
    e.cost_usd = Some(f64::NAN);
    e.tokens.cached_input = u64::MAX;
    e.response_model = None;
    cases.push(e);
    for e in &cases {
        assert_eq!(
            String::from_utf8(encode_line(e)).unwrap(),
            String::from_utf8(value_route(e)).unwrap()
        );
    }
}

#[test]
fn memmem_finds_only_what_is_there() {
    assert!(memmem(b"abcabd", b"abd"));
    assert!(!memmem(b"abcab", b"abd"));
    assert!(memmem(b"x", b""));
}

#[test]
fn shard_names_round_trip_and_refuse_others() {
    let id = ShardId::from_rel("todos/ab.jsonl").unwrap();
    assert_eq!(id.rel(), "todos/ab.jsonl");
    for bad in [
        "todos/AB.jsonl",
        "todos/abc.jsonl",
        "../ab.jsonl",
        "todos/ab.json",
    ] {
        assert!(ShardId::from_rel(bad).is_none(), "{bad}");
    }
}

/// A compact item entry (Entry::compact), as run/items.rs writes one.
fn compact_item() -> Entry {
    Entry::compact_item(
        "refactor/items",
        "0123456789abcdef",
        "fedcba9876543210",
        Some(0.0002),
        serde_json::json!({"smells": [], "summary": "ok"}),
    )
}

#[test]
fn a_compact_item_line_holds_its_key_and_result_alone_and_round_trips() {
    let e = compact_item();
    let line = String::from_utf8(encode_line(&e)).unwrap();
    assert_eq!(
        line,
        r#"{"blob":"0123456789abcdef","cache_type":"refactor/items","cost_usd":0.0002,"result":{"smells":[],"summary":"ok"},"variant":"fedcba9876543210"}"#
    );
    let shard = ShardId::of(&e.key());
    assert_eq!(e.key().variant, "fedcba9876543210");
    let (back, key) = decode_line_keyed(line.as_bytes(), &shard).unwrap();
    assert_eq!(
        back, e,
        "decodes to the entry written (what a signature covers)"
    );
    assert_eq!(key, e.key());
    // Through the JSON value route (a line whose keys are out of order) too.
    let reordered = r#"{"variant":"fedcba9876543210","blob":"0123456789abcdef","cache_type":"refactor/items","cost_usd":0.0002,"result":{"smells":[],"summary":"ok"}}"#;
    assert_eq!(decode_line(reordered.as_bytes(), &shard).unwrap(), e);
}

#[test]
fn an_item_line_may_live_in_any_shard_of_its_type_a_file_line_only_in_its_own() {
    let item = compact_item();
    let line = encode_line(&item);
    let other = |ty: &str, prefix: &str| ShardId {
        cache_type: ty.into(),
        prefix: prefix.into(),
    };
    // The shard of the request that analysed it, named by another blob.
    assert!(decode_line(&line, &other("refactor/items", "ff")).is_ok());
    assert!(matches!(
        decode_line(&line, &other("docs/items", "01")),
        Err(EntryError::Mislabelled(_))
    ));
    let file = with('a', "2026-01-01T00:00:00Z");
    assert!(matches!(
        decode_line(&encode_line(&file), &other(&file.cache_type, "ff")),
        Err(EntryError::Mislabelled(_))
    ));
}

#[test]
fn a_compact_item_line_that_names_two_variants_or_none_is_refused() {
    let shard = ShardId::of(&compact_item().key());
    for bad in [
        // Another variant in the fields than on the line.
        r#"{"blob":"0123456789abcdef","cache_type":"refactor/items","item_variant":"0000000000000000","result":{},"variant":"fedcba9876543210"}"#,
        // No variant at all.
        r#"{"blob":"0123456789abcdef","cache_type":"refactor/items","result":{}}"#,
        // No result.
        r#"{"blob":"0123456789abcdef","cache_type":"refactor/items","result":null,"variant":"fedcba9876543210"}"#,
    ] {
        assert!(decode_line(bad.as_bytes(), &shard).is_err(), "{bad}");
    }
    // A file entry naming an item variant must store its result by reference.
    let mut e = crate::cache::entry::tests::sample();
    e.item_variant = Some("fedcba9876543210".into());
    e.items = Some(3);
    assert!(e.check().is_err(), "a result and an item variant");
    e.result = serde_json::Value::Null;
    assert!(e.check().is_ok());
    e.items = None;
    assert!(e.check().is_err(), "by reference without a count");
}
