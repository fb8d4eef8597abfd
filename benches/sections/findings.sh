# Section `findings` of benches/bench.sh: `findings` and `report` over an all-cached repository
# (FINDINGS_FILES="10000 100000" by default; 2 offline types, so 2 entries per file).
for N in ${FINDINGS_FILES:-10000 100000}; do
  R=$WORK/findings$N
  gen_repo "$R" "$N"
  (cd "$R" && "$BIN" analyze --all -q >/dev/null 2>&1)
  (cd "$R" && git add .rustassistant && git commit -q -m cache)
  sync && sleep 2
  (cd "$R" && "$BIN" cache stats -q >/dev/null)
  # The first query derives every entry's findings from the shards and stores them.
  t0=${EPOCHREALTIME/./}
  count=$(cd "$R" && "$BIN" findings --json 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["summary"]["total"])')
  t1=${EPOCHREALTIME/./}
  first=$(awk -v t=$((10#$t1 - 10#$t0)) 'BEGIN { printf "%.1f", t/1000 }')
  stored=$(cd "$R" && median_ms "$BIN" findings --json)
  sarif=$(cd "$R" && median_ms "$BIN" findings --format sarif -o "$WORK/out.sarif")
  errors=$(cd "$R" && median_ms "$BIN" findings --severity warning -q)
  echo "// edited" >>"$R/src/m001/f1.rs"
  since=$(cd "$R" && median_ms "$BIN" findings --since HEAD)
  git -C "$R" checkout -q -- src/m001/f1.rs
  report=$(cd "$R" && median_ms "$BIN" report -o "$WORK/report.html")
  gst=$(cd "$R" && median_ms git status --porcelain)
  echo
  echo "## Findings and report ($N files, $count findings)"
  echo
  echo "| measurement | wall time (ms) |"
  echo "|---|---:|"
  echo "| first \`findings --json\` (derives and stores every entry's findings) | $first |"
  echo "| \`findings --json\` (stored findings) | $stored |"
  echo "| \`findings --format sarif -o FILE\` | $sarif |"
  echo "| \`findings --severity warning\` | $errors |"
  echo "| \`findings --since HEAD\` (one file edited) | $since |"
  echo "| \`report -o FILE\` | $report |"
  echo "| \`git status\` (reference) | $gst |"
  rm -rf "$R"
done
