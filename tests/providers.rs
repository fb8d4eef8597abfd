//! LLM providers against fake servers on 127.0.0.1 in each wire format: caching, usage, cost,
//! retries, timeouts, concurrency, keys kept secret, bad replies.

use std::time::{Duration, Instant};

use crate::common::fake::{ok_reply, FakeServer, Reply, RESULT};
use crate::common::*;

const KEY: &str = "sk-test-SECRET-0123456789abcdef";

fn key_var(provider: &str) -> &'static str {
    match provider {
        "xai" => "XAI_API_KEY",
        "openai" => "OPENAI_API_KEY",
        "anthropic" => "ANTHROPIC_API_KEY",
        _ => "GEMINI_API_KEY",
    }
}

fn llm_env(provider: &str, server: &FakeServer) -> TestEnv {
    let mut env = TestEnv::new();
    env.set("RUSTASSISTANT_PROVIDER", provider);
    env.set("RUSTASSISTANT_BASE_URL", &server.base_url(provider));
    env.set(key_var(provider), KEY);
    env
}

fn entry_json(repo: &std::path::Path, ty: &str) -> serde_json::Value {
    entry_lines(repo)
        .into_iter()
        .chain(overlay_lines(repo))
        .find(|l| l.v["cache_type"] == ty)
        .expect("an entry")
        .v
}

#[test]
fn each_wire_format_misses_once_then_hits_with_zero_requests() {
    for (provider, model, tokens_in, tokens_out) in [
        ("xai", "grok-4-fast", 1200, 800),
        ("openai", "gpt-4o-mini", 1200, 800),
        ("anthropic", "claude-sonnet-4-20250514", 1200, 800),
        ("gemini", "gemini-2.5-flash", 1200, 800),
    ] {
        let server = FakeServer::ok();
        let env = llm_env(provider, &server);
        let repo = env.repo("r", &[("src/a.rs", RUST_SRC)]);
        let v = env
            .run(
                &repo,
                &["analyze", "src/a.rs", "--type", "refactor", "--json"],
            )
            .ok()
            .json();
        assert_eq!(v["summary"]["misses"], 1, "{provider}: {v:#}");
        assert_eq!(server.count(), 1, "{provider}");
        let r = &v["results"][0];
        assert_eq!(r["tokens"]["input"], tokens_in, "{provider}");
        assert_eq!(r["tokens"]["output"], tokens_out, "{provider}");
        assert_eq!(r["tokens"]["cached_input"], 200, "{provider}");
        assert!(
            r["cost_usd"].as_f64().unwrap() > 0.0,
            "{provider}: priced model has a cost"
        );

        let e = entry_json(&repo, "refactor");
        assert_eq!(e["provider"], provider);
        assert_eq!(e["model"], model);
        assert_eq!(e["response_model"], "served-model-1");
        assert_eq!(e["tokens"]["input"], tokens_in);
        assert!(e["cost_usd"].as_f64().unwrap() > 0.0);
        assert_eq!(e["result"]["suggestions"][0]["title"], "split");

        // The wire format's own request shape and key header.
        let req = &server.recorded()[0];
        let body: serde_json::Value = serde_json::from_str(&req.body).unwrap();
        match provider {
            "anthropic" => {
                assert_eq!(req.path, "/v1/messages");
                assert_eq!(req.header("x-api-key"), Some(KEY));
                assert_eq!(req.header("anthropic-version"), Some("2023-06-01"));
                assert_eq!(body["model"], model);
                assert!(body["system"].as_str().unwrap().contains("JSON"));
                // Structured output: the result tool, its use forced, its input the schema.
                assert_eq!(body["tool_choice"]["type"], "tool", "{body:#}");
                let tool = &body["tools"][0];
                assert_eq!(tool["name"], body["tool_choice"]["name"]);
                assert_strict_refactor_schema(&tool["input_schema"]);
            }
            "gemini" => {
                assert_eq!(req.path, format!("/v1beta/models/{model}:generateContent"));
                assert_eq!(req.header("x-goog-api-key"), Some(KEY));
                assert!(body["contents"][0]["parts"][0]["text"]
                    .as_str()
                    .unwrap()
                    .contains("fn main"));
                let config = &body["generationConfig"];
                assert_eq!(config["responseMimeType"], "application/json");
                // Gemini's dialect: upper-case types, nullable, no additionalProperties.
                let schema = &config["responseSchema"];
                assert_eq!(schema["type"], "OBJECT", "{schema:#}");
                let location = &schema["properties"]["smells"]["items"]["properties"]["location"];
                assert_eq!(location["properties"]["symbol"]["nullable"], true);
                assert!(!schema.to_string().contains("additionalProperties"));
            }
            _ => {
                assert_eq!(req.path, "/v1/chat/completions");
                assert_eq!(
                    req.header("authorization"),
                    Some(format!("Bearer {KEY}").as_str())
                );
                assert_eq!(body["messages"][1]["role"], "user");
                let format = &body["response_format"];
                assert_eq!(format["type"], "json_schema", "{provider}: {body:#}");
                assert_eq!(format["json_schema"]["strict"], true);
                assert_strict_refactor_schema(&format["json_schema"]["schema"]);
            }
        }

        let again = env
            .run(
                &repo,
                &["analyze", "src/a.rs", "--type", "refactor", "--json"],
            )
            .ok()
            .json();
        assert_eq!(again["summary"]["hits"], 1, "{provider}");
        assert_eq!(
            server.count(),
            1,
            "{provider}: the second run makes zero requests"
        );
    }
}

