//! Facts about the host and the daemon, read from the kernel when asked.

use std::path::{Path, PathBuf};

/// What `/info` and `/version` report that does not change while the daemon runs.
#[derive(Debug, Clone)]
pub struct SystemFacts {
    pub id: String,
    pub name: String,
    pub kernel_version: String,
    pub operating_system: String,
    pub ncpu: i64,
    pub mem_total: i64,
    pub root_dir: PathBuf,
    pub cgroup_version: String,
    pub memory_limit: bool,
    pub swap_limit: bool,
    /// The pids controller, for `PidsLimit`.
    pub pids_limit: bool,
    /// `memory.oom_control` (cgroup v1), for `OomKillDisable`.
    pub oom_kill_disable: bool,
    /// `memory.kmem.limit_in_bytes` (cgroup v1).
    pub kernel_memory: bool,
    /// `memory.kmem.tcp.limit_in_bytes` (cgroup v1).
    pub kernel_memory_tcp: bool,
    /// `VERSION_ID` of os-release.
    pub os_version: String,
}

impl SystemFacts {
    /// Reads the host's facts; the daemon ID is created once and kept in `root_dir`.
    pub fn gather(root_dir: &Path) -> std::io::Result<Self> {
        let uname = rustix::system::uname();
        let cgroup2 = Path::new("/sys/fs/cgroup/cgroup.controllers").exists();
        let v1 = |file: &str| Path::new("/sys/fs/cgroup").join(file).exists();
        let (memory_limit, swap_limit, pids_limit) = if cgroup2 {
            let controllers =
                std::fs::read_to_string("/sys/fs/cgroup/cgroup.controllers").unwrap_or_default();
            let has = |c: &str| controllers.split_whitespace().any(|x| x == c);
            (has("memory"), has("memory"), has("pids"))
        } else {
            (
                v1("memory"),
                v1("memory/memory.memsw.limit_in_bytes"),
                v1("pids"),
            )
        };
        Ok(Self {
            id: engine_id(root_dir)?,
            name: uname.nodename().to_string_lossy().into_owned(),
            kernel_version: uname.release().to_string_lossy().into_owned(),
            operating_system: os_release(),
            ncpu: std::thread::available_parallelism()
                .map(|n| n.get() as i64)
                .unwrap_or(1),
            mem_total: mem_total(),
            root_dir: root_dir.to_path_buf(),
            cgroup_version: if cgroup2 { "2" } else { "1" }.to_string(),
            memory_limit,
            swap_limit,
            pids_limit,
            oom_kill_disable: !cgroup2 && v1("memory/memory.oom_control"),
            kernel_memory: !cgroup2 && v1("memory/memory.kmem.limit_in_bytes"),
            kernel_memory_tcp: !cgroup2 && v1("memory/memory.kmem.tcp.limit_in_bytes"),
            os_version: os_release_field("VERSION_ID").unwrap_or_default(),
        })
    }

    /// Whether bridged traffic passes through iptables (`br_netfilter`): `net.bridge.
    /// bridge-nf-call-iptables` (or `ip6tables`) is 1.
    pub fn bridge_nf(ip6: bool) -> bool {
        let name = if ip6 { "ip6tables" } else { "iptables" };
        std::fs::read_to_string(format!("/proc/sys/net/bridge/bridge-nf-call-{name}"))
            .map(|s| s.trim() == "1")
            .unwrap_or(false)
    }

    /// Open file descriptors of the daemon.
    pub fn open_fds() -> i64 {
        std::fs::read_dir("/proc/self/fd")
            .map(|d| d.count() as i64 - 1)
            .unwrap_or(0)
    }

    /// Threads of the daemon (Docker reports goroutines; threads are our nearest figure).
    pub fn threads() -> i64 {
        std::fs::read_to_string("/proc/self/status")
            .ok()
            .and_then(|s| {
                s.lines().find_map(|l| {
                    l.strip_prefix("Threads:")
                        .map(|v| v.trim().parse().unwrap_or(0))
                })
            })
            .unwrap_or(0)
    }

    /// The daemon's own `oom_score_adj`.
    pub fn oom_score_adj() -> i64 {
        std::fs::read_to_string("/proc/self/oom_score_adj")
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(0)
    }

    pub fn ipv4_forwarding() -> bool {
        std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward")
            .map(|s| s.trim() == "1")
            .unwrap_or(false)
    }
}

fn os_release() -> String {
    os_release_field("PRETTY_NAME").unwrap_or_else(|| "<unknown>".to_string())
}

fn os_release_field(key: &str) -> Option<String> {
    let text = std::fs::read_to_string("/etc/os-release")
        .or_else(|_| std::fs::read_to_string("/usr/lib/os-release"))
        .unwrap_or_default();
    text.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
        .map(|v| v.trim_matches('"').to_string())
}

fn mem_total() -> i64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                l.strip_prefix("MemTotal:")
                    .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<i64>().ok())
            })
        })
        .map(|kb| kb * 1024)
        .unwrap_or(0)
}

/// The daemon's ID, in Docker's `XXXX:XXXX:…` form (12 groups of base32), made once.
fn engine_id(root: &Path) -> std::io::Result<String> {
    let path = root.join("engine-id");
    if let Ok(id) = std::fs::read_to_string(&path) {
        let id = id.trim().to_string();
        if !id.is_empty() {
            return Ok(id);
        }
    }
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let groups: Vec<String> = (0..12)
        .map(|_| {
            (0..4)
                .map(|_| ALPHABET[rand::random_range(0..32)] as char)
                .collect()
        })
        .collect();
    let id = groups.join(":");
    let tmp = root.join(".engine-id.tmp");
    std::fs::write(&tmp, &id)?;
    std::fs::rename(&tmp, &path)?;
    Ok(id)
}
