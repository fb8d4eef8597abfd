//! Tests of the lookup: every path (hit tables, a query per key, shards read) answers the same.

use super::*;
use crate::cache::{Entry, Tokens};
use crate::git::{FileId, Source};
use std::collections::BTreeMap;

fn workspace(dir: &std::path::Path) -> Workspace {
    crate::workspace::test_workspace(dir)
}

fn target(path: &str, blob: char) -> Target {
    Target {
        id: Ok(FileId {
            path: path.into(),
            blob: crate::git::BlobId::parse(&blob.to_string().repeat(40)).unwrap(),
            size: 1,
            content: None,
            source: Source::WorkTree,
        }),
    }
}

fn write_entry(ws: &Workspace, plan: &Plan, t: &Target) {
    write_entry_at(ws, plan, t, "2026-11-21T10:00:00Z", 0.25);
}

fn write_entry_at(ws: &Workspace, plan: &Plan, t: &Target, created_at: &str, cost: f64) {
    let id = plan.analyzer.as_ref().unwrap().identity();
    let file = t.id.as_ref().unwrap();
    let e = Entry {
        schema_version: SCHEMA_VERSION,
        cache_type: plan.cache_type.clone(),
        blob: file.blob.to_string(),
        path: file.path.to_string(),
        file_size: 1,
        provider: id.provider.clone(),
        model: id.model.clone(),
        prompt_hash: id.prompt_hash.clone(),
        created_at: created_at.into(),
        tool_version: "test".into(),
        tokens: Tokens::default(),
        cost_usd: Some(cost),
        response_model: None,
        items: None,
        item_variant: None,
        invalid: None,
        signature: None,
        result: serde_json::json!({"items": []}),
    };
    let mut edits = BTreeMap::new();
    edits.insert(
        ShardId::of(&e.key()),
        crate::cache::store::Edit {
            add: vec![e],
            ..Default::default()
        },
    );
    ws.store.apply(Place::Tree, edits).unwrap();
}

/// Date the shards ten seconds back, as between two commands: a shard written within the
/// clock's tick of a sync is recorded as racily clean, and read again by the next lookup rather
/// than answered by the index.
fn backdate_shards(ws: &Workspace) {
    let past = std::time::SystemTime::now() - std::time::Duration::from_secs(10);
    for f in walkdir::WalkDir::new(ws.store.place_dir(Place::Tree)) {
        let f = f.unwrap();
        if f.file_type().is_file() {
            let file = std::fs::File::options()
                .append(true)
                .open(f.path())
                .unwrap();
            file.set_modified(past).unwrap();
        }
    }
}

