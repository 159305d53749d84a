//! `docker cp`: a path's stat and archive out of a container (`HEAD`/`GET .../archive`, and
//! `POST .../copy` of API ≤ 1.23), and an archive extracted into one (`PUT .../archive`).
//! Each runs where the container's files are `/` ([`berth_snapshot::run_in`]), holding the
//! container's operation lock (as Docker holds the container's) so that no start, stop or
//! removal changes its mounts meanwhile.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use berth_snapshot::{Bind, OverlayDirs, Root};
use tokio_util::io::SyncIoBridge;

use super::users::UserFiles;
use super::{ContainerRecord, ContainerService, Entry};
use crate::error::EngineError;
use crate::images::ByteStream;

/// The buffer between a tar on a blocking thread and the HTTP stream on the runtime.
pub(super) const STREAM_BUFFER: usize = 256 * 1024;

/// What `X-Docker-Container-Path-Stat` carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathStat {
    pub name: String,
    pub size: i64,
    /// In Go's `os.FileMode` bits, which the docker CLI decodes.
    pub mode: u32,
    /// RFC 3339 with nanoseconds.
    pub mtime: String,
    /// Where a symlink leads, inside the container.
    pub link_target: String,
}

/// How `PUT .../archive` extracts.
#[derive(Debug, Clone, Copy, Default)]
pub struct ExtractOptions {
    pub no_overwrite_dir_non_dir: bool,
    /// Every file owned by the container's user (`docker cp -a`).
    pub copy_uid_gid: bool,
}

/// Go's `os.FileMode` of a Unix `st_mode`.
fn go_mode(st_mode: u32) -> u32 {
    const DIR: u32 = 1 << 31;
    const SYMLINK: u32 = 1 << 27;
    const DEVICE: u32 = 1 << 26;
    const PIPE: u32 = 1 << 25;
    const SOCKET: u32 = 1 << 24;
    const SETUID: u32 = 1 << 23;
    const SETGID: u32 = 1 << 22;
    const CHAR: u32 = 1 << 21;
    const STICKY: u32 = 1 << 20;
    let mut m = st_mode & 0o777;
    m |= match st_mode & 0o170000 {
        0o040000 => DIR,
        0o120000 => SYMLINK,
        0o060000 => DEVICE,
        0o020000 => DEVICE | CHAR,
        0o010000 => PIPE,
        0o140000 => SOCKET,
        _ => 0,
    };
    for (bit, go) in [(0o4000, SETUID), (0o2000, SETGID), (0o1000, STICKY)] {
        if st_mode & bit != 0 {
            m |= go;
        }
    }
    m
}

/// moby's `PreserveTrailingDotOrSeparator(filepath.Join("/", path), path)`: the path made
/// absolute and clean, keeping a trailing `/.` or `/` that asks for a directory's contents.
fn absolute(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for p in path.split('/') {
        match p {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    let mut abs = format!("/{}", parts.join("/"));
    if (path.ends_with("/.") || path == ".") && abs != "/" {
        abs.push_str("/.");
    } else if path.ends_with('/') && abs != "/" {
        abs.push('/');
    }
    abs
}

/// `filepath.Base`: the last element, trailing slashes ignored.
fn base_name(abs: &str) -> String {
    let trimmed = abs.trim_end_matches('/');
    if trimmed.is_empty() {
        return "/".into();
    }
    trimmed.rsplit('/').next().unwrap_or("/").to_string()
}

fn not_found(path: &str, container: &str) -> EngineError {
    EngineError::NotFound(format!(
        "Could not find the file {path} in container {container}"
    ))
}

/// `lstat` of `abs`, inside the container's files.
fn stat_in(abs: &str, given: &str, container: &str) -> Result<PathStat, EngineError> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::symlink_metadata(abs).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory => {
            not_found(given, container)
        }
        _ => EngineError::failed(format!("stat {given}"), e),
    })?;
    let link_target = if meta.file_type().is_symlink() {
        // As far as it leads; a broken link shows its first step.
        std::fs::canonicalize(abs)
            .map(|p| p.display().to_string())
            .or_else(|_| std::fs::read_link(abs).map(|p| p.display().to_string()))
            .unwrap_or_default()
    } else {
        String::new()
    };
    let mtime = jiff::Timestamp::new(meta.mtime(), meta.mtime_nsec() as i32)
        .map(|t| t.to_string())
        .unwrap_or_default();
    Ok(PathStat {
        name: base_name(abs),
        size: meta.size() as i64,
        mode: go_mode(meta.mode()),
        mtime,
        link_target,
    })
}

