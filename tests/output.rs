//! Output people read: emoji only on a terminal (never with NO_COLOR or --plain, never in a
//! pipe); `--dry-run` says what the paid requests it would send could cost.

use std::path::Path;

use crate::common::fake::FakeServer;
use crate::common::{bin, Run, TestEnv};

/// Run rustassistant with `args` under a pseudo-terminal (util-linux `script`), with `env_extra`
/// set and NO_COLOR unset unless given; `None` (loudly) where `script` is missing.
fn on_a_terminal(env: &TestEnv, dir: &Path, args: &str, env_extra: &[(&str, &str)]) -> Option<Run> {
    let have = std::process::Command::new("sh")
        .args(["-c", "command -v script"])
        .output()
        .ok()?;
    if !have.status.success() {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("util-linux `script` is missing (CI=true)");
        }
        eprintln!(
            "\n==== SKIPPED: util-linux `script` (a pseudo-terminal) is not installed ====\n"
        );
        return None;
    }
    let mut c = env.command(
        "script",
        dir,
        &["-qec", &format!("'{}' {args}", bin()), "/dev/null"],
    );
    c.env_remove("NO_COLOR");
    for (k, v) in env_extra {
        c.env(k, v);
    }
    Some(c.output().unwrap().into())
}

#[test]
fn emoji_decorate_a_terminal_and_never_a_pipe_no_color_or_plain() {
    let env = TestEnv::new();
    let repo = env.repo("e", &[("a.rs", "// TODO: x\nfn a() {}\n")]);
    let Some(tty) = on_a_terminal(&env, &repo, "analyze a.rs --type todos", &[]) else {
        return;
    };
    assert!(
        tty.stdout.contains("🔍 Analyzing a.rs (todos)..."),
        "{:?}",
        tty.stdout
    );
    assert!(tty.stdout.contains("✅ 1 file"), "{:?}", tty.stdout);
    for (args, extra) in [
        ("analyze a.rs --type todos --force", vec![("NO_COLOR", "1")]),
        ("analyze a.rs --type todos --force --plain", vec![]),
    ] {
        let r = on_a_terminal(&env, &repo, args, &extra).unwrap();
        assert!(
            r.stdout.contains("Analyzing a.rs (todos)..."),
            "{:?}",
            r.stdout
        );
        assert!(
            !r.stdout.contains('🔍') && !r.stdout.contains('✅'),
            "{args} {extra:?}: {:?}",
            r.stdout
        );
    }
    // A pipe, even without NO_COLOR: words only.
    let piped: Run = env
        .command(bin(), &repo, &["analyze", "a.rs", "--type", "todos", "-v"])
        .env_remove("NO_COLOR")
        .output()
        .unwrap()
        .into();
    assert!(
        piped
            .stdout
            .contains("Using cached analysis for a.rs (todos)"),
        "{}",
        piped.stdout
    );
    assert!(
        !piped.stdout.contains('📦') && !piped.stdout.contains('✅'),
        "{}",
        piped.stdout
    );
}

#[test]
fn dry_run_estimates_what_the_paid_requests_would_cost_and_sends_nothing() {
    let mut env = TestEnv::new();
    let server = FakeServer::ok();
    env.use_openai(&server.base_url("openai"));
    env.set("RUSTASSISTANT_MODEL", "gpt-4o-mini");
    let body = "fn main() {}\n".repeat(300); // 3,900 bytes: ~1,300 input tokens each
    let repo = env.repo(
        "d",
        &[("a.rs", &body), ("b.rs", &body), ("c.rs", "fn c() {}\n")],
    );
    let doc = env
        .run(
            &repo,
            &[
                "analyze",
                "--all",
                "--type",
                "refactor",
                "--type",
                "todos",
                "--dry-run",
                "--json",
            ],
        )
        .ok()
        .json();
    let e = &doc["summary"]["estimate"];
    assert_eq!(e["requests"], 3, "{doc}");
    assert!(e["input_tokens"].as_u64().unwrap() > 2 * 1300, "{e}");
    assert!(e["max_output_tokens"].as_u64().unwrap() >= 3);
    assert!(e["max_cost_usd"].as_f64().unwrap() > 0.0, "{e}");
    // Both ways: the batch APIs' half price (gpt-4o-mini lists no batch price of its own).
    let (normal, batch) = (
        e["max_cost_usd"].as_f64().unwrap(),
        e["max_batch_cost_usd"].as_f64().unwrap(),
    );
    assert!((batch - normal / 2.0).abs() < 1e-4, "{e}");
    assert_eq!(e["unknown_price"], 0);
    assert_eq!(
        e["tokenized"], 3,
        "gpt-4o-mini's own tokenizer counted the input: {e}"
    );
    // An estimate over what is left of the month's budget is said.
    std::fs::write(
        env.home.join(".rustassistant/config.toml"),
        "[budget]\nmonthly_limit_usd = 0.0001\n",
    )
    .unwrap();
    let r = env
        .run(
            &repo,
            &["analyze", "--all", "--type", "refactor", "--dry-run"],
        )
        .ok();
    assert!(
        r.stderr.contains("more than the $0.0001 left"),
        "{}",
        r.stderr
    );
    std::fs::remove_file(env.home.join(".rustassistant/config.toml")).unwrap();
    let text = env
        .run(
            &repo,
            &["analyze", "--all", "--type", "refactor", "--dry-run"],
        )
        .ok()
        .stdout;
    assert!(
        text.contains("would analyse 3; 3 paid requests would cost at most $")
            && text.contains("at the providers' batch prices"),
        "{text}"
    );
    // A model without a price is counted apart, never priced at zero.
    env.set("RUSTASSISTANT_MODEL", "house-model-7");
    let doc = env
        .run(
            &repo,
            &[
                "analyze",
                "--all",
                "--type",
                "refactor",
                "--dry-run",
                "--json",
            ],
        )
        .ok()
        .json();
    assert_eq!(doc["summary"]["estimate"]["unknown_price"], 3, "{doc}");
    // Offline types cost nothing: no estimate.
    let doc = env
        .run(
            &repo,
            &["analyze", "--all", "--type", "todos", "--dry-run", "--json"],
        )
        .ok()
        .json();
    assert!(doc["summary"].get("estimate").is_none(), "{doc}");
    assert_eq!(server.count(), 0, "a dry run sends nothing");
}

#[test]
fn per_file_lines_come_in_path_order_whatever_order_requests_finish_in() {
    use crate::common::fake::{ok_reply, RESULT};
    let mut env = TestEnv::new();
    // The first request answers last, the last first.
    let server = FakeServer::start(|r, n| {
        ok_reply(&r.path, RESULT).after(std::time::Duration::from_millis(
            400u64.saturating_sub(100 * n as u64),
        ))
    });
    env.use_openai(&server.base_url("openai"));
    let repo = env.repo(
        "o",
        &[
            ("a.rs", "fn a() {}\n"),
            ("b.rs", "fn b() {}\n"),
            ("c.rs", "fn c() {}\n"),
            ("d.rs", "fn d() {}\n"),
        ],
    );
    let out = env
        .run(
            &repo,
            &["analyze", "--all", "--type", "refactor", "--jobs", "4"],
        )
        .ok()
        .stdout;
    let order: Vec<&str> = out
        .lines()
        .filter(|l| l.starts_with("Analyzing "))
        .collect();
    assert_eq!(
        order,
        ["a.rs", "b.rs", "c.rs", "d.rs"]
            .map(|p| format!("Analyzing {p} (refactor)... analysis cached"))
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
        "{out}"
    );
}
