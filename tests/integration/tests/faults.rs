//! Defects found under crashes, load and bad input, one regression test each, and the
//! limits a container must not cross, checked from inside it.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use berth_tests::audit::{cgroup_dirs, eventually, open_fds, rss_kib, Audit};
use berth_tests::Daemon;

fn daemon() -> Daemon {
    let d = Daemon::start();
    d.import_busybox("busybox:latest");
    d
}

fn run(d: &Daemon, args: &[&str]) -> std::process::Output {
    let mut a = vec!["run", "--rm"];
    a.extend_from_slice(args);
    d.docker(&a)
}

/// `docker run -d ARGS`: the container's ID.
fn detached(d: &Daemon, args: &[&str]) -> String {
    let mut a = vec!["run", "-d"];
    a.extend_from_slice(args);
    d.docker_ok(&a).trim().to_string()
}

/// A container that ignores SIGTERM.
const IGNORES_TERM: &[&str] = &[
    "busybox",
    "sh",
    "-c",
    "trap '' TERM; while true; do sleep 1; done",
];

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn stdout(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

// 1. A container cannot rewrite its own cgroup limits.
#[test]
fn the_cgroup_filesystem_is_read_only_inside_a_container() {
    let d = daemon();
    // Every cgroup mount in the container is read-only.
    let mounts = run(
        &d,
        &["busybox", "grep", "/sys/fs/cgroup", "/proc/self/mounts"],
    );
    let mounts = stdout(&mounts);
    assert!(!mounts.is_empty());
    for line in mounts.lines() {
        let opts = line.split(' ').nth(3).unwrap();
        assert!(opts.split(',').any(|o| o == "ro"), "writable: {line}");
    }
    if std::path::Path::new("/sys/fs/cgroup/memory/memory.limit_in_bytes").exists() {
        for attempt in [
            "echo 1073741824 > /sys/fs/cgroup/memory/memory.limit_in_bytes",
            "echo max > /sys/fs/cgroup/pids/pids.max",
            "echo 4096 > /sys/fs/cgroup/cpu/cpu.shares",
            "mkdir /sys/fs/cgroup/memory/child",
            "touch /sys/fs/cgroup/x",
        ] {
            let o = run(
                &d,
                &[
                    "-m",
                    "32m",
                    "--pids-limit",
                    "50",
                    "busybox",
                    "sh",
                    "-c",
                    attempt,
                ],
            );
            assert!(!o.status.success(), "allowed: {attempt}");
            assert!(
                stderr(&o).contains("Read-only file system"),
                "{attempt}: {}",
                stderr(&o)
            );
        }
        // The limit is still the one asked for.
        let o = run(
            &d,
            &[
                "-m",
                "32m",
                "busybox",
                "cat",
                "/sys/fs/cgroup/memory/memory.limit_in_bytes",
            ],
        );
        assert_eq!(stdout(&o).trim(), "33554432");
    }
}

#[test]
fn a_privileged_container_may_write_its_cgroups_and_its_children_go_with_it() {
    let d = daemon();
    // Privileged keeps write access, as in Docker; the child cgroups it makes in every
    // hierarchy are removed with the container.
    let id = detached(
        &d,
        &[
            "--privileged",
            "busybox",
            "sh",
            "-c",
            "for h in /sys/fs/cgroup/*/; do mkdir -p $h/made-inside/deeper; done; \
             echo $$ > /sys/fs/cgroup/pids/made-inside/cgroup.procs 2>/dev/null; \
             touch /tmp/ready; sleep 1000",
        ],
    );
    let cgroup = format!("/berth/{id}");
    eventually(
        "the container made its child cgroups",
        Duration::from_secs(10),
        || cgroup_dirs(&format!("{cgroup}/made-inside/deeper")).len() >= 2,
    );
    d.docker_ok(&["rm", "-f", &id]);
    assert_eq!(cgroup_dirs(&cgroup), Vec::<std::path::PathBuf>::new());
}

// 2. A `kill -9` of berthd during a start loses no container. The crash window is where the
// monitor runs the container but the record still says `created`: made here on disk exactly.
#[test]
fn a_container_whose_start_the_daemon_never_recorded_is_adopted() {
    let mut d = daemon();
    let id = detached(&d, &["busybox", "sleep", "1000"]);
    let pid = d.get(&format!("/containers/{id}/json")).json()["State"]["Pid"]
        .as_i64()
        .unwrap();
    d.kill();
    let record = d
        .data_root()
        .join("containers")
        .join(&id)
        .join("record.json");
    let mut rec: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&record).unwrap()).unwrap();
    rec["state"]["status"] = "created".into();
    rec["state"]["pid"] = 0.into();
    rec["state"]["monitor_pid"] = 0.into();
    rec["state"]["started_at"] = "0001-01-01T00:00:00Z".into();
    std::fs::write(&record, serde_json::to_vec(&rec).unwrap()).unwrap();
    d.spawn();
    let state = d.get(&format!("/containers/{id}/json")).json()["State"].clone();
    assert_eq!(state["Running"], true, "{state}");
    assert_eq!(state["Pid"], pid);
    // It is the daemon's again: stop stops it, with its exit recorded.
    d.docker_ok(&["stop", "-t", "1", &id]);
    assert!(!alive(pid));
    d.docker_ok(&["rm", &id]);
    assert_eq!(cgroup_dirs(&format!("/berth/{id}")).len(), 0);
}

