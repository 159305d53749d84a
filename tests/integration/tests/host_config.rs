//! HostConfig fields taking effect, checked from inside the container, with the docker CLI.

use berth_tests::Daemon;

fn daemon() -> Daemon {
    let d = Daemon::start();
    d.import_busybox("busybox:latest");
    d
}

fn run(d: &Daemon, args: &[&str]) -> String {
    let mut a = vec!["run", "--rm"];
    a.extend_from_slice(args);
    d.docker_ok(&a)
}

fn cgroup_v1() -> bool {
    std::path::Path::new("/sys/fs/cgroup/memory/memory.limit_in_bytes").exists()
}

#[test]
fn memory_limit_is_enforced_and_oom_is_reported() {
    let d = daemon();
    if cgroup_v1() {
        assert_eq!(
            run(
                &d,
                &[
                    "--memory",
                    "32m",
                    "busybox",
                    "cat",
                    "/sys/fs/cgroup/memory/memory.limit_in_bytes"
                ]
            )
            .trim(),
            "33554432"
        );
    } else {
        assert_eq!(
            run(
                &d,
                &[
                    "--memory",
                    "32m",
                    "busybox",
                    "cat",
                    "/sys/fs/cgroup/memory.max"
                ]
            )
            .trim(),
            "33554432"
        );
    }
    let out = d.docker(&[
        "run",
        "--name",
        "hog",
        "--memory",
        "32m",
        "busybox",
        "sh",
        "-c",
        "x=$(head -c 200000000 /dev/zero | tr '\\0' a); echo survived",
    ]);
    assert_eq!(
        out.status.code(),
        Some(137),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(
        d.docker_ok(&["inspect", "-f", "{{.State.OOMKilled}}", "hog"])
            .trim(),
        "true"
    );
    let until = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 1;
    let oom = d
        .get(&format!(
            "/v1.18/events?since=0&until={until}&filters=%7B%22event%22%3A%5B%22oom%22%5D%7D"
        ))
        .json_lines();
    assert_eq!(oom.len(), 1);
    assert!(
        d.docker(&["run", "--rm", "--memory", "1m", "busybox", "true"])
            .status
            .code()
            != Some(0)
    );
}

#[test]
fn cpu_shares_and_cpuset() {
    let d = daemon();
    if cgroup_v1() {
        let out = run(
            &d,
            &[
                "--cpu-shares",
                "512",
                "--cpuset-cpus",
                "0",
                "busybox",
                "cat",
                "/sys/fs/cgroup/cpu/cpu.shares",
                "/sys/fs/cgroup/cpuset/cpuset.cpus",
            ],
        );
        assert_eq!(out, "512\n0\n");
    }
    let bad = d.docker(&["run", "--rm", "--cpuset-cpus", "0-99", "busybox", "true"]);
    assert!(String::from_utf8_lossy(&bad.stderr).contains("Requested CPUs are not available"));
}

#[test]
fn capabilities_add_drop_privileged() {
    let d = daemon();
    // Docker's default set with NET_ADMIN (bit 12) added and CHOWN (bit 0) dropped.
    let caps = run(
        &d,
        &[
            "--cap-add",
            "NET_ADMIN",
            "--cap-drop",
            "CHOWN",
            "busybox",
            "grep",
            "CapEff",
            "/proc/self/status",
        ],
    );
    assert_eq!(caps.trim(), "CapEff:\t00000000a80435fa");
    let all = run(
        &d,
        &[
            "--cap-add",
            "ALL",
            "busybox",
            "grep",
            "CapBnd",
            "/proc/self/status",
        ],
    );
    let host = std::fs::read_to_string("/proc/self/status").unwrap();
    let host_bnd = host.lines().find(|l| l.starts_with("CapBnd")).unwrap();
    assert_eq!(
        all.trim(),
        host_bnd,
        "ALL means every capability the host has"
    );
    let priv_out = run(&d, &["--privileged", "busybox", "sh", "-c", "grep CapEff /proc/self/status; mkdir -p /tmp/m; mount -t tmpfs none /tmp/m && echo mounted"]);
    assert!(priv_out.contains("mounted"), "{priv_out}");
    let unprivileged = d.docker(&[
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        "mkdir -p /tmp/m; mount -t tmpfs none /tmp/m && echo mounted",
    ]);
    assert!(!String::from_utf8_lossy(&unprivileged.stdout).contains("mounted"));
    let bogus = d.docker(&["run", "--rm", "--cap-add", "NOPE", "busybox", "true"]);
    assert!(String::from_utf8_lossy(&bogus.stderr).contains("unknown capability"));
}

#[test]
fn read_only_root_user_and_no_new_privileges() {
    let d = daemon();
    let ro = d.docker(&["run", "--rm", "--read-only", "busybox", "touch", "/x"]);
    assert!(!ro.status.success());
    assert!(String::from_utf8_lossy(&ro.stderr).contains("Read-only file system"));
    assert_eq!(
        run(&d, &["--user", "nobody", "busybox", "id"]).trim(),
        "uid=65534(nobody) gid=65534(nogroup)"
    );
    assert_eq!(
        run(&d, &["--user", "1234:5", "busybox", "id", "-u"]).trim(),
        "1234"
    );
    assert_eq!(
        run(
            &d,
            &[
                "--security-opt",
                "no-new-privileges",
                "busybox",
                "grep",
                "NoNewPrivs",
                "/proc/self/status"
            ]
        )
        .trim(),
        "NoNewPrivs:\t1"
    );
    let bad = d.docker(&["run", "--rm", "--user", "ghost", "busybox", "true"]);
    assert!(String::from_utf8_lossy(&bad.stderr).contains("unable to find user ghost"));
}

#[test]
fn ulimits_within_the_host_limit_and_a_clear_error_above() {
    let d = daemon();
    assert_eq!(
        run(
            &d,
            &[
                "--ulimit",
                "nofile=100:200",
                "busybox",
                "sh",
                "-c",
                "ulimit -n; ulimit -Hn"
            ]
        ),
        "100\n200\n"
    );
    let host_hard = rustix_like_hard_nofile();
    let above = format!("nofile=100:{}", host_hard + 1000);
    let out = d.docker(&["run", "--rm", "--ulimit", &above, "busybox", "true"]);
    let caps = std::fs::read_to_string("/proc/self/status").unwrap();
    let has_sys_resource = caps
        .lines()
        .find(|l| l.starts_with("CapBnd"))
        .map(|l| u64::from_str_radix(l[7..].trim(), 16).unwrap() & (1 << 24) != 0)
        .unwrap();
    if !has_sys_resource {
        assert!(!out.status.success());
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("exceeds the host's hard limit"),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

fn rustix_like_hard_nofile() -> u64 {
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg("ulimit -Hn")
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .unwrap_or(1 << 20)
}

#[test]
fn devices_and_pid_host() {
    let d = daemon();
    let out = run(
        &d,
        &[
            "--device",
            "/dev/fuse",
            "busybox",
            "sh",
            "-c",
            "ls -l /dev/fuse",
        ],
    );
    assert!(out.starts_with('c') && out.contains("10, 229"), "{out}");
    let without = d.docker(&["run", "--rm", "busybox", "ls", "/dev/fuse"]);
    assert!(!without.status.success());
    let host_ps = run(
        &d,
        &[
            "--pid",
            "host",
            "busybox",
            "sh",
            "-c",
            "ps -o comm | grep -c '^berthd$'",
        ],
    );
    assert!(
        host_ps.trim().parse::<u32>().unwrap() >= 1,
        "the host's processes are visible with --pid host"
    );
    let own = run(
        &d,
        &[
            "busybox",
            "sh",
            "-c",
            "ps -o comm | grep -c '^berthd$'; true",
        ],
    );
    assert_eq!(own.trim(), "0");
}

#[test]
fn pid_and_ipc_of_another_container() {
    let d = daemon();
    // Its IPC namespace is another's to join only when it says so, as with Docker.
    d.docker_ok(&[
        "run",
        "-d",
        "--name",
        "first",
        "--ipc",
        "shareable",
        "busybox",
        "sleep",
        "1000",
    ]);
    let out = run(
        &d,
        &[
            "--pid",
            "container:first",
            "--ipc",
            "container:first",
            "busybox",
            "sh",
            "-c",
            "pidof sleep | wc -w",
        ],
    );
    assert_eq!(out.trim(), "1");
}

#[test]
fn bind_mounts_read_only_and_created() {
    let d = daemon();
    let src = d.dir.path().join("shared");
    std::fs::create_dir(&src).unwrap();
    std::fs::write(src.join("f"), "from host\n").unwrap();
    let spec = format!("{}:/data:ro", src.display());
    let out = d.docker(&[
        "run",
        "--rm",
        "-v",
        &spec,
        "busybox",
        "sh",
        "-c",
        "cat /data/f; touch /data/g",
    ]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "from host\n");
    assert!(String::from_utf8_lossy(&out.stderr).contains("Read-only file system"));
    let rw = format!("{}:/data", src.display());
    run(
        &d,
        &["-v", &rw, "busybox", "sh", "-c", "echo written > /data/g"],
    );
    assert_eq!(std::fs::read_to_string(src.join("g")).unwrap(), "written\n");
    let missing = d.dir.path().join("made-for-you");
    let spec = format!("{}:/m", missing.display());
    run(&d, &["-v", &spec, "busybox", "true"]);
    assert!(missing.is_dir(), "API 1.18 creates a missing bind source");
}

#[test]
fn anonymous_volumes_volumes_from_and_rm_v() {
    let d = daemon();
    let out = d.docker_ok(&[
        "run",
        "--name",
        "owner",
        "-v",
        "/etc",
        "busybox",
        "sh",
        "-c",
        "cat /etc/passwd | head -1; echo shared > /etc/note",
    ]);
    assert_eq!(
        out, "root:x:0:0:root:/root:/bin/sh\n",
        "a new volume starts with the image's content"
    );
    // API 1.44 shows Mounts; the Volumes and VolumesRW maps of 1.20 and before hold the same.
    let mounts = d.docker_ok(&["inspect", "-f", "{{json .Mounts}}", "owner"]);
    let mounts: serde_json::Value = serde_json::from_str(mounts.trim()).unwrap();
    assert_eq!(mounts[0]["Type"], "volume", "{mounts}");
    assert_eq!(mounts[0]["Destination"], "/etc");
    assert_eq!(mounts[0]["Driver"], "local");
    assert_eq!(mounts[0]["RW"], true);
    let old = d.get("/v1.18/containers/owner/json").json();
    let (v, rw) = (old["Volumes"].to_string(), old["VolumesRW"].to_string());
    assert_eq!(mounts[0]["Source"], old["Volumes"]["/etc"]);
    let v: serde_json::Value = serde_json::from_str(&v).unwrap();
    let source = v["/etc"].as_str().unwrap().to_string();
    assert!(
        source.starts_with(&d.data_root().join("volumes").display().to_string()),
        "{source}"
    );
    assert_eq!(rw, r#"{"/etc":true}"#);
    assert_eq!(
        d.docker_ok(&[
            "run",
            "--rm",
            "--volumes-from",
            "owner",
            "busybox",
            "cat",
            "/etc/note"
        ]),
        "shared\n"
    );
    let ro = d.docker(&[
        "run",
        "--rm",
        "--volumes-from",
        "owner:ro",
        "busybox",
        "touch",
        "/etc/x",
    ]);
    assert!(String::from_utf8_lossy(&ro.stderr).contains("Read-only file system"));
    // Config.Volumes of the create body too.
    let body = serde_json::json!({"Image": "busybox", "Cmd": ["true"], "Volumes": {"/cache": {}}});
    let r = d.request(
        "POST",
        "/v1.18/containers/create?name=cfgvol",
        &[("Content-Type", "application/json")],
        &serde_json::to_vec(&body).unwrap(),
    );
    assert_eq!(r.status, 201);
    assert!(d.get("/v1.18/containers/cfgvol/json").json()["Volumes"]["/cache"].is_string());
    d.docker_ok(&["rm", "-v", "owner"]);
    assert!(
        !std::path::Path::new(&source).exists(),
        "rm -v removes the anonymous volume"
    );
}

#[test]
fn symlinks_in_the_image_cannot_aim_mounts_at_the_host() {
    let d = daemon();
    let outside = tempfile::Builder::new()
        .prefix("berth-outside-")
        .tempdir()
        .unwrap();
    std::fs::write(outside.path().join("keep"), "original").unwrap();
    // busybox plus `/escape -> <outside>` and `/etc/hosts -> <outside>/keep`.
    let mut tar = std::fs::read(berth_tests::busybox_tar()).unwrap();
    while tar.len() >= 512 && tar[tar.len() - 512..].iter().all(|b| *b == 0) {
        tar.truncate(tar.len() - 512);
    }
    let o = outside.path().display().to_string();
    tar.extend(
        berth_tests::RawTar::new()
            .symlink("escape", &o)
            .symlink("etc/hosts", &format!("{o}/keep"))
            .finish(),
    );
    d.import(&tar, "evil:latest");
    let out = d.docker_ok(&[
        "run",
        "--rm",
        "-v",
        "/escape",
        "evil",
        "sh",
        "-c",
        "echo pwned > /escape/owned; cat /etc/hosts | head -1",
    ]);
    assert_eq!(out, "127.0.0.1\tlocalhost\n");
    let bind_src = d.dir.path().join("bindsrc");
    std::fs::create_dir(&bind_src).unwrap();
    d.docker_ok(&[
        "run",
        "--rm",
        "-v",
        &format!("{}:/escape", bind_src.display()),
        "evil",
        "sh",
        "-c",
        "echo via-bind > /escape/f",
    ]);
    assert_eq!(
        std::fs::read_to_string(bind_src.join("f")).unwrap(),
        "via-bind\n"
    );
    let names: Vec<_> = std::fs::read_dir(outside.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        names,
        ["keep"],
        "nothing was mounted or written outside the container"
    );
    assert_eq!(
        std::fs::read_to_string(outside.path().join("keep")).unwrap(),
        "original"
    );
}

#[test]
fn stats_stream_the_1_18_shape_and_end_with_the_container() {
    use std::io::{BufRead, BufReader, Write};
    let d = daemon();
    d.docker_ok(&[
        "run",
        "-d",
        "--name",
        "busy",
        "--memory",
        "64m",
        "busybox",
        "sh",
        "-c",
        "i=0; while [ $i -lt 3000000 ]; do i=$((i+1)); done",
    ]);
    let one = d.get("/v1.18/containers/busy/stats?stream=0").json();
    for key in [
        "read",
        "network",
        "memory_stats",
        "blkio_stats",
        "cpu_stats",
    ] {
        assert!(one.get(key).is_some(), "{key} missing: {one}");
    }
    assert_eq!(one["memory_stats"]["limit"], 64 << 20);
    assert!(one["memory_stats"]["usage"].as_u64().unwrap() > 0);
    assert!(one["memory_stats"]["stats"].as_object().unwrap().len() > 5);
    assert!(
        one["cpu_stats"]["cpu_usage"]["total_usage"]
            .as_u64()
            .unwrap()
            > one["precpu_stats"]["cpu_usage"]["total_usage"]
                .as_u64()
                .unwrap()
    );
    assert!(
        !one["cpu_stats"]["cpu_usage"]["percpu_usage"]
            .as_array()
            .unwrap()
            .is_empty()
            || !cgroup_v1()
    );
    assert!(one["cpu_stats"]["system_cpu_usage"].as_u64().unwrap() > 0);
    assert!(one["cpu_stats"]["throttling_data"]
        .get("throttled_time")
        .is_some());
    // The docker CLI shows real figures.
    let table = d.docker_ok(&[
        "stats",
        "--no-stream",
        "--format",
        "{{.Name}} {{.CPUPerc}} {{.MemUsage}}",
        "busy",
    ]);
    let fields: Vec<&str> = table.split_whitespace().collect();
    assert_eq!(fields[0], "busy");
    let cpu: f64 = fields[1].trim_end_matches('%').parse().unwrap();
    assert!(cpu > 10.0, "a busy loop uses CPU: {table}");
    assert!(table.contains("/ 64MiB"), "{table}");
    // Streaming: one object per second, and the stream ends when the container stops.
    let mut s = std::os::unix::net::UnixStream::connect(&d.socket).unwrap();
    s.write_all(b"GET /v1.18/containers/busy/stats HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .unwrap();
    let mut r = BufReader::new(s);
    let mut objects = 0;
    let mut line = String::new();
    while r.read_line(&mut line).unwrap() > 0 {
        if line.starts_with('{') {
            objects += 1;
            if objects == 2 {
                d.docker_ok(&["kill", "busy"]);
            }
        }
        if line == "0\r\n" {
            break;
        }
        line.clear();
    }
    assert!(objects >= 2, "{objects} objects");
}

#[test]
fn log_drivers_json_file_rotation_none_and_unknown() {
    let d = daemon();
    d.docker_ok(&[
        "run",
        "--name",
        "rot",
        "--log-opt",
        "max-size=2k",
        "--log-opt",
        "max-file=2",
        "busybox",
        "sh",
        "-c",
        "for i in $(seq 1 300); do echo line-$i; done",
    ]);
    let dir = d.data_root().join("containers");
    let id = d
        .docker_ok(&["inspect", "-f", "{{.Id}}", "rot"])
        .trim()
        .to_string();
    let log = dir.join(&id).join(format!("{id}-json.log"));
    assert!(std::fs::metadata(&log).unwrap().len() <= 2048);
    assert!(dir.join(&id).join(format!("{id}-json.log.1")).exists());
    assert!(
        !dir.join(&id).join(format!("{id}-json.log.2")).exists(),
        "max-file=2 keeps two files"
    );
    let logs = d.docker_ok(&["logs", "--tail", "1", "rot"]);
    assert_eq!(logs, "line-300\n");
    d.docker_ok(&[
        "run",
        "--name",
        "quiet",
        "--log-driver",
        "none",
        "busybox",
        "echo",
        "hi",
    ]);
    let r = d.docker(&["logs", "quiet"]);
    assert!(!r.status.success());
    assert!(
        String::from_utf8_lossy(&r.stderr)
            .contains("configured logging driver does not support reading"),
        "{}",
        String::from_utf8_lossy(&r.stderr)
    );
    let bad = d.docker(&["run", "--rm", "--log-driver", "fancy", "busybox", "true"]);
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("no log driver named 'fancy' is registered")
    );
}

#[test]
fn default_seccomp_profile_and_its_opt_outs() {
    let d = daemon();
    let out = d.docker(&[
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        "grep Seccomp: /proc/self/status; unshare -U true && echo userns",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.starts_with("Seccomp:\t2"),
        "filter mode by default: {text}"
    );
    assert!(
        !text.contains("userns"),
        "new user namespaces are refused by the default profile"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("Operation not permitted"));
    let unconfined = run(
        &d,
        &[
            "--security-opt",
            "seccomp=unconfined",
            "busybox",
            "sh",
            "-c",
            "grep Seccomp: /proc/self/status; unshare -U true && echo userns",
        ],
    );
    assert_eq!(unconfined, "Seccomp:\t0\nuserns\n");
    assert_eq!(
        run(
            &d,
            &[
                "--privileged",
                "busybox",
                "grep",
                "Seccomp:",
                "/proc/self/status"
            ]
        ),
        "Seccomp:\t0\n"
    );
    // A capability brings back the syscalls it guards.
    let admin = run(
        &d,
        &[
            "--cap-add",
            "SYS_ADMIN",
            "busybox",
            "sh",
            "-c",
            "mkdir -p /tmp/m && mount -t tmpfs none /tmp/m && echo mounted",
        ],
    );
    assert_eq!(admin, "mounted\n");
    let nnp = run(
        &d,
        &[
            "--security-opt",
            "no-new-privileges",
            "busybox",
            "grep",
            "-E",
            "Seccomp:|NoNewPrivs",
            "/proc/self/status",
        ],
    );
    assert_eq!(nnp, "NoNewPrivs:\t1\nSeccomp:\t2\n");
    let bad = d.docker(&[
        "run",
        "--rm",
        "--security-opt",
        "seccomp=/nonexistent.json",
        "busybox",
        "true",
    ]);
    assert!(!bad.status.success());
}

/// The resource fields of the modern API (1.19–1.25), read back from the container's cgroups,
/// at create and through `docker update`.
#[test]
fn cpu_quota_pids_reservation_oom_and_shm() {
    let d = daemon();
    if cgroup_v1() {
        let cat = |opts: &[&str], files: &[&str]| {
            let mut args: Vec<&str> = opts.to_vec();
            args.extend(["busybox", "cat"]);
            args.extend(files);
            run(&d, &args)
        };
        let cfs = [
            "/sys/fs/cgroup/cpu/cpu.cfs_quota_us",
            "/sys/fs/cgroup/cpu/cpu.cfs_period_us",
        ];
        assert_eq!(cat(&["--cpus", "0.5"], &cfs), "50000\n100000\n");
        assert_eq!(
            cat(&["--cpu-period", "50000", "--cpu-quota", "25000"], &cfs),
            "25000\n50000\n"
        );
        assert_eq!(
            cat(
                &["--cpuset-mems", "0"],
                &["/sys/fs/cgroup/cpuset/cpuset.mems"]
            ),
            "0\n"
        );
        assert_eq!(
            cat(&["--pids-limit", "10"], &["/sys/fs/cgroup/pids/pids.max"]),
            "10\n"
        );
        assert_eq!(
            cat(
                &["--memory", "64m", "--memory-reservation", "32m"],
                &["/sys/fs/cgroup/memory/memory.soft_limit_in_bytes"]
            ),
            "33554432\n"
        );
        let oom = cat(
            &["--memory", "64m", "--oom-kill-disable"],
            &["/sys/fs/cgroup/memory/memory.oom_control"],
        );
        assert!(oom.contains("oom_kill_disable 1"), "{oom}");
        // Live, through `docker update`.
        d.docker_ok(&["run", "-d", "--name", "res", "busybox", "sleep", "1000"]);
        d.docker_ok(&["update", "--cpus", "1", "--pids-limit", "20", "res"]);
        let inside = d.docker_ok(&["exec", "res", "cat", cfs[0], "/sys/fs/cgroup/pids/pids.max"]);
        assert_eq!(inside, "100000\n20\n");
        let out = d.docker(&["update", "--cpu-quota", "50000", "res"]);
        assert!(
            String::from_utf8_lossy(&out.stderr)
                .contains("CPU Quota cannot be updated as NanoCPUs has already been set"),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        d.docker_ok(&["rm", "-f", "res"]);
    }
    assert_eq!(
        run(
            &d,
            &[
                "--oom-score-adj",
                "500",
                "busybox",
                "cat",
                "/proc/self/oom_score_adj"
            ]
        ),
        "500\n"
    );
    let shm = run(&d, &["--shm-size", "8m", "busybox", "df", "-k", "/dev/shm"]);
    assert!(
        shm.lines()
            .nth(1)
            .is_some_and(|l| l.split_whitespace().nth(1) == Some("8192")),
        "{shm}"
    );
    let shm = run(&d, &["busybox", "df", "-k", "/dev/shm"]);
    assert!(
        shm.lines()
            .nth(1)
            .is_some_and(|l| l.split_whitespace().nth(1) == Some("65536")),
        "{shm}"
    );
    for (args, message) in [
        (
            &["--cpus", "0.5", "--cpu-period", "50000"][..],
            "Conflicting options: Nano CPUs and CPU Period cannot both be set",
        ),
        (
            &["--cpu-quota", "10"][..],
            "CPU cfs quota can not be less than 1ms (i.e. 1000)",
        ),
        (
            &["--memory", "32m", "--memory-reservation", "64m"][..],
            "Minimum memory limit can not be less than memory reservation limit",
        ),
        (
            &["--cpuset-mems", "7"][..],
            "Requested memory nodes are not available",
        ),
    ] {
        let mut a = vec!["create"];
        a.extend_from_slice(args);
        a.extend(["busybox", "true"]);
        let out = d.docker(&a);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success() && err.contains(message),
            "{args:?}: {err}"
        );
    }
    assert_eq!(
        d.docker_ok(&["ps", "-aq"]).trim(),
        "",
        "a refused create leaves nothing"
    );
}
