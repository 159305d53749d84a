#!/usr/bin/env bash
# Issue 5 benchmarks: `docker exec CID true` latency and attach throughput of a container
# writing 1 GB to stdout, with Docker Engine (Debian's docker.io) measured in the same run
# when it is installed. Prints figures. usage: scripts/bench-streams.sh [--megabytes N]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-test-deps.sh
cargo build --release --locked -p berthd -p berth-monitor -p berth-resolver -p berth-tests --bins
BERTHD_BIN=target/release/berthd target/release/bench_streams --with-docker "$@"
