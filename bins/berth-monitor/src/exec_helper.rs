//! The container's exec helper. Docker-style exec (runc's, or libcontainer's tenant builder)
//! builds every exec'd process from outside: a new process joins the container's namespaces
//! and writes itself into each of its cgroups. On cgroup v1 that write waits for an RCU grace
//! period whenever the machine has been idle (about 15 ms here), which alone is most of an
//! exec. The helper pays that once: at the first exec, the monitor forks it; it joins the
//! cgroups and namespaces (all but the PID namespace, which only its children enter, so it is
//! not among the container's processes) and then forks each exec'd process from inside.
//! Each child still sets up its own session, user and capabilities, as a tenant would, from
//! the container's OCI spec; the seccomp filter it inherits from the helper.
//!
//! Protocol: the daemon connects to the exec socket and sends one [`ExecRequest`] line with
//! the process's stdin, stdout and stderr attached; the helper answers `started` (with the
//! terminal's master side when the request asks for one) or `failed`, then `exited` when the
//! process is gone ([`ExecReply`]).

use std::ffi::CString;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

use berth_runtime::fdpass;
use berth_runtime::monitor::{ExecReply, ExecRequest};
use nix::sched::CloneFlags;
use nix::unistd::{Gid, Uid};
use oci_spec::runtime::{Capability, LinuxCapabilities, LinuxCapabilitiesBuilder, Spec};
use rustix::event::{poll, PollFd, PollFlags};
use rustix::process::{pidfd_open, waitid, Pid, PidfdFlags, WaitId, WaitIdOptions};

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
fn fork_child(child: impl FnOnce() -> i32) -> std::io::Result<Pid> {
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
    join_cgroups(init)?;
    join_namespaces(init)?;
    // The container's seccomp filter, loaded here once and inherited by every exec'd process
    // through fork. Compiling it per process took 2.5 ms of each exec; the filter is the same
    // for all of them (Docker applies the container's profile to execs, privileged or not),
    // and everything the helper does from here on is allowed by it.
    if let Some(filter) = spec.linux().as_ref().and_then(|l| l.seccomp().as_ref()) {
        libcontainer::seccomp::initialize_seccomp(filter).map_err(|e| format!("seccomp: {e}"))?;
    }
    give_back_freed_memory();
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
                    if let Some(c) = start(conn, &spec, &nofile) {
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

/// Moves this process into the init process's cgroup in every hierarchy where it is not
/// already. Done before entering the mount namespace, while `/sys/fs/cgroup` is the host's.
fn join_cgroups(init: Pid) -> Result<(), String> {
    let theirs = std::fs::read_to_string(format!("/proc/{}/cgroup", init.as_raw_nonzero()))
        .map_err(|e| format!("init's cgroups: {e}"))?;
    let ours = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    let me = std::process::id().to_string();
    let cgroups = berth_runtime::stats::CgroupFs::default();
    for line in theirs.lines() {
        if ours.lines().any(|l| l == line) {
            continue;
        }
        let mut parts = line.splitn(3, ':');
        let (Some(_), Some(controllers), Some(path)) = (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        let Some(mount) = cgroups.hierarchy(controllers) else {
            continue;
        };
        let procs = mount
            .join(path.trim_start_matches('/'))
            .join("cgroup.procs");
        std::fs::write(&procs, &me).map_err(|e| format!("join {}: {e}", procs.display()))?;
    }
    Ok(())
}

/// Enters the init process's namespaces that differ from ours; the PID namespace applies to
/// the children only. The mount namespace goes last: after it, `/proc` is the container's.
fn join_namespaces(init: Pid) -> Result<(), String> {
    let kinds = [
        ("ipc", CloneFlags::CLONE_NEWIPC),
        ("uts", CloneFlags::CLONE_NEWUTS),
        ("net", CloneFlags::CLONE_NEWNET),
        ("pid", CloneFlags::CLONE_NEWPID),
        ("cgroup", CloneFlags::CLONE_NEWCGROUP),
        ("mnt", CloneFlags::CLONE_NEWNS),
    ];
    let mut to_join = Vec::new();
    for (name, flag) in kinds {
        let path = format!("/proc/{}/ns/{name}", init.as_raw_nonzero());
        let theirs = std::fs::File::open(&path).map_err(|e| format!("{path}: {e}"))?;
        let same = match (
            rustix::fs::fstat(&theirs),
            rustix::fs::stat(format!("/proc/self/ns/{name}")),
        ) {
            (Ok(a), Ok(b)) => a.st_ino == b.st_ino && a.st_dev == b.st_dev,
            _ => false,
        };
        if !same {
            to_join.push((name, flag, theirs));
        }
    }
    for (name, flag, fd) in to_join {
        nix::sched::setns(fd.as_fd(), flag).map_err(|e| format!("join {name} namespace: {e}"))?;
    }
    std::env::set_current_dir("/").map_err(|e| format!("chdir /: {e}"))
}

/// One exec'd process the helper waits for.
struct Running {
    pid: Pid,
    pidfd: OwnedFd,
    conn: UnixStream,
}

impl Running {
    fn finish(self) {
        let code = match waitid(WaitId::PidFd(self.pidfd.as_fd()), WaitIdOptions::EXITED) {
            Ok(Some(s)) => s
                .exit_status()
                .or_else(|| s.terminating_signal().map(|sig| 128 + sig))
                .unwrap_or(255),
            _ => 255,
        };
        let _ = fdpass::send_line(&self.conn, &ExecReply::Exited { code }.to_line(), &[]);
    }
}

/// Reads a request and forks its process; answers `failed` when it cannot.
fn start(conn: UnixStream, spec: &Spec, nofile: &rustix::process::Rlimit) -> Option<Running> {
    let fail = |conn: &UnixStream, msg: String| {
        let _ = fdpass::send_line(conn, &ExecReply::Failed(msg).to_line(), &[]);
        None
    };
    // Only the daemon may ask (the socket is root's, 0600, in a root-only directory).
    match rustix::net::sockopt::socket_peercred(&conn) {
        Ok(cred) if cred.uid.is_root() || cred.uid == rustix::process::geteuid() => {}
        _ => return fail(&conn, "permission denied".into()),
    }
    // Never hang on it.
    let _ = conn.set_read_timeout(Some(Duration::from_secs(5)));
    let (line, fds) = match fdpass::recv_line(&conn, 1 << 20) {
        Ok(r) => r,
        Err(e) => return fail(&conn, format!("reading the request: {e}")),
    };
    let req: ExecRequest = match serde_json::from_str(&line) {
        Ok(r) => r,
        Err(e) => return fail(&conn, format!("bad request: {e}")),
    };
    let (stdio, master) = if req.tty {
        match open_terminal() {
            Ok((master, slave)) => {
                let dup = || slave.try_clone();
                match (dup(), dup()) {
                    (Ok(a), Ok(b)) => ([slave, a, b], Some(master)),
                    _ => return fail(&conn, "terminal: dup failed".into()),
                }
            }
            Err(e) => return fail(&conn, format!("terminal: {e}")),
        }
    } else {
        match <[OwnedFd; 3]>::try_from(fds) {
            Ok(s) => (s, None),
            Err(_) => return fail(&conn, "expected stdin, stdout and stderr".into()),
        }
    };
    let pid = match fork_exec(&req, spec, stdio, nofile) {
        Ok(pid) => pid,
        Err(e) => return fail(&conn, format!("fork: {e}")),
    };
    let pidfd = match pidfd_open(pid, PidfdFlags::empty()) {
        Ok(fd) => fd,
        Err(e) => {
            // Cannot watch it: it must not run unwatched.
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
            let _ = rustix::process::waitpid(Some(pid), rustix::process::WaitOptions::empty());
            return fail(&conn, format!("pidfd: {e}"));
        }
    };
    let started = ExecReply::Started {
        pid: pid.as_raw_nonzero().get(),
    }
    .to_line();
    let passed: Vec<_> = master.iter().map(|m| m.as_fd()).collect();
    let _ = fdpass::send_line(&conn, &started, &passed);
    Some(Running { pid, pidfd, conn })
}

/// A new terminal in the container's own devpts (this process is in its mount namespace).
fn open_terminal() -> std::io::Result<(OwnedFd, OwnedFd)> {
    use rustix::pty::OpenptFlags;
    let master =
        rustix::pty::openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY | OpenptFlags::CLOEXEC)?;
    rustix::pty::grantpt(&master)?;
    rustix::pty::unlockpt(&master)?;
    // From the master itself rather than by path: no name lookup to race.
    let slave = rustix::pty::ioctl_tiocgptpeer(
        &master,
        OpenptFlags::RDWR | OpenptFlags::NOCTTY | OpenptFlags::CLOEXEC,
    )?;
    Ok((master, slave))
}

/// Forks the exec'd process. It never returns here: it execs or exits 126 after writing
/// Docker's message to its stdout, where the client sees it.
fn fork_exec(
    req: &ExecRequest,
    spec: &Spec,
    stdio: [OwnedFd; 3],
    nofile: &rustix::process::Rlimit,
) -> std::io::Result<Pid> {
    // The parent's copies close when `stdio` goes, once the child has its own.
    fork_child(move || {
        let err = match become_process(req, spec, stdio, nofile) {
            Err(e) => e,
            Ok(never) => match never {},
        };
        let msg = format!(
            "OCI runtime exec failed: exec failed: unable to start container process: {err}: unknown\r\n"
        );
        let _ = rustix::io::write(rustix::stdio::stdout(), msg.as_bytes());
        126
    })
}

/// Compiling the filter and parsing the spec left freed heap pages resident: return them, as
/// the helper lives as long as its container.
#[allow(unsafe_code)]
fn give_back_freed_memory() {
    // SAFETY: glibc's malloc_trim only walks the allocator's own free lists.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Ends a forked process without running the parent's exit handlers or flushing its buffers.
#[allow(unsafe_code)]
fn exit_now(code: i32) -> ! {
    // SAFETY: `_exit` takes no pointers and does not return.
    unsafe { libc::_exit(code) }
}

/// In the forked child: the steps of an OCI tenant's start, in runc's order, then exec. The
/// seccomp filter is already in place (inherited from the helper).
#[allow(unsafe_code)]
fn become_process(
    req: &ExecRequest,
    spec: &Spec,
    stdio: [OwnedFd; 3],
    nofile: &rustix::process::Rlimit,
) -> Result<std::convert::Infallible, String> {
    use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};
    for (target, fd) in stdio.iter().enumerate() {
        nix::unistd::dup2(fd.as_raw_fd(), target as i32).map_err(|e| format!("stdio: {e}"))?;
    }
    drop(stdio);
    // A fresh process: default signal handling (Rust ignores SIGPIPE; ignoring survives exec).
    let default = SigAction::new(SigHandler::SigDfl, SaFlags::empty(), SigSet::empty());
    for sig in [Signal::SIGPIPE, Signal::SIGCHLD] {
        // SAFETY: installs the default disposition, no handler code.
        let _ = unsafe { sigaction(sig, &default) };
    }
    let _ = nix::sys::signal::sigprocmask(
        nix::sys::signal::SigmaskHow::SIG_SETMASK,
        Some(&SigSet::empty()),
        None,
    );
    nix::unistd::setsid().map_err(|e| format!("setsid: {e}"))?;
    if req.tty {
        let stdin = rustix::stdio::stdin();
        rustix::process::ioctl_tiocsctty(stdin)
            .map_err(|e| format!("controlling terminal: {e}"))?;
    }
    give_stdio_to(req.uid);
    let _ = rustix::process::setrlimit(rustix::process::Resource::Nofile, *nofile);
    let process = spec.process().as_ref().ok_or("the spec has no process")?;
    if let Some(adj) = process.oom_score_adj() {
        std::fs::write("/proc/self/oom_score_adj", adj.to_string())
            .map_err(|e| format!("oom_score_adj: {e}"))?;
    }
    let syscall = libcontainer::syscall::syscall::create_syscall();
    for rlimit in process.rlimits().iter().flatten() {
        syscall
            .set_rlimit(rlimit)
            .map_err(|e| format!("rlimit: {e}"))?;
    }
    let no_new_privs = process.no_new_privileges() == Some(true);
    if no_new_privs {
        rustix::thread::set_no_new_privs(true).map_err(|e| format!("no_new_privs: {e}"))?;
    }
    let cwd = if req.cwd.is_empty() {
        "/"
    } else {
        req.cwd.as_str()
    };
    // As another user the directory may be out of reach until the user is set.
    let chdir_later = match nix::unistd::chdir(cwd) {
        Ok(()) => false,
        Err(nix::errno::Errno::EPERM | nix::errno::Errno::EACCES) => true,
        Err(e) => {
            return Err(format!(
                "chdir to cwd (\"{cwd}\") set in config.json failed: {e}"
            ))
        }
    };
    let groups: Vec<Gid> = req
        .additional_gids
        .iter()
        .map(|g| Gid::from_raw(*g))
        .collect();
    syscall
        .set_groups(&groups)
        .map_err(|e| format!("setgroups: {e}"))?;
    syscall
        .set_id(Uid::from_raw(req.uid), Gid::from_raw(req.gid))
        .map_err(|e| format!("setuid: {e}"))?;
    syscall
        .close_range(0)
        .map_err(|e| format!("close_range: {e}"))?;
    libcontainer::capabilities::reset_effective(syscall.as_ref())
        .map_err(|e| format!("capabilities: {e}"))?;
    let mut caps = match &req.capabilities {
        Some(names) => Some(capability_set(names)?),
        None => process.capabilities().clone(),
    };
    // Sets the spec leaves out are empty, not whatever the daemon was started with.
    if let Some(c) = caps.as_mut() {
        if c.inheritable().is_none() {
            c.set_inheritable(Some(Default::default()));
        }
        if c.ambient().is_none() {
            c.set_ambient(Some(Default::default()));
        }
    }
    if let Some(caps) = &caps {
        libcontainer::capabilities::drop_privileges(caps, syscall.as_ref())
            .map_err(|e| format!("capabilities: {e}"))?;
    }
    if chdir_later {
        nix::unistd::chdir(cwd)
            .map_err(|e| format!("chdir to cwd (\"{cwd}\") set in config.json failed: {e}"))?;
    }
    let program = req.args.first().ok_or("no command")?;
    let path = find_program(program, &req.env)?;
    let cstr = |s: &str| CString::new(s).map_err(|_| format!("{s:?} contains a NUL byte"));
    let argv = req
        .args
        .iter()
        .map(|a| cstr(a))
        .collect::<Result<Vec<_>, _>>()?;
    let envp = req
        .env
        .iter()
        .map(|e| cstr(e))
        .collect::<Result<Vec<_>, _>>()?;
    let e = nix::unistd::execve(&cstr(&path)?, &argv, &envp).unwrap_err();
    Err(format!("exec {path}: {}", e.desc().to_lowercase()))
}

/// The process's stdio become its user's, as runc's fixStdioPermissions does: pipes and
/// terminals are root's 0600 otherwise, and `/dev/stderr` could not be opened by another user.
/// `/dev/null` stays as it is.
fn give_stdio_to(uid: u32) {
    for fd in [
        rustix::stdio::stdin(),
        rustix::stdio::stdout(),
        rustix::stdio::stderr(),
    ] {
        let Ok(st) = rustix::fs::fstat(fd) else {
            continue;
        };
        let kind = rustix::fs::FileType::from_raw_mode(st.st_mode);
        let null = kind == rustix::fs::FileType::CharacterDevice
            && rustix::fs::major(st.st_rdev) == 1
            && rustix::fs::minor(st.st_rdev) == 3;
        if !null && st.st_uid != uid {
            let _ = rustix::fs::fchown(fd, Some(rustix::fs::Uid::from_raw(uid)), None);
        }
    }
}

fn capability_set(names: &[String]) -> Result<LinuxCapabilities, String> {
    let set = names
        .iter()
        // As the spec spells them (`CAP_CHOWN`), which is their serde form.
        .map(|n| {
            serde_json::from_value::<Capability>(serde_json::Value::String(n.clone()))
                .map_err(|e| format!("capability {n}: {e}"))
        })
        .collect::<Result<std::collections::HashSet<_>, _>>()?;
    LinuxCapabilitiesBuilder::default()
        .bounding(set.clone())
        .effective(set.clone())
        .permitted(set)
        .build()
        .map_err(|e| e.to_string())
}

/// `execvp`'s search, with the process's own `PATH`, as runc does it.
fn find_program(name: &str, env: &[String]) -> Result<String, String> {
    if name.contains('/') {
        return Ok(name.to_string());
    }
    let path = env
        .iter()
        .find_map(|e| e.strip_prefix("PATH="))
        .unwrap_or("");
    for dir in path.split(':').filter(|d| !d.is_empty()) {
        let candidate = format!("{}/{name}", dir.trim_end_matches('/'));
        let Ok(st) = rustix::fs::stat(candidate.as_str()) else {
            continue;
        };
        let regular =
            rustix::fs::FileType::from_raw_mode(st.st_mode) == rustix::fs::FileType::RegularFile;
        if regular && rustix::fs::access(candidate.as_str(), rustix::fs::Access::EXEC_OK).is_ok() {
            return Ok(candidate);
        }
    }
    Err(format!(
        "exec: \"{name}\": executable file not found in $PATH"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn programs_are_found_on_the_process_path() {
        let env = vec!["PATH=/nonexistent:/bin:/usr/bin".to_string()];
        assert_eq!(find_program("sh", &env).unwrap(), "/bin/sh");
        assert_eq!(find_program("./x", &env).unwrap(), "./x");
        assert_eq!(
            find_program("no-such-program", &env).unwrap_err(),
            "exec: \"no-such-program\": executable file not found in $PATH"
        );
        // Directories and non-executables are skipped.
        let env = vec!["PATH=/etc:/".to_string()];
        assert!(find_program("passwd", &env).is_err());
        assert!(find_program("sh", &[]).is_err());
    }

    #[test]
    fn capability_names_become_a_set() {
        let c = capability_set(&["CAP_CHOWN".into(), "CAP_KILL".into()]).unwrap();
        assert_eq!(c.bounding().as_ref().unwrap().len(), 2);
        assert!(capability_set(&["CAP_BOGUS".into()]).is_err());
    }
}
