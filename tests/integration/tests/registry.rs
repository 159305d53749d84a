//! Pulls from a registry started on loopback by the test (Debian's `docker-registry`), driven
//! through the docker CLI and raw HTTP as users drive them.

use berth_tests::registry::Registry;
use berth_tests::{busybox_tar, tarball, Daemon};

/// A registry holding `team/busybox:1.0`: busybox's files and a layer that adds /hello.txt.
/// Returns the registry, the image's name, its manifest digest and its config digest (its ID).
fn registry_with_busybox() -> (Registry, String, String, String) {
    let reg = Registry::start();
    let base = std::fs::read(busybox_tar()).unwrap();
    let extra = tarball(&[("hello.txt", b"hello from the registry\n")]);
    let (manifest, config) = reg.push_image("team/busybox", "1.0", &[base, extra]);
    let name = format!("{}/team/busybox:1.0", reg.host());
    (reg, name, manifest, config)
}

/// The statuses the stream gave layer `id`, in order, repeats folded.
fn steps_of(lines: &[serde_json::Value], id: &str) -> Vec<String> {
    let mut steps: Vec<String> = Vec::new();
    for l in lines.iter().filter(|l| l["id"] == id) {
        let s = l["status"].as_str().unwrap_or_default().to_string();
        if steps.last() != Some(&s) {
            steps.push(s);
        }
    }
    steps
}

#[test]
fn docker_pull_streams_docker_progress_and_the_image_runs() {
    let (reg, name, manifest, config) = registry_with_busybox();
    let d = Daemon::start();
    let out = d.docker(&["pull", &name]);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{text}\n{}\n{}",
        String::from_utf8_lossy(&out.stderr),
        reg.log()
    );
    assert!(text.contains("1.0: Pulling from team/busybox"), "{text}");
    assert!(text.contains("Pull complete"), "{text}");
    assert!(text.contains(&format!("Digest: {manifest}")), "{text}");
    assert!(
        text.contains(&format!("Status: Downloaded newer image for {name}")),
        "{text}"
    );
    // The image is the registry's, byte for byte: its ID is the config's digest.
    let inspect = d.get(&format!("/v1.44/images/{name}/json")).json();
    assert_eq!(inspect["Id"], config);
    assert_eq!(
        d.docker_ok(&["run", "--rm", &name, "cat", "/hello.txt"]),
        "hello from the registry\n"
    );
    // A second pull finds every layer and says the image is up to date.
    let r = d.post(&format!(
        "/v1.44/images/create?fromImage={}/team/busybox&tag=1.0",
        reg.host()
    ));
    assert_eq!(r.status, 200, "{}", r.text());
    let statuses = r.statuses();
    assert_eq!(
        statuses.iter().filter(|s| *s == "Already exists").count(),
        2,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.last(),
        Some(&format!("Status: Image is up to date for {name}"))
    );
    // The pull events name the reference, as Docker's do.
    let pulls = d.past_events("pull");
    assert!(
        pulls
            .iter()
            .any(|e| e["id"] == name.as_str() && e["Type"] == "image"),
        "{pulls:?}"
    );
}

