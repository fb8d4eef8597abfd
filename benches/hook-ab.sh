#!/usr/bin/env bash
# The pre-commit hook of two builds, alternately, on the commit benches/sections/hooks.sh times
# (200 files, every staged file analysed beforehand). Prints the median hook run (ms) of each
# round per build.
#
#   benches/hook-ab.sh /abs/old-build /abs/new-build [N=100] [KIND=modified|new] [RUNS=7] [PAUSE=1.1] [ROUNDS=3]
set -euo pipefail
A=$1 B=$2 N=${3:-100} KIND=${4:-modified} RUNS=${5:-7} PAUSE=${6:-1.1} ROUNDS=${7:-3}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
export RUSTASSISTANT_HOME=$WORK/home GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_NOSYSTEM=1 \
  GIT_AUTHOR_NAME=bench GIT_AUTHOR_EMAIL=bench@example.com GIT_COMMITTER_NAME=bench \
  GIT_COMMITTER_EMAIL=bench@example.com
mkdir -p "$RUSTASSISTANT_HOME"

# one BIN: a fresh repository, RUNS commits through BIN's hook; prints the median hook time.
one() {
  local bin=$1 r=$WORK/repo times=()
  rm -rf "$r" && mkdir -p "$r" && cd "$r" && git init -q -b main
  for i in $(seq 200); do echo "fn f$i() {}" >"f$i.rs"; done
  git add -A && git commit -q -m base
  "$bin" analyze --all -q >/dev/null
  git add -A && git commit -q -m cache
  "$bin" hooks install -q >/dev/null
  for run in $(seq "$RUNS"); do
    if [ "$KIND" = new ]; then
      for i in $(seq "$N"); do echo "fn g${run}_$i() {}" >"g${run}_$i.rs"; done
    else
      for i in $(seq "$N"); do echo "fn f$i() {} // $run" >"f$i.rs"; done
    fi
    "$bin" analyze --all -q >/dev/null 2>&1
    git add -A
    sleep "$PAUSE"
    local t0=${EPOCHREALTIME/./}
    "$bin" hooks run pre-commit >/dev/null 2>&1 || true
    local t1=${EPOCHREALTIME/./}
    git commit -q --no-verify -m "r$run" >/dev/null 2>&1
    times+=($((10#$t1 - 10#$t0)))
  done
  cd /
  printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {printf "%.1f", a[int((NR+1)/2)]/1000}'
}

echo "| round | $(basename "$A") (ms) | $(basename "$B") (ms) |"
echo "|---:|---:|---:|"
for round in $(seq "$ROUNDS"); do
  echo "| $round | $(one "$A") | $(one "$B") |"
done
