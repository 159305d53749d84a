"""docker-py 7 (the Docker SDK for Python) against berthd, as its users drive it.

Run by tests/integration/tests/docker_py.rs with DOCKER_HOST pointing at a test daemon that
has `busybox:latest`. Every check raises on a difference; the last line printed is "ok".
"""

import os
import threading
import time

import docker


def main():
    client = docker.from_env()
    # docker-py negotiates nothing: it talks 1.44 (7.1's default) and must be served that.
    version = client.version()
    assert version["ApiVersion"] == "1.44", version
    assert client.ping() is True

    # run without detach: the output, once the container ended (daemon-side auto-removal).
    out = client.containers.run("busybox", ["sh", "-c", "echo out; echo err >&2"], remove=True)
    assert out == b"out\n", out
    out = client.containers.run("busybox", ["sh", "-c", "echo err >&2"], stdout=False, stderr=True, remove=True)
    assert out == b"err\n", out
    try:
        client.containers.run("busybox", ["sh", "-c", "exit 3"], remove=True)
        raise AssertionError("a failing command must raise ContainerError")
    except docker.errors.ContainerError as e:
        assert e.exit_status == 3, e

    # run detached, stream its logs while it writes.
    c = client.containers.run(
        "busybox", ["sh", "-c", "for i in 1 2 3; do echo line$i; sleep 0.2; done; sleep 1000"],
        detach=True, name="py-web", labels={"app": "py"},
    )
    lines = []
    for chunk in c.logs(stream=True, follow=True):
        lines.append(chunk)
        if b"line3" in b"".join(lines):
            break
    assert b"".join(lines) == b"line1\nline2\nline3\n", lines
    c.reload()
    assert c.status == "running", c.status
    assert c.labels == {"app": "py"}, c.labels
    assert [x.name for x in client.containers.list(filters={"label": "app=py"})] == ["py-web"]

    # exec_run, plain and demultiplexed.
    res = c.exec_run(["sh", "-c", "echo to-out; echo to-err >&2; exit 5"], demux=True)
    assert res.exit_code == 5, res
    assert res.output == (b"to-out\n", b"to-err\n"), res.output
    res = c.exec_run("pwd", workdir="/tmp", environment={"X": "1"})
    assert (res.exit_code, res.output) == (0, b"/tmp\n"), res

    # stats once: a sample with CPU and memory figures.
    stats = c.stats(stream=False)
    assert stats["memory_stats"].get("usage", 0) > 0, stats["memory_stats"]
    assert "cpu_usage" in stats["cpu_stats"], stats["cpu_stats"]

    # events, decoded, while the container is stopped and waited for.
    seen = []

    def listen():
        for event in client.events(decode=True, filters={"container": c.id}):
            seen.append(event)
            if event.get("Action") == "die":
                return

    listener = threading.Thread(target=listen, daemon=True)
    listener.start()
    time.sleep(0.3)
    c.kill(signal="SIGTERM")  # sleep as PID 1 ignores it
    c.stop(timeout=1)
    result = c.wait()
    assert result["StatusCode"] == 137, result
    listener.join(10)
    actions = [e["Action"] for e in seen]
    assert "kill" in actions and "die" in actions, actions
    die = [e for e in seen if e["Action"] == "die"][0]
    assert die["Type"] == "container" and die["Actor"]["Attributes"]["exitCode"] == "137", die
    c.remove()

    # images.
    images = client.images.list()
    assert any("busybox:latest" in i.tags for i in images), images
    img = client.images.get("busybox")
    assert img.id.startswith("sha256:") and img.attrs["Os"] == "linux", img.attrs
    try:
        client.images.get("no-such-image")
        raise AssertionError("a missing image must raise ImageNotFound")
    except docker.errors.ImageNotFound:
        pass
    try:
        client.containers.get("no-such-container")
        raise AssertionError("a missing container must raise NotFound")
    except docker.errors.NotFound:
        pass

    # df.
    df = client.df()
    assert df["Images"][0]["Containers"] >= 0 and df["LayersSize"] > 0, df
    assert df["BuildCache"] == [], df

    # diff: what a container changed; None for one that never ran, as Docker's null.
    c = client.containers.run(
        "busybox", ["sh", "-c", "echo x > /tmp/py-new; rm /bin/true"], name="py-diff", detach=True
    )
    assert c.wait()["StatusCode"] == 0
    changes = c.diff()
    for want in ({"Path": "/tmp", "Kind": 0}, {"Path": "/tmp/py-new", "Kind": 1},
                 {"Path": "/bin/true", "Kind": 2}):
        assert want in changes, changes
    fresh = client.containers.create("busybox", "true", name="py-fresh")
    assert fresh.diff() is None

    # get_archive / put_archive / export.
    import io, tarfile
    bits, stat = c.get_archive("/tmp/py-new")
    assert stat["name"] == "py-new" and stat["size"] == 2, stat
    with tarfile.open(fileobj=io.BytesIO(b"".join(bits))) as t:
        assert t.extractfile("py-new").read() == b"x\n"
    payload = io.BytesIO()
    with tarfile.open(fileobj=payload, mode="w") as t:
        info = tarfile.TarInfo("put.txt")
        info.size = 3
        t.addfile(info, io.BytesIO(b"put"))
    assert fresh.put_archive("/etc", payload.getvalue()) is True
    bits, stat = fresh.get_archive("/etc/put.txt")
    with tarfile.open(fileobj=io.BytesIO(b"".join(bits))) as t:
        assert t.extractfile("put.txt").read() == b"put"
    exported = b"".join(fresh.export())
    with tarfile.open(fileobj=io.BytesIO(exported)) as t:
        names = t.getnames()
        assert "etc/put.txt" in names and "bin/busybox" in names, names[:20]
    # commit.
    img = c.commit(repository="py-committed", tag="v1", message="from py", author="py")
    assert "py-committed:v1" in img.tags and img.attrs["Comment"] == "from py", img.attrs
    out = client.containers.run("py-committed:v1", ["cat", "/tmp/py-new"], remove=True)
    assert out == b"x\n", out
    c.remove()
    fresh.remove()

    # prune.
    client.containers.run("busybox", "true", name="py-done")
    pruned = client.containers.prune()
    assert len(pruned["ContainersDeleted"]) == 1, pruned

    # images.build: a context directory, a build arg, the build's log, the image that runs.
    import tempfile
    with tempfile.TemporaryDirectory() as ctx:
        with open(os.path.join(ctx, "Dockerfile"), "w") as f:
            f.write("FROM busybox\nARG WORD=plain\nCOPY note.txt /note.txt\nRUN echo \"$WORD\" >> /note.txt\nCMD [\"cat\", \"/note.txt\"]\n")
        with open(os.path.join(ctx, "note.txt"), "w") as f:
            f.write("from the context\n")
        image, logs = client.images.build(path=ctx, tag="py-built:1", buildargs={"WORD": "given"}, rm=True)
        streams = "".join(l.get("stream", "") for l in logs)
        assert "Step 4/5 : RUN" in streams and "Successfully tagged py-built:1" in streams, streams
        assert "py-built:1" in image.tags, image.tags
        out = client.containers.run("py-built:1", remove=True)
        assert out == b"from the context\ngiven\n", out
        # A failing step raises BuildError with Docker's message.
        with open(os.path.join(ctx, "Dockerfile"), "w") as f:
            f.write("FROM busybox\nRUN exit 7\n")
        try:
            client.images.build(path=ctx, forcerm=True)
            raise AssertionError("the build should have failed")
        except docker.errors.BuildError as e:
            assert "returned a non-zero code: 7" in str(e), e

    # User-defined networks as docker-py makes them (it sends what it was not given as null):
    # a pool with a gateway, a container on it, another network connected with an alias,
    # names resolved across it, disconnect, prune.
    ipam = docker.types.IPAMConfig(
        pool_configs=[docker.types.IPAMPool(subnet="10.161.0.0/24", gateway="10.161.0.254")]
    )
    net = client.networks.create("pynet", driver="bridge", ipam=ipam, labels={"k": "v"},
                                 check_duplicate=True, attachable=True)
    assert net.attrs["IPAM"]["Config"] == [{"Subnet": "10.161.0.0/24", "Gateway": "10.161.0.254"}], net.attrs
    assert net.attrs["Labels"] == {"k": "v"} and net.attrs["Attachable"], net.attrs
    web = client.containers.run("busybox", ["sleep", "60"], detach=True, network="pynet", name="pyweb")
    net.reload()
    assert [c.id for c in net.containers] == [web.id], net.attrs
    other = client.networks.create("pyother")
    other.connect(web, aliases=["alias1"])
    web.reload()
    assert sorted(web.attrs["NetworkSettings"]["Networks"]) == ["pynet", "pyother"], web.attrs
    assert "alias1" in web.attrs["NetworkSettings"]["Networks"]["pyother"]["Aliases"]
    out = client.containers.run("busybox", ["nslookup", "alias1"], network="pyother", remove=True)
    assert web.attrs["NetworkSettings"]["Networks"]["pyother"]["IPAddress"].encode() in out, out
    other.disconnect(web, force=True)
    assert [n.name for n in client.networks.list(filters={"label": "k=v"})] == ["pynet"]
    web.remove(force=True)
    pruned = client.networks.prune()
    assert sorted(pruned["NetworksDeleted"]) == ["pynet", "pyother"], pruned

    # Volumes as docker-py makes them (a generated name when none is given).
    vol = client.volumes.create(labels={"k": "v"})
    assert len(vol.name) == 64 and vol.attrs["Labels"] == {"k": "v"}, vol.attrs
    named = client.volumes.create("pyvol", driver="local")
    out = client.containers.run("busybox", ["sh", "-c", "echo kept > /v/f && cat /v/f"],
                                volumes={"pyvol": {"bind": "/v", "mode": "rw"}}, remove=True)
    assert out == b"kept\n", out
    assert {v.name for v in client.volumes.list(filters={"label": "k=v"})} == {vol.name}
    vol.remove()
    named.remove()

    # A registry on loopback with Basic auth: login, then a streamed pull with its steps.
    registry = os.environ.get("REGISTRY")
    if registry:
        name = f"{registry}/py/busybox"
        res = client.login(username="berth", password="s3cret", registry=registry)
        assert res["Status"] == "Login Succeeded", res
        steps = list(client.api.pull(name, tag="1", stream=True, decode=True))
        statuses = [e.get("status", "") for e in steps]
        assert statuses[0] == "Pulling from py/busybox", statuses
        # busybox's layer is here already (busybox:latest); the other one comes.
        assert "Already exists" in statuses, statuses
        assert "Pull complete" in statuses and "Download complete" in statuses, statuses
        assert statuses[-1] == f"Status: Downloaded newer image for {name}:1", statuses
        image = client.images.pull(name, tag="1")
        assert f"{name}:1" in image.tags, image.tags
        assert image.attrs["RepoDigests"][0].startswith(f"{name}@sha256:"), image.attrs
        out = client.containers.run(f"{name}:1", ["cat", "/pulled.txt"], remove=True)
        assert out == b"pulled\n", out

        # push: the pulled image under another name, streamed; its blobs are the registry's
        # already (mounted from py/busybox, or there), so nothing is uploaded again.
        copy = f"{registry}/py/copy"
        assert image.tag(copy, tag="2")
        pushed = list(client.api.push(copy, tag="2", stream=True, decode=True))
        assert pushed[0]["status"] == f"The push refers to repository [{copy}]", pushed
        errors = [p for p in pushed if "error" in p]
        assert not errors, errors
        layer_steps = [p["status"] for p in pushed if p.get("id") and p["status"] != "Preparing"]
        assert layer_steps and all(
            s == "Mounted from py/busybox" or s == "Layer already exists" for s in layer_steps
        ), pushed
        aux = [p["aux"] for p in pushed if "aux" in p]
        assert aux and aux[0]["Tag"] == "2" and aux[0]["Digest"].startswith("sha256:"), pushed
        # The same image pushed twice has the same digest.
        again = [p for p in client.api.push(copy, tag="2", stream=True, decode=True) if "aux" in p]
        assert again[0]["aux"]["Digest"] == aux[0]["Digest"], (again, aux)
        digests = client.images.get(f"{copy}:2").attrs["RepoDigests"]
        assert f"{copy}@{aux[0]['Digest']}" in digests, digests

    print("ok")


if __name__ == "__main__":
    main()
