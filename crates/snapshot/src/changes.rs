//! What a container changed: its upper directory compared with what lies below it, listed as
//! Docker's `diff` lists it (moby's `ChangesDirs` over the container's layer and its parent).

use std::fs::Metadata;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    Modified,
    Added,
    Deleted,
}

impl ChangeKind {
    /// The number Docker's API sends (`Kind`).
    pub fn code(self) -> u8 {
        match self {
            ChangeKind::Modified => 0,
            ChangeKind::Added => 1,
            ChangeKind::Deleted => 2,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// Absolute, as seen inside the container.
    pub path: String,
    pub kind: ChangeKind,
}

/// The changes of `upper` over `parent` (a mount of what lies below it). Docker's rules: a
/// file or directory that is new is added, and so is everything below a new directory; one
/// whose type, mode, owner or device differs, or (not a directory) whose size or modification
/// time does, or whose file capabilities do, is modified; a directory with changes below it
/// is listed as modified before them; a deleted directory is listed alone, without what it
/// held. Entries come in name order within a directory, deletions after the rest.
pub(crate) fn collect(upper: &Path, parent: &Path) -> std::io::Result<Vec<Change>> {
    let mut out = Vec::new();
    walk(upper, parent, "", &mut out)?;
    Ok(out)
}

/// `rel` is the directory's path below the roots ("" for the roots), without a leading `/`.
fn walk(upper: &Path, parent: &Path, rel: &str, out: &mut Vec<Change>) -> std::io::Result<()> {
    let dir = upper.join(rel);
    let mut deleted = Vec::new();
    for name in sorted_names(&dir)? {
        let path = join(rel, &name);
        let new = std::fs::symlink_metadata(upper.join(&path))?;
        let old = match std::fs::symlink_metadata(parent.join(&path)) {
            Ok(m) => Some(m),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(e),
        };
        if is_whiteout(&new) {
            if old.is_some() {
                deleted.push(path);
            }
            continue;
        }
        let Some(old) = old else {
            push(out, &path, ChangeKind::Added);
            if new.is_dir() {
                walk_added(upper, &path, out)?;
            }
            continue;
        };
        let changed = stat_different(&old, &new)
            || capability(&parent.join(&path)) != capability(&upper.join(&path));
        let mark = out.len();
        if changed {
            push(out, &path, ChangeKind::Modified);
        }
        if !new.is_dir() {
            continue;
        }
        if !old.is_dir() {
            // A directory where a file was: all it holds is new.
            walk_added(upper, &path, out)?;
            continue;
        }
        walk(upper, parent, &path, out)?;
        if is_opaque(&upper.join(&path)) {
            // Made anew over a deleted one: nothing of the old one shows through.
            let present = sorted_names(&upper.join(&path))?;
            for old_name in sorted_names(&parent.join(&path))? {
                if !present.contains(&old_name) {
                    push(out, &join(&path, &old_name), ChangeKind::Deleted);
                }
            }
        }
        if out.len() > mark && !changed {
            out.insert(
                mark,
                Change {
                    path: format!("/{path}"),
                    kind: ChangeKind::Modified,
                },
            );
        }
    }
    for path in deleted {
        push(out, &path, ChangeKind::Deleted);
    }
    Ok(())
}

/// Everything below a new directory, added. The directory's entry types suffice (no stat of
/// each file: a new directory often holds thousands), but for a device, which may be a
/// whiteout.
fn walk_added(upper: &Path, rel: &str, out: &mut Vec<Change>) -> std::io::Result<()> {
    let mut entries = Vec::new();
    for e in std::fs::read_dir(upper.join(rel))? {
        let e = e?;
        entries.push((e.file_name().to_string_lossy().into_owned(), e.file_type()?));
    }
    entries.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    for (name, ty) in entries {
        let path = join(rel, &name);
        if ty.is_char_device() && is_whiteout(&std::fs::symlink_metadata(upper.join(&path))?) {
            continue;
        }
        push(out, &path, ChangeKind::Added);
        if ty.is_dir() {
            walk_added(upper, &path, out)?;
        }
    }
    Ok(())
}

fn push(out: &mut Vec<Change>, rel: &str, kind: ChangeKind) {
    out.push(Change {
        path: format!("/{rel}"),
        kind,
    });
}

fn join(rel: &str, name: &str) -> String {
    if rel.is_empty() {
        name.to_string()
    } else {
        format!("{rel}/{name}")
    }
}

fn sorted_names(dir: &Path) -> std::io::Result<Vec<String>> {
    let mut names = Vec::new();
    for e in std::fs::read_dir(dir)? {
        let name = e?.file_name();
        // Names that are not UTF-8 are listed as Docker's JSON would carry them, lossily.
        names.push(name.to_string_lossy().into_owned());
    }
    names.sort();
    Ok(names)
}

/// overlayfs marks a deletion with a 0:0 character device.
fn is_whiteout(m: &Metadata) -> bool {
    m.file_type().is_char_device() && m.rdev() == 0
}

/// A directory made over a deleted one hides what was below it.
fn is_opaque(dir: &Path) -> bool {
    let mut value = [0u8; 4];
    rustix::fs::lgetxattr(dir, "trusted.overlay.opaque", &mut value).is_ok_and(|n| n == 1)
        && value[0] == b'y'
}

fn capability(path: &Path) -> Option<Vec<u8>> {
    let mut buf = vec![0u8; 256];
    let n = rustix::fs::lgetxattr(path, "security.capability", &mut buf).ok()?;
    buf.truncate(n);
    Some(buf)
}

/// moby's `statDifferent`: directories' sizes and times are no measure of change.
fn stat_different(old: &Metadata, new: &Metadata) -> bool {
    old.mode() != new.mode()
        || old.uid() != new.uid()
        || old.gid() != new.gid()
        || old.rdev() != new.rdev()
        || (!old.is_dir() && (!same_time(old, new) || old.size() != new.size()))
}

/// Equal modification times, or the same second where one of them has no fraction (tar
/// archives keep whole seconds).
fn same_time(a: &Metadata, b: &Metadata) -> bool {
    (a.mtime(), a.mtime_nsec()) == (b.mtime(), b.mtime_nsec())
        || (a.mtime() == b.mtime() && (a.mtime_nsec() == 0 || b.mtime_nsec() == 0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(root: &Path, rel: &str, body: &str) {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, body).unwrap();
    }

    fn whiteout(root: &Path, rel: &str) {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        rustix::fs::mknodat(
            rustix::fs::CWD,
            &p,
            rustix::fs::FileType::CharacterDevice,
            rustix::fs::Mode::from_raw_mode(0),
            0,
        )
        .unwrap();
    }

    fn listed(changes: &[Change]) -> Vec<String> {
        changes
            .iter()
            .map(|c| format!("{:?} {}", c.kind, c.path))
            .collect()
    }

    /// Whiteouts and opaque directories need root (mknod, trusted xattrs), as berthd has.
    #[test]
    fn changes_are_listed_as_docker_lists_them() {
        if !rustix::process::geteuid().is_root() {
            eprintln!("skipped: needs root");
            return;
        }
        let tmp = tempfile::tempdir().unwrap();
        let (parent, upper) = (tmp.path().join("parent"), tmp.path().join("upper"));
        for (rel, body) in [
            ("etc/passwd", "root"),
            ("etc/group", "root"),
            ("usr/bin/tool", "tool"),
            ("var/log/a.log", "log"),
            ("var/cache/a", "a"),
            ("var/cache/b", "b"),
            ("home/old/x", "x"),
            ("data", "file"),
        ] {
            write(&parent, rel, body);
        }
        // Modified content; a directory changed only below.
        write(&upper, "etc/passwd", "root:x:0:0");
        // Added, with a new directory.
        write(&upper, "tmp/new.txt", "new");
        // Copied up unchanged (same size, time and mode): not a change.
        write(&upper, "usr/bin/tool", "tool");
        let mtime = std::fs::metadata(parent.join("usr/bin/tool"))
            .unwrap()
            .modified()
            .unwrap();
        std::fs::File::options()
            .write(true)
            .open(upper.join("usr/bin/tool"))
            .unwrap()
            .set_modified(mtime)
            .unwrap();
        // Deleted: a file, and a directory with what it held.
        whiteout(&upper, "var/log/a.log");
        whiteout(&upper, "home/old");
        // A directory made anew over a deleted one.
        write(&upper, "var/cache/c", "c");
        rustix::fs::lsetxattr(
            upper.join("var/cache"),
            "trusted.overlay.opaque",
            b"y",
            rustix::fs::XattrFlags::empty(),
        )
        .unwrap();
        // A directory where a file was.
        write(&upper, "data/f", "f");
        assert_eq!(
            listed(&collect(&upper, &parent).unwrap()),
            [
                "Modified /data",
                "Added /data/f",
                "Modified /etc",
                "Modified /etc/passwd",
                "Modified /home",
                "Deleted /home/old",
                "Added /tmp",
                "Added /tmp/new.txt",
                "Modified /var",
                "Modified /var/cache",
                "Added /var/cache/c",
                "Deleted /var/cache/a",
                "Deleted /var/cache/b",
                "Modified /var/log",
                "Deleted /var/log/a.log",
            ]
        );
        // Nothing changed, nothing listed.
        let empty = tmp.path().join("empty");
        std::fs::create_dir(&empty).unwrap();
        assert!(collect(&empty, &parent).unwrap().is_empty());
    }
}
