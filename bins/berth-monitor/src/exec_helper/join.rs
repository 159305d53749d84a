//! Joining the container: its cgroups and its namespaces (all but the PID namespace).

use nix::sched::CloneFlags;
use rustix::process::Pid;
use std::os::fd::AsFd;

/// Moves this process into the init process's cgroup in every hierarchy where it is not
/// already. Done before entering the mount namespace, while `/sys/fs/cgroup` is the host's.
pub(super) fn join_cgroups(init: Pid) -> Result<(), String> {
    let theirs = std::fs::read_to_string(format!("/proc/{}/cgroup", init.as_raw_nonzero()))
        .map_err(|e| format!("init's cgroups: {e}"))?;
    let ours = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    let me = std::process::id().to_string();
    let cgroups = berth_runtime::stats::CgroupFs::default();
    for line in theirs.lines() {
        if ours.lines().any(|l| l == line) {
            continue;
        }
        let mut parts = line.splitn(3, ':');
        let (Some(_), Some(controllers), Some(path)) = (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        let Some(mount) = cgroups.hierarchy(controllers) else {
            continue;
        };
        let procs = mount
            .join(path.trim_start_matches('/'))
            .join("cgroup.procs");
        std::fs::write(&procs, &me).map_err(|e| format!("join {}: {e}", procs.display()))?;
    }
    Ok(())
}

/// Enters the init process's namespaces that differ from ours; the PID namespace applies to
/// the children only. The mount namespace goes last: after it, `/proc` is the container's.
pub(super) fn join_namespaces(init: Pid) -> Result<(), String> {
    let kinds = [
        ("ipc", CloneFlags::CLONE_NEWIPC),
        ("uts", CloneFlags::CLONE_NEWUTS),
        ("net", CloneFlags::CLONE_NEWNET),
        ("pid", CloneFlags::CLONE_NEWPID),
        ("cgroup", CloneFlags::CLONE_NEWCGROUP),
        ("mnt", CloneFlags::CLONE_NEWNS),
    ];
    let mut to_join = Vec::new();
    for (name, flag) in kinds {
        let path = format!("/proc/{}/ns/{name}", init.as_raw_nonzero());
        let theirs = std::fs::File::open(&path).map_err(|e| format!("{path}: {e}"))?;
        let same = match (
            rustix::fs::fstat(&theirs),
            rustix::fs::stat(format!("/proc/self/ns/{name}")),
        ) {
            (Ok(a), Ok(b)) => a.st_ino == b.st_ino && a.st_dev == b.st_dev,
            _ => false,
        };
        if !same {
            to_join.push((name, flag, theirs));
        }
    }
    for (name, flag, fd) in to_join {
        nix::sched::setns(fd.as_fd(), flag).map_err(|e| format!("join {name} namespace: {e}"))?;
    }
    std::env::set_current_dir("/").map_err(|e| format!("chdir /: {e}"))
}
