//! `/_ping`, `/version`, `/info`, version prefixes, headers and error formats, over raw HTTP.

use berth_tests::{Daemon, VERSIONS};

#[test]
fn ping_answers_under_every_version_with_docker_headers() {
    let d = Daemon::start();
    for v in VERSIONS {
        let r = d.get(&format!("{v}/_ping"));
        assert_eq!(r.status, 200, "{v}");
        assert_eq!(r.text(), "OK");
        assert_eq!(r.header("Api-Version"), Some("1.44"), "{v}");
        assert_eq!(r.header("Builder-Version"), Some("1"), "{v}");
        assert_eq!(r.header("Swarm"), Some("inactive"), "{v}");
        assert_eq!(r.header("Docker-Experimental"), Some("false"), "{v}");
        assert_eq!(r.header("Pragma"), Some("no-cache"), "{v}");
        assert!(r.header("Server").unwrap().starts_with("berth/"), "{v}");
        assert!(r.header("Server").unwrap().ends_with(" (linux)"));
        assert_eq!(r.header("OSType"), Some("linux"));
        let h = d.request("HEAD", &format!("{v}/_ping"), &[], &[]);
        assert_eq!(h.status, 200);
        assert_eq!(h.header("Api-Version"), Some("1.44"));
        assert!(h.body.is_empty());
    }
}

#[test]
fn versions_out_of_range_get_docker_messages() {
    let d = Daemon::start();
    for too_new in ["1.45", "1.99"] {
        let r = d.get(&format!("/v{too_new}/version"));
        assert_eq!(r.status, 400);
        assert_eq!(
            r.text(),
            format!("{{\"message\":\"client version {too_new} is too new. Maximum supported API version is 1.44\"}}\n")
        );
        assert!(r
            .header("Content-Type")
            .unwrap()
            .starts_with("application/json"));
    }
    let r = d.get("/v1.4/version");
    assert_eq!(r.status, 400);
    assert!(
        r.text()
            .starts_with("client version 1.4 is too old. Minimum supported API version is 1.5"),
        "{}",
        r.text()
    );
    let r = d.get("/v1.x/version");
    assert_eq!(r.status, 400);
    // Every version in range is accepted, not only the documented ones.
    for minor in 5..=44 {
        assert_eq!(
            d.get(&format!("/v1.{minor}/version")).status,
            200,
            "1.{minor}"
        );
    }
}

#[test]
fn unknown_routes_and_errors_are_plain_text_below_1_24() {
    let d = Daemon::start();
    for v in VERSIONS.iter().chain(&["/v1.23", "/v1.24", "/v1.44"]) {
        let json = v.is_empty() || *v >= "/v1.24" && v.len() == 6;
        let (page, image, kind) = if json {
            (
                "{\"message\":\"page not found\"}\n",
                "{\"message\":\"No such image: nosuchimage\"}\n",
                "application/json",
            )
        } else {
            (
                "page not found\n",
                "No such image: nosuchimage\n",
                "text/plain",
            )
        };
        let r = d.get(&format!("{v}/nope"));
        assert_eq!(r.status, 404, "{v}");
        assert_eq!(r.text(), page, "{v}");
        let r = d.get(&format!("{v}/images/nosuchimage/json"));
        assert_eq!(r.status, 404);
        assert_eq!(r.text(), image, "{v}");
        assert!(r.header("Content-Type").unwrap().starts_with(kind), "{v}");
        // Wrong method on a known path.
        assert_eq!(
            d.request("PUT", &format!("{v}/images/json"), &[], &[])
                .status,
            404
        );
    }
}

