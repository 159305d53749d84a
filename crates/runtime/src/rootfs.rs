//! A container's root filesystem: an overlay of the image's layers (read-only, lower) and the
//! container's own writable layer (upper), mounted at `merged`.

use std::ffi::CString;
use std::path::{Path, PathBuf};

use rustix::mount::{mount, unmount, MountFlags, UnmountFlags};

/// The directories of one container's overlay, under `<data-root>/overlay/<id>`.
#[derive(Debug, Clone)]
pub struct OverlayDirs {
    pub root: PathBuf,
}

impl OverlayDirs {
    pub fn new(root: PathBuf) -> Self {
        Self { root }
    }

    pub fn upper(&self) -> PathBuf {
        self.root.join("upper")
    }

    pub fn work(&self) -> PathBuf {
        self.root.join("work")
    }

    pub fn merged(&self) -> PathBuf {
        self.root.join("merged")
    }

    pub fn create(&self) -> std::io::Result<()> {
        for d in [self.upper(), self.work(), self.merged()] {
            std::fs::create_dir_all(d)?;
        }
        Ok(())
    }

    /// The overlay mount options for `lowers` (top layer first).
    pub fn options(&self, lowers: &[PathBuf]) -> std::io::Result<String> {
        if lowers.is_empty() {
            return Err(std::io::Error::other(
                "an image without layers cannot be a root filesystem",
            ));
        }
        let lower: Vec<String> = lowers.iter().map(|l| l.display().to_string()).collect();
        let opts = format!(
            "lowerdir={},upperdir={},workdir={}",
            lower.join(":"),
            self.upper().display(),
            self.work().display()
        );
        // The kernel reads mount options from one page.
        if opts.len() >= 4000 {
            return Err(std::io::Error::other(format!(
                "too many layers for one overlay mount ({} layers)",
                lowers.len()
            )));
        }
        Ok(opts)
    }

    /// Mounts the overlay at `merged`.
    pub fn mount(&self, lowers: &[PathBuf]) -> std::io::Result<PathBuf> {
        let opts = CString::new(self.options(lowers)?).map_err(std::io::Error::other)?;
        let merged = self.merged();
        mount(
            "overlay",
            &merged,
            "overlay",
            MountFlags::empty(),
            Some(opts.as_c_str()),
        )?;
        Ok(merged)
    }

    /// Unmounts `merged` if it is mounted.
    pub fn unmount(&self) -> std::io::Result<()> {
        match unmount(self.merged(), UnmountFlags::DETACH) {
            Ok(()) => Ok(()),
            Err(rustix::io::Errno::INVAL) | Err(rustix::io::Errno::NOENT) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Unmounts and removes every directory.
    pub fn remove(&self) -> std::io::Result<()> {
        self.unmount()?;
        match std::fs::remove_dir_all(&self.root) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }
}

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

    #[test]
    fn options_list_layers_top_first() {
        let d = OverlayDirs::new("/data/overlay/c1".into());
        let o = d.options(&["/l/top".into(), "/l/base".into()]).unwrap();
        assert_eq!(
            o,
            "lowerdir=/l/top:/l/base,upperdir=/data/overlay/c1/upper,workdir=/data/overlay/c1/work"
        );
        assert!(d.options(&[]).is_err());
    }

    #[test]
    fn mounts_and_unmounts_an_overlay() {
        let dir = tempfile::tempdir().unwrap();
        let lower = dir.path().join("lower");
        std::fs::create_dir(&lower).unwrap();
        std::fs::write(lower.join("from-image"), b"1").unwrap();
        let d = OverlayDirs::new(dir.path().join("c"));
        d.create().unwrap();
        let merged = d.mount(std::slice::from_ref(&lower)).unwrap();
        assert!(is_mounted(&merged));
        assert!(merged.join("from-image").exists());
        std::fs::write(merged.join("new"), b"2").unwrap();
        assert!(d.upper().join("new").exists() && !lower.join("new").exists());
        d.remove().unwrap();
        assert!(!is_mounted(&merged));
        assert!(!d.root.exists());
    }
}
