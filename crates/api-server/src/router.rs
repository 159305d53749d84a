//! The route table, the version prefix and the headers every response carries.
//!
//! Docker's routes put image names, which contain slashes, in the middle of paths
//! (`/images/localhost:5000/x/y/json`), which path routers built on radix trees (matchit,
//! behind axum) cannot express; the table here matches a greedy `{name:.*}` segment directly.

use std::sync::Arc;

use crate::RequestBody;
use berth_api_types::ApiVersion;
use bytes::Bytes;
use futures_util::future::BoxFuture;
use http::{header, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Empty, Full};

use crate::backend::Backend;
use crate::error::ApiError;
use crate::handlers;
use crate::peer::Peer;
use crate::query::Query;
use crate::Body;

/// What the server says about itself in headers and `/version`.
#[derive(Debug, Clone)]
pub struct ServerInfo {
    /// berth's version, e.g. `0.1.0`.
    pub version: String,
    /// `--api-cors-header`: the allowed origin, `*` for all; `None` disables CORS.
    pub cors_origin: Option<String>,
}

/// Everything a handler gets.
pub struct Ctx {
    pub backend: Arc<dyn Backend>,
    pub version: ApiVersion,
    /// Captured path parameters, in pattern order.
    pub params: Vec<String>,
    pub query: Query,
    pub info: Arc<ServerInfo>,
    /// The client: a handler that waits (`wait`) stops waiting when it has gone.
    pub peer: Peer,
}

impl Ctx {
    pub fn param(&self, i: usize) -> &str {
        &self.params[i]
    }
}

pub type HandlerResult = Result<Response<Body>, ApiError>;
type Handler = fn(Ctx, Request<RequestBody>) -> BoxFuture<'static, HandlerResult>;

struct Route {
    method: Method,
    pattern: &'static str,
    handler: Handler,
}

macro_rules! route {
    ($method:ident, $pattern:literal, $handler:path) => {
        Route {
            method: Method::$method,
            pattern: $pattern,
            handler: |c, r| Box::pin($handler(c, r)),
        }
    };
}

/// The whole API, one line per route.
fn routes() -> Vec<Route> {
    vec![
        route!(GET, "/_ping", handlers::system::ping),
        route!(HEAD, "/_ping", handlers::system::ping),
        route!(GET, "/version", handlers::system::version),
        route!(GET, "/info", handlers::system::info),
        route!(GET, "/events", handlers::events::events),
        route!(GET, "/images/json", handlers::images::list),
        route!(GET, "/images/get", handlers::images::save_many),
        route!(POST, "/images/create", handlers::images::create),
        route!(POST, "/images/load", handlers::images::load),
        route!(GET, "/images/{name:.*}/json", handlers::images::inspect),
        route!(GET, "/images/{name:.*}/history", handlers::images::history),
        route!(GET, "/images/{name:.*}/get", handlers::images::save_one),
        route!(POST, "/images/{name:.*}/tag", handlers::images::tag),
        route!(DELETE, "/images/{name:.*}", handlers::images::delete),
        route!(GET, "/containers/json", handlers::containers::list),
        route!(POST, "/containers/create", handlers::containers::create),
        route!(GET, "/containers/{id}/json", handlers::containers::inspect),
        route!(GET, "/containers/{id}/top", handlers::containers::top),
        route!(GET, "/containers/{id}/logs", handlers::containers::logs),
        route!(GET, "/containers/{id}/stats", handlers::containers::stats),
        route!(POST, "/containers/{id}/start", handlers::containers::start),
        route!(POST, "/containers/{id}/stop", handlers::containers::stop),
        route!(
            POST,
            "/containers/{id}/restart",
            handlers::containers::restart
        ),
        route!(POST, "/containers/{id}/kill", handlers::containers::kill),
        route!(POST, "/containers/{id}/wait", handlers::containers::wait),
        route!(
            POST,
            "/containers/{id}/rename",
            handlers::containers::rename
        ),
        route!(POST, "/containers/{id}/pause", handlers::containers::pause),
        route!(
            POST,
            "/containers/{id}/unpause",
            handlers::containers::unpause
        ),
        route!(
            POST,
            "/containers/{id}/attach",
            handlers::containers::attach
        ),
        route!(
            POST,
            "/containers/{id}/resize",
            handlers::containers::resize
        ),
        route!(
            GET,
            "/containers/{id}/attach/ws",
            handlers::containers::attach_ws
        ),
        // Greedy: a link is removed by its name, `/containers/<parent>/<alias>?link=1`.
        route!(DELETE, "/containers/{id:.*}", handlers::containers::remove),
        route!(POST, "/containers/{id}/exec", handlers::exec::create),
        route!(POST, "/exec/{id}/start", handlers::exec::start),
        route!(GET, "/exec/{id}/json", handlers::exec::inspect),
        route!(POST, "/exec/{id}/resize", handlers::exec::resize),
    ]
}

