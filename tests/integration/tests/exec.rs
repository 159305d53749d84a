//! Exec: with the docker CLI and over raw HTTP.

use berth_tests::Daemon;

fn daemon_with_container() -> Daemon {
    let d = Daemon::start();
    d.import_busybox("busybox:latest");
    d.docker_ok(&["run", "-d", "--name", "box", "busybox", "sleep", "1000"]);
    d
}

/// `POST /containers/box/exec` with `body`; the new exec's ID.
fn create_exec(d: &Daemon, body: &[u8]) -> String {
    let r = d.post_json("/v1.18/containers/box/exec", body);
    assert_eq!(r.status, 201, "{}", r.text());
    r.json()["Id"].as_str().unwrap().to_string()
}

/// Starts exec `id` attached, over a raw connection asking for the 101 hijack.
fn start_hijacked(d: &Daemon, id: &str, tty: bool) -> std::os::unix::net::UnixStream {
    let start = format!(r#"{{"Detach": false, "Tty": {tty}}}"#);
    berth_tests::hijack(
        &d.socket,
        &format!("/v1.18/exec/{id}/start"),
        start.as_bytes(),
    )
}

#[test]
fn docker_exec_output_exit_codes_stdin_and_user() {
    let d = daemon_with_container();
    let out = d.docker(&["exec", "box", "sh", "-c", "echo out; echo err >&2; exit 5"]);
    assert_eq!(out.status.code(), Some(5));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "out\n");
    assert_eq!(String::from_utf8_lossy(&out.stderr), "err\n");
    let out = d.docker_with_input(
        &["exec", "-i", "box", "sh", "-c", "cat; echo done"],
        b"line one\nline two\n",
    );
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
    // Docker's environment for an exec: HOME from the user's passwd entry, TERM only with a
    // terminal.
    assert_eq!(
        d.docker_ok(&[
            "exec",
            "-u",
            "nobody",
            "box",
            "sh",
            "-c",
            "echo $HOME:$TERM"
        ])
        .trim(),
        "/home:"
    );
    // Another user: no capabilities, and its stdio is its own (runc chowns it), so it can
    // reopen it.
    assert_eq!(
        d.docker_ok(&[
            "exec",
            "-u",
            "nobody",
            "box",
            "grep",
            "CapEff",
            "/proc/self/status"
        ])
        .trim(),
        "CapEff:\t0000000000000000"
    );
    let reopened = d.docker(&[
        "exec",
        "-u",
        "nobody",
        "box",
        "sh",
        "-c",
        "echo x >/dev/stderr",
    ]);
    assert_eq!(
        String::from_utf8_lossy(&reopened.stderr),
        "x\n",
        "{reopened:?}"
    );
    // Nothing of the daemon's or the helper's reaches the process: only its stdio (and the
    // directory ls itself opens).
    let fds = d.docker_ok(&["exec", "box", "ls", "/proc/self/fd"]);
    assert_eq!(
        fds.split_whitespace().collect::<Vec<_>>(),
        ["0", "1", "2", "3"],
        "{fds}"
    );
    // A command that is not there: Docker's message on the stream and exit code 126.
    let missing = d.docker(&["exec", "box", "no-such-command"]);
    assert_eq!(missing.status.code(), Some(126));
    assert!(
        String::from_utf8_lossy(&missing.stdout)
            .contains("exec: \"no-such-command\": executable file not found in $PATH"),
        "{missing:?}"
    );
}

/// The PID the container's exec helper wrote, if one runs.
fn exec_helper_pid(d: &Daemon, id: &str) -> Option<i32> {
    let file = d
        .dir
        .path()
        .join("exec/sock")
        .join(format!("{}.pid", &id[..32]));
    std::fs::read_to_string(file).ok()?.trim().parse().ok()
}

fn alive(pid: i32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
        && !std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .unwrap_or_default()
            .contains(") Z ")
}