#[test]
fn version_fields_follow_the_api_version() {
    let d = Daemon::start();
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .unwrap()
        .trim()
        .to_string();
    for v in ["/v1.5", "/v1.7"] {
        let j = d.get(&format!("{v}/version")).json();
        assert!(
            j.get("Version").is_some() && j.get("ApiVersion").is_none() && j.get("Os").is_none(),
            "{v}: {j}"
        );
    }
    for v in ["/v1.11", "/v1.15", "/v1.18", ""] {
        let j = d.get(&format!("{v}/version")).json();
        assert_eq!(j["ApiVersion"], "1.44", "{v}");
        assert_eq!(j["Os"], "linux");
        assert_eq!(j["KernelVersion"], kernel.as_str());
        assert!(j["Arch"].as_str().unwrap().len() > 1);
        assert_eq!(j.get("MinAPIVersion").is_some(), v.is_empty(), "{v}");
    }
    // 1.35 added the components; the engine's repeats the daemon's details.
    let j = d.get("/version").json();
    assert_eq!(j["MinAPIVersion"], "1.5");
    assert_eq!(j["Components"][0]["Name"], "Engine");
    assert_eq!(j["Components"][0]["Details"]["ApiVersion"], "1.44");
    assert_eq!(
        j["Components"][0]["Details"]["KernelVersion"],
        kernel.as_str()
    );
    assert!(j["Platform"]["Name"].is_string());
    assert!(d.get("/v1.34/version").json().get("Components").is_none());
}

fn meminfo_total() -> i64 {
    let s = std::fs::read_to_string("/proc/meminfo").unwrap();
    let kb: i64 = s
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .unwrap()
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .unwrap();
    kb * 1024
}

#[test]
fn info_reports_real_figures_per_version() {
    let d = Daemon::start();
    d.import(&berth_tests::tarball(&[("a", b"1")]), "one:latest");
    let j = d.get("/v1.18/info").json();
    assert_eq!(j["Images"], 1);
    assert_eq!(j["Containers"], 0);
    assert_eq!(
        j["NCPU"].as_i64().unwrap(),
        std::thread::available_parallelism().unwrap().get() as i64
    );
    assert_eq!(j["MemTotal"].as_i64().unwrap(), meminfo_total());
    assert_eq!(j["DockerRootDir"], d.data_root().display().to_string());
    assert_eq!(j["Driver"], "overlay2");
    assert!(j["ID"].as_str().unwrap().split(':').count() == 12);
    assert!(j["OperatingSystem"].as_str().unwrap().len() > 1);
    assert!(j["SystemTime"].as_str().unwrap().starts_with("20"));
    assert_eq!(
        j["Name"].as_str().unwrap(),
        std::fs::read_to_string("/proc/sys/kernel/hostname")
            .unwrap()
            .trim()
    );
    // The same ID after a restart.
    let j11 = d.get("/v1.11/info").json();
    assert!(
        j11.get("ID").is_none()
            && j11.get("OperatingSystem").is_none()
            && j11.get("ExecutionDriver").is_some(),
        "{j11}"
    );
    let j15 = d.get("/v1.15/info").json();
    assert!(j15.get("OperatingSystem").is_some() && j15.get("NCPU").is_none());
    let j5 = d.get("/v1.5/info").json();
    assert!(j5.get("ExecutionDriver").is_none() && j5.get("Images").is_some());
}

#[test]
fn daemon_id_survives_restart() {
    let mut d = Daemon::start();
    let id = d.get("/info").json()["ID"].clone();
    d.stop();
    d.spawn();
    assert_eq!(d.get("/info").json()["ID"], id);
}

#[test]
fn cors_headers_when_enabled() {
    let d = Daemon::start_with(&["--api-cors-header", "http://foo.bar"]);
    let r = d.get("/v1.18/_ping");
    assert_eq!(
        r.header("Access-Control-Allow-Origin"),
        Some("http://foo.bar")
    );
    assert!(r
        .header("Access-Control-Allow-Methods")
        .unwrap()
        .contains("DELETE"));
    let pre = d.request(
        "OPTIONS",
        "/v1.18/images/json",
        &[("Origin", "http://foo.bar")],
        &[],
    );
    assert_eq!(pre.status, 200);
    let plain = Daemon::start();
    assert_eq!(
        plain.get("/_ping").header("Access-Control-Allow-Origin"),
        None
    );
}
