//! Tests of the local index's sync.

use super::super::test_support::{add, entry};
use super::*;

#[test]
fn a_sync_reads_only_changed_shards_and_decodes_only_new_lines() {
    let dir = tempfile::tempdir().unwrap();
    let ws = crate::workspace::test_workspace(dir.path());
    add(&ws, &[entry('a', "todos"), entry('b', "todos")]);
    let mut ix = Index::open(&ws);
    assert_eq!(ix.stats(None).unwrap().total_entries, 2);
    assert_eq!(ix.sync(&ws).unwrap().shards_read, 0, "nothing changed");
    // One more line in shard aa: only that shard is read, one line added.
    let mut again = entry('a', "todos");
    again.blob = format!("aa{}", "c".repeat(38));
    add(&ws, &[again]);
    let st = ix.sync(&ws).unwrap();
    assert_eq!((st.shards_read, st.added, st.removed), (1, 1, 0));
    assert_eq!(ix.stats(None).unwrap().total_entries, 3);
    hits::assert_tables_match_rows(&ix);
    // A union-merge leftover: two lines for one key count once.
    let at = Location {
        place: Place::Tree,
        shard: ShardId::of(&entry('b', "todos").key()),
    };
    let p = ws.store.path_of(&at);
    let mut late = entry('b', "todos");
    late.created_at = "2027-01-01T00:00:00Z".into();
    late.result = serde_json::json!({"late": 1});
    let mut bytes = std::fs::read(&p).unwrap();
    bytes.extend(shard::encode_line(&late));
    bytes.push(b'\n');
    std::fs::write(&p, bytes).unwrap();
    ix.sync(&ws).unwrap();
    let s = ix.stats(None).unwrap();
    assert_eq!((s.total_entries, s.invalid_entries), (3, 0));
    hits::assert_tables_match_rows(&ix);
    std::fs::remove_file(&p).unwrap();
    ix.sync(&ws).unwrap();
    assert_eq!(ix.stats(None).unwrap().total_entries, 2);
    hits::assert_tables_match_rows(&ix);
}

#[test]
fn a_shard_read_again_with_the_same_lines_keeps_its_rows_and_takes_its_new_stat() {
    let dir = tempfile::tempdir().unwrap();
    let ws = crate::workspace::test_workspace(dir.path());
    add(&ws, &[entry('a', "todos"), entry('b', "todos")]);
    let ix = Index::open(&ws);
    let before = ix.stats(None).unwrap().total_entries;
    let at = Location {
        place: Place::Tree,
        shard: ShardId::of(&entry('a', "todos").key()),
    };
    // Same bytes, another mtime (as a shard recorded racily clean is seen next time).
    let past = std::time::SystemTime::now() - std::time::Duration::from_secs(10);
    let f = std::fs::File::options()
        .append(true)
        .open(ws.store.path_of(&at))
        .unwrap();
    f.set_modified(past).unwrap();
    let st = ix
        .sync_shards(&ws.store, std::slice::from_ref(&at))
        .unwrap();
    assert_eq!((st.shards_read, st.added, st.removed), (1, 0, 0));
    assert_eq!(
        ix.shard_sigs().unwrap().get(&at.rel()).copied(),
        stat(&ws.store, &at)
    );
    assert_eq!(ix.stats(None).unwrap().total_entries, before);
    assert_eq!(ix.line_table(&at.rel()).unwrap().len(), 1);
    hits::assert_tables_match_rows(&ix);
    let st = ix
        .sync_shards(&ws.store, std::slice::from_ref(&at))
        .unwrap();
    assert_eq!(st.shards_read, 0, "recorded as it is now");
}