/// The refactor result schema as sent, strict: every field required, no others.
fn assert_strict_refactor_schema(schema: &serde_json::Value) {
    assert_eq!(schema["type"], "object", "{schema:#}");
    assert_eq!(schema["additionalProperties"], false);
    for field in ["summary", "smells", "suggestions", "scores"] {
        assert!(
            schema["required"]
                .as_array()
                .unwrap()
                .iter()
                .any(|f| f == field),
            "{field}: {schema:#}"
        );
    }
    assert_eq!(
        schema["properties"]["smells"]["items"]["properties"]["severity"]["enum"],
        serde_json::json!(["low", "medium", "high", "critical"])
    );
}

#[test]
fn a_server_that_refuses_json_schema_is_asked_for_json_objects_once_and_for_the_run() {
    // An OpenAI-compatible server without structured outputs (as llama.cpp's once answered).
    let server = FakeServer::start(|r, _| {
        if r.body.contains("\"json_schema\"") {
            Reply::status(
                400,
                r#"{"error": {"message": "response_format type 'json_schema' is not supported", "type": "invalid_request_error"}}"#,
            )
        } else {
            crate::common::fake::answer(r)
        }
    });
    let env = llm_env("openai", &server);
    let repo = env.repo("r", &[("src/a.rs", RUST_SRC), ("src/b.rs", "fn b() {}\n")]);
    let out = env
        .run(
            &repo,
            &[
                "analyze", "--all", "--type", "refactor", "-v", "--jobs", "1",
            ],
        )
        .ok();
    assert!(
        out.stdout
            .contains("the server refused `json_schema` structured outputs"),
        "{}",
        out.stdout
    );
    let bodies: Vec<String> = server.recorded().into_iter().map(|r| r.body).collect();
    let refused = bodies
        .iter()
        .filter(|b| b.contains("\"json_schema\""))
        .count();
    assert_eq!(refused, 1, "refused once, then remembered for the run");
    assert_eq!(bodies.len(), 3, "two files, one request refused");
    assert!(bodies[1..].iter().all(|b| b.contains("\"json_object\"")));
    // The schema then goes in words, in the system message.
    assert!(bodies[1..]
        .iter()
        .all(|b| b.contains("following this JSON Schema")));
    assert_eq!(entry_lines(&repo).len(), 2, "both analysed and cached");
}

#[test]
fn a_clone_after_pull_makes_zero_requests() {
    let server = FakeServer::ok();
    let env = llm_env("xai", &server);
    let remote = env.bare_remote();
    let a = env.repo("a", &[("a.rs", RUST_SRC), ("b.py", PY_SRC)]);
    env.git(&a, &["remote", "add", "origin", remote.to_str().unwrap()]);
    env.run(
        &a,
        &["analyze", "--all", "--type", "refactor", "--type", "docs"],
    )
    .ok();
    assert_eq!(server.count(), 4);
    env.git(&a, &["add", "-A"]);
    env.git(&a, &["commit", "-q", "-m", "analyses"]);
    env.git(&a, &["push", "-q", "origin", "main"]);
    let b = env.clone_of(&remote, "b");
    let v = env
        .run(
            &b,
            &[
                "analyze", "--all", "--type", "refactor", "--type", "docs", "--json",
            ],
        )
        .ok()
        .json();
    assert_eq!(v["summary"]["hits"], 4);
    assert_eq!(server.count(), 4, "no request from the clone");
    let shown = env.run(&b, &["show", "a.rs", "--type", "docs"]).ok();
    assert!(shown.stdout.contains("# Module"), "{}", shown.stdout);
}

