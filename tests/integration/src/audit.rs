//! What a daemon leaves behind, looked at from the host: mounts, veths, pinned namespaces,
//! cgroups, monitors, sockets, packet rules, descriptors and memory. The fault suite takes a
//! [`Audit`] before and after its work and compares them.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::Daemon;

/// Polls `cond` until it holds, for up to `within`; panics with `what` otherwise.
pub fn eventually(what: &str, within: Duration, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    loop {
        if cond() {
            return;
        }
        assert!(Instant::now() < deadline, "{what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The number of descriptors process `pid` holds open.
pub fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count())
        .unwrap_or(0)
}

/// Process `pid`'s resident memory.
pub fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// The processes whose command line mentions `needle` (a daemon's exec root names its
/// monitors: `--bundle <exec-root>/containers/<id>`).
pub fn processes_mentioning(needle: &str) -> Vec<u32> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        if String::from_utf8_lossy(&cmdline).contains(needle) {
            out.push(pid);
        }
    }
    out
}

/// The cgroup hierarchies' directories for cgroup `rel` (e.g. `/berth-soak-1`), where they
/// exist: the v2 root or hybrid `unified`, and each v1 controller.
pub fn cgroup_dirs(rel: &str) -> Vec<PathBuf> {
    let rel = rel.trim_start_matches('/');
    let root = Path::new("/sys/fs/cgroup");
    let mut dirs = vec![root.join(rel)];
    for e in std::fs::read_dir(root).into_iter().flatten().flatten() {
        if e.file_type().is_ok_and(|t| t.is_dir()) {
            dirs.push(e.path().join(rel));
        }
    }
    dirs.retain(|d| d.is_dir());
    dirs
}

/// The cgroups below `parent` in every hierarchy (containers' cgroups and anything below
/// them), as paths relative to the hierarchy.
pub fn cgroups_below(parent: &str) -> Vec<String> {
    fn walk(dir: &Path, base: &Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                let p = e.path();
                out.push(p.strip_prefix(base).unwrap().display().to_string());
                walk(&p, base, out);
            }
        }
    }
    let mut out = Vec::new();
    for dir in cgroup_dirs(parent) {
        walk(&dir, dir.parent().unwrap(), &mut out);
    }
    out.sort();
    out.dedup();
    out
}

/// Removes cgroup `parent` (empty by then) from every hierarchy.
pub fn remove_cgroup(parent: &str) {
    for dir in cgroup_dirs(parent) {
        let _ = std::fs::remove_dir(dir);
    }
}

fn entries(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// What a daemon has made on the host that outlives requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Audit {
    /// Mount points under the daemon's directory.
    pub mounts: Vec<String>,
    /// Links on the daemon's bridge.
    pub veths: Vec<String>,
    /// Pinned network namespaces (bridge and `none`).
    pub pinned_netns: Vec<String>,
    /// Monitor sockets and pid files.
    pub sockets: Vec<String>,
    /// OCI bundles, and the runtime's state directories.
    pub bundles: Vec<String>,
    pub runtime_states: Vec<String>,
    /// Container records and root filesystems.
    pub records: Vec<String>,
    pub overlays: Vec<String>,
    /// Monitor processes of this daemon.
    pub monitors: Vec<u32>,
    /// Rules in the daemon's own chains.
    pub rules: Vec<String>,
}

impl Audit {
    pub fn of(d: &Daemon) -> Audit {
        let dir = d.dir.path().display().to_string();
        let mut mounts: Vec<String> = std::fs::read_to_string("/proc/self/mountinfo")
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.split(' ').nth(4))
            .filter(|p| p.starts_with(&dir))
            .map(str::to_string)
            .collect();
        mounts.sort();
        let exec = d.exec_root();
        let data = d.data_root();
        let mut pinned = entries(&exec.join("netns"));
        pinned.extend(entries(&exec.join("netns-none")));
        let mut monitors = processes_mentioning(&format!("{}/containers/", exec.display()));
        monitors.retain(|p| {
            std::fs::read(format!("/proc/{p}/cmdline"))
                .map(|c| String::from_utf8_lossy(&c).starts_with(&*monitor_prefix()))
                .unwrap_or(false)
        });
        Audit {
            mounts,
            veths: bridge_links(d.bridge()),
            pinned_netns: pinned,
            sockets: entries(&exec.join("sock")),
            bundles: entries(&exec.join("containers")),
            runtime_states: entries(&exec.join("runtime")),
            records: entries(&data.join("containers")),
            overlays: entries(&data.join("overlay")),
            monitors,
            rules: chain_rules(d.bridge()),
        }
    }

    /// The differences from `before`, one line each; empty when nothing leaked.
    pub fn leaks_since(&self, before: &Audit) -> Vec<String> {
        let mut out = Vec::new();
        let mut diff = |what: &str, a: &[String], b: &[String]| {
            let extra: Vec<_> = b.iter().filter(|x| !a.contains(x)).collect();
            if !extra.is_empty() {
                out.push(format!("{what}: {extra:?}"));
            }
        };
        diff("mounts", &before.mounts, &self.mounts);
        diff("veths", &before.veths, &self.veths);
        diff(
            "pinned namespaces",
            &before.pinned_netns,
            &self.pinned_netns,
        );
        diff("sockets", &before.sockets, &self.sockets);
        diff("bundles", &before.bundles, &self.bundles);
        diff(
            "runtime states",
            &before.runtime_states,
            &self.runtime_states,
        );
        diff("records", &before.records, &self.records);
        diff("overlays", &before.overlays, &self.overlays);
        diff("rules", &before.rules, &self.rules);
        let monitors: Vec<_> = self
            .monitors
            .iter()
            .filter(|p| !before.monitors.contains(p))
            .collect();
        if !monitors.is_empty() {
            out.push(format!("monitors: {monitors:?}"));
        }
        out
    }
}

/// How a monitor's command line begins (its binary, next to berthd).
fn monitor_prefix() -> String {
    crate::berthd_bin()
        .with_file_name("berth-monitor")
        .display()
        .to_string()
}

/// The links attached to `bridge`.
pub fn bridge_links(bridge: &str) -> Vec<String> {
    if bridge == "none" {
        return Vec::new();
    }
    let out = Command::new("ip")
        .args(["-o", "link", "show", "master", bridge])
        .output()
        .expect("ip link");
    let mut v: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split(": ").nth(1))
        .map(|n| n.split('@').next().unwrap_or(n).to_string())
        .collect();
    v.sort();
    v
}

/// Every rule in the bridge's own chains, nat and filter.
pub fn chain_rules(bridge: &str) -> Vec<String> {
    if bridge == "none" {
        return Vec::new();
    }
    let mut v = Vec::new();
    for (table, chain) in [
        ("nat", format!("BERTH-{bridge}")),
        ("nat", format!("BERTH-{bridge}-POST")),
        ("filter", format!("BERTH-{bridge}-FWD")),
    ] {
        let out = Command::new("iptables")
            .args(["-w", "-t", table, "-S", &chain])
            .output()
            .expect("iptables");
        v.extend(
            String::from_utf8_lossy(&out.stdout)
                .lines()
                .filter(|l| l.starts_with("-A"))
                .map(str::to_string),
        );
    }
    v.sort();
    v
}