#[test]
fn rm_force_never_reports_success_while_a_process_of_the_container_lives() {
    let mut d = daemon();
    let id = detached(&d, &["busybox", "sleep", "1000"]);
    let pid = d.get(&format!("/containers/{id}/json")).json()["State"]["Pid"]
        .as_i64()
        .unwrap();
    // The monitor is lost (killed) and the record forgets the run: only the kernel still
    // knows the container's process, in the container's cgroup.
    let state = d
        .data_root()
        .join("containers")
        .join(&id)
        .join("monitor.json");
    let monitor: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&state).unwrap()).unwrap();
    d.kill();
    let monitor_pid = monitor["pid"].as_i64().unwrap().to_string();
    assert!(std::process::Command::new("kill")
        .args(["-KILL", &monitor_pid])
        .status()
        .unwrap()
        .success());
    eventually("the monitor is gone", Duration::from_secs(5), || {
        !std::path::Path::new(&format!("/proc/{monitor_pid}")).exists()
    });
    assert!(alive(pid), "the orphaned process lives");
    d.spawn();
    let r = d.delete(&format!("/containers/{id}?force=1"));
    assert_eq!(r.status, 204, "{}", r.text());
    assert!(
        !alive(pid),
        "rm -f said yes while the container's process lives"
    );
    assert_eq!(cgroup_dirs(&format!("/berth/{id}")).len(), 0);
    // The killed monitor could not delete the runtime's state or unmount the root: the
    // removal did.
    let audit = Audit::of(&d);
    assert!(
        audit.runtime_states.is_empty(),
        "{:?}",
        audit.runtime_states
    );
    assert!(audit.mounts.is_empty(), "{:?}", audit.mounts);
}

/// Whether process `pid` runs (exists and is no zombie).
fn alive(pid: i64) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| s.rfind(')').map(|i| s[i + 2..i + 3].to_string()))
        .is_some_and(|state| state != "Z")
}

