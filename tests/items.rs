//! Item-level keys (DESIGN.md, "Items"): with `[analysis] granularity = "item"`, a change pays
//! only for the functions it changed. The fake provider parses each item request and answers
//! per item id; git is real.

use std::path::Path;

use crate::common::fake::{items_asked, FakeServer};
use crate::common::*;

/// A Rust file of `n` functions, the `edited`th (if any) with a different body.
fn functions(n: usize, edited: Option<usize>) -> String {
    functions_in((0..n).collect(), edited)
}

/// [`functions`] in the order `order` gives.
fn functions_in(order: Vec<usize>, edited: Option<usize>) -> String {
    let mut s = String::from("//! Many functions.\n\nuse std::fmt::Write;\n");
    for i in order {
        let body = if Some(i) == edited {
            format!("    let y = x * {i};\n    y + 1\n")
        } else {
            format!("    x + {i}\n")
        };
        s.push_str(&format!(
            "\n/// Function {i}.\npub fn f{i}(x: u32) -> u32 {{\n{body}}}\n"
        ));
    }
    s
}

/// Set `[analysis] granularity` in the user's config.
fn granularity(env: &TestEnv, g: &str) {
    std::fs::write(
        env.home.join(".rustassistant/config.toml"),
        format!("[analysis]\ngranularity = \"{g}\"\n"),
    )
    .unwrap();
}

/// An environment with the default granularity (items where a grammar exists).
fn item_env(server: &FakeServer) -> TestEnv {
    let mut env = TestEnv::new();
    env.vars.remove("RUSTASSISTANT_GRANULARITY");
    env.use_openai(&server.base_url("openai"));
    env
}

/// The item ids each request since `from` sent.
fn sent_since(server: &FakeServer, from: usize) -> Vec<Vec<String>> {
    server.recorded()[from..]
        .iter()
        .map(|r| items_asked(&r.body).into_iter().map(|(id, _)| id).collect())
        .collect()
}

/// How many smells the assembled refactor result of `file` shows.
fn smells_shown(env: &TestEnv, repo: &Path, file: &str) -> usize {
    let v = env
        .run(repo, &["show", file, "-t", "refactor", "--json"])
        .ok()
        .json();
    v["entries"][0]["result"]["smells"]
        .as_array()
        .unwrap_or_else(|| panic!("{v:#}"))
        .len()
}

fn commit_all(env: &TestEnv, repo: &Path, msg: &str) {
    env.git(repo, &["add", "-A"]);
    env.git(repo, &["commit", "-q", "-m", msg]);
}

