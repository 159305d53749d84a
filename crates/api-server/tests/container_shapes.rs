//! Per-version shapes of containers, exec, stats and events, in-process, on a fake backend
//! holding one running container on the bridge with a published port and one exec. Each
//! table row is a version and the keys its answer must and must not have (`gates.rs` names
//! each difference).

mod common;

use common::call_with;
use common::fixtures::{one_container, IMAGE};

async fn get(path: &str) -> (u16, serde_json::Value) {
    let a = call_with(one_container(), "GET", path, &[], "").await;
    let first_line = a.body.lines().next().unwrap_or("").to_string();
    let v = serde_json::from_str(&first_line).unwrap_or(serde_json::Value::Null);
    (a.status, v)
}

fn has(v: &serde_json::Value, path: &str) -> bool {
    v.pointer(path).is_some()
}

/// Every documented version: (version, paths the answer has, paths it lacks).
type Table = &'static [(
    &'static str,
    &'static [&'static str],
    &'static [&'static str],
)];

async fn check(table: Table, path_of: impl Fn(&str) -> String) {
    for (v, yes, no) in table {
        let path = path_of(v);
        let (status, body) = get(&path).await;
        assert_eq!(status, 200, "{path}: {body}");
        for p in *yes {
            assert!(has(&body, p), "{path} lacks {p}: {body}");
        }
        for p in *no {
            assert!(!has(&body, p), "{path} has {p}: {body}");
        }
    }
}

#[tokio::test]
async fn container_list_per_version() {
    // Labels from 1.18; ImageID (1.21) and State (1.23) past the documented range.
    let table: Table = &[
        (
            "1.5",
            &["/0/Id", "/0/Names", "/0/Ports/0/PublicPort", "/0/Status"],
            &["/0/Labels", "/0/ImageID", "/0/State"],
        ),
        ("1.11", &["/0/Ports/0/IP"], &["/0/Labels", "/0/ImageID"]),
        ("1.15", &["/0/Command"], &["/0/Labels", "/0/SizeRw"]),
        (
            "1.18",
            &["/0/Labels/tier"],
            &["/0/ImageID", "/0/State", "/0/SizeRw"],
        ),
    ];
    check(table, |v| format!("/v{v}/containers/json")).await;
    // An unpublished port has neither IP nor PublicPort (Docker's omitempty).
    let (_, rows) = get("/v1.18/containers/json").await;
    assert_eq!(
        rows[0]["Ports"][1],
        serde_json::json!({"PrivatePort": 53, "Type": "udp"})
    );
    // With size: both sizes, zero when unknown.
    let (_, rows) = get("/v1.18/containers/json?size=1").await;
    assert_eq!(
        (rows[0]["SizeRw"].as_i64(), rows[0]["SizeRootFs"].as_i64()),
        (Some(0), Some(0))
    );
}

#[tokio::test]
async fn container_inspect_per_version() {
    // Below 1.18 NetworkSettings spells IpAddress/IpPrefixLen and has no MacAddress;
    // State.Status/Dead and Config.StopSignal come with 1.21; Volumes/VolumesRW stay until 1.20.
    let table: Table = &[
        (
            "1.5",
            &[
                "/NetworkSettings/IpAddress",
                "/NetworkSettings/IpPrefixLen",
                "/Volumes",
                "/VolumesRW",
                "/State/Running",
            ],
            &[
                "/NetworkSettings/IPAddress",
                "/NetworkSettings/MacAddress",
                "/State/Status",
                "/State/Dead",
                "/Config/StopSignal",
            ],
        ),
        (
            "1.15",
            &["/NetworkSettings/IpAddress", "/HostConfig/RestartPolicy"],
            &["/NetworkSettings/IPAddress", "/State/Status"],
        ),
        (
            "1.18",
            &[
                "/NetworkSettings/IPAddress",
                "/NetworkSettings/IPPrefixLen",
                "/NetworkSettings/MacAddress",
                "/NetworkSettings/Ports/80~1tcp/0/HostPort",
                "/Volumes",
                "/VolumesRW",
            ],
            &[
                "/NetworkSettings/IpAddress",
                "/State/Status",
                "/Config/StopSignal",
                "/Mounts",
            ],
        ),
    ];
    check(table, |v| format!("/v{v}/containers/web/json")).await;
    let (_, c) = get("/v1.18/containers/web/json").await;
    assert_eq!(
        c["NetworkSettings"]["Ports"]["80/tcp"][0]["HostIp"],
        "127.0.0.1"
    );
    assert_eq!(c["NetworkSettings"]["PortMapping"], serde_json::Value::Null);
    assert_eq!(
        c["Image"],
        IMAGE.trim_start_matches("sha256:"),
        "bare image IDs in the documented range"
    );
    let (status, _) = get("/v1.18/containers/nope/json").await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn exec_inspect_per_version() {
    // The container embedded as inspect shows it at that version; ContainerID and Pid come
    // with 1.22/1.25, and a missing exit code is 0 before them.
    let table: Table = &[
        (
            "1.15",
            &[
                "/ID",
                "/Container/NetworkSettings/IpAddress",
                "/ProcessConfig/entrypoint",
            ],
            &["/ContainerID", "/Pid"],
        ),
        (
            "1.18",
            &["/Container/NetworkSettings/IPAddress", "/OpenStdout"],
            &["/ContainerID", "/Pid"],
        ),
    ];
    check(table, |v| format!("/v{v}/exec/e1/json")).await;
    let (_, e) = get("/v1.18/exec/e1/json").await;
    assert_eq!(e["ExitCode"], 0);
}

#[tokio::test]
async fn stats_per_version() {
    // One `network` until 1.21 (`networks` after); `preread` and `online_cpus` from 1.19.
    let table: Table = &[
        (
            "1.17",
            &[
                "/network/rx_bytes",
                "/memory_stats",
                "/cpu_stats",
                "/blkio_stats",
            ],
            &["/networks", "/preread", "/cpu_stats/online_cpus"],
        ),
        (
            "1.18",
            &["/network/rx_bytes", "/precpu_stats", "/id", "/name"],
            &["/networks", "/preread"],
        ),
    ];
    check(table, |v| format!("/v{v}/containers/web/stats?stream=0")).await;
}

#[tokio::test]
async fn events_per_version() {
    // The same event at every version, legacy fields beside Type/Action/Actor; filters are
    // read (and checked) from 1.18 only.
    let table: Table = &[
        (
            "1.5",
            &[
                "/status",
                "/id",
                "/from",
                "/time",
                "/Type",
                "/Actor/Attributes/name",
            ],
            &[],
        ),
        ("1.18", &["/status", "/timeNano", "/Action"], &[]),
    ];
    check(table, |v| format!("/v{v}/events?until=1765057800")).await;
    let bad = "%7B%22nope%22%3A%5B%22x%22%5D%7D";
    let (status, _) = get(&format!("/v1.15/events?until=1765057800&filters={bad}")).await;
    assert_eq!(status, 200, "filters are not read before 1.18");
    let (status, _) = get(&format!("/v1.18/events?until=1765057800&filters={bad}")).await;
    assert_eq!(status, 400, "an unknown filter is refused from 1.18");
}
