#!/usr/bin/env bash
# Issue 15 benchmarks: docker commit, cp out and in, diff and export, against Docker Engine
# (Debian's docker.io) in the same run when it is installed. Prints figures.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-test-deps.sh
cargo build --release --locked -p berthd -p berth-monitor -p berth-resolver -p berth-tests --bins
BERTHD_BIN=target/release/berthd target/release/bench_filesystem --with-docker
