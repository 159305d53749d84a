//! `docker build` (the CLI's legacy builder path) and `POST /build` against a real berthd:
//! images that run, the cache, build args, targets, failures with the RUN's exit code.

use std::path::Path;

use berth_tests::{tarball, Daemon};

/// A context directory with `files` (name, content).
fn context(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, content) in files {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
    }
    dir
}

/// `docker build ARGS… DIR`: (exit code, stdout, stderr).
fn docker_build(d: &Daemon, dir: &Path, args: &[&str]) -> (i32, String, String) {
    docker_build_url(d, dir.to_str().unwrap(), args)
}

/// `docker build ARGS… CONTEXT` (a directory or a URL): (exit code, stdout, stderr).
fn docker_build_url(d: &Daemon, url: &str, args: &[&str]) -> (i32, String, String) {
    let mut all = vec!["build"];
    all.extend_from_slice(args);
    all.push(url);
    let out = d.docker(&all);
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

const APP: &str = "FROM busybox
ARG GREETING=hello
ENV WHO=\"the builder\"
LABEL stage=app
RUN echo \"$GREETING from $WHO\" > /greeting && echo on-stderr >&2
COPY files/ /srv/files/
COPY one.txt /srv/
WORKDIR /srv
CMD [\"cat\", \"/greeting\"]
";

#[test]
fn docker_build_makes_an_image_that_runs_and_a_rebuild_is_all_cache() {
    let d = Daemon::start();
    d.import_busybox("busybox:latest");
    let ctx = context(&[
        ("Dockerfile", APP),
        ("files/a.txt", "a\n"),
        ("files/sub/b.txt", "b\n"),
        ("one.txt", "one\n"),
    ]);
    let (code, out, err) = docker_build(&d, ctx.path(), &["-t", "app:1"]);
    assert_eq!(code, 0, "{out}\n{err}\n{}", d.log());
    assert!(out.contains("Step 5/9 : RUN echo"), "{out}");
    assert!(out.contains(" ---> Running in "), "{out}");
    assert!(out.contains("on-stderr"), "{out}");
    assert!(out.contains("Successfully tagged app:1"), "{out}");
    assert_eq!(
        d.docker_ok(&["run", "--rm", "app:1"]),
        "hello from the builder\n"
    );
    assert_eq!(
        d.docker_ok(&[
            "run",
            "--rm",
            "app:1",
            "sh",
            "-c",
            "pwd; cat files/a.txt files/sub/b.txt one.txt"
        ]),
        "/srv\na\nb\none\n"
    );
    let inspect = d.get("/v1.44/images/app:1/json").json();
    assert_eq!(inspect["Config"]["Labels"]["stage"], "app");
    // Each step's image is here: history names them all, busybox's too.
    let history = d.docker_ok(&["history", "app:1"]);
    assert!(!history.contains("<missing>"), "{history}");
    assert_eq!(history.lines().count(), 10, "{history}");
    // Every step's container is gone.
    assert_eq!(d.container_count(), 0);
    // Unchanged: every step is the cache's, nothing runs, the same image.
    let (code, out, _) = docker_build(&d, ctx.path(), &["-t", "app:2"]);
    assert_eq!(code, 0);
    assert_eq!(out.matches("Using cache").count(), 8, "{out}");
    assert!(!out.contains("Running in"), "{out}");
    assert_eq!(
        d.get("/v1.44/images/app:2/json").json()["Id"],
        inspect["Id"]
    );
    // A build arg changes the RUN (and what follows); the unused one is told.
    let (code, out, _) = docker_build(
        &d,
        ctx.path(),
        &[
            "-t",
            "app:3",
            "--build-arg",
            "GREETING=hi",
            "--build-arg",
            "UNUSED=1",
        ],
    );
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("[Warning] One or more build-args [UNUSED] were not consumed"),
        "{out}"
    );
    assert_eq!(
        d.docker_ok(&["run", "--rm", "app:3"]),
        "hi from the builder\n"
    );
    // --no-cache runs everything again; -q prints only the ID.
    let (code, out, _) = docker_build(&d, ctx.path(), &["-q", "--no-cache", "-t", "app:4"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.trim().starts_with("sha256:") && out.trim().lines().count() == 1,
        "{out}"
    );
    // A file's content changed: its COPY and the steps after it run again.
    std::fs::write(ctx.path().join("one.txt"), "changed\n").unwrap();
    let (_, out, _) = docker_build(&d, ctx.path(), &["-t", "app:5"]);
    assert_eq!(out.matches("Using cache").count(), 5, "{out}");
    assert_eq!(
        d.docker_ok(&["run", "--rm", "app:5", "cat", "one.txt"]),
        "changed\n"
    );
    d.remove_all_containers();
}

#[test]
fn a_failing_run_fails_the_build_with_its_exit_code() {
    let d = Daemon::start();
    d.import_busybox("busybox:latest");
    let ctx = context(&[("Dockerfile", "FROM busybox\nRUN echo out; exit 3\n")]);
    let (code, out, err) = docker_build(&d, ctx.path(), &["-t", "fails:1"]);
    assert_eq!(code, 3, "{out}\n{err}");
    assert!(
        err.contains("The command '/bin/sh -c echo out; exit 3' returned a non-zero code: 3"),
        "{err}"
    );
    assert!(out.contains("out\n"), "{out}");
    assert_eq!(d.get("/v1.44/images/fails:1/json").status, 404);
    // The failed step's container is kept (as Docker keeps it), unless --force-rm.
    assert_eq!(d.container_count(), 1);
    let (code, _, _) = docker_build(&d, ctx.path(), &["--force-rm", "-t", "fails:2"]);
    assert_eq!(code, 3);
    assert_eq!(d.container_count(), 1);
    d.remove_all_containers();
}

#[test]
fn targets_dockerfiles_elsewhere_scratch_and_labels() {
    let d = Daemon::start();
    d.import_busybox("busybox:latest");
    let ctx = context(&[
        (
            "build/Other.dockerfile",
            "FROM busybox AS base\nENV LEVEL=base\nFROM base AS extra\nENV LEVEL=extra\nFROM busybox\nCMD [\"echo\", \"last\"]\n",
        ),
        ("Dockerfile.scratch", "FROM scratch\nCOPY static.txt /static.txt\nCMD [\"/nothing\"]\n"),
        ("static.txt", "static\n"),
    ]);
    let (code, out, err) = docker_build(
        &d,
        ctx.path(),
        &[
            "-f",
            &ctx.path().join("build/Other.dockerfile").to_string_lossy(),
            "--target",
            "extra",
            "-t",
            "t:extra",
            "--label",
            "made.by=test",
        ],
    );
    assert_eq!(code, 0, "{out}\n{err}");
    assert_eq!(
        d.docker_ok(&["run", "--rm", "t:extra", "sh", "-c", "echo $LEVEL"]),
        "extra\n"
    );
    let inspect = d.get("/v1.44/images/t:extra/json").json();
    assert_eq!(inspect["Config"]["Labels"]["made.by"], "test");
    // FROM scratch: an image of the copied file alone.
    let (code, out, err) = docker_build(
        &d,
        ctx.path(),
        &[
            "-f",
            &ctx.path().join("Dockerfile.scratch").to_string_lossy(),
            "-t",
            "t:scratch",
        ],
    );
    assert_eq!(code, 0, "{out}\n{err}\n{}", d.log());
    let created = d.docker_ok(&["create", "t:scratch"]);
    let exported = d.get(&format!("/v1.44/containers/{}/export", created.trim()));
    let mut archive = tar::Archive::new(&exported.body[..]);
    let mut found = false;
    for e in archive.entries().unwrap() {
        let mut e = e.unwrap();
        if e.path().unwrap().to_string_lossy() == "static.txt" {
            let mut s = String::new();
            std::io::Read::read_to_string(&mut e, &mut s).unwrap();
            assert_eq!(s, "static\n");
            found = true;
        }
    }
    assert!(found);
    d.remove_all_containers();
}

#[test]
fn the_build_api_speaks_as_dockers_and_refuses_what_it_must() {
    let d = Daemon::start();
    d.import_busybox("busybox:latest");
    let post = |path: &str, ctx: &[u8]| {
        d.request("POST", path, &[("Content-Type", "application/x-tar")], ctx)
    };
    let ok = tarball(&[("Dockerfile", b"FROM busybox\nENV A=1\n" as &[u8])]);
    // The image ID as `aux` from API 1.30, then the words.
    let r = post("/v1.41/build?t=api:1", &ok);
    assert_eq!(r.status, 200, "{}", r.text());
    let lines = r.json_lines();
    let aux = lines.iter().position(|l| l.get("aux").is_some()).unwrap();
    assert!(lines[aux]["aux"]["ID"]
        .as_str()
        .unwrap()
        .starts_with("sha256:"));
    assert!(lines[aux + 1]["stream"]
        .as_str()
        .unwrap()
        .starts_with("Successfully built "));
    let r = post("/v1.29/build?t=api:1", &ok);
    assert!(
        r.json_lines().iter().all(|l| l.get("aux").is_none()),
        "{}",
        r.text()
    );
    // A gzipped context; rm=0 keeps each RUN's container.
    let with_run = tarball(&[("Dockerfile", b"FROM busybox\nRUN echo kept > /k\n" as &[u8])]);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, &with_run).unwrap();
    let r = post("/v1.41/build?t=gz:1&rm=0", &gz.finish().unwrap());
    assert!(
        r.text().contains("Successfully tagged gz:1"),
        "{}",
        r.text()
    );
    assert!(!r.text().contains("Removing intermediate"), "{}", r.text());
    let kept = d.get("/v1.44/containers/json?all=1").json();
    assert_eq!(kept.as_array().unwrap().len(), 1, "{kept}");
    assert_eq!(d.docker_ok(&["run", "--rm", "gz:1", "cat", "/k"]), "kept\n");
    // q=1: the ID alone.
    let r = post("/v1.41/build?q=1", &ok);
    let lines = r.json_lines();
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0]["stream"].as_str().unwrap().starts_with("sha256:"));
    // BuildKit is not served; bad JSON parameters are 400s.
    let r = post("/v1.41/build?version=2", &ok);
    assert_eq!(r.status, 400);
    assert!(r.message().contains("BuildKit"), "{}", r.message());
    assert_eq!(post("/v1.41/build?buildargs=notjson", &ok).status, 400);
    let r = post("/v1.41/build?dockerfile=Nope", &ok);
    assert_eq!(r.status, 400);
    assert!(
        r.message()
            .contains("Cannot locate specified Dockerfile: Nope"),
        "{}",
        r.message()
    );
    // Sources outside the context, and BuildKit's syntax: errors in the stream.
    let escaping = tarball(&[(
        "Dockerfile",
        b"FROM busybox\nCOPY ../../etc/passwd /x\n" as &[u8],
    )]);
    let r = post("/v1.41/build", &escaping);
    let last = r.json_lines().last().cloned().unwrap();
    assert_eq!(
        last["error"],
        "forbidden path outside the build context: ../../etc/passwd ()"
    );
    let buildkit = tarball(&[(
        "Dockerfile",
        b"FROM busybox\nRUN --mount=type=cache,target=/c true\n" as &[u8],
    )]);
    let r = post("/v1.41/build", &buildkit);
    let last = r.json_lines().last().cloned().unwrap();
    assert!(
        last["error"]
            .as_str()
            .unwrap()
            .contains("requires BuildKit"),
        "{last}"
    );
    d.remove_all_containers();
}

