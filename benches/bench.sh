#!/usr/bin/env bash
# Benchmarks for rustassistant. Prints a Markdown table per section; paste it into BENCHMARKS.md
# with the date and machine it prints.
#
#   benches/bench.sh [cache] [llm] [git] [providers] [index] [hooks] [findings]   (default: these)
#   BENCH_A=/path/to/other/build benches/bench.sh ab|instructions   (builds against each other)
#   ITEMS_REPO=/path/to/repo [ITEMS_NAME=name] ITEMS_COMMITS=40 benches/bench.sh items   (item vs file granularity)
#   BENCH_BIN=/path/to/other/rustassistant benches/bench.sh cache   (measure another build)
#
# Whole-process wall times, median of RUNS runs (default 7), release build. Synthetic
# repositories are generated under $BENCH_DIR (default: a temporary folder, removed at exit).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
RUNS=${RUNS:-7}
sections=("$@")
[ ${#sections[@]} -gt 0 ] || sections=(cache llm git providers index hooks findings)

# BENCH_BIN measures another build (e.g. the one before a change) with the same script.
if [ -n "${BENCH_BIN:-}" ]; then
  BIN=$BENCH_BIN
else
  cargo build --profile profiling --quiet --bin rustassistant
  BIN=$ROOT/target/profiling/rustassistant
fi
WORK=${BENCH_DIR:-$(mktemp -d)}
[ -n "${BENCH_DIR:-}" ] || trap 'rm -rf "$WORK"' EXIT

export RUSTASSISTANT_HOME=$WORK/home GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_NOSYSTEM=1 \
  GIT_AUTHOR_NAME=bench GIT_AUTHOR_EMAIL=bench@example.com GIT_COMMITTER_NAME=bench \
  GIT_COMMITTER_EMAIL=bench@example.com
mkdir -p "$RUSTASSISTANT_HOME"

# Timing uses bash's own clock ($EPOCHREALTIME, in benches/alternate.sh): forking `date` would
# add its start-up time, a millisecond or more, to every measurement.
source "$ROOT/benches/alternate.sh"

# median_ms CMD...: run CMD $RUNS times (after one warm-up), print the median wall time in ms.
median_ms() {
  local t
  t=$(alternate_us "$RUNS" "$(printf '%q ' "$@")")
  awk -v t="$t" 'BEGIN { printf "%.1f\n", t / 1000 }'
}

# median_pair_ms "CMD A" "CMD B": run A and B in turn $RUNS times each (after one warm-up of each),
# print their median wall times in ms ("A B"). Alternating puts both under the same machine
# state: on a shared VM the minute-to-minute drift is larger than the ratios being measured.
median_pair_ms() {
  local a b
  read -r a b < <(alternate_us "$RUNS" "$1" "$2")
  awk -v a="$a" -v b="$b" 'BEGIN { printf "%.1f %.1f\n", a / 1000, b / 1000 }'
}

# paid_on [LATENCY_MS]: start the fake LLM server (OpenAI wire format, examples/
# fake_llm_server.rs) on a free port and point the paid types at it, with a budget no section's
# spending reaches; FAKE_PID is the server. paid_off stops it (if running) and undoes the rest.
paid_on() {
  cargo build --release --quiet --example fake_llm_server
  # A port file left by an earlier section would name a server that is gone.
  rm -f "$WORK/fake-llm.port"
  "$ROOT/target/release/examples/fake_llm_server" "${1:-0}" >"$WORK/fake-llm.port" &
  FAKE_PID=$!
  while [ ! -s "$WORK/fake-llm.port" ]; do sleep 0.05; done
  printf '[budget]\nmonthly_limit_usd = 1000000\n' >"$RUSTASSISTANT_HOME/config.toml"
  export RUSTASSISTANT_PROVIDER=openai OPENAI_API_KEY=bench \
    RUSTASSISTANT_BASE_URL="http://127.0.0.1:$(cat "$WORK/fake-llm.port")/v1"
}
paid_off() {
  kill "$FAKE_PID" 2>/dev/null || true
  unset RUSTASSISTANT_PROVIDER OPENAI_API_KEY RUSTASSISTANT_BASE_URL
  rm -f "$RUSTASSISTANT_HOME/config.toml"
}

# gen_repo DIR N: a git repository with N Rust files in 100 folders, committed.
gen_repo() {
  local dir=$1 n=$2
  rm -rf "$dir" && mkdir -p "$dir" && cd "$dir"
  git init -q -b main
  python3 - "$n" <<'PY'
import os, sys, random
random.seed(1)
n = int(sys.argv[1])
for i in range(n):
    d = f"src/m{i % 100:03d}"
    os.makedirs(d, exist_ok=True)
    body = "\n".join(f"    let v{j} = x.checked_add({j}).unwrap_or(0); // TODO: tidy {j}" if j % 7 == 0 else f"    let v{j} = {j} * x;" for j in range(random.randint(5, 40)))
    with open(f"{d}/f{i}.rs", "w") as f:
        f.write(f"//! module {i}\n\npub fn f{i}(x: u32) -> u32 {{\n{body}\n    x\n}}\n")
PY
  git add -A && git commit -q -m gen
  cd "$ROOT"
}

echo "# rustassistant benchmarks"
echo
echo "Date: $(date -u +%Y-%m-%dT%H:%MZ) · Machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, $(uname -sr) · runs: median of $RUNS"

for section in "${sections[@]}"; do
case $section in
cache) source benches/sections/cache.sh ;;
llm) source benches/sections/llm.sh ;;
git) source benches/sections/git.sh ;;
*) [ -f "benches/sections/$section.sh" ] && source "benches/sections/$section.sh" || echo "unknown section $section" >&2 ;;
esac
done
