//! Nothing a teammate's commit, a mistake or a Ctrl-C can break (issue 39): shard paths that
//! hold links, folders or giant files; outputs that are devices, FIFOs or links; interrupted
//! runs; settings that would delete paid results.

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

use crate::common::*;

/// Every symbolic link below `dir`.
fn links_below(dir: &Path) -> Vec<PathBuf> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .flatten()
        .filter(|e| e.path_is_symlink())
        .map(|e| e.path().to_path_buf())
        .collect()
}

#[test]
fn shard_paths_holding_links_folders_or_giant_files_never_leak_block_or_lose() {
    let env = TestEnv::new();
    let repo = env.hooked("r", &borrowed(&sources(24, "a")));
    // A teammate's commit turns every todos shard path into a link to a file outside the
    // repository, and half the metrics shard paths into folders.
    let victims = env.root().join("victims");
    std::fs::create_dir_all(&victims).unwrap();
    let cache = repo.join(".rustassistant/cache");
    for b in 0..256 {
        let todos = cache.join(format!("todos/{b:02x}.jsonl"));
        let _ = std::fs::remove_file(&todos);
        let victim = victims.join(format!("{b:02x}"));
        std::fs::write(&victim, "precious\n").unwrap();
        std::fs::set_permissions(&victim, std::fs::Permissions::from_mode(0o600)).unwrap();
        std::os::unix::fs::symlink(&victim, &todos).unwrap();
        if b < 128 {
            let metrics = cache.join(format!("metrics/{b:02x}.jsonl"));
            let _ = std::fs::remove_file(&metrics);
            std::fs::create_dir_all(&metrics).unwrap();
            std::fs::write(metrics.join("x"), "x\n").unwrap();
        }
    }
    env.git(&repo, &["add", "-A", ".rustassistant"]);
    env.git(&repo, &["commit", "-q", "--no-verify", "-m", "teammate"]);
    // And a shard over the size bound sits in the work tree (sparse: no disk is used).
    let giant = cache.join("metrics/ff.jsonl");
    let giant_len = (256u64 << 20) + 1;
    std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&giant)
        .unwrap()
        .set_len(giant_len)
        .unwrap();
    let links_before: Vec<(PathBuf, PathBuf)> = links_below(&cache)
        .into_iter()
        .map(|l| {
            let t = std::fs::read_link(&l).unwrap();
            (l, t)
        })
        .collect();
    assert_eq!(links_before.len(), 256);
    // Two rounds of edits, each committed with the hook (the second would write through a
    // spare that the first exchanged with a link).
    for round in ["b", "c"] {
        let files = sources(24, round);
        write_files(&repo, &borrowed(&files));
        env.git(&repo, &["add", "src"]);
        let r = env.git_run(&repo, &["commit", "-q", "-m", round]);
        assert_eq!(r.code, 0, "the commit was blocked:\n{}", r.stderr);
        let said: Vec<&str> = r
            .stderr
            .lines()
            .filter(|l| l.contains("left") && l.contains("shard"))
            .collect();
        assert_eq!(
            said.len(),
            1,
            "one line names the shards left:\n{}",
            r.stderr
        );
        assert!(said[0].contains("rustassistant"), "{}", said[0]);
        env.run(&repo, &["analyze", "--all"]).ok();
    }
    for b in 0..256 {
        let victim = victims.join(format!("{b:02x}"));
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n");
        let mode = std::fs::metadata(&victim).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{} was chmodded", victim.display());
    }
    let links_after: Vec<(PathBuf, PathBuf)> = links_below(&cache)
        .into_iter()
        .map(|l| {
            let t = std::fs::read_link(&l).unwrap();
            (l, t)
        })
        .collect();
    assert_eq!(
        links_after, links_before,
        "the links stay exactly where they were"
    );
    for b in 0..128 {
        assert!(cache.join(format!("metrics/{b:02x}.jsonl/x")).is_file());
    }
    assert_eq!(std::fs::metadata(&giant).unwrap().len(), giant_len);
    let git_dir = repo.join(".git");
    assert!(
        links_below(&git_dir.join("rustassistant")).is_empty(),
        "nothing was moved into the git dir"
    );
    // Nothing paid is lost: every analysis of the current content is a hit (the todos ones
    // from the overlay), and nothing is analysed again.
    let r = env.run(&repo, &["analyze", "--all", "--json"]).ok().json();
    assert_eq!(r["summary"]["misses"], 0, "{r:#}");
    let todos_waiting = overlay_lines(&repo)
        .iter()
        .filter(|l| l.v["cache_type"] == "todos")
        .count();
    assert!(todos_waiting >= 24, "{todos_waiting} todos entries wait");
    // `cache verify` names what it cannot use.
    let v = env.run(&repo, &["cache", "verify"]);
    assert_ne!(v.code, 0);
    assert!(
        v.stdout.contains("todos/00.jsonl") || v.stderr.contains("todos/00.jsonl"),
        "{}{}",
        v.stdout,
        v.stderr
    );
    assert!(
        v.stdout.contains("metrics/ff.jsonl") || v.stderr.contains("metrics/ff.jsonl"),
        "{}{}",
        v.stdout,
        v.stderr
    );
}

