//! Resource usage of a container, read from its cgroup (v1 controllers or the v2 unified
//! hierarchy) and its network namespace, in the units Docker reports (bytes, nanoseconds).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// One sample.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sample {
    pub memory_usage: u64,
    pub memory_max_usage: u64,
    pub memory_failcnt: u64,
    pub memory_limit: u64,
    pub memory_stats: BTreeMap<String, u64>,
    pub cpu_total: u64,
    pub cpu_percpu: Vec<u64>,
    pub cpu_user: u64,
    pub cpu_kernel: u64,
    /// Host CPU time of all CPUs since boot, in nanoseconds.
    pub system_cpu: u64,
    pub online_cpus: u32,
    pub throttling: (u64, u64, u64),
    /// (major, minor, op, value) of `blkio.throttle.io_service_bytes` / `io.stat`.
    pub io_service_bytes: Vec<(u64, u64, String, u64)>,
    pub io_serviced: Vec<(u64, u64, String, u64)>,
    pub pids: u64,
    /// Per interface: rx_bytes, rx_packets, rx_errors, rx_dropped, tx_bytes, tx_packets,
    /// tx_errors, tx_dropped.
    pub networks: BTreeMap<String, [u64; 8]>,
}

/// Where cgroup files are: `/sys/fs/cgroup` normally; tests point it at a fixture.
#[derive(Debug, Clone)]
pub struct CgroupFs {
    pub root: PathBuf,
}

impl Default for CgroupFs {
    fn default() -> Self {
        Self {
            root: PathBuf::from("/sys/fs/cgroup"),
        }
    }
}

impl CgroupFs {
    /// Removes the cgroup `rel` (e.g. `/berth`) from every hierarchy where it is empty: under
    /// the v2 root itself and under each v1 controller. A cgroup that still has children or
    /// tasks refuses `rmdir`, so this never disturbs a running container.
    pub fn remove_if_empty(&self, rel: &str) {
        let rel = rel.trim_start_matches('/');
        if rel.is_empty() {
            return;
        }
        let _ = std::fs::remove_dir(self.root.join(rel));
        if let Ok(entries) = std::fs::read_dir(&self.root) {
            for e in entries.flatten() {
                let _ = std::fs::remove_dir(e.path().join(rel));
            }
        }
    }
}

impl CgroupFs {
    /// The directories of cgroup `rel` in every hierarchy: the v2 root (or hybrid `unified`)
    /// and each v1 controller, once each (comounted controllers' symlinks are skipped).
    fn everywhere(&self, rel: &str) -> Vec<PathBuf> {
        let rel = rel.trim_start_matches('/');
        let mut dirs = vec![self.root.join(rel)];
        if let Ok(entries) = std::fs::read_dir(&self.root) {
            for e in entries.flatten() {
                if e.file_type().is_ok_and(|t| t.is_dir()) {
                    dirs.push(e.path().join(rel));
                }
            }
        }
        dirs.retain(|d| d.is_dir());
        dirs
    }

    /// The processes in cgroup `rel` and every cgroup below it, in any hierarchy: a child
    /// cgroup made inside the container (privileged) or by anyone else holds processes too.
    pub fn processes_below(&self, rel: &str) -> Vec<i32> {
        let mut pids = Vec::new();
        for dir in self.everywhere(rel) {
            walk_dirs(&dir, &mut |d| {
                let procs = std::fs::read_to_string(d.join("cgroup.procs")).unwrap_or_default();
                pids.extend(procs.lines().filter_map(|l| l.trim().parse::<i32>().ok()));
            });
        }
        pids.sort_unstable();
        pids.dedup();
        pids
    }