#[test]
fn each_layer_goes_through_docker_steps_in_order() {
    let (reg, _name, _, _) = registry_with_busybox();
    let d = Daemon::start();
    let r = d.post(&format!(
        "/v1.44/images/create?fromImage={}/team/busybox&tag=1.0",
        reg.host()
    ));
    assert_eq!(r.status, 200, "{}", r.text());
    let lines = r.json_lines();
    assert_eq!(lines[0]["status"], "Pulling from team/busybox");
    assert_eq!(lines[0]["id"], "1.0");
    let layer_ids: Vec<String> = lines
        .iter()
        .filter(|l| l["status"] == "Pulling fs layer")
        .map(|l| l["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(layer_ids.len(), 2, "{lines:?}");
    for id in &layer_ids {
        assert_eq!(id.len(), 12);
        let steps = steps_of(&lines, id);
        assert_eq!(
            steps,
            [
                "Pulling fs layer",
                "Downloading",
                "Verifying Checksum",
                "Download complete",
                "Extracting",
                "Pull complete"
            ],
            "layer {id}: {lines:?}"
        );
        // Counts that end at the total, with the bar for clients that draw from text.
        let last = lines
            .iter()
            .rfind(|l| l["id"] == id.as_str() && l["status"] == "Downloading")
            .unwrap();
        assert_eq!(
            last["progressDetail"]["current"],
            last["progressDetail"]["total"]
        );
        assert!(last["progress"].as_str().unwrap().starts_with('['));
    }
}

#[test]
fn pull_errors_are_dockers() {
    let (reg, _name, _, _) = registry_with_busybox();
    let d = Daemon::start();
    let host = reg.host();
    // Before any progress: the status says it.
    let r = d.post(&format!(
        "/v1.44/images/create?fromImage={host}/team/busybox&tag=nosuch"
    ));
    assert_eq!(r.status, 404, "{}", r.text());
    assert_eq!(
        r.message(),
        format!(
            "manifest for {host}/team/busybox:nosuch not found: manifest unknown: manifest unknown"
        )
    );
    let r = d.post(&format!(
        "/v1.44/images/create?fromImage={host}/nobody/here&tag=1"
    ));
    assert_eq!(r.status, 404, "{}", r.text());
    assert!(r.message().contains("not found"), "{}", r.message());
    let r = d.post("/v1.44/images/create?fromImage=Bad%20Name&tag=1");
    assert_eq!(r.status, 400, "{}", r.text());
    // A registry that cannot be reached.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let r = d.post(&format!(
        "/v1.44/images/create?fromImage=127.0.0.1:{port}/x&tag=1"
    ));
    assert_eq!(r.status, 500, "{}", r.text());
    // `docker run` of an image it does not have pulls it first, as the CLI does on a 404.
    let name = format!("{host}/team/busybox:1.0");
    let out = d.docker(&["run", "--rm", &name, "cat", "/hello.txt"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "hello from the registry\n"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("Unable to find image"));
}

#[test]
fn a_registry_with_basic_auth_needs_the_clients_credentials() {
    use base64::Engine as _;
    let reg = Registry::with_basic_auth("berth", "s3cret");
    let base = std::fs::read(busybox_tar()).unwrap();
    reg.push_image("private/busybox", "1", &[base]);
    let d = Daemon::start();
    let path = format!(
        "/v1.44/images/create?fromImage={}/private/busybox&tag=1",
        reg.host()
    );
    let r = d.post(&path);
    assert_ne!(r.status, 200, "{}", r.text());
    assert!(
        r.message().contains("no basic auth credentials"),
        "{}",
        r.message()
    );
    let header = |user: &str, password: &str| {
        base64::engine::general_purpose::URL_SAFE.encode(
            serde_json::json!({"username": user, "password": password, "serveraddress": reg.host()})
                .to_string(),
        )
    };
    let wrong = header("berth", "nope");
    let r = d.request("POST", &path, &[("X-Registry-Auth", wrong.as_str())], b"");
    assert_eq!(r.status, 404, "{}", r.text());
    assert!(
        r.message().contains("pull access denied"),
        "{}",
        r.message()
    );
    let right = header("berth", "s3cret");
    let r = d.request("POST", &path, &[("X-Registry-Auth", right.as_str())], b"");
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.text().contains("Downloaded newer image"), "{}", r.text());
    // A header that is not base64 JSON is Docker's 400.
    let r = d.request("POST", &path, &[("X-Registry-Auth", "%%%")], b"");
    assert_eq!(r.status, 400, "{}", r.text());
    // Standard base64 (`+`, `/`, padding) is read too, as Docker's decoder falls back to it:
    // a filler field is grown until the encoding has the characters URL-safe base64 lacks.
    let standard = (0..64)
        .map(|n| {
            base64::engine::general_purpose::STANDARD.encode(
                serde_json::json!({"username": "berth", "password": "s3cret",
                    "serveraddress": reg.host(), "email": "?".repeat(n)})
                .to_string(),
            )
        })
        .find(|h| h.contains('+') || h.contains('/'))
        .unwrap();
    d.docker_ok(&["rmi", &format!("{}/private/busybox:1", reg.host())]);
    let r = d.request(
        "POST",
        &path,
        &[("X-Registry-Auth", standard.as_str())],
        b"",
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.text().contains("Downloaded newer image"), "{}", r.text());
    // The password never reaches the daemon's log, nor any file it keeps.
    assert!(!d.log().contains("s3cret"));
    assert_eq!(
        files_containing(&d.data_root(), b"s3cret"),
        Vec::<String>::new()
    );
}

