//! Reading an async byte stream (a request body) on a blocking thread, in large batches.
//!
//! `SyncIoBridge` blocks on the runtime once per read, and a read of a request body returns
//! one HTTP frame (often a few KiB to 64 KiB): 100 MB then cost thousands of wake-ups of the
//! blocking thread, a quarter of a `docker cp` into a container on two cores. Here a task on
//! the runtime gathers the body into batches of `BATCH` bytes, and the blocking side wakes
//! once per batch.

use std::io::{self, Read};

use bytes::{Buf, Bytes, BytesMut};
use tokio::io::AsyncReadExt;
use tokio::sync::mpsc;

use crate::images::ByteStream;

/// Bytes gathered before the blocking reader is woken (the last batch may be shorter).
const BATCH: usize = 1024 * 1024;
/// Batches read ahead of the blocking reader: what it may fall behind by.
const AHEAD: usize = 2;

/// A blocking `Read` over `body`. Must be made inside the runtime; read from a blocking
/// thread. Dropping it stops the reading of `body`.
pub fn batched_reader(body: ByteStream) -> BatchedReader {
    let (tx, rx) = mpsc::channel(AHEAD);
    tokio::spawn(async move {
        let mut body = body;
        loop {
            let mut batch = BytesMut::with_capacity(BATCH);
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
                            let _ = tx.send(Ok(batch.freeze())).await;
                        }
                        let _ = tx.send(Err(e)).await;
                        return;
                    }
                }
            }
            if !batch.is_empty() && tx.send(Ok(batch.freeze())).await.is_err() {
                return; // the reader is gone
            }
            if ended {
                return;
            }
        }
    });
    BatchedReader {
        rx,
        current: Bytes::new(),
    }
}

pub struct BatchedReader {
    rx: mpsc::Receiver<io::Result<Bytes>>,
    current: Bytes,
}

impl Read for BatchedReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.current.is_empty() {
            match self.rx.blocking_recv() {
                Some(Ok(batch)) => self.current = batch,
                Some(Err(e)) => return Err(e),
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current[..n]);
        self.current.advance(n);
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
