//! Hijacked connections: after the response head, the HTTP connection becomes a raw byte
//! stream both ways (attach, exec start, the attach websocket).
//!
//! Docker hijacks with or without an `Upgrade` header: `101 UPGRADED` when the client asked
//! for `Upgrade: tcp`, a plain `200` otherwise (old clients write stdin right after their
//! request). hyper's upgrade mechanism only covers the first, so every connection is served
//! with `without_shutdown` and a [`HijackSlot`] in each request's extensions: a handler that
//! hijacks leaves its session there and answers with a closing response; once hyper has
//! written that response, the server takes the connection back, with the bytes hyper had
//! already read past the request, and runs the session on it.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{ready, Context, Poll};

use bytes::{Buf, Bytes};
use futures_util::future::BoxFuture;
use http::{header, HeaderValue, Request, Response, StatusCode};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};

use crate::body::{empty, HandlerResult};
use crate::error::ApiError;
use crate::long_target::HeadFramer;
use crate::peer::Peer;

/// What the server's connections are: a Unix or TCP stream.
pub(crate) trait Io: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Io for T {}

type Session = Box<dyn FnOnce(Hijacked) -> BoxFuture<'static, ()> + Send>;

/// One per connection: where a handler leaves the session to run on the hijacked stream,
/// and the switch that mutes hyper's own response head for a plain-200 hijack.
#[derive(Clone, Default)]
pub(crate) struct HijackSlot {
    session: Arc<Mutex<Option<Session>>>,
    pub(crate) mute: Arc<AtomicBool>,
}

impl HijackSlot {
    pub(crate) fn take(&self) -> Option<Session> {
        self.session.lock().expect("hijack slot").take()
    }
}

/// Docker's head for a hijack without an Upgrade header: no length, no `Connection`, so
/// an HTTP client reads the stream until the connection closes. hyper would always add
/// `content-length: 0` (an empty body to such a client), so its head is muted and this one
/// written instead.
fn raw_200_head(media: MediaType) -> String {
    format!(
        "HTTP/1.1 200 OK\r\nContent-Type: {}\r\n\r\n",
        media.as_str()
    )
}

/// What a container's streams are sent as: raw (a terminal's one stream), or multiplexed
/// with stdcopy frames, which Docker names as such from API 1.42 (raw-stream before).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaType {
    RawStream,
    MultiplexedStream,
}

impl MediaType {
    /// The type for a stream at `version`: multiplexed output is named so from API 1.42.
    pub fn of(version: berth_api_types::ApiVersion, tty: bool) -> Self {
        if !tty && crate::gates::multiplexed_stream_type(version) {
            MediaType::MultiplexedStream
        } else {
            MediaType::RawStream
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            MediaType::RawStream => "application/vnd.docker.raw-stream",
            MediaType::MultiplexedStream => "application/vnd.docker.multiplexed-stream",
        }
    }
}

/// The connection as hyper sees it: reads come through the [`HeadFramer`] (request targets
/// longer than hyper takes); writes are dropped once the slot mutes it (only hyper's head
/// for a plain-200 hijack is ever written then).
pub(crate) struct ConnIo<S> {
    inner: S,
    mute: Arc<AtomicBool>,
    framer: HeadFramer,
}

impl<S> ConnIo<S> {
    pub(crate) fn new(inner: S, mute: Arc<AtomicBool>) -> Self {
        Self {
            inner,
            mute,
            framer: HeadFramer::default(),
        }
    }

