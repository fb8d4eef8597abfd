#!/usr/bin/env bash
# The README's test command (and what CI runs): provisions the real peers the tests run
# against, then runs the whole suite.
#
#   husky 9, lefthook 2   npm, into target/peers/node_modules   (hook-manager tests)
#   sarif-multitool       npm, into target/peers/node_modules   (Microsoft's SARIF validator)
#   pre-commit 4          PyPI, into target/peers/venv          (pre-commit framework test)
#   chromium              Debian, with apt-get where it can     (renders the HTML report)
#
# Then the fuzz targets are type-checked. A peer that cannot be installed is reported here and skipped loudly by its tests, except
# under CI=true, where a missing peer fails the run. Extra arguments go to `cargo test`.
set -euo pipefail
cd "$(dirname "$0")/.."
peers="$PWD/target/peers"
mkdir -p "$peers"
export RUSTASSISTANT_TEST_PEERS="$peers"
warn() { echo "scripts/test.sh: warning: $*" >&2; }

if command -v npm >/dev/null 2>&1; then
  if [ ! -e "$peers/node_modules/.bin/husky" ] || [ ! -e "$peers/node_modules/.bin/lefthook" ] ||
    [ ! -e "$peers/node_modules/.bin/sarif-multitool" ]; then
    [ -f "$peers/package.json" ] || echo '{"name": "rustassistant-test-peers", "private": true}' >"$peers/package.json"
    (cd "$peers" && npm install --no-audit --no-fund --loglevel=error husky@9 lefthook@2 @microsoft/sarif-multitool@5) ||
      warn "npm install husky lefthook sarif-multitool failed; their tests will say so"
  fi
  # npm does not run the validator's install script, so its binary lacks the run bit.
  sarif_bin="$peers/node_modules/@microsoft/sarif-multitool-linux/Sarif.Multitool"
  [ -e "$sarif_bin" ] && chmod u+x "$sarif_bin"
else
  warn "npm not found: the husky and lefthook tests cannot run"
fi

if [ ! -x "$peers/venv/bin/pre-commit" ]; then
  (python3 -m venv "$peers/venv" && "$peers/venv/bin/pip" install --quiet 'pre-commit>=4,<5') ||
    warn "pip install pre-commit failed; its test will say so"
fi

if ! command -v chromium >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    (apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium) >"$peers/apt-chromium.log" 2>&1 ||
      warn "apt-get install chromium failed (see $peers/apt-chromium.log); the report test will say so"
  else
    warn "chromium is not installed and apt-get is not usable here; the report test will say so"
  fi
fi

cargo test --locked "$@"
# The fuzz targets (their own workspace, run with nightly and cargo-fuzz) must keep building as
# the formats they feed change: type-checked here on the stable toolchain.
echo "==== the fuzz targets type-check ===="
cargo check --locked --quiet --manifest-path fuzz/Cargo.toml --bins