/// A private character device (the null device's numbers, in a temporary folder), or `None`
/// when this user may not make one (then the FIFO and link cases still run).
fn private_null(dir: &Path) -> Option<PathBuf> {
    let p = dir.join("null-device");
    let ok = std::process::Command::new("mknod")
        .args([p.to_str().unwrap(), "c", "1", "3"])
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        eprintln!("note: mknod is not permitted here; the device case is left to the FIFO case");
    }
    ok.then_some(p)
}

fn is_char_device(p: &Path) -> bool {
    use std::os::unix::fs::FileTypeExt as _;
    std::fs::symlink_metadata(p).is_ok_and(|m| m.file_type().is_char_device())
}

#[test]
fn outputs_write_through_devices_fifos_and_links_and_never_replace_them() {
    let env = TestEnv::new();
    let repo = env.repo("r", &[("a.rs", RUST_SRC)]);
    env.run(&repo, &["analyze", "--all"]).ok();
    let dir = env.root().join("out");
    std::fs::create_dir_all(&dir).unwrap();
    let commands: [&[&str]; 2] = [&["report", "-o"], &["findings", "--format", "sarif", "-o"]];
    if let Some(dev) = private_null(&dir) {
        for c in commands {
            let mut args = c.to_vec();
            args.push(dev.to_str().unwrap());
            env.run(&repo, &args).ok();
            assert!(is_char_device(&dev), "{c:?} replaced the device node");
        }
        // A link to the device: written through, both stay.
        let link = dir.join("to-device");
        std::os::unix::fs::symlink(&dev, &link).unwrap();
        env.run(&repo, &["findings", "-o", link.to_str().unwrap()])
            .ok();
        assert!(std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        assert!(is_char_device(&dev));
    }
    // A FIFO with a reader: the reader gets the document, the FIFO stays a FIFO.
    let fifo = dir.join("fifo");
    assert!(std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::read_to_string(fifo).unwrap())
    };
    env.run(
        &repo,
        &["findings", "--format", "json", "-o", fifo.to_str().unwrap()],
    )
    .ok();
    let got = reader.join().unwrap();
    assert!(
        serde_json::from_str::<serde_json::Value>(&got).is_ok(),
        "{got}"
    );
    {
        use std::os::unix::fs::FileTypeExt as _;
        assert!(std::fs::symlink_metadata(&fifo)
            .unwrap()
            .file_type()
            .is_fifo());
    }
    // A link to a regular file elsewhere: the file gets the report, the link stays a link.
    let target = dir.join("real.html");
    std::fs::write(&target, "old").unwrap();
    let link = dir.join("link.html");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    env.run(&repo, &["report", "-o", link.to_str().unwrap()])
        .ok();
    assert!(std::fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
    assert!(std::fs::read_to_string(&target).unwrap().contains("<html"));
    // A folder is refused with a clear error and left alone.
    let folder = dir.join("folder");
    std::fs::create_dir_all(&folder).unwrap();
    let r = env.run(&repo, &["report", "-o", folder.to_str().unwrap()]);
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("is a folder"), "{}", r.stderr);
    assert!(folder.is_dir());
}

/// Rows of the user's ledger: (state, how, cost) of every request.
fn ledger_rows(env: &TestEnv) -> Vec<(String, String, f64)> {
    let c = rusqlite::Connection::open(env.home.join(".rustassistant/usage.db")).unwrap();
    let mut q = c
        .prepare(
            "SELECT state, COALESCE(how, ''), COALESCE(cost_usd, -1) FROM requests ORDER BY id",
        )
        .unwrap();
    q.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap()
}

