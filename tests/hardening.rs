//! Hardening: untrusted entries from other people's branches, signatures, secrets, SIGKILL at
//! random moments, and several processes on one repository.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::fake::{ok_reply, FakeServer, RESULT};
use crate::common::*;

struct Rng(u64);
impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

fn files(n: usize) -> Vec<(String, String)> {
    (0..n)
        .map(|i| {
            (
                format!("src/f{i}.rs"),
                format!("// TODO {i}\nfn f{i}() {{}}\n"),
            )
        })
        .collect()
}

fn refs(f: &[(String, String)]) -> Vec<(&str, &str)> {
    f.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect()
}

/// Rewrite the `todos` line of `path` in `repo` with `edit` (given the line's JSON); returns
/// its shard.
fn forge_todos(
    env: &TestEnv,
    repo: &Path,
    path: &str,
    edit: impl FnOnce(serde_json::Value) -> String,
) -> PathBuf {
    let blob = env.git(repo, &["hash-object", path]).trim().to_string();
    edit_line(
        repo,
        |l| l.v["cache_type"] == "todos" && l.v["blob"] == blob.as_str(),
        |text| edit(serde_json::from_str(text).unwrap()),
    )
}

#[test]
fn malicious_entries_pulled_from_a_branch_are_reported_and_never_used() {
    let env = TestEnv::new();
    let remote = env.bare_remote();
    let names = [
        "mislabelled",
        "unparsable",
        "oversized",
        "elsewhere",
        "escape_codes",
        "path_escape",
    ];
    let src: Vec<(String, String)> = names
        .iter()
        .map(|n| (format!("{n}.rs"), format!("// TODO {n}\nfn {n}() {{}}\n")))
        .collect();
    let main = env.repo("main", &refs(&src));
    env.git(
        &main,
        &["remote", "add", "origin", remote.to_str().unwrap()],
    );
    env.run(&main, &["analyze", "--all", "-t", "todos"]).ok();
    env.git(&main, &["add", "-A"]);
    env.git(&main, &["commit", "-q", "-m", "analyses"]);
    env.git(&main, &["push", "-q", "origin", "main"]);

    // Someone's branch forges every entry.
    let evil = env.root().join("evil");
    env.git(
        env.root(),
        &[
            "clone",
            "-q",
            remote.to_str().unwrap(),
            evil.to_str().unwrap(),
        ],
    );
    env.git(&evil, &["checkout", "-q", "-b", "evil"]);
    let forge = |name: &str, f: &dyn Fn(serde_json::Value) -> String| {
        forge_todos(&env, &evil, &format!("{name}.rs"), f)
    };
    forge("mislabelled", &|mut v| {
        v["model"] = "todos-v9".into();
        v["result"]["items"] =
            serde_json::json!([{"line": 1, "tag": "TODO", "owner": null, "text": "delete prod"}]);
        serde_json::to_string(&v).unwrap()
    });
    forge("unparsable", &|_| {
        "{\"schema_version\": 1, \"cache_type\": ".into()
    });
    forge("oversized", &|mut v| {
        v["result"]["pad"] = "x".repeat(5 * 1024 * 1024).into();
        serde_json::to_string(&v).unwrap()
    });
    forge("elsewhere", &|mut v| {
        // A line for a blob whose shard this is not.
        let b = v["blob"].as_str().unwrap().to_string();
        let other = if b.starts_with('0') { "1" } else { "0" };
        v["blob"] = format!("{other}{}", &b[1..]).into();
        serde_json::to_string(&v).unwrap()
    });
    let escape_shard = forge("escape_codes", &|mut v| {
        v["result"]["items"][0]["text"] = "\u{1b}]0;pwned\u{7}\u{1b}[2J gotcha".into();
        serde_json::to_string(&v).unwrap()
    });
    forge("path_escape", &|mut v| {
        v["path"] = "../../../etc/passwd".into();
        serde_json::to_string(&v).unwrap()
    });
    env.git(&evil, &["add", "-A"]);
    env.git(&evil, &["commit", "-q", "-m", "totally legit analyses"]);
    env.git(&evil, &["push", "-q", "origin", "evil"]);

    // Main pulls the branch.
    env.git(&main, &["fetch", "-q", "origin"]);
    env.git(&main, &["merge", "-q", "--no-edit", "origin/evil"]);
    let v = env.run(&main, &["cache", "verify", "--json"]);
    assert_eq!(v.code, 1);
    let bad = v.json()["bad"].as_array().unwrap().clone();
    assert_eq!(bad.len(), 6, "{bad:#?}");
    let problems: String = bad
        .iter()
        .map(|b| b["problem"].as_str().unwrap().to_string() + "\n")
        .collect();
    for needle in [
        "mislabelled",
        "malformed",
        "over the",
        "does not belong in shard",
        "control characters",
        "escapes the repository",
    ] {
        assert!(problems.contains(needle), "{needle} in {problems}");
    }
    let stats = env.run(&main, &["cache", "stats", "--json"]).ok().json();
    assert_eq!(stats["invalid_entries"], 6);
    // Nothing forged is shown or used; the tool keeps working.
    let shown = env.run(&main, &["show", "mislabelled.rs", "-t", "todos"]);
    assert!(!shown.stdout.contains("delete prod"));
    let r = env
        .run(&main, &["analyze", "--all", "-t", "todos", "--json"])
        .ok();
    assert!(
        r.stderr.contains("6 untrusted cache entries ignored"),
        "{}",
        r.stderr
    );
    assert_eq!(
        r.stderr.matches("warning:").count(),
        1,
        "one warning line: {}",
        r.stderr
    );
    assert!(
        !r.stderr.contains('\u{1b}'),
        "no escape sequence reaches the terminal"
    );
    let j = r.json();
    assert_eq!(j["summary"]["misses"], 6);
    assert_eq!(j["summary"]["hits"], 0);
    env.run(&main, &["cache", "verify"]).ok();
    // `cat` of a hostile shard is terminal-safe too.
    let cat = env
        .run(&evil, &["cat", escape_shard.to_str().unwrap()])
        .ok();
    assert!(!cat.stdout.contains('\u{1b}') && cat.stdout.contains("\\u001b"));
}

