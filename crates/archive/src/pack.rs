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
    pack_tree(root, out, false)
}

fn open_dir(path: &Path) -> Result<OwnedFd, ArchiveError> {
    rfs::open(
        path,
        OFlags::DIRECTORY | OFlags::RDONLY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| ArchiveError::io(format!("open {}", path.display()), e.into()))
}

fn pack_tree(root: &Path, out: impl Write, layer: bool) -> Result<(), ArchiveError> {
    let dir = open_dir(root)?;
    let mut packer = Packer::new(out);
    packer.layer = layer;
    packer.dir(&dir, "")?;
    packer.finish()
}

/// Writes the entry `name` of the directory `parent` (`.` for the directory itself) as
/// `shown`, with all below it for a directory: `docker cp`'s archive of one path, rebased on
/// its base name.
pub fn pack_entry(
    parent: &Path,
    name: &str,
    shown: &str,
    out: impl Write,
) -> Result<(), ArchiveError> {
    let dir = open_dir(parent)?;
    let mut packer = Packer::new(out);
    packer.entry(&dir, name, shown)?;
    packer.finish()
}

struct Packer<W: Write> {
    builder: tar::Builder<W>,
    /// The first name of each file with several, by (device, inode).
    links: HashMap<(u64, u64), String>,
    /// Writing an overlay upper directory as a layer: its whiteouts and opaque directories
    /// become the tar form (`.wh.NAME`, `.wh..wh..opq`).
    layer: bool,
    /// One buffer for every file's content: large reads (a 100 MB copy in 8 KiB reads costs
    /// more than its data), allocated once (a fresh one per file costs page faults).
    buf: Vec<u8>,
}

/// A file read through a borrowed buffer in large reads, however small the reads asked of it.
struct ChunkReader<'b> {
    file: std::fs::File,
    buf: &'b mut [u8],
    pos: usize,
    len: usize,
}

impl std::io::Read for ChunkReader<'_> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        if self.pos == self.len {
            self.len = self.file.read(self.buf)?;
            self.pos = 0;
        }
        let n = out.len().min(self.len - self.pos);
        out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

fn ctx(what: &str, path: &str) -> impl Fn(Errno) -> ArchiveError {
    let what = format!("{what} {path}");
    move |e| ArchiveError::io(what.clone(), e.into())
}

impl<W: Write> Packer<W> {
    fn new(out: W) -> Self {
        Packer {
            builder: tar::Builder::new(out),
            links: HashMap::new(),
            layer: false,
            buf: vec![0; 256 * 1024],
        }
    }