    /// The socket, and what was read from it that hyper has not seen.
    pub(crate) fn into_parts(self) -> (S, Bytes) {
        (self.inner, self.framer.into_leftover())
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for ConnIo<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            let ready = this.framer.ready();
            if !ready.is_empty() {
                let n = ready.len().min(buf.remaining());
                buf.put_slice(&ready.split_to(n));
                return Poll::Ready(Ok(()));
            }
            if this.framer.wants_input() {
                let mut chunk = [std::mem::MaybeUninit::<u8>::uninit(); 16 * 1024];
                let mut rb = ReadBuf::uninit(&mut chunk);
                ready!(Pin::new(&mut this.inner).poll_read(cx, &mut rb))?;
                let eof = rb.filled().is_empty();
                this.framer.feed(rb.filled());
                if eof && this.framer.ready().is_empty() {
                    return Poll::Ready(Ok(()));
                }
                continue;
            }
            // A body, or everything after a takeover: straight into hyper's buffer.
            let before = buf.filled().len();
            ready!(Pin::new(&mut this.inner).poll_read(cx, buf))?;
            let got = buf.filled().len() - before;
            let past_body = this.framer.passed(got);
            if past_body > 0 {
                // The next request began in the same read: it is framed first.
                let start = before + got - past_body;
                let next = buf.filled()[start..].to_vec();
                buf.set_filled(start);
                this.framer.feed(&next);
                if start == before {
                    continue;
                }
            }
            return Poll::Ready(Ok(()));
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for ConnIo<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.mute.load(Ordering::Acquire) {
            return Poll::Ready(Ok(buf.len()));
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// The connection after the response head: first the bytes hyper had buffered past the
/// request (stdin sent early), then the socket.
pub struct Hijacked {
    early: Bytes,
    io: Box<dyn Io>,
    peer: Peer,
}

impl Hijacked {
    pub(crate) fn new(early: Bytes, io: Box<dyn Io>, peer: Peer) -> Self {
        Self { early, io, peer }
    }

    /// The client at the other end: a session ends when it hangs up, even while nothing is
    /// written to it.
    pub fn peer(&self) -> Peer {
        self.peer.clone()
    }
}

impl AsyncRead for Hijacked {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if !self.early.is_empty() {
            let n = self.early.len().min(buf.remaining());
            buf.put_slice(&self.early[..n]);
            self.early.advance(n);
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl AsyncWrite for Hijacked {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

/// A request that may take its connection over. Made before the handler consumes the
/// request (exec start reads its body first).
pub struct Hijack {
    slot: Option<HijackSlot>,
    upgrade_tcp: bool,
}

impl Hijack {
    pub fn of<B>(req: &Request<B>) -> Self {
        Self {
            slot: req.extensions().get::<HijackSlot>().cloned(),
            upgrade_tcp: req
                .headers()
                .get(header::UPGRADE)
                .is_some_and(|u| u.as_bytes().eq_ignore_ascii_case(b"tcp")),
        }
    }

    fn install<F, Fut>(self, raw_200: Option<MediaType>, session: F) -> Result<(), ApiError>
    where
        F: FnOnce(Hijacked) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        let slot = self
            .slot
            .ok_or_else(|| ApiError::internal("this connection cannot be hijacked"))?;
        let run: Session = if let Some(media) = raw_200 {
            slot.mute.store(true, Ordering::Release);
            Box::new(move |mut io: Hijacked| {
                Box::pin(async move {
                    if io.write_all(raw_200_head(media).as_bytes()).await.is_ok() {
                        session(io).await;
                    }
                })
            })
        } else {
            Box::new(move |io| Box::pin(session(io)))
        };
        *slot.session.lock().expect("hijack slot") = Some(run);
        Ok(())
    }

    /// Docker's raw stream: `101 UPGRADED` when the client asked for `Upgrade: tcp`, else
    /// `200 OK`; either way `session` then owns the connection.
    pub fn raw_stream<F, Fut>(self, media: MediaType, session: F) -> HandlerResult
    where
        F: FnOnce(Hijacked) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        let upgrade = self.upgrade_tcp;
        self.install((!upgrade).then_some(media), session)?;
        let mut resp = Response::builder()
            .status(if upgrade {
                StatusCode::SWITCHING_PROTOCOLS
            } else {
                StatusCode::OK
            })
            .body(empty())
            .expect("valid");
        let h = resp.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(media.as_str()),
        );
        if upgrade {
            h.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
            h.insert(header::UPGRADE, HeaderValue::from_static("tcp"));
        } else {
            // Makes hyper end its side of HTTP after this response and hand the socket back
            // (the head itself is muted and replaced by Docker's).
            h.insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        Ok(resp)
    }

    /// The websocket handshake answer (`accept` derived from the client's key); `session`
    /// then speaks RFC 6455 on the connection.
    pub fn websocket<F, Fut>(self, accept: &str, session: F) -> HandlerResult
    where
        F: FnOnce(Hijacked) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        let accept = HeaderValue::from_str(accept)
            .map_err(|_| ApiError::bad_request("invalid Sec-WebSocket-Key"))?;
        self.install(None, session)?;
        let mut resp = Response::builder()
            .status(StatusCode::SWITCHING_PROTOCOLS)
            .body(empty())
            .expect("valid");
        let h = resp.headers_mut();
        h.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        h.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
        h.insert("Sec-WebSocket-Accept", accept);
        Ok(resp)
    }
}
