# Section `instructions` of benches/bench.sh: instruction counts of two builds with valgrind's
# callgrind, which the machine's load does not move (wall times here drift more than many
# changes are worth). The first build of BENCH_A against the build under test ($BIN), on an
# all-cached repository of INSTR_FILES files (default 10,000; 2 offline types), each command
# counted after one warm-up run of the same build.
#
#   BENCH_A=/path/to/old-build BENCH_BIN=/path/to/new-build benches/bench.sh instructions
if [ -z "${BENCH_A:-}" ]; then
  echo "section instructions: set BENCH_A to the build to compare with" >&2
elif ! command -v valgrind >/dev/null; then
  echo "section instructions: valgrind is needed" >&2
else
  OLD=${BENCH_A%%:*}
  N=${INSTR_FILES:-10000}
  R=$WORK/instr$N
  gen_repo "$R" "$N"
  (cd "$R" && "$BIN" analyze --all -q >/dev/null 2>&1 && git add .rustassistant && git commit -q -m cache)
  count() {
    (cd "$R" && "$@" >/dev/null 2>&1 || true)
    (cd "$R" && valgrind --tool=callgrind --callgrind-out-file=/dev/null "$@" 2>&1 |
      sed -n 's/.*Collected : //p')
  }
  echo
  echo "## Instructions: $OLD (old) against $BIN (new), $N files, 2 offline types, all cached"
  echo
  echo "| command | old (instructions) | new (instructions) | change |"
  echo "|---|---:|---:|---:|"
  for m in "analyze --all -q" "analyze src/m001/f1.rs -q" "cache stats -q"; do
    # shellcheck disable=SC2086
    o=$(count "$OLD" $m)
    # shellcheck disable=SC2086
    n=$(count "$BIN" $m)
    awk -v m="$m" -v o="$o" -v n="$n" 'BEGIN { printf "| `%s` | %d | %d | %+.2f%% |\n", m, o, n, (n - o) * 100 / o }'
  done
  rm -rf "$R"
fi
