#!/usr/bin/env bash
# The all-cached `analyze --all -q` of one or more builds against `git status --porcelain` on one
# repository, each build and git run in turn (as benches/bench.sh's median_pair_ms does for one
# build), so all of them see the same machine state.
#
#   DIR=/path/to/repo N=150 benches/vs-git.sh BUILD...
#
# Prints each one's median wall time (ms) over N runs (default 100) and its ratio to git's.
set -euo pipefail
cd "${DIR:-.}"
declare -A t
for _ in $(seq "${N:-100}"); do
  for b in "$@" git; do
    t0=${EPOCHREALTIME/./}
    if [ "$b" = git ]; then
      git status --porcelain >/dev/null 2>&1 || true
    else
      "$b" analyze --all -q >/dev/null 2>&1 || true
    fi
    t1=${EPOCHREALTIME/./}
    t[$b]+="$((10#$t1 - 10#$t0)) "
  done
done
median() { printf '%s\n' $1 | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
g=$(median "${t[git]}")
for b in "$@" git; do
  m=$(median "${t[$b]}")
  awk -v b="$b" -v m="$m" -v g="$g" 'BEGIN {printf "%-40s median %.2f ms  %.2fx\n", b, m / 1000, m / g}'
done
