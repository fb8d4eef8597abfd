#!/usr/bin/env bash
# The README's test command (and what CI runs): provisions the real peers the tests run
# against, then runs the whole suite.
#
#   husky 9, lefthook 2   npm, into target/peers/node_modules   (hook-manager tests)
#   pre-commit 4          PyPI, into target/peers/venv          (pre-commit framework test)
#
# A peer that cannot be installed is reported here and skipped loudly by its tests, except
# under CI=true, where a missing peer fails the run. Extra arguments go to `cargo test`.
set -euo pipefail
cd "$(dirname "$0")/.."
peers="$PWD/target/peers"
mkdir -p "$peers"
export RUSTASSISTANT_TEST_PEERS="$peers"
warn() { echo "scripts/test.sh: warning: $*" >&2; }

if command -v npm >/dev/null 2>&1; then
  if [ ! -e "$peers/node_modules/.bin/husky" ] || [ ! -e "$peers/node_modules/.bin/lefthook" ]; then
    [ -f "$peers/package.json" ] || echo '{"name": "rustassistant-test-peers", "private": true}' >"$peers/package.json"
    (cd "$peers" && npm install --no-audit --no-fund --loglevel=error husky@9 lefthook@2) ||
      warn "npm install husky lefthook failed; their tests will say so"
  fi
else
  warn "npm not found: the husky and lefthook tests cannot run"
fi

if [ ! -x "$peers/venv/bin/pre-commit" ]; then
  (python3 -m venv "$peers/venv" && "$peers/venv/bin/pip" install --quiet 'pre-commit>=4,<5') ||
    warn "pip install pre-commit failed; its test will say so"
fi

exec cargo test --locked "$@"
