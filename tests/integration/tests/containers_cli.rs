//! Containers with the real docker CLI (negotiated down to API 1.18).

use std::time::Duration;

use berth_tests::Daemon;

fn daemon() -> Daemon {
    let d = Daemon::start();
    d.import_busybox("busybox:latest");
    d
}

#[test]
fn run_rm_prints_output_and_cleans_up() {
    let d = daemon();
    let out = d.docker_ok(&["run", "--rm", "busybox", "echo", "hello"]);
    assert_eq!(out, "hello\n");
    // --rm is done by the client once the container died.
    for _ in 0..100 {
        if d.docker_ok(&["ps", "-aq"]).trim().is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(d.docker_ok(&["ps", "-aq"]).trim(), "");
}

#[test]
fn run_reports_exit_code_and_both_streams() {
    let d = daemon();
    let out = d.docker(&[
        "run",
        "--name",
        "three",
        "busybox",
        "sh",
        "-c",
        "echo out; echo err >&2; exit 3",
    ]);
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "out\n");
    assert_eq!(String::from_utf8_lossy(&out.stderr), "err\n");
    let inspect = d.docker_ok(&[
        "inspect",
        "-f",
        "{{.State.ExitCode}} {{.State.Running}} {{.Name}} {{.Path}} {{.Args}}",
        "three",
    ]);
    assert_eq!(
        inspect.trim(),
        "3 false /three sh [-c echo out; echo err >&2; exit 3]"
    );
    let status = d.docker_ok(&["ps", "-a", "--format", "{{.Status}}"]);
    assert!(status.starts_with("Exited (3) "), "{status}");
}

#[test]
fn detached_lifecycle_ps_logs_stop_start_restart_kill_rm() {
    let d = daemon();
    let id = d.docker_ok(&[
        "run",
        "-d",
        "--name",
        "web",
        "busybox",
        "sh",
        "-c",
        "trap 'echo bye; exit 0' TERM; echo started; while true; do sleep 0.1; done",
    ]);
    let id = id.trim();
    assert_eq!(id.len(), 64);
    let ps = d.docker_ok(&["ps", "--format", "{{.ID}} {{.Names}} {{.Status}}"]);
    assert!(ps.starts_with(&format!("{} web Up ", &id[..12])), "{ps}");
    wait_for_log(&d, "web", "started");
    let top = d.docker_ok(&["top", "web"]);
    assert!(top.contains("while true"), "{top}");
    assert!(
        !top.contains("berthd"),
        "top shows only the container's processes"
    );
    d.docker_ok(&["stop", "web"]);
    assert_eq!(
        d.docker_ok(&["inspect", "-f", "{{.State.ExitCode}}", "web"])
            .trim(),
        "0"
    );
    let logs = d.docker_ok(&["logs", "web"]);
    assert_eq!(logs, "started\nbye\n");
    assert_eq!(d.docker_ok(&["ps", "-q"]).trim(), "");
    d.docker_ok(&["start", "web"]);
    assert_eq!(
        d.docker_ok(&["inspect", "-f", "{{.State.Running}}", "web"])
            .trim(),
        "true"
    );
    d.docker_ok(&["restart", "-t", "1", "web"]);
    assert_eq!(
        d.docker_ok(&["inspect", "-f", "{{.State.Running}}", "web"])
            .trim(),
        "true"
    );
    d.docker_ok(&["kill", "-s", "KILL", "web"]);
    assert_eq!(d.docker_ok(&["wait", "web"]).trim(), "137");
    let rm = d.docker(&["rm", "web"]);
    assert!(rm.status.success());
    assert!(!d.docker(&["inspect", "web"]).status.success());
}

