//! Hooks, merge driver and textconv with real git: commits, pulls, pushes, merges.

use std::path::{Path, PathBuf};

use crate::common::fake::{ok_reply, FakeServer, RESULT};
use crate::common::*;

fn blob_of(env: &TestEnv, repo: &Path, rev_path: &str) -> String {
    env.git(repo, &["rev-parse", rev_path]).trim().to_string()
}

fn hooked_repo(env: &TestEnv, name: &str, files: &[(&str, &str)]) -> PathBuf {
    let repo = env.repo(name, files);
    env.run(&repo, &["init", "--hooks"]).ok();
    env.run(&repo, &["analyze", "--all"]).ok();
    env.git(&repo, &["add", "-A"]);
    env.git(&repo, &["commit", "-q", "-m", "cache"]);
    repo
}

#[test]
fn a_commit_carries_the_entries_of_exactly_the_staged_blob() {
    let env = TestEnv::new();
    let repo = hooked_repo(
        &env,
        "r",
        &[("src/a.rs", RUST_SRC), ("src/b.rs", "fn b() {}\n")],
    );
    // Partially staged: the staged content differs from the working copy.
    std::fs::write(repo.join("src/a.rs"), "// TODO staged\nfn a() {}\n").unwrap();
    env.git(&repo, &["add", "src/a.rs"]);
    std::fs::write(
        repo.join("src/a.rs"),
        "// TODO working copy only\nfn a() {}\n",
    )
    .unwrap();
    env.git(&repo, &["commit", "-q", "-m", "staged change"]);
    let staged_blob = blob_of(&env, &repo, "HEAD:src/a.rs");
    let entries = tree_entries(&env, &repo, "HEAD");
    let for_staged: Vec<_> = entries
        .iter()
        .filter(|e| e.contains(&format!("/{staged_blob}-")))
        .collect();
    assert_eq!(
        for_staged.len(),
        2,
        "todos and metrics of the staged blob: {entries:?}"
    );
    let working_blob = env
        .git(&repo, &["hash-object", "src/a.rs"])
        .trim()
        .to_string();
    assert!(
        !entries.iter().any(|e| e.contains(&working_blob)),
        "nothing for the unstaged content"
    );
    let shown = env
        .run(
            &repo,
            &["show", "--rev", "HEAD", "src/a.rs", "-t", "todos", "--json"],
        )
        .ok()
        .json();
    assert_eq!(
        shown["entries"][0]["result"]["items"][0]["text"], "staged",
        "analysed from the object database: {shown:#}"
    );
    // prune_on_commit: the old blob's entries left the tree; b.rs keeps its own.
    assert_eq!(entries.len(), 4, "{entries:?}");

    // git commit -a (git uses a temporary index)
    std::fs::write(repo.join("src/b.rs"), "// FIXME all\nfn b() {}\n").unwrap();
    env.git(&repo, &["commit", "-q", "-a", "-m", "all"]);
    let b_blob = blob_of(&env, &repo, "HEAD:src/b.rs");
    assert_eq!(
        tree_entries(&env, &repo, "HEAD")
            .iter()
            .filter(|e| e.contains(&b_blob))
            .count(),
        2
    );

    // git commit PATH (a temporary index beside the real one)
    std::fs::write(repo.join("src/b.rs"), "// HACK path\nfn b() {}\n").unwrap();
    env.git(&repo, &["commit", "-q", "-m", "path", "src/b.rs"]);
    let b_blob = blob_of(&env, &repo, "HEAD:src/b.rs");
    assert_eq!(
        tree_entries(&env, &repo, "HEAD")
            .iter()
            .filter(|e| e.contains(&b_blob))
            .count(),
        2
    );
    let status = env.git(&repo, &["status", "--porcelain", "--", ".rustassistant"]);
    assert_eq!(status, "", "the real index agrees with the commit");
}

