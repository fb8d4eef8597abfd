//! The local SQLite index: stats against a recount, eviction policies, prune, concurrency,
//! corruption, migration.

use std::path::Path;

use crate::common::fake::{ok_reply, FakeServer, Reply, RESULT};
use crate::common::*;

/// Totals recounted from the entry files themselves: (valid entries, bytes, tokens in+out).
fn recount(repo: &Path) -> (u64, u64, u64) {
    let (mut n, mut bytes, mut tokens) = (0, 0, 0);
    for f in entry_files(repo) {
        let raw = std::fs::read(repo.join(&f)).unwrap();
        let json = if f.to_string_lossy().ends_with(".zst") {
            zstd::decode_all(&raw[..]).unwrap()
        } else {
            raw.clone()
        };
        let Ok(v) = serde_json::from_slice::<serde_json::Value>(&json) else {
            continue;
        };
        let Some(t) = v.get("tokens") else { continue };
        n += 1;
        bytes += raw.len() as u64;
        tokens += t["input"].as_u64().unwrap() + t["output"].as_u64().unwrap();
    }
    (n, bytes, tokens)
}

#[track_caller]
fn assert_stats_match(env: &TestEnv, repo: &Path, when: &str) {
    let s = env.run(repo, &["cache", "stats", "--json"]).ok().json();
    let (n, bytes, tokens) = recount(repo);
    assert_eq!(s["total_entries"], n, "{when}: {s:#}");
    assert_eq!(s["total_size_bytes"], bytes, "{when}");
    assert_eq!(s["total_tokens"], tokens, "{when}");
}

#[test]
fn stats_equal_a_recount_after_adds_deletes_pulls_checkouts_and_cleans() {
    let env = TestEnv::new();
    let remote = env.bare_remote();
    let files: Vec<(String, String)> = (0..30)
        .map(|i| {
            (
                format!("src/f{i}.rs"),
                format!("// TODO {i}\nfn f{i}() {{}}\n"),
            )
        })
        .collect();
    let refs = borrowed(&files);
    let a = env.repo("a", &refs);
    env.git(&a, &["remote", "add", "origin", remote.to_str().unwrap()]);
    env.run(&a, &["analyze", "--all"]).ok();
    assert_stats_match(&env, &a, "after first analyze");
    env.git(&a, &["add", "-A"]);
    env.git(&a, &["commit", "-q", "-m", "cache"]);
    env.git(&a, &["push", "-q", "origin", "main"]);
    let b = env.clone_of(&remote, "b");
    assert_stats_match(&env, &b, "fresh clone");

    // Deterministic pseudo-random operations.
    let mut seed: u64 = 0x2545f4914f6cdd1d;
    let mut rnd = |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    };
    for round in 0..6 {
        // Delete some entry files behind the index's back.
        let entries = entry_files(&b);
        for _ in 0..3 {
            let victim = &entries[rnd(entries.len() as u64) as usize];
            let _ = std::fs::remove_file(b.join(victim));
        }
        assert_stats_match(&env, &b, &format!("round {round}: after deletes"));
        // New content in A, analysed, pushed, pulled into B.
        let i = rnd(30);
        std::fs::write(
            a.join(format!("src/f{i}.rs")),
            format!("// FIXME round {round}\nfn g{round}() {{}}\n"),
        )
        .unwrap();
        std::fs::write(
            a.join(format!("src/new{round}.rs")),
            format!("fn n{round}() {{}}\n"),
        )
        .unwrap();
        env.run(&a, &["analyze", "--all"]).ok();
        env.git(&a, &["add", "-A"]);
        env.git(&a, &["commit", "-q", "-m", &format!("round {round}")]);
        env.git(&a, &["push", "-q", "origin", "main"]);
        env.git(&b, &["checkout", "-q", "--", "."]);
        env.git(&b, &["pull", "-q", "--no-rebase", "origin", "main"]);
        assert_stats_match(&env, &b, &format!("round {round}: after pull"));
        // A hand edit saved the way editors and git write files (new file, renamed over).
        let entries = entry_files(&b);
        let edited = b.join(&entries[rnd(entries.len() as u64) as usize]);
        let tmp = edited.with_extension("edit");
        std::fs::write(&tmp, "{\"hand\": \"edited\"}\n").unwrap();
        std::fs::rename(&tmp, &edited).unwrap();
        assert_stats_match(&env, &b, &format!("round {round}: after a hand edit"));
    }
    // Checking out an older commit, then cleaning untracked entries.
    env.git(&b, &["checkout", "-q", "-f", "HEAD~3"]);
    assert_stats_match(&env, &b, "after checkout of an older commit");
    env.run(&b, &["analyze", "--all"]).ok();
    env.git(&b, &["clean", "-q", "-fd", ".rustassistant"]);
    assert_stats_match(&env, &b, "after git clean");
}

