//! Changing the limits of a running container's cgroups (`docker update`), through youki's
//! libcgroups, which writes them in the order the kernel accepts (memory before or after
//! memory+swap, as the new values need) on cgroup v1, hybrid and v2 hosts alike.

use libcgroups::common::{CgroupConfig, CgroupManager, ControllerOpt};
use oci_spec::runtime::LinuxResources;

use crate::spec::{resources_json, Resources};

/// Applies `r` to the cgroup at `cgroup` (relative to each hierarchy's root, as the
/// container's `cgroupsPath`). Limits `r` leaves at zero are left as they are.
pub fn update(cgroup: &str, r: &Resources) -> Result<(), String> {
    let resources: LinuxResources =
        serde_json::from_value(resources_json(r)).map_err(|e| e.to_string())?;
    apply(cgroup, &resources, r.disable_oom_killer.unwrap_or(false))
}

/// Turns the OOM killer off for the cgroup, as `OomKillDisable` asks: libcontainer does not
/// apply the spec's `disableOOMKiller`, so the monitor calls this before the container's
/// process runs.
pub fn disable_oom_killer(cgroup: &str) -> Result<(), String> {
    let resources: LinuxResources =
        serde_json::from_value(serde_json::json!({"memory": {}})).map_err(|e| e.to_string())?;
    apply(cgroup, &resources, true)
}

fn apply(cgroup: &str, resources: &LinuxResources, disable_oom_killer: bool) -> Result<(), String> {
    let manager = libcgroups::common::create_cgroup_manager(CgroupConfig {
        cgroup_path: cgroup.into(),
        systemd_cgroup: false,
        container_name: String::new(),
    })
    .map_err(|e| e.to_string())?;
    manager
        .apply(&ControllerOpt {
            resources,
            disable_oom_killer,
            oom_score_adj: None,
            freezer_state: None,
        })
        .map_err(|e| e.to_string())
}

/// Pays, on the calling thread, the wait that the next cgroup migration would otherwise pay
/// on a container's start or exec path, by "moving" the calling thread into the cgroup it is
/// already in (it moves nothing).
///
/// Every migration takes the kernel's `cgroup_threadgroup_rwsem` for writing, a per-CPU
/// rwsem whose writers wait for an RCU grace period unless another writer passed within the
/// last one (`rcu_sync`): after a quiet spell, the runtime's write of its process into the
/// container's cgroups waits about 7 ms on this machine kind, then later writes take 50 µs.
/// Taken on another thread while the launch mounts, connects and spawns, the wait is over by
/// the time the runtime writes. Best effort: a host where this fails only starts slower.
pub fn prime_migration() -> std::io::Result<()> {
    let tid = rustix::thread::gettid().as_raw_nonzero().get();
    let own = std::fs::read_to_string("/proc/thread-self/cgroup")?;
    let file = migration_file(&own, std::path::Path::new("/sys/fs/cgroup"))
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::NotFound, "no cgroup to write"))?;
    std::fs::write(file, tid.to_string())
}

/// The file that takes the thread's ID in its own cgroup: `tasks` of its v1 `pids`
/// hierarchy, or `cgroup.threads` where v2 is the only hierarchy.
fn migration_file(own_cgroup: &str, root: &std::path::Path) -> Option<std::path::PathBuf> {
    own_cgroup.lines().find_map(|line| {
        let mut parts = line.splitn(3, ':');
        let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
        let rel = path.trim_start_matches('/');
        if controllers.split(',').any(|c| c == "pids") {
            Some(root.join("pids").join(rel).join("tasks"))
        } else if controllers.is_empty() && root.join("cgroup.controllers").exists() {
            Some(root.join(rel).join("cgroup.threads"))
        } else {
            None
        }
    })
}

/// A lock on the cgroup tree's root directory, shared by those that create containers'
/// cgroups and taken alone to remove an empty parent of theirs.
///
/// Daemons on one host (several berthds with their own data roots, as the tests run them)
/// share the default parent `/berth`: a daemon that stops removes it where it is empty, and
/// could do so between another's `mkdir /berth` and `mkdir /berth/<id>`, which then fails.
/// Once a container's cgroup is in the parent, the parent is not empty and `rmdir` refuses,
/// so the lock need only cover the creation. Locking the directory leaves no file behind.
pub struct TreeLock(#[allow(dead_code)] std::fs::File);

impl TreeLock {
    fn take(kind: rustix::fs::FlockOperation) -> Option<TreeLock> {
        let root = std::fs::File::open("/sys/fs/cgroup").ok()?;
        rustix::fs::flock(&root, kind).ok()?;
        Some(TreeLock(root))
    }

    /// Held while a container's cgroups are made; `None` where the tree cannot be locked
    /// (then nothing is held, as before the lock existed).
    pub fn for_creating() -> Option<TreeLock> {
        Self::take(rustix::fs::FlockOperation::LockShared)
    }

    /// Held while an empty parent is removed.
    pub fn for_removing() -> Option<TreeLock> {
        Self::take(rustix::fs::FlockOperation::LockExclusive)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A daemon removing the empty parent holds off the creation of a container's cgroups,
    /// and no longer than that.
    #[test]
    fn creating_cgroups_waits_while_a_parent_is_removed() {
        let Some(removing) = TreeLock::for_removing() else {
            eprintln!("skipped: no cgroup tree to lock");
            return;
        };
        let (tx, rx) = std::sync::mpsc::channel();
        let creator = std::thread::spawn(move || {
            let _creating = TreeLock::for_creating();
            tx.send(()).unwrap();
        });
        let wait = std::time::Duration::from_millis(200);
        assert!(rx.recv_timeout(wait).is_err(), "the creation waited");
        drop(removing);
        rx.recv_timeout(std::time::Duration::from_secs(10))
            .expect("the creation went on once the removal was done");
        creator.join().unwrap();
    }

    #[test]
    fn the_migration_file_is_in_the_threads_own_cgroup() {
        let hybrid = "12:pids:/system.slice/berthd.service\n0::/system.slice/berthd.service\n";
        let root = std::path::Path::new("/nonexistent-cgroup-root");
        assert_eq!(
            migration_file(hybrid, root).unwrap(),
            root.join("pids/system.slice/berthd.service/tasks")
        );
        // v2 only where it is the whole hierarchy (its root has cgroup.controllers).
        let unified = "0::/user.slice\n";
        assert_eq!(migration_file(unified, root), None);
        let v2 = tempfile::tempdir().unwrap();
        std::fs::write(v2.path().join("cgroup.controllers"), "cpu memory pids\n").unwrap();
        assert_eq!(
            migration_file(unified, v2.path()).unwrap(),
            v2.path().join("user.slice/cgroup.threads")
        );
    }
}
