//! The exchange with a container's exec helper: the request sent with the process's stdio, its `started` or `failed` answer, its `exited` line; Docker's words when a process does not start.

use super::*;

/// A request to a container's exec helper: the connection its answers come on.
pub(super) struct HelperCall {
    socket: std::path::PathBuf,
    /// `None` while the helper's backlog is full.
    conn: Option<tokio::net::UnixStream>,
    line: String,
    sent: usize,
}

impl HelperCall {
    /// Connects and sends what the socket takes at once, which is all of it but for a huge
    /// environment. Never waits: with the helper's backlog full, `started` connects later.
    pub(super) fn send(
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
    pub(super) async fn started(
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
pub(super) fn connect_now(socket: &std::path::Path) -> std::io::Result<OwnedFd> {
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
pub(super) async fn connect_patiently(
    socket: &std::path::Path,
) -> std::io::Result<tokio::net::UnixStream> {
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

pub(super) fn borrowed(stdio: Option<&[OwnedFd; 3]>) -> Vec<std::os::fd::BorrowedFd<'_>> {
    stdio
        .iter()
        .flat_map(|s| s.iter())
        .map(|f| f.as_fd())
        .collect()
}

/// An exec that did not start: the client hears why on the stream, as Docker writes it there
/// (on the process's stdout, `stdio`, when it has pipes). Returns the reason.
pub(super) fn not_started(msg: String, stdio: Option<[OwnedFd; 3]>) -> String {
    if let Some([_, stdout, _]) = &stdio {
        let _ = rustix::io::write(stdout, runtime_failure(&msg).as_bytes());
    }
    msg
}

/// Docker's words for a process the runtime could not start.
pub(super) fn runtime_failure(msg: &str) -> String {
    format!("OCI runtime exec failed: {msg}: unknown\r\n")
}

/// One line from the helper, waiting for it without a thread.
pub(super) async fn read_line(
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
pub(super) async fn exit_code(conn: tokio::net::UnixStream) -> i32 {
    const KILLED: i32 = 128 + 9;
    match read_line(&conn, 4096).await {
        Ok((line, _)) => match ExecReply::parse(&line) {
            Some(ExecReply::Exited { code }) => code,
            _ => KILLED,
        },
        Err(_) => KILLED,
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
}
