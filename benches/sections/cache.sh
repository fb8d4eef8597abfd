# Section `cache` of benches/bench.sh: hits with everything cached, at 10,000 and 100,000 files
# (FILES="10000 100000" by default), against `git status` on the same repository.
for N in ${FILES:-10000 100000}; do
  R=$WORK/repo$N
  gen_repo "$R" "$N"
  (cd "$R" && "$BIN" analyze --all -q >/dev/null 2>&1)
  (cd "$R" && git add .rustassistant && git commit -q -m cache)
  # Let the kernel write back what was just created, or the first runs measure that.
  sync && sleep 2
  (cd "$R" && "$BIN" cache stats -q >/dev/null)
  one=$(cd "$R" && median_ms "$BIN" analyze src/m001/f1.rs -q)
  # Alternated, so both see the machine in the same state.
  read -r all gst < <(cd "$R" && median_pair_ms '"$BIN" analyze --all -q' 'git status --porcelain')
  shards=$(find "$R/.rustassistant/cache" -name '*.jsonl' | wc -l)
  echo
  echo "## Cache hits ($N files, 2 offline types, everything cached, $shards shards)"
  echo
  echo "| measurement | wall time (ms) | target |"
  echo "|---|---:|---|"
  echo "| one-file hit (\`analyze FILE\`) | $one | ≤ $([ "$N" -ge 100000 ] && echo 5 || echo 3) ms |"
  echo "| all cached (\`analyze --all\`) | $all | ≤ $([ "$N" -ge 100000 ] && echo 1.5 || echo 1.2) × git status |"
  echo "| \`git status\` (reference) | $gst | |"
  awk -v a="$all" -v g="$gst" 'BEGIN { printf "\nanalyze --all / git status = %.2f×\n", a / g }'
  # KEEP_REPO=1 keeps the repository (for a profiler).
  [ -n "${KEEP_REPO:-}" ] || rm -rf "$R"
done
