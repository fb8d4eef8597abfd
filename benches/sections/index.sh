# Section `index` of benches/bench.sh: the SQLite index over generated shards of realistic
# refactor entries (examples/gen_cache.rs, ~2.5 kB of JSON each).
#
# The cache is committed in a teammate's repository and cloned; the measured repository is the
# clone. "Sync after a pull" is the issue's case: the teammate commits 1,000 new entries (spread
# over the shards, as real ones are), the clone pulls them, and the first `cache stats` after the
# pull is timed (it syncs the index first). Each round then resets both repositories, so every
# round starts from N entries.
cargo build --release --quiet --example gen_cache
GEN=$ROOT/target/release/examples/gen_cache
median_of() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {printf "%.1f", a[int((NR+1)/2)]/1000}'; }
echo
echo "## Local index (realistic refactor entries, ~2.5 kB of JSON each, 256 shards)"
echo
echo "| entries | \`cache stats\` warm (ms) | \`rebuild-index\` (ms) | sync after a pull of 1,000 (ms) | shards it read | lines it decoded | shards on disk |"
echo "|---:|---:|---:|---:|---:|---:|---:|"
for N in ${INDEX_SIZES:-10000 100000}; do
  O=$WORK/idx$N-teammate
  R=$WORK/idx$N
  rm -rf "$O" "$R" && mkdir -p "$O" && (cd "$O" && git init -q -b main)
  "$GEN" "$O" "$N" 1
  (cd "$O" && git add -A && git commit -q -m "$N entries")
  git clone -q "$O" "$R"
  cd "$R"
  "$BIN" cache rebuild-index -q >/dev/null
  # Shards written in the last 100 ms are read once more (racily clean, as in git); "warm"
  # means the index has settled.
  sleep 0.5
  "$BIN" cache stats -q >/dev/null
  stats=$(median_ms "$BIN" cache stats -q)
  rebuild=$(median_ms "$BIN" cache rebuild-index -q)
  pulls=() read=() decoded=()
  for s in $(seq 2 $((RUNS + 1))); do
    (cd "$O" && "$GEN" . 1000 "$s" && git add -A && git commit -q -m "1,000 more")
    sleep 0.5
    "$BIN" cache stats -q >/dev/null
    git pull -q --no-rebase
    sleep 0.2
    t0=${EPOCHREALTIME/./}
    "$BIN" cache stats --json -q >"$WORK/stats.json"
    t1=${EPOCHREALTIME/./}
    pulls+=($((10#$t1 - 10#$t0)))
    read+=("$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["sync"]["shards_read"])' "$WORK/stats.json")")
    decoded+=("$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["sync"]["added"])' "$WORK/stats.json")")
    git reset -q --hard HEAD~1 && (cd "$O" && git reset -q --hard HEAD~1)
    sleep 0.5
    "$BIN" cache stats -q >/dev/null
  done
  pull=$(median_of "${pulls[@]}")
  mid() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
  bytes=$(find .rustassistant/cache -name '*.jsonl' -printf '%s\n' | awk '{s+=$1} END {printf "%.0f MB", s/1e6}')
  cd "$ROOT"
  echo "| $N | $stats | $rebuild | $pull | $(mid "${read[@]}") | $(mid "${decoded[@]}") | $bytes |"
  rm -rf "$O" "$R"
done
echo
echo "Targets: stats ≤ 20 ms and rebuild-index ≤ 3 s at 100,000; sync after a pull of 1,000 into 100,000 ≤ 150 ms."
