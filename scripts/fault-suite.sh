#!/usr/bin/env bash
# The fault suite on its own, with its figures: the defects' regression tests and the limits
# a container must not cross (tests/integration/tests/faults.rs), the 32-way lifecycle soak
# with its leak audit and the kill -9 crash loop (fault_soak.rs). The test command runs the
# same tests CI-sized; `--long` runs the soak and the crash loop 12 times longer (32 x 48
# lifecycles, 72 kills). BERTH_FAULT_SEED=N repeats a run's random choices. Needs root.
set -euo pipefail
cd "$(dirname "$0")/.."
scale=1
if [ "${1:-}" = "--long" ]; then scale=12; fi
scripts/install-test-deps.sh
cargo build --workspace --bins --locked
BERTH_FAULT_SCALE=$scale cargo test --locked -p berth-tests --test faults --test fault_soak -- --nocapture --test-threads 2 2>&1 \
  | grep -E '^(seed|soak|crash loop|memory|restarts|test |test result)|panicked|assert'
