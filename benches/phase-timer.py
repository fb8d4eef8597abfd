#!/usr/bin/env python3
"""Instrument a copy of the sources with a phase timer, for splitting one `analyze --all` run.

Never run it on the working copy you commit from: it edits the sources it is given.

    git worktree add --detach /tmp/phase HEAD
    python3 benches/phase-timer.py /tmp/phase
    CARGO_TARGET_DIR=/tmp/phase-target cargo build --release --manifest-path /tmp/phase/Cargo.toml
    cd <repo> && RA_PHASE=1 /tmp/phase-target/release/rustassistant analyze --all -q
    (or `hooks run pre-commit` in a repository with content staged: KEEP=1 benches/hook-rerun.py)
    git worktree remove --force /tmp/phase

With RA_PHASE set, the build prints `PHASE <ms since main> <name>` to stderr as each step ends
(BENCHMARKS.md quotes these splits). Each probe is inserted next to a line of the sources; when
one of those lines has changed the script stops, naming it, rather than time the wrong step.
"""
import sys
from pathlib import Path

root = Path(sys.argv[1])


def at(path, anchor, name, after=True):
    """Insert a probe just after (or before) the first occurrence of `anchor`, indented like the
    anchor's last line."""
    f = root / path
    s = f.read_text()
    if anchor not in s:
        sys.exit(f"{path}: no line `{anchor.strip()}` to time at; update benches/phase-timer.py")
    lead = anchor.rstrip("\n").split("\n")[-1]
    indent = lead[: len(lead) - len(lead.lstrip())] or "    "
    probe = f'{indent}crate::util::phase("{name}");\n'
    s = s.replace(anchor, anchor + probe if after else probe + anchor, 1)
    f.write_text(s)


(root / "src/util/mod.rs").open("a").write('''
/// Phase timer added by benches/phase-timer.py (not part of the product).
pub fn phase(name: &str) {
    static T0: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    let t0 = *T0.get_or_init(std::time::Instant::now);
    if std::env::var_os("RA_PHASE").is_some() {
        eprintln!("PHASE {:>8.3} {name}", t0.elapsed().as_secs_f64() * 1000.0);
    }
}
''')
# (file, the line a probe goes next to, the probe's name, before that line rather than after)
PROBES = [
    ("src/cli/mod.rs", "pub fn main() -> i32 {\n", "main"),
    ("src/cli/mod.rs", "    exit_code(&outcome, crate::output::stdout_closed())\n", "exit", True),
    ("src/run/mod.rs", "        *index = Some(Index::open_for_lookup(session));\n", "index opened"),
    ("src/cli/analyze.rs", "    record_savings(session, &plans, &report);\n", "run returned", True),
    ("src/run/select.rs", "    // Tracked files are listed by their index entry", "git index read", True),
    ("src/run/select.rs", "    let (resolved, walked) = std::thread::scope", "wanted", True),
    ("src/run/select.rs", "    if let Some((mut untracked, left)) = walked {\n", "identified+walked", True),
    ("src/run/mod.rs", "    say_submodules(out, &submodules);\n", "collected", True),
    # These three run on the thread that hashes the keys while this one reads the hit tables.
    ("src/run/lookup.rs", "        let mut counts = vec![0usize; np * 256];\n", "lk key ids", True),
    ("src/run/lookup.rs", "        let sigs = shard_sigs(session, &shards);\n", "lk buckets", True),
    ("src/run/lookup.rs", "        let sigs = shard_sigs(session, &shards);\n", "lk shard stats"),
    ("src/run/lookup.rs", "    let mut sigs_of: FxHashMap<String, Sig> = match usable {\n", "lk hit tables+keys", True),
    ("src/run/lookup.rs", "    let recorded = |rel: &str| recorded_sig(&tables, &sigs_of, rel);\n", "lk sync", True),
    ("src/run/lookup.rs", "    // The slots of the buckets answered one by one", "lk answers", True),
    ("src/run/mod.rs", "    let mut sorted = sort(targets", "looked up", True),
    ("src/run/mod.rs", "    warn_untrusted(out, &sorted);\n", "sorted", True),
    ("src/run/mod.rs", "    summary.not_matched = not_matched.len();\n", "tallied", True),
    ("src/run/mod.rs", "    Ok(Report {\n        results: sorted.results,", "recorded", True),
    # The pre-commit hook (`hooks run pre-commit`): its run prints the probes above too.
    ("src/cli/hooks.rs", "    let mut index = Some(Index::open_for_lookup(session));\n", "hook: index opened"),
    ("src/cli/hooks.rs", "    let mut index = index.expect(\"the run keeps the index it is given\");\n", "hook: analysed"),
    ("src/cache/commit.rs", "    let mut out = Staged::default();\n", "hook: shards chosen", True),
    ("src/cache/commit.rs", "    out.shards = plans.iter().filter(|p| p.staged_changed).count();\n", "hook: shards written", True),
    # These two on the thread that stages the shards in git, beside the local index's update.
    ("src/cache/commit.rs", "    let (mut by_file, mut by_id) = (Vec::new(), Vec::new());\n", "hook: blobs packed", True),
    ("src/cache/commit.rs", "    for chunk in by_id.chunks(200) {\n", "hook: git update-index done", True),
    ("src/index/sync.rs", "        st.removed += forget_shards(&tx, &gone)?;\n", "sync: rows written", True),
    ("src/index/sync.rs", "        tx.commit()?;\n        self.checkpoint();\n", "sync: committed"),
    ("src/cache/commit.rs", "        meanwhile(&written);\n", "hook: local index updated"),
    ("src/cli/hooks.rs", "    say_added(session, added, pruned);\n", "hook: staged", True),
]
for path, anchor, name, *before in PROBES:
    at(path, anchor, name, after=not before)
