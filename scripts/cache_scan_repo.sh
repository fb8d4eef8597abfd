#!/usr/bin/env bash
# Analyse a whole repository with rustassistant (thin wrapper over `rustassistant analyze --all`).
set -euo pipefail

usage() {
  cat <<'USAGE'
Usage: scripts/cache_scan_repo.sh REPO [--commit] [--push] [--dry-run] [--parallel N] [--type T]...

Analyse every file of REPO that git tracks or would track (rustassistant analyze --all),
reusing every cached result under REPO/.rustassistant/.

  --commit       commit the new or changed entries (.rustassistant/) afterwards
  --push         push after committing (implies --commit)
  --dry-run      list what would be analysed; write, send and commit nothing
  --parallel N   requests in flight for LLM types (analyze --jobs N)
  --type T       analysis type, repeatable (todos, metrics, refactor, docs, analysis)
  -h, --help     this help

Exit code: that of `rustassistant analyze` (0 ok, 1 some file failed, 3 refused by the budget).
USAGE
}

[ $# -ge 1 ] || { usage >&2; exit 2; }
case $1 in -h | --help) usage; exit 0 ;; esac
repo=$1
shift
commit=0 push=0
args=(analyze --all)
while [ $# -gt 0 ]; do
  case $1 in
    --commit) commit=1 ;;
    --push) commit=1 push=1 ;;
    --dry-run) args+=(--dry-run) ;;
    --parallel) args+=(--jobs "${2:?--parallel needs a number}"); shift ;;
    --type) args+=(--type "${2:?--type needs a type}"); shift ;;
    -h | --help) usage; exit 0 ;;
    *) echo "unknown option: $1" >&2; usage >&2; exit 2 ;;
  esac
  shift
done
[ -d "$repo" ] || { echo "not a directory: $repo" >&2; exit 2; }
bin=${RUSTASSISTANT:-rustassistant}

status=0
"$bin" -C "$repo" "${args[@]}" || status=$?
case " ${args[*]} " in *" --dry-run "*) exit "$status" ;; esac
if [ "$commit" = 1 ] && [ -n "$(git -C "$repo" status --porcelain -- .rustassistant)" ]; then
  git -C "$repo" add -- .rustassistant
  git -C "$repo" commit -q -m "rustassistant: update cached analyses" -- .rustassistant
  echo "committed .rustassistant/"
fi
if [ "$push" = 1 ]; then
  git -C "$repo" push -q
  echo "pushed"
fi
exit "$status"
