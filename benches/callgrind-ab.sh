#!/usr/bin/env bash
# Instruction counts of two builds on one all-cached repository, with valgrind's callgrind:
# unlike wall times on this shared machine, they do not move with its load.
#
#   benches/callgrind-ab.sh OLD_BIN NEW_BIN [FILES]          (FILES=10000 by default)
#
# Builds the cache section's repository (benches/bench.sh cache) with NEW_BIN, then counts the
# instructions each binary executes for an all-cached `analyze --all`, a one-file hit and
# `cache stats`, each measured after one warm-up run of the same binary. Prints a table.
set -euo pipefail
[ $# -ge 2 ] || { sed -n 2,9p "$0"; exit 2; }
OLD=$(realpath "$1") NEW=$(realpath "$2") N=${3:-10000}
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { echo "valgrind is needed" >&2; exit 1; }
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
BENCH_DIR=$WORK BENCH_BIN=$NEW RUNS=1 FILES=$N KEEP_REPO=1 benches/bench.sh cache >/dev/null 2>&1
R=$WORK/repo$N
[ -d "$R" ] || { echo "benches/bench.sh cache left no repository at $R" >&2; exit 1; }
count() {
  (cd "$R" && "$@" >/dev/null 2>&1 || true)
  (cd "$R" && valgrind --tool=callgrind --callgrind-out-file=/dev/null "$@" 2>&1 |
    sed -n 's/.*Collected : //p')
}
echo "| measurement ($N files, 2 offline types, all cached) | old (instructions) | new (instructions) | change |"
echo "|---|---:|---:|---:|"
for m in "analyze --all -q" "analyze src/m001/f1.rs -q" "cache stats -q"; do
  # shellcheck disable=SC2086
  o=$(count "$OLD" $m)
  # shellcheck disable=SC2086
  n=$(count "$NEW" $m)
  awk -v m="$m" -v o="$o" -v n="$n" 'BEGIN { printf "| `%s` | %d | %d | %+.2f%% |\n", m, o, n, (n - o) * 100 / o }'
done
