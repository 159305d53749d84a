//! Image endpoints.

use berth_api_types::progress::ProgressMessage;
use berth_errdefs::ErrorKind;
use http::{header, Request, Response, StatusCode};
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;

use crate::RequestBody;
use tokio_util::io::ReaderStream;

use crate::backend::{ByteStream, ImportRequest, ImportSource};
use crate::body::{body_stream, empty, full, json, HandlerResult};
use crate::compat;
use crate::error::ApiError;
use crate::fields::Answer;
use crate::gates;
use crate::query::{self, docker_bool};
use crate::router::{Ctx, Route};
use crate::stream::progress;
use crate::Body;

/// This resource's routes.
pub(crate) fn routes() -> Vec<Route> {
    vec![
        route!(POST, "/images/{name}/insert", insert, gates::legacy_insert),
        route!(GET, "/images/json", list),
        route!(POST, "/images/prune", prune, gates::prune_and_disk_usage),
        route!(GET, "/images/get", save_many),
        route!(POST, "/images/create", create),
        route!(POST, "/images/load", load),
        route!(GET, "/images/{name:.*}/json", inspect),
        route!(GET, "/images/{name:.*}/history", history),
        route!(GET, "/images/{name:.*}/get", save_one),
        route!(POST, "/images/{name:.*}/tag", tag),
        route!(DELETE, "/images/{name:.*}", delete),
    ]
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
struct ListParams {
    #[serde(deserialize_with = "docker_bool")]
    all: bool,
    filters: String,
    /// The legacy single repository name.
    filter: String,
    /// Measure each image's `SharedSize` (API 1.42).
    #[serde(rename = "shared-size", deserialize_with = "docker_bool")]
    shared_size: bool,
}

pub async fn list(ctx: Ctx, _req: Request<RequestBody>) -> HandlerResult {
    let p: ListParams = ctx.query.decode()?;
    let mut filters = query::filters(&p.filters)?;
    filters
        .validate(&["dangling", "label", "reference", "before", "since"])
        .map_err(|e| ApiError::bad_request(e.0))?;
    // The legacy `filter=` parameter names a repository.
    if !p.filter.is_empty() {
        filters.add("reference", &p.filter);
    }
    let images = ctx.backend.list_images(p.all, &filters, p.shared_size)?;
    json(StatusCode::OK, &compat::image_list(ctx.version, images))
}

/// `POST /images/create`: import (`fromSrc`). Pulling (`fromImage`) is not supported yet.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct CreateParams {
    from_src: String,
    from_image: String,
    repo: String,
    tag: String,
    message: String,
}

pub async fn create(ctx: Ctx, req: Request<RequestBody>) -> HandlerResult {
    let p: CreateParams = ctx.query.decode()?;
    let from_src = p.from_src;
    if from_src.is_empty() {
        let image = p.from_image;
        return Err(ApiError::new(
            ErrorKind::NotImplemented,
            if image.is_empty() {
                "missing fromImage or fromSrc".to_string()
            } else {
                format!("pulling {image} is not supported yet")
            },
        ));
    }
    let source = if from_src == "-" {
        ImportSource::Body(body_stream(req))
    } else {
        ImportSource::Url(from_src)
    };
    let request = ImportRequest {
        source,
        repo: p.repo,
        tag: p.tag,
        message: p.message,
    };
    let id = ctx.backend.import_image(request).await?;
    let line = progress::line(&ProgressMessage::status(compat::image_id(ctx.version, &id)));
    Ok(Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/json")
        .body(full(line))
        .expect("valid"))
}

