#!/usr/bin/env bash
# The all-cached `analyze --all -q` of one or more builds against `git status --porcelain` on one
# repository, each build and git run in turn (as benches/bench.sh's median_pair_ms does for one
# build), so all of them see the same machine state.
#
#   DIR=/path/to/repo N=150 benches/vs-git.sh BUILD...
#
# Prints each one's median wall time (ms) over N runs (default 100) and its ratio to git's.
set -euo pipefail
source "$(dirname "$0")/alternate.sh"
cd "${DIR:-.}"
cmds=()
for b in "$@"; do cmds+=("'$b' analyze --all -q"); done
read -r -a t < <(alternate_us "${N:-100}" "${cmds[@]}" "git status --porcelain")
g=${t[$#]}
i=0
for b in "$@" git; do
  awk -v b="$b" -v m="${t[i]}" -v g="$g" 'BEGIN {printf "%-40s median %.2f ms  %.2fx\n", b, m / 1000, m / g}'
  i=$((i + 1))
done