fn spawn_analyze(env: &TestEnv, repo: &Path, jobs: &str) -> std::process::Child {
    env.command(
        bin(),
        repo,
        &["analyze", "--all", "-t", "refactor", "--jobs", jobs],
    )
    .stdout(std::process::Stdio::null())
    .stderr(std::process::Stdio::piped())
    .spawn()
    .unwrap()
}

fn signal(child: &std::process::Child, sig: &str) {
    assert!(std::process::Command::new("kill")
        .args([sig, &child.id().to_string()])
        .status()
        .unwrap()
        .success());
}

fn wait_for(what: &str, cond: impl Fn() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !cond() {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

/// Wait for `child` at most `secs`; its exit code and stderr.
fn finish(child: std::process::Child, secs: u64) -> (Option<i32>, String) {
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(std::time::Duration::from_secs(secs)) {
        Ok(out) => {
            let out = out.unwrap();
            (
                out.status.code(),
                String::from_utf8_lossy(&out.stderr).into_owned(),
            )
        }
        Err(_) => {
            let _ = std::process::Command::new("kill")
                .args(["-9", &pid.to_string()])
                .status();
            panic!("the process did not exit within {secs} s");
        }
    }
}

fn llm_repo(env: &mut TestEnv, server: &crate::common::fake::FakeServer, n: usize) -> PathBuf {
    env.use_openai(&server.base_url("openai"));
    let files: Vec<(String, String)> = (0..n)
        .map(|i| (format!("f{i:02}.rs"), format!("fn f{i}() {{}}\n")))
        .collect();
    env.repo("r", &borrowed(&files))
}

#[test]
fn the_first_ctrl_c_sends_nothing_new_and_stores_the_replies_in_flight() {
    use crate::common::fake::{ok_reply, FakeServer, RESULT};
    let server = FakeServer::start(|r, _| {
        ok_reply(&r.path, RESULT).after(std::time::Duration::from_millis(1500))
    });
    let mut env = TestEnv::new();
    let repo = llm_repo(&mut env, &server, 12);
    let child = spawn_analyze(&env, &repo, "4");
    wait_for("four requests in flight", || server.count() >= 4);
    signal(&child, "-INT");
    let (code, stderr) = finish(child, 30);
    assert_eq!(code, Some(130), "{stderr}");
    assert_eq!(server.count(), 4, "no request left after Ctrl-C");
    assert_eq!(
        entry_files(&repo).len(),
        4,
        "the four replies were stored:\n{stderr}"
    );
    let rows = ledger_rows(&env);
    assert_eq!(rows.len(), 4, "{rows:?}");
    assert!(
        rows.iter().all(|(s, h, _)| s == "settled" && h == "billed"),
        "{rows:?}"
    );
}

#[test]
fn a_second_ctrl_c_abandons_what_is_in_flight_and_keeps_every_reply_that_arrived() {
    use crate::common::fake::{ok_reply, FakeServer, RESULT};
    // Eight replies come at once; the next four hang far past the test; later ones (the next
    // run's) come at once.
    let server = FakeServer::start(|r, i| {
        let reply = ok_reply(&r.path, RESULT);
        if (8..12).contains(&i) {
            reply.after(std::time::Duration::from_secs(600))
        } else {
            reply
        }
    });
    let mut env = TestEnv::new();
    let repo = llm_repo(&mut env, &server, 16);
    let child = spawn_analyze(&env, &repo, "4");
    wait_for("eight answered and four hanging", || server.count() >= 12);
    // Let the eight replies be read; they are not written yet (writes come once a second).
    std::thread::sleep(std::time::Duration::from_millis(150));
    signal(&child, "-INT");
    std::thread::sleep(std::time::Duration::from_millis(150));
    signal(&child, "-INT");
    let (code, stderr) = finish(child, 20);
    assert_eq!(code, Some(130), "{stderr}");
    assert_eq!(
        entry_files(&repo).len(),
        8,
        "every reply that arrived is stored:\n{stderr}"
    );
    let rows = ledger_rows(&env);
    assert_eq!(rows.len(), 12, "{rows:?}");
    assert_eq!(
        rows.iter()
            .filter(|(s, h, _)| s == "settled" && h == "billed")
            .count(),
        8,
        "{rows:?}"
    );
    let abandoned: Vec<&(String, String, f64)> = rows
        .iter()
        .filter(|(_, h, _)| h.starts_with("abandoned"))
        .collect();
    assert_eq!(abandoned.len(), 4, "{rows:?}");
    assert!(rows.iter().all(|(s, _, _)| s != "reserved"), "{rows:?}");
    // Charged their input, far below a worst case that counts max_tokens of output.
    let billed = rows.iter().find(|(_, h, _)| h == "billed").unwrap().2;
    assert!(
        abandoned.iter().all(|(_, _, c)| *c > 0.0 && *c < billed),
        "{rows:?}"
    );
    // The next run pays only for what is missing.
    let v = env
        .run(&repo, &["analyze", "--all", "-t", "refactor", "--json"])
        .json();
    assert_eq!(v["summary"]["hits"], 8, "{v:#}");
    assert_eq!(v["summary"]["misses"], 8, "{v:#}");
}

#[test]
fn a_reservation_left_by_a_killed_process_is_settled_by_the_next_command() {
    use crate::common::fake::{ok_reply, FakeServer, RESULT};
    let server = FakeServer::start(|r, _| {
        ok_reply(&r.path, RESULT).after(std::time::Duration::from_secs(600))
    });
    let mut env = TestEnv::new();
    let repo = llm_repo(&mut env, &server, 4);
    let child = spawn_analyze(&env, &repo, "2");
    wait_for("two requests in flight", || server.count() >= 2);
    signal(&child, "-KILL");
    let _ = finish(child, 10);
    let open = ledger_rows(&env);
    assert_eq!(
        open.iter().filter(|(s, _, _)| s == "reserved").count(),
        2,
        "{open:?}"
    );
    let b = env.run(&repo, &["budget", "--json"]).ok().json();
    assert_eq!(b["orphans_settled_now"], 2, "{b:#}");
    assert_eq!(b["reserved_usd"], 0.0, "{b:#}");
    let rows = ledger_rows(&env);
    assert!(
        rows.iter()
            .all(|(s, h, c)| s == "settled" && h.starts_with("orphaned") && *c > 0.0),
        "{rows:?}"
    );
}

#[test]
fn an_unsigned_twin_from_a_union_merge_never_hides_a_signed_line() {
    let mut env = TestEnv::new();
    env.set("RUSTASSISTANT_SIGNING_KEY", "team-secret");
    let repo = env.repo("r", &[("a.rs", RUST_SRC)]);
    std::fs::create_dir_all(repo.join(".rustassistant")).unwrap();
    std::fs::write(
        repo.join(".rustassistant/config.toml"),
        "[cache]\nrequire_signature = true\n",
    )
    .unwrap();
    env.run(&repo, &["analyze", "a.rs", "-t", "todos"]).ok();
    let signed = entry_lines(&repo).remove(0);
    assert!(signed.v["signature"].is_string());
    // A union merge brought an unsigned line for the same key, created earlier (so it would
    // win the plain earliest-line rule), with another result.
    let mut twin = signed.v.clone();
    twin.as_object_mut().unwrap().remove("signature");
    twin["created_at"] = "2020-01-01T00:00:00Z".into();
    twin["result"]["items"] = serde_json::json!([]);
    let shard = repo.join(&signed.shard);
    let merged = format!(
        "{}\n{}\n",
        serde_json::to_string(&twin).unwrap(),
        signed.text
    );
    std::fs::write(&shard, &merged).unwrap();
    // The signed line is the hit: nothing is analysed again, and show prints its result.
    let v = env
        .run(&repo, &["analyze", "a.rs", "-t", "todos", "--json"])
        .ok()
        .json();
    assert_eq!(v["summary"]["hits"], 1, "{v:#}");
    let shown = env
        .run(&repo, &["show", "a.rs", "-t", "todos", "--json"])
        .ok()
        .json();
    assert_eq!(shown["entries"][0]["signature"], signed.v["signature"]);
    // The next write of the shard keeps the signed line, not the unsigned twin.
    env.run(&repo, &["analyze", "a.rs", "-t", "todos", "--force"])
        .ok();
    let left: Vec<ShardLine> = entry_lines(&repo);
    assert_eq!(left.len(), 1, "{left:?}");
    assert_eq!(left[0].v["signature"], signed.v["signature"]);
}

/// `cache verify` in `repo` passes and found the local index equal to the disk.
#[track_caller]
fn assert_index_equals_disk(env: &TestEnv, repo: &Path, when: &str) {
    // First what the index says, before anything re-reads the shards.
    let stats = env.run(repo, &["cache", "stats", "--json"]).ok().json();
    // Lines on disk, each place counted (a key may wait in the overlay and be in a shard).
    let lines = entry_lines(repo).len() + overlay_lines(repo).len();
    assert_eq!(
        stats["total_entries"].as_u64().unwrap() as usize,
        lines,
        "{when}: the index counts other entries than the disk holds"
    );
    let v = env.run(repo, &["cache", "verify", "--json"]);
    let doc = v.json();
    assert_eq!(v.code, 0, "{when}: {doc:#}\n{}", v.stderr);
    assert_eq!(
        doc["index_repaired"],
        serde_json::json!([]),
        "{when}: the index differed from the disk"
    );
}

#[test]
fn the_local_index_equals_the_disk_after_concurrent_commits_runs_and_kills() {
    let env = TestEnv::new();
    let repo = env.hooked("r", &borrowed(&sources(60, "a")));
    let wt = env.root().join("wt");
    env.git(
        &repo,
        &["worktree", "add", "-q", "-b", "side", wt.to_str().unwrap()],
    );
    let spawn = |dir: &Path, args: &[&str]| {
        env.command(bin(), dir, args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap()
    };
    let commit = |dir: &Path, tag: &str| {
        write_files(dir, &borrowed(&sources(60, tag)));
        env.git(dir, &["add", "src"]);
        env.command("git", dir, &["commit", "-q", "-m", tag])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap()
    };
    for round in 0..4 {
        let tag = format!("r{round}");
        let children = vec![
            commit(&repo, &format!("{tag}main")),
            commit(&wt, &format!("{tag}wt")),
            spawn(&repo, &["analyze", "--all", "--force", "-q"]),
            spawn(&wt, &["analyze", "--all", "-q"]),
            spawn(&repo, &["cache", "stats", "-q"]),
        ];
        for mut c in children {
            c.wait().unwrap();
        }
        for dir in [&repo, &wt] {
            assert_index_equals_disk(&env, dir, &format!("round {round}"));
        }
    }
    // SIGKILL at random moments of hooks and runs.
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut below = |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    };
    for i in 0..40 {
        write_files(&repo, &borrowed(&sources(60, &format!("k{i}"))));
        env.git(&repo, &["add", "src"]);
        let args: &[&str] = if i % 2 == 0 {
            &["hooks", "run", "pre-commit"]
        } else {
            &["analyze", "--all", "--force", "-q"]
        };
        let mut c = spawn(&repo, args);
        std::thread::sleep(std::time::Duration::from_millis(below(40)));
        let _ = c.kill();
        let _ = c.wait();
        if i % 10 == 9 {
            assert_index_equals_disk(&env, &repo, &format!("after kill {i}"));
        }
    }
    // A killed hook leaves no empty, untracked shard behind once any command has run.
    env.run(&repo, &["cache", "stats"]).ok();
    let status = env.git(
        &repo,
        &[
            "status",
            "--porcelain",
            "--untracked-files=all",
            "--",
            ".rustassistant",
        ],
    );
    for line in status.lines().filter(|l| l.starts_with("??")) {
        let p = repo.join(line[3..].trim());
        assert!(
            std::fs::metadata(&p).map(|m| m.len() > 0).unwrap_or(true),
            "an empty untracked shard was left: {line}"
        );
    }
}

#[test]
fn empty_shards_git_does_not_track_are_removed_by_the_next_command() {
    let env = TestEnv::new();
    let repo = env.hooked("r", &[("a.rs", RUST_SRC)]);
    let cache = repo.join(".rustassistant/cache");
    // Every type's 256 shards are committed from its first commit on.
    let tracked = env.git(&repo, &["ls-files", ".rustassistant/cache/todos"]);
    assert_eq!(tracked.lines().count(), 256, "{tracked}");
    // What a hook killed between creating a new type's shards and staging them can leave.
    std::fs::create_dir_all(cache.join("docs")).unwrap();
    for b in ["00", "01", "02"] {
        std::fs::write(cache.join(format!("docs/{b}.jsonl")), "").unwrap();
    }
    let stray = cache.join("docs/00.jsonl");
    // A tracked shard that is empty stays (git would see it deleted otherwise).
    let empty_tracked = tracked
        .lines()
        .map(|l| repo.join(l))
        .find(|p| std::fs::metadata(p).unwrap().len() == 0)
        .expect("one shard of a 1-file repository holds lines, the others are empty");
    env.run(&repo, &["cache", "stats"]).ok();
    assert!(!stray.exists(), "the untracked empty shard is gone");
    assert!(empty_tracked.exists());
    // Staged content analysed without hooks, then unstaged and left out of a commit: its
    // entries go back to the overlay, and no empty shard is left for git to list.
    std::fs::write(repo.join("n.rs"), "// TODO new\nfn n() {}\n").unwrap();
    env.git(&repo, &["add", "n.rs"]);
    env.run(&repo, &["hooks", "uninstall"]).ok();
    env.run(&repo, &["analyze", "n.rs"]).ok();
    env.run(&repo, &["hooks", "install"]).ok();
    env.git(&repo, &["reset", "-q", "n.rs"]);
    std::fs::write(repo.join("a.rs"), "// TODO a2\n").unwrap();
    env.git(&repo, &["commit", "-q", "-am", "a2"]);
    let status = env.git(&repo, &["status", "--porcelain", "--untracked-files=all"]);
    assert!(
        !status.contains(".rustassistant/"),
        "the cache is in step with the commit:\n{status}"
    );
}

#[test]
fn a_commit_into_another_object_directory_carries_its_analyses() {
    let env = TestEnv::new();
    let repo = env.hooked("r", &borrowed(&sources(40, "a")));
    // As git runs a hook with objects kept apart (a quarantine, a build system's store): new
    // objects go to GIT_OBJECT_DIRECTORY, the repository's are reached as an alternate.
    let objects = env.root().join("objects-elsewhere");
    std::fs::create_dir_all(&objects).unwrap();
    let own = repo.join(".git/objects");
    let git_with = |args: &[&str]| -> Run {
        env.command("git", &repo, args)
            .env("GIT_OBJECT_DIRECTORY", &objects)
            .env("GIT_ALTERNATE_OBJECT_DIRECTORIES", &own)
            .output()
            .unwrap()
            .into()
    };
    write_files(&repo, &borrowed(&sources(40, "b")));
    assert_eq!(git_with(&["add", "src"]).code, 0);
    let r = git_with(&["commit", "-q", "-m", "b"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(!r.stderr.contains("left out"), "{}", r.stderr);
    assert!(r.stderr.contains("80 analyses added"), "{}", r.stderr);
    let fsck = git_with(&["fsck", "--strict", "--no-dangling"]);
    assert_eq!(fsck.code, 0, "{}{}", fsck.stdout, fsck.stderr);
    let status = git_with(&["status", "--porcelain"]);
    assert_eq!(status.stdout, "", "the cache is in step with the commit");
    // Every analysis of the committed content is in the commit.
    let shards = git_with(&[
        "ls-tree",
        "-r",
        "--name-only",
        "HEAD",
        ".rustassistant/cache",
    ]);
    let mut n = 0;
    for shard in shards.stdout.lines().filter(|l| l.ends_with(".jsonl")) {
        let show = git_with(&["show", &format!("HEAD:{shard}")]);
        n += show
            .stdout
            .lines()
            .filter(|l| l.contains("\"cache_type\":\"todos\""))
            .count();
    }
    assert_eq!(n, 40, "the todos of every committed file, and of no other");
}

#[test]
fn the_index_and_the_ledger_are_never_written_through_a_link() {
    let mut env = TestEnv::new();
    let repo = env.repo("r", &[("a.rs", RUST_SRC)]);
    env.run(&repo, &["analyze", "--all"]).ok();
    let outside = env.root().join("outside.db");
    std::fs::write(&outside, "precious\n").unwrap();
    let index = repo.join(".git/rustassistant/index.db");
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", index.display()));
    }
    std::os::unix::fs::symlink(&outside, &index).unwrap();
    let v = env.run(&repo, &["analyze", "--all", "--json"]).ok().json();
    assert_eq!(v["summary"]["misses"], 0, "{v:#}");
    env.run(&repo, &["cache", "stats"]).ok();
    assert_eq!(std::fs::read_to_string(&outside).unwrap(), "precious\n");
    // The ledger: refused with a clear error, the target untouched.
    let ledger = env.home.join(".rustassistant/usage.db");
    let _ = std::fs::remove_file(&ledger);
    std::os::unix::fs::symlink(&outside, &ledger).unwrap();
    env.set("RUSTASSISTANT_PROVIDER", "openai");
    let r = env.run(&repo, &["budget"]);
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("symbolic link"), "{}", r.stderr);
    assert_eq!(std::fs::read_to_string(&outside).unwrap(), "precious\n");
}
