//! The local SQLite index: stats against a recount, eviction policies, prune, concurrency,
//! corruption, migration.

use std::path::Path;

use crate::common::fake::{ok_reply, FakeServer, Reply, RESULT};
use crate::common::*;

/// Totals recounted from the shard lines themselves (work tree and overlay): (valid entries,
/// bytes, tokens in+out). A key counts once; a line that is not an entry does not count.
fn recount(repo: &Path) -> (u64, u64, u64) {
    let (mut n, mut bytes, mut tokens) = (0, 0, 0);
    let mut seen = std::collections::HashSet::new();
    for l in entry_lines(repo).into_iter().chain(overlay_lines(repo)) {
        let Some(t) = l.v.get("tokens") else { continue };
        if l.v.get("variant").is_none() || !seen.insert(l.id()) {
            continue;
        }
        n += 1;
        bytes += l.text.len() as u64 + 1;
        tokens += t["input"].as_u64().unwrap() + t["output"].as_u64().unwrap();
    }
    (n, bytes, tokens)
}

/// Rewrite shard `rel` of `repo` keeping only the lines `keep` accepts, the way editors and
/// git write files (a new file renamed over the old one).
fn rewrite_shard(repo: &Path, rel: &Path, keep: impl Fn(usize, &str) -> Option<String>) {
    let p = repo.join(rel);
    let text = std::fs::read_to_string(&p).unwrap();
    let out: String = text
        .lines()
        .enumerate()
        .filter_map(|(i, l)| keep(i, l))
        .map(|l| l + "\n")
        .collect();
    let tmp = p.with_extension("edit");
    std::fs::write(&tmp, out).unwrap();
    std::fs::rename(&tmp, &p).unwrap();
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
        // Delete some lines behind the index's back, and a whole shard.
        for _ in 0..3 {
            let lines = entry_lines(&b);
            let victim = &lines[rnd(lines.len() as u64) as usize];
            rewrite_shard(&b, &victim.shard, |i, l| {
                (i + 1 != victim.n).then(|| l.to_string())
            });
        }
        let shards = shard_files(&b);
        let _ = std::fs::remove_file(b.join(&shards[rnd(shards.len() as u64) as usize]));
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
        let lines = entry_lines(&b);
        let edited = &lines[rnd(lines.len() as u64) as usize];
        rewrite_shard(&b, &edited.shard, |i, l| {
            Some(if i + 1 == edited.n {
                "{\"hand\": \"edited\"}".to_string()
            } else {
                l.to_string()
            })
        });
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
fn after_a_pull_only_changed_shards_are_read_and_only_new_lines_decoded() {
    // Thousands of entries over every shard, and a provider whose usage differs between the two
    // phases of the test, so a review re-run elsewhere is a different line for the same key.
    let phase = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let seen = phase.clone();
    let server = FakeServer::start(move |r, _| {
        let phase = seen.load(std::sync::atomic::Ordering::SeqCst);
        let out = [800, 900][phase];
        let result = RESULT.replace("\"fine\"", ["\"fine\"", "\"finer\""][phase]);
        let body = ok_reply(&r.path, &result)
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
    env.git(&a, &["add", "-A"]);
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
    std::thread::sleep(std::time::Duration::from_millis(300));
    synced(&env, &b, "fresh clone");

    // A teammate adds files (staged: their entries go to the shards) and re-runs the reviews,
    // which replaces their lines.
    write_files(&a, &borrowed(&sources(100, "g")));
    env.git(&a, &["add", "-A"]);
    env.run(&a, &["analyze", "--all", "-t", "todos", "-t", "metrics"])
        .ok();
    phase.store(1, std::sync::atomic::Ordering::SeqCst);
    args.push("--force");
    env.run(&a, &args).ok();
    env.git(&a, &["add", "-A"]);
    env.git(&a, &["commit", "-q", "-m", "more"]);
    env.git(&a, &["push", "-q", "origin", "main"]);
    env.git(&b, &["pull", "-q", "--no-rebase", "origin", "main"]);
    let changed = |from: &str| {
        env.git(
            &b,
            &[
                "diff",
                "--name-only",
                from,
                "HEAD",
                "--",
                ".rustassistant/cache",
            ],
        )
        .lines()
        .count() as u64
    };
    let pulled = changed("HEAD~1");
    // Past the racily-clean window, so every shard git did not rewrite counts as unchanged.
    std::thread::sleep(std::time::Duration::from_millis(300));
    let sync = synced(&env, &b, "after the pull");
    // 200 new lines, 20 rewritten reviews (a new line each, the old one gone).
    assert_eq!(
        (sync["added"].clone(), sync["removed"].clone()),
        (220.into(), 20.into()),
        "{sync}"
    );
    assert_eq!(
        sync["shards_read"], pulled,
        "only the shards the pull changed are read: {sync}"
    );

    // Back and forth: git rewrites the 20 reviews each time and adds or removes 200 entries.
    env.git(&b, &["checkout", "-q", "HEAD~1"]);
    std::thread::sleep(std::time::Duration::from_millis(300));
    let sync = synced(&env, &b, "after checking out the older commit");
    assert_eq!(
        (sync["added"].clone(), sync["removed"].clone()),
        (20.into(), 220.into()),
        "{sync}"
    );
    assert_eq!(sync["shards_read"], pulled, "{sync}");
    env.git(&b, &["checkout", "-q", "main"]);
    std::thread::sleep(std::time::Duration::from_millis(300));
    let sync = synced(&env, &b, "after checking out main again");
    assert_eq!(
        (sync["added"].clone(), sync["removed"].clone()),
        (220.into(), 20.into()),
        "{sync}"
    );

    // A hand edit in place (same inode) of one review: its shard is read again, one line
    // replaced.
    let review = entry_lines(&b)
        .into_iter()
        .find(|l| l.v["cache_type"] == "refactor" && l.v["path"] == "src/f0.rs")
        .unwrap();
    let p = b.join(&review.shard);
    let edited = review.text.replace("\"output\":900", "\"output\":901");
    assert_ne!(edited, review.text);
    let text = std::fs::read_to_string(&p)
        .unwrap()
        .replace(&review.text, &edited);
    std::fs::write(&p, text).unwrap();
    let sync = synced(&env, &b, "after an edit in place");
    assert_eq!(
        (
            sync["added"].clone(),
            sync["removed"].clone(),
            sync["shards_read"].clone()
        ),
        (1.into(), 1.into(), 1.into()),
        "{sync}"
    );
}

#[test]
fn an_entry_rewritten_in_place_is_caught_at_its_next_lookup_and_by_verify() {
    let env = TestEnv::new();
    let repo = env.repo("r", &[("a.rs", RUST_SRC)]);
    env.run(&repo, &["analyze", "a.rs", "-t", "todos"]).ok();
    let f = repo.join(&shard_files(&repo)[0]);
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
    std::fs::write(&f, "{ truncated\n").unwrap();
    let r = env
        .run(&repo, &["analyze", "a.rs", "-t", "todos", "--json"])
        .ok();
    assert!(r.stderr.contains("untrusted cache entry"), "{}", r.stderr);
    std::fs::write(&f, "{ truncated again\n").unwrap();
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
    // From the repository's config (untrusted), settings that delete paid results are ignored.
    std::fs::write(
        repo.join(".rustassistant/config.toml"),
        "[cache]\nmax_size = \"3kB\"\neviction = \"largest\"\n",
    )
    .unwrap();
    let r = env.run(&repo, &["analyze", "--all"]).ok();
    assert!(!r.stderr.contains("evicted"), "{}", r.stderr);
    assert!(
        r.stderr.contains("ignored [cache] max_size"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("[cache] eviction"), "{}", r.stderr);
    assert_eq!(entry_files(&repo).len(), 20);
    // The user's own config evicts.
    std::fs::remove_file(repo.join(".rustassistant/config.toml")).unwrap();
    std::fs::write(
        env.home.join(".rustassistant/config.toml"),
        "[cache]\nmax_size = \"3kB\"\n",
    )
    .unwrap();
    let r = env.run(&repo, &["analyze", "--all", "--force"]).ok();
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

/// Turn the shards of `repo` into the per-entry layout of earlier versions (plain and zstd by
/// turns), as an earlier version left the repository.
fn to_old_layout(repo: &Path) {
    for (i, l) in entry_lines(repo).into_iter().enumerate() {
        let mut v = l.v.clone();
        let variant = v.as_object_mut().unwrap().remove("variant").unwrap();
        let (ty, blob) = (
            v["cache_type"].as_str().unwrap(),
            v["blob"].as_str().unwrap(),
        );
        let dir = repo.join(format!(".rustassistant/cache/{ty}/{}", &blob[..2]));
        std::fs::create_dir_all(&dir).unwrap();
        let name = format!("{}-{}.json", &blob[2..], variant.as_str().unwrap());
        let json = serde_json::to_vec_pretty(&v).unwrap();
        if i % 2 == 0 {
            std::fs::write(dir.join(name), json).unwrap();
        } else {
            let z = zstd::bulk::compress(&json, 3).unwrap();
            std::fs::write(dir.join(name + ".zst"), z).unwrap();
        }
    }
    for s in shard_files(repo) {
        std::fs::remove_file(repo.join(s)).unwrap();
    }
}

#[test]
fn migrate_moves_the_earlier_layouts_into_shards_losing_nothing() {
    let env = TestEnv::new();
    let repo = env.repo(
        "r",
        &[("src/error.rs", RUST_SRC), ("src/gone.rs", "fn g() {}\n")],
    );
    env.run(&repo, &["analyze", "--all"]).ok();
    let shards = shard_bytes(&repo);
    to_old_layout(&repo);
    // Any command meeting the old layout says how to migrate, in one line.
    let r = env.run(&repo, &["analyze", "--all", "--dry-run"]).ok();
    assert!(
        r.stderr.contains("rustassistant cache migrate"),
        "{}",
        r.stderr
    );
    let v = env.run(&repo, &["cache", "stats"]).ok();
    assert!(
        v.stderr.contains("rustassistant cache migrate"),
        "{}",
        v.stderr
    );
    let v = env.run(&repo, &["cache", "migrate", "--json"]).ok().json();
    assert_eq!(v["moved"], 4, "{v:#}");
    assert!(
        shard_bytes(&repo) == shards,
        "the same shards, byte for byte: nothing lost, keys unchanged"
    );
    let hits = env.run(&repo, &["analyze", "--all", "--json"]).ok().json();
    assert_eq!(hits["summary"]["hits"], 4);
    let again = env.run(&repo, &["cache", "migrate", "--json"]).ok().json();
    assert_eq!(
        (again["moved"].clone(), again["shards_written"].clone()),
        (0.into(), 0.into())
    );
    let r = env.run(&repo, &["cache", "migrate", "--to", "zstd"]);
    assert_eq!(r.code, 2, "{}", r.stderr);

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
    assert_eq!(v["imported"], 1);
    assert_eq!(v["skipped"].as_array().unwrap().len(), 2);
    let shown = env
        .run(&repo, &["show", "src/error.rs", "-t", "refactor", "--json"])
        .ok()
        .json();
    assert_eq!(shown["entries"][0]["model"], "grok-beta");
    assert_eq!(shown["entries"][0]["tokens"]["input"], 1234);
    // The seed's flat files inside the cache folder itself are imported (and removed) by a
    // plain migrate.
    std::fs::write(
        repo.join(".rustassistant/cache/todos/src_error_rs.json"),
        serde_json::json!({"file_path": "src/error.rs", "file_hash": blob, "provider": "builtin", "model": "todos-v0",
            "result": {"items": []}, "tokens_used": 0, "cache_type": "todos"})
        .to_string(),
    )
    .unwrap();
    let v = env.run(&repo, &["cache", "migrate", "--json"]).ok().json();
    assert_eq!(v["imported"], 1, "{v:#}");
    assert!(!repo
        .join(".rustassistant/cache/todos/src_error_rs.json")
        .exists());
    env.run(&repo, &["cache", "verify"]).ok();
}

#[test]
fn a_migration_killed_at_random_moments_completes_on_the_next_run() {
    let env = TestEnv::new();
    let files: Vec<(String, String)> = (0..300)
        .map(|i| {
            (
                format!("src/f{i}.rs"),
                format!("// TODO {i}\nfn f{i}() {{}}\n"),
            )
        })
        .collect();
    let repo = env.repo("r", &borrowed(&files));
    env.run(&repo, &["analyze", "--all"]).ok();
    let shards = shard_bytes(&repo);
    to_old_layout(&repo);
    for i in 0..12u64 {
        let mut child = std::process::Command::new(bin())
            .args(["cache", "migrate", "-q"])
            .current_dir(&repo)
            .env_clear()
            .envs(&env.vars)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(3 + i * 7));
        let _ = child.kill();
        let _ = child.wait();
        env.run(&repo, &["cache", "verify"]);
    }
    env.run(&repo, &["cache", "migrate"]).ok();
    assert!(
        shard_bytes(&repo) == shards,
        "the same shards, byte for byte"
    );
    let hits = env.run(&repo, &["analyze", "--all", "--json"]).ok().json();
    assert_eq!(hits["summary"]["hits"], 600);
    assert_eq!(hits["summary"]["misses"], 0);
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
