#!/usr/bin/env bash
# A/B of the index sync after a pull, for two builds of rustassistant:
#
#   benches/ab-sync.sh OLD_BIN NEW_BIN [ROUNDS]      (ENTRIES=100000 by default)
#
# A teammate's repository holds ENTRIES generated entries; each binary gets its own clone (their
# index schemas may differ). Each round the teammate commits 1,000 more, both clones settle, wait
# PAUSE seconds (6 by default: this machine's page cache drops what is not touched), pull, and
# the first `cache stats` after the pull is timed, the two binaries taking turns going first. Both clones then go back to ENTRIES entries.
# Prints each binary's times and median in ms.
set -euo pipefail
[ $# -ge 2 ] || { sed -n 2,9p "$0"; exit 2; }
OLD=$(realpath "$1") NEW=$(realpath "$2") ROUNDS=${3:-8}
cd "$(dirname "$0")/.."
cargo build --release --quiet --example gen_cache
GEN=$PWD/target/release/examples/gen_cache
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
export RUSTASSISTANT_HOME=$WORK/home GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_NOSYSTEM=1 \
  GIT_AUTHOR_NAME=bench GIT_AUTHOR_EMAIL=bench@example.com GIT_COMMITTER_NAME=bench \
  GIT_COMMITTER_EMAIL=bench@example.com
mkdir -p "$RUSTASSISTANT_HOME" "$WORK/teammate"
T=$WORK/teammate
(cd "$T" && git init -q -b main && "$GEN" . "${ENTRIES:-100000}" 1 && git add -A && git commit -q -m base)
declare -A BIN=([old]=$OLD [new]=$NEW) TIMES=()
for v in old new; do
  git clone -q "$T" "$WORK/$v"
  (cd "$WORK/$v" && "${BIN[$v]}" cache rebuild-index -q >/dev/null)
done
for i in $(seq "$ROUNDS"); do
  (cd "$T" && "$GEN" . 1000 "$((i + 1))" && git add -A && git commit -q -m "1,000 more")
  for v in old new; do
    sleep 1.2
    (cd "$WORK/$v" && "${BIN[$v]}" cache stats -q >/dev/null)
  done
  sleep "${PAUSE:-6}"
  # Alternate which binary goes first after the pause.
  order="old new"
  [ $((i % 2)) = 0 ] && order="new old"
  for v in $order; do
    cd "$WORK/$v"
    git pull -q --no-rebase
    t0=${EPOCHREALTIME/./}
    "${BIN[$v]}" cache stats -q >/dev/null
    t1=${EPOCHREALTIME/./}
    TIMES[$v]+="$(((10#$t1 - 10#$t0) / 1000)) "
    git reset -q --hard HEAD~1
  done
  (cd "$T" && git reset -q --hard HEAD~1)
done
for v in old new; do
  echo "$v: ${TIMES[$v]}median $(printf '%s\n' ${TIMES[$v]} | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}') ms"
done
