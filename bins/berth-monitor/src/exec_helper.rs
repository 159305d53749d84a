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
fn start(
    conn: UnixStream,
    spec: &Spec,
    nofile: &rustix::process::Rlimit,
    stack: &mut ChildStack,
) -> Option<Running> {
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
    let pid = match spawn_exec(&req, spec, &stdio, nofile, stack) {
        Ok(pid) => pid,
        Err(e) => return fail(&conn, e),
    };
    // The process has its own copies now.
    drop(stdio);
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

/// Starts the exec'd process and returns once it has exec'd, or has failed to and exited 126
/// after writing Docker's message to its stdout, where the client sees it.
fn spawn_exec(
    req: &ExecRequest,
    spec: &Spec,
    stdio: &[OwnedFd; 3],
    nofile: &rustix::process::Rlimit,
    stack: &mut ChildStack,
) -> Result<Pid, String> {
    let launch = Launch::new(req, spec, stdio, *nofile)
        .map_err(|e| format!("exec failed: unable to start container process: {e}"))?;
    clone_vfork(&launch, stack).map_err(|e| format!("clone: {e}"))
}

/// Everything an exec'd process needs, made by the helper before the clone. The child shares
/// the helper's memory until its execve, so it only reads this: it moves and frees nothing of
/// the helper's, and frees what it allocates itself before it execs or exits.
struct Launch<'a> {
    req: &'a ExecRequest,
    process: &'a oci_spec::runtime::Process,
    stdio: [std::os::fd::BorrowedFd<'a>; 3],
    nofile: rustix::process::Rlimit,
    syscall: Box<dyn libcontainer::syscall::Syscall>,
    groups: Vec<Gid>,
    capabilities: Option<LinuxCapabilities>,
    cwd: CString,
    /// Where to look for the program ([`program_candidates`]).
    candidates: Vec<CString>,
    /// `execve`'s argument and environment arrays (NULL-terminated), pointing into `strings`.
    argv: Vec<*const libc::c_char>,
    envp: Vec<*const libc::c_char>,
    /// Owns what `argv` and `envp` point to.
    #[allow(dead_code)]
    strings: Vec<CString>,
}

impl<'a> Launch<'a> {
    fn new(
        req: &'a ExecRequest,
        spec: &'a Spec,
        stdio: &'a [OwnedFd; 3],
        nofile: rustix::process::Rlimit,
    ) -> Result<Launch<'a>, String> {
        let process = spec.process().as_ref().ok_or("the spec has no process")?;
        let cstr = |s: &str| CString::new(s).map_err(|_| format!("{s:?} contains a NUL byte"));
        let program = req.args.first().ok_or("no command")?;
        let candidates = program_candidates(program, &req.env)
            .iter()
            .map(|c| cstr(c))
            .collect::<Result<_, _>>()?;
        let mut capabilities = match &req.capabilities {
            Some(names) => Some(capability_set(names)?),
            None => process.capabilities().clone(),
        };
        // Sets the spec leaves out are empty, not whatever the daemon was started with.
        if let Some(c) = capabilities.as_mut() {
            if c.inheritable().is_none() {
                c.set_inheritable(Some(Default::default()));
            }
            if c.ambient().is_none() {
                c.set_ambient(Some(Default::default()));
            }
        }
        let strings: Vec<CString> = req
            .args
            .iter()
            .chain(req.env.iter())
            .map(|s| cstr(s))
            .collect::<Result<_, _>>()?;
        let pointers = |range: &[CString]| {
            range
                .iter()
                .map(|s| s.as_ptr())
                .chain(std::iter::once(std::ptr::null()))
                .collect::<Vec<_>>()
        };
        let (args, env) = strings.split_at(req.args.len());
        let (argv, envp) = (pointers(args), pointers(env));
        Ok(Launch {
            req,
            process,
            stdio: [stdio[0].as_fd(), stdio[1].as_fd(), stdio[2].as_fd()],
            nofile,
            syscall: libcontainer::syscall::syscall::create_syscall(),
            groups: req
                .additional_gids
                .iter()
                .map(|g| Gid::from_raw(*g))
                .collect(),
            capabilities,
            cwd: cstr(if req.cwd.is_empty() { "/" } else { &req.cwd })?,
            candidates,
            argv,
            envp,
            strings,
        })
    }
}

/// The stack exec'd processes run on until their execve: mapped once, reused by each (the
/// helper waits while one runs on it).
struct ChildStack {
    base: *mut libc::c_void,
    size: usize,
}

impl ChildStack {
    const SIZE: usize = 1 << 20;

