//! An attach over a hijacked connection: the container's output out, the client's bytes into
//! its stdin until the detach keys.

use std::sync::Arc;

use futures_util::StreamExt;

use crate::backend::{Backend, LogStream};
use crate::error::ApiError;
use crate::stream::hijack::Hijacked;
use crate::stream::stdcopy;

/// One client attached over a hijacked connection.
pub(crate) struct AttachSession {
    pub backend: Arc<dyn Backend>,
    pub name: String,
    pub want_stdin: bool,
    pub detach_keys: Vec<u8>,
    pub chunks: Option<LogStream>,
}

impl AttachSession {
    pub async fn run(self, io: Hijacked) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let Self {
            backend,
            name,
            want_stdin,
            detach_keys,
            chunks,
        } = self;
        let peer = io.peer();
        let (mut rd, mut wr) = tokio::io::split(io);
        // The client's bytes go to the container's stdin (including any it sent with the
        // request: the hijacked connection replays what hyper had buffered).
        // Notify, not a oneshot: the select below polls it afresh on every round.
        let detached = Arc::new(tokio::sync::Notify::new());
        let detached_tx = detached.clone();
        let feed = tokio::spawn(async move {
            if !want_stdin {
                return;
            }
            let Ok(Some(mut stdin)) = backend.attach_stdin(&name).await else {
                return;
            };
            let mut keys = DetachKeys::new(&detach_keys);
            let mut buf = vec![0u8; 32 * 1024];
            loop {
                match rd.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        let (data, detach) = keys.scan(&buf[..n]);
                        if stdin.write_all(&data).await.is_err() {
                            break;
                        }
                        if detach {
                            // The client leaves; the container and its stdin stay.
                            detached_tx.notify_one();
                            return;
                        }
                    }
                }
            }
            // End of the client's stdin: the monitor closes the container's stdin when the
            // container was made with StdinOnce.
            let _ = stdin.shutdown().await;
        });
        match chunks {
            Some(LogStream { tty, mut chunks }) => {
                let mut enc = stdcopy::encode(tty, false);
                loop {
                    tokio::select! {
                        c = chunks.next() => match c {
                            Some(c) => {
                                if wr.write_all(&enc(c)).await.is_err() {
                                    break;
                                }
                            }
                            None => break,
                        },
                        _ = detached.notified() => break,
                        // Gone while the container is quiet: release the session now.
                        _ = peer.hung_up() => break,
                    }
                }
                feed.abort();
            }
            // Only stdin attached: the session lasts as long as the client sends.
            None => {
                let _ = feed.await;
            }
        }
        let _ = wr.shutdown().await;
    }
}

/// Parses Docker's detach key list: `ctrl-p,ctrl-q`, `ctrl-a,x` (a letter or `ctrl-<letter>`,
/// `ctrl-@`, `ctrl-[`, …).
pub(crate) fn parse_detach_keys(spec: &str) -> Result<Vec<u8>, ApiError> {
    spec.split(',')
        .map(|k| {
            let k = k.trim();
            let bad = || ApiError::bad_request(format!("Invalid detach keys ({spec}) provided"));
            match k.strip_prefix("ctrl-") {
                Some(c) if c.len() == 1 => {
                    let b = c.as_bytes()[0].to_ascii_uppercase();
                    if (b'@'..=b'_').contains(&b) {
                        Ok(b - b'@')
                    } else {
                        Err(bad())
                    }
                }
                None if k.len() == 1 => Ok(k.as_bytes()[0]),
                _ => Err(bad()),
            }
        })
        .collect()
}

/// Watches a stdin stream for the detach sequence; bytes of a partial match are held back
/// until the match fails.
pub(crate) struct DetachKeys {
    keys: Vec<u8>,
    matched: usize,
}

impl DetachKeys {
    pub fn new(keys: &[u8]) -> Self {
        Self {
            keys: keys.to_vec(),
            matched: 0,
        }
    }

    /// Returns the bytes to forward and whether the sequence completed.
    pub fn scan(&mut self, input: &[u8]) -> (Vec<u8>, bool) {
        let mut out = Vec::with_capacity(input.len());
        for &b in input {
            if !self.keys.is_empty() && b == self.keys[self.matched] {
                self.matched += 1;
                if self.matched == self.keys.len() {
                    self.matched = 0;
                    return (out, true);
                }
            } else {
                out.extend_from_slice(&self.keys[..self.matched]);
                self.matched = 0;
                if !self.keys.is_empty() && b == self.keys[0] {
                    self.matched = 1;
                } else {
                    out.push(b);
                }
            }
        }
        (out, false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detach_keys() {
        assert_eq!(parse_detach_keys("ctrl-p,ctrl-q").unwrap(), [0x10, 0x11]);
        assert_eq!(parse_detach_keys("ctrl-a,x").unwrap(), [0x01, b'x']);
        assert!(parse_detach_keys("ctrl-,").is_err());
        let mut k = DetachKeys::new(&[0x10, 0x11]);
        assert_eq!(k.scan(b"ab\x10"), (b"ab".to_vec(), false));
        assert_eq!(
            k.scan(b"c"),
            (b"\x10c".to_vec(), false),
            "a broken match is forwarded"
        );
        assert_eq!(k.scan(b"x\x10\x11rest"), (b"x".to_vec(), true));
    }
}