/// FROM an image of a registry that wants a login: the build pulls it with the credentials
/// of `X-Registry-Config` (what the CLI sends from its config), and fails without them.
#[test]
fn from_pulls_with_the_credentials_of_x_registry_config() {
    use base64::Engine as _;
    use berth_tests::registry::Registry;
    let reg = Registry::with_basic_auth("berth", "s3cret");
    let base = std::fs::read(berth_tests::busybox_tar()).unwrap();
    reg.push_image("private/busybox", "1", std::slice::from_ref(&base));
    let d = Daemon::start();
    let df = format!(
        "FROM {}/private/busybox:1\nRUN echo pulled > /p\n",
        reg.host()
    );
    let ctx = tarball(&[("Dockerfile", df.as_bytes())]);
    let r = d.request(
        "POST",
        "/v1.41/build?t=fromreg:1",
        &[("Content-Type", "application/x-tar")],
        &ctx,
    );
    let last = r.json_lines().last().cloned().unwrap();
    assert!(
        last["error"]
            .as_str()
            .unwrap_or_default()
            .contains("no basic auth credentials"),
        "{last}"
    );
    let config = serde_json::json!({ reg.host(): {"username": "berth", "password": "s3cret"} });
    let header = base64::engine::general_purpose::URL_SAFE.encode(config.to_string());
    let r = d.request(
        "POST",
        "/v1.41/build?t=fromreg:1",
        &[
            ("Content-Type", "application/x-tar"),
            ("X-Registry-Config", &header),
        ],
        &ctx,
    );
    assert!(
        r.text().contains("Successfully tagged fromreg:1"),
        "{}",
        r.text()
    );
    // The pull's statuses are in the build's stream, as Docker's.
    let statuses = r.statuses();
    assert!(
        statuses.iter().any(|s| s == "Pulling from private/busybox"),
        "{statuses:?}"
    );
    assert!(
        statuses.iter().any(|s| s == "Pull complete"),
        "{statuses:?}"
    );
    assert!(
        statuses
            .iter()
            .any(|s| s.starts_with("Status: Downloaded newer image for ")),
        "{statuses:?}"
    );
    assert_eq!(
        d.docker_ok(&["run", "--rm", "fromreg:1", "cat", "/p"]),
        "pulled\n"
    );
    // The tag moves on in the registry: a build uses the image here, a build with `pull`
    // fetches the new one first.
    let marker = tarball(&[("marker", b"v2\n" as &[u8])]);
    reg.push_image("private/busybox", "1", &[base.clone(), marker]);
    let df2 = format!(
        "FROM {}/private/busybox:1\nRUN cat /marker 2>/dev/null || echo none\n",
        reg.host()
    );
    let ctx2 = tarball(&[("Dockerfile", df2.as_bytes())]);
    let build = |query: &str| {
        d.request(
            "POST",
            &format!("/v1.41/build?{query}"),
            &[
                ("Content-Type", "application/x-tar"),
                ("X-Registry-Config", &header),
            ],
            &ctx2,
        )
        .text()
    };
    let here = build("t=frompull:1");
    assert!(here.contains("none"), "{here}");
    assert!(!here.contains("Pulling from"), "{here}");
    let pulled = build("t=frompull:2&pull=1");
    assert!(pulled.contains("Pulling from private/busybox"), "{pulled}");
    assert!(pulled.contains("v2"), "{pulled}");
    // The same through the CLI: logged in, `docker build --pull` sends `pull=1` and the
    // credentials in X-Registry-Config.
    let marker = tarball(&[("marker", b"v3\n" as &[u8])]);
    reg.push_image("private/busybox", "1", &[base, marker]);
    let dir = context(&[("Dockerfile", &df2)]);
    d.docker_login(&reg.host(), "berth", "s3cret");
    let (code, out, err) = docker_build(&d, dir.path(), &["--pull", "-t", "frompull:3"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("v3"), "{out}");
    assert!(!d.log().contains("s3cret"));
    d.remove_all_containers();
}

/// A multi-stage build copies what one stage made into the next (`COPY --from` by name and
/// by index); only the last stage's image is tagged.
#[test]
fn multi_stage_builds_copy_between_stages() {
    let d = Daemon::start();
    d.import_busybox("busybox:latest");
    let ctx = context(&[(
        "Dockerfile",
        "FROM busybox AS builder\nRUN mkdir -p /out/dir && echo 'echo built-app' > /out/app && chmod 755 /out/app && echo inner > /out/dir/f\n\
         FROM busybox\nCOPY --from=builder /out/app /usr/local/bin/app\nCOPY --from=0 /out/dir /copied/\nCMD [\"app\"]\n",
    )]);
    let (code, out, err) = docker_build(&d, ctx.path(), &["-t", "multi:1"]);
    assert_eq!(code, 0, "{out}\n{err}\n{}", d.log());
    assert_eq!(d.docker_ok(&["run", "--rm", "multi:1"]), "built-app\n");
    assert_eq!(
        d.docker_ok(&["run", "--rm", "multi:1", "cat", "/copied/f"]),
        "inner\n"
    );
    assert_eq!(
        d.docker_ok(&[
            "run",
            "--rm",
            "multi:1",
            "sh",
            "-c",
            "stat -c %a /usr/local/bin/app"
        ]),
        "755\n"
    );
    // From an image rather than a stage, and RUN on no network (`--network none`).
    let from_image = context(&[(
        "Dockerfile",
        "FROM busybox\nCOPY --from=multi:1 /usr/local/bin/app /app\nRUN ! ip route 2>/dev/null | grep -q default && echo no-route > /net\n",
    )]);
    let (code, out, err) = docker_build(
        &d,
        from_image.path(),
        &["--network", "none", "-t", "multi:img"],
    );
    assert_eq!(code, 0, "{out}\n{err}");
    assert_eq!(
        d.docker_ok(&["run", "--rm", "multi:img", "sh", "-c", "sh /app; cat /net"]),
        "built-app\nno-route\n"
    );
    // Again: the COPY --from steps come from the cache too.
    let (_, out, _) = docker_build(&d, ctx.path(), &["-t", "multi:2"]);
    assert_eq!(out.matches("Using cache").count(), 4, "{out}");
    d.remove_all_containers();
}

/// Posts a build of `ctx` and reads its stream until `marker` shows; the connection, still
/// open.
fn build_until(d: &Daemon, path: &str, ctx: &[u8], marker: &str) -> std::os::unix::net::UnixStream {
    use std::io::{Read, Write};
    let mut s = std::os::unix::net::UnixStream::connect(&d.socket).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .unwrap();
    write!(
        s,
        "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-tar\r\nContent-Length: {}\r\n\r\n",
        ctx.len()
    )
    .unwrap();
    s.write_all(ctx).unwrap();
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&seen).contains(marker) {
        let n = s.read(&mut buf).unwrap();
        assert!(n > 0, "{}", String::from_utf8_lossy(&seen));
        seen.extend_from_slice(&buf[..n]);
    }
    s
}

