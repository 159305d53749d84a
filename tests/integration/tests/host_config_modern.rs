//! HostConfig fields of API 1.19–1.44 that shape a container's filesystem and namespaces
//! (`Mounts`, `Tmpfs`, `Sysctls`, `GroupAdd`, `DnsOptions`, `IpcMode`, `UTSMode`,
//! `CgroupnsMode`, masked and read-only paths, `Annotations`, `ConsoleSize`, `BlkioWeight`),
//! checked from inside the container with the docker CLI and raw API calls.

use std::path::Path;
use std::process::Command;

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

/// `docker run --rm OPTIONS busybox sh -c SCRIPT`, its output.
fn run_sh(d: &Daemon, options: &[&str], script: &str) -> String {
    let mut a = options.to_vec();
    a.extend(["busybox", "sh", "-c", script]);
    run(d, &a)
}

/// What the docker CLI says on stderr when `args` fail (they must fail).
fn run_err(d: &Daemon, args: &[&str]) -> String {
    let mut a = vec!["run", "--rm"];
    a.extend_from_slice(args);
    let out = d.docker(&a);
    assert!(!out.status.success(), "docker {a:?} succeeded");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn sh(cmd: &str) {
    let st = Command::new("sh").arg("-c").arg(cmd).status().unwrap();
    assert!(st.success(), "{cmd}");
}

/// A directory bind-mounted on itself with the given propagation, unmounted on drop.
struct HostMount(tempfile::TempDir);

impl HostMount {
    fn new(propagation: &str) -> HostMount {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().display().to_string();
        sh(&format!(
            "mount --bind {p} {p} && mount --make-{propagation} {p}"
        ));
        HostMount(dir)
    }

    fn path(&self) -> &Path {
        self.0.path()
    }
}

impl Drop for HostMount {
    fn drop(&mut self) {
        let p = self.0.path().display().to_string();
        let _ = Command::new("umount").args(["-R", "-l", &p]).status();
    }
}

#[test]
fn mounts_and_tmpfs_take_effect() {
    let d = daemon();
    let host = tempfile::tempdir().unwrap();
    std::fs::write(host.path().join("f"), "from the host\n").unwrap();
    let src = host.path().display().to_string();
    // A read-only bind: readable, not writable.
    let bind = format!("type=bind,src={src},dst=/data,readonly");
    assert_eq!(
        run(&d, &["--mount", &bind, "busybox", "cat", "/data/f"]),
        "from the host\n"
    );
    let out = run_sh(&d, &["--mount", &bind], "touch /data/x || echo refused");
    assert!(out.contains("refused"), "{out}");
    assert!(!host.path().join("x").exists());
    // A tmpfs with size and mode, and `--tmpfs` with Docker's default options.
    let out = run_sh(
        &d,
        &[
            "--mount",
            "type=tmpfs,dst=/scratch,tmpfs-size=1m,tmpfs-mode=1770",
        ],
        "stat -c %a /scratch; df -k /scratch | tail -1",
    );
    let mut lines = out.lines();
    assert_eq!(lines.next(), Some("1770"), "{out}");
    assert_eq!(
        lines.next().and_then(|l| l.split_whitespace().nth(1)),
        Some("1024"),
        "{out}"
    );
    let out = run(
        &d,
        &[
            "--tmpfs",
            "/t:size=2m",
            "busybox",
            "grep",
            " /t ",
            "/proc/mounts",
        ],
    );
    for opt in ["nosuid", "nodev", "noexec", "size=2048k"] {
        assert!(out.contains(opt), "{opt} in {out}");
    }
    // An anonymous volume of `Mounts`: writable, shown in inspect, removed with the container.
    d.docker_ok(&[
        "create",
        "--name",
        "vol",
        "--mount",
        "type=volume,dst=/v",
        "busybox",
        "touch",
        "/v/x",
    ]);
    d.docker_ok(&["start", "-a", "vol"]);
    let shown: serde_json::Value = serde_json::from_str(&d.docker_ok(&["inspect", "vol"])).unwrap();
    let mounts = &shown[0]["Mounts"];
    assert_eq!(mounts[0]["Type"], "volume", "{mounts}");
    assert_eq!(mounts[0]["Destination"], "/v");
    assert_eq!(shown[0]["HostConfig"]["Mounts"][0]["Type"], "volume");
    let volume = mounts[0]["Source"].as_str().unwrap().to_string();
    assert!(Path::new(&volume).join("x").exists());
    d.docker_ok(&["rm", "-v", "vol"]);
    assert!(!Path::new(&volume).exists());
    // Docker's checks, before anything is made.
    let err = run_err(
        &d,
        &[
            "--mount",
            "type=bind,src=/no/such/berth/dir,dst=/x",
            "busybox",
            "true",
        ],
    );
    assert!(
        err.contains("bind source path does not exist: /no/such/berth/dir"),
        "{err}"
    );
    let r = d.post_json(
        "/v1.44/containers/create",
        br#"{"Image":"busybox","Cmd":["true"],"HostConfig":{"Mounts":[{"Type":"bind","Source":"/","Target":"/x","TmpfsOptions":{"SizeBytes":1}}]}}"#,
    );
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(
        r.message(),
        "TmpfsOptions must not be specified on mount type \"bind\""
    );
    let r = d.post_json(
        "/v1.44/containers/create",
        br#"{"Image":"busybox","Cmd":["true"],"HostConfig":{"Mounts":[{"Type":"nfs","Target":"/x"}]}}"#,
    );
    assert_eq!(r.status, 400);
    assert_eq!(
        r.message(),
        "invalid mount config for type \"nfs\": mount type unknown"
    );
    assert_eq!(
        d.get("/containers/json?all=1")
            .json()
            .as_array()
            .unwrap()
            .len(),
        0,
        "no half-made container"
    );
}

#[test]
fn bind_propagation_follows_the_host() {
    let d = daemon();
    // rslave from a shared source: a mount made on the host after start shows inside.
    let shared = HostMount::new("shared");
    let src = shared.path().display().to_string();
    let spec = format!("type=bind,src={src},dst=/p,bind-propagation=rslave");
    d.docker_ok(&[
        "run", "-d", "--name", "slave", "--mount", &spec, "busybox", "sleep", "1000",
    ]);
    let private = format!("{src}:/q");
    d.docker_ok(&[
        "run", "-d", "--name", "private", "-v", &private, "busybox", "sleep", "1000",
    ]);
    std::fs::create_dir(shared.path().join("sub")).unwrap();
    sh(&format!("mount -t tmpfs berth-test {src}/sub"));
    let seen = d.docker_ok(&["exec", "slave", "cat", "/proc/mounts"]);
    assert!(seen.contains(" /p/sub tmpfs "), "{seen}");
    let unseen = d.docker_ok(&["exec", "private", "cat", "/proc/mounts"]);
    assert!(!unseen.contains(" /q/sub "), "{unseen}");
    let shown: serde_json::Value =
        serde_json::from_str(&d.docker_ok(&["inspect", "slave"])).unwrap();
    assert_eq!(shown[0]["Mounts"][0]["Propagation"], "rslave");
    d.docker_ok(&["rm", "-f", "slave", "private"]);
    sh(&format!("umount {src}/sub"));
    // rshared needs a shared source, as Docker checks at start.
    let private = HostMount::new("private");
    let spec = format!(
        "type=bind,src={},dst=/p,bind-propagation=rshared",
        private.path().display()
    );
    let err = run_err(&d, &["--mount", &spec, "busybox", "true"]);
    assert!(err.contains("but it is not a shared mount"), "{err}");
    d.remove_all_containers();
}

#[test]
fn sysctls_groups_and_dns_options() {
    let d = daemon();
    let out = run(
        &d,
        &[
            "--sysctl",
            "kernel.shmmax=123456",
            "--sysctl",
            "net.ipv4.ip_forward=1",
            "busybox",
            "cat",
            "/proc/sys/kernel/shmmax",
            "/proc/sys/net/ipv4/ip_forward",
        ],
    );
    assert_eq!(out, "123456\n1\n");
    // The CLI checks names itself; the API refuses what is outside the namespaces.
    for (body, want) in [
        (
            r#"{"Image":"busybox","Cmd":["true"],"HostConfig":{"Sysctls":{"kernel.panic":"1"}}}"#,
            "sysctl \"kernel.panic\" is not in a separate kernel namespace",
        ),
        (
            r#"{"Image":"busybox","Cmd":["true"],"HostConfig":{"NetworkMode":"host","Sysctls":{"net.ipv4.ip_forward":"1"}}}"#,
            "sysctl \"net.ipv4.ip_forward\" not allowed in host network namespace",
        ),
        (
            r#"{"Image":"busybox","Cmd":["true"],"HostConfig":{"IpcMode":"host","Sysctls":{"kernel.sem":"1"}}}"#,
            "sysctl \"kernel.sem\" is not allowed in the hosts ipc namespace",
        ),
    ] {
        let r = d.post_json("/v1.44/containers/create", body.as_bytes());
        assert_eq!((r.status, r.message()), (400, want.to_string()), "{body}");
    }
    let ids = run(
        &d,
        &["--group-add", "1234", "-u", "1000", "busybox", "id", "-G"],
    );
    assert!(ids.split_whitespace().any(|g| g == "1234"), "{ids}");
    let err = run_err(&d, &["--group-add", "wheel-of-berth", "busybox", "true"]);
    assert!(err.contains("unable to find group wheel-of-berth"), "{err}");
    let resolv = run(
        &d,
        &[
            "--dns-option",
            "ndots:3",
            "--dns-option",
            "timeout:1",
            "busybox",
            "cat",
            "/etc/resolv.conf",
        ],
    );
    assert!(resolv.contains("options ndots:3 timeout:1\n"), "{resolv}");
}

#[test]
fn ipc_uts_and_cgroup_namespaces() {
    let d = daemon();
    let shm_mounts = |options: &[&str]| {
        run_sh(&d, options, "grep -c ' /dev/shm ' /proc/mounts || true")
            .trim()
            .to_string()
    };
    assert_eq!(shm_mounts(&[]), "1");
    assert_eq!(shm_mounts(&["--ipc", "none"]), "0");
    // A shareable container's /dev/shm and IPC namespace are another's to join.
    d.docker_ok(&[
        "run",
        "-d",
        "--name",
        "donor",
        "--ipc",
        "shareable",
        "busybox",
        "sh",
        "-c",
        "echo shared > /dev/shm/x; sleep 1000",
    ]);
    let ns = |c: &str| d.docker_ok(&["exec", c, "readlink", "/proc/self/ns/ipc"]);
    // The donor writes its file once it runs.
    while !d
        .docker(&["exec", "donor", "test", "-e", "/dev/shm/x"])
        .status
        .success()
    {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let out = run_sh(
        &d,
        &["--ipc", "container:donor"],
        "cat /dev/shm/x; readlink /proc/self/ns/ipc",
    );
    assert_eq!(out, format!("shared\n{}", ns("donor")));
    d.docker_ok(&["run", "-d", "--name", "loner", "busybox", "sleep", "1000"]);
    let err = run_err(&d, &["--ipc", "container:loner", "busybox", "true"]);
    assert!(err.contains("non-shareable IPC"), "{err}");
    let mode = |c: &str| d.docker_ok(&["inspect", "-f", "{{.HostConfig.IpcMode}}", c]);
    assert_eq!(mode("loner"), "private\n");
    assert_eq!(mode("donor"), "shareable\n");
    let donor_shm = d.exec_root().join("shm");
    d.docker_ok(&["rm", "-f", "donor", "loner"]);
    assert!(
        std::fs::read_dir(&donor_shm).map_or(true, |mut e| e.next().is_none()),
        "the shareable /dev/shm is unmounted and removed"
    );
    // Before 1.40 an unset IPC mode is shareable, as older clients expect.
    let r = d.post_json(
        "/v1.39/containers/create",
        br#"{"Image":"busybox","Cmd":["true"]}"#,
    );
    let id = r.json()["Id"].as_str().unwrap().to_string();
    assert_eq!(mode(&id), "shareable\n");
    d.delete(&format!("/containers/{id}"));
    // UTS: the host's name with the host's namespace.
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    let host = host.trim();
    assert_eq!(
        run(&d, &["--uts", "host", "busybox", "hostname"]).trim(),
        host
    );
    let err = run_err(&d, &["--uts", "host", "-h", "box", "busybox", "true"]);
    assert!(
        err.contains("Conflicting options: hostname and the UTS mode"),
        "{err}"
    );
    // A private cgroup namespace sees its own cgroup as the root.
    let private = run(
        &d,
        &[
            "--cgroupns",
            "private",
            "busybox",
            "cat",
            "/proc/self/cgroup",
        ],
    );
    assert!(
        private
            .lines()
            .filter(|l| !l.is_empty())
            .all(|l| l.ends_with(":/")),
        "{private}"
    );
    let hosts = run(&d, &["busybox", "cat", "/proc/self/cgroup"]);
    assert!(hosts.lines().any(|l| l.contains("/berth/")), "{hosts}");
}

#[test]
fn masked_paths_annotations_console_size_and_blkio_weight() {
    let d = daemon();
    // /proc/interrupts is masked by default (an empty file), readable with systempaths.
    let size = |args: &[&str]| {
        let mut a = args.to_vec();
        a.extend(["busybox", "wc", "-c", "/proc/interrupts"]);
        run(&d, &a)
            .split_whitespace()
            .next()
            .unwrap()
            .parse::<u64>()
            .unwrap()
    };
    assert_eq!(size(&[]), 0);
    assert!(size(&["--security-opt", "systempaths=unconfined"]) > 0);
    d.docker_ok(&["create", "--name", "paths", "busybox", "true"]);
    let shown: serde_json::Value =
        serde_json::from_str(&d.docker_ok(&["inspect", "paths"])).unwrap();
    let masked = shown[0]["HostConfig"]["MaskedPaths"].as_array().unwrap();
    assert!(masked.iter().any(|p| p == "/proc/kcore"), "{masked:?}");
    assert!(shown[0]["HostConfig"]["ReadonlyPaths"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p == "/proc/sys"));
    // Annotations reach the runtime's spec.
    d.docker_ok(&[
        "run",
        "-d",
        "--name",
        "noted",
        "--annotation",
        "org.berth.test=yes",
        "busybox",
        "sleep",
        "1000",
    ]);
    let id = d
        .docker_ok(&["inspect", "-f", "{{.Id}}", "noted"])
        .trim()
        .to_string();
    let spec: serde_json::Value = serde_json::from_slice(
        &std::fs::read(
            d.exec_root()
                .join("containers")
                .join(&id)
                .join("config.json"),
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(spec["annotations"]["org.berth.test"], "yes");
    d.docker_ok(&["rm", "-f", "noted", "paths"]);
    // ConsoleSize sizes the terminal before the process runs from 1.42; before, it is
    // ignored (busybox's stty then finds no size to print).
    for (version, sized) in [("1.44", true), ("1.41", false)] {
        let r = d.post_json(
            &format!("/v{version}/containers/create"),
            br#"{"Image":"busybox","Tty":true,"Cmd":["stty","size"],"HostConfig":{"ConsoleSize":[30,100]}}"#,
        );
        assert_eq!(r.status, 201, "{}", r.text());
        let id = r.json()["Id"].as_str().unwrap().to_string();
        assert_eq!(d.post(&format!("/containers/{id}/start")).status, 204);
        d.post(&format!("/containers/{id}/wait"));
        let logs = d.get(&format!("/containers/{id}/logs?stdout=1")).text();
        assert_eq!(logs.trim() == "30 100", sized, "at {version}: {logs}");
        d.delete(&format!("/containers/{id}"));
    }
    // A weight the kernel cannot apply is dropped with Docker's warning.
    let r = d.post_json(
        "/v1.44/containers/create",
        br#"{"Image":"busybox","Cmd":["true"],"HostConfig":{"BlkioWeight":300}}"#,
    );
    assert_eq!(r.status, 201);
    let id = r.json()["Id"].as_str().unwrap().to_string();
    let weight = d.get(&format!("/containers/{id}/json")).json()["HostConfig"]["BlkioWeight"]
        .as_u64()
        .unwrap();
    if Path::new("/sys/fs/cgroup/blkio/blkio.weight").exists() {
        assert_eq!(weight, 300);
    } else {
        assert_eq!(weight, 0);
        assert!(r.json()["Warnings"][0]
            .as_str()
            .unwrap()
            .contains("does not support Block I/O weight"));
    }
    d.delete(&format!("/containers/{id}"));
    let r = d.post_json(
        "/v1.44/containers/create",
        br#"{"Image":"busybox","Cmd":["true"],"HostConfig":{"BlkioWeight":5}}"#,
    );
    assert_eq!(
        (r.status, r.message()),
        (400, "Range of blkio weight is from 10 to 1000".to_string())
    );
}

/// Device rules, block I/O limits and swappiness take effect; what berth cannot do is
/// refused with Docker's message before anything is made.
#[test]
fn device_rules_block_io_swappiness_and_refusals() {
    let d = daemon();
    // Opening a device node needs a rule that allows it: without one the cgroup refuses
    // (EPERM); with one the open reaches the kernel, which has no driver for major 42.
    let open = |options: &[&str]| {
        run_sh(
            &d,
            options,
            "mknod /tmp/dev42 c 42 0; head -c1 /tmp/dev42 2>&1; true",
        )
    };
    let refused = open(&[]);
    assert!(refused.contains("Operation not permitted"), "{refused}");
    let reached = open(&["--device-cgroup-rule", "c 42:* rmw"]);
    assert!(
        !reached.contains("Operation not permitted") && reached.contains("No such device"),
        "{reached}"
    );
    // A block device's read limit, as its cgroup shows it.
    let disk = ["/dev/vda", "/dev/sda", "/dev/nvme0n1"]
        .into_iter()
        .find(|p| Path::new(p).exists());
    if let (Some(disk), true) = (
        disk,
        Path::new("/sys/fs/cgroup/blkio/blkio.throttle.read_bps_device").exists(),
    ) {
        let limit = format!("{disk}:1mb");
        let out = run(
            &d,
            &[
                "--device-read-bps",
                &limit,
                "busybox",
                "cat",
                "/sys/fs/cgroup/blkio/blkio.throttle.read_bps_device",
            ],
        );
        assert!(out.trim().ends_with(" 1048576"), "{out}");
    }
    if Path::new("/sys/fs/cgroup/memory/memory.swappiness").exists() {
        let out = run(
            &d,
            &[
                "--memory-swappiness",
                "7",
                "busybox",
                "cat",
                "/sys/fs/cgroup/memory/memory.swappiness",
            ],
        );
        assert_eq!(out.trim(), "7");
    }
    // The runtime is filled in; others are unknown.
    d.docker_ok(&["create", "--name", "rt", "busybox", "true"]);
    let shown: serde_json::Value = serde_json::from_str(&d.docker_ok(&["inspect", "rt"])).unwrap();
    assert_eq!(shown[0]["HostConfig"]["Runtime"], "berth");
    d.docker_ok(&["rm", "rt"]);
    for (host_config, want) in [
        (r#"{"Runtime":"kata"}"#, "Unknown runtime specified kata"),
        (
            r#"{"MemorySwappiness":101}"#,
            "Invalid value: 101, valid memory swappiness range is 0-100",
        ),
        (
            r#"{"DeviceCgroupRules":["x 1:2 rwm"]}"#,
            "invalid device cgroup rule format: 'x 1:2 rwm'",
        ),
        (
            r#"{"Isolation":"hyperv"}"#,
            "Invalid isolation: \"hyperv\" - linux only supports 'default'",
        ),
        (r#"{"UsernsMode":"private"}"#, "invalid UsernsMode: private"),
        (
            r#"{"VolumeDriver":"nfs"}"#,
            "error looking up volume plugin nfs: plugin \"nfs\" not found",
        ),
        (
            r#"{"StorageOpt":{"size":"1G"}}"#,
            "--storage-opt is supported only for overlay over xfs with 'pquota' mount option",
        ),
        (
            r#"{"IOMaximumIOps":5}"#,
            "Invalid QoS settings: linux does not support Maximum IO Bandwidth or Maximum IO IOps",
        ),
        (
            r#"{"DeviceRequests":[{"Driver":"","Count":-1,"Capabilities":[["gpu"]]}]}"#,
            "could not select device driver \"\" with capabilities: [[\"gpu\"]]",
        ),
    ] {
        let body = format!(r#"{{"Image":"busybox","Cmd":["true"],"HostConfig":{host_config}}}"#);
        let r = d.post_json("/v1.44/containers/create", body.as_bytes());
        assert_eq!(
            (r.status, r.message()),
            (400, want.to_string()),
            "{host_config}"
        );
    }
    // Windows' CPU percent is dropped with a warning, as on a Linux dockerd.
    let r = d.post_json(
        "/v1.44/containers/create",
        br#"{"Image":"busybox","Cmd":["true"],"HostConfig":{"CpuPercent":50}}"#,
    );
    assert_eq!(r.status, 201);
    let warnings = r.json()["Warnings"].clone();
    assert!(
        warnings
            .to_string()
            .contains("does not support CPU percent"),
        "{warnings}"
    );
    d.delete(&format!("/containers/{}", r.json()["Id"].as_str().unwrap()));
    assert_eq!(
        d.get("/containers/json?all=1")
            .json()
            .as_array()
            .unwrap()
            .len(),
        0
    );
}
