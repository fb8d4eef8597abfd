# Section `index` of benches/bench.sh: the SQLite index over generated caches of realistic
# refactor entries (examples/gen_cache.rs).
cargo build --release --quiet --example gen_cache
GEN=$ROOT/target/release/examples/gen_cache
echo
echo "## Local index (realistic refactor entries, ~2.5 kB of JSON each)"
echo
echo "| entries | \`cache stats\` warm (ms) | full rebuild (ms) | sync after 1,000 new entries (ms) | JSON on disk | zstd on disk | zstd saving |"
echo "|---:|---:|---:|---:|---:|---:|---:|"
for N in ${INDEX_SIZES:-10000 100000}; do
  R=$WORK/idx$N
  rm -rf "$R" && mkdir -p "$R" && (cd "$R" && git init -q -b main)
  "$GEN" "$R" "$N" 1
  cd "$R"
  "$BIN" cache rebuild-index -q >/dev/null
  # Folders written in the last second are rescanned once more (racily clean, as in git);
  # "warm" means the index has settled.
  sleep 1.2
  "$BIN" cache stats -q >/dev/null
  stats=$(median_ms "$BIN" cache stats -q)
  rebuild=$(median_ms "$BIN" cache rebuild-index -q)
  # Sync after 1,000 entries arrive: each run adds a fresh 1,000, then times the first stats.
  syncs=()
  for s in $(seq 2 $((RUNS + 1))); do
    sleep 1.2
    "$BIN" cache stats -q >/dev/null
    "$GEN" "$R" 1000 "$s"
    t0=${EPOCHREALTIME/./}
    "$BIN" cache stats -q >/dev/null
    t1=${EPOCHREALTIME/./}
    syncs+=($((10#$t1 - 10#$t0)))
  done
  sync=$(printf '%s\n' "${syncs[@]}" | sort -n | awk '{a[NR]=$1} END {printf "%.1f", a[int((NR+1)/2)]/1000}')
  json_bytes=$(find .rustassistant/cache -name '*.json' -printf '%s\n' | awk '{s+=$1} END {print s}')
  "$BIN" cache migrate --to zstd -q >/dev/null
  zst_bytes=$(find .rustassistant/cache -name '*.json.zst' -printf '%s\n' | awk '{s+=$1} END {print s}')
  cd "$ROOT"
  awk -v n="$N" -v st="$stats" -v rb="$rebuild" -v sy="$sync" -v j="$json_bytes" -v z="$zst_bytes" \
    'BEGIN { printf "| %d | %s | %s | %s | %.1f MB | %.1f MB | %.0f%% |\n", n, st, rb, sy, j/1e6, z/1e6, (1 - z/j) * 100 }'
  rm -rf "$R"
done
echo
echo "Targets: stats < 20 ms at 100,000; rebuild < 5 s at 100,000; sync after 1,000 new < 200 ms; zstd ≥ 60% smaller."