/// A build tagged `tag` whose RUN sleeps a minute, read until that step's output comes (the
/// step's own line names it too); the connection, still open.
fn build_into_a_long_run(d: &Daemon, tag: &str) -> std::os::unix::net::UnixStream {
    d.import_busybox("busybox:latest");
    let ctx = tarball(&[(
        "Dockerfile",
        b"FROM busybox\nRUN echo started && sleep 60\n" as &[u8],
    )]);
    build_until(
        d,
        &format!("/v1.41/build?t={tag}"),
        &ctx,
        r#"{"stream":"started\n"}"#,
    )
}

/// A client that goes away mid-build cancels it: the running step's container is stopped
/// and removed, and no image is made.
#[test]
fn a_client_that_leaves_cancels_the_build_and_its_container() {
    let d = Daemon::start();
    let s = build_into_a_long_run(&d, "left:1");
    assert_eq!(d.container_count(), 1);
    drop(s);
    berth_tests::audit::eventually(
        "the build's container gone",
        std::time::Duration::from_secs(20),
        || {
            d.get("/v1.44/containers/json?all=1")
                .json()
                .as_array()
                .unwrap()
                .is_empty()
        },
    );
    assert_eq!(d.get("/v1.44/images/left:1/json").status, 404);
}

/// A daemon asked to stop during a build's RUN ends the build with it: it stops (it hung
/// before, its runtime held by the build's thread), and nothing of the build is left for
/// the next start.
#[test]
fn a_daemon_that_stops_during_a_build_ends_it_and_its_container() {
    let mut d = Daemon::start();
    let s = build_into_a_long_run(&d, "stopped:1");
    let stopped = d.stop();
    assert!(stopped.success(), "{stopped:?}\n{}", d.log());
    drop(s);
    d.spawn();
    assert_eq!(d.container_count(), 0);
    assert_eq!(d.get("/v1.44/images/stopped:1/json").status, 404);
}

