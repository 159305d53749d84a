#!/usr/bin/env bash
# Issue 18 benchmarks: the start latency a user-defined network adds over --net=none, a DNS
# lookup of a peer's name from inside a container (median and p99), network create + rm, and
# the resolver's memory with 50 containers on one network; Docker Engine 20.10 in the same
# run. Prints figures.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-test-deps.sh
cargo build --release --locked -p berthd -p berth-monitor -p berth-resolver -p berth-tests --bins
BERTHD_BIN=target/release/berthd target/release/bench_networks --with-docker "$@"
