//! Image endpoints over raw HTTP, under every documented version prefix.

use std::io::Write;
use std::process::{Command, Stdio};

use berth_tests::{busybox_tar, image_id_at, tarball, Daemon, VERSIONS};

fn compress(tool: &str, data: &[u8]) -> Vec<u8> {
    let mut child = Command::new(tool)
        .arg("-c")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let data = data.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&data).unwrap());
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    assert!(out.status.success());
    out.stdout
}

fn import_at(d: &Daemon, v: &str, body: &[u8], query: &str) -> berth_tests::Response {
    d.request(
        "POST",
        &format!("{v}/images/create?fromSrc=-&{query}"),
        &[("Content-Type", "application/x-tar")],
        body,
    )
}

#[test]
fn import_plain_gzip_bzip2_xz_under_every_version() {
    let d = Daemon::start();
    let tar = std::fs::read(busybox_tar()).unwrap();
    let bodies = [
        ("plain", tar.clone()),
        ("gzip", compress("gzip", &tar)),
        ("bzip2", compress("bzip2", &tar)),
        ("xz", compress("xz", &tar)),
        ("zstd", compress("zstd", &tar)),
    ];
    for (i, (kind, body)) in bodies.iter().enumerate() {
        let v = VERSIONS[i % VERSIONS.len()];
        let r = import_at(&d, v, body, &format!("repo=imp&tag={kind}"));
        assert_eq!(r.status, 200, "{kind} under {v}: {}", r.text());
        assert_eq!(r.header("Content-Type"), Some("application/json"));
        let id = r.json_lines().last().unwrap()["status"]
            .as_str()
            .unwrap()
            .to_string();
        // API ≤ 1.18 shows IDs as 64 hex digits.
        assert_eq!(id.len(), 64, "{id}");
        let j = d.get(&format!("/v1.18/images/imp:{kind}/json")).json();
        assert_eq!(j["Id"], id.as_str());
        assert_eq!(j["Comment"], "Imported from -");
        assert_eq!(j["Os"], "linux");
        assert!(j["Size"].as_i64().unwrap() > 1_000_000, "{j}");
    }
}

#[test]
fn import_repo_with_tag_in_name_and_bad_names() {
    let d = Daemon::start();
    let t = tarball(&[("a", b"1")]);
    assert_eq!(import_at(&d, "/v1.18", &t, "repo=mine:v2").status, 200);
    assert_eq!(d.get("/images/mine:v2/json").status, 200);
    let r = import_at(&d, "/v1.18", &t, "repo=Bad:x");
    assert_eq!(r.status, 400, "{}", r.text());
    let r = import_at(&d, "/v1.18", &t, "repo=ok&tag=bad%20tag");
    assert_eq!(r.status, 400);
    assert!(r.text().contains("invalid tag format"), "{}", r.text());
    // Nothing was stored for the refused imports.
    assert_eq!(
        d.get("/v1.18/images/json").json().as_array().unwrap().len(),
        1
    );
}

#[test]
fn import_from_url() {
    let d = Daemon::start();
    let body = tarball(&[("from-url", b"yes")]);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let served = body.clone();
    let server = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let mut buf = [0u8; 4096];
        let _ = std::io::Read::read(&mut s, &mut buf).unwrap();
        let head = format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            served.len()
        );
        s.write_all(head.as_bytes()).unwrap();
        s.write_all(&served).unwrap();
    });
    let url = format!("http://127.0.0.1:{port}/rootfs.tar");
    let r = d.post(&format!("/v1.18/images/create?fromSrc={url}&repo=fromurl"));
    assert_eq!(r.status, 200, "{}", r.text());
    server.join().unwrap();
    let j = d.get("/v1.18/images/fromurl/json").json();
    assert_eq!(j["Comment"], format!("Imported from {url}").as_str());
    // A URL nobody serves is a clear error, not a hang.
    let r = d.post("/v1.18/images/create?fromSrc=http://127.0.0.1:1/x.tar&repo=nope");
    assert_eq!(r.status, 400);
    assert!(r.text().contains("error downloading"), "{}", r.text());
}

