//! The trust boundary and the transport's promises (issue 11): what a committed config may make
//! the tool do, symlinked prompts and configs, one deadline per request, no redirects, keys
//! redacted before any cut, over-billing said out loud, and a closed stdout.

use std::io::Read as _;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::common::fake::{ok_reply, FakeServer, Reply, RESULT};
use crate::common::*;

const KEY: &str = "sk-test-0123456789abcdefghijklmnopqrstuvwxyz-SECRET";

fn write_repo_config(repo: &std::path::Path, text: &str) {
    std::fs::create_dir_all(repo.join(".rustassistant")).unwrap();
    std::fs::write(repo.join(".rustassistant/config.toml"), text).unwrap();
}

fn write_user_config(env: &TestEnv, text: &str) {
    std::fs::write(env.home.join(".rustassistant/config.toml"), text).unwrap();
}

#[test]
fn a_committed_config_cannot_send_the_key_elsewhere_or_switch_the_budget_off() {
    let evil = FakeServer::ok();
    let mut env = TestEnv::new();
    env.set("OPENAI_API_KEY", KEY);
    // The user's own settings: OpenAI, and a budget of $0 for this month.
    write_user_config(
        &env,
        "[llm]\nprovider = \"openai\"\n[budget]\nmonthly_limit_usd = 0.0\n",
    );
    let repo = env.repo("r", &[("a.rs", "fn a() {}\n"), (".env", "TOKEN=1\n")]);
    env.run(&repo, &["init"]).ok();
    write_repo_config(
        &repo,
        &format!(
            "[llm]\nbase_url = \"{}\"\n[analysis]\ninclude = [\"**/*\"]\nallow_secrets = [\"**\"]\n[budget]\nhard_limit = false\n[pricing.\"gpt-4o-mini\"]\ninput = 0.0\noutput = 0.0\n[cache]\nrequire_signature = false\n",
            evil.base_url("openai")
        ),
    );
    let r = env.run(&repo, &["analyze", "--all", "-t", "refactor", "--json"]);
    assert_eq!(
        evil.count(),
        0,
        "the key and code went to the committed endpoint"
    );
    assert_eq!(
        r.code, 3,
        "the user's own $0 budget still refuses: {}",
        r.stderr
    );
    for setting in [
        "[llm] base_url",
        "[analysis] allow_secrets",
        "[budget] hard_limit",
        "[pricing.\"gpt-4o-mini\"]",
        "[cache] require_signature = false",
    ] {
        let line = format!("ignored {setting} in .rustassistant/config.toml");
        assert_eq!(
            r.stderr.matches(&line).count(),
            1,
            "one warning line for {setting}:\n{}",
            r.stderr
        );
    }
    assert!(r.stderr.contains("rustassistant trust"), "{}", r.stderr);
    assert!(!r.stderr.contains(KEY) && !r.stdout.contains(KEY));
}