#[test]
fn hits_attach_to_their_own_file_and_type_whatever_is_filtered() {
    let dir = tempfile::tempdir().unwrap();
    let ws = workspace(dir.path());
    // `refactor` has no provider: its plan has no analyzer and no key.
    let types: Vec<String> = ["todos", "refactor", "metrics"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let plans = crate::analyzer::registry::plans(&ws, &types).unwrap();
    assert!(plans[1].analyzer.is_err());
    let mut unidentified = target("b.rs", 'b');
    unidentified.id = Err(super::super::Skip {
        path: "b.rs".into(),
        status: super::super::Status::Skipped,
        reason: "binary file".into(),
    });
    let targets = vec![target("a.rs", 'a'), unidentified, target("c.rs", 'c')];
    write_entry(&ws, &plans[2], &targets[0]); // a.rs: metrics only
    write_entry(&ws, &plans[0], &targets[2]); // c.rs: todos only
    let mut index = Index::open(&ws);
    index.sync(&ws).unwrap();
    // Without the index, and with it answering by a query per key or from the hit tables.
    for (ix, few) in [
        (None, FEW_KEYS),
        (Some(&index), FEW_KEYS),
        (Some(&index), 0),
    ] {
        let out = lookup_with(&ws, &targets, &plans, ix, few).found;
        let found = |t: usize, p: usize| {
            out[t * plans.len() + p]
                .as_ref()
                .map(|(k, f)| (*k, f.clone()))
        };
        let id = |t: usize, p: usize| {
            let file = targets[t].id.as_ref().unwrap();
            let plan = &plans[p];
            let v = crate::cache::variant(
                &plan.analyzer.as_ref().unwrap().identity().provider,
                &plan.analyzer.as_ref().unwrap().identity().model,
                &plan.analyzer.as_ref().unwrap().identity().prompt_hash,
                SCHEMA_VERSION,
            );
            crate::index::key_id(&key_of(plan, file, &v))
        };
        let (key, f) = found(0, 2).unwrap();
        assert_eq!(key, id(0, 2), "metrics of a.rs");
        assert!(
            matches!(f, Found::Hit { saved, .. } if saved == 0.25),
            "{f:?}"
        );
        assert_eq!(found(0, 0).unwrap().1, Found::Miss);
        assert!(found(0, 1).is_none(), "no analyzer, no key");
        assert!((0..3).all(|p| found(1, p).is_none()), "unidentified file");
        let (key, f) = found(2, 0).unwrap();
        assert_eq!(key, id(2, 0), "todos of c.rs");
        assert!(matches!(f, Found::Hit { .. }), "{f:?}");
        assert_eq!(found(2, 2).unwrap().1, Found::Miss);
    }
}

#[test]
fn shards_changed_since_the_last_sync_are_synced_then_answered_from_the_index() {
    for few in [FEW_KEYS, 0] {
        let dir = tempfile::tempdir().unwrap();
        let ws = workspace(dir.path());
        let types: Vec<String> = ["todos", "metrics"].iter().map(|s| s.to_string()).collect();
        let plans = crate::analyzer::registry::plans(&ws, &types).unwrap();
        let targets = vec![target("a.rs", 'a'), target("c.rs", 'c')];
        write_entry(&ws, &plans[1], &targets[0]);
        let index = Index::open(&ws);
        // Written by "another command" after the index last read the shards, with an
        // untrusted line beside it.
        write_entry(&ws, &plans[0], &targets[1]);
        let c = Location {
            place: Place::Tree,
            shard: ShardId {
                cache_type: "todos".into(),
                prefix: "cc".into(),
            },
        };
        let path = ws.store.path_of(&c);
        let mut bytes = std::fs::read(&path).unwrap();
        bytes.extend_from_slice(b"{\"not\":\"an entry\"}\n");
        std::fs::write(&path, bytes).unwrap();
        backdate_shards(&ws);
        let looked = lookup_with(&ws, &targets, &plans, Some(&index), few);
        let found = |t: usize, p: usize| looked.found[t * plans.len() + p].clone().unwrap().1;
        assert!(matches!(found(1, 0), Found::Hit { .. }), "few={few}");
        assert!(matches!(found(0, 1), Found::Hit { .. }), "few={few}");
        assert_eq!(found(0, 0), Found::Miss);
        assert_eq!(
            looked.bad.len(),
            1,
            "the untrusted line is reported: {:?}",
            looked.bad
        );
        // Synced here, so the run's record has nothing left to read.
        assert!(looked.stale.is_empty(), "few={few}: {:?}", looked.stale);
        let recorded = index.shard_sigs().unwrap();
        assert_eq!(
            recorded.get(&c.rel()).copied(),
            crate::index::shard_stat(&ws.store, &c),
            "the changed shard is recorded as it is now"
        );
        crate::index::hits::assert_tables_match_rows(&index);
    }
}

#[test]
fn entries_past_max_age_are_misses_however_the_keys_are_answered() {
    let dir = tempfile::tempdir().unwrap();
    let mut ws = workspace(dir.path());
    let types: Vec<String> = vec!["todos".into()];
    let plans = crate::analyzer::registry::plans(&ws, &types).unwrap();
    let yesterday = (jiff::Timestamp::now() - jiff::SignedDuration::from_hours(24)).to_string();
    // Shard `aa` holds an old and a recent entry (its records must be read one by one); shard
    // `cc` only a recent one that saves nothing (answered by its key id alone).
    let mut near = target("b.rs", 'a');
    if let Ok(f) = &mut near.id {
        f.blob = crate::git::BlobId::parse(&format!("aa{}", "b".repeat(38))).unwrap();
    }
    let targets = vec![target("a.rs", 'a'), near, target("c.rs", 'c')];
    write_entry_at(&ws, &plans[0], &targets[0], "2020-01-01T00:00:00Z", 0.25);
    write_entry_at(&ws, &plans[0], &targets[1], &yesterday, 0.25);
    write_entry_at(&ws, &plans[0], &targets[2], &yesterday, 0.0);
    backdate_shards(&ws);
    let index = Index::open(&ws);
    for (age, want_old) in [(None, true), (Some(30 * 86_400), false)] {
        ws.store = ws
            .store
            .clone()
            .with_max_age(age.map(std::time::Duration::from_secs));
        for few in [FEW_KEYS, 0] {
            let looked = lookup_with(&ws, &targets, &plans, Some(&index), few);
            assert!(looked.stale.is_empty(), "answered by the index, not read");
            let out = looked.found;
            let found = |t: usize| out[t].as_ref().unwrap().1.clone();
            assert_eq!(
                matches!(found(0), Found::Hit { .. }),
                want_old,
                "age {age:?}, few {few}: the 2020 entry"
            );
            assert_eq!(
                found(1),
                Found::Hit {
                    saved: 0.25,
                    overlay: false
                },
                "age {age:?}, few {few}"
            );
            assert_eq!(
                found(2),
                Found::Hit {
                    saved: 0.0,
                    overlay: false
                },
                "age {age:?}, few {few}"
            );
        }
    }
}