/// Execs fork from a helper inside the container's cgroups: it is nowhere in the container's
/// own view or in `top`, it survives a daemon restart, and it goes with the container,
/// taking a running exec with it (137), so the container's cgroups can be removed.
#[test]
fn exec_helper_is_unseen_survives_restarts_and_goes_with_the_container() {
    let mut d = daemon_with_container();
    let id = d
        .docker_ok(&["inspect", "-f", "{{.Id}}", "box"])
        .trim()
        .to_string();
    assert_eq!(
        exec_helper_pid(&d, &id),
        None,
        "started only at the first exec"
    );
    d.docker_ok(&["exec", "box", "true"]);
    let helper = exec_helper_pid(&d, &id).expect("the first exec started the helper");
    assert!(alive(helper));
    let cgroup = std::fs::read_to_string(format!("/proc/{helper}/cgroup")).unwrap();
    assert!(cgroup.contains(&id), "in the container's cgroups: {cgroup}");
    // Not among the container's processes, seen from inside or through top.
    let ps = d.docker_ok(&["exec", "box", "ps", "-o", "pid,comm"]);
    assert_eq!(ps.lines().count(), 3, "header, sleep and ps only: {ps}");
    let top = d.get(&format!("/containers/{id}/top")).json();
    let pids: Vec<String> = top["Processes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| row[1].as_str().unwrap().to_string())
        .collect();
    assert_eq!(pids.len(), 1, "{top}");
    assert!(!pids.contains(&helper.to_string()));
    // The same helper serves the daemon after a crash and restart.
    d.kill();
    d.spawn();
    assert_eq!(
        d.docker_ok(&["exec", "box", "echo", "again"]).trim(),
        "again"
    );
    assert_eq!(exec_helper_pid(&d, &id), Some(helper));
    // An exec still running when the container stops ends with it.
    let mut long = d
        .docker_cmd(&["exec", "box", "sleep", "1000"])
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    d.docker_ok(&["stop", "-t", "1", "box"]);
    let status = long.wait().unwrap();
    assert_eq!(
        status.code(),
        Some(137),
        "the exec was killed with the container"
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while alive(helper) && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(!alive(helper), "the helper went with the container");
    assert_eq!(exec_helper_pid(&d, &id), None);
    assert!(!d
        .dir
        .path()
        .join(format!("exec/sock/{}.exec", &id[..32]))
        .exists());
    assert!(!cgroup_left(&id), "the container's cgroup is gone");
    // And a new one comes at the next start.
    d.docker_ok(&["start", "box"]);
    assert_eq!(d.docker_ok(&["exec", "box", "echo", "back"]).trim(), "back");
    let next = exec_helper_pid(&d, &id).expect("a helper for the new start");
    assert_ne!(next, helper);
}

/// Whether a cgroup directory named `id` is left in any hierarchy (v1 or v2).
fn cgroup_left(id: &str) -> bool {
    let mut dirs = vec![std::path::PathBuf::from("/sys/fs/cgroup")];
    let mut depth = 0;
    while depth < 4 && !dirs.is_empty() {
        let mut next = Vec::new();
        for dir in dirs {
            for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
                if e.file_type().is_ok_and(|t| t.is_dir()) {
                    if e.file_name().to_string_lossy() == id {
                        return true;
                    }
                    next.push(e.path());
                }
            }
        }
        dirs = next;
        depth += 1;
    }
    false
}

/// A container sharing the host's PID namespace: its end takes the execs and their children
/// with it (no namespace dies with the init to do it), and its cgroup goes. And a container
/// with a terminal: its TERM is not an exec's without one.
#[test]
fn execs_end_with_a_container_that_shares_the_host_pid_namespace() {
    let d = Daemon::start();
    d.import_busybox("busybox:latest");
    let id = d
        .docker_ok(&[
            "run", "-d", "--pid", "host", "--name", "hp", "busybox", "sleep", "1000",
        ])
        .trim()
        .to_string();
    d.docker_ok(&[
        "exec",
        "-d",
        "hp",
        "sh",
        "-c",
        "sleep 4243 & sleep 4244; wait",
    ]);
    let running = |pattern: &str| {
        std::process::Command::new("pgrep")
            .args(["-f", pattern])
            .output()
            .unwrap()
            .status
            .success()
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while !(running("^sleep 4243") && running("^sleep 4244")) {
        assert!(
            std::time::Instant::now() < deadline,
            "the exec's processes did not start"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    d.docker_ok(&["stop", "-t", "1", "hp"]);
    assert!(
        !running("^sleep 4243"),
        "the exec's child outlived the container"
    );
    assert!(!running("^sleep 4244"), "the exec outlived the container");
    assert!(!cgroup_left(&id), "the container's cgroup is gone");
    d.docker_ok(&["rm", "hp"]);

    d.docker_ok(&[
        "run", "-d", "-t", "--name", "term", "busybox", "sleep", "1000",
    ]);
    assert_eq!(
        d.docker_ok(&["exec", "term", "sh", "-c", "echo TERM=$TERM"])
            .trim(),
        "TERM="
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
    let id = create_exec(&d, body);
    let before = d.get(&format!("/v1.18/exec/{id}/json")).json();
    assert_eq!(before["Running"], false);
    assert_eq!(before["ProcessConfig"]["entrypoint"], "sh");
    let start = d.post_json(
        &format!("/v1.18/exec/{id}/start"),
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
    let empty = d.post_json("/v1.18/containers/box/exec", br#"{"Cmd": []}"#);
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

/// `Tty: true` gives the process a real terminal: output comes raw (no stream headers), a
/// resize reaches the process, and the exit code is the process's.
#[test]
fn exec_with_a_terminal_and_resize() {
    use std::io::{Read, Write};
    let d = daemon_with_container();
    let body = br#"{"AttachStdin": true, "AttachStdout": true, "AttachStderr": true, "Tty": true, "Cmd": ["sh"]}"#;
    let id = create_exec(&d, body);
    let mut s = start_hijacked(&d, &id, true);
    let head = berth_tests::read_head(&mut s);
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    // The resize waits for the terminal if the process is still being set up.
    let resize = d.post(&format!("/v1.18/exec/{id}/resize?h=33&w=101"));
    assert_eq!(resize.status, 201, "{}", resize.text());
    s.write_all(b"tty; stty size; exit 5\n").unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).unwrap();
    let out = String::from_utf8_lossy(&out).to_string();
    assert!(out.contains("/dev/pts/"), "no terminal: {out:?}");
    assert!(out.contains("33 101"), "resize not seen: {out:?}");
    assert!(
        !out.as_bytes().contains(&1u8),
        "terminal output is not multiplexed: {out:?}"
    );
    let mut inspect = serde_json::Value::Null;
    for _ in 0..100 {
        inspect = d.get(&format!("/v1.18/exec/{id}/json")).json();
        if inspect["Running"] == false {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert_eq!(inspect["ExitCode"], 5, "{inspect}");
    assert_eq!(inspect["ProcessConfig"]["tty"], true, "{inspect}");
    // A finished exec cannot be resized; an unknown one is a 404.
    assert_eq!(
        d.post(&format!("/v1.18/exec/{id}/resize?h=10&w=10")).status,
        409
    );
    assert_eq!(d.post("/v1.18/exec/nope/resize?h=10&w=10").status, 404);
}

/// `docker exec -it` through the real CLI on a pseudo-terminal from `script`.
#[test]
fn docker_exec_it_runs_on_a_terminal() {
    let d = daemon_with_container();
    let docker = berth_tests::docker_cli();
    let line = format!("{} exec -it box sh -c 'tty; exit 7'", docker.display());
    // A stdin that stays open: `script` turns end-of-input into a byte for the terminal.
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "sleep 3 | script -qec \"{line}\" /dev/null; echo rc=$?"
        ))
        .env("DOCKER_HOST", format!("unix://{}", d.socket.display()))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("/dev/pts/"), "{text}");
    assert!(text.contains("rc=7"), "{text}");
}

/// Without an Upgrade header, exec start still hijacks (a plain 200, as Docker answers old
/// clients), and stdin sent right behind the request body is not lost.
#[test]
fn exec_start_without_upgrade_hijacks_with_200() {
    use std::io::{Read, Write};
    let d = daemon_with_container();
    let body = br#"{"AttachStdin": true, "AttachStdout": true, "AttachStderr": true, "Cmd": ["sh", "-c", "cat; echo err >&2"]}"#;
    let id = create_exec(&d, body);
    let mut s = std::os::unix::net::UnixStream::connect(&d.socket).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(20)))
        .unwrap();
    let start = br#"{"Detach": false, "Tty": false}"#;
    let mut req = format!(
        "POST /v1.15/exec/{id}/start HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        start.len()
    )
    .into_bytes();
    req.extend_from_slice(start);
    req.extend_from_slice(b"early\n");
    s.write_all(&req).unwrap();
    s.shutdown(std::net::Shutdown::Write).unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).unwrap();
    let split = out.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    let head = String::from_utf8_lossy(&out[..split]).to_string();
    assert!(head.starts_with("HTTP/1.1 200 OK"), "{head}");
    // As Docker's: no length, so an HTTP client reads the stream to the end.
    assert!(
        !head.to_ascii_lowercase().contains("content-length"),
        "{head}"
    );
    let streams = berth_tests::demux(&out[split..]);
    assert_eq!(streams.0, b"early\n");
    assert_eq!(streams.1, b"err\n");
    assert_eq!(
        d.get(&format!("/v1.18/exec/{id}/json")).json()["ExitCode"],
        0
    );
}

/// A client that vanishes as soon as its exec has started, with and without a terminal: the
/// process still runs to its end, which is recorded (no exec left "running" for ever).
#[test]
fn an_exec_whose_client_vanishes_is_still_recorded_when_it_ends() {
    let d = daemon_with_container();
    for tty in [true, false] {
        let body = format!(
            r#"{{"Tty": {tty}, "AttachStdout": true, "AttachStderr": true, "Cmd": ["sh", "-c", "sleep 0.3; exit 3"]}}"#
        );
        let id = create_exec(&d, body.as_bytes());
        let mut s = start_hijacked(&d, &id, tty);
        // Gone once the exec has started (its answer is the sign), before reading any output.
        let head = berth_tests::read_head(&mut s);
        assert!(head.starts_with("HTTP/1.1 101"), "{head}");
        drop(s);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let e = d.get(&format!("/v1.18/exec/{id}/json")).json();
            if e["Running"] == false && !e["ExitCode"].is_null() {
                // The terminal's hangup may end it first (SIGHUP); without one it runs out.
                let code = e["ExitCode"].as_i64().unwrap();
                if tty {
                    assert!(code == 3 || code == 129, "tty exec ended with {code}");
                } else {
                    assert_eq!(code, 3);
                }
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "tty={tty}: exec still marked running: {e}"
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }
}

/// The helper's memory and descriptors, from /proc: (anonymous RSS in kB, open fds).
fn helper_footprint(pid: i32) -> (u64, usize) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let anon = status
        .lines()
        .find_map(|l| l.strip_prefix("RssAnon:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .count();
    (anon, fds)
}

/// The helper's footprint once the last exec's descriptors are closed: the client sees an
/// exec's output end a moment before the helper has reaped it and closed its side.
fn settled_footprint(pid: i32) -> (u64, usize) {
    let mut last = helper_footprint(pid);
    for _ in 0..50 {
        std::thread::sleep(std::time::Duration::from_millis(100));
        let now = helper_footprint(pid);
        if now.1 == last.1 {
            return now;
        }
        last = now;
    }
    last
}

/// Exec'd processes share the helper's memory until their execve (a vfork-style clone): none
/// of what they need may be left behind in it. 200 execs, each with a 16 KB environment
/// variable and arguments (the parts most easily leaked), leave the helper no bigger and with
/// no more descriptors, and every one of them saw its own environment.
#[test]
fn execs_leave_nothing_behind_in_the_helper() {
    let d = daemon_with_container();
    let id = d
        .docker_ok(&["inspect", "-f", "{{.Id}}", "box"])
        .trim()
        .to_string();
    let exec = |i: usize| {
        let big = format!("{}{i}", "x".repeat(16 * 1024));
        let arg = "y".repeat(4096);
        let body = serde_json::json!({
            "AttachStdout": true,
            "Env": [format!("BIG={big}")],
            "Cmd": ["sh", "-c", "echo ${#BIG} $0", arg],
        });
        let id = create_exec(&d, body.to_string().as_bytes());
        let out = d.post_json(&format!("/v1.18/exec/{id}/start"), br#"{"Detach": false}"#);
        let (stdout, _) = berth_tests::demux(&out.body);
        let expected = format!("{} {arg}\n", big.len());
        assert_eq!(String::from_utf8_lossy(&stdout), expected, "exec {i}");
    };
    for i in 0..10 {
        exec(i);
    }
    let helper = exec_helper_pid(&d, &id).unwrap();
    let (anon_before, fds_before) = settled_footprint(helper);
    for i in 0..200 {
        exec(i);
    }
    let (anon_after, fds_after) = settled_footprint(helper);
    assert_eq!(fds_after, fds_before, "descriptors");
    // Leaking the strings would be at least 200 × 20 KB = 4 MB.
    assert!(
        anon_after <= anon_before + 256,
        "helper grew from {anon_before} kB to {anon_after} kB"
    );
}

/// The monitors' sockets are named with half the container's ID, so an exec root of up to 64
/// bytes leaves room for them (Unix socket addresses hold 107): attach stdin, terminal resize
/// and exec all work under one that long. A longer one is refused at start, with the reason.
#[test]
fn a_long_exec_root_fits_the_sockets_and_a_longer_one_is_refused() {
    let name = "e".repeat(64 - berth_tests::Daemon::dir_len());
    let d = berth_tests::Daemon::start_with_exec_root(&name, &[]);
    assert_eq!(d.dir.path().join(&name).as_os_str().len(), 64);
    d.import_busybox("busybox:latest");
    let out = d.docker_with_input(&["run", "-i", "--rm", "busybox", "cat"], b"through stdin\n");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "through stdin\n");
    d.docker_ok(&[
        "run", "-d", "-t", "--name", "box", "busybox", "sleep", "1000",
    ]);
    let resize = d.post("/v1.18/containers/box/resize?h=20&w=77");
    assert_eq!(resize.status, 200, "{}", resize.text());
    assert_eq!(d.docker_ok(&["exec", "box", "echo", "in"]).trim(), "in");
    drop(d);

    let dir = tempfile::tempdir().unwrap();
    let too_long = dir.path().join("x".repeat(70));
    let out = std::process::Command::new(berth_tests::berthd_bin())
        .arg("--data-root")
        .arg(dir.path().join("data"))
        .arg("--exec-root")
        .arg(&too_long)
        .arg("-H")
        .arg(format!("unix://{}", dir.path().join("s.sock").display()))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("Unix socket address"), "{err}");
    assert!(!too_long.exists(), "nothing made");
}

/// A process the helper cannot start (here an argument with a NUL byte) is answered as
/// Docker answers it, with or without a terminal: the stream opens, says `OCI runtime exec
/// failed`, and the exec's exit code is 126.
#[test]
fn an_exec_that_cannot_start_says_why_on_its_stream() {
    use std::io::Read;
    let d = daemon_with_container();
    for tty in [false, true] {
        let body = serde_json::json!({
            "Tty": tty, "AttachStdout": true, "AttachStderr": true, "Cmd": ["echo", "a\u{0}b"],
        });
        let id = create_exec(&d, body.to_string().as_bytes());
        let mut s = start_hijacked(&d, &id, tty);
        let mut out = Vec::new();
        s.read_to_end(&mut out).unwrap();
        let split = out.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
        assert!(
            out.starts_with(b"HTTP/1.1 101"),
            "tty {tty}: {}",
            String::from_utf8_lossy(&out)
        );
        let text = if tty {
            out[split..].to_vec()
        } else {
            berth_tests::demux(&out[split..]).0
        };
        let text = String::from_utf8_lossy(&text);
        assert!(
            text.starts_with("OCI runtime exec failed: ") && text.contains("NUL byte"),
            "tty {tty}: {text}"
        );
        let e = d.get(&format!("/v1.18/exec/{id}/json")).json();
        assert_eq!(
            (e["Running"].clone(), e["ExitCode"].clone()),
            (false.into(), 126.into()),
            "tty {tty}"
        );
    }
}