#[test]
fn editing_one_function_of_thirty_sends_that_function_alone() {
    let server = FakeServer::ok();
    let env = item_env(&server);
    let repo = env.repo("r", &[("src/lib.rs", &functions(30, None))]);
    env.run(&repo, &["analyze", "src/lib.rs", "-t", "refactor"])
        .ok();
    let first = sent_since(&server, 0);
    assert_eq!(first.len(), 1, "one request per file");
    assert_eq!(first[0].len(), 31, "30 functions and the header");
    commit_all(&env, &repo, "cache");

    std::fs::write(repo.join("src/lib.rs"), functions(30, Some(17))).unwrap();
    let out = env
        .run(&repo, &["analyze", "src/lib.rs", "-t", "refactor", "-v"])
        .ok();
    let sent = sent_since(&server, 1);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].len(), 1, "only f17: {}", out.stdout);
    let body = &server.recorded()[1].body;
    assert!(body.contains("let y = x * 17"), "the edited item is sent");
    assert!(!body.contains("x + 3\\n"), "no unchanged body is sent");
    assert!(body.contains("pub fn f3(x: u32) -> u32"), "the skeleton is");
    assert!(
        out.stdout.contains("1 of 31 sent, 30 reused"),
        "{}",
        out.stdout
    );
    // What reuse saved, in `cache stats` and the report: 30 items, their bytes and their share
    // of the first request.
    let stats = env.run(&repo, &["cache", "stats", "--json"]).ok().json();
    assert_eq!(stats["items"]["reused"], 30, "{stats:#}");
    assert!(stats["items"]["bytes_not_sent"].as_u64().unwrap() > 30 * 40);
    assert!(
        stats["items"]["saved_usd"].as_f64().unwrap() > 0.0,
        "{stats:#}"
    );
    env.run(&repo, &["report", "-o", "report.html"]).ok();
    let page = std::fs::read_to_string(repo.join("report.html")).unwrap();
    assert!(page.contains("item reuse saved you"), "{page}");
    assert!(page.contains("30 items"));

    // The assembled result: 31 items' findings, each at its own absolute line.
    let v = env
        .run(&repo, &["show", "src/lib.rs", "-t", "refactor", "--json"])
        .ok()
        .json();
    let result = &v["entries"][0]["result"];
    let result = if result.is_null() {
        &v["result"]
    } else {
        result
    };
    let smells = result["smells"].as_array().expect("smells");
    assert_eq!(smells.len(), 31, "{v:#}");
    let content = functions(30, Some(17));
    let lines: Vec<&str> = content.lines().collect();
    for (i, f) in (0..30).map(|i| (i, format!("/// Function {i}."))) {
        // Each function's smell starts at its first line (its doc comment).
        let at = lines.iter().position(|l| *l == f).unwrap() as u64 + 1;
        assert!(
            smells
                .iter()
                .any(|s| s["location"]["line_start"].as_u64() == Some(at)),
            "f{i} at line {at}: {smells:#?}"
        );
    }
    assert!(smells
        .iter()
        .all(|s| s["location"]["line_end"].as_u64().unwrap() as usize <= lines.len()));
}

#[test]
fn moved_and_reordered_functions_are_never_sent_again() {
    let server = FakeServer::ok();
    let env = item_env(&server);
    let a = functions(6, None);
    let repo = env.repo("r", &[("src/a.rs", &a)]);
    env.run(&repo, &["analyze", "--all", "-t", "refactor"]).ok();
    assert_eq!(server.count(), 1);
    commit_all(&env, &repo, "cache");

    // Reorder: the same items in another order (the header stays the same).
    let split_at = a.find("\n/// Function 0.").unwrap();
    let (head, body) = a.split_at(split_at);
    let mut fns: Vec<&str> = body.split_inclusive("}\n").collect();
    fns.reverse();
    let reordered = format!("{head}{}", fns.concat());
    assert_ne!(reordered, a);
    std::fs::write(repo.join("src/a.rs"), &reordered).unwrap();
    // Move f5 to a new file whose header is new.
    let f5 = fns[0];
    std::fs::write(repo.join("src/b.rs"), format!("use std::io;\n{f5}")).unwrap();
    let v = env
        .run(&repo, &["analyze", "--all", "-t", "refactor", "--json"])
        .ok()
        .json();
    // a.rs: its header and six functions; b.rs: f5 (its new header is sent).
    let items = &v["summary"]["items"];
    assert_eq!(
        (&items["sent"], &items["reused"]),
        (&1.into(), &8.into()),
        "{v:#}"
    );
    assert!(
        items["bytes_not_sent"].as_u64().unwrap() > a.len() as u64,
        "{v:#}"
    );
    let sent = sent_since(&server, 1);
    // a.rs: nothing sent at all; b.rs: only its header.
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0].len(), 1, "only b.rs's new header: {sent:?}");
    let body = &server.recorded()[1].body;
    assert!(
        !body.contains("x + 5"),
        "the moved function's body was not sent"
    );
}