    /// Kills every process in cgroup `rel` and below, again until none is left or `within`
    /// has passed (a fork can race a kill); returns the processes still there.
    pub fn kill_all(&self, rel: &str, within: std::time::Duration) -> Vec<i32> {
        let deadline = std::time::Instant::now() + within;
        loop {
            let left = self.processes_below(rel);
            if left.is_empty() || std::time::Instant::now() > deadline {
                return left;
            }
            for pid in left
                .iter()
                .filter_map(|p| rustix::process::Pid::from_raw(*p))
            {
                let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    }

    /// Removes cgroup `rel` and every cgroup below it, deepest first, in every hierarchy;
    /// returns the directories that refused (they still hold processes).
    pub fn remove_tree(&self, rel: &str) -> Vec<PathBuf> {
        let rel_trimmed = rel.trim_start_matches('/');
        if rel_trimmed.is_empty() {
            return Vec::new();
        }
        let mut left = Vec::new();
        for dir in self.everywhere(rel_trimmed) {
            let mut all = Vec::new();
            walk_dirs(&dir, &mut |d| all.push(d.to_path_buf()));
            // Deepest first: a parent is only removable once its children are gone.
            all.sort_by_key(|d| std::cmp::Reverse(d.components().count()));
            for d in all {
                if let Err(e) = std::fs::remove_dir(&d) {
                    if e.kind() != std::io::ErrorKind::NotFound {
                        left.push(d);
                    }
                }
            }
        }
        left
    }
}

/// Calls `f` on `dir` and every directory below it (cgroup directories hold no symlinks
/// that lead elsewhere; symlinks are not followed).
fn walk_dirs(dir: &Path, f: &mut dyn FnMut(&Path)) {
    f(dir);
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                walk_dirs(&e.path(), f);
            }
        }
    }
}

const USER_HZ_NS: u64 = 10_000_000;

fn read_u64(p: &Path) -> Option<u64> {
    let s = std::fs::read_to_string(p).ok()?;
    let t = s.trim();
    if t == "max" {
        return Some(u64::MAX);
    }
    t.parse().ok()
}

fn read_kv(p: &Path) -> BTreeMap<String, u64> {
    std::fs::read_to_string(p)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            Some((it.next()?.to_string(), it.next()?.parse().ok()?))
        })
        .collect()
}

fn blkio_v1(p: &Path) -> Vec<(u64, u64, String, u64)> {
    std::fs::read_to_string(p)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            if f.len() != 3 {
                return None;
            }
            let (maj, min) = f[0].split_once(':')?;
            Some((
                maj.parse().ok()?,
                min.parse().ok()?,
                f[1].to_string(),
                f[2].parse().ok()?,
            ))
        })
        .collect()
}

impl CgroupFs {
    fn v2(&self) -> bool {
        self.root.join("cgroup.controllers").exists()
    }

    /// Where a hierarchy of `/proc/PID/cgroup` (its controllers field) is mounted: v1
    /// controllers under their names, the unified hierarchy at the root (v2) or at `unified`
    /// (hybrid).
    pub fn hierarchy(&self, controllers: &str) -> Option<PathBuf> {
        let dir = if !controllers.is_empty() {
            self.root.join(controllers.trim_start_matches("name="))
        } else if self.v2() {
            self.root.clone()
        } else {
            self.root.join("unified")
        };
        dir.is_dir().then_some(dir)
    }

