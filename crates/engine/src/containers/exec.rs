//! Exec: processes started in a running container by the container's exec helper (see
//! `berth-monitor`), which forks them inside the container's namespaces and cgroups. The
//! process's stdio are pipes from the daemon, or a terminal whose master side the helper
//! sends back.

use std::collections::HashMap;
use std::os::fd::{AsFd, OwnedFd};
use std::pin::Pin;
use std::sync::Arc;

use berth_runtime::fdpass;
use berth_runtime::monitor::{ExecReply, ExecRequest};
use tokio::io::{AsyncRead, AsyncWrite};

use super::create::{env_key, DEFAULT_PATH};
use super::record::{ContainerRecord, Status};
use super::users::UserFiles;
use super::ContainerService;
use crate::error::EngineError;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExecConfig {
    pub cmd: Vec<String>,
    pub user: String,
    pub privileged: bool,
    pub env: Vec<String>,
    pub working_dir: String,
    pub tty: bool,
    pub attach_stdin: bool,
    pub attach_stdout: bool,
    pub attach_stderr: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecRecord {
    pub id: String,
    pub container_id: String,
    pub config: ExecConfig,
    pub running: bool,
    /// Set once it has run.
    pub exit_code: Option<i32>,
    pub pid: i32,
    /// Seen finished by a sweep ([`Execs::sweep`]): the next one forgets it.
    pub(crate) removable: bool,
}

/// The streams of a started exec.
pub struct ExecIo {
    pub stdin: Option<Pin<Box<dyn AsyncWrite + Send>>>,
    pub stdout: Pin<Box<dyn AsyncRead + Send>>,
    /// Empty with a terminal: everything comes on its one output.
    pub stderr: Pin<Box<dyn AsyncRead + Send>>,
    /// Resolves with the exit code once it is recorded (clients inspect right after the
    /// stream ends).
    pub done: tokio::sync::oneshot::Receiver<i32>,
    /// Output is a terminal's (raw, on stdout).
    pub tty: bool,
}

#[derive(Default)]
pub(crate) struct Execs {
    map: std::sync::Mutex<HashMap<String, ExecRecord>>,
    /// The master side of each running exec's terminal, for resizes.
    terminals: std::sync::Mutex<HashMap<String, Arc<OwnedFd>>>,
}

/// How often finished execs are swept, as Docker's `execCommandGC` does: a finished exec can
/// still be inspected for one to two periods, then it is forgotten.
pub(crate) const EXEC_SWEEP_PERIOD: std::time::Duration = std::time::Duration::from_secs(300);

impl Execs {
    /// Forgets the execs an earlier sweep found finished and marks those finished since. Execs
    /// created but not started, or running, stay. Returns how many went.
    pub(crate) fn sweep(&self) -> usize {
        let mut map = self.map.lock().expect("lock");
        let before = map.len();
        map.retain(|_, e| !e.removable);
        for e in map.values_mut() {
            if !e.running && e.exit_code.is_some() {
                e.removable = true;
            }
        }
        before - map.len()
    }
}

fn describe(cfg: &ExecConfig) -> String {
    cfg.cmd.join(" ")
}

impl ContainerService {
    fn running_container(&self, name: &str) -> Result<ContainerRecord, EngineError> {
        let rec = self.entry(name)?.snapshot();
        match rec.state.status {
            Status::Running => Ok(rec),
            Status::Paused => Err(EngineError::Conflict(format!(
                "Container {} is paused, unpause the container before exec",
                rec.id
            ))),
            _ => Err(EngineError::Conflict(format!(
                "Container {} is not running",
                rec.id
            ))),
        }
    }

    /// `POST /containers/(id)/exec`.
    pub fn exec_create(&self, container: &str, cfg: ExecConfig) -> Result<String, EngineError> {
        let rec = self.running_container(container)?;
        if cfg.cmd.is_empty() {
            return Err(EngineError::InvalidParameter(
                "No exec command specified".into(),
            ));
        }
        let bytes: [u8; 32] = rand::random();
        let id: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        let what = describe(&cfg);
        self.execs.map.lock().expect("lock").insert(
            id.clone(),
            ExecRecord {
                id: id.clone(),
                container_id: rec.id.clone(),
                config: cfg,
                running: false,
                exit_code: None,
                pid: 0,
                removable: false,
            },
        );
        self.publish(
            &rec,
            &format!("exec_create: {what}"),
            &[("execID", id.clone())],
        );
        Ok(id)
    }

    fn exec_record(&self, id: &str) -> Result<ExecRecord, EngineError> {
        self.execs
            .map
            .lock()
            .expect("lock")
            .get(id)
            .cloned()
            .ok_or_else(|| EngineError::NotFound(format!("No such exec instance: {id}")))
    }

    pub fn exec_inspect(&self, id: &str) -> Result<(ExecRecord, ContainerRecord), EngineError> {
        let exec = self.exec_record(id)?;
        let container = self.entry(&exec.container_id)?.snapshot();
        Ok((exec, container))
    }

    /// `POST /exec/(id)/start`: runs it and hands back its streams.
    pub async fn exec_start(self: &Arc<Self>, id: &str) -> Result<ExecIo, EngineError> {
        let exec = {
            let mut map = self.execs.map.lock().expect("lock");
            let e = map
                .get_mut(id)
                .ok_or_else(|| EngineError::NotFound(format!("No such exec instance: {id}")))?;
            if e.running || e.exit_code.is_some() {
                return Err(EngineError::Conflict(format!(
                    "Error: Exec command {id} has already run"
                )));
            }
            e.running = true;
            e.clone()
        };
        let result = self.spawn_exec(&exec).await;
        if result.is_err() {
            if let Some(e) = self.execs.map.lock().expect("lock").get_mut(id) {
                e.running = false;
                e.exit_code = Some(126);
            }
        }
        result
    }

    async fn spawn_exec(self: &Arc<Self>, exec: &ExecRecord) -> Result<ExecIo, EngineError> {
        let rec = self.running_container(&exec.container_id)?;
        let cfg = &exec.config;
        let rootfs = self.paths.overlay(&rec.id).join("merged");
        let user = if cfg.user.is_empty() {
            rec.config.user.clone()
        } else {
            cfg.user.clone()
        };
        // Read once for both the user and HOME.
        let users = UserFiles::new(&rootfs);
        let (uid, gid, additional_gids) = users.resolve(&user)?;
        // The container's processes' environment as it started (with its link variables,
        // PATH and HOSTNAME), then the exec's own, as Docker builds it.
        let mut env: Vec<String> = started_env(&self.paths.bundle(&rec.id))
            .unwrap_or_else(|| rec.config.env.clone().unwrap_or_default());
        // TERM=xterm was the container's terminal's; an exec gets its own below.
        let own_term = rec
            .config
            .env
            .iter()
            .flatten()
            .any(|e| env_key(e) == "TERM");
        if rec.config.tty && !own_term {
            env.retain(|e| env_key(e) != "TERM");
        }
        for kv in &cfg.env {
            match env.iter_mut().find(|e| env_key(e) == env_key(kv)) {
                Some(slot) => *slot = kv.clone(),
                None => env.push(kv.clone()),
            }
        }
        if !env.iter().any(|e| env_key(e) == "PATH") {
            env.insert(0, DEFAULT_PATH.to_string());
        }
        if !env.iter().any(|e| env_key(e) == "HOSTNAME") {
            env.push(format!("HOSTNAME={}", rec.config.hostname));
        }
        // Docker gives a terminal exec TERM=xterm unless the container sets TERM.
        if cfg.tty && !env.iter().any(|e| env_key(e) == "TERM") {
            env.push("TERM=xterm".to_string());
        }
        if !env.iter().any(|e| env_key(e) == "HOME") {
            env.push(format!("HOME={}", users.home_dir(uid)));
        }
        let request = ExecRequest {
            args: cfg.cmd.clone(),
            env,
            cwd: if cfg.working_dir.is_empty() {
                rec.config.working_dir.clone()
            } else {
                cfg.working_dir.clone()
            },
            uid,
            gid,
            additional_gids,
            capabilities: if cfg.privileged {
                Some(
                    berth_runtime::security::capabilities(
                        &["ALL".into()],
                        &[],
                        true,
                        berth_runtime::security::host_bounding_set(),
                    )
                    .map_err(EngineError::InvalidParameter)?,
                )
            } else {
                None
            },
            tty: cfg.tty,
        };
        let socket = self.paths.exec_helper_socket(&rec.id);
        let line = format!(
            "{}\n",
            serde_json::to_string(&request).expect("exec request serialises")
        );
        type Reader = Pin<Box<dyn AsyncRead + Send>>;
        type Writer = Pin<Box<dyn AsyncWrite + Send>>;
        // Without a terminal the streams are our pipes, ready before the process is: the
        // client gets its answer while the helper starts the process, and a failure to start
        // it reaches the client on the stream, as with Docker. A terminal comes from the
        // helper, so that exec waits for it. Either way the helper's answers are awaited by a
        // task of its own: a client that goes away meanwhile leaves no exec marked running
        // forever.
        let pipes = if cfg.tty {
            None
        } else {
            Some(ExecPipes::new(cfg.attach_stdin)?)
        };
        let (theirs, ours) = match pipes {
            Some(p) => (Some(p.theirs), Some(p.ours)),
            None => (None, None),
        };
        // The request leaves now, before the client's answer is written, so the helper forks
        // while the answer travels; the task only finishes a request too big for one send.
        let call = HelperCall::send(&socket, line, theirs.as_ref());
        // The terminal, or why the process did not start.
        let (terminal_tx, terminal_rx) =
            tokio::sync::oneshot::channel::<Result<Option<Arc<OwnedFd>>, String>>();
        let (done_tx, done) = tokio::sync::oneshot::channel();
        let svc = self.clone();
        let id = exec.id.clone();
        let container_id = rec.id.clone();
        tokio::spawn(async move {
            let handshake = match call {
                Ok(call) => call.started(theirs).await,
                Err(e) => Err(not_started(format!("container's exec helper: {e}"), theirs)),
            };
            let code = match handshake {
                Ok((conn, pid, master)) => {
                    let master = master.map(Arc::new);
                    if let Some(m) = &master {
                        svc.execs
                            .terminals
                            .lock()
                            .expect("lock")
                            .insert(id.clone(), m.clone());
                    }
                    if let Some(e) = svc.execs.map.lock().expect("lock").get_mut(&id) {
                        e.pid = pid;
                    }
                    let _ = terminal_tx.send(Ok(master));
                    exit_code(conn).await
                }
                Err(msg) => {
                    tracing::warn!(exec = %id, error = %msg, "exec did not start");
                    let _ = terminal_tx.send(Err(msg));
                    126
                }
            };
            tracing::trace!(exec = %id, code, "exec exited");
            svc.execs.terminals.lock().expect("lock").remove(&id);
            if let Some(e) = svc.execs.map.lock().expect("lock").get_mut(&id) {
                e.running = false;
                e.exit_code = Some(code);
            }
            if let Ok(entry) = svc.entry(&container_id) {
                svc.publish(
                    &entry.snapshot(),
                    "exec_die",
                    &[("execID", id.clone()), ("exitCode", code.to_string())],
                );
            }
            let _ = done_tx.send(code);
        });
        let (stdin, stdout, stderr): (Option<Writer>, Reader, Reader) = match ours {
            Some(o) => (
                o.stdin.map(|w| Box::pin(w) as Writer),
                Box::pin(o.stdout),
                Box::pin(o.stderr),
            ),
            None => {
                let master = match terminal_rx.await {
                    Ok(Ok(Some(master))) => master,
                    Ok(Ok(None)) => {
                        return Err(EngineError::Internal("exec helper sent no terminal".into()))
                    }
                    // As without a terminal: the client is answered and reads why on the
                    // stream, and the exit code is 126.
                    Ok(Err(msg)) => {
                        let text = runtime_failure(&msg).into_bytes();
                        return Ok(ExecIo {
                            stdin: None,
                            stdout: Box::pin(std::io::Cursor::new(text)),
                            stderr: Box::pin(tokio::io::empty()),
                            done,
                            tty: true,
                        });
                    }
                    Err(_) => return Err(EngineError::Internal("exec: helper task ended".into())),
                };
                let dup = || master.try_clone().map_err(|e| internal_io("terminal", e));
                let input = tokio::net::unix::pipe::Sender::from_owned_fd_unchecked(dup()?)
                    .map_err(|e| internal_io("terminal", e))?;
                let output = tokio::net::unix::pipe::Receiver::from_owned_fd_unchecked(dup()?)
                    .map_err(|e| internal_io("terminal", e))?;
                (
                    cfg.attach_stdin.then(|| Box::pin(input) as Writer),
                    Box::pin(TerminalOutput(output)),
                    Box::pin(tokio::io::empty()),
                )
            }
        };
        let io = ExecIo {
            stdin,
            stdout,
            stderr,
            done,
            tty: cfg.tty,
        };
        self.publish(
            &rec,
            &format!("exec_start: {}", describe(cfg)),
            &[("execID", exec.id.clone())],
        );
        Ok(io)
    }

    /// `POST /exec/(id)/resize?h=&w=`.
    pub async fn exec_resize(&self, id: &str, rows: u16, cols: u16) -> Result<(), EngineError> {
        let exec = self.exec_record(id)?;
        if !exec.config.tty {
            return Err(EngineError::Conflict(format!("exec {id} has no terminal")));
        }
        if !exec.running {
            return Err(EngineError::Conflict(format!("exec {id} is not running")));
        }
        let master = self.execs.terminals.lock().expect("lock").get(id).cloned();
        let Some(master) = master else {
            return Err(EngineError::Conflict(format!("exec {id} is not running")));
        };
        let size = rustix::termios::Winsize {
            ws_row: rows,
            ws_col: cols,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        rustix::termios::tcsetwinsize(master.as_fd(), size)
            .map_err(|e| EngineError::Internal(format!("Cannot resize exec {id}: {e}")))
    }

    /// Forgets the execs of a removed container.
    pub(crate) fn forget_execs(&self, container_id: &str) {
        self.execs
            .map
            .lock()
            .expect("lock")
            .retain(|_, e| e.container_id != container_id);
    }
}

/// `process.env` of the container's OCI spec in its bundle. Only that field is decoded: the
/// rest is skipped, not built into a JSON tree (10 µs instead of 40 here).
fn started_env(bundle: &std::path::Path) -> Option<Vec<String>> {
    #[derive(serde::Deserialize)]
    struct Spec {
        process: Option<Process>,
    }
    #[derive(serde::Deserialize)]
    struct Process {
        env: Option<Vec<String>>,
    }
    let spec = std::fs::read(bundle.join("config.json")).ok()?;
    serde_json::from_slice::<Spec>(&spec).ok()?.process?.env
}

fn internal_io(what: &str, e: std::io::Error) -> EngineError {
    EngineError::Internal(format!("exec: {what}: {e}"))
}

/// The pipes of an exec without a terminal: the ends the process gets, and the daemon's.
struct ExecPipes {
    /// stdin (or /dev/null), stdout, stderr, for the helper to hand to the process.
    theirs: [OwnedFd; 3],
    ours: OurEnds,
}

struct OurEnds {
    stdin: Option<tokio::net::unix::pipe::Sender>,
    stdout: tokio::net::unix::pipe::Receiver,
    stderr: tokio::net::unix::pipe::Receiver,
}

impl ExecPipes {
    fn new(attach_stdin: bool) -> Result<ExecPipes, EngineError> {
        let pipe = || {
            rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)
                .map_err(|e| internal_io("pipe", e.into()))
        };
        let (stdin_theirs, stdin) = if attach_stdin {
            let (r, w) = pipe()?;
            let w = tokio::net::unix::pipe::Sender::from_owned_fd(w)
                .map_err(|e| internal_io("pipe", e))?;
            (r, Some(w))
        } else {
            let null = std::fs::File::open("/dev/null").map_err(|e| internal_io("/dev/null", e))?;
            (OwnedFd::from(null), None)
        };
        let (out_r, out_w) = pipe()?;
        let (err_r, err_w) = pipe()?;
        let receiver = |fd| {
            tokio::net::unix::pipe::Receiver::from_owned_fd(fd).map_err(|e| internal_io("pipe", e))
        };
        Ok(ExecPipes {
            theirs: [stdin_theirs, out_w, err_w],
            ours: OurEnds {
                stdin,
                stdout: receiver(out_r)?,
                stderr: receiver(err_r)?,
            },
        })
    }
}

/// A request to a container's exec helper: the connection its answers come on.
struct HelperCall {
    socket: std::path::PathBuf,
    /// `None` while the helper's backlog is full.
    conn: Option<tokio::net::UnixStream>,
    line: String,
    sent: usize,
}

impl HelperCall {
    /// Connects and sends what the socket takes at once, which is all of it but for a huge
    /// environment. Never waits: with the helper's backlog full, `started` connects later.
    fn send(
        socket: &std::path::Path,
        line: String,
        stdio: Option<&[OwnedFd; 3]>,
    ) -> std::io::Result<HelperCall> {
        let mut call = HelperCall {
            socket: socket.to_path_buf(),
            conn: None,
            line,
            sent: 0,
        };
        let fd = match connect_now(socket) {
            Ok(fd) => fd,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return Ok(call),
            Err(e) => return Err(e),
        };
        call.sent = match fdpass::send_part(&fd, call.line.as_bytes(), &borrowed(stdio)) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => 0,
            Err(e) => return Err(e),
        };
        call.conn = Some(tokio::net::UnixStream::from_std(
            std::os::unix::net::UnixStream::from(fd),
        )?);
        Ok(call)
    }

    /// Finishes the request and waits for the process to start: the connection (its exit
    /// comes on it), its PID, and its terminal if it has one. The first exec into a container
    /// starts the helper, which takes a cgroup migration: allow for it. A failure is written
    /// on the process's stdout (`stdio`), where the client reads it.
    async fn started(
        mut self,
        stdio: Option<[OwnedFd; 3]>,
    ) -> Result<(tokio::net::UnixStream, i32, Option<OwnedFd>), String> {
        // The whole exchange is bounded: a helper that stops reading a long request, or never
        // answers, must not hold the client's stream open.
        let exchange = async {
            let unavailable = |e: std::io::Error| format!("container's exec helper: {e}");
            let conn = match self.conn.take() {
                Some(conn) => conn,
                None => connect_patiently(&self.socket).await.map_err(unavailable)?,
            };
            while self.sent < self.line.len() {
                let fds = if self.sent == 0 {
                    borrowed(stdio.as_ref())
                } else {
                    Vec::new()
                };
                let rest = &self.line.as_bytes()[self.sent..];
                conn.writable().await.map_err(unavailable)?;
                match conn.try_io(tokio::io::Interest::WRITABLE, || {
                    fdpass::send_part(&conn, rest, &fds)
                }) {
                    Ok(n) => self.sent += n,
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                    Err(e) => return Err(unavailable(e)),
                }
            }
            let (reply, mut received) = read_line(&conn, 64 * 1024).await.map_err(unavailable)?;
            match ExecReply::parse(&reply) {
                Some(ExecReply::Started { pid }) => Ok((conn, pid, received.pop())),
                Some(ExecReply::Failed(msg)) => Err(msg),
                _ => Err(format!("unexpected answer from the exec helper: {reply:?}")),
            }
        };
        let result = tokio::time::timeout(std::time::Duration::from_secs(30), exchange)
            .await
            .unwrap_or_else(|_| Err("container's exec helper: no answer in 30 s".into()));
        // The process holds its ends of `stdio` now; ours would keep its output open.
        result.map_err(|msg| not_started(msg, stdio))
    }
}