    #[allow(unsafe_code)]
    fn new() -> std::io::Result<ChildStack> {
        // SAFETY: a fresh anonymous mapping; nothing else refers to it.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                Self::SIZE,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_STACK | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(std::io::Error::last_os_error());
        }
        // A guard page below it: an overflow faults rather than writing into other memory.
        // SAFETY: the first page of the mapping just made.
        if unsafe { libc::mprotect(base, 4096, libc::PROT_NONE) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(ChildStack {
            base,
            size: Self::SIZE,
        })
    }
}

/// Starts `launch` in a child that shares this process's memory and waits until the child
/// has exec'd or exited (`CLONE_VM | CLONE_VFORK`, as posix_spawn and Go's os/exec start
/// processes). A fork copied the helper's page tables and then took copy-on-write faults on
/// both sides: about 0.3 ms of each exec here.
#[allow(unsafe_code)]
fn clone_vfork(launch: &Launch<'_>, stack: &mut ChildStack) -> std::io::Result<Pid> {
    extern "C" fn entry(arg: *mut libc::c_void) -> libc::c_int {
        // SAFETY: `arg` is the `Launch` that `clone_vfork` borrows, alive while the helper
        // waits for this child.
        let launch = unsafe { &*(arg as *const Launch<'_>) };
        become_process(launch)
    }
    use nix::sys::signal::{SigSet, SigmaskHow};
    // No signal handler of the helper's may run in the child before it has reset them.
    let mut previous = SigSet::empty();
    nix::sys::signal::pthread_sigmask(
        SigmaskHow::SIG_SETMASK,
        Some(&SigSet::all()),
        Some(&mut previous),
    )?;
    // SAFETY: the stack is ours and unused while no child runs on it; the child only reads
    // `launch` (see `Launch`) and this thread is suspended until the child execs or exits.
    let pid = unsafe {
        libc::clone(
            entry,
            (stack.base as *mut u8).add(stack.size) as *mut libc::c_void,
            libc::CLONE_VM | libc::CLONE_VFORK | libc::SIGCHLD,
            launch as *const Launch<'_> as *mut libc::c_void,
        )
    };
    let error = std::io::Error::last_os_error();
    let _ = nix::sys::signal::pthread_sigmask(SigmaskHow::SIG_SETMASK, Some(&previous), None);
    if pid <= 0 {
        return Err(error);
    }
    Pid::from_raw(pid).ok_or(error)
}

/// In the child: the steps of an OCI tenant's start, in runc's order, then exec. Returns only
/// when the process could not be started, with its exit code.
fn become_process(launch: &Launch<'_>) -> i32 {
    let err = match set_up(launch).and_then(|()| exec_program(launch)) {
        Err(e) => e,
        Ok(never) => match never {},
    };
    let msg = format!(
        "OCI runtime exec failed: exec failed: unable to start container process: {err}: unknown\r\n"
    );
    let _ = rustix::io::write(rustix::stdio::stdout(), msg.as_bytes());
    126
}

/// Ends a forked process without running the parent's exit handlers or flushing its buffers.
#[allow(unsafe_code)]
fn exit_now(code: i32) -> ! {
    // SAFETY: `_exit` takes no pointers and does not return.
    unsafe { libc::_exit(code) }
}

/// The child's setup before its execve. The seccomp filter is already in place (inherited
/// from the helper), and so is the container's `oom_score_adj`.
#[allow(unsafe_code)]
fn set_up(launch: &Launch<'_>) -> Result<(), String> {
    use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};
    let req = launch.req;
    for (target, fd) in launch.stdio.iter().enumerate() {
        nix::unistd::dup2(fd.as_raw_fd(), target as i32).map_err(|e| format!("stdio: {e}"))?;
    }
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
    let _ = rustix::process::setrlimit(rustix::process::Resource::Nofile, launch.nofile);
    let syscall = launch.syscall.as_ref();
    for rlimit in launch.process.rlimits().iter().flatten() {
        syscall
            .set_rlimit(rlimit)
            .map_err(|e| format!("rlimit: {e}"))?;
    }
    if launch.process.no_new_privileges() == Some(true) {
        rustix::thread::set_no_new_privs(true).map_err(|e| format!("no_new_privs: {e}"))?;
    }
    let cwd = launch.cwd.as_c_str();
    let chdir_failed = |e: rustix::io::Errno| {
        format!(
            "chdir to cwd ({:?}) set in config.json failed: {}",
            cwd.to_string_lossy(),
            describe(e)
        )
    };
    // As another user the directory may be out of reach until the user is set.
    let chdir_later = match rustix::process::chdir(cwd) {
        Ok(()) => false,
        Err(rustix::io::Errno::PERM | rustix::io::Errno::ACCESS) => true,
        Err(e) => return Err(chdir_failed(e)),
    };
    syscall
        .set_groups(&launch.groups)
        .map_err(|e| format!("setgroups: {e}"))?;
    syscall
        .set_id(Uid::from_raw(req.uid), Gid::from_raw(req.gid))
        .map_err(|e| format!("setuid: {e}"))?;
    syscall
        .close_range(0)
        .map_err(|e| format!("close_range: {e}"))?;
    libcontainer::capabilities::reset_effective(syscall)
        .map_err(|e| format!("capabilities: {e}"))?;
    if let Some(caps) = &launch.capabilities {
        libcontainer::capabilities::drop_privileges(caps, syscall)
            .map_err(|e| format!("capabilities: {e}"))?;
    }
    if chdir_later {
        rustix::process::chdir(cwd).map_err(chdir_failed)?;
    }
    Ok(())
}

/// `execvp`'s search with the process's own `PATH`, as runc does it, then the exec.
#[allow(unsafe_code)]
fn exec_program(launch: &Launch<'_>) -> Result<std::convert::Infallible, String> {
    let path = find_program(&launch.req.args[0], &launch.candidates)?;
    // SAFETY: the path and both arrays are NUL-terminated C strings and NULL-terminated
    // arrays of them, owned by `launch` (see `Launch::new`).
    unsafe { libc::execve(path.as_ptr(), launch.argv.as_ptr(), launch.envp.as_ptr()) };
    let e = rustix::io::Errno::from_raw_os_error(
        std::io::Error::last_os_error().raw_os_error().unwrap_or(0),
    );
    Err(format!("exec {}: {}", path.to_string_lossy(), describe(e)))
}

/// An error as runc words it: `no such file or directory`.
fn describe(e: rustix::io::Errno) -> String {
    nix::errno::Errno::from_raw(e.raw_os_error())
        .desc()
        .to_lowercase()
}

/// A regular file this process may execute.
fn is_executable(path: &std::ffi::CStr) -> bool {
    let Ok(st) = rustix::fs::stat(path) else {
        return false;
    };
    rustix::fs::FileType::from_raw_mode(st.st_mode) == rustix::fs::FileType::RegularFile
        && rustix::fs::access(path, rustix::fs::Access::EXEC_OK).is_ok()
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

/// Where `execvp` would look for `program`: the name itself when it has a `/`, else its
/// entry in each directory of the process's own `PATH`, in order.
fn program_candidates(program: &str, env: &[String]) -> Vec<String> {
    if program.contains('/') {
        return vec![program.to_string()];
    }
    let path = env
        .iter()
        .find_map(|e| e.strip_prefix("PATH="))
        .unwrap_or("");
    path.split(':')
        .filter(|d| !d.is_empty())
        .map(|d| format!("{}/{program}", d.trim_end_matches('/')))
        .collect()
}

/// The search itself, as runc does it: a path is taken as it is, a name is the first
/// candidate that is an executable regular file.
fn find_program<'c>(
    program: &str,
    candidates: &'c [CString],
) -> Result<&'c std::ffi::CStr, String> {
    let found = if program.contains('/') {
        candidates.first()
    } else {
        candidates.iter().find(|c| is_executable(c))
    };
    found
        .map(CString::as_c_str)
        .ok_or_else(|| format!("exec: \"{program}\": executable file not found in $PATH"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn programs_are_found_on_the_process_path() {
        let find = |program: &str, env: &[String]| {
            let candidates: Vec<CString> = program_candidates(program, env)
                .into_iter()
                .map(|c| CString::new(c).unwrap())
                .collect();
            find_program(program, &candidates).map(|c| c.to_str().unwrap().to_string())
        };
        let env = vec!["PATH=/nonexistent:/bin/:/usr/bin".to_string()];
        assert_eq!(
            program_candidates("sh", &env),
            ["/nonexistent/sh", "/bin/sh", "/usr/bin/sh"]
        );
        assert_eq!(find("sh", &env).unwrap(), "/bin/sh");
        assert_eq!(find("./x", &env).unwrap(), "./x");
        assert_eq!(
            find("no-such-program", &env).unwrap_err(),
            "exec: \"no-such-program\": executable file not found in $PATH"
        );
        // Directories and non-executables are skipped.
        let env = vec!["PATH=/etc:/".to_string()];
        assert!(find("passwd", &env).is_err());
        assert!(find("sh", &[]).is_err());
    }

    #[test]
    fn capability_names_become_a_set() {
        let c = capability_set(&["CAP_CHOWN".into(), "CAP_KILL".into()]).unwrap();
        assert_eq!(c.bounding().as_ref().unwrap().len(), 2);
        assert!(capability_set(&["CAP_BOGUS".into()]).is_err());
    }
}
