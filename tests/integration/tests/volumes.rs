//! Named volumes through the docker CLI: create/ls/inspect/rm/prune, `-v name:/path` made on
//! first use and filled from the image, kept by `rm -v`, refused removal while in use, the
//! local driver's tmpfs and bind options, Docker's errors.

use berth_tests::Daemon;

fn fails_with(d: &Daemon, args: &[&str], words: &str) {
    let out = d.docker(args);
    assert!(!out.status.success(), "docker {args:?} succeeded");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(words), "docker {args:?}: {err}");
}

#[test]
fn named_volumes_keep_data_and_follow_dockers_rules() {
    let d = Daemon::start();
    d.import_busybox("busybox:latest");
    assert_eq!(
        d.docker_ok(&["volume", "create", "--label", "team=a", "data1"]),
        "data1\n"
    );
    let inspect = d.get("/v1.44/volumes/data1").json();
    assert_eq!(inspect["Name"], "data1");
    assert_eq!(inspect["Driver"], "local");
    assert_eq!(inspect["Scope"], "local");
    assert_eq!(inspect["Labels"]["team"], "a");
    assert!(inspect["Mountpoint"]
        .as_str()
        .unwrap()
        .ends_with("/volumes/data1/_data"));
    let listed = d.docker_ok(&["volume", "ls", "-q", "--filter", "label=team=a"]);
    assert_eq!(listed, "data1\n");
    // Data outlives the container that wrote it.
    d.docker_ok(&[
        "run",
        "--name",
        "writer",
        "-v",
        "data1:/data",
        "busybox",
        "sh",
        "-c",
        "echo kept > /data/f",
    ]);
    assert_eq!(
        d.docker_ok(&[
            "run",
            "--rm",
            "-v",
            "data1:/data",
            "busybox",
            "cat",
            "/data/f"
        ]),
        "kept\n"
    );
    // `system df`: the volume with its labels, its size and the one container using it.
    let df = d.get("/v1.44/system/df").json();
    let row = df["Volumes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["Name"] == "data1")
        .cloned()
        .unwrap();
    assert_eq!(row["Labels"]["team"], "a", "{row}");
    assert_eq!(row["UsageData"]["RefCount"], 1, "{row}");
    assert!(row["UsageData"]["Size"].as_i64().unwrap() >= 5, "{row}");
    // In use by a stopped container: refused; `rm -v` of it keeps the named volume.
    fails_with(&d, &["volume", "rm", "data1"], "volume is in use");
    d.docker_ok(&["rm", "-v", "writer"]);
    assert!(d.docker_ok(&["volume", "ls", "-q"]).contains("data1"));
    d.docker_ok(&["volume", "rm", "data1"]);
    fails_with(&d, &["volume", "inspect", "data1"], "no such volume");
    // Made on first use, filled from the image's content at its path.
    let passwd = d.docker_ok(&[
        "run",
        "--rm",
        "-v",
        "etcvol:/etc",
        "busybox",
        "cat",
        "/etc/passwd",
    ]);
    assert!(passwd.contains("root:x:0:0"), "{passwd}");
    assert!(d.docker_ok(&["volume", "ls", "-q"]).contains("etcvol"));
    // Docker's errors.
    fails_with(
        &d,
        &["volume", "create", "bad name!"],
        "includes invalid characters",
    );
    fails_with(
        &d,
        &["volume", "create", "-d", "nope", "v2"],
        "plugin \"nope\" not found",
    );
    // Prune: anonymous volumes go, named ones only with --all.
    d.docker_ok(&["run", "--name", "anon", "-v", "/anon", "busybox", "true"]);
    d.docker_ok(&["rm", "anon"]);
    let before = d.docker_ok(&["volume", "ls", "-q"]);
    assert_eq!(before.lines().count(), 2, "{before}");
    d.docker_ok(&["volume", "prune", "-f"]);
    assert_eq!(d.docker_ok(&["volume", "ls", "-q"]), "etcvol\n");
    d.docker_ok(&["volume", "prune", "-f", "--all"]);
    assert_eq!(d.docker_ok(&["volume", "ls", "-q"]), "");
    d.remove_all_containers();
}

#[test]
fn the_local_drivers_tmpfs_and_bind_options() {
    let d = Daemon::start();
    d.import_busybox("busybox:latest");
    d.docker_ok(&[
        "volume",
        "create",
        "--opt",
        "type=tmpfs",
        "--opt",
        "o=size=1m",
        "tv",
    ]);
    let mounts = d.docker_ok(&[
        "run",
        "--rm",
        "-v",
        "tv:/t",
        "busybox",
        "sh",
        "-c",
        "grep ' /t ' /proc/mounts",
    ]);
    assert!(mounts.contains("tmpfs"), "{mounts}");
    let data = d.get("/v1.44/volumes/tv").json()["Mountpoint"]
        .as_str()
        .unwrap()
        .to_string();
    d.docker_ok(&["volume", "rm", "tv"]);
    assert!(!std::path::Path::new(&data).exists());
    let host = tempfile::tempdir().unwrap();
    d.docker_ok(&[
        "volume",
        "create",
        "--opt",
        "type=none",
        "--opt",
        "o=bind",
        "--opt",
        &format!("device={}", host.path().display()),
        "bv",
    ]);
    d.docker_ok(&[
        "run",
        "--rm",
        "-v",
        "bv:/b",
        "busybox",
        "sh",
        "-c",
        "echo through > /b/f",
    ]);
    assert_eq!(
        std::fs::read_to_string(host.path().join("f")).unwrap(),
        "through\n"
    );
    d.docker_ok(&["volume", "rm", "bv"]);
    assert!(
        host.path().join("f").exists(),
        "removing the volume keeps the host's files"
    );
    d.remove_all_containers();
}