/// `n` small source files `src/{tag}{i}.rs`, each with a TODO.
fn sources(n: usize, tag: &str) -> Vec<(String, String)> {
    (0..n)
        .map(|i| {
            (
                format!("src/{tag}{i}.rs"),
                format!("// TODO {tag} {i}\nfn {tag}{i}() {{}}\n"),
            )
        })
        .collect()
}

/// The counts of the sync that ran before the answer of `cache stats --json`.
#[track_caller]
fn synced(env: &TestEnv, repo: &Path, when: &str) -> serde_json::Value {
    let s = env.run(repo, &["cache", "stats", "--json"]).ok().json();
    let (n, bytes, tokens) = recount(repo);
    assert_eq!(s["total_entries"], n, "{when}: {s:#}");
    assert_eq!(s["total_size_bytes"], bytes, "{when}");
    assert_eq!(s["total_tokens"], tokens, "{when}");
    s["sync"].clone()
}

#[test]
fn after_a_pull_only_new_and_rewritten_entry_files_are_stated_and_same_name_rewrites_are_seen() {
    // Enough entries per folder that the sync reads git's index instead of a stat per file
    // (index::scan), and a provider whose usage differs between the two phases of the test, so
    // an entry git rewrites under the same name (and the same inode number: git unlinks and
    // creates, and the number comes straight back) changes the totals.
    let phase = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let seen = phase.clone();
    let server = FakeServer::start(move |r, _| {
        let out = [800, 900][seen.load(std::sync::atomic::Ordering::SeqCst)];
        let body = ok_reply(&r.path, RESULT)
            .body
            .replace(
                "\"completion_tokens\": 800",
                &format!("\"completion_tokens\": {out}"),
            )
            .replace(
                "\"total_tokens\": 2000",
                &format!("\"total_tokens\": {}", 1200 + out),
            );
        Reply::status(200, &body)
    });
    let mut env = TestEnv::new();
    env.use_openai(&server.base_url("openai"));
    let remote = env.bare_remote();
    let a = env.repo("a", &[("README.md", "hello\n")]);
    env.git(&a, &["remote", "add", "origin", remote.to_str().unwrap()]);
    write_files(&a, &borrowed(&sources(1500, "f")));
    env.run(&a, &["analyze", "--all", "-t", "todos", "-t", "metrics"])
        .ok();
    let reviewed: Vec<String> = (0..20).map(|i| format!("src/f{i}.rs")).collect();
    let mut args = vec!["analyze", "-t", "refactor"];
    args.extend(reviewed.iter().map(String::as_str));
    env.run(&a, &args).ok();
    env.git(&a, &["add", "-A"]);
    env.git(&a, &["commit", "-q", "-m", "sources and their analyses"]);
    env.git(&a, &["push", "-q", "origin", "main"]);
    let b = env.clone_of(&remote, "b");
    synced(&env, &b, "fresh clone");

    // A teammate adds files and re-runs the reviews, which rewrites their entries in place.
    write_files(&a, &borrowed(&sources(100, "g")));
    env.run(&a, &["analyze", "--all", "-t", "todos", "-t", "metrics"])
        .ok();
    phase.store(1, std::sync::atomic::Ordering::SeqCst);
    args.push("--force");
    env.run(&a, &args).ok();
    env.git(&a, &["add", "-A"]);
    env.git(&a, &["commit", "-q", "-m", "more"]);
    env.git(&a, &["push", "-q", "origin", "main"]);
    env.git(&b, &["pull", "-q", "--no-rebase", "origin", "main"]);
    let sync = synced(&env, &b, "after the pull");
    assert_eq!(sync["added"], 200, "{sync}");
    assert_eq!(sync["changed"], 20, "{sync}");
    // Without git's index every file of the ~200 changed folders is stat'ed (~1,230). A folder
    // whose mtime ties with git's index file would be stat'ed whole: allow for a few.
    let stated = sync["stat_calls"].as_u64().unwrap();
    assert!(
        (220..320).contains(&stated),
        "only the files git wrote are stat'ed: {sync}"
    );

    // Back and forth: git rewrites the 20 reviews each time and adds or removes 200 entries.
    env.git(&b, &["checkout", "-q", "HEAD~1"]);
    let sync = synced(&env, &b, "after checking out the older commit");
    assert_eq!(
        (sync["removed"].clone(), sync["changed"].clone()),
        (200.into(), 20.into()),
        "{sync}"
    );
    let stated = sync["stat_calls"].as_u64().unwrap();
    assert!((20..120).contains(&stated), "{sync}");
    env.git(&b, &["checkout", "-q", "main"]);
    let sync = synced(&env, &b, "after checking out main again");
    assert_eq!(
        (sync["added"].clone(), sync["changed"].clone()),
        (200.into(), 20.into()),
        "{sync}"
    );

    // A hand edit that writes the older review over the current one in place (same inode),
    // while something else adds and removes a file in the same folder: git's index still vouches
    // for the old file, but the folder changed after git wrote its index, so git's word does
    // not count there and the file is stat'ed and read again.
    let entry = entry_files(&b)
        .into_iter()
        .find(|f| {
            f.to_string_lossy().contains("/refactor/")
                && std::fs::read_to_string(b.join(f))
                    .unwrap()
                    .contains("\"src/f0.rs\"")
        })
        .unwrap();
    let older = env.git(&b, &["show", &format!("HEAD~1:{}", entry.display())]);
    std::fs::write(b.join(&entry), older).unwrap();
    let other = b.join(&entry).with_file_name("scratch");
    std::fs::write(&other, "x").unwrap();
    std::fs::remove_file(&other).unwrap();
    let sync = synced(&env, &b, "after an edit in place in a folder that changed");
    assert_eq!(sync["changed"], 1, "{sync}");
}

