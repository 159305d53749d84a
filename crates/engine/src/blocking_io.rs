//! Reading an async byte stream (a request body) on a blocking thread, in large batches.
//!
//! `SyncIoBridge` blocks on the runtime once per read, and a read of a request body returns
//! one HTTP frame (often a few KiB to 64 KiB): 100 MB then cost thousands of wake-ups of the
//! blocking thread, a quarter of a `docker cp` into a container on two cores. Here a task on
//! the runtime gathers the body into batches of `BATCH` bytes, and the blocking side wakes
//! once per batch.

use std::io::{self, BufRead, Read};

use tokio::io::AsyncReadExt;
use tokio::sync::mpsc;

use crate::images::ByteStream;

/// Runs `f`, which blocks (a lock another process may hold, a word on a local socket), off
/// the runtime's workers when called from one.
pub(crate) fn blocking<T>(f: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current() {
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(f)
        }
        _ => f(),
    }
}

/// Bytes gathered before the blocking reader is woken (the last batch may be shorter).
const BATCH: usize = 1024 * 1024;
/// Batches read ahead of the blocking reader: what it may fall behind by.
const AHEAD: usize = 2;

/// A blocking `Read` (and `BufRead`) over `body`. Must be made inside the runtime; read from
/// a blocking thread. Dropping it stops the reading of `body`.
pub fn batched_reader(body: ByteStream) -> BatchedReader {
    let (tx, rx) = mpsc::channel(AHEAD);
    // Batches the reader is done with come back to be filled again: a fresh 1 MiB buffer
    // per batch costs a page fault per page (a quarter of a million for 1 GB).
    let (give_back, returned) = std::sync::mpsc::channel::<Vec<u8>>();
    tokio::spawn(async move {
        let mut body = body;
        loop {
            let mut batch = returned
                .try_recv()
                .unwrap_or_else(|_| Vec::with_capacity(BATCH));
            batch.clear();
            let mut ended = false;
            while batch.len() < BATCH {
                match body.read_buf(&mut batch).await {
                    Ok(0) => {
                        ended = true;
                        break;
                    }
                    Ok(_) => {}
                    Err(e) => {
                        // What was read before the error goes first.
                        if !batch.is_empty() {
                            let _ = tx.send(Ok(batch)).await;
                        }
                        let _ = tx.send(Err(e)).await;
                        return;
                    }
                }
            }
            if !batch.is_empty() && tx.send(Ok(batch)).await.is_err() {
                return; // the reader is gone
            }
            if ended {
                return;
            }
        }
    });
    BatchedReader {
        rx,
        current: Vec::new(),
        pos: 0,
        give_back,
    }
}

pub struct BatchedReader {
    rx: mpsc::Receiver<io::Result<Vec<u8>>>,
    current: Vec<u8>,
    /// How much of `current` has been read.
    pos: usize,
    give_back: std::sync::mpsc::Sender<Vec<u8>>,
}

impl BufRead for BatchedReader {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        while self.pos == self.current.len() {
            match self.rx.blocking_recv() {
                Some(Ok(batch)) => {
                    let done = std::mem::replace(&mut self.current, batch);
                    self.pos = 0;
                    if done.capacity() > 0 {
                        // The body's task may have ended: then the buffer is simply freed.
                        let _ = self.give_back.send(done);
                    }
                }
                Some(Err(e)) => return Err(e),
                None => return Ok(&[]),
            }
        }
        Ok(&self.current[self.pos..])
    }

    fn consume(&mut self, n: usize) {
        self.pos = (self.pos + n).min(self.current.len());
    }
}

impl Read for BatchedReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let available = self.fill_buf()?;
        let n = buf.len().min(available.len());
        buf[..n].copy_from_slice(&available[..n]);
        self.consume(n);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A body in odd-sized pieces, read back whole, in order, across several batches.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_body_is_read_whole_and_in_order() {
        let data: Vec<u8> = (0..3 * BATCH + 12345).map(|i| (i % 251) as u8).collect();
        let (mut client, server) = tokio::io::duplex(7919);
        let sent = data.clone();
        tokio::spawn(async move {
            use tokio::io::AsyncWriteExt;
            for piece in sent.chunks(5003) {
                client.write_all(piece).await.unwrap();
            }
        });
        let mut reader = batched_reader(Box::new(server));
        let got = tokio::task::spawn_blocking(move || {
            let mut got = Vec::new();
            reader.read_to_end(&mut got).unwrap();
            got
        })
        .await
        .unwrap();
        assert_eq!(got.len(), data.len());
        assert!(got == data, "the bytes differ");
    }

    /// A body that fails mid-way gives the reader what came before, then the error.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failing_body_ends_in_its_error() {
        struct Failing(usize);
        impl tokio::io::AsyncRead for Failing {
            fn poll_read(
                mut self: std::pin::Pin<&mut Self>,
                _: &mut std::task::Context<'_>,
                buf: &mut tokio::io::ReadBuf<'_>,
            ) -> std::task::Poll<io::Result<()>> {
                if self.0 == 0 {
                    return std::task::Poll::Ready(Err(io::Error::other("client went away")));
                }
                self.0 -= 1;
                buf.put_slice(&[7; 1000]);
                std::task::Poll::Ready(Ok(()))
            }
        }
        let mut reader = batched_reader(Box::new(Failing(3)));
        let (got, err) = tokio::task::spawn_blocking(move || {
            let mut got = Vec::new();
            let err = reader.read_to_end(&mut got).unwrap_err();
            (got, err)
        })
        .await
        .unwrap();
        assert_eq!(got, vec![7; 3000]);
        assert_eq!(err.to_string(), "client went away");
    }
}