    fn finish(self) -> Result<(), ArchiveError> {
        self.builder
            .into_inner()
            .and_then(|mut w| w.flush())
            .map_err(|e| ArchiveError::io("finish the archive", e))
    }

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
            self.entry(dir, &name, &format!("{prefix}{name}"))?;
        }
        Ok(())
    }

    /// Writes the entry `name` of `dir` as `path`, and all below it for a directory.
    fn entry(&mut self, dir: &OwnedFd, name: &str, path: &str) -> Result<(), ArchiveError> {
        // Gone since the listing: a running container's tree changes under the walk.
        let st = match rfs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) => st,
            Err(Errno::NOENT) => return Ok(()),
            Err(e) => return Err(ctx("stat", path)(e)),
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
                    name,
                    OFlags::DIRECTORY | OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                    Mode::empty(),
                ) {
                    Ok(fd) => fd,
                    Err(Errno::NOENT) | Err(Errno::LOOP) | Err(Errno::NOTDIR) => return Ok(()),
                    Err(e) => return Err(ctx("open", path)(e)),
                };
                header.set_entry_type(EntryType::Directory);
                let shown = format!("{path}/");
                self.append(&mut header, &shown, std::io::empty())?;
                if self.layer && is_opaque(&sub) {
                    // Docker's: a regular file with the directory's permissions and owner.
                    header.set_entry_type(EntryType::Regular);
                    self.append(
                        &mut header,
                        &format!("{shown}.wh..wh..opq"),
                        std::io::empty(),
                    )?;
                }
                self.dir(&sub, &shown)?;
            }
            FileType::Symlink => {
                let target = match rfs::readlinkat(dir, name, Vec::new()) {
                    Ok(t) => t,
                    Err(Errno::NOENT) | Err(Errno::INVAL) => return Ok(()),
                    Err(e) => return Err(ctx("read link", path)(e)),
                };
                header.set_entry_type(EntryType::Symlink);
                let target = String::from_utf8_lossy(target.to_bytes()).into_owned();
                self.append_named(&mut header, path, Some(&target), std::io::empty())?;
            }
            FileType::RegularFile => {
                if st.st_nlink > 1 {
                    let key = (st.st_dev, st.st_ino);
                    if let Some(first) = self.links.get(&key) {
                        header.set_entry_type(EntryType::Link);
                        let first = first.clone();
                        return self.append_named(
                            &mut header,
                            path,
                            Some(&first),
                            std::io::empty(),
                        );
                    }
                    self.links.insert(key, path.to_string());
                }
                let file = match rfs::openat(
                    dir,
                    name,
                    OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::NOCTTY,
                    Mode::empty(),
                ) {
                    Ok(fd) => fd,
                    Err(Errno::NOENT) | Err(Errno::LOOP) => return Ok(()),
                    Err(e) => return Err(ctx("open", path)(e)),
                };
                // The size of what was opened (it may differ from the name's by now).
                let opened = rfs::fstat(&file).map_err(ctx("stat", path))?;
                if FileType::from_raw_mode(opened.st_mode) != FileType::RegularFile {
                    return Ok(());
                }
                header.set_entry_type(EntryType::Regular);
                header.set_size(opened.st_size as u64);
                // A file that shrinks while read is padded, one that grows cut, so the
                // entry keeps the size its header gives.
                let mut buf = std::mem::take(&mut self.buf);
                let file = ChunkReader {
                    file: std::fs::File::from(file),
                    buf: &mut buf,
                    pos: 0,
                    len: 0,
                };
                let data = std::io::Read::chain(
                    std::io::Read::take(file, opened.st_size as u64),
                    std::io::repeat(0),
                );
                let data = std::io::Read::take(data, opened.st_size as u64);
                let appended = self.append(&mut header, path, data);
                self.buf = buf;
                appended?;
            }
            FileType::CharacterDevice if self.layer && st.st_rdev == 0 => {
                // An overlay whiteout: Docker writes it as an empty `.wh.` file, mode 0600.
                let (parent, base) = match path.rsplit_once('/') {
                    Some((p, b)) => (format!("{p}/"), b),
                    None => (String::new(), path),
                };
                header.set_entry_type(EntryType::Regular);
                header.set_mode(0o600);
                self.append(
                    &mut header,
                    &format!("{parent}.wh.{base}"),
                    std::io::empty(),
                )?;
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
                self.append(&mut header, path, std::io::empty())?;
            }
            // Sockets and the like have no place in an archive (Docker skips them too).
            _ => {}
        }
        Ok(())
    }

    fn append(
        &mut self,
        header: &mut Header,
        path: &str,
        data: impl std::io::Read,
    ) -> Result<(), ArchiveError> {
        self.append_named(header, path, None, data)
    }

    /// Writes the entry under exactly `path` (and `link`): the tar crate's own path setters
    /// drop `./` components, which `docker cp` needs to rebase a directory's contents (`/.`).
    /// Names of 100 bytes or more go in GNU long-name entries, as GNU tar and Go write them.
    fn append_named(
        &mut self,
        header: &mut Header,
        path: &str,
        link: Option<&str>,
        data: impl std::io::Read,
    ) -> Result<(), ArchiveError> {
        let failed = |e| ArchiveError::io(format!("write {path}"), e);
        if path.len() >= 100 {
            self.long_name(EntryType::GNULongName, path)
                .map_err(failed)?;
        }
        set_field(&mut header.as_old_mut().name, path);
        if let Some(link) = link {
            if link.len() >= 100 {
                self.long_name(EntryType::GNULongLink, link)
                    .map_err(failed)?;
            }
            set_field(&mut header.as_old_mut().linkname, link);
        }
        header.set_cksum();
        self.builder.append(header, data).map_err(failed)
    }

    fn long_name(&mut self, kind: EntryType, name: &str) -> std::io::Result<()> {
        let mut h = Header::new_gnu();
        set_field(&mut h.as_old_mut().name, "././@LongLink");
        h.set_mode(0o644);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(0);
        h.set_entry_type(kind);
        h.set_size(name.len() as u64 + 1);
        h.set_cksum();
        self.builder
            .append(&h, std::io::Read::chain(name.as_bytes(), &[0u8][..]))
    }
}

