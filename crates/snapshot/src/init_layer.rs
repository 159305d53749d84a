//! The init layer: what Docker puts between an image and every container made from it, so
//! that the mount points and files the runtime needs exist without ever showing in the
//! container's `diff`, `commit` or `export`.

use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::Path;

/// Docker's init layer (moby's `initlayer.Setup`): the mount points of `/dev/pts`,
/// `/dev/shm`, `/proc` and `/sys`; empty files for the host files bound over them and for
/// `/.dockerenv`; `/etc/mtab` linking to `/proc/mounts`. Docker replaces whatever the image
/// has at the file paths, as this layer does by lying above the image.
const DIRS: [&str; 4] = ["dev/pts", "dev/shm", "proc", "sys"];
const FILES: [&str; 5] = [
    ".dockerenv",
    "etc/resolv.conf",
    "etc/hosts",
    "etc/hostname",
    "dev/console",
];
const MTAB: (&str, &str) = ("etc/mtab", "/proc/mounts");

/// Makes the init layer at `dir`, whole or not at all.
pub(crate) fn make(dir: &Path) -> std::io::Result<()> {
    let staging = dir.with_extension("new");
    let _ = std::fs::remove_dir_all(&staging);
    let mut mkdir = std::fs::DirBuilder::new();
    mkdir.recursive(true).mode(0o755);
    mkdir.create(&staging)?;
    for d in DIRS {
        mkdir.create(staging.join(d))?;
    }
    for f in FILES {
        let path = staging.join(f);
        mkdir.create(path.parent().expect("a parent"))?;
        std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o755)
            .open(path)?;
    }
    std::os::unix::fs::symlink(MTAB.1, staging.join(MTAB.0))?;
    std::fs::rename(&staging, dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_init_layer_holds_dockers_files() {
        let tmp = tempfile::tempdir().unwrap();
        let init = tmp.path().join("init");
        make(&init).unwrap();
        for d in DIRS {
            assert!(init.join(d).is_dir(), "{d}");
        }
        for f in FILES {
            let m = std::fs::metadata(init.join(f)).unwrap();
            assert!(m.is_file() && m.len() == 0, "{f}");
        }
        assert_eq!(
            std::fs::read_link(init.join("etc/mtab")).unwrap(),
            Path::new("/proc/mounts")
        );
        assert!(!tmp.path().join("init.new").exists());
    }
}
