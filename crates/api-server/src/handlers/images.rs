//! Image endpoints.

use berth_api_types::progress::{ProgressDetail, ProgressMessage};
use http::{header, Request, Response, StatusCode};
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;

use crate::RequestBody;
use tokio_util::io::ReaderStream;

use crate::backend::{
    ByteStream, ImportRequest, ImportSource, PullProgress, PullQuery, PullStep, PushProgress,
    PushQuery, PushStep,
};
use crate::body::{body_stream, empty, full, json, HandlerResult};
use crate::compat;
use crate::error::ApiError;
use crate::fields::Answer;
use crate::gates;
use crate::query::{self, docker_bool};
use crate::router::{Ctx, Route};
use crate::stream::progress::{self, Said};
use crate::Body;

/// This resource's routes.
pub(crate) fn routes() -> Vec<Route> {
    vec![
        route!(
            POST,
            "/images/{name:.*}/insert",
            insert,
            gates::legacy_insert
        ),
        route!(GET, "/images/json", list),
        route!(GET, "/images/search", search),
        route!(
            GET,
            "/distribution/{name:.*}/json",
            distribution_inspect,
            gates::distribution_inspect
        ),
        route!(POST, "/images/prune", prune, gates::prune_and_disk_usage),
        route!(GET, "/images/get", save_many),
        route!(POST, "/images/create", create),
        route!(POST, "/images/load", load),
        route!(GET, "/images/{name:.*}/json", inspect),
        route!(GET, "/images/{name:.*}/history", history),
        route!(GET, "/images/{name:.*}/get", save_one),
        route!(POST, "/images/{name:.*}/tag", tag),
        route!(POST, "/images/{name:.*}/push", push),
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

/// `POST /images/create`: import (`fromSrc`) or pull (`fromImage`).
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct CreateParams {
    from_src: String,
    from_image: String,
    repo: String,
    tag: String,
    message: String,
    platform: String,
}

/// `GET /distribution/{name}/json` (1.30+): a name's descriptor and platforms on its
/// registry, with the client's credentials.
pub async fn distribution_inspect(ctx: Ctx, req: Request<RequestBody>) -> HandlerResult {
    let answer = ctx
        .backend
        .distribution_inspect(ctx.param(0), registry_auth(&req)?)
        .await?;
    json(StatusCode::OK, &answer)
}

/// `GET /images/search?term=` (`limit` and `filters` from 1.24): the shape of each version.
pub async fn search(ctx: Ctx, req: Request<RequestBody>) -> HandlerResult {
    #[derive(Debug, Default, serde::Deserialize)]
    #[serde(default)]
    struct SearchParams {
        term: String,
        limit: String,
        filters: String,
    }
    let p: SearchParams = ctx.query.decode()?;
    let modern = gates::search_limit_and_filters(ctx.version);
    let limit = match (modern, p.limit.as_str()) {
        (true, l) if !l.is_empty() => l
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=100).contains(n))
            .ok_or_else(|| ApiError::bad_request("limit must be between 1 and 100"))?,
        _ => 25,
    };
    let filters = if modern {
        query::filters(&p.filters)?
    } else {
        Default::default()
    };
    let bad = |e: berth_api_types::filters::FilterError| ApiError::bad_request(e.0);
    let official = filters.bool_value("is-official").map_err(bad)?;
    let automated = filters.bool_value("is-automated").map_err(bad)?;
    let stars = match filters.get("stars").first() {
        Some(s) => s
            .parse::<u64>()
            .map_err(|_| ApiError::bad_request(format!("invalid filter 'stars={s}'")))?,
        None => 0,
    };
    let results = ctx
        .backend
        .search_images(&p.term, limit, registry_auth(&req)?)
        .await?;
    let kept = results.into_iter().filter(|r| {
        official.is_none_or(|o| r.is_official == o)
            && automated.is_none_or(|a| r.is_automated == a)
            && r.star_count >= stars
    });
    json(
        StatusCode::OK,
        &compat::search_results(ctx.version, kept.collect()),
    )
}