/// A non-blocking connection to the helper's socket, made at once or not at all
/// (`WouldBlock` while its backlog is full).
fn connect_now(socket: &std::path::Path) -> std::io::Result<OwnedFd> {
    use rustix::net::{AddressFamily, SocketAddrUnix, SocketFlags, SocketType};
    let fd = rustix::net::socket_with(
        AddressFamily::UNIX,
        SocketType::STREAM,
        SocketFlags::NONBLOCK | SocketFlags::CLOEXEC,
        None,
    )?;
    rustix::net::connect(&fd, &SocketAddrUnix::new(socket)?)?;
    Ok(fd)
}

/// Connects once the helper's backlog has room (a burst of thousands of execs); the caller
/// bounds the wait.
async fn connect_patiently(socket: &std::path::Path) -> std::io::Result<tokio::net::UnixStream> {
    loop {
        match connect_now(socket) {
            Ok(fd) => {
                return tokio::net::UnixStream::from_std(std::os::unix::net::UnixStream::from(fd))
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                tokio::time::sleep(std::time::Duration::from_millis(5)).await
            }
            Err(e) => return Err(e),
        }
    }
}

fn borrowed(stdio: Option<&[OwnedFd; 3]>) -> Vec<std::os::fd::BorrowedFd<'_>> {
    stdio
        .iter()
        .flat_map(|s| s.iter())
        .map(|f| f.as_fd())
        .collect()
}

