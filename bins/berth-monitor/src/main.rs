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

mod cgroupfs;
mod exec_helper;
mod memory;
mod stdin;
mod tty;

use berth_runtime::logfile::LogWriter;
use berth_runtime::monitor::{ExitRecord, MonitorArgs, MonitorState, StartReport};
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
    let creating = berth_runtime::cgroups::TreeLock::for_creating();
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
    drop(creating);
    if let Err(e) = seal_and_start(&mut container, args) {
        let _ = container.delete(true);
        return Err(e);
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

/// Makes the container's cgroup filesystem read-only when its spec asks (libcontainer
/// leaves cgroup v1 writable), then lets its process run.
fn seal_and_start(container: &mut Container, args: &MonitorArgs) -> Result<(), String> {
    let spec = read_spec(&args.bundle).ok_or("read the container's spec")?;
    if spec["linux"]["resources"]["memory"]["disableOOMKiller"] == true {
        let cgroup = spec["linux"]["cgroupsPath"]
            .as_str()
            .ok_or("no cgroups path")?;
        berth_runtime::cgroups::disable_oom_killer(cgroup)?;
    }
    let readonly = cgroupfs::wants_readonly(&spec);
    let propagation = cgroupfs::bind_propagation(&spec);
    if readonly || !propagation.is_empty() {
        let pid = container
            .pid()
            .and_then(|p| Pid::from_raw(p.as_raw()))
            .ok_or("container has no pid")?;
        cgroupfs::seal(pid, readonly, &propagation)?;
    }
    container
        .start()
        .map_err(|e| format!("start container: {e}"))
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
    let creating = berth_runtime::cgroups::TreeLock::for_creating();
    let mut container = ContainerBuilder::new(args.id.clone(), SyscallType::default())
        .with_root_path(&args.runtime_root)
        .map_err(|e| format!("runtime root: {e}"))?
        .with_console_socket(Some(&console))
        .as_init(&args.bundle)
        .with_systemd(false)
        .with_detach(true)
        .build()
        .map_err(|e| format!("create container: {e}"))?;
    drop(creating);
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
    // The size asked for at create (`ConsoleSize`), before the process runs: libcontainer
    // leaves the spec's `consoleSize` to the caller.
    if let Some(size) = read_spec(&args.bundle).map(|s| s["process"]["consoleSize"].clone()) {
        if let (Some(rows), Some(cols)) = (size["height"].as_u64(), size["width"].as_u64()) {
            tty::set_size(&master, rows as u16, cols as u16);
        }
    }
    if let Err(e) = seal_and_start(&mut container, args) {
        let _ = container.delete(true);
        return Err(e);
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

fn supervise(mut run: Running, args: &MonitorArgs, mut helper: Option<exec_helper::Helper>) -> i32 {
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
        if let Some(h) = &helper {
            fds.push(h.poll_fd());
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
        let helper_ready = helper.is_some() && !fds.last().expect("polled").revents().is_empty();
        drop(fds);
        if let (Some(h), true) = (helper.as_mut(), helper_ready && !exited) {
            h.step(&exec_helper::Target {
                init: run.pid,
                init_pidfd: &pidfd,
                bundle: &args.bundle,
            });
        }
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
    if let Some(h) = helper.as_mut() {
        h.stop();
    }
    let cgroup = cgroups_path(&args.bundle);
    if let Some(cgroup) = &cgroup {
        kill_leftovers(cgroup);
    }
    // Read before the cgroup goes with the container.
    let oom_killed = cgroup.as_deref().is_some_and(oom_killed);
    // Child cgroups (made by a privileged container, or anyone) would keep the container's
    // own from being removed: remove the whole tree, deepest first.
    if let Some(cgroup) = &cgroup {
        for d in berth_runtime::stats::CgroupFs::default().remove_tree(cgroup) {
            eprintln!(
                "berth-monitor: cgroup {} still holds processes",
                d.display()
            );
        }
    }
    // What libcontainer's `delete` would still do: its cgroups are gone (removed above) and
    // berth's specs carry no hooks, so only the runtime's state directory is left. `delete`
    // would first read the host's cgroup mounts again, over a millisecond on every exit.
    if let Err(e) = std::fs::remove_dir_all(&run.container.root) {
        if e.kind() != std::io::ErrorKind::NotFound {
            eprintln!("berth-monitor: remove container state: {e}");
        }
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

/// The container's spec (`config.json` in its bundle).
fn read_spec(bundle: &std::path::Path) -> Option<serde_json::Value> {
    serde_json::from_slice(&std::fs::read(bundle.join("config.json")).ok()?).ok()
}

/// `linux.cgroupsPath` of the container's spec.
fn cgroups_path(bundle: &std::path::Path) -> Option<String> {
    read_spec(bundle)?["linux"]["cgroupsPath"]
        .as_str()
        .map(str::to_string)
}

/// Kills what is left in the container's cgroup once its init has exited, and waits (up to a
/// second) for it to go, so the cgroup can be removed. Only a container sharing a PID
/// namespace leaves anything: a container's own namespace dies with its init.
fn kill_leftovers(cgroup: &str) {
    berth_runtime::stats::CgroupFs::default().kill_all(cgroup, std::time::Duration::from_secs(1));
}

/// Whether the kernel's OOM killer killed a process of the container's cgroup (`oom_kill` in
/// v2 `memory.events`, or v1 `memory.oom_control`).
fn oom_killed(cgroup: &str) -> bool {
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

fn main() -> ExitCode {
    let args = match MonitorArgs::parse(std::env::args().skip(1)) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("berth-monitor: {e}");
            return ExitCode::from(2);
        }
    };
    // Bound before the start is reported: an exec may follow at once.
    let helper = match args.exec_socket.as_deref().map(exec_helper::Helper::bind) {
        Some(Ok(h)) => Some(h),
        Some(Err(e)) => {
            eprintln!("berth-monitor: exec socket: {e}");
            None
        }
        None => None,
    };
    // Before anything is started: a daemon that dies from here on finds this monitor.
    let mut state = MonitorState {
        pid: std::process::id() as i32,
        start_time: berth_runtime::monitor::process_start_time(std::process::id() as i32)
            .unwrap_or(0),
        container_pid: None,
    };
    let write_state = |state: &MonitorState| {
        if let Some(path) = &args.state_file {
            if let Err(e) = state.write(path) {
                eprintln!("berth-monitor: write state file: {e}");
            }
        }
    };
    write_state(&state);
    match start(&args) {
        Err(error) => {
            if let Some(sock) = &args.exec_socket {
                let _ = std::fs::remove_file(sock);
            }
            report(&StartReport {
                pid: None,
                error: Some(error),
            });
            ExitCode::FAILURE
        }
        Ok(run) => {
            state.container_pid = Some(run.pid.as_raw_nonzero().get());
            write_state(&state);
            report(&StartReport {
                pid: Some(run.pid.as_raw_nonzero().get()),
                error: None,
            });
            // The start's deep calls and freed allocations would stay resident for the
            // container's life, in every container's monitor.
            memory::give_back_freed_heap();
            memory::give_back_unused_stack();
            supervise(run, &args, helper);
            ExitCode::SUCCESS
        }
    }
}
