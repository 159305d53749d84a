#!/usr/bin/env bash
# Builds berth, starts berthd with its defaults (data in /var/lib/berth, API on
# unix:///run/berth.sock), and drives it with the docker CLI: import a busybox image and run
# containers on it. Stops the daemon at the end. Run as root.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-test-deps.sh
cargo build --release --locked -p berthd -p berth-monitor -p berth-resolver
target/release/berthd & pid=$!
trap 'kill $pid; wait $pid 2>/dev/null || true' EXIT
export DOCKER_HOST=unix:///run/berth.sock
until docker version >/dev/null 2>&1; do sleep 0.1; done
tar=$(mktemp --suffix=.tar)
# A busybox root filesystem from Debian's busybox-static.
scripts/make-busybox-rootfs.sh "$tar" >/dev/null
docker version
docker import "$tar" busybox:latest
docker images
docker run --rm busybox echo "hello from a container run by berth"
docker run -d --name demo busybox sh -c 'while true; do date; sleep 1; done'
sleep 2
docker ps
docker logs demo
docker rm -f demo
# Networking: a web server on the default bridge, published on an ephemeral 127.0.0.1 port.
docker run -d --name web -p 127.0.0.1::80 busybox \
  sh -c 'mkdir -p /www && echo "hello over the bridge" > /www/index.html && exec httpd -f -p 80 -h /www'
curl -s --retry 10 --retry-connrefused --retry-delay 0 "http://$(docker port web 80/tcp)/"
docker rm -f web
# A user-defined network: containers find each other by name through 127.0.0.11.
docker network create demo-net
docker run -d --name demo-db --network demo-net busybox sleep 60
docker run --rm --network demo-net busybox sh -c 'nslookup demo-db && ping -c 1 demo-db'
docker rm -f demo-db
docker network rm demo-net
rm -f "$tar"
