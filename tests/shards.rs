//! The packed store with real git (issue 13): ordinary merges never conflict, with or without
//! the tool; commits carry exactly the analyses of the content they commit; re-runs never
//! dirty the tree; the overlay keeps working-tree-only analyses out of the work tree.

use std::collections::HashSet;
use std::path::Path;

use crate::common::*;

/// Every blob id in the tree of `rev`.
fn tree_blobs(env: &TestEnv, repo: &Path, rev: &str) -> HashSet<String> {
    env.git(repo, &["ls-tree", "-r", rev])
        .lines()
        .filter(|l| !l.contains(".rustassistant/"))
        .filter_map(|l| l.split_whitespace().nth(2).map(str::to_string))
        .collect()
}

/// The commit `rev` carries exactly the analyses of its own content: an entry for every
/// (blob, offline type) of its source files, and none for any other blob.
#[track_caller]
fn assert_exact(env: &TestEnv, repo: &Path, rev: &str) {
    let blobs = tree_blobs(env, repo, rev);
    let entries = tree_entries(env, repo, rev);
    for e in &entries {
        let blob = e.split('/').nth(1).unwrap().split('-').next().unwrap();
        assert!(
            blobs.contains(blob),
            "{rev}: {e} is not of a committed blob"
        );
    }
    let sources: Vec<String> = env
        .git(repo, &["ls-tree", "-r", "--name-only", rev])
        .lines()
        .filter(|p| p.ends_with(".rs"))
        .map(str::to_string)
        .collect();
    for p in sources {
        let blob = env
            .git(repo, &["rev-parse", &format!("{rev}:{p}")])
            .trim()
            .to_string();
        let n = entries.iter().filter(|e| e.contains(&blob)).count();
        assert_eq!(n, 2, "{rev}: {p} has todos and metrics: {entries:?}");
    }
}

/// `cache verify` is clean and `cache stats` counts exactly the distinct keys on disk.
#[track_caller]
fn assert_consistent(env: &TestEnv, repo: &Path) {
    env.run(repo, &["cache", "verify"]).ok();
    let s = env.run(repo, &["cache", "stats", "--json"]).ok().json();
    let distinct: HashSet<String> = entry_files(repo).into_iter().collect();
    assert_eq!(s["total_entries"], distinct.len() as u64, "{s:#}");
    assert_eq!(s["invalid_entries"], 0);
}

const LONG: &str = "fn one() {}\n\nfn two() {}\n\nfn three() {}\n\nfn four() {}\n";

