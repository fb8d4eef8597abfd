# Section `index` of benches/bench.sh: the SQLite index over generated caches of realistic
# refactor entries (examples/gen_cache.rs).
#
# The cache is committed in a teammate's repository and cloned; the measured repository is the
# clone. "Sync after a pull" is the case: the teammate commits 1,000 new entries, the
# clone pulls them, and the first `cache stats` after the pull is timed (it syncs the index
# first). Each round then resets both repositories, so every round starts from N entries.
# "Sync after 1,000 written in place" is the same number of new entries written straight into
# the clone's cache, untracked, where git's index has nothing to say.
cargo build --release --quiet --example gen_cache
GEN=$ROOT/target/release/examples/gen_cache
median_of() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {printf "%.1f", a[int((NR+1)/2)]/1000}'; }
echo
echo "## Local index (realistic refactor entries, ~2.5 kB of JSON each)"
echo
echo "| entries | \`cache stats\` warm (ms) | full rebuild (ms) | sync after a pull of 1,000 (ms) | files stat'ed by it | sync after 1,000 written in place (ms) | JSON on disk | zstd on disk | zstd saving |"
echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
for N in ${INDEX_SIZES:-10000 100000}; do
  O=$WORK/idx$N-teammate
  R=$WORK/idx$N
  rm -rf "$O" "$R" && mkdir -p "$O" && (cd "$O" && git init -q -b main)
  "$GEN" "$O" "$N" 1
  (cd "$O" && git add -A && git commit -q -m "$N entries")
  git clone -q "$O" "$R"
  cd "$R"
  "$BIN" cache rebuild-index -q >/dev/null
  # Folders written in the last second are rescanned once more (racily clean, as in git);
  # "warm" means the index has settled.
  sleep 1.2
  "$BIN" cache stats -q >/dev/null
  stats=$(median_ms "$BIN" cache stats -q)
  rebuild=$(median_ms "$BIN" cache rebuild-index -q)
  pulls=() stated=() inplaces=()
  for s in $(seq 2 $((RUNS + 1))); do
    (cd "$O" && "$GEN" . 1000 "$s" && git add -A && git commit -q -m "1,000 more")
    sleep 1.2
    "$BIN" cache stats -q >/dev/null
    git pull -q --no-rebase
    t0=${EPOCHREALTIME/./}
    "$BIN" cache stats --json -q >"$WORK/stats.json"
    t1=${EPOCHREALTIME/./}
    pulls+=($((10#$t1 - 10#$t0)))
    stated+=("$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["sync"]["stat_calls"])' "$WORK/stats.json")")
    git reset -q --hard HEAD~1 && (cd "$O" && git reset -q --hard HEAD~1)
    sleep 1.2
    "$BIN" cache stats -q >/dev/null
    "$GEN" . 1000 "$((s + 1000))"
    t0=${EPOCHREALTIME/./}
    "$BIN" cache stats -q >/dev/null
    t1=${EPOCHREALTIME/./}
    inplaces+=($((10#$t1 - 10#$t0)))
    git clean -q -fd .rustassistant
    sleep 1.2
    "$BIN" cache stats -q >/dev/null
  done
  pull=$(median_of "${pulls[@]}")
  inplace=$(median_of "${inplaces[@]}")
  stat_calls=$(printf '%s\n' "${stated[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
  json_bytes=$(find .rustassistant/cache -name '*.json' -printf '%s\n' | awk '{s+=$1} END {print s}')
  "$BIN" cache migrate --to zstd -q >/dev/null
  zst_bytes=$(find .rustassistant/cache -name '*.json.zst' -printf '%s\n' | awk '{s+=$1} END {print s}')
  cd "$ROOT"
  awk -v n="$N" -v st="$stats" -v rb="$rebuild" -v sy="$pull" -v sc="$stat_calls" -v ip="$inplace" -v j="$json_bytes" -v z="$zst_bytes" \
    'BEGIN { printf "| %d | %s | %s | %s | %s | %s | %.1f MB | %.1f MB | %.0f%% |\n", n, st, rb, sy, sc, ip, j/1e6, z/1e6, (1 - z/j) * 100 }'
  rm -rf "$O" "$R"
done
echo
echo "Targets: stats < 20 ms at 100,000; rebuild < 5 s at 100,000; sync after 1,000 new < 200 ms; zstd ≥ 60% smaller."
