//! `/_ping`, `/version`, `/info`.

use crate::RequestBody;
use http::{header, Method, Request, Response, StatusCode};

use crate::body::{empty, full, json, HandlerResult};
use crate::compat;
use crate::router::{Ctx, Route};

/// This resource's routes.
pub(crate) fn routes() -> Vec<Route> {
    vec![
        route!(GET, "/_ping", ping),
        route!(HEAD, "/_ping", ping),
        route!(GET, "/version", version),
        route!(GET, "/info", info),
    ]
}

pub async fn ping(_ctx: Ctx, req: Request<RequestBody>) -> HandlerResult {
    let builder = Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
        .header(header::CACHE_CONTROL, "no-cache, no-store, must-revalidate")
        .header(header::PRAGMA, "no-cache")
        // The legacy builder (`POST /build`); BuildKit's session protocol is not served.
        .header("Builder-Version", "1")
        .header("Swarm", "inactive");
    let body = if req.method() == Method::HEAD {
        empty()
    } else {
        full("OK")
    };
    Ok(builder.body(body).expect("valid"))
}

pub async fn version(ctx: Ctx, _req: Request<RequestBody>) -> HandlerResult {
    json(
        StatusCode::OK,
        &compat::version(ctx.version, ctx.backend.version()),
    )
}

pub async fn info(ctx: Ctx, _req: Request<RequestBody>) -> HandlerResult {
    json(
        StatusCode::OK,
        &compat::info(ctx.version, ctx.backend.info()),
    )
}