    /// The processes in the cgroup `cgroup` (e.g. `/berth/<id>`): its v2 `cgroup.procs`, or
    /// that of a v1 hierarchy every container joins.
    pub fn processes(&self, cgroup: &str) -> Vec<i32> {
        let rel = cgroup.trim_start_matches('/');
        let file = ["", "pids", "memory", "freezer"]
            .iter()
            .map(|h| self.root.join(h).join(rel).join("cgroup.procs"))
            .find(|p| p.exists());
        file.and_then(|f| std::fs::read_to_string(f).ok())
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.trim().parse().ok())
            .collect()
    }

    /// Reads the sample of the cgroup `cgroup` (e.g. `/berth/<id>`) and of process `pid`'s
    /// network namespace.
    pub fn sample(&self, cgroup: &str, pid: i32) -> Sample {
        let mut s = Sample {
            system_cpu: system_cpu_ns(),
            online_cpus: std::thread::available_parallelism()
                .map(|n| n.get() as u32)
                .unwrap_or(1),
            networks: if pid > 0 {
                net_dev(&format!("/proc/{pid}/net/dev"))
            } else {
                BTreeMap::new()
            },
            ..Default::default()
        };
        let rel = cgroup.trim_start_matches('/');
        if self.v2() {
            let dir = self.root.join(rel);
            s.memory_usage = read_u64(&dir.join("memory.current")).unwrap_or(0);
            s.memory_max_usage = read_u64(&dir.join("memory.peak")).unwrap_or(s.memory_usage);
            s.memory_limit = read_u64(&dir.join("memory.max")).unwrap_or(u64::MAX);
            s.memory_stats = read_kv(&dir.join("memory.stat"));
            s.memory_failcnt = read_kv(&dir.join("memory.events"))
                .get("max")
                .copied()
                .unwrap_or(0);
            let cpu = read_kv(&dir.join("cpu.stat"));
            s.cpu_total = cpu.get("usage_usec").copied().unwrap_or(0) * 1000;
            s.cpu_user = cpu.get("user_usec").copied().unwrap_or(0) * 1000;
            s.cpu_kernel = cpu.get("system_usec").copied().unwrap_or(0) * 1000;
            s.throttling = (
                cpu.get("nr_periods").copied().unwrap_or(0),
                cpu.get("nr_throttled").copied().unwrap_or(0),
                cpu.get("throttled_usec").copied().unwrap_or(0) * 1000,
            );
            for line in std::fs::read_to_string(dir.join("io.stat"))
                .unwrap_or_default()
                .lines()
            {
                let mut it = line.split_whitespace();
                let Some((maj, min)) = it.next().and_then(|d| d.split_once(':')) else {
                    continue;
                };
                let (Ok(maj), Ok(min)) = (maj.parse(), min.parse()) else {
                    continue;
                };
                for kv in it {
                    if let Some((k, v)) = kv.split_once('=') {
                        let v: u64 = v.parse().unwrap_or(0);
                        match k {
                            "rbytes" => s.io_service_bytes.push((maj, min, "Read".into(), v)),
                            "wbytes" => s.io_service_bytes.push((maj, min, "Write".into(), v)),
                            "rios" => s.io_serviced.push((maj, min, "Read".into(), v)),
                            "wios" => s.io_serviced.push((maj, min, "Write".into(), v)),
                            _ => {}
                        }
                    }
                }
            }
            s.pids = read_u64(&dir.join("pids.current")).unwrap_or(0);
        } else {
            let mem = self.root.join("memory").join(rel);
            s.memory_usage = read_u64(&mem.join("memory.usage_in_bytes")).unwrap_or(0);
            s.memory_max_usage = read_u64(&mem.join("memory.max_usage_in_bytes")).unwrap_or(0);
            s.memory_failcnt = read_u64(&mem.join("memory.failcnt")).unwrap_or(0);
            s.memory_limit = read_u64(&mem.join("memory.limit_in_bytes")).unwrap_or(u64::MAX);
            s.memory_stats = read_kv(&mem.join("memory.stat"));
            let acct = self.root.join("cpuacct").join(rel);
            s.cpu_total = read_u64(&acct.join("cpuacct.usage")).unwrap_or(0);
            s.cpu_percpu = std::fs::read_to_string(acct.join("cpuacct.usage_percpu"))
                .unwrap_or_default()
                .split_whitespace()
                .filter_map(|v| v.parse().ok())
                .collect();
            let stat = read_kv(&acct.join("cpuacct.stat"));
            s.cpu_user = stat.get("user").copied().unwrap_or(0) * USER_HZ_NS;
            s.cpu_kernel = stat.get("system").copied().unwrap_or(0) * USER_HZ_NS;
            let cpu = read_kv(&self.root.join("cpu").join(rel).join("cpu.stat"));
            s.throttling = (
                cpu.get("nr_periods").copied().unwrap_or(0),
                cpu.get("nr_throttled").copied().unwrap_or(0),
                cpu.get("throttled_time").copied().unwrap_or(0),
            );
            let blk = self.root.join("blkio").join(rel);
            s.io_service_bytes = blkio_v1(&blk.join("blkio.throttle.io_service_bytes"));
            s.io_serviced = blkio_v1(&blk.join("blkio.throttle.io_serviced"));
            s.pids = read_u64(&self.root.join("pids").join(rel).join("pids.current")).unwrap_or(0);
        }
        s
    }
}

