//! `docker cp`'s endpoints: `HEAD`, `GET` and `PUT /containers/(id)/archive` (served under
//! every prefix, as dockerd serves them to clients that negotiated older versions) and the
//! `POST /containers/(id)/copy` of API ≤ 1.23.

use base64::Engine;
use berth_api_types::container::{CopyBody, PathStat};
use http::{Request, Response, StatusCode};

use crate::body::{body_stream, empty, parse_json, read_json_body, HandlerResult};
use crate::error::ApiError;
use crate::gates;
use crate::query::docker_bool;
use crate::router::{Ctx, Route};
use crate::RequestBody;

/// This resource's routes.
pub(crate) fn routes() -> Vec<Route> {
    vec![
        route!(HEAD, "/containers/{id}/archive", stat),
        route!(GET, "/containers/{id}/archive", get),
        route!(PUT, "/containers/{id}/archive", put),
        route!(POST, "/containers/{id}/copy", copy, gates::legacy_copy),
    ]
}

const STAT_HEADER: &str = "X-Docker-Container-Path-Stat";

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
struct ArchiveParams {
    path: String,
    #[serde(rename = "noOverwriteDirNonDir", deserialize_with = "docker_bool")]
    no_overwrite_dir_non_dir: bool,
    #[serde(rename = "copyUIDGID", deserialize_with = "docker_bool")]
    copy_uid_gid: bool,
}

fn params(ctx: &Ctx) -> Result<ArchiveParams, ApiError> {
    let p: ArchiveParams = ctx.query.decode()?;
    if p.path.is_empty() {
        return Err(ApiError::bad_request("bad parameter: path cannot be empty"));
    }
    Ok(p)
}

/// The stat as the header carries it: standard base64 of its JSON.
fn stat_header(stat: &PathStat) -> String {
    let json = serde_json::to_vec(stat).expect("stat serialises");
    base64::engine::general_purpose::STANDARD.encode(json)
}

pub async fn stat(ctx: Ctx, _req: Request<RequestBody>) -> HandlerResult {
    let p = params(&ctx)?;
    let stat = ctx
        .backend
        .stat_container_path(ctx.param(0), &p.path)
        .await?;
    Ok(Response::builder()
        .status(StatusCode::OK)
        .header(STAT_HEADER, stat_header(&stat))
        .body(empty())
        .expect("valid"))
}

pub async fn get(ctx: Ctx, _req: Request<RequestBody>) -> HandlerResult {
    let p = params(&ctx)?;
    let (stat, tar) = ctx
        .backend
        .archive_container_path(ctx.param(0), &p.path)
        .await?;
    let mut response = super::images::tar_response(tar);
    response.headers_mut().insert(
        STAT_HEADER,
        stat_header(&stat)
            .parse()
            .expect("base64 is a valid header"),
    );
    Ok(response)
}

pub async fn put(ctx: Ctx, req: Request<RequestBody>) -> HandlerResult {
    let p = params(&ctx)?;
    ctx.backend
        .extract_to_container(
            ctx.param(0),
            &p.path,
            p.no_overwrite_dir_non_dir,
            p.copy_uid_gid,
            body_stream(req),
        )
        .await?;
    Ok(Response::builder()
        .status(StatusCode::OK)
        .body(empty())
        .expect("valid"))
}

/// The 1.5–1.23 copy: `{"Resource": path}`, answered with the same tar as `GET .../archive`.
pub async fn copy(ctx: Ctx, req: Request<RequestBody>) -> HandlerResult {
    let body = read_json_body(req, 1 << 20).await?;
    let CopyBody { resource } = parse_json(&body)?;
    if resource.is_empty() {
        return Err(ApiError::bad_request("Path cannot be empty"));
    }
    let (_, tar) = ctx
        .backend
        .archive_container_path(ctx.param(0), &resource)
        .await?;
    Ok(super::images::tar_response(tar))
}