/// The files under `dir` whose bytes contain `needle`.
fn files_containing(dir: &std::path::Path, needle: &[u8]) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_dir() {
            found.extend(files_containing(&path, needle));
        } else if kind.is_file() {
            let bytes = std::fs::read(&path).unwrap_or_default();
            if bytes.windows(needle.len()).any(|w| w == needle) {
                found.push(path.display().to_string());
            }
        }
    }
    found
}

#[test]
fn layers_download_three_at_a_time() {
    let reg = Registry::start();
    let layers: Vec<Vec<u8>> = (0..5)
        .map(|n| {
            tarball(&[(
                &format!("noise{n}"),
                &berth_tests::registry::noise(n, 1 << 20),
            )])
        })
        .collect();
    reg.push_image("team/five", "1", &layers);
    let d = Daemon::start();
    let r = d.post(&format!(
        "/v1.44/images/create?fromImage={}/team/five&tag=1",
        reg.host()
    ));
    assert_eq!(r.status, 200, "{}", r.text());
    let lines = r.json_lines();
    // At no point in the stream are more than three layers between their first byte and
    // their checksum.
    let mut active: Vec<String> = Vec::new();
    let mut most = 0;
    for l in &lines {
        let (Some(id), Some(status)) = (l["id"].as_str(), l["status"].as_str()) else {
            continue;
        };
        match status {
            "Downloading" if !active.iter().any(|a| a == id) => active.push(id.to_string()),
            "Verifying Checksum" => active.retain(|a| a != id),
            _ => {}
        }
        most = most.max(active.len());
    }
    assert!((1..=3).contains(&most), "{most} at once: {lines:?}");
    assert_eq!(
        lines
            .iter()
            .filter(|l| l["status"] == "Pull complete")
            .count(),
        5,
        "{lines:?}"
    );
    // The two past the first three are told to wait, as Docker tells them.
    let order: Vec<&str> = lines
        .iter()
        .filter(|l| l["status"] == "Pulling fs layer")
        .filter_map(|l| l["id"].as_str())
        .collect();
    let mut waiting: Vec<&str> = lines
        .iter()
        .filter(|l| l["status"] == "Waiting")
        .filter_map(|l| l["id"].as_str())
        .collect();
    let mut later = order[3..].to_vec();
    // (Each layer's lines come from a task of its own: the two may show in either order.)
    waiting.sort();
    later.sort();
    assert_eq!(waiting, later, "{lines:?}");
}