// 3. Streams the client abandoned are released at once, while nothing is written to them.
#[test]
fn abandoned_streams_of_every_kind_are_released() {
    let d = daemon();
    let quiet = detached(&d, &["-i", "busybox", "sleep", "1000"]);
    let gone = d
        .docker_ok(&["create", "busybox", "true"])
        .trim()
        .to_string();
    d.docker_ok(&["rm", &gone]);
    // Nothing streams yet: what the daemon holds now is the baseline.
    std::thread::sleep(Duration::from_millis(300));
    let base = open_fds(d.pid());
    let requests = [
        format!("POST /containers/{quiet}/wait HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"),
        format!("GET /v1.24/events?filters=%7B%22container%22%3A%7B%22{gone}%22%3Atrue%7D%7D HTTP/1.1\r\nHost: x\r\n\r\n"),
        "GET /events HTTP/1.1\r\nHost: x\r\n\r\n".to_string(),
        format!("GET /containers/{quiet}/logs?follow=1&stdout=1&stderr=1 HTTP/1.1\r\nHost: x\r\n\r\n"),
        format!("GET /containers/{quiet}/stats HTTP/1.1\r\nHost: x\r\n\r\n"),
        format!("POST /containers/{quiet}/attach?stream=1&stdout=1&stderr=1 HTTP/1.1\r\nHost: x\r\nUpgrade: tcp\r\nConnection: Upgrade\r\nContent-Length: 0\r\n\r\n"),
        format!("POST /containers/{quiet}/attach?stream=1&stdin=1&stdout=1 HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"),
    ];
    for req in &requests {
        for _ in 0..20 {
            abandon(&d, req);
        }
        eventually(
            &format!("daemon fds back to {base} after abandoning: {req}"),
            Duration::from_secs(5),
            || open_fds(d.pid()) <= base,
        );
    }
    // An exec whose client hangs up, on a quiet process.
    let exec = d.post_json(
        &format!("/containers/{quiet}/exec"),
        br#"{"Cmd":["sleep","1000"],"AttachStdout":true}"#,
    );
    let exec_id = exec.json()["Id"].as_str().unwrap().to_string();
    let mut s = UnixStream::connect(&d.socket).unwrap();
    s.write_all(format!("POST /exec/{exec_id}/start HTTP/1.1\r\nHost: x\r\nUpgrade: tcp\r\nConnection: Upgrade\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{{}}").as_bytes()).unwrap();
    let _ = berth_tests::read_head(&mut s);
    drop(s);
    // The process runs on, as in Docker, and its exit is still to be recorded: the
    // connection to the container's exec helper that will tell it is its one descriptor.
    let base = base + 1;
    eventually(
        "an abandoned exec session is released",
        Duration::from_secs(5),
        || open_fds(d.pid()) <= base,
    );
    // The docker CLI: `run -d` and `run --rm` at an API version where it waits on events.
    for args in [
        &["run", "-d", "busybox", "true"][..],
        &["run", "--rm", "busybox", "true"][..],
    ] {
        for _ in 0..5 {
            let o = d
                .docker_cmd(args)
                .env("DOCKER_API_VERSION", "1.18")
                .output()
                .unwrap();
            assert!(o.status.success(), "{}", stderr(&o));
        }
    }
    eventually(
        "docker run leaves no connection behind",
        Duration::from_secs(5),
        || open_fds(d.pid()) <= base,
    );
}

/// Sends `request` on a new connection, reads a little of the answer, and goes.
fn abandon(d: &Daemon, request: &str) {
    let mut s = UnixStream::connect(&d.socket).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    s.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let mut buf = [0u8; 256];
    let _ = s.read(&mut buf);
}

// 4. Slow clients are dropped; many clients do not starve the daemon of descriptors.
#[test]
fn slow_clients_are_dropped_after_the_header_timeout() {
    let d = Daemon::start();
    let base = open_fds(d.pid());
    let slow: Vec<UnixStream> = (0..200)
        .map(|_| {
            let mut s = UnixStream::connect(&d.socket).unwrap();
            s.write_all(b"GET /_ping HTTP/1.1\r\nHost: x\r\n").unwrap();
            s
        })
        .collect();
    // Others are still served while they hang.
    assert_eq!(d.get("/_ping").status, 200);
    eventually(
        "slow connections are dropped",
        Duration::from_secs(45),
        || open_fds(d.pid()) <= base,
    );
    for mut s in slow {
        s.set_read_timeout(Some(Duration::from_secs(1))).unwrap();
        let mut buf = Vec::new();
        // Closed by the daemon: EOF (possibly after an error answer).
        assert!(s.read_to_end(&mut buf).is_ok());
    }
}

