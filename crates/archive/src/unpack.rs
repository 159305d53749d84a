//! Unpacking a tar stream under a root directory that nothing can escape.
//!
//! Each entry is split into a parent path and a final name. The parent is opened with
//! `openat2(RESOLVE_IN_ROOT)`, which makes the kernel treat the target directory as `/` for
//! every `..` and every symlink met on the way, so neither a hostile name nor a symlink planted
//! by an earlier entry can lead outside. The entry is then created *in* that parent directory
//! by name, with `*at` calls that never follow a final symlink.
//!
//! One file on purpose (past 600 lines): every entry kind goes through the same
//! resolve-then-create-by-name steps, and the safety argument is easier to check when all of
//! them are in view together.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

use rustix::fs::{
    self as rfs, AtFlags, FileType, Mode, OFlags, ResolveFlags, Timespec, Timestamps, XattrFlags,
};
use rustix::io::Errno;

use crate::error::ArchiveError;

/// How [`unpack`] treats what it meets.
#[derive(Debug, Clone)]
pub struct UnpackOptions {
    /// Turn `.wh.` files into overlayfs whiteouts (layer diffs). When false, whiteout files are
    /// refused: a plain filesystem archive has no use for them.
    pub overlay_whiteouts: bool,
    /// Apply the archive's uid/gid (needs root, as the daemon is).
    pub preserve_owners: bool,
    /// Refuse to replace a directory with a non-directory or the other way round (`docker
    /// cp`'s `noOverwriteDirNonDir`), rather than removing what is there.
    pub no_overwrite_dir_non_dir: bool,
    /// Owner for every entry instead of the archive's (`docker cp -a`: the container's user).
    pub chown: Option<(u32, u32)>,
    /// An archive that ends right after its last file's content, without the padding and
    /// end blocks, is whole (Go's reader takes it so; the docker CLI sends a build context
    /// with a Dockerfile from elsewhere that way). A file cut short is still an error.
    pub lenient_end: bool,
}

impl Default for UnpackOptions {
    fn default() -> Self {
        Self {
            overlay_whiteouts: true,
            preserve_owners: true,
            no_overwrite_dir_non_dir: false,
            chown: None,
            lenient_end: false,
        }
    }
}

/// What an unpack wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UnpackStats {
    /// Entries written (directories, files, links, whiteouts).
    pub entries: u64,
    /// Bytes of regular file content written.
    pub bytes: u64,
    /// Device nodes skipped: images may not create devices on the host's filesystem.
    pub skipped_devices: u64,
}

const WHITEOUT_PREFIX: &str = ".wh.";
const OPAQUE_MARKER: &str = ".wh..wh..opq";
const OVERLAY_OPAQUE_XATTR: &str = "trusted.overlay.opaque";
/// Files larger than this are checked against the free space before writing.
const SPACE_CHECK_THRESHOLD: u64 = 1 << 20;

/// Unpacks the tar stream `reader` under `root` (which must exist) and returns what it wrote.
///
/// Returns after the archive's end marker; the caller may keep reading `reader`'s padding.
/// On error, part of the archive may have been written under `root`: callers unpack into a
/// fresh directory and remove it on failure.
pub fn unpack<R: Read>(
    reader: R,
    root: &Path,
    opts: &UnpackOptions,
) -> Result<UnpackStats, ArchiveError> {
    let root_fd = rfs::open(
        root,
        OFlags::DIRECTORY | OFlags::RDONLY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| ArchiveError::io(format!("open {}", root.display()), e.into()))?;
    let mut archive = tar::Archive::new(reader);
    let mut unpacker = Unpacker {
        root: root_fd,
        opts,
        stats: UnpackStats::default(),
        dir_times: Vec::new(),
        parents: HashMap::new(),
        copy_buffer: vec![0; COPY_BUFFER],
    };
    let entries = archive
        .entries()
        .map_err(|e| ArchiveError::io("read archive", e))?;
    for entry in entries {
        let mut entry = match entry {
            Ok(e) => e,
            // The tar crate says so when the padding after the last file is missing.
            Err(e)
                if opts.lenient_end
                    && (e.kind() == io::ErrorKind::UnexpectedEof
                        || e.to_string().contains("unexpected EOF during skip")) =>
            {
                break
            }
            Err(e) => return Err(ArchiveError::io("read archive entry", e)),
        };
        unpacker.entry(&mut entry)?;
    }
    unpacker.finish()?;
    Ok(unpacker.stats)
}

