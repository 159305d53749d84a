//! Container endpoints.

use crate::RequestBody;
use berth_api_types::container::{CreateBody, HostConfig, UpdateBody, WaitResponse};
use futures_util::StreamExt;
use http::{header, Request, Response, StatusCode};

use crate::backend::{CommitQuery, ContainerListQuery, LogStream, LogsQuery, StopQuery};
use crate::body::{
    empty, json, json_bytes, json_line, no_content, parse_json, read_json_body, streaming,
    HandlerResult,
};
use crate::compat;
use crate::error::ApiError;
use crate::fields::Answer;
use crate::gates;
use crate::query::{self, docker_bool, docker_bool_opt, ResizeParams};
use crate::router::{Ctx, Route};
use crate::stream::attach::{parse_detach_keys, AttachSession};
use crate::stream::hijack::{Hijack, MediaType};
use crate::stream::stdcopy;
use crate::stream::websocket::WebSocketSession;

/// This resource's routes.
pub(crate) fn routes() -> Vec<Route> {
    vec![
        route!(GET, "/containers/json", list),
        route!(
            POST,
            "/containers/prune",
            prune,
            gates::prune_and_disk_usage
        ),
        route!(
            POST,
            "/containers/{id}/update",
            update,
            gates::container_update
        ),
        route!(POST, "/containers/create", create),
        route!(POST, "/commit", commit),
        route!(GET, "/containers/{id}/json", inspect),
        route!(GET, "/containers/{id}/top", top),
        route!(GET, "/containers/{id}/changes", changes),
        route!(GET, "/containers/{id}/export", export),
        route!(GET, "/containers/{id}/logs", logs),
        route!(GET, "/containers/{id}/stats", stats),
        route!(POST, "/containers/{id}/start", start),
        route!(POST, "/containers/{id}/stop", stop),
        route!(POST, "/containers/{id}/restart", restart),
        route!(POST, "/containers/{id}/kill", kill),
        route!(POST, "/containers/{id}/wait", wait),
        route!(POST, "/containers/{id}/rename", rename),
        route!(POST, "/containers/{id}/pause", pause),
        route!(POST, "/containers/{id}/unpause", unpause),
        route!(POST, "/containers/{id}/attach", attach),
        route!(POST, "/containers/{id}/resize", resize),
        route!(GET, "/containers/{id}/attach/ws", attach_ws),
        // Greedy: a link is removed by its name, `/containers/<parent>/<alias>?link=1`.
        route!(DELETE, "/containers/{id:.*}", remove),
    ]
}

const MAX_JSON_BODY: usize = 4 << 20;

/// `name`: of a new container (create) or the new name (rename).
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
struct NameParams {
    name: String,
}

pub async fn create(ctx: Ctx, req: Request<RequestBody>) -> HandlerResult {
    let NameParams { name } = ctx.query.decode()?;
    let body = read_json_body(req, MAX_JSON_BODY).await?;
    if body.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(ApiError::bad_request(
            "Config cannot be empty in order to create a container",
        ));
    }
    let mut create = CreateBody {
        config: parse_json(&body)?,
        extras: parse_json(&body)?,
    };
    if gates::create_has_toplevel_resources(ctx.version) {
        let create = &mut create.extras;
        let hc = create.host_config.get_or_insert_with(HostConfig::default);
        if hc.memory == 0 {
            hc.memory = create.memory;
        }
        if hc.memory_swap == 0 {
            hc.memory_swap = create.memory_swap;
        }
        if hc.cpu_shares == 0 {
            hc.cpu_shares = create.cpu_shares;
        }
        if hc.cpuset_cpus.is_empty() {
            hc.cpuset_cpus = create.cpuset.clone();
        }
        if hc.dns.is_none() {
            hc.dns = create.dns.clone();
        }
        if hc.volumes_from.is_none() {
            // 1.5–1.11 give a single comma-separated string; later a list.
            hc.volumes_from = match &create.volumes_from {
                Some(serde_json::Value::String(s)) if !s.is_empty() => {
                    Some(s.split(',').map(str::to_string).collect())
                }
                Some(v @ serde_json::Value::Array(_)) => serde_json::from_value(v.clone()).ok(),
                _ => None,
            };
        }
    }
    compat::create_request(ctx.version, &mut create)?;
    let created = ctx.backend.create_container(&name, create)?;
    json(
        StatusCode::CREATED,
        &compat::shaped(Answer::ContainerCreate, ctx.version, created),
    )
}