#[test]
fn rate_limit_with_retry_after_is_retried_once_and_cached() {
    let server = FakeServer::start(|r, n| {
        if n == 0 {
            Reply::status(429, r#"{"error": {"message": "Rate limit reached for requests", "type": "rate_limit"}}"#).with_header("Retry-After", "1")
        } else {
            ok_reply(&r.path, RESULT)
        }
    });
    let env = llm_env("openai", &server);
    let repo = env.repo("r", &[("a.rs", RUST_SRC)]);
    let started = Instant::now();
    let v = env
        .run(&repo, &["analyze", "a.rs", "-t", "refactor", "--json"])
        .ok()
        .json();
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "Retry-After honoured"
    );
    assert_eq!(server.count(), 2);
    assert_eq!(v["summary"]["misses"], 1);
    assert_eq!(entry_files(&repo).len(), 1);
}

#[test]
fn persistent_server_errors_are_reported_and_nothing_is_cached() {
    let server = FakeServer::start(|_, _| {
        Reply::status(500, r#"{"error": {"message": "upstream exploded"}}"#)
    });
    let env = llm_env("anthropic", &server);
    let repo = env.repo("r", &[("a.rs", RUST_SRC)]);
    let r = env.run(&repo, &["analyze", "a.rs", "-t", "refactor", "--json"]);
    assert_eq!(r.code, 1);
    assert_eq!(server.count(), 3, "first attempt plus two retries");
    let v = r.json();
    assert_eq!(v["results"][0]["status"], "error");
    let reason = v["results"][0]["reason"].as_str().unwrap();
    assert!(
        reason.contains("HTTP 500") && reason.contains("upstream exploded"),
        "{reason}"
    );
    assert!(entry_files(&repo).is_empty());
}

#[test]
fn an_overloaded_anthropic_529_is_retried() {
    let server = FakeServer::start(|r, n| {
        if n == 0 {
            Reply::status(529, r#"{"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}"#).with_header("Retry-After", "0")
        } else {
            ok_reply(&r.path, RESULT)
        }
    });
    let env = llm_env("anthropic", &server);
    let repo = env.repo("r", &[("a.rs", RUST_SRC)]);
    env.run(&repo, &["analyze", "a.rs", "-t", "analysis"]).ok();
    assert_eq!(server.count(), 2);
}

#[test]
fn unauthorised_is_not_retried_and_the_key_is_redacted() {
    let server = FakeServer::start(|_, _| {
        Reply::status(
            401,
            &format!(r#"{{"error": {{"message": "Incorrect API key provided: {KEY}"}}}}"#),
        )
    });
    let env = llm_env("openai", &server);
    let repo = env.repo("r", &[("a.rs", RUST_SRC)]);
    let r = env.run(&repo, &["analyze", "a.rs", "-t", "refactor"]);
    assert_eq!(r.code, 1);
    assert_eq!(server.count(), 1, "no retry on 401");
    assert!(
        r.stderr.contains("HTTP 401")
            && r.stderr.contains("Incorrect API key provided: [REDACTED]"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains(KEY) && !r.stdout.contains(KEY));
}

#[test]
fn a_spending_cap_429_is_not_retried() {
    let server = FakeServer::start(|_, _| {
        Reply::status(
            429,
            r#"{"error": {"message": "You exceeded your current quota", "code": "insufficient_quota"}}"#,
        )
    });
    let env = llm_env("openai", &server);
    let repo = env.repo("r", &[("a.rs", RUST_SRC)]);
    let r = env.run(&repo, &["analyze", "a.rs", "-t", "refactor"]);
    assert_eq!(r.code, 1);
    assert_eq!(server.count(), 1);
    assert!(r.stderr.contains("spending cap or quota"), "{}", r.stderr);
}

#[test]
fn a_slow_server_times_out() {
    let server = FakeServer::start(|r, _| ok_reply(&r.path, RESULT).after(Duration::from_secs(4)));
    let env = llm_env("gemini", &server);
    let repo = env.repo("r", &[("a.rs", RUST_SRC)]);
    env.run(&repo, &["init"]).ok();
    std::fs::write(
        repo.join(".rustassistant/config.toml"),
        "[llm]\ntimeout = 1\n",
    )
    .unwrap();
    let started = Instant::now();
    let r = env.run(&repo, &["analyze", "a.rs", "-t", "docs"]);
    assert_eq!(r.code, 1);
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "did not wait for the reply"
    );
    assert!(r.stderr.contains("timed out"), "{}", r.stderr);
    assert!(entry_files(&repo).is_empty());
}

#[test]
fn eight_jobs_overlap_requests() {
    let server =
        FakeServer::start(|r, _| ok_reply(&r.path, RESULT).after(Duration::from_millis(200)));
    let env = llm_env("xai", &server);
    let files: Vec<(String, String)> = (0..40)
        .map(|i| (format!("f{i}.rs"), format!("fn f{i}() {{}}\n")))
        .collect();
    let refs = borrowed(&files);
    let repo = env.repo("r", &refs);
    let started = Instant::now();
    let v = env
        .run(
            &repo,
            &[
                "analyze", "--all", "-t", "refactor", "--jobs", "8", "--json",
            ],
        )
        .ok()
        .json();
    let elapsed = started.elapsed();
    assert_eq!(v["summary"]["misses"], 40);
    assert_eq!(server.count(), 40);
    // Serial would be 40 × 200 ms = 8 s; a generous bound that still proves overlap.
    assert!(elapsed < Duration::from_millis(4000), "took {elapsed:?}");
}

#[test]
fn the_key_never_reaches_output_entries_or_the_index() {
    let server = FakeServer::ok();
    let env = llm_env("xai", &server);
    let repo = env.repo("r", &[("a.rs", RUST_SRC), ("b.rs", "fn b() {}\n")]);
    let mut printed = String::new();
    for args in [
        vec!["analyze", "--all", "-t", "refactor", "-t", "docs", "-v"],
        vec!["analyze", "--all", "-t", "refactor", "--json"],
        vec!["cache", "stats", "--json"],
        vec!["show", "a.rs"],
    ] {
        let r = env.run(&repo, &args).ok();
        printed.push_str(&r.stdout);
        printed.push_str(&r.stderr);
    }
    assert!(!printed.contains(KEY));
    assert!(
        server
            .recorded()
            .iter()
            .any(|r| r.header("authorization").is_some_and(|a| a.contains(KEY))),
        "the key was sent"
    );
    for dir in [repo.clone(), env.home.clone()] {
        for f in walkdir::WalkDir::new(&dir)
            .into_iter()
            .flatten()
            .filter(|e| e.file_type().is_file())
        {
            if f.path().components().any(|c| c.as_os_str() == "objects") {
                continue;
            }
            let bytes = std::fs::read(f.path()).unwrap();
            let needle = KEY.as_bytes();
            assert!(
                !bytes.windows(needle.len()).any(|w| w == needle),
                "key found in {}",
                f.path().display()
            );
        }
    }
}

#[test]
fn bad_replies_are_errors_and_never_cached() {
    // (A reply in the wire format whose answer misses the schema is stored: the next test.)
    let replies: Vec<(&str, Reply)> = vec![
        ("not JSON", Reply::status(200, "<html>gateway</html>")),
        (
            "no usage",
            Reply::status(
                200,
                r#"{"choices": [{"message": {"content": "{\"markdown\": \"x\"}"}}]}"#,
            ),
        ),
        (
            "huge",
            Reply::status(
                200,
                &format!(r#"{{"pad": "{}"}}"#, "x".repeat(9 * 1024 * 1024)),
            ),
        ),
    ];
    for (what, reply) in replies {
        let server = FakeServer::start(move |_, _| reply.clone());
        let env = llm_env("openai", &server);
        let repo = env.repo("r", &[("a.rs", RUST_SRC)]);
        let r = env.run(&repo, &["analyze", "a.rs", "-t", "docs", "--json"]);
        assert_eq!(r.code, 1, "{what}: {}", r.stderr);
        let v = r.json();
        assert_eq!(v["results"][0]["status"], "error", "{what}");
        assert!(entry_files(&repo).is_empty(), "{what}: nothing cached");
    }
    // A fenced reply is repaired.
    let server = FakeServer::start(|r, _| ok_reply(&r.path, &format!("```json\n{RESULT}\n```")));
    let env = llm_env("openai", &server);
    let repo = env.repo("r", &[("a.rs", RUST_SRC)]);
    env.run(&repo, &["analyze", "a.rs", "-t", "docs"]).ok();
    assert_eq!(entry_files(&repo).len(), 1);
}

#[test]
fn a_reply_that_misses_the_schema_is_paid_for_once_and_force_asks_again() {
    for (what, answer, granularity) in [
        ("prose", "I think the code is fine.", "file"),
        ("wrong schema", r#"{"text": "x"}"#, "file"),
        ("prose to an item request", "Looks good to me.", "item"),
    ] {
        let server = FakeServer::start(move |r, _| ok_reply(&r.path, answer));
        let mut env = llm_env("openai", &server);
        env.set("RUSTASSISTANT_GRANULARITY", granularity);
        let repo = env.repo("r", &[("a.rs", RUST_SRC)]);
        let first = env.run(&repo, &["analyze", "a.rs", "-t", "refactor", "--json"]);
        assert_eq!(first.code, 1, "{what}: an error line the run it arrives");
        let r = &first.json()["results"][0];
        assert!(
            r["reason"]
                .as_str()
                .unwrap()
                .contains("invalid reply, stored so it is not paid for again"),
            "{what}: {r:#}"
        );
        assert!(r["cost_usd"].as_f64().unwrap() > 0.0, "{what}: {r:#}");
        // Stored, marked, with the reply as it came.
        let e = entry_json(&repo, "refactor");
        assert!(e["invalid"].as_str().unwrap().contains("openai"), "{e:#}");
        let word = if answer.starts_with('{') {
            "text"
        } else {
            answer.split(' ').next().unwrap()
        };
        assert!(e["result"].to_string().contains(word), "{what}: {e:#}");
        // Three runs, one payment.
        for _ in 0..2 {
            env.run(&repo, &["analyze", "a.rs", "-t", "refactor"]).ok();
        }
        assert_eq!(server.count(), 1, "{what}: paid once over three runs");
        // Not a result for `show` unless asked; counted by `cache verify` and `cache stats`.
        let show = env.run(&repo, &["show", "a.rs", "-t", "refactor"]);
        assert_ne!(show.code, 0, "{what}");
        assert!(show.stderr.contains("is invalid"), "{}", show.stderr);
        let shown = env
            .run(
                &repo,
                &["show", "a.rs", "-t", "refactor", "--include-invalid"],
            )
            .ok();
        assert!(shown.stdout.contains("invalid reply"), "{}", shown.stdout);
        let v = env.run(&repo, &["cache", "verify", "--json"]).ok().json();
        assert_eq!(v["invalid_replies"]["entries"], 1, "{v:#}");
        let stats = env.run(&repo, &["cache", "stats", "--json"]).ok().json();
        assert_eq!(stats["invalid_replies"]["entries"], 1, "{stats:#}");
        let f = env
            .run(&repo, &["findings", "--json", "-t", "refactor"])
            .ok()
            .json();
        assert_eq!(f["findings"].as_array().unwrap().len(), 0, "{f:#}");
        let f = env
            .run(
                &repo,
                &["findings", "--json", "-t", "refactor", "--include-invalid"],
            )
            .ok()
            .json();
        assert_eq!(f["findings"][0]["kind"], "invalid-reply", "{f:#}");
        env.run(&repo, &["report", "-o", "r.html"]).ok();
        let html = std::fs::read_to_string(repo.join("r.html")).unwrap();
        assert!(html.contains("replies that missed their schema"), "{what}");
        // `--force` asks again.
        let again = env.run(&repo, &["analyze", "a.rs", "-t", "refactor", "--force"]);
        assert_eq!(again.code, 1);
        assert_eq!(server.count(), 2, "{what}: --force pays again");
    }
}

#[test]
fn configuration_mistakes_are_clear() {
    let server = FakeServer::ok();
    let mut env = llm_env("openai", &server);
    let repo = env.repo("r", &[("a.rs", RUST_SRC), ("latin1.rs", "")]);
    std::fs::write(repo.join("latin1.rs"), b"// caf\xe9\nfn x() {}\n").unwrap();

    let r = env.run(
        &repo,
        &["analyze", "a.rs", "-t", "refactor", "--provider", "nope"],
    );
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("unknown provider `nope`"), "{}", r.stderr);

    let v = env
        .run(&repo, &["analyze", "latin1.rs", "-t", "refactor", "--json"])
        .ok()
        .json();
    assert_eq!(v["results"][0]["status"], "skipped");
    assert_eq!(v["results"][0]["reason"], "not UTF-8 text");

    env.unset("OPENAI_API_KEY");
    let r = env.run(&repo, &["analyze", "a.rs", "-t", "refactor"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("set OPENAI_API_KEY"), "{}", r.stderr);
    assert_eq!(server.count(), 0, "nothing sent without a key");

    env.set("OPENAI_API_KEY", KEY);
    env.set("RUSTASSISTANT_BASE_URL", "http://127.0.0.1:9/v1");
    let r = env.run(&repo, &["analyze", "a.rs", "-t", "refactor"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("cannot reach http://127.0.0.1:9/v1"),
        "{}",
        r.stderr
    );
}

#[test]
fn a_prompt_override_or_another_model_is_a_new_key() {
    let server = FakeServer::ok();
    let env = llm_env("openai", &server);
    let repo = env.repo("r", &[("a.rs", RUST_SRC)]);
    env.run(&repo, &["refactor", "analyze", "a.rs"]).ok();
    env.run(&repo, &["refactor", "analyze", "a.rs"]).ok();
    assert_eq!(server.count(), 1);
    std::fs::create_dir_all(repo.join(".rustassistant/prompts")).unwrap();
    std::fs::write(
        repo.join(".rustassistant/prompts/refactor.md"),
        "Be brief about {{path}}:\n{{content}}\n",
    )
    .unwrap();
    env.run(&repo, &["refactor", "analyze", "a.rs"]).ok();
    assert_eq!(server.count(), 2, "a new prompt is a new key");
    let sent: serde_json::Value = serde_json::from_str(&server.recorded()[1].body).unwrap();
    assert!(sent["messages"][1]["content"]
        .as_str()
        .unwrap()
        .starts_with("Be brief about a.rs:"));
    env.run(&repo, &["refactor", "analyze", "a.rs", "--model", "gpt-4o"])
        .ok();
    assert_eq!(server.count(), 3, "a new model is a new key");
    assert_eq!(entry_files(&repo).len(), 3, "older entries are kept");
    env.run(&repo, &["docs", "module", "a.rs"]).ok();
    assert_eq!(server.count(), 4);
}

#[test]
fn ctrl_c_stops_cleanly_and_keeps_every_entry_written() {
    let server =
        FakeServer::start(|r, _| ok_reply(&r.path, RESULT).after(Duration::from_millis(100)));
    let env = llm_env("xai", &server);
    let files: Vec<(String, String)> = (0..60)
        .map(|i| (format!("f{i}.rs"), format!("fn f{i}() {{}}\n")))
        .collect();
    let refs = borrowed(&files);
    let repo = env.repo("r", &refs);
    let child = std::process::Command::new(bin())
        .args(["analyze", "--all", "-t", "refactor", "--jobs", "2", "-q"])
        .current_dir(&repo)
        .env_clear()
        .envs(&env.vars)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait for the run to be under way (the server has answered a few requests).
    let deadline = Instant::now() + Duration::from_secs(20);
    while server.count() < 6 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    let status = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(130),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("interrupted"));
    let written = entry_files(&repo).len();
    assert!(
        (4..60).contains(&written),
        "stopped part-way with whole entries: {written}"
    );
    env.run(&repo, &["cache", "verify"]).ok();
    // The rest is picked up by the next run; what was written is a hit.
    let v = env
        .run(&repo, &["analyze", "--all", "-t", "refactor", "--json"])
        .ok()
        .json();
    assert_eq!(v["summary"]["hits"].as_u64().unwrap() as usize, written);
    assert_eq!(
        v["summary"]["misses"].as_u64().unwrap() as usize,
        60 - written
    );
}
