# Section `providers` of benches/bench.sh: 200 files against a fake server with fixed latency.
N=${PROVIDER_FILES:-200}
LAT=${LATENCY_MS:-100}
paid_on "$LAT"
echo
echo "## LLM requests ($N files, fake server with ${LAT} ms latency, OpenAI wire format)"
echo
echo "| jobs | wall time (ms) | ideal (files × latency / jobs) | ratio |"
echo "|---:|---:|---:|---:|"
for jobs in 1 4 16; do
  R=$WORK/prov$jobs
  rm -rf "$R" && mkdir -p "$R" && (cd "$R" && git init -q -b main &&
    for i in $(seq "$N"); do echo "fn f$i() {}" >"f$i.rs"; done && git add -A && git commit -q -m gen)
  t0=${EPOCHREALTIME/./}
  (cd "$R" && "$BIN" analyze --all -t refactor --jobs "$jobs" -q >/dev/null 2>&1)
  t1=${EPOCHREALTIME/./}
  ms=$(((10#$t1 - 10#$t0) / 1000))
  ideal=$((N * LAT / jobs))
  awk -v j="$jobs" -v m="$ms" -v i="$ideal" 'BEGIN { printf "| %d | %d | %d | %.2f× |\n", j, m, i, m / i }'
done
paid_off
