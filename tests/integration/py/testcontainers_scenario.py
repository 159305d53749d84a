"""testcontainers-python 4 on berthd, with its reaper: a container with an exposed port on a
network of the session, waited for by a log line and talked to through its port; then the
script leaves containers, a network and a volume behind on purpose and dies as a crashed test
run does (no atexit: testcontainers' own would remove the reaper first), for the reaper to take
them once the session's connection to it closes. Prints the session ID, then "ok"."""

import os
import socket

import docker
from testcontainers.core.container import DockerContainer
from testcontainers.core.labels import LABEL_SESSION_ID, SESSION_ID
from testcontainers.core.network import Network
from testcontainers.core.wait_strategies import LogMessageWaitStrategy

print(SESSION_ID, flush=True)
network = Network().create()
server = (
    DockerContainer("busybox")
    .with_command(["sh", "-c", "echo listening; while true; do echo pong | nc -l -p 7000; done"])
    .with_exposed_ports(7000)
    .with_network(network)
    .with_network_aliases("pinger")
    .waiting_for(LogMessageWaitStrategy("listening").with_startup_timeout(20))
)
server.start()
host = server.get_container_host_ip()
port = int(server.get_exposed_port(7000))
with socket.create_connection((host, port), timeout=10) as s:
    got = s.recv(16)
assert got == b"pong\n", got
# A second container on the session's network finds the first by its alias.
probe = (
    DockerContainer("busybox")
    .with_command(["sh", "-c", "nc pinger 7000"])
    .with_network(network)
    .waiting_for(LogMessageWaitStrategy("pong").with_startup_timeout(20))
)
probe.start()
# Left behind on purpose: the reaper removes them by the session's label.
client = docker.from_env()
client.volumes.create(labels={LABEL_SESSION_ID: SESSION_ID})
print("ok", flush=True)
os._exit(0)
