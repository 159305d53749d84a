//! Lines with file descriptors attached (SCM_RIGHTS) over a Unix stream socket: how the daemon
//! hands an exec's stdio to a container's exec helper, and how a terminal's master side comes
//! back. `send_line` and `recv_line` block (callers set timeouts on the socket); `send_part`
//! and `LineReader` do one step each, for callers that wait for readiness themselves.

use std::io::{IoSlice, IoSliceMut};
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use rustix::net::{
    RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, SendAncillaryBuffer,
    SendAncillaryMessage, SendFlags,
};

/// The most descriptors one line carries (an exec's stdin, stdout and stderr).
pub const MAX_FDS: usize = 3;

/// Sends `line` (which ends with `\n`) with `fds` attached to its first byte.
pub fn send_line(sock: impl AsFd, line: &str, fds: &[BorrowedFd<'_>]) -> std::io::Result<()> {
    let bytes = line.as_bytes();
    let mut sent = send_part(&sock, bytes, fds)?;
    while sent < bytes.len() {
        // The descriptors travel with the first part only.
        sent += send_part(&sock, &bytes[sent..], &[])?;
    }
    Ok(())
}

/// One `sendmsg` of `bytes` with `fds` attached: how many bytes went.
pub fn send_part(sock: impl AsFd, bytes: &[u8], fds: &[BorrowedFd<'_>]) -> std::io::Result<usize> {
    assert!(fds.len() <= MAX_FDS, "at most {MAX_FDS} descriptors");
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(MAX_FDS))];
    let mut control = SendAncillaryBuffer::new(&mut space);
    if !fds.is_empty() && !control.push(SendAncillaryMessage::ScmRights(fds)) {
        return Err(std::io::Error::other("descriptors do not fit"));
    }
    Ok(rustix::net::sendmsg(
        sock,
        &[IoSlice::new(bytes)],
        &mut control,
        SendFlags::NOSIGNAL,
    )?)
}

/// Reads one line (without its `\n`) and the descriptors that came with it; `limit` bounds
/// the line's length.
pub fn recv_line(sock: impl AsFd, limit: usize) -> std::io::Result<(String, Vec<OwnedFd>)> {
    let mut reader = LineReader::new(limit);
    loop {
        if let Some(done) = reader.read_some(&sock)? {
            return Ok(done);
        }
    }
}

/// A line being received. Reads byte runs only up to the newline's message, so nothing of a
/// following line is consumed: the helper's later lines are read after this one on the same
/// socket.
pub struct LineReader {
    line: Vec<u8>,
    fds: Vec<OwnedFd>,
    limit: usize,
}

impl LineReader {
    pub fn new(limit: usize) -> LineReader {
        LineReader {
            line: Vec::new(),
            fds: Vec::new(),
            limit,
        }
    }

    /// One read: the line and its descriptors once it is whole. On a non-blocking socket with
    /// nothing to read this fails with `WouldBlock` and keeps what it has.
    pub fn read_some(
        &mut self,
        sock: impl AsFd,
    ) -> std::io::Result<Option<(String, Vec<OwnedFd>)>> {
        let mut buf = [0u8; 4096];
        let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(MAX_FDS))];
        let mut control = RecvAncillaryBuffer::new(&mut space);
        // Peek first, then take exactly up to the newline.
        let peeked = rustix::net::recv(&sock, &mut buf, RecvFlags::PEEK)?.0;
        if peeked == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        let want = buf[..peeked]
            .iter()
            .position(|b| *b == b'\n')
            .map_or(peeked, |i| i + 1);
        let got = rustix::net::recvmsg(
            &sock,
            &mut [IoSliceMut::new(&mut buf[..want])],
            &mut control,
            RecvFlags::CMSG_CLOEXEC,
        )?;
        for msg in control.drain() {
            if let RecvAncillaryMessage::ScmRights(received) = msg {
                self.fds.extend(received);
            }
        }
        self.line.extend_from_slice(&buf[..got.bytes]);
        if self.line.last() == Some(&b'\n') {
            let mut line = std::mem::take(&mut self.line);
            line.pop();
            return String::from_utf8(line)
                .map(|l| Some((l, std::mem::take(&mut self.fds))))
                .map_err(|_| std::io::Error::other("line is not UTF-8"));
        }
        if self.line.len() > self.limit {
            return Err(std::io::Error::other("line too long"));
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::os::unix::net::UnixStream;

    #[test]
    fn lines_carry_descriptors_and_stay_apart() {
        let (a, b) = UnixStream::pair().unwrap();
        let (mut r, w) = UnixStream::pair().unwrap();
        send_line(&a, "first {\"x\":1}\n", &[w.as_fd()]).unwrap();
        send_line(&a, "second\n", &[]).unwrap();
        let (line, fds) = recv_line(&b, 1024).unwrap();
        assert_eq!(line, "first {\"x\":1}");
        assert_eq!(fds.len(), 1);
        // The received descriptor is the same socket end.
        let mut passed = UnixStream::from(fds.into_iter().next().unwrap());
        passed.write_all(b"hi").unwrap();
        drop(passed);
        drop(w);
        let mut got = String::new();
        r.read_to_string(&mut got).unwrap();
        assert_eq!(got, "hi");
        let (line, fds) = recv_line(&b, 1024).unwrap();
        assert_eq!((line.as_str(), fds.len()), ("second", 0));
        drop(a);
        assert_eq!(
            recv_line(&b, 1024).unwrap_err().kind(),
            std::io::ErrorKind::UnexpectedEof
        );
    }

    #[test]
    fn overlong_lines_are_refused() {
        let (mut a, b) = UnixStream::pair().unwrap();
        a.write_all(&vec![b'x'; 10_000]).unwrap();
        assert!(recv_line(&b, 100).is_err());
    }

    #[test]
    fn a_line_read_in_parts_on_a_non_blocking_socket_keeps_what_came() {
        let (mut a, b) = UnixStream::pair().unwrap();
        b.set_nonblocking(true).unwrap();
        let would_block = |r: std::io::Result<_>| matches!(r, Err(e) if e.kind() == std::io::ErrorKind::WouldBlock);
        let mut reader = LineReader::new(1024);
        assert!(would_block(reader.read_some(&b)));
        a.write_all(b"exi").unwrap();
        assert!(reader.read_some(&b).unwrap().is_none());
        assert!(would_block(reader.read_some(&b)));
        a.write_all(b"ted 3\nnext\n").unwrap();
        let (line, fds) = reader.read_some(&b).unwrap().unwrap();
        assert_eq!((line.as_str(), fds.len()), ("exited 3", 0));
        let (line, _) = LineReader::new(1024).read_some(&b).unwrap().unwrap();
        assert_eq!(line, "next");
    }
}
