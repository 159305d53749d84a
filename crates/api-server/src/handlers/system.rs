//! `/_ping`, `/version`, `/info`, `/system/df`, `/build/prune`.

use crate::RequestBody;
use http::{header, Method, Request, Response, StatusCode};

use crate::body::{empty, full, json, HandlerResult};
use crate::compat;
use crate::error::ApiError;
use crate::fields::Answer;
use crate::gates;
use crate::router::{Ctx, Route};

/// This resource's routes.
pub(crate) fn routes() -> Vec<Route> {
    vec![
        route!(GET, "/_ping", ping),
        route!(HEAD, "/_ping", ping),
        route!(GET, "/version", version),
        route!(GET, "/info", info),
        route!(GET, "/system/df", disk_usage, gates::prune_and_disk_usage),
        route!(POST, "/build/prune", build_prune, gates::build_prune),
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

/// `GET /system/df`; `type` (API 1.42, repeatable: `container`, `image`, `volume`,
/// `build-cache`) leaves the other parts `null`, as Docker does.
pub async fn disk_usage(ctx: Ctx, _req: Request<RequestBody>) -> HandlerResult {
    const PARTS: [(&str, &str); 4] = [
        ("container", "Containers"),
        ("image", "Images"),
        ("volume", "Volumes"),
        ("build-cache", "BuildCache"),
    ];
    let kinds = ctx.query.all("type");
    if let Some(bad) = kinds.iter().find(|k| !PARTS.iter().any(|(p, _)| p == k)) {
        return Err(ApiError::bad_request(format!("unknown object type: {bad}")));
    }
    let usage = ctx.backend.disk_usage().await?;
    let mut value = compat::shaped(Answer::SystemDf, ctx.version, usage);
    if !kinds.is_empty() {
        for (kind, key) in PARTS {
            if !kinds.iter().any(|k| k == kind) {
                value[key] = serde_json::Value::Null;
            }
        }
        if !kinds.iter().any(|k| k == "image") {
            value["LayersSize"] = 0.into();
        }
    }
    json(StatusCode::OK, &value)
}

/// The legacy builder keeps no build cache apart from images, which `docker image prune`
/// removes: there is nothing for this to prune until berth has a cache of its own.
pub async fn build_prune(ctx: Ctx, _req: Request<RequestBody>) -> HandlerResult {
    json(
        StatusCode::OK,
        &compat::shaped(
            Answer::BuildPrune,
            ctx.version,
            berth_api_types::system::BuildCachePruneReport::default(),
        ),
    )
}
