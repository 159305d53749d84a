//! Pulls from a registry that lies, breaks off, fails or is slow, and from clients and
//! daemons that go away mid-pull: Docker's messages, and a store left whole.

use std::time::Duration;

use berth_tests::audit::eventually;
use berth_tests::fake_registry::{noise_layer, read_some, FakeRegistry, Fault};
use berth_tests::{busybox_tar, Daemon};

/// busybox's files, then 2 MiB of noise: the layer the faults are about.
fn layers() -> Vec<Vec<u8>> {
    vec![
        std::fs::read(busybox_tar()).unwrap(),
        noise_layer("noise.bin", 2 << 20),
    ]
}

/// The names in the image store's directories, to see that a failed pull left nothing.
fn store_contents(d: &Daemon) -> Vec<String> {
    let root = d.data_root().join("image");
    let mut out = Vec::new();
    for dir in ["layers", "blobs/sha256", "images", "ingest"] {
        for e in std::fs::read_dir(root.join(dir))
            .into_iter()
            .flatten()
            .flatten()
        {
            out.push(format!("{dir}/{}", e.file_name().to_string_lossy()));
        }
    }
    out.sort();
    out
}

fn pull_path(reg: &FakeRegistry) -> String {
    format!(
        "/v1.44/images/create?fromImage=127.0.0.1:{}/fake/app&tag=1",
        reg.port
    )
}

/// Starts a pull of `reg`'s image and waits until its faulty (slow) layer is being fetched;
/// the pull's connection, still open.
fn pull_until_the_slow_layer_streams(
    d: &Daemon,
    reg: &FakeRegistry,
) -> std::os::unix::net::UnixStream {
    let mut s = berth_tests::hijack(&d.socket, &pull_path(reg), b"");
    let _ = read_some(&mut s, 4096);
    eventually(
        "the slow layer is being fetched",
        Duration::from_secs(30),
        || {
            reg.requests
                .lock()
                .unwrap()
                .iter()
                .any(|r| r.contains(&reg.layer))
        },
    );
    s
}

#[test]
fn a_layer_that_is_not_its_digest_fails_the_pull_and_leaves_nothing() {
    let reg = FakeRegistry::start(&layers(), Fault::Lying);
    let d = Daemon::start();
    d.import_busybox("busybox:latest");
    let before = store_contents(&d);
    let r = d.post(&pull_path(&reg));
    assert_eq!(r.status, 200, "{}", r.text());
    let lines = r.json_lines();
    let last = lines.last().unwrap();
    let bad = lines
        .iter()
        .find_map(|l| (l["status"] == "Pulling fs layer").then(|| l["id"].clone()))
        .unwrap();
    let message = last["error"].as_str().unwrap_or_default();
    assert!(
        message.starts_with("filesystem layer verification failed for digest sha256:")
            && message.contains(bad.as_str().unwrap()),
        "{lines:?}"
    );
    assert_eq!(store_contents(&d), before, "the failed pull left something");
    assert_eq!(
        d.get(&format!("/v1.44/images/{}/json", reg.image())).status,
        404
    );
}

#[test]
fn a_download_cut_short_resumes_where_it_stopped() {
    let reg = FakeRegistry::start(&layers(), Fault::CutOnce);
    let d = Daemon::start();
    let r = d.post(&pull_path(&reg));
    assert_eq!(r.status, 200, "{}", r.text());
    let statuses = r.statuses();
    assert!(
        statuses.iter().any(|s| s == "Retrying in 5 seconds"),
        "{statuses:?}"
    );
    assert_eq!(
        statuses.last(),
        Some(&format!(
            "Status: Downloaded newer image for {}",
            reg.image()
        ))
    );
    // The second request asked for the rest only.
    let requests = reg.requests.lock().unwrap().clone();
    assert!(
        requests
            .iter()
            .any(|r| r.contains("/blobs/") && r.contains(" from ")),
        "{requests:?}"
    );
    let inspect = d.get(&format!("/v1.44/images/{}/json", reg.image())).json();
    assert_eq!(inspect["Id"], reg.config);
}

#[test]
fn a_registry_error_before_the_stream_is_the_answers_status() {
    let reg = FakeRegistry::start(&layers(), Fault::ManifestError);
    let d = Daemon::start();
    let r = d.post(&pull_path(&reg));
    assert_eq!(r.status, 500, "{}", r.text());
    assert_eq!(
        r.message(),
        "received unexpected HTTP status: 500 Internal Server Error"
    );
}

