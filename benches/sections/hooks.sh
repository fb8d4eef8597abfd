# Section `hooks` of benches/bench.sh: what the pre-commit hook adds to `git commit` when every
# staged file is already analysed. The hook's cost is timed directly (the installed shim run on
# the staged index, as git runs it), because whole-commit wall times on this machine vary by
# more than the hook costs (git's own object writes and fsyncs).
echo
echo "## pre-commit hook overhead (everything cached)"
echo
echo "| commit of | git commit without hooks (ms) | hook run (ms, = time added) |"
echo "|---|---:|---:|"
# Rows: "modified" commits replace n files (prune-on-commit then drops their 2n stale entries,
# work a commit without hooks does not do); "new" commits add n new files.
for spec in 1:modified 100:modified 100:new; do
  n=${spec%%:*} kind=${spec#*:}
  R=$WORK/hook$n-$kind
  rm -rf "$R" && mkdir -p "$R" && cd "$R" && git init -q -b main
  for i in $(seq 200); do echo "fn f$i() {}" >"f$i.rs"; done
  git add -A && git commit -q -m base
  "$BIN" analyze --all -q >/dev/null
  git add -A && git commit -q -m cache
  "$BIN" hooks install -q >/dev/null
  commits=() hooks=()
  for r in $(seq "$RUNS"); do
    if [ "$kind" = new ]; then
      for i in $(seq "$n"); do echo "fn g${r}_$i() {}" >"g${r}_$i.rs"; done
    else
      for i in $(seq "$n"); do echo "fn f$i() {} // $r" >"f$i.rs"; done
    fi
    # Analysed beforehand, so the hook finds everything cached.
    "$BIN" analyze --all -q >/dev/null
    git add -A
    # HOOK_PAUSE=1.1 leaves the previous commit's replaced shards a second old, as between any
    # two commits a person makes, so the hook can reuse them (src/cache/spare.rs).
    sleep "${HOOK_PAUSE:-0}"
    t0=${EPOCHREALTIME/./}
    .git/hooks/pre-commit >/dev/null 2>&1
    t1=${EPOCHREALTIME/./}
    git commit -q --no-verify -m "r$r" >/dev/null 2>&1
    t2=${EPOCHREALTIME/./}
    hooks+=($((10#$t1 - 10#$t0)))
    commits+=($((10#$t2 - 10#$t1)))
  done
  med() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {printf "%.1f", a[int((NR+1)/2)]/1000}'; }
  echo "| $n $kind file$([ "$n" = 1 ] || echo s) | $(med "${commits[@]}") | $(med "${hooks[@]}") |"
  cd "$ROOT"
done
echo
echo "Target: under 50 ms added. Modified-file rows include prune-on-commit deleting the replaced files' entries."