/// `POST /images/(name)/insert?url=&path=` (API ≤ 1.11): the download's progress, then the
/// new image's ID, as Docker 0.9 wrote them.
pub async fn insert(ctx: Ctx, _req: Request<RequestBody>) -> HandlerResult {
    #[derive(Debug, Default, serde::Deserialize)]
    #[serde(default)]
    struct InsertParams {
        url: String,
        path: String,
    }
    let p: InsertParams = ctx.query.decode()?;
    if p.url.is_empty() || p.path.is_empty() {
        return Err(ApiError::bad_request("insert needs url and path"));
    }
    let name = ctx.param(0).to_string();
    let (id, bytes) = ctx.backend.insert_file(&name, &p.url, &p.path).await?;
    let short: String = name.chars().take(12).collect();
    let mut body = serde_json::to_vec(&serde_json::json!({
        "status": "Downloading",
        "progressDetail": {"current": bytes, "total": bytes},
        "id": short,
    }))
    .expect("serialises");
    body.extend_from_slice(b"\r\n");
    body.extend_from_slice(&progress::line(&ProgressMessage::status(compat::image_id(
        ctx.version,
        &id,
    ))));
    Ok(Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/json")
        .body(full(body))
        .expect("valid"))
}

pub async fn inspect(ctx: Ctx, _req: Request<RequestBody>) -> HandlerResult {
    let img = ctx.backend.inspect_image(ctx.param(0))?;
    json(StatusCode::OK, &compat::image_inspect(ctx.version, img))
}

pub async fn history(ctx: Ctx, _req: Request<RequestBody>) -> HandlerResult {
    let items = ctx.backend.image_history(ctx.param(0))?;
    json(StatusCode::OK, &compat::history(ctx.version, items))
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
struct TagParams {
    repo: String,
    tag: String,
    #[serde(deserialize_with = "docker_bool")]
    force: bool,
}

pub async fn tag(ctx: Ctx, _req: Request<RequestBody>) -> HandlerResult {
    let p: TagParams = ctx.query.decode()?;
    let force = p.force || !gates::tag_needs_force(ctx.version);
    ctx.backend
        .tag_image(ctx.param(0), &p.repo, &p.tag, force)?;
    Ok(Response::builder()
        .status(StatusCode::CREATED)
        .body(empty())
        .expect("valid"))
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
struct DeleteParams {
    #[serde(deserialize_with = "docker_bool")]
    force: bool,
    #[serde(deserialize_with = "docker_bool")]
    noprune: bool,
}

pub async fn delete(ctx: Ctx, _req: Request<RequestBody>) -> HandlerResult {
    let p: DeleteParams = ctx.query.decode()?;
    let items = ctx
        .backend
        .delete_image(ctx.param(0), p.force, p.noprune)
        .await?;
    json(StatusCode::OK, &compat::delete_items(ctx.version, items))
}

pub(crate) fn tar_response(stream: ByteStream) -> Response<Body> {
    use futures_util::StreamExt;
    let frames = ReaderStream::with_capacity(stream, 256 * 1024).map(|r| r.map(Frame::data));
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/x-tar")
        .body(BodyExt::boxed_unsync(StreamBody::new(frames)))
        .expect("valid")
}

pub async fn save_one(ctx: Ctx, _req: Request<RequestBody>) -> HandlerResult {
    let stream = ctx.backend.save_images(&[ctx.param(0).to_string()])?;
    Ok(tar_response(stream))
}

pub async fn save_many(ctx: Ctx, _req: Request<RequestBody>) -> HandlerResult {
    let names = ctx.query.all("names");
    if names.is_empty() {
        return Err(ApiError::bad_request("no image names given (names=...)"));
    }
    let stream = ctx.backend.save_images(&names)?;
    Ok(tar_response(stream))
}

pub async fn load(ctx: Ctx, req: Request<RequestBody>) -> HandlerResult {
    let lines = ctx.backend.load_images(body_stream(req)).await?;
    if !gates::load_reports_progress(ctx.version) {
        return Ok(Response::builder()
            .status(StatusCode::OK)
            .body(empty())
            .expect("valid"));
    }
    let mut body = Vec::new();
    for l in lines {
        body.extend_from_slice(&progress::line(&ProgressMessage::stream(format!("{l}\n"))));
    }
    Ok(Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/json")
        .body(full(body))
        .expect("valid"))
}

pub async fn prune(ctx: Ctx, _req: Request<RequestBody>) -> HandlerResult {
    let query = query::prune_query(&ctx.query, true)?;
    let report = ctx.backend.prune_images(&query).await?;
    json(
        StatusCode::OK,
        &compat::shaped(Answer::ImagePrune, ctx.version, report),
    )
}