#[test]
fn pulls_record_the_digest_and_pin_by_it() {
    let (reg, name, manifest, config) = registry_with_busybox();
    let d = Daemon::start();
    d.docker_ok(&["pull", &name]);
    let repo = format!("{}/team/busybox", reg.host());
    let inspect = d.get(&format!("/v1.44/images/{name}/json")).json();
    assert_eq!(
        inspect["RepoDigests"],
        serde_json::json!([format!("{repo}@{manifest}")])
    );
    assert_eq!(inspect["RepoTags"], serde_json::json!([name.clone()]));
    // Removing the tag removes the digest reference it came with, and so the image.
    let removed = d.docker_ok(&["rmi", &name]);
    assert!(
        removed.contains(&format!("Untagged: {repo}@{manifest}")),
        "{removed}"
    );
    assert!(removed.contains(&format!("Deleted: {config}")), "{removed}");
    // A pull by digest names the image by that digest only.
    let pinned = format!("{repo}@{manifest}");
    let out = d.docker_ok(&["pull", &pinned]);
    assert!(
        out.contains(&format!("{manifest}: Pulling from team/busybox")),
        "{out}"
    );
    let inspect = d.get(&format!("/v1.44/images/{pinned}/json")).json();
    assert_eq!(inspect["Id"], config);
    assert_eq!(inspect["RepoTags"], serde_json::json!([]));
    assert_eq!(inspect["RepoDigests"], serde_json::json!([pinned.clone()]));
    // A digest the registry does not have.
    let missing = format!("{repo}@sha256:{}", "0".repeat(64));
    let r = d.post(&format!(
        "/v1.44/images/create?fromImage={repo}&tag=sha256:{}",
        "0".repeat(64)
    ));
    assert_eq!(r.status, 404, "{} {missing}", r.text());
}