#[test]
fn file_granularity_sends_todays_request_byte_for_byte() {
    let server = FakeServer::ok();
    let mut env = TestEnv::new();
    env.use_openai(&server.base_url("openai"));
    let repo = env.repo("r", &[("src/a.rs", &functions(3, None))]);
    // RUSTASSISTANT_GRANULARITY=file (the tests' environment), then the setting in a file.
    env.run(&repo, &["analyze", "src/a.rs", "-t", "refactor"])
        .ok();
    env.vars.remove("RUSTASSISTANT_GRANULARITY");
    granularity(&env, "file");
    env.run(&repo, &["analyze", "src/a.rs", "-t", "refactor", "--force"])
        .ok();
    let r = server.recorded();
    assert_eq!(r.len(), 2);
    assert_eq!(r[0].body, r[1].body);
    assert!(items_asked(&r[0].body).is_empty());
}

#[test]
fn a_file_granular_result_is_a_hit_in_item_mode() {
    let server = FakeServer::ok();
    let mut env = TestEnv::new();
    env.use_openai(&server.base_url("openai"));
    let repo = env.repo("r", &[("src/a.rs", &functions(3, None))]);
    env.run(&repo, &["analyze", "src/a.rs", "-t", "refactor"])
        .ok();
    // The default from here on: items.
    env.vars.remove("RUSTASSISTANT_GRANULARITY");
    let v = env
        .run(&repo, &["analyze", "src/a.rs", "-t", "refactor", "--json"])
        .ok()
        .json();
    assert_eq!(v["summary"]["hits"], 1, "{v:#}");
    assert_eq!(server.count(), 1, "nothing paid again");
    // Its next version is analysed by items.
    std::fs::write(repo.join("src/a.rs"), functions(3, Some(1))).unwrap();
    env.run(&repo, &["analyze", "src/a.rs", "-t", "refactor"])
        .ok();
    assert_eq!(sent_since(&server, 1)[0].len(), 4, "every item, once");
}

#[test]
fn a_union_merge_of_two_branches_item_shards_leaves_every_item_a_hit() {
    let server = FakeServer::ok();
    let env = item_env(&server);
    let repo = env.repo("r", &[("src/a.rs", &functions(4, None))]);
    env.run(&repo, &["analyze", "--all", "-t", "refactor"]).ok();
    commit_all(&env, &repo, "cache");
    env.git(&repo, &["checkout", "-q", "-b", "side"]);
    std::fs::write(repo.join("src/a.rs"), functions(4, Some(1))).unwrap();
    env.run(&repo, &["analyze", "--all", "-t", "refactor"]).ok();
    commit_all(&env, &repo, "side");
    env.git(&repo, &["checkout", "-q", "main"]);
    std::fs::write(repo.join("src/a.rs"), functions(4, Some(2))).unwrap();
    env.run(&repo, &["analyze", "--all", "-t", "refactor"]).ok();
    commit_all(&env, &repo, "main");
    let before = server.count();
    assert_eq!(before, 3);
    // Both sides added a line to item shards (and file shards): git's union driver merges
    // them; the source conflicts, and is resolved by taking both edits.
    let merge = env.git_run(&repo, &["merge", "-q", "side", "-m", "merge"]);
    let both = functions(4, Some(1)).replace(
        "pub fn f2(x: u32) -> u32 {\n    x + 2\n}",
        "pub fn f2(x: u32) -> u32 {\n    let y = x * 2;\n    y + 1\n}",
    );
    if merge.code != 0 {
        std::fs::write(repo.join("src/a.rs"), &both).unwrap();
        commit_all(&env, &repo, "merge");
    }
    let conflicts = env.git_run(&repo, &["grep", "-l", "<<<<<<<", "--", ".rustassistant"]);
    assert!(conflicts.stdout.trim().is_empty(), "{}", conflicts.stdout);
    assert_eq!(
        std::fs::read_to_string(repo.join("src/a.rs")).unwrap(),
        both
    );
    env.run(&repo, &["analyze", "--all", "-t", "refactor"]).ok();
    // The merged file is new content: every item of it is a hit from one side or the other.
    assert_eq!(server.count(), before, "{:?}", sent_since(&server, before));
}

