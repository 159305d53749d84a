//! Starting one exec'd process: its stdio or terminal, a `vfork`-style clone on a stack of its own, and the child's setup (session, user, capabilities) before it runs the program.

use berth_runtime::fdpass;
use berth_runtime::monitor::{ExecReply, ExecRequest};
use nix::unistd::{Gid, Uid};
use oci_spec::runtime::{Capability, LinuxCapabilities, LinuxCapabilitiesBuilder, Spec};
use rustix::process::{pidfd_open, waitid, Pid, PidfdFlags, WaitId, WaitIdOptions};
use std::ffi::CString;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use super::program::{describe, exec_program, program_candidates};

/// One exec'd process the helper waits for.
pub(super) struct Running {
    pub(super) pid: Pid,
    pub(super) pidfd: OwnedFd,
    pub(super) conn: UnixStream,
}

impl Running {
    pub(super) fn finish(self) {
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
pub(super) fn start(
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
                // The size asked for, before the process runs.
                if let Some((rows, cols)) = req.console_size {
                    crate::tty::set_size(&master, rows, cols);
                }
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
pub(super) fn open_terminal() -> std::io::Result<(OwnedFd, OwnedFd)> {
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
pub(super) fn spawn_exec(
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
pub(super) struct Launch<'a> {
    pub(super) req: &'a ExecRequest,
    pub(super) process: &'a oci_spec::runtime::Process,
    pub(super) stdio: [std::os::fd::BorrowedFd<'a>; 3],
    pub(super) nofile: rustix::process::Rlimit,
    pub(super) syscall: Box<dyn libcontainer::syscall::Syscall>,
    pub(super) groups: Vec<Gid>,
    pub(super) capabilities: Option<LinuxCapabilities>,
    pub(super) cwd: CString,
    /// Where to look for the program ([`program_candidates`]).
    pub(super) candidates: Vec<CString>,
    /// `execve`'s argument and environment arrays (NULL-terminated), pointing into `strings`.
    pub(super) argv: Vec<*const libc::c_char>,
    pub(super) envp: Vec<*const libc::c_char>,
    /// Owns what `argv` and `envp` point to.
    #[allow(dead_code)]
    pub(super) strings: Vec<CString>,
}

impl<'a> Launch<'a> {
    pub(super) fn new(
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
pub(super) struct ChildStack {
    base: *mut libc::c_void,
    size: usize,
}

impl ChildStack {
    const SIZE: usize = 1 << 20;

    #[allow(unsafe_code)]
    pub(super) fn new() -> std::io::Result<ChildStack> {
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
pub(super) fn clone_vfork(launch: &Launch<'_>, stack: &mut ChildStack) -> std::io::Result<Pid> {
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
pub(super) fn become_process(launch: &Launch<'_>) -> i32 {
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
pub(super) fn exit_now(code: i32) -> ! {
    // SAFETY: `_exit` takes no pointers and does not return.
    unsafe { libc::_exit(code) }
}

/// The child's setup before its execve. The seccomp filter is already in place (inherited
/// from the helper), and so is the container's `oom_score_adj`.
#[allow(unsafe_code)]
pub(super) fn set_up(launch: &Launch<'_>) -> Result<(), String> {
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

/// The process's stdio become its user's, as runc's fixStdioPermissions does: pipes and
/// terminals are root's 0600 otherwise, and `/dev/stderr` could not be opened by another user.
/// `/dev/null` stays as it is.
pub(super) fn give_stdio_to(uid: u32) {
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

pub(super) fn capability_set(names: &[String]) -> Result<LinuxCapabilities, String> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capability_names_become_a_set() {
        let c = capability_set(&["CAP_CHOWN".into(), "CAP_KILL".into()]).unwrap();
        assert_eq!(c.bounding().as_ref().unwrap().len(), 2);
        assert!(capability_set(&["CAP_BOGUS".into()]).is_err());
    }
}