impl ContainerService {
    /// The container's root for `run_in` (its own mount while it runs, else its snapshot to
    /// mount), with its binds and volumes and the host files it was given. The caller holds
    /// the operation lock.
    pub(super) fn container_files(
        &self,
        rec: &ContainerRecord,
    ) -> Result<(Root, Vec<Bind>), EngineError> {
        let overlay = OverlayDirs::new(self.paths.overlay(&rec.id));
        let root = if rec.state.status.is_running() {
            Root::Mounted(overlay.merged())
        } else {
            let layers = self.image_layers(rec)?;
            overlay
                .create()
                .map_err(|e| EngineError::failed("prepare the container's files", e))?;
            Root::ToMount(
                overlay
                    .active(&layers)
                    .map_err(|e| EngineError::failed("describe the container's files", e))?,
            )
        };
        let host_files = [
            ("/etc/resolv.conf", self.paths.resolv_conf(&rec.id)),
            ("/etc/hostname", self.paths.hostname(&rec.id)),
            ("/etc/hosts", self.paths.hosts(&rec.id)),
        ];
        let mut binds: Vec<Bind> = host_files
            .into_iter()
            .filter(|(_, source)| source.exists())
            .map(|(destination, source)| Bind {
                source,
                destination: destination.into(),
                read_only: false,
            })
            .collect();
        binds.extend(
            rec.mounts
                .iter()
                .filter(|m| m.tmpfs.is_none() && !m.source.is_empty())
                .map(|m| Bind {
                    source: PathBuf::from(&m.source),
                    destination: m.destination.clone(),
                    read_only: !m.rw,
                }),
        );
        Ok((root, binds))
    }

    /// `HEAD .../archive`.
    pub async fn stat_path(&self, name: &str, path: &str) -> Result<PathStat, EngineError> {
        let entry = self.entry(name)?;
        let _op = entry.op.lock().await;
        let (root, binds) = self.container_files(&entry.snapshot())?;
        let (abs, given, container) = (absolute(path), path.to_string(), name.to_string());
        let views = self.paths.views();
        tokio::task::spawn_blocking(move || {
            berth_snapshot::run_in(root, binds, &views, move || {
                stat_in(&abs, &given, &container)
            })
        })
        .await?
        .map_err(|e| EngineError::failed("open the container's files", e))?
    }

    /// `GET .../archive` and `POST .../copy`: the path's stat, and a tar of it rebased on its
    /// base name (a directory's contents for a path ending in `/.`), streamed while read.
    pub async fn archive_path(
        self: &Arc<Self>,
        name: &str,
        path: &str,
    ) -> Result<(PathStat, ByteStream), EngineError> {
        let entry = self.entry(name)?;
        type Told = tokio::sync::oneshot::Sender<Result<PathStat, EngineError>>;
        let (tx, rx) = tokio::sync::oneshot::channel();
        let tell: Arc<Mutex<Option<Told>>> = Arc::new(Mutex::new(Some(tx)));
        let send = |tell: &Mutex<Option<Told>>, r| {
            if let Some(tx) = tell.lock().expect("lock").take() {
                let _ = tx.send(r);
            }
        };
        let (reader, writer) = tokio::io::duplex(256 * 1024);
        let svc = self.clone();
        let (abs, given, container) = (absolute(path), path.to_string(), name.to_string());
        tokio::spawn(async move {
            let _op = entry.op.lock().await;
            let rec = entry.snapshot();
            let (root, binds) = match svc.container_files(&rec) {
                Ok(f) => f,
                Err(e) => return send(&tell, Err(e)),
            };
            // Large writes: each one crosses from this thread to the runtime.
            let writer =
                std::io::BufWriter::with_capacity(STREAM_BUFFER, SyncIoBridge::new(writer));
            let inside = tell.clone();
            let views = svc.paths.views();
            let ran = tokio::task::spawn_blocking(move || {
                berth_snapshot::run_in(root, binds, &views, move || {
                    let stat = match stat_in(&abs, &given, &container) {
                        Ok(s) => s,
                        Err(e) => return send(&inside, Err(e)),
                    };
                    let is_dir = stat.mode & (1 << 31) != 0;
                    send(&inside, Ok(stat));
                    // A directory from itself (`.`), anything else from its parent.
                    let (dir, entry_name) = if is_dir {
                        (abs.trim_end_matches("/.").to_string(), ".".to_string())
                    } else {
                        let trimmed = abs.trim_end_matches('/');
                        let (d, b) = trimmed.rsplit_once('/').unwrap_or(("", trimmed));
                        (format!("/{}", d.trim_start_matches('/')), b.to_string())
                    };
                    let dir = if dir.is_empty() { "/".to_string() } else { dir };
                    if let Err(e) =
                        berth_archive::pack_entry(Path::new(&dir), &entry_name, &base_name(&abs), writer)
                    {
                        tracing::warn!(path = %given, error = %e, "archive of a container path stopped");
                    }
                })
            })
            .await;
            match ran {
                Ok(Ok(())) => svc.publish(&rec, "archive-path", &[]),
                Ok(Err(e)) => send(
                    &tell,
                    Err(EngineError::failed("open the container's files", e)),
                ),
                Err(e) => send(&tell, Err(EngineError::Internal(e.to_string()))),
            }
        });
        let stat = rx.await.map_err(|_| {
            EngineError::Internal("the archive of a container path ended early".into())
        })??;
        Ok((stat, Box::new(reader)))
    }

