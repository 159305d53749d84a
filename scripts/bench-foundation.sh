#!/usr/bin/env bash
# Issue 2 benchmarks: import, image list with 200 images, start time, idle RSS; with Docker
# Engine (Debian's docker.io) measured in the same run when it is installed. Prints figures.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-test-deps.sh
cargo build --release --locked -p berthd -p berth-tests --bins
BERTHD_BIN=target/release/berthd target/release/bench_foundation --with-docker
