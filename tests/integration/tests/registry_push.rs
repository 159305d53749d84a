//! Pushes to a registry started on loopback by the test (Debian's `docker-registry`), driven
//! through the docker CLI and raw HTTP, checked against what the registry then holds.

use berth_tests::registry::{sha256, Registry};
use berth_tests::{busybox_tar, tarball, Daemon};

/// An image of two layers made here, as users make one: busybox imported, a file added by a
/// container, committed as `name`.
fn made_here(d: &Daemon, name: &str) {
    d.import_busybox("busybox:latest");
    d.docker_ok(&[
        "run",
        "--name",
        "maker",
        "busybox",
        "sh",
        "-c",
        "echo made here > /made.txt",
    ]);
    d.docker_ok(&["commit", "maker", name]);
    d.docker_ok(&["rm", "maker"]);
}

/// The registry's manifest for `repo:reference`: its digest (of the bytes served) and JSON.
fn manifest(reg: &Registry, repo: &str, reference: &str) -> (String, serde_json::Value) {
    let a = reg.request(
        "GET",
        &format!("/v2/{repo}/manifests/{reference}"),
        &[(
            "Accept",
            "application/vnd.docker.distribution.manifest.v2+json",
        )],
        b"",
    );
    assert_eq!(a.status, 200, "{}", String::from_utf8_lossy(&a.body));
    (sha256(&a.body), serde_json::from_slice(&a.body).unwrap())
}