#[test]
fn list_shapes_per_version_and_filters() {
    let d = Daemon::start();
    let id = d.import(&tarball(&[("a", b"1")]), "busybox:latest");
    assert_eq!(
        d.post(&format!("/v1.18/images/{id}/tag?repo=busybox&tag=v1"))
            .status,
        201
    );
    let untagged = d.import(&tarball(&[("b", b"2")]), "tmp:1");
    assert_eq!(d.delete("/v1.18/images/tmp:1").status, 200);
    // v1.5: one row per tag, Repository/Tag.
    let rows = d.get("/v1.5/images/json").json();
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert!(rows
        .iter()
        .all(|r| r["Repository"] == "busybox" && r.get("RepoTags").is_none()));
    let mut tags: Vec<_> = rows.iter().map(|r| r["Tag"].as_str().unwrap()).collect();
    tags.sort();
    assert_eq!(tags, ["latest", "v1"]);
    // v1.7 onwards: one object per image with RepoTags.
    for v in ["/v1.7", "/v1.11", "/v1.15", "/v1.18", ""] {
        let rows = d.get(&format!("{v}/images/json")).json();
        let rows = rows.as_array().unwrap();
        assert_eq!(rows.len(), 1, "{v}: {rows:?}");
        let r = &rows[0];
        assert_eq!(r["Id"], image_id_at(v, &id));
        assert_eq!(r["RepoTags"].as_array().unwrap().len(), 2);
        for k in ["Created", "Size", "ParentId"] {
            assert!(r.get(k).is_some(), "{v}: {k}");
        }
        // API 1.44 dropped VirtualSize.
        assert_eq!(r.get("VirtualSize").is_some(), !v.is_empty(), "{v}");
    }
    let _ = untagged;
    // Filters.
    let f = |q: &str| {
        d.get(&format!("/v1.18/images/json?{q}"))
            .json()
            .as_array()
            .unwrap()
            .len()
    };
    assert_eq!(f("filters=%7B%22dangling%22%3A%5B%22true%22%5D%7D"), 0);
    assert_eq!(f("filters=%7B%22dangling%22%3A%5B%22false%22%5D%7D"), 1);
    assert_eq!(f("filters=%7B%22label%22%3A%5B%22nolabel%22%5D%7D"), 0);
    assert_eq!(f("filter=busy*"), 1);
    assert_eq!(f("filter=other"), 0);
    assert_eq!(f("all=1"), 1);
    let bad = d.get("/v1.18/images/json?filters=%7B%22bogus%22%3A%5B%22x%22%5D%7D");
    assert_eq!(bad.status, 400);
    assert_eq!(bad.text(), "Invalid filter 'bogus'\n");
    assert_eq!(d.get("/v1.18/images/json?filters=%7Bnot-json").status, 400);
}

#[test]
fn inspect_is_lowercase_before_1_12_and_capitalised_after() {
    let d = Daemon::start();
    let id = d.import(&tarball(&[("a", b"12345")]), "insp:latest");
    for v in ["/v1.5", "/v1.7", "/v1.11"] {
        let j = d.get(&format!("{v}/images/insp/json")).json();
        assert_eq!(j["id"], id.as_str(), "{v}");
        assert!(j.get("container_config").is_some() && j.get("created").is_some());
        assert_eq!(j["Size"], 5);
        assert!(j.get("Id").is_none());
    }
    for v in ["/v1.15", "/v1.18", ""] {
        let j = d.get(&format!("{v}/images/insp:latest/json")).json();
        assert_eq!(j["Id"], image_id_at(v, &id), "{v}");
        for k in [
            "Parent",
            "Created",
            "Container",
            "ContainerConfig",
            "Config",
            "Architecture",
            "Os",
            "Size",
            "DockerVersion",
        ] {
            assert!(j.get(k).is_some(), "{v}: {k} missing in {j}");
        }
        // API 1.44 dropped VirtualSize.
        assert_eq!(j.get("VirtualSize").is_some(), !v.is_empty(), "{v}");
        assert!(j.get("id").is_none());
    }
    // By ID, short ID, sha256: ID and docker.io/library name.
    for name in [
        id.clone(),
        id[..12].to_string(),
        format!("sha256:{id}"),
        "docker.io/library/insp:latest".to_string(),
    ] {
        assert_eq!(
            d.get(&format!("/v1.18/images/{name}/json")).json()["Id"],
            id.as_str(),
            "{name}"
        );
    }
}