/// Matches `path` against `pattern`; `{x}` takes one segment, `{x:.*}` one or more.
fn match_pattern(pattern: &str, path: &str) -> Option<Vec<String>> {
    let pat: Vec<&str> = pattern.trim_start_matches('/').split('/').collect();
    let segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let mut params = Vec::new();
    let greedy = pat.iter().position(|p| p.ends_with(":.*}"));
    let (head, tail) = match greedy {
        Some(g) => (&pat[..g], &pat[g + 1..]),
        None => (&pat[..], &pat[..0]),
    };
    if greedy.is_none() && segs.len() != pat.len() {
        return None;
    }
    if greedy.is_some() && segs.len() < head.len() + 1 + tail.len() {
        return None;
    }
    let seg_match = |p: &str, s: &str, params: &mut Vec<String>| -> bool {
        if p.starts_with('{') {
            if s.is_empty() {
                return false;
            }
            params.push(s.to_string());
            true
        } else {
            p == s
        }
    };
    for (p, s) in head.iter().zip(&segs) {
        if !seg_match(p, s, &mut params) {
            return None;
        }
    }
    if greedy.is_some() {
        let middle = &segs[head.len()..segs.len() - tail.len()];
        let joined = middle.join("/");
        if joined.is_empty() {
            return None;
        }
        params.push(joined);
        for (p, s) in tail.iter().zip(&segs[segs.len() - tail.len()..]) {
            if !seg_match(p, s, &mut params) {
                return None;
            }
        }
    }
    Some(params)
}

/// Splits `/v1.18/rest` into the version and `/rest`; unprefixed paths have none.
fn split_version(path: &str) -> Result<(Option<ApiVersion>, &str), String> {
    let Some(rest) = path.strip_prefix("/v") else {
        return Ok((None, path));
    };
    let (ver, tail) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    if !ver.starts_with(|c: char| c.is_ascii_digit()) {
        return Ok((None, path));
    }
    let parsed: ApiVersion = ver
        .parse()
        .map_err(|_| format!("invalid API version in path: {ver}"))?;
    Ok((Some(parsed), tail))
}

/// The API as a request handler.
#[derive(Clone)]
pub struct Router {
    backend: Arc<dyn Backend>,
    info: Arc<ServerInfo>,
    routes: Arc<Vec<Route>>,
}

impl Router {
    pub fn new(backend: Arc<dyn Backend>, info: ServerInfo) -> Self {
        Self {
            backend,
            info: Arc::new(info),
            routes: Arc::new(routes()),
        }
    }

    /// Answers one request.
    pub async fn handle(&self, req: Request<RequestBody>) -> Response<Body> {
        // Matched decoded, as Go's router matches `URL.Path`: `/containers/my%2Dapp/json`
        // names `my-app`.
        let (raw_path, raw_query) = crate::long_target::original_target(&req);
        let path = percent_encoding::percent_decode_str(&raw_path)
            .decode_utf8_lossy()
            .into_owned();
        let method = req.method().clone();
        let (requested, rest) = match split_version(&path) {
            Ok(v) => v,
            Err(msg) => {
                return self.finish(
                    ApiError::bad_request(msg).into_response(ApiVersion::MAX),
                    &method,
                )
            }
        };
        let version = requested.unwrap_or(ApiVersion::MAX);
        if let Some(v) = requested {
            if v > ApiVersion::MAX {
                let msg = format!(
                    "client version {v} is too new. Maximum supported API version is {}",
                    ApiVersion::MAX
                );
                return self.finish(
                    ApiError::bad_request(msg).into_response(ApiVersion::MAX),
                    &method,
                );
            }
            if v < ApiVersion::MIN {
                let msg = format!(
                    "client version {v} is too old. Minimum supported API version is {}, please upgrade your client to a newer version",
                    ApiVersion::MIN
                );
                return self.finish(
                    ApiError::bad_request(msg).into_response(ApiVersion::MAX),
                    &method,
                );
            }
        }
        if method == Method::OPTIONS && self.info.cors_origin.is_some() {
            return self.finish(
                Response::builder()
                    .status(StatusCode::OK)
                    .body(empty())
                    .expect("valid"),
                &method,
            );
        }
        let rest = if rest.is_empty() { "/" } else { rest };
        let found = self.routes.iter().find_map(|r| {
            if r.method != method {
                return None;
            }
            match_pattern(r.pattern, rest).map(|params| (r.handler, params))
        });
        let Some((handler, params)) = found else {
            tracing::debug!(%method, %path, "no route");
            return self.finish(
                ApiError::not_found("page not found").into_response(version),
                &method,
            );
        };
        let peer = req
            .extensions()
            .get::<Peer>()
            .cloned()
            .unwrap_or_else(Peer::detached);
        let ctx = Ctx {
            backend: self.backend.clone(),
            version,
            params,
            query: Query::parse(raw_query.as_deref()),
            info: self.info.clone(),
            peer: peer.clone(),
        };
        let started = std::time::Instant::now();
        let response = match handler(ctx, req).await {
            Ok(r) => r,
            Err(e) => {
                if e.status().is_server_error() {
                    tracing::warn!(%method, %path, error = %e.chain(), "request failed");
                } else {
                    tracing::debug!(%method, %path, error = %e.message, "request refused");
                }
                e.into_response(version)
            }
        };
        tracing::trace!(%method, %path, status = response.status().as_u16(), elapsed_us = started.elapsed().as_micros() as u64, "answered");
        self.finish(until_gone(response, peer), &method)
    }

