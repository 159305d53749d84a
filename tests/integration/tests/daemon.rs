//! berthd as a process: flags, the data-root lock, listeners, signals, restarts and crashes.

use std::process::Stdio;
use std::time::Duration;

use berth_tests::{berthd_bin, tarball, Daemon};

#[test]
fn sigterm_shuts_down_cleanly() {
    let mut d = Daemon::start();
    let pidfile = d.dir.path().join("berthd.pid");
    assert_eq!(
        std::fs::read_to_string(&pidfile).unwrap().trim(),
        d.pid().to_string()
    );
    let status = d.stop();
    assert!(status.success(), "{status}");
    assert!(!d.socket.exists(), "socket file left behind");
    assert!(!pidfile.exists(), "pidfile left behind");
}

/// Streams that follow a running container (logs, attach) when the daemon is asked to stop:
/// it stops cleanly, and nothing panics on its way out (a log follower waiting on the
/// runtime's timer did).
#[test]
fn sigterm_with_followers_open_shuts_down_without_a_panic() {
    use std::io::Read;
    let mut d = Daemon::start();
    d.import_busybox("busybox:latest");
    let id = d.docker_ok(&[
        "run",
        "-d",
        "busybox",
        "sh",
        "-c",
        "while true; do echo tick; sleep 0.1; done",
    ]);
    let id = id.trim();
    let mut logs = berth_tests::hijack(
        &d.socket,
        &format!("/v1.44/containers/{id}/logs?follow=1&stdout=1"),
        b"",
    );
    let mut attach = berth_tests::hijack(
        &d.socket,
        &format!("/v1.44/containers/{id}/attach?stream=1&stdout=1"),
        b"",
    );
    let mut buf = [0u8; 1024];
    for s in [&mut logs, &mut attach] {
        assert!(s.read(&mut buf).unwrap() > 0);
    }
    let status = d.stop();
    assert!(status.success(), "{status}");
    let log = d.log();
    assert!(!log.contains("panicked"), "{log}");
    drop((logs, attach));
    d.spawn();
    d.remove_all_containers();
}

#[test]
fn a_second_daemon_on_the_same_data_root_is_refused() {
    let d = Daemon::start();
    let out = d
        .command()
        .arg("-H")
        .arg(format!("unix://{}/other.sock", d.dir.path().display()))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("is in use by another berthd"), "{err}");
    assert_eq!(
        d.get("/_ping").status,
        200,
        "the first daemon keeps serving"
    );
}

#[test]
fn non_loopback_tcp_needs_a_flag() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(berthd_bin())
        .args([
            "--data-root",
            dir.path().join("d").to_str().unwrap(),
            "--exec-root",
            dir.path().join("e").to_str().unwrap(),
        ])
        .args(["-H", "tcp://0.0.0.0:0"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--allow-remote-api"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bad = std::process::Command::new(berthd_bin())
        .args(["--data-root", "/nonexistent-berth/x", "-H", "bogus://x"])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("invalid host"));
}

#[test]
fn serves_tcp_on_loopback_and_unix_at_once() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let d = Daemon::start_with(&["-H", &format!("tcp://127.0.0.1:{port}")]);
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.write_all(b"GET /v1.18/_ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    assert!(
        resp.starts_with("HTTP/1.1 200") && resp.ends_with("OK"),
        "{resp}"
    );
    assert_eq!(d.get("/_ping").status, 200);
}

