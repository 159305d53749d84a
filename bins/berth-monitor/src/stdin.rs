//! The container's stdin (`OpenStdin`): a pipe the monitor feeds from clients of a Unix
//! socket (the daemon relays attached clients' bytes there). Non-blocking both ways, with a
//! bounded buffer, so a container that does not read its stdin never stalls the monitor.

use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;

use rustix::event::{PollFd, PollFlags};

/// Stop reading clients while this much waits for the container.
const MAX_PENDING: usize = 1 << 20;

pub struct StdinRelay {
    listener: UnixListener,
    clients: Vec<UnixStream>,
    pipe: Option<std::fs::File>,
    pending: Vec<u8>,
    once: bool,
    /// Close the pipe once `pending` is written.
    closing: bool,
}

impl StdinRelay {
    /// Listens on `socket` and takes the write end of the container's stdin pipe.
    pub fn new(socket: &Path, pipe: OwnedFd, once: bool) -> std::io::Result<Self> {
        let _ = std::fs::remove_file(socket);
        let listener = UnixListener::bind(socket)?;
        listener.set_nonblocking(true)?;
        rustix::fs::fcntl_setfl(&pipe, rustix::fs::OFlags::NONBLOCK)?;
        Ok(Self {
            listener,
            clients: Vec::new(),
            pipe: Some(std::fs::File::from(pipe)),
            pending: Vec::new(),
            once,
            closing: false,
        })
    }

    /// The descriptors to poll, with what to wait for.
    pub fn poll_fds(&self) -> Vec<PollFd<'_>> {
        let mut fds = vec![PollFd::new(&self.listener, PollFlags::IN)];
        if self.pending.len() < MAX_PENDING {
            for c in &self.clients {
                fds.push(PollFd::new(c, PollFlags::IN));
            }
        }
        if let Some(p) = &self.pipe {
            if !self.pending.is_empty() {
                fds.push(PollFd::new(p, PollFlags::OUT));
            }
        }
        fds
    }

    /// Does whatever is ready; call after every poll.
    pub fn step(&mut self, buf: &mut [u8]) {
        while let Ok((c, _)) = self.listener.accept() {
            if c.set_nonblocking(true).is_ok() {
                self.clients.push(c);
            }
        }
        let mut gone = Vec::new();
        if self.pending.len() < MAX_PENDING {
            for (i, c) in self.clients.iter_mut().enumerate() {
                loop {
                    match c.read(buf) {
                        Ok(0) => {
                            gone.push(i);
                            break;
                        }
                        Ok(n) => self.pending.extend_from_slice(&buf[..n]),
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                        Err(_) => {
                            gone.push(i);
                            break;
                        }
                    }
                    if self.pending.len() >= MAX_PENDING {
                        break;
                    }
                }
            }
        }
        for i in gone.into_iter().rev() {
            self.clients.remove(i);
            if self.once {
                self.closing = true;
            }
        }
        if let Some(p) = self.pipe.as_mut() {
            while !self.pending.is_empty() {
                match p.write(&self.pending) {
                    Ok(n) => {
                        self.pending.drain(..n);
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                    // The container closed its stdin: nothing more can be delivered.
                    Err(_) => {
                        self.pending.clear();
                        self.closing = true;
                        break;
                    }
                }
            }
        }
        if self.closing && self.pending.is_empty() {
            // The container sees end of file.
            self.pipe = None;
            self.clients.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relays_clients_to_the_pipe_and_closes_once() {
        let dir = tempfile::tempdir().unwrap();
        let sock = dir.path().join("stdin.sock");
        let (r, w) = rustix::pipe::pipe().unwrap();
        let mut relay = StdinRelay::new(&sock, w, true).unwrap();
        let mut client = UnixStream::connect(&sock).unwrap();
        client.write_all(b"hello\n").unwrap();
        drop(client);
        let mut buf = vec![0u8; 1024];
        for _ in 0..10 {
            relay.step(&mut buf);
        }
        let mut got = String::new();
        std::fs::File::from(r).read_to_string(&mut got).unwrap();
        assert_eq!(got, "hello\n", "data delivered, then end of file");
    }
}
