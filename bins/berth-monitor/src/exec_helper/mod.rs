//! The container's exec helper. Docker-style exec (runc's, or libcontainer's tenant builder)
//! builds every exec'd process from outside: a new process joins the container's namespaces
//! and writes itself into each of its cgroups. On cgroup v1 that write waits for an RCU grace
//! period whenever the machine has been idle (about 15 ms here), which alone is most of an
//! exec. The helper pays that once: at the first exec, the monitor forks it; it joins the
//! cgroups and namespaces (all but the PID namespace, which only its children enter, so it is
//! not among the container's processes) and then starts each exec'd process from inside, with
//! a `vfork`-style clone. Each child still sets up its own session, user and capabilities, as
//! a tenant would, from the container's OCI spec; the seccomp filter it inherits from the
//! helper.
//!
//! Protocol: the daemon connects to the exec socket and sends one [`ExecRequest`] line with
//! the process's stdin, stdout and stderr attached; the helper answers `started` (with the
//! terminal's master side when the request asks for one) or `failed`, then `exited` when the
//! process is gone ([`ExecReply`]).

use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::time::Duration;

use berth_runtime::fdpass;
use berth_runtime::monitor::ExecReply;
use oci_spec::runtime::Spec;
use rustix::event::{poll, PollFd, PollFlags};
use rustix::process::{pidfd_open, Pid, PidfdFlags};

mod join;
mod launch;
mod program;

use join::{join_cgroups, join_namespaces};
use launch::*;

/// The monitor's side: the exec socket, and the helper once one runs.
pub struct Helper {
    listener: UnixListener,
    pid_file: PathBuf,
    running: Option<(Pid, OwnedFd)>,
}

/// What the helper needs of the container.
pub struct Target<'a> {
    pub init: Pid,
    pub init_pidfd: &'a OwnedFd,
    pub bundle: &'a Path,
}

impl Helper {
    /// Listens on `path` (daemon only). Requests wait in the backlog until the monitor polls.
    pub fn bind(path: &Path) -> std::io::Result<Helper> {
        let _ = std::fs::remove_file(path);
        // Root's only from the moment it exists: whoever connects gets a process run as root.
        let old = rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o177));
        let bound = UnixListener::bind(path);
        rustix::process::umask(old);
        let listener = bound?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
        Ok(Helper {
            listener,
            pid_file: path.with_extension("pid"),
            running: None,
        })
    }

    /// While no helper runs, a waiting connection means: start one. While it runs, its end.
    pub fn poll_fd(&self) -> PollFd<'_> {
        match &self.running {
            None => PollFd::new(&self.listener, PollFlags::IN),
            Some((_, pidfd)) => PollFd::new(pidfd, PollFlags::IN),
        }
    }

    /// Acts on the readiness of [`Helper::poll_fd`].
    pub fn step(&mut self, target: &Target<'_>) {
        match self.running.take() {
            Some((pid, _)) => {
                // It ended (it should not while the container runs): the next request starts
                // another.
                let _ = rustix::process::waitpid(Some(pid), rustix::process::WaitOptions::empty());
                let _ = std::fs::remove_file(&self.pid_file);
            }
            None => match spawn(&self.listener, target) {
                Ok(pid) => match pidfd_open(pid, PidfdFlags::empty()) {
                    Ok(fd) => {
                        let _ = std::fs::write(&self.pid_file, pid.as_raw_nonzero().to_string());
                        self.running = Some((pid, fd));
                    }
                    Err(e) => {
                        // Untracked, it could not be stopped before the cgroups go.
                        eprintln!("berth-monitor: exec helper pidfd: {e}");
                        let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
                        let _ = rustix::process::waitpid(
                            Some(pid),
                            rustix::process::WaitOptions::empty(),
                        );
                    }
                },
                Err(e) => {
                    eprintln!("berth-monitor: starting the exec helper: {e}");
                    // Answer the waiting request rather than leave it hanging.
                    let _ = self.listener.set_nonblocking(true);
                    let pending = self.listener.accept();
                    let _ = self.listener.set_nonblocking(false);
                    if let Ok((conn, _)) = pending {
                        let _ = fdpass::send_line(
                            &conn,
                            &ExecReply::Failed(format!("exec helper: {e}")).to_line(),
                            &[],
                        );
                    }
                }
            },
        }
    }

    /// Once the container has ended: the helper follows it (it watches the init process);
    /// give it a moment to report its last execs, then make sure. Its cgroup membership must
    /// be gone before the cgroups are removed.
    pub fn stop(&mut self) {
        if let Some((pid, pidfd)) = self.running.take() {
            let ended = || {
                let mut fds = [PollFd::new(&pidfd, PollFlags::IN)];
                let timeout = rustix::time::Timespec {
                    tv_sec: 1,
                    tv_nsec: 0,
                };
                matches!(poll(&mut fds, Some(&timeout)), Ok(n) if n > 0)
            };
            if !ended() {
                let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
            }
            // Never hang the monitor: a frozen helper does not die until thawed.
            if ended() {
                let _ = rustix::process::waitpid(Some(pid), rustix::process::WaitOptions::empty());
            } else {
                eprintln!("berth-monitor: exec helper {pid:?} does not end; leaving it");
            }
        }
        let _ = std::fs::remove_file(&self.pid_file);
    }
}

/// Forks a child that runs `child` and exits with the code it returns. Only for
/// single-threaded processes (the monitor, the helper), where the child may run anything.
#[allow(unsafe_code)]
pub(crate) fn fork_child(child: impl FnOnce() -> i32) -> std::io::Result<Pid> {
    // SAFETY: the caller has one thread, so no lock or allocator state is left half-held.
    match unsafe { nix::unistd::fork() }.map_err(std::io::Error::from)? {
        nix::unistd::ForkResult::Parent { child } => {
            Ok(Pid::from_raw(child.as_raw()).expect("fork returns a positive pid"))
        }
        nix::unistd::ForkResult::Child => exit_now(child()),
    }
}

