//! One container's overlay directories, under `<data-root>/overlay/<id>`, and the mounts made
//! of them.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use rustix::mount::{unmount, UnmountFlags};

#[cfg(test)]
use crate::changes::ChangeKind;
use crate::changes::{self, Change};
use crate::init_layer;
use crate::mounts::{Mount, View};

#[derive(Debug, Clone)]
pub struct OverlayDirs {
    pub root: PathBuf,
}

/// The overlay features this kernel has that would make an upper directory other than a plain
/// diff (renamed directories as redirects, hard links indexed, metadata-only copy-ups): each
/// one it knows is turned off, so that `diff` and `commit` can read the upper directory as it
/// is.
fn features_off() -> &'static [String] {
    static OFF: OnceLock<Vec<String>> = OnceLock::new();
    OFF.get_or_init(|| {
        let params = Path::new("/sys/module/overlay/parameters");
        ["redirect_dir", "index", "metacopy"]
            .iter()
            .filter(|p| params.join(p).exists())
            .map(|p| format!("{p}=off"))
            .collect()
    })
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

    /// The files every container gets, below its upper directory.
    pub fn init(&self) -> PathBuf {
        self.root.join("init")
    }

    /// Makes the directories and the init layer.
    pub fn create(&self) -> std::io::Result<()> {
        for d in [self.upper(), self.work(), self.merged()] {
            std::fs::create_dir_all(d)?;
        }
        if !self.init().exists() {
            init_layer::make(&self.init())?;
        }
        Ok(())
    }

    /// The container's root, writable: its upper directory over the init layer over the
    /// image's `layers` (top first).
    pub fn active(&self, layers: &[PathBuf]) -> std::io::Result<Mount> {
        // An image of no layer (a build's `FROM scratch`) still has the init layer below.
        let mut lowers = vec![self.init()];
        lowers.extend_from_slice(layers);
        let mut options = vec![
            format!("lowerdir={}", join(&lowers)),
            format!("upperdir={}", self.upper().display()),
            format!("workdir={}", self.work().display()),
        ];
        options.extend_from_slice(features_off());
        Ok(overlay(options, false))
    }

    /// The container's files, read-only: its upper directory over the init layer over the
    /// image's `layers` (what `export` writes out; Docker's export has the init layer's
    /// files too, without what the container had bound over them).
    pub fn view(&self, layers: &[PathBuf]) -> Mount {
        let mut lowers = vec![self.upper(), self.init()];
        lowers.extend_from_slice(layers);
        read_only(&lowers)
    }

    /// What lies below the upper directory, read-only: the init layer over the image's
    /// `layers`. What the container changed is the difference from this.
    pub fn parent(&self, layers: &[PathBuf]) -> Mount {
        let mut lowers = vec![self.init()];
        lowers.extend_from_slice(layers);
        read_only(&lowers)
    }

    /// What the container changed, as Docker's `diff` lists it; `views` is where the parent
    /// is mounted meanwhile.
    pub fn changes(&self, layers: &[PathBuf], views: &Path) -> std::io::Result<Vec<Change>> {
        // A container that never started has no upper directory yet, nor changes.
        if !self.upper().exists() {
            return Ok(Vec::new());
        }
        // Started by a berthd from before init layers.
        if !self.init().exists() {
            init_layer::make(&self.init())?;
        }
        let parent = View::mount(&self.parent(layers), views)?;
        changes::collect(&self.upper(), parent.path())
    }

    /// Mounts the container's root at `merged`.
    pub fn mount(&self, layers: &[PathBuf]) -> std::io::Result<PathBuf> {
        let merged = self.merged();
        self.active(layers)?.apply(&merged)?;
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

fn join(dirs: &[PathBuf]) -> String {
    let d: Vec<String> = dirs.iter().map(|l| l.display().to_string()).collect();
    d.join(":")
}

/// A read-only overlay of `lowers` (top first; the kernel wants two at least).
pub fn read_only(lowers: &[PathBuf]) -> Mount {
    let mut options = vec![format!("lowerdir={}", join(lowers))];
    options.extend_from_slice(features_off());
    overlay(options, true)
}

fn overlay(options: Vec<String>, read_only: bool) -> Mount {
    Mount {
        fstype: "overlay".into(),
        source: "overlay".into(),
        options,
        read_only,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mounted(path: &Path) -> bool {
        let target = path.display().to_string();
        std::fs::read_to_string("/proc/self/mountinfo")
            .unwrap()
            .lines()
            .any(|l| l.split(' ').nth(4) == Some(target.as_str()))
    }

    /// Mounts need root, as berthd has.
    #[test]
    fn mounts_views_and_changes_of_a_root() {
        if !rustix::process::geteuid().is_root() {
            eprintln!("skipped: needs root");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let lower = dir.path().join("lower");
        std::fs::create_dir_all(lower.join("etc")).unwrap();
        std::fs::write(lower.join("from-image"), b"1").unwrap();
        std::fs::write(lower.join("etc/hosts"), b"image's").unwrap();
        let d = OverlayDirs::new(dir.path().join("c"));
        d.create().unwrap();
        let layers = std::slice::from_ref(&lower);
        let merged = d.mount(layers).unwrap();
        assert!(mounted(&merged));
        assert!(merged.join("from-image").exists());
        // The init layer's files are there for the runtime, over the image's.
        assert!(merged.join(".dockerenv").exists() && merged.join("proc").is_dir());
        assert_eq!(std::fs::read(merged.join("etc/hosts")).unwrap(), b"");
        std::fs::write(merged.join("new"), b"2").unwrap();
        std::fs::remove_file(merged.join("from-image")).unwrap();
        assert!(d.upper().join("new").exists() && !lower.join("new").exists());
        // Only what the container did is a change; the init layer's files are not.
        let views = dir.path().join("views");
        let changes = d.changes(layers, &views).unwrap();
        let listed: Vec<_> = changes.iter().map(|c| (c.path.as_str(), c.kind)).collect();
        assert_eq!(
            listed,
            [
                ("/new", ChangeKind::Added),
                ("/from-image", ChangeKind::Deleted)
            ]
        );
        // The view: the container's files, read-only, as Docker exports them.
        let view = View::mount(&d.view(layers), &views).unwrap();
        assert!(view.path().join("new").exists());
        assert!(!view.path().join("from-image").exists());
        assert!(view.path().join(".dockerenv").exists());
        assert_eq!(std::fs::read(view.path().join("etc/hosts")).unwrap(), b"");
        assert!(std::fs::write(view.path().join("x"), b"").is_err());
        let view_path = view.path().to_path_buf();
        drop(view);
        assert!(!mounted(&view_path) && !view_path.exists());
        d.remove().unwrap();
        assert!(!mounted(&merged));
        assert!(!d.root.exists());
    }

    #[test]
    fn the_active_root_is_upper_over_init_over_the_layers() {
        let dirs = OverlayDirs::new("/d/overlay/c1".into());
        let m = dirs.active(&["/l/top".into(), "/l/base".into()]).unwrap();
        assert_eq!(m.fstype, "overlay");
        assert!(!m.read_only);
        assert_eq!(m.options[0], "lowerdir=/d/overlay/c1/init:/l/top:/l/base");
        assert_eq!(m.options[1], "upperdir=/d/overlay/c1/upper");
        assert_eq!(m.options[2], "workdir=/d/overlay/c1/work");
        // An image of no layer (a build on `FROM scratch`): the init layer alone below.
        let bare = dirs.active(&[]).unwrap();
        assert_eq!(bare.options[0], "lowerdir=/d/overlay/c1/init");
        // The view has every layer, read-only; the parent no upper directory.
        let view = dirs.view(&["/l/top".into()]);
        assert!(view.read_only);
        assert_eq!(
            view.options[0],
            "lowerdir=/d/overlay/c1/upper:/d/overlay/c1/init:/l/top"
        );
        let parent = dirs.parent(&["/l/top".into()]);
        assert_eq!(parent.options[0], "lowerdir=/d/overlay/c1/init:/l/top");
        for m in [&m, &view, &parent] {
            assert!(!m.options.iter().any(|o| o.starts_with("redirect_dir=on")));
        }
    }
}
