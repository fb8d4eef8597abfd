//! Real hook managers (issue 11, item 10): husky 9 and lefthook 2 from npm, the pre-commit
//! framework from PyPI, provisioned by `scripts/test.sh`, and a hooks folder the team tracks.
//! Their files are never renamed or rewritten; `hooks status` says what will really run; one
//! line in the manager's config makes our hook run.

use std::path::Path;

use crate::common::*;

/// Blob ids of the entries HEAD's tree holds for `file`'s content at HEAD.
fn committed_entries_for(env: &TestEnv, repo: &Path, file: &str) -> usize {
    let blob = env
        .git(repo, &["rev-parse", &format!("HEAD:{file}")])
        .trim()
        .to_string();
    tree_entries(env, repo, "HEAD")
        .iter()
        .filter(|l| l.contains(&blob))
        .count()
}

fn hook_status(env: &TestEnv, repo: &Path, name: &str) -> serde_json::Value {
    let s = env.run(repo, &["hooks", "status", "--json"]).ok().json();
    s["hooks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["name"] == name)
        .cloned()
        .unwrap()
}

#[test]
fn husky_keeps_running_the_teams_hook_and_runs_ours_from_one_line() {
    let Some(husky) = peer("node_modules/.bin/husky", "husky 9 (npm)") else {
        return;
    };
    let env = TestEnv::new();
    let repo = env.repo(
        "r",
        &[
            ("a.rs", "// TODO a\n"),
            (
                "package.json",
                "{\"name\": \"x\", \"version\": \"1.0.0\"}\n",
            ),
        ],
    );
    let init = env.tool(&husky, &repo, &["init"]);
    assert_eq!(init.code, 0, "husky init: {}{}", init.stdout, init.stderr);
    // The team's own hook (lint, secret scan…): it leaves a mark when it runs.
    std::fs::write(repo.join(".husky/pre-commit"), "touch husky-ran\n").unwrap();
    let shims = folder_bytes(&repo.join(".husky/_"));
    assert!(!shims.is_empty());
    let r = env.run(&repo, &["hooks", "install"]).ok();
    assert!(
        r.stdout.contains(".husky/pre-commit")
            && r.stdout.contains("rustassistant hooks run pre-commit"),
        "{}",
        r.stdout
    );
    assert_eq!(
        folder_bytes(&repo.join(".husky/_")),
        shims,
        "husky's shims untouched"
    );
    assert_eq!(hook_status(&env, &repo, "pre-commit")["runs"], false);
    env.git(&repo, &["add", "package.json", ".husky/pre-commit"]);
    std::fs::write(repo.join("a.rs"), "// TODO a2\n").unwrap();
    env.git(&repo, &["commit", "-q", "-am", "husky only"]);
    assert!(
        repo.join("husky-ran").exists(),
        "the team's hook still runs"
    );
    // One line in the team's script runs ours too.
    std::fs::write(
        repo.join(".husky/pre-commit"),
        "touch husky-ran\nrustassistant hooks run pre-commit \"$@\"\n",
    )
    .unwrap();
    assert_eq!(hook_status(&env, &repo, "pre-commit")["runs"], true);
    std::fs::remove_file(repo.join("husky-ran")).unwrap();
    std::fs::write(repo.join("a.rs"), "// TODO a3\n").unwrap();
    env.git(&repo, &["commit", "-q", "-am", "both"]);
    assert!(repo.join("husky-ran").exists());
    assert_eq!(
        committed_entries_for(&env, &repo, "a.rs"),
        2,
        "todos + metrics"
    );
    env.run(&repo, &["hooks", "uninstall"]).ok();
    assert_eq!(folder_bytes(&repo.join(".husky/_")), shims);
}

#[test]
fn lefthook_orphans_are_reported_and_removed_and_one_config_entry_runs_ours() {
    let Some(lefthook) = peer("node_modules/.bin/lefthook", "lefthook 2 (npm)") else {
        return;
    };
    let env = TestEnv::new();
    let repo = env.repo("r", &[("a.rs", "// TODO a\n")]);
    env.run(&repo, &["hooks", "install"]).ok();
    // The team adopts lefthook later: its install renames our shim to pre-commit.old.
    let team = "pre-commit:\n  commands:\n    lint:\n      run: touch lefthook-ran\n";
    std::fs::write(repo.join("lefthook.yml"), team).unwrap();
    let r = env.tool(&lefthook, &repo, &["install"]);
    assert_eq!(r.code, 0, "lefthook install: {}{}", r.stdout, r.stderr);
    assert!(repo.join(".git/hooks/pre-commit.old").exists());
    let st = hook_status(&env, &repo, "pre-commit");
    assert_eq!(st["owner"], "lefthook");
    assert_eq!(st["runs"], false, "{st:#}");
    assert!(
        st["orphans"][0]
            .as_str()
            .unwrap()
            .ends_with("pre-commit.old"),
        "{st:#}"
    );
    // Installing again leaves lefthook's hook alone and prints the config entry instead.
    let theirs = std::fs::read(repo.join(".git/hooks/pre-commit")).unwrap();
    let r = env.run(&repo, &["hooks", "install"]).ok();
    assert!(r.stdout.contains("lefthook.yml"), "{}", r.stdout);
    assert!(
        r.stdout.contains("run: rustassistant hooks run pre-commit"),
        "{}",
        r.stdout
    );
    assert_eq!(
        std::fs::read(repo.join(".git/hooks/pre-commit")).unwrap(),
        theirs
    );
    // Uninstall removes the orphan, and nothing of lefthook's.
    env.run(&repo, &["hooks", "uninstall"]).ok();
    assert!(!repo.join(".git/hooks/pre-commit.old").exists());
    assert_eq!(
        std::fs::read(repo.join(".git/hooks/pre-commit")).unwrap(),
        theirs
    );
    // The one entry in lefthook's config runs ours.
    std::fs::write(
        repo.join("lefthook.yml"),
        format!("{team}    rustassistant:\n      run: rustassistant hooks run pre-commit\n"),
    )
    .unwrap();
    assert_eq!(hook_status(&env, &repo, "pre-commit")["runs"], true);
    std::fs::write(repo.join("a.rs"), "// TODO a2\n").unwrap();
    let r = env.git_run(&repo, &["commit", "-q", "-am", "with lefthook"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(repo.join("lefthook-ran").exists(), "the team's command ran");
    assert_eq!(committed_entries_for(&env, &repo, "a.rs"), 2);
}

#[test]
fn the_pre_commit_framework_runs_ours_as_a_local_hook_and_keeps_its_file() {
    let Some(pc) = peer("venv/bin/pre-commit", "pre-commit 4 (PyPI)") else {
        return;
    };
    let env = TestEnv::new();
    let config = "repos:\n- repo: local\n  hooks:\n    - id: rustassistant\n      name: rustassistant\n      entry: rustassistant hooks run pre-commit\n      language: system\n      pass_filenames: false\n      always_run: true\n";
    let repo = env.repo(
        "r",
        &[("a.rs", "// TODO a\n"), (".pre-commit-config.yaml", config)],
    );
    let r = env.tool(&pc, &repo, &["install"]);
    assert_eq!(r.code, 0, "pre-commit install: {}{}", r.stdout, r.stderr);
    let theirs = std::fs::read(repo.join(".git/hooks/pre-commit")).unwrap();
    let r = env.run(&repo, &["hooks", "install"]).ok();
    assert_eq!(
        std::fs::read(repo.join(".git/hooks/pre-commit")).unwrap(),
        theirs
    );
    assert!(r.stdout.contains(".pre-commit-config.yaml"), "{}", r.stdout);
    // The hook types the framework does not own are ours as usual.
    assert!(std::fs::read_to_string(repo.join(".git/hooks/pre-push"))
        .unwrap()
        .contains("rustassistant-hook"));
    let st = hook_status(&env, &repo, "pre-commit");
    assert_eq!(st["owner"], "pre-commit");
    assert_eq!(st["runs"], true, "{st:#}");
    std::fs::write(repo.join("a.rs"), "// TODO a2\n").unwrap();
    let r = env.git_run(&repo, &["commit", "-q", "-am", "through pre-commit"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert_eq!(committed_entries_for(&env, &repo, "a.rs"), 2);
}

#[test]
fn a_tracked_hooks_folder_is_never_modified() {
    let env = TestEnv::new();
    let repo = env.repo(
        "r",
        &[
            ("a.rs", "// TODO a\n"),
            ("githooks/pre-commit", "#!/bin/sh\ntouch team-ran\n"),
        ],
    );
    env.git(&repo, &["config", "core.hooksPath", "githooks"]);
    let r = env.run(&repo, &["hooks", "install"]).ok();
    assert!(r.stdout.contains("githooks/pre-commit"), "{}", r.stdout);
    assert_eq!(env.git(&repo, &["status", "--porcelain"]), "");
    let st = hook_status(&env, &repo, "pre-commit");
    assert_eq!(st["runs"], false);
    assert!(st["why"]
        .as_str()
        .unwrap()
        .contains("add `rustassistant hooks run pre-commit`"));
    env.run(&repo, &["hooks", "uninstall"]).ok();
    assert_eq!(env.git(&repo, &["status", "--porcelain"]), "");
}
