use super::*;

pub(crate) fn sample() -> Entry {
    Entry {
        schema_version: 1,
        cache_type: "refactor".into(),
        blob: "f13893335dc53501e525a24eed8c429a2c9bfd4e".into(),
        path: "src/error.rs".into(),
        file_size: 2995,
        provider: "xai".into(),
        model: "grok-4-fast".into(),
        prompt_hash: "a".repeat(64),
        created_at: "2026-11-21T10:00:00Z".into(),
        tool_version: "0.1.0".into(),
        tokens: Tokens {
            input: 1200,
            output: 800,
            cached_input: 0,
        },
        cost_usd: Some(0.0123),
        response_model: None,
        items: None,
        item_variant: None,
        invalid: None,
        signature: None,
        result: serde_json::json!({"smells": [], "score": 7}),
    }
}

#[test]
fn serialisation_is_deterministic_and_round_trips() {
    let e = sample();
    let a = e.to_json();
    assert_eq!(a, e.to_json());
    assert!(a.ends_with(b"}\n"));
    let text = String::from_utf8(a.clone()).unwrap();
    let order: Vec<usize> = [
        "schema_version",
        "cache_type",
        "blob",
        "path",
        "file_size",
        "provider",
        "model",
        "prompt_hash",
        "created_at",
        "tool_version",
        "tokens",
        "cost_usd",
        "result",
    ]
    .iter()
    .map(|f| text.find(&format!("\"{f}\"")).unwrap())
    .collect();
    assert!(
        order.windows(2).all(|w| w[0] < w[1]),
        "field order is the documented one"
    );
    let back = Entry::decode(&a, Some(&e.key())).unwrap();
    assert_eq!(back, e);
    let z = e.to_bytes(true);
    assert!(z.len() < a.len());
    assert_eq!(Entry::decode(&z, Some(&e.key())).unwrap(), e);
}

#[test]
fn mislabelled_entries_are_rejected() {
    let e = sample();
    let mut k = e.key();
    k.variant = "0000000000000000".into();
    assert!(matches!(
        Entry::decode(&e.to_json(), Some(&k)),
        Err(EntryError::Mislabelled(_))
    ));
    let mut k = e.key();
    k.blob = "0".repeat(40);
    assert!(matches!(
        Entry::decode(&e.to_json(), Some(&k)),
        Err(EntryError::Mislabelled(_))
    ));
}

#[test]
fn hostile_fields_are_rejected() {
    let mut e = sample();
    e.path = "../../etc/passwd".into();
    assert!(matches!(e.check(), Err(EntryError::PathEscape(_))));
    e.path = "/etc/passwd".into();
    assert!(matches!(e.check(), Err(EntryError::PathEscape(_))));
    let mut e = sample();
    e.result = serde_json::json!({"text": "hi\x1b[31m"});
    assert!(matches!(e.check(), Err(EntryError::ControlChars(_))));
    let mut e = sample();
    e.cost_usd = Some(-1.0);
    assert!(e.check().is_err());
    assert!(matches!(
        Entry::decode(b"{not json", None),
        Err(EntryError::Malformed(_))
    ));
    assert!(matches!(
        Entry::decode(b"{}", None),
        Err(EntryError::Malformed(_))
    ));
}

#[test]
fn decompression_bomb_is_bounded() {
    let zeros = vec![b' '; (MAX_ENTRY_JSON_BYTES + 10) as usize];
    let bomb = zstd::bulk::compress(&zeros, 3).unwrap();
    assert!((bomb.len() as u64) < MAX_ENTRY_FILE_BYTES);
    assert!(matches!(
        decode_json_bytes(&bomb),
        Err(EntryError::Decompress(_))
    ));
    let garbage = [0x28, 0xb5, 0x2f, 0xfd, 1, 2, 3];
    assert!(matches!(
        decode_json_bytes(&garbage),
        Err(EntryError::Decompress(_))
    ));
}

#[test]
fn a_stored_invalid_reply_keeps_its_reason_in_sorted_place_and_is_checked() {
    let mut e = sample();
    e.invalid = Some("xai: the reply is not valid JSON".into());
    e.result = Value::String("I think it is fine.".into());
    assert!(e.check().is_ok());
    let line = String::from_utf8(crate::cache::shard::encode_line(&e)).unwrap();
    let at = |k: &str| line.find(&format!("\"{k}\":")).unwrap();
    assert!(
        at("file_size") < at("invalid") && at("invalid") < at("model"),
        "{line}"
    );
    let shard = crate::cache::shard::ShardId::of(&e.key());
    let back = crate::cache::shard::decode_line(line.as_bytes(), &shard).unwrap();
    assert_eq!(back, e, "round trips, the reason with it");
    // Bounded, no control characters, never on an entry stored by items.
    e.invalid = Some("x".repeat(MAX_INVALID_REASON + 1));
    assert!(e.check().is_err());
    e.invalid = Some("a\u{1b}[31m".into());
    assert!(matches!(e.check(), Err(EntryError::ControlChars(_))));
    let mut item = Entry::compact_item(
        "refactor/items",
        &"a".repeat(16),
        &"b".repeat(16),
        None,
        Value::Null,
    );
    item.result = serde_json::json!({});
    item.invalid = Some("x".into());
    assert!(item.check().is_err());
}
