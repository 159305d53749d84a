//! `berth-monitor`: one per running container, in the spirit of conmon.
//!
//! It creates and starts the container through libcontainer (whose `clone3` makes the
//! container's init a child of this process, which is why this is not the daemon), reports
//! the container's PID on stdout, then lives single-threaded until the container exits:
//! reading the container's stdout/stderr into the json-file log, and finally recording the
//! exit code and time in the exit file. It carries no HTTP and no async runtime.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::process::ExitCode;

mod stdin;
mod tty;

use berth_runtime::logfile::LogWriter;
use berth_runtime::monitor::{ExitRecord, MonitorArgs, StartReport};
use libcontainer::container::builder::ContainerBuilder;
use libcontainer::container::Container;
use libcontainer::syscall::syscall::SyscallType;
use rustix::event::{poll, PollFd, PollFlags};
use rustix::fs::{fcntl_setfl, OFlags};
use rustix::process::{pidfd_open, waitpid, Pid, PidfdFlags, WaitOptions};

struct Running {
    container: Container,
    pid: Pid,
    /// The container's stdout, or its terminal's master side with a TTY.
    stdout: OwnedFd,
    /// The container's stderr (without a TTY; with one, a pipe nobody writes).
    stderr: OwnedFd,
    stdin: Option<stdin::StdinRelay>,
    resizer: Option<(tty::Resizer, OwnedFd)>,
}

fn start(args: &MonitorArgs) -> Result<Running, String> {
    let devnull = File::open("/dev/null").map_err(|e| format!("open /dev/null: {e}"))?;
    let (out_r, out_w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)
        .map_err(|e| format!("pipe: {e}"))?;
    let (err_r, err_w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)
        .map_err(|e| format!("pipe: {e}"))?;
    if args.tty {
        return start_tty(args);
    }
    let (container_stdin, relay) = match &args.stdin_socket {
        Some(sock) => {
            let (r, w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)
                .map_err(|e| format!("pipe: {e}"))?;
            let relay = stdin::StdinRelay::new(sock, w, args.stdin_once)
                .map_err(|e| format!("stdin socket {}: {e}", sock.display()))?;
            (r, Some(relay))
        }
        None => (OwnedFd::from(devnull), None),
    };
    let mut container = ContainerBuilder::new(args.id.clone(), SyscallType::default())
        .with_root_path(&args.runtime_root)
        .map_err(|e| format!("runtime root: {e}"))?
        .with_stdin(container_stdin)
        .with_stdout(out_w)
        .with_stderr(err_w)
        .as_init(&args.bundle)
        .with_systemd(false)
        .with_detach(true)
        .build()
        .map_err(|e| format!("create container: {e}"))?;
    if let Err(e) = container.start() {
        let _ = container.delete(true);
        return Err(format!("start container: {e}"));
    }
    let pid = container.pid().ok_or("container has no pid")?.as_raw();
    Ok(Running {
        container,
        pid: Pid::from_raw(pid).ok_or("bad pid")?,
        stdout: out_r,
        stderr: err_r,
        stdin: relay,
        resizer: None,
    })
}

