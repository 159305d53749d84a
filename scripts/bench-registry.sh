#!/usr/bin/env bash
# Issue 16 benchmarks: docker pull and push of a 5-layer, 50 MB image with registries on loopback
# (Debian's docker-registry), cold and warm, with Docker Engine (Debian's docker.io) pulling
# the same image in the same run when it is installed. Prints figures.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-test-deps.sh
cargo build --release --locked -p berthd -p berth-monitor -p berth-resolver -p berth-tests --bins
BERTHD_BIN=target/release/berthd target/release/bench_registry --with-docker
