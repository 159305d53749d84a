//! Exec endpoints. Start hijacks the connection as attach does: output as multiplexed frames,
//! the client's bytes into the process's stdin.

use crate::RequestBody;
use berth_api_types::exec::{ExecCreateBody, ExecStartBody};
use bytes::Bytes;
use futures_util::StreamExt;
use http::{Request, Response, StatusCode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_util::io::ReaderStream;

use crate::backend::ExecStreams;
use crate::body::{empty, json, parse_json_or_default, read_json_body, HandlerResult};
use crate::compat;
use crate::fields::Answer;
use crate::gates;
use crate::query::ResizeParams;
use crate::router::{Ctx, Route};
use crate::stream::hijack::{Hijack, MediaType};
use crate::stream::stdcopy;

/// This resource's routes.
pub(crate) fn routes() -> Vec<Route> {
    vec![
        route!(POST, "/containers/{id}/exec", create),
        route!(POST, "/exec/{id}/start", start),
        route!(GET, "/exec/{id}/json", inspect),
        route!(POST, "/exec/{id}/resize", resize),
    ]
}

pub async fn create(ctx: Ctx, req: Request<RequestBody>) -> HandlerResult {
    let mut body: ExecCreateBody = parse_json_or_default(&read_json_body(req, 1 << 20).await?)?;
    if !gates::console_size_and_mount_checks(ctx.version) {
        body.console_size = None;
    }
    let id = ctx.backend.exec_create(ctx.param(0), body)?;
    // Only the ID, as dockerd answers (`IDResponse`).
    json(
        StatusCode::CREATED,
        &compat::shaped(
            Answer::ExecCreate,
            ctx.version,
            serde_json::json!({ "Id": id }),
        ),
    )
}

pub async fn inspect(ctx: Ctx, _req: Request<RequestBody>) -> HandlerResult {
    let e = ctx.backend.exec_inspect(ctx.param(0))?;
    json(StatusCode::OK, &compat::exec_inspect(ctx.version, e))
}

/// Both output streams, framed (or raw with a TTY), as one stream of chunks.
type Stdin = Option<std::pin::Pin<Box<dyn tokio::io::AsyncWrite + Send>>>;

fn output(
    s: ExecStreams,
) -> (
    Stdin,
    futures_util::stream::BoxStream<'static, Bytes>,
    futures_util::future::BoxFuture<'static, ()>,
) {
    let tty = s.tty;
    let tag = move |stream: u8| {
        move |r: std::io::Result<Bytes>| {
            let data = r.ok()?;
            Some(if tty {
                data
            } else {
                stdcopy::frame(stream, &data)
            })
        }
    };
    let out = ReaderStream::new(s.stdout).filter_map(move |r| std::future::ready(tag(1)(r)));
    let err = ReaderStream::new(s.stderr).filter_map(move |r| std::future::ready(tag(2)(r)));
    (
        s.stdin,
        futures_util::stream::select(out, err).boxed(),
        s.done,
    )
}

pub async fn start(ctx: Ctx, req: Request<RequestBody>) -> HandlerResult {
    let hijack = Hijack::of(&req);
    let start: ExecStartBody = parse_json_or_default(&read_json_body(req, 1 << 20).await?)?;
    // A size only for a terminal, and only from 1.42, as dockerd reads it.
    let size = Some(start.console_size)
        .filter(|_| start.tty && gates::console_size_and_mount_checks(ctx.version))
        .and_then(berth_api_types::exec::console_size);
    let streams = ctx.backend.exec_start(ctx.param(0), size).await?;
    let media = MediaType::of(ctx.version, streams.tty);
    let (stdin, mut chunks, done) = output(streams);
    if start.detach {
        tokio::spawn(async move { while chunks.next().await.is_some() {} });
        return Ok(Response::builder()
            .status(StatusCode::OK)
            .body(empty())
            .expect("valid"));
    }
    hijack.raw_stream(media, move |io| async move {
        let peer = io.peer();
        let (mut rd, mut wr) = tokio::io::split(io);
        let feed = tokio::spawn(async move {
            let Some(mut stdin) = stdin else { return };
            let mut buf = vec![0u8; 32 * 1024];
            loop {
                match rd.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        if stdin.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                    }
                }
            }
            let _ = stdin.shutdown().await;
        });
        let mut gone = false;
        loop {
            let c = tokio::select! {
                c = chunks.next() => c,
                // The process runs on, as Docker's does; the session is released.
                _ = peer.hung_up() => {
                    gone = true;
                    None
                }
            };
            let Some(c) = c else { break };
            if wr.write_all(&c).await.is_err() {
                break;
            }
        }
        // The stream ends after the exit is recorded, so an inspect right after sees it.
        if !gone {
            let _ = tokio::time::timeout(std::time::Duration::from_secs(10), done).await;
        }
        let _ = wr.shutdown().await;
        feed.abort();
    })
}

/// `POST /exec/(id)/resize?h=&w=` (201, as the 1.18 doc shows).
pub async fn resize(ctx: Ctx, _req: Request<RequestBody>) -> HandlerResult {
    let (h, w) = ctx.query.decode::<ResizeParams>()?.rows_cols()?;
    ctx.backend.exec_resize(ctx.param(0), h, w).await?;
    Ok(Response::builder()
        .status(StatusCode::CREATED)
        .body(empty())
        .expect("valid"))
}