/// Starts the container on a pseudo-terminal: its master side is both the output and the
/// input, and can be resized.
fn start_tty(args: &MonitorArgs) -> Result<Running, String> {
    // Beside the resize socket: Unix socket paths are limited to 108 bytes, too few for the
    // bundle directory.
    let console = args
        .resize_socket
        .as_ref()
        .map(|p| p.with_extension("con"))
        .unwrap_or_else(|| args.bundle.join("console.sock"));
    let _ = std::fs::remove_file(&console);
    let listener = std::os::unix::net::UnixListener::bind(&console)
        .map_err(|e| format!("console socket: {e}"))?;
    let mut container = ContainerBuilder::new(args.id.clone(), SyscallType::default())
        .with_root_path(&args.runtime_root)
        .map_err(|e| format!("runtime root: {e}"))?
        .with_console_socket(Some(&console))
        .as_init(&args.bundle)
        .with_systemd(false)
        .with_detach(true)
        .build()
        .map_err(|e| format!("create container: {e}"))?;
    let received = tty::receive_master(&listener);
    drop(listener);
    let _ = std::fs::remove_file(&console);
    let master = match received {
        Ok(m) => m,
        Err(e) => {
            let _ = container.delete(true);
            return Err(format!("terminal: {e}"));
        }
    };
    if let Err(e) = container.start() {
        let _ = container.delete(true);
        return Err(format!("start container: {e}"));
    }
    let pid = container.pid().ok_or("container has no pid")?.as_raw();
    let dup = |fd: &OwnedFd| fd.try_clone().map_err(|e| format!("dup: {e}"));
    let relay = match &args.stdin_socket {
        Some(sock) => Some(
            stdin::StdinRelay::new(sock, dup(&master)?, false)
                .map_err(|e| format!("stdin socket: {e}"))?,
        ),
        None => None,
    };
    let resizer = match &args.resize_socket {
        Some(p) => Some((
            tty::Resizer::new(p).map_err(|e| format!("resize socket: {e}"))?,
            dup(&master)?,
        )),
        None => None,
    };
    // Nothing writes a separate stderr with a terminal: an empty pipe stands in.
    let (err_r, _) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)
        .map_err(|e| format!("pipe: {e}"))?;
    Ok(Running {
        container,
        pid: Pid::from_raw(pid).ok_or("bad pid")?,
        stdout: master,
        stderr: err_r,
        stdin: relay,
        resizer,
    })
}

/// Prints the start report for the daemon, then points stdout at /dev/null: the daemon may go
/// away and must not take the monitor with it (SIGPIPE).
fn report(r: &StartReport) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(
        out,
        "{}",
        serde_json::to_string(r).expect("report serialises")
    );
    let _ = out.flush();
    drop(out);
    if let Ok(devnull) = File::options().write(true).open("/dev/null") {
        let _ = rustix::stdio::dup2_stdout(&devnull);
    }
}

