//! A container's filesystem as clients see it (issue 15): `diff` through the docker CLI and
//! raw HTTP, with the init layer's files kept out of it.

use berth_tests::Daemon;

fn daemon() -> Daemon {
    let d = Daemon::start();
    d.import_busybox("busybox:latest");
    d
}

/// `docker run -d --name NAME busybox sh -c SCRIPT`.
fn run_detached(d: &Daemon, name: &str, script: &str) {
    d.docker_ok(&["run", "-d", "--name", name, "busybox", "sh", "-c", script]);
}

/// `docker diff NAME`, one line per change.
fn diff(d: &Daemon, name: &str) -> Vec<String> {
    d.docker_ok(&["diff", name])
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn diff_lists_what_a_container_changed_as_docker_does() {
    let d = daemon();
    // Never started: nothing changed, and the API says `null`, as Docker's empty list.
    d.docker_ok(&["create", "--name", "fresh", "busybox", "true"]);
    let r = d.get("/v1.44/containers/fresh/changes");
    assert_eq!(r.status, 200);
    assert_eq!(r.json(), serde_json::Value::Null);
    assert!(diff(&d, "fresh").is_empty());
    // A run that writes nothing changes nothing: the files every container gets (mount
    // points, the host files, /.dockerenv) live in the init layer, not in the container's.
    let seen = d.docker_ok(&[
        "run",
        "--name",
        "quiet",
        "busybox",
        "sh",
        "-c",
        "test -f /.dockerenv && readlink /etc/mtab && cat /etc/hostname",
    ]);
    let mut lines = seen.lines();
    assert_eq!(lines.next(), Some("/proc/mounts"), "{seen}");
    assert!(lines.next().is_some_and(|h| !h.is_empty()), "{seen}");
    assert!(diff(&d, "quiet").is_empty(), "{:?}", diff(&d, "quiet"));
    // Added, modified and deleted files and directories, each directory with changes below
    // it listed before them, a deleted directory alone.
    d.docker_ok(&[
        "run",
        "--name",
        "busy",
        "busybox",
        "sh",
        "-c",
        "mkdir -p /tmp/a/b && echo x > /tmp/a/b/f && rm /bin/true && echo y >> /etc/passwd \
         && mkdir /newdir && rm -r /home && chmod 700 /root",
    ]);
    assert_eq!(
        diff(&d, "busy"),
        [
            "C /bin",
            "D /bin/true",
            "C /etc",
            "C /etc/passwd",
            "A /newdir",
            "C /root",
            "C /tmp",
            "A /tmp/a",
            "A /tmp/a/b",
            "A /tmp/a/b/f",
            // Deletions come after the rest of their directory, as in Docker's walk.
            "D /home",
        ]
    );
    // The same list at the oldest version, in Docker's shape.
    let old = d.get("/v1.18/containers/busy/changes").json();
    assert_eq!(old[1], serde_json::json!({"Path": "/bin/true", "Kind": 2}));
    assert_eq!(old[4], serde_json::json!({"Path": "/newdir", "Kind": 1}));
    assert_eq!(old[10], serde_json::json!({"Path": "/home", "Kind": 2}));
    // A running container: its changes so far.
    run_detached(&d, "live", "touch /tmp/live && exec sleep 1000");
    berth_tests::audit::eventually(
        "the running container's write shows",
        std::time::Duration::from_secs(10),
        || diff(&d, "live") == ["C /tmp", "A /tmp/live"],
    );
    // A file deleted and made again over a directory: the old contents do not show through.
    d.docker_ok(&[
        "run",
        "--name",
        "remade",
        "busybox",
        "sh",
        "-c",
        "rm -r /usr && mkdir -p /usr/local && touch /usr/local/mine",
    ]);
    let remade = diff(&d, "remade");
    assert_eq!(remade[..2], ["C /usr", "A /usr/local"], "{remade:?}");
    assert!(
        remade.contains(&"A /usr/local/mine".to_string()),
        "{remade:?}"
    );
    assert!(remade.contains(&"D /usr/bin".to_string()), "{remade:?}");
    // A missing container is Docker's 404.
    let r = d.get("/v1.44/containers/nosuch/changes");
    assert_eq!(r.status, 404);
    assert_eq!(r.message(), "No such container: nosuch");
    d.remove_all_containers();
    // No view is left mounted.
    let views = d.exec_root().join("views");
    assert_eq!(
        std::fs::read_dir(&views).map(|r| r.count()).unwrap_or(0),
        0,
        "views left under {}",
        views.display()
    );
}

/// The entries of a tar archive: name, type, link target and contents.
fn entries(tar_bytes: &[u8]) -> Vec<(String, tar::EntryType, String, Vec<u8>)> {
    let mut archive = tar::Archive::new(tar_bytes);
    archive
        .entries()
        .unwrap()
        .map(|e| {
            let mut e = e.unwrap();
            let path = e.path().unwrap().display().to_string();
            let kind = e.header().entry_type();
            let link = e
                .link_name()
                .unwrap()
                .map(|l| l.display().to_string())
                .unwrap_or_default();
            let mut body = Vec::new();
            std::io::Read::read_to_end(&mut e, &mut body).unwrap();
            (path, kind, link, body)
        })
        .collect()
}

#[test]
fn export_writes_the_containers_files_as_a_tar() {
    let d = daemon();
    d.docker_ok(&[
        "run",
        "--name",
        "ex",
        "busybox",
        "sh",
        "-c",
        "echo hi > /tmp/hello && rm /bin/true && ln -s /etc/passwd /tmp/pw",
    ]);
    let out = d.dir.path().join("ex.tar");
    d.docker_ok(&["export", "-o", out.to_str().unwrap(), "ex"]);
    let all = entries(&std::fs::read(&out).unwrap());
    let find = |name: &str| all.iter().find(|e| e.0 == name);
    assert_eq!(find("tmp/hello").unwrap().3, b"hi\n");
    let pw = find("tmp/pw").unwrap();
    assert_eq!(
        (pw.1, pw.2.as_str()),
        (tar::EntryType::Symlink, "/etc/passwd")
    );
    assert!(find("bin/true").is_none(), "deleted files are not exported");
    assert_eq!(find("bin/").unwrap().1, tar::EntryType::Directory);
    assert!(find("bin/busybox").is_some_and(|e| e.3.len() > 100_000));
    // As Docker's export: the init layer's files are there, empty; what was bound over
    // them while the container ran is not.
    assert_eq!(find(".dockerenv").unwrap().3, b"");
    assert_eq!(find("etc/hostname").unwrap().3, b"");
    assert_eq!(find("etc/mtab").unwrap().2, "/proc/mounts");
    // Created and never started, and running: exported as well.
    d.docker_ok(&["create", "--name", "fresh", "busybox", "true"]);
    let r = d.get("/v1.44/containers/fresh/export");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/x-tar"));
    assert!(entries(&r.body).iter().any(|e| e.0 == "bin/busybox"));
    run_detached(&d, "live", "echo live > /live && exec sleep 1000");
    berth_tests::audit::eventually(
        "the running container's file is exported",
        std::time::Duration::from_secs(10),
        || {
            let r = d.get("/v1.18/containers/live/export");
            entries(&r.body)
                .iter()
                .any(|e| e.0 == "live" && e.3 == b"live\n")
        },
    );
    // Each export is an event.
    let events = d.past_events("export");
    assert!(events.len() >= 3, "{events:?}");
    assert_eq!(events[0]["Actor"]["Attributes"]["name"], "ex");
    let r = d.get("/v1.44/containers/nosuch/export");
    assert_eq!(r.status, 404);
    d.remove_all_containers();
    let views = d.exec_root().join("views");
    assert_eq!(std::fs::read_dir(&views).map(|r| r.count()).unwrap_or(0), 0);
}

/// The decoded `X-Docker-Container-Path-Stat` of a `HEAD .../archive`.
fn path_stat(d: &Daemon, container: &str, path: &str) -> (u16, serde_json::Value) {
    let r = d.request(
        "HEAD",
        &format!("/v1.44/containers/{container}/archive?path={path}"),
        &[],
        b"",
    );
    let stat = r
        .header("x-docker-container-path-stat")
        .map(|h| {
            let out = std::process::Command::new("base64")
                .arg("-d")
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .spawn()
                .and_then(|mut c| {
                    std::io::Write::write_all(c.stdin.as_mut().unwrap(), h.as_bytes())?;
                    drop(c.stdin.take());
                    c.wait_with_output()
                })
                .unwrap();
            serde_json::from_slice(&out.stdout).unwrap()
        })
        .unwrap_or(serde_json::Value::Null);
    (r.status, stat)
}

#[test]
fn cp_copies_files_out_and_in_as_docker_does() {
    let d = daemon();
    let host = d.dir.path().join("host");
    let vol = host.join("vol");
    std::fs::create_dir_all(&vol).unwrap();
    let vol_spec = format!("{}:/data", vol.display());
    d.docker_ok(&[
        "run",
        "-d",
        "--name",
        "box",
        "-v",
        &vol_spec,
        "busybox",
        "sh",
        "-c",
        "echo hello > /tmp/f && mkdir -p /tmp/d/e && echo deep > /tmp/d/e/g \
         && ln -s /tmp/f /tmp/lnk && exec sleep 1000",
    ]);
    berth_tests::audit::eventually(
        "the files are written",
        std::time::Duration::from_secs(10),
        || path_stat(&d, "box", "/tmp/lnk").0 == 200,
    );
    // The stat header: Go's FileMode bits, the link's target inside the container.
    let (_, st) = path_stat(&d, "box", "/tmp/d");
    assert_eq!(st["name"], "d");
    assert_eq!(st["mode"].as_u64().unwrap() >> 31, 1, "a directory: {st}");
    let (_, st) = path_stat(&d, "box", "/tmp/lnk");
    assert_eq!(st["linkTarget"], "/tmp/f");
    assert_eq!(
        st["mode"].as_u64().unwrap() & (1 << 27),
        1 << 27,
        "a symlink: {st}"
    );
    let (status, _) = path_stat(&d, "box", "/nosuch");
    assert_eq!(status, 404);
    let out = host.join("out");
    std::fs::create_dir_all(&out).unwrap();
    let to = |name: &str| format!("{}/{name}", out.display());
    // Out: a file, a directory, a directory's contents, a symlink as itself and followed.
    d.docker_ok(&["cp", "box:/tmp/f", &to("f")]);
    assert_eq!(std::fs::read_to_string(out.join("f")).unwrap(), "hello\n");
    d.docker_ok(&["cp", "box:/tmp/d", &to("d")]);
    assert_eq!(
        std::fs::read_to_string(out.join("d/e/g")).unwrap(),
        "deep\n"
    );
    d.docker_ok(&["cp", "box:/tmp/d/.", &to("contents")]);
    assert_eq!(
        std::fs::read_to_string(out.join("contents/e/g")).unwrap(),
        "deep\n"
    );
    d.docker_ok(&["cp", "box:/tmp/lnk", &to("lnk")]);
    assert_eq!(
        std::fs::read_link(out.join("lnk")).unwrap(),
        std::path::Path::new("/tmp/f")
    );
    d.docker_ok(&["cp", "-L", "box:/tmp/lnk", &to("followed")]);
    assert_eq!(
        std::fs::read_to_string(out.join("followed")).unwrap(),
        "hello\n"
    );
    // The host files are the container's own, as Docker shows them.
    d.docker_ok(&["cp", "box:/etc/hostname", &to("hostname")]);
    let id = d.docker_ok(&["inspect", "-f", "{{.Id}}", "box"]);
    assert_eq!(
        std::fs::read_to_string(out.join("hostname"))
            .unwrap()
            .trim(),
        &id.trim()[..12]
    );
    // In: into the root, into a volume (written through to its source), and refused where
    // Docker refuses.
    let local = host.join("local.txt");
    std::fs::write(&local, "local\n").unwrap();
    let local = local.to_str().unwrap();
    d.docker_ok(&["cp", local, "box:/tmp/"]);
    assert_eq!(
        d.docker_ok(&["exec", "box", "cat", "/tmp/local.txt"]),
        "local\n"
    );
    d.docker_ok(&["cp", local, "box:/data/"]);
    assert_eq!(
        std::fs::read_to_string(vol.join("local.txt")).unwrap(),
        "local\n"
    );
    let dir_src = host.join("tree");
    std::fs::create_dir_all(dir_src.join("sub")).unwrap();
    std::fs::write(dir_src.join("sub/a"), "a").unwrap();
    d.docker_ok(&["cp", &format!("{}/.", dir_src.display()), "box:/tmp/d/"]);
    assert_eq!(d.docker_ok(&["exec", "box", "cat", "/tmp/d/sub/a"]), "a");
    let r = d.request(
        "PUT",
        "/v1.44/containers/box/archive?path=/tmp/f",
        &[("Content-Type", "application/x-tar")],
        &berth_tests::tarball(&[("x", b"x")]),
    );
    assert_eq!(
        (r.status, r.message().as_str()),
        (400, "extraction point is not a directory")
    );
    let r = d.request(
        "PUT",
        "/v1.44/containers/box/archive?path=/nosuch",
        &[],
        &berth_tests::tarball(&[("x", b"x")]),
    );
    assert_eq!(r.status, 404);
    assert_eq!(
        r.message(),
        "Could not find the file /nosuch in container box"
    );
    // noOverwriteDirNonDir: a file may not replace a directory.
    let r = d.request(
        "PUT",
        "/v1.44/containers/box/archive?path=/tmp&noOverwriteDirNonDir=1",
        &[],
        &berth_tests::tarball(&[("d", b"not a dir")]),
    );
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(
        r.message().contains("cannot overwrite directory"),
        "{}",
        r.message()
    );
    // Stopped and never-started containers, both ways.
    d.docker_ok(&["stop", "-t", "0", "box"]);
    d.docker_ok(&["cp", "box:/tmp/local.txt", &to("from-stopped")]);
    assert_eq!(
        std::fs::read_to_string(out.join("from-stopped")).unwrap(),
        "local\n"
    );
    d.docker_ok(&[
        "create",
        "--name",
        "fresh",
        "busybox",
        "cat",
        "/etc/local.txt",
    ]);
    d.docker_ok(&["cp", local, "fresh:/etc/"]);
    assert_eq!(d.docker_ok(&["start", "-a", "fresh"]), "local\n");
    // Read-only roots and volumes refuse writes.
    d.docker_ok(&[
        "create",
        "--name",
        "ro",
        "--read-only",
        "-v",
        &format!("{}:/ro:ro", vol.display()),
        "busybox",
        "true",
    ]);
    for (path, message) in [
        ("/tmp", "container rootfs is marked read-only"),
        ("/ro", "mounted volume is marked read-only"),
    ] {
        let r = d.request(
            "PUT",
            &format!("/v1.44/containers/ro/archive?path={path}"),
            &[],
            &berth_tests::tarball(&[("x", b"x")]),
        );
        assert_eq!(
            (r.status, r.message().as_str()),
            (400, message),
            "{}",
            d.log()
        );
    }
    // The copy of API 1.18, and its 404 from 1.24.
    let r = d.post_json("/v1.18/containers/box/copy", br#"{"Resource": "/tmp/d"}"#);
    assert_eq!(r.status, 200, "{}", r.text());
    let names: Vec<String> = entries(&r.body).into_iter().map(|e| e.0).collect();
    assert!(names.contains(&"d/e/g".to_string()), "{names:?}");
    assert_eq!(
        d.post_json("/v1.24/containers/box/copy", br#"{"Resource": "/tmp/d"}"#)
            .status,
        404
    );
    d.remove_all_containers();
    let views = d.exec_root().join("views");
    assert_eq!(std::fs::read_dir(&views).map(|r| r.count()).unwrap_or(0), 0);
}

#[test]
fn a_hostile_tar_put_writes_nothing_outside_the_container() {
    let d = daemon();
    d.docker_ok(&["create", "--name", "target", "busybox", "true"]);
    let outside = d.dir.path().join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    let escape = outside.join("escaped");
    // `../` climbing out, an absolute path, and a symlink to the host followed by a file
    // written through it.
    let mut tar = tar::Builder::new(Vec::new());
    let mut add = |name: &str, kind: tar::EntryType, link: Option<&str>, body: &[u8]| {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_mode(0o644);
        h.set_size(body.len() as u64);
        let raw = &mut h.as_old_mut().name;
        raw[..name.len()].copy_from_slice(name.as_bytes());
        if let Some(l) = link {
            h.as_old_mut().linkname[..l.len()].copy_from_slice(l.as_bytes());
        }
        h.set_cksum();
        tar.append(&h, body).unwrap();
    };
    let climb = format!("../../../../../../../..{}", escape.display());
    add(&climb, tar::EntryType::Regular, None, b"climbed");
    add(
        &escape.display().to_string(),
        tar::EntryType::Regular,
        None,
        b"absolute",
    );
    add(
        "hostdir",
        tar::EntryType::Symlink,
        Some(outside.to_str().unwrap()),
        b"",
    );
    add(
        "hostdir/through-link",
        tar::EntryType::Regular,
        None,
        b"through",
    );
    let body = tar.into_inner().unwrap();
    let r = d.request("PUT", "/v1.44/containers/target/archive?path=/", &[], &body);
    assert!(
        r.status == 200 || r.status == 400,
        "{} {}",
        r.status,
        r.text()
    );
    assert!(!escape.exists(), "a file was written outside the container");
    assert!(!outside.join("through-link").exists());
    // The daemon is fine and the container usable.
    d.docker_ok(&["start", "target"]);
    d.remove_all_containers();
}

/// CVE-2018-15664: a container swaps a directory for a symlink to `/` in a loop while `docker
/// cp` runs. Whatever the timing, a copy out reads only the container's files and a copy in
/// writes only into them.
#[test]
fn a_symlink_swapped_during_cp_never_reaches_the_host() {
    let d = daemon();
    let secret_name = format!("berth-race-{}", std::process::id());
    let host_secret = std::path::Path::new("/tmp").join(&secret_name);
    std::fs::write(&host_secret, "HOST SECRET").unwrap();
    let script = format!(
        "mkdir -p /tmp && echo container > /tmp/{secret_name}; \
         while true; do mkdir -p /w.dir && echo container > /w.dir/{secret_name}; \
         rm -rf /w; mv /w.dir /w; rm -rf /w; ln -s /tmp /w; done"
    );
    d.docker_ok(&[
        "run", "-d", "--name", "racer", "busybox", "sh", "-c", &script,
    ]);
    let planted = format!("planted-{}", std::process::id());
    let local = d.dir.path().join(&planted);
    std::fs::write(&local, "from cp").unwrap();
    for _ in 0..150 {
        let r = d.get(&format!(
            "/v1.44/containers/racer/archive?path=/w/{secret_name}"
        ));
        if r.status == 200 {
            for (_, _, _, body) in entries(&r.body) {
                assert_ne!(body, b"HOST SECRET", "the copy read the host's file");
            }
        }
        let mut tar = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_size(7);
        h.set_mode(0o644);
        h.set_cksum();
        tar.append_data(&mut h, &planted, &b"from cp"[..]).unwrap();
        let _ = d.request(
            "PUT",
            "/v1.44/containers/racer/archive?path=/w",
            &[],
            &tar.into_inner().unwrap(),
        );
        assert!(
            !std::path::Path::new("/tmp").join(&planted).exists(),
            "the copy wrote into the host's /tmp"
        );
    }
    let _ = std::fs::remove_file(&host_secret);
    d.remove_all_containers();
}

#[test]
fn commit_makes_an_image_of_a_containers_changes() {
    let d = daemon();
    d.docker_ok(&[
        "run",
        "--name",
        "work",
        "-e",
        "FOO=bar",
        "busybox",
        "sh",
        "-c",
        "echo committed > /hello && rm /bin/true && rm -r /home \
         && rm -r /usr && mkdir -p /usr/local && echo x > /usr/local/x",
    ]);
    let id = d.docker_ok(&[
        "commit",
        "-a",
        "Ann <ann@example.com>",
        "-m",
        "first",
        "work",
        "mine:v1",
    ]);
    let id = id.trim();
    assert!(id.starts_with("sha256:"), "{id}");
    // The new image has the change, the deletions (a whiteout, an opaque directory) and the
    // container's environment.
    let seen = d.docker_ok(&[
        "run", "--rm", "mine:v1", "sh", "-c",
        "cat /hello; test -e /bin/true || echo no-true; test -e /home || echo no-home; ls /usr; echo $FOO",
    ]);
    assert_eq!(seen, "committed\nno-true\nno-home\nlocal\nbar\n");
    let inspect = d.get("/v1.44/images/mine:v1/json").json();
    assert_eq!(inspect["Author"], "Ann <ann@example.com>");
    assert_eq!(inspect["Comment"], "first");
    let container = d.docker_ok(&["inspect", "-f", "{{.Id}}", "work"]);
    assert_eq!(inspect["Container"], container.trim());
    let base = d.get("/v1.44/images/busybox/json").json();
    assert_eq!(inspect["Parent"], base["Id"], "the parent is linked");
    let layers = |i: &serde_json::Value| i["RootFS"]["Layers"].as_array().unwrap().len();
    assert_eq!(layers(&inspect), layers(&base) + 1);
    let history = d.get("/v1.44/images/mine:v1/history").json();
    assert_eq!(history[0]["Comment"], "first");
    assert!(history[0]["CreatedBy"]
        .as_str()
        .unwrap()
        .starts_with("sh -c echo committed"));
    // A container that changed nothing adds no layer, only history.
    d.docker_ok(&["run", "-d", "--name", "idle", "busybox", "sleep", "1000"]);
    let idle = d.docker_ok(&["commit", "idle", "idle:snap"]);
    let idle_inspect = d.get(&format!("/v1.44/images/{}/json", idle.trim())).json();
    assert_eq!(layers(&idle_inspect), layers(&base));
    // A running container is paused for the commit, and runs again after it.
    let pauses = d.past_events("pause").len();
    assert_eq!(pauses, 1, "{:?}", d.past_events("pause"));
    assert_eq!(d.past_events("unpause").len(), 1);
    assert_eq!(
        d.docker_ok(&["inspect", "-f", "{{.State.Status}}", "idle"])
            .trim(),
        "running"
    );
    // Without pause (`pause=0`) nothing is paused.
    let r = d.post("/v1.44/commit?container=idle&pause=0");
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(d.past_events("pause").len(), 1);
    // The event says what was made.
    let commits = d.past_events("commit");
    assert_eq!(commits[0]["Actor"]["Attributes"]["imageRef"], "mine:v1");
    assert_eq!(commits[0]["Actor"]["Attributes"]["comment"], "first");
    // API 1.18: the ID without its algorithm, as Docker 1.6 answered.
    let old = d.post("/v1.18/commit?container=work&repo=old&tag=one");
    assert_eq!(old.status, 201);
    let old_id = old.json()["Id"].as_str().unwrap().to_string();
    assert_eq!(old_id.len(), 64, "{old_id}");
    // --change: Dockerfile instructions applied to the new image's config.
    d.docker_ok(&[
        "commit",
        "--change",
        "ENV GREETING=hi MORE=${FOO}-more",
        "--change",
        "CMD [\"sh\", \"-c\", \"echo $GREETING $MORE; pwd\"]",
        "--change",
        "WORKDIR /usr/local",
        "--change",
        "LABEL stage=changed",
        "--change",
        "EXPOSE 8080",
        "work",
        "changed:v1",
    ]);
    assert_eq!(
        d.docker_ok(&["run", "--rm", "changed:v1"]),
        "hi bar-more\n/usr/local\n"
    );
    let changed = d.get("/v1.44/images/changed:v1/json").json();
    assert_eq!(changed["Config"]["Labels"]["stage"], "changed");
    assert!(changed["Config"]["ExposedPorts"]["8080/tcp"].is_object());
    // Errors: a missing container, a bad name, a change a commit may not carry.
    let r = d.post("/v1.44/commit?container=nosuch");
    assert_eq!(
        (r.status, r.message().as_str()),
        (404, "No such container: nosuch")
    );
    let r = d.post("/v1.44/commit?container=work&repo=Bad");
    assert_eq!(r.status, 400, "{}", r.text());
    let r = d.post("/v1.44/commit?container=work&changes=RUN%20echo%20hi");
    assert_eq!(
        (r.status, r.message().as_str()),
        (400, "run is not a valid change command")
    );
    d.remove_all_containers();
}

/// An HTTP server on loopback serving `dir`, stopped on drop.
struct FileServer {
    child: std::process::Child,
    port: u16,
}

impl FileServer {
    fn start(dir: &std::path::Path) -> FileServer {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = std::process::Command::new("python3")
            .args([
                "-m",
                "http.server",
                "--bind",
                "127.0.0.1",
                &port.to_string(),
            ])
            .current_dir(dir)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        berth_tests::audit::eventually(
            "the file server listens",
            std::time::Duration::from_secs(10),
            || std::net::TcpStream::connect(("127.0.0.1", port)).is_ok(),
        );
        FileServer { child, port }
    }
}

impl Drop for FileServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn insert_of_api_1_11_downloads_a_file_into_a_new_image() {
    let d = daemon();
    let served = d.dir.path().join("served");
    std::fs::create_dir_all(&served).unwrap();
    std::fs::write(served.join("hello.txt"), "inserted\n").unwrap();
    let server = FileServer::start(&served);
    let url = format!("http://127.0.0.1:{}/hello.txt", server.port);
    let r = d.post(&format!(
        "/v1.11/images/busybox/insert?url={url}&path=/usr/share/hello.txt"
    ));
    assert_eq!(r.status, 200, "{}", r.text());
    let lines = r.json_lines();
    assert_eq!(lines[0]["status"], "Downloading");
    assert_eq!(lines[0]["progressDetail"]["total"], 9);
    let base = d.get("/v1.44/images/busybox/json").json();
    let base_hex = base["Id"].as_str().unwrap().trim_start_matches("sha256:");
    assert_eq!(
        lines[0]["id"],
        &base_hex[..12],
        "lines are named by the image's short ID"
    );
    let id = lines.last().unwrap()["status"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(id.len(), 64, "{lines:?}");
    // An untagged child of busybox with the file where it was asked.
    assert_eq!(
        d.docker_ok(&["run", "--rm", &id, "cat", "/usr/share/hello.txt"]),
        "inserted\n"
    );
    let inspect = d.get(&format!("/v1.44/images/{id}/json")).json();
    assert_eq!(inspect["RepoTags"], serde_json::json!([]));
    assert_eq!(inspect["Parent"], base["Id"]);
    // A larger download shows its progress as it goes: counts that grow to the total, and
    // the bar as text for the clients of the time.
    let big: Vec<u8> = (0..3_000_000u32).map(|i| (i % 253) as u8).collect();
    std::fs::write(served.join("big.bin"), &big).unwrap();
    let r = d.post(&format!(
        "/v1.11/images/busybox/insert?url=http://127.0.0.1:{}/big.bin&path=/big.bin",
        server.port
    ));
    assert_eq!(r.status, 200, "{}", r.text());
    let lines = r.json_lines();
    let counts: Vec<i64> = lines
        .iter()
        .filter(|l| l["status"] == "Downloading")
        .map(|l| l["progressDetail"]["current"].as_i64().unwrap())
        .collect();
    assert!(counts.len() >= 5, "{counts:?}");
    assert!(counts.windows(2).all(|w| w[0] <= w[1]), "{counts:?}");
    assert_eq!(*counts.last().unwrap(), 3_000_000);
    let last_bar = lines[lines.len() - 2]["progress"].as_str().unwrap();
    assert!(last_bar.ends_with("3 MB/3 MB"), "{last_bar}");
    let big_id = lines.last().unwrap()["status"]
        .as_str()
        .unwrap()
        .to_string();
    let sum = d.docker_ok(&["run", "--rm", &big_id, "md5sum", "/big.bin"]);
    let digest = std::process::Command::new("md5sum")
        .arg(served.join("big.bin"))
        .output()
        .unwrap();
    assert_eq!(
        sum.split_whitespace().next(),
        String::from_utf8_lossy(&digest.stdout)
            .split_whitespace()
            .next()
    );
    // A download cut short, after the progress began: an error line, and no image made.
    let images_before = d.get("/v1.44/images/json?all=1").json();
    let cut = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let cut_port = cut.local_addr().unwrap().port();
    let server_thread = std::thread::spawn(move || {
        use std::io::{Read, Write};
        let (mut s, _) = cut.accept().unwrap();
        let mut head = [0u8; 4096];
        let _ = s.read(&mut head);
        let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 4000000\r\n\r\n");
        let _ = s.write_all(&vec![1u8; 2_000_000]);
    });
    let r = d.post(&format!(
        "/v1.11/images/busybox/insert?url=http://127.0.0.1:{cut_port}/x&path=/cut.bin"
    ));
    server_thread.join().unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    let lines = r.json_lines();
    assert_eq!(lines[0]["status"], "Downloading", "{lines:?}");
    let last = lines.last().unwrap();
    assert!(last["error"].as_str().is_some(), "{lines:?}");
    assert_eq!(last["errorDetail"]["message"], last["error"]);
    assert_eq!(d.get("/v1.44/images/json?all=1").json(), images_before);
    let staging = d.data_root().join("tmp");
    let left: Vec<_> = std::fs::read_dir(&staging)
        .map(|r| r.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "staging left behind: {left:?}");
    // A path the image has is refused; the route is gone after 1.11.
    let r = d.post(&format!(
        "/v1.11/images/busybox/insert?url={url}&path=/bin/busybox"
    ));
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.text().contains("File already exists"), "{}", r.text());
    let r = d.post(&format!("/v1.12/images/busybox/insert?url={url}&path=/x"));
    assert_eq!(r.status, 404);
    let r = d.post(&format!("/v1.11/images/nosuch/insert?url={url}&path=/x"));
    assert_eq!(r.status, 404);
    d.remove_all_containers();
}

/// A committed image, saved by berth, loads into Docker Engine 20.10 and runs there with the
/// container's changes (a file added, one deleted through a whiteout).
#[test]
fn a_committed_image_loads_and_runs_in_docker_engine() {
    let d = daemon();
    d.docker_ok(&[
        "run",
        "--name",
        "src",
        "busybox",
        "sh",
        "-c",
        "echo from-berth > /made-here && rm /bin/true",
    ]);
    d.docker_ok(&["commit", "-m", "for docker", "src", "portable:v1"]);
    let saved = d.dir.path().join("portable.tar");
    d.docker_ok(&["save", "-o", saved.to_str().unwrap(), "portable:v1"]);
    let reference = berth_tests::bench::RefDocker::start()
        .expect("dockerd (Debian docker.io) is needed; the test command installs it");
    let docker = |args: &[&str]| reference.docker(args);
    docker(&["load", "-i", saved.to_str().unwrap()]);
    let out = docker(&[
        "run",
        "--rm",
        "--network",
        "none",
        "portable:v1",
        "sh",
        "-c",
        "cat /made-here; test -e /bin/true || echo no-true",
    ]);
    assert_eq!(out, "from-berth\nno-true\n");
    let history = docker(&["history", "--format", "{{.Comment}}", "portable:v1"]);
    assert_eq!(history.lines().next(), Some("for docker"));
    d.remove_all_containers();
}

/// `docker rmi` of a committed image takes the untagged parents only it kept, as Docker's
/// does, unless `noprune`.
#[test]
fn rmi_prunes_untagged_parents_unless_noprune() {
    let d = daemon();
    let chain = |tag: &str| -> (String, String) {
        d.docker_ok(&["run", "--name", "one", "busybox", "touch", "/one"]);
        let parent = d.docker_ok(&["commit", "one"]).trim().to_string();
        d.docker_ok(&["run", "--name", "two", &parent, "touch", "/two"]);
        let child = d.docker_ok(&["commit", "two", tag]).trim().to_string();
        d.docker_ok(&["rm", "one", "two"]);
        (parent, child)
    };
    let (parent, child) = chain("kid:v1");
    let r = d.delete("/v1.44/images/kid:v1");
    assert_eq!(r.status, 200, "{}", r.text());
    let deleted: Vec<String> = r
        .json()
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["Deleted"].as_str().map(str::to_string))
        .collect();
    assert!(
        deleted.contains(&child) && deleted.contains(&parent),
        "{deleted:?}"
    );
    assert_eq!(d.get(&format!("/v1.44/images/{parent}/json")).status, 404);
    // The base image is tagged: it stays.
    assert_eq!(d.get("/v1.44/images/busybox/json").status, 200);
    // noprune keeps the parent.
    let (parent, _) = chain("kid:v2");
    let r = d.delete("/v1.44/images/kid:v2?noprune=1");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(d.get(&format!("/v1.44/images/{parent}/json")).status, 200);
    d.remove_all_containers();
}

/// A container removed while its export streams: the removal goes ahead, the export ends,
/// and nothing is left mounted.
#[test]
fn a_removal_during_an_export_leaves_nothing_behind() {
    use std::io::{Read, Write};
    let d = daemon();
    d.docker_ok(&[
        "run",
        "--name",
        "big",
        "busybox",
        "sh",
        "-c",
        "mkdir /data && cd /data && i=0; while [ $i -lt 200 ]; do \
         head -c 102400 /dev/urandom > f$i; i=$((i+1)); done",
    ]);
    let mut s = std::os::unix::net::UnixStream::connect(&d.socket).unwrap();
    s.write_all(
        b"GET /v1.44/containers/big/export HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .unwrap();
    // Read a little, so the export is under way with most of it unread.
    let mut first = vec![0u8; 64 * 1024];
    s.read_exact(&mut first)
        .unwrap_or_else(|e| panic!("{e}: {}", d.log()));
    assert!(String::from_utf8_lossy(&first[..12]).starts_with("HTTP/1.1 200"));
    let r = d.delete("/v1.44/containers/big?force=1");
    assert_eq!(r.status, 204, "{}", r.text());
    // The rest of the stream ends (whole or cut short), and the daemon serves on.
    s.set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .unwrap();
    let mut rest = Vec::new();
    let _ = s.read_to_end(&mut rest);
    drop(s);
    assert_eq!(d.get("/_ping").status, 200);
    berth_tests::audit::eventually(
        "the export's view is unmounted",
        std::time::Duration::from_secs(10),
        || {
            let views = d.exec_root().join("views");
            std::fs::read_dir(&views).map(|r| r.count()).unwrap_or(0) == 0
        },
    );
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(
        !mounts.contains(d.dir.path().to_str().unwrap()),
        "a mount of the daemon's is left"
    );
    assert_eq!(d.get("/v1.44/containers/big/json").status, 404);
}
