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
use http_body_util::BodyExt;

use crate::backend::Backend;
use crate::body::empty;
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

pub use crate::body::HandlerResult;

pub(crate) type Handler = fn(Ctx, Request<RequestBody>) -> BoxFuture<'static, HandlerResult>;

/// A method and path pattern, and the handler that answers them (see `route!`).
pub(crate) struct Route {
    pub method: Method,
    pub pattern: &'static str,
    pub handler: Handler,
    /// Whether the route exists at a version (a `gates` predicate).
    pub available: fn(ApiVersion) -> bool,
}

/// The whole API: each resource's routes, from its handlers' module.
fn routes() -> Vec<Route> {
    [
        handlers::system::routes(),
        handlers::auth::routes(),
        handlers::build::routes(),
        handlers::events::routes(),
        handlers::images::routes(),
        handlers::containers::routes(),
        handlers::archive::routes(),
        handlers::exec::routes(),
        handlers::networks::routes(),
        handlers::plugins::routes(),
        handlers::swarm::routes(),
        handlers::volumes::routes(),
    ]
    .into_iter()
    .flatten()
    .collect()
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
                // In the asked version's error format (text), as dockerd answers it.
                return self.finish(ApiError::bad_request(msg).into_response(v), &method);
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
            if r.method != method || !(r.available)(version) {
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
        h.insert("Docker-Experimental", HeaderValue::from_static("false"));
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
