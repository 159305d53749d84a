//! A container's files as the container sees them, for `cp` in and out: a thread of its own
//! in a private mount namespace, where the container's root is mounted, its binds and
//! volumes are bound at their places inside it, and the root is `/` (moby's
//! `openContainerFS` does the same). Every path the client gives is then resolved by the
//! kernel inside that root: a container that swaps a directory for a symlink to a host path
//! while a copy runs can only ever point inside itself.

use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

use nix::sched::CloneFlags;
use rustix::fs::{Mode, OFlags, ResolveFlags};
use rustix::mount::MountPropagationFlags;

use crate::mounts::Mount;

/// The container's root: its own mount (while it runs), or the mount to make.
#[derive(Debug, Clone)]
pub enum Root {
    Mounted(PathBuf),
    ToMount(Mount),
}

/// A bind into the container's root.
#[derive(Debug, Clone)]
pub struct Bind {
    pub source: PathBuf,
    /// Absolute, inside the container.
    pub destination: String,
    pub read_only: bool,
}

/// Runs `f` on a new thread inside the container's files (see the module's text); what `f`
/// returns, or why the files could not be set up. The root is mounted on a directory of its
/// own under `views`; the namespace and its mounts go with the thread.
pub fn run_in<T: Send + 'static>(
    root: Root,
    binds: Vec<Bind>,
    views: &Path,
    f: impl FnOnce() -> T + Send + 'static,
) -> std::io::Result<T> {
    std::fs::create_dir_all(views)?;
    let scratch = views.join(format!("cfs-{:016x}", rand::random::<u64>()));
    std::fs::create_dir(&scratch)?;
    let dir = scratch.clone();
    let ran = std::thread::Builder::new()
        .name("berth-cfs".into())
        .spawn(move || {
            enter(&root, &binds, &dir)?;
            Ok(f())
        })
        .map_err(std::io::Error::other)
        .and_then(|t| {
            t.join()
                .map_err(|_| std::io::Error::other("the container filesystem thread panicked"))
        });
    // Mounted only in the thread's namespace, which is gone.
    let _ = std::fs::remove_dir(&scratch);
    ran?
}

/// Unshares this thread's mount namespace and filesystem root, sets the container up in it
/// and makes its root this thread's `/`.
fn enter(root: &Root, binds: &[Bind], scratch: &Path) -> std::io::Result<()> {
    // nix's, as rustix marks its own `unshare` unsafe.
    nix::sched::unshare(CloneFlags::CLONE_NEWNS | CloneFlags::CLONE_FS)?;
    // Nothing done here may reach the host's mounts.
    rustix::mount::mount_change(
        "/",
        MountPropagationFlags::DOWNSTREAM | MountPropagationFlags::REC,
    )?;
    let target = match root {
        Root::Mounted(path) => {
            // Its own bind, so that the binds below land on this namespace's copy only.
            rustix::mount::mount_bind(path, scratch)?;
            scratch.to_path_buf()
        }
        Root::ToMount(m) => {
            m.apply(scratch)?;
            scratch.to_path_buf()
        }
    };
    let root_fd = rustix::fs::open(
        &target,
        OFlags::DIRECTORY | OFlags::PATH | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    for b in binds {
        bind_inside(&root_fd, b)
            .map_err(|e| std::io::Error::new(e.kind(), format!("bind {}: {e}", b.destination)))?;
    }
    rustix::process::chdir(&target)?;
    rustix::process::chroot(".")?;
    rustix::process::chdir("/")?;
    Ok(())
}

/// Binds `b.source` at `b.destination` resolved inside the root (created if missing, as
/// Docker does), through the descriptor of what was resolved, never the path again.
fn bind_inside(root: &impl AsFd, b: &Bind) -> std::io::Result<()> {
    let rel = b.destination.trim_start_matches('/');
    let is_dir = std::fs::metadata(&b.source)?.is_dir();
    create_inside(root, rel, is_dir)?;
    let open = || {
        rustix::fs::openat2(
            root,
            rel,
            OFlags::PATH | OFlags::CLOEXEC,
            Mode::empty(),
            ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS,
        )
    };
    let fd_path = |fd: &rustix::fd::OwnedFd| {
        format!(
            "/proc/thread-self/fd/{}",
            rustix::fd::AsRawFd::as_raw_fd(fd)
        )
    };
    rustix::mount::mount_bind_recursive(&b.source, fd_path(&open()?).as_str())?;
    if b.read_only {
        // A descriptor opened before the bind names what was under it: the bind's own root
        // is resolved again to be made read-only.
        rustix::mount::mount_remount(
            fd_path(&open()?).as_str(),
            rustix::mount::MountFlags::BIND | rustix::mount::MountFlags::RDONLY,
            "",
        )?;
    }
    Ok(())
}

/// Makes `rel` inside the root if it is missing: its directories, then a directory or an
/// empty file.
fn create_inside(root: &impl AsFd, rel: &str, is_dir: bool) -> std::io::Result<()> {
    let resolve = ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS;
    let mut dir = rustix::fs::openat2(
        root,
        ".",
        OFlags::DIRECTORY | OFlags::RDONLY | OFlags::CLOEXEC,
        Mode::empty(),
        resolve,
    )?;
    let parts: Vec<&str> = rel
        .split('/')
        .filter(|p| !p.is_empty() && *p != ".")
        .collect();
    for (i, part) in parts.iter().enumerate() {
        let last = i + 1 == parts.len();
        let open_dir = |d: &rustix::fd::OwnedFd| {
            rustix::fs::openat2(
                d,
                *part,
                OFlags::DIRECTORY | OFlags::RDONLY | OFlags::CLOEXEC,
                Mode::empty(),
                resolve,
            )
        };
        if last && !is_dir {
            match rustix::fs::openat2(
                &dir,
                *part,
                OFlags::CREATE | OFlags::WRONLY | OFlags::CLOEXEC,
                Mode::from_raw_mode(0o755),
                resolve,
            ) {
                Ok(_) | Err(rustix::io::Errno::ISDIR) => return Ok(()),
                Err(e) => return Err(e.into()),
            }
        }
        dir = match open_dir(&dir) {
            Ok(d) => d,
            Err(rustix::io::Errno::NOENT) => {
                rustix::fs::mkdirat(&dir, *part, Mode::from_raw_mode(0o755))?;
                open_dir(&dir)?
            }
            Err(e) => return Err(e.into()),
        };
    }
    Ok(())
}
