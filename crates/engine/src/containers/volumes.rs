//! Volumes: `Binds` (host paths), anonymous volumes (`Config.Volumes` and single-path
//! `Binds`, kept under `<data-root>/volumes/<id>/_data` and filled from the image's content
//! at that path on first start), and `VolumesFrom`.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use rustix::fs::{Mode, OFlags, ResolveFlags};
use serde::{Deserialize, Serialize};

use super::record::ContainerRecord;
use super::settings::{parse_bind, Bind};
use super::spec::{tmpfs_data, MountKind, Propagation};
use super::ContainerService;
use crate::error::EngineError;

/// A volume on disk, with what it holds and how many containers mount it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumeUsage {
    pub name: String,
    /// Its `_data` directory, what containers mount.
    pub mountpoint: PathBuf,
    /// RFC 3339.
    pub created: String,
    pub size: i64,
    pub ref_count: i64,
}

/// One mount of a container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MountPoint {
    pub destination: String,
    pub source: String,
    pub rw: bool,
    /// Set for an anonymous volume berth created (and removes with `rm -v`).
    #[serde(default)]
    pub volume: Option<String>,
    /// A bind's propagation when given (`rprivate` otherwise).
    #[serde(default)]
    pub propagation: Option<Propagation>,
    /// A bind without the mounts below its source.
    #[serde(default)]
    pub non_recursive: bool,
    /// A tmpfs (`Mounts` of type tmpfs), with its options; `source` is empty.
    #[serde(default)]
    pub tmpfs: Option<String>,
    /// A new volume is not filled from the image.
    #[serde(default)]
    pub no_copy: bool,
}

impl MountPoint {
    fn bind(destination: String, source: String, rw: bool) -> Self {
        MountPoint {
            destination,
            source,
            rw,
            volume: None,
            propagation: None,
            non_recursive: false,
            tmpfs: None,
            no_copy: false,
        }
    }
}

impl ContainerService {
    fn volumes_root(&self) -> PathBuf {
        self.paths.data_root.join("volumes")
    }

    fn new_volume(&self) -> Result<(String, PathBuf), EngineError> {
        let id = crate::random_id();
        let data = self.volumes_root().join(&id).join("_data");
        std::fs::create_dir_all(&data).map_err(|e| EngineError::failed("create volume", e))?;
        self.publish_volume("create", &id, &[]);
        Ok((id, data))
    }

