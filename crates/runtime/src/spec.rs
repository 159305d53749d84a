//! The OCI runtime spec (`config.json`) of a container, as Docker's default profile makes it:
//! namespaces, the default mounts, masked and read-only paths, the default capability set and
//! device rules. Pure: a function from [`SpecParams`] to JSON.

use serde_json::{json, Value};

/// Everything a container's spec depends on.
#[derive(Debug, Clone, Default)]
pub struct SpecParams {
    pub id: String,
    /// The mounted root filesystem.
    pub rootfs: String,
    pub args: Vec<String>,
    pub env: Vec<String>,
    pub cwd: String,
    pub uid: u32,
    pub gid: u32,
    pub additional_gids: Vec<u32>,
    pub hostname: String,
    pub domainname: String,
    pub tty: bool,
    /// Files bind-mounted over `/etc/hostname`, `/etc/hosts`, `/etc/resolv.conf`.
    pub hostname_path: String,
    pub hosts_path: String,
    pub resolv_conf_path: String,
    /// Cgroup path, e.g. `/berth/<id>`.
    pub cgroups_path: String,
    /// The effective, permitted and bounding set; `None` is Docker's default set.
    pub capabilities: Option<Vec<String>>,
    /// All devices, no masked or read-only paths, writable `/sys`.
    pub privileged: bool,
    pub readonly_rootfs: bool,
    pub no_new_privileges: bool,
    pub resources: Resources,
    /// The container's `oom_score_adj`.
    pub oom_score_adj: i64,
    /// Bytes of `/dev/shm`; 0 takes Docker's 64 MiB.
    pub shm_size: i64,
    pub rlimits: Vec<Rlimit>,
    /// Namespaces the container does not get fresh: `("pid", None)` shares the host's,
    /// `("pid", Some(path))` joins another's.
    pub shared_namespaces: Vec<(String, Option<String>)>,
    pub devices: Vec<Device>,
    /// Device cgroup rules allowing more (`DeviceCgroupRules`).
    pub device_rules: Vec<DeviceAllow>,
    pub mounts: Vec<BindMount>,
    pub tmpfs_mounts: Vec<TmpfsMount>,
    /// What `/dev/shm` is.
    pub shm: Shm,
    /// A cgroup namespace of its own.
    pub cgroup_namespace: bool,
    /// Namespaced kernel parameters.
    pub sysctls: std::collections::BTreeMap<String, String>,
    pub annotations: std::collections::BTreeMap<String, String>,
    /// Paths hidden and made read-only; `None` takes Docker's defaults. Privileged
    /// containers get neither.
    pub masked_paths: Option<Vec<String>>,
    pub readonly_paths: Option<Vec<String>>,
    /// The terminal's first size, `(height, width)`.
    pub console_size: Option<(u16, u16)>,
    /// The seccomp profile; `None` runs unconfined (privileged, `seccomp=unconfined`).
    pub seccomp: Option<Value>,
}

/// The container's `/dev/shm`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Shm {
    /// A tmpfs of its own of this many bytes (0: Docker's 64 MiB).
    #[default]
    Private,
    /// Bound from a directory on the host (a shareable container's, one it joins, the
    /// host's).
    Bind(String),
    /// None at all (`IpcMode: none`).
    None,
}

/// A tmpfs mounted in the container (`Tmpfs`, `Mounts` of type tmpfs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TmpfsMount {
    pub destination: String,
    pub options: Vec<String>,
}

/// Cgroup limits (OCI `linux.resources`); zero, empty or `None` means unlimited (or, for an
/// update, unchanged).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resources {
    pub memory: i64,
    /// Memory plus swap; -1 unlimited; 0 leaves it to the kernel.
    pub memory_swap: i64,
    /// The soft limit.
    pub memory_reservation: i64,
    pub disable_oom_killer: Option<bool>,
    pub cpu_shares: u64,
    pub cpuset_cpus: String,
    pub cpuset_mems: String,
    /// CFS period (µs) and quota (µs per period; -1 unlimited).
    pub cpu_period: u64,
    pub cpu_quota: i64,
    /// At most this many tasks; -1 unlimited.
    pub pids_limit: Option<i64>,
    /// Relative block I/O weight; 0 leaves the kernel's.
    pub blkio_weight: u16,
    pub blkio_devices: BlkioDevices,
    /// 0–100; `None` leaves the kernel's.
    pub memory_swappiness: Option<u64>,
    /// Real-time scheduling budget (µs); 0 leaves the kernel's.
    pub cpu_realtime_period: u64,
    pub cpu_realtime_runtime: i64,
}