#[test]
fn the_hosts_image_is_pulled_from_an_index_and_oci_manifests_are_read() {
    let reg = Registry::start();
    let base = std::fs::read(busybox_tar()).unwrap();
    let host_arch = berth_tests::registry::host_arch();
    let other_arch = if host_arch == "amd64" {
        "arm64"
    } else {
        "amd64"
    };
    let mine = reg.push_image_as(
        "multi/busybox",
        "",
        std::slice::from_ref(&base),
        host_arch,
        true,
    );
    let other = reg.push_image_as(
        "multi/busybox",
        "",
        &[base, tarball(&[("other", b"x")])],
        other_arch,
        true,
    );
    let index = reg.push_index(
        "multi/busybox",
        "1",
        &[(&other, other_arch), (&mine, host_arch)],
        true,
    );
    let d = Daemon::start();
    let name = format!("{}/multi/busybox:1", reg.host());
    let out = d.docker_ok(&["pull", &name]);
    assert!(out.contains(&format!("Digest: {index}")), "{out}");
    let inspect = d.get(&format!("/v1.44/images/{name}/json")).json();
    assert_eq!(inspect["Id"], mine.config, "the host's platform's image");
    assert_eq!(inspect["Architecture"], host_arch);
    // `RepoDigests` holds the index's digest, what the tag names.
    assert_eq!(
        inspect["RepoDigests"],
        serde_json::json!([format!("{}/multi/busybox@{index}", reg.host())])
    );
    assert_eq!(d.docker_ok(&["run", "--rm", &name, "echo", "ok"]), "ok\n");
    // What the registry holds, without a pull: the index and its platforms (1.30+).
    let r = d.get(&format!("/v1.44/distribution/{name}/json"));
    assert_eq!(r.status, 200, "{}", r.text());
    let inspect = r.json();
    assert_eq!(inspect["Descriptor"]["digest"], index.as_str());
    assert_eq!(
        inspect["Descriptor"]["mediaType"],
        "application/vnd.oci.image.index.v1+json"
    );
    let archs: Vec<&str> = inspect["Platforms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["architecture"].as_str().unwrap())
        .collect();
    assert_eq!(archs, [other_arch, host_arch]);
    let one = format!("{}/multi/busybox@{}", reg.host(), mine.manifest);
    let r = d.get(&format!("/v1.44/distribution/{one}/json")).json();
    assert_eq!(r["Descriptor"]["size"], mine.size);
    assert_eq!(
        r["Platforms"],
        serde_json::json!([{"architecture": host_arch, "os": "linux"}])
    );
    assert_eq!(
        d.get(&format!("/v1.29/distribution/{name}/json")).status,
        404
    );
    let r = d.get(&format!(
        "/v1.44/distribution/{}/multi/busybox:nosuch/json",
        reg.host()
    ));
    assert_eq!(r.status, 404, "{}", r.text());
    // `platform` (1.32): another platform's image from the same index, by the API and the
    // CLI; before 1.32 the parameter is not read.
    let r = d.post(&format!(
        "/v1.44/images/create?fromImage={}/multi/busybox&tag=1&platform=linux/{other_arch}",
        reg.host()
    ));
    assert_eq!(r.status, 200, "{}", r.text());
    let inspect = d.get(&format!("/v1.44/images/{name}/json")).json();
    assert_eq!(inspect["Id"], other.config, "{}", r.text());
    assert_eq!(inspect["Architecture"], other_arch);
    let out = d.docker_ok(&["pull", "--platform", &format!("linux/{host_arch}"), &name]);
    assert!(out.contains(&format!("Digest: {index}")), "{out}");
    assert_eq!(
        d.get(&format!("/v1.44/images/{name}/json")).json()["Id"],
        mine.config
    );
    d.post(&format!(
        "/v1.31/images/create?fromImage={}/multi/busybox&tag=1&platform=linux/{other_arch}",
        reg.host()
    ));
    assert_eq!(
        d.get(&format!("/v1.44/images/{name}/json")).json()["Id"],
        mine.config,
        "below 1.32 the host's platform"
    );
    // An index without this host's platform: as Docker, the pull has begun when that shows.
    reg.push_index("multi/busybox", "foreign", &[(&other, other_arch)], false);
    let r = d.post(&format!(
        "/v1.44/images/create?fromImage={}/multi/busybox&tag=foreign",
        reg.host()
    ));
    assert_eq!(r.status, 200, "{}", r.text());
    let last = r.json_lines().pop().unwrap();
    assert_eq!(
        last["error"],
        format!("no matching manifest for linux/{host_arch} in the manifest list entries")
    );
}

#[test]
fn docker_login_checks_the_credentials_and_the_pull_uses_them() {
    let reg = Registry::with_basic_auth("berth", "s3cret");
    let base = std::fs::read(busybox_tar()).unwrap();
    reg.push_image("private/busybox", "1", &[base]);
    let d = Daemon::start();
    let host = reg.host();
    // Wrong: Docker's 401 and message; the CLI says so and fails.
    let body = |password: &str| {
        serde_json::json!({"username": "berth", "password": password, "serveraddress": host})
            .to_string()
    };
    let r = d.post_json("/v1.44/auth", body("nope").as_bytes());
    assert_eq!(r.status, 401, "{}", r.text());
    assert_eq!(
        r.message(),
        format!("login attempt to http://{host}/v2/ failed with status: 401 Unauthorized")
    );
    // Right: the answer of each version.
    let r = d.post_json("/v1.44/auth", body("s3cret").as_bytes());
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.json(),
        serde_json::json!({"IdentityToken": "", "Status": "Login Succeeded"})
    );
    let r = d.post_json("/v1.18/auth", body("s3cret").as_bytes());
    assert_eq!(r.json(), serde_json::json!({"Status": "Login Succeeded"}));
    // The CLI: login, then a pull that sends what it stored.
    let said = d.docker_login(&host, "berth", "s3cret");
    assert!(said.contains("Login Succeeded"), "{said}");
    let name = format!("{host}/private/busybox:1");
    d.docker_ok(&["pull", &name]);
    assert_eq!(d.docker_ok(&["run", "--rm", &name, "echo", "in"]), "in\n");
    assert!(
        !d.log().contains("s3cret"),
        "a password in the daemon's log"
    );
}

