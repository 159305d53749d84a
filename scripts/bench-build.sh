#!/usr/bin/env bash
# Issue 17 benchmarks: docker build (legacy builder) of a 3-line Dockerfile with --no-cache, a
# fully cached 10-step rebuild and a 100 MB COPY, with Docker Engine (Debian's docker.io)
# building the same in the same run when it is installed. Prints figures.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-test-deps.sh
cargo build --release --locked -p berthd -p berth-monitor -p berth-resolver -p berth-tests --bins
BERTHD_BIN=target/release/berthd target/release/bench_build --with-docker
