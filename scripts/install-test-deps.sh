#!/usr/bin/env bash
# Installs what building, the tests and the benchmarks need on a fresh Debian machine (root):
# libseccomp-dev and pkg-config to build the monitor;
# busybox-static (the busybox image fixture), compressors (import tests), the docker CLI when
# the machine has none (Debian's docker.io also brings the reference dockerd 20.10 that makes
# the `docker save` fixture and that benchmarks compare against), hyperfine; iptables,
# iproute2 and apache2-utils (ab) for networking; docker-py 7 and testcontainers 4 from PyPI;
# docker-compose 1.29
# in a venv of its own (/opt/berth-compose).
set -euo pipefail
need=()
command -v busybox >/dev/null && busybox --list-full >/dev/null 2>&1 || need+=(busybox-static)
command -v bzip2 >/dev/null || need+=(bzip2)
command -v xz >/dev/null || need+=(xz-utils)
command -v zstd >/dev/null || need+=(zstd)
command -v dockerd >/dev/null || need+=(docker.io)
command -v hyperfine >/dev/null || need+=(hyperfine)
command -v curl >/dev/null || need+=(curl)
# The registry the pull and push tests start on loopback (distribution 2.8).
command -v docker-registry >/dev/null || need+=(docker-registry)
# The tests' token server signs its JWTs with the openssl program.
command -v openssl >/dev/null || need+=(openssl)
# Networking: berthd programs NAT rules with iptables-restore; tests use ip, nc and ab.
command -v iptables-restore >/dev/null || need+=(iptables)
command -v ip >/dev/null || need+=(iproute2)
command -v ab >/dev/null || need+=(apache2-utils)
# Build dependency: the monitor links libseccomp (Docker's default seccomp profile).
dpkg -s libseccomp-dev >/dev/null 2>&1 || need+=(libseccomp-dev)
command -v pkg-config >/dev/null || need+=(pkg-config)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq "${need[@]}" >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq "${need[@]}" >/dev/null; }
fi
# docker-py 7 (the Docker SDK for Python), which the client tests drive berthd with.
if ! python3 -c 'import docker, sys; sys.exit(int(docker.__version__.split(".")[0]) < 7)' 2>/dev/null; then
  command -v pip3 >/dev/null || python3 -m pip --version >/dev/null 2>&1 || apt-get install -y -qq python3-pip >/dev/null
  python3 -m pip install -q 'docker>=7,<8' 2>/dev/null || python3 -m pip install -q --break-system-packages 'docker>=7,<8'
fi
# testcontainers-python 4 (beside docker-py 7), which a test runs with its reaper.
if ! python3 -c 'import importlib.metadata as m, sys; sys.exit(int(m.version("testcontainers").split(".")[0]) != 4)' 2>/dev/null; then
  python3 -m pip install -q 'testcontainers>=4,<5' 2>/dev/null || python3 -m pip install -q --break-system-packages 'testcontainers>=4,<5'
fi
# docker-compose 1.29 (compose v1, Python) in a venv of its own: it breaks with docker-py >= 7
# and requests >= 2.32, and its PyYAML 5 builds only with Cython < 3.
COMPOSE_VENV=/opt/berth-compose
if ! "$COMPOSE_VENV/bin/docker-compose" version >/dev/null 2>&1; then
  python3 -m venv "$COMPOSE_VENV" 2>/dev/null || { apt-get install -y -qq python3-venv >/dev/null && python3 -m venv "$COMPOSE_VENV"; }
  "$COMPOSE_VENV/bin/pip" install -q 'cython<3' wheel
  "$COMPOSE_VENV/bin/pip" install -q --no-build-isolation 'pyyaml==5.4.1'
  "$COMPOSE_VENV/bin/pip" install -q 'docker-compose==1.29.2' 'docker==6.1.3' 'requests<2.32'
fi
# docker.io's package starts a system dockerd; the tests never use it, and it must not hold
# iptables or bridges on the test machine. docker-registry's starts one on :5000 with a config
# that does not work; the tests run their own.
if command -v systemctl >/dev/null && systemctl is-active --quiet docker 2>/dev/null; then
  systemctl stop docker docker.socket containerd >/dev/null 2>&1 || true
fi
if command -v systemctl >/dev/null && systemctl is-active --quiet docker-registry 2>/dev/null; then
  systemctl stop docker-registry >/dev/null 2>&1 || true
fi