#[test]
fn names_with_registry_and_slashes_route() {
    let d = Daemon::start();
    let id = d.import(&tarball(&[("a", b"1")]), "localhost:5000/team/app:v3");
    let j = d
        .get("/v1.18/images/localhost:5000/team/app:v3/json")
        .json();
    assert_eq!(j["Id"], id.as_str());
    assert_eq!(
        d.get("/v1.18/images/localhost:5000/team/app:v3/history")
            .status,
        200
    );
    let r = d.delete("/v1.18/images/localhost:5000/team/app:v3");
    assert_eq!(r.status, 200, "{}", r.text());
}

#[test]
fn history_per_version() {
    let d = Daemon::start();
    let id = d.import(&tarball(&[("a", b"123")]), "hist:latest");
    let h = d.get("/v1.5/images/hist/history").json();
    assert_eq!(h[0]["Id"], "hist:latest");
    assert!(h[0].get("Size").is_none());
    for v in ["/v1.7", "/v1.11", "/v1.15", "/v1.18", ""] {
        let h = d.get(&format!("{v}/images/hist/history")).json();
        let h = h.as_array().unwrap();
        assert_eq!(h.len(), 1, "{v}");
        assert_eq!(h[0]["Id"], image_id_at(v, &id));
        assert_eq!(h[0]["Size"], 3);
        assert_eq!(h[0]["Tags"][0], "hist:latest");
        assert!(h[0]["Created"].as_i64().unwrap() > 1_600_000_000);
        assert!(h[0].get("CreatedBy").is_some());
    }
    assert_eq!(d.get("/v1.18/images/none/history").status, 404);
}

#[test]
fn tag_conflicts_force_and_errors() {
    let d = Daemon::start();
    let a = d.import(&tarball(&[("a", b"1")]), "a:latest");
    let b = d.import(&tarball(&[("b", b"2")]), "b:latest");
    for v in VERSIONS {
        let r = d.post(&format!(
            "{v}/images/a/tag?repo=shared&tag=x{}",
            v.replace(['/', '.'], "")
        ));
        assert_eq!(r.status, 201, "{v}: {}", r.text());
        assert!(r.body.is_empty());
    }
    assert_eq!(d.post("/v1.18/images/a/tag?repo=moving&tag=1").status, 201);
    let r = d.post("/v1.18/images/b/tag?repo=moving&tag=1");
    assert_eq!(r.status, 409);
    assert_eq!(r.text(), format!("Conflict: Tag 1 is already set to image {a}, if you want to replace it, please use -f option\n"));
    assert_eq!(
        d.post("/v1.18/images/b/tag?repo=moving&tag=1&force=1")
            .status,
        201
    );
    assert_eq!(
        d.get("/v1.18/images/moving:1/json").json()["Id"],
        b.as_str()
    );
    // Tagging to itself again is no conflict.
    assert_eq!(d.post("/v1.18/images/b/tag?repo=moving&tag=1").status, 201);
    assert_eq!(d.post("/v1.18/images/nope/tag?repo=x&tag=1").status, 404);
    assert_eq!(d.post("/v1.18/images/a/tag?repo=x&tag=-bad").status, 400);
    assert_eq!(d.post("/v1.18/images/a/tag?repo=UPPER&tag=1").status, 400);
}

#[test]
fn delete_reports_untagged_then_deleted() {
    let d = Daemon::start();
    let id = d.import(&tarball(&[("a", b"1")]), "del:1");
    d.post(&format!("/v1.18/images/{id}/tag?repo=del&tag=2"));
    d.post(&format!("/v1.18/images/{id}/tag?repo=other&tag=1"));
    let r = d.delete("/v1.18/images/del:1");
    assert_eq!(r.status, 200);
    assert_eq!(r.json(), serde_json::json!([{"Untagged": "del:1"}]));
    let r = d.delete(&format!("/v1.18/images/{}", &id[..12]));
    assert_eq!(r.status, 409);
    assert!(
        r.text().contains("referenced in multiple repositories"),
        "{}",
        r.text()
    );
    let r = d.delete(&format!("/v1.18/images/{}?force=1", &id[..12]));
    assert_eq!(r.status, 200, "{}", r.text());
    let items = r.json();
    let items = items.as_array().unwrap();
    assert_eq!(
        items.iter().filter(|i| i.get("Untagged").is_some()).count(),
        2
    );
    assert_eq!(
        items.iter().find(|i| i.get("Deleted").is_some()).unwrap()["Deleted"],
        id.as_str()
    );
    assert_eq!(d.delete("/v1.18/images/del:2").status, 404);
    assert_eq!(
        d.delete("/v1.18/images/del:2").text(),
        "No such image: del:2\n"
    );
    // Nothing left on disk: no layer, no blob.
    let root = d.data_root().join("image");
    assert_eq!(std::fs::read_dir(root.join("layers")).unwrap().count(), 0);
    assert_eq!(
        std::fs::read_dir(root.join("blobs/sha256"))
            .unwrap()
            .count(),
        0
    );
}

