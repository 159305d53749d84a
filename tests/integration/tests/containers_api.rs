//! Container endpoints over raw HTTP: status codes, messages, shapes per version, framing,
//! and containers outliving a crashed daemon.

use std::time::Duration;

use berth_tests::audit::{open_fds, rss_kib};
use berth_tests::{Daemon, VERSIONS};

fn daemon() -> Daemon {
    let d = Daemon::start();
    d.import_busybox("busybox:latest");
    d
}

fn create(d: &Daemon, v: &str, name: &str, body: serde_json::Value) -> berth_tests::Response {
    let body = serde_json::to_vec(&body).unwrap();
    let q = if name.is_empty() {
        String::new()
    } else {
        format!("?name={name}")
    };
    d.request(
        "POST",
        &format!("{v}/containers/create{q}"),
        &[("Content-Type", "application/json")],
        &body,
    )
}

fn create_ok(d: &Daemon, name: &str, cmd: &[&str]) -> String {
    let r = create(
        d,
        "/v1.18",
        name,
        serde_json::json!({"Image": "busybox", "Cmd": cmd}),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    r.json()["Id"].as_str().unwrap().to_string()
}

fn wait_exit(d: &Daemon, id: &str) -> i64 {
    let r = d.post(&format!("/v1.18/containers/{id}/wait"));
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()["StatusCode"].as_i64().unwrap()
}

#[test]
fn create_errors_have_docker_codes_and_messages() {
    let d = daemon();
    let bad_json = d.request(
        "POST",
        "/v1.18/containers/create",
        &[("Content-Type", "application/json")],
        b"{\"Image\": ",
    );
    assert_eq!(bad_json.status, 400);
    let wrong_type = create(
        &d,
        "/v1.18",
        "",
        serde_json::json!({"Image": "busybox", "HostConfig": {"Memory": "lots"}}),
    );
    assert_eq!(wrong_type.status, 400);
    assert!(
        wrong_type.text().contains("HostConfig.Memory"),
        "{}",
        wrong_type.text()
    );
    let tty_type = create(
        &d,
        "/v1.18",
        "",
        serde_json::json!({"Image": "busybox", "Tty": "yes"}),
    );
    assert_eq!(tty_type.status, 400);
    assert!(tty_type.text().contains("Tty"), "{}", tty_type.text());
    let missing = create(
        &d,
        "/v1.18",
        "",
        serde_json::json!({"Image": "nothere", "Cmd": ["true"]}),
    );
    assert_eq!(missing.status, 404);
    assert_eq!(missing.text(), "No such image: nothere\n");
    let bad_name = create(
        &d,
        "/v1.18",
        "_bad",
        serde_json::json!({"Image": "busybox", "Cmd": ["true"]}),
    );
    assert_eq!(bad_name.status, 400);
    assert!(
        bad_name.text().contains("Invalid container name"),
        "{}",
        bad_name.text()
    );
    let no_cmd = d.import(&berth_tests::tarball(&[("f", b"1")]), "nocmd:latest");
    let _ = no_cmd;
    let r = create(&d, "/v1.18", "", serde_json::json!({"Image": "nocmd"}));
    assert_eq!(r.status, 400);
    assert_eq!(r.text(), "No command specified\n");
    let id = create_ok(&d, "taken", &["true"]);
    let dup = create(
        &d,
        "/v1.18",
        "taken",
        serde_json::json!({"Image": "busybox", "Cmd": ["true"]}),
    );
    assert_eq!(dup.status, 409);
    assert!(
        dup.text().contains(&format!(
            "The container name \"/taken\" is already in use by container \"{id}\""
        )),
        "{}",
        dup.text()
    );
    // Unknown fields are ignored (today's CLI sends many).
    let r = create(
        &d,
        "/v1.18",
        "",
        serde_json::json!({"Image": "busybox", "Cmd": ["true"], "SomethingNew": {"x": 1}, "HostConfig": {"Future": true}}),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    // Nothing half-made for the refused ones.
    assert_eq!(
        d.get("/v1.18/containers/json?all=1")
            .json()
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

#[test]
fn state_changes_and_their_status_codes() {
    let d = daemon();
    let id = create_ok(&d, "st", &["sleep", "1000"]);
    assert_eq!(d.post(&format!("/v1.18/containers/{id}/stop")).status, 304);
    let r = d.post(&format!("/v1.18/containers/{id}/kill"));
    assert_eq!(r.status, 409);
    assert_eq!(r.text(), format!("Container {id} is not running\n"));
    assert_eq!(d.post(&format!("/v1.18/containers/{id}/start")).status, 204);
    assert_eq!(d.post(&format!("/v1.18/containers/{id}/start")).status, 304);
    let r = d.delete(&format!("/v1.18/containers/{id}"));
    assert_eq!(r.status, 409);
    assert!(
        r.text()
            .starts_with("You cannot remove a running container"),
        "{}",
        r.text()
    );
    assert_eq!(
        d.post(&format!("/v1.18/containers/{id}/kill?signal=SIGUSR1"))
            .status,
        204
    );
    assert_eq!(
        d.post(&format!("/v1.18/containers/{id}/kill?signal=NOPE"))
            .status,
        400
    );
    assert_eq!(d.post(&format!("/v1.18/containers/{id}/pause")).status, 204);
    assert_eq!(d.post(&format!("/v1.18/containers/{id}/pause")).status, 409);
    assert_eq!(
        d.post(&format!("/v1.18/containers/{id}/unpause")).status,
        204
    );
    assert_eq!(
        d.post(&format!("/v1.18/containers/{id}/stop?t=1")).status,
        204
    );
    assert_eq!(wait_exit(&d, &id), 137);
    assert_eq!(d.post("/v1.18/containers/nope/start").status, 404);
    assert_eq!(
        d.post("/v1.18/containers/nope/start").text(),
        "No such container: nope\n"
    );
    assert_eq!(d.delete(&format!("/v1.18/containers/{id}")).status, 204);
    assert_eq!(d.get(&format!("/v1.18/containers/{id}/json")).status, 404);
}

#[test]
fn start_accepts_a_host_config_body_as_documented() {
    let d = daemon();
    let id = create_ok(&d, "hc", &["cat", "/etc/resolv.conf"]);
    let body = br#"{"Dns": ["10.1.2.3"], "DnsSearch": ["example.test"]}"#;
    let r = d.request(
        "POST",
        &format!("/v1.18/containers/{id}/start"),
        &[("Content-Type", "application/json")],
        body,
    );
    assert_eq!(r.status, 204, "{}", r.text());
    assert_eq!(wait_exit(&d, &id), 0);
    let logs = d.get(&format!("/v1.18/containers/{id}/logs?stdout=1"));
    let text = String::from_utf8_lossy(&logs.body).to_string();
    assert!(
        text.contains("nameserver 10.1.2.3") && text.contains("search example.test"),
        "{text}"
    );
}

#[test]
fn list_and_inspect_shapes_per_version() {
    let d = daemon();
    let id = create_ok(&d, "shape", &["sh", "-c", "echo hi"]);
    let body =
        serde_json::json!({"Image": "busybox", "Cmd": ["sleep", "100"], "Labels": {"team": "a"}});
    let r = create(&d, "/v1.18", "labelled", body);
    let labelled = r.json()["Id"].as_str().unwrap().to_string();
    d.post(&format!("/v1.18/containers/{id}/start"));
    wait_exit(&d, &id);
    d.post(&format!("/v1.18/containers/{labelled}/start"));
    for v in VERSIONS {
        let all = d.get(&format!("{v}/containers/json?all=1")).json();
        let all = all.as_array().unwrap();
        assert_eq!(all.len(), 2, "{v}");
        // Newest first.
        assert_eq!(all[0]["Id"], labelled.as_str());
        let c = &all[1];
        assert_eq!(c["Names"][0], "/shape");
        assert_eq!(c["Image"], "busybox");
        assert_eq!(c["Command"], "sh -c echo hi");
        assert!(
            c["Status"].as_str().unwrap().starts_with("Exited (0) "),
            "{c}"
        );
        assert_eq!(
            c.get("Labels").is_some(),
            *v == "/v1.18" || v.is_empty(),
            "{v}: {c}"
        );
        let running = d.get(&format!("{v}/containers/json")).json();
        assert_eq!(running.as_array().unwrap().len(), 1);
        let i = d.get(&format!("{v}/containers/{id}/json")).json();
        assert_eq!(i["Id"], id.as_str());
        assert_eq!(i["Name"], "/shape");
        assert_eq!(i["State"]["ExitCode"], 0);
        assert_eq!(i["State"]["Running"], false);
        assert!(i["State"]["FinishedAt"].as_str().unwrap().starts_with("20"));
        assert_eq!(
            i["State"].get("Status").is_some(),
            v.is_empty(),
            "State.Status came with API 1.21"
        );
        // Volumes/VolumesRW gave way to Mounts in 1.21.
        assert_eq!(i.get("VolumesRW").is_some(), !v.is_empty(), "{v}");
        assert!(i.get("HostConfig").is_some());
        assert_eq!(
            i["Config"]["Cmd"],
            serde_json::json!(["sh", "-c", "echo hi"])
        );
        assert_eq!(i["Config"]["Hostname"], &id[..12]);
        // Image IDs carry `sha256:` from 1.22.
        let image_len = if v.is_empty() { 71 } else { 64 };
        assert_eq!(i["Image"].as_str().unwrap().len(), image_len, "{v}");
        for key in ["HostnamePath", "HostsPath", "ResolvConfPath", "LogPath"] {
            let p = i[key].as_str().unwrap();
            assert!(std::path::Path::new(p).exists(), "{key} {p} does not exist");
        }
    }
    let filter = |f: &str| {
        d.get(&format!("/v1.18/containers/json?all=1&filters={f}"))
            .json()
            .as_array()
            .unwrap()
            .len()
    };
    assert_eq!(filter("%7B%22exited%22%3A%5B%220%22%5D%7D"), 1);
    assert_eq!(filter("%7B%22status%22%3A%5B%22running%22%5D%7D"), 1);
    assert_eq!(filter("%7B%22label%22%3A%5B%22team%3Da%22%5D%7D"), 1);
    assert_eq!(filter("%7B%22label%22%3A%5B%22team%3Db%22%5D%7D"), 0);
    assert_eq!(
        d.get("/v1.18/containers/json?limit=1")
            .json()
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        d.get(&format!("/v1.18/containers/json?before={labelled}"))
            .json()[0]["Id"],
        id.as_str()
    );
    assert_eq!(
        d.get(&format!("/v1.18/containers/json?since={id}")).json()[0]["Id"],
        labelled.as_str()
    );
    let sized = d.get("/v1.18/containers/json?all=1&size=1").json();
    assert!(sized[0]["SizeRootFs"].as_i64().unwrap() > 1_000_000);
}

#[test]
fn logs_are_multiplexed_without_tty() {
    let d = daemon();
    let id = create_ok(&d, "mux", &["sh", "-c", "echo out; echo err >&2"]);
    d.post(&format!("/v1.18/containers/{id}/start"));
    wait_exit(&d, &id);
    let r = d.get(&format!("/v1.18/containers/{id}/logs?stdout=1&stderr=1"));
    assert_eq!(r.status, 200);
    let b = &r.body;
    // Two frames: [stream,0,0,0,len BE] + payload.
    assert_eq!(&b[..8], &[1, 0, 0, 0, 0, 0, 0, 4]);
    assert_eq!(&b[8..12], b"out\n");
    assert_eq!(&b[12..20], &[2, 0, 0, 0, 0, 0, 0, 4]);
    assert_eq!(&b[20..24], b"err\n");
    assert_eq!(b.len(), 24);
    let only_err = d.get(&format!("/v1.18/containers/{id}/logs?stderr=1"));
    assert_eq!(only_err.body.len(), 12);
    let none = d.get(&format!("/v1.18/containers/{id}/logs"));
    assert_eq!(none.status, 400);
}

#[test]
fn top_lists_only_the_container() {
    let d = daemon();
    let id = create_ok(&d, "top", &["sleep", "1000"]);
    d.post(&format!("/v1.18/containers/{id}/start"));
    let t = d.get(&format!("/v1.18/containers/{id}/top")).json();
    assert_eq!(t["Titles"][1], "PID");
    let procs = t["Processes"].as_array().unwrap();
    assert_eq!(procs.len(), 1, "{t}");
    assert_eq!(procs[0].as_array().unwrap().last().unwrap(), "sleep 1000");
    let aux = d
        .get(&format!("/v1.18/containers/{id}/top?ps_args=aux"))
        .json();
    assert_eq!(aux["Titles"][0], "USER");
    let stopped = create_ok(&d, "idle", &["true"]);
    assert_eq!(
        d.get(&format!("/v1.18/containers/{stopped}/top")).status,
        409
    );
}

#[test]
fn events_for_container_transitions_in_docker_order() {
    let d = daemon();
    let t0 = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let id = create_ok(&d, "ev", &["sleep", "1000"]);
    d.post(&format!("/v1.18/containers/{id}/start"));
    d.post(&format!("/v1.18/containers/{id}/pause"));
    d.post(&format!("/v1.18/containers/{id}/unpause"));
    d.post(&format!("/v1.18/containers/{id}/rename?name=ev2"));
    d.post(&format!("/v1.18/containers/{id}/stop?t=0"));
    d.delete(&format!("/v1.18/containers/{id}"));
    let until = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 1;
    let events = d.get(&format!("/v1.18/events?since={t0}&until={until}&filters=%7B%22container%22%3A%5B%22{id}%22%5D%7D")).json_lines();
    let actions: Vec<&str> = events
        .iter()
        .map(|e| e["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "create", "start", "pause", "unpause", "rename", "kill", "kill", "die", "stop",
            "destroy"
        ],
        "{events:?}"
    );
    assert!(events
        .iter()
        .all(|e| e["id"] == id.as_str() && e["from"] == "busybox" && e["Type"] == "container"));
    let die = events.iter().find(|e| e["status"] == "die").unwrap();
    assert_eq!(die["Actor"]["Attributes"]["exitCode"], "137");
}

#[test]
fn attach_hijacks_with_101_and_streams_frames() {
    use std::io::Read;
    let d = daemon();
    let id = create_ok(&d, "att", &["sh", "-c", "sleep 0.3; echo attached"]);
    let mut s = berth_tests::hijack(
        &d.socket,
        &format!("/v1.18/containers/{id}/attach?stream=1&stdout=1&stderr=1"),
        b"",
    );
    assert_eq!(d.post(&format!("/v1.18/containers/{id}/start")).status, 204);
    let mut out = Vec::new();
    s.read_to_end(&mut out).unwrap();
    let text = String::from_utf8_lossy(&out);
    assert!(text.starts_with("HTTP/1.1 101"), "{text}");
    assert!(text.to_ascii_lowercase().contains("upgrade: tcp"));
    let body = &out[out.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4..];
    assert_eq!(&body[..8], &[1, 0, 0, 0, 0, 0, 0, 9]);
    assert_eq!(&body[8..], b"attached\n");
}

#[test]
fn containers_survive_a_daemon_crash() {
    let mut d = daemon();
    let logger = create_ok(
        &d,
        "logger",
        &[
            "sh",
            "-c",
            "i=0; while true; do echo tick$i; i=$((i+1)); sleep 0.05; done",
        ],
    );
    let short = create_ok(&d, "short", &["sh", "-c", "sleep 1; exit 7"]);
    let sleeper = create_ok(&d, "sleeper", &["sleep", "1000"]);
    for id in [&logger, &short, &sleeper] {
        assert_eq!(d.post(&format!("/v1.18/containers/{id}/start")).status, 204);
    }
    let pid_before =
        d.get(&format!("/v1.18/containers/{sleeper}/json")).json()["State"]["Pid"].clone();
    std::thread::sleep(Duration::from_millis(300));
    d.kill();
    // While the daemon is down: `short` exits, `logger` keeps logging.
    std::thread::sleep(Duration::from_millis(1500));
    d.spawn();
    let s = d.get(&format!("/v1.18/containers/{short}/json")).json();
    assert_eq!(s["State"]["Running"], false);
    assert_eq!(
        s["State"]["ExitCode"], 7,
        "exit code recorded while the daemon was down: {s}"
    );
    let sl = d.get(&format!("/v1.18/containers/{sleeper}/json")).json();
    assert_eq!(sl["State"]["Running"], true);
    assert_eq!(sl["State"]["Pid"], pid_before);
    // Every log line, with no gap, including those written while the daemon was down.
    std::thread::sleep(Duration::from_millis(200));
    let logs = d.get(&format!("/v1.18/containers/{logger}/logs?stdout=1"));
    let mut n = 0;
    let mut b = &logs.body[..];
    while b.len() >= 8 {
        let len = u32::from_be_bytes([b[4], b[5], b[6], b[7]]) as usize;
        let line = std::str::from_utf8(&b[8..8 + len]).unwrap();
        assert_eq!(line, format!("tick{n}\n"));
        n += 1;
        b = &b[8 + len..];
    }
    assert!(n >= 30, "only {n} lines");
    // Stop and wait work on reconnected containers.
    assert_eq!(
        d.post(&format!("/v1.18/containers/{sleeper}/stop?t=1"))
            .status,
        204
    );
    assert_eq!(wait_exit(&d, &sleeper), 137);
    assert_eq!(
        d.post(&format!("/v1.18/containers/{logger}/kill")).status,
        204
    );
    assert_eq!(wait_exit(&d, &logger), 137);
}

#[test]
fn always_containers_come_back_after_the_daemon_restarts() {
    let mut d = daemon();
    let body = serde_json::json!({"Image": "busybox", "Cmd": ["sleep", "1000"], "HostConfig": {"RestartPolicy": {"Name": "always"}}});
    let id = create(&d, "/v1.18", "always", body).json()["Id"]
        .as_str()
        .unwrap()
        .to_string();
    d.post(&format!("/v1.18/containers/{id}/start"));
    d.kill();
    // The container dies while the daemon is down.
    let pid = std::fs::read_to_string(
        d.data_root()
            .join("containers")
            .join(&id)
            .join("record.json"),
    )
    .unwrap();
    let rec: serde_json::Value = serde_json::from_str(&pid).unwrap();
    let pid = rec["state"]["pid"].as_i64().unwrap();
    std::process::Command::new("kill")
        .arg("-9")
        .arg(pid.to_string())
        .status()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    d.spawn();
    let i = d.get(&format!("/v1.18/containers/{id}/json")).json();
    assert_eq!(i["State"]["Running"], true, "{i}");
    assert_ne!(i["State"]["Pid"].as_i64().unwrap(), pid);
}

#[test]
fn a_failed_start_leaves_nothing_mounted_and_can_be_removed() {
    let d = daemon();
    let id = create_ok(&d, "bad", &["/does/not/exist"]);
    let r = d.post(&format!("/v1.18/containers/{id}/start"));
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(
        r.text().contains("executable file not found"),
        "{}",
        r.text()
    );
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(!mounts.contains(&id), "root filesystem left mounted");
    assert_eq!(d.delete(&format!("/v1.18/containers/{id}")).status, 204);
    assert!(!d.data_root().join("containers").join(&id).exists());
    assert!(!d.data_root().join("overlay").join(&id).exists());
}

#[test]
fn fast_output_never_waits_for_a_slow_log_reader() {
    use std::io::Write;
    let d = daemon();
    // 20 MB in 1000-byte lines, as fast as the container can write.
    let id = create_ok(
        &d,
        "loud",
        &[
            "sh",
            "-c",
            "head -c 20000000 /dev/zero | tr '\\0' a | fold -w 1000; echo; echo done",
        ],
    );
    // A follower that never reads.
    let mut stalled = std::os::unix::net::UnixStream::connect(&d.socket).unwrap();
    stalled
        .write_all(
            format!(
                "GET /v1.18/containers/{id}/logs?stdout=1&follow=1 HTTP/1.1\r\nHost: x\r\n\r\n"
            )
            .as_bytes(),
        )
        .unwrap();
    let before = rss_kib(d.pid());
    let t = std::time::Instant::now();
    assert_eq!(d.post(&format!("/v1.18/containers/{id}/start")).status, 204);
    assert_eq!(wait_exit(&d, &id), 0);
    let elapsed = t.elapsed();
    let after = rss_kib(d.pid());
    drop(stalled);
    // All of it is in the log, in order.
    let log = std::fs::read_to_string(
        d.data_root()
            .join("containers")
            .join(&id)
            .join(format!("{id}-json.log")),
    )
    .unwrap();
    let lines: Vec<&str> = log.lines().collect();
    assert_eq!(lines.len(), 20_001);
    assert!(lines.last().unwrap().starts_with(r#"{"log":"done\n""#));
    // The daemon did not buffer the output for the stalled reader.
    assert!(
        after < before + 32 * 1024,
        "daemon RSS grew from {before} KiB to {after} KiB"
    );
    eprintln!("20 MB of output logged in {elapsed:?}");
}

/// Attaches to a new container over a websocket at API `version`, writes a line to its stdin
/// and reads everything it prints: the output, and whether it came in binary frames.
fn websocket_round_trip(d: &Daemon, version: &str, name: &str) -> (String, bool) {
    let body = br#"{"Image":"busybox","Cmd":["sh","-c","read line; echo ws:$line"],"OpenStdin":true,"StdinOnce":true}"#;
    let r = d.request(
        "POST",
        &format!("/v{version}/containers/create?name={name}"),
        &[("Content-Type", "application/json")],
        body,
    );
    assert_eq!(r.status, 201);
    let stream = std::os::unix::net::UnixStream::connect(&d.socket).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let (mut ws, resp) = tungstenite::client::client(
        format!(
            "ws://localhost/v{version}/containers/{name}/attach/ws?stream=1&stdin=1&stdout=1&stderr=1"
        ),
        stream,
    )
    .expect("websocket handshake");
    assert_eq!(resp.status(), 101);
    assert_eq!(
        d.post(&format!("/v{version}/containers/{name}/start"))
            .status,
        204
    );
    ws.send(tungstenite::Message::text("over-websocket\n"))
        .unwrap();
    let (mut got, mut binary) = (Vec::new(), None);
    loop {
        match ws.read() {
            Ok(tungstenite::Message::Binary(b)) => {
                got.extend_from_slice(&b);
                assert_ne!(binary.replace(true), Some(false), "mixed frames");
            }
            Ok(tungstenite::Message::Text(t)) => {
                got.extend_from_slice(t.as_bytes());
                assert_ne!(binary.replace(false), Some(true), "mixed frames");
            }
            Ok(tungstenite::Message::Close(_)) | Err(_) => break,
            Ok(_) => {}
        }
    }
    (String::from_utf8_lossy(&got).into_owned(), binary.unwrap())
}

#[test]
fn attach_over_a_real_websocket() {
    let d = daemon();
    // Raw output, unframed: in text frames before 1.28, binary frames after (as Docker).
    assert_eq!(
        websocket_round_trip(&d, "1.18", "wsc"),
        ("ws:over-websocket\n".to_string(), false)
    );
    assert_eq!(
        websocket_round_trip(&d, "1.44", "wsd"),
        ("ws:over-websocket\n".to_string(), true)
    );
    // Not a websocket handshake: a plain 400.
    assert_eq!(d.get("/v1.18/containers/wsc/attach/ws").status, 400);
}

#[test]
fn detach_keys_leave_the_container_running() {
    use std::io::{Read, Write};
    let d = daemon();
    let body = br#"{"Image":"busybox","Cmd":["cat"],"OpenStdin":true}"#;
    let r = d.request(
        "POST",
        "/v1.18/containers/create?name=det",
        &[("Content-Type", "application/json")],
        body,
    );
    assert_eq!(r.status, 201);
    assert_eq!(d.post("/v1.18/containers/det/start").status, 204);
    let mut s = berth_tests::hijack(
        &d.socket,
        "/v1.18/containers/det/attach?stream=1&stdin=1&stdout=1",
        b"",
    );
    s.write_all(b"before\n").unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&out).contains("before") {
        let n = s.read(&mut buf).unwrap();
        assert!(n > 0, "closed early");
        out.extend_from_slice(&buf[..n]);
    }
    s.write_all(b"\x10\x11after\n").unwrap();
    s.read_to_end(&mut out).unwrap();
    let text = String::from_utf8_lossy(&out);
    assert!(text.contains("before"), "{text}");
    assert!(
        !text.contains("after"),
        "nothing after the detach keys reaches the container: {text}"
    );
    assert_eq!(
        d.get("/v1.18/containers/det/json").json()["State"]["Running"],
        true,
        "detaching does not stop it"
    );
}

/// Reads from `s` until `out` holds `want`.
fn read_until(s: &mut std::os::unix::net::UnixStream, out: &mut Vec<u8>, want: &str) {
    use std::io::Read;
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(out).contains(want) {
        let n = s.read(&mut buf).unwrap();
        assert!(
            n > 0,
            "closed before {want:?}: {:?}",
            String::from_utf8_lossy(out)
        );
        out.extend_from_slice(&buf[..n]);
    }
}

#[test]
fn plain_200_attach_is_two_way_and_survives_a_half_close() {
    use std::io::{Read, Write};
    let d = daemon();
    let body = br#"{"Image":"busybox","Cmd":["sh","-c","cat; echo stdin-closed"],"OpenStdin":true,"StdinOnce":true}"#;
    let r = d.request(
        "POST",
        "/v1.18/containers/create?name=plain",
        &[("Content-Type", "application/json")],
        body,
    );
    assert_eq!(r.status, 201);
    assert_eq!(d.post("/v1.18/containers/plain/start").status, 204);
    let mut s = std::os::unix::net::UnixStream::connect(&d.socket).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    // No Upgrade header: what clients before the 101 handshake sent.
    s.write_all(b"POST /v1.7/containers/plain/attach?stream=1&stdin=1&stdout=1&stderr=1 HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n").unwrap();
    let mut out = Vec::new();
    read_until(&mut s, &mut out, "\r\n\r\n");
    let head = String::from_utf8_lossy(&out).to_string();
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    // Each line goes in after the answer to the previous one came out: both directions
    // stay open on the same connection.
    for line in ["one", "two", "three"] {
        s.write_all(format!("{line}\n").as_bytes()).unwrap();
        read_until(&mut s, &mut out, &format!("{line}\n"));
    }
    // Closing our side of stdin ends the container's stdin (StdinOnce), and its last
    // output still arrives before the stream closes.
    s.shutdown(std::net::Shutdown::Write).unwrap();
    s.read_to_end(&mut out).unwrap();
    let body = &out[out.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4..];
    let (frames, stderr) = berth_tests::demux(body);
    assert!(stderr.is_empty());
    assert_eq!(
        String::from_utf8_lossy(&frames),
        "one\ntwo\nthree\nstdin-closed\n"
    );
    assert_eq!(wait_exit(&d, "plain"), 0);
}

#[test]
fn a_thousand_attach_and_vanish_cycles_leak_nothing() {
    use std::io::{Read, Write};
    let d = daemon();
    let body = br#"{"Image":"busybox","Cmd":["sh","-c","while true; do echo tick; sleep 0.01; done"],"OpenStdin":true}"#;
    let r = d.request(
        "POST",
        "/v1.18/containers/create?name=spin",
        &[("Content-Type", "application/json")],
        body,
    );
    assert_eq!(r.status, 201);
    assert_eq!(d.post("/v1.18/containers/spin/start").status, 204);
    let cycle = |i: usize| {
        let mut s = std::os::unix::net::UnixStream::connect(&d.socket).unwrap();
        // Both hijacks: 101 with an Upgrade header, plain 200 without.
        let upgrade = if i % 4 < 2 {
            "Upgrade: tcp\r\nConnection: Upgrade\r\n"
        } else {
            ""
        };
        s.write_all(format!("POST /v1.18/containers/spin/attach?stream=1&stdin=1&stdout=1&stderr=1 HTTP/1.1\r\nHost: x\r\n{upgrade}Content-Length: 0\r\n\r\n").as_bytes()).unwrap();
        if i.is_multiple_of(2) {
            // Read the answer and a little output before vanishing.
            let mut buf = [0u8; 512];
            let _ = s.read(&mut buf);
        }
        drop(s);
    };
    for i in 0..50 {
        cycle(i);
    }
    std::thread::sleep(Duration::from_millis(500));
    let (fds_before, rss_before) = (open_fds(d.pid()), rss_kib(d.pid()));
    for i in 0..1000 {
        cycle(i);
    }
    // Sessions notice their clients are gone within a follow round or two.
    std::thread::sleep(Duration::from_millis(1500));
    let (fds_after, rss_after) = (open_fds(d.pid()), rss_kib(d.pid()));
    assert!(
        fds_after <= fds_before + 5,
        "fds {fds_before} -> {fds_after}"
    );
    assert!(
        rss_after < rss_before + 16 * 1024,
        "RSS {rss_before} KiB -> {rss_after} KiB"
    );
    assert_eq!(
        d.get("/v1.18/containers/spin/json").json()["State"]["Running"],
        true,
        "the container keeps running"
    );
}
