#!/usr/bin/env python3
"""The pre-commit hook of several builds on one and the same staged commit.

benches/hook-ab.sh replays a whole commit history per build, so each build's hook sees a
repository its own earlier commands shaped. This script builds one repository (200 files, one
commit of the hook's benchmark already made, then N files modified, analysed and staged, as in
benches/sections/hooks.sh), copies it afresh (see fresh_copy) before every run, and runs each build's
`hooks run pre-commit` on the copy in turn, 1.1 s after the copy (as between two commits a
person makes). The first build prepares the repository. Prints the median and minimum wall time and CPU time (user + system, children
included) per build.

    benches/hook-rerun.py RUNS /abs/build-a /abs/build-b ...   (N=100 KIND=modified|new FILES=200)

FILES other than 200 generates that many files in 100 folders instead, as benches/bench.sh's
gen_repo does, and a modified file gets a comment line appended (the hooks section's
HOOK_BIG rows).

With KEEP=1 the prepared repository is left in place and its folder printed (for profiling a
single run, e.g. under valgrind, on copies made as fresh_copy does).
"""
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

runs, bins = int(sys.argv[1]), sys.argv[2:]
n, kind = int(os.environ.get("N", "100")), os.environ.get("KIND", "modified")
files = int(os.environ.get("FILES", "200"))
work = tempfile.mkdtemp()
env = dict(os.environ, RUSTASSISTANT_HOME=f"{work}/home", GIT_CONFIG_GLOBAL="/dev/null",
           GIT_CONFIG_NOSYSTEM="1", GIT_AUTHOR_NAME="bench", GIT_AUTHOR_EMAIL="b@example.com",
           GIT_COMMITTER_NAME="bench", GIT_COMMITTER_EMAIL="b@example.com")
os.makedirs(env["RUSTASSISTANT_HOME"])
base, repo = f"{work}/base", f"{work}/repo"


def sh(*args, cwd=base):
    subprocess.run(args, cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)


def big(i):
    """File i of a FILES repository: gen_repo's path (its bodies are shorter)."""
    return f"src/m{i % 100:03d}/f{i}.rs"


def edit(r):
    for i in range(1, n + 1):
        if kind == "new":
            name, text, mode = f"g{r}_{i}.rs", f"fn g{r}_{i}() {{}}\n", "w"
        elif files == 200:
            name, text, mode = f"f{i}.rs", f"fn f{i}() {{}} // {r}\n", "w"
        else:
            name, text, mode = big(i - 1), f"// {r}\n", "a"
        with open(f"{base}/{name}", mode) as f:
            f.write(text)


def fresh_copy():
    """The prepared repository at `repo`, its files hard links to `base`'s: a copy gives every
    file a new inode, so git's and this tool's stat data would no longer match and the hook
    would do what no real commit does. What is written in place is copied for real: git's
    index, the local index database, and the spare files (which the tool only reuses when
    nothing else links to them)."""
    subprocess.run(["cp", "-al", base, repo], check=True)
    real = [".git/index", ".git/rustassistant/spare"]
    real += [f".git/rustassistant/{f}" for f in os.listdir(f"{base}/.git/rustassistant")
             if f.startswith("index.db")]
    for rel in real:
        dst = f"{repo}/{rel}"
        if os.path.isdir(dst):
            shutil.rmtree(dst)
        elif os.path.exists(dst):
            os.unlink(dst)
        subprocess.run(["cp", "-a", f"{base}/{rel}", dst], check=True)


try:
    setup = bins[0]
    os.makedirs(base)
    sh("git", "init", "-q", "-b", "main")
    if files == 200:
        for i in range(1, 201):
            with open(f"{base}/f{i}.rs", "w") as f:
                f.write(f"fn f{i}() {{}}\n")
    else:
        for i in range(files):
            os.makedirs(os.path.dirname(f"{base}/{big(i)}"), exist_ok=True)
            with open(f"{base}/{big(i)}", "w") as f:
                f.write(f"//! module {i}\n\npub fn f{i}(x: u32) -> u32 {{\n"
                        + "".join(f"    let v{j} = {j} * x; // TODO: tidy {j}\n" for j in range(i % 30))
                        + "    x\n}\n")
    sh("git", "add", "-A")
    sh("git", "commit", "-q", "-m", "base")
    sh(setup, "analyze", "--all", "-q")
    sh("git", "add", "-A")
    sh("git", "commit", "-q", "-m", "cache")
    sh(setup, "hooks", "install", "-q")
    for r in (1, 2):
        edit(r)
        sh(setup, "analyze", "--all", "-q")
        sh("git", "add", "-A")
        if r == 1:
            time.sleep(1.1)
            sh(setup, "hooks", "run", "pre-commit")
            sh("git", "commit", "-q", "--no-verify", "-m", "r1")
    res = {b: ([], []) for b in bins}
    for _ in range(runs):
        for b in bins:
            shutil.rmtree(repo, ignore_errors=True)
            fresh_copy()
            time.sleep(1.1)
            r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
            t0 = time.perf_counter()
            subprocess.run([b, "hooks", "run", "pre-commit"], cwd=repo, env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            t1 = time.perf_counter()
            r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
            res[b][0].append((t1 - t0) * 1e3)
            res[b][1].append((r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime) * 1e3)
    print(f"| build | wall median (ms) | wall min | CPU median (ms) | CPU min |")
    print("|---|---:|---:|---:|---:|")
    for b, (w, c) in res.items():
        print(f"| {os.path.basename(b)} | {statistics.median(w):.1f} | {min(w):.1f} "
              f"| {statistics.median(c):.1f} | {min(c):.1f} |")
finally:
    if os.environ.get("KEEP"):
        print(f"prepared repository kept: {base}", file=sys.stderr)
    else:
        shutil.rmtree(work, ignore_errors=True)
