#!/usr/bin/env bash
# Analyse one folder of a repository with rustassistant (thin wrapper over `rustassistant analyze DIR`).
set -euo pipefail

usage() {
  cat <<'USAGE'
Usage: scripts/simple_cache_scan.sh REPO DIR [analyze options...]

Analyse the files under DIR (relative to REPO; .gitignore respected), reusing cached results.
Extra options are passed to `rustassistant analyze` (e.g. --type refactor --jobs 8 --dry-run).
USAGE
}

case ${1:-} in -h | --help) usage; exit 0 ;; esac
[ $# -ge 2 ] || { usage >&2; exit 2; }
repo=$1 dir=$2
shift 2
[ -d "$repo" ] || { echo "not a directory: $repo" >&2; exit 2; }
exec "${RUSTASSISTANT:-rustassistant}" -C "$repo" analyze "$dir" "$@"