/// Reads what is available on `fd` into the log; returns false at EOF.
fn pump(fd: &OwnedFd, stream: usize, log: &mut LogWriter, buf: &mut [u8]) -> bool {
    let mut file = File::from(fd.try_clone().expect("dup"));
    loop {
        match file.read(buf) {
            Ok(0) => return false,
            Ok(n) => {
                if let Err(e) = log.feed(stream, &buf[..n]) {
                    eprintln!("berth-monitor: writing log: {e}");
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return true,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => return false,
        }
    }
}

fn supervise(mut run: Running, args: &MonitorArgs) -> i32 {
    let mut log = match LogWriter::open(&args.log_path, args.log_max_size, args.log_max_files) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("berth-monitor: open log {}: {e}", args.log_path.display());
            return 1;
        }
    };
    for fd in [&run.stdout, &run.stderr] {
        let _ = fcntl_setfl(fd, OFlags::NONBLOCK);
    }
    let pidfd = pidfd_open(run.pid, PidfdFlags::empty()).expect("pidfd_open on our own child");
    // Small: this buffer is zeroed, so every byte of it is resident in every monitor.
    let mut buf = vec![0u8; 16 * 1024];
    let mut open = [true, true];
    loop {
        let mut fds = vec![PollFd::new(&pidfd, PollFlags::IN)];
        let streams: Vec<usize> = (0..2).filter(|i| open[*i]).collect();
        for i in &streams {
            fds.push(PollFd::new(
                if *i == 0 { &run.stdout } else { &run.stderr },
                PollFlags::IN,
            ));
        }
        if let Some(relay) = &run.stdin {
            fds.extend(relay.poll_fds());
        }
        if let Some((r, _)) = &run.resizer {
            fds.push(PollFd::new(r.listener(), PollFlags::IN));
        }
        if let Err(e) = poll(&mut fds, None) {
            if e == rustix::io::Errno::INTR {
                continue;
            }
            break;
        }
        let exited = !fds[0].revents().is_empty();
        let ready: Vec<usize> = streams
            .iter()
            .enumerate()
            .filter(|(k, _)| !fds[k + 1].revents().is_empty())
            .map(|(_, i)| *i)
            .collect();
        drop(fds);
        for i in ready {
            let fd = if i == 0 { &run.stdout } else { &run.stderr };
            open[i] = pump(fd, i, &mut log, &mut buf);
        }
        if let Some(relay) = run.stdin.as_mut() {
            relay.step(&mut buf);
        }
        if let Some((r, master)) = &run.resizer {
            r.step(master);
        }
        let _ = log.flush();
        if exited {
            break;
        }
    }
    let status = loop {
        match waitpid(Some(run.pid), WaitOptions::empty()) {
            Ok(Some((_, s))) => break Some(s),
            Ok(None) => continue,
            Err(rustix::io::Errno::INTR) => continue,
            Err(_) => break None,
        }
    };
    // What the container wrote just before exiting is still in the pipes. Processes it left
    // behind may hold them open: read what is there, without waiting for EOF.
    for (i, fd) in [&run.stdout, &run.stderr].into_iter().enumerate() {
        if open[i] {
            pump(fd, i, &mut log, &mut buf);
        }
    }
    let _ = log.flush_partial();
    let exit_code = match status {
        Some(s) => s
            .exit_status()
            .or_else(|| s.terminating_signal().map(|sig| 128 + sig))
            .unwrap_or(255),
        None => 255,
    };
    // Read before the cgroup goes with the container.
    let oom_killed = oom_killed(&args.bundle);
    if let Err(e) = run.container.delete(true) {
        eprintln!("berth-monitor: delete container state: {e}");
    }
    let record = ExitRecord {
        exit_code,
        finished_at: jiff::Timestamp::now().to_string(),
        oom_killed,
    };
    if let Err(e) = record.write(&args.exit_file) {
        eprintln!("berth-monitor: write exit file: {e}");
    }
    let _ = run.stdout.as_fd();
    exit_code
}

/// Whether the kernel's OOM killer killed a process of the container's cgroup (`oom_kill` in
/// v2 `memory.events`, or v1 `memory.oom_control`).
fn oom_killed(bundle: &std::path::Path) -> bool {
    let Ok(spec) = std::fs::read(bundle.join("config.json")) else {
        return false;
    };
    let Ok(spec) = serde_json::from_slice::<serde_json::Value>(&spec) else {
        return false;
    };
    let Some(cgroup) = spec["linux"]["cgroupsPath"].as_str() else {
        return false;
    };
    for file in [
        format!("/sys/fs/cgroup{cgroup}/memory.events"),
        format!("/sys/fs/cgroup/memory{cgroup}/memory.oom_control"),
    ] {
        if let Ok(text) = std::fs::read_to_string(&file) {
            return text
                .lines()
                .filter_map(|l| l.strip_prefix("oom_kill "))
                .any(|n| n.trim().parse::<u64>().unwrap_or(0) > 0);
        }
    }
    false
}