fn layer_digests(m: &serde_json::Value) -> Vec<String> {
    m["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["digest"].as_str().unwrap().to_string())
        .collect()
}

/// The digest a push stream's `aux` gave for `tag`.
fn aux_digest(lines: &[serde_json::Value], tag: &str) -> String {
    lines
        .iter()
        .find(|l| l["aux"]["Tag"] == tag)
        .unwrap_or_else(|| panic!("no aux for {tag}: {lines:?}"))["aux"]["Digest"]
        .as_str()
        .unwrap()
        .to_string()
}

const NO_AUTH: (&str, &str) = ("X-Registry-Auth", "e30=");

#[test]
fn docker_push_uploads_then_finds_then_mounts_and_the_digest_stays() {
    let reg = Registry::start();
    let d = Daemon::start();
    let host = reg.host();
    let name = format!("{host}/team/app:1");
    made_here(&d, &name);
    let id = d.get(&format!("/v1.44/images/{name}/json")).json()["Id"]
        .as_str()
        .unwrap()
        .to_string();
    let out = d.docker(&["push", &name]);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{text}\n{}\n{}",
        String::from_utf8_lossy(&out.stderr),
        reg.log()
    );
    assert!(
        text.contains(&format!("The push refers to repository [{host}/team/app]")),
        "{text}"
    );
    assert_eq!(text.matches(": Pushed").count(), 2, "{text}");
    // What the registry holds is what the CLI was told, and the image's own config.
    let (digest, m) = manifest(&reg, "team/app", "1");
    assert!(
        text.contains(&format!("1: digest: {digest} size: ")),
        "{text}"
    );
    assert_eq!(
        m["mediaType"],
        "application/vnd.docker.distribution.manifest.v2+json"
    );
    assert_eq!(m["config"]["digest"], id.as_str());
    let layers = layer_digests(&m);
    assert_eq!(layers.len(), 2);
    for l in &layers {
        let a = reg.request("HEAD", &format!("/v2/team/app/blobs/{l}"), &[], b"");
        assert_eq!(a.status, 200, "{l}");
    }
    let inspect = d.get(&format!("/v1.44/images/{name}/json")).json();
    assert!(
        inspect["RepoDigests"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r == &format!("{host}/team/app@{digest}")),
        "{inspect}"
    );
    // Again: every layer is found there and the manifest is the same bytes.
    let r = d.request(
        "POST",
        &format!("/v1.44/images/{host}/team/app/push?tag=1"),
        &[NO_AUTH],
        b"",
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let lines = r.json_lines();
    let statuses = r.statuses();
    assert_eq!(
        statuses
            .iter()
            .filter(|s| *s == "Layer already exists")
            .count(),
        2,
        "{statuses:?}"
    );
    assert!(!statuses.iter().any(|s| s == "Pushing"), "{statuses:?}");
    assert_eq!(aux_digest(&lines, "1"), digest);
    // A blob the registry lost goes again, and only that one.
    let gone = reg.request(
        "DELETE",
        &format!("/v2/team/app/blobs/{}", layers[1]),
        &[],
        b"",
    );
    assert_eq!(gone.status, 202, "{}", String::from_utf8_lossy(&gone.body));
    let r = d.request(
        "POST",
        &format!("/v1.44/images/{host}/team/app/push?tag=1"),
        &[NO_AUTH],
        b"",
    );
    let statuses = r.statuses();
    assert_eq!(
        statuses.iter().filter(|s| *s == "Pushed").count(),
        1,
        "{statuses:?}"
    );
    let lines = r.json_lines();
    assert_eq!(aux_digest(&lines, "1"), digest);
    // That layer's lines: Preparing, Pushing with Docker's counts and bar, Pushed.
    let sent = lines.iter().find(|l| l["status"] == "Pushed").unwrap()["id"].clone();
    let mut steps: Vec<&str> = Vec::new();
    for l in lines.iter().filter(|l| l["id"] == sent) {
        let status = l["status"].as_str().unwrap();
        if steps.last() != Some(&status) {
            steps.push(status);
        }
        if status == "Pushing" {
            let detail = &l["progressDetail"];
            assert!(detail["current"].as_u64().unwrap() <= detail["total"].as_u64().unwrap());
            assert!(l["progress"].as_str().unwrap().starts_with('['), "{l}");
        }
    }
    assert_eq!(steps, ["Preparing", "Pushing", "Pushed"], "{lines:?}");
    // To another repository of the registry: the blobs are mounted, not sent.
    let other = format!("{host}/team/other:2");
    d.docker_ok(&["tag", &name, &other]);
    let out = d.docker_ok(&["push", &other]);
    assert_eq!(out.matches("Mounted from team/app").count(), 2, "{out}");
    assert!(out.contains(&format!("2: digest: {digest}")), "{out}");
    // Without a tag, every tag of the repository goes, in tag order.
    d.docker_ok(&["tag", &name, &format!("{host}/team/app:0")]);
    let r = d.request(
        "POST",
        &format!("/v1.44/images/{host}/team/app/push"),
        &[NO_AUTH],
        b"",
    );
    let lines = r.json_lines();
    let tags: Vec<&str> = lines
        .iter()
        .filter_map(|l| l["aux"]["Tag"].as_str())
        .collect();
    assert_eq!(tags, ["0", "1"], "{}", r.text());
    // Gone from here, it comes back by its digest and runs.
    d.docker_ok(&["rmi", &name, &other, &format!("{host}/team/app:0")]);
    let pinned = format!("{host}/team/app@{digest}");
    d.docker_ok(&["pull", &pinned]);
    assert_eq!(
        d.docker_ok(&["run", "--rm", &pinned, "cat", "/made.txt"]),
        "made here\n"
    );
    let pushes = d.past_events("push");
    assert!(
        pushes.iter().any(|e| e["id"] == name.as_str()),
        "{pushes:?}"
    );
    d.remove_all_containers();
}

/// A pulled image goes back with the very blobs it came with (no recompression), so a
/// registry that has them is asked for nothing new.
#[test]
fn a_pulled_image_is_pushed_with_the_blobs_it_came_with() {
    let reg = Registry::start();
    let base = std::fs::read(busybox_tar()).unwrap();
    let extra = tarball(&[("from.txt", b"the registry\n")]);
    reg.push_image("src/busybox", "1.0", &[base, extra]);
    let (_, source) = manifest(&reg, "src/busybox", "1.0");
    let d = Daemon::start();
    let host = reg.host();
    d.docker_ok(&["pull", &format!("{host}/src/busybox:1.0")]);
    let copy = format!("{host}/dst/busybox:copy");
    d.docker_ok(&["tag", &format!("{host}/src/busybox:1.0"), &copy]);
    let out = d.docker_ok(&["push", &copy]);
    assert_eq!(out.matches("Mounted from src/busybox").count(), 2, "{out}");
    let (_, pushed) = manifest(&reg, "dst/busybox", "copy");
    assert_eq!(layer_digests(&pushed), layer_digests(&source));
    assert_eq!(pushed["config"]["digest"], source["config"]["digest"]);
    // `docker save` of the pulled image reads its layers from those compressed blobs.
    let saved = d.get(&format!("/v1.44/images/{copy}/get"));
    assert_eq!(saved.status, 200);
    let mut archive = tar::Archive::new(&saved.body[..]);
    let mut layer_tars = 0;
    for e in archive.entries().unwrap() {
        let e = e.unwrap();
        if e.path().unwrap().ends_with("layer.tar") {
            layer_tars += 1;
        }
    }
    assert_eq!(layer_tars, 2);
    // The manifest is kept as the registry sent it, byte for byte (what a push back puts).
    let (digest, _) = manifest(&reg, "src/busybox", "1.0");
    let sent = reg.request(
        "GET",
        "/v2/src/busybox/manifests/1.0",
        &[(
            "Accept",
            "application/vnd.docker.distribution.manifest.v2+json",
        )],
        b"",
    );
    let kept = d
        .data_root()
        .join("image/blobs/sha256")
        .join(digest.strip_prefix("sha256:").unwrap());
    assert_eq!(
        std::fs::read(&kept).ok(),
        Some(sent.body),
        "{}",
        kept.display()
    );
    let out = d.docker_ok(&["push", &format!("{host}/src/busybox:1.0")]);
    assert!(out.contains(&format!("1.0: digest: {digest}")), "{out}");
}

#[test]
fn push_errors_are_dockers() {
    let reg = Registry::with_basic_auth("berth", "s3cret");
    let d = Daemon::start();
    let host = reg.host();
    let name = format!("{host}/app:1");
    made_here(&d, &name);
    // The stream starts, then tells what is missing, as Docker's does.
    let r = d.request(
        "POST",
        &format!("/v1.44/images/{host}/app/push?tag=nope"),
        &[NO_AUTH],
        b"",
    );
    assert_eq!(r.status, 200);
    let lines = r.json_lines();
    assert_eq!(
        lines[0]["status"],
        format!("The push refers to repository [{host}/app]")
    );
    assert_eq!(
        lines[1]["error"],
        format!("tag does not exist: {host}/app:nope")
    );
    let r = d.request(
        "POST",
        &format!("/v1.44/images/{host}/none/push"),
        &[NO_AUTH],
        b"",
    );
    assert_eq!(
        r.json_lines()[1]["errorDetail"]["message"],
        format!("An image does not exist locally with the tag: {host}/none")
    );
    // No credentials at all: Docker's 400.
    let r = d.post(&format!("/v1.44/images/{host}/app/push?tag=1"));
    assert_eq!(r.status, 400);
    assert_eq!(
        r.message(),
        "Bad parameters and missing X-Registry-Auth: EOF"
    );
    // A registry that wants a login, and none was given.
    let out = d.docker(&["push", &name]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no basic auth credentials"), "{err}");
    // Logged in, the push goes through; no credential reaches the daemon's log.
    let mut login = d.docker_cmd(&["login", "-u", "berth", "--password-stdin", &host]);
    login
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let mut child = login.spawn().unwrap();
    use std::io::Write as _;
    child.stdin.take().unwrap().write_all(b"s3cret\n").unwrap();
    assert!(child.wait().unwrap().success());
    let out = d.docker_ok(&["push", &name]);
    assert!(out.contains("1: digest: sha256:"), "{out}");
    assert!(!d.log().contains("s3cret"));
    d.remove_all_containers();
}

/// With a token server, a push asks for `pull,push` on its repository, and for `pull` on the
/// repository it mounts from.
#[test]
fn a_push_to_a_token_registry_asks_for_push_and_for_the_mount_source() {
    let reg = Registry::with_token_auth("berth", "s3cret");
    let d = Daemon::start();
    let host = reg.host();
    let first = format!("{host}/tok/first:1");
    made_here(&d, &first);
    let auth = {
        use base64::Engine as _;
        base64::engine::general_purpose::URL_SAFE.encode(
            serde_json::json!({"username": "berth", "password": "s3cret", "serveraddress": host})
                .to_string(),
        )
    };
    let push = |repo: &str, tag: &str| {
        let r = d.request(
            "POST",
            &format!("/v1.44/images/{host}/{repo}/push?tag={tag}"),
            &[("X-Registry-Auth", &auth)],
            b"",
        );
        assert_eq!(r.status, 200, "{}", r.text());
        let lines = r.json_lines();
        assert!(
            lines.iter().all(|l| l.get("error").is_none()),
            "{}\n{}",
            r.text(),
            reg.log()
        );
        r.statuses()
    };
    let statuses = push("tok/first", "1");
    assert_eq!(
        statuses.iter().filter(|s| *s == "Pushed").count(),
        2,
        "{statuses:?}"
    );
    d.docker_ok(&["tag", &first, &format!("{host}/tok/second:1")]);
    let statuses = push("tok/second", "1");
    assert_eq!(
        statuses
            .iter()
            .filter(|s| *s == "Mounted from tok/first")
            .count(),
        2,
        "{statuses:?}"
    );
    let asked = reg.token.as_ref().unwrap().requests.lock().unwrap().clone();
    assert!(
        asked.iter().any(
            |r| r.contains("scope=repository%3Atok%2Fsecond%3Apull%2Cpush")
                && r.contains("scope=repository%3Atok%2Ffirst%3Apull")
        ),
        "{asked:?}"
    );
    d.remove_all_containers();
}

/// Images built here, and images loaded from a `docker save`, push and come back whole.
#[test]
fn built_and_loaded_images_push_and_pull_back() {
    let reg = Registry::start();
    let d = Daemon::start();
    d.import_busybox("busybox:latest");
    let host = reg.host();
    let built = format!("{host}/team/built:1");
    let r = d.request(
        "POST",
        &format!("/v1.41/build?t={built}"),
        &[("Content-Type", "application/x-tar")],
        &tarball(&[(
            "Dockerfile",
            b"FROM busybox\nRUN echo built here > /b\nCMD [\"cat\", \"/b\"]\n" as &[u8],
        )]),
    );
    assert!(r.text().contains("Successfully tagged"), "{}", r.text());
    let out = d.docker_ok(&["push", &built]);
    let (digest, _) = manifest(&reg, "team/built", "1");
    assert!(out.contains(&format!("1: digest: {digest}")), "{out}");
    // Saved, removed and loaded back: the loaded image pushes under another name.
    let saved = tempfile::tempdir().unwrap();
    let file = saved.path().join("built.tar");
    d.docker_ok(&["save", "-o", file.to_str().unwrap(), &built]);
    d.docker_ok(&["rmi", &built]);
    d.docker_ok(&["load", "-i", file.to_str().unwrap()]);
    let loaded = format!("{host}/team/loaded:1");
    d.docker_ok(&["tag", &built, &loaded]);
    let out = d.docker_ok(&["push", &loaded]);
    assert!(out.contains("1: digest: "), "{out}");
    // Both come back from the registry alone and run.
    d.docker_ok(&["rmi", &built, &loaded]);
    for name in [&built, &loaded] {
        d.docker_ok(&["pull", name]);
        assert_eq!(
            d.docker_ok(&["run", "--rm", name]),
            "built here\n",
            "{name}"
        );
    }
    d.remove_all_containers();
}
