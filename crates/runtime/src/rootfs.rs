//! Mounts a container's start needs beside its root filesystem (which `berth-snapshot`
//! makes): a shareable `/dev/shm`, and what the host's mount table says about a path.

use std::ffi::CString;
use std::path::Path;

use rustix::mount::{mount, unmount, MountFlags, UnmountFlags};

/// Mounts a tmpfs of `size` bytes (0: Docker's 64 MiB) at `dir` for a container's
/// `/dev/shm` that other containers may join (`IpcMode: shareable`).
pub fn mount_shm(dir: &Path, size: i64) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let size = if size > 0 { size } else { 64 << 20 };
    let opts = CString::new(format!("mode=1777,size={size}")).map_err(std::io::Error::other)?;
    if is_mounted(dir) {
        unmount_dir(dir)?;
        std::fs::create_dir_all(dir)?;
    }
    mount(
        "shm",
        dir,
        "tmpfs",
        MountFlags::NOEXEC | MountFlags::NOSUID | MountFlags::NODEV,
        Some(opts.as_c_str()),
    )?;
    Ok(())
}

/// Unmounts what is mounted at `dir`, if anything, and removes the directory.
pub fn unmount_dir(dir: &Path) -> std::io::Result<()> {
    match unmount(dir, UnmountFlags::DETACH) {
        Ok(()) | Err(rustix::io::Errno::INVAL) | Err(rustix::io::Errno::NOENT) => {}
        Err(e) => return Err(e.into()),
    }
    match std::fs::remove_dir(dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// The mount that holds a path, and how mounts propagate to and from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HoldingMount {
    pub mount_point: String,
    /// In a peer group (`shared:N`).
    pub shared: bool,
    /// Receives from a master (`master:N`).
    pub slave: bool,
}

/// The mount holding `path` (by `/proc/self/mountinfo`), to check a bind's propagation
/// before it is asked for.
pub fn holding_mount(path: &Path) -> Option<HoldingMount> {
    let path = std::fs::canonicalize(path).ok()?;
    let info = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    let mut best: Option<HoldingMount> = None;
    for line in info.lines() {
        let fields: Vec<&str> = line.split(' ').collect();
        let Some(mount_point) = fields.get(4) else {
            continue;
        };
        if !path.starts_with(mount_point) {
            continue;
        }
        // Optional fields run from the seventh to the `-` separator.
        let optional = fields.iter().skip(6).take_while(|f| **f != "-");
        let (mut shared, mut slave) = (false, false);
        for f in optional {
            shared |= f.starts_with("shared:");
            slave |= f.starts_with("master:");
        }
        // Later lines are mounted over earlier ones at the same point.
        if best
            .as_ref()
            .is_none_or(|b| mount_point.len() >= b.mount_point.len())
        {
            best = Some(HoldingMount {
                mount_point: mount_point.to_string(),
                shared,
                slave,
            });
        }
    }
    best
}

/// Whether `path` is a mount point (by `/proc/self/mountinfo`).
pub fn is_mounted(path: &Path) -> bool {
    let target = path.display().to_string();
    std::fs::read_to_string("/proc/self/mountinfo")
        .map(|s| {
            s.lines()
                .any(|l| l.split(' ').nth(4) == Some(target.as_str()))
        })
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mount_holding_a_path_is_the_deepest() {
        assert_eq!(
            holding_mount(Path::new("/proc/self")).unwrap().mount_point,
            "/proc"
        );
        assert_eq!(holding_mount(Path::new("/")).unwrap().mount_point, "/");
        assert!(holding_mount(Path::new("/no/such/berth/path")).is_none());
    }
}
