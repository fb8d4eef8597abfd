# Sourced by benches/bench.sh and benches/vs-git.sh: timing commands in turn, so all of them see
# the machine in the same state (on this shared VM the minute-to-minute drift is larger than the
# ratios being measured). Timing uses bash's own clock ($EPOCHREALTIME).
#
# alternate_us RUNS "CMD A" "CMD B" ...: run each command once (warm-up), then all of them in
# turn RUNS times; print each one's median wall time in microseconds, space-separated, in order.
# Each command is a shell string (eval'd), its output discarded and its failure ignored.
alternate_us() {
  local runs=$1
  shift
  local n=$# i t0 t1
  local -a times
  for c in "$@"; do eval "$c" >/dev/null 2>&1 || true; done
  for _ in $(seq "$runs"); do
    i=0
    for c in "$@"; do
      t0=${EPOCHREALTIME/./}
      eval "$c" >/dev/null 2>&1 || true
      t1=${EPOCHREALTIME/./}
      times[i]+="$((10#$t1 - 10#$t0)) "
      i=$((i + 1))
    done
  done
  local out=()
  for ((i = 0; i < n; i++)); do
    # shellcheck disable=SC2086
    out+=("$(printf '%s\n' ${times[i]} | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')")
  done
  echo "${out[*]}"
}
