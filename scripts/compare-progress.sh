#!/usr/bin/env bash
# Issue 16: the docker CLI's progress bars on a terminal, berth next to Docker Engine. Both
# daemons pull the same 3-layer image from one loopback registry, then push it to another
# repository, each under `script` (a pseudo-terminal); the final screens (rendered with pyte)
# are printed side by side and compared, with the distinct bar lines each drew.
# usage: scripts/compare-progress.sh     (needs root; installs docker.io, docker-registry, pyte)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-test-deps.sh >/dev/null
python3 -c 'import pyte' 2>/dev/null || pip install -q pyte
cargo build --release --locked -p berthd -p berth-monitor
work=$(mktemp -d /tmp/berth-progress-XXXXXX)
cleanup() {
  kill "$(cat "$work/berthd.pid" 2>/dev/null)" "$(cat "$work/ref/docker.pid" 2>/dev/null)" \
       "$(cat "$work/reg/registry.pid" 2>/dev/null)" 2>/dev/null || true
  sleep 1; rm -rf "$work"
}
trap cleanup EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
scripts/start-registry.sh "$port" "$work/reg" >/dev/null
DOCKERD_ARGS="--bridge none --iptables=false" scripts/start-dockerd.sh "$work/ref" >/dev/null
target/release/berthd -H "unix://$work/berthd.sock" --data-root "$work/data" \
  --exec-root "$work/x" --bridge none --pidfile "$work/berthd.pid" 2>"$work/berthd.log" &
for _ in $(seq 50); do [ -S "$work/berthd.sock" ] && break; sleep 0.1; done
berth="unix://$work/berthd.sock"; ref="unix://$work/ref/docker.sock"
image="127.0.0.1:$port/progress/img:1"
scripts/make-busybox-rootfs.sh "$work/rootfs.tar" >/dev/null
export DOCKER_CONFIG="$work/cli"
DOCKER_HOST=$berth docker import "$work/rootfs.tar" progress/base >/dev/null
DOCKER_HOST=$berth docker run --name l1 progress/base sh -c 'head -c 3000000 /dev/urandom > /a' >/dev/null
DOCKER_HOST=$berth docker commit l1 progress/mid >/dev/null
DOCKER_HOST=$berth docker run --name l2 progress/mid sh -c 'head -c 2000000 /dev/urandom > /b' >/dev/null
DOCKER_HOST=$berth docker commit l2 "$image" >/dev/null
DOCKER_HOST=$berth docker push -q "$image" >/dev/null
DOCKER_HOST=$berth docker rm l1 l2 >/dev/null
DOCKER_HOST=$berth docker rmi "$image" progress/mid progress/base >/dev/null
for who in berth ref; do
  host=$berth; [ $who = ref ] && host=$ref
  DOCKER_HOST=$host script -qfc "stty cols 140 rows 20; docker pull $image" "$work/pull-$who.tty" >/dev/null
  DOCKER_HOST=$host docker tag "$image" "127.0.0.1:$port/progress/$who:2"
  DOCKER_HOST=$host script -qfc "stty cols 140 rows 20; docker push 127.0.0.1:$port/progress/$who:2" "$work/push-$who.tty" >/dev/null
done
python3 - "$work" <<'EOF'
import re, sys, pyte
work = sys.argv[1]
def screen(path):
    s = pyte.Screen(140, 20)
    pyte.ByteStream(s).feed(open(path, "rb").read())
    lines = [l.strip() for l in s.display if l.strip()]
    start = next(i for i, l in enumerate(lines) if "Pulling from" in l or "The push refers" in l)
    return [l for l in lines[start:] if not l.startswith("Script ")]
def bars(path):
    raw = open(path, "rb").read().decode("utf-8", "replace").replace("\r", "\n")
    raw = re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", raw)
    return sorted(set(re.findall(r"(?:Downloading|Extracting|Pushing) +\[[=> ]+\] +[0-9.]+[kMG]?B/[0-9.]+[kMG]?B", raw)))
same = True
for op in ("pull", "push"):
    b, r = screen(f"{work}/{op}-berth.tty"), screen(f"{work}/{op}-ref.tty")
    print(f"== docker {op}: final screen, berth | Docker Engine")
    for x, y in zip(b + [""] * (len(r) - len(b)), r + [""] * (len(b) - len(r))):
        print(f"{x:<66.66} | {y[:66]}")
    # The pushed repository's name differs by design; nothing else may.
    nb = [l.replace("progress/berth", "progress/X") for l in b]
    nr = [l.replace("progress/ref", "progress/X") for l in r]
    same &= nb == nr
    bb, br = bars(f"{work}/{op}-berth.tty"), bars(f"{work}/{op}-ref.tty")
    print(f"   distinct bar frames drawn: berth {len(bb)}, Docker {len(br)}; e.g.")
    for x in (bb[len(bb) // 2:][:1] + br[len(br) // 2:][:1]):
        print(f"   {x}")
print("final screens identical" if same else "final screens DIFFER")
EOF