struct Unpacker<'o> {
    root: OwnedFd,
    opts: &'o UnpackOptions,
    stats: UnpackStats,
    /// Directory mtimes are set last: creating entries inside a directory changes its mtime.
    dir_times: Vec<(String, i64)>,
    /// Parent directories already resolved, by path relative to the root.
    parents: HashMap<String, OwnedFd>,
    /// One buffer for every file's content: large writes (a 100 MB copy in 8 KiB writes
    /// costs more than its data), allocated once (a fresh one per file costs page faults).
    copy_buffer: Vec<u8>,
}

/// The buffer of a file's content on its way to disk.
const COPY_BUFFER: usize = 256 * 1024;

/// `io::copy` through `buf`, whose size sets the writes'.
fn copy_with(from: &mut impl Read, to: &mut impl io::Write, buf: &mut [u8]) -> io::Result<u64> {
    let mut total = 0;
    loop {
        let n = match from.read(buf) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        to.write_all(&buf[..n])?;
        total += n as u64;
    }
}

/// Normalises an archive path to components relative to the root. Absolute paths are taken
/// relative to the root (as Docker does); `..` may not climb above the root.
fn normalize(raw: &[u8]) -> Result<Vec<String>, ArchiveError> {
    let text = std::str::from_utf8(raw).map_err(|_| {
        ArchiveError::Invalid(format!(
            "path is not UTF-8: {}",
            String::from_utf8_lossy(raw)
        ))
    })?;
    if text.contains('\0') {
        return Err(ArchiveError::Invalid(format!(
            "path contains NUL: {text:?}"
        )));
    }
    let mut parts: Vec<String> = Vec::new();
    for comp in text.split('/') {
        match comp {
            "" | "." => {}
            ".." => {
                if parts.pop().is_none() {
                    return Err(ArchiveError::Invalid(format!(
                        "path escapes the archive root: {text:?}"
                    )));
                }
            }
            c => parts.push(c.to_string()),
        }
    }
    Ok(parts)
}

fn errno_ctx(what: &str, path: &str) -> impl Fn(Errno) -> ArchiveError {
    let what = what.to_string();
    let path = path.to_string();
    move |e| ArchiveError::io(format!("{what} {path}"), e.into())
}

