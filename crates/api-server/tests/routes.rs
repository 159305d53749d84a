//! The API's wire behaviour in-process: the router driven with a fake backend, no socket,
//! no daemon, no root. Tables of request → status, headers and body.

mod common;

use common::call;

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