#[test]
fn search_lists_a_registrys_catalog_without_v1_search() {
    let reg = Registry::start();
    let base = std::fs::read(busybox_tar()).unwrap();
    for repo in ["team/busybox", "team/other", "solo/app"] {
        reg.push_image(repo, "1", std::slice::from_ref(&base));
    }
    let d = Daemon::start();
    let host = reg.host();
    let out = d.docker_ok(&["search", "--format", "{{.Name}}", &format!("{host}/team")]);
    let mut names: Vec<&str> = out.lines().collect();
    names.sort();
    assert_eq!(
        names,
        [format!("{host}/team/busybox"), format!("{host}/team/other")]
    );
    let r = d.get(&format!("/v1.44/images/search?term={host}/team&limit=1"));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json().as_array().unwrap().len(), 1);
    let r = d.get(&format!("/v1.44/images/search?term={host}/team&limit=0"));
    assert_eq!(r.status, 400, "{}", r.text());
    // Each version's shape.
    let r = d.get(&format!("/v1.11/images/search?term={host}/solo"));
    assert_eq!(
        r.json(),
        serde_json::json!([{"description": "", "is_official": false, "is_trusted": false,
                            "name": format!("{host}/solo/app"), "star_count": 0}])
    );
    let r = d.get(&format!("/v1.5/images/search?term={host}/solo"));
    assert_eq!(
        r.json(),
        serde_json::json!([{"Name": format!("{host}/solo/app"), "Description": ""}])
    );
}

/// A Docker Hub-style v1 search index: two results for any query.
fn v1_search_server() -> berth_tests::loopback::LoopbackServer {
    use std::io::{BufRead, BufReader, Write};
    berth_tests::loopback::LoopbackServer::start(|mut conn, _| {
        let mut reader = BufReader::new(conn.try_clone().unwrap());
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).unwrap() == 0 || h == "\r\n" {
                break;
            }
        }
        let query = line
            .split("q=")
            .nth(1)
            .and_then(|q| q.split('&').next())
            .unwrap_or("");
        let body = serde_json::json!({
            "num_results": 2, "query": query,
            "results": [
                {"name": format!("library/{query}"), "description": "the official one",
                 "star_count": 10, "is_official": true, "is_automated": false},
                {"name": format!("someone/{query}"), "description": "",
                 "star_count": 1, "is_official": false, "is_trusted": true},
            ],
        })
        .to_string();
        let _ = write!(
            conn,
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
    })
}