/// Per-device block I/O settings: `(major, minor, value)`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BlkioDevices {
    pub weight: Vec<(i64, i64, u16)>,
    pub read_bps: Vec<(i64, i64, u64)>,
    pub write_bps: Vec<(i64, i64, u64)>,
    pub read_iops: Vec<(i64, i64, u64)>,
    pub write_iops: Vec<(i64, i64, u64)>,
}

/// A device cgroup rule that allows access (`DeviceCgroupRules`); `None` is every number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceAllow {
    /// `c`, `b` or `a`.
    pub kind: char,
    pub major: Option<i64>,
    pub minor: Option<i64>,
    pub access: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rlimit {
    /// `RLIMIT_NOFILE` etc.
    pub kind: String,
    pub soft: u64,
    pub hard: u64,
}

/// The limits of `linux.resources` (without devices): what a container starts with and what
/// `docker update` applies to its cgroups.
pub(crate) fn resources_json(r: &Resources) -> Value {
    let mut memory = serde_json::Map::new();
    if r.memory > 0 {
        memory.insert("limit".into(), json!(r.memory));
        if r.memory_swap != 0 {
            memory.insert("swap".into(), json!(r.memory_swap));
        }
    }
    if r.memory_reservation > 0 {
        memory.insert("reservation".into(), json!(r.memory_reservation));
    }
    if let Some(disable) = r.disable_oom_killer {
        memory.insert("disableOOMKiller".into(), json!(disable));
    }
    if let Some(swappiness) = r.memory_swappiness {
        memory.insert("swappiness".into(), json!(swappiness));
    }
    let mut cpu = serde_json::Map::new();
    if r.cpu_shares > 0 {
        cpu.insert("shares".into(), json!(r.cpu_shares));
    }
    if !r.cpuset_cpus.is_empty() {
        cpu.insert("cpus".into(), json!(r.cpuset_cpus));
    }
    if !r.cpuset_mems.is_empty() {
        cpu.insert("mems".into(), json!(r.cpuset_mems));
    }
    if r.cpu_period > 0 {
        cpu.insert("period".into(), json!(r.cpu_period));
    }
    if r.cpu_quota != 0 {
        cpu.insert("quota".into(), json!(r.cpu_quota));
    }
    if r.cpu_realtime_period > 0 {
        cpu.insert("realtimePeriod".into(), json!(r.cpu_realtime_period));
    }
    if r.cpu_realtime_runtime != 0 {
        cpu.insert("realtimeRuntime".into(), json!(r.cpu_realtime_runtime));
    }
    let mut resources = json!({});
    if !memory.is_empty() {
        resources["memory"] = memory.into();
    }
    if !cpu.is_empty() {
        resources["cpu"] = cpu.into();
    }
    if let Some(limit) = r.pids_limit {
        resources["pids"] = json!({"limit": limit});
    }
    let mut block_io = serde_json::Map::new();
    if r.blkio_weight > 0 {
        block_io.insert("weight".into(), json!(r.blkio_weight));
    }
    let b = &r.blkio_devices;
    if !b.weight.is_empty() {
        let list: Vec<Value> = b
            .weight
            .iter()
            .map(|(major, minor, weight)| json!({"major": major, "minor": minor, "weight": weight}))
            .collect();
        block_io.insert("weightDevice".into(), json!(list));
    }
    for (key, list) in [
        ("throttleReadBpsDevice", &b.read_bps),
        ("throttleWriteBpsDevice", &b.write_bps),
        ("throttleReadIOPSDevice", &b.read_iops),
        ("throttleWriteIOPSDevice", &b.write_iops),
    ] {
        if !list.is_empty() {
            let list: Vec<Value> = list
                .iter()
                .map(|(major, minor, rate)| json!({"major": major, "minor": minor, "rate": rate}))
                .collect();
            block_io.insert(key.into(), json!(list));
        }
    }
    if !block_io.is_empty() {
        resources["blockIO"] = Value::Object(block_io);
    }
    resources
}

