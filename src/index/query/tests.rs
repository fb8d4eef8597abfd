use super::*;

fn stamps(ix: &Index) -> (Vec<(i64, i64)>, String) {
    let mut q = ix
        .conn
        .prepare("SELECT id, last_accessed FROM access ORDER BY id")
        .unwrap();
    let rows = q
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    let last = ix
        .conn
        .query_row("SELECT value FROM meta WHERE key = 'last_stamp'", [], |r| {
            r.get(0)
        })
        .unwrap();
    (rows, last)
}

#[test]
fn a_run_with_the_hits_stamped_within_the_half_hour_writes_no_stamp() {
    let dir = tempfile::tempdir().unwrap();
    let mut ws = crate::workspace::test_workspace(dir.path());
    let mut ix = Index::open(&ws);
    let home = dir.path().join("home").display().to_string();
    let mut run = |ws: &mut Workspace, at: &str, ids: &[i64]| {
        ws.env = crate::util::env::Env::from_pairs([
            ("RUSTASSISTANT_HOME".to_string(), home.clone()),
            ("RUSTASSISTANT_NOW".to_string(), at.to_string()),
        ]);
        ix.record_run(ws, ids, &[], &Tally::default()).unwrap();
        stamps(&ix)
    };
    let t0 = jiff::Timestamp::from_second(1_800_000_000).unwrap();
    let at = |secs: i64| (t0 + jiff::SignedDuration::from_secs(secs)).to_string();
    let (rows, first) = run(&mut ws, &at(0), &[3, 1, 2]);
    assert_eq!(
        rows,
        [
            (1, t0.as_second()),
            (2, t0.as_second()),
            (3, t0.as_second())
        ]
    );
    // The same set, in another order, within the half hour: nothing is written.
    let (rows2, last) = run(&mut ws, &at(1700), &[2, 3, 1]);
    assert_eq!((&rows2, &last), (&rows, &first));
    // Another set is stamped (only its new id: the others are recent), and named.
    let (rows3, last) = run(&mut ws, &at(1700), &[1, 4]);
    assert_ne!(last, first);
    assert_eq!(rows3[3], (4, t0.as_second() + 1700));
    assert_eq!(rows3[0], (1, t0.as_second()));
    // Back to the first set within its half hour: still remembered, nothing is written.
    let (rows3b, last3b) = run(&mut ws, &at(1750), &[1, 2, 3]);
    assert_eq!((&rows3b, &last3b), (&rows3, &last));
    // Past the half hour the first set is stamped again: every hit is under an hour old.
    let (rows4, _) = run(&mut ws, &at(3000), &[1, 2, 3]);
    assert!(
        rows4[..3].iter().all(|r| r.1 == t0.as_second() + 3000),
        "{rows4:?}"
    );
}