/// A client that leaves while the build waits for its FROM image's pull: the build ends
/// then, its directory with it, without waiting for the pull (the slow registry sends the
/// layer in five seconds).
#[test]
fn a_client_that_leaves_during_the_from_pull_ends_the_build() {
    use berth_tests::fake_registry::{noise_layer, FakeRegistry, Fault};
    let layers = vec![
        std::fs::read(berth_tests::busybox_tar()).unwrap(),
        noise_layer("slow.bin", 6 << 20),
    ];
    let reg = FakeRegistry::start(&layers, Fault::Slow);
    let d = Daemon::start();
    let df = format!("FROM {}\nRUN true\n", reg.image());
    let ctx = tarball(&[("Dockerfile", df.as_bytes())]);
    let s = build_until(&d, "/v1.41/build", &ctx, "Pulling fs layer");
    let staging = d.data_root().join("tmp");
    let builds = || {
        std::fs::read_dir(&staging)
            .map(|dir| {
                dir.flatten()
                    .filter(|e| e.file_name().to_string_lossy().starts_with("build-"))
                    .count()
            })
            .unwrap_or(0)
    };
    assert_eq!(builds(), 1);
    drop(s);
    berth_tests::audit::eventually(
        "the build's directory gone",
        std::time::Duration::from_secs(3),
        || builds() == 0,
    );
    assert_eq!(d.container_count(), 0);
    // Nothing of the pull is left running: the daemon stops when asked (it hung, held by
    // the abandoned download's writer, until killed).
    let mut d = d;
    let stopped = d.stop();
    assert!(stopped.success(), "{stopped:?}\n{}", d.log());
}

/// What older clients saw: `Step 0 :` before API 1.22, `Step 1 :` to 1.24, plain text below
/// 1.8; ONBUILD triggers run in the build that uses the image; `.dockerignore` that names the
/// Dockerfile keeps it out of the image.
#[test]
fn old_step_numbering_plain_text_onbuild_and_dockerignore() {
    let d = Daemon::start();
    d.import_busybox("busybox:latest");
    let post = |path: &str, ctx: &[u8]| {
        d.request("POST", path, &[("Content-Type", "application/x-tar")], ctx)
    };
    let ctx = tarball(&[("Dockerfile", b"FROM busybox\nENV A=1\n" as &[u8])]);
    let r = post("/v1.18/build", &ctx);
    assert!(r.text().contains("Step 0 : FROM busybox"), "{}", r.text());
    assert!(r.text().contains("Step 1 : ENV A=1"), "{}", r.text());
    let r = post("/v1.24/build", &ctx);
    assert!(r.text().contains("Step 1 : FROM busybox"), "{}", r.text());
    let r = post("/v1.7/build", &ctx);
    let text = r.text();
    assert!(text.starts_with("Step 0 : FROM busybox\n"), "{text}");
    assert!(!text.contains("{\"stream\""), "{text}");
    assert!(text.contains("Successfully built "), "{text}");
    // ONBUILD: stored by one build, run by the next.
    let base = tarball(&[(
        "Dockerfile",
        b"FROM busybox\nONBUILD RUN echo triggered > /onbuild\n" as &[u8],
    )]);
    let r = post("/v1.41/build?t=onbuild-base:1", &base);
    assert!(r.text().contains("Successfully tagged"), "{}", r.text());
    let child = tarball(&[(
        "Dockerfile",
        b"FROM onbuild-base:1\nCMD [\"cat\", \"/onbuild\"]\n" as &[u8],
    )]);
    let r = post("/v1.41/build?t=onbuild-child:1", &child);
    assert!(
        r.text().contains("# Executing 1 build trigger"),
        "{}",
        r.text()
    );
    assert_eq!(
        d.docker_ok(&["run", "--rm", "onbuild-child:1"]),
        "triggered\n"
    );
    let inspect = d.get("/v1.44/images/onbuild-child:1/json").json();
    assert!(
        inspect["Config"]["OnBuild"]
            .as_array()
            .is_none_or(|a| a.is_empty()),
        "{inspect}"
    );
    // .dockerignore naming the Dockerfile: `COPY . ` leaves it out.
    let ignoring = tarball(&[
        ("Dockerfile", b"FROM busybox\nCOPY . /ctx/\n" as &[u8]),
        (".dockerignore", b"Dockerfile\n.dockerignore\n"),
        ("kept.txt", b"kept\n"),
    ]);
    let r = post("/v1.41/build?t=ignoring:1", &ignoring);
    assert!(r.text().contains("Successfully tagged"), "{}", r.text());
    assert_eq!(
        d.docker_ok(&["run", "--rm", "ignoring:1", "ls", "-a", "/ctx"]),
        ".\n..\nkept.txt\n"
    );
    d.remove_all_containers();
}

