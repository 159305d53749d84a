//! The container's pseudo-terminal: libcontainer makes it inside the container and sends the
//! master side over a console socket (SCM_RIGHTS, as runc's console socket protocol); resize
//! requests arrive on a second socket as `ROWS COLS` lines.

use std::io::Read;
use std::mem::MaybeUninit;
use std::os::fd::OwnedFd;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::time::Duration;

use rustix::net::{RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags};

/// Receives the pty master that libcontainer sends to `listener`.
pub fn receive_master(listener: &UnixListener) -> std::io::Result<OwnedFd> {
    let (conn, _) = listener.accept()?;
    conn.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
    let mut control = RecvAncillaryBuffer::new(&mut space);
    let mut name = [0u8; 256];
    rustix::net::recvmsg(
        &conn,
        &mut [std::io::IoSliceMut::new(&mut name)],
        &mut control,
        RecvFlags::empty(),
    )?;
    for msg in control.drain() {
        if let RecvAncillaryMessage::ScmRights(mut fds) = msg {
            if let Some(fd) = fds.next() {
                return Ok(fd);
            }
        }
    }
    Err(std::io::Error::other(
        "no terminal received on the console socket",
    ))
}

/// Resize requests: `ROWS COLS\n` per connection.
pub struct Resizer {
    listener: UnixListener,
}

impl Resizer {
    pub fn new(path: &Path) -> std::io::Result<Self> {
        let _ = std::fs::remove_file(path);
        let listener = UnixListener::bind(path)?;
        listener.set_nonblocking(true)?;
        Ok(Self { listener })
    }

    pub fn listener(&self) -> &UnixListener {
        &self.listener
    }

    /// Applies every pending request to the terminal `master`.
    pub fn step(&self, master: &OwnedFd) {
        while let Ok((mut c, _)) = self.listener.accept() {
            let _ = c.set_nonblocking(false);
            let _ = c.set_read_timeout(Some(Duration::from_millis(200)));
            let mut text = String::new();
            let _ = (&mut c as &mut UnixStream)
                .take(64)
                .read_to_string(&mut text);
            let mut it = text
                .split_whitespace()
                .filter_map(|v| v.parse::<u16>().ok());
            if let (Some(rows), Some(cols)) = (it.next(), it.next()) {
                set_size(master, rows, cols);
            }
        }
    }
}

/// Sets the terminal's size.
pub fn set_size(master: &OwnedFd, rows: u16, cols: u16) {
    let ws = rustix::termios::Winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    let _ = rustix::termios::tcsetwinsize(master, ws);
}