/// Writes an overlay upper directory as a layer diff: as [`pack`], with overlay whiteouts
/// (0:0 character devices) as `.wh.NAME` files and opaque directories marked with a
/// `.wh..wh..opq` file, as Docker's overlay2 driver writes a layer.
pub fn pack_layer(upper: &Path, out: impl Write) -> Result<(), ArchiveError> {
    pack_tree(upper, out, true)
}

/// overlayfs marks a directory made over a deleted one (hiding what was below) with
/// `trusted.overlay.opaque=y`.
fn is_opaque(dir: &OwnedFd) -> bool {
    let mut value = [0u8; 4];
    rfs::fgetxattr(dir, "trusted.overlay.opaque", &mut value).is_ok_and(|n| n == 1)
        && value[0] == b'y'
}

/// A header's name field: the bytes, cut to the field, zero-filled.
fn set_field(field: &mut [u8], value: &str) {
    let b = value.as_bytes();
    let n = b.len().min(field.len());
    field[..n].copy_from_slice(&b[..n]);
    field[n..].fill(0);
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
        // One path rebased, as `docker cp` asks: a directory's contents keep their `./`.
        let mut contents = Vec::new();
        pack_entry(&root.join("etc"), ".", ".", &mut contents).unwrap();
        let names: Vec<String> = tar::Archive::new(&contents[..])
            .entries()
            .unwrap()
            .map(|e| String::from_utf8_lossy(&e.unwrap().path_bytes()).into_owned())
            .collect();
        assert_eq!(names, ["./", "./deep/", "./deep/file", "./hosts"]);
        let mut one = Vec::new();
        pack_entry(&root.join("etc"), "hosts", "hosts", &mut one).unwrap();
        let mut archive = tar::Archive::new(&one[..]);
        let only: Vec<_> = archive
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().display().to_string())
            .collect();
        assert_eq!(only, ["hosts"]);
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

    /// Whiteouts and opaque directories need root (mknod, trusted xattrs), as berthd has.
    #[test]
    fn packs_an_upper_directory_as_a_layer() {
        if !rustix::process::geteuid().is_root() {
            eprintln!("skipped: needs root");
            return;
        }
        let tmp = tempfile::tempdir().unwrap();
        let upper = tmp.path();
        std::fs::create_dir_all(upper.join("etc")).unwrap();
        std::fs::write(upper.join("etc/new"), b"n").unwrap();
        rfs::mknodat(
            rfs::CWD,
            upper.join("etc/gone"),
            FileType::CharacterDevice,
            Mode::from_raw_mode(0),
            0,
        )
        .unwrap();
        std::fs::create_dir(upper.join("remade")).unwrap();
        rfs::setxattr(
            upper.join("remade"),
            "trusted.overlay.opaque",
            b"y",
            rfs::XattrFlags::empty(),
        )
        .unwrap();
        let mut out = Vec::new();
        pack_layer(upper, &mut out).unwrap();
        let names: Vec<String> = tar::Archive::new(&out[..])
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().display().to_string())
            .collect();
        assert_eq!(
            names,
            [
                "etc/",
                "etc/.wh.gone",
                "etc/new",
                "remade/",
                "remade/.wh..wh..opq"
            ]
        );
    }
}
