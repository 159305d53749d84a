#!/usr/bin/env bash
# Compares two builds of berthd in one run, rounds alternated: the API's container cycle,
# docker run --rm, docker exec, PSS per sleeping container, idle daemon RSS and start to
# first ping. The old build is made from OLD_REV in a worktree of its own (its target
# directory kept in /tmp for the next comparison); the new one is this tree.
# usage: scripts/bench-compare.sh OLD_REV [--rounds N]
set -euo pipefail
cd "$(dirname "$0")/.."
old_rev=${1:?usage: scripts/bench-compare.sh OLD_REV [--rounds N]}
shift
scripts/install-test-deps.sh
old_sha=$(git rev-parse --verify "$old_rev^{commit}")
worktree=/tmp/berth-bench-$old_sha
old_target=/tmp/berth-bench-target-$old_sha
if [ ! -d "$worktree" ]; then
  git worktree add --detach "$worktree" "$old_sha" >/dev/null
fi
(cd "$worktree" && cargo build --release --locked -p berthd -p berth-monitor --target-dir "$old_target")
cargo build --release --locked -p berthd -p berth-monitor -p berth-resolver -p berth-tests --bins
target/release/bench_compare "$old_target/release/berthd" target/release/berthd "$@"