/// The build's resource limits and host entries reach its RUN steps' containers.
#[test]
fn run_steps_get_the_builds_limits_and_hosts() {
    let d = Daemon::start();
    d.import_busybox("busybox:latest");
    let ctx = context(&[(
        "Dockerfile",
        "FROM busybox\nRUN (cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max) > /limit; (cat /sys/fs/cgroup/memory/memory.memsw.limit_in_bytes 2>/dev/null || echo none) > /memsw; grep myhost /etc/hosts > /hosts\nRUN cat /sys/fs/cgroup/cpu/cpu.shares /sys/fs/cgroup/cpu/cpu.cfs_period_us /sys/fs/cgroup/cpu/cpu.cfs_quota_us /sys/fs/cgroup/cpuset/cpuset.cpus > /cpu; df -k /dev/shm | tail -1 | awk '{print $2}' > /shm\n",
    )]);
    let (code, out, err) = docker_build(
        &d,
        ctx.path(),
        &[
            "--memory",
            "64m",
            "--memory-swap",
            "128m",
            "--cpu-shares",
            "512",
            "--cpu-period",
            "100000",
            "--cpu-quota",
            "50000",
            "--cpuset-cpus",
            "0",
            "--shm-size",
            "32m",
            "--add-host",
            "myhost:10.1.2.3",
            "-t",
            "limited:1",
        ],
    );
    assert_eq!(code, 0, "{out}\n{err}");
    assert_eq!(
        d.docker_ok(&["run", "--rm", "limited:1", "cat", "/cpu", "/shm"]),
        "512\n100000\n50000\n0\n32768\n"
    );
    assert_eq!(
        d.docker_ok(&["run", "--rm", "limited:1", "cat", "/limit"]),
        "67108864\n"
    );
    // Memory and swap together, where the host accounts swap (cgroup v1's memsw).
    if std::path::Path::new("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes").exists() {
        assert_eq!(
            d.docker_ok(&["run", "--rm", "limited:1", "cat", "/memsw"]),
            "134217728\n"
        );
    }
    let hosts = d.docker_ok(&["run", "--rm", "limited:1", "cat", "/hosts"]);
    assert!(
        hosts.contains("10.1.2.3") && hosts.contains("myhost"),
        "{hosts}"
    );
    // The host's own platform is built for; another is refused.
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    };
    let r = d.request(
        "POST",
        &format!("/v1.41/build?platform=linux/{arch}&t=native:1"),
        &[("Content-Type", "application/x-tar")],
        &tarball(&[("Dockerfile", b"FROM busybox\n" as &[u8])]),
    );
    assert!(
        r.text().contains("Successfully tagged native:1"),
        "{}",
        r.text()
    );
    let r = d.request(
        "POST",
        "/v1.41/build?platform=linux/s390x",
        &[("Content-Type", "application/x-tar")],
        &tarball(&[("Dockerfile", b"FROM busybox\n" as &[u8])]),
    );
    assert_eq!(r.status, 400);
    d.remove_all_containers();
}