/// The `X-Registry-Auth` header: base64url JSON as clients send it (standard base64 read
/// too); absent, empty or `{}` means no credentials; anything else unreadable is a 400.
pub(crate) fn registry_auth(
    req: &Request<RequestBody>,
) -> Result<Option<berth_api_types::auth::AuthConfig>, ApiError> {
    use base64::Engine as _;
    let Some(value) = req.headers().get("x-registry-auth") else {
        return Ok(None);
    };
    let text = value.to_str().unwrap_or("").trim();
    if text.is_empty() {
        return Ok(None);
    }
    let invalid = |e: &dyn std::fmt::Display| {
        ApiError::bad_request(format!("invalid X-Registry-Auth header: {e}"))
    };
    let trimmed = text.trim_end_matches('=');
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(trimmed)
        .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(trimmed))
        .map_err(|e| invalid(&e))?;
    let mut auth: berth_api_types::auth::AuthConfig =
        serde_json::from_slice(&bytes).map_err(|e| invalid(&e))?;
    // `auth` is `base64(user:password)`, which some clients send instead of the two fields.
    if auth.username.is_empty() && !auth.auth.is_empty() {
        let pair = base64::engine::general_purpose::STANDARD
            .decode(&auth.auth)
            .map_err(|e| invalid(&e))?;
        let pair = String::from_utf8(pair).map_err(|e| invalid(&e))?;
        if let Some((user, password)) = pair.split_once(':') {
            auth.username = user.to_string();
            auth.password = password.to_string();
        }
    }
    let empty = auth.username.is_empty()
        && auth.password.is_empty()
        && auth.identitytoken.is_empty()
        && auth.registrytoken.is_empty();
    Ok((!empty).then_some(auth))
}