pub async fn start(ctx: Ctx, req: Request<RequestBody>) -> HandlerResult {
    let body = read_json_body(req, MAX_JSON_BODY).await?;
    let host_config = if gates::start_accepts_host_config(ctx.version)
        && !body.iter().all(|b| b.is_ascii_whitespace())
    {
        let v: serde_json::Value = parse_json(&body)?;
        if v.is_null() || v.as_object().is_some_and(|o| o.is_empty()) {
            None
        } else {
            let mut hc = parse_json::<HostConfig>(&body)?;
            compat::host_config_request(ctx.version, &mut hc)?;
            Some(hc)
        }
    } else {
        None
    };
    ctx.backend
        .start_container(ctx.param(0), host_config)
        .await?;
    no_content()
}

/// `t`: seconds to wait before killing (stop, restart).
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
struct StopParams {
    t: String,
    signal: String,
}

fn stop_query(ctx: &Ctx) -> Result<StopQuery, ApiError> {
    let StopParams { t, signal } = ctx.query.decode()?;
    let timeout = if t.is_empty() {
        None
    } else {
        Some(
            t.parse::<i64>()
                .map_err(|_| ApiError::bad_request(format!("invalid value for t: {t}")))?,
        )
    };
    let signal = (gates::stop_takes_signal(ctx.version) && !signal.is_empty()).then_some(signal);
    Ok(StopQuery { timeout, signal })
}

pub async fn stop(ctx: Ctx, _req: Request<RequestBody>) -> HandlerResult {
    let how = stop_query(&ctx)?;
    ctx.backend.stop_container(ctx.param(0), &how).await?;
    no_content()
}

