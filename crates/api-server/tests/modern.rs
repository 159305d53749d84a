//! The endpoints of the modern API (after 1.24) in-process: prune, disk usage, update, and
//! the swarm and plugin endpoints berth answers as a node outside any swarm, without plugins.

mod common;

use std::sync::Arc;

use berth_api_server::backend::PruneQuery;
use common::fixtures::{one_container, one_image, whole_host, ID};
use common::{call, call_with, Fake};

const JSON: &[(&str, &str)] = &[("content-type", "application/json")];

fn message(body: &str) -> String {
    serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v["message"].as_str().map(str::to_string))
        .unwrap_or_else(|| body.trim().to_string())
}

/// Each route's answer on an empty daemon; routes newer than a version are missing there.
#[tokio::test]
async fn modern_routes_answer_from_their_version_on() {
    let not_manager = "This node is not a swarm manager. Use \"docker swarm init\" or \"docker swarm join\" to connect this node to swarm and try again.";
    // method, path, body, first version, status, message (or body) start
    let table: &[(&str, &str, &str, &str, u16, &str)] = &[
        (
            "POST",
            "/containers/prune",
            "",
            "1.25",
            200,
            "{\"ContainersDeleted\":null",
        ),
        (
            "POST",
            "/images/prune",
            "",
            "1.25",
            200,
            "{\"ImagesDeleted\":null",
        ),
        (
            "POST",
            "/networks/prune",
            "",
            "1.25",
            200,
            "{\"NetworksDeleted\":null",
        ),
        ("POST", "/build/prune", "", "1.31", 200, "{"),
        ("GET", "/system/df", "", "1.25", 200, "{\"LayersSize\":0"),
        (
            "POST",
            "/containers/c/update",
            "{}",
            "1.22",
            404,
            "No such container: c",
        ),
        ("GET", "/plugins", "", "1.25", 200, "[]"),
        (
            "GET",
            "/plugins/x/json",
            "",
            "1.25",
            404,
            "plugin \"x\" not found",
        ),
        ("GET", "/swarm", "", "1.24", 503, not_manager),
        (
            "POST",
            "/swarm/leave",
            "",
            "1.24",
            503,
            "This node is not part of a swarm",
        ),
        (
            "POST",
            "/swarm/init",
            "{}",
            "1.24",
            503,
            "berth does not support swarm mode",
        ),
        ("GET", "/nodes", "", "1.24", 503, not_manager),
        ("GET", "/services", "", "1.24", 503, not_manager),
        ("GET", "/services/s/logs", "", "1.24", 503, not_manager),
        ("POST", "/services/create", "{}", "1.24", 503, not_manager),
        ("GET", "/tasks", "", "1.24", 503, not_manager),
        ("GET", "/secrets", "", "1.24", 503, not_manager),
        ("DELETE", "/configs/x", "", "1.24", 503, not_manager),
    ];
    for (method, path, body, since, status, starts) in table {
        let since: berth_api_types::ApiVersion = since.parse().unwrap();
        for v in [
            "1.18", "1.21", "1.22", "1.24", "1.25", "1.30", "1.31", "1.44",
        ] {
            let headers = if body.is_empty() { &[][..] } else { JSON };
            let a = call(method, &format!("/v{v}{path}"), headers, body).await;
            let version: berth_api_types::ApiVersion = v.parse().unwrap();
            if version < since {
                assert_eq!(a.status, 404, "{method} /v{v}{path}: {}", a.body);
                continue;
            }
            assert_eq!(a.status, *status, "{method} /v{v}{path}: {}", a.body);
            let got = if a.status < 300 {
                a.body.clone()
            } else {
                message(&a.body)
            };
            assert!(got.starts_with(starts), "{method} /v{v}{path}: {got}");
        }
        // Unprefixed paths are served as the newest version.
        let a = call(method, path, if body.is_empty() { &[] } else { JSON }, body).await;
        assert_eq!(a.status, *status, "{method} {path}: {}", a.body);
    }
}