    /// `PUT .../archive`: extracts a tar (in any compression) into the directory `path`.
    pub async fn extract_to_dir(
        &self,
        name: &str,
        path: &str,
        opts: ExtractOptions,
        body: ByteStream,
    ) -> Result<(), EngineError> {
        let entry: Arc<Entry> = self.entry(name)?;
        let _op = entry.op.lock().await;
        let rec = entry.snapshot();
        let (root, binds) = self.container_files(&rec)?;
        let (given, container) = (path.to_string(), name.to_string());
        let read_only_root = rec.spec.host.readonly_rootfs;
        let user = rec.spec.config.user.clone();
        let mounts: Vec<(String, bool)> = binds
            .iter()
            .map(|b| (b.destination.clone(), !b.read_only))
            .collect();
        let reader = crate::blocking_io::batched_reader(body);
        let views = self.paths.views();
        tokio::task::spawn_blocking(move || {
            berth_snapshot::run_in(root, binds, &views, move || -> Result<(), EngineError> {
                let abs = std::fs::canonicalize(absolute(&given)).map_err(|e| match e.kind() {
                    std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory => {
                        not_found(&given, &container)
                    }
                    _ => EngineError::failed(format!("resolve {given}"), e),
                })?;
                if !abs.is_dir() {
                    return Err(EngineError::InvalidParameter(
                        "extraction point is not a directory".into(),
                    ));
                }
                let under = |dest: &str| abs.starts_with(dest);
                match mounts.iter().rev().find(|(dest, _)| under(dest)) {
                    Some((_, false)) => {
                        return Err(EngineError::InvalidParameter(
                            "mounted volume is marked read-only".into(),
                        ))
                    }
                    None if read_only_root => {
                        return Err(EngineError::InvalidParameter(
                            "container rootfs is marked read-only".into(),
                        ))
                    }
                    _ => {}
                }
                let chown = if opts.copy_uid_gid {
                    let (uid, gid, _) = UserFiles::new(Path::new("/")).resolve(&user)?;
                    Some((uid, gid))
                } else {
                    None
                };
                let (_, content) = berth_archive::decompress_buffered(reader)
                    .map_err(|e| EngineError::InvalidParameter(e.to_string()))?;
                let unpack = berth_archive::UnpackOptions {
                    overlay_whiteouts: false,
                    preserve_owners: true,
                    no_overwrite_dir_non_dir: opts.no_overwrite_dir_non_dir,
                    chown,
                    lenient_end: false,
                };
                berth_archive::unpack(content, &abs, &unpack)
                    .map_err(|e| EngineError::InvalidParameter(e.to_string()))?;
                Ok(())
            })
        })
        .await?
        .map_err(|e| EngineError::failed("open the container's files", e))??;
        self.publish(&rec, "extract-to-dir", &[]);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_made_absolute_as_docker_makes_them() {
        assert_eq!(absolute("etc/hosts"), "/etc/hosts");
        assert_eq!(absolute("/etc/../tmp/"), "/tmp/");
        assert_eq!(absolute("/etc/."), "/etc/.");
        assert_eq!(absolute("/"), "/");
        assert_eq!(absolute("/."), "/");
        assert_eq!(absolute("../../x"), "/x");
        assert_eq!(base_name("/etc/."), ".");
        assert_eq!(base_name("/etc/"), "etc");
        assert_eq!(base_name("/"), "/");
    }

    #[test]
    fn modes_are_gos() {
        assert_eq!(go_mode(0o040755), (1 << 31) | 0o755);
        assert_eq!(go_mode(0o100644), 0o644);
        assert_eq!(go_mode(0o120777), (1 << 27) | 0o777);
        assert_eq!(go_mode(0o104755), (1 << 23) | 0o755);
        assert_eq!(go_mode(0o020666), (1 << 26) | (1 << 21) | 0o666);
    }
}
