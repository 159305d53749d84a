#!/usr/bin/env bash
# The test command: installs what the tests need, builds, and runs every test (unit tests of
# each crate, then integration tests that start real berthd daemons). Needs root: layers are
# unpacked with their owners, device whiteouts and trusted xattrs, as Docker does.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" != 0 ]; then echo "scripts/test.sh must run as root" >&2; exit 1; fi
scripts/install-test-deps.sh
cargo fmt --all -- --check
# Lints fail the run; a toolchain without clippy (it cannot be fetched here) skips them.
if cargo clippy --version >/dev/null 2>&1; then
  cargo clippy --workspace --all-targets --locked -- -D warnings
else
  echo "clippy is not installed: lints skipped" >&2
fi
cargo build --workspace --bins --locked
cargo test --workspace --locked --no-fail-fast "$@"
