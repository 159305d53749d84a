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
    for prefix in [
        "", "/v1.5", "/v1.7", "/v1.11", "/v1.15", "/v1.18", "/v1.23", "/v1.24", "/v1.25", "/v1.41",
        "/v1.44",
    ] {
        for (method, path, body, status, starts) in routes {
            let headers = if body.is_empty() { &[][..] } else { JSON };
            let a = call(method, &format!("{prefix}{path}"), headers, body).await;
            assert_eq!(a.status, *status, "{method} {prefix}{path}: {}", a.body);
            let message = error_message(&a);
            assert!(
                message.starts_with(starts),
                "{method} {prefix}{path}: {:?}",
                a.body
            );
            for h in ["api-version", "server", "ostype", "docker-experimental"] {
                assert!(a.headers.contains_key(h), "{method} {prefix}{path}: no {h}");
            }
        }
    }
    // The attach websocket needs its handshake headers before anything else.
    let a = call("GET", "/containers/c/attach/ws", &[], "").await;
    assert_eq!(a.status, 400, "{}", a.body);
}

/// An error's message: the body below 1.24, its `message` from 1.24.
fn error_message(a: &common::Answer) -> String {
    match serde_json::from_str::<serde_json::Value>(&a.body) {
        Ok(v) if v.get("message").is_some() => v["message"].as_str().unwrap().to_string(),
        _ => a.body.trim().to_string(),
    }
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
        ("GET", "/v1.18/nope", &[], "", 404, "page not found"),
        (
            "GET",
            "/nope",
            &[],
            "",
            404,
            r#"{"message":"page not found"}"#,
        ),
        (
            "GET",
            "/v1.45/_ping",
            &[],
            "",
            400,
            r#"{"message":"client version 1.45 is too new. Maximum supported API version is 1.44"}"#,
        ),
        (
            "GET",
            "/v1.4/_ping",
            &[],
            "",
            400,
            "client version 1.4 is too old. Minimum supported API version is 1.5, please upgrade your client to a newer version",
        ),
        (
            "GET",
            "/v1.x/_ping",
            &[],
            "",
            400,
            r#"{"message":"invalid API version in path: 1.x"}"#,
        ),
        ("HEAD", "/_ping", &[], "", 200, ""),
        (
            "POST",
            "/containers/create",
            &[("content-type", "text/plain")],
            r#"{"Image":"x"}"#,
            400,
            "Content-Type specified (text/plain) must be 'application/json'",
        ),
        (
            "POST",
            "/containers/create",
            &[],
            r#"{"Image":"x"}"#,
            400,
            "Content-Type specified () must be 'application/json'",
        ),
        (
            "GET",
            "/containers/json?filters=%7B%22status%22%3A%5B%22bogus%22%5D%7D",
            &[],
            "",
            400,
            "Invalid filter 'status=bogus'",
        ),
        (
            "GET",
            "/containers/json?filters=%7B%22exited%22%3A%5B%22x%22%5D%7D",
            &[],
            "",
            400,
            "strconv.Atoi: parsing \"x\": invalid syntax",
        ),
        (
            "GET",
            "/containers/json?filters=%7B%22bogus%22%3A%5B%22x%22%5D%7D",
            &[],
            "",
            400,
            "Invalid filter 'bogus'",
        ),
        // Path parameters are matched percent-decoded.
        (
            "GET",
            "/containers/my%2Dname/json",
            &[],
            "",
            404,
            "No such container: my-name",
        ),
    ];
    for (method, path, headers, body, status, text) in table {
        let a = call(method, path, headers, body).await;
        assert_eq!(a.status, *status, "{method} {path}: {}", a.body);
        if text.starts_with('{') || !a.body.starts_with('{') {
            assert_eq!(a.body.trim(), *text, "{method} {path}");
        } else {
            assert_eq!(error_message(&a), *text, "{method} {path}");
        }
    }
    // Errors are text below 1.24 and JSON from 1.24, whatever the route.
    for (prefix, json) in [("/v1.23", false), ("/v1.24", true), ("", true)] {
        let a = call("GET", &format!("{prefix}/containers/x/json"), &[], "").await;
        assert_eq!(a.body.starts_with('{'), json, "{prefix}: {}", a.body);
        assert_eq!(
            a.headers["content-type"],
            if json {
                "application/json"
            } else {
                "text/plain; charset=utf-8"
            }
        );
        assert_eq!(error_message(&a), "No such container: x");
    }
    let ping = call("GET", "/_ping", &[], "").await;
    assert_eq!(ping.body, "OK");
    for (h, want) in [
        ("api-version", "1.44"),
        ("builder-version", "1"),
        ("swarm", "inactive"),
        ("docker-experimental", "false"),
        ("cache-control", "no-cache, no-store, must-revalidate"),
        ("pragma", "no-cache"),
        ("ostype", "linux"),
    ] {
        assert_eq!(ping.headers[h], want, "{h}");
    }
    let v = call("GET", "/v1.18/version", &[], "").await;
    let json: serde_json::Value = serde_json::from_str(&v.body).unwrap();
    assert_eq!(json["Version"], "0.0.0-test");
    // `Api-Version` is the server's newest, whatever the request's.
    assert_eq!(v.headers["api-version"], "1.44");
}
