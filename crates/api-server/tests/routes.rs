//! The API's wire behaviour in-process: the router driven with a fake backend, no socket,
//! no daemon, no root. Tables of request → status, headers and body.

use std::pin::Pin;
use std::sync::Arc;

use async_trait::async_trait;
use berth_api_server::backend::{
    ByteStream, ContainerBackend, ContainerListQuery, EventQuery, EventSubscription, EventsBackend,
    ExecBackend, ExecStreams, ImageBackend, ImportRequest, LogStream, LogsQuery, SystemBackend,
};
use berth_api_server::{ApiError, RequestBody, Router, ServerInfo};
use berth_api_types::container::{
    ContainerInspect, ContainerSummary, CreateBody, CreateResponse, HostConfig, TopResponse,
};
use berth_api_types::exec::{ExecCreateBody, ExecInspect};
use berth_api_types::filters::Filters;
use berth_api_types::image::{DeleteItem, HistoryItem, ImageInspect, ImageSummary};
use berth_api_types::stats::ContainerStats;
use berth_api_types::system::{Info, Version};
use bytes::Bytes;
use futures_util::stream::BoxStream;
use http_body_util::{BodyExt, Full};

/// A backend with no containers, images or execs: every lookup misses, as on an empty daemon.
struct Empty;

fn no_container(name: &str) -> ApiError {
    ApiError::not_found(format!("No such container: {name}"))
}

fn no_image(name: &str) -> ApiError {
    ApiError::not_found(format!("No such image: {name}"))
}

impl SystemBackend for Empty {
    fn version(&self) -> Version {
        Version {
            version: "0.0.0-test".into(),
            os: "linux".into(),
            arch: "amd64".into(),
            ..Default::default()
        }
    }

    fn info(&self) -> Info {
        Info::default()
    }
}

#[async_trait]
impl ImageBackend for Empty {
    async fn import_image(&self, _req: ImportRequest) -> Result<String, ApiError> {
        Err(ApiError::bad_request("no import here"))
    }
    fn list_images(&self, _all: bool, _f: &Filters) -> Result<Vec<ImageSummary>, ApiError> {
        Ok(Vec::new())
    }
    fn inspect_image(&self, name: &str) -> Result<ImageInspect, ApiError> {
        Err(no_image(name))
    }
    fn image_history(&self, name: &str) -> Result<Vec<HistoryItem>, ApiError> {
        Err(no_image(name))
    }
    fn tag_image(&self, name: &str, _r: &str, _t: &str, _f: bool) -> Result<(), ApiError> {
        Err(no_image(name))
    }
    async fn delete_image(
        &self,
        name: &str,
        _force: bool,
        _noprune: bool,
    ) -> Result<Vec<DeleteItem>, ApiError> {
        Err(no_image(name))
    }
    fn save_images(&self, names: &[String]) -> Result<ByteStream, ApiError> {
        Err(no_image(names.first().map_or("", String::as_str)))
    }
    async fn load_images(&self, _body: ByteStream) -> Result<Vec<String>, ApiError> {
        Ok(Vec::new())
    }
}

impl EventsBackend for Empty {
    fn subscribe_events(&self, _q: &EventQuery) -> Result<EventSubscription, ApiError> {
        Ok(EventSubscription {
            past: Vec::new(),
            live: Box::pin(futures_util::stream::empty()),
        })
    }
}

#[async_trait]
impl ContainerBackend for Empty {
    fn create_container(&self, _n: &str, body: CreateBody) -> Result<CreateResponse, ApiError> {
        Err(no_image(&body.config.image))
    }
    async fn start_container(&self, n: &str, _h: Option<HostConfig>) -> Result<(), ApiError> {
        Err(no_container(n))
    }
    async fn stop_container(&self, n: &str, _t: Option<u64>) -> Result<(), ApiError> {
        Err(no_container(n))
    }
    async fn restart_container(&self, n: &str, _t: Option<u64>) -> Result<(), ApiError> {
        Err(no_container(n))
    }
    async fn kill_container(&self, n: &str, _s: &str) -> Result<(), ApiError> {
        Err(no_container(n))
    }
    async fn wait_container(&self, n: &str) -> Result<i64, ApiError> {
        Err(no_container(n))
    }
    async fn remove_container(&self, n: &str, _f: bool, _v: bool) -> Result<(), ApiError> {
        Err(no_container(n))
    }
    fn rename_container(&self, n: &str, _new: &str) -> Result<(), ApiError> {
        Err(no_container(n))
    }
    fn remove_link(&self, n: &str) -> Result<(), ApiError> {
        Err(no_container(n))
    }
    async fn pause_container(&self, n: &str, _p: bool) -> Result<(), ApiError> {
        Err(no_container(n))
    }
    fn list_containers(&self, _q: &ContainerListQuery) -> Result<Vec<ContainerSummary>, ApiError> {
        Ok(Vec::new())
    }
    fn inspect_container(&self, n: &str) -> Result<ContainerInspect, ApiError> {
        Err(no_container(n))
    }
    async fn top_container(&self, n: &str, _a: &str) -> Result<TopResponse, ApiError> {
        Err(no_container(n))
    }
    fn container_logs(&self, n: &str, _q: &LogsQuery) -> Result<LogStream, ApiError> {
        Err(no_container(n))
    }
    async fn resize_container(&self, n: &str, _r: u16, _c: u16) -> Result<(), ApiError> {
        Err(no_container(n))
    }
    async fn attach_stdin(
        &self,
        n: &str,
    ) -> Result<Option<Pin<Box<dyn tokio::io::AsyncWrite + Send>>>, ApiError> {
        Err(no_container(n))
    }
    fn container_stats(
        &self,
        n: &str,
        _stream: bool,
    ) -> Result<BoxStream<'static, ContainerStats>, ApiError> {
        Err(no_container(n))
    }
}

