//! The workspace's dependency rules: dependencies point one way, toward the core types.
//! Fails when a crate gains a forbidden dependency.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

fn workspace_deps() -> BTreeMap<String, BTreeSet<String>> {
    let out = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo metadata");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    meta["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let deps = p["dependencies"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|d| d["kind"].is_null())
                .map(|d| d["name"].as_str().unwrap().to_string())
                .collect();
            (p["name"].as_str().unwrap().to_string(), deps)
        })
        .collect()
}

#[test]
fn dependencies_point_toward_the_core() {
    let deps = workspace_deps();
    let forbidden: &[(&str, &[&str])] = &[
        // Wire types are pure data.
        (
            "berth-api-types",
            &[
                "tokio",
                "hyper",
                "berth-errdefs",
                "berth-engine",
                "berth-image",
                "berth-api-server",
                "rustix",
                "nix",
            ],
        ),
        // The HTTP layer knows nothing of the engine or the kernel.
        (
            "berth-api-server",
            &[
                "berth-engine",
                "berth-image",
                "berth-archive",
                "berth-network",
                "rustix",
                "nix",
                "libcontainer",
            ],
        ),
        // The engine knows nothing of HTTP or the wire format.
        (
            "berth-engine",
            &[
                "berth-api-types",
                "berth-api-server",
                "hyper",
                "hyper-util",
                "http",
                "axum",
            ],
        ),
        (
            "berth-image",
            &[
                "berth-api-types",
                "berth-api-server",
                "berth-engine",
                "hyper",
                "tokio",
            ],
        ),
        (
            "berth-archive",
            &[
                "berth-api-types",
                "berth-api-server",
                "berth-engine",
                "berth-image",
                "hyper",
                "tokio",
            ],
        ),
        // Networking is a subsystem the engine uses: no HTTP, no engine, no runtime.
        (
            "berth-network",
            &[
                "berth-api-types",
                "berth-api-server",
                "berth-engine",
                "berth-runtime",
                "berth-image",
                "hyper",
                "http",
                "libcontainer",
            ],
        ),
        (
            "berth-errdefs",
            &[
                "berth-api-types",
                "berth-api-server",
                "berth-engine",
                "berth-image",
                "berth-archive",
            ],
        ),
    ];
    let mut violations = Vec::new();
    for (krate, banned) in forbidden {
        let have = deps
            .get(*krate)
            .unwrap_or_else(|| panic!("crate {krate} is missing from the workspace"));
        for b in *banned {
            if have.contains(*b) {
                violations.push(format!("{krate} depends on {b}"));
            }
        }
    }
    // Only the daemon binary sees both sides.
    for (krate, have) in &deps {
        if krate != "berthd" && have.contains("berth-api-server") && have.contains("berth-engine") {
            violations.push(format!(
                "{krate} depends on both the API server and the engine"
            ));
        }
    }
    assert!(
        violations.is_empty(),
        "forbidden dependencies:\n{}",
        violations.join("\n")
    );
}