pub async fn create(ctx: Ctx, req: Request<RequestBody>) -> HandlerResult {
    let p: CreateParams = ctx.query.decode()?;
    let from_src = p.from_src;
    if from_src.is_empty() {
        if p.from_image.is_empty() {
            return Err(ApiError::bad_request("missing fromImage or fromSrc"));
        }
        let query = PullQuery {
            image: p.from_image,
            tag: p.tag,
            platform: if gates::pull_platform(ctx.version) {
                p.platform
            } else {
                String::new()
            },
            auth: registry_auth(&req)?,
        };
        return pull(&ctx, query).await;
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

/// A pull's progress as Docker's daemon writes it, for the CLI to draw its bars from: the
/// steps of each layer by its short ID, downloads and extraction throttled by Docker's rule,
/// then the digest and the status line.
async fn pull(ctx: &Ctx, query: PullQuery) -> HandlerResult {
    let job = ctx.backend.pull_image(query).await?;
    let mut words = PullWords {
        throttles: Default::default(),
        units: gates::progress_units(ctx.version),
    };
    // The pull runs to its end when the client leaves, as Docker's does.
    progress::relay(
        job.done,
        job.progress,
        move |step| words.line(&step).into_iter().collect(),
        |outcome| {
            let status = if outcome.updated {
                format!("Status: Downloaded newer image for {}", outcome.reference)
            } else {
                format!("Status: Image is up to date for {}", outcome.reference)
            };
            vec![progress::line(&ProgressMessage::status(status))]
        },
        progress::WhenClientLeaves::RunOn,
    )
    .await
}

/// Docker's words for a pull's steps, and the throttling of each layer's counts.
struct PullWords {
    throttles: std::collections::HashMap<(String, bool), progress::Throttle>,
    units: progress::Units,
}

impl PullWords {
    fn line(&mut self, step: &PullProgress) -> Option<bytes::Bytes> {
        let (id, status, detail) = match step {
            PullProgress::PullingFrom { path, id } => {
                let mut m = ProgressMessage::status(format!("Pulling from {path}"));
                m.id = Some(id.clone());
                return Some(progress::line(&m));
            }
            PullProgress::Digest(d) => {
                return Some(progress::line(&ProgressMessage::status(format!(
                    "Digest: {d}"
                ))))
            }
            PullProgress::Layer { id, step } => {
                let counted = |name: &str,
                               current: u64,
                               total: u64,
                               throttles: &mut std::collections::HashMap<
                    (String, bool),
                    progress::Throttle,
                >| {
                    let throttle = throttles
                        .entry((id.clone(), name == "Extracting"))
                        .or_insert_with(|| progress::Throttle::new(Some(total)));
                    // The last count always shows, so a bar ends full.
                    (throttle.due(current as i64) || current >= total).then(|| {
                        (
                            name.to_string(),
                            Some(ProgressDetail {
                                current: current as i64,
                                total: total as i64,
                                start: 0,
                            }),
                        )
                    })
                };
                let (status, detail) = match step {
                    PullStep::AlreadyExists => ("Already exists".to_string(), None),
                    PullStep::PullingFsLayer => ("Pulling fs layer".to_string(), None),
                    PullStep::Waiting => ("Waiting".to_string(), None),
                    PullStep::Downloading { current, total } => {
                        counted("Downloading", *current, *total, &mut self.throttles)?
                    }
                    PullStep::Retrying { seconds } => (
                        format!(
                            "Retrying in {seconds} second{}",
                            if *seconds == 1 { "" } else { "s" }
                        ),
                        None,
                    ),
                    PullStep::VerifyingChecksum => ("Verifying Checksum".to_string(), None),
                    PullStep::DownloadComplete => ("Download complete".to_string(), None),
                    PullStep::Extracting { current, total } => {
                        counted("Extracting", *current, *total, &mut self.throttles)?
                    }
                    PullStep::PullComplete => ("Pull complete".to_string(), None),
                };
                (id.clone(), status, detail)
            }
        };
        let mut m = ProgressMessage::status(status);
        m.progress = detail
            .as_ref()
            .map(|d| progress::bar(d, jiff::Timestamp::now().as_second(), self.units));
        m.progress_detail = Some(detail.unwrap_or_default());
        m.id = Some(id);
        Some(progress::line(&m))
    }
}

/// `POST /images/{name}/push?tag=`: the push's progress as Docker's daemon writes it. The
/// credentials are `X-Registry-Auth`, or (as the oldest clients sent them) the body's JSON;
/// with neither, Docker's 400.
pub async fn push(ctx: Ctx, req: Request<RequestBody>) -> HandlerResult {
    #[derive(Debug, Default, serde::Deserialize)]
    #[serde(default)]
    struct PushParams {
        tag: String,
    }
    let p: PushParams = ctx.query.decode()?;
    let auth = if req.headers().contains_key("x-registry-auth") {
        registry_auth(&req)?
    } else {
        let body = crate::body::read_small_body(req, 64 << 10).await?;
        let auth: berth_api_types::auth::AuthConfig =
            serde_json::from_slice(&body).map_err(|e| {
                let e = if body.iter().all(u8::is_ascii_whitespace) {
                    "EOF".to_string()
                } else {
                    e.to_string()
                };
                ApiError::bad_request(format!("Bad parameters and missing X-Registry-Auth: {e}"))
            })?;
        Some(auth).filter(|a| !a.username.is_empty() || !a.identitytoken.is_empty())
    };
    let query = PushQuery {
        image: ctx.param(0).to_string(),
        tag: p.tag,
        auth,
    };
    let job = ctx.backend.push_image(query).await?;
    let mut words = PushWords {
        throttles: Default::default(),
        units: gates::progress_units(ctx.version),
    };
    // Like a pull, the push runs to its end when the client leaves.
    progress::relay(
        job.done,
        job.progress,
        move |step| words.lines(&step),
        |()| Vec::new(),
        progress::WhenClientLeaves::RunOn,
    )
    .await
}

/// Docker's words for a push's steps, and the throttling of each layer's counts.
struct PushWords {
    throttles: std::collections::HashMap<String, progress::Throttle>,
    units: progress::Units,
}

impl PushWords {
    fn lines(&mut self, step: &PushProgress) -> Vec<bytes::Bytes> {
        match step {
            PushProgress::RefersTo(repo) => vec![progress::line(&ProgressMessage::status(
                format!("The push refers to repository [{repo}]"),
            ))],
            PushProgress::Pushed { tag, digest, size } => {
                let status =
                    ProgressMessage::status(format!("{tag}: digest: {digest} size: {size}"));
                let aux = ProgressMessage {
                    progress_detail: Some(ProgressDetail::default()),
                    aux: Some(serde_json::json!({"Tag": tag, "Digest": digest, "Size": size})),
                    ..Default::default()
                };
                vec![progress::line(&status), progress::line(&aux)]
            }
            PushProgress::Layer { id, step } => {
                let (status, detail) = match step {
                    PushStep::Preparing => ("Preparing".to_string(), None),
                    PushStep::Waiting => ("Waiting".to_string(), None),
                    PushStep::AlreadyExists => ("Layer already exists".to_string(), None),
                    PushStep::MountedFrom(from) => (format!("Mounted from {from}"), None),
                    PushStep::Pushed => ("Pushed".to_string(), None),
                    PushStep::Pushing { current, total } => {
                        let throttle = self
                            .throttles
                            .entry(id.clone())
                            .or_insert_with(|| progress::Throttle::new(Some(*total)));
                        if !throttle.due(*current as i64) && current < total {
                            return Vec::new();
                        }
                        let detail = ProgressDetail {
                            current: *current as i64,
                            total: *total as i64,
                            start: 0,
                        };
                        ("Pushing".to_string(), Some(detail))
                    }
                };
                let mut m = ProgressMessage::status(status);
                m.progress = detail
                    .as_ref()
                    .map(|d| progress::bar(d, jiff::Timestamp::now().as_second(), self.units));
                m.progress_detail = Some(detail.unwrap_or_default());
                m.id = Some(id.clone());
                vec![progress::line(&m)]
            }
        }
    }
}

/// `POST /images/(name)/insert?url=&path=` (API ≤ 1.11): the download's progress while it
/// runs, then the new image's ID, as Docker 0.9 wrote them. A missing image or an unreachable
/// URL is an HTTP error; what fails later is an error line, the status already sent.
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
    let job = ctx
        .backend
        .insert_file(ctx.param(0), &p.url, &p.path)
        .await?;
    let version = ctx.version;
    let hex = job
        .image_id
        .strip_prefix("sha256:")
        .unwrap_or(&job.image_id);
    let short: String = hex.chars().take(12).collect();
    let total = job.total.map_or(0, |t| t as i64);
    let start = jiff::Timestamp::now().as_second();
    let downloading = move |current: i64| {
        let detail = berth_api_types::progress::ProgressDetail {
            current,
            total,
            start,
        };
        let mut m = ProgressMessage::status("Downloading");
        m.progress = Some(progress::bar(
            &detail,
            jiff::Timestamp::now().as_second(),
            gates::progress_units(version),
        ));
        m.progress_detail = Some(detail);
        m.id = Some(short.clone());
        progress::line(&m)
    };
    let (tx, rx) = tokio::sync::mpsc::channel::<Said>(16);
    // The insert runs to its end even when the client leaves, as Docker's job did.
    tokio::spawn(async move {
        let (mut done, mut counts) = (job.done, job.progress);
        let mut throttle = progress::Throttle::by_bytes(job.total);
        let (mut counting, mut current) = (true, 0);
        let result = loop {
            tokio::select! {
                // Every count read before the end is weighed, so the lines do not depend
                // on how the threads ran.
                biased;
                count = counts.recv(), if counting => match count {
                    Some(count) => {
                        current = count as i64;
                        if throttle.due(current) {
                            let _ = tx.send(Said::Line(downloading(current))).await;
                        }
                    }
                    None => counting = false, // the download ended; the commit goes on
                },
                r = &mut done => break r,
            }
        };
        let _ = match result {
            Ok(id) => {
                // Docker's reader closes with the count at the total.
                let _ = tx.send(Said::Line(downloading(current.max(total)))).await;
                let status = ProgressMessage::status(compat::image_id(version, &id));
                tx.send(Said::Line(progress::line(&status))).await
            }
            Err(e) => tx.send(Said::Failed(e)).await,
        };
    });
    progress::respond(rx).await
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
