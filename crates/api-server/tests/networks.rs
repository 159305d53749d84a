//! The `/networks` handlers in-process: bodies read and refused as Docker reads them, list
//! filters, connect and disconnect passed on, prune's label and `until` filters, the answer
//! to a create; and the networking parts of a container create and inspect that change with
//! the client's version.

mod common;

use std::sync::Arc;

use common::{call_with, Fake};

const JSON: &[(&str, &str)] = &[("content-type", "application/json")];

fn names(body: &str) -> Vec<String> {
    let v: serde_json::Value = serde_json::from_str(body).unwrap();
    let mut n: Vec<String> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["Name"].as_str().unwrap().to_string())
        .collect();
    n.sort();
    n
}

#[tokio::test]
async fn networks_are_created_listed_filtered_connected_and_pruned() {
    let fake = Arc::new(Fake::default());
    let create = |body: &'static str| {
        let fake = fake.clone();
        async move { call_with(fake, "POST", "/v1.44/networks/create", JSON, body).await }
    };
    let a = create(r#"{"Name":"front","Labels":{"team":"blue"}}"#).await;
    assert_eq!(a.status, 201, "{}", a.body);
    let v: serde_json::Value = serde_json::from_str(&a.body).unwrap();
    assert_eq!(v["Id"].as_str().unwrap().len(), 64);
    assert_eq!(v["Warning"], "");
    assert_eq!(create(r#"{"Name":"back"}"#).await.status, 201);
    // Bodies of the wrong shape are a 400 naming the field.
    let bad = create(r#"{"Name":["x"]}"#).await;
    assert_eq!(bad.status, 400, "{}", bad.body);
    assert!(bad.body.contains("Name"), "{}", bad.body);
    assert_eq!(create("{").await.status, 400);
    let list = |query: &'static str| {
        let fake = fake.clone();
        async move {
            let a = call_with(fake, "GET", &format!("/v1.44/networks{query}"), &[], "").await;
            assert_eq!(a.status, 200, "{query}: {}", a.body);
            names(&a.body)
        }
    };
    assert_eq!(list("").await, ["back", "front", "none"]);
    assert_eq!(
        list("?filters=%7B%22type%22%3A%5B%22custom%22%5D%7D").await,
        ["back", "front"]
    );
    assert_eq!(
        list("?filters=%7B%22type%22%3A%5B%22builtin%22%5D%7D").await,
        ["none"]
    );
    assert_eq!(
        list("?filters=%7B%22label%22%3A%5B%22team%3Dblue%22%5D%7D").await,
        ["front"]
    );
    assert_eq!(
        list("?filters=%7B%22dangling%22%3A%5B%22true%22%5D%7D").await,
        ["back", "front"]
    );
    let bad = call_with(
        fake.clone(),
        "GET",
        "/v1.44/networks?filters=%7B%22type%22%3A%5B%22odd%22%5D%7D",
        &[],
        "",
    )
    .await;
    assert_eq!(
        (
            bad.status,
            bad.body.contains("invalid filter: 'type'='odd'")
        ),
        (400, true)
    );
    // Connect and disconnect: 200 with no body; a missing container is a 400 before the
    // backend hears of it.
    let a = call_with(
        fake.clone(),
        "POST",
        "/v1.44/networks/front/connect",
        JSON,
        r#"{"Container":"web","EndpointConfig":{"Aliases":["w"]}}"#,
    )
    .await;
    assert_eq!((a.status, a.body.as_str()), (200, ""));
    let a = call_with(
        fake.clone(),
        "POST",
        "/v1.44/networks/front/disconnect",
        JSON,
        r#"{"Container":"web","Force":true}"#,
    )
    .await;
    assert_eq!(a.status, 200);
    let a = call_with(
        fake.clone(),
        "POST",
        "/v1.44/networks/front/connect",
        JSON,
        r#"{}"#,
    )
    .await;
    assert_eq!(a.status, 400);
    assert_eq!(
        *fake.network_calls.lock().unwrap(),
        [
            ("front".to_string(), "web".to_string()),
            ("front".to_string(), "web".to_string())
        ]
    );
    // Inspect by name and by ID prefix; a missing one is Docker's 404.
    let a = call_with(fake.clone(), "GET", "/v1.44/networks/front", &[], "").await;
    let front: serde_json::Value = serde_json::from_str(&a.body).unwrap();
    let prefix = &front["Id"].as_str().unwrap()[..12];
    let a = call_with(
        fake.clone(),
        "GET",
        &format!("/v1.44/networks/{prefix}"),
        &[],
        "",
    )
    .await;
    assert_eq!(a.status, 200, "{prefix}: {}", a.body);
    // A prefix two networks share names neither.
    let a = call_with(fake.clone(), "GET", "/v1.44/networks/000", &[], "").await;
    assert_eq!(a.status, 404);
    let a = call_with(fake.clone(), "GET", "/v1.44/networks/nosuch", &[], "").await;
    assert_eq!(
        (a.status, a.body.contains("network nosuch not found")),
        (404, true)
    );
    // Prune: `label!=` keeps, `until` before every creation keeps all.
    let a = call_with(
        fake.clone(),
        "POST",
        "/v1.44/networks/prune?filters=%7B%22until%22%3A%5B%222020-01-01T00%3A00%3A00Z%22%5D%7D",
        &[],
        "",
    )
    .await;
    assert_eq!(a.body, r#"{"NetworksDeleted":null}"#);
    let a = call_with(
        fake.clone(),
        "POST",
        "/v1.44/networks/prune?filters=%7B%22label%21%22%3A%5B%22team%3Dblue%22%5D%7D",
        &[],
        "",
    )
    .await;
    assert_eq!(a.body, r#"{"NetworksDeleted":["back"]}"#);
    let a = call_with(fake.clone(), "DELETE", "/v1.44/networks/front", &[], "").await;
    assert_eq!(a.status, 204);
    // Before 1.21 there are no networks.
    let a = call_with(fake.clone(), "GET", "/v1.20/networks", &[], "").await;
    assert_eq!(a.status, 404);
}

#[tokio::test]
async fn a_create_names_several_networks_only_from_1_44() {
    let body = r#"{"Image":"busybox","NetworkingConfig":{"EndpointsConfig":{"a":{},"b":{"Aliases":["x"]}}}}"#;
    let fake = Arc::new(Fake::default());
    let a = call_with(fake.clone(), "POST", "/v1.43/containers/create", JSON, body).await;
    assert_eq!(a.status, 400);
    assert!(
        a.body
            .contains("Container cannot be connected to network endpoints: a, b"),
        "{}",
        a.body
    );
    assert!(fake.created_with.lock().unwrap().is_none());
    call_with(fake.clone(), "POST", "/v1.44/containers/create", JSON, body).await;
    let got = fake
        .created_with
        .lock()
        .unwrap()
        .take()
        .expect("passed on at 1.44");
    let endpoints = got
        .extras
        .networking_config
        .unwrap()
        .endpoints_config
        .unwrap();
    assert_eq!(
        endpoints["b"].aliases.as_deref(),
        Some(&["x".to_string()][..])
    );
}

#[tokio::test]
async fn the_list_names_containers_only_below_1_28() {
    let fake = Arc::new(Fake::default());
    fake.networks
        .lock()
        .unwrap()
        .push(berth_api_types::network::NetworkResource {
            name: "busy".into(),
            id: "b".repeat(64),
            containers: [(
                "c".repeat(64),
                berth_api_types::network::NetworkContainer {
                    name: "web".into(),
                    ..Default::default()
                },
            )]
            .into(),
            ..Default::default()
        });
    let containers = |version: &'static str, path: &'static str| {
        let fake = fake.clone();
        async move {
            let a = call_with(fake, "GET", &format!("/v{version}{path}"), &[], "").await;
            let v: serde_json::Value = serde_json::from_str(&a.body).unwrap();
            let net = if v.is_array() {
                v.as_array()
                    .unwrap()
                    .iter()
                    .find(|n| n["Name"] == "busy")
                    .cloned()
                    .unwrap()
            } else {
                v
            };
            net["Containers"].as_object().unwrap().len()
        }
    };
    assert_eq!(containers("1.27", "/networks").await, 1);
    assert_eq!(containers("1.28", "/networks").await, 0);
    assert_eq!(containers("1.44", "/networks").await, 0);
    assert_eq!(containers("1.44", "/networks/busy").await, 1);
    // The dangling filter still sees who is on it.
    let a = call_with(
        fake.clone(),
        "GET",
        "/v1.44/networks?filters=%7B%22dangling%22%3A%5B%22true%22%5D%7D",
        &[],
        "",
    )
    .await;
    assert_eq!(names(&a.body), Vec::<String>::new());
}