#[test]
fn signed_entries_reject_forgeries_when_required() {
    let mut env = TestEnv::new();
    env.set("RUSTASSISTANT_SIGNING_KEY", "team-secret");
    let repo = env.repo("r", &[("a.rs", RUST_SRC), ("b.rs", "// TODO b\n")]);
    env.run(&repo, &["analyze", "--all", "-t", "todos"]).ok();
    let a_blob = env.git(&repo, &["hash-object", "a.rs"]).trim().to_string();
    let v = entry_lines(&repo)
        .into_iter()
        .find(|l| l.v["blob"] == a_blob.as_str())
        .unwrap()
        .v;
    assert_eq!(v["signature"].as_str().unwrap().len(), 64);
    std::fs::write(
        repo.join(".rustassistant/config.toml"),
        "[cache]\nrequire_signature = true\n",
    )
    .unwrap();
    let ok = env
        .run(&repo, &["analyze", "--all", "-t", "todos", "--json"])
        .ok()
        .json();
    assert_eq!(ok["summary"]["hits"], 2);
    // A forged result with the old signature, and an unsigned entry.
    forge_todos(&env, &repo, "a.rs", |mut forged| {
        forged["result"]["items"][0]["text"] = "forged".into();
        serde_json::to_string(&forged).unwrap()
    });
    forge_todos(&env, &repo, "b.rs", |mut unsigned| {
        unsigned.as_object_mut().unwrap().remove("signature");
        serde_json::to_string(&unsigned).unwrap()
    });
    let ver = env.run(&repo, &["cache", "verify", "--json"]);
    assert_eq!(ver.code, 1);
    let text = ver.stdout.clone();
    assert!(
        text.contains("bad signature") && text.contains("unsigned entry"),
        "{text}"
    );
    let r = env
        .run(&repo, &["analyze", "--all", "-t", "todos", "--json"])
        .ok()
        .json();
    assert_eq!(
        r["summary"]["misses"], 2,
        "forged and unsigned entries are misses"
    );
    env.run(&repo, &["cache", "verify"]).ok();
}