/// Host CPU time (all CPUs, since boot) in nanoseconds, from `/proc/stat`.
pub fn system_cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/stat")
        .ok()
        .and_then(|s| {
            s.lines().next().map(|l| {
                l.split_whitespace()
                    .skip(1)
                    .take(8)
                    .filter_map(|v| v.parse::<u64>().ok())
                    .sum::<u64>()
                    * USER_HZ_NS
            })
        })
        .unwrap_or(0)
}

/// Interface counters from a `net/dev` file, loopback excluded.
pub fn net_dev(path: &str) -> BTreeMap<String, [u64; 8]> {
    let mut out = BTreeMap::new();
    for line in std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .skip(2)
    {
        let Some((name, rest)) = line.split_once(':') else {
            continue;
        };
        let name = name.trim();
        if name == "lo" {
            continue;
        }
        let f: Vec<u64> = rest
            .split_whitespace()
            .filter_map(|v| v.parse().ok())
            .collect();
        if f.len() >= 16 {
            out.insert(
                name.to_string(),
                [f[0], f[1], f[2], f[3], f[8], f[9], f[10], f[11]],
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cgroup_tree_is_found_and_removed_in_every_hierarchy() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for d in [
            "memory/berth/c/made-inside/deeper",
            "pids/berth/c/other",
            "cpu,cpuacct/berth/c",
            "memory/berth/keep",
        ] {
            std::fs::create_dir_all(root.join(d)).unwrap();
        }
        std::os::unix::fs::symlink("cpu,cpuacct", root.join("cpu")).unwrap();
        std::fs::write(root.join("memory/berth/c/made-inside/cgroup.procs"), "41\n").unwrap();
        std::fs::write(root.join("pids/berth/c/cgroup.procs"), "40\n41\n").unwrap();
        let fs = CgroupFs {
            root: root.to_path_buf(),
        };
        assert_eq!(fs.processes_below("/berth/c"), vec![40, 41]);
        // A directory holding a file stands for a cgroup that still has processes.
        let mut left: Vec<PathBuf> = fs
            .remove_tree("/berth/c")
            .iter()
            .map(|p| p.strip_prefix(root).unwrap().to_path_buf())
            .collect();
        left.sort();
        assert_eq!(
            left,
            vec![
                PathBuf::from("memory/berth/c"),
                PathBuf::from("memory/berth/c/made-inside"),
                PathBuf::from("pids/berth/c"),
            ]
        );
        assert!(!root.join("memory/berth/c/made-inside/deeper").exists());
        assert!(!root.join("pids/berth/c/other").exists());
        assert!(!root.join("cpu,cpuacct/berth/c").exists());
        assert!(root.join("memory/berth/keep").exists());
        assert!(fs.remove_tree("/").is_empty());
    }

    #[test]
    fn reads_a_v1_fixture() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let w = |p: &str, s: &str| {
            let path = root.join(p);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, s).unwrap();
        };
        w("memory/berth/c/memory.usage_in_bytes", "1000\n");
        w("memory/berth/c/memory.max_usage_in_bytes", "2000\n");
        w("memory/berth/c/memory.limit_in_bytes", "33554432\n");
        w("memory/berth/c/memory.failcnt", "3\n");
        w("memory/berth/c/memory.stat", "cache 10\nrss 20\n");
        w("cpuacct/berth/c/cpuacct.usage", "5000\n");
        w("cpuacct/berth/c/cpuacct.usage_percpu", "3000 2000 \n");
        w("cpuacct/berth/c/cpuacct.stat", "user 2\nsystem 1\n");
        w(
            "cpu/berth/c/cpu.stat",
            "nr_periods 4\nnr_throttled 1\nthrottled_time 99\n",
        );
        w(
            "blkio/berth/c/blkio.throttle.io_service_bytes",
            "8:0 Read 4096\n8:0 Write 0\nTotal 4096\n",
        );
        let s = CgroupFs {
            root: root.to_path_buf(),
        }
        .sample("/berth/c", 0);
        assert_eq!(
            (
                s.memory_usage,
                s.memory_max_usage,
                s.memory_limit,
                s.memory_failcnt
            ),
            (1000, 2000, 33554432, 3)
        );
        assert_eq!(s.memory_stats["rss"], 20);
        assert_eq!(
            (s.cpu_total, s.cpu_percpu.clone(), s.cpu_user, s.cpu_kernel),
            (5000, vec![3000, 2000], 20_000_000, 10_000_000)
        );
        assert_eq!(s.throttling, (4, 1, 99));
        assert_eq!(
            s.io_service_bytes,
            vec![
                (8, 0, "Read".to_string(), 4096),
                (8, 0, "Write".to_string(), 0)
            ]
        );
        assert!(s.system_cpu > 0);
    }

    #[test]
    fn net_dev_skips_loopback() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("dev");
        std::fs::write(&p, "Inter-|   Receive |  Transmit\n face |bytes packets errs drop fifo frame compressed multicast|bytes packets errs drop fifo colls carrier compressed\n    lo: 1 2 0 0 0 0 0 0 1 2 0 0 0 0 0 0\n  eth0: 648 8 0 1 0 0 0 0 700 9 0 2 0 0 0 0\n").unwrap();
        let n = net_dev(p.to_str().unwrap());
        assert_eq!(n.len(), 1);
        assert_eq!(n["eth0"], [648, 8, 0, 1, 700, 9, 0, 2]);
    }

    #[test]
    fn hierarchies_and_processes_of_v1_and_v2() {
        let dir = tempfile::tempdir().unwrap();
        let fs = CgroupFs {
            root: dir.path().to_path_buf(),
        };
        std::fs::create_dir_all(dir.path().join("memory/berth/c1")).unwrap();
        std::fs::create_dir_all(dir.path().join("systemd")).unwrap();
        std::fs::write(dir.path().join("memory/berth/c1/cgroup.procs"), "12\n34\n").unwrap();
        assert_eq!(fs.hierarchy("memory"), Some(dir.path().join("memory")));
        assert_eq!(
            fs.hierarchy("name=systemd"),
            Some(dir.path().join("systemd"))
        );
        assert_eq!(fs.hierarchy("cpu,cpuacct"), None);
        assert_eq!(fs.hierarchy(""), None, "hybrid without a unified mount");
        assert_eq!(fs.processes("/berth/c1"), [12, 34]);
        assert!(fs.processes("/berth/gone").is_empty());
        // v2: the unified hierarchy is the root.
        std::fs::write(dir.path().join("cgroup.controllers"), "").unwrap();
        std::fs::create_dir_all(dir.path().join("berth/c1")).unwrap();
        std::fs::write(dir.path().join("berth/c1/cgroup.procs"), "56\n").unwrap();
        assert_eq!(fs.hierarchy(""), Some(dir.path().to_path_buf()));
        assert_eq!(fs.processes("/berth/c1"), [56]);
    }

    #[test]
    fn remove_if_empty_keeps_cgroups_that_have_children() {
        let dir = tempfile::tempdir().unwrap();
        let fs = CgroupFs {
            root: dir.path().to_path_buf(),
        };
        std::fs::create_dir_all(dir.path().join("memory/berth")).unwrap();
        std::fs::create_dir_all(dir.path().join("cpu/berth/running")).unwrap();
        std::fs::create_dir_all(dir.path().join("pids")).unwrap();
        fs.remove_if_empty("/berth");
        assert!(!dir.path().join("memory/berth").exists());
        assert!(dir.path().join("cpu/berth/running").exists());
        assert!(dir.path().join("pids").exists());
        fs.remove_if_empty("/");
        assert!(dir.path().join("pids").exists());
    }
}
