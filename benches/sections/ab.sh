# Section `ab` of benches/bench.sh: builds compared on the figures users pay, each figure
# measured with the builds taking turns (benches/alternate.sh), so all see the machine in one
# state. This is how a change, or a hand-written stand-in against its plain version, earns its
# place.
#
#   BENCH_A=/path/to/plain-build[:/path/to/another...] BENCH_BIN=/path/to/build benches/bench.sh ab
#
# The builds in BENCH_A are compared with the build under test ($BIN, the last column). Figures,
# at AB_FILES files (default 10,000) with refactor entries (made by the fake LLM server) and the
# two offline types committed: a one-file hit of the paid type, the all-cached `--all` of each
# kind, `cache stats` on a warm index, and the pre-commit hook of 100 modified files in a
# 200-file repository (HOOK_PAUSE: see the hooks section).
[ -n "${BENCH_A:-}" ] || { echo "section ab: set BENCH_A to the build(s) to compare with" >&2; return 0; }
IFS=: read -r -a builds <<<"$BENCH_A"
builds+=("$BIN")
nb=${#builds[@]}
N=${AB_FILES:-10000}
R=$WORK/ab$N
gen_repo "$R" "$N"
paid_on
(cd "$R" && "$BIN" analyze --all -t refactor -t todos -t metrics --jobs 16 -q >/dev/null 2>&1)
(cd "$R" && git add .rustassistant && git commit -q -m cache)
# Hits from here on: the server is stopped, the paid type stays configured.
kill "$FAKE_PID" 2>/dev/null || true
# Each build gets its own clone (the local index lives in the git dir, and a build may have
# another schema) and syncs it once.
for ((i = 0; i < nb; i++)); do
  git clone -q --no-local "$R" "$R-$i"
  (cd "$R-$i" && "${builds[i]}" cache stats -q >/dev/null 2>&1)
done
sync && sleep 1
F=src/m001/f1.rs
each() { # each "ARGS": every build in its clone, in turn; prints their medians in µs
  local cmds=() i
  for ((i = 0; i < nb; i++)); do cmds+=("(cd '$R-$i' && '${builds[i]}' $1)"); done
  alternate_us "$RUNS" "${cmds[@]}"
}
read -r -a f1 < <(each "analyze -t refactor $F -q")
read -r -a f2 < <(each "analyze --all -t refactor -q")
read -r -a f3 < <(each "analyze --all -t todos -t metrics -q")
read -r -a f5 < <(each "cache stats -q")
paid_off

# The hook: one repository per build, the same 100 files modified in each every round, then
# each build's hook run on its own staged index, the builds taking turns going first.
for ((i = 0; i < nb; i++)); do
  d=$WORK/hook-$i
  rm -rf "$d" && mkdir -p "$d" && cd "$d" && git init -q -b main
  for f in $(seq 200); do echo "fn f$f() {}" >"f$f.rs"; done
  git add -A && git commit -q -m base
  "${builds[i]}" analyze --all -q >/dev/null && git add -A && git commit -q -m cache
  "${builds[i]}" hooks install -q >/dev/null
  cd "$ROOT"
done
declare -a hook_times
for r in $(seq "$RUNS"); do
  for ((i = 0; i < nb; i++)); do
    (cd "$WORK/hook-$i" && for f in $(seq 100); do echo "fn f$f() {} // $r" >"f$f.rs"; done &&
      "${builds[i]}" analyze --all -q >/dev/null && git add -A)
  done
  sleep "${HOOK_PAUSE:-0}"
  for ((k = 0; k < nb; k++)); do
    i=$(((k + r) % nb))
    t0=${EPOCHREALTIME/./}
    (cd "$WORK/hook-$i" && .git/hooks/pre-commit >/dev/null 2>&1)
    t1=${EPOCHREALTIME/./}
    hook_times[i]+="$((10#$t1 - 10#$t0)) "
  done
  for ((i = 0; i < nb; i++)); do (cd "$WORK/hook-$i" && git commit -q --no-verify -m "r$r" >/dev/null 2>&1); done
done
f4=()
for ((i = 0; i < nb; i++)); do
  # shellcheck disable=SC2086
  f4+=("$(printf '%s\n' ${hook_times[i]} | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')")
done

echo
echo "## A/B: $N files, builds alternated, median of $RUNS"
echo
for ((i = 0; i < nb; i++)); do echo "- build $i: ${builds[i]}"; done
echo
header="| figure |" rule="|---|"
for ((i = 0; i < nb; i++)); do header+=" build $i (ms) |"; rule+="---:|"; done
echo "$header last / build 0 |"
echo "$rule---:|"
abrow() {
  local name=$1
  shift
  local line="| $name |" v
  for v in "$@"; do line+=" $(awk -v v="$v" 'BEGIN { printf "%.2f", v / 1000 }') |"; done
  echo "$line $(awk -v a="$1" -v b="${!#}" 'BEGIN { printf "%.3f", b / a }') |"
}
abrow "one-file hit, refactor" "${f1[@]}"
abrow "all cached, refactor" "${f2[@]}"
abrow "all cached, todos + metrics" "${f3[@]}"
abrow "pre-commit hook, 100 of 200 files modified" "${f4[@]}"
abrow "\`cache stats\` (warm)" "${f5[@]}"
for ((i = 0; i < nb; i++)); do rm -rf "$R-$i" "$WORK/hook-$i"; done
rm -rf "$R"
