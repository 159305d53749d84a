//! Lines with file descriptors attached (SCM_RIGHTS) over a Unix stream socket: how the daemon
//! hands an exec's stdio to a container's exec helper, and how a terminal's master side comes
//! back. Blocking; callers set timeouts on the socket.

use std::io::{IoSlice, IoSliceMut};
use std::mem::MaybeUninit;
use std::os::fd::{BorrowedFd, OwnedFd};
use std::os::unix::net::UnixStream;

use rustix::net::{
    RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, SendAncillaryBuffer,
    SendAncillaryMessage, SendFlags,
};

/// The most descriptors one line carries (an exec's stdin, stdout and stderr).
pub const MAX_FDS: usize = 3;

/// Sends `line` (which ends with `\n`) with `fds` attached to its first byte.
pub fn send_line(sock: &UnixStream, line: &str, fds: &[BorrowedFd<'_>]) -> std::io::Result<()> {
    assert!(fds.len() <= MAX_FDS, "at most {MAX_FDS} descriptors");
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(MAX_FDS))];
    let mut control = SendAncillaryBuffer::new(&mut space);
    if !fds.is_empty() && !control.push(SendAncillaryMessage::ScmRights(fds)) {
        return Err(std::io::Error::other("descriptors do not fit"));
    }
    let mut rest = line.as_bytes();
    while !rest.is_empty() {
        let n = rustix::net::sendmsg(
            sock,
            &[IoSlice::new(rest)],
            &mut control,
            SendFlags::NOSIGNAL,
        )?;
        // The descriptors travel with the first part only.
        control = SendAncillaryBuffer::default();
        rest = &rest[n..];
    }
    Ok(())
}

/// Reads one line (without its `\n`) and the descriptors that came with it. Reads byte runs
/// only up to the newline's message, so nothing of a following line is consumed: the helper's
/// later lines are read after this one on the same socket. `limit` bounds the line's length.
pub fn recv_line(sock: &UnixStream, limit: usize) -> std::io::Result<(String, Vec<OwnedFd>)> {
    let mut line = Vec::new();
    let mut fds = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(MAX_FDS))];
        let mut control = RecvAncillaryBuffer::new(&mut space);
        // Peek first, then take exactly up to the newline.
        let peeked = rustix::net::recv(sock, &mut buf, RecvFlags::PEEK)?.0;
        if peeked == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        let want = buf[..peeked]
            .iter()
            .position(|b| *b == b'\n')
            .map_or(peeked, |i| i + 1);
        let got = rustix::net::recvmsg(
            sock,
            &mut [IoSliceMut::new(&mut buf[..want])],
            &mut control,
            RecvFlags::CMSG_CLOEXEC,
        )?;
        for msg in control.drain() {
            if let RecvAncillaryMessage::ScmRights(received) = msg {
                fds.extend(received);
            }
        }
        line.extend_from_slice(&buf[..got.bytes]);
        if line.last() == Some(&b'\n') {
            line.pop();
            return String::from_utf8(line)
                .map(|l| (l, fds))
                .map_err(|_| std::io::Error::other("line is not UTF-8"));
        }
        if line.len() > limit {
            return Err(std::io::Error::other("line too long"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::os::fd::AsFd;

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
}
