#!/usr/bin/env python3
"""The docker CLI's own floor for `docker exec CID true`: a stand-in daemon that answers the
five requests of that command (ping, container inspect, exec create, exec start, exec inspect)
from memory, with the bytes a real berthd sent for them once at start-up, and runs nothing.
Time the CLI against it next to the real daemon to see how much of `docker exec` is the
daemon's. usage: cli-floor-stub.py REAL_SOCKET CONTAINER STUB_SOCKET (serves until killed)"""
import json
import os
import re
import socket
import sys
import threading

REAL, CONTAINER, STUB = sys.argv[1], sys.argv[2], sys.argv[3]


def ask(method, path, body=b"", hijack=False):
    """One request to the real daemon on its own connection; the whole response."""
    s = socket.socket(socket.AF_UNIX)
    s.connect(REAL)
    head = f"{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    head += f"Content-Length: {len(body)}\r\n"
    head += "Connection: Upgrade\r\nUpgrade: tcp\r\n" if hijack else "Connection: close\r\n"
    s.sendall(head.encode() + b"\r\n" + body)
    got = b""
    while chunk := s.recv(65536):
        got += chunk
        if method == "HEAD" and b"\r\n\r\n" in got:
            break
    s.close()
    return got


def keep_alive(response):
    """The recorded response, for a connection that stays open."""
    head, _, body = response.partition(b"\r\n\r\n")
    lines = [l for l in head.split(b"\r\n") if not l.lower().startswith(b"connection:")]
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


created = ask("POST", f"/v1.18/containers/{CONTAINER}/exec",
              json.dumps({"AttachStdout": True, "AttachStderr": True, "Cmd": ["true"]}).encode())
exec_id = json.loads(created.partition(b"\r\n\r\n")[2])["Id"]
started = ask("POST", f"/v1.18/exec/{exec_id}/start", b'{"Detach":false,"Tty":false}', True)
RECORDED = {
    ("HEAD", "/_ping"): keep_alive(ask("HEAD", "/_ping")),
    ("GET", "/_ping"): keep_alive(ask("GET", "/_ping")),
    ("GET", "container"): keep_alive(ask("GET", f"/v1.18/containers/{CONTAINER}/json")),
    ("POST", "exec create"): keep_alive(created),
    ("POST", "exec start"): started.partition(b"\r\n\r\n")[0] + b"\r\n\r\n",
    ("GET", "exec inspect"): keep_alive(ask("GET", f"/v1.18/exec/{exec_id}/json")),
}


def route(method, path):
    path = re.sub(r"^/v[0-9.]+", "", path.split("?")[0])
    if path == "/_ping":
        return (method, path)
    if re.fullmatch(r"/containers/[^/]+/json", path):
        return (method, "container")
    if re.fullmatch(r"/containers/[^/]+/exec", path):
        return (method, "exec create")
    if re.fullmatch(r"/exec/[^/]+/start", path):
        return (method, "exec start")
    if re.fullmatch(r"/exec/[^/]+/json", path):
        return (method, "exec inspect")
    return None


def serve(conn):
    buf = b""
    with conn:
        while True:
            while b"\r\n\r\n" not in buf:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                buf += chunk
            head, _, buf = buf.partition(b"\r\n\r\n")
            lines = head.decode().split("\r\n")
            method, path, _ = lines[0].split(" ", 2)
            length = 0
            for line in lines[1:]:
                name, _, value = line.partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value)
            while len(buf) < length:
                buf += conn.recv(65536)
            buf = buf[length:]
            answer = RECORDED.get(route(method, path))
            if answer is None:
                conn.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
                continue
            conn.sendall(answer)
            if route(method, path)[1] == "exec start":
                conn.shutdown(socket.SHUT_WR)
                return


if os.path.exists(STUB):
    os.unlink(STUB)
server = socket.socket(socket.AF_UNIX)
server.bind(STUB)
server.listen(64)
print("ready", flush=True)
while True:
    c, _ = server.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
