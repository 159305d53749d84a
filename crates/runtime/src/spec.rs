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

fn bind(destination: &str, source: &str) -> Value {
    json!({"destination": destination, "type": "bind", "source": source, "options": ["rbind", "rprivate"]})
}

/// The container's `config.json`.
pub fn container_spec(p: &SpecParams) -> Value {
    let caps: Vec<&str> = DEFAULT_CAPABILITIES.to_vec();
    let mut devices = vec![json!({"allow": false, "access": "rwm"})];
    for (major, minor) in DEFAULT_DEVICE_RULES {
        let mut rule = json!({"allow": true, "type": "c", "major": major, "access": "rwm"});
        if *minor >= 0 {
            rule["minor"] = json!(minor);
        }
        devices.push(rule);
    }
    let mut mounts = vec![
        json!({"destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid", "noexec", "nodev"]}),
        json!({"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]}),
        json!({"destination": "/dev/pts", "type": "devpts", "source": "devpts",
               "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]}),
        json!({"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]}),
        json!({"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": ["ro", "nosuid", "noexec", "nodev"]}),
        json!({"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]}),
        json!({"destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]}),
    ];
    for (dest, src) in [
        ("/etc/resolv.conf", &p.resolv_conf_path),
        ("/etc/hostname", &p.hostname_path),
        ("/etc/hosts", &p.hosts_path),
    ] {
        if !src.is_empty() {
            mounts.push(bind(dest, src));
        }
    }
    json!({
        "ociVersion": "1.0.2",
        "root": {"path": p.rootfs, "readonly": false},
        "hostname": p.hostname,
        "domainname": p.domainname,
        "process": {
            "terminal": p.tty,
            "user": {"uid": p.uid, "gid": p.gid, "additionalGids": p.additional_gids},
            "args": p.args,
            "env": p.env,
            "cwd": if p.cwd.is_empty() { "/" } else { p.cwd.as_str() },
            "capabilities": {"bounding": caps, "effective": caps, "permitted": caps},
            "noNewPrivileges": false,
            "oomScoreAdj": 0,
        },
        "mounts": mounts,
        "linux": {
            "namespaces": [{"type": "pid"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}, {"type": "network"}],
            "maskedPaths": MASKED_PATHS,
            "readonlyPaths": READONLY_PATHS,
            "cgroupsPath": p.cgroups_path,
            "resources": {"devices": devices},
        },
    })
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
        // Only the files that exist are bound.
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