#[test]
fn the_commit_hook_carries_item_entries_so_a_teammate_pays_only_for_their_edit() {
    let server = FakeServer::ok();
    let env = item_env(&server);
    let repo = env.hooked("r", &[("src/a.rs", &functions(8, None))]);
    env.run(&repo, &["analyze", "--all", "-t", "refactor"]).ok();
    assert_eq!(server.count(), 1);
    // New analyses wait in the overlay; the commit carries file and item entries alike.
    std::fs::write(repo.join("src/a.rs"), functions(8, Some(3))).unwrap();
    env.run(&repo, &["analyze", "--all", "-t", "refactor"]).ok();
    assert_eq!(sent_since(&server, 1)[0].len(), 1);
    commit_all(&env, &repo, "edit");
    let status = env.git(&repo, &["status", "--porcelain"]);
    assert!(status.trim().is_empty(), "{status}");
    let tree = env.git(&repo, &["ls-tree", "-r", "--name-only", "HEAD"]);
    assert!(
        tree.contains(".rustassistant/cache/refactor/items/"),
        "{tree}"
    );
    let remote = env.bare_remote();
    env.git(&repo, &["push", "-q", remote.to_str().unwrap(), "main"]);

    // A teammate's clone: every item is a hit; their one-function edit sends one item.
    let mate = env.clone_of(&remote, "mate");
    let v = env
        .run(&mate, &["analyze", "--all", "-t", "refactor", "--json"])
        .ok()
        .json();
    assert_eq!(v["summary"]["hits"], 1, "{v:#}");
    // Their edit of f6 on the committed version (f3 edited); the original f3 was never
    // committed by anyone (no file of a commit had it), so it is not carried.
    let edited = functions(8, Some(3)).replace("    x + 6\n", "    x - 6\n");
    std::fs::write(mate.join("src/a.rs"), edited).unwrap();
    let before = server.count();
    env.run(&mate, &["analyze", "--all", "-t", "refactor"]).ok();
    let sent = sent_since(&server, before);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].len(), 1, "only f6: {sent:?}");
}

#[test]
fn a_dry_run_estimates_only_the_items_without_a_result() {
    let server = FakeServer::ok();
    let env = item_env(&server);
    let repo = env.repo("r", &[("src/a.rs", &functions(30, None))]);
    env.run(&repo, &["analyze", "src/a.rs", "-t", "refactor"])
        .ok();
    let estimate = |env: &TestEnv| {
        env.run(
            &repo,
            &[
                "analyze",
                "src/a.rs",
                "-t",
                "refactor",
                "--dry-run",
                "--json",
            ],
        )
        .ok()
        .json()["summary"]["estimate"]
            .clone()
    };
    std::fs::write(repo.join("src/a.rs"), functions(30, Some(4))).unwrap();
    let items = estimate(&env);
    granularity(&env, "file");
    let whole = estimate(&env);
    assert_eq!(items["requests"], 1, "{items}");
    let (i, w) = (
        items["input_tokens"].as_u64().unwrap(),
        whole["input_tokens"].as_u64().unwrap(),
    );
    assert!(
        i < w,
        "one item and the skeleton ({i}) cost less than the file ({w})"
    );
    assert_eq!(server.count(), 1, "a dry run sends nothing");
    // Nothing new in the file (a reorder): no request at all.
    granularity(&env, "item");
    std::fs::write(
        repo.join("src/a.rs"),
        functions_in((0..30).rev().collect(), None),
    )
    .unwrap();
    let none = estimate(&env);
    assert!(none.is_null() || none["requests"] == 0, "{none:#}");
}

/// Lines of the item shards of `refactor`.
fn item_lines(repo: &Path) -> usize {
    let dir = repo.join(".rustassistant/cache/refactor/items");
    std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .map(|e| std::fs::read_to_string(e.path()).unwrap().lines().count())
                .sum()
        })
        .unwrap_or(0)
}