/// `berth-monitor exec '<ExecSpec JSON>'`: runs a process in a running container (all its
/// namespaces and its cgroup, through libcontainer's tenant builder) with this process's
/// stdin/stdout/stderr, which are pipes from the daemon; writes its PID to the pid file, waits
/// for it and exits with its exit code.
fn exec(spec_json: &str) -> ExitCode {
    let spec: berth_runtime::monitor::ExecSpec = match serde_json::from_str(spec_json) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("berth-monitor exec: bad spec: {e}");
            return ExitCode::from(2);
        }
    };
    let dup = |fd: std::os::fd::BorrowedFd<'_>| fd.try_clone_to_owned();
    let (Ok(stdin), Ok(stdout), Ok(stderr)) = (
        dup(std::io::stdin().as_fd()),
        dup(std::io::stdout().as_fd()),
        dup(std::io::stderr().as_fd()),
    ) else {
        return ExitCode::from(2);
    };
    let env: std::collections::HashMap<String, String> = spec
        .env
        .iter()
        .filter_map(|kv| {
            kv.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
        })
        .collect();
    let mut builder = ContainerBuilder::new(spec.container_id.clone(), SyscallType::default());
    builder = match builder.with_root_path(&spec.runtime_root) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("berth-monitor exec: runtime root: {e}");
            return ExitCode::from(2);
        }
    };
    let fail = |msg: String| {
        eprintln!("berth-monitor exec: {msg}");
        ExitCode::from(126)
    };
    // With a terminal the process is described in full (libcontainer takes `terminal` only
    // from a process file), and its stdio is the pty, relayed to ours below.
    let mut console = None;
    let process_file = spec.pid_file.with_extension("process.json");
    if spec.tty {
        let Some(sock) = spec.console_socket.clone() else {
            return fail("tty without a console socket".into());
        };
        let _ = std::fs::remove_file(&sock);
        let listener = match std::os::unix::net::UnixListener::bind(&sock) {
            Ok(l) => l,
            Err(e) => return fail(format!("console socket: {e}")),
        };
        let caps = spec.capabilities.clone().unwrap_or_default();
        let process = serde_json::json!({
            "terminal": true,
            "user": {"uid": spec.uid, "gid": spec.gid, "additionalGids": spec.additional_gids},
            "args": spec.args,
            "env": spec.env,
            "cwd": if spec.cwd.is_empty() { "/" } else { spec.cwd.as_str() },
            "capabilities": {"bounding": caps, "effective": caps, "permitted": caps},
        });
        if let Err(e) = std::fs::write(&process_file, process.to_string()) {
            return fail(format!("process file: {e}"));
        }
        builder = builder.with_console_socket(Some(&sock));
        console = Some((listener, sock));
    } else {
        builder = builder
            .with_stdin(stdin)
            .with_stdout(stdout)
            .with_stderr(stderr);
    }
    let mut tenant = builder
        .as_tenant()
        .with_container_args(spec.args.clone())
        .with_env(env)
        .with_cwd(if spec.cwd.is_empty() {
            None
        } else {
            Some(spec.cwd.clone())
        })
        .with_user(Some(spec.uid))
        .with_group(Some(spec.gid))
        .with_additional_gids(spec.additional_gids.clone())
        .with_detach(true);
    if spec.tty {
        tenant = tenant.with_process(Some(&process_file));
    }
    if let Some(caps) = &spec.capabilities {
        tenant = tenant.with_capabilities(caps.clone());
    }
    // libcontainer's tenant builder leaves a notify socket (and, with a terminal, a console
    // link) in the container's state directory on every exec. Builds into one container are
    // serialised by a lock on that directory, so once ours is done, any such file is stale.
    let state_dir = spec.runtime_root.join(&spec.container_id);
    let lock = File::open(&state_dir).and_then(|d| {
        rustix::fs::flock(&d, rustix::fs::FlockOperation::LockExclusive)
            .map(|()| d)
            .map_err(Into::into)
    });
    let built = tenant.build();
    if lock.is_ok() {
        remove_tenant_leftovers(&state_dir);
    }
    drop(lock);
    let _ = std::fs::remove_file(&process_file);
    let pid = match built {
        Ok(pid) => pid.as_raw(),
        Err(e) => return fail(format!("{e}")),
    };
    if let Some((listener, sock)) = console {
        let master = tty::receive_master(&listener);
        drop(listener);
        let _ = std::fs::remove_file(&sock);
        match master {
            Ok(m) => relay_tty(m, pid, spec.resize_socket.as_deref()),
            Err(e) => eprintln!("berth-monitor exec: terminal: {e}"),
        }
    }
    let _ = std::fs::write(&spec.pid_file, pid.to_string());
    let code = match Pid::from_raw(pid).map(|p| loop {
        match waitpid(Some(p), WaitOptions::empty()) {
            Ok(Some((_, s))) => break Some(s),
            Ok(None) | Err(rustix::io::Errno::INTR) => continue,
            Err(_) => break None,
        }
    }) {
        Some(Some(s)) => s
            .exit_status()
            .or_else(|| s.terminating_signal().map(|sig| 128 + sig))
            .unwrap_or(255),
        _ => 255,
    };
    // Exit codes are 0–255 and signals end as 128 + signal, so the value fits.
    ExitCode::from(u8::try_from(code).unwrap_or(255))
}

