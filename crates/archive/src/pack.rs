//! Writing a directory tree as a tar stream, as Docker's `export` writes a container's root.
//!
//! The tree may belong to a running container that changes it meanwhile, swapping a
//! directory for a symlink to a host path among other things. So the walk goes by directory
//! descriptors and opens every name with `O_NOFOLLOW` relative to its parent's descriptor:
//! whatever the container does, nothing outside the tree is read.

use std::collections::HashMap;
use std::io::Write;
use std::os::fd::OwnedFd;
use std::path::Path;

use rustix::fs::{self as rfs, AtFlags, FileType, Mode, OFlags};
use rustix::io::Errno;
use tar::{EntryType, Header};

use crate::error::ArchiveError;

/// Writes the tree at `root` to `out` as a tar stream: names relative to `root` (directories
/// with a trailing slash), symlinks as links, a file with several names once and then as hard
/// links to its first name, devices and FIFOs as themselves. Entries come in name order.
pub fn pack(root: &Path, out: impl Write) -> Result<(), ArchiveError> {
    let dir = rfs::open(
        root,
        OFlags::DIRECTORY | OFlags::RDONLY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| ArchiveError::io(format!("open {}", root.display()), e.into()))?;
    let mut packer = Packer {
        builder: tar::Builder::new(out),
        links: HashMap::new(),
    };
    packer.dir(&dir, "")?;
    packer
        .builder
        .into_inner()
        .and_then(|mut w| w.flush())
        .map_err(|e| ArchiveError::io("finish the archive", e))
}

struct Packer<W: Write> {
    builder: tar::Builder<W>,
    /// The first name of each file with several, by (device, inode).
    links: HashMap<(u64, u64), String>,
}

fn ctx(what: &str, path: &str) -> impl Fn(Errno) -> ArchiveError {
    let what = format!("{what} {path}");
    move |e| ArchiveError::io(what.clone(), e.into())
}

impl<W: Write> Packer<W> {
    /// Writes the entries of the directory `dir`, whose name in the archive is `prefix`.
    fn dir(&mut self, dir: &OwnedFd, prefix: &str) -> Result<(), ArchiveError> {
        let mut names = Vec::new();
        for entry in rfs::Dir::read_from(dir).map_err(ctx("read directory", prefix))? {
            let entry = entry.map_err(ctx("read directory", prefix))?;
            let name = entry.file_name().to_bytes();
            if name != b"." && name != b".." {
                names.push(String::from_utf8_lossy(name).into_owned());
            }
        }
        names.sort();
        for name in names {
            let path = format!("{prefix}{name}");
            // Gone since the listing: a running container's tree changes under the walk.
            let st = match rfs::statat(dir, name.as_str(), AtFlags::SYMLINK_NOFOLLOW) {
                Ok(st) => st,
                Err(Errno::NOENT) => continue,
                Err(e) => return Err(ctx("stat", &path)(e)),
            };
            let mut header = Header::new_gnu();
            header.set_mode(st.st_mode & 0o7777);
            header.set_uid(st.st_uid as u64);
            header.set_gid(st.st_gid as u64);
            header.set_mtime(st.st_mtime.max(0) as u64);
            header.set_size(0);
            match FileType::from_raw_mode(st.st_mode) {
                FileType::Directory => {
                    let sub = match rfs::openat(
                        dir,
                        name.as_str(),
                        OFlags::DIRECTORY | OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                        Mode::empty(),
                    ) {
                        Ok(fd) => fd,
                        Err(Errno::NOENT) | Err(Errno::LOOP) | Err(Errno::NOTDIR) => continue,
                        Err(e) => return Err(ctx("open", &path)(e)),
                    };
                    header.set_entry_type(EntryType::Directory);
                    let shown = format!("{path}/");
                    self.append(&mut header, &shown, std::io::empty())?;
                    self.dir(&sub, &shown)?;
                }
                FileType::Symlink => {
                    let target = match rfs::readlinkat(dir, name.as_str(), Vec::new()) {
                        Ok(t) => t,
                        Err(Errno::NOENT) | Err(Errno::INVAL) => continue,
                        Err(e) => return Err(ctx("read link", &path)(e)),
                    };
                    header.set_entry_type(EntryType::Symlink);
                    let target = String::from_utf8_lossy(target.to_bytes()).into_owned();
                    self.builder
                        .append_link(&mut header, &path, &target)
                        .map_err(|e| ArchiveError::io(format!("write {path}"), e))?;
                }
                FileType::RegularFile => {
                    if st.st_nlink > 1 {
                        let key = (st.st_dev, st.st_ino);
                        if let Some(first) = self.links.get(&key) {
                            header.set_entry_type(EntryType::Link);
                            let first = first.clone();
                            self.builder
                                .append_link(&mut header, &path, &first)
                                .map_err(|e| ArchiveError::io(format!("write {path}"), e))?;
                            continue;
                        }
                        self.links.insert(key, path.clone());
                    }
                    let file = match rfs::openat(
                        dir,
                        name.as_str(),
                        OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::NOCTTY,
                        Mode::empty(),
                    ) {
                        Ok(fd) => fd,
                        Err(Errno::NOENT) | Err(Errno::LOOP) => continue,
                        Err(e) => return Err(ctx("open", &path)(e)),
                    };
                    // The size of what was opened (it may differ from the name's by now).
                    let opened = rfs::fstat(&file).map_err(ctx("stat", &path))?;
                    if FileType::from_raw_mode(opened.st_mode) != FileType::RegularFile {
                        continue;
                    }
                    header.set_entry_type(EntryType::Regular);
                    header.set_size(opened.st_size as u64);
                    // A file that shrinks while read is padded, one that grows cut, so the
                    // entry keeps the size its header gives.
                    let data = std::io::Read::chain(
                        std::io::Read::take(std::fs::File::from(file), opened.st_size as u64),
                        std::io::repeat(0),
                    );
                    let data = std::io::Read::take(data, opened.st_size as u64);
                    self.append(&mut header, &path, data)?;
                }
                kind @ (FileType::CharacterDevice | FileType::BlockDevice | FileType::Fifo) => {
                    header.set_entry_type(match kind {
                        FileType::CharacterDevice => EntryType::Char,
                        FileType::BlockDevice => EntryType::Block,
                        _ => EntryType::Fifo,
                    });
                    if kind != FileType::Fifo {
                        let (major, minor) = (rfs::major(st.st_rdev), rfs::minor(st.st_rdev));
                        header
                            .set_device_major(major)
                            .and_then(|_| header.set_device_minor(minor))
                            .map_err(|e| ArchiveError::io(format!("write {path}"), e))?;
                    }
                    self.append(&mut header, &path, std::io::empty())?;
                }
                // Sockets and the like have no place in an archive (Docker skips them too).
                _ => {}
            }
        }
        Ok(())
    }