#[test]
fn prune_drops_the_item_entries_no_file_at_head_has() {
    let server = FakeServer::ok();
    let env = item_env(&server);
    let repo = env.repo("r", &[("src/a.rs", &functions(5, None))]);
    env.run(&repo, &["analyze", "--all", "-t", "refactor"]).ok();
    commit_all(&env, &repo, "cache");
    assert_eq!(item_lines(&repo), 6);
    std::fs::write(repo.join("src/a.rs"), functions(5, Some(2))).unwrap();
    env.run(&repo, &["analyze", "--all", "-t", "refactor"]).ok();
    commit_all(&env, &repo, "edit");
    assert_eq!(item_lines(&repo), 7, "the old f2 and the new");
    let r = env.run(&repo, &["cache", "prune", "--json"]).ok().json();
    assert_eq!(r["count"], 2, "the old file entry and the old f2: {r:#}");
    assert_eq!(item_lines(&repo), 6);
    let before = server.count();
    env.run(&repo, &["analyze", "--all", "-t", "refactor"]).ok();
    assert_eq!(server.count(), before, "every item at HEAD kept");
    // Back to the old f2: only that item is sent again.
    std::fs::write(repo.join("src/a.rs"), functions(5, None)).unwrap();
    env.run(&repo, &["analyze", "--all", "-t", "refactor"]).ok();
    assert_eq!(sent_since(&server, before).len(), 1);
    assert_eq!(sent_since(&server, before)[0].len(), 1);
}

#[test]
fn a_commit_whose_hook_analyses_by_items_leaves_git_status_clean() {
    let server = FakeServer::ok();
    let env = item_env(&server);
    let repo = env.hooked("r", &[("src/a.rs", &functions(4, None))]);
    // Nothing analysed beforehand: the hook analyses the staged file by items itself.
    std::fs::write(repo.join("src/a.rs"), functions(4, Some(2))).unwrap();
    commit_all(&env, &repo, "edit");
    assert!(server.count() >= 1, "the hook analysed");
    let status = env.git(&repo, &["status", "--porcelain"]);
    assert!(status.trim().is_empty(), "{status}");
    let tree = env.git(&repo, &["ls-tree", "-r", "--name-only", "HEAD"]);
    assert!(
        tree.contains(".rustassistant/cache/refactor/items/"),
        "{tree}"
    );
    let v = env
        .run(&repo, &["analyze", "--all", "-t", "refactor", "--json"])
        .ok()
        .json();
    assert_eq!(v["summary"]["hits"], 1, "{v:#}");
}

/// The lines of the shards under `.rustassistant/cache/<rel>` (a folder).
fn shard_lines(repo: &Path, rel: &str) -> Vec<String> {
    let dir = repo.join(".rustassistant/cache").join(rel);
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "jsonl") {
            out.extend(
                std::fs::read_to_string(p)
                    .unwrap()
                    .lines()
                    .map(String::from),
            );
        }
    }
    out
}

