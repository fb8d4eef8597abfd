#!/usr/bin/env bash
# Type-check the crate (library, binary, tests, benches, examples) for the platforms it
# supports besides this one: macOS on x86_64 and Apple silicon, and Linux with musl. The C
# dependencies (libgit2, SQLite, zstd, the TLS stack) compile with zig's bundled headers
# (PyPI `ziglang`, installed here into target/peers/zig-venv); this is a check, not a link.
#
#   scripts/check-platforms.sh                 every target
#   scripts/check-platforms.sh x86_64-apple-darwin
#   CHECK_TARGET_DIR=/somewhere scripts/check-platforms.sh   (kept between runs: incremental)
#
# Run by .ci/run after the tests; a missing tool fails under CI=true and is skipped loudly
# otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(x86_64-apple-darwin aarch64-apple-darwin x86_64-unknown-linux-musl)
fail() {
  echo "scripts/check-platforms.sh: $*" >&2
  if [ "${CI:-}" = true ]; then exit 1; fi
  echo "==== SKIPPED: the platform check ====" >&2
  exit 0
}

venv=$ROOT/target/peers/zig-venv
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import ziglang' 2>/dev/null; then
  (python3 -m venv "$venv" && "$venv/bin/pip" install --quiet 'ziglang>=0.13') ||
    fail "pip install ziglang failed"
fi
export ZIG_PYTHON=$venv/bin/python
for t in "${targets[@]}"; do
  rustup target list --installed 2>/dev/null | grep -qx "$t" ||
    rustup target add "$t" >/dev/null 2>&1 || fail "rustup target add $t failed"
done
export CARGO_TARGET_DIR=${CHECK_TARGET_DIR:-$ROOT/target/platforms}
# Code only another platform compiles gets the same warnings-as-errors as clippy gives here.
export RUSTFLAGS="${RUSTFLAGS:-} -D warnings"
for t in "${targets[@]}"; do
  case $t in
    x86_64-apple-darwin) zt=x86_64-macos ;;
    aarch64-apple-darwin) zt=aarch64-macos ;;
    x86_64-unknown-linux-musl) zt=x86_64-linux-musl ;;
    *) fail "no zig target for $t" ;;
  esac
  var=${t//-/_}
  echo "==== cargo check --target $t ===="
  env "CC_$var=$ROOT/scripts/zig/cc" "AR_$var=$ROOT/scripts/zig/ar" ZIG_TARGET=$zt \
    cargo check --locked --quiet --target "$t" --all-targets
done
echo "==== every platform type-checks ===="