/// A device node made in the container, with its device cgroup rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    pub path: String,
    /// `c` or `b`.
    pub kind: String,
    pub major: i64,
    pub minor: i64,
    pub file_mode: u32,
    pub uid: u32,
    pub gid: u32,
    /// Cgroup permissions, e.g. `rwm`.
    pub permissions: String,
}

/// A bind mount (volumes, `Binds`, `Mounts`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BindMount {
    pub destination: String,
    pub source: String,
    pub readonly: bool,
    /// `rprivate` unless given (`rshared`, `rslave`, …).
    pub propagation: Option<String>,
    /// `bind` instead of `rbind`: the mounts below the source stay behind.
    pub non_recursive: bool,
}

/// Docker's default capability set.
pub const DEFAULT_CAPABILITIES: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
];

/// Paths Docker hides from containers.
pub const MASKED_PATHS: &[&str] = &[
    "/proc/asound",
    "/proc/acpi",
    "/proc/interrupts",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
];

/// Paths Docker makes read-only in containers.
pub const READONLY_PATHS: &[&str] = &[
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

/// Character devices every container may use (Docker's default device cgroup rules).
const DEFAULT_DEVICE_RULES: &[(i64, i64)] = &[
    (1, 3),    // null
    (1, 5),    // zero
    (1, 7),    // full
    (1, 8),    // random
    (1, 9),    // urandom
    (5, 0),    // tty
    (5, 1),    // console
    (5, 2),    // ptmx
    (136, -1), // pts
];

fn bind(m: &BindMount) -> Value {
    let mut options = vec![
        if m.non_recursive { "bind" } else { "rbind" },
        m.propagation.as_deref().unwrap_or("rprivate"),
    ];
    if m.readonly {
        options.push("ro");
    }
    json!({"destination": m.destination, "type": "bind", "source": m.source, "options": options})
}

fn host_bind(destination: &str, source: &str, readonly: bool) -> Value {
    bind(&BindMount {
        destination: destination.into(),
        source: source.into(),
        readonly,
        ..Default::default()
    })
}

/// Docker's masked paths, with each CPU's `thermal_throttle` directory that exists (moby
/// GHSA-6fw5-f8r9-fgfm).
pub fn default_masked_paths() -> Vec<String> {
    // The CPUs do not change while the daemon runs: read the directory once, as Docker does.
    static PATHS: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    PATHS
        .get_or_init(|| {
            let mut out: Vec<String> = MASKED_PATHS.iter().map(|s| s.to_string()).collect();
            for e in std::fs::read_dir("/sys/devices/system/cpu")
                .into_iter()
                .flatten()
                .flatten()
            {
                let name = e.file_name().to_string_lossy().to_string();
                if name
                    .strip_prefix("cpu")
                    .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
                {
                    let p = e.path().join("thermal_throttle");
                    if p.exists() {
                        out.push(p.display().to_string());
                    }
                }
            }
            out
        })
        .clone()
}

/// The container's `config.json`.
pub fn container_spec(p: &SpecParams) -> Value {
    let caps: Vec<String> = match &p.capabilities {
        Some(c) => c.clone(),
        None => DEFAULT_CAPABILITIES.iter().map(|s| s.to_string()).collect(),
    };
    let mut devices = if p.privileged {
        vec![json!({"allow": true, "access": "rwm"})]
    } else {
        let mut d = vec![json!({"allow": false, "access": "rwm"})];
        for (major, minor) in DEFAULT_DEVICE_RULES {
            let mut rule = json!({"allow": true, "type": "c", "major": major, "access": "rwm"});
            if *minor >= 0 {
                rule["minor"] = json!(minor);
            }
            d.push(rule);
        }
        d
    };
    for dev in &p.devices {
        if !p.privileged {
            devices.push(json!({"allow": true, "type": dev.kind, "major": dev.major, "minor": dev.minor, "access": dev.permissions}));
        }
    }
    for rule in &p.device_rules {
        if !p.privileged {
            let mut r =
                json!({"allow": true, "type": rule.kind.to_string(), "access": rule.access});
            if let Some(major) = rule.major {
                r["major"] = json!(major);
            }
            if let Some(minor) = rule.minor {
                r["minor"] = json!(minor);
            }
            devices.push(r);
        }
    }
    let linux_devices: Vec<Value> = p
        .devices
        .iter()
        .map(|d| json!({"path": d.path, "type": d.kind, "major": d.major, "minor": d.minor, "fileMode": d.file_mode, "uid": d.uid, "gid": d.gid}))
        .collect();
    let mut resources = resources_json(&p.resources);
    resources["devices"] = json!(devices);
    let mut namespaces = Vec::new();
    let mut kinds = vec!["pid", "ipc", "uts", "mount", "network"];
    if p.cgroup_namespace {
        kinds.push("cgroup");
    }
    for kind in kinds {
        match p.shared_namespaces.iter().find(|(k, _)| k == kind) {
            None => namespaces.push(json!({"type": kind})),
            Some((_, Some(path))) => namespaces.push(json!({"type": kind, "path": path})),
            Some((_, None)) => {}
        }
    }
    // `noNewPrivileges` is written only when set: libcontainer loads the seccomp filter before
    // dropping capabilities when the field is absent, and only after (which without the
    // flag the kernel refuses) when it is present, even as `false`.
    let rlimits: Vec<Value> = p
        .rlimits
        .iter()
        .map(|l| json!({"type": l.kind, "soft": l.soft, "hard": l.hard}))
        .collect();
    let shm_size = if p.shm_size > 0 {
        format!("size={}", p.shm_size)
    } else {
        "size=65536k".to_string()
    };
    let shm = match &p.shm {
        Shm::Private => Some(
            json!({"destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": ["nosuid", "noexec", "nodev", "mode=1777", shm_size]}),
        ),
        Shm::Bind(source) => Some(host_bind("/dev/shm", source, false)),
        Shm::None => None,
    };
    let mut mounts = vec![
        json!({"destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid", "noexec", "nodev"]}),
        json!({"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]}),
        json!({"destination": "/dev/pts", "type": "devpts", "source": "devpts",
               "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]}),
        json!({"destination": "/sys", "type": "sysfs", "source": "sysfs",
               "options": if p.privileged { vec!["nosuid", "noexec", "nodev"] } else { vec!["nosuid", "noexec", "nodev", "ro"] }}),
        json!({"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
               "options": [if p.privileged { "rw" } else { "ro" }, "nosuid", "noexec", "nodev"]}),
        json!({"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]}),
    ];
    mounts.extend(shm);
    let mut user = Vec::new();
    for (dest, src) in [
        ("/etc/resolv.conf", &p.resolv_conf_path),
        ("/etc/hostname", &p.hostname_path),
        ("/etc/hosts", &p.hosts_path),
    ] {
        // They live in the data root: a read-only container must not fill the host's disk
        // through them (Docker mounts them read-only then too).
        if !src.is_empty() {
            user.push(host_bind(dest, src, p.readonly_rootfs));
        }
    }
    user.extend(p.mounts.iter().map(bind));
    for t in &p.tmpfs_mounts {
        user.push(json!({"destination": t.destination, "type": "tmpfs", "source": "tmpfs", "options": t.options}));
    }
    // Parents before children (a volume on /etc must not hide the /etc/hosts bind), as
    // Docker sorts mounts; the kernel's mounts (/proc, /dev, /sys) stay first, except where
    // a mount of the user's takes their place (and everything under /dev with /dev itself).
    user.sort_by_key(|m| {
        m["destination"]
            .as_str()
            .map_or(0, |d| d.trim_end_matches('/').matches('/').count())
    });
    let taken = |d: &str| user.iter().any(|m| m["destination"] == d);
    let own_dev = taken("/dev");
    mounts.retain(|m| {
        let d = m["destination"].as_str().unwrap_or_default();
        let under_own_dev = own_dev && d.starts_with("/dev/");
        !(taken(d) || under_own_dev)
    });
    mounts.extend(user);
    let (masked, readonly): (Vec<String>, Vec<String>) = if p.privileged {
        (Vec::new(), Vec::new())
    } else {
        (
            p.masked_paths.clone().unwrap_or_else(default_masked_paths),
            p.readonly_paths
                .clone()
                .unwrap_or_else(|| READONLY_PATHS.iter().map(|s| s.to_string()).collect()),
        )
    };
    // A bind that shares mounts back with the host needs the root to be shared (Docker's
    // `rshared`; libcontainer always applies it recursively and spells it `shared`). Slave
    // binds need nothing: libcontainer's root is a recursive slave by default.
    let rootfs_propagation = p
        .mounts
        .iter()
        .filter_map(|m| m.propagation.as_deref())
        .any(|prop| prop == "shared" || prop == "rshared")
        .then_some("shared");
    let mut spec = json!({
        "ociVersion": "1.0.2",
        "root": {"path": p.rootfs, "readonly": p.readonly_rootfs},
        "hostname": p.hostname,
        "domainname": p.domainname,
        "process": {
            "terminal": p.tty,
            "user": {"uid": p.uid, "gid": p.gid, "additionalGids": p.additional_gids},
            "args": p.args,
            "env": p.env,
            "cwd": if p.cwd.is_empty() { "/" } else { p.cwd.as_str() },
            "capabilities": {"bounding": caps, "effective": caps, "permitted": caps},
            "oomScoreAdj": p.oom_score_adj,
            "rlimits": rlimits,
        },
        "mounts": mounts,
        "linux": {
            "namespaces": namespaces,
            "maskedPaths": masked,
            "readonlyPaths": readonly,
            "cgroupsPath": p.cgroups_path,
            "resources": resources,
            "devices": linux_devices,
            "seccomp": p.seccomp,
        },
    });
    if p.no_new_privileges {
        spec["process"]["noNewPrivileges"] = json!(true);
    }
    // Without a UTS namespace of its own the container cannot set a host name.
    if p.shared_namespaces.iter().any(|(k, _)| k == "uts") {
        let obj = spec.as_object_mut().expect("an object");
        obj.remove("hostname");
        obj.remove("domainname");
    }
    if let Some(prop) = rootfs_propagation {
        spec["linux"]["rootfsPropagation"] = json!(prop);
    }
    if !p.sysctls.is_empty() {
        spec["linux"]["sysctl"] = json!(p.sysctls);
    }
    if !p.annotations.is_empty() {
        spec["annotations"] = json!(p.annotations);
    }
    if let (true, Some((height, width))) = (p.tty, p.console_size) {
        spec["process"]["consoleSize"] = json!({"height": height, "width": width});
    }
    spec
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params() -> SpecParams {
        SpecParams {
            id: "abc".into(),
            rootfs: "/r".into(),
            args: vec!["echo".into(), "hi".into()],
            env: vec!["PATH=/bin".into()],
            hostname: "abc".into(),
            hosts_path: "/c/hosts".into(),
            cgroups_path: "/berth/abc".into(),
            ..Default::default()
        }
    }

    #[test]
    fn spec_parses_as_an_oci_spec() {
        let v = container_spec(&params());
        let spec: oci_spec::runtime::Spec = serde_json::from_value(v).expect("valid OCI spec");
        assert_eq!(
            spec.process().as_ref().unwrap().args().as_ref().unwrap(),
            &["echo", "hi"]
        );
        assert_eq!(spec.hostname().as_deref(), Some("abc"));
    }

    #[test]
    fn host_config_fields_reach_the_spec() {
        let mut p = params();
        p.resources = Resources {
            memory: 32 << 20,
            memory_swap: -1,
            memory_reservation: 16 << 20,
            disable_oom_killer: Some(true),
            cpu_shares: 512,
            cpuset_cpus: "0".into(),
            cpuset_mems: "0".into(),
            cpu_period: 100_000,
            cpu_quota: 50_000,
            pids_limit: Some(-1),
            blkio_weight: 0,
            ..Default::default()
        };
        p.oom_score_adj = 500;
        p.shm_size = 8 << 20;
        p.readonly_rootfs = true;
        p.no_new_privileges = true;
        p.rlimits = vec![Rlimit {
            kind: "RLIMIT_NOFILE".into(),
            soft: 100,
            hard: 200,
        }];
        p.shared_namespaces = vec![
            ("pid".into(), None),
            ("ipc".into(), Some("/proc/7/ns/ipc".into())),
        ];
        p.mounts = vec![BindMount {
            destination: "/data".into(),
            source: "/srv".into(),
            readonly: true,
            ..Default::default()
        }];
        p.devices = vec![Device {
            path: "/dev/fuse".into(),
            kind: "c".into(),
            major: 10,
            minor: 229,
            file_mode: 0o666,
            uid: 0,
            gid: 0,
            permissions: "rwm".into(),
        }];
        let v = container_spec(&p);
        let spec: oci_spec::runtime::Spec =
            serde_json::from_value(v.clone()).expect("valid OCI spec");
        assert!(spec.root().as_ref().unwrap().readonly().unwrap());
        assert_eq!(
            v["linux"]["resources"]["memory"],
            json!({"limit": 33554432, "swap": -1, "reservation": 16777216, "disableOOMKiller": true})
        );
        assert_eq!(
            v["linux"]["resources"]["cpu"],
            json!({"shares": 512, "cpus": "0", "mems": "0", "period": 100000, "quota": 50000})
        );
        assert_eq!(v["linux"]["resources"]["pids"], json!({"limit": -1}));
        assert_eq!(v["process"]["oomScoreAdj"], 500);
        let shm = v["mounts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["destination"] == "/dev/shm")
            .unwrap();
        assert!(shm["options"]
            .as_array()
            .unwrap()
            .iter()
            .any(|o| o == "size=8388608"));
        let ns: Vec<&Value> = v["linux"]["namespaces"]
            .as_array()
            .unwrap()
            .iter()
            .collect();
        assert!(!ns.iter().any(|n| n["type"] == "pid"));
        assert!(ns
            .iter()
            .any(|n| n["type"] == "ipc" && n["path"] == "/proc/7/ns/ipc"));
        assert_eq!(v["process"]["rlimits"][0]["hard"], 200);
        assert_eq!(v["process"]["noNewPrivileges"], true);
        let data = v["mounts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["destination"] == "/data")
            .unwrap();
        assert!(data["options"]
            .as_array()
            .unwrap()
            .iter()
            .any(|o| o == "ro"));
        assert!(v["linux"]["resources"]["devices"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["major"] == 10 && d["minor"] == 229));
        assert_eq!(v["linux"]["devices"][0]["path"], "/dev/fuse");
    }

    #[test]
    fn host_files_are_read_only_in_a_read_only_container() {
        let options = |readonly: bool| {
            let mut p = params();
            p.readonly_rootfs = readonly;
            p.resolv_conf_path = "/c/resolv.conf".into();
            p.hostname_path = "/c/hostname".into();
            let v = container_spec(&p);
            let mounts = v["mounts"].as_array().unwrap().clone();
            ["/etc/hosts", "/etc/hostname", "/etc/resolv.conf"].map(|d| {
                mounts.iter().find(|m| m["destination"] == d).unwrap()["options"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|o| o == "ro")
            })
        };
        assert_eq!(options(true), [true; 3]);
        assert_eq!(options(false), [false; 3]);
    }

    #[test]
    fn privileged_drops_masks_and_opens_devices() {
        let mut p = params();
        p.privileged = true;
        let v = container_spec(&p);
        assert!(v["linux"]["maskedPaths"].as_array().unwrap().is_empty());
        assert!(v["linux"]["readonlyPaths"].as_array().unwrap().is_empty());
        assert_eq!(
            v["linux"]["resources"]["devices"][0],
            json!({"allow": true, "access": "rwm"})
        );
        let sys = v["mounts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["destination"] == "/sys")
            .unwrap();
        assert!(!sys["options"].as_array().unwrap().iter().any(|o| o == "ro"));
    }

    #[test]
    fn docker_default_profile() {
        let v = container_spec(&params());
        let caps = v["process"]["capabilities"]["bounding"].as_array().unwrap();
        assert_eq!(caps.len(), 14);
        assert!(!caps
            .iter()
            .any(|c| c == "CAP_SYS_ADMIN" || c == "CAP_SYS_MODULE" || c == "CAP_NET_ADMIN"));
        assert!(v["linux"]["maskedPaths"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p == "/proc/kcore"));
        assert!(v["linux"]["readonlyPaths"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p == "/proc/sys"));
        let ns: Vec<&str> = v["linux"]["namespaces"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["type"].as_str().unwrap())
            .collect();
        assert_eq!(ns, ["pid", "ipc", "uts", "mount", "network"]);
        let sys = v["mounts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["destination"] == "/sys")
            .unwrap();
        assert!(sys["options"].as_array().unwrap().iter().any(|o| o == "ro"));
        assert_eq!(
            v["linux"]["resources"]["devices"][0],
            json!({"allow": false, "access": "rwm"})
        );
        // Only the files that exist are bound, after their parents.
        let binds: Vec<&str> = v["mounts"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["type"] == "bind")
            .map(|m| m["destination"].as_str().unwrap())
            .collect();
        assert_eq!(binds, ["/etc/hosts"]);
    }
}
