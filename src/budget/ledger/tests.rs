use super::*;
use crate::cache::Tokens;

#[test]
fn processes_that_open_a_new_ledger_at_once_all_get_it() {
    for _ in 0..20 {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("usage.db");
        let start = std::sync::Barrier::new(8);
        std::thread::scope(|s| {
            let opened: Vec<_> = (0..8)
                .map(|_| {
                    s.spawn(|| {
                        start.wait();
                        Ledger::open(&path).map(|_| ())
                    })
                })
                .collect();
            for o in opened {
                let r = o.join().unwrap();
                assert!(r.is_ok(), "{r:?}");
            }
        });
    }
}

#[test]
fn a_reservation_whose_process_is_gone_is_settled_at_its_input_by_the_next_open() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("usage.db");
    let mut l = Ledger::open(&path).unwrap();
    let res = Reservation {
        ts: jiff::Timestamp::now().as_second(),
        month: "2026-11",
        repo: "r",
        provider: "p",
        model: "m",
        cache_type: "refactor",
        amount: 0.5,
        input_usd: 0.02,
    };
    let mine = l.reserve(&res, Some(1.0)).unwrap().unwrap();
    let theirs = l.reserve(&res, Some(1.0)).unwrap().unwrap();
    // `theirs` was made by a process that has ended since (kill -9, power loss).
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let pid = child.id();
    child.wait().unwrap();
    l.conn
        .execute(
            "UPDATE requests SET pid = ?2, owner = '' WHERE id = ?1",
            params![theirs, pid as i64],
        )
        .unwrap();
    drop(l);
    let l = Ledger::open(&path).unwrap();
    assert_eq!(l.orphans_settled, 1);
    let m = l.month("2026-11").unwrap();
    assert!(
        (m.reserved_usd - 0.5).abs() < 1e-9,
        "ours stays open: {m:?}"
    );
    assert!(
        (m.settled_usd - 0.02).abs() < 1e-9,
        "theirs costs its input: {m:?}"
    );
    let how: String = l
        .conn
        .query_row("SELECT how FROM requests WHERE id = ?1", [theirs], |r| {
            r.get(0)
        })
        .unwrap();
    assert!(how.starts_with("orphaned"), "{how}");
    l.settle(mine, 0.01, &Tokens::default(), Settled::Abandoned)
        .unwrap();
    assert!(l
        .settled_how("2026-11")
        .unwrap()
        .iter()
        .any(|(h, n)| h.starts_with("abandoned") && *n == 1));
}

#[test]
fn a_version_1_ledger_is_upgraded_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("usage.db");
    {
        let c = rusqlite::Connection::open(&path).unwrap();
        c.execute_batch(
            "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
             INSERT INTO meta VALUES ('schema_version', '1');
             CREATE TABLE requests (id INTEGER PRIMARY KEY, ts INTEGER NOT NULL, month TEXT NOT NULL,
               repo TEXT NOT NULL, provider TEXT NOT NULL, model TEXT NOT NULL, cache_type TEXT NOT NULL,
               reserved_usd REAL NOT NULL, cost_usd REAL, state TEXT NOT NULL,
               tokens_in INTEGER NOT NULL DEFAULT 0, tokens_out INTEGER NOT NULL DEFAULT 0,
               tokens_cached INTEGER NOT NULL DEFAULT 0);
             CREATE TABLE savings (month TEXT NOT NULL, repo TEXT NOT NULL, model TEXT NOT NULL,
               cache_type TEXT NOT NULL, hits INTEGER NOT NULL, saved_usd REAL NOT NULL,
               PRIMARY KEY (month, repo, model, cache_type));
             INSERT INTO requests (ts, month, repo, provider, model, cache_type, reserved_usd, cost_usd, state)
               VALUES (0, '2026-11', 'r', 'p', 'm', 'refactor', 0.5, 0.25, 'settled');
             INSERT INTO requests (ts, month, repo, provider, model, cache_type, reserved_usd, state)
               VALUES (0, '2026-11', 'r', 'p', 'm', 'refactor', 0.5, 'reserved');",
        )
        .unwrap();
    }
    let l = Ledger::open(&path).unwrap();
    // The old open reservation is long past any deadline: charged its reservation.
    assert_eq!(l.orphans_settled, 1);
    let m = l.month("2026-11").unwrap();
    assert!((m.settled_usd - 0.75).abs() < 1e-9, "{m:?}");
    assert_eq!(m.requests, 2);
}
