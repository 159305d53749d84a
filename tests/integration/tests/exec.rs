//! Exec: with the docker CLI and over raw HTTP.

use berth_tests::Daemon;

fn daemon_with_container() -> Daemon {
    let d = Daemon::start();
    d.import_busybox("busybox:latest");
    d.docker_ok(&["run", "-d", "--name", "box", "busybox", "sleep", "1000"]);
    d
}

#[test]
fn docker_exec_output_exit_codes_stdin_and_user() {
    let d = daemon_with_container();
    let out = d.docker(&["exec", "box", "sh", "-c", "echo out; echo err >&2; exit 5"]);
    assert_eq!(out.status.code(), Some(5));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "out\n");
    assert_eq!(String::from_utf8_lossy(&out.stderr), "err\n");
    let mut child = d
        .docker_cmd(&["exec", "-i", "box", "sh", "-c", "cat; echo done"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"line one\nline two\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "line one\nline two\ndone\n"
    );
    assert_eq!(
        d.docker_ok(&["exec", "-u", "nobody", "box", "id", "-u"])
            .trim(),
        "65534"
    );
    // It joins the container's PID namespace: the container's process is PID 1.
    let ps = d.docker_ok(&["exec", "box", "ps", "-o", "pid,comm"]);
    assert!(
        ps.lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>() == ["1", "sleep"]),
        "{ps}"
    );
    let caps = d.docker_ok(&[
        "exec",
        "--privileged",
        "box",
        "grep",
        "CapEff",
        "/proc/self/status",
    ]);
    assert_ne!(
        caps.trim(),
        "CapEff:\t00000000a80425fb",
        "privileged exec holds more capabilities"
    );
}

#[test]
fn exec_into_stopped_or_paused_containers_is_refused() {
    let d = daemon_with_container();
    d.docker_ok(&["pause", "box"]);
    let paused = d.docker(&["exec", "box", "true"]);
    assert!(String::from_utf8_lossy(&paused.stderr)
        .contains("is paused, unpause the container before exec"));
    d.docker_ok(&["unpause", "box"]);
    d.docker_ok(&["stop", "-t", "0", "box"]);
    let stopped = d.docker(&["exec", "box", "true"]);
    assert!(String::from_utf8_lossy(&stopped.stderr).contains("is not running"));
}

#[test]
fn exec_api_inspect_and_events() {
    let d = daemon_with_container();
    let body = br#"{"AttachStdout": true, "AttachStderr": true, "Cmd": ["sh", "-c", "exit 2"]}"#;
    let r = d.request(
        "POST",
        "/v1.18/containers/box/exec",
        &[("Content-Type", "application/json")],
        body,
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let id = r.json()["Id"].as_str().unwrap().to_string();
    let before = d.get(&format!("/v1.18/exec/{id}/json")).json();
    assert_eq!(before["Running"], false);
    assert_eq!(before["ProcessConfig"]["entrypoint"], "sh");
    let start = d.request(
        "POST",
        &format!("/v1.18/exec/{id}/start"),
        &[("Content-Type", "application/json")],
        br#"{"Detach": false, "Tty": false}"#,
    );
    assert_eq!(start.status, 200);
    let mut after = serde_json::Value::Null;
    for _ in 0..100 {
        after = d.get(&format!("/v1.18/exec/{id}/json")).json();
        if after["Running"] == false && after["ExitCode"] == 2 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert_eq!(after["ExitCode"], 2, "{after}");
    assert_eq!(
        after["ProcessConfig"]["arguments"],
        serde_json::json!(["-c", "exit 2"])
    );
    assert_eq!(after["Container"]["State"]["Running"], true);
    assert!(
        after.get("ContainerID").is_none(),
        "ContainerID came with API 1.22"
    );
    assert_eq!(d.post(&format!("/v1.18/exec/{id}/start")).status, 409);
    assert_eq!(d.get("/v1.18/exec/nope/json").status, 404);
    let empty = d.request(
        "POST",
        "/v1.18/containers/box/exec",
        &[("Content-Type", "application/json")],
        br#"{"Cmd": []}"#,
    );
    assert_eq!(empty.status, 400);
    let until = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 1;
    let events = d
        .get(&format!("/v1.18/events?since=0&until={until}"))
        .json_lines();
    let actions: Vec<&str> = events
        .iter()
        .filter_map(|e| e["status"].as_str())
        .filter(|s| s.starts_with("exec"))
        .collect();
    assert_eq!(
        actions,
        [
            "exec_create: sh -c exit 2",
            "exec_start: sh -c exit 2",
            "exec_die"
        ]
    );
}
