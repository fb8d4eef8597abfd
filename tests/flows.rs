//! Every everyday flow keeps the cache in step (issue 40): without hooks, automatic merges,
//! rebases with a resolved conflict, `--no-verify` commits, cherry-picks, a teammate's clone,
//! and a personal configuration mistake.

use std::path::Path;

use crate::common::*;

/// The number of entries in `rev`'s shards of the blob `rev:path`.
fn entries_of(env: &TestEnv, repo: &Path, rev: &str, path: &str) -> usize {
    let blob = env
        .git(repo, &["rev-parse", &format!("{rev}:{path}")])
        .trim()
        .to_string();
    tree_entries(env, repo, rev)
        .iter()
        .filter(|e| e.contains(&blob))
        .count()
}

/// `git status` shows nothing of the cache.
#[track_caller]
fn cache_clean(env: &TestEnv, repo: &Path) {
    let s = env.git(
        repo,
        &[
            "status",
            "--porcelain",
            "--untracked-files=all",
            "--",
            ".rustassistant",
        ],
    );
    assert_eq!(s, "", "the cache is in step with HEAD");
}

/// A clone of `repo` gets every analysis of HEAD as a hit, with no request and no miss.
#[track_caller]
fn teammate_gets_every_hit(env: &TestEnv, repo: &Path, name: &str) {
    let clone = env.root().join(name);
    env.git(
        env.root(),
        &[
            "clone",
            "-q",
            repo.to_str().unwrap(),
            clone.to_str().unwrap(),
        ],
    );
    let v = env.run(&clone, &["analyze", "--all", "--json"]).ok().json();
    assert_eq!(v["summary"]["misses"], 0, "{v:#}");
    assert!(v["summary"]["hits"].as_u64().unwrap() > 0, "{v:#}");
}

#[test]
fn without_hooks_analyze_add_commit_gives_a_teammate_every_analysis() {
    let env = TestEnv::new();
    let repo = env.repo("r", &borrowed(&sources(12, "a")));
    env.run(&repo, &["analyze", "--all"]).ok();
    env.git(&repo, &["add", "-A"]);
    env.git(&repo, &["commit", "-q", "-m", "analyses"]);
    // New files, analysed, then added and committed as a user without hooks does.
    write_files(&repo, &borrowed(&sources(24, "b")));
    let r = env.run(&repo, &["analyze", "--all"]).ok();
    assert!(
        r.stdout.contains("commit them with your changes"),
        "the summary says where the analyses are: {}",
        r.stdout
    );
    env.git(&repo, &["add", "-A"]);
    env.git(&repo, &["commit", "-q", "-m", "more"]);
    assert!(overlay_lines(&repo).is_empty());
    let st = env.run(&repo, &["hooks", "status", "--json"]).ok().json();
    assert_eq!(st["new_analyses_go_to"], "shards", "{st:#}");
    cache_clean(&env, &repo);
    teammate_gets_every_hit(&env, &repo, "teammate");
}

