//! Other people's data (issue 11): folder names that are not UTF-8, forged entries, symlinked
//! cache folders, hostile paths and attributes, oversized replies, submodules, special files,
//! unreadable entries, and the index staying equal to what is on disk.

use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use crate::common::fake::{ok_reply, FakeServer};
use crate::common::*;

/// `cache stats` counts exactly the entry files on disk, and `cache verify` agrees.
#[track_caller]
fn assert_index_matches_disk(env: &TestEnv, repo: &Path) {
    let on_disk = entry_files(repo).len() as u64;
    let stats = env.run(repo, &["cache", "stats", "--json"]).ok().json();
    assert_eq!(stats["total_entries"], on_disk, "{stats:#}");
    env.run(repo, &["cache", "verify"]).ok();
}

#[test]
fn prune_keeps_every_valid_entry_when_head_has_a_latin1_folder_name() {
    let env = TestEnv::new();
    let repo = env.repo("r", &[("a.rs", "// TODO a\n"), ("z.rs", "// TODO z\n")]);
    let latin1 = std::ffi::OsStr::from_bytes(b"caf\xe9");
    std::fs::create_dir_all(repo.join(latin1)).unwrap();
    std::fs::write(repo.join(latin1).join("x.txt"), "x\n").unwrap();
    env.git(&repo, &["add", "-A"]);
    env.git(&repo, &["commit", "-q", "-m", "latin-1 folder"]);
    env.run(&repo, &["analyze", "--all"]).ok();
    let before = entry_files(&repo);
    assert_eq!(before.len(), 4, "{before:?}");
    let r = env.run(&repo, &["cache", "prune", "--json"]).ok().json();
    assert_eq!(r["count"], 0, "nothing at HEAD may be pruned: {r:#}");
    assert_eq!(entry_files(&repo), before);
    // The commit hook's prune decides on the same complete evidence.
    env.run(&repo, &["hooks", "install"]).ok();
    env.git(&repo, &["add", "-A"]);
    std::fs::write(repo.join("a.rs"), "// TODO a2\n").unwrap();
    env.git(&repo, &["commit", "-q", "-am", "edit a"]);
    let tree = tree_entries(&env, &repo, "HEAD");
    let z_blob = env
        .git(&repo, &["rev-parse", "HEAD:z.rs"])
        .trim()
        .to_string();
    assert!(
        tree.iter().filter(|l| l.contains(&z_blob)).count() == 2,
        "z.rs keeps both entries:\n{tree:?}"
    );
    assert_index_matches_disk(&env, &repo);
}

#[test]
fn show_applies_require_signature_like_analyze() {
    let env = TestEnv::new();
    let repo = env.repo("r", &[("a.rs", RUST_SRC)]);
    env.run(&repo, &["analyze", "a.rs", "-t", "todos"]).ok();
    env.run(&repo, &["show", "a.rs"]).ok();
    std::fs::write(
        repo.join(".rustassistant/config.toml"),
        "[cache]\nrequire_signature = true\n",
    )
    .unwrap();
    let r = env.run(&repo, &["show", "a.rs"]);
    assert_eq!(r.code, 1, "an unsigned entry was shown:\n{}", r.stdout);
    assert!(r.stderr.contains("no cached analysis"), "{}", r.stderr);
}

