#!/usr/bin/env bash
# A/B two builds on one command line, alternating runs so both see the same machine state (this
# machine's run-to-run noise is larger than the differences worth measuring).
#
#   DIR=/path/to/repo N=200 benches/ab.sh OLD_BIN NEW_BIN analyze src/a.rs -q
#
# Prints the median, 25th percentile and minimum wall time (ms) of each, over N runs (default 150),
# measured with bash's own clock, as benches/bench.sh does.
set -euo pipefail
A=$1 B=$2
shift 2
cd "${DIR:-.}"
ta=() tb=()
for _ in $(seq "${N:-150}"); do
  t0=${EPOCHREALTIME/./}
  "$A" "$@" >/dev/null 2>&1 || true
  t1=${EPOCHREALTIME/./}
  "$B" "$@" >/dev/null 2>&1 || true
  t2=${EPOCHREALTIME/./}
  ta+=($((10#$t1 - 10#$t0)))
  tb+=($((10#$t2 - 10#$t1)))
done
stats() {
  printf '%s\n' "$@" | sort -n |
    awk '{a[NR]=$1} END {printf "median %.2f ms, p25 %.2f ms, min %.2f ms", a[int((NR+1)/2)]/1000, a[int(NR/4)]/1000, a[1]/1000}'
}
echo "A $A: $(stats "${ta[@]}")"
echo "B $B: $(stats "${tb[@]}")"
