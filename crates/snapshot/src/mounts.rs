//! Mounts described before they are made, and read-only views that unmount themselves.

use std::ffi::CString;
use std::path::{Path, PathBuf};

use rustix::mount::{mount, unmount, MountFlags, UnmountFlags};

/// One mount to make: a filesystem type, its source and its options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    pub fstype: String,
    pub source: String,
    pub options: Vec<String>,
    pub read_only: bool,
}

impl Mount {
    /// Mounts it at `target`.
    pub fn apply(&self, target: &Path) -> std::io::Result<()> {
        let data = self.options.join(",");
        // The kernel reads mount options from one page.
        if data.len() >= 4000 {
            return Err(std::io::Error::other(format!(
                "mount options too long for one {} mount ({} bytes)",
                self.fstype,
                data.len()
            )));
        }
        let data = CString::new(data).map_err(std::io::Error::other)?;
        let flags = if self.read_only {
            MountFlags::RDONLY
        } else {
            MountFlags::empty()
        };
        mount(
            self.source.as_str(),
            target,
            self.fstype.as_str(),
            flags,
            Some(data.as_c_str()),
        )?;
        Ok(())
    }
}

/// A mount made in a directory of its own under `dir` for as long as this lives: what a
/// `diff` or an `export` reads while the container may be starting, running or removed.
#[derive(Debug)]
pub struct View {
    path: PathBuf,
}

impl View {
    pub fn mount(m: &Mount, dir: &Path) -> std::io::Result<View> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join(format!("{:016x}", rand::random::<u64>()));
        std::fs::create_dir(&path)?;
        if let Err(e) = m.apply(&path) {
            let _ = std::fs::remove_dir(&path);
            return Err(e);
        }
        Ok(View { path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Unmounts every view left under `dir` (by a daemon that died while one was mounted).
    pub fn sweep(dir: &Path) {
        for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let _ = unmount(e.path(), UnmountFlags::DETACH);
            let _ = std::fs::remove_dir(e.path());
        }
    }
}

impl Drop for View {
    fn drop(&mut self) {
        if let Err(e) = unmount(&self.path, UnmountFlags::DETACH) {
            tracing::warn!(path = %self.path.display(), error = %e, "unmounting a view");
        }
        let _ = std::fs::remove_dir(&self.path);
    }
}