#[test]
fn many_idle_clients_under_a_low_soft_limit_do_not_starve_the_daemon() {
    let mut d = Daemon::start();
    d.stop();
    d.nofile = Some((256, 4096));
    d.spawn();
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", d.pid())).unwrap();
    let open_files = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap()
        .split_whitespace()
        .nth(3)
        .unwrap()
        .to_string();
    assert_eq!(
        open_files, "4096",
        "the soft limit is raised to the hard one"
    );
    // Past the soft limit the daemon started with (each connection holds two descriptors).
    let idle: Vec<UnixStream> = (0..300)
        .map(|_| UnixStream::connect(&d.socket).unwrap())
        .collect();
    assert_eq!(d.get("/_ping").status, 200);
    drop(idle);
}

#[test]
fn running_out_of_descriptors_backs_off_and_recovers() {
    let mut d = Daemon::start_with(&["--bridge", "none"]);
    d.stop();
    d.nofile = Some((64, 64));
    d.spawn();
    let start = Instant::now();
    let held: Vec<UnixStream> = (0..200)
        .filter_map(|_| UnixStream::connect(&d.socket).ok())
        .collect();
    std::thread::sleep(Duration::from_secs(2));
    let failures = d.log().matches("accept failed").count() as u64;
    let secs = start.elapsed().as_secs() + 1;
    assert!(
        failures <= 2 * secs,
        "{failures} accept failures logged in {secs} s:\n{}",
        d.log()
    );
    drop(held);
    eventually("the daemon serves again", Duration::from_secs(10), || {
        d.try_request("GET", "/_ping", &[], &[])
            .is_ok_and(|r| r.status == 200)
    });
}