#[test]
fn a_committed_openai_compatible_provider_needs_an_endpoint_the_user_named() {
    let evil = FakeServer::ok();
    let mut env = TestEnv::new();
    env.set("OPENAI_API_KEY", KEY);
    let repo = env.repo("r", &[("a.rs", "fn a() {}\n")]);
    write_repo_config(
        &repo,
        &format!(
            "[llm]\nprovider = \"openai-compatible\"\nmodel = \"m\"\nbase_url = \"{}\"\n[budget]\nallow_unknown_price = true\n",
            evil.base_url("openai")
        ),
    );
    let r = env.run(&repo, &["analyze", "a.rs", "-t", "refactor"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("needs a base URL"), "{}", r.stderr);
    assert_eq!(evil.count(), 0);
    // Trusting that exact file makes its endpoint the user's choice.
    let t = env.run(&repo, &["trust", "--json"]).ok().json();
    assert!(t["unlocks"]
        .as_array()
        .unwrap()
        .iter()
        .any(|u| u == "[llm] base_url"));
    env.run(&repo, &["analyze", "a.rs", "-t", "refactor"]).ok();
    assert_eq!(evil.count(), 1);
    // Any change to the file needs a new trust.
    let text = std::fs::read_to_string(repo.join(".rustassistant/config.toml")).unwrap();
    write_repo_config(&repo, &format!("{text}# edited\n"));
    std::fs::write(repo.join("a.rs"), "fn a2() {}\n").unwrap();
    let r = env.run(&repo, &["analyze", "a.rs", "-t", "refactor"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert_eq!(evil.count(), 1);
    // And --revoke takes trust back.
    env.run(&repo, &["trust"]).ok();
    env.run(&repo, &["trust", "--revoke"]).ok();
    assert_eq!(
        env.run(&repo, &["analyze", "a.rs", "-t", "refactor"]).code,
        2
    );
}

#[test]
fn a_repository_cannot_lower_require_signature_once_it_asked_for_it() {
    let env = TestEnv::new();
    let repo = env.repo("r", &[("a.rs", "fn a() {}\n")]);
    env.run(&repo, &["analyze", "a.rs", "-t", "todos"]).ok();
    write_repo_config(&repo, "[cache]\nrequire_signature = true\n");
    // Unsigned entries are misses now (no signing key: re-analysed, and refused again).
    let r = env.run(&repo, &["analyze", "a.rs", "-t", "todos", "--json"]);
    assert_eq!(r.json()["summary"]["hits"], 0, "{}", r.stdout);
    // A later commit lowers it: this clone keeps requiring signatures.
    write_repo_config(&repo, "[cache]\nrequire_signature = false\n");
    let r = env.run(&repo, &["analyze", "a.rs", "-t", "todos", "--json"]);
    assert_eq!(r.json()["summary"]["hits"], 0, "{}", r.stdout);
    assert!(r.stderr.contains("require_signature"), "{}", r.stderr);
    // Hits again only once the user trusts the lowering.
    env.run(&repo, &["trust"]).ok();
    let r = env.run(&repo, &["analyze", "a.rs", "-t", "todos", "--json"]);
    assert_eq!(r.json()["summary"]["hits"], 1, "{}", r.stdout);
}

#[test]
fn a_symlinked_prompt_or_config_is_refused_and_never_sent() {
    let server = FakeServer::ok();
    let mut env = TestEnv::new();
    env.use_openai(&server.base_url("openai"));
    let repo = env.repo("r", &[("a.rs", "fn a() {}\n")]);
    env.run(&repo, &["init"]).ok();
    let secret = env.root().join("id_ed25519");
    std::fs::write(
        &secret,
        "-----BEGIN OPENSSH PRIVATE KEY----- SECRET-CONTENT\n",
    )
    .unwrap();
    std::fs::create_dir_all(repo.join(".rustassistant/prompts")).unwrap();
    std::os::unix::fs::symlink(&secret, repo.join(".rustassistant/prompts/refactor.md")).unwrap();
    let r = env.run(&repo, &["analyze", "a.rs", "-t", "refactor"]);
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("symbolic link"), "{}", r.stderr);
    assert_eq!(server.count(), 0);
    // /proc/self/environ holds the key: refused the same way.
    std::fs::remove_file(repo.join(".rustassistant/prompts/refactor.md")).unwrap();
    std::os::unix::fs::symlink(
        "/proc/self/environ",
        repo.join(".rustassistant/prompts/refactor.md"),
    )
    .unwrap();
    assert_ne!(
        env.run(&repo, &["analyze", "a.rs", "-t", "refactor"]).code,
        0
    );
    assert_eq!(server.count(), 0);
    std::fs::remove_file(repo.join(".rustassistant/prompts/refactor.md")).unwrap();
    // A symlinked folder on the way is refused too.
    std::fs::remove_dir(repo.join(".rustassistant/prompts")).unwrap();
    let outside = env.root().join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(outside.join("refactor.md"), "SECRET-CONTENT {{content}}").unwrap();
    std::os::unix::fs::symlink(&outside, repo.join(".rustassistant/prompts")).unwrap();
    assert_ne!(
        env.run(&repo, &["analyze", "a.rs", "-t", "refactor"]).code,
        0
    );
    assert_eq!(server.count(), 0);
    std::fs::remove_file(repo.join(".rustassistant/prompts")).unwrap();
    // config.toml as a symlink: a clear configuration error.
    let cfg = repo.join(".rustassistant/config.toml");
    std::fs::remove_file(&cfg).unwrap();
    std::os::unix::fs::symlink(&secret, &cfg).unwrap();
    let r = env.run(&repo, &["analyze", "a.rs", "-t", "todos"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("symbolic link"), "{}", r.stderr);
    assert!(!r.stderr.contains("SECRET-CONTENT"));
    for req in server.recorded() {
        assert!(!req.body.contains("SECRET-CONTENT"));
    }
}

/// The time `rustassistant analyze` takes against `server` with `[llm] timeout = 2`.
fn time_against(server: &FakeServer, provider: &str) -> (Run, Duration) {
    let mut env = TestEnv::new();
    env.use_openai(&server.base_url(provider));
    env.set("RUSTASSISTANT_PROVIDER", provider);
    env.set("ANTHROPIC_API_KEY", KEY);
    env.set("GEMINI_API_KEY", KEY);
    write_user_config(&env, "[llm]\ntimeout = 2\n");
    let repo = env.repo("r", &[("a.rs", "fn a() {}\n")]);
    let t = Instant::now();
    let r = env.run(&repo, &["analyze", "a.rs", "-t", "refactor"]);
    (r, t.elapsed())
}

#[test]
fn a_dripping_server_is_cut_off_at_the_deadline() {
    // One byte a second of a 2 kB body: every read succeeds, the reply never ends in time.
    let server =
        FakeServer::start(|r, _| ok_reply(&r.path, RESULT).dripping(Duration::from_millis(1000)));
    let (r, took) = time_against(&server, "openai");
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("timed out"), "{}", r.stderr);
    // Generous: the deadline is 2 s; before the fix this took minutes.
    assert!(took < Duration::from_secs(30), "took {took:?}");
}

#[test]
fn retry_after_beyond_the_deadline_is_not_waited_for() {
    let server = FakeServer::start(|_, _| {
        Reply::status(429, r#"{"error":{"message":"slow down"}}"#).with_header("Retry-After", "59")
    });
    let (r, took) = time_against(&server, "openai");
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_eq!(server.count(), 1, "no retry that cannot finish in time");
    assert!(took < Duration::from_secs(30), "took {took:?}");
}

#[test]
fn the_commit_hook_bound_caps_requests_in_flight() {
    let server = FakeServer::start(|r, _| ok_reply(&r.path, RESULT).after(Duration::from_secs(60)));
    let mut env = TestEnv::new();
    env.use_openai(&server.base_url("openai"));
    let repo = env.repo("r", &[("a.rs", "fn a() {}\n")]);
    env.run(&repo, &["init", "--hooks"]).ok();
    write_repo_config(
        &repo,
        "[analysis]\ntypes = [\"refactor\"]\n[hooks]\npre_commit_timeout_s = 2\n",
    );
    std::fs::write(repo.join("a.rs"), "fn a2() {}\n").unwrap();
    let t = Instant::now();
    let r = env.git_run(&repo, &["commit", "-q", "-am", "bounded"]);
    let took = t.elapsed();
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(took < Duration::from_secs(20), "took {took:?}");
}

#[test]
fn redirects_are_never_followed_with_the_key() {
    for provider in ["anthropic", "gemini", "openai"] {
        let elsewhere = FakeServer::ok();
        let target = format!("http://127.0.0.1:{}/stolen", elsewhere.port);
        let server =
            FakeServer::start(move |_, _| Reply::status(307, "").with_header("Location", &target));
        let (r, _) = time_against(&server, provider);
        assert_eq!(r.code, 1, "{provider}: {}", r.stderr);
        assert!(r.stderr.contains("redirect"), "{provider}: {}", r.stderr);
        assert_eq!(
            elsewhere.count(),
            0,
            "{provider}: the redirect was followed"
        );
    }
}

#[test]
fn a_key_echoed_by_the_server_is_redacted_before_any_cut() {
    for pad in [280, 290, 295, 299] {
        let body = format!("{}{KEY} and more", "x".repeat(pad));
        let server = FakeServer::start(move |_, _| Reply::status(401, &body));
        let mut env = TestEnv::new();
        env.use_openai(&server.base_url("openai"));
        env.set("OPENAI_API_KEY", KEY);
        let repo = env.repo("r", &[("a.rs", "fn a() {}\n")]);
        let r = env.run(&repo, &["analyze", "a.rs", "-t", "refactor", "--json"]);
        assert_eq!(r.code, 1);
        for out in [&r.stdout, &r.stderr] {
            assert!(!out.contains(&KEY[..12]), "pad {pad}: {out}");
        }
    }
}

#[test]
fn over_billing_is_reported_and_counted_and_max_tokens_is_capped() {
    // The reply claims 10× the requested max_tokens of output.
    let server = FakeServer::start(|r, _| {
        let max: u64 = serde_json::from_str::<serde_json::Value>(&r.body).unwrap()["max_tokens"]
            .as_u64()
            .unwrap();
        let reply = ok_reply(&r.path, RESULT);
        Reply::status(
            200,
            &reply.body.replace(
                "\"completion_tokens\": 800",
                &format!("\"completion_tokens\": {}", max * 10),
            ),
        )
    });
    let mut env = TestEnv::new();
    env.use_openai(&server.base_url("openai"));
    env.set("RUSTASSISTANT_MODEL", "test-model");
    write_user_config(
        &env,
        "[llm]\nmax_tokens = 100\n[budget]\nmonthly_limit_usd = 2.01\n[pricing.\"test-model\"]\ninput = 0.0\noutput = 10000.0\n",
    );
    let repo = env.repo("r", &[("a.rs", "fn a() {}\n")]);
    let r = env.run(&repo, &["analyze", "a.rs", "-t", "refactor"]);
    assert!(r.stderr.contains("beyond the"), "{}", r.stderr);
    let b = env.run(&repo, &["budget", "--json"]).ok().json();
    assert!(
        (b["spent_usd"].as_f64().unwrap() - 10.0).abs() < 1e-6,
        "counted at what was billed: {b}"
    );
    // A configured max_tokens past the cap is capped in the request itself.
    write_user_config(
        &env,
        "[llm]\nmax_tokens = 10000000\n[budget]\nhard_limit = false\n",
    );
    std::fs::write(repo.join("a.rs"), "fn b() {}\n").unwrap();
    env.run(&repo, &["analyze", "a.rs", "-t", "refactor"]);
    let last = server.recorded().pop().unwrap();
    let sent: serde_json::Value = serde_json::from_str(&last.body).unwrap();
    assert_eq!(sent["max_tokens"], 65536);
}

/// Run the binary with stdout a pipe whose reader has already gone away.
fn with_closed_stdout(env: &TestEnv, dir: &std::path::Path, args: &[&str]) -> Run {
    let mut child = env
        .command(bin(), dir, args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let status = child.wait().unwrap();
    Run {
        code: status.code().unwrap_or(-1),
        stdout: String::new(),
        stderr,
    }
}

#[test]
fn a_closed_stdout_ends_quietly_and_keeps_what_was_written() {
    let env = TestEnv::new();
    let files: Vec<(String, String)> = (0..40)
        .map(|i| {
            (
                format!("src/f{i}.rs"),
                format!("// TODO: {i}\nfn f{i}() {{}}\n"),
            )
        })
        .collect();
    let repo = env.repo("r", &borrowed(&files));
    // A first run whose reader goes away at once: it stops taking work, keeps what it wrote.
    let r = with_closed_stdout(&env, &repo, &["analyze", "--all", "-v"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
    env.run(&repo, &["cache", "verify"]).ok();
    env.run(&repo, &["analyze", "--all"]).ok();
    for args in [
        &["analyze", "--all", "-v"][..],
        &["analyze", "--all", "--json"],
        &["show", "src/f1.rs"],
        &["cache", "stats"],
        &["cache", "stats", "--json"],
    ] {
        let r = with_closed_stdout(&env, &repo, args);
        assert_eq!(r.code, 0, "{args:?}: {}", r.stderr);
        assert!(!r.stderr.contains("panicked"), "{args:?}: {}", r.stderr);
    }
    // What the interrupted run wrote is intact: verify is clean.
    env.run(&repo, &["cache", "verify"]).ok();
}
