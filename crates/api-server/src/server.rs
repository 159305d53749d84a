//! Accept loops: each connection is served by hyper's HTTP/1 connection, and handed to a
//! hijacking handler's session when one took it over.

use std::future::Future;
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, UnixListener};

use crate::peer::Peer;
use crate::router::Router;
use crate::stream::hijack::{ConnIo, HijackSlot, Hijacked};

async fn serve_conn<S>(router: Router, stream: S, peer: Peer)
where
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let slot = HijackSlot::default();
    let req_slot = slot.clone();
    let req_peer = peer.clone();
    let service = service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
        let router = router.clone();
        req.extensions_mut().insert(req_slot.clone());
        req.extensions_mut().insert(req_peer.clone());
        let req = req.map(|body| {
            http_body_util::BodyExt::boxed_unsync(http_body_util::BodyExt::map_err(
                body,
                std::io::Error::other,
            ))
        });
        async move { Ok::<_, std::convert::Infallible>(router.handle(req).await) }
    });
    // `without_shutdown` (not `with_upgrades`): a hijacking handler may answer a plain 200,
    // which hyper's upgrades do not cover; see `hijack`.
    let io = ConnIo::new(stream, slot.mute.clone());
    let conn = hyper::server::conn::http1::Builder::new()
        .half_close(true)
        .max_buf_size(MAX_HEAD)
        // A client that does not finish its request head in time is dropped (slowloris);
        // so is a kept-alive connection idle that long, as Go's server does.
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .serve_connection(TokioIo::new(io), service)
        .without_shutdown();
    let parts = match conn.await {
        Ok(parts) => parts,
        Err(e) => {
            tracing::debug!(error = %e, "connection ended with an error");
            return;
        }
    };
    match slot.take() {
        Some(session) => {
            let (stream, unframed) = parts.io.into_inner().into_parts();
            let mut early = bytes::BytesMut::from(&parts.read_buf[..]);
            early.extend_from_slice(&unframed);
            session(Hijacked::new(early.freeze(), Box::new(stream), peer)).await
        }
        None => {
            // hyper leaves the socket open with `without_shutdown`: close it as it would have.
            let (mut io, _) = parts.io.into_inner().into_parts();
            let _ = tokio::io::AsyncWriteExt::shutdown(&mut io).await;
        }
    }
}

/// hyper's read buffer: a whole request head (see `long_target`), with room for the
/// header a long target moves into.
const MAX_HEAD: usize = crate::long_target::MAX_HEAD + 1024;

/// How long a client may take to send a request head, or leave a kept-alive connection idle.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// Backs off from failing `accept`s (out of descriptors, most often): each failure waits
/// twice as long as the one before, from 5 ms to a second, and the failures are logged once
/// per second at most, with how many there were.
#[derive(Default)]
struct AcceptBackoff {
    delay: Option<Duration>,
    failures: u64,
    last_log: Option<std::time::Instant>,
}

impl AcceptBackoff {
    const FIRST: Duration = Duration::from_millis(5);
    const MAX: Duration = Duration::from_secs(1);

    fn failed(&mut self, e: &std::io::Error) -> Duration {
        self.failures += 1;
        let now = std::time::Instant::now();
        if self
            .last_log
            .is_none_or(|t| now.duration_since(t) >= Duration::from_secs(1))
        {
            tracing::warn!(error = %e, failures = self.failures, "accept failed; backing off");
            self.last_log = Some(now);
            self.failures = 0;
        }
        let d = self.delay.map_or(Self::FIRST, |d| (d * 2).min(Self::MAX));
        self.delay = Some(d);
        d
    }

    fn succeeded(&mut self) {
        self.delay = None;
    }
}

/// Serves `router` on a Unix socket until `shutdown` resolves.
pub async fn serve_unix(
    listener: UnixListener,
    router: Router,
    shutdown: impl Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    let mut backoff = AcceptBackoff::default();
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    backoff.succeeded();
                    let peer = Peer::watch(&stream, true);
                    tokio::spawn(serve_conn(router.clone(), stream, peer));
                }
                Err(e) => tokio::time::sleep(backoff.failed(&e)).await,
            }
        }
    }
}

/// Serves `router` on TCP until `shutdown` resolves.
pub async fn serve_tcp(listener: TcpListener, router: Router, shutdown: impl Future<Output = ()>) {
    tokio::pin!(shutdown);
    let mut backoff = AcceptBackoff::default();
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    backoff.succeeded();
                    let _ = stream.set_nodelay(true);
                    let peer = Peer::watch(&stream, false);
                    tokio::spawn(serve_conn(router.clone(), stream, peer));
                }
                Err(e) => tokio::time::sleep(backoff.failed(&e)).await,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_failures_back_off_to_a_second_and_start_over() {
        let mut b = AcceptBackoff::default();
        let e = std::io::Error::other("Too many open files");
        let delays: Vec<u128> = (0..10).map(|_| b.failed(&e).as_millis()).collect();
        assert_eq!(delays, [5, 10, 20, 40, 80, 160, 320, 640, 1000, 1000]);
        b.succeeded();
        assert_eq!(b.failed(&e), AcceptBackoff::FIRST);
    }
}