#[test]
fn a_file_analysed_by_items_stores_each_result_once_and_reads_it_assembled() {
    let server = FakeServer::ok();
    let env = item_env(&server);
    let repo = env.repo("r", &[("src/lib.rs", &functions(30, None))]);
    env.run(&repo, &["analyze", "src/lib.rs", "-t", "refactor"])
        .ok();
    commit_all(&env, &repo, "cache");
    // The file entry holds no result: its 31 items' entries do, once each.
    let file = shard_lines(&repo, "refactor");
    assert_eq!(file.len(), 1);
    let line: serde_json::Value = serde_json::from_str(&file[0]).unwrap();
    assert!(line["result"].is_null(), "{line:#}");
    assert_eq!(line["items"], 31);
    assert_eq!(line["item_variant"].as_str().unwrap().len(), 16);
    let items = shard_lines(&repo, "refactor/items");
    assert_eq!(items.len(), 31);
    assert!(items
        .iter()
        .all(|l| l.contains(r#""result":{"#) && !l.contains("line_start\":4")));
    // Compact: the id, the type, the cost share, the result and the variant; the rest is the
    // file entry's.
    let item: serde_json::Value = serde_json::from_str(&items[0]).unwrap();
    let keys: Vec<&str> = item
        .as_object()
        .unwrap()
        .keys()
        .map(|k| k.as_str())
        .collect();
    assert_eq!(
        keys,
        ["blob", "cache_type", "cost_usd", "result", "variant"],
        "{item:#}"
    );
    assert_eq!(item["variant"], line["item_variant"]);

    // Findings read the assembled result: one per function, at its absolute line.
    let doc = env
        .run(&repo, &["findings", "--json", "-t", "refactor"])
        .ok()
        .json();
    let list = doc["findings"].as_array().unwrap();
    let content = functions(30, None);
    let lines: Vec<&str> = content.lines().collect();
    let at = |i: usize| {
        lines
            .iter()
            .position(|l| *l == format!("/// Function {i}."))
            .unwrap() as u64
            + 1
    };
    for i in 0..30 {
        assert!(
            list.iter().any(|f| f["line_start"].as_u64() == Some(at(i))),
            "f{i} at line {}: {doc:#}",
            at(i)
        );
    }

    // An item entry gone (a prune on another branch, a hand edit): `show` says what is missing
    // instead of showing a result without it, and `--force` asks for that item alone.
    // The request's item entries are stored together, in the item shard the file's blob
    // names: one new shard version for a commit, not one per item.
    let shards: Vec<(std::path::PathBuf, String)> =
        std::fs::read_dir(repo.join(".rustassistant/cache/refactor/items"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .map(|p| (p.clone(), std::fs::read_to_string(&p).unwrap()))
            .filter(|(_, text)| !text.is_empty())
            .collect();
    assert_eq!(shards.len(), 1, "one item shard holds them all");
    let blob = env.git(&repo, &["rev-parse", "HEAD:src/lib.rs"]);
    assert!(
        shards[0]
            .0
            .ends_with(format!("{}.jsonl", &blob.trim()[..2])),
        "{:?} is named by {blob}",
        shards[0].0
    );
    let (shard, text) = &shards[0];
    let rest: String = text.lines().skip(1).map(|l| format!("{l}\n")).collect();
    std::fs::write(shard, rest).unwrap();
    let out = env.run(&repo, &["show", "src/lib.rs", "-t", "refactor"]);
    assert_ne!(out.code, 0);
    assert!(
        out.stderr
            .contains("cannot be assembled: 1 of its 31 item results are not in the cache"),
        "{}",
        out.stderr
    );
    let v = env.run(&repo, &["cache", "verify", "--json"]);
    assert_ne!(v.code, 0, "{}", v.stdout);
    assert!(
        v.stdout
            .contains("the refactor result of src/lib.rs cannot be assembled"),
        "{}",
        v.stdout
    );
    let before = server.count();
    env.run(
        &repo,
        &["analyze", "--force", "src/lib.rs", "-t", "refactor"],
    )
    .ok();
    env.run(&repo, &["cache", "verify"]).ok();
    let sent = sent_since(&server, before);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].len(), 1, "the missing item alone");
    env.run(&repo, &["show", "src/lib.rs", "-t", "refactor"])
        .ok();
}

#[test]
fn a_commit_keeps_exactly_the_item_entries_its_files_have() {
    let server = FakeServer::ok();
    let env = item_env(&server);
    let repo = env.hooked("r", &[("src/a.rs", &functions(5, None))]);
    env.run(&repo, &["analyze", "--all", "-t", "refactor"]).ok();
    env.git(&repo, &["commit", "-q", "--allow-empty", "-m", "cache"]);
    assert_eq!(item_lines(&repo), 6, "five functions and the header");
    // f4 edited and analysed, then put back; f2 edited: the commit has the new f2 only.
    std::fs::write(repo.join("src/a.rs"), functions(5, Some(4))).unwrap();
    env.run(&repo, &["analyze", "--all", "-t", "refactor"]).ok();
    std::fs::write(repo.join("src/a.rs"), functions(5, Some(2))).unwrap();
    env.run(&repo, &["analyze", "--all", "-t", "refactor"]).ok();
    commit_all(&env, &repo, "edit f2");
    assert_eq!(
        item_lines(&repo),
        6,
        "the old f2 pruned with its file's content, the edited f4 never committed"
    );
    let status = env.git(&repo, &["status", "--porcelain"]);
    assert!(status.trim().is_empty(), "{status}");
    // Nothing paid is lost: the edited f4's file entry and item, and the original f2 the commit
    // pruned, wait in the local overlay; back at that content, its result is whole.
    let before = server.count();
    std::fs::write(repo.join("src/a.rs"), functions(5, Some(4))).unwrap();
    env.run(&repo, &["analyze", "--all", "-t", "refactor"]).ok();
    assert_eq!(server.count(), before, "nothing sent");
    assert_eq!(smells_shown(&env, &repo, "src/a.rs"), 6);
    // Committed at last: the items that waited go with it, and the tree has its six again.
    commit_all(&env, &repo, "f4 after all");
    assert_eq!(item_lines(&repo), 6);
    let status = env.git(&repo, &["status", "--porcelain"]);
    assert!(status.trim().is_empty(), "{status}");
}

#[test]
fn a_function_larger_than_the_request_bound_is_skipped_with_the_reason() {
    let server = FakeServer::ok();
    let env = item_env(&server);
    // The request bound is `[analysis] max_file_bytes`, applied to the file before it is split:
    // a file within it gives items within it, and one over it is never split nor sent.
    std::fs::write(
        env.home.join(".rustassistant/config.toml"),
        "[analysis]\nmax_file_bytes = 1000\n",
    )
    .unwrap();
    let big = format!(
        "fn small() {{}}\n\nfn big() {{\n{}}}\n",
        "    let _ = 1;\n".repeat(100)
    );
    let repo = env.repo(
        "r",
        &[("src/a.rs", &big), ("src/b.rs", &functions(3, None))],
    );
    let out = env
        .run(&repo, &["analyze", "--all", "-t", "refactor", "-v"])
        .ok();
    assert!(
        out.stdout.contains("src/a.rs") && out.stdout.contains("max_file_bytes"),
        "{}",
        out.stdout
    );
    assert_eq!(server.count(), 1, "b.rs alone is sent");
    assert!(server.recorded().iter().all(|r| !r.body.contains("fn big")));
}

#[test]
fn analyses_moved_into_the_shards_take_their_items_with_them() {
    let server = FakeServer::ok();
    let env = item_env(&server);
    let repo = env.hooked("r", &[("src/a.rs", "fn keep() {}\n")]);
    // Analysed while the hook was installed (into the overlay), then the hook goes and the
    // content is staged: the next run moves its analyses into the shards, to commit.
    let (committed, paid) = (item_lines(&repo), server.count());
    std::fs::write(repo.join("src/b.rs"), functions(4, None)).unwrap();
    env.run(&repo, &["analyze", "src/b.rs", "-t", "refactor"])
        .ok();
    assert_eq!(item_lines(&repo), committed, "in the overlay");
    env.run(&repo, &["hooks", "uninstall"]).ok();
    env.git(&repo, &["add", "-A"]);
    env.run(&repo, &["analyze", "src/b.rs", "-t", "refactor"])
        .ok();
    assert_eq!(
        item_lines(&repo),
        committed + 5,
        "four functions and the header, in the shards"
    );
    commit_all(&env, &repo, "b");
    let remote = env.bare_remote();
    env.git(&repo, &["push", "-q", remote.to_str().unwrap(), "main"]);
    let mate = env.clone_of(&remote, "mate");
    assert_eq!(smells_shown(&env, &mate, "src/b.rs"), 5);
    assert_eq!(server.count(), paid + 1, "b.rs paid once");
}