/// Forks the helper.
fn spawn(listener: &UnixListener, target: &Target<'_>) -> std::io::Result<Pid> {
    let listener = listener.try_clone()?;
    let init_pidfd = target.init_pidfd.try_clone()?;
    fork_child(
        || match serve(&listener, init_pidfd, target.init, target.bundle) {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("berth-monitor exec helper: {e}");
                // Answer the request that asked for this helper: left waiting, it would have the
                // monitor start another helper at once, and fail again.
                if listener.set_nonblocking(true).is_ok() {
                    if let Ok((conn, _)) = listener.accept() {
                        let reply = ExecReply::Failed(format!("exec helper: {e}"));
                        let _ = fdpass::send_line(&conn, &reply.to_line(), &[]);
                    }
                }
                1
            }
        },
    )
}

fn serve(
    listener: &UnixListener,
    init_pidfd: OwnedFd,
    init: Pid,
    bundle: &Path,
) -> Result<(), String> {
    let _ = rustix::thread::set_name(c"berth-exec");
    // Not dumpable, so nothing in the container can ptrace the helper or the exec'd processes
    // before their execve (which resets it), and reach the helper's descriptors or its host
    // binary through /proc, as runc's nsexec does.
    rustix::process::set_dumpable_behavior(rustix::process::DumpableBehavior::NotDumpable)
        .map_err(|e| format!("not dumpable: {e}"))?;
    close_inherited(&[listener.as_raw_fd(), init_pidfd.as_raw_fd()]);
    // Each running exec holds two descriptors here; the exec'd processes get the original
    // limit back.
    let nofile = rustix::process::getrlimit(rustix::process::Resource::Nofile);
    let _ = rustix::process::setrlimit(
        rustix::process::Resource::Nofile,
        rustix::process::Rlimit {
            current: nofile.maximum,
            maximum: nofile.maximum,
        },
    );
    let spec = Spec::load(bundle.join("config.json")).map_err(|e| format!("spec: {e}"))?;
    // Inherited by every exec'd process; /proc/self is out of reach once in the container's
    // mount namespace (its /proc belongs to the PID namespace this process is not in).
    if let Some(adj) = spec.process().as_ref().and_then(|p| p.oom_score_adj()) {
        std::fs::write("/proc/self/oom_score_adj", adj.to_string())
            .map_err(|e| format!("oom_score_adj: {e}"))?;
    }
    let mut stack = ChildStack::new().map_err(|e| format!("child stack: {e}"))?;
    join_cgroups(init)?;
    join_namespaces(init)?;
    // The container's seccomp filter, loaded here once and inherited by every exec'd process
    // through fork. Compiling it per process took 2.5 ms of each exec; the filter is the same
    // for all of them (Docker applies the container's profile to execs, privileged or not),
    // and everything the helper does from here on is allowed by it.
    if let Some(filter) = spec.linux().as_ref().and_then(|l| l.seccomp().as_ref()) {
        libcontainer::seccomp::initialize_seccomp(filter).map_err(|e| format!("seccomp: {e}"))?;
    }
    // Compiling the filter and parsing the spec left freed heap pages resident, and the helper
    // lives as long as its container.
    crate::memory::give_back_freed_heap();
    let mut children: Vec<Running> = Vec::new();
    let mut accepting = true;
    loop {
        let mut fds = vec![PollFd::new(&init_pidfd, PollFlags::IN)];
        if accepting {
            fds.push(PollFd::new(listener, PollFlags::IN));
        }
        fds.extend(
            children
                .iter()
                .map(|c| PollFd::new(&c.pidfd, PollFlags::IN)),
        );
        match poll(&mut fds, None) {
            Ok(_) => {}
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(format!("poll: {e}")),
        }
        let init_gone = !fds[0].revents().is_empty();
        let first_child = if accepting { 2 } else { 1 };
        let request = accepting && !fds[1].revents().is_empty();
        let ended: Vec<usize> = (0..children.len())
            .filter(|i| !fds[first_child + i].revents().is_empty())
            .collect();
        drop(fds);
        for i in ended.into_iter().rev() {
            children.remove(i).finish();
        }
        if init_gone && accepting {
            // The container is over. Its processes die with its PID namespace; when it shares
            // the host's, the execs would live on, so they go as Docker's `delete --force`
            // would take them.
            accepting = false;
            for c in &children {
                let _ = rustix::process::kill_process(c.pid, rustix::process::Signal::KILL);
            }
        } else if request {
            match listener.accept() {
                Ok((conn, _)) => {
                    if let Some(c) = start(conn, &spec, &nofile, &mut stack) {
                        children.push(c);
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) => {
                    // Out of descriptors, say: the request stays queued and the listener
                    // readable, so pause rather than spin.
                    eprintln!("berth-monitor exec helper: accept: {e}");
                    std::thread::sleep(Duration::from_millis(50));
                }
            }
        }
        if !accepting && children.is_empty() {
            return Ok(());
        }
    }
}

/// The monitor's descriptors (log, pipes, the container's stdio) are not the helper's to hold.
fn close_inherited(keep: &[i32]) {
    let Ok(dir) = std::fs::read_dir("/proc/self/fd") else {
        return;
    };
    let fds: Vec<i32> = dir
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .collect();
    for fd in fds {
        if fd > 2 && !keep.contains(&fd) {
            let _ = nix::unistd::close(fd);
        }
    }
}