#[test]
fn an_automatic_merge_commits_the_analyses_of_the_merged_content() {
    let env = TestEnv::new();
    let lib = "fn one() {}\n\nfn two() {}\n\nfn three() {}\n\nfn four() {}\n";
    let repo = env.hooked("r", &[("lib.rs", lib), ("a.rs", "fn a() {}\n")]);
    env.git(&repo, &["checkout", "-q", "-b", "side"]);
    std::fs::write(
        repo.join("lib.rs"),
        lib.replace("fn four() {}", "fn four() { 4; }"),
    )
    .unwrap();
    env.git(&repo, &["commit", "-q", "-am", "side"]);
    env.git(&repo, &["checkout", "-q", "main"]);
    std::fs::write(
        repo.join("lib.rs"),
        lib.replace("fn one() {}", "fn one() { 1; }"),
    )
    .unwrap();
    env.git(&repo, &["commit", "-q", "-am", "main"]);
    let r = env.git_run(&repo, &["merge", "--no-edit", "side"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let merged = std::fs::read_to_string(repo.join("lib.rs")).unwrap();
    assert!(merged.contains("1;") && merged.contains("4;"), "{merged}");
    assert_eq!(
        entries_of(&env, &repo, "HEAD", "lib.rs"),
        2,
        "todos and metrics"
    );
    assert_eq!(
        env.git(&repo, &["rev-list", "--parents", "-1", "HEAD"])
            .split_whitespace()
            .count(),
        3,
        "still a merge commit"
    );
    cache_clean(&env, &repo);
    // Nothing left to analyse; a branch switch is never refused; pre-push has nothing to say.
    let v = env.run(&repo, &["analyze", "--all", "--json"]).ok().json();
    assert_eq!(v["summary"]["misses"], 0, "{v:#}");
    cache_clean(&env, &repo);
    env.git(&repo, &["checkout", "-q", "side"]);
    env.git(&repo, &["checkout", "-q", "main"]);
    let remote = env.bare_remote();
    env.git(
        &repo,
        &["remote", "add", "origin", remote.to_str().unwrap()],
    );
    let p = env.git_run(&repo, &["push", "-q", "origin", "main"]);
    assert_eq!(p.code, 0, "{}", p.stderr);
    assert!(!p.stderr.contains("missing"), "{}", p.stderr);
    teammate_gets_every_hit(&env, &repo, "teammate");
}

#[test]
fn a_rebase_with_a_resolved_conflict_commits_the_resolved_contents_analyses() {
    let env = TestEnv::new();
    let repo = env.hooked("r", &[("a.rs", "fn a() { 0; }\n"), ("b.rs", "fn b() {}\n")]);
    env.git(&repo, &["checkout", "-q", "-b", "topic"]);
    std::fs::write(repo.join("a.rs"), "// TODO topic\nfn a() { 1; }\n").unwrap();
    env.git(&repo, &["commit", "-q", "-am", "topic"]);
    env.git(&repo, &["checkout", "-q", "main"]);
    std::fs::write(repo.join("a.rs"), "// TODO main\nfn a() { 2; }\n").unwrap();
    env.git(&repo, &["commit", "-q", "-am", "main"]);
    env.git(&repo, &["checkout", "-q", "topic"]);
    let r = env.git_run(&repo, &["rebase", "main"]);
    assert_ne!(r.code, 0, "a.rs conflicts");
    std::fs::write(repo.join("a.rs"), "// TODO resolved\nfn a() { 3; }\n").unwrap();
    env.git(&repo, &["add", "a.rs"]);
    let r = env
        .command("git", &repo, &["rebase", "--continue"])
        .env("GIT_EDITOR", "true")
        .output()
        .unwrap();
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    assert_eq!(
        entries_of(&env, &repo, "HEAD", "a.rs"),
        2,
        "the resolved content's"
    );
    // And none of the old blobs': every entry of HEAD is of a blob HEAD holds.
    let blobs: Vec<String> = env
        .git(&repo, &["ls-tree", "-r", "HEAD"])
        .lines()
        .filter(|l| !l.contains(".rustassistant/"))
        .filter_map(|l| l.split_whitespace().nth(2).map(str::to_string))
        .collect();
    for e in tree_entries(&env, &repo, "HEAD") {
        assert!(blobs.iter().any(|b| e.contains(b)), "{e} is stale");
    }
    cache_clean(&env, &repo);
    let v = env.run(&repo, &["analyze", "--all", "--json"]).ok().json();
    assert_eq!(v["summary"]["misses"], 0, "{v:#}");
    cache_clean(&env, &repo);
    env.git(&repo, &["checkout", "-q", "main"]);
}

#[test]
fn after_a_no_verify_commit_analyze_leaves_git_clean_and_the_next_commit_catches_up() {
    let env = TestEnv::new();
    let repo = env.hooked("r", &borrowed(&sources(30, "a")));
    env.git(&repo, &["checkout", "-q", "-b", "other"]);
    env.git(&repo, &["checkout", "-q", "main"]);
    write_files(&repo, &borrowed(&sources(30, "b")));
    env.git(&repo, &["commit", "-q", "--no-verify", "-am", "unhooked"]);
    let v = env.run(&repo, &["analyze", "--all", "--json"]).ok().json();
    assert_eq!(v["summary"]["misses"], 60, "{v:#}");
    assert_eq!(v["summary"]["stored_in"], "overlay", "{v:#}");
    let st = env.run(&repo, &["hooks", "status", "--json"]).ok().json();
    assert_eq!(st["new_analyses_go_to"], "overlay", "{st:#}");
    cache_clean(&env, &repo);
    env.git(&repo, &["checkout", "-q", "other"]);
    env.git(&repo, &["checkout", "-q", "main"]);
    // The next hooked commit carries them, though none of their files changed.
    std::fs::write(repo.join("README"), "x\n").unwrap();
    env.git(&repo, &["add", "README"]);
    let r = env.git_run(&repo, &["commit", "-q", "-m", "readme"]);
    assert!(r.stderr.contains("60 analyses added"), "{}", r.stderr);
    assert_eq!(entries_of(&env, &repo, "HEAD", "src/f7.rs"), 2);
    cache_clean(&env, &repo);
    teammate_gets_every_hit(&env, &repo, "teammate");
}

#[test]
fn a_cherry_pick_whose_parent_created_a_shard_never_conflicts() {
    let env = TestEnv::new();
    let repo = env.hooked("r", &[("a.rs", "fn a() {}\n")]);
    env.git(&repo, &["checkout", "-q", "-b", "feature"]);
    // Two commits: the first adds files, whose entries land in shards main never wrote; the
    // second adds others, some of whose entries land in those same shards.
    write_files(&repo, &borrowed(&sources(60, "first")));
    env.git(&repo, &["add", "-A"]);
    env.git(&repo, &["commit", "-q", "-m", "add files"]);
    let more: Vec<(String, String)> = (0..30)
        .map(|i| {
            (
                format!("more/m{i}.rs"),
                format!("// TODO more {i}\nfn m{i}() {{}}\n"),
            )
        })
        .collect();
    write_files(&repo, &borrowed(&more));
    env.git(&repo, &["add", "-A"]);
    env.git(&repo, &["commit", "-q", "-m", "add more"]);
    env.git(&repo, &["checkout", "-q", "main"]);
    let r = env.git_run(&repo, &["cherry-pick", "feature"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(!r.stdout.contains("CONFLICT") && !r.stderr.contains("CONFLICT"));
    env.git(&repo, &["revert", "--no-edit", "HEAD"]);
    cache_clean(&env, &repo);
}

#[test]
fn a_personal_config_mistake_never_blocks_a_commit() {
    let env = TestEnv::new();
    let repo = env.hooked("r", &[("a.rs", "fn a() {}\n")]);
    let user = env.home.join(".rustassistant/config.toml");
    for (text, setting) in [
        ("[llm]\nprovider = \"openai-compatible\"\n", "needs a base URL"),
        (
            "[llm]\nprovider = \"openai-compatible\"\nbase_url = \"http://127.0.0.1:9/v1\"\n[analysis]\ntypes = [\"todos\", \"refactor\"]\n",
            "needs a model",
        ),
    ] {
        std::fs::write(&user, text).unwrap();
        std::fs::write(repo.join("a.rs"), format!("// {setting}\nfn a() {{}}\n")).unwrap();
        let r = env.git_run(&repo, &["commit", "-q", "-am", setting]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        let line: Vec<&str> = r.stderr.lines().filter(|l| l.contains(setting)).collect();
        assert_eq!(line.len(), 1, "{}", r.stderr);
        assert!(
            line[0].contains("rustassistant") && line[0].contains(user.to_str().unwrap()),
            "{}",
            line[0]
        );
        // show without --type never fails for it.
        env.run(&repo, &["show", "a.rs"]).ok();
    }
}

#[test]
fn a_dry_run_records_no_hits_savings_or_access_times() {
    use crate::common::fake::FakeServer;
    let server = FakeServer::ok();
    let mut env = TestEnv::new();
    env.use_openai(&server.base_url("openai"));
    let repo = env.repo("r", &[("a.rs", RUST_SRC)]);
    env.run(&repo, &["analyze", "a.rs", "-t", "refactor"]).ok();
    env.run(&repo, &["cache", "stats", "--zero"]).ok();
    let costs = |env: &TestEnv| env.run(&repo, &["costs", "--json"]).ok().json();
    let before = costs(&env);
    let v = env
        .run(
            &repo,
            &["analyze", "a.rs", "-t", "refactor", "--dry-run", "--json"],
        )
        .ok()
        .json();
    assert_eq!(v["summary"]["hits"], 1, "{v:#}");
    assert_eq!(costs(&env), before, "no savings recorded");
    let s = env.run(&repo, &["cache", "stats", "--json"]).ok().json();
    assert_eq!(s["hits"], 0, "{s:#}");
    assert_eq!(server.count(), 1);
}

#[test]
fn quiet_runs_print_every_error_once_with_its_count() {
    let mut env = TestEnv::new();
    env.set("RUSTASSISTANT_PROVIDER", "openai");
    env.unset("OPENAI_API_KEY");
    let repo = env.repo("r", &borrowed(&sources(30, "a")));
    let r = env.run(&repo, &["analyze", "--all", "-t", "refactor", "-q"]);
    assert_eq!(r.stdout, "", "-q prints no per-file lines");
    let named: Vec<&str> = r
        .stderr
        .lines()
        .filter(|l| l.contains("OPENAI_API_KEY"))
        .collect();
    assert_eq!(
        named.len(),
        1,
        "one line for the repeated error:\n{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("29 more analyses with the same reason"),
        "{}",
        r.stderr
    );
    // -v lists every one.
    let r = env.run(&repo, &["analyze", "--all", "-t", "refactor", "-v"]);
    assert_eq!(
        r.stderr
            .lines()
            .filter(|l| l.contains("OPENAI_API_KEY"))
            .count(),
        30,
        "{}",
        r.stderr
    );
}

#[test]
fn files_over_the_size_bound_are_skips_for_every_command_and_hook() {
    let env = TestEnv::new();
    let big = format!("// TODO big\n{}", "x".repeat(300_000));
    let repo = env.repo("r", &[("a.rs", "fn a() {}\n"), ("big.rs", &big)]);
    let remote = env.bare_remote();
    env.git(
        &repo,
        &["remote", "add", "origin", remote.to_str().unwrap()],
    );
    env.run(&repo, &["init", "--hooks"]).ok();
    std::fs::write(
        repo.join(".rustassistant/config.toml"),
        "[hooks]\npre_push = \"strict\"\n",
    )
    .unwrap();
    env.git(&repo, &["add", "-A"]);
    env.git(&repo, &["commit", "-q", "-m", "cache"]);
    for args in [
        &["analyze", "--all"][..],
        &["analyze", "--all", "--dry-run"],
        &["analyze", "big.rs"],
    ] {
        let v = env
            .run(&repo, &[args, &["--json"][..]].concat())
            .ok()
            .json();
        assert_eq!(v["summary"]["errors"], 0, "{args:?}: {v:#}");
        assert_eq!(v["summary"]["skipped"], 2, "{args:?}: {v:#}");
    }
    let f = env.run(&repo, &["findings", "--json"]);
    assert_eq!(f.code, 0, "{}", f.stderr);
    let p = env.git_run(&repo, &["push", "-q", "origin", "main"]);
    assert_eq!(
        p.code, 0,
        "a strict pre-push passes a skipped file: {}",
        p.stderr
    );
}

#[test]
fn paid_types_analyse_source_files_unless_the_config_includes_others() {
    use crate::common::fake::FakeServer;
    let server = FakeServer::ok();
    let mut env = TestEnv::new();
    env.use_openai(&server.base_url("openai"));
    let repo = env.repo(
        "r",
        &[
            ("src/a.rs", "fn a() {}\n"),
            ("README.md", "# TODO docs\n"),
            ("Cargo.toml", "[package]\n"),
        ],
    );
    let v = env
        .run(
            &repo,
            &[
                "analyze", "--all", "-t", "refactor", "-t", "todos", "--json",
            ],
        )
        .ok()
        .json();
    assert_eq!(server.count(), 1, "only src/a.rs was sent: {v:#}");
    // The offline types still read every included file (a TODO in a README counts).
    let todos = v["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["type"] == "todos" && r["status"] == "miss")
        .count();
    assert_eq!(todos, 3, "{v:#}");
    std::fs::write(
        repo.join(".rustassistant/config.toml"),
        "[analysis]\ninclude = [\"**/*.rs\", \"**/*.md\"]\n",
    )
    .unwrap();
    env.run(&repo, &["analyze", "--all", "-t", "refactor"]).ok();
    assert_eq!(server.count(), 2, "README.md once the config includes it");
}

#[test]
fn a_tracked_file_deleted_before_analyze_is_a_skip_not_an_error() {
    let env = TestEnv::new();
    let repo = env.repo("r", &[("a.rs", "// TODO a\n"), ("b.rs", "// TODO b\n")]);
    std::fs::remove_file(repo.join("b.rs")).unwrap();
    let v = env.run(&repo, &["analyze", "--all", "--json"]).ok().json();
    assert_eq!(v["summary"]["errors"], 0, "{v:#}");
    let b: Vec<_> = v["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["path"] == "b.rs")
        .collect();
    assert!(
        b.iter()
            .all(|r| r["status"] == "skipped" && r["reason"] == "deleted in the working tree"),
        "{b:#?}"
    );
}