fn tar_names(data: &[u8]) -> Vec<String> {
    let mut a = tar::Archive::new(data);
    a.entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().display().to_string())
        .collect()
}

#[test]
fn save_get_and_load_roundtrip_under_every_version() {
    let d = Daemon::start();
    let id = d.import_busybox("busybox:latest");
    d.post(&format!("/v1.18/images/{id}/tag?repo=busybox&tag=v1"));
    let other = d.import(&tarball(&[("x", b"x")]), "other:1");
    for v in VERSIONS {
        let r = d.get(&format!("{v}/images/busybox/get"));
        assert_eq!(r.status, 200, "{v}");
        assert_eq!(r.header("Content-Type"), Some("application/x-tar"));
        let names = tar_names(&r.body);
        assert!(
            names.contains(&"manifest.json".to_string())
                && names.contains(&"repositories".to_string()),
            "{names:?}"
        );
        assert!(
            names.iter().any(|n| n.ends_with("/layer.tar"))
                && names.iter().any(|n| n.ends_with("/VERSION"))
        );
        let mut a = tar::Archive::new(&r.body[..]);
        for e in a.entries().unwrap() {
            let mut e = e.unwrap();
            if e.path().unwrap().to_str() == Some("repositories") {
                let mut s = String::new();
                std::io::Read::read_to_string(&mut e, &mut s).unwrap();
                let repos: serde_json::Value = serde_json::from_str(&s).unwrap();
                assert!(
                    repos["busybox"]["latest"].is_string() && repos["busybox"]["v1"].is_string(),
                    "{repos}"
                );
            }
        }
    }
    let many = d.get("/v1.18/images/get?names=busybox%3Alatest&names=other%3A1");
    assert_eq!(many.status, 200);
    assert_eq!(d.get("/v1.18/images/get?names=nothere").status, 404);
    // Load into a fresh daemon, under every version.
    for v in VERSIONS {
        let fresh = Daemon::start();
        let r = fresh.request(
            "POST",
            &format!("{v}/images/load"),
            &[("Content-Type", "application/x-tar")],
            &many.body,
        );
        assert_eq!(r.status, 200, "{v}: {}", r.text());
        if v.is_empty() {
            // From API 1.23, a progress stream names what was loaded.
            let lines = r.json_lines();
            assert!(
                lines
                    .iter()
                    .any(|l| l["stream"] == "Loaded image: busybox:latest\n"),
                "{lines:?}"
            );
        } else {
            assert!(r.body.is_empty(), "API ≤ 1.18 load answers an empty body");
        }
        assert_eq!(
            fresh.get("/v1.18/images/busybox:latest/json").json()["Id"],
            id.as_str()
        );
        assert_eq!(
            fresh.get("/v1.18/images/other:1/json").json()["Id"],
            other.as_str()
        );
    }
}