#[test]
fn an_entry_rewritten_in_place_is_caught_at_its_next_lookup_and_by_verify() {
    let env = TestEnv::new();
    let repo = env.repo("r", &[("a.rs", RUST_SRC)]);
    env.run(&repo, &["analyze", "a.rs", "-t", "todos"]).ok();
    let f = repo.join(&entry_files(&repo)[0]);
    let text = std::fs::read_to_string(&f)
        .unwrap()
        .replace("split this function", "forged advice!!");
    std::fs::write(&f, text).unwrap();
    let r = env
        .run(&repo, &["analyze", "a.rs", "-t", "todos", "--json"])
        .ok();
    // The forged text is self-consistent (fields still derive the key), so it is the result on
    // disk that is trusted only after being read again: the stat change forces that read.
    assert_eq!(r.json()["summary"]["hits"], 1);
    let shown = env.run(&repo, &["show", "a.rs", "-t", "todos"]).ok();
    assert!(
        shown.stdout.contains("forged advice"),
        "a re-read, not a stale index answer"
    );
    std::fs::write(&f, "{ truncated").unwrap();
    let r = env
        .run(&repo, &["analyze", "a.rs", "-t", "todos", "--json"])
        .ok();
    assert!(r.stderr.contains("untrusted cache entry"), "{}", r.stderr);
    std::fs::write(&f, "{ truncated again").unwrap();
    let v = env.run(&repo, &["cache", "verify", "--json"]);
    assert_eq!(v.code, 1);
    assert_eq!(v.json()["bad"].as_array().unwrap().len(), 1);
}