    /// Adds the headers Docker Engine puts on every response.
    fn finish(&self, mut resp: Response<Body>, _method: &Method) -> Response<Body> {
        let h = resp.headers_mut();
        h.insert(
            "Api-Version",
            HeaderValue::from_str(&ApiVersion::MAX.to_string()).expect("ascii"),
        );
        h.insert(
            header::SERVER,
            HeaderValue::from_str(&format!("berth/{} (linux)", self.info.version)).expect("ascii"),
        );
        h.insert("OSType", HeaderValue::from_static("linux"));
        if let Some(origin) = &self.info.cors_origin {
            if let Ok(v) = HeaderValue::from_str(origin) {
                h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, v);
            }
            h.insert(
                header::ACCESS_CONTROL_ALLOW_HEADERS,
                HeaderValue::from_static(
                    "Origin, X-Requested-With, Content-Type, Accept, X-Registry-Auth",
                ),
            );
            h.insert(
                header::ACCESS_CONTROL_ALLOW_METHODS,
                HeaderValue::from_static("HEAD, GET, POST, DELETE, PUT, OPTIONS"),
            );
        }
        resp
    }
}

/// A streamed answer (events, logs, stats, progress) ends when its client goes, even while
/// it has nothing to send: what it streams from is released at once.
fn until_gone(resp: Response<Body>, peer: Peer) -> Response<Body> {
    use http_body::Body as _;
    let body = resp.body();
    if body.is_end_stream() || body.size_hint().exact().is_some() {
        return resp;
    }
    resp.map(|body| {
        let gone = async move { peer.closed().await };
        BodyExt::boxed_unsync(UntilGone {
            body,
            gone: Box::pin(gone),
        })
    })
}

/// A body that fails (so hyper drops the connection) once its client has gone.
struct UntilGone {
    body: Body,
    gone: futures_util::future::BoxFuture<'static, ()>,
}