    /// The mounts of a new container, from its `Binds`, `Config.Volumes` and `VolumesFrom`.
    pub(crate) fn plan_mounts(
        &self,
        rec: &ContainerRecord,
    ) -> Result<Vec<MountPoint>, EngineError> {
        let mut mounts: Vec<MountPoint> = Vec::new();
        let taken = |m: &Vec<MountPoint>, d: &str| m.iter().any(|x| x.destination == d);
        let duplicate =
            |dst: &str| EngineError::InvalidParameter(format!("Duplicate mount point: {dst}"));
        for b in rec.spec.host.binds.clone().unwrap_or_default() {
            let Bind {
                source,
                volume,
                destination,
                readonly,
                propagation,
                no_copy,
            } = parse_bind(&b)?;
            if taken(&mounts, &destination) {
                return Err(duplicate(&destination));
            }
            let mut m = match (source, volume) {
                (Some(s), _) => MountPoint::bind(destination, s, !readonly),
                (None, Some(name)) => {
                    let data = self.volume_for_mount(&name)?;
                    MountPoint {
                        volume: Some(name),
                        ..MountPoint::bind(destination, data.display().to_string(), !readonly)
                    }
                }
                (None, None) => {
                    let (id, data) = self.new_volume()?;
                    MountPoint {
                        volume: Some(id),
                        ..MountPoint::bind(destination, data.display().to_string(), !readonly)
                    }
                }
            };
            m.propagation = propagation;
            m.no_copy = no_copy;
            mounts.push(m);
        }
        for spec in rec.spec.host.mounts.clone().unwrap_or_default() {
            if taken(&mounts, &spec.target) {
                return Err(duplicate(&spec.target));
            }
            let rw = !spec.read_only;
            mounts.push(match spec.kind {
                MountKind::Bind {
                    source,
                    propagation,
                    non_recursive,
                    ..
                } => MountPoint {
                    propagation,
                    non_recursive,
                    ..MountPoint::bind(spec.target, source, rw)
                },
                MountKind::Volume { name, no_copy, .. } if !name.is_empty() => {
                    let data = self.volume_for_mount(&name)?;
                    MountPoint {
                        volume: Some(name),
                        no_copy,
                        ..MountPoint::bind(spec.target, data.display().to_string(), rw)
                    }
                }
                MountKind::Volume { no_copy, .. } => {
                    let (id, data) = self.new_volume()?;
                    MountPoint {
                        volume: Some(id),
                        no_copy,
                        ..MountPoint::bind(spec.target, data.display().to_string(), rw)
                    }
                }
                MountKind::Tmpfs { size_bytes, mode } => MountPoint {
                    tmpfs: Some(tmpfs_data(size_bytes, mode, spec.read_only)),
                    ..MountPoint::bind(spec.target, String::new(), rw)
                },
            });
        }
        for from in rec.spec.host.volumes_from.clone().unwrap_or_default() {
            let (name, mode) = match from.rsplit_once(':') {
                Some((n, m)) if m == "ro" || m == "rw" => (n, Some(m == "rw")),
                _ => (from.as_str(), None),
            };
            let other = self.entry(name)?.snapshot();
            for m in other.mounts {
                if !taken(&mounts, &m.destination) {
                    mounts.push(MountPoint {
                        rw: mode.unwrap_or(m.rw),
                        ..m
                    });
                }
            }
        }
        for dst in rec.spec.config.volumes.iter().flatten() {
            if !dst.starts_with('/') {
                return Err(EngineError::InvalidParameter(format!(
                    "invalid volume path {dst}: it must be absolute"
                )));
            }
            if !taken(&mounts, dst) {
                let (id, data) = self.new_volume()?;
                mounts.push(MountPoint {
                    volume: Some(id),
                    ..MountPoint::bind(dst.clone(), data.display().to_string(), true)
                });
            }
        }
        Ok(mounts)
    }

    /// Before a start: creates missing bind sources, and fills each new anonymous volume with
    /// what the image has at its path (resolved inside `rootfs`, never following a symlink
    /// out of it).
    pub(crate) fn prepare_mounts(
        &self,
        rec: &ContainerRecord,
        rootfs: &Path,
    ) -> Result<(), EngineError> {
        for m in &rec.mounts {
            if m.tmpfs.is_some() {
                continue;
            }
            match &m.volume {
                None => {
                    if !Path::new(&m.source).exists() {
                        std::fs::create_dir_all(&m.source).map_err(|e| {
                            EngineError::InvalidParameter(format!(
                                "error while creating mount source path '{}': {e}",
                                m.source
                            ))
                        })?;
                    }
                }
                Some(id) => {
                    let marker = self.volumes_root().join(id).join(".initialized");
                    if marker.exists() {
                        continue;
                    }
                    if !m.no_copy {
                        copy_image_content(rootfs, &m.destination, Path::new(&m.source))?;
                    }
                    std::fs::write(&marker, b"")
                        .map_err(|e| EngineError::failed("volume marker", e))?;
                }
            }
        }
        Ok(())
    }

    /// `rm -v`: removes the container's anonymous volumes that no other container uses.
    /// Every volume, measured (`docker system df`). Walks each volume's files: run it off
    /// the async threads.
    pub fn volume_usage(&self) -> Vec<VolumeUsage> {
        let mut refs: std::collections::HashMap<String, i64> = Default::default();
        for rec in self.list() {
            for id in rec.mounts.into_iter().filter_map(|m| m.volume) {
                *refs.entry(id).or_default() += 1;
            }
        }
        let mut out: Vec<VolumeUsage> = std::fs::read_dir(self.volumes_root())
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| {
                let name = e.file_name().into_string().ok()?;
                let data = e.path().join("_data");
                let created = e
                    .metadata()
                    .ok()?
                    .modified()
                    .ok()
                    .and_then(|t| jiff::Timestamp::try_from(t).ok())
                    .map(|t| t.to_string())
                    .unwrap_or_default();
                Some(VolumeUsage {
                    size: super::list::dir_size(&data),
                    ref_count: refs.get(&name).copied().unwrap_or(0),
                    mountpoint: data,
                    created,
                    name,
                })
            })
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        out
    }

    pub(crate) fn remove_volumes(&self, rec: &ContainerRecord) {
        let in_use: Vec<String> = self
            .containers
            .read()
            .expect("lock")
            .values()
            .flat_map(|e| e.snapshot().mounts.into_iter().filter_map(|m| m.volume))
            .collect();
        // Named volumes outlive their containers; anonymous ones go with the last.
        for id in rec.mounts.iter().filter_map(|m| m.volume.as_ref()) {
            if !in_use.contains(id)
                && !self.is_named_volume(id)
                && std::fs::remove_dir_all(self.volumes_root().join(id)).is_ok()
            {
                self.publish_volume("destroy", id, &[]);
            }
        }
    }
}

