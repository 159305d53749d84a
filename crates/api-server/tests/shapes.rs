//! Per-version answer shapes, in-process (`gates.rs` names each difference): one table per
//! resource, each row a version and what its answer must and must not hold.

mod common;

use common::fixtures::{one_image, HEX};
use common::{call, call_with};

/// `GET path` on a daemon holding the one image: the answer's JSON.
async fn get_image_json(path: &str) -> serde_json::Value {
    json(&call_with(one_image(), "GET", path, &[], "").await.body)
}

fn json(body: &str) -> serde_json::Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"))
}

/// The keys of a JSON object, sorted.
fn keys(v: &serde_json::Value) -> Vec<String> {
    let mut k: Vec<String> = v.as_object().expect("object").keys().cloned().collect();
    k.sort();
    k
}

#[tokio::test]
async fn version_and_info_per_version() {
    // version: below 1.11 only the build; from 1.11 the platform too.
    let table: &[(&str, &[&str])] = &[
        ("1.5", &["GitCommit", "GoVersion", "Version"]),
        ("1.7", &["GitCommit", "GoVersion", "Version"]),
        (
            "1.11",
            &[
                "ApiVersion",
                "Arch",
                "GitCommit",
                "GoVersion",
                "KernelVersion",
                "Os",
                "Version",
            ],
        ),
        (
            "1.18",
            &[
                "ApiVersion",
                "Arch",
                "GitCommit",
                "GoVersion",
                "KernelVersion",
                "Os",
                "Version",
            ],
        ),
    ];
    for (v, want) in table {
        let a = call("GET", &format!("/v{v}/version"), &[], "").await;
        assert_eq!(a.status, 200);
        assert_eq!(keys(&json(&a.body)), *want, "/v{v}/version");
    }
    // info: (version, keys it must have, keys it must not have)
    let table: &[(&str, &[&str], &[&str])] = &[
        (
            "1.5",
            &["Containers", "Images", "Driver", "KernelVersion"],
            &["ExecutionDriver", "OperatingSystem", "ID", "NCPU"],
        ),
        (
            "1.11",
            &["ExecutionDriver", "InitPath"],
            &["OperatingSystem", "ID"],
        ),
        (
            "1.15",
            &["ExecutionDriver", "OperatingSystem"],
            &["ID", "NCPU"],
        ),
        (
            "1.18",
            &[
                "OperatingSystem",
                "ID",
                "Name",
                "NCPU",
                "MemTotal",
                "DockerRootDir",
            ],
            &["ContainersRunning", "ServerVersion"],
        ),
    ];
    for (v, has, lacks) in table {
        let a = call("GET", &format!("/v{v}/info"), &[], "").await;
        let got = keys(&json(&a.body));
        for k in *has {
            assert!(
                got.contains(&k.to_string()),
                "/v{v}/info lacks {k}: {got:?}"
            );
        }
        for k in *lacks {
            assert!(!got.contains(&k.to_string()), "/v{v}/info has {k}: {got:?}");
        }
    }
}

#[tokio::test]
async fn images_per_version() {
    // The list: one row per tag with Repository/Tag below 1.7, RepoTags from 1.7; bare IDs
    // throughout the documented range.
    let rows = get_image_json("/v1.5/images/json").await;
    assert_eq!(rows.as_array().unwrap().len(), 2, "{rows}");
    assert_eq!(rows[0]["Repository"], "busybox");
    assert_eq!(rows[0]["Tag"], "latest");
    assert_eq!(rows[1]["Repository"], "bb");
    assert_eq!(rows[0]["Id"], HEX);
    assert!(rows[0].get("RepoTags").is_none());
    for v in ["1.7", "1.11", "1.18"] {
        let rows = get_image_json(&format!("/v{v}/images/json")).await;
        assert_eq!(rows.as_array().unwrap().len(), 1, "{v}: {rows}");
        assert_eq!(
            rows[0]["RepoTags"],
            serde_json::json!(["busybox:latest", "bb:1"])
        );
        assert_eq!(rows[0]["Id"], HEX, "{v}");
        assert!(rows[0].get("Repository").is_none(), "{v}");
    }
    // Inspect: the raw lower-case image JSON below 1.12, Docker 1.6's object from 1.12.
    for v in ["1.5", "1.11"] {
        let img = get_image_json(&format!("/v{v}/images/busybox/json")).await;
        assert_eq!(img["id"], HEX, "{v}: {img}");
        assert_eq!(img["comment"], "Imported from -");
        assert!(
            img.get("Id").is_none() && img.get("RepoTags").is_none(),
            "{v}"
        );
    }
    for v in ["1.12", "1.15", "1.18"] {
        let img = get_image_json(&format!("/v{v}/images/busybox/json")).await;
        assert_eq!(img["Id"], HEX, "{v}: {img}");
        assert!(img.get("id").is_none(), "{v}");
    }
    // History: before 1.7 the entry's Id is its tag and it has no Size.
    let h = get_image_json("/v1.5/images/busybox/history").await;
    assert_eq!(h[0]["Id"], "busybox:latest", "{h}");
    assert!(h[0].get("Size").is_none());
    for v in ["1.7", "1.18"] {
        let h = get_image_json(&format!("/v{v}/images/busybox/history")).await;
        assert_eq!(h[0]["Id"], HEX, "{v}: {h}");
        assert_eq!(h[0]["Size"], 2_000_000);
        // Comment arrives with 1.19, past the documented range.
        assert!(h[0].get("Comment").is_none(), "{v}");
    }
    // Errors are text in the whole documented range (JSON from 1.24).
    let a = call_with(one_image(), "GET", "/v1.18/images/nope/json", &[], "").await;
    assert_eq!(a.status, 404);
    assert_eq!(a.body.trim(), "No such image: nope");
    assert!(a.headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
}