#[test]
fn shards_gone_together_lose_their_rows_and_records_and_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let ws = crate::workspace::test_workspace(dir.path());
    add(
        &ws,
        &[
            entry('a', "todos"),
            entry('b', "todos"),
            entry('c', "todos"),
        ],
    );
    let ix = Index::open(&ws);
    let at = |c| Location {
        place: Place::Tree,
        shard: ShardId::of(&entry(c, "todos").key()),
    };
    let gone = [at('a'), at('b')];
    for l in &gone {
        std::fs::remove_file(ws.store.path_of(l)).unwrap();
    }
    let st = ix.sync_shards(&ws.store, &gone).unwrap();
    assert_eq!((st.shards_read, st.added, st.removed), (0, 0, 2));
    assert_eq!(ix.stats(None).unwrap().total_entries, 1);
    for table in ["shards", "shard_lines", "shard_hits"] {
        let left: Vec<String> = ix
            .conn
            .prepare(&format!("SELECT shard FROM {table}"))
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert!(left.contains(&at('c').rel()), "{table}");
        assert!(
            !left.contains(&at('a').rel()) && !left.contains(&at('b').rel()),
            "{table}"
        );
    }
    hits::assert_tables_match_rows(&ix);
}

#[test]
fn racy_windows_follow_the_file_systems_granularity() {
    let now = 1_800_000_000_123_456_789i64;
    let ms = 1_000_000;
    // Nanosecond stamps: racy only within the kernel's coarse tick (10 ms at most).
    assert!(super::super::is_racy(now - 5 * ms, now));
    assert!(!super::super::is_racy(now - 20 * ms, now));
    // Whole-second stamps: the shard may change again within that second.
    let second = now - now % 1_000_000_000;
    assert!(super::super::is_racy(second - 1_000 * ms, now));
    assert!(!super::super::is_racy(second - 3_000 * ms, now));
}

#[test]
fn line_tables_round_trip() {
    let recs = vec![(1u64, 0u32, 10u32), (u64::MAX, 11, 4)];
    assert_eq!(decode_lines(&encode_lines(&recs)), recs);
}

#[test]
fn shards_synced_from_the_bytes_written_get_the_rows_a_read_gives_and_a_stale_size_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let ws = crate::workspace::test_workspace(dir.path());
    add(&ws, &[entry('a', "todos")]);
    let ix = Index::open(&ws);
    let at = Location {
        place: Place::Tree,
        shard: ShardId::of(&entry('a', "todos").key()),
    };
    let p = ws.store.path_of(&at);
    let rows = |ix: &Index| -> Vec<(i64, i64, String)> {
        ix.conn
            .prepare("SELECT line_hash, valid, blob FROM entries ORDER BY line_hash")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap()
    };
    // A second line written to the shard, synced from the bytes written.
    let mut second = entry('a', "todos");
    second.blob = format!("aa{}", "d".repeat(38));
    let mut bytes = std::fs::read(&p).unwrap();
    bytes.extend(shard::encode_line(&second));
    bytes.push(b'\n');
    std::fs::write(&p, &bytes).unwrap();
    let st = ix.sync_written(&ws.store, &[(at.clone(), &bytes)]).unwrap();
    assert_eq!((st.shards_read, st.added), (1, 1));
    let from_bytes = rows(&ix);
    assert_eq!(from_bytes.len(), 2);
    assert_eq!(ix.line_table(&at.rel()).unwrap().len(), 2);
    hits::assert_tables_match_rows(&ix);
    // The same file synced by reading it gives the same rows.
    let fresh = tempfile::tempdir().unwrap();
    let ws2 = crate::workspace::test_workspace(fresh.path());
    std::fs::create_dir_all(ws2.store.path_of(&at).parent().unwrap()).unwrap();
    std::fs::write(ws2.store.path_of(&at), &bytes).unwrap();
    let ix2 = Index::open(&ws2);
    ix2.sync_shards(&ws2.store, std::slice::from_ref(&at))
        .unwrap();
    assert_eq!(rows(&ix2), from_bytes);
    // Bytes whose size is not the file's are not believed: the file is read.
    let mut third = entry('a', "todos");
    third.blob = format!("aa{}", "e".repeat(38));
    let mut more = bytes.clone();
    more.extend(shard::encode_line(&third));
    more.push(b'\n');
    std::fs::write(&p, &more).unwrap();
    ix.sync_written(&ws.store, &[(at.clone(), &bytes)]).unwrap();
    assert_eq!(rows(&ix).len(), 3);
    hits::assert_tables_match_rows(&ix);
}
