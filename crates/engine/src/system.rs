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
}

impl SystemFacts {
    /// Reads the host's facts; the daemon ID is created once and kept in `root_dir`.
    pub fn gather(root_dir: &Path) -> std::io::Result<Self> {
        let uname = rustix::system::uname();
        let cgroup2 = Path::new("/sys/fs/cgroup/cgroup.controllers").exists();
        let (memory_limit, swap_limit) = if cgroup2 {
            let controllers =
                std::fs::read_to_string("/sys/fs/cgroup/cgroup.controllers").unwrap_or_default();
            let mem = controllers.split_whitespace().any(|c| c == "memory");
            (mem, mem)
        } else {
            (
                Path::new("/sys/fs/cgroup/memory").exists(),
                Path::new("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes").exists(),
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
        })
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

    pub fn ipv4_forwarding() -> bool {
        std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward")
            .map(|s| s.trim() == "1")
            .unwrap_or(false)
    }
}

fn os_release() -> String {
    let text = std::fs::read_to_string("/etc/os-release")
        .or_else(|_| std::fs::read_to_string("/usr/lib/os-release"))
        .unwrap_or_default();
    text.lines()
        .find_map(|l| l.strip_prefix("PRETTY_NAME="))
        .map(|v| v.trim_matches('"').to_string())
        .unwrap_or_else(|| "<unknown>".to_string())
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
