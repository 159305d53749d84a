#!/usr/bin/env bash
# Issue 3 benchmarks: container create/start/wait/remove through the API and the docker CLI,
# memory of 50 running containers, container listing; with Docker Engine (Debian's docker.io)
# measured in the same run when it is installed. Prints figures.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-test-deps.sh
cargo build --release --locked -p berthd -p berth-monitor -p berth-resolver -p berth-tests --bins
BERTHD_BIN=target/release/berthd target/release/bench_containers --with-docker
