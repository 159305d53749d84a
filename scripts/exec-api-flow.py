#!/usr/bin/env python3
"""The requests `docker exec CID true` makes (ping, inspect, exec create, exec start with a
101 hijack, exec inspect), from one raw client, timed per request: berth's own share of an
exec without the CLI's. usage: exec-api-flow.py SOCKET CONTAINER [RUNS] [IDLE_SECONDS]"""
import json
import socket
import sys
import time

SOCK, CONTAINER = sys.argv[1], sys.argv[2]
RUNS = int(sys.argv[3]) if len(sys.argv) > 3 else 40
IDLE = float(sys.argv[4]) if len(sys.argv) > 4 else 0.0


def request(method, path, body=None, hijack=False):
    s = socket.socket(socket.AF_UNIX)
    s.connect(SOCK)
    data = json.dumps(body).encode() if body is not None else b""
    head = f"{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {len(data)}\r\n"
    if hijack:
        head += "Connection: Upgrade\r\nUpgrade: tcp\r\n"
    s.sendall(head.encode() + b"\r\n" + data)
    got = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        got += chunk
        if b"\r\n\r\n" in got and method == "HEAD":
            break
        if not hijack and b"\r\n\r\n" in got:
            head_part, _, rest = got.partition(b"\r\n\r\n")
            length = [l for l in head_part.split(b"\r\n") if l.lower().startswith(b"content-length")]
            if length and len(rest) >= int(length[0].split(b":")[1]):
                break
    s.close()
    return got


phases = {k: [] for k in ["ping", "inspect", "create", "start", "exec inspect", "total"]}
for _ in range(RUNS):
    t0 = time.perf_counter()
    request("HEAD", "/_ping")
    t1 = time.perf_counter()
    request("GET", f"/v1.18/containers/{CONTAINER}/json")
    t2 = time.perf_counter()
    created = request("POST", f"/v1.18/containers/{CONTAINER}/exec",
                      {"AttachStdout": True, "AttachStderr": True, "Cmd": ["true"]})
    t3 = time.perf_counter()
    exec_id = json.loads(created.partition(b"\r\n\r\n")[2])["Id"]
    request("POST", f"/v1.18/exec/{exec_id}/start", {"Detach": False, "Tty": False}, hijack=True)
    t4 = time.perf_counter()
    request("GET", f"/v1.18/exec/{exec_id}/json")
    t5 = time.perf_counter()
    for k, a, b in [("ping", t0, t1), ("inspect", t1, t2), ("create", t2, t3),
                    ("start", t3, t4), ("exec inspect", t4, t5), ("total", t0, t5)]:
        phases[k].append((b - a) * 1000)
    time.sleep(IDLE)
for k, v in phases.items():
    v.sort()
    print(f"{k:<14} median {v[len(v) // 2]:.2f} ms")
