//! Network namespaces kept alive by a bind mount on a file (as `ip netns add` does), so the
//! network is set up before the container's process exists and the runtime joins it by
//! path. Namespace switches happen on short-lived threads of their own: `unshare` and
//! `setns` change only the calling thread, and no other work ever runs on it.

use std::future::Future;
use std::path::{Path, PathBuf};

use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sched::{setns, unshare, CloneFlags};

fn thread_error(e: impl std::fmt::Display) -> String {
    format!("network namespace: {e}")
}

/// Makes a new network namespace pinned at `path`.
pub fn create(path: &Path) -> Result<(), String> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(thread_error)?;
    }
    // A pin left by a crash would get a second mount stacked on it: clear it first.
    remove(path);
    std::fs::File::create(path).map_err(thread_error)?;
    let target = path.to_path_buf();
    let made = std::thread::spawn(move || -> Result<(), String> {
        unshare(CloneFlags::CLONE_NEWNET).map_err(thread_error)?;
        mount(
            Some("/proc/thread-self/ns/net"),
            &target,
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        )
        .map_err(thread_error)
    })
    .join()
    .map_err(|_| "network namespace thread panicked".to_string())?;
    if made.is_err() {
        let _ = std::fs::remove_file(path);
    }
    made
}

/// Unpins and removes a namespace made by [`create`]; it goes once its last process does.
pub fn remove(path: &Path) {
    let _ = umount2(path, MntFlags::MNT_DETACH);
    let _ = std::fs::remove_file(path);
}

/// Runs `work` on a thread inside the namespace at `path`, with a runtime of its own (so
/// the netlink sockets it opens belong to that namespace).
pub fn run_in<F, Fut, T>(path: &Path, work: F) -> Result<T, String>
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = Result<T, String>>,
    T: Send + 'static,
{
    let ns = std::fs::File::open(path).map_err(thread_error)?;
    std::thread::spawn(move || -> Result<T, String> {
        setns(&ns, CloneFlags::CLONE_NEWNET).map_err(thread_error)?;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .build()
            .map_err(thread_error)?;
        rt.block_on(work())
    })
    .join()
    .map_err(|_| "network namespace thread panicked".to_string())?
}

pub fn path_in(dir: &Path, id: &str) -> PathBuf {
    dir.join(id)
}