#[test]
fn a_symlinked_cache_folder_is_never_written_to_or_deleted_from() {
    let env = TestEnv::new();
    let repo = env.repo("r", &[("a.rs", RUST_SRC)]);
    env.run(&repo, &["analyze", "a.rs", "-t", "todos"]).ok();
    let elsewhere = env.root().join("elsewhere");
    let planted = shard_files(&repo)[0].clone();
    // The real cache moves away; `cache` becomes a link to a folder outside the work tree
    // holding an entry-shaped file and an old temporary file.
    let cache = repo.join(".rustassistant/cache");
    std::fs::rename(&cache, &elsewhere).unwrap();
    let stale_tmp = elsewhere.join("todos/.tmp-old");
    std::fs::write(&stale_tmp, "x").unwrap();
    let old = std::time::SystemTime::now() - std::time::Duration::from_secs(7200);
    std::fs::File::options()
        .write(true)
        .open(&stale_tmp)
        .unwrap()
        .set_modified(old)
        .unwrap();
    std::os::unix::fs::symlink(&elsewhere, &cache).unwrap();
    let snapshot = |d: &Path| -> Vec<std::path::PathBuf> {
        let mut v: Vec<_> = walkdir::WalkDir::new(d)
            .into_iter()
            .flatten()
            .map(|e| e.path().to_path_buf())
            .collect();
        v.sort();
        v
    };
    let before = snapshot(&elsewhere);
    for args in [
        &["analyze", "--all", "--force"][..],
        &["cache", "clear"],
        &["cache", "prune"],
        &["cache", "evict", "--max-size", "0"],
        &["cache", "migrate"],
        &["cache", "stats"],
    ] {
        let r = env.run(&repo, args);
        assert_ne!(r.code, 0, "{args:?} accepted a symlinked cache");
        assert!(r.stderr.contains("symbolic link"), "{args:?}: {}", r.stderr);
        assert_eq!(snapshot(&elsewhere), before, "{args:?} touched the outside");
    }
    // A symlinked type folder inside a real cache: the same.
    std::fs::remove_file(&cache).unwrap();
    std::fs::create_dir_all(&cache).unwrap();
    std::os::unix::fs::symlink(elsewhere.join("todos"), cache.join("todos")).unwrap();
    // The analysis is kept, in the local overlay, and the link is named.
    let r = env.run(&repo, &["analyze", "a.rs", "-t", "todos", "--force"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("symbolic link"), "{}", r.stderr);
    assert_eq!(overlay_lines(&repo).len(), 1);
    env.run(&repo, &["cache", "clear"]);
    assert_eq!(snapshot(&elsewhere), before);
    assert!(planted.to_string_lossy().contains("todos"));
}

#[test]
fn a_path_with_control_characters_is_refused_before_paying_and_printed_inert() {
    let server = FakeServer::ok();
    let mut env = TestEnv::new();
    env.use_openai(&server.base_url("openai"));
    let repo = env.repo("r", &[("a.rs", "fn a() {}\n")]);
    let evil = std::ffi::OsStr::from_bytes(b"ev\x1b[31mil.rs");
    std::fs::write(repo.join(evil), "fn e() {}\n").unwrap();
    for _ in 0..3 {
        let r = env.run(&repo, &["analyze", "--all", "-t", "refactor", "-v"]);
        assert!(!r.stdout.contains('\u{1b}') && !r.stderr.contains('\u{1b}'));
    }
    // a.rs paid once; the evil path never.
    assert_eq!(server.count(), 1);
    assert!(server
        .recorded()
        .iter()
        .all(|r| !r.body.contains("ev\\u001b")));
}

#[test]
fn a_reply_no_reader_would_accept_is_never_written() {
    let server = FakeServer::start(|r, _| {
        let huge = format!(
            r##"{{"summary": "big", "markdown": "{}"}}"##,
            "x".repeat(5 * 1024 * 1024)
        );
        ok_reply(&r.path, &huge)
    });
    let mut env = TestEnv::new();
    env.use_openai(&server.base_url("openai"));
    let repo = env.repo("r", &[("a.rs", "fn a() {}\n")]);
    let r = env.run(&repo, &["analyze", "a.rs", "-t", "docs"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("larger than"), "{}", r.stderr);
    assert!(entry_files(&repo).is_empty());
    assert_index_matches_disk(&env, &repo);
}

#[test]
fn submodules_are_skipped_and_said_so() {
    let env = TestEnv::new();
    let sub = env.repo("sub", &[("lib.rs", "// TODO sub\n")]);
    let repo = env.repo("r", &[("a.rs", "// TODO a\n")]);
    env.git(
        &repo,
        &[
            "-c",
            "protocol.file.allow=always",
            "submodule",
            "add",
            "-q",
            sub.to_str().unwrap(),
            "vendored",
        ],
    );
    env.git(&repo, &["commit", "-q", "-m", "submodule"]);
    let r = env.run(&repo, &["analyze", "--all", "--json"]).ok();
    let v = r.json();
    assert!(
        v["results"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| !r["path"].as_str().unwrap().starts_with("vendored/")),
        "{v:#}"
    );
    assert_eq!(v["summary"]["skipped_submodules"][0], "vendored");
    let human = env.run(&repo, &["analyze", "--all"]).ok();
    assert!(
        human.stdout.contains("Skipped submodule vendored/"),
        "{}",
        human.stdout
    );
}

#[test]
fn special_files_named_by_the_user_are_refused_not_read_forever() {
    let env = TestEnv::new();
    let repo = env.repo("r", &[("a.rs", "fn a() {}\n")]);
    let r = env.run(&repo, &["cat", "/dev/zero"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("not a regular file"), "{}", r.stderr);
    let r = env.run(
        &repo,
        &["merge-entry", "/dev/null", "/dev/zero", "/dev/zero"],
    );
    assert_ne!(r.code, 0);
}

#[test]
fn a_hostile_gitattributes_leaves_diff_and_merge_of_sources_as_git_would() {
    let env = TestEnv::new();
    let repo = env.repo("r", &[("a.rs", "fn a() {\n    1\n}\n")]);
    env.run(&repo, &["hooks", "install"]).ok();
    std::fs::write(
        repo.join(".gitattributes"),
        "* merge=rustassistant diff=rustassistant\n",
    )
    .unwrap();
    env.git(&repo, &["add", ".gitattributes"]);
    env.git(&repo, &["commit", "-q", "-m", "hostile attributes"]);
    std::fs::write(repo.join("a.rs"), "fn a() {\n    2\n}\n").unwrap();
    let d = env.git(&repo, &["diff"]);
    assert!(d.contains("-    1") && d.contains("+    2"), "{d}");
    env.git(&repo, &["commit", "-q", "-am", "two"]);
    env.git(&repo, &["checkout", "-q", "-b", "other", "HEAD~1"]);
    std::fs::write(repo.join("a.rs"), "fn a() {\n    3\n}\n").unwrap();
    env.git(&repo, &["commit", "-q", "-am", "three"]);
    let r = env.git_run(&repo, &["merge", "main"]);
    assert_ne!(r.code, 0, "a conflicting source merge must stop");
    assert!(
        format!("{}{}", r.stdout, r.stderr).contains("CONFLICT"),
        "{}{}",
        r.stdout,
        r.stderr
    );
    let merged = std::fs::read_to_string(repo.join("a.rs")).unwrap();
    assert!(
        merged.contains("<<<<<<<") && merged.contains("    2") && merged.contains("    3"),
        "a normal conflict, not ours kept silently:\n{merged}"
    );
}

#[test]
fn the_index_equals_the_disk_after_every_hook_and_command() {
    let env = TestEnv::new();
    let repo = env.repo("r", &[("a.rs", "// TODO 1\n"), ("b.rs", "// TODO b\n")]);
    env.run(&repo, &["init", "--hooks"]).ok();
    env.git(&repo, &["add", "-A"]);
    // The hook analyses and commits; the next commit drops those entries again before any
    // command has looked at the index (the case that used to leave rows behind).
    env.git(&repo, &["commit", "-q", "-m", "init"]);
    for i in 2..5 {
        std::fs::write(repo.join("a.rs"), format!("// TODO {i}\n")).unwrap();
        std::fs::write(repo.join("b.rs"), format!("// TODO b{i}\n")).unwrap();
        env.git(&repo, &["commit", "-q", "-am", "edit"]);
        assert_index_matches_disk(&env, &repo);
    }
    env.run(&repo, &["cache", "prune"]).ok();
    assert_index_matches_disk(&env, &repo);
    env.run(&repo, &["cache", "clear", "--type", "todos"]).ok();
    assert_index_matches_disk(&env, &repo);
    env.run(&repo, &["cache", "evict", "--max-size", "1"]).ok();
    assert_index_matches_disk(&env, &repo);
}

/// Run the binary as an unprivileged user (root reads every file whatever its mode).
fn run_unprivileged(env: &TestEnv, dir: &Path, args: &[&str]) -> Option<Run> {
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    if !root {
        return Some(env.run(dir, args));
    }
    let setpriv = which("setpriv")?;
    let chown = std::process::Command::new("chown")
        .args(["-R", "65534:65534"])
        .arg(env.root())
        .status()
        .ok()?;
    if !chown.success() {
        return None;
    }
    let mut full = vec![
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
        "--",
        bin(),
    ];
    full.extend_from_slice(args);
    let out = std::process::Command::new(setpriv)
        .args(&full)
        .current_dir(dir)
        .env_clear()
        .envs(&env.vars)
        .output()
        .ok()?;
    Some(out.into())
}

fn which(tool: &str) -> Option<std::path::PathBuf> {
    std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join(tool))
            .find(|c| c.is_file())
    })
}