#[test]
fn a_client_that_leaves_mid_pull_leaves_a_whole_image() {
    let reg = FakeRegistry::start(&layers(), Fault::Slow);
    let d = Daemon::start();
    let mut s = berth_tests::hijack(&d.socket, &pull_path(&reg), b"");
    let first = read_some(&mut s, 4096);
    assert!(first.contains("200 OK"), "{first}");
    drop(s);
    // The pull goes on to its end, as Docker's does, and the image is whole.
    eventually(
        "the pull finished after its client left",
        Duration::from_secs(60),
        || d.get(&format!("/v1.44/images/{}/json", reg.image())).status == 200,
    );
    assert_eq!(
        d.docker_ok(&[
            "run",
            "--rm",
            &reg.image(),
            "sh",
            "-c",
            "wc -c < /noise.bin"
        ])
        .trim(),
        (2 << 20).to_string()
    );
}

#[test]
fn a_daemon_killed_mid_pull_restarts_whole_and_the_pull_completes() {
    let reg = FakeRegistry::start(&layers(), Fault::Slow);
    let mut d = Daemon::start();
    let before = store_contents(&d);
    // Killed while the slow layer streams in.
    let s = pull_until_the_slow_layer_streams(&d, &reg);
    // …and once the first layer is made (the pull has noted it).
    let pulls = d.data_root().join("image/pulls");
    eventually("the first layer is made", Duration::from_secs(30), || {
        std::fs::read_dir(&pulls)
            .into_iter()
            .flatten()
            .flatten()
            .any(|e| e.file_name().to_string_lossy().ends_with(".json"))
    });
    assert!(
        !reg.requests.lock().unwrap().is_empty()
            && d.get(&format!("/v1.44/images/{}/json", reg.image())).status == 404,
        "killed before the pull ended"
    );
    d.kill();
    drop(s);
    d.spawn();
    // No half-made image or download; the layer it had finished is kept for the next pull.
    assert_eq!(
        d.get(&format!("/v1.44/images/{}/json", reg.image())).status,
        404
    );
    let left: Vec<String> = store_contents(&d)
        .into_iter()
        .filter(|p| !before.contains(p))
        .collect();
    assert!(
        left.iter()
            .all(|p| p.starts_with("layers/") || p.starts_with("blobs/")),
        "{left:?}"
    );
    assert!(left.iter().any(|p| p.starts_with("layers/")), "{left:?}");
    // The same pull completes, reusing it.
    let r = d.post(&pull_path(&reg));
    assert_eq!(r.status, 200, "{}", r.text());
    let statuses = r.statuses();
    assert_eq!(
        statuses.iter().filter(|s| *s == "Already exists").count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses
            .iter()
            .any(|s| s.starts_with("Status: Downloaded newer image")),
        "{statuses:?}"
    );
    // Once an image owns it, the layer is no longer kept aside: removing the image removes
    // every layer, and nothing is left of the pulls.
    d.docker_ok(&["rmi", &reg.image()]);
    assert_eq!(store_contents(&d), before);
    let notes: Vec<_> = std::fs::read_dir(&pulls)
        .into_iter()
        .flatten()
        .flatten()
        .collect();
    assert!(notes.is_empty(), "{notes:?}");
}

#[test]
fn a_registry_that_goes_silent_is_given_up_on_and_the_download_resumes() {
    let reg = FakeRegistry::start(&layers(), Fault::StallOnce);
    let d = Daemon::start_with(&["--registry-stall-timeout", "2"]);
    let r = d.post(&pull_path(&reg));
    assert_eq!(r.status, 200, "{}", r.text());
    let statuses = r.statuses();
    assert!(
        statuses.iter().any(|s| s == "Retrying in 5 seconds"),
        "{statuses:?}"
    );
    assert!(
        statuses
            .iter()
            .any(|s| s.starts_with("Status: Downloaded newer image")),
        "{statuses:?}"
    );
    let inspect = d.get(&format!("/v1.44/images/{}/json", reg.image())).json();
    assert_eq!(inspect["Id"], reg.config);
}

#[test]
fn a_registry_that_never_answers_fails_the_pull_in_time() {
    let reg = FakeRegistry::start(&layers(), Fault::HangManifest);
    let d = Daemon::start_with(&["--registry-stall-timeout", "2"]);
    let r = d.post(&pull_path(&reg));
    assert_eq!(r.status, 500, "{}", r.text());
    assert!(
        r.message().contains("no answer within 2s"),
        "{}",
        r.message()
    );
}

