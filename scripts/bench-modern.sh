#!/usr/bin/env bash
# Issue 14 benchmarks: the API cycle at 1.44, docker run --rm at 1.44, docker ps with 50
# running against the CLI's floor (docker version), and the CPU cost of healthchecks every
# second on 50 containers; with Docker Engine (Debian's docker.io) in the same run when it
# is installed. Prints figures.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-test-deps.sh
cargo build --release --locked -p berthd -p berth-monitor -p berth-resolver -p berth-tests --bins
BERTHD_BIN=target/release/berthd target/release/bench_modern --with-docker
