#!/usr/bin/env bash
# Issue 6 benchmarks: start latency a bridged container adds over --net=none, and HTTP
# through a port published on 127.0.0.1 (ab -c 1 and -c 10), with Docker Engine's
# docker-proxy measured in the same run when it is installed. Prints figures.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-test-deps.sh
cargo build --release --locked -p berthd -p berth-monitor -p berth-resolver -p berth-tests --bins
BERTHD_BIN=target/release/berthd target/release/bench_network --with-docker "$@"
