//! `findings`: every type's results as findings, filtered, sorted, in four formats, SARIF
//! checked by Microsoft's validator, hostile text inert, thresholds and `--since` honoured.

use std::path::Path;

use serde_json::Value;

use crate::common::fake::{ok_reply, FakeServer};
use crate::common::{peer, TestEnv};

/// One reply valid for refactor, docs and analysis, with text a hostile teammate could write.
const REPLY: &str = r##"{"summary": "mixed", "smells": [
  {"type": "error-handling", "severity": "critical", "location": {"line_start": 3, "line_end": 4, "symbol": "main"}, "description": "</script><script>alert(1)</script> \u001b[31mred\u001b[0m"},
  {"type": "naming", "severity": "low", "location": {"line_start": 2, "line_end": 2, "symbol": null}, "description": "x is vague"}],
  "suggestions": [{"title": "split main", "description": "extract steps", "priority": "high", "effort": "small", "location": {"line_start": 1, "line_end": 9, "symbol": "main"}}],
  "scores": {"maintainability": 5, "readability": 6, "complexity": 4},
  "markdown": "# Module", "quality": {"score": 7, "findings": [{"severity": "medium", "description": "duplicated branch", "line": 5}]},
  "complexity": {"score": 4, "hotspots": [{"symbol": "main", "line": 1, "reason": "long"}]},
  "security": {"score": 3, "findings": [{"severity": "high", "description": "command built from input", "line": 6}]}}"##;

fn main_rs() -> String {
    let mut s = String::from("fn main() {\n    // TODO(ann): split this\n    let v = std::env::args().nth(1).unwrap();\n    // FIXME: leaks\n");
    for i in 0..90 {
        s.push_str(&format!("    println!(\"{{}} {i}\", v);\n"));
    }
    s.push_str("}\n");
    s
}

fn setup() -> (TestEnv, std::path::PathBuf, FakeServer) {
    let mut env = TestEnv::new();
    let server = FakeServer::start(|r, _| ok_reply(&r.path, REPLY));
    env.use_openai(&server.base_url("openai"));
    let repo = env.repo(
        "f",
        &[
            ("src/main.rs", &main_rs()),
            ("src/b.rs", "pub fn b() {}\n"),
            ("README.md", "hello\n"),
        ],
    );
    env.run(&repo, &["init"]).ok();
    let mut args = vec!["analyze", "--all"];
    for t in ["refactor", "docs", "analysis", "todos", "metrics"] {
        args.extend(["--type", t]);
    }
    env.run(&repo, &args).ok();
    (env, repo, server)
}

fn findings(env: &TestEnv, repo: &Path, extra: &[&str]) -> Vec<Value> {
    let mut args = vec!["findings", "--json"];
    args.extend_from_slice(extra);
    let doc = env.run(repo, &args).ok().json();
    doc["findings"].as_array().unwrap().clone()
}

fn rules(list: &[Value]) -> Vec<String> {
    list.iter()
        .map(|f| {
            format!(
                "{}/{}",
                f["type"].as_str().unwrap(),
                f["kind"].as_str().unwrap()
            )
        })
        .collect()
}