fn wait_for_log(d: &Daemon, name: &str, text: &str) {
    for _ in 0..200 {
        if d.docker_ok(&["logs", name]).contains(text) {
            return;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    panic!("{name} never logged {text:?}");
}

#[test]
fn logs_follow_tail_and_timestamps() {
    let d = daemon();
    d.docker_ok(&[
        "run",
        "-d",
        "--name",
        "counter",
        "busybox",
        "sh",
        "-c",
        "for i in 1 2 3 4 5; do echo line$i; done; sleep 1; echo last",
    ]);
    let followed = d.docker_ok(&["logs", "-f", "counter"]);
    assert_eq!(followed, "line1\nline2\nline3\nline4\nline5\nlast\n");
    assert_eq!(
        d.docker_ok(&["logs", "--tail", "2", "counter"]),
        "line5\nlast\n"
    );
    let ts = d.docker_ok(&["logs", "-t", "--tail", "1", "counter"]);
    let (time, rest) = ts.split_once(' ').unwrap();
    assert!(time.ends_with('Z') && time.starts_with("20"), "{ts}");
    assert_eq!(rest, "last\n");
}

#[test]
fn pause_unpause_rename_and_rm_force() {
    let d = daemon();
    d.docker_ok(&["run", "-d", "--name", "p1", "busybox", "sleep", "1000"]);
    d.docker_ok(&["pause", "p1"]);
    let status = d.docker_ok(&["ps", "--format", "{{.Status}}"]);
    assert!(status.contains("(Paused)"), "{status}");
    assert_eq!(
        d.docker_ok(&["inspect", "-f", "{{.State.Paused}}", "p1"])
            .trim(),
        "true"
    );
    d.docker_ok(&["unpause", "p1"]);
    d.docker_ok(&["rename", "p1", "p2"]);
    assert_eq!(
        d.docker_ok(&["inspect", "-f", "{{.Name}}", "p2"]).trim(),
        "/p2"
    );
    let running_rm = d.docker(&["rm", "p2"]);
    assert!(!running_rm.status.success());
    assert!(String::from_utf8_lossy(&running_rm.stderr)
        .contains("You cannot remove a running container"));
    d.docker_ok(&["rm", "-f", "p2"]);
    assert_eq!(d.docker_ok(&["ps", "-aq"]).trim(), "");
}

#[test]
fn restart_policy_on_failure_retries_then_stops() {
    let d = daemon();
    d.docker_ok(&[
        "run",
        "-d",
        "--name",
        "flaky",
        "--restart",
        "on-failure:3",
        "busybox",
        "sh",
        "-c",
        "echo try; exit 1",
    ]);
    let mut count = String::new();
    for _ in 0..200 {
        count = d.docker_ok(&[
            "inspect",
            "-f",
            "{{.RestartCount}} {{.State.Running}} {{.State.Restarting}}",
            "flaky",
        ]);
        if count.trim() == "3 false false" {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(count.trim(), "3 false false");
    assert_eq!(d.docker_ok(&["logs", "flaky"]), "try\ntry\ntry\ntry\n");
}

#[test]
fn docker_default_profile_inside_the_container() {
    let d = daemon();
    let script = "grep CapEff /proc/self/status; \
                  wc -c < /proc/keys; \
                  touch /sys/berth-test 2>/dev/null && echo sys-writable; \
                  echo 1 > /proc/sys/vm/drop_caches 2>/dev/null && echo procsys-writable; \
                  mount -t tmpfs none /mnt 2>/dev/null && echo mounted; \
                  ls /proc | grep -c '^[0-9]'; \
                  hostname; cat /etc/hostname";
    let out = d.docker_ok(&[
        "run",
        "--rm",
        "--hostname",
        "boxy",
        "busybox",
        "sh",
        "-c",
        script,
    ]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0], "CapEff:\t00000000a80425fb",
        "Docker's default capability set"
    );
    assert_eq!(lines[1].trim(), "0", "/proc/keys is masked");
    assert!(
        !out.contains("sys-writable")
            && !out.contains("procsys-writable")
            && !out.contains("mounted"),
        "{out}"
    );
    // Its own PID namespace: only the shell and its children.
    assert!(lines[2].trim().parse::<u32>().unwrap() <= 4, "{out}");
    assert_eq!(&lines[3..], ["boxy", "boxy"]);
}

#[test]
fn an_image_in_use_survives_rmi() {
    let d = daemon();
    d.docker_ok(&["create", "--name", "user", "busybox", "echo", "still here"]);
    let id = d.docker_ok(&["inspect", "-f", "{{.Id}}", "busybox"]);
    let refused = d.docker(&["rmi", id.trim()]);
    assert!(String::from_utf8_lossy(&refused.stderr).contains("image is being used by a container"));
    let forced = d.docker_ok(&["rmi", "-f", "busybox"]);
    assert!(
        forced.contains("Untagged: busybox:latest") && !forced.contains("Deleted"),
        "{forced}"
    );
    // The container still runs from the (now untagged) image.
    assert_eq!(d.docker_ok(&["start", "-a", "user"]), "still here\n");
}

#[test]
fn stdin_flows_with_run_i_and_attach() {
    let d = daemon();
    let data: String = (0..2000).map(|i| format!("line {i}\n")).collect();
    let out = d.docker_with_input(
        &["run", "-i", "--rm", "busybox", "sh", "-c", "cat; echo end"],
        data.as_bytes(),
    );
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("{data}end\n"),
        "stdin arrives whole and in order"
    );
    let out = d.docker_with_input(
        &[
            "run",
            "-i",
            "--rm",
            "busybox",
            "sh",
            "-c",
            "read x; exit $x",
        ],
        b"7\n",
    );
    assert_eq!(out.status.code(), Some(7));
}

#[test]
fn attach_with_early_stdin_over_a_raw_socket() {
    use std::io::{Read, Write};
    let d = daemon();
    // Docker hijacks with `101 UPGRADED` when asked to, and with a plain 200 for old clients
    // that send no Upgrade header; neither may lose stdin sent with the request. From API
    // 1.42 output without a terminal is named a multiplexed stream.
    let upgrade_tcp = "Upgrade: tcp\r\nConnection: Upgrade\r\n";
    for (name, upgrade, status_line, v, media) in [
        (
            "early101",
            upgrade_tcp,
            "HTTP/1.1 101",
            "1.18",
            "raw-stream",
        ),
        ("early200", "", "HTTP/1.1 200", "1.18", "raw-stream"),
        (
            "late101",
            upgrade_tcp,
            "HTTP/1.1 101",
            "1.44",
            "multiplexed-stream",
        ),
        ("late200", "", "HTTP/1.1 200", "1.42", "multiplexed-stream"),
        ("before42", "", "HTTP/1.1 200", "1.41", "raw-stream"),
    ] {
        let body = br#"{"Image":"busybox","Cmd":["sh","-c","read line; echo got:$line"],"OpenStdin":true,"StdinOnce":true,"AttachStdin":true}"#;
        let r = d.request(
            "POST",
            &format!("/v1.18/containers/create?name={name}"),
            &[("Content-Type", "application/json")],
            body,
        );
        assert_eq!(r.status, 201, "{}", r.text());
        let mut s = std::os::unix::net::UnixStream::connect(&d.socket).unwrap();
        // The request and the stdin bytes in one write, before any answer.
        let mut req = format!("POST /v{v}/containers/{name}/attach?stream=1&stdin=1&stdout=1&stderr=1 HTTP/1.1\r\nHost: x\r\n{upgrade}Content-Length: 0\r\n\r\n").into_bytes();
        req.extend_from_slice(b"hello\n");
        s.write_all(&req).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(100));
        assert_eq!(
            d.post(&format!("/v1.18/containers/{name}/start")).status,
            204
        );
        s.set_read_timeout(Some(std::time::Duration::from_secs(20)))
            .unwrap();
        let mut out = Vec::new();
        s.read_to_end(&mut out).unwrap();
        let text = String::from_utf8_lossy(&out);
        assert!(text.starts_with(status_line), "{text}");
        assert!(
            text.to_ascii_lowercase()
                .contains(&format!("content-type: application/vnd.docker.{media}\r\n")),
            "{v}: {text}"
        );
        let body = &out[out.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4..];
        assert_eq!(&body[8..], b"got:hello\n", "{text}");
    }
}

/// Runs `command` under a pseudo-terminal (util-linux `script`), typing `keys` after a pause.
fn with_terminal(d: &Daemon, command: &str, keys: &[&str]) -> (Option<i32>, String) {
    use std::io::Write;
    let mut child = std::process::Command::new("script")
        .args(["-qec", command, "/dev/null"])
        .env("DOCKER_HOST", format!("unix://{}", d.socket.display()))
        .env("DOCKER_CONFIG", d.dir.path().join("docker-config"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    for k in keys {
        std::thread::sleep(std::time::Duration::from_millis(700));
        let _ = stdin.write_all(k.as_bytes());
    }
    std::thread::sleep(std::time::Duration::from_millis(500));
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn run_it_is_interactive_on_a_resized_terminal() {
    let d = daemon();
    let (code, screen) = with_terminal(
        &d,
        "docker run -it --rm busybox sh",
        &["echo hi-$((1+2))\r", "exit 3\r"],
    );
    assert_eq!(code, Some(3), "{screen}");
    assert!(screen.contains("hi-3"), "{screen}");
    let (code, screen) =
        with_terminal(&d, "stty rows 33 cols 101; docker run -it --rm busybox sh -c 'tty; sleep 0.5; stty -a | head -1'", &[]);
    assert_eq!(code, Some(0), "{screen}");
    assert!(screen.contains("/dev/pts/0"), "{screen}");
    assert!(
        screen.contains("rows 33; columns 101"),
        "the terminal has the client's size: {screen}"
    );
}

#[test]
fn tty_output_is_raw_not_multiplexed() {
    let d = daemon();
    let body = br#"{"Image":"busybox","Cmd":["echo","raw"],"Tty":true}"#;
    let r = d.request(
        "POST",
        "/v1.18/containers/create?name=tt",
        &[("Content-Type", "application/json")],
        body,
    );
    assert_eq!(r.status, 201);
    assert_eq!(d.post("/v1.18/containers/tt/start").status, 204);
    assert_eq!(d.post("/v1.18/containers/tt/wait").json()["StatusCode"], 0);
    let logs = d.get("/v1.18/containers/tt/logs?stdout=1");
    assert_eq!(logs.body, b"raw\r\n", "a terminal's output, unframed");
    assert_eq!(
        d.post("/v1.18/containers/tt/resize?h=10&w=20").status,
        409,
        "not running"
    );
    assert_eq!(d.post("/v1.18/containers/tt/resize?h=x&w=20").status, 400);
}