/// Removes the per-exec files libcontainer's tenant builder leaves behind.
fn remove_tenant_leftovers(state_dir: &std::path::Path) {
    let Ok(entries) = std::fs::read_dir(state_dir) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let name = name.to_string_lossy();
        if name.starts_with("tenant-notify-") || name.starts_with("tenant-tty-") {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

/// Copies between an exec's terminal and this process's stdin/stdout until the process ends.
fn relay_tty(master: OwnedFd, pid: i32, resize_socket: Option<&std::path::Path>) {
    let Some(p) = Pid::from_raw(pid) else { return };
    let Ok(pidfd) = pidfd_open(p, PidfdFlags::empty()) else {
        return;
    };
    let resizer = resize_socket.and_then(|s| tty::Resizer::new(s).ok());
    let _ = fcntl_setfl(&master, OFlags::NONBLOCK);
    let mut out = std::io::stdout().lock();
    let stdin_fd = std::io::stdin().as_fd().try_clone_to_owned().ok();
    let mut stdin_open = stdin_fd.is_some();
    let mut buf = vec![0u8; 16 * 1024];
    let mut term = File::from(master.try_clone().expect("dup"));
    loop {
        let mut fds = vec![
            PollFd::new(&pidfd, PollFlags::IN),
            PollFd::new(&master, PollFlags::IN),
        ];
        if let (true, Some(fd)) = (stdin_open, stdin_fd.as_ref()) {
            fds.push(PollFd::new(fd, PollFlags::IN));
        }
        if let Some(r) = &resizer {
            fds.push(PollFd::new(r.listener(), PollFlags::IN));
        }
        if poll(&mut fds, None).is_err() {
            continue;
        }
        let exited = !fds[0].revents().is_empty();
        let input = stdin_open && fds.len() > 2 && !fds[2].revents().is_empty();
        drop(fds);
        loop {
            match term.read(&mut buf) {
                Ok(n) if n > 0 => {
                    let _ = out.write_all(&buf[..n]);
                    let _ = out.flush();
                }
                _ => break,
            }
        }
        if input {
            if let Some(fd) = stdin_fd.as_ref() {
                match rustix::io::read(fd, &mut buf) {
                    Ok(0) | Err(_) => stdin_open = false,
                    Ok(n) => {
                        let _ = term.write_all(&buf[..n]);
                    }
                }
            }
        }
        if let Some(r) = &resizer {
            r.step(&master);
        }
        if exited {
            break;
        }
    }
    if let Some(s) = resize_socket {
        let _ = std::fs::remove_file(s);
    }
}

fn main() -> ExitCode {
    let mut argv = std::env::args().skip(1);
    if let Some(first) = std::env::args().nth(1) {
        if first == "exec" {
            let _ = argv.next();
            return match argv.next() {
                Some(spec) => exec(&spec),
                None => {
                    eprintln!("usage: berth-monitor exec '<spec json>'");
                    ExitCode::from(2)
                }
            };
        }
    }
    let args = match MonitorArgs::parse(std::env::args().skip(1)) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("berth-monitor: {e}");
            return ExitCode::from(2);
        }
    };
    match start(&args) {
        Err(error) => {
            report(&StartReport {
                pid: None,
                error: Some(error),
            });
            ExitCode::FAILURE
        }
        Ok(run) => {
            report(&StartReport {
                pid: Some(run.pid.as_raw_nonzero().get()),
                error: None,
            });
            supervise(run, &args);
            ExitCode::SUCCESS
        }
    }
}