#[test]
fn every_type_gives_findings_sorted_filtered_and_failing_ci_on_request() {
    let (env, repo, _server) = setup();
    let all = findings(&env, &repo, &[]);
    let r = rules(&all);
    for want in [
        "refactor/error-handling",
        "refactor/naming",
        "refactor/suggestion",
        "analysis/quality",
        "analysis/security",
        "analysis/complexity",
        "todos/todo",
        "todos/fixme",
        "metrics/long-function",
        "metrics/panic-site",
    ] {
        assert!(r.contains(&want.to_string()), "{want} missing from {r:?}");
    }
    assert!(
        !r.iter().any(|x| x.starts_with("docs/")),
        "docs are not findings"
    );
    for f in &all {
        for k in [
            "path",
            "line_start",
            "line_end",
            "type",
            "kind",
            "severity",
            "message",
            "key",
        ] {
            assert!(!f[k].is_null(), "{k} missing in {f}");
        }
        let key = f["key"].as_str().unwrap();
        assert!(
            key.starts_with(&format!("{}/", f["type"].as_str().unwrap())),
            "{key}"
        );
        assert!(f["line_end"].as_u64() >= f["line_start"].as_u64());
    }
    // Sorted by path, then line.
    let order: Vec<(String, u64)> = all
        .iter()
        .map(|f| {
            (
                f["path"].as_str().unwrap().to_string(),
                f["line_start"].as_u64().unwrap(),
            )
        })
        .collect();
    let mut sorted = order.clone();
    sorted.sort();
    assert_eq!(order, sorted);
    // Findings name the path they are at; the long function spans its lines.
    let long = all.iter().find(|f| f["kind"] == "long-function").unwrap();
    assert_eq!(
        (
            long["path"].as_str(),
            long["line_start"].as_u64(),
            long["line_end"].as_u64()
        ),
        (Some("src/main.rs"), Some(1), Some(95))
    );

    // Filters.
    let todos = findings(&env, &repo, &["--type", "todos"]);
    assert!(!todos.is_empty() && todos.iter().all(|f| f["type"] == "todos"));
    let errors = findings(&env, &repo, &["--severity", "error"]);
    assert!(!errors.is_empty() && errors.iter().all(|f| f["severity"] == "error"));
    let warn_up = findings(&env, &repo, &["--severity", "warning"]);
    assert!(warn_up.iter().all(|f| f["severity"] != "note") && warn_up.len() > errors.len());
    let one = findings(&env, &repo, &["src/b.rs"]);
    assert!(one.iter().all(|f| f["path"] == "src/b.rs"), "{one:?}");

    // Exit codes for CI.
    assert_eq!(
        env.run(&repo, &["findings", "--fail-on", "error", "-q"])
            .code,
        1
    );
    assert_eq!(
        env.run(&repo, &["findings", "--fail-on", "none", "-q"])
            .code,
        0
    );
    assert_eq!(
        env.run(
            &repo,
            &["findings", "--type", "docs", "--fail-on", "note", "-q"]
        )
        .code,
        0
    );
    assert_eq!(env.run(&repo, &["findings", "--fail-on", "loud"]).code, 2);
    std::fs::write(
        repo.join(".rustassistant/config.toml"),
        "[findings]\nfail_on = \"warning\"\n",
    )
    .unwrap();
    assert_eq!(
        env.run(&repo, &["findings", "--type", "todos", "-q"]).code,
        1
    );

    // Thresholds come from [findings]: findings derived under others are derived again.
    std::fs::write(
        repo.join(".rustassistant/config.toml"),
        "[findings]\nfunction_lines = 200\npanic_sites = false\n",
    )
    .unwrap();
    let relaxed = rules(&findings(&env, &repo, &["--type", "metrics"]));
    assert!(relaxed.is_empty(), "{relaxed:?}");
    std::fs::write(repo.join(".rustassistant/config.toml"), "").unwrap();
    assert_eq!(findings(&env, &repo, &["--type", "metrics"]).len(), 2);
    // Entries past [cache] max_age (the user's: a repository may not set it) are
    // misses, so they report nothing. They were written at RUSTASSISTANT_NOW, a day or more ago.
    let user = env.home.join(".rustassistant/config.toml");
    std::fs::write(&user, "[cache]\nmax_age = \"1h\"\n").unwrap();
    let later = env.run(&repo, &["findings", "--json"]).ok();
    assert_eq!(later.json()["summary"]["total"], 0, "{}", later.stdout);
    assert!(
        later.stderr.contains("3 files without a cached analysis"),
        "{}",
        later.stderr
    );
    std::fs::remove_file(&user).unwrap();

    // CI without a key or provider still sees the LLM types' findings (newest entry).
    let out: crate::common::Run = env
        .command(crate::common::bin(), &repo, &["findings", "--json"])
        .env_remove("RUSTASSISTANT_PROVIDER")
        .env_remove("OPENAI_API_KEY")
        .output()
        .unwrap()
        .into();
    let r = rules(out.ok().json()["findings"].as_array().unwrap());
    assert!(r.contains(&"analysis/security".to_string()), "{r:?}");
}