#[test]
fn events_for_image_operations_with_since_until_and_filters() {
    let d = Daemon::start();
    let t0 = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let id = d.import(&tarball(&[("a", b"1")]), "ev:1");
    d.post(&format!("/v1.18/images/{id}/tag?repo=ev&tag=2"));
    d.get("/v1.18/images/ev:1/get");
    d.delete(&format!("/v1.18/images/{id}?force=1"));
    // `until` a second from now: the stream ends by itself then.
    let until = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 1;
    let r = d.get(&format!("/v1.18/events?since={t0}&until={until}"));
    assert_eq!(r.status, 200);
    let events = r.json_lines();
    let actions: Vec<&str> = events
        .iter()
        .map(|e| e["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        ["tag", "import", "tag", "save", "untag", "untag", "delete"],
        "{events:?}"
    );
    for e in &events {
        assert_eq!(e["Type"], "image");
        assert_eq!(e["id"], id.as_str(), "IDs are bare hex at 1.18");
        assert_eq!(e["Actor"]["ID"], format!("sha256:{id}").as_str());
        assert!(e["time"].as_i64().unwrap() >= t0 as i64);
        assert!(e["timeNano"].as_i64().unwrap() / 1_000_000_000 == e["time"].as_i64().unwrap());
        assert_eq!(e["scope"], "local");
    }
    assert_eq!(events[0]["Actor"]["Attributes"]["name"], "ev:1");
    let only_tags = d
        .get(&format!(
            "/v1.18/events?since={t0}&until={until}&filters=%7B%22event%22%3A%5B%22tag%22%5D%7D"
        ))
        .json_lines();
    assert_eq!(only_tags.len(), 2);
    let by_image = d
        .get(&format!(
            "/v1.18/events?since={t0}&until={until}&filters=%7B%22image%22%3A%5B%22{}%22%5D%7D",
            &id[..12]
        ))
        .json_lines();
    assert_eq!(by_image.len(), 7);
    // Before 1.18 the filters parameter does not exist and is ignored.
    let old = d
        .get(&format!(
            "/v1.15/events?since={t0}&until={until}&filters=%7B%22event%22%3A%5B%22tag%22%5D%7D"
        ))
        .json_lines();
    assert_eq!(old.len(), 7);
    // until in the past: nothing newer.
    assert!(d
        .get(&format!("/v1.18/events?since={t0}&until={}", t0 - 1))
        .json_lines()
        .is_empty());
}

#[test]
fn events_stream_live() {
    use std::io::{BufRead, BufReader};
    let d = Daemon::start();
    let mut s = std::os::unix::net::UnixStream::connect(&d.socket).unwrap();
    s.write_all(b"GET /v1.18/events HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(20)))
        .unwrap();
    let mut reader = BufReader::new(s);
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    assert!(line.starts_with("HTTP/1.1 200"), "{line}");
    // Headers until the blank line.
    loop {
        line.clear();
        reader.read_line(&mut line).unwrap();
        if line == "\r\n" {
            break;
        }
    }
    let id = d.import(&tarball(&[("a", b"1")]), "live:1");
    // Chunked framing: size line, then the event line.
    let mut seen = Vec::new();
    while seen.len() < 2 {
        line.clear();
        reader.read_line(&mut line).unwrap();
        if line.trim_start().starts_with('{') {
            seen.push(serde_json::from_str::<serde_json::Value>(line.trim()).unwrap());
        }
    }
    assert_eq!(seen[0]["status"], "tag");
    assert_eq!(seen[1]["status"], "import");
    assert_eq!(seen[1]["id"], id.as_str());
}

#[test]
fn delete_under_every_version() {
    let d = Daemon::start();
    for v in VERSIONS {
        let id = d.import(&tarball(&[("v", v.as_bytes())]), "per:version");
        let r = d.delete(&format!("{v}/images/per:version"));
        assert_eq!(r.status, 200, "{v}: {}", r.text());
        let items = r.json();
        assert_eq!(
            items[0],
            serde_json::json!({"Untagged": "per:version"}),
            "{v}"
        );
        assert_eq!(
            items[1],
            serde_json::json!({"Deleted": image_id_at(v, &id)}),
            "{v}"
        );
        let r = d.delete(&format!("{v}/images/per:version"));
        assert_eq!(r.status, 404);
        assert_eq!(r.message(), "No such image: per:version");
    }
}

#[test]
fn events_under_every_version_and_load_events() {
    let d = Daemon::start();
    let t0 = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let id = d.import(&tarball(&[("a", b"1")]), "evv:1");
    let saved = d.get("/v1.18/images/evv:1/get");
    d.delete(&format!("/v1.18/images/{id}"));
    let r = d.request(
        "POST",
        "/v1.18/images/load",
        &[("Content-Type", "application/x-tar")],
        &saved.body,
    );
    assert_eq!(r.status, 200);
    let until = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 1;
    for v in VERSIONS {
        let events = d
            .get(&format!("{v}/events?since={t0}&until={until}"))
            .json_lines();
        let actions: Vec<&str> = events
            .iter()
            .map(|e| e["status"].as_str().unwrap())
            .collect();
        assert_eq!(
            actions,
            ["tag", "import", "save", "untag", "delete", "tag", "load"],
            "{v}"
        );
        assert!(
            events
                .iter()
                .all(|e| e["id"] == image_id_at(v, &id).as_str() && e["Type"] == "image"),
            "{v}"
        );
        assert_eq!(events[6]["Action"], "load");
        assert_eq!(events[5]["Actor"]["Attributes"]["name"], "evv:1");
    }
}