fn evicted(env: &TestEnv, repo: &Path, policy: &str, keep_bytes: u64) -> Vec<String> {
    let v = env
        .run(
            repo,
            &[
                "cache",
                "evict",
                "--policy",
                policy,
                "--max-size",
                &keep_bytes.to_string(),
                "--json",
            ],
        )
        .ok()
        .json();
    v["removed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["path"].as_str().unwrap().to_string())
        .collect()
}

fn sizes(env: &TestEnv, repo: &Path) -> u64 {
    env.run(repo, &["cache", "stats", "--json"]).ok().json()["total_size_bytes"]
        .as_u64()
        .unwrap()
}

#[test]
fn each_eviction_policy_removes_the_right_entries() {
    // Three files of clearly different sizes, analysed at three different times, with the
    // oldest one used most recently.
    let setup = |env: &TestEnv| {
        let repo = env.repo(
            "r",
            &[
                ("a.rs", "fn a() {}\n"),
                ("b.rs", &"// TODO b\n".repeat(40)),
                ("c.rs", "fn c() {}\n// TODO c\n"),
            ],
        );
        for (f, t) in [
            ("a.rs", "2026-11-01T00:00:00Z"),
            ("b.rs", "2026-11-02T00:00:00Z"),
            ("c.rs", "2026-11-03T00:00:00Z"),
        ] {
            env.run_env(
                &repo,
                &["analyze", f, "-t", "todos"],
                &[("RUSTASSISTANT_NOW", t)],
            )
            .ok();
        }
        env.run_env(
            &repo,
            &["analyze", "a.rs", "-t", "todos"],
            &[("RUSTASSISTANT_NOW", "2026-11-04T00:00:00Z")],
        )
        .ok();
        repo
    };
    let one_less = |env: &TestEnv, repo: &Path| sizes(env, repo) - 1;
    for (policy, first, why) in [
        ("lru", "b.rs", "least recently used first"),
        ("oldest", "a.rs", "oldest created first"),
        ("largest", "b.rs", "largest first"),
    ] {
        let env = TestEnv::new();
        let repo = setup(&env);
        assert_eq!(
            evicted(&env, &repo, policy, one_less(&env, &repo)),
            vec![first],
            "{why}"
        );
    }
    let env = TestEnv::new();
    let repo = setup(&env);
    assert!(
        evicted(&env, &repo, "largest", 0).len() == 3,
        "max-size 0 empties the cache"
    );
    assert_eq!(entry_files(&repo).len(), 0);

    // Tokens: a fake provider whose usage grows with each request.
    let server = FakeServer::start(|r, n| {
        let body = ok_reply(&r.path, RESULT).body.replace(
            "\"completion_tokens\": 800",
            &format!("\"completion_tokens\": {}", [50, 900, 300][n % 3]),
        );
        Reply::status(200, &body)
    });
    let mut env = TestEnv::new();
    env.use_openai(&server.base_url("openai"));
    let repo = env.repo(
        "r",
        &[
            ("a.rs", "fn a() {}\n"),
            ("b.rs", "fn b() {}\n"),
            ("c.rs", "fn c() {}\n"),
        ],
    );
    for f in ["a.rs", "b.rs", "c.rs"] {
        env.run(&repo, &["analyze", f, "-t", "refactor"]).ok();
    }
    assert_eq!(
        evicted(&env, &repo, "expensive", one_less(&env, &repo)),
        vec!["b.rs"],
        "most tokens first"
    );

    let r = env.run(&repo, &["cache", "evict", "--max-size", "lots"]);
    assert_eq!(r.code, 2, "an impossible size is a usage error");
    assert!(r.stderr.contains("--max-size"), "{}", r.stderr);
}

#[test]
fn max_size_in_config_evicts_after_writes() {
    let env = TestEnv::new();
    let files: Vec<(String, String)> = (0..10)
        .map(|i| (format!("f{i}.rs"), format!("// TODO {i}\nfn f{i}() {{}}\n")))
        .collect();
    let refs = borrowed(&files);
    let repo = env.repo("r", &refs);
    env.run(&repo, &["init"]).ok();
    std::fs::write(
        repo.join(".rustassistant/config.toml"),
        "[cache]\nmax_size = \"3kB\"\n",
    )
    .unwrap();
    let r = env.run(&repo, &["analyze", "--all"]).ok();
    assert!(r.stderr.contains("evicted"), "{}", r.stderr);
    assert!(sizes(&env, &repo) <= 3000);
}

#[test]
fn prune_keeps_exactly_the_entries_of_blobs_at_head() {
    let env = TestEnv::new();
    let repo = env.repo("r", &[("a.rs", "fn v1() {}\n"), ("b.rs", "fn b() {}\n")]);
    env.run(&repo, &["analyze", "--all", "-t", "todos"]).ok();
    std::fs::write(repo.join("a.rs"), "fn v2() {}\n").unwrap();
    env.run(&repo, &["analyze", "--all", "-t", "todos"]).ok();
    env.git(&repo, &["commit", "-qam", "v2"]);
    assert_eq!(entry_files(&repo).len(), 3);
    let dry = env
        .run(&repo, &["cache", "prune", "--dry-run", "--json"])
        .ok()
        .json();
    assert_eq!(dry["count"], 1);
    assert_eq!(entry_files(&repo).len(), 3, "dry run removes nothing");
    let v = env.run(&repo, &["cache", "prune", "--json"]).ok().json();
    assert_eq!(v["count"], 1);
    let left = env
        .run(&repo, &["analyze", "--all", "-t", "todos", "--json"])
        .ok()
        .json();
    assert_eq!(
        left["summary"]["hits"], 2,
        "the entries of HEAD's blobs remain"
    );
    assert_eq!(entry_files(&repo).len(), 2);
}

#[test]
fn clear_by_type_and_by_file() {
    let env = TestEnv::new();
    let repo = env.repo("r", &[("a.rs", RUST_SRC), ("b.rs", "fn b() {}\n")]);
    env.run(&repo, &["analyze", "--all"]).ok();
    assert_eq!(entry_files(&repo).len(), 4);
    env.run(&repo, &["cache", "clear", "--file", "a.rs"]).ok();
    assert_eq!(entry_files(&repo).len(), 2);
    env.run(&repo, &["cache", "clear", "--type", "metrics"])
        .ok();
    assert_eq!(entry_files(&repo).len(), 1);
    env.run(&repo, &["cache", "clear"]).ok();
    assert_eq!(entry_files(&repo).len(), 0);
}

#[test]
fn two_processes_syncing_at_once_both_succeed_and_agree() {
    let env = TestEnv::new();
    let files: Vec<(String, String)> = (0..300)
        .map(|i| (format!("f{i}.rs"), format!("// TODO {i}\n")))
        .collect();
    let refs = borrowed(&files);
    let repo = env.repo("r", &refs);
    env.run(&repo, &["analyze", "--all"]).ok();
    for round in 0..3 {
        std::fs::remove_dir_all(repo.join(".git/rustassistant")).unwrap();
        let spawn = |args: &[&str]| {
            std::process::Command::new(bin())
                .args(args)
                .current_dir(&repo)
                .env_clear()
                .envs(&env.vars)
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        };
        let p1 = spawn(&["cache", "stats", "--json"]);
        let p2 = spawn(if round == 1 {
            &["cache", "rebuild-index", "--json"]
        } else {
            &["cache", "stats", "--json"]
        });
        for p in [p1, p2] {
            let out = p.wait_with_output().unwrap();
            assert!(
                out.status.success(),
                "round {round}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(!stderr.contains("locked"), "{stderr}");
        }
        let s = env.run(&repo, &["cache", "stats", "--json"]).ok().json();
        assert_eq!(s["total_entries"], 600, "round {round}");
    }
}

#[test]
fn a_corrupt_or_outdated_index_is_rebuilt_with_one_warning() {
    let env = TestEnv::new();
    let repo = env.repo("r", &[("a.rs", RUST_SRC), ("b.rs", "fn b() {}\n")]);
    env.run(&repo, &["analyze", "--all"]).ok();
    let db = repo.join(".git/rustassistant/index.db");
    let good = env.run(&repo, &["cache", "stats", "--json"]).ok().json()["total_entries"].clone();
    assert_eq!(good, 4);
    type Corruption<'a> = (&'a str, Box<dyn Fn() + 'a>);
    let corruptions: Vec<Corruption> = vec![
        (
            "garbage",
            Box::new(|| {
                std::fs::write(&db, b"this is not a database at all, not even close......").unwrap()
            }),
        ),
        (
            "truncated",
            Box::new(|| {
                let bytes = std::fs::read(&db).unwrap();
                std::fs::write(&db, &bytes[..bytes.len().min(100)]).unwrap();
            }),
        ),
        (
            "old schema",
            Box::new(|| {
                let c = rusqlite::Connection::open(&db).unwrap();
                c.execute(
                    "UPDATE meta SET value = '0' WHERE key = 'schema_version'",
                    [],
                )
                .unwrap();
            }),
        ),
        (
            "foreign tables",
            Box::new(|| {
                let _ = std::fs::remove_file(&db);
                let c = rusqlite::Connection::open(&db).unwrap();
                c.execute_batch("CREATE TABLE other (x)").unwrap();
            }),
        ),
    ];
    for (what, corrupt) in corruptions {
        env.run(&repo, &["cache", "stats"]).ok();
        // Fold the WAL into the database file (the tool leaves it for SQLite's automatic
        // checkpoint) so the corruption below hits the whole index.
        rusqlite::Connection::open(&db)
            .unwrap()
            .execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")
            .unwrap();
        corrupt();
        let r = env.run(&repo, &["cache", "stats", "--json"]).ok();
        assert_eq!(
            r.stderr.matches("warning:").count(),
            1,
            "{what}: {}",
            r.stderr
        );
        assert_eq!(r.json()["total_entries"], 4, "{what}");
        let again = env.run(&repo, &["cache", "stats", "--json"]).ok();
        assert!(
            again.stderr.is_empty(),
            "{what}: repaired for good: {}",
            again.stderr
        );
    }
}

#[test]
fn migrate_round_trips_and_legacy_entries_are_imported_when_they_can_be_keyed() {
    let env = TestEnv::new();
    let repo = env.repo(
        "r",
        &[("src/error.rs", RUST_SRC), ("src/gone.rs", "fn g() {}\n")],
    );
    env.run(&repo, &["analyze", "--all"]).ok();
    let before = recount(&repo);
    let v = env
        .run(&repo, &["cache", "migrate", "--to", "zstd", "--json"])
        .ok()
        .json();
    assert_eq!(v["reencode"]["converted"], 4);
    assert!(entry_files(&repo)
        .iter()
        .all(|p| p.to_string_lossy().ends_with(".json.zst")));
    assert!(
        std::fs::read_to_string(repo.join(".rustassistant/config.toml"))
            .unwrap()
            .contains("compression = \"zstd\"")
    );
    let hits = env.run(&repo, &["analyze", "--all", "--json"]).ok().json();
    assert_eq!(hits["summary"]["hits"], 4);
    env.run(&repo, &["cache", "migrate", "--to", "json"]).ok();
    assert_eq!(recount(&repo).0, before.0);
    assert_eq!(recount(&repo).2, before.2);
    assert!(entry_files(&repo)
        .iter()
        .all(|p| p.to_string_lossy().ends_with(".json")));

    let legacy = env.root().join("legacy/cache/refactor");
    std::fs::create_dir_all(&legacy).unwrap();
    let blob = env
        .git(&repo, &["hash-object", "src/error.rs"])
        .trim()
        .to_string();
    let item = |path: &str, hash: &str| {
        serde_json::json!({"file_path": path, "file_hash": hash, "provider": "xai", "model": "grok-beta",
                           "result": {"smells": [], "suggestions": [], "scores": {}}, "tokens_used": 1234, "cache_type": "refactor"})
        .to_string()
    };
    std::fs::write(
        legacy.join("src_error_rs.json"),
        item("src/error.rs", &blob),
    )
    .unwrap();
    std::fs::write(
        legacy.join("src_old_rs.json"),
        item("src/old.rs", &"0".repeat(40)),
    )
    .unwrap();
    std::fs::write(legacy.join("broken.json"), "{nope").unwrap();
    let r = env.run(
        &repo,
        &[
            "cache",
            "migrate",
            "--from-legacy",
            env.root().join("legacy").to_str().unwrap(),
            "--json",
        ],
    );
    assert_eq!(r.code, 1, "some could not be keyed");
    let v = r.json();
    assert_eq!(v["legacy"]["imported"], 1);
    assert_eq!(v["legacy"]["not_imported"].as_array().unwrap().len(), 2);
    let shown = env
        .run(&repo, &["show", "src/error.rs", "-t", "refactor", "--json"])
        .ok()
        .json();
    assert_eq!(shown["entries"][0]["model"], "grok-beta");
    assert_eq!(shown["entries"][0]["tokens"]["input"], 1234);
}

#[test]
fn a_repository_inside_a_folder_named_cache_indexes_its_entries() {
    // Regression: the key of a written entry was once found by searching the absolute path
    // for "/cache/", which a parent folder can contain too.
    let env = TestEnv::new();
    let repo = env.repo(
        "cache/project",
        &[("a.rs", RUST_SRC), ("b.rs", "fn b() {}\n")],
    );
    env.run(&repo, &["analyze", "--all"]).ok();
    let s = env.run(&repo, &["cache", "stats", "--json"]).ok().json();
    assert_eq!(s["total_entries"], 4, "{s:#}");
    assert_eq!(s["invalid_entries"], 0);
}

#[test]
fn each_linked_worktree_has_its_own_index_of_its_own_entries() {
    let env = TestEnv::new();
    let main = env.repo("main", &[("a.rs", "// TODO a\nfn a() {}\n")]);
    let wt = env.root().join("wt");
    env.git(
        &main,
        &["worktree", "add", "-q", "-b", "side", wt.to_str().unwrap()],
    );
    write_files(
        &wt,
        &[("b.rs", "// TODO b\nfn b() {}\n"), ("c.rs", "fn c() {}\n")],
    );
    env.run(&main, &["analyze", "--all", "-t", "todos"]).ok();
    env.run(&wt, &["analyze", "--all", "-t", "todos"]).ok();
    // Alternating between them: each answers for its own entry files.
    for round in 0..2 {
        synced(&env, &main, &format!("main, round {round}"));
        synced(&env, &wt, &format!("worktree, round {round}"));
    }
    assert_eq!(recount(&main).0, 1);
    assert_eq!(recount(&wt).0, 3);
}