#[test]
fn pulls_at_once_share_each_download() {
    let reg = FakeRegistry::start(&layers(), Fault::Slow);
    let d = Daemon::start();
    let path = pull_path(&reg);
    let pulls: Vec<_> = (0..3)
        .map(|_| {
            let (socket, path) = (d.socket.clone(), path.clone());
            std::thread::spawn(move || berth_tests::bench::request(&socket, "POST", &path, b""))
        })
        .collect();
    for p in pulls {
        let (status, body) = p.join().unwrap();
        let text = String::from_utf8_lossy(&body).to_string();
        assert_eq!(status, 200, "{text}");
        // Each pull saw the layer downloaded, or found it made by another.
        let short = &reg.layer["sha256:".len().."sha256:".len() + 12];
        assert!(
            text.contains(&format!("\"id\":\"{short}\"")) && text.contains("Status: "),
            "{text}"
        );
    }
    let slow_fetches = reg
        .requests
        .lock()
        .unwrap()
        .iter()
        .filter(|r| r.ends_with(&reg.layer))
        .count();
    assert_eq!(
        slow_fetches, 1,
        "the slow layer was fetched once for three pulls"
    );
    let inspect = d.get(&format!("/v1.44/images/{}/json", reg.image())).json();
    assert_eq!(inspect["Id"], reg.config);
}

/// A layer whose tar names a path above its root (`../`): refused as Docker refuses a
/// breakout, nothing written outside the layer, and the store as it was.
#[test]
fn a_layer_with_paths_above_its_root_is_refused_and_writes_nothing_outside() {
    use berth_tests::registry::Registry;
    let reg = Registry::start();
    let hostile = berth_tests::RawTar::new()
        .file("fine.txt", b"fine")
        .file("../../escape.txt", b"out")
        .finish();
    reg.push_image(
        "evil/app",
        "1",
        &[std::fs::read(busybox_tar()).unwrap(), hostile],
    );
    let d = Daemon::start();
    d.import_busybox("busybox:latest");
    let before = store_contents(&d);
    let r = d.post(&format!(
        "/v1.44/images/create?fromImage={}/evil/app&tag=1",
        reg.host()
    ));
    assert_eq!(r.status, 200, "{}", r.text());
    let lines = r.json_lines();
    let error = lines.last().unwrap()["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("escapes") && error.contains("escape.txt"),
        "{lines:?}"
    );
    let image = d.data_root().join("image");
    for dir in [image.clone(), image.join("layers"), d.data_root()] {
        assert!(!dir.join("escape.txt").exists(), "{}", dir.display());
    }
    // The busybox layer was there before and stays; the layer refused left nothing.
    assert_eq!(store_contents(&d), before);
    assert_eq!(
        d.get(&format!("/v1.44/images/{}/evil/app:1/json", reg.host()))
            .status,
        404
    );
}