#[test]
fn fifty_commits_editing_one_file_leave_only_its_current_entries() {
    let env = TestEnv::new();
    let repo = hooked_repo(&env, "r", &[("a.rs", "fn a0() {}\n")]);
    for i in 1..=50 {
        std::fs::write(repo.join("a.rs"), format!("fn a{i}() {{}}\n")).unwrap();
        env.git(&repo, &["commit", "-q", "-am", &format!("edit {i}")]);
    }
    let entries = tree_entries(&env, &repo, "HEAD");
    let blob = blob_of(&env, &repo, "HEAD:a.rs");
    assert_eq!(entries.len(), 2, "{entries:?}");
    assert!(entries.iter().all(|e| e.contains(&blob)));
    // Older analyses stay in history.
    assert_eq!(tree_entries(&env, &repo, "HEAD~25").len(), 2);
}

#[test]
fn a_commit_succeeds_with_the_provider_unreachable() {
    let mut env = TestEnv::new();
    env.use_openai("http://127.0.0.1:9/v1");
    let repo = env.repo("r", &[("a.rs", "fn a() {}\n")]);
    env.run(&repo, &["init", "--hooks"]).ok();
    std::fs::write(repo.join("a.rs"), "fn a2() {}\n").unwrap();
    let r = env.git_run(&repo, &["commit", "-q", "-am", "offline"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("left out of this commit"), "{}", r.stderr);
    // The offline analyses are still in the commit.
    assert_eq!(tree_entries(&env, &repo, "HEAD").len(), 2);
    // The repository's strict mode does not refuse a commit the user could not have fixed
    // (an unreachable provider)...
    std::fs::write(
        repo.join(".rustassistant/config.toml"),
        "[hooks]\nstrict = true\n",
    )
    .unwrap();
    std::fs::write(repo.join("a.rs"), "fn a3() {}\n").unwrap();
    let r = env.git_run(&repo, &["commit", "-q", "-am", "repo strict"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("not blocking"), "{}", r.stderr);
    // ...the user's own strict mode does.
    std::fs::write(
        env.home.join(".rustassistant/config.toml"),
        "[hooks]\nstrict = true\n",
    )
    .unwrap();
    std::fs::write(repo.join("a.rs"), "fn a4() {}\n").unwrap();
    let r = env.git_run(&repo, &["commit", "-q", "-am", "strict"]);
    assert_ne!(r.code, 0);
}

#[test]
fn a_foreign_hook_still_runs_can_reject_and_is_restored_byte_for_byte() {
    let env = TestEnv::new();
    let repo = env.repo("r", &[("a.rs", "fn a() {}\n")]);
    let hook = repo.join(".git/hooks/pre-commit");
    let foreign = "#!/bin/sh\n# my team's hook\ntouch \"$(git rev-parse --git-dir)/foreign-ran\"\nif git diff --cached | grep -q REJECT; then echo rejected >&2; exit 1; fi\n";
    std::fs::write(&hook, foreign).unwrap();
    std::process::Command::new("chmod")
        .args(["755", hook.to_str().unwrap()])
        .status()
        .unwrap();
    let r = env.run(&repo, &["hooks", "install"]).ok();
    assert!(r.stdout.contains("chained"), "{}", r.stdout);
    std::fs::write(repo.join("a.rs"), "fn a() {} // REJECT\n").unwrap();
    let r = env.git_run(&repo, &["commit", "-q", "-am", "bad"]);
    assert_ne!(r.code, 0, "the foreign hook can still reject");
    assert!(repo.join(".git/foreign-ran").exists());
    std::fs::write(repo.join("a.rs"), "fn a() {} // fine\n").unwrap();
    env.git(&repo, &["commit", "-q", "-am", "good"]);
    assert_eq!(
        tree_entries(&env, &repo, "HEAD").len(),
        2,
        "and ours ran after it"
    );
    // Installing again changes nothing; uninstalling restores the foreign hook exactly.
    env.run(&repo, &["hooks", "install"]).ok();
    env.run(&repo, &["hooks", "uninstall"]).ok();
    assert_eq!(std::fs::read_to_string(&hook).unwrap(), foreign);
    assert!(!repo.join(".git/hooks/pre-push").exists());
    let cfg = env.git_run(&repo, &["config", "--get", "merge.rustassistant.driver"]);
    assert_ne!(cfg.code, 0, "driver config removed");
}

#[test]
fn core_hooks_path_is_honoured() {
    let env = TestEnv::new();
    let repo = env.repo("r", &[("a.rs", "fn a() {}\n")]);
    // A hooks folder outside the work tree (a personal one, say) is a plain folder.
    let shared = env.root().join("my-hooks");
    env.git(
        &repo,
        &["config", "core.hooksPath", shared.to_str().unwrap()],
    );
    env.run(&repo, &["hooks", "install"]).ok();
    assert!(shared.join("pre-commit").exists());
    assert!(!repo.join(".git/hooks/pre-commit").exists());
    std::fs::write(repo.join("a.rs"), "fn a2() {}\n").unwrap();
    env.git(&repo, &["commit", "-q", "-am", "x"]);
    assert_eq!(tree_entries(&env, &repo, "HEAD").len(), 2);
}

#[test]
fn two_results_for_one_key_merge_without_conflict_and_the_same_winner_either_way() {
    // A provider that answers differently each time, so the two branches disagree.
    let server = FakeServer::start(|r, n| {
        ok_reply(
            &r.path,
            &RESULT.replace("\"fine\"", &format!("\"answer {n}\"")),
        )
    });
    let mut env = TestEnv::new();
    env.use_openai(&server.base_url("openai"));
    let repo = env.repo("r", &[("a.rs", "fn a() {}\n")]);
    // Without the hook: each branch commits its own analysis below, as a lock file.
    env.run(&repo, &["init"]).ok();
    env.git(&repo, &["add", "-A"]);
    env.git(&repo, &["commit", "-q", "--no-verify", "-m", "init"]);
    env.git(&repo, &["branch", "other"]);
    let analyse_and_commit = |now: &str, message: &str| {
        env.run_env(
            &repo,
            &["analyze", "a.rs", "-t", "refactor"],
            &[("RUSTASSISTANT_NOW", now)],
        )
        .ok();
        env.git(&repo, &["add", "-A"]);
        env.git(&repo, &["commit", "-q", "--no-verify", "-m", message]);
    };
    analyse_and_commit("2026-11-02T00:00:00Z", "later analysis on main");
    env.git(&repo, &["checkout", "-q", "other"]);
    analyse_and_commit("2026-11-01T00:00:00Z", "earlier analysis on other");
    let entry = tree_entries(&env, &repo, "HEAD")
        .into_iter()
        .find(|e| e.starts_with("refactor/"))
        .unwrap();
    assert_eq!(
        tree_entries(&env, &repo, "main")
            .iter()
            .filter(|e| **e == entry)
            .count(),
        1,
        "same key on both branches"
    );

    // Merge other into main, and main into other (in a copy): both keep the earlier result.
    let copy = env.root().join("copy");
    env.git(
        env.root(),
        &[
            "clone",
            "-q",
            repo.to_str().unwrap(),
            copy.to_str().unwrap(),
        ],
    );
    // The clone starts on `other` (the branch checked out in `repo`).
    env.git(&copy, &["checkout", "-q", "other"]);
    // git's union merge alone, as teammates without the tool's hooks merge (with them, the
    // post-merge hook normalises the merge commit's shards to their winners).
    env.git(
        &copy,
        &["merge", "-q", "--no-verify", "--no-edit", "origin/main"],
    );
    env.git(&repo, &["checkout", "-q", "main"]);
    env.git(&repo, &["merge", "-q", "--no-verify", "--no-edit", "other"]);
    // git's union merge kept both lines; every reader picks the same one.
    let lines = |r: &Path| {
        entry_lines(r)
            .into_iter()
            .filter(|l| l.id() == entry)
            .count()
    };
    assert_eq!((lines(&repo), lines(&copy)), (2, 2));
    let shown = |r: &Path| {
        env.run(r, &["show", "a.rs", "-t", "refactor", "--json"])
            .ok()
            .json()["entries"][0]
            .clone()
    };
    let (a, b) = (shown(&repo), shown(&copy));
    assert_eq!(a, b, "the same winner whichever side merges");
    assert_eq!(
        a["created_at"], "2026-11-01T00:00:00Z",
        "the earliest result wins"
    );
    for r in [&repo, &copy] {
        assert!(entry_lines(r).iter().all(|l| !l.text.contains("<<<<<<<")));
        // Two different results for one key are a problem `cache verify` names, both lines.
        let v = env.run(r, &["cache", "verify", "--json"]);
        assert_eq!(v.code, 1, "{}", v.stdout);
        let bad = v.json()["bad"].clone();
        assert_eq!(bad.as_array().unwrap().len(), 1, "{bad:#}");
        assert!(
            bad[0]["problem"]
                .as_str()
                .unwrap()
                .contains("lines 1 and 2"),
            "{bad:#}"
        );
        let s = env.run(r, &["cache", "stats", "--json"]).ok().json();
        let refactor = s["by_type"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == "refactor")
            .unwrap()
            .clone();
        assert_eq!(refactor["entries"], 1, "one key, counted once: {s:#}");
    }
    // The next write of the shard keeps only the winner.
    env.run(&repo, &["analyze", "a.rs", "-t", "refactor", "--force"])
        .ok();
    assert_eq!(lines(&repo), 1);
    env.run(&repo, &["cache", "verify"]).ok();
}

#[test]
fn merge_entry_reports_a_conflict_for_unparsable_input() {
    let env = TestEnv::new();
    let d = env.root();
    std::fs::write(d.join("o"), "{}").unwrap();
    std::fs::write(d.join("a"), "not an entry").unwrap();
    std::fs::write(d.join("b"), "not one either").unwrap();
    let r = env.run(d, &["merge-entry", "o", "a", "b"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("not a cache entry"), "{}", r.stderr);
    let merged = std::fs::read_to_string(d.join("a")).unwrap();
    assert!(
        merged.contains("<<<<<<<") && merged.contains("not an entry"),
        "{merged}"
    );
    // Only one side changed: merged as git would, cleanly.
    std::fs::write(d.join("a"), "not an entry").unwrap();
    std::fs::write(d.join("b"), "{}").unwrap();
    let r = env.run(d, &["merge-entry", "o", "a", "b"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        std::fs::read_to_string(d.join("a")).unwrap(),
        "not an entry"
    );
}

#[test]
fn pulls_report_arrivals_and_update_the_index() {
    let env = TestEnv::new();
    let remote = env.bare_remote();
    let a = env.repo("a", &[("a.rs", "fn a() {}\n")]);
    env.git(&a, &["remote", "add", "origin", remote.to_str().unwrap()]);
    env.git(&a, &["push", "-q", "origin", "main"]);
    let b = env.clone_of(&remote, "b");
    // A teammate of a repository that already has .rustassistant/ only installs the hooks.
    env.run(&b, &["hooks", "install"]).ok();
    env.run(&b, &["cache", "stats"]).ok();
    env.run(&a, &["analyze", "--all"]).ok();
    env.git(&a, &["add", "-A"]);
    env.git(&a, &["commit", "-q", "-m", "analyses"]);
    env.git(&a, &["push", "-q", "origin", "main"]);
    let r = env.git_run(&b, &["pull", "--no-rebase", "origin", "main"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr.contains("2 analyses arrived with this pull"),
        "{}",
        r.stderr
    );
    let s = env.run(&b, &["cache", "stats", "--json"]).ok().json();
    assert_eq!(s["total_entries"], 2);

    // pull --rebase runs post-rewrite when local commits are replayed.
    std::fs::write(b.join("local.rs"), "fn l() {}\n").unwrap();
    env.git(&b, &["add", "local.rs"]);
    env.git(&b, &["commit", "-q", "-m", "local"]);
    std::fs::write(a.join("more.rs"), "fn m() {}\n").unwrap();
    env.run(&a, &["analyze", "--all"]).ok();
    env.git(&a, &["add", "-A"]);
    env.git(&a, &["commit", "-q", "-m", "more"]);
    env.git(&a, &["push", "-q", "origin", "main"]);
    let r = env.git_run(&b, &["pull", "--rebase", "origin", "main"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("analyses arrived"), "{}", r.stderr);
}

#[test]
fn strict_pre_push_refuses_commits_without_entries_until_they_exist() {
    let env = TestEnv::new();
    let remote = env.bare_remote();
    let repo = env.repo("r", &[("a.rs", "fn a() {}\n")]);
    env.git(
        &repo,
        &["remote", "add", "origin", remote.to_str().unwrap()],
    );
    env.run(&repo, &["init", "--hooks"]).ok();
    std::fs::write(
        repo.join(".rustassistant/config.toml"),
        "[hooks]\npre_push = \"strict\"\npre_commit = \"off\"\n",
    )
    .unwrap();
    std::fs::write(repo.join("b.rs"), "fn b() {}\n").unwrap();
    env.git(&repo, &["add", "-A"]);
    env.git(&repo, &["commit", "-q", "-m", "no analyses"]);
    let r = env.git_run(&repo, &["push", "-q", "origin", "main"]);
    assert_ne!(r.code, 0, "refused");
    assert!(r.stderr.contains("b.rs (todos)"), "{}", r.stderr);
    // With the hook on: analyses wait in the overlay, and the next commit carries them.
    std::fs::write(
        repo.join(".rustassistant/config.toml"),
        "[hooks]\npre_push = \"strict\"\n",
    )
    .unwrap();
    env.run(&repo, &["analyze", "--all"]).ok();
    env.git(&repo, &["add", "-A"]);
    env.git(&repo, &["commit", "-q", "-m", "analyses"]);
    let r = env.git_run(&repo, &["push", "-q", "origin", "main"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    // Deleting a branch is never blocked.
    env.git(&repo, &["push", "-q", "origin", "main:gone"]);
    env.git(&repo, &["push", "-q", "origin", ":gone"]);
}

#[test]
fn the_pre_commit_lookups_count_no_hits_but_its_analyses_count_as_misses() {
    let env = TestEnv::new();
    let files = [
        ("a.rs", "fn a() {}\n"),
        ("b.rs", "fn b() {}\n"),
        ("c.rs", "fn c() {}\n"),
    ];
    let repo = hooked_repo(&env, "r", &files);
    env.run(&repo, &["cache", "stats", "--zero"]).ok();
    // One file changed and not analysed: the hook analyses it (a miss per type) and finds
    // the other two files' entries, which is bookkeeping, not use.
    std::fs::write(repo.join("a.rs"), "fn a2() {}\n").unwrap();
    env.git(&repo, &["commit", "-q", "-am", "edit"]);
    let stats = env.run(&repo, &["cache", "stats", "--json"]).ok().json();
    // The default types: the two offline ones.
    let offline = 2;
    assert_eq!(stats["hits"], 0, "{stats:#}");
    assert_eq!(stats["misses"], offline, "{stats:#}");
    // An analyze run's hits still count.
    env.run(&repo, &["analyze", "--all"]).ok();
    let stats = env.run(&repo, &["cache", "stats", "--json"]).ok().json();
    assert_eq!(stats["hits"], 3 * offline, "{stats:#}");
}

#[test]
fn a_shard_diff_is_one_line_per_entry() {
    let env = TestEnv::new();
    let repo = hooked_repo(&env, "r", &[("a.rs", RUST_SRC), ("b.rs", "fn b() {}\n")]);
    std::fs::write(repo.join("b.rs"), "// TODO b\nfn b() {}\n").unwrap();
    env.git(&repo, &["add", "b.rs"]);
    // Without the hook, analyses are written to the shards, to be committed.
    env.run(&repo, &["hooks", "uninstall"]).ok();
    env.run(&repo, &["analyze", "b.rs", "-t", "todos"]).ok();
    // (A new shard shows in the diff once git knows it will be added.)
    env.git(&repo, &["add", "-N", ".rustassistant/cache"]);
    let diff = env.git(&repo, &["diff", "--", ".rustassistant/cache"]);
    let added: Vec<&str> = diff
        .lines()
        .filter(|l| l.starts_with('+') && !l.starts_with("+++"))
        .collect();
    assert_eq!(added.len(), 1, "{diff}");
    assert!(added[0].starts_with("+{\"blob\":"), "{diff}");
}

#[test]
fn a_missing_binary_never_blocks_a_commit() {
    let env = TestEnv::new();
    let repo = env.repo("r", &[("a.rs", "fn a() {}\n")]);
    let bin_dir = env.root().join("gone");
    std::fs::create_dir_all(&bin_dir).unwrap();
    let copy = bin_dir.join("rustassistant");
    std::fs::copy(bin(), &copy).unwrap();
    // A test forking elsewhere can hold the fresh copy open for a moment (ETXTBSY): retry.
    let mut attempt = 0;
    let r: Run = loop {
        match std::process::Command::new(&copy)
            .args(["hooks", "install"])
            .current_dir(&repo)
            .env_clear()
            .envs(&env.vars)
            .output()
        {
            Err(e) if e.kind() == std::io::ErrorKind::ExecutableFileBusy && attempt < 50 => {
                attempt += 1;
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            other => break other.unwrap().into(),
        }
    };
    assert_eq!(r.code, 0, "{}", r.stderr);
    std::fs::remove_file(&copy).unwrap();
    std::fs::write(repo.join("a.rs"), "fn a2() {}\n").unwrap();
    let r: Run = env
        .command("git", &repo, &["commit", "-q", "-am", "x"])
        .env("PATH", "/usr/bin:/bin")
        .output()
        .unwrap()
        .into();
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr.contains("rustassistant: not installed"),
        "{}",
        r.stderr
    );
}

#[test]
fn the_shims_run_the_installed_binary_first_and_search_only_absolute_path_entries() {
    use std::os::unix::fs::PermissionsExt as _;
    let env = TestEnv::new();
    let repo = env.repo("r", &[("a.rs", "fn a() {}\n")]);
    let stand_in_script = |dir: &Path, word: &str| {
        std::fs::create_dir_all(dir).unwrap();
        let script = dir.join("rustassistant");
        std::fs::write(
            &script,
            format!("#!/bin/sh\necho \"{word} $*\" >>\"$MARK\"\n"),
        )
        .unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    };
    // The installed binary is a stand-in in a folder whose name has a space.
    let installed = env.root().join("installed here");
    stand_in_script(&installed, "installed");
    let on_path = env.root().join("on path");
    stand_in_script(&on_path, "on-path");
    // One in the repository itself, which an empty or `.` PATH entry would find.
    stand_in_script(&repo, "relative");
    std::fs::write(repo.join(".gitignore"), "rustassistant\n").unwrap();
    let hooks = repo.join(".git/hooks");
    env.run(&repo, &["hooks", "install"]).ok();
    // Point the installed shims at the stand-in, as `hooks install` run from there would.
    for name in ["pre-commit", "post-checkout"] {
        let shim = hooks.join(name);
        let text = std::fs::read_to_string(&shim).unwrap();
        let me = std::path::Path::new(bin()).canonicalize().unwrap();
        let text = text.replace(
            &format!("bin='{}'", me.display()),
            &format!("bin='{}'", installed.join("rustassistant").display()),
        );
        assert!(text.contains("installed here"), "{text}");
        std::fs::write(&shim, text).unwrap();
    }
    let mark = env.root().join("mark");
    let path = format!(
        ":.:relative/dir:/nonexistent:{}:/usr/local/bin:/usr/bin:/bin",
        on_path.display()
    );
    let commit = |msg: &str| -> Run {
        std::fs::write(repo.join("a.rs"), format!("fn {msg}() {{}}\n")).unwrap();
        env.command("git", &repo, &["commit", "-q", "-am", msg])
            .env("PATH", &path)
            .env("MARK", &mark)
            .output()
            .unwrap()
            .into()
    };
    let r = commit("one");
    assert_eq!(r.code, 0, "{}", r.stderr);
    let calls = std::fs::read_to_string(&mark).unwrap_or_default();
    assert_eq!(calls, "installed hooks run pre-commit\n", "{}", r.stderr);
    // The installed binary gone: PATH is searched, its absolute entries only.
    std::fs::remove_file(installed.join("rustassistant")).unwrap();
    std::fs::remove_file(&mark).unwrap();
    let r = commit("two");
    assert_eq!(r.code, 0, "{}", r.stderr);
    let calls = std::fs::read_to_string(&mark).unwrap_or_default();
    assert_eq!(calls, "on-path hooks run pre-commit\n", "{}", r.stderr);
}

#[test]
fn without_the_binary_a_hostile_gitattributes_leaves_diff_and_merges_as_git_would() {
    let env = TestEnv::new();
    let repo = env.repo(
        "r",
        &[("a.rs", "fn a() {\n    1\n}\n\nfn b() {\n    1\n}\n")],
    );
    let bin_dir = env.root().join("gone");
    std::fs::create_dir_all(&bin_dir).unwrap();
    let copy = bin_dir.join("rustassistant");
    std::fs::copy(bin(), &copy).unwrap();
    let mut attempt = 0;
    let r: Run = loop {
        match std::process::Command::new(&copy)
            .args(["hooks", "install"])
            .current_dir(&repo)
            .env_clear()
            .envs(&env.vars)
            .output()
        {
            Err(e) if e.kind() == std::io::ErrorKind::ExecutableFileBusy && attempt < 50 => {
                attempt += 1;
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            other => break other.unwrap().into(),
        }
    };
    assert_eq!(r.code, 0, "{}", r.stderr);
    std::fs::remove_file(&copy).unwrap();
    std::fs::write(
        repo.join(".gitattributes"),
        "* merge=rustassistant diff=rustassistant\n",
    )
    .unwrap();
    let git = |args: &[&str]| -> Run {
        env.command("git", &repo, args)
            .env("PATH", "/usr/local/bin:/usr/bin:/bin")
            .output()
            .unwrap()
            .into()
    };
    assert_eq!(git(&["add", ".gitattributes"]).code, 0);
    assert_eq!(git(&["commit", "-q", "-m", "attributes"]).code, 0);
    std::fs::write(
        repo.join("a.rs"),
        "fn a() {\n    2\n}\n\nfn b() {\n    1\n}\n",
    )
    .unwrap();
    let d = git(&["diff"]);
    assert_eq!(d.code, 0, "{}", d.stderr);
    assert!(
        d.stdout.contains("-    1") && d.stdout.contains("+    2"),
        "{}",
        d.stdout
    );
    assert_eq!(git(&["commit", "-q", "-am", "a2"]).code, 0);
    assert_eq!(git(&["checkout", "-q", "-b", "other", "HEAD~1"]).code, 0);
    std::fs::write(
        repo.join("a.rs"),
        "fn a() {\n    1\n}\n\nfn b() {\n    3\n}\n",
    )
    .unwrap();
    assert_eq!(git(&["commit", "-q", "-am", "b3"]).code, 0);
    // Edits of different lines merge cleanly, as git would merge them.
    let m = git(&["merge", "-q", "--no-edit", "main"]);
    assert_eq!(m.code, 0, "{}{}", m.stdout, m.stderr);
    let merged = std::fs::read_to_string(repo.join("a.rs")).unwrap();
    assert_eq!(merged, "fn a() {\n    2\n}\n\nfn b() {\n    3\n}\n");
}

#[test]
fn the_scan_scripts_keep_their_documented_usage() {
    let env = TestEnv::new();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let script = |name: &str| root.join("scripts").join(name);
    let remote = env.bare_remote();
    let repo = env.repo("r", &[("src/a.rs", RUST_SRC), ("lib/b.rs", "fn b() {}\n")]);
    env.git(
        &repo,
        &["remote", "add", "origin", remote.to_str().unwrap()],
    );
    env.git(&repo, &["push", "-q", "-u", "origin", "main"]);
    let run = |args: &[&str]| -> Run {
        std::process::Command::new("bash")
            .args(args)
            .current_dir(env.root())
            .env_clear()
            .envs(&env.vars)
            .output()
            .unwrap()
            .into()
    };
    let help = run(&[script("cache_scan_repo.sh").to_str().unwrap(), "--help"]);
    assert_eq!(help.code, 0);
    assert!(help.stdout.contains("--parallel N"));
    let dry = run(&[
        script("cache_scan_repo.sh").to_str().unwrap(),
        repo.to_str().unwrap(),
        "--dry-run",
        "--type",
        "todos",
    ]);
    assert_eq!(dry.code, 0, "{}", dry.stderr);
    assert!(entry_files(&repo).is_empty());
    let r = run(&[
        script("cache_scan_repo.sh").to_str().unwrap(),
        repo.to_str().unwrap(),
        "--push",
        "--parallel",
        "2",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(entry_files(&repo).len(), 4);
    assert_eq!(env.git(&repo, &["status", "--porcelain"]), "", "committed");
    assert_eq!(
        env.git(&repo, &["rev-parse", "HEAD"]),
        env.git(&remote, &["rev-parse", "main"]),
        "pushed"
    );
    let simple = run(&[
        script("simple_cache_scan.sh").to_str().unwrap(),
        repo.to_str().unwrap(),
        "lib",
        "--json",
    ]);
    assert_eq!(simple.code, 0, "{}", simple.stderr);
    assert_eq!(simple.json()["summary"]["hits"], 2);
    let bad = run(&[script("simple_cache_scan.sh").to_str().unwrap()]);
    assert_eq!(bad.code, 2);
}

/// HEAD's non-empty shards, and those of them git stores as loose objects.
fn loose_shards(env: &TestEnv, repo: &Path) -> (usize, Vec<String>) {
    let listing = env.git(
        repo,
        &["ls-tree", "-r", "HEAD", "--", ".rustassistant/cache"],
    );
    let empty = env.git(repo, &["hash-object", "-t", "blob", "/dev/null"]);
    let mut shards = 0;
    let mut loose = Vec::new();
    for line in listing.lines().filter(|l| l.ends_with(".jsonl")) {
        let oid = line.split_whitespace().nth(2).unwrap();
        if oid == empty.trim() {
            continue;
        }
        shards += 1;
        if repo
            .join(".git/objects")
            .join(&oid[..2])
            .join(&oid[2..])
            .exists()
        {
            loose.push(line.to_string());
        }
    }
    (shards, loose)
}

#[test]
fn a_commit_of_many_files_writes_its_shards_as_one_pack_and_carries_exactly_their_entries() {
    let env = TestEnv::new();
    let repo = hooked_repo(&env, "r", &[("src/a.rs", RUST_SRC)]);
    let files: Vec<String> = (0..60).map(|i| format!("src/n{i}.rs")).collect();
    for (i, f) in files.iter().enumerate() {
        std::fs::write(repo.join(f), format!("// TODO item {i}\nfn n{i}() {{}}\n")).unwrap();
    }
    // Analysed before staging (entries wait in the overlay), then committed: the hook moves
    // them into the shards it stages, well over the count from which it writes one pack.
    env.run(&repo, &["analyze", "--all"]).ok();
    env.git(&repo, &["add", "-A"]);
    env.git(&repo, &["commit", "-q", "-m", "many"]);
    let entries = tree_entries(&env, &repo, "HEAD");
    for f in &files {
        let blob = blob_of(&env, &repo, &format!("HEAD:{f}"));
        let n = entries
            .iter()
            .filter(|e| e.contains(&format!("/{blob}-")))
            .count();
        assert_eq!(n, 2, "todos and metrics of {f}: {entries:?}");
    }
    assert_eq!(entries.len(), 2 * 61, "{entries:?}");
    let (shards, loose) = loose_shards(&env, &repo);
    assert!(shards > 64, "the commit touched many shards: {shards}");
    // Only shards this commit did not change may be loose (the first commit's).
    assert!(
        loose.len() <= 2,
        "{} shard blobs written loose, e.g. {:?}",
        loose.len(),
        loose.first()
    );

    // The same through a temporary index (`commit -a`), every file modified.
    for (i, f) in files.iter().enumerate() {
        std::fs::write(repo.join(f), format!("// FIXME item {i}\nfn n{i}() {{}}\n")).unwrap();
    }
    env.git(&repo, &["commit", "-q", "-a", "-m", "all"]);
    let entries = tree_entries(&env, &repo, "HEAD");
    for f in &files {
        let blob = blob_of(&env, &repo, &format!("HEAD:{f}"));
        let n = entries
            .iter()
            .filter(|e| e.contains(&format!("/{blob}-")))
            .count();
        assert_eq!(n, 2, "todos and metrics of {f}: {entries:?}");
    }
    assert_eq!(
        entries.len(),
        2 * 61,
        "prune_on_commit dropped the old blobs: {entries:?}"
    );
    let (_, loose) = loose_shards(&env, &repo);
    assert!(
        loose.len() <= 2,
        "{} shard blobs written loose, e.g. {:?}",
        loose.len(),
        loose.first()
    );
    let status = env.git(&repo, &["status", "--porcelain", "--", ".rustassistant"]);
    assert_eq!(status, "", "the real index agrees with the commit");
    env.git(&repo, &["fsck", "--strict", "--no-dangling"]);
    let verify = env.run(&repo, &["cache", "verify", "--json"]);
    assert_eq!(verify.code, 0, "{}", verify.stdout);
    assert_eq!(verify.json()["bad"].as_array().map(Vec::len), Some(0));
}