    fn append(
        &mut self,
        header: &mut Header,
        path: &str,
        data: impl std::io::Read,
    ) -> Result<(), ArchiveError> {
        self.builder
            .append_data(header, path, data)
            .map_err(|e| ArchiveError::io(format!("write {path}"), e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packs_a_tree_as_docker_exports_one() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("root");
        std::fs::create_dir_all(root.join("etc/deep")).unwrap();
        std::fs::write(root.join("etc/hosts"), b"127.0.0.1 localhost\n").unwrap();
        std::fs::write(root.join("etc/deep/file"), b"x").unwrap();
        std::fs::hard_link(root.join("etc/hosts"), root.join("hosts-again")).unwrap();
        // A link out of the tree is written as a link, never followed.
        std::os::unix::fs::symlink("/etc/passwd", root.join("escape")).unwrap();
        std::os::unix::fs::symlink("/", root.join("hostroot")).unwrap();
        let long = "n".repeat(150);
        std::fs::write(root.join(&long), b"long").unwrap();
        let mut out = Vec::new();
        pack(&root, &mut out).unwrap();
        let mut archive = tar::Archive::new(&out[..]);
        let mut seen = Vec::new();
        for e in archive.entries().unwrap() {
            let mut e = e.unwrap();
            let path = e.path().unwrap().display().to_string();
            let kind = e.header().entry_type();
            let link = e.link_name().unwrap().map(|l| l.display().to_string());
            let mut body = String::new();
            std::io::Read::read_to_string(&mut e, &mut body).unwrap();
            seen.push((path, kind, link, body));
        }
        let names: Vec<&str> = seen.iter().map(|s| s.0.as_str()).collect();
        assert_eq!(
            names,
            [
                "escape",
                "etc/",
                "etc/deep/",
                "etc/deep/file",
                "etc/hosts",
                "hostroot",
                "hosts-again",
                long.as_str()
            ]
        );
        let by = |n: &str| seen.iter().find(|s| s.0 == n).unwrap();
        assert_eq!(by("escape").1, EntryType::Symlink);
        assert_eq!(by("escape").2.as_deref(), Some("/etc/passwd"));
        assert_eq!(by("etc/").1, EntryType::Directory);
        assert_eq!(by("etc/hosts").3, "127.0.0.1 localhost\n");
        assert_eq!(by("hosts-again").1, EntryType::Link);
        assert_eq!(by("hosts-again").2.as_deref(), Some("etc/hosts"));
        assert_eq!(by(&long).3, "long");
        // What it wrote unpacks to the same tree.
        let back = tmp.path().join("back");
        std::fs::create_dir(&back).unwrap();
        crate::unpack(&out[..], &back, &crate::UnpackOptions::default()).unwrap();
        assert_eq!(std::fs::read(back.join("etc/deep/file")).unwrap(), b"x");
        assert_eq!(
            std::fs::read_link(back.join("escape")).unwrap(),
            Path::new("/etc/passwd")
        );
    }
}
