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

/// The `todos` entry file of `path` in `repo`.
fn todos_entry(env: &TestEnv, repo: &Path, path: &str) -> PathBuf {
    let blob = env.git(repo, &["hash-object", path]).trim().to_string();
    entry_files(repo)
        .into_iter()
        .find(|p| {
            p.to_string_lossy()
                .contains(&format!("/todos/{}/{}-", &blob[..2], &blob[2..]))
        })
        .expect("entry")
}

#[test]
fn malicious_entries_pulled_from_a_branch_are_reported_and_never_used() {
    let env = TestEnv::new();
    let remote = env.bare_remote();
    let names = [
        "mislabelled",
        "unparsable",
        "oversized",
        "bomb",
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
    let forge = |name: &str, f: &dyn Fn(&Path, serde_json::Value)| {
        let p = evil.join(todos_entry(&env, &evil, &format!("{name}.rs")));
        let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
        f(&p, v);
    };
    forge("mislabelled", &|p, mut v| {
        v["model"] = "todos-v9".into();
        v["result"]["items"] =
            serde_json::json!([{"line": 1, "tag": "TODO", "owner": null, "text": "delete prod"}]);
        std::fs::write(p, serde_json::to_vec_pretty(&v).unwrap()).unwrap();
    });
    forge("unparsable", &|p, _| {
        std::fs::write(p, "{\"schema_version\": 1, \"cache_type\": ").unwrap()
    });
    forge("oversized", &|p, mut v| {
        v["result"]["pad"] = "x".repeat(5 * 1024 * 1024).into();
        std::fs::write(p, serde_json::to_vec(&v).unwrap()).unwrap();
    });
    forge("bomb", &|p, _| {
        std::fs::remove_file(p).unwrap();
        let zeros = vec![b' '; 64 * 1024 * 1024];
        let z = zstd::bulk::compress(&zeros, 19).unwrap();
        std::fs::write(p.with_extension("json.zst"), z).unwrap();
    });
    forge("escape_codes", &|p, mut v| {
        v["result"]["items"][0]["text"] = "\u{1b}]0;pwned\u{7}\u{1b}[2J gotcha".into();
        std::fs::write(p, serde_json::to_vec_pretty(&v).unwrap()).unwrap();
    });
    forge("path_escape", &|p, mut v| {
        v["path"] = "../../../etc/passwd".into();
        std::fs::write(p, serde_json::to_vec_pretty(&v).unwrap()).unwrap();
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
        "expands past",
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
    // `cat` of a hostile entry is terminal-safe too.
    let cat = env
        .run(
            &evil,
            &[
                "cat",
                todos_entry(&env, &evil, "escape_codes.rs")
                    .to_str()
                    .unwrap(),
            ],
        )
        .ok();
    assert!(!cat.stdout.contains('\u{1b}') && cat.stdout.contains("\\u001b"));
}

#[test]
fn signed_entries_reject_forgeries_when_required() {
    let mut env = TestEnv::new();
    env.set("RUSTASSISTANT_SIGNING_KEY", "team-secret");
    let repo = env.repo("r", &[("a.rs", RUST_SRC), ("b.rs", "// TODO b\n")]);
    env.run(&repo, &["analyze", "--all", "-t", "todos"]).ok();
    let a = repo.join(todos_entry(&env, &repo, "a.rs"));
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&a).unwrap()).unwrap();
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
    let mut forged = v.clone();
    forged["result"]["items"][0]["text"] = "forged".into();
    std::fs::write(&a, serde_json::to_vec_pretty(&forged).unwrap()).unwrap();
    let b = repo.join(todos_entry(&env, &repo, "b.rs"));
    let mut unsigned: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&b).unwrap()).unwrap();
    unsigned.as_object_mut().unwrap().remove("signature");
    std::fs::write(&b, serde_json::to_vec_pretty(&unsigned).unwrap()).unwrap();
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
    let repo = env.repo(
        "r",
        &[
            ("keys/deploy_key.txt", pem),
            (".env", &format!("OPENAI_API_KEY={api}\n")),
            (
                "src/aws.rs",
                "const KEY: &str = \"AKIAIOSFODNN7EXAMPLE\";\n",
            ),
            (
                "src/gh.rs",
                &format!("const T: &str = \"ghp_{}\";\n", "a1B2".repeat(9)),
            ),
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
    assert_eq!(skipped.len(), 4, "{v:#}");
    assert!(skipped.iter().all(|r| r["reason"]
        .as_str()
        .unwrap()
        .starts_with("skipped (secret)")));
    for req in server.recorded() {
        for secret in ["PRIVATE KEY", "AKIAIOSFODNN7EXAMPLE", "ghp_", api.as_str()] {
            assert!(!req.body.contains(secret), "{secret} was sent");
        }
    }
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
    assert!(server.recorded()[1].body.contains("AKIAIOSFODNN7EXAMPLE"));
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
    for p in &committed {
        assert!(
            repo.join(p).is_file(),
            "committed entry {} lost",
            p.display()
        );
    }
    // migrate, evict and rebuild-index killed too.
    for i in 0..20 {
        let to = if i % 2 == 0 { "zstd" } else { "json" };
        spawn_killed(
            &env,
            &repo,
            &["cache", "migrate", "--to", to, "-q"],
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
    env.run(&repo, &["cache", "migrate", "--to", "json"]).ok();
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
    let env = TestEnv::new();
    let f = files(100);
    let repo = env.repo("r", &refs(&f));
    env.run(&repo, &["init"]).ok();
    let started = Instant::now();
    let children: Vec<_> = (0..4)
        .map(|i| {
            let mut args = vec!["analyze", "--all", "-t", "todos", "-t", "metrics", "-q"];
            if i % 2 == 1 {
                args.push("--force");
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
    assert_eq!(entries.len(), 200, "every expected entry exactly once");
    let stems: std::collections::HashSet<String> = entries
        .iter()
        .map(|p| {
            p.to_string_lossy()
                .trim_end_matches(".zst")
                .trim_end_matches(".json")
                .to_string()
        })
        .collect();
    assert_eq!(stems.len(), 200, "no key in two encodings");
    env.run(&repo, &["cache", "verify"]).ok();
    let s = env.run(&repo, &["cache", "stats", "--json"]).ok().json();
    assert_eq!(s["total_entries"], 200);
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