#[test]
fn planted_secrets_never_reach_the_provider() {
    let server = FakeServer::ok();
    let mut env = TestEnv::new();
    env.use_openai(&server.base_url("openai"));
    let pem = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\n";
    let api = format!("sk-proj-{}", "Q".repeat(48));
    // Real formats, made here so that no live-looking token sits in this source file.
    let aws = format!("AKIA{}", "QRSTUVWXYZ234567");
    let gitlab = format!("glpat-{}", "x7Kq2Lm9Pw4Rt8Yv3Nb6");
    let repo = env.repo(
        "r",
        &[
            ("keys/deploy_key.txt", pem),
            (".env", &format!("OPENAI_API_KEY={api}\n")),
            ("src/aws.rs", &format!("const KEY: &str = \"{aws}\";\n")),
            (
                "src/gh.rs",
                &format!("const T: &str = \"ghp_{}\";\n", "a1B2".repeat(9)),
            ),
            ("ci/gitlab.yml", &format!("token: {gitlab}\n")),
            // Credential files, whatever they hold, even when include asks for everything.
            (".npmrc", "registry=https://registry.example.com/\n"),
            (".envrc", "export A=1\n"),
            ("src/ok.rs", "fn fine() {}\n"),
        ],
    );
    env.run(&repo, &["init"]).ok();
    std::fs::write(
        repo.join(".rustassistant/config.toml"),
        "[analysis]\ninclude = [\"**/*\"]\n",
    )
    .unwrap();
    let v = env
        .run(&repo, &["analyze", "--all", "-t", "refactor", "--json"])
        .ok()
        .json();
    assert_eq!(server.count(), 1, "only src/ok.rs was sent");
    let skipped: Vec<_> = v["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["status"] == "skipped")
        .collect();
    assert_eq!(skipped.len(), 7, "{v:#}");
    assert!(skipped.iter().all(|r| r["reason"]
        .as_str()
        .unwrap()
        .starts_with("skipped (secret)")));
    for req in server.recorded() {
        for secret in [
            "PRIVATE KEY",
            &aws,
            "ghp_",
            api.as_str(),
            &gitlab,
            "registry=",
        ] {
            assert!(!req.body.contains(secret), "{secret} was sent");
        }
    }
    // Trusted patterns match as include/exclude do: `*` stays within a folder, so `*.rs` lets
    // no file below src/ through.
    std::fs::write(
        repo.join(".rustassistant/config.toml"),
        "[analysis]\ninclude = [\"**/*\"]\nallow_secrets = [\"*.rs\"]\n",
    )
    .unwrap();
    env.run(&repo, &["trust"]).ok();
    env.run(&repo, &["analyze", "--all", "-t", "refactor"]).ok();
    assert_eq!(server.count(), 1, "*.rs sent a file below src/");
    // A pattern that does not build is an error naming it, not a pattern that matches nothing.
    std::fs::write(
        repo.join(".rustassistant/config.toml"),
        "[analysis]\ninclude = [\"**/*\"]\nallow_secrets = [\"src/[aws.rs\"]\n",
    )
    .unwrap();
    env.run(&repo, &["trust"]).ok();
    let r = env.run(&repo, &["analyze", "--all", "-t", "refactor"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("[analysis] allow_secrets") && r.stderr.contains("src/[aws.rs"),
        "{}",
        r.stderr
    );
    assert_eq!(server.count(), 1);
    // An explicit per-path override sends that one file.
    std::fs::write(
        repo.join(".rustassistant/config.toml"),
        "[analysis]\ninclude = [\"**/*\"]\nallow_secrets = [\"src/aws.rs\"]\n",
    )
    .unwrap();
    // Not from an untrusted repository config: ignored, with a warning naming the setting.
    let r = env.run(&repo, &["analyze", "--all", "-t", "refactor"]).ok();
    assert!(
        r.stderr.contains("ignored [analysis] allow_secrets"),
        "{}",
        r.stderr
    );
    assert_eq!(server.count(), 1);
    env.run(&repo, &["trust"]).ok();
    env.run(&repo, &["analyze", "--all", "-t", "refactor"]).ok();
    assert_eq!(server.count(), 2);
    assert!(server.recorded()[1].body.contains(&aws));
}

fn spawn_killed(env: &TestEnv, repo: &Path, args: &[&str], after: Duration) {
    let mut child = Command::new(bin())
        .args(args)
        .current_dir(repo)
        .env_clear()
        .envs(&env.vars)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(after);
    let _ = child.kill(); // SIGKILL
    let _ = child.wait();
}

/// Every file under the cache is a whole, valid entry (or an ignored temporary file), and
/// git sees no temporary file.
#[track_caller]
fn assert_whole(env: &TestEnv, repo: &Path, when: &str) {
    let v = env.run(repo, &["cache", "verify", "--json"]);
    assert_eq!(v.code, 0, "{when}: {}", v.stdout);
    let status = env.git(repo, &["status", "--porcelain", "--untracked-files=all"]);
    assert!(
        !status.contains(".tmp-"),
        "{when}: temporary files are ignored by git: {status}"
    );
}

#[test]
fn sigkill_at_random_moments_never_leaves_a_partial_entry() {
    let server =
        FakeServer::start(|r, _| ok_reply(&r.path, RESULT).after(Duration::from_millis(2)));
    let mut env = TestEnv::new();
    env.use_openai(&server.base_url("openai"));
    let f = files(120);
    let repo = env.repo("r", &refs(&f));
    env.run(&repo, &["analyze", "--all", "-t", "todos", "-t", "metrics"])
        .ok();
    env.git(&repo, &["add", "-A"]);
    env.git(&repo, &["commit", "-q", "-m", "committed entries"]);
    let committed = entry_files(&repo);
    let mut rng = Rng(0x9e3779b97f4a7c15);
    let mut kills = 0;
    // analyze: --force rewrites every entry, so kills land during writes as well as requests.
    for _ in 0..200 {
        spawn_killed(
            &env,
            &repo,
            &[
                "analyze", "--all", "-t", "refactor", "-t", "todos", "--force", "--jobs", "4", "-q",
            ],
            Duration::from_millis(rng.below(60)),
        );
        kills += 1;
    }
    assert_whole(&env, &repo, "after analyze kills");
    let now = entry_files(&repo);
    for p in &committed {
        assert!(now.contains(p), "committed entry {p} lost");
    }
    // migrate, evict and rebuild-index killed too.
    for _ in 0..20 {
        spawn_killed(
            &env,
            &repo,
            &["cache", "migrate", "-q"],
            Duration::from_millis(rng.below(80)),
        );
        spawn_killed(
            &env,
            &repo,
            &["cache", "rebuild-index", "-q"],
            Duration::from_millis(rng.below(40)),
        );
        kills += 2;
    }
    assert_whole(&env, &repo, "after migrate and rebuild kills");
    env.run(&repo, &["cache", "migrate"]).ok();
    let before = entry_files(&repo).len();
    for _ in 0..10 {
        spawn_killed(
            &env,
            &repo,
            &[
                "cache",
                "evict",
                "--policy",
                "oldest",
                "--max-size",
                "20kB",
                "-q",
            ],
            Duration::from_millis(rng.below(20)),
        );
        kills += 1;
    }
    assert!(kills >= 250);
    assert_whole(&env, &repo, "after evict kills");
    assert!(entry_files(&repo).len() <= before);
    // The index repairs itself: stats equal a recount of the files now present.
    let s = env.run(&repo, &["cache", "stats", "--json"]).ok().json();
    assert_eq!(
        s["total_entries"].as_u64().unwrap() as usize,
        entry_files(&repo).len()
    );
    assert_eq!(s["invalid_entries"], 0);
}

#[test]
fn four_processes_on_one_repository_lose_and_duplicate_nothing() {
    // 4 processes × 200 analyses of their own files into the same 256 shards a type (every
    // shard is rewritten by several of them), two of them also re-analysing everything.
    let env = TestEnv::new();
    let f = files(400);
    let repo = env.repo("r", &refs(&f));
    env.run(&repo, &["init"]).ok();
    let started = Instant::now();
    let children: Vec<_> = (0..4)
        .map(|i| {
            let mut args: Vec<String> = ["analyze", "-t", "todos", "-t", "metrics", "-q"]
                .iter()
                .map(|s| s.to_string())
                .collect();
            args.extend((0..100).map(|k| format!("src/f{}.rs", i * 100 + k)));
            if i % 2 == 1 {
                args.push("--force".into());
            }
            Command::new(bin())
                .args(&args)
                .current_dir(&repo)
                .env_clear()
                .envs(&env.vars)
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let stats = Command::new(bin())
        .args(["cache", "stats", "--json"])
        .current_dir(&repo)
        .env_clear()
        .envs(&env.vars)
        .output()
        .unwrap();
    assert!(
        stats.status.success(),
        "{}",
        String::from_utf8_lossy(&stats.stderr)
    );
    for c in children {
        let out = c.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{err}");
        assert!(!err.contains("locked"), "{err}");
    }
    assert!(started.elapsed() < Duration::from_secs(60));
    let entries = entry_files(&repo);
    assert_eq!(entries.len(), 800, "every expected entry exactly once");
    let distinct: std::collections::HashSet<&String> = entries.iter().collect();
    assert_eq!(distinct.len(), 800, "no key twice");
    env.run(&repo, &["cache", "verify"]).ok();
    let s = env.run(&repo, &["cache", "stats", "--json"]).ok().json();
    assert_eq!(s["total_entries"], 800);
}

#[test]
fn a_write_interrupted_anywhere_in_the_folder_leaves_nothing_for_git() {
    // `cache migrate` rewrites config.toml atomically too: a kill during that write leaves a
    // temporary file beside it, which git must not offer to commit.
    let env = TestEnv::new();
    let repo = env.repo("r", &[("a.rs", RUST_SRC)]);
    env.run(&repo, &["analyze", "--all"]).ok();
    std::fs::write(repo.join(".rustassistant/.tmp-config-crash"), "half").unwrap();
    std::fs::write(repo.join(".rustassistant/cache/.tmp-entry-crash"), "half").unwrap();
    let status = env.git(&repo, &["status", "--porcelain", "--untracked-files=all"]);
    assert!(!status.contains(".tmp-"), "{status}");
}