pub async fn restart(ctx: Ctx, _req: Request<RequestBody>) -> HandlerResult {
    let how = stop_query(&ctx)?;
    ctx.backend.restart_container(ctx.param(0), &how).await?;
    no_content()
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
struct KillParams {
    signal: String,
}

pub async fn kill(ctx: Ctx, _req: Request<RequestBody>) -> HandlerResult {
    let KillParams { signal } = ctx.query.decode()?;
    ctx.backend.kill_container(ctx.param(0), &signal).await?;
    no_content()
}

/// `POST /containers/(id)/wait`. From API 1.30 it takes a `condition` and answers its
/// headers at once (`docker run` waits before it starts the container); before, it answers
/// only once the container stopped.
pub async fn wait(ctx: Ctx, _req: Request<RequestBody>) -> HandlerResult {
    #[derive(Debug, Default, serde::Deserialize)]
    #[serde(default)]
    struct WaitParams {
        condition: String,
    }
    let early = gates::wait_has_condition(ctx.version);
    let condition = if early {
        ctx.query.decode::<WaitParams>()?.condition
    } else {
        String::new()
    };
    let waiting = ctx.backend.wait_container(ctx.param(0), &condition)?;
    if early {
        let answer = async move {
            match waiting.await {
                Ok(code) => json_line(&WaitResponse::exited(code)),
                Err(e) => json_line(&WaitResponse::failed(e.message)),
            }
        };
        return streaming("application/json", futures_util::stream::once(answer));
    }
    let code = tokio::select! {
        code = waiting => code?,
        // Nobody to tell: stop waiting (and holding the container's change channel).
        _ = ctx.peer.closed() => return Err(ApiError::client_gone()),
    };
    json(StatusCode::OK, &WaitResponse::exited(code))
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
struct RemoveParams {
    /// Remove the link by this name, not a container.
    #[serde(deserialize_with = "docker_bool")]
    link: bool,
    #[serde(deserialize_with = "docker_bool")]
    force: bool,
    /// Remove the container's anonymous volumes too.
    #[serde(deserialize_with = "docker_bool")]
    v: bool,
}

pub async fn remove(ctx: Ctx, _req: Request<RequestBody>) -> HandlerResult {
    let p: RemoveParams = ctx.query.decode()?;
    if p.link {
        ctx.backend.remove_link(ctx.param(0))?;
        return no_content();
    }
    ctx.backend
        .remove_container(ctx.param(0), p.force, p.v)
        .await?;
    no_content()
}

pub async fn rename(ctx: Ctx, _req: Request<RequestBody>) -> HandlerResult {
    let NameParams { name } = ctx.query.decode()?;
    ctx.backend.rename_container(ctx.param(0), &name)?;
    no_content()
}

pub async fn pause(ctx: Ctx, _req: Request<RequestBody>) -> HandlerResult {
    ctx.backend.pause_container(ctx.param(0), true).await?;
    no_content()
}

pub async fn unpause(ctx: Ctx, _req: Request<RequestBody>) -> HandlerResult {
    ctx.backend.pause_container(ctx.param(0), false).await?;
    no_content()
}

/// The states a `status` filter may name (Docker's).
const CONTAINER_STATES: &[&str] = &[
    "created",
    "restarting",
    "running",
    "removing",
    "paused",
    "exited",
    "dead",
];

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
struct ListParams {
    #[serde(deserialize_with = "docker_bool")]
    all: bool,
    limit: String,
    since: String,
    before: String,
    #[serde(deserialize_with = "docker_bool")]
    size: bool,
    filters: String,
}

pub async fn list(ctx: Ctx, _req: Request<RequestBody>) -> HandlerResult {
    let p: ListParams = ctx.query.decode()?;
    let filters = query::filters(&p.filters)?;
    filters
        .validate(&[
            "exited", "status", "label", "id", "name", "ancestor", "before", "since", "health",
            "network", "publish", "expose", "volume", "is-task",
        ])
        .map_err(|e| ApiError::bad_request(e.0))?;
    for health in filters.get("health") {
        if !["starting", "healthy", "unhealthy", "none"].contains(&health.as_str()) {
            return Err(ApiError::bad_request(format!(
                "Unrecognised filter value for health: {health}"
            )));
        }
    }
    for status in filters.get("status") {
        if !CONTAINER_STATES.contains(&status.as_str()) {
            return Err(ApiError::bad_request(format!(
                "Invalid filter 'status={status}'"
            )));
        }
    }
    for code in filters.get("exited") {
        if code.parse::<i32>().is_err() {
            return Err(ApiError::bad_request(format!(
                "strconv.Atoi: parsing {code:?}: invalid syntax"
            )));
        }
    }
    let limit = match Some(p.limit.as_str()).filter(|l| !l.is_empty()) {
        None => None,
        Some(l) => match l.parse::<i64>() {
            Ok(n) if n > 0 => Some(n as usize),
            Ok(_) => None,
            Err(_) => {
                return Err(ApiError::bad_request(format!(
                    "invalid value for limit: {l}"
                )))
            }
        },
    };
    let query = ContainerListQuery {
        all: p.all,
        limit,
        since: p.since,
        before: p.before,
        size: p.size,
        filters,
    };
    let items = ctx.backend.list_containers(&query)?;
    json(
        StatusCode::OK,
        &compat::container_list(ctx.version, items, query.size),
    )
}

pub async fn inspect(ctx: Ctx, _req: Request<RequestBody>) -> HandlerResult {
    #[derive(Debug, Default, serde::Deserialize)]
    #[serde(default)]
    struct InspectParams {
        #[serde(deserialize_with = "docker_bool")]
        size: bool,
    }
    let mut c = ctx.backend.inspect_container(ctx.param(0))?;
    if ctx.query.decode::<InspectParams>()?.size {
        let (rw, root) = ctx.backend.container_sizes(ctx.param(0)).await?;
        (c.size_rw, c.size_root_fs) = (Some(rw), Some(root));
    }
    json(StatusCode::OK, &compat::container_inspect(ctx.version, c))
}

pub async fn top(ctx: Ctx, _req: Request<RequestBody>) -> HandlerResult {
    #[derive(Debug, Default, serde::Deserialize)]
    #[serde(default)]
    struct TopParams {
        ps_args: String,
    }
    let TopParams { ps_args } = ctx.query.decode()?;
    let t = ctx.backend.top_container(ctx.param(0), &ps_args).await?;
    json(StatusCode::OK, &t)
}

/// `POST /commit`: the body is a container config (or nothing); `pause` defaults to true
/// from API 1.13, as dockerd decides.
pub async fn commit(ctx: Ctx, req: Request<RequestBody>) -> HandlerResult {
    #[derive(Debug, Default, serde::Deserialize)]
    #[serde(default)]
    struct CommitParams {
        container: String,
        repo: String,
        tag: String,
        comment: String,
        author: String,
        #[serde(deserialize_with = "docker_bool_opt")]
        pause: Option<bool>,
    }
    let p: CommitParams = ctx.query.decode()?;
    let changes: Vec<String> = ctx
        .query
        .all("changes")
        .into_iter()
        .filter(|c| !c.trim().is_empty())
        .collect();
    let body = read_json_body(req, MAX_JSON_BODY).await?;
    let config = if body.iter().all(|b| b.is_ascii_whitespace()) || body.as_ref() == b"null" {
        None
    } else {
        Some(parse_json(&body)?)
    };
    let query = CommitQuery {
        container: p.container,
        repo: p.repo,
        tag: p.tag,
        comment: p.comment,
        author: p.author,
        pause: p
            .pause
            .unwrap_or(gates::commit_pauses_by_default(ctx.version)),
        changes,
    };
    let id = ctx.backend.commit_container(&query, config).await?;
    json(
        StatusCode::CREATED,
        &serde_json::json!({"Id": compat::image_id(ctx.version, &id)}),
    )
}

pub async fn export(ctx: Ctx, _req: Request<RequestBody>) -> HandlerResult {
    let stream = ctx.backend.export_container(ctx.param(0))?;
    Ok(super::images::tar_response(stream))
}

/// `null` when nothing changed, as Docker's empty list encodes.
pub async fn changes(ctx: Ctx, _req: Request<RequestBody>) -> HandlerResult {
    let changes = ctx.backend.container_changes(ctx.param(0)).await?;
    let changes = (!changes.is_empty()).then_some(changes);
    let body = compat::shaped_json(Answer::ContainerChanges, ctx.version, &changes)
        .map_err(|e| ApiError::internal(format!("encode response: {e}")))?;
    json_bytes(StatusCode::OK, body)
}

/// The parameters of `logs`, and of `attach` (which replays the log with `logs`).
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
struct StreamParams {
    #[serde(deserialize_with = "docker_bool")]
    stdout: bool,
    #[serde(deserialize_with = "docker_bool")]
    stderr: bool,
    #[serde(deserialize_with = "docker_bool")]
    follow: bool,
    #[serde(deserialize_with = "docker_bool")]
    timestamps: bool,
    tail: String,
    since: String,
    until: String,
    #[serde(deserialize_with = "docker_bool")]
    details: bool,
    // attach
    #[serde(deserialize_with = "docker_bool")]
    stream: bool,
    #[serde(deserialize_with = "docker_bool")]
    logs: bool,
    #[serde(deserialize_with = "docker_bool")]
    stdin: bool,
    #[serde(rename = "detachKeys")]
    detach_keys: Option<String>,
}

fn logs_query(p: &StreamParams, follow: bool) -> Result<LogsQuery, ApiError> {
    // Anything but a count (`all`, `-1`, a word) means every line, as Docker reads it.
    let tail = p.tail.parse::<usize>().ok();
    Ok(LogsQuery {
        stdout: p.stdout,
        stderr: p.stderr,
        follow,
        tail,
        since: query::timestamp("since", &p.since)?,
        until: query::timestamp("until", &p.until)?,
        details: p.details,
        attach: false,
    })
}

pub async fn logs(ctx: Ctx, _req: Request<RequestBody>) -> HandlerResult {
    let p: StreamParams = ctx.query.decode()?;
    let q = logs_query(&p, p.follow)?;
    if !q.stdout && !q.stderr {
        return Err(ApiError::bad_request(
            "Bad parameters: you must choose at least one stream",
        ));
    }
    let LogStream { tty, chunks } = ctx.backend.container_logs(ctx.param(0), &q)?;
    let enc = stdcopy::encode(tty, p.timestamps);
    streaming(MediaType::of(ctx.version, tty).as_str(), chunks.map(enc))
}

/// `POST /containers/(id)/attach`: for now the output side only (the container's stdout and
/// stderr as they are logged, with `logs=1` replaying what came before), which is what a
/// non-interactive `docker run` needs. With `Upgrade: tcp` the connection is hijacked
/// (`101 UPGRADED`), as Docker does.
pub async fn attach(ctx: Ctx, req: Request<RequestBody>) -> HandlerResult {
    let p: StreamParams = ctx.query.decode()?;
    // Inspect first: a missing container is a plain 404 before any upgrade.
    let tty = ctx.backend.inspect_container(ctx.param(0))?.config.tty;
    let chunks = attach_output(&ctx, &p)?;
    let session = AttachSession {
        backend: ctx.backend.clone(),
        name: ctx.param(0).to_string(),
        want_stdin: p.stdin && p.stream,
        detach_keys: parse_detach_keys(p.detach_keys.as_deref().unwrap_or("ctrl-p,ctrl-q"))?,
        chunks,
    };
    Hijack::of(&req).raw_stream(MediaType::of(ctx.version, tty), move |io| session.run(io))
}

/// The output an attach asks for (`stdout`, `stderr`; `logs` replays what came before,
/// `stream` follows): `None` when it asks for none.
fn attach_output(ctx: &Ctx, p: &StreamParams) -> Result<Option<LogStream>, ApiError> {
    if !(p.stdout || p.stderr) || !(p.logs || p.stream) {
        return Ok(None);
    }
    let mut q = logs_query(p, p.stream)?;
    q.attach = true;
    if !p.logs {
        // Only what comes from now on.
        q.tail = Some(0);
    }
    Ok(Some(ctx.backend.container_logs(ctx.param(0), &q)?))
}

/// `GET /containers/(id)/stats`: one JSON object per second, until the container stops or
/// the client goes away.
pub async fn stats(ctx: Ctx, _req: Request<RequestBody>) -> HandlerResult {
    #[derive(Debug, Default, serde::Deserialize)]
    #[serde(default)]
    struct StatsParams {
        #[serde(deserialize_with = "docker_bool_opt")]
        stream: Option<bool>,
        #[serde(rename = "one-shot", deserialize_with = "docker_bool")]
        one_shot: bool,
    }
    // Streams unless told not to.
    let params = ctx.query.decode::<StatsParams>()?;
    let stream = params.stream.unwrap_or(true);
    if stream && params.one_shot {
        return Err(ApiError::bad_request(
            "cannot have stream=true and one-shot=true",
        ));
    }
    let one_shot = params.one_shot && gates::stats_one_shot(ctx.version);
    let samples = ctx
        .backend
        .container_stats(ctx.param(0), stream, one_shot)?;
    let v = ctx.version;
    streaming(
        "application/json",
        samples.map(move |s| json_line(&compat::stats(v, s))),
    )
}

/// `POST /containers/(id)/resize?h=&w=`.
pub async fn resize(ctx: Ctx, _req: Request<RequestBody>) -> HandlerResult {
    let (h, w) = ctx.query.decode::<ResizeParams>()?.rows_cols()?;
    ctx.backend.resize_container(ctx.param(0), h, w).await?;
    Ok(Response::builder()
        .status(StatusCode::OK)
        .body(empty())
        .expect("valid"))
}

/// `GET /containers/(id)/attach/ws`: the same streams over an RFC 6455 websocket. Output goes
/// out raw (no multiplexing) in binary messages; text or binary messages from the client go to
/// the container's stdin.
pub async fn attach_ws(ctx: Ctx, req: Request<RequestBody>) -> HandlerResult {
    let key = req
        .headers()
        .get("Sec-WebSocket-Key")
        .filter(|_| {
            req.headers()
                .get(header::UPGRADE)
                .is_some_and(|u| u.as_bytes().eq_ignore_ascii_case(b"websocket"))
        })
        .ok_or_else(|| {
            ApiError::bad_request(
                "not a websocket handshake (Upgrade: websocket and Sec-WebSocket-Key expected)",
            )
        })?;
    let accept = tokio_tungstenite::tungstenite::handshake::derive_accept_key(key.as_bytes());
    ctx.backend.inspect_container(ctx.param(0))?;
    let mut p: StreamParams = ctx.query.decode()?;
    if !gates::websocket_stream_choice(ctx.version) {
        (p.stdin, p.stdout, p.stderr) = (true, true, true);
    }
    let chunks = attach_output(&ctx, &p)?;
    let want_stdin = p.stdin && p.stream;
    let session = WebSocketSession {
        backend: ctx.backend.clone(),
        name: ctx.param(0).to_string(),
        want_stdin,
        chunks,
        binary: gates::websocket_binary_frames(ctx.version),
    };
    Hijack::of(&req).websocket(&accept, move |io| session.run(io))
}

pub async fn prune(ctx: Ctx, _req: Request<RequestBody>) -> HandlerResult {
    let query = query::prune_query(&ctx.query, false)?;
    let report = ctx.backend.prune_containers(&query).await?;
    json(
        StatusCode::OK,
        &compat::shaped(Answer::ContainerPrune, ctx.version, report),
    )
}

pub async fn update(ctx: Ctx, req: Request<RequestBody>) -> HandlerResult {
    let body = read_json_body(req, MAX_JSON_BODY).await?;
    let update: UpdateBody = parse_json(&body)?;
    let answer = ctx.backend.update_container(ctx.param(0), update).await?;
    json(
        StatusCode::OK,
        &compat::shaped(Answer::ContainerUpdate, ctx.version, answer),
    )
}
