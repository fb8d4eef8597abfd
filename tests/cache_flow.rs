//! The offline flow end to end: init, analyze, hits, invalidation, sharing through a remote,
//! blob ids, bad input.

use crate::common::*;

/// Three files of three languages: six analyses with the two offline types.
const THREE_FILES: &[(&str, &str)] = &[
    ("src/main.rs", RUST_SRC),
    ("tool.py", PY_SRC),
    ("README.md", "# hi\n"),
];

/// Assert that `run` printed `text` on stdout (`why` says what it means when it did not).
fn says(run: &Run, text: &str, why: &str) {
    assert!(run.stdout.contains(text), "{why}: {}", run.stdout);
}

fn results_by_status(v: &serde_json::Value, status: &str) -> usize {
    v["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["status"] == status)
        .count()
}

#[test]
fn second_run_hits_everything_and_rewrites_nothing() {
    let env = TestEnv::new();
    let repo = env.repo("r", THREE_FILES);
    let first = env.run(&repo, &["analyze", "--all", "--json"]).ok().json();
    assert_eq!(first["summary"]["misses"], 6, "{first:#}");
    assert_eq!(first["summary"]["hits"], 0);
    env.git(&repo, &["add", "-A"]);
    env.git(&repo, &["commit", "-q", "-m", "cache"]);
    let before = snapshot(&repo);
    assert_eq!(entry_files(&repo).len(), 6);
    let status_before = env.git(&repo, &["status", "--porcelain"]);
    assert_eq!(status_before, "");

    let second = env.run(&repo, &["analyze", "--all", "--json"]).ok().json();
    assert_eq!(second["summary"]["hits"], 6, "{second:#}");
    assert_eq!(second["summary"]["misses"], 0);
    for r in second["results"].as_array().unwrap() {
        assert_eq!(r["status"], "hit");
        assert_eq!(
            r["tokens"],
            serde_json::json!({"input": 0, "output": 0, "cached_input": 0})
        );
    }
    assert_eq!(
        snapshot(&repo),
        before,
        "no shard rewritten (bytes and mtimes)"
    );
    assert_eq!(env.git(&repo, &["status", "--porcelain"]), "");

    // Human output keeps the familiar lines.
    let human = env.run(&repo, &["analyze", "src/main.rs"]).ok();
    assert!(
        human
            .stdout
            .contains("Using cached analysis for src/main.rs (todos)"),
        "{}",
        human.stdout
    );
}

#[test]
fn first_run_prints_the_familiar_lines_and_sets_up_the_folder() {
    let env = TestEnv::new();
    let repo = env.repo("r", &[("src/main.rs", RUST_SRC)]);
    let r = env.run(&repo, &["analyze", "src/main.rs"]).ok();
    assert!(
        r.stdout.contains("Analyzing src/main.rs (todos)..."),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("analysis cached"), "{}", r.stdout);
    assert!(
        r.stdout
            .contains("1 file, 2 analyses: 0 cached, 2 analysed"),
        "{}",
        r.stdout
    );
    assert!(r.stderr.contains("Set up"), "{}", r.stderr);
    assert!(
        r.stderr.contains("RUSTASSISTANT_PROVIDER"),
        "one line says how to enable the LLM types"
    );
    for f in ["README.md", "config.toml", ".gitattributes", "cache"] {
        assert!(repo.join(".rustassistant").join(f).exists(), "{f}");
    }
}

#[test]
fn changed_content_lands_on_a_new_path_and_the_old_entry_stays_readable() {
    let env = TestEnv::new();
    let repo = env.repo("r", &[("src/main.rs", RUST_SRC)]);
    env.run(&repo, &["analyze", "src/main.rs", "--type", "todos"])
        .ok();
    let shards = shard_files(&repo);
    assert_eq!(shards.len(), 1);
    // From here the commit hook is installed: new analyses wait in the overlay.
    env.run(&repo, &["hooks", "install"]).ok();
    let old_bytes = std::fs::read(repo.join(&shards[0])).unwrap();
    std::fs::write(
        repo.join("src/main.rs"),
        format!("{RUST_SRC}// HACK: more\n"),
    )
    .unwrap();
    let v = env
        .run(
            &repo,
            &["analyze", "src/main.rs", "--type", "todos", "--json"],
        )
        .ok()
        .json();
    assert_eq!(v["summary"]["misses"], 1);
    // With the hook, new analyses wait in the local overlay, never in the work tree.
    assert_eq!(entry_lines(&repo).len(), 1);
    assert_eq!(overlay_lines(&repo).len(), 1);
    assert_eq!(entry_files(&repo).len(), 2);
    let status = env.git(&repo, &["status", "--porcelain", "--untracked-files=all"]);
    assert!(
        status
            .lines()
            .all(|l| !l.contains(".jsonl") || l.starts_with("??")),
        "{status}"
    );
    assert_eq!(
        std::fs::read(repo.join(&shards[0])).unwrap(),
        old_bytes,
        "old entry untouched"
    );
    let cat = env
        .run(&repo, &["cat", shards[0].to_str().unwrap()])
        .ok()
        .json();
    assert_eq!(cat["result"]["count"], 1);
    let shown = env
        .run(&repo, &["show", "src/main.rs", "--type", "todos", "--json"])
        .ok()
        .json();
    assert_eq!(shown["entries"][0]["result"]["count"], 2);
    assert_eq!(shown["entries"][0]["result"]["items"][1]["tag"], "HACK");
}

#[test]
fn a_clone_after_pull_gets_every_analysis_as_a_hit() {
    let env = TestEnv::new();
    let remote = env.bare_remote();
    let a = env.repo("a", &[("src/lib.rs", RUST_SRC), ("src/util.py", PY_SRC)]);
    env.git(&a, &["remote", "add", "origin", remote.to_str().unwrap()]);
    env.git(&a, &["push", "-q", "origin", "main"]);
    let b = env.clone_of(&remote, "b");

    env.run(&a, &["analyze", "--all"]).ok();
    env.git(&a, &["add", ".rustassistant"]);
    env.git(&a, &["commit", "-q", "-m", "analyses"]);
    env.git(&a, &["push", "-q", "origin", "main"]);

    env.git(&b, &["pull", "-q", "origin", "main"]);
    let v = env.run(&b, &["analyze", "--all", "--json"]).ok().json();
    let total = v["results"].as_array().unwrap().len();
    assert_eq!(total, 4);
    assert_eq!(v["summary"]["hits"], 4, "100% hits after pull: {v:#}");
    assert_eq!(v["summary"]["misses"], 0);
    assert_eq!(env.git(&b, &["status", "--porcelain"]), "");
}

#[test]
fn a_renamed_file_with_unchanged_content_is_a_hit() {
    let env = TestEnv::new();
    let repo = env.repo("r", &[("src/old.rs", RUST_SRC)]);
    env.run(&repo, &["analyze", "--all"]).ok();
    env.git(&repo, &["mv", "src/old.rs", "src/new.rs"]);
    let v = env
        .run(&repo, &["analyze", "src/new.rs", "--json"])
        .ok()
        .json();
    assert_eq!(v["summary"]["hits"], 2, "{v:#}");
    // Untracked copy: hashed from the work tree, same blob, still a hit.
    std::fs::write(repo.join("copy.rs"), RUST_SRC).unwrap();
    let v = env
        .run(&repo, &["analyze", "copy.rs", "--json"])
        .ok()
        .json();
    assert_eq!(v["summary"]["hits"], 2);
}

fn check_blob_ids(format: &str) {
    let env = TestEnv::new();
    let files: Vec<(String, String)> = (0..300)
        .map(|i| {
            (
                format!("d{}/f{i}.rs", i % 7),
                format!("// file {i}\nfn f{i}() {{}}\n{}", "x".repeat(i)),
            )
        })
        .collect();
    let refs = borrowed(&files);
    let repo = env.repo_with("r", &refs, &["--object-format", format]);
    // Modify some tracked files and add untracked ones: those are hashed, not read from the index.
    for i in (0..300).step_by(10) {
        std::fs::write(
            repo.join(format!("d{}/f{i}.rs", i % 7)),
            format!("// changed {i}\n"),
        )
        .unwrap();
    }
    write_files(&repo, &[("new/untracked.rs", "fn u() {}\n")]);
    let v = env
        .run(
            &repo,
            &[
                "analyze",
                "--all",
                "--changed",
                "--type",
                "todos",
                "--json",
                "--dry-run",
            ],
        )
        .ok()
        .json();
    let results = v["results"].as_array().unwrap();
    assert_eq!(results.len(), 301);
    let want_len = if format == "sha256" { 64 } else { 40 };
    for r in results {
        let path = r["path"].as_str().unwrap();
        let blob = r["blob"].as_str().unwrap();
        assert_eq!(blob.len(), want_len);
        let expected = env.git(&repo, &["hash-object", path]);
        assert_eq!(blob, expected.trim(), "{path}");
    }
    // Unmodified tracked files: the id is the index's own.
    let ls = env.git(&repo, &["ls-files", "-s"]);
    let index_ids: std::collections::HashMap<&str, &str> = ls
        .lines()
        .map(|l| {
            let (meta, path) = l.split_once('\t').unwrap();
            (path, meta.split(' ').nth(1).unwrap())
        })
        .collect();
    let mut compared = 0;
    for r in results {
        let path = r["path"].as_str().unwrap();
        if let Some(id) = index_ids.get(path) {
            let changed = path
                .split('/')
                .nth(1)
                .and_then(|f| f.strip_prefix('f'))
                .and_then(|n| n.strip_suffix(".rs"))
                .and_then(|n| n.parse::<usize>().ok())
                .is_some_and(|n| n % 10 == 0);
            if !changed {
                assert_eq!(r["blob"].as_str().unwrap(), *id, "{path}");
                compared += 1;
            }
        }
    }
    assert_eq!(compared, 270);
}

#[test]
fn blob_ids_equal_git_in_a_sha1_repository() {
    check_blob_ids("sha1");
}

#[test]
fn blob_ids_equal_git_in_a_sha256_repository() {
    check_blob_ids("sha256");
}

#[test]
fn dry_run_writes_nothing() {
    let env = TestEnv::new();
    let repo = env.repo("r", &[("a.rs", RUST_SRC)]);
    env.run(&repo, &["init"]).ok();
    let v = env
        .run(&repo, &["analyze", "--all", "--dry-run", "--json"])
        .ok()
        .json();
    assert_eq!(results_by_status(&v, "miss"), 2);
    assert!(entry_files(&repo).is_empty());
}

#[test]
fn zstd_in_a_config_is_reported_and_shards_stay_plain_text() {
    let env = TestEnv::new();
    let repo = env.repo("r", &[("a.rs", RUST_SRC), ("b.py", PY_SRC)]);
    env.run(&repo, &["analyze", "a.rs"]).ok();
    std::fs::write(
        repo.join(".rustassistant/config.toml"),
        "[cache]\ncompression = \"zstd\"\n",
    )
    .unwrap();
    let r = env.run(&repo, &["analyze", "b.py"]).ok();
    assert!(
        r.stderr
            .contains("compression = \"zstd\" no longer applies"),
        "{}",
        r.stderr
    );
    for s in shard_files(&repo) {
        let bytes = std::fs::read(repo.join(&s)).unwrap();
        assert!(
            std::str::from_utf8(&bytes).is_ok(),
            "{} is text",
            s.display()
        );
    }
    let v = env.run(&repo, &["analyze", "--all", "--json"]).ok().json();
    assert_eq!(v["summary"]["hits"], 4, "{v:#}");
}

#[test]
fn init_is_idempotent_and_works_from_a_subfolder_and_with_dash_c() {
    let env = TestEnv::new();
    let repo = env.repo("r", &[("src/a.rs", RUST_SRC)]);
    env.run(&repo.join("src"), &["init"]).ok();
    let cfg = repo.join(".rustassistant/config.toml");
    std::fs::write(&cfg, "[analysis]\ntypes = [\"todos\"]\n").unwrap();
    let again = env
        .run(env.root(), &["-C", repo.to_str().unwrap(), "init"])
        .ok();
    assert!(again.stdout.contains("already set up"), "{}", again.stdout);
    assert_eq!(
        std::fs::read_to_string(&cfg).unwrap(),
        "[analysis]\ntypes = [\"todos\"]\n",
        "never overwritten"
    );
    let v = env.run(&repo, &["analyze", "--all", "--json"]).ok().json();
    assert_eq!(
        v["results"].as_array().unwrap().len(),
        1,
        "configured types are used"
    );
}

#[test]
fn bad_input_gets_one_clear_line_and_the_right_exit_code() {
    let env = TestEnv::new();
    let outside = env.root().join("plain");
    std::fs::create_dir_all(&outside).unwrap();
    let r = env.run(&outside, &["analyze", "--all"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("not a git repository"), "{}", r.stderr);

    let repo = env.repo("r", &[("a.rs", RUST_SRC), ("bin.rs", "x\0y")]);
    let r = env.run(&repo, &["analyze", "missing.rs"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("missing.rs: no such file"),
        "{}",
        r.stderr
    );

    let r = env.run(&repo, &["analyze", outside.to_str().unwrap()]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("outside the repository"), "{}", r.stderr);

    let r = env.run(&repo, &["analyze", "a.rs", "--type", "bogus"]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("unknown analysis type `bogus`"),
        "{}",
        r.stderr
    );

    let v = env.run(&repo, &["analyze", "bin.rs", "--json"]).ok().json();
    assert_eq!(v["results"][0]["status"], "skipped");
    assert_eq!(v["results"][0]["reason"], "binary file");

    std::fs::create_dir_all(repo.join("dir")).unwrap();
    let r = env.run(&repo, &["show", "dir"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("is a directory"), "{}", r.stderr);

    let r = env.run(&repo, &["refactor", "analyze", "a.rs"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("needs an LLM provider"), "{}", r.stderr);

    std::fs::write(
        repo.join(".rustassistant/config.toml"),
        "[llm]\nprovider = \n",
    )
    .unwrap();
    let r = env.run(&repo, &["analyze", "a.rs"]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains(".rustassistant/config.toml:2"),
        "{}",
        r.stderr
    );
    assert_eq!(r.stderr.lines().count(), 1, "one line: {}", r.stderr);
}

#[test]
fn a_bad_include_pattern_is_an_error_wherever_the_filter_is_used_and_only_there() {
    let env = TestEnv::new();
    let repo = env.repo("r", &[("src/a.rs", RUST_SRC)]);
    env.run(&repo, &["init"]).ok();
    std::fs::write(
        repo.join(".rustassistant/config.toml"),
        "[analysis]\ninclude = [\"src/[a\"]\n",
    )
    .unwrap();
    // Selections that filter compile the patterns, and a bad one is a usage error naming it.
    for args in [
        &["analyze", "--all"][..],
        &["analyze", "src"],
        &["analyze", "--changed"],
    ] {
        let r = env.run(&repo, args);
        assert_eq!(r.code, 2, "{args:?}: {}", r.stderr);
        assert!(
            r.stderr
                .contains("invalid [analysis] include pattern `src/[a`"),
            "{args:?}: {}",
            r.stderr
        );
    }
    // A file named on the command line is analysed whatever include says: no filter, no error.
    let r = env.run(&repo, &["analyze", "src/a.rs", "--json"]).ok();
    assert_eq!(r.json()["summary"]["misses"], 2, "{}", r.stdout);
}

#[test]
fn a_corrupt_entry_is_reported_treated_as_a_miss_and_nothing_else_is_touched() {
    let env = TestEnv::new();
    let repo = env.repo("r", &[("a.rs", RUST_SRC), ("b.rs", "fn b() {}\n")]);
    env.run(&repo, &["analyze", "--all"]).ok();
    let before = snapshot(&repo);
    let b_blob = env.git(&repo, &["hash-object", "b.rs"]).trim().to_string();
    let victim = edit_line(
        &repo,
        |l| l.v["cache_type"] == "todos" && l.v["blob"] == b_blob.as_str(),
        |_| "{ \"schema_version\": 1, truncated".to_string(),
    );
    let r = env.run(&repo, &["analyze", "--all", "--json"]).ok();
    assert!(
        r.stderr
            .contains("1 untrusted cache entry ignored, treated as a miss"),
        "{}",
        r.stderr
    );
    let v = r.json();
    assert_eq!(v["summary"]["misses"], 1);
    assert_eq!(v["summary"]["hits"], 3);
    let after = snapshot(&repo);
    for (b, a) in before.iter().zip(&after) {
        if b.0 != victim {
            assert_eq!(b, a, "other entries untouched");
        }
    }
    assert_eq!(
        std::fs::read(repo.join(&victim)).unwrap(),
        before.iter().find(|x| x.0 == victim).unwrap().1,
        "repaired to the same bytes"
    );
}

type Evidence = Vec<(String, rustassistant::git::IndexStat, String)>;

/// The stat data the index sync may lean on, by the fast reader.
fn stat_evidence_fast(r: &rustassistant::git::Repo) -> Evidence {
    let mut out = Vec::new();
    r.index_stat_under("", |p, st, oid| {
        out.push((String::from_utf8(p.to_vec()).unwrap(), st, oid))
    })
    .unwrap();
    out
}

/// The same by libgit2: stage 0 regular files, neither assume-unchanged nor skip-worktree, older
/// than the index file (not racily clean).
fn stat_evidence_git2(r: &rustassistant::git::Repo, repo: &std::path::Path) -> Evidence {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(repo.join(".git/index")).unwrap();
    let index_mtime = (meta.mtime(), meta.mtime_nsec());
    r.index(None)
        .unwrap()
        .iter()
        .filter(|e| {
            (e.flags >> 12) & 3 == 0
                && e.mode & 0o170000 == 0o100000
                && e.flags & 0x8000 == 0
                && e.flags_extended & 0x4000 == 0
                && (e.mtime.seconds() as i64, e.mtime.nanoseconds() as i64) < index_mtime
        })
        .map(|e| {
            (
                String::from_utf8(e.path.clone()).unwrap(),
                rustassistant::git::IndexStat {
                    ino: e.ino,
                    size: e.file_size,
                    mtime: (e.mtime.seconds() as u32, e.mtime.nanoseconds()),
                },
                e.id.to_string(),
            )
        })
        .collect()
}

#[test]
fn the_direct_index_reader_agrees_with_libgit2_for_every_index_version_and_format() {
    for format in ["sha1", "sha256"] {
        let env = TestEnv::new();
        let files: Vec<(String, String)> = (0..120)
            .map(|i| {
                (
                    format!("dir{}/sub{}/file_{i}.rs", i % 5, i % 3),
                    format!("fn f{i}() {{}}\n"),
                )
            })
            .collect();
        let refs = borrowed(&files);
        let repo = env.repo_with("r", &refs, &["--object-format", format]);
        // An intent-to-add entry carries the extended flags of version 3.
        write_files(&repo, &[("ita.rs", "fn ita() {}\n")]);
        env.git(&repo, &["add", "--intent-to-add", "ita.rs"]);
        // Files whose stat data git itself ignores: never evidence for the index sync.
        let (assumed, skipped) = ("dir0/sub0/file_0.rs", "dir1/sub1/file_1.rs");
        env.git(&repo, &["update-index", "--assume-unchanged", assumed]);
        env.git(&repo, &["update-index", "--skip-worktree", skipped]);
        for version in ["2", "3", "4"] {
            env.git(&repo, &["update-index", "--index-version", version]);
            let r = rustassistant::git::Repo::discover(&repo).unwrap();
            let fast = r.tracked(None).unwrap();
            let reference = r.tracked_git2(None).unwrap();
            assert_eq!(fast.len(), 121, "{format} v{version}");
            assert_eq!(fast, reference, "{format} v{version}");
            assert_eq!(
                stat_evidence_fast(&r),
                stat_evidence_git2(&r, &repo),
                "{format} v{version}"
            );
            let evidence = stat_evidence_fast(&r);
            assert!(
                evidence.len() >= 100,
                "{format} v{version}: {}",
                evidence.len()
            );
            assert!(!evidence
                .iter()
                .any(|(p, _, _)| p == assumed || p == skipped));
        }
    }
}

#[test]
fn all_covers_what_git_would_track_untracked_included_ignored_excluded() {
    let env = TestEnv::new();
    let repo = env.repo(
        "r",
        &[
            ("tracked.rs", "fn t() {}\n"),
            (".gitignore", "ignored.rs\nbuild/\n"),
        ],
    );
    write_files(
        &repo,
        &[
            ("new.rs", "fn n() {}\n"),
            ("ignored.rs", "fn i() {}\n"),
            ("build/gen.rs", "fn g() {}\n"),
            ("notes.bin", "x"),
        ],
    );
    let v = env
        .run(&repo, &["analyze", "--all", "-t", "todos", "--json"])
        .ok()
        .json();
    let mut paths: Vec<&str> = v["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["path"].as_str().unwrap())
        .collect();
    paths.sort();
    assert_eq!(paths, vec!["new.rs", "tracked.rs"]);
}

#[test]
fn human_output_names_the_type_shows_skip_reasons_and_hints_only_when_useful() {
    let env = TestEnv::new();
    let repo = env.repo(
        "r",
        &[
            ("src/a.rs", RUST_SRC),
            ("src/big.rs", "x\0binary\n"),
            ("notes.txt", "not source\n"),
        ],
    );
    // (A binary file is known only once read, so the dry run counts it too.)
    let r = env.run(&repo, &["analyze", "--all", "--dry-run"]).ok();
    assert!(
        r.stdout.contains("0 cached, 4 to analyse") && r.stdout.contains("would analyse 4;"),
        "dry run says how many: {}",
        r.stdout
    );
    let r = env.run(&repo, &["analyze", "--all"]).ok();
    assert!(
        r.stdout.contains("Analyzing src/a.rs (todos)..."),
        "{}",
        r.stdout
    );
    // Skips are counted, and named with -v.
    assert!(
        r.stdout.contains("2 skipped (-v names them), 0 errors")
            && !r.stdout.contains("Skipped src/big.rs"),
        "{}",
        r.stdout
    );
    let v = env.run(&repo, &["analyze", "--all", "-v"]).ok();
    assert!(
        v.stdout.contains("Skipped src/big.rs (todos): binary file"),
        "-v shows each skip's reason: {}",
        v.stdout
    );
    assert!(
        r.stderr.contains("ran the offline analyses"),
        "{}",
        r.stderr
    );
    let r = env.run(&repo, &["analyze", "--all"]).ok();
    assert!(
        r.stdout
            .contains("Using cached analysis for src/a.rs (metrics)"),
        "{}",
        r.stdout
    );
    assert!(
        !r.stderr.contains("ran the offline analyses"),
        "no hint on an all-hit run: {}",
        r.stderr
    );
}

#[test]
fn show_rev_shows_the_committed_content_and_stats_zero_resets_counters() {
    let env = TestEnv::new();
    let repo = env.repo("r", &[("a.rs", "// TODO first\n")]);
    env.run(&repo, &["analyze", "a.rs"]).ok();
    env.run(&repo, &["analyze", "a.rs"]).ok();
    // The working copy moves on; HEAD's content keeps its results.
    std::fs::write(repo.join("a.rs"), "// TODO second\n").unwrap();
    assert_eq!(
        env.run(&repo, &["show", "a.rs"]).code,
        1,
        "not analysed yet"
    );
    let r = env.run(&repo, &["show", "--rev", "HEAD", "a.rs"]).ok();
    assert!(r.stdout.contains("first"), "{}", r.stdout);
    assert!(!r.stdout.contains("second"));
    let j = env
        .run(&repo, &["show", "--rev", "HEAD", "a.rs", "--json"])
        .ok()
        .json();
    let head_blob = env.git(&repo, &["rev-parse", "HEAD:a.rs"]);
    assert_eq!(j["blob"], head_blob.trim());
    assert_eq!(
        env.run(&repo, &["show", "--rev", "HEAD", "gone.rs"]).code,
        1
    );
    // Counters: one hit so far; --zero resets them, entries stay.
    let s = env.run(&repo, &["cache", "stats", "--json"]).ok().json();
    assert!(s["hits"].as_u64().unwrap() >= 2, "{s:#}");
    let z = env
        .run(&repo, &["cache", "stats", "--zero", "--json"])
        .ok()
        .json();
    assert_eq!(z["hits"], 0);
    assert_eq!(z["misses"], 0);
    assert_eq!(z["total_entries"], s["total_entries"]);
}

#[test]
fn the_summary_counts_files_and_hits_alike_with_or_without_json() {
    // Without --json, hits are counted, not given a line each: the summary must still count
    // every file once, whether its types hit, missed or both.
    let env = TestEnv::new();
    let repo = env.repo("r", THREE_FILES);
    // One type of one file first: the next run has a file with a hit and a miss.
    env.run(&repo, &["analyze", "src/main.rs", "--type", "todos"])
        .ok();
    let mixed = env.run(&repo, &["analyze", "--all"]).ok();
    let totals = "the summary line";
    says(
        &mixed,
        "3 files, 6 analyses: 1 cached, 5 analysed, 0 skipped, 0 errors",
        totals,
    );
    std::fs::write(repo.join("tool.py"), format!("{PY_SRC}# TODO: more\n")).unwrap();
    let human = env.run(&repo, &["analyze", "--all"]).ok();
    says(
        &human,
        "3 files, 6 analyses: 4 cached, 2 analysed, 0 skipped, 0 errors",
        totals,
    );
    let json = env.run(&repo, &["analyze", "--all", "--json"]).ok().json();
    assert_eq!(json["summary"]["hits"], 6, "{json:#}");
    assert_eq!(results_by_status(&json, "hit"), 6, "{json:#}");
    let verbose = env.run(&repo, &["analyze", "--all", "-v"]).ok();
    says(
        &verbose,
        "3 files, 6 analyses: 6 cached, 0 analysed",
        totals,
    );
    says(
        &verbose,
        "Using cached analysis for tool.py",
        "-v still lists each hit",
    );
}