#[test]
fn since_lists_only_what_changed_and_unanalysed_files_are_counted() {
    let (env, repo, _server) = setup();
    env.git(&repo, &["add", "-A"]);
    env.git(&repo, &["commit", "-qm", "base"]);
    assert_eq!(findings(&env, &repo, &["--since", "HEAD"]).len(), 0);
    std::fs::write(
        repo.join("src/b.rs"),
        "pub fn b() { x.unwrap(); } // TODO later\n",
    )
    .unwrap();
    std::fs::write(repo.join("src/new.rs"), "// FIXME new\n").unwrap();
    let run = env
        .run(&repo, &["findings", "--since", "HEAD", "--json"])
        .ok();
    assert!(
        run.stderr.contains("2 files without a cached analysis"),
        "{}",
        run.stderr
    );
    env.run(&repo, &["analyze", "--changed", "--type", "todos"])
        .ok();
    let since = findings(&env, &repo, &["--since", "HEAD"]);
    let paths: std::collections::BTreeSet<&str> =
        since.iter().map(|f| f["path"].as_str().unwrap()).collect();
    assert_eq!(
        paths.into_iter().collect::<Vec<_>>(),
        vec!["src/b.rs", "src/new.rs"]
    );
    let r = env.run(&repo, &["findings", "--since", "no-such-rev"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("no-such-rev"), "{}", r.stderr);
}

#[test]
fn hostile_text_is_inert_in_text_and_markdown() {
    let (env, repo, _server) = setup();
    let text = env
        .run(&repo, &["findings", "--type", "refactor"])
        .ok()
        .stdout;
    assert!(
        !text.contains('\u{1b}'),
        "a terminal escape reached the terminal: {text:?}"
    );
    assert!(text.contains("src/main.rs:3-4: error:"), "{text}");
    assert!(
        text.lines().last().unwrap().contains("findings ("),
        "{text}"
    );
    let md = env
        .run(&repo, &["findings", "--format", "markdown"])
        .ok()
        .stdout;
    assert!(
        !md.contains("<script>") && md.contains("&lt;script&gt;"),
        "{md}"
    );
    assert!(md.contains("### src/main.rs") && md.contains("| line | severity | rule | message |"));
}

#[test]
fn sarif_passes_microsofts_validator_and_fingerprints_survive_unrelated_commits() {
    let (env, repo, _server) = setup();
    env.git(&repo, &["add", "-A"]);
    env.git(&repo, &["commit", "-qm", "one"]);
    let out = repo.join("out.sarif");
    env.run(&repo, &["findings", "--format", "sarif", "-o", "out.sarif"])
        .ok();
    let log: Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(log["version"], "2.1.0");
    let run = &log["runs"][0];
    assert_eq!(run["tool"]["driver"]["name"], "rustassistant");
    assert_eq!(run["tool"]["driver"]["version"], env!("CARGO_PKG_VERSION"));
    let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
    let results = run["results"].as_array().unwrap();
    assert!(results.len() >= 10);
    let mut fps = Vec::new();
    for r in results {
        let i = r["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(rules[i]["id"], r["ruleId"]);
        let uri = r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
            .as_str()
            .unwrap();
        assert!(
            uri.starts_with("src/") || uri == "README.md",
            "relative URI: {uri}"
        );
        fps.push((
            uri.to_string(),
            r["partialFingerprints"]["rustassistantEntry/v1"]
                .as_str()
                .unwrap()
                .to_string(),
        ));
    }
    let distinct: std::collections::BTreeSet<_> = fps.iter().collect();
    assert_eq!(distinct.len(), fps.len(), "fingerprints are unique");
    // A commit that does not touch src/main.rs keeps its findings' fingerprints.
    std::fs::write(repo.join("README.md"), "hello again\n").unwrap();
    env.git(&repo, &["commit", "-qam", "two"]);
    let again = env
        .run(&repo, &["findings", "--format", "sarif"])
        .ok()
        .stdout;
    let again: Value = serde_json::from_str(&again).unwrap();
    let fps2: Vec<(String, String)> = again["runs"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let uri = r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
                .as_str()
                .unwrap();
            (
                uri.to_string(),
                r["partialFingerprints"]["rustassistantEntry/v1"]
                    .as_str()
                    .unwrap()
                    .to_string(),
            )
        })
        .collect();
    let src: Vec<_> = fps
        .iter()
        .filter(|(u, _)| u.starts_with("src/"))
        .cloned()
        .collect();
    assert!(!src.is_empty());
    assert_eq!(
        fps2, src,
        "README.md changed (no analysis yet); src/ kept its fingerprints"
    );

    let Some(tool) = peer(
        "node_modules/.bin/sarif-multitool",
        "Microsoft's SARIF validator (npm @microsoft/sarif-multitool)",
    ) else {
        return;
    };
    let v = env.tool(&tool, &repo, &["validate", out.to_str().unwrap()]);
    let report = format!("{}{}", v.stdout, v.stderr);
    assert_eq!(v.code, 0, "{report}");
    assert!(
        report.contains("1 files scanned") || report.contains("Done"),
        "the validator ran: {report}"
    );
    assert!(!report.contains(": error "), "SARIF errors:\n{report}");
}