/// Copies `dest` of the image (inside `rootfs`) into the empty volume `data`: ownership, modes,
/// symlinks as symlinks. Nothing is followed out of the root.
fn copy_image_content(rootfs: &Path, dest: &str, data: &Path) -> Result<(), EngineError> {
    let root = rustix::fs::open(
        rootfs,
        OFlags::DIRECTORY | OFlags::RDONLY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| EngineError::failed("open root filesystem", e))?;
    let rel = dest.trim_start_matches('/');
    let dir = match rustix::fs::openat2(
        &root,
        rel,
        OFlags::DIRECTORY | OFlags::RDONLY | OFlags::CLOEXEC,
        Mode::empty(),
        ResolveFlags::IN_ROOT,
    ) {
        Ok(fd) => fd,
        // Nothing at that path in the image: the volume starts empty.
        Err(_) => return Ok(()),
    };
    let src = PathBuf::from(format!(
        "/proc/self/fd/{}",
        std::os::fd::AsRawFd::as_raw_fd(&dir)
    ));
    let meta =
        std::fs::metadata(&src).map_err(|e| EngineError::failed(format!("stat {dest}"), e))?;
    let _ = std::os::unix::fs::chown(data, Some(meta.uid()), Some(meta.gid()));
    let _ = std::fs::set_permissions(data, std::fs::Permissions::from_mode(meta.mode() & 0o7777));
    copy_tree(&src, data)
        .map_err(|e| EngineError::failed(format!("copy image content into volume at {dest}"), e))
}

fn copy_tree(src: &Path, dst: &Path) -> std::io::Result<()> {
    for e in std::fs::read_dir(src)? {
        let e = e?;
        let from = e.path();
        let to = dst.join(e.file_name());
        let meta = std::fs::symlink_metadata(&from)?;
        let ft = meta.file_type();
        if ft.is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(&from)?, &to)?;
        } else if ft.is_dir() {
            std::fs::create_dir(&to)?;
            copy_tree(&from, &to)?;
            std::fs::set_permissions(&to, std::fs::Permissions::from_mode(meta.mode() & 0o7777))?;
        } else if ft.is_file() {
            std::fs::copy(&from, &to)?;
        } else {
            continue;
        }
        let _ = std::os::unix::fs::lchown(&to, Some(meta.uid()), Some(meta.gid()));
    }
    Ok(())
}