impl Unpacker<'_> {
    /// Opens (creating as needed) the directory `parts` under the root.
    fn parent_dir(&mut self, parts: &[String]) -> Result<&OwnedFd, ArchiveError> {
        let key = parts.join("/");
        if !self.parents.contains_key(&key) {
            let fd = self.open_dir_creating(parts)?;
            if self.parents.len() > 256 {
                self.parents.clear();
            }
            self.parents.insert(key.clone(), fd);
        }
        Ok(&self.parents[&key])
    }

    fn open_dir_in_root(&self, rel: &str) -> Result<OwnedFd, Errno> {
        let path = if rel.is_empty() { "." } else { rel };
        rfs::openat2(
            &self.root,
            path,
            OFlags::DIRECTORY | OFlags::RDONLY | OFlags::CLOEXEC,
            Mode::empty(),
            ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS,
        )
    }

    fn open_dir_creating(&self, parts: &[String]) -> Result<OwnedFd, ArchiveError> {
        let rel = parts.join("/");
        match self.open_dir_in_root(&rel) {
            Ok(fd) => return Ok(fd),
            Err(Errno::NOENT) => {}
            Err(e) => return Err(errno_ctx("open directory", &rel)(e)),
        }
        // Walk down, creating what is missing. Symlinks met on the way are followed by hand,
        // inside the root (an absolute target restarts at the root, `..` stops at it), as a
        // chrooted extraction would; every directory opened is a real directory.
        let mut pending: std::collections::VecDeque<String> = parts.iter().cloned().collect();
        let mut resolved: Vec<String> = Vec::new();
        let mut dir = self
            .open_dir_in_root("")
            .map_err(errno_ctx("open", "root"))?;
        let mut links = 0;
        while let Some(comp) = pending.pop_front() {
            match comp.as_str() {
                "" | "." => continue,
                ".." => {
                    resolved.pop();
                    dir = self
                        .open_dir_in_root(&resolved.join("/"))
                        .map_err(errno_ctx("open directory", &rel))?;
                    continue;
                }
                _ => {}
            }
            match rfs::statat(&dir, comp.as_str(), AtFlags::SYMLINK_NOFOLLOW) {
                Err(Errno::NOENT) => {
                    rfs::mkdirat(&dir, comp.as_str(), Mode::from_raw_mode(0o755))
                        .map_err(errno_ctx("create directory", &rel))?;
                }
                Err(e) => return Err(errno_ctx("stat", &rel)(e)),
                Ok(st) => match FileType::from_raw_mode(st.st_mode) {
                    FileType::Directory => {}
                    FileType::Symlink => {
                        links += 1;
                        if links > 40 {
                            return Err(ArchiveError::Invalid(format!(
                                "{rel}: too many levels of symbolic links"
                            )));
                        }
                        let target = rfs::readlinkat(&dir, comp.as_str(), Vec::new())
                            .map_err(errno_ctx("readlink", &rel))?;
                        let target = target.to_string_lossy().into_owned();
                        if target.starts_with('/') {
                            resolved.clear();
                            dir = self
                                .open_dir_in_root("")
                                .map_err(errno_ctx("open", "root"))?;
                        }
                        for c in target.split('/').rev() {
                            pending.push_front(c.to_string());
                        }
                        continue;
                    }
                    _ => {
                        return Err(ArchiveError::Invalid(format!(
                            "{rel}: a parent is not a directory"
                        )))
                    }
                },
            }
            dir = rfs::openat(
                &dir,
                comp.as_str(),
                OFlags::DIRECTORY | OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::empty(),
            )
            .map_err(errno_ctx("open directory", &rel))?;
            resolved.push(comp);
        }
        Ok(dir)
    }

    /// With `no_overwrite_dir_non_dir`, refuses an entry that would replace a directory with
    /// something else, or something else with a directory (Docker's words).
    fn check_overwrite(
        &self,
        dir: &OwnedFd,
        name: &str,
        new_is_dir: bool,
        shown: &str,
    ) -> Result<(), ArchiveError> {
        if !self.opts.no_overwrite_dir_non_dir {
            return Ok(());
        }
        let Ok(st) = rfs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) else {
            return Ok(());
        };
        let is_dir = FileType::from_raw_mode(st.st_mode) == FileType::Directory;
        match (is_dir, new_is_dir) {
            (true, false) => Err(ArchiveError::Invalid(format!(
                "cannot overwrite directory \"{shown}\" with non-directory \"{shown}\""
            ))),
            (false, true) => Err(ArchiveError::Invalid(format!(
                "cannot overwrite non-directory \"{shown}\" with directory \"{shown}\""
            ))),
            _ => Ok(()),
        }
    }

    /// Removes whatever is at `name` in `dir` unless it is a directory and `keep_dir` is set.
    fn clear(dir: &OwnedFd, name: &str, keep_dir: bool) -> Result<bool, ArchiveError> {
        match rfs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
            Err(Errno::NOENT) => Ok(false),
            Err(e) => Err(errno_ctx("stat", name)(e)),
            Ok(st) => {
                let is_dir = FileType::from_raw_mode(st.st_mode) == FileType::Directory;
                if is_dir && keep_dir {
                    return Ok(true);
                }
                if is_dir {
                    remove_tree_at(dir, name)?;
                } else {
                    rfs::unlinkat(dir, name, AtFlags::empty())
                        .map_err(errno_ctx("remove", name))?;
                }
                Ok(false)
            }
        }
    }

    fn entry<R: Read>(&mut self, entry: &mut tar::Entry<'_, R>) -> Result<(), ArchiveError> {
        let raw_path = entry.path_bytes().into_owned();
        let parts = normalize(&raw_path)?;
        let header = entry.header().clone();
        let kind = header.entry_type();
        let shown = parts.join("/");
        let Some((name, parent)) = parts.split_last() else {
            // The root itself ("./"): apply its metadata only.
            if kind.is_dir() {
                self.apply_dir_meta(&[], &header)?;
            }
            return Ok(());
        };
        let name = name.clone();
        let parent = parent.to_vec();

        if let Some(hidden) = name.strip_prefix(WHITEOUT_PREFIX) {
            return self.whiteout(&parent, hidden, &shown);
        }

        let mode = header
            .mode()
            .map_err(|e| ArchiveError::io(format!("mode of {shown}"), e))?
            & 0o7777;
        let (uid, gid) = self.opts.chown.unwrap_or((
            header.uid().unwrap_or(0) as u32,
            header.gid().unwrap_or(0) as u32,
        ));
        let mtime = header.mtime().unwrap_or(0) as i64;
        let xattrs = pax_xattrs(entry);

        // Parents are invalidated when anything is removed: a cached fd may point at a
        // directory that an entry just replaced.
        let dir_fd = {
            let fd = self.parent_dir(&parent)?;
            fd.try_clone().map_err(|e| ArchiveError::io("dup", e))?
        };

        match kind {
            tar::EntryType::Directory => {
                self.check_overwrite(&dir_fd, &name, true, &shown)?;
                let existed = Self::clear(&dir_fd, &name, true)?;
                if !existed {
                    rfs::mkdirat(&dir_fd, name.as_str(), Mode::from_raw_mode(0o700))
                        .map_err(errno_ctx("create directory", &shown))?;
                } else {
                    self.parents.clear();
                }
                let mut full = parent.clone();
                full.push(name.clone());
                self.apply_dir_meta(&full, &header)?;
                let fd = self
                    .open_dir_in_root(&shown)
                    .map_err(errno_ctx("open directory", &shown))?;
                for (k, v) in &xattrs {
                    set_xattr(&fd, k, v, &shown)?;
                }
            }
            tar::EntryType::Regular | tar::EntryType::Continuous | tar::EntryType::GNUSparse => {
                self.check_overwrite(&dir_fd, &name, false, &shown)?;
                if Self::clear(&dir_fd, &name, false)? {
                    unreachable!("clear(keep_dir=false) never keeps");
                }
                let size = header
                    .size()
                    .map_err(|e| ArchiveError::io(format!("size of {shown}"), e))?;
                if size >= SPACE_CHECK_THRESHOLD {
                    let vfs = rfs::fstatvfs(&dir_fd).map_err(errno_ctx("statvfs", &shown))?;
                    let available = vfs.f_bavail.saturating_mul(vfs.f_frsize);
                    if size > available {
                        return Err(ArchiveError::TooLarge {
                            path: shown,
                            size,
                            available,
                        });
                    }
                }
                let fd = rfs::openat(
                    &dir_fd,
                    name.as_str(),
                    OFlags::CREATE
                        | OFlags::EXCL
                        | OFlags::WRONLY
                        | OFlags::NOFOLLOW
                        | OFlags::CLOEXEC,
                    Mode::from_raw_mode(0o600),
                )
                .map_err(errno_ctx("create", &shown))?;
                let mut file = File::from(fd);
                let written = copy_with(entry, &mut file, &mut self.copy_buffer)
                    .map_err(|e| ArchiveError::io(format!("write {shown}"), e))?;
                if written != size {
                    return Err(ArchiveError::Invalid(format!(
                        "{shown}: archive ends inside the file"
                    )));
                }
                self.stats.bytes += written;
                for (k, v) in &xattrs {
                    set_xattr(&file, k, v, &shown)?;
                }
                if self.opts.preserve_owners {
                    rfs::fchown(
                        &file,
                        Some(rfs::Uid::from_raw(uid)),
                        Some(rfs::Gid::from_raw(gid)),
                    )
                    .map_err(errno_ctx("chown", &shown))?;
                }
                // After chown: chown clears setuid/setgid bits.
                rfs::fchmod(&file, Mode::from_raw_mode(mode))
                    .map_err(errno_ctx("chmod", &shown))?;
                rfs::futimens(&file, &times(mtime)).map_err(errno_ctx("set times of", &shown))?;
            }
            tar::EntryType::Symlink => {
                let target = entry
                    .link_name_bytes()
                    .ok_or_else(|| {
                        ArchiveError::Invalid(format!("{shown}: symlink without target"))
                    })?
                    .into_owned();
                if target.is_empty() || target.contains(&0) {
                    return Err(ArchiveError::Invalid(format!(
                        "{shown}: bad symlink target"
                    )));
                }
                self.check_overwrite(&dir_fd, &name, false, &shown)?;
                Self::clear(&dir_fd, &name, false)?;
                self.parents.clear();
                // The target is stored as is: it is only ever resolved inside a container's
                // root or with RESOLVE_IN_ROOT, never by the daemon on the host.
                rfs::symlinkat(target.as_slice(), &dir_fd, name.as_str())
                    .map_err(errno_ctx("symlink", &shown))?;
                self.chown_at(&dir_fd, &name, uid, gid, &shown)?;
                rfs::utimensat(
                    &dir_fd,
                    name.as_str(),
                    &times(mtime),
                    AtFlags::SYMLINK_NOFOLLOW,
                )
                .map_err(errno_ctx("set times of", &shown))?;
            }
            tar::EntryType::Link => {
                let target_raw = entry
                    .link_name_bytes()
                    .ok_or_else(|| {
                        ArchiveError::Invalid(format!("{shown}: hardlink without target"))
                    })?
                    .into_owned();
                let target = normalize(&target_raw)?.join("/");
                if target.is_empty() {
                    return Err(ArchiveError::Invalid(format!(
                        "{shown}: hardlink to the root"
                    )));
                }
                // Open the target inside the root without following a final symlink.
                let src = rfs::openat2(
                    &self.root,
                    target.as_str(),
                    OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                    Mode::empty(),
                    ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS,
                )
                .map_err(|e| {
                    ArchiveError::Invalid(format!(
                        "{shown}: hardlink target {target} is not in the archive ({e})"
                    ))
                })?;
                let st = rfs::fstat(&src).map_err(errno_ctx("stat", &target))?;
                if FileType::from_raw_mode(st.st_mode) == FileType::Directory {
                    return Err(ArchiveError::Invalid(format!(
                        "{shown}: hardlink to a directory"
                    )));
                }
                self.check_overwrite(&dir_fd, &name, false, &shown)?;
                Self::clear(&dir_fd, &name, false)?;
                self.parents.clear();
                rfs::linkat(&src, "", &dir_fd, name.as_str(), AtFlags::EMPTY_PATH)
                    .map_err(errno_ctx("hardlink", &shown))?;
            }
            tar::EntryType::Fifo => {
                self.check_overwrite(&dir_fd, &name, false, &shown)?;
                Self::clear(&dir_fd, &name, false)?;
                rfs::mknodat(
                    &dir_fd,
                    name.as_str(),
                    FileType::Fifo,
                    Mode::from_raw_mode(mode),
                    0,
                )
                .map_err(errno_ctx("mkfifo", &shown))?;
                self.chown_at(&dir_fd, &name, uid, gid, &shown)?;
            }
            tar::EntryType::Char | tar::EntryType::Block => {
                tracing::warn!(path = %shown, "skipping device node in archive");
                self.stats.skipped_devices += 1;
                return Ok(());
            }
            // Metadata-only entries (pax headers, GNU long names) are consumed by the tar
            // crate; anything else carries nothing we can place on a filesystem.
            other => {
                tracing::debug!(path = %shown, kind = ?other, "skipping archive entry");
                return Ok(());
            }
        }
        self.stats.entries += 1;
        Ok(())
    }

    fn chown_at(
        &self,
        dir: &OwnedFd,
        name: &str,
        uid: u32,
        gid: u32,
        shown: &str,
    ) -> Result<(), ArchiveError> {
        if self.opts.preserve_owners {
            rfs::chownat(
                dir,
                name,
                Some(rfs::Uid::from_raw(uid)),
                Some(rfs::Gid::from_raw(gid)),
                AtFlags::SYMLINK_NOFOLLOW,
            )
            .map_err(errno_ctx("chown", shown))?;
        }
        Ok(())
    }

    fn apply_dir_meta(
        &mut self,
        full: &[String],
        header: &tar::Header,
    ) -> Result<(), ArchiveError> {
        let rel = full.join("/");
        let fd = self
            .open_dir_in_root(&rel)
            .map_err(errno_ctx("open directory", &rel))?;
        let mode = header.mode().unwrap_or(0o755) & 0o7777;
        if self.opts.preserve_owners {
            let (uid, gid) = self.opts.chown.unwrap_or((
                header.uid().unwrap_or(0) as u32,
                header.gid().unwrap_or(0) as u32,
            ));
            rfs::fchown(
                &fd,
                Some(rfs::Uid::from_raw(uid)),
                Some(rfs::Gid::from_raw(gid)),
            )
            .map_err(errno_ctx("chown", &rel))?;
        }
        rfs::fchmod(&fd, Mode::from_raw_mode(mode)).map_err(errno_ctx("chmod", &rel))?;
        self.dir_times
            .push((rel, header.mtime().unwrap_or(0) as i64));
        Ok(())
    }

    fn whiteout(
        &mut self,
        parent: &[String],
        hidden: &str,
        shown: &str,
    ) -> Result<(), ArchiveError> {
        if !self.opts.overlay_whiteouts {
            return Err(ArchiveError::Invalid(format!(
                "{shown}: whiteout file outside an image layer"
            )));
        }
        let dir_fd = self
            .parent_dir(parent)?
            .try_clone()
            .map_err(|e| ArchiveError::io("dup", e))?;
        if format!("{WHITEOUT_PREFIX}{hidden}") == OPAQUE_MARKER {
            set_xattr(&dir_fd, OVERLAY_OPAQUE_XATTR, b"y", shown)?;
        } else if hidden.starts_with(WHITEOUT_PREFIX) {
            // Other aufs metadata (.wh..wh.plnk, .wh..wh.aufs): nothing to apply.
            return Ok(());
        } else {
            if hidden.is_empty() || hidden == "." || hidden == ".." {
                return Err(ArchiveError::Invalid(format!("{shown}: bad whiteout name")));
            }
            Self::clear(&dir_fd, hidden, false)?;
            self.parents.clear();
            rfs::mknodat(
                &dir_fd,
                hidden,
                FileType::CharacterDevice,
                Mode::empty(),
                rfs::makedev(0, 0),
            )
            .map_err(errno_ctx("create whiteout", shown))?;
        }
        self.stats.entries += 1;
        Ok(())
    }

    fn finish(&mut self) -> Result<(), ArchiveError> {
        self.parents.clear();
        for (rel, mtime) in std::mem::take(&mut self.dir_times).into_iter().rev() {
            // The directory may have been replaced later in the archive; that is fine.
            if let Ok(fd) = self.open_dir_in_root(&rel) {
                rfs::futimens(&fd, &times(mtime)).map_err(errno_ctx("set times of", &rel))?;
            }
        }
        Ok(())
    }
}

