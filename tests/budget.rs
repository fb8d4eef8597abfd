//! Pricing, the ledger and the monthly budget, against a fake provider.

use std::path::Path;
use std::time::Duration;

use crate::common::fake::{ok_reply, FakeServer, Reply, RESULT};
use crate::common::*;

/// A fake OpenAI-style server whose every reply uses exactly 100 output tokens (and 1200 input
/// tokens, free under the test price): with `max_tokens = 100` the worst-case reservation equals
/// the real cost, $0.10 per request.
fn server_100_tokens(latency_ms: u64) -> FakeServer {
    FakeServer::start(move |r, _| {
        let body = ok_reply(&r.path, RESULT)
            .body
            .replace("\"completion_tokens\": 800", "\"completion_tokens\": 100");
        Reply::status(200, &body).after(Duration::from_millis(latency_ms))
    })
}

fn budget_repo(env: &TestEnv, name: &str, files: usize, limit: &str) -> std::path::PathBuf {
    let f: Vec<(String, String)> = (0..files)
        .map(|i| (format!("f{i}.rs"), format!("fn f{i}() {{}}\n")))
        .collect();
    let refs = borrowed(&f);
    let repo = env.repo(name, &refs);
    env.run(&repo, &["init"]).ok();
    std::fs::write(
        repo.join(".rustassistant/config.toml"),
        format!("[llm]\nmax_tokens = 100\n\n[budget]\nmonthly_limit_usd = {limit}\n\n[pricing.\"test-model\"]\ninput = 0.0\noutput = 1000.0\n"),
    )
    .unwrap();
    // [budget] and [pricing] from a repository count only once the user trusts the file.
    env.run(&repo, &["trust"]).ok();
    repo
}

fn paid_env(server: &FakeServer) -> TestEnv {
    let mut env = TestEnv::new();
    env.set("RUSTASSISTANT_PROVIDER", "openai");
    env.set("RUSTASSISTANT_MODEL", "test-model");
    env.set("OPENAI_API_KEY", "k-test");
    env.set("RUSTASSISTANT_BASE_URL", &server.base_url("openai"));
    env
}