/// A registry that refuses a layer's bytes: the push ends with its error in the stream, and
/// the image, its names and the daemon are as they were (a real registry then takes it).
#[test]
fn a_push_the_registry_refuses_ends_with_its_error_and_changes_nothing() {
    use berth_tests::registry::Registry;
    let bad = FakeRegistry::start(&layers(), Fault::RefusesUploads);
    let d = Daemon::start();
    d.import_busybox("busybox:latest");
    let name = format!("127.0.0.1:{}/fake/app:2", bad.port);
    d.docker_ok(&["tag", "busybox:latest", &name]);
    let before = d.get("/v1.44/images/busybox:latest/json").json();
    let r = d.request(
        "POST",
        &format!("/v1.44/images/127.0.0.1:{}/fake/app/push?tag=2", bad.port),
        &[("X-Registry-Auth", "e30=")],
        b"",
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let lines = r.json_lines();
    let error = lines.last().unwrap()["error"].as_str().unwrap_or_default();
    assert!(error.contains("blob upload invalid"), "{lines:?}");
    assert!(!lines.iter().any(|l| l.get("aux").is_some()), "{lines:?}");
    let after = d.get("/v1.44/images/busybox:latest/json").json();
    assert_eq!(before["RepoDigests"], after["RepoDigests"]);
    // The same image goes to a registry that takes it.
    let good = Registry::start();
    let name = format!("{}/fine/app:1", good.host());
    d.docker_ok(&["tag", "busybox:latest", &name]);
    let out = d.docker_ok(&["push", &name]);
    assert!(out.contains("1: digest: sha256:"), "{out}");
}

/// A client that leaves mid-push: the push goes on to its end, as Docker's does.
#[test]
fn a_client_that_leaves_mid_push_does_not_stop_it() {
    use berth_tests::registry::Registry;
    let reg = Registry::start();
    let d = Daemon::start();
    let noise = berth_tests::registry::noise(3, 8 << 20);
    d.import(&berth_tests::tarball(&[("noise.bin", &noise)]), "noisy:1");
    let name = format!("{}/left/app:1", reg.host());
    d.docker_ok(&["tag", "noisy:1", &name]);
    use std::io::Write as _;
    let mut s = std::os::unix::net::UnixStream::connect(&d.socket).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    write!(
        s,
        "POST /v1.44/images/{}/left/app/push?tag=1 HTTP/1.1\r\nHost: x\r\nX-Registry-Auth: e30=\r\nContent-Length: 0\r\n\r\n",
        reg.host()
    )
    .unwrap();
    let head = read_some(&mut s, 64);
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    drop(s);
    eventually("the pushed manifest", Duration::from_secs(30), || {
        reg.request("HEAD", "/v2/left/app/manifests/1", &[], b"")
            .status
            == 200
    });
    assert_eq!(d.get("/_ping").status, 200);
}

/// What a pull failed with: the answer's message when it failed before the stream, else the
/// stream's error line.
fn pull_error(d: &Daemon, path: &str) -> String {
    let r = d.post(path);
    if r.status != 200 {
        return r.message();
    }
    let lines = r.json_lines();
    lines
        .last()
        .and_then(|l| l["error"].as_str().map(str::to_string))
        .unwrap_or_else(|| panic!("the pull did not fail: {lines:?}"))
}

#[test]
fn a_manifest_config_or_layer_the_registry_garbles_fails_the_pull_with_dockers_words() {
    let d = Daemon::start_with(&["--max-download-attempts", "2"]);
    d.import_busybox("busybox:latest");
    let before = store_contents(&d);
    // Pulled by its digest, the manifest must be that digest's bytes.
    let reg = FakeRegistry::start(&layers(), Fault::ManifestNotItsDigest);
    let by_digest = format!(
        "/v1.44/images/create?fromImage=127.0.0.1:{}/fake/app@{}",
        reg.port, reg.digest
    );
    let message = pull_error(&d, &by_digest);
    assert!(
        message.contains(&format!(
            "manifest verification failed for digest {}",
            reg.digest
        )),
        "{message}"
    );
    // The config is checked against its digest too.
    let reg = FakeRegistry::start(&layers(), Fault::ConfigNotItsDigest);
    let message = pull_error(&d, &pull_path(&reg));
    assert_eq!(
        message,
        format!("image config verification failed for digest {}", reg.config)
    );
    // A layer the registry fails to serve.
    let reg = FakeRegistry::start(&layers(), Fault::LayerError);
    let message = pull_error(&d, &pull_path(&reg));
    assert!(message.contains("500"), "{message}");
    // A layer that is cut short every time: resumed, then given up on after the attempts
    // `--max-download-attempts` allows, with Docker's retry message between.
    let reg = FakeRegistry::start(&layers(), Fault::CutAlways);
    let r = d.post(&pull_path(&reg));
    let statuses = r.statuses();
    assert!(
        statuses.iter().any(|s| s == "Retrying in 5 seconds"),
        "{statuses:?}"
    );
    assert!(
        !statuses.iter().any(|s| s == "Retrying in 10 seconds"),
        "{statuses:?}"
    );
    let last = r.json_lines().last().cloned().unwrap();
    assert!(last.get("error").is_some(), "{last}");
    let tried: Vec<String> = reg
        .requests
        .lock()
        .unwrap()
        .iter()
        .filter(|p| p.contains(&reg.layer))
        .cloned()
        .collect();
    assert_eq!(tried.len(), 2, "{tried:?}");
    assert!(
        tried[1].contains(" from "),
        "the second asked for the rest: {tried:?}"
    );
    // None of them left anything behind.
    assert_eq!(store_contents(&d), before);
}

/// A daemon asked to stop (SIGTERM) while a pull streams in stops at once, and the pull,
/// asked again, completes.
#[test]
fn a_daemon_stopped_mid_pull_stops_and_the_pull_completes_after() {
    let reg = FakeRegistry::start(&layers(), Fault::Slow);
    let mut d = Daemon::start();
    let s = pull_until_the_slow_layer_streams(&d, &reg);
    let stopped = d.stop();
    assert!(stopped.success(), "{stopped:?}\n{}", d.log());
    drop(s);
    d.spawn();
    let r = d.post(&pull_path(&reg));
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(
        r.statuses()
            .iter()
            .any(|s| s.starts_with("Status: Downloaded newer image")),
        "{}",
        r.text()
    );
    assert!(store_contents(&d).iter().all(|p| !p.starts_with("ingest/")));
}