// 5. An abandoned long stop does not wedge the container; absurd timeouts are no panic.
#[test]
fn rm_force_acts_at_once_during_a_long_stop() {
    let d = daemon();
    let id = detached(&d, IGNORES_TERM);
    let mut stop = UnixStream::connect(&d.socket).unwrap();
    stop.write_all(
        format!("POST /containers/{id}/stop?t=99999999999 HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
            .as_bytes(),
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    drop(stop);
    let r = d.delete(&format!("/containers/{id}?force=1"));
    assert_eq!(r.status, 204, "{}", r.text());
    assert_eq!(d.get(&format!("/containers/{id}/json")).status, 404);
    // `t` near i64::MAX: an answer, and a daemon that still serves.
    let id = detached(
        &d,
        &[
            "busybox",
            "sh",
            "-c",
            "trap 'exit 0' TERM; while true; do sleep 0.1; done",
        ],
    );
    let r = d.post(&format!("/containers/{id}/stop?t=9223372036854775807"));
    assert_eq!(r.status, 204, "{}", r.text());
    assert_eq!(d.get("/_ping").status, 200);
    d.docker_ok(&["rm", "-f", &id]);
}

#[test]
fn kill_acts_at_once_during_a_long_stop() {
    let d = daemon();
    let id = detached(&d, IGNORES_TERM);
    let stop_path = format!("/containers/{id}/stop?t=600");
    let socket = d.socket.clone();
    let stopper = std::thread::spawn(move || {
        let mut s = UnixStream::connect(&socket).unwrap();
        s.write_all(
            format!("POST {stop_path} HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n").as_bytes(),
        )
        .unwrap();
        let head = berth_tests::read_head(&mut s);
        head.lines().next().unwrap_or("").to_string()
    });
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(d.post(&format!("/containers/{id}/kill")).status, 204);
    assert!(stopper.join().unwrap().contains("204"));
    assert_eq!(
        d.get(&format!("/containers/{id}/json")).json()["State"]["Running"],
        false
    );
    d.docker_ok(&["rm", &id]);
}

// 6. A working directory the image lacks is made, owned by the container's user.
#[test]
fn a_missing_working_directory_is_created_for_the_user() {
    let d = daemon();
    let o = run(&d, &["-w", "/nonexistent/deeper", "busybox", "pwd"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o).trim(), "/nonexistent/deeper");
    let o = run(
        &d,
        &[
            "-u",
            "1234:5678",
            "-w",
            "/work",
            "busybox",
            "sh",
            "-c",
            "stat -c '%u:%g' . && touch mine",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o).trim(), "1234:5678");
}

// 7. `--read-only` covers the host files too.
#[test]
fn a_read_only_container_cannot_write_its_host_files() {
    let d = daemon();
    for f in ["/etc/hosts", "/etc/hostname", "/etc/resolv.conf"] {
        let o = run(
            &d,
            &[
                "--read-only",
                "busybox",
                "sh",
                "-c",
                &format!("echo x >> {f}"),
            ],
        );
        assert!(!o.status.success(), "{f} is writable");
        assert!(
            stderr(&o).contains("Read-only file system"),
            "{f}: {}",
            stderr(&o)
        );
    }
    // Without --read-only they stay writable, as in Docker.
    let o = run(
        &d,
        &["busybox", "sh", "-c", "echo 10.9.9.9 x >> /etc/hosts"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
}

// 8. Failed and interrupted starts leave nothing behind.
#[test]
fn a_failed_start_leaves_no_socket_and_an_interrupted_one_no_namespace() {
    let mut d = daemon();
    let before = Audit::of(&d);
    for _ in 0..3 {
        let o = d.docker(&["run", "--net", "none", "busybox", "/no/such/binary"]);
        assert!(!o.status.success());
    }
    let after = Audit::of(&d);
    assert!(after.sockets.is_empty(), "{:?}", after.sockets);
    assert!(after.pinned_netns.is_empty(), "{:?}", after.pinned_netns);
    d.remove_all_containers();
    // A `--net none` start cut short by a crash: its record says created, its namespace is
    // pinned, its bundle written, and no monitor runs.
    let id = d
        .docker_ok(&["create", "--net", "none", "busybox", "true"])
        .trim()
        .to_string();
    d.kill();
    let pin = d.exec_root().join("netns-none").join(&id);
    berth_network::isolated_netns(&pin).unwrap();
    std::fs::create_dir_all(d.exec_root().join("containers").join(&id)).unwrap();
    d.spawn();
    assert!(!pin.exists(), "the pinned namespace is removed at restart");
    assert!(!d.exec_root().join("containers").join(&id).exists());
    let state = d.get(&format!("/containers/{id}/json")).json()["State"].clone();
    assert_eq!(state["Running"], false, "{state}");
    assert_eq!(state["StartedAt"], "0001-01-01T00:00:00Z", "{state}");
    // And the container starts normally.
    assert_eq!(d.post(&format!("/containers/{id}/start")).status, 204);
    d.remove_all_containers();
    assert!(
        Audit::of(&d).leaks_since(&before).is_empty(),
        "{:?} id={id} list={} log={}",
        Audit::of(&d).leaks_since(&before),
        d.get("/containers/json?all=1").text(),
        d.log()
    );
}

// 9. Published ports keep forwarding across a daemon restart.
#[test]
fn a_restart_drops_no_connection_to_a_published_port() {
    let mut d = daemon();
    let id = detached(
        &d,
        &[
            "-p",
            "127.0.0.1::80",
            "busybox",
            "sh",
            "-c",
            "mkdir -p /www && echo up > /www/index.html && exec httpd -f -p 80 -h /www",
        ],
    );
    let port: u16 = d
        .docker_ok(&["port", &id, "80/tcp"])
        .lines()
        .next()
        .unwrap()
        .rsplit(':')
        .next()
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let get = move || -> bool {
        let Ok(mut s) = std::net::TcpStream::connect_timeout(
            &(std::net::Ipv4Addr::LOCALHOST, port).into(),
            Duration::from_secs(2),
        ) else {
            return false;
        };
        let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
        let _ = s.write_all(b"GET / HTTP/1.0\r\n\r\n");
        let mut out = String::new();
        let _ = s.read_to_string(&mut out);
        out.contains("200 OK")
    };
    eventually("the server answers", Duration::from_secs(10), get);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = stop.clone();
    let client = std::thread::spawn(move || {
        let (mut ok, mut failed) = (0u32, 0u32);
        while !flag.load(std::sync::atomic::Ordering::Relaxed) {
            if get() {
                ok += 1;
            } else {
                failed += 1;
            }
        }
        (ok, failed)
    });
    std::thread::sleep(Duration::from_millis(200));
    for _ in 0..3 {
        d.stop();
        d.spawn();
        // The rules are replaced in the background after the daemon answers.
        std::thread::sleep(Duration::from_millis(300));
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (ok, failed) = client.join().unwrap();
    println!("restarts: {ok} requests through a published port across 3 daemon restarts, {failed} failed");
    assert!(ok > 0);
    assert_eq!(
        failed,
        0,
        "{failed} of {} requests failed across restarts",
        ok + failed
    );
    d.docker_ok(&["rm", "-f", &id]);
}

// 10. Memory taken by large requests comes back.
#[test]
fn memory_returns_after_large_containers_are_removed() {
    let d = daemon();
    let label = "x".repeat(1 << 20);
    let body = serde_json::json!({"Image": "busybox", "Cmd": ["true"], "Labels": {"big": label}});
    let body = serde_json::to_vec(&body).unwrap();
    // One round first: what is allocated once (buffers, caches) is not a leak.
    let mut ids = Vec::new();
    let round = |ids: &mut Vec<String>| {
        for _ in 0..10 {
            let r = d.post_json("/containers/create", &body);
            assert_eq!(r.status, 201, "{}", r.text());
            ids.push(r.json()["Id"].as_str().unwrap().to_string());
        }
        for id in ids.drain(..) {
            assert_eq!(d.delete(&format!("/containers/{id}")).status, 204);
        }
    };
    round(&mut ids);
    let before = rss_kib(d.pid());
    for _ in 0..3 {
        round(&mut ids);
    }
    let after = rss_kib(d.pid());
    println!("memory: RSS {before} -> {after} KiB after 30 creates and removals of 1 MB labels");
    // The events history keeps the labels of its events (4 MiB of them at most); the rest
    // must come back.
    assert!(
        after < before + 8 * 1024,
        "RSS {before} KiB -> {after} KiB after 30 creates and removals of 1 MB labels"
    );
}

// 11. Docker's answers to odd input.
#[test]
fn odd_input_gets_dockers_answers() {
    let d = daemon();
    let id = detached(&d, &["busybox", "sh", "-c", "echo one; echo two"]);
    d.docker_ok(&["wait", &id]);
    for tail in ["-1", "abc", "all"] {
        let r = d.get(&format!("/containers/{id}/logs?stdout=1&tail={tail}"));
        assert_eq!(r.status, 200, "tail={tail}: {}", r.text());
        let (out, _) = berth_tests::demux(&r.body);
        assert_eq!(String::from_utf8_lossy(&out), "one\ntwo\n", "tail={tail}");
    }
    let r = d.get(&format!("/containers/{id}/logs?stdout=1&tail=1"));
    assert_eq!(berth_tests::demux(&r.body).0, b"two\n");
    let r = d.get("/containers/json?filters=%7B%22status%22%3A%5B%22bogus%22%5D%7D");
    assert_eq!(r.status, 400);
    assert_eq!(r.message(), "Invalid filter 'status=bogus'");
    let r = d.get("/containers/json?all=1&filters=%7B%22status%22%3A%5B%22exited%22%5D%7D");
    assert_eq!(r.status, 200);
    assert_eq!(r.json().as_array().unwrap().len(), 1);
    let r = d.get("/containers/json?filters=%7B%22exited%22%3A%5B%22abc%22%5D%7D");
    assert_eq!(r.status, 400);
    let r = d.request(
        "POST",
        "/containers/create",
        &[("Content-Type", "text/plain")],
        br#"{"Image":"busybox"}"#,
    );
    assert_eq!(r.status, 400);
    assert_eq!(
        r.message(),
        "Content-Type specified (text/plain) must be 'application/json'"
    );
    // Request targets up to 1 MiB, as Go's server takes them; on a kept-alive connection,
    // after a request with a body, and with the next request still answered.
    let pad = "a".repeat(1_000_000);
    let long = format!("/containers/json?all=1&pad={pad}");
    let r = d.get(&long);
    assert_eq!(r.status, 200, "{}", &r.text()[..r.text().len().min(200)]);
    assert!(r
        .json()
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["Id"] == id.as_str()));
    let mut s = UnixStream::connect(&d.socket).unwrap();
    let body = br#"{"Image":"busybox","Cmd":["true"]}"#;
    let pipelined = format!(
        "POST /containers/create HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{}\
         GET {long} HTTP/1.1\r\nHost: x\r\n\r\n\
         GET /_ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        body.len(),
        String::from_utf8_lossy(body)
    );
    s.write_all(pipelined.as_bytes()).unwrap();
    let mut answers = Vec::new();
    s.read_to_end(&mut answers).unwrap();
    let answers = String::from_utf8_lossy(&answers);
    let statuses: Vec<&str> = answers
        .match_indices("HTTP/1.1 ")
        .map(|(i, _)| &answers[i + 9..i + 12])
        .collect();
    assert_eq!(
        statuses,
        ["201", "200", "200"],
        "{}",
        &answers[..answers.len().min(500)]
    );
    // Past 1 MiB: refused (an answer, or a reset when it comes before the client finished
    // sending), and the daemon serves on.
    let too_long = format!("/containers/json?pad={}", "a".repeat(1_100_000));
    match d.try_request("GET", &too_long, &[], &[]) {
        Ok(r) => assert!(r.status == 431 || r.status == 414, "{}", r.status),
        Err(e) => assert!(
            matches!(
                e.kind(),
                std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::BrokenPipe
            ),
            "{e}"
        ),
    }
    assert_eq!(d.get("/_ping").status, 200);
    // Path parameters are percent-decoded.
    d.docker_ok(&["rename", &id, "odd-name"]);
    let r = d.get("/containers/odd%2Dname/json");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["Id"], id.as_str());
    d.docker_ok(&["rm", &id]);
}

// Limits a container must not cross, from inside it.
#[test]
fn a_container_cannot_cross_its_limits() {
    let d = daemon();
    let refused = |what: &str, script: &str| {
        let o = run(&d, &["busybox", "sh", "-c", script]);
        assert!(!o.status.success(), "{what} was allowed: {}", stdout(&o));
    };
    refused(
        "writing /proc/sys",
        "echo 1 > /proc/sys/net/ipv4/ip_forward",
    );
    refused(
        "writing /proc/sysrq-trigger",
        "echo h > /proc/sysrq-trigger",
    );
    refused("mounting", "mkdir -p /m && mount -t tmpfs none /m");
    refused("remounting the root read-write", "mount -o remount,rw /");
    refused(
        "opening a host disk",
        "mknod /tmp/disk b 8 0 && head -c 1 /tmp/disk",
    );
    refused(
        "reading kernel memory",
        "test -n \"$(head -c 1 /proc/kcore)\"",
    );
    // Its own network only: loopback and its end of the bridge.
    let o = run(&d, &["busybox", "ls", "/sys/class/net"]);
    let links: Vec<String> = stdout(&o).split_whitespace().map(str::to_string).collect();
    assert_eq!(links, ["eth0", "lo"], "{links:?}");
    // The read-only root stays read-only.
    let o = run(&d, &["--read-only", "busybox", "touch", "/x"]);
    assert!(!o.status.success());
}
