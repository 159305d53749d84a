//! The field table ([`berth_api_server::fields`]) against what berth sends: each answer at
//! API 1.18, 1.24, 1.25, 1.41 and 1.44 has exactly the fields the table gives that version,
//! bar those Docker leaves out when they are empty (`OMITTED`) and those berth does not send
//! yet (`NOT_YET`: issue 14 is not done while it has rows).

mod common;

use std::collections::BTreeSet;

use berth_api_server::fields::{paths_of, table, Answer};
use berth_api_types::ApiVersion;
use common::call_with;
use common::fixtures::{one_container, one_image, whole_host, HEX, ID};

const VERSIONS: [&str; 5] = ["1.18", "1.24", "1.25", "1.41", "1.44"];

/// Fields Docker sends only when they have a value.
const OMITTED: &[(Answer, &str, &str)] = &[
    (Answer::Version, "Experimental", "omitempty: only when true"),
    (
        Answer::ContainerInspect,
        "Config.Shell",
        "omitempty: a Dockerfile's SHELL",
    ),
    (
        Answer::ContainerInspect,
        "Config.ArgsEscaped",
        "omitempty: Windows only",
    ),
    (
        Answer::ImageInspect,
        "Config.Shell",
        "omitempty: a Dockerfile's SHELL",
    ),
    (
        Answer::ImageInspect,
        "Config.ArgsEscaped",
        "omitempty: Windows only",
    ),
    (
        Answer::ImageInspect,
        "ContainerConfig.Shell",
        "omitempty: a Dockerfile's SHELL",
    ),
    (
        Answer::ImageInspect,
        "ContainerConfig.ArgsEscaped",
        "omitempty: Windows only",
    ),
    (
        Answer::ImageInspect,
        "OsVersion",
        "omitempty: only when the image's config names one",
    ),
    (
        Answer::ImageInspect,
        "Variant",
        "omitempty: only when the image's config names one",
    ),
    (
        Answer::ContainerInspect,
        "HostConfig.Mounts",
        "omitempty: only when given",
    ),
    (
        Answer::ContainerInspect,
        "HostConfig.Tmpfs",
        "omitempty: only when given",
    ),
    (
        Answer::ContainerInspect,
        "HostConfig.Sysctls",
        "omitempty: only when given",
    ),
    (
        Answer::ContainerInspect,
        "HostConfig.Annotations",
        "omitempty: only when given",
    ),
    (
        Answer::ContainerInspect,
        "HostConfig.StorageOpt",
        "omitempty: refused when given",
    ),
    (
        Answer::ContainerInspect,
        "HostConfig.Runtime",
        "omitempty: filled in at create (the fixture is a bare host config)",
    ),
    (
        Answer::Info,
        "Swarm.Cluster",
        "omitempty: swarm is inactive",
    ),
    (
        Answer::Info,
        "Swarm.Managers",
        "omitempty: swarm is inactive",
    ),
    (Answer::Info, "Swarm.Nodes", "omitempty: swarm is inactive"),
    (
        Answer::Info,
        "ClusterStore",
        "omitempty: no cluster store (removed in 1.42)",
    ),
    (
        Answer::Info,
        "ClusterAdvertise",
        "omitempty: no cluster store (removed in 1.42)",
    ),
    (
        Answer::Info,
        "DiscoveryBackend",
        "omitempty: no cluster store (removed in 1.32)",
    ),
    (
        Answer::Info,
        "SystemStatus",
        "omitempty: nothing to report (removed in 1.41)",
    ),
    (Answer::ContainerInspect, "Node", "only for swarm classic"),
    (Answer::ContainerInspect, "SizeRw", "only with ?size=1"),
    (Answer::ContainerInspect, "SizeRootFs", "only with ?size=1"),
    (
        Answer::ContainerInspect,
        "State.Health",
        "only with a healthcheck",
    ),
    (Answer::ContainerList, "[].SizeRw", "only with ?size=1"),
    (Answer::ContainerList, "[].SizeRootFs", "only with ?size=1"),
    (Answer::ContainerWait, "Error", "only when the wait failed"),
    (
        Answer::ContainerInspect,
        "HostConfig.Init",
        "omitempty: only when set",
    ),
    (
        Answer::ImageInspect,
        "Config.Healthcheck",
        "omitempty: only when set",
    ),
    (
        Answer::ImageInspect,
        "ContainerConfig.Healthcheck",
        "omitempty: only when set",
    ),
    (
        Answer::ContainerInspect,
        "Config.StopTimeout",
        "omitempty: only when set",
    ),
    (
        Answer::ImageInspect,
        "Config.StopTimeout",
        "omitempty: only when set",
    ),
    (
        Answer::ImageInspect,
        "ContainerConfig.StopTimeout",
        "omitempty: only when set",
    ),
    (
        Answer::SystemDf,
        "Volumes[].Status",
        "omitempty: the local driver reports none",
    ),
    (
        Answer::SystemDf,
        "Volumes[].ClusterVolume",
        "omitempty: only for cluster (CSI) volumes",
    ),
];

/// Fields the table has that berth does not send yet.
const NOT_YET: &[(Answer, &str)] = &[];

/// The path of what holds `path`: `a` for `a.b`, `a[]` for `a[].b`, `a.*` for `a.*.b`, `""`
/// for a top-level field.
fn parent(path: &str) -> &str {
    match path.rfind('.') {
        Some(i) => &path[..i],
        None => path.strip_suffix("[]").map(|_| "").unwrap_or(""),
    }
}