#[test]
fn search_reads_a_v1_index_and_filters_its_results() {
    let server = v1_search_server();
    let port = server.port;
    let d = Daemon::start();
    let term = format!("127.0.0.1:{port}/redis");
    let out = d.docker_ok(&["search", &term]);
    assert!(
        out.contains("library/redis") && out.contains("the official one"),
        "{out}"
    );
    let names = |filters: &str| -> Vec<String> {
        let r = d.get(&format!(
            "/v1.44/images/search?term={term}&filters={}",
            percent_encode(filters)
        ));
        assert_eq!(r.status, 200, "{}", r.text());
        r.json()
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["name"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(names(r#"{"is-official":["true"]}"#), ["library/redis"]);
    assert_eq!(names(r#"{"is-automated":["true"]}"#), ["someone/redis"]);
    assert_eq!(names(r#"{"stars":["5"]}"#), ["library/redis"]);
    // Below 1.24 `filters` and `limit` are not read: everything the index found, in the
    // 1.12+ shape.
    let all = d
        .get(&format!(
            "/v1.23/images/search?term={term}&limit=1&filters={}",
            percent_encode(r#"{"is-official":["true"]}"#)
        ))
        .json();
    let all = all.as_array().unwrap();
    assert_eq!(all.len(), 2, "{all:?}");
    let mut keys: Vec<&str> = all[0]
        .as_object()
        .unwrap()
        .keys()
        .map(|k| k.as_str())
        .collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "description",
            "is_automated",
            "is_official",
            "name",
            "star_count"
        ]
    );
}

fn percent_encode(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

#[test]
fn docker_hub_images_come_from_the_mirrors_in_order() {
    let reg = Registry::start();
    let base = std::fs::read(busybox_tar()).unwrap();
    let (manifest, config) = reg.push_image("library/busybox", "latest", &[base]);
    // A mirror that is down comes first: it is passed over.
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dead = format!("http://127.0.0.1:{dead}");
    let good = format!("http://{}/", reg.host());
    let d = Daemon::start_with(&["--registry-mirror", &dead, "--registry-mirror", &good]);
    let out = d.docker_ok(&["pull", "busybox"]);
    assert!(
        out.contains("latest: Pulling from library/busybox"),
        "{out}"
    );
    assert!(
        out.contains("Status: Downloaded newer image for busybox:latest"),
        "{out}"
    );
    let inspect = d.get("/v1.44/images/busybox/json").json();
    assert_eq!(inspect["Id"], config);
    assert_eq!(inspect["RepoTags"], serde_json::json!(["busybox:latest"]));
    assert_eq!(
        inspect["RepoDigests"],
        serde_json::json!([format!("busybox@{manifest}")])
    );
    // Names of other registries never go to a mirror.
    let r = d.post("/v1.44/images/create?fromImage=127.0.0.1:1/library/busybox&tag=latest");
    assert_eq!(r.status, 500, "{}", r.text());
    // A mirror that is no URL of a registry stops the daemon at start, as Docker's.
    let mut bad = Daemon::start_with(&[]);
    bad.stop();
    let out = bad
        .command()
        .args(["--registry-mirror", "ftp://mirror.example.com"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("invalid mirror: unsupported scheme"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_registry_with_token_auth_is_pulled_with_tokens_and_identity_tokens() {
    let reg = Registry::with_token_auth("berth", "s3cret");
    let base = std::fs::read(busybox_tar()).unwrap();
    reg.push_image("tok/busybox", "1", &[base]);
    let d = Daemon::start();
    let host = reg.host();
    let name = format!("{host}/tok/busybox:1");
    let path = format!("/v1.44/images/create?fromImage={host}/tok/busybox&tag=1");
    // Anonymous: the token grants nothing, the registry refuses.
    let r = d.post(&path);
    assert_eq!(r.status, 404, "{}", r.text());
    assert!(
        r.message().contains("pull access denied"),
        "{}",
        r.message()
    );
    // Login: the token server's refresh token comes back as the identity token.
    let r = d.post_json(
        "/v1.44/auth",
        serde_json::json!({"username": "berth", "password": "s3cret", "serveraddress": host})
            .to_string()
            .as_bytes(),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["IdentityToken"], "refresh-berth");
    let r = d.post_json(
        "/v1.44/auth",
        serde_json::json!({"username": "berth", "password": "nope", "serveraddress": host})
            .to_string()
            .as_bytes(),
    );
    assert_eq!(r.status, 401, "{}", r.text());
    // The CLI keeps the identity token and pulls with it (the refresh-token grant).
    d.docker_login(&host, "berth", "s3cret");
    d.docker_ok(&["pull", &name]);
    assert_eq!(d.docker_ok(&["run", "--rm", &name, "echo", "tok"]), "tok\n");
    let asked = reg.token.as_ref().unwrap().requests.lock().unwrap().clone();
    assert!(asked.iter().any(|r| r.starts_with("POST")), "{asked:?}");
    assert!(
        asked
            .iter()
            .any(|r| r.contains("scope=repository%3Atok%2Fbusybox%3Apull")),
        "{asked:?}"
    );
    assert!(!d.log().contains("s3cret") && !d.log().contains("refresh-berth"));
}

/// Operations one after another on a registry go over the connections the first opened,
/// kept while idle, instead of a connection each (Docker opens new ones for every pull).
#[test]
fn pulls_and_pushes_to_one_registry_reuse_its_connections() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    let (reg, _, _, _) = registry_with_busybox();
    // A proxy in front of the registry that counts the connections berth opens.
    let opened = Arc::new(AtomicUsize::new(0));
    let upstream = reg.host();
    let proxy = {
        let opened = opened.clone();
        berth_tests::loopback::LoopbackServer::start(move |client, _| {
            opened.fetch_add(1, Ordering::SeqCst);
            let server = std::net::TcpStream::connect(&upstream).unwrap();
            let (mut c_in, mut s_out) = (client.try_clone().unwrap(), server.try_clone().unwrap());
            let to_server = std::thread::spawn(move || {
                let _ = std::io::copy(&mut c_in, &mut s_out);
                let _ = s_out.shutdown(std::net::Shutdown::Write);
            });
            let (mut s_in, mut c_out) = (server, client);
            let _ = std::io::copy(&mut s_in, &mut c_out);
            let _ = c_out.shutdown(std::net::Shutdown::Write);
            let _ = to_server.join();
        })
    };
    let name = format!("127.0.0.1:{}/team/busybox:1.0", proxy.port);
    let d = Daemon::start();
    d.docker_ok(&["pull", &name]);
    for _ in 0..3 {
        d.docker_ok(&["rmi", &name]);
        d.docker_ok(&["pull", &name]);
    }
    let pushed = format!("127.0.0.1:{}/team/copy:1", proxy.port);
    d.docker_ok(&["tag", &name, &pushed]);
    d.docker_ok(&["push", &pushed]);
    d.docker_ok(&["push", &pushed]);
    // Six operations: a connection each (or two, for the two layers) would be seven or
    // more. Kept, they are the two layers' downloads at once, and perhaps one or two more
    // opened while others were on their way back to the pool (a busy machine).
    let opened = opened.load(Ordering::SeqCst);
    assert!(
        (1..=4).contains(&opened),
        "{opened} connections for six operations"
    );
    assert_eq!(
        d.docker_ok(&["run", "--rm", &name, "cat", "/hello.txt"]),
        "hello from the registry\n"
    );
    d.remove_all_containers();
}

/// A registry (or a proxy before it) that closes a kept connection as the next request comes:
/// the request goes again on a new connection, and the pull completes.
#[test]
fn a_kept_connection_closed_under_a_request_is_asked_again_on_a_new_one() {
    use std::io::{Read, Write};
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    let (reg, _, _, _) = registry_with_busybox();
    let upstream = reg.host();
    // Each connection carries one request and its answer; a second request closes it.
    let proxy = berth_tests::loopback::LoopbackServer::start(move |client, _| {
        let server = std::net::TcpStream::connect(&upstream).unwrap();
        let answered = Arc::new(AtomicBool::new(false));
        let (mut s_in, mut c_out) = (server.try_clone().unwrap(), client.try_clone().unwrap());
        let back = {
            let answered = answered.clone();
            std::thread::spawn(move || {
                let mut buf = [0u8; 65536];
                while let Ok(n) = s_in.read(&mut buf) {
                    if n == 0 || c_out.write_all(&buf[..n]).is_err() {
                        break;
                    }
                    answered.store(true, Ordering::SeqCst);
                }
            })
        };
        let (mut c_in, mut s_out) = (client, server);
        let mut buf = [0u8; 65536];
        while let Ok(n) = c_in.read(&mut buf) {
            if n == 0 || answered.load(Ordering::SeqCst) || s_out.write_all(&buf[..n]).is_err() {
                break;
            }
        }
        let _ = c_in.shutdown(std::net::Shutdown::Both);
        let _ = s_out.shutdown(std::net::Shutdown::Both);
        let _ = back.join();
    });
    let name = format!("127.0.0.1:{}/team/busybox:1.0", proxy.port);
    let d = Daemon::start();
    d.docker_ok(&["pull", &name]);
    d.docker_ok(&["rmi", &name]);
    d.docker_ok(&["pull", &name]);
    assert_eq!(
        d.docker_ok(&["run", "--rm", &name, "cat", "/hello.txt"]),
        "hello from the registry\n"
    );
    d.remove_all_containers();
}