#[test]
fn an_unreadable_entry_is_not_a_hit() {
    let env = TestEnv::new();
    // The environment must be reachable by the unprivileged user.
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(env.root(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let repo = env.repo("r", &[("a.rs", RUST_SRC)]);
    env.run(&repo, &["analyze", "a.rs", "-t", "todos"]).ok();
    let entry = repo.join(&shard_files(&repo)[0]);
    std::fs::set_permissions(&entry, std::fs::Permissions::from_mode(0o000)).unwrap();
    let Some(r) = run_unprivileged(&env, &repo, &["analyze", "a.rs", "-t", "todos", "--json"])
    else {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("setpriv and chown are needed to run this test as root under CI");
        }
        eprintln!("SKIPPED an_unreadable_entry_is_not_a_hit: no setpriv to drop root");
        return;
    };
    let v = r.json();
    assert_eq!(
        v["summary"]["hits"], 0,
        "an unreadable entry counted as a hit: {v:#}"
    );
    // The analysis runs, but a shard it cannot read is never clobbered (it may hold other
    // people's lines): the entry waits in the local overlay instead, and that is said.
    assert_eq!(v["summary"]["errors"], 0, "{v:#}");
    assert!(r.stderr.contains("local overlay"), "{}", r.stderr);
    assert!(
        std::fs::metadata(&entry).unwrap().len() > 0,
        "the unreadable shard is left alone"
    );
}

#[test]
fn a_broken_or_symlinked_config_from_a_commit_never_blocks_a_commit() {
    let env = TestEnv::new();
    let repo = env.repo("r", &[("a.rs", "// TODO a\n")]);
    env.run(&repo, &["init", "--hooks"]).ok();
    std::fs::write(repo.join(".rustassistant/config.toml"), "[llm\nbroken").unwrap();
    std::fs::write(repo.join("a.rs"), "// TODO a2\n").unwrap();
    let r = env.git_run(&repo, &["commit", "-q", "-am", "broken config"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("pre-commit hook skipped"), "{}", r.stderr);
    let cfg = repo.join(".rustassistant/config.toml");
    std::fs::remove_file(&cfg).unwrap();
    std::os::unix::fs::symlink("/etc/hostname", &cfg).unwrap();
    std::fs::write(repo.join("a.rs"), "// TODO a3\n").unwrap();
    let r = env.git_run(&repo, &["commit", "-q", "-am", "symlinked config"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("symbolic link"), "{}", r.stderr);
}