impl http_body::Body for UntilGone {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, std::io::Error>>> {
        use std::task::Poll;
        if let Poll::Ready(frame) = std::pin::Pin::new(&mut self.body).poll_frame(cx) {
            return Poll::Ready(frame);
        }
        match std::future::Future::poll(self.gone.as_mut(), cx) {
            Poll::Ready(()) => Poll::Ready(Some(Err(std::io::Error::new(
                std::io::ErrorKind::ConnectionAborted,
                "the client went away",
            )))),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}

pub fn empty() -> Body {
    Empty::<Bytes>::new()
        .map_err(|never| match never {})
        .boxed_unsync()
}

pub fn full(data: impl Into<Bytes>) -> Body {
    Full::new(data.into())
        .map_err(|never| match never {})
        .boxed_unsync()
}

/// A body that sends each chunk as it comes.
pub fn stream_body<S>(chunks: S) -> Body
where
    S: futures_util::Stream<Item = Bytes> + Send + 'static,
{
    use futures_util::StreamExt;
    BodyExt::boxed_unsync(http_body_util::StreamBody::new(
        chunks.map(|c| Ok::<_, std::io::Error>(hyper::body::Frame::data(c))),
    ))
}

/// A 200 streamed as it is produced: logs, events, stats, exec output.
pub fn streaming<S>(content_type: &'static str, chunks: S) -> HandlerResult
where
    S: futures_util::Stream<Item = Bytes> + Send + 'static,
{
    Ok(Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, content_type)
        .body(stream_body(chunks))
        .expect("valid"))
}

/// One value of a JSON-lines stream (events, stats).
pub fn json_line<T: serde::Serialize>(value: &T) -> Bytes {
    let mut line = serde_json::to_vec(value).expect("wire types serialise");
    line.push(b'\n');
    Bytes::from(line)
}

/// A JSON response with the given status.
pub fn json<T: serde::Serialize>(status: StatusCode, value: &T) -> HandlerResult {
    let body = serde_json::to_vec(value)
        .map_err(|e| ApiError::internal(format!("encode response: {e}")))?;
    Ok(Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json")
        .body(full(body))
        .expect("valid"))
}

/// Reads a request body that must be small (JSON), refusing more than `limit` bytes.
pub async fn read_small_body(req: Request<RequestBody>, limit: usize) -> Result<Bytes, ApiError> {
    let limited = http_body_util::Limited::new(req.into_body(), limit);
    limited
        .collect()
        .await
        .map(|c| c.to_bytes())
        .map_err(|e| ApiError::bad_request(format!("reading request body: {e}")))
}

/// Reads a JSON request body, refusing another content type as Docker does (a request with
/// neither a body nor a `Content-Type` is fine: an empty body).
pub async fn read_json_body(req: Request<RequestBody>, limit: usize) -> Result<Bytes, ApiError> {
    check_json_content_type(req.headers())?;
    read_small_body(req, limit).await
}

/// Docker's `CheckForJSON`.
fn check_json_content_type(headers: &http::HeaderMap) -> Result<(), ApiError> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .unwrap_or_default();
    let no_body = !headers.contains_key(header::TRANSFER_ENCODING)
        && headers
            .get(header::CONTENT_LENGTH)
            .is_none_or(|l| l.as_bytes() == b"0");
    if ct.is_empty() && no_body {
        return Ok(());
    }
    let media_type = ct.split(';').next().unwrap_or("").trim();
    if media_type.eq_ignore_ascii_case("application/json") {
        Ok(())
    } else {
        Err(ApiError::bad_request(format!(
            "Content-Type specified ({ct}) must be 'application/json'"
        )))
    }
}

/// The request body as an async byte stream (import, load).
pub fn body_stream(req: Request<RequestBody>) -> crate::backend::ByteStream {
    Box::pin(tokio_util::io::StreamReader::new(
        req.into_body().into_data_stream(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_names_with_slashes() {
        assert_eq!(
            match_pattern("/images/{name:.*}/json", "/images/busybox/json"),
            Some(vec!["busybox".into()])
        );
        assert_eq!(
            match_pattern("/images/{name:.*}/json", "/images/localhost:5000/a/b/json"),
            Some(vec!["localhost:5000/a/b".into()])
        );
        assert_eq!(
            match_pattern("/images/{name:.*}/json", "/images/json"),
            None
        );
        assert_eq!(
            match_pattern("/images/{name:.*}", "/images/a/b"),
            Some(vec!["a/b".into()])
        );
        assert_eq!(match_pattern("/images/json", "/images/json"), Some(vec![]));
        assert_eq!(
            match_pattern("/containers/{id}/json", "/containers/abc/json"),
            Some(vec!["abc".into()])
        );
        assert_eq!(
            match_pattern("/containers/{id}/json", "/containers//json"),
            None
        );
    }

    #[test]
    fn json_bodies_need_a_json_content_type() {
        let check = |pairs: &[(&str, &str)]| {
            let mut h = http::HeaderMap::new();
            for (k, v) in pairs {
                h.insert(
                    http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                    HeaderValue::from_str(v).unwrap(),
                );
            }
            check_json_content_type(&h).map_err(|e| e.message)
        };
        assert!(check(&[]).is_ok());
        assert!(check(&[("content-length", "0")]).is_ok());
        assert!(check(&[
            ("content-type", "application/json"),
            ("content-length", "2")
        ])
        .is_ok());
        assert!(check(&[("content-type", "application/json; charset=utf-8")]).is_ok());
        assert!(check(&[("content-type", "Application/JSON")]).is_ok());
        assert_eq!(
            check(&[("content-type", "text/plain"), ("content-length", "2")]),
            Err("Content-Type specified (text/plain) must be 'application/json'".into())
        );
        assert_eq!(
            check(&[("content-length", "2")]),
            Err("Content-Type specified () must be 'application/json'".into())
        );
        assert!(check(&[("transfer-encoding", "chunked")]).is_err());
    }

    #[test]
    fn version_prefix() {
        assert_eq!(
            split_version("/v1.18/images/json").unwrap(),
            (Some(ApiVersion::new(1, 18)), "/images/json")
        );
        assert_eq!(
            split_version("/images/json").unwrap(),
            (None, "/images/json")
        );
        assert_eq!(split_version("/version").unwrap(), (None, "/version"));
        assert!(split_version("/v1.x/_ping").is_err());
    }
}
