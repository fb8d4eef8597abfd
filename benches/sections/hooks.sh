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
# work a commit without hooks does not do); "new" commits add n new files. The repository has
# 200 files, or HOOK_BIG (default 10,000, as benches/bench.sh's cache section generates them;
# HOOK_BIG=0 leaves those rows out) for the last two rows.
specs=(1:modified:200 100:modified:200 100:new:200)
[ "${HOOK_BIG:-10000}" = 0 ] || specs+=(1:modified:${HOOK_BIG:-10000} 100:modified:${HOOK_BIG:-10000})
for spec in "${specs[@]}"; do
  IFS=: read -r n kind size <<<"$spec"
  R=$WORK/hook$n-$kind-$size
  if [ "$size" = 200 ]; then
    rm -rf "$R" && mkdir -p "$R" && cd "$R" && git init -q -b main
    for i in $(seq 200); do echo "fn f$i() {}" >"f$i.rs"; done
    git add -A && git commit -q -m base
  else
    gen_repo "$R" "$size" && cd "$R"
    mapfile -t edited < <(git ls-files 'src/*.rs' | head -n "$n")
  fi
  "$BIN" analyze --all -q >/dev/null
  git add -A && git commit -q -m cache
  "$BIN" hooks install -q >/dev/null
  commits=() hooks=()
  for r in $(seq "$RUNS"); do
    if [ "$kind" = new ]; then
      for i in $(seq "$n"); do echo "fn g${r}_$i() {}" >"g${r}_$i.rs"; done
    elif [ "$size" = 200 ]; then
      for i in $(seq "$n"); do echo "fn f$i() {} // $r" >"f$i.rs"; done
    else
      for f in "${edited[@]}"; do echo "// $r" >>"$f"; done
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
  echo "| $n $kind file$([ "$n" = 1 ] || echo s) ($size-file repository) | $(med "${commits[@]}") | $(med "${hooks[@]}") |"
  cd "$ROOT"
  [ "$size" = 200 ] || [ -n "${KEEP_REPO:-}" ] || rm -rf "$R"
done
echo
echo "Target: under 50 ms added. Modified-file rows include prune-on-commit deleting the replaced files' entries."
echo "The first commit after \`hooks install\` is not typical (no spare files yet, src/cache/spare.rs): the median leaves it out."
