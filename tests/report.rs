//! `report`: one self-contained HTML page with charts drawn, spend by author from git's
//! history, everything from entries and commits escaped; rendered by real headless Chromium,
//! which must log nothing to the console and paint the charts.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::fake::{ok_reply, FakeServer, RESULT};
use crate::common::{Run, TestEnv};

const EVIL: &str = "</script><script>alert(1)</script>";
/// Git drops `<` and `>` from names; what it keeps must still be escaped.
const EVIL_AUTHOR: &str = "Eve & \"Mallory\" onload=alert(1)";

/// Commit everything in `repo` as `author` at `date`.
fn commit_as(env: &TestEnv, repo: &Path, author: &str, date: &str) {
    env.git(repo, &["add", "-A"]);
    let r: Run = env
        .command("git", repo, &["commit", "-qm", "analyses"])
        .env("GIT_AUTHOR_NAME", author)
        .env("GIT_AUTHOR_DATE", date)
        .output()
        .unwrap()
        .into();
    r.ok();
}

/// Headless Chromium, or `None` after a loud message (a failure under `CI=true`).
fn chromium() -> Option<PathBuf> {
    for name in ["chromium", "chromium-browser"] {
        if let Ok(out) = Command::new("sh")
            .args(["-c", &format!("command -v {name}")])
            .output()
        {
            let p = String::from_utf8_lossy(&out.stdout).trim().to_string();
            if out.status.success() && !p.is_empty() {
                return Some(PathBuf::from(p));
            }
        }
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("chromium is missing (CI=true): scripts/test.sh installs it with apt-get");
    }
    eprintln!("\n==== SKIPPED: headless chromium is not installed — run scripts/test.sh to provision it ====\n");
    None
}

/// Run headless Chromium on `page` with `extra` arguments; returns (stdout, console lines).
fn headless(chrome: &Path, scratch: &Path, page: &Path, extra: &[&str]) -> (String, Vec<String>) {
    let out = Command::new(chrome)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", scratch.display()))
        .args(extra)
        .arg(format!("file://{}", page.display()))
        .env("HOME", scratch)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let console = stderr
        .lines()
        .filter(|l| l.contains(":CONSOLE"))
        .map(str::to_string)
        .collect();
    (String::from_utf8_lossy(&out.stdout).into_owned(), console)
}