fn is_marker(path: &str) -> bool {
    path.ends_with("[]") || path.ends_with(".*") || path == "*"
}

/// Whether the route of `answer` exists at `v` (the others answer 404 there).
fn route_exists(answer: Answer, v: &str) -> bool {
    use berth_api_server::gates;
    let v: ApiVersion = v.parse().unwrap();
    match answer {
        Answer::SystemDf | Answer::ContainerPrune | Answer::ImagePrune | Answer::NetworkPrune => {
            gates::prune_and_disk_usage(v)
        }
        Answer::BuildPrune => gates::build_prune(v),
        Answer::ContainerUpdate => gates::container_update(v),
        _ => true,
    }
}

async fn answer(answer: Answer, v: &str) -> serde_json::Value {
    let (fake, method, path) = match answer {
        Answer::Version => (one_container(), "GET", "/version".to_string()),
        Answer::Info => (one_container(), "GET", "/info".to_string()),
        Answer::ContainerList => (one_container(), "GET", "/containers/json".to_string()),
        Answer::ContainerInspect => (one_container(), "GET", format!("/containers/{ID}/json")),
        Answer::ContainerWait => (one_container(), "POST", format!("/containers/{ID}/wait")),
        Answer::ContainerTop => (one_container(), "GET", format!("/containers/{ID}/top")),
        Answer::ContainerChanges => (one_container(), "GET", format!("/containers/{ID}/changes")),
        Answer::ImageList => (one_image(), "GET", "/images/json".to_string()),
        Answer::ImageInspect => (one_image(), "GET", format!("/images/sha256:{HEX}/json")),
        Answer::ImageHistory => (one_image(), "GET", format!("/images/sha256:{HEX}/history")),
        Answer::ExecInspect => (one_container(), "GET", "/exec/e1/json".to_string()),
        Answer::SystemDf => (whole_host(), "GET", "/system/df".to_string()),
        Answer::ContainerPrune => (one_container(), "POST", "/containers/prune".to_string()),
        Answer::ContainerUpdate => (one_container(), "POST", format!("/containers/{ID}/update")),
        Answer::ImagePrune => (
            one_image(),
            "POST",
            "/images/prune?filters=%7B%22dangling%22%3A%5B%22false%22%5D%7D".to_string(),
        ),
        Answer::NetworkPrune => (one_container(), "POST", "/networks/prune".to_string()),
        Answer::BuildPrune => (one_container(), "POST", "/build/prune".to_string()),
        Answer::ContainerCreate => (whole_host(), "POST", "/containers/create".to_string()),
        Answer::ExecCreate => (one_container(), "POST", format!("/containers/{ID}/exec")),
        Answer::Events => (
            one_container(),
            "GET",
            "/events?until=1765057800".to_string(),
        ),
    };
    let body = match answer {
        Answer::ContainerUpdate => r#"{"CpuShares":512}"#,
        Answer::ContainerCreate => r#"{"Image":"busybox:latest","Cmd":["true"]}"#,
        Answer::ExecCreate => r#"{"Cmd":["true"]}"#,
        _ => "",
    };
    let headers: &[(&str, &str)] = if body.is_empty() {
        &[]
    } else {
        &[("content-type", "application/json")]
    };
    let a = call_with(fake, method, &format!("/v{v}{path}"), headers, body).await;
    if !route_exists(answer, v) {
        assert_eq!(
            a.status, 404,
            "{answer:?} at {v}: the route came later: {}",
            a.body
        );
        return serde_json::Value::Null;
    }
    assert!(a.status < 300, "{answer:?} at {v}: {} {}", a.status, a.body);
    // A stream's first object stands for every one.
    let first = a.body.lines().next().unwrap_or_default();
    let body = if answer == Answer::Events {
        first
    } else {
        a.body.as_str()
    };
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{answer:?} at {v}: {e}: {}", a.body))
}

#[tokio::test]
async fn every_answer_has_exactly_its_versions_fields() {
    let mut problems = Vec::new();
    for which in Answer::ALL {
        for v in VERSIONS {
            let version: ApiVersion = v.parse().unwrap();
            let value = answer(which, v).await;
            if !route_exists(which, v) {
                continue;
            }
            let sent = paths_of(which, &value);
            for (a, f) in NOT_YET {
                if *a == which && sent.contains(*f) {
                    problems.push(format!("{which:?} at {v} sends {f}: take it off NOT_YET"));
                }
            }
            let want = table().fields_at(which, version);
            let extra: BTreeSet<_> = sent
                .iter()
                .filter(|p| !is_marker(p) && !want.contains(*p))
                .collect();
            let missing: BTreeSet<_> = want
                .iter()
                .filter(|p| {
                    let holder = parent(p);
                    (holder.is_empty() || sent.contains(holder))
                        && !sent.contains(*p)
                        && !OMITTED.iter().any(|(a, f, _)| *a == which && f == p)
                        && !NOT_YET.iter().any(|(a, f)| *a == which && f == p)
                })
                .collect();
            if !extra.is_empty() || !missing.is_empty() {
                problems.push(format!(
                    "{which:?} at {v}: sent but not in the table {extra:?}; in the table but not sent {missing:?}"
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn not_yet_and_omitted_name_fields_of_the_table() {
    for (which, field, _) in OMITTED {
        assert!(
            table().fields(*which).by_path.contains_key(*field),
            "{which:?} {field}"
        );
    }
    for (which, field) in NOT_YET {
        assert!(
            table().fields(*which).by_path.contains_key(*field),
            "{which:?} {field}"
        );
    }
}
