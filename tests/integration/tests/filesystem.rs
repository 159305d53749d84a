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
    // The init layer's files are not the container's.
    assert!(find(".dockerenv").is_none());
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