/// Resolves a mount destination inside `rootfs` the way the container will see it, creating
/// what is missing, with every symlink followed *inside* the root (`openat2`
/// `RESOLVE_IN_ROOT`; a dangling link's target is created inside the root). Returns the
/// destination without symlinks, so the runtime mounts exactly there and a symlink in the
/// image can never send a mount outside the container. `file` makes the last component an
/// empty file (for `/etc/hosts` and friends) instead of a directory.
pub(crate) fn resolve_destination(
    rootfs: &Path,
    dest: &str,
    file: bool,
) -> Result<String, EngineError> {
    let root = rustix::fs::open(
        rootfs,
        OFlags::DIRECTORY | OFlags::RDONLY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| EngineError::failed("open root filesystem", e))?;
    let fail = |e: &dyn std::fmt::Display| {
        EngineError::InvalidParameter(format!("invalid mount destination {dest}: {e}"))
    };
    let rel = dest.trim_matches('/');
    let (parent, name) = rel.rsplit_once('/').unwrap_or(("", rel));
    let dir = ensure_dir(&root, parent, 0, None).map_err(|e| fail(&e))?;
    let resolved_parent = std::fs::read_link(format!(
        "/proc/self/fd/{}",
        std::os::fd::AsRawFd::as_raw_fd(&dir)
    ))
    .map_err(|e| fail(&e))?;
    let inside = resolved_parent
        .strip_prefix(rootfs)
        .map_err(|_| fail(&"resolves outside the root"))?
        .to_path_buf();
    if name.is_empty() {
        return Ok(format!("/{}", inside.display()));
    }
    if file {
        // A symlink (or anything but a file) there is replaced in the container's own layer.
        match rustix::fs::statat(&dir, name, rustix::fs::AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st)
                if rustix::fs::FileType::from_raw_mode(st.st_mode)
                    == rustix::fs::FileType::RegularFile => {}
            Ok(st)
                if rustix::fs::FileType::from_raw_mode(st.st_mode)
                    == rustix::fs::FileType::Directory =>
            {
                return Err(fail(&"is a directory"));
            }
            Ok(_) => {
                rustix::fs::unlinkat(&dir, name, rustix::fs::AtFlags::empty())
                    .map_err(|e| fail(&e))?;
                create_file(&dir, name).map_err(|e| fail(&e))?;
            }
            Err(_) => create_file(&dir, name).map_err(|e| fail(&e))?,
        }
        return Ok(format!("/{}", inside.join(name).display()));
    }
    let full = if parent.is_empty() {
        name.to_string()
    } else {
        format!("{parent}/{name}")
    };
    let d = ensure_dir(&root, &full, 0, None).map_err(|e| fail(&e))?;
    let resolved = std::fs::read_link(format!(
        "/proc/self/fd/{}",
        std::os::fd::AsRawFd::as_raw_fd(&d)
    ))
    .map_err(|e| fail(&e))?;
    let inside = resolved
        .strip_prefix(rootfs)
        .map_err(|_| fail(&"resolves outside the root"))?;
    Ok(format!("/{}", inside.display()))
}

fn create_file(dir: &std::os::fd::OwnedFd, name: &str) -> std::io::Result<()> {
    rustix::fs::openat(
        dir,
        name,
        OFlags::CREATE | OFlags::WRONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::from_raw_mode(0o644),
    )?;
    Ok(())
}

/// The container's working directory, made inside its root when the image lacks it (as
/// Docker does), owned by the container's user; symlinks resolve inside the root.
pub(crate) fn create_working_dir(
    rootfs: &Path,
    cwd: &str,
    uid: u32,
    gid: u32,
) -> Result<(), EngineError> {
    let rel = cwd.trim_matches('/');
    if rel.is_empty() {
        return Ok(());
    }
    let root = rustix::fs::open(
        rootfs,
        OFlags::DIRECTORY | OFlags::RDONLY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| EngineError::failed("open root filesystem", e))?;
    ensure_dir(&root, rel, 0, Some((uid, gid))).map_err(|e| {
        EngineError::InvalidParameter(format!("cannot create working directory {cwd}: {e}"))
    })?;
    Ok(())
}