fn ledger_settled(home: &Path) -> (f64, i64) {
    let c = rusqlite::Connection::open(home.join(".rustassistant/usage.db")).unwrap();
    c.query_row(
        "SELECT COALESCE(sum(cost_usd), 0), count(*) FROM requests WHERE state = 'settled'",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .unwrap()
}

#[test]
fn a_limit_just_above_n_requests_lets_exactly_n_through() {
    let server = server_100_tokens(0);
    let env = paid_env(&server);
    let repo = budget_repo(&env, "r", 5, "0.35");
    let r = env.run(
        &repo,
        &[
            "analyze", "--all", "-t", "refactor", "--jobs", "1", "--json",
        ],
    );
    assert_eq!(
        r.code, 3,
        "refused by the budget: {}\n{}",
        r.stderr, r.stdout
    );
    let v = r.json();
    assert_eq!(v["summary"]["misses"], 3, "{v:#}");
    assert_eq!(v["summary"]["skipped"], 2);
    assert_eq!(server.count(), 3);
    for res in v["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["status"] == "skipped")
    {
        assert!(
            res["reason"]
                .as_str()
                .unwrap()
                .starts_with("skipped (budget)"),
            "{res}"
        );
    }
    let (spent, n) = ledger_settled(&env.home);
    assert_eq!(n, 3);
    assert!((spent - 0.30).abs() < 1e-9, "{spent}");
    // 0.30 of 0.40 is exactly 75%.
    std::fs::write(
        env.home.join(".rustassistant/config.toml"),
        "[budget]\nmonthly_limit_usd = 0.40\n",
    )
    .unwrap();
    let b = env.run(&repo, &["budget"]).ok();
    assert!(
        b.stdout
            .starts_with("Budget Warning: $0.30 / $0.40 (75.0%)"),
        "{}",
        b.stdout
    );
    assert!(b.stdout.contains("Remaining: $0.10"), "{}", b.stdout);
    let j = env.run(&repo, &["budget", "--json"]).ok().json();
    for k in ["limit_usd", "spent_usd", "remaining_usd", "status"] {
        assert!(j.get(k).is_some(), "{k}");
    }
    assert_eq!(j["status"], "Warning");
    let stats = env.run(&repo, &["cache", "status"]).ok();
    assert!(stats.stdout.contains("Budget Warning"), "{}", stats.stdout);
}

#[test]
fn three_processes_of_eight_jobs_never_overshoot_a_hard_limit() {
    let server = server_100_tokens(30);
    let env = paid_env(&server);
    let repos: Vec<_> = (0..3)
        .map(|i| budget_repo(&env, &format!("r{i}"), 12, "1.05"))
        .collect();
    let children: Vec<_> = repos
        .iter()
        .map(|repo| {
            std::process::Command::new(bin())
                .args(["analyze", "--all", "-t", "refactor", "--jobs", "8", "-q"])
                .current_dir(repo)
                .env_clear()
                .envs(&env.vars)
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for c in children {
        let out = c.wait_with_output().unwrap();
        let code = out.status.code().unwrap();
        assert!(
            code == 0 || code == 3,
            "{code}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!err.contains("locked"), "{err}");
    }
    let (spent, n) = ledger_settled(&env.home);
    assert!(
        spent <= 1.05 + 1e-9,
        "settled spend {spent} exceeds the limit"
    );
    assert_eq!(
        n, 10,
        "exactly as many requests as the limit allows went through"
    );
    assert_eq!(server.count(), 10);
}

#[test]
fn an_unknown_price_under_a_hard_limit_is_refused_with_how_to_add_it() {
    let server = FakeServer::ok();
    let mut env = paid_env(&server);
    env.set("RUSTASSISTANT_MODEL", "mystery-model");
    let repo = env.repo("r", &[("a.rs", RUST_SRC)]);
    let r = env.run(&repo, &["analyze", "a.rs", "-t", "refactor"]);
    assert_eq!(r.code, 3);
    assert!(
        r.stdout.contains("[pricing.\"mystery-model\"]")
            || r.stderr.contains("[pricing.\"mystery-model\"]"),
        "{}{}",
        r.stdout,
        r.stderr
    );
    assert_eq!(server.count(), 0);
    // Allowed explicitly: it runs, and its cost is unknown, never 0.
    std::fs::write(
        env.home.join(".rustassistant/config.toml"),
        "[budget]\nallow_unknown_price = true\n",
    )
    .unwrap();
    let v = env
        .run(&repo, &["analyze", "a.rs", "-t", "refactor", "--json"])
        .ok()
        .json();
    assert_eq!(v["results"][0]["cost_usd"], serde_json::Value::Null);
    let s = env.run(&repo, &["cache", "stats", "--json"]).ok().json();
    assert_eq!(s["unknown_cost_entries"], 1);
}

#[test]
fn budget_set_validates_and_costs_reports_savings() {
    let server = server_100_tokens(0);
    let env = paid_env(&server);
    let repo = budget_repo(&env, "r", 2, "5");
    for bad in ["-5", "abc", "NaN"] {
        let r = env.run(&repo, &["budget", "set", bad]);
        assert_eq!(r.code, 2, "{bad}: {}", r.stderr);
    }
    env.run(&repo, &["budget", "set", "10"]).ok();
    assert!(
        std::fs::read_to_string(env.home.join(".rustassistant/config.toml"))
            .unwrap()
            .contains("monthly_limit_usd = 10.00")
    );
    env.run(&repo, &["analyze", "--all", "-t", "refactor"]).ok();
    env.run(&repo, &["analyze", "--all", "-t", "refactor"]).ok();
    let c = env.run(&repo, &["costs", "--json"]).ok().json();
    let row = &c["rows"][0];
    assert_eq!(row["month"], "2026-11");
    assert_eq!(row["model"], "test-model");
    assert_eq!(row["type"], "refactor");
    assert_eq!(row["requests"], 2);
    assert_eq!(row["hits"], 2);
    assert!(
        (row["saved_usd"].as_f64().unwrap() - 0.2).abs() < 1e-9,
        "{row}"
    );
    assert!((c["total_cost_usd"].as_f64().unwrap() - 0.2).abs() < 1e-9);
    let human = env.run(&repo, &["costs"]).ok();
    assert!(human.stdout.contains("test-model"), "{}", human.stdout);
}

#[test]
fn a_corrupt_ledger_refuses_paid_requests_and_is_never_reset() {
    let server = FakeServer::ok();
    let env = paid_env(&server);
    let repo = budget_repo(&env, "r", 1, "5");
    let ledger = env.home.join(".rustassistant/usage.db");
    std::fs::write(
        &ledger,
        b"this is not a ledger, it is garbage bytes of some length....",
    )
    .unwrap();
    let r = env.run(&repo, &["analyze", "--all", "-t", "refactor", "--json"]);
    assert_eq!(r.code, 3);
    let reason = r.json()["results"][0]["reason"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(reason.contains("move it aside"), "{reason}");
    assert_eq!(server.count(), 0);
    assert_eq!(
        std::fs::read(&ledger).unwrap(),
        b"this is not a ledger, it is garbage bytes of some length...."
    );
    let b = env.run(&repo, &["budget"]);
    assert_eq!(b.code, 1);
    assert!(b.stderr.contains("unreadable"), "{}", b.stderr);
    // Offline analyses do not need the ledger.
    env.run(&repo, &["analyze", "--all", "-t", "todos"]).ok();
}
