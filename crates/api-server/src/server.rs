//! Accept loops: each connection is served by hyper's HTTP/1 connection, and handed to a
//! hijacking handler's session when one took it over.

use std::future::Future;

use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, UnixListener};

use crate::hijack::{ConnIo, HijackSlot, Hijacked};
use crate::router::Router;

async fn serve_conn<S: AsyncRead + AsyncWrite + Send + Unpin + 'static>(router: Router, stream: S) {
    let slot = HijackSlot::default();
    let req_slot = slot.clone();
    let service = service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
        let router = router.clone();
        req.extensions_mut().insert(req_slot.clone());
        async move { Ok::<_, std::convert::Infallible>(router.handle(req).await) }
    });
    // `without_shutdown` (not `with_upgrades`): a hijacking handler may answer a plain 200,
    // which hyper's upgrades do not cover; see `hijack`.
    let io = ConnIo {
        inner: stream,
        mute: slot.mute.clone(),
    };
    let conn = hyper::server::conn::http1::Builder::new()
        .half_close(true)
        .max_buf_size(1 << 20)
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
            session(Hijacked::new(
                parts.read_buf,
                Box::new(parts.io.into_inner().inner),
            ))
            .await
        }
        None => {
            // hyper leaves the socket open with `without_shutdown`: close it as it would have.
            let mut io = parts.io.into_inner();
            let _ = tokio::io::AsyncWriteExt::shutdown(&mut io).await;
        }
    }
}

/// Serves `router` on a Unix socket until `shutdown` resolves.
pub async fn serve_unix(
    listener: UnixListener,
    router: Router,
    shutdown: impl Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => { tokio::spawn(serve_conn(router.clone(), stream)); }
                Err(e) => { tracing::warn!(error = %e, "accept failed"); tokio::time::sleep(std::time::Duration::from_millis(50)).await; }
            }
        }
    }
}

/// Serves `router` on TCP until `shutdown` resolves.
pub async fn serve_tcp(listener: TcpListener, router: Router, shutdown: impl Future<Output = ()>) {
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => { let _ = stream.set_nodelay(true); tokio::spawn(serve_conn(router.clone(), stream)); }
                Err(e) => { tracing::warn!(error = %e, "accept failed"); tokio::time::sleep(std::time::Duration::from_millis(50)).await; }
            }
        }
    }
}