/// ADD of a URL: downloaded (never extracted), named by the URL, mode 0600; cached by its
/// content.
#[test]
fn add_downloads_a_url() {
    use std::io::{BufRead, BufReader, Write};
    let served = berth_tests::loopback::LoopbackServer::start(|conn, _| {
        let mut reader = BufReader::new(conn.try_clone().unwrap());
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                break;
            }
        }
        let body = b"from the web\n";
        let mut out = conn;
        let _ = write!(
            out,
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        let _ = out.write_all(body);
    });
    let d = Daemon::start();
    d.import_busybox("busybox:latest");
    let df = format!(
        "FROM busybox\nADD http://127.0.0.1:{}/files/note.txt /web/\n",
        served.port
    );
    let ctx = context(&[("Dockerfile", &df)]);
    let (code, out, err) = docker_build(&d, ctx.path(), &["-t", "web:1"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert_eq!(
        d.docker_ok(&[
            "run",
            "--rm",
            "web:1",
            "sh",
            "-c",
            "cat /web/note.txt; stat -c %a /web/note.txt"
        ]),
        "from the web\n600\n"
    );
    let (_, out, _) = docker_build(&d, ctx.path(), &["-t", "web:2"]);
    assert_eq!(out.matches("Using cache").count(), 1, "{out}");
    d.remove_all_containers();
}

/// `--chown` by name (the image's passwd and group) and by number; MAINTAINER is the
/// image's author.
#[test]
fn chown_by_name_and_maintainer() {
    let d = Daemon::start();
    d.import_busybox("busybox:latest");
    let ctx = context(&[
        (
            "Dockerfile",
            "FROM busybox\nMAINTAINER Someone <someone@example.com>\nRUN echo 'app:x:1234:4321::/:/bin/sh' >> /etc/passwd && echo 'staff:x:555:' >> /etc/group\n\
             COPY --chown=app:staff f.txt /owned/by-name.txt\nCOPY --chown=7 f.txt /owned/by-number.txt\nCOPY --chown=app f.txt /owned/user-only.txt\n",
        ),
        ("f.txt", "f\n"),
    ]);
    let (code, out, err) = docker_build(&d, ctx.path(), &["-t", "owned:1"]);
    assert_eq!(code, 0, "{out}\n{err}\n{}", d.log());
    assert_eq!(
        d.docker_ok(&[
            "run",
            "--rm",
            "owned:1",
            "sh",
            "-c",
            "stat -c '%u:%g' /owned/by-name.txt /owned/by-number.txt /owned/user-only.txt"
        ]),
        "1234:555\n7:7\n1234:1234\n"
    );
    assert_eq!(
        d.get("/v1.44/images/owned:1/json").json()["Author"],
        "Someone <someone@example.com>"
    );
    let bad = context(&[
        (
            "Dockerfile",
            "FROM busybox\nCOPY --chown=nobody-here f /f\n",
        ),
        ("f", "x"),
    ]);
    let (code, _, err) = docker_build(&d, bad.path(), &[]);
    assert_ne!(code, 0);
    assert!(err.contains("no such user: nobody-here"), "{err}");
    d.remove_all_containers();
}

/// `remote`: a git repository (`#ref:subdir`), a tarball's URL and a Dockerfile's URL, fetched
/// by the daemon.
#[test]
fn remote_contexts_from_git_a_tarball_and_a_dockerfile() {
    use std::process::Command;
    let d = Daemon::start();
    d.import_busybox("busybox:latest");
    // A repository whose `release` branch has the build in `app/`, served by `git daemon`.
    let repos = tempfile::tempdir().unwrap();
    let work = repos.path().join("work");
    std::fs::create_dir_all(work.join("app")).unwrap();
    let git = |args: &[&str]| {
        let out = Command::new("git")
            .args([
                "-c",
                "user.email=t@t",
                "-c",
                "user.name=t",
                "-c",
                "init.defaultBranch=main",
            ])
            .args(args)
            .current_dir(&work)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    git(&["init", "-q"]);
    std::fs::write(work.join("app/Dockerfile"), "FROM busybox\nCOPY msg /msg\n").unwrap();
    std::fs::write(work.join("app/msg"), "from git main\n").unwrap();
    git(&["add", "."]);
    git(&["commit", "-qm", "main"]);
    git(&["checkout", "-qb", "release"]);
    std::fs::write(work.join("app/msg"), "from git release\n").unwrap();
    git(&["commit", "-qam", "release"]);
    git(&["clone", "-q", "--bare", ".", "../repo.git"]);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    // `git daemon` runs `git-daemon` as a child: that program is started itself, so that
    // stopping it stops the server (and a failed test leaves none behind).
    struct Stopped(std::process::Child);
    impl Drop for Stopped {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let exec_path = Command::new("git").arg("--exec-path").output().unwrap();
    let exec_path = String::from_utf8_lossy(&exec_path.stdout)
        .trim()
        .to_string();
    let daemon = Stopped(
        Command::new(std::path::Path::new(&exec_path).join("git-daemon"))
            .args(["--reuseaddr", "--export-all", "--listen=127.0.0.1"])
            .arg(format!("--port={port}"))
            .arg(format!("--base-path={}", repos.path().display()))
            .arg(repos.path())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    berth_tests::audit::eventually(
        "git daemon listens",
        std::time::Duration::from_secs(10),
        || std::net::TcpStream::connect(("127.0.0.1", port)).is_ok(),
    );
    let remote = format!("git://127.0.0.1:{port}/repo.git%23release:app");
    let r = d.post(&format!("/v1.41/build?t=fromgit:1&remote={remote}"));
    // The docker CLI given a git URL (it clones with the git program itself and sends the
    // checkout as the context).
    let (code, out, err) = docker_build_url(
        &d,
        &format!("git://127.0.0.1:{port}/repo.git#main:app"),
        &["-t", "fromgitcli:1"],
    );
    drop(daemon);
    assert_eq!(code, 0, "{out}\n{err}");
    assert_eq!(
        d.docker_ok(&["run", "--rm", "fromgitcli:1", "cat", "/msg"]),
        "from git main\n"
    );
    assert!(
        r.text().contains("Successfully tagged fromgit:1"),
        "{}",
        r.text()
    );
    assert_eq!(
        d.docker_ok(&["run", "--rm", "fromgit:1", "cat", "/msg"]),
        "from git release\n"
    );
    // A tarball and a bare Dockerfile over HTTP.
    let tarball_bytes = tarball(&[
        ("Dockerfile", b"FROM busybox\nCOPY t /t\n" as &[u8]),
        ("t", b"from a tarball\n"),
    ]);
    let served = berth_tests::loopback::LoopbackServer::start(move |conn, _| {
        use std::io::{BufRead, BufReader, Write};
        let mut reader = BufReader::new(conn.try_clone().unwrap());
        let mut first = String::new();
        let _ = reader.read_line(&mut first);
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                break;
            }
        }
        let body: Vec<u8> = if first.contains("/ctx.tar") {
            tarball_bytes.clone()
        } else {
            b"FROM busybox\nRUN echo from a dockerfile > /d\n".to_vec()
        };
        let mut out = conn;
        let _ = write!(
            out,
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        let _ = out.write_all(&body);
    });
    let r = d.post(&format!(
        "/v1.41/build?t=fromtar:1&remote=http://127.0.0.1:{}/ctx.tar",
        served.port
    ));
    assert!(
        r.text().contains("Successfully tagged fromtar:1"),
        "{}",
        r.text()
    );
    assert_eq!(
        d.docker_ok(&["run", "--rm", "fromtar:1", "cat", "/t"]),
        "from a tarball\n"
    );
    let r = d.post(&format!(
        "/v1.41/build?t=fromdf:1&remote=http://127.0.0.1:{}/Dockerfile",
        served.port
    ));
    assert!(
        r.text().contains("Successfully tagged fromdf:1"),
        "{}",
        r.text()
    );
    assert_eq!(
        d.docker_ok(&["run", "--rm", "fromdf:1", "cat", "/d"]),
        "from a dockerfile\n"
    );
    d.remove_all_containers();
}

/// A Dockerfile outside the context (the CLI sends it inside under a name of its own), and
/// an ADD of a hostile archive: its entries land inside the image, never on the host.
#[test]
fn an_outside_dockerfile_and_a_hostile_add_archive() {
    let d = Daemon::start();
    d.import_busybox("busybox:latest");
    let escape = std::env::temp_dir().join(format!("berth-build-escape-{}", std::process::id()));
    let _ = std::fs::remove_file(&escape);
    let hostile = berth_tests::RawTar::new()
        .file("fine.txt", b"fine\n")
        .file(
            &format!("../../../../../../..{}", escape.display()),
            b"escaped\n",
        )
        .symlink("link", "/")
        .file("link/root-file", b"inside\n")
        .finish();
    let ctx = tempfile::tempdir().unwrap();
    std::fs::write(ctx.path().join("hostile.tar"), hostile).unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    let dockerfile = elsewhere.path().join("Dockerfile.outside");
    std::fs::write(&dockerfile, "FROM busybox\nADD hostile.tar /x/\n").unwrap();
    let (code, out, err) = docker_build(
        &d,
        ctx.path(),
        &["-f", dockerfile.to_str().unwrap(), "-t", "hostile:1"],
    );
    assert_eq!(code, 0, "{out}\n{err}\n{}", d.log());
    assert!(!escape.exists(), "an entry reached the host");
    // What the archive held is in the image, wherever its link led inside it.
    let listed = d.docker_ok(&[
        "run",
        "--rm",
        "hostile:1",
        "sh",
        "-c",
        "cat /x/fine.txt; cat $(find / -xdev -name root-file | head -n 1)",
    ]);
    assert_eq!(listed, "fine\ninside\n");
    d.remove_all_containers();
}

/// `--cache-from`: an image that came from elsewhere (saved and loaded here, no build
/// history) gives a build its steps; without it they run.
#[test]
fn cache_from_takes_steps_from_an_image_of_elsewhere() {
    let d = Daemon::start();
    d.import_busybox("busybox:latest");
    let ctx = context(&[
        (
            "Dockerfile",
            "FROM busybox\nENV MODE=cached\nRUN echo ran > /ran\nCOPY f /f\nCMD [\"cat\", \"/ran\"]\n",
        ),
        ("f", "f\n"),
    ]);
    let (code, out, err) = docker_build(&d, ctx.path(), &["-t", "cf:1"]);
    assert_eq!(code, 0, "{out}\n{err}");
    let id = d.get("/v1.44/images/cf:1/json").json()["Id"]
        .as_str()
        .unwrap()
        .to_string();
    // Round trip through save and load: the image stays, its build history here goes.
    let saved = d.get("/v1.44/images/cf:1/get");
    assert_eq!(saved.status, 200);
    d.docker_ok(&["rmi", "cf:1"]);
    let r = d.request(
        "POST",
        "/v1.44/images/load",
        &[("Content-Type", "application/x-tar")],
        &saved.body,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let (_, out, _) = docker_build(&d, ctx.path(), &["-t", "cf:2"]);
    assert!(
        out.contains("Running in"),
        "no cache without --cache-from: {out}"
    );
    let (code, out, err) = docker_build(&d, ctx.path(), &["--cache-from", "cf:1", "-t", "cf:3"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert_eq!(out.matches("Using cache").count(), 4, "{out}");
    assert_eq!(d.get("/v1.44/images/cf:3/json").json()["Id"], id.as_str());
    d.remove_all_containers();
}

/// `docker build -` with the Dockerfile on standard input (no context).
#[test]
fn a_dockerfile_on_standard_input() {
    let d = Daemon::start();
    d.import_busybox("busybox:latest");
    let out = d.docker_with_input(
        &["build", "-t", "stdin:1", "-"],
        b"FROM busybox\nRUN echo from stdin > /s\n",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        d.docker_ok(&["run", "--rm", "stdin:1", "cat", "/s"]),
        "from stdin\n"
    );
    d.remove_all_containers();
}

/// docker-compose's `build:` key (compose 1.29, as scripts/install-test-deps.sh installs it):
/// the service's image is built with its args and runs.
#[test]
fn compose_builds_a_services_image() {
    let compose = Path::new("/opt/berth-compose/bin/docker-compose");
    assert!(
        compose.exists(),
        "docker-compose 1.29 (scripts/install-test-deps.sh installs it)"
    );
    let d = Daemon::start();
    d.import_busybox("busybox:latest");
    let ctx = context(&[
        (
            "Dockerfile",
            "FROM busybox\nARG WORD=plain\nRUN echo \"$WORD\" > /w\nCMD [\"cat\", \"/w\"]\n",
        ),
        (
            "docker-compose.yml",
            "version: \"2.4\"\nservices:\n  app:\n    build:\n      context: .\n      args:\n        WORD: composed\n    image: composed:1\n",
        ),
    ]);
    let out = std::process::Command::new(compose)
        .arg("build")
        .current_dir(ctx.path())
        .env("DOCKER_HOST", format!("unix://{}", d.socket.display()))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(d.docker_ok(&["run", "--rm", "composed:1"]), "composed\n");
    d.remove_all_containers();
}

/// Every instruction the legacy builder knows, through the docker CLI: the image's config,
/// its files and its history are what Docker Engine makes of the same Dockerfile.
#[test]
fn every_instruction_takes_effect_in_the_image_and_its_history() {
    use std::io::Write;
    let d = Daemon::start();
    d.import_busybox("busybox:latest");
    let dockerfile = "# escape=`
FROM busybox
SHELL [\"/bin/sh\", \"-ec\"]
RUN [\"/bin/sh\", \"-c\", \"echo exec-form > /exec\"]
RUN echo shell-form `
    > /shell
RUN grep -E '^(Seccomp|CapBnd):' /proc/self/status > /status
RUN echo \"$HTTP_PROXY\" > /proxy
ADD plain.txt /added/
ADD dir /added/dir/
ADD w*.txt /wild/
ADD arch.tar.gz /unpacked/
ADD --chown=1234:5678 plain.txt /owned.txt
COPY . /ctx/
WORKDIR /made/here
WORKDIR /app
USER 1234
EXPOSE 8080 53/udp
VOLUME /data
STOPSIGNAL SIGUSR1
HEALTHCHECK --interval=5s CMD true
ENTRYPOINT [\"/bin/echo\", \"entry:\"]
CMD cat /shell
";
    let ctx = context(&[
        ("Dockerfile", dockerfile),
        ("plain.txt", "plain\n"),
        ("dir/x.txt", "x\n"),
        ("w1.txt", "w1\n"),
        ("w2.txt", "w2\n"),
        ("ignored.txt", "never sent\n"),
        (".dockerignore", "ignored.txt\n"),
    ]);
    let inner = tarball(&[("inner.txt", b"from the archive\n" as &[u8])]);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&inner).unwrap();
    std::fs::write(ctx.path().join("arch.tar.gz"), gz.finish().unwrap()).unwrap();
    let (code, out, err) = docker_build(
        &d,
        ctx.path(),
        &[
            "-t",
            "every:1",
            "-t",
            "every:2",
            "--build-arg",
            "HTTP_PROXY=http://proxy.invalid:3128",
        ],
    );
    assert_eq!(code, 0, "{out}\n{err}\n{}", d.log());
    assert!(out.contains("Successfully tagged every:1"), "{out}");
    assert!(out.contains("Successfully tagged every:2"), "{out}");
    let one = d.get("/v1.44/images/every:1/json").json();
    assert_eq!(d.get("/v1.44/images/every:2/json").json()["Id"], one["Id"]);
    let config = &one["Config"];
    assert_eq!(config["Shell"], serde_json::json!(["/bin/sh", "-ec"]));
    assert_eq!(
        config["Entrypoint"],
        serde_json::json!(["/bin/echo", "entry:"])
    );
    assert_eq!(
        config["Cmd"],
        serde_json::json!(["/bin/sh", "-ec", "cat /shell"])
    );
    assert_eq!(config["User"], "1234");
    assert_eq!(config["WorkingDir"], "/app");
    assert_eq!(config["StopSignal"], "SIGUSR1");
    assert_eq!(
        config["ExposedPorts"],
        serde_json::json!({"53/udp": {}, "8080/tcp": {}})
    );
    assert_eq!(config["Volumes"], serde_json::json!({"/data": {}}));
    assert_eq!(
        config["Healthcheck"],
        serde_json::json!({"Test": ["CMD-SHELL", "true"], "Interval": 5_000_000_000u64})
    );
    // The proxy reached the RUN, but not the image's environment.
    assert!(
        !config["Env"].to_string().contains("proxy.invalid"),
        "{config}"
    );
    // The shell form of CMD went through SHELL; ENTRYPOINT got it as arguments.
    assert_eq!(
        d.docker_ok(&["run", "--rm", "every:1"]),
        "entry: /bin/sh -ec cat /shell\n"
    );
    let cat = |paths: &[&str]| {
        let mut args = vec!["run", "--rm", "--entrypoint", "cat", "every:1"];
        args.extend_from_slice(paths);
        d.docker_ok(&args)
    };
    assert_eq!(
        cat(&[
            "/exec",
            "/shell",
            "/added/plain.txt",
            "/added/dir/x.txt",
            "/wild/w1.txt",
            "/wild/w2.txt",
            "/unpacked/inner.txt",
            "/proxy",
        ]),
        "exec-form\nshell-form\nplain\nx\nw1\nw2\nfrom the archive\nhttp://proxy.invalid:3128\n"
    );
    // RUN steps ran under the default profile, as any container.
    let status = cat(&["/status"]);
    assert!(status.contains("Seccomp:\t2"), "{status}");
    assert!(status.contains("CapBnd:\t00000000a80425fb"), "{status}");
    let run = |args: &[&str]| {
        let mut all = vec!["run", "--rm", "--entrypoint", args[0], "every:1"];
        all.extend_from_slice(&args[1..]);
        d.docker_ok(&all)
    };
    assert_eq!(run(&["stat", "-c", "%u:%g", "/owned.txt"]), "1234:5678\n");
    // WORKDIR made its directory in the image: no later step or start made /made/here.
    assert_eq!(run(&["ls", "-d", "/made/here"]), "/made/here\n");
    // The CLI left out what .dockerignore names.
    let listed = run(&["ls", "/ctx"]);
    assert!(listed.contains("plain.txt"), "{listed}");
    assert!(!listed.contains("ignored.txt"), "{listed}");
    // History: each step as Docker records it, with the stage's shell, and no proxy.
    let history = d.docker_ok(&[
        "history",
        "--no-trunc",
        "--format",
        "{{.CreatedBy}}",
        "every:1",
    ]);
    for expected in [
        "/bin/sh -ec #(nop) WORKDIR /made/here",
        "/bin/sh -ec #(nop)  EXPOSE 8080 53/udp",
        "/bin/sh -ec #(nop)  VOLUME [/data]",
        "/bin/sh -ec #(nop)  USER 1234",
        "/bin/sh -ec #(nop)  STOPSIGNAL SIGUSR1",
        "/bin/sh -ec #(nop)  CMD [\"/bin/sh\" \"-ec\" \"cat /shell\"]",
        "/bin/sh -ec #(nop)  ENTRYPOINT [\"/bin/echo\" \"entry:\"]",
        "/bin/sh -ec #(nop)  SHELL [/bin/sh -ec]",
        "/bin/sh -ec #(nop) ADD --chown=1234:5678 file:",
        "|0 /bin/sh -ec echo \"$HTTP_PROXY\" > /proxy",
    ] {
        assert!(history.contains(expected), "{expected}\n{history}");
    }
    assert!(!history.contains("proxy.invalid"), "{history}");
    d.remove_all_containers();
}
