//! What libcontainer 0.7 leaves undone in a container's mounts, done before its process
//! runs: the cgroup filesystem made read-only, and the propagation of binds.
//!
//! The spec asks for `/sys/fs/cgroup` read-only (writable only when privileged, as Docker
//! has it), but libcontainer 0.7 mounts cgroup v1 hierarchies read-write whatever the spec
//! says (a tmpfs with each hierarchy bound or mounted into it). A container could then raise
//! its own memory, pids and CPU limits and make child cgroups. So, once the container is
//! created and before it starts, every mount at or below `/sys/fs/cgroup` in its mount
//! namespace is remounted read-only, from a child that joined that namespace.

use std::os::fd::AsFd;

use rustix::mount::MountPropagationFlags;
use rustix::process::Pid;

const CGROUP_ROOT: &str = "/sys/fs/cgroup";

/// The propagation each bind of the spec asks for (`rprivate`, `rslave`, …): libcontainer
/// clones binds with `open_tree` and drops these options, so every bind would stay the slave
/// its root makes it.
pub fn bind_propagation(spec: &serde_json::Value) -> Vec<(String, MountPropagationFlags)> {
    let mut out = Vec::new();
    for m in spec["mounts"].as_array().into_iter().flatten() {
        if m["type"] != "bind" {
            continue;
        }
        let Some(dest) = m["destination"].as_str() else {
            continue;
        };
        // The host files Docker binds gain nothing from it.
        if matches!(dest, "/etc/hosts" | "/etc/hostname" | "/etc/resolv.conf") {
            continue;
        }
        for o in m["options"].as_array().into_iter().flatten() {
            let rec = MountPropagationFlags::REC;
            let flags = match o.as_str().unwrap_or_default() {
                "private" => MountPropagationFlags::PRIVATE,
                "rprivate" => MountPropagationFlags::PRIVATE | rec,
                "shared" => MountPropagationFlags::SHARED,
                "rshared" => MountPropagationFlags::SHARED | rec,
                "slave" => MountPropagationFlags::DOWNSTREAM,
                "rslave" => MountPropagationFlags::DOWNSTREAM | rec,
                _ => continue,
            };
            out.push((dest.to_string(), flags));
        }
    }
    out
}

/// Whether the spec's `/sys/fs/cgroup` mount asks to be read-only.
pub fn wants_readonly(spec: &serde_json::Value) -> bool {
    spec["mounts"].as_array().is_some_and(|mounts| {
        mounts.iter().any(|m| {
            m["destination"] == CGROUP_ROOT
                && m["options"]
                    .as_array()
                    .is_some_and(|o| o.iter().any(|x| x == "ro"))
        })
    })
}

/// The mount points at or below `/sys/fs/cgroup` in a `mountinfo` (as the process whose
/// file it is sees them).
pub fn cgroup_mount_points(mountinfo: &str) -> Vec<String> {
    let mut points: Vec<String> = mountinfo
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(unescape)
        .filter(|p| p == CGROUP_ROOT || p.starts_with("/sys/fs/cgroup/"))
        .collect();
    points.dedup();
    points
}

/// mountinfo escapes space, tab, newline and backslash as `\ooo`.
fn unescape(field: &str) -> String {
    let b = field.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            out.push((b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0'));
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// In the mount namespace of the container whose init is `init`: remounts every cgroup
/// mount read-only when `readonly` (keeping nosuid, nodev and noexec), and sets each bind's
/// propagation. The container has not started: its init waits for the start.
pub fn seal(
    init: Pid,
    readonly: bool,
    propagation: &[(String, MountPropagationFlags)],
) -> Result<(), String> {
    let raw = init.as_raw_nonzero().get();
    let points = if readonly {
        let mountinfo = std::fs::read_to_string(format!("/proc/{raw}/mountinfo"))
            .map_err(|e| format!("read the container's mounts: {e}"))?;
        cgroup_mount_points(&mountinfo)
    } else {
        Vec::new()
    };
    if points.is_empty() && propagation.is_empty() {
        return Ok(());
    }
    let mnt_ns = std::fs::File::open(format!("/proc/{raw}/ns/mnt"))
        .map_err(|e| format!("open the container's mount namespace: {e}"))?;
    // A child does it: joining a mount namespace would change the monitor's own view.
    let child = crate::exec_helper::fork_child(|| {
        if nix::sched::setns(mnt_ns.as_fd(), nix::sched::CloneFlags::CLONE_NEWNS).is_err() {
            return 1;
        }
        use rustix::mount::MountFlags;
        let flags = MountFlags::BIND
            | MountFlags::RDONLY
            | MountFlags::NOSUID
            | MountFlags::NODEV
            | MountFlags::NOEXEC;
        for p in &points {
            if rustix::mount::mount_remount(p.as_str(), flags, "").is_err() {
                return 2;
            }
        }
        for (dest, flags) in propagation {
            if rustix::mount::mount_change(dest.as_str(), *flags).is_err() {
                return 3;
            }
        }
        0
    })
    .map_err(|e| format!("fork: {e}"))?;
    loop {
        match rustix::process::waitpid(Some(child), rustix::process::WaitOptions::empty()) {
            Ok(Some((_, status))) => {
                return match status.exit_status() {
                    Some(0) => Ok(()),
                    Some(1) => Err("join the container's mount namespace".into()),
                    Some(3) => Err("set the propagation of the container's binds".into()),
                    _ => Err("remount the container's cgroup filesystem read-only".into()),
                }
            }
            Err(rustix::io::Errno::INTR) | Ok(None) => continue,
            Err(e) => return Err(format!("wait: {e}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_cgroup_mounts_of_a_container() {
        let info = "\
600 500 0:50 / / rw,relatime - overlay overlay rw
601 600 0:51 / /proc rw - proc proc rw
610 600 0:60 / /sys ro - sysfs sysfs ro
611 610 0:61 / /sys/fs/cgroup rw - tmpfs tmpfs rw,mode=755
612 611 0:27 /berth/abc /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory
613 611 0:28 /berth/abc /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct
614 600 0:62 / /sys/fs/cgroupx rw - tmpfs tmpfs rw
615 600 0:63 / /data\\040dir rw - tmpfs tmpfs rw
";
        assert_eq!(
            cgroup_mount_points(info),
            vec![
                "/sys/fs/cgroup",
                "/sys/fs/cgroup/memory",
                "/sys/fs/cgroup/cpu,cpuacct"
            ]
        );
        assert_eq!(unescape("/data\\040dir"), "/data dir");
    }

    #[test]
    fn readonly_follows_the_spec() {
        let ro = serde_json::json!({"mounts": [
            {"destination": "/sys/fs/cgroup", "type": "cgroup", "options": ["ro", "nosuid"]}]});
        let rw = serde_json::json!({"mounts": [
            {"destination": "/sys/fs/cgroup", "type": "cgroup", "options": ["rw", "nosuid"]}]});
        assert!(wants_readonly(&ro));
        assert!(!wants_readonly(&rw));
    }
}