#[test]
fn the_report_draws_every_chart_credits_authors_escapes_everything_and_renders_cleanly() {
    let mut env = TestEnv::new();
    let reply = RESULT.replace(
        r#""description": "x""#,
        &format!("\"description\": {}", serde_json::Value::from(EVIL)),
    );
    assert_ne!(reply, RESULT);
    let server = FakeServer::start(move |r, _| ok_reply(&r.path, &reply));
    env.use_openai(&server.base_url("openai"));
    env.set("RUSTASSISTANT_MODEL", "gpt-4o-mini");
    let evil_file = format!("src/{}.rs", "x&lt;b");
    let repo = env.repo(
        "rep",
        &[
            ("src/a.rs", "fn a() {\n    // TODO: one\n}\n"),
            (&evil_file, "fn b() { y.unwrap(); }\n"),
        ],
    );
    env.run(&repo, &["init"]).ok();
    env.run_env(
        &repo,
        &[
            "analyze", "--all", "--type", "refactor", "--type", "todos", "--type", "metrics",
        ],
        &[("RUSTASSISTANT_NOW", "2026-10-05T10:00:00Z")],
    )
    .ok();
    commit_as(&env, &repo, "Alice", "2026-10-05T10:00:00Z");
    std::fs::write(repo.join("src/c.rs"), "fn c() {}\n").unwrap();
    std::fs::write(repo.join("src/d.rs"), "fn d() {}\n").unwrap();
    env.git(&repo, &["add", "-A"]); // staged content's analyses go to the shards
    env.run(
        &repo,
        &["analyze", "--all", "--type", "refactor", "--type", "todos"],
    )
    .ok();
    commit_as(&env, &repo, EVIL_AUTHOR, "2026-11-20T10:00:00Z");
    env.run(
        &repo,
        &["analyze", "--all", "--type", "refactor", "--type", "todos"],
    )
    .ok(); // all hits

    let doc = env
        .run(&repo, &["report", "-o", "out/report.html", "--json"])
        .ok()
        .json();
    let page_path = repo.join("out/report.html");
    assert_eq!(
        doc["path"].as_str().unwrap(),
        page_path.display().to_string()
    );
    // Spend by author: Alice's commit carried two paid analyses, the second author's two.
    let authors = doc["authors"].as_array().unwrap();
    let who: Vec<(&str, &str, u64)> = authors
        .iter()
        .map(|a| {
            (
                a["month"].as_str().unwrap(),
                a["author"].as_str().unwrap(),
                a["lines"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        who,
        vec![("2026-10", "Alice", 2), ("2026-11", EVIL_AUTHOR, 2)],
        "{doc}"
    );
    assert!(authors
        .iter()
        .all(|a| a["cost_usd"].as_f64().unwrap() > 0.0));
    assert!(
        !doc["months"].as_array().unwrap().is_empty(),
        "the ledger's spend: {doc}"
    );
    assert!(doc["days"].as_u64().unwrap() >= 1);
    assert!(doc["findings"].as_u64().unwrap() >= 3);

    let page = std::fs::read_to_string(&page_path).unwrap();
    assert!(!page.contains("<script"), "no script of any origin");
    // No resource from anywhere: the only URL is the SVG namespace, which is a name, not a fetch.
    let urls: Vec<&str> = page
        .match_indices("http:")
        .chain(page.match_indices("https:"))
        .map(|(i, _)| &page[i..(i + 30).min(page.len())])
        .collect();
    assert!(
        urls.iter()
            .all(|u| u.starts_with("http://www.w3.org/2000/svg")),
        "{urls:?}"
    );
    assert!(
        !page.contains(" src=") && !page.contains(" href="),
        "nothing is loaded"
    );
    assert!(
        page.contains("&lt;/script&gt;&lt;script&gt;alert(1)"),
        "the finding's text is shown, escaped"
    );
    assert!(
        page.contains("Eve &amp; &quot;Mallory&quot; onload=alert(1)"),
        "the author's name is shown, escaped"
    );
    assert!(page.contains("src/x&amp;lt;b.rs"), "paths are escaped too");
    let charts: Vec<&str> = page.split("<figure class=\"chart\"").skip(1).collect();
    assert_eq!(charts.len(), 5);
    for c in &charts {
        let svg = &c[..c.find("</figure>").unwrap()];
        assert!(svg.contains("<svg"), "{svg}");
        assert!(
            !svg.contains("no data yet"),
            "every chart has data here: {svg}"
        );
        assert!(svg.contains("<rect") || svg.contains("<polyline"), "{svg}");
    }

    std::fs::copy(&page_path, "/tmp/last-report.html").ok();
    let Some(chrome) = chromium() else { return };
    let scratch = env.root().join("chrome");
    std::fs::create_dir_all(&scratch).unwrap();
    // The console check can fail: a page with a script error is caught.
    let broken = env.root().join("broken.html");
    std::fs::write(
        &broken,
        "<!DOCTYPE html><p>x</p><script>undefinedFn()</script>",
    )
    .unwrap();
    let (_, noise) = headless(&chrome, &scratch.join("b"), &broken, &["--dump-dom"]);
    assert!(
        noise.iter().any(|l| l.contains("undefinedFn")),
        "the console check sees errors: {noise:?}"
    );

    let shot = env.root().join("report.png");
    let (_, console) = headless(
        &chrome,
        &scratch.join("s"),
        &page_path,
        &[
            &format!("--screenshot={}", shot.display()),
            "--window-size=1280,2600",
        ],
    );
    assert!(console.is_empty(), "console messages: {console:?}");
    let (dom, console) = headless(&chrome, &scratch.join("d"), &page_path, &["--dump-dom"]);
    assert!(console.is_empty(), "console messages: {console:?}");
    assert_eq!(
        dom.matches("<svg").count(),
        5,
        "the browser parsed five charts"
    );
    assert!(
        !dom.contains("<script"),
        "nothing became a script in the DOM"
    );
    // The screenshot shows the charts: their bar colours are painted.
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&shot).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    let step = info.color_type.samples();
    let px = &buf[..info.buffer_size()];
    let painted = |rgb: [u8; 3]| px.chunks(step).filter(|p| p[..3] == rgb).count();
    assert!(
        painted([31, 119, 180]) > 500,
        "the first series' bars are painted"
    );
    assert!(
        painted([255, 127, 14]) > 100,
        "the second series' bars are painted"
    );
}