/// An exec that did not start: the client hears why on the stream, as Docker writes it there
/// (on the process's stdout, `stdio`, when it has pipes). Returns the reason.
fn not_started(msg: String, stdio: Option<[OwnedFd; 3]>) -> String {
    if let Some([_, stdout, _]) = &stdio {
        let _ = rustix::io::write(stdout, runtime_failure(&msg).as_bytes());
    }
    msg
}

/// Docker's words for a process the runtime could not start.
fn runtime_failure(msg: &str) -> String {
    format!("OCI runtime exec failed: {msg}: unknown\r\n")
}

/// One line from the helper, waiting for it without a thread.
async fn read_line(
    conn: &tokio::net::UnixStream,
    limit: usize,
) -> std::io::Result<(String, Vec<OwnedFd>)> {
    let mut reader = fdpass::LineReader::new(limit);
    loop {
        conn.readable().await?;
        match conn.try_io(tokio::io::Interest::READABLE, || reader.read_some(conn)) {
            Ok(Some(line)) => return Ok(line),
            Ok(None) => {}
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
    }
}

/// Waits for the helper's `exited` line. A helper that goes without one went with the
/// container, whose end killed the process: 137, as Docker reports it.
async fn exit_code(conn: tokio::net::UnixStream) -> i32 {
    const KILLED: i32 = 128 + 9;
    match read_line(&conn, 4096).await {
        Ok((line, _)) => match ExecReply::parse(&line) {
            Some(ExecReply::Exited { code }) => code,
            _ => KILLED,
        },
        Err(_) => KILLED,
    }
}

/// A terminal's output: once the process and everything holding the terminal are gone,
/// reading the master side fails with EIO, which is its end of file.
struct TerminalOutput(tokio::net::unix::pipe::Receiver);

impl AsyncRead for TerminalOutput {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        match Pin::new(&mut self.0).poll_read(cx, buf) {
            std::task::Poll::Ready(Err(e))
                if e.raw_os_error() == Some(rustix::io::Errno::IO.raw_os_error()) =>
            {
                std::task::Poll::Ready(Ok(()))
            }
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A listener whose backlog takes one connection (`listen(0)`), as a busy helper's
    /// full backlog behaves.
    fn tiny_listener(path: &std::path::Path) -> OwnedFd {
        use rustix::net::{AddressFamily, SocketAddrUnix, SocketType};
        let fd = rustix::net::socket(AddressFamily::UNIX, SocketType::STREAM, None).unwrap();
        rustix::net::bind(&fd, &SocketAddrUnix::new(path).unwrap()).unwrap();
        rustix::net::listen(&fd, 0).unwrap();
        fd
    }

    #[tokio::test]
    async fn a_full_backlog_is_waited_out() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("helper.sock");
        let listener = tiny_listener(&path);
        // Fill the backlog until a connection is refused for now.
        let mut pending = Vec::new();
        loop {
            match connect_now(&path) {
                Ok(fd) => pending.push(fd),
                Err(e) => {
                    assert_eq!(e.kind(), std::io::ErrorKind::WouldBlock, "{e}");
                    break;
                }
            }
            assert!(pending.len() < 16, "the backlog never filled");
        }
        let call = HelperCall::send(&path, "{}\n".into(), None).unwrap();
        assert!(
            call.conn.is_none(),
            "not connected while the backlog is full"
        );
        let accepting = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(50));
            let mut accepted = Vec::new();
            for _ in 0..=pending.len() {
                accepted.push(rustix::net::accept(&listener).unwrap());
            }
            // The late call's request arrives whole; answer it.
            let last = accepted.pop().unwrap();
            let (line, _) = fdpass::recv_line(&last, 100).unwrap();
            assert_eq!(line, "{}");
            fdpass::send_line(&last, "started 42\n", &[]).unwrap();
            last
        });
        let (_, pid, master) = call.started(None).await.unwrap();
        assert_eq!((pid, master.is_none()), (42, true));
        drop(accepting.join().unwrap());
    }

    #[test]
    fn finished_execs_are_forgotten_on_the_second_sweep() {
        let execs = Execs::default();
        let record = |id: &str, running: bool, exit_code: Option<i32>| ExecRecord {
            id: id.into(),
            container_id: "c".into(),
            config: ExecConfig::default(),
            running,
            exit_code,
            pid: 0,
            removable: false,
        };
        {
            let mut map = execs.map.lock().unwrap();
            map.insert("created".into(), record("created", false, None));
            map.insert("running".into(), record("running", true, None));
            map.insert("done".into(), record("done", false, Some(0)));
        }
        // The first sweep only marks: a finished exec can still be inspected.
        assert_eq!(execs.sweep(), 0);
        assert_eq!(execs.map.lock().unwrap().len(), 3);
        // The running one ends between sweeps: it gets its full period too.
        {
            let mut map = execs.map.lock().unwrap();
            let r = map.get_mut("running").unwrap();
            r.running = false;
            r.exit_code = Some(3);
        }
        assert_eq!(execs.sweep(), 1);
        let left: std::collections::BTreeSet<String> =
            execs.map.lock().unwrap().keys().cloned().collect();
        assert_eq!(left, ["created", "running"].map(String::from).into());
        assert_eq!(execs.sweep(), 1);
        assert_eq!(execs.map.lock().unwrap().len(), 1, "never started: kept");
    }
}