#[test]
fn the_ordinary_merge_and_merges_of_shared_shards_never_conflict() {
    let env = TestEnv::new();
    let mut files: Vec<(String, String)> = vec![("src/lib.rs".into(), LONG.into())];
    files.extend((0..40).map(|i| (format!("src/m{i}.rs"), format!("fn m{i}() {{}}\n"))));
    let repo = env.hooked("r", &borrowed(&files));
    env.git(&repo, &["branch", "side"]);
    // Two branches edit different lines of one file, and each adds new files (40 of them each:
    // with 256 shards a type, both sides land in some of the same shards).
    let edit = |from: &str, to: &str, tag: &str| {
        let text = std::fs::read_to_string(repo.join("src/lib.rs")).unwrap();
        std::fs::write(repo.join("src/lib.rs"), text.replace(from, to)).unwrap();
        for i in 0..40 {
            std::fs::write(
                repo.join(format!("src/{tag}{i}.rs")),
                format!("// TODO {tag}\nfn {tag}{i}() {{}}\n"),
            )
            .unwrap();
        }
        env.git(&repo, &["add", "-A"]);
        env.git(&repo, &["commit", "-q", "-m", tag]);
    };
    edit("fn one() {}", "fn one() { let a = 1; }", "main");
    env.git(&repo, &["checkout", "-q", "side"]);
    edit("fn four() {}", "fn four() { let b = 2; }", "side");
    // One side also drops a file whose analyses the other keeps (prune on commit).
    env.git(&repo, &["rm", "-q", "src/m0.rs"]);
    env.git(&repo, &["commit", "-q", "-m", "drop m0"]);
    env.git(&repo, &["checkout", "-q", "main"]);
    let shared: usize = {
        let a: HashSet<String> = env
            .git(
                &repo,
                &[
                    "diff",
                    "--name-only",
                    "side~2",
                    "main",
                    "--",
                    ".rustassistant",
                ],
            )
            .lines()
            .map(str::to_string)
            .collect();
        env.git(
            &repo,
            &[
                "diff",
                "--name-only",
                "side~2",
                "side",
                "--",
                ".rustassistant",
            ],
        )
        .lines()
        .filter(|l| a.contains(*l))
        .count()
    };
    assert!(shared > 5, "both sides changed the same shards ({shared})");
    let r = env.git_run(&repo, &["merge", "--no-edit", "side"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(!r.stdout.contains("CONFLICT"), "{}", r.stdout);
    assert_eq!(env.git(&repo, &["status", "--porcelain"]), "");
    let lib = std::fs::read_to_string(repo.join("src/lib.rs")).unwrap();
    assert!(lib.contains("let a = 1") && lib.contains("let b = 2"));
    assert_consistent(&env, &repo);
    // Both sides' analyses arrived, and the merge commit carries those of the merged lib.rs
    // (post-merge amends the merge commit git made with the tree it wrote before any hook).
    assert!(
        r.stderr.contains("added to the merge commit"),
        "{}",
        r.stderr
    );
    assert_exact(&env, &repo, "HEAD");
    assert_eq!(
        env.git(&repo, &["rev-list", "--parents", "-1", "HEAD"])
            .split_whitespace()
            .count(),
        3,
        "still a merge"
    );
    let v = env.run(&repo, &["analyze", "--all", "--json"]).ok().json();
    assert_eq!(v["summary"]["misses"], 0, "{v:#}");
}

#[test]
fn a_teammate_without_the_tool_merges_cleanly() {
    let env = TestEnv::new();
    let remote = env.bare_remote();
    let mut files: Vec<(String, String)> = vec![("src/lib.rs".into(), LONG.into())];
    files.extend((0..30).map(|i| (format!("src/m{i}.rs"), format!("fn m{i}() {{}}\n"))));
    let a = env.hooked("a", &borrowed(&files));
    env.git(&a, &["remote", "add", "origin", remote.to_str().unwrap()]);
    env.git(&a, &["push", "-q", "origin", "main"]);
    for (branch, from, to) in [
        ("x", "fn one() {}", "fn one() { 1; }"),
        ("y", "fn three() {}", "fn three() { 3; }"),
    ] {
        env.git(&a, &["checkout", "-q", "-b", branch, "main"]);
        let text = std::fs::read_to_string(a.join("src/lib.rs")).unwrap();
        std::fs::write(a.join("src/lib.rs"), text.replace(from, to)).unwrap();
        for i in 0..30 {
            std::fs::write(
                a.join(format!("src/{branch}{i}.rs")),
                format!("fn {branch}{i}() {{}}\n"),
            )
            .unwrap();
        }
        env.git(&a, &["add", "-A"]);
        env.git(&a, &["commit", "-q", "-m", branch]);
        env.git(&a, &["push", "-q", "origin", branch]);
    }
    // Someone who never installed rustassistant: plain git, no hooks, no merge driver.
    let b = env.clone_of(&remote, "b");
    let config = env.git(&b, &["config", "--list", "--local"]);
    assert!(!config.contains("merge.rustassistant"), "{config}");
    env.git(&b, &["checkout", "-q", "-b", "x", "origin/x"]);
    let r = env.git_run(&b, &["merge", "--no-edit", "origin/y"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert_eq!(env.git(&b, &["status", "--porcelain"]), "");
    // What they merged is a valid cache for those who have the tool.
    assert_consistent(&env, &b);
    let v = env.run(&b, &["analyze", "--all", "--json"]).ok().json();
    assert_eq!(v["summary"]["misses"], 2, "only the merged lib.rs: {v:#}");
}

#[test]
fn commits_carry_exactly_the_analyses_of_the_committed_content() {
    let env = TestEnv::new();
    let repo = env.hooked(
        "r",
        &[("src/a.rs", "fn a() {}\n"), ("src/b.rs", "fn b() {}\n")],
    );
    assert_exact(&env, &repo, "HEAD");
    // Plain commit of a partially staged file.
    std::fs::write(repo.join("src/a.rs"), "// TODO staged\nfn a() {}\n").unwrap();
    env.git(&repo, &["add", "src/a.rs"]);
    std::fs::write(repo.join("src/a.rs"), "// TODO unstaged\nfn a() {}\n").unwrap();
    env.git(&repo, &["commit", "-q", "-m", "partial"]);
    assert_exact(&env, &repo, "HEAD");
    // commit -a (a temporary index).
    std::fs::write(repo.join("src/b.rs"), "// FIXME all\nfn b() {}\n").unwrap();
    env.git(&repo, &["commit", "-q", "-a", "-m", "all"]);
    assert_exact(&env, &repo, "HEAD");
    // commit PATH (a temporary index beside the real one).
    std::fs::write(repo.join("src/b.rs"), "// HACK path\nfn b() {}\n").unwrap();
    std::fs::write(repo.join("src/c.rs"), "fn c() {}\n").unwrap();
    env.git(&repo, &["add", "src/c.rs"]);
    env.git(&repo, &["commit", "-q", "-m", "path", "src/b.rs"]);
    assert_exact(&env, &repo, "HEAD");
    // The real index agrees: no shard shows as modified or staged.
    let status = env.git(&repo, &["status", "--porcelain", "--", ".rustassistant"]);
    assert_eq!(status, "", "{status}");
    // c.rs is still staged; committing it carries its analyses without analysing again.
    let r = env.git_run(&repo, &["commit", "-q", "-m", "c"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_exact(&env, &repo, "HEAD");
    assert_consistent(&env, &repo);
}

#[test]
fn re_analysis_and_clear_then_analyze_leave_git_status_clean() {
    let env = TestEnv::new();
    let repo = env.repo(
        "r",
        &[
            ("a.rs", RUST_SRC),
            ("b.py", PY_SRC),
            ("c.rs", "fn c() {}\n"),
        ],
    );
    env.run(&repo, &["analyze", "--all"]).ok();
    env.git(&repo, &["add", "-A"]);
    env.git(&repo, &["commit", "-q", "-m", "cache"]);
    for args in [
        &["analyze", "--all", "--force"][..],
        &["analyze", "--all", "--force"],
    ] {
        env.run(&repo, args).ok();
        assert_eq!(env.git(&repo, &["status", "--porcelain"]), "", "{args:?}");
    }
    env.run(&repo, &["cache", "clear"]).ok();
    assert!(entry_files(&repo).is_empty());
    env.run_env(
        &repo,
        &["analyze", "--all"],
        &[("RUSTASSISTANT_NOW", "2030-01-01T00:00:00Z")],
    )
    .ok();
    // The results are equal to the committed ones, so the committed lines are written back
    // (their created_at included): nothing for git to see.
    assert_eq!(env.git(&repo, &["status", "--porcelain"]), "");
    // Determinism: the same entries give the same bytes however they are written.
    let once = shard_bytes(&repo);
    env.run(&repo, &["cache", "rebuild-index"]).ok();
    env.run(&repo, &["analyze", "--all", "--force"]).ok();
    assert!(shard_bytes(&repo) == once);
}

#[test]
fn working_tree_analyses_wait_in_the_overlay_and_never_block_a_checkout() {
    let env = TestEnv::new();
    let repo = env.hooked("r", &[("a.rs", "fn a() {}\n"), ("b.rs", "fn b() {}\n")]);
    // A branch whose shards differ.
    env.git(&repo, &["checkout", "-q", "-b", "other"]);
    std::fs::write(repo.join("z.rs"), "// TODO z\nfn z() {}\n").unwrap();
    env.git(&repo, &["add", "z.rs"]);
    env.git(&repo, &["commit", "-q", "-m", "z"]);
    env.git(&repo, &["checkout", "-q", "main"]);
    // Edit two files, stage one, analyse everything, commit.
    std::fs::write(repo.join("a.rs"), "// TODO a\nfn a() {}\n").unwrap();
    std::fs::write(repo.join("b.rs"), "// TODO b\nfn b() {}\n").unwrap();
    env.git(&repo, &["add", "a.rs"]);
    let v = env.run(&repo, &["analyze", "--all", "--json"]).ok().json();
    assert_eq!(v["summary"]["misses"], 4, "{v:#}");
    assert_eq!(
        overlay_lines(&repo).len(),
        4,
        "with the commit hook every new analysis waits in the overlay"
    );
    assert_eq!(
        env.git(&repo, &["status", "--porcelain", "--", ".rustassistant"]),
        ""
    );
    let r = env.git_run(&repo, &["commit", "-q", "-m", "a"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(!r.stderr.contains("left out"), "{}", r.stderr);
    let status = env.git(&repo, &["status", "--porcelain"]);
    assert_eq!(status, " M b.rs\n", "no shard modified after the commit");
    assert_exact(&env, &repo, "HEAD");
    // The unstaged file's analyses are still hits.
    let v = env.run(&repo, &["analyze", "b.rs", "--json"]).ok().json();
    assert_eq!(v["summary"]["hits"], 2, "{v:#}");
    // A checkout to a branch with different shards works (b.rs's edit travels along).
    let r = env.git_run(&repo, &["checkout", "-q", "other"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    env.git(&repo, &["checkout", "-q", "main"]);
    // Committing b.rs later carries its analyses, moved from the overlay, with no analysis.
    let misses =
        |env: &TestEnv| env.run(&repo, &["cache", "stats", "--json"]).ok().json()["misses"].clone();
    let before = misses(&env);
    env.git(&repo, &["add", "b.rs"]);
    let r = env.git_run(&repo, &["commit", "-q", "-m", "b"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr.contains("2 analyses added to this commit"),
        "{}",
        r.stderr
    );
    assert_exact(&env, &repo, "HEAD");
    assert!(overlay_lines(&repo).is_empty(), "moved, not copied");
    assert_eq!(env.git(&repo, &["status", "--porcelain"]), "");
    assert_eq!(misses(&env), before, "nothing analysed twice");
    assert_consistent(&env, &repo);
}

#[test]
fn max_age_makes_old_entries_misses_and_prune_older_than_drops_them() {
    let env = TestEnv::new();
    let repo = env.repo("r", &[("a.rs", RUST_SRC), ("b.rs", "fn b() {}\n")]);
    env.run_env(
        &repo,
        &["analyze", "a.rs"],
        &[("RUSTASSISTANT_NOW", "2020-01-01T00:00:00Z")],
    )
    .ok();
    env.run(&repo, &["analyze", "b.rs"]).ok();
    // The user's own max_age makes old entries misses.
    let user = env.home.join(".rustassistant/config.toml");
    std::fs::write(&user, "[cache]\nmax_age = \"90d\"\n").unwrap();
    let v = env
        .run(&repo, &["analyze", "--all", "--dry-run", "--json"])
        .ok();
    assert!(!v.stderr.contains("max_age"), "{}", v.stderr);
    let v = v.json();
    assert_eq!(
        (v["summary"]["hits"].clone(), v["summary"]["misses"].clone()),
        (2.into(), 2.into()),
        "a.rs's 2020 analyses are too old: {v:#}"
    );
    std::fs::remove_file(&user).unwrap();
    // A repository can never make anyone pay again: its max_age is ignored, said in one line.
    std::fs::write(
        repo.join(".rustassistant/config.toml"),
        "[cache]\nmax_age = \"90d\"\n",
    )
    .unwrap();
    let r = env
        .run(&repo, &["analyze", "--all", "--dry-run", "--json"])
        .ok();
    assert!(r.stderr.contains("ignored [cache] max_age"), "{}", r.stderr);
    assert_eq!(r.json()["summary"]["misses"], 0);
    std::fs::remove_file(repo.join(".rustassistant/config.toml")).unwrap();
    let dry = env
        .run(
            &repo,
            &[
                "cache",
                "prune",
                "--older-than",
                "90d",
                "--dry-run",
                "--json",
            ],
        )
        .ok()
        .json();
    assert_eq!(dry["count"], 2, "{dry:#}");
    let v = env
        .run(&repo, &["cache", "prune", "--older-than", "90d", "--json"])
        .ok()
        .json();
    assert_eq!(v["count"], 2);
    assert_eq!(entry_files(&repo).len(), 2);
    let r = env.run(&repo, &["cache", "prune", "--older-than", "soon"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert_consistent(&env, &repo);
}

#[test]
fn without_hooks_analyses_go_to_the_shards_like_a_lock_file() {
    let env = TestEnv::new();
    let repo = env.repo("r", &[("a.rs", "fn a() {}\n")]);
    env.run(&repo, &["analyze", "--all"]).ok();
    std::fs::write(repo.join("new.rs"), "// TODO new\nfn n() {}\n").unwrap();
    let v = env.run(&repo, &["analyze", "new.rs", "--json"]).ok().json();
    assert_eq!(v["summary"]["misses"], 2);
    assert_eq!(v["summary"]["stored_in"], "shards", "{v:#}");
    assert!(overlay_lines(&repo).is_empty(), "untracked too: the shards");
    // Analyses an earlier hooked setup left in the overlay move into the shards once their
    // content is staged.
    env.run(&repo, &["hooks", "install"]).ok();
    std::fs::write(repo.join("later.rs"), "// TODO later\nfn l() {}\n").unwrap();
    env.run(&repo, &["analyze", "later.rs"]).ok();
    assert_eq!(overlay_lines(&repo).len(), 2);
    env.run(&repo, &["hooks", "uninstall"]).ok();
    env.git(&repo, &["add", "-A"]);
    let v = env.run(&repo, &["analyze", "--all", "--json"]).ok().json();
    assert_eq!(v["summary"]["misses"], 0, "{v:#}");
    assert!(overlay_lines(&repo).is_empty(), "moved into the shards");
    let blob = env
        .git(&repo, &["hash-object", "new.rs"])
        .trim()
        .to_string();
    assert_eq!(
        entry_lines(&repo)
            .iter()
            .filter(|l| l.v["blob"] == blob.as_str())
            .count(),
        2
    );
    env.git(&repo, &["add", "-A"]);
    env.git(&repo, &["commit", "-q", "-m", "with analyses"]);
    assert_exact(&env, &repo, "HEAD");
    assert_consistent(&env, &repo);
}