#[test]
fn version_flag() {
    let out = std::process::Command::new(berthd_bin())
        .arg("--version")
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("berthd {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn images_and_tags_survive_restart_and_crash() {
    let mut d = Daemon::start();
    let id = d.import(&tarball(&[("a", b"1")]), "keep:1");
    d.post(&format!("/v1.18/images/{id}/tag?repo=keep&tag=2"));
    d.stop();
    d.spawn();
    assert_eq!(d.get("/v1.18/images/keep:2/json").json()["Id"], id.as_str());
    d.kill();
    d.spawn();
    assert_eq!(d.get("/v1.18/images/keep:1/json").json()["Id"], id.as_str());
    assert_eq!(
        d.get("/v1.18/images/json").json().as_array().unwrap().len(),
        1
    );
}

#[test]
fn kill_9_mid_import_leaves_a_consistent_store() {
    use std::io::Write;
    let mut d = Daemon::start();
    let id = d.import(&tarball(&[("a", b"1")]), "before:1");
    let body = std::fs::read(berth_tests::busybox_tar()).unwrap();
    let mut s = std::os::unix::net::UnixStream::connect(&d.socket).unwrap();
    let head = format!(
        "POST /v1.18/images/create?fromSrc=-&repo=half HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-tar\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(&body[..body.len() / 2]).unwrap();
    // Let the daemon start unpacking, then crash it.
    let root = d.data_root().join("image");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while std::fs::read_dir(root.join("ingest")).unwrap().count() == 0 {
        assert!(std::time::Instant::now() < deadline, "import never started");
        std::thread::sleep(Duration::from_millis(5));
    }
    d.kill();
    drop(s);
    d.spawn();
    let images = d.get("/v1.18/images/json").json();
    assert_eq!(images.as_array().unwrap().len(), 1, "{images}");
    assert_eq!(images[0]["Id"], id.as_str());
    assert_eq!(std::fs::read_dir(root.join("ingest")).unwrap().count(), 0);
    assert_eq!(
        std::fs::read_dir(root.join("layers")).unwrap().count(),
        1,
        "half-made layer left"
    );
    assert_eq!(
        std::fs::read_dir(root.join("blobs/sha256"))
            .unwrap()
            .count(),
        2
    );
    assert_eq!(d.get("/v1.18/images/half/json").status, 404);
}

#[test]
fn stale_socket_file_is_replaced() {
    let mut d = Daemon::start();
    d.kill();
    assert!(d.socket.exists(), "a crash leaves the socket file");
    d.spawn();
    assert_eq!(d.get("/_ping").status, 200);
    let _ = Stdio::null();
}

/// A container recorded by the berthd before the typed spec (schema 1, `config.v1.json`) is
/// read by today's, shown in inspect as it was then, and its record rewritten in the current
/// schema.
#[test]
fn records_of_an_older_berthd_are_migrated() {
    let mut d = Daemon::start();
    let image = d.import_busybox("busybox:latest");
    d.stop();
    let mut rec: serde_json::Value = serde_json::from_str(include_str!(
        "../../../crates/engine/testdata/record-v1.json"
    ))
    .unwrap();
    let mut want: serde_json::Value = serde_json::from_str(include_str!(
        "../../../crates/engine/testdata/record-v1.inspect.json"
    ))
    .unwrap();
    // Made again on this data root: stopped, no bind mounts of the machine it came from.
    let id = "5eed".repeat(16);
    rec["id"] = id.clone().into();
    rec["image_id"] = image.clone().into();
    rec["state"] = serde_json::json!({"status": "exited", "pid": 0, "monitor_pid": 0,
        "monitor_start": 0, "exit_code": 3, "error": "", "oom_killed": false,
        "started_at": "2026-12-06T21:48:41Z", "finished_at": "2026-12-06T21:49:41Z",
        "stopped_by_user": false});
    rec["mounts"] = serde_json::json!([]);
    rec["network"] = serde_json::Value::Null;
    rec["host_config"]["Binds"] = serde_json::Value::Null;
    want["HostConfig"]["Binds"] = serde_json::Value::Null;
    // The previous build showed `AutoRemove` at 1.18; it came with API 1.25.
    want["HostConfig"]
        .as_object_mut()
        .unwrap()
        .remove("AutoRemove");
    let dir = d.data_root().join("containers").join(&id);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("config.v1.json"), rec.to_string()).unwrap();
    d.spawn();
    let i = d.get(&format!("/v1.18/containers/{id}/json")).json();
    assert_eq!(i["Name"], "/rich", "{i}");
    assert_eq!(i["State"]["ExitCode"], 3, "{i}");
    assert_eq!(i["Config"], want["Config"]);
    assert_eq!(i["HostConfig"], want["HostConfig"]);
    let now: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("record.json")).unwrap()).unwrap();
    assert_eq!(now["schema"], 2);
    assert!(
        !dir.join("config.v1.json").exists(),
        "the old record is replaced"
    );
    // And it lives on as any container does.
    assert_eq!(d.delete(&format!("/containers/{id}")).status, 204);
    assert!(!dir.exists());
}
