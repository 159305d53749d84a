//! Accept loops: each connection is served by hyper's HTTP/1 connection (with upgrades, for
//! the hijacked streams later issues add).

use std::future::Future;

use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, UnixListener};

use crate::router::Router;

async fn serve_conn<S: AsyncRead + AsyncWrite + Unpin + Send + 'static>(router: Router, stream: S) {
    let service = service_fn(move |req| {
        let router = router.clone();
        async move { Ok::<_, std::convert::Infallible>(router.handle(req).await) }
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .half_close(true)
        .max_buf_size(1 << 20)
        .serve_connection(TokioIo::new(stream), service)
        .with_upgrades();
    if let Err(e) = conn.await {
        tracing::debug!(error = %e, "connection ended with an error");
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