/// Opens directory `rel` inside `root`, creating missing components (owned by `owner` when
/// given); a dangling symlink's target is created inside the root.
fn ensure_dir(
    root: &std::os::fd::OwnedFd,
    rel: &str,
    depth: u32,
    owner: Option<(u32, u32)>,
) -> std::io::Result<std::os::fd::OwnedFd> {
    if depth > 40 {
        return Err(std::io::Error::other("too many levels of symbolic links"));
    }
    let path = if rel.is_empty() { "." } else { rel };
    match rustix::fs::openat2(
        root,
        path,
        OFlags::DIRECTORY | OFlags::PATH | OFlags::CLOEXEC,
        Mode::empty(),
        ResolveFlags::IN_ROOT,
    ) {
        Ok(fd) => return Ok(fd),
        Err(rustix::io::Errno::NOENT) => {}
        Err(e) => return Err(e.into()),
    }
    let (parent, name) = rel.rsplit_once('/').unwrap_or(("", rel));
    let pfd = ensure_dir(root, parent, depth + 1, owner)?;
    let pfd = rustix::fs::openat(
        &pfd,
        ".",
        OFlags::DIRECTORY | OFlags::RDONLY | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    match rustix::fs::readlinkat(&pfd, name, Vec::new()) {
        Ok(target) => {
            // Dangling: create the target, resolved from the root (absolute) or the parent.
            let t = target.to_string_lossy().into_owned();
            let next = if t.starts_with('/') {
                t.trim_start_matches('/').to_string()
            } else {
                format!("{parent}/{t}")
            };
            let normal: Vec<&str> = next.split('/').filter(|c| !c.is_empty() && *c != ".").fold(
                Vec::new(),
                |mut v, c| {
                    if c == ".." {
                        v.pop();
                    } else {
                        v.push(c);
                    }
                    v
                },
            );
            return ensure_dir(root, &normal.join("/"), depth + 1, owner);
        }
        Err(_) => match rustix::fs::mkdirat(&pfd, name, Mode::from_raw_mode(0o755)) {
            Ok(()) => {
                if let Some((uid, gid)) = owner {
                    rustix::fs::chownat(
                        &pfd,
                        name,
                        Some(rustix::fs::Uid::from_raw(uid)),
                        Some(rustix::fs::Gid::from_raw(gid)),
                        rustix::fs::AtFlags::SYMLINK_NOFOLLOW,
                    )?;
                }
            }
            Err(rustix::io::Errno::EXIST) => {}
            Err(e) => return Err(e.into()),
        },
    }
    Ok(rustix::fs::openat2(
        root,
        path,
        OFlags::DIRECTORY | OFlags::PATH | OFlags::CLOEXEC,
        Mode::empty(),
        ResolveFlags::IN_ROOT,
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_working_dir_is_made_inside_the_root_for_the_user() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        let outside = dir.path().join("outside");
        std::fs::create_dir_all(root.join("srv")).unwrap();
        std::fs::create_dir(&outside).unwrap();
        std::os::unix::fs::symlink(&outside, root.join("escape")).unwrap();
        create_working_dir(&root, "/srv/app/data", 1000, 1001).unwrap();
        use std::os::unix::fs::MetadataExt;
        for (p, uid) in [("srv", 0), ("srv/app", 1000), ("srv/app/data", 1000)] {
            let m = std::fs::metadata(root.join(p)).unwrap();
            assert!(m.is_dir());
            assert_eq!(m.uid(), uid, "{p}");
        }
        assert_eq!(std::fs::metadata(root.join("srv/app")).unwrap().gid(), 1001);
        // Through a symlink that points out of the root: made inside it.
        create_working_dir(&root, "/escape/work", 0, 0).unwrap();
        assert!(!outside.join("work").exists());
        assert!(root
            .join(outside.strip_prefix("/").unwrap())
            .join("work")
            .is_dir());
    }

    #[test]
    fn destinations_resolve_inside_the_root() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        let outside = dir.path().join("outside");
        std::fs::create_dir_all(root.join("etc")).unwrap();
        std::fs::create_dir(&outside).unwrap();
        std::os::unix::fs::symlink(&outside, root.join("escape")).unwrap();
        std::os::unix::fs::symlink("../../..", root.join("up")).unwrap();
        std::os::unix::fs::symlink(outside.join("hosts"), root.join("etc/hosts")).unwrap();
        let o = outside.display().to_string();
        assert_eq!(resolve_destination(&root, "/escape", false).unwrap(), o);
        assert!(root.join(o.trim_start_matches('/')).is_dir());
        assert_eq!(
            resolve_destination(&root, "/up/data", false).unwrap(),
            "/data"
        );
        assert_eq!(
            resolve_destination(&root, "/a/b/c", false).unwrap(),
            "/a/b/c"
        );
        assert_eq!(
            resolve_destination(&root, "/etc/hosts", true).unwrap(),
            "/etc/hosts"
        );
        assert!(std::fs::symlink_metadata(root.join("etc/hosts"))
            .unwrap()
            .is_file());
        assert_eq!(
            std::fs::read_dir(&outside).unwrap().count(),
            0,
            "nothing made outside the root"
        );
    }
}
