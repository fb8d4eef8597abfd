//! Nothing a teammate's commit, a mistake or a Ctrl-C can break (issue 39): shard paths that
//! hold links, folders or giant files; outputs that are devices, FIFOs or links; interrupted
//! runs; settings that would delete paid results.

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

use crate::common::*;

/// A repository with hooks installed whose first commit carries its analyses.
fn hooked(env: &TestEnv, name: &str, files: &[(&str, &str)]) -> PathBuf {
    let repo = env.repo(name, files);
    env.run(&repo, &["init", "--hooks"]).ok();
    env.git(&repo, &["add", "-A"]);
    env.git(&repo, &["commit", "-q", "-m", "cache"]);
    repo
}

fn sources(n: usize, tag: &str) -> Vec<(String, String)> {
    (0..n)
        .map(|i| {
            (
                format!("src/f{i}.rs"),
                format!("// TODO {tag} {i}\nfn f{i}() {{}}\n"),
            )
        })
        .collect()
}

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
    let repo = hooked(&env, "r", &borrowed(&sources(24, "a")));
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