#[async_trait]
impl ExecBackend for Empty {
    fn exec_create(&self, container: &str, _b: ExecCreateBody) -> Result<String, ApiError> {
        Err(no_container(container))
    }
    async fn exec_start(&self, id: &str) -> Result<ExecStreams, ApiError> {
        Err(ApiError::not_found(format!("No such exec instance: {id}")))
    }
    async fn exec_resize(&self, id: &str, _r: u16, _c: u16) -> Result<(), ApiError> {
        Err(ApiError::not_found(format!("No such exec instance: {id}")))
    }
    fn exec_inspect(&self, id: &str) -> Result<ExecInspect, ApiError> {
        Err(ApiError::not_found(format!("No such exec instance: {id}")))
    }
}

fn router() -> Router {
    Router::new(
        Arc::new(Empty),
        ServerInfo {
            version: "0.0.0-test".into(),
            cors_origin: None,
        },
    )
}

struct Answer {
    status: u16,
    headers: http::HeaderMap,
    body: String,
}

async fn call(method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Answer {
    let mut req = http::Request::builder().method(method).uri(path);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    if !body.is_empty() {
        req = req.header("content-length", body.len());
    }
    let body: RequestBody = Full::new(Bytes::from(body.to_string()))
        .map_err(|never| match never {})
        .boxed_unsync();
    let resp = router().handle(req.body(body).unwrap()).await;
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    Answer {
        status,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}

const JSON: &[(&str, &str)] = &[("content-type", "application/json")];

/// Every route of the API, as a client names it: each resolves under no prefix and every
/// version prefix, and on an empty daemon answers what a miss answers.
#[tokio::test]
async fn every_route_resolves_under_every_prefix() {
    let routes: &[(&str, &str, &str, u16, &str)] = &[
        // method, path, body, status, body starts with
        ("GET", "/_ping", "", 200, "OK"),
        ("GET", "/version", "", 200, "{"),
        ("GET", "/info", "", 200, "{"),
        ("GET", "/images/json", "", 200, "["),
        ("GET", "/images/get?names=x", "", 404, "No such image: x"),
        ("GET", "/images/x/json", "", 404, "No such image: x"),
        (
            "GET",
            "/images/localhost:5000/a/b/json",
            "",
            404,
            "No such image: localhost:5000/a/b",
        ),
        ("GET", "/images/x/history", "", 404, "No such image: x"),
        ("GET", "/images/x/get", "", 404, "No such image: x"),
        (
            "POST",
            "/images/x/tag?repo=y&force=1",
            "",
            404,
            "No such image: x",
        ),
        ("DELETE", "/images/x", "", 404, "No such image: x"),
        ("GET", "/containers/json", "", 200, "["),
        (
            "POST",
            "/containers/create",
            r#"{"Image":"x"}"#,
            404,
            "No such image: x",
        ),
        ("GET", "/containers/c/json", "", 404, "No such container: c"),
        ("GET", "/containers/c/top", "", 404, "No such container: c"),
        (
            "GET",
            "/containers/c/logs?stdout=1",
            "",
            404,
            "No such container: c",
        ),
        (
            "GET",
            "/containers/c/stats",
            "",
            404,
            "No such container: c",
        ),
        (
            "POST",
            "/containers/c/start",
            "",
            404,
            "No such container: c",
        ),
        (
            "POST",
            "/containers/c/stop",
            "",
            404,
            "No such container: c",
        ),
        (
            "POST",
            "/containers/c/restart",
            "",
            404,
            "No such container: c",
        ),
        (
            "POST",
            "/containers/c/kill",
            "",
            404,
            "No such container: c",
        ),
        (
            "POST",
            "/containers/c/wait",
            "",
            404,
            "No such container: c",
        ),
        (
            "POST",
            "/containers/c/rename?name=d",
            "",
            404,
            "No such container: c",
        ),
        (
            "POST",
            "/containers/c/pause",
            "",
            404,
            "No such container: c",
        ),
        (
            "POST",
            "/containers/c/unpause",
            "",
            404,
            "No such container: c",
        ),
        (
            "POST",
            "/containers/c/attach?stream=1&stdout=1",
            "",
            404,
            "No such container: c",
        ),
        (
            "POST",
            "/containers/c/resize?h=10&w=10",
            "",
            404,
            "No such container: c",
        ),
        ("DELETE", "/containers/c", "", 404, "No such container: c"),
        (
            "DELETE",
            "/containers/p/alias?link=1",
            "",
            404,
            "No such container: p/alias",
        ),
        (
            "POST",
            "/containers/c/exec",
            r#"{"Cmd":["true"]}"#,
            404,
            "No such container: c",
        ),
        (
            "POST",
            "/exec/e/start",
            "{}",
            404,
            "No such exec instance: e",
        ),
        ("GET", "/exec/e/json", "", 404, "No such exec instance: e"),
        (
            "POST",
            "/exec/e/resize?h=10&w=10",
            "",
            404,
            "No such exec instance: e",
        ),
    ];
    for prefix in ["", "/v1.5", "/v1.7", "/v1.11", "/v1.15", "/v1.18"] {
        for (method, path, body, status, starts) in routes {
            let headers = if body.is_empty() { &[][..] } else { JSON };
            let a = call(method, &format!("{prefix}{path}"), headers, body).await;
            assert_eq!(a.status, *status, "{method} {prefix}{path}: {}", a.body);
            assert!(
                a.body.starts_with(starts),
                "{method} {prefix}{path}: {:?}",
                a.body
            );
            for h in ["api-version", "server", "ostype"] {
                assert!(a.headers.contains_key(h), "{method} {prefix}{path}: no {h}");
            }
        }
    }
    // The attach websocket needs its handshake headers before anything else.
    let a = call("GET", "/containers/c/attach/ws", &[], "").await;
    assert_eq!(a.status, 400, "{}", a.body);
}

/// method, path, headers, body → status, whole body.
type Case = (
    &'static str,
    &'static str,
    &'static [(&'static str, &'static str)],
    &'static str,
    u16,
    &'static str,
);

/// What the router answers itself: versions, unknown routes, and Docker's answers to odd input.
#[tokio::test]
async fn the_router_answers_as_docker_does() {
    let table: &[Case] = &[
        ("GET", "/nope", &[], "", 404, "page not found"),
        ("GET", "/v1.19/_ping", &[], "", 400, "client version 1.19 is too new. Maximum supported API version is 1.18"),
        ("GET", "/v1.4/_ping", &[], "", 400, "client version 1.4 is too old. Minimum supported API version is 1.5, please upgrade your client to a newer version"),
        ("GET", "/v1.x/_ping", &[], "", 400, "invalid API version in path: 1.x"),
        ("HEAD", "/_ping", &[], "", 200, ""),
        (
            "POST",
            "/containers/create",
            &[("content-type", "text/plain")],
            r#"{"Image":"x"}"#,
            400,
            "Content-Type specified (text/plain) must be 'application/json'",
        ),
        ("POST", "/containers/create", &[], r#"{"Image":"x"}"#, 400, "Content-Type specified () must be 'application/json'"),
        ("GET", "/containers/json?filters=%7B%22status%22%3A%5B%22bogus%22%5D%7D", &[], "", 400, "Invalid filter 'status=bogus'"),
        ("GET", "/containers/json?filters=%7B%22exited%22%3A%5B%22x%22%5D%7D", &[], "", 400, "strconv.Atoi: parsing \"x\": invalid syntax"),
        ("GET", "/containers/json?filters=%7B%22bogus%22%3A%5B%22x%22%5D%7D", &[], "", 400, "Invalid filter 'bogus'"),
        // Path parameters are matched percent-decoded.
        ("GET", "/containers/my%2Dname/json", &[], "", 404, "No such container: my-name"),
    ];
    for (method, path, headers, body, status, text) in table {
        let a = call(method, path, headers, body).await;
        assert_eq!(a.status, *status, "{method} {path}: {}", a.body);
        assert_eq!(a.body.trim(), *text, "{method} {path}");
    }
    let v = call("GET", "/v1.18/version", &[], "").await;
    let json: serde_json::Value = serde_json::from_str(&v.body).unwrap();
    assert_eq!(json["Version"], "0.0.0-test");
    assert_eq!(v.headers["api-version"], "1.18");
}