fn times(mtime: i64) -> Timestamps {
    let t = Timespec {
        tv_sec: mtime,
        tv_nsec: 0,
    };
    Timestamps {
        last_access: t,
        last_modification: t,
    }
}

fn pax_xattrs<R: Read>(entry: &mut tar::Entry<'_, R>) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    if let Ok(Some(exts)) = entry.pax_extensions() {
        for ext in exts.flatten() {
            if let Ok(key) = ext.key() {
                if let Some(name) = key.strip_prefix("SCHILY.xattr.") {
                    // Only namespaces an image may carry; trusted.* would let an image
                    // forge overlay metadata.
                    if name.starts_with("user.") || name.starts_with("security.capability") {
                        out.push((name.to_string(), ext.value_bytes().to_vec()));
                    }
                }
            }
        }
    }
    out
}

fn set_xattr<Fd: AsFd>(fd: Fd, name: &str, value: &[u8], shown: &str) -> Result<(), ArchiveError> {
    rfs::fsetxattr(fd, name, value, XattrFlags::empty()).map_err(errno_ctx("set xattr on", shown))
}

/// Removes the tree `name` in `dir` without following symlinks.
fn remove_tree_at(dir: &OwnedFd, name: &str) -> Result<(), ArchiveError> {
    let sub = rfs::openat(
        dir,
        name,
        OFlags::DIRECTORY | OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(errno_ctx("open", name))?;
    let mut children = Vec::new();
    let iter = rfs::Dir::read_from(&sub).map_err(errno_ctx("read directory", name))?;
    for ent in iter {
        let ent = ent.map_err(errno_ctx("read directory", name))?;
        let child = ent.file_name().to_string_lossy().into_owned();
        if child != "." && child != ".." {
            children.push((child, ent.file_type() == FileType::Directory));
        }
    }
    for (child, is_dir) in children {
        if is_dir {
            remove_tree_at(&sub, &child)?;
        } else {
            rfs::unlinkat(&sub, child.as_str(), AtFlags::empty())
                .map_err(errno_ctx("remove", &child))?;
        }
    }
    rfs::unlinkat(dir, name, AtFlags::REMOVEDIR).map_err(errno_ctx("remove directory", name))?;
    Ok(())
}

#[cfg(test)]
mod tests;