/// The prune filters reach the backend read and checked: `until` as a time, `label` and
/// `label!` as pairs, `dangling` true unless said otherwise; a wrong one is Docker's 400.
#[tokio::test]
async fn prune_filters_are_read_as_docker_reads_them() {
    let fake = Arc::new(Fake::default());
    let filters = r#"{"until":["2020-01-02T03:04:05Z"],"label":["a=b","c"],"label!":["keep"]}"#;
    let path = format!(
        "/containers/prune?filters={}",
        percent_encoding::utf8_percent_encode(filters, percent_encoding::NON_ALPHANUMERIC)
    );
    let a = call_with(fake.clone(), "POST", &path, &[], "").await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(
        fake.pruned_with.lock().unwrap().clone(),
        Some(PruneQuery {
            until: Some(1_577_934_245_000_000_000),
            labels: vec![("a".into(), Some("b".into())), ("c".into(), None)],
            labels_not: vec![("keep".into(), None)],
            dangling_only: true,
        })
    );

    let fake = Arc::new(Fake::default());
    let a = call_with(
        fake.clone(),
        "POST",
        "/images/prune?filters=%7B%22dangling%22%3A%5B%22false%22%5D%7D",
        &[],
        "",
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert!(
        !fake
            .pruned_with
            .lock()
            .unwrap()
            .as_ref()
            .unwrap()
            .dangling_only
    );

    for (path, want) in [
        (
            "/containers/prune?filters=%7B%22dangling%22%3A%5B%22true%22%5D%7D",
            "Invalid filter 'dangling'",
        ),
        (
            "/containers/prune?filters=%7B%22until%22%3A%5B%22soon%22%5D%7D",
            "failed to parse value as time or duration: \"soon\"",
        ),
        (
            "/images/prune?filters=%7B%22dangling%22%3A%5B%22maybe%22%5D%7D",
            "Invalid filter 'dangling=maybe'",
        ),
        ("/containers/prune?filters=%7B", "invalid filter"),
    ] {
        let a = call("POST", path, &[], "").await;
        assert_eq!(a.status, 400, "{path}: {}", a.body);
        assert!(message(&a.body).starts_with(want), "{path}: {}", a.body);
    }
}

/// What prune answers: what went, and the space it took.
#[tokio::test]
async fn prune_reports_what_went() {
    let a = call_with(
        one_image(),
        "POST",
        "/images/prune?filters=%7B%22dangling%22%3A%5B%22false%22%5D%7D",
        &[],
        "",
    )
    .await;
    let v: serde_json::Value = serde_json::from_str(&a.body).unwrap();
    let items = v["ImagesDeleted"].as_array().unwrap();
    assert_eq!(items[0], serde_json::json!({"Untagged": "busybox:latest"}));
    assert!(items.iter().any(|i| i.get("Deleted").is_some()), "{v}");
    assert_eq!(v["SpaceReclaimed"], 1);
    // A running container is never pruned.
    let a = call_with(one_container(), "POST", "/containers/prune", &[], "").await;
    assert_eq!(a.body, r#"{"ContainersDeleted":null,"SpaceReclaimed":0}"#);
}

/// `GET /system/df` with `type` leaves the parts not asked for `null`; an unknown type is a 400.
#[tokio::test]
async fn disk_usage_parts() {
    let a = call_with(whole_host(), "GET", "/system/df", &[], "").await;
    let all: serde_json::Value = serde_json::from_str(&a.body).unwrap();
    assert_eq!(all["Images"][0]["Containers"], 1, "{all}");
    assert_eq!(all["Containers"][0]["Id"], ID);
    assert_eq!(all["Volumes"][0]["UsageData"]["RefCount"], 1);
    assert_eq!(all["BuildCache"], serde_json::json!([]));
    assert!(
        all["Images"][0].get("VirtualSize").is_none(),
        "gone in 1.44"
    );
    assert!(all["Images"][0].get("VirtualSize").is_none());
    let a = call_with(whole_host(), "GET", "/v1.43/system/df", &[], "").await;
    let old: serde_json::Value = serde_json::from_str(&a.body).unwrap();
    assert!(old["Images"][0].get("VirtualSize").is_some(), "{old}");

    let a = call_with(whole_host(), "GET", "/system/df?type=volume", &[], "").await;
    let some: serde_json::Value = serde_json::from_str(&a.body).unwrap();
    assert_eq!(some["Images"], serde_json::Value::Null);
    assert_eq!(some["Containers"], serde_json::Value::Null);
    assert_eq!(some["Volumes"], all["Volumes"]);
    let a = call("GET", "/system/df?type=disk", &[], "").await;
    assert_eq!(
        (a.status, message(&a.body).as_str()),
        (400, "unknown object type: disk")
    );
}

/// `POST /containers/(id)/update` reads a HostConfig-shaped body; bad JSON is a 400 naming
/// the field.
#[tokio::test]
async fn update_reads_its_body() {
    let path = format!("/containers/{ID}/update");
    let a = call_with(
        one_container(),
        "POST",
        &path,
        JSON,
        r#"{"Memory":67108864,"RestartPolicy":{"Name":"always"}}"#,
    )
    .await;
    assert_eq!((a.status, a.body.as_str()), (200, r#"{"Warnings":[]}"#));
    let a = call_with(one_container(), "POST", &path, JSON, r#"{"Memory":"lots"}"#).await;
    assert_eq!(a.status, 400, "{}", a.body);
    assert!(message(&a.body).contains("Memory"), "{}", a.body);
}

/// What dockerd changes in a create request by the client's version, as the backend gets it.
#[tokio::test]
async fn create_requests_are_adapted_to_the_client_version() {
    let body = r#"{"Image":"busybox","Healthcheck":{"Test":["CMD","true"],"StartInterval":1000000},
        "HostConfig":{"ConsoleSize":[30,100],"Annotations":{"a":"b"},"PidsLimit":-1,
        "Mounts":[{"Type":"bind","Source":"/","Target":"/x","BindOptions":{"NonRecursive":true,"CreateMountpoint":true}}]}}"#;
    let created = |version: &'static str| async move {
        let fake = Arc::new(Fake::default());
        let a = call_with(
            fake.clone(),
            "POST",
            &format!("/v{version}/containers/create"),
            JSON,
            body,
        )
        .await;
        assert_eq!(a.status, 404, "{}", a.body);
        let got = fake.created_with.lock().unwrap().take().unwrap();
        serde_json::to_value(got.extras.host_config.unwrap())
            .unwrap()
            .as_object()
            .unwrap()
            .clone()
            .into_iter()
            .chain([(
                "StartInterval".to_string(),
                serde_json::json!(got.config.healthcheck.unwrap().start_interval),
            )])
            .collect::<serde_json::Map<_, _>>()
    };
    // (version, IpcMode, ConsoleSize, Annotations, StartInterval, NonRecursive, CreateMountpoint)
    for (v, ipc, console, annotated, interval, non_rec, create) in [
        ("1.39", "shareable", [0, 0], false, 0, false, false),
        ("1.41", "", [0, 0], false, 0, true, false),
        ("1.42", "", [30, 100], false, 0, true, true),
        ("1.43", "", [30, 100], true, 0, true, true),
        ("1.44", "", [30, 100], true, 1000000, true, true),
    ] {
        let h = created(v).await;
        assert_eq!(h["IpcMode"], ipc, "{v}");
        assert_eq!(h["ConsoleSize"], serde_json::json!(console), "{v}");
        assert_eq!(h.contains_key("Annotations"), annotated, "{v}");
        assert_eq!(h["StartInterval"], interval, "{v}");
        let bind = &h["Mounts"][0]["BindOptions"];
        assert_eq!(
            bind["NonRecursive"].as_bool().unwrap_or(false),
            non_rec,
            "{v}"
        );
        assert_eq!(
            bind["CreateMountpoint"].as_bool().unwrap_or(false),
            create,
            "{v}"
        );
        assert_eq!(
            h["PidsLimit"],
            serde_json::Value::Null,
            "zero or less is no limit"
        );
    }
    // Options of another mount type: refused from 1.42, dropped before.
    let wrong = r#"{"Image":"busybox","HostConfig":{"Mounts":[{"Type":"bind","Source":"/","Target":"/x","VolumeOptions":{"NoCopy":true}}]}}"#;
    let a = call("POST", "/v1.44/containers/create", JSON, wrong).await;
    assert_eq!(
        (a.status, message(&a.body).as_str()),
        (
            400,
            "VolumeOptions must not be specified on mount type \"bind\""
        )
    );
    let a = call("POST", "/v1.41/containers/create", JSON, wrong).await;
    assert_eq!(a.status, 404, "dropped, so the create goes on: {}", a.body);
    let forced = r#"{"Image":"busybox","HostConfig":{"Mounts":[{"Type":"bind","Source":"/","Target":"/x","ReadOnly":true,"BindOptions":{"ReadOnlyForceRecursive":true}}]}}"#;
    let a = call("POST", "/v1.43/containers/create", JSON, forced).await;
    assert_eq!(
        (a.status, message(&a.body).as_str()),
        (
            400,
            "BindOptions.ReadOnlyForceRecursive needs API v1.44 or newer"
        )
    );
}

/// Inspect measures the container with `?size=1` only; stats refuse a one-shot stream.
#[tokio::test]
async fn inspect_size_and_stats_one_shot() {
    let path = format!("/containers/{ID}/json");
    let a = call_with(one_container(), "GET", &path, &[], "").await;
    let v: serde_json::Value = serde_json::from_str(&a.body).unwrap();
    assert!(v.get("SizeRw").is_none() && v.get("SizeRootFs").is_none());
    assert_eq!(v["Platform"], "linux");
    assert_eq!(v["GraphDriver"]["Name"], "overlay2");
    let a = call_with(one_container(), "GET", &format!("{path}?size=1"), &[], "").await;
    let v: serde_json::Value = serde_json::from_str(&a.body).unwrap();
    assert!(v["SizeRw"].is_i64() && v["SizeRootFs"].is_i64(), "{v}");
    let a = call_with(
        one_container(),
        "GET",
        &format!("/containers/{ID}/stats?stream=1&one-shot=1"),
        &[],
        "",
    )
    .await;
    assert_eq!(
        (a.status, message(&a.body).as_str()),
        (400, "cannot have stream=true and one-shot=true")
    );
}
