//! Container benchmarks (issue 3), against a release berthd and, with `--with-docker`, Docker
//! Engine on a side socket in the same run. Medians; prints figures, asserts nothing.
//!
//! usage: bench_containers [--with-docker]   (BERTHD_BIN picks the berthd binary)

use std::path::Path;
use std::time::{Duration, Instant};

use berth_tests::bench::{docker, median, median_ms, memory_of, ms, request, RefDocker};
use berth_tests::Daemon;

/// create → start → wait → remove of `busybox true`, from this one process.
fn api_cycle(socket: &Path, runs: usize) -> f64 {
    let body = br#"{"Image":"busybox","Cmd":["true"],"HostConfig":{"NetworkMode":"none"}}"#;
    median(
        (0..runs)
            .map(|_| {
                let t = Instant::now();
                let (st, b) = request(socket, "POST", "/v1.18/containers/create", body);
                assert_eq!(st, 201, "{}", String::from_utf8_lossy(&b));
                let v: serde_json::Value = serde_json::from_slice(&b).unwrap();
                let id = v["Id"].as_str().unwrap();
                assert_eq!(
                    request(
                        socket,
                        "POST",
                        &format!("/v1.18/containers/{id}/start"),
                        b""
                    )
                    .0,
                    204
                );
                assert_eq!(
                    request(socket, "POST", &format!("/v1.18/containers/{id}/wait"), b"").0,
                    200
                );
                assert_eq!(
                    request(socket, "DELETE", &format!("/v1.18/containers/{id}"), b"").0,
                    204
                );
                ms(t.elapsed())
            })
            .collect(),
    )
}

fn cli_run(host: &str, config: &Path, runs: usize) -> f64 {
    let times = (0..runs)
        .map(|_| {
            let t = Instant::now();
            let st = docker(
                host,
                config,
                &["run", "--rm", "--network", "none", "busybox", "true"],
            );
            assert!(st.success());
            ms(t.elapsed())
        })
        .collect();
    median(times)
}

fn list_ms(socket: &Path) -> f64 {
    median(
        (0..200)
            .map(|_| {
                let t = Instant::now();
                assert_eq!(request(socket, "GET", "/v1.18/containers/json", b"").0, 200);
                ms(t.elapsed())
            })
            .collect(),
    )
}

fn start_sleepers(socket: &Path, n: usize) -> Vec<String> {
    let body = br#"{"Image":"busybox","Cmd":["sleep","1000"],"HostConfig":{"NetworkMode":"none"}}"#;
    (0..n)
        .map(|_| {
            let (st, b) = request(socket, "POST", "/v1.18/containers/create", body);
            assert_eq!(st, 201);
            let v: serde_json::Value = serde_json::from_slice(&b).unwrap();
            let id = v["Id"].as_str().unwrap().to_string();
            assert_eq!(
                request(
                    socket,
                    "POST",
                    &format!("/v1.18/containers/{id}/start"),
                    b""
                )
                .0,
                204
            );
            id
        })
        .collect()
}

fn remove_all(socket: &Path, ids: &[String]) {
    for id in ids {
        request(
            socket,
            "DELETE",
            &format!("/v1.18/containers/{id}?force=1"),
            b"",
        );
    }
}

fn main() {
    let with_docker = std::env::args().any(|a| a == "--with-docker");
    println!(
        "berth container benchmarks (medians; berthd = {})",
        berth_tests::berthd_bin().display()
    );
    let d = Daemon::start();
    d.import_busybox("busybox:latest");
    let host = format!("unix://{}", d.socket.display());
    let cfg = d.dir.path().join("docker-config");
    api_cycle(&d.socket, 3);
    let api = api_cycle(&d.socket, 30);
    let cli = cli_run(&host, &cfg, 20);
    let ids = start_sleepers(&d.socket, 50);
    std::thread::sleep(Duration::from_secs(1));
    let (rss, pss, procs) = memory_of(&["berthd", "berth-monitor"]);
    let list = list_ms(&d.socket);
    remove_all(&d.socket, &ids);
    // A container writing 100 MB to stdout as fast as it can, all of it logged.
    let body = br#"{"Image":"busybox","Cmd":["sh","-c","head -c 100000000 /dev/zero | tr '\\0' a | fold -w 1000"],"HostConfig":{"NetworkMode":"none"}}"#;
    let (st, b) = request(&d.socket, "POST", "/v1.18/containers/create", body);
    assert_eq!(st, 201, "{}", String::from_utf8_lossy(&b));
    let v: serde_json::Value = serde_json::from_slice(&b).unwrap();
    let loud = v["Id"].as_str().unwrap().to_string();
    let t = Instant::now();
    request(
        &d.socket,
        "POST",
        &format!("/v1.18/containers/{loud}/start"),
        b"",
    );
    request(
        &d.socket,
        "POST",
        &format!("/v1.18/containers/{loud}/wait"),
        b"",
    );
    let log_secs = t.elapsed().as_secs_f64();
    let daemon_rss = std::fs::read_to_string(format!("/proc/{}/status", d.pid()))
        .unwrap_or_default()
        .lines()
        .find_map(|l| {
            l.strip_prefix("VmHWM:").map(|v| {
                v.trim()
                    .trim_end_matches("kB")
                    .trim()
                    .parse::<f64>()
                    .unwrap_or(0.0)
                    / 1024.0
            })
        })
        .unwrap_or(0.0);
    remove_all(&d.socket, &[loud]);
    // docker exec into a running container.
    d.docker_ok(&[
        "run",
        "-d",
        "--name",
        "target",
        "--network",
        "none",
        "busybox",
        "sleep",
        "1000",
    ]);
    let exec = median_ms(20, || {
        d.docker_ok(&["exec", "target", "true"]);
    });
    // Attach throughput: a container writing 200 MB to stdout, read through docker attach.
    let t = Instant::now();
    let out = d.docker(&[
        "run",
        "--rm",
        "--network",
        "none",
        "busybox",
        "sh",
        "-c",
        "head -c 200000000 /dev/zero | tr '\\0' a | fold -w 1000",
    ]);
    let attach_mbs = out.stdout.len() as f64 / 1e6 / t.elapsed().as_secs_f64();
    d.docker_ok(&["rm", "-f", "target"]);

    println!();
    println!("{:<58} {:>10} {:>10}", "measure", "berth", "target");
    println!(
        "{:<58} {:>7.2} ms {:>7} ms",
        "API create+start+wait+remove `busybox true`", api, 25
    );
    println!(
        "{:<58} {:>7.2} ms {:>7} ms",
        "docker run --rm busybox true (docker CLI)", cli, 60
    );
    println!(
        "{:<58} {:>7.1} MB",
        format!("50 sleeping: RSS of berthd + monitors ({procs} procs)"),
        rss
    );
    println!(
        "{:<58} {:>7.1} MB",
        "50 sleeping: PSS of berthd + monitors", pss
    );
    println!(
        "{:<58} {:>7.2} MB {:>7.1} MB",
        "  PSS per container",
        pss / 50.0,
        0.5
    );
    println!(
        "{:<58} {:>7.2} ms {:>7} ms",
        "GET /containers/json with 50 running", list, 2
    );
    println!(
        "{:<58} {:>7.0} MB/s",
        "100 MB of container output logged (json-file)",
        100.0 / log_secs
    );
    println!(
        "{:<58} {:>7.2} ms {:>7} ms",
        "docker exec CID true", exec, 20
    );
    println!(
        "{:<58} {:>7.0} MB/s",
        "attach throughput (docker run, 200 MB of stdout)", attach_mbs
    );
    println!(
        "{:<58} {:>7.1} MB",
        "  berthd peak RSS over the whole run", daemon_rss
    );

    if with_docker {
        let Some(r) = RefDocker::start() else {
            println!("\nreference dockerd: not available (install Debian's docker.io)");
            return;
        };
        let rsock = r.socket();
        let rhost = format!("unix://{}", rsock.display());
        let rcfg = r.dir.path().join("cfg");
        r.import_busybox();
        api_cycle(&rsock, 2);
        let dapi = api_cycle(&rsock, 20);
        let dcli = cli_run(&rhost, &rcfg, 20);
        let dids = start_sleepers(&rsock, 50);
        std::thread::sleep(Duration::from_secs(2));
        let (drss, dpss, dprocs) = memory_of(&["dockerd", "containerd", "containerd-shim-runc-v2"]);
        let dlist = list_ms(&rsock);
        remove_all(&rsock, &dids);
        println!("\nagainst Docker Engine (Debian docker.io 20.10, same machine, same run; --network none for both):");
        println!("{:<58} {:>10} {:>10}", "", "berth", "dockerd");
        println!(
            "{:<58} {:>7.2} ms {:>7.2} ms  {:.1}x",
            "API create+start+wait+remove",
            api,
            dapi,
            dapi / api
        );
        println!(
            "{:<58} {:>7.2} ms {:>7.2} ms  {:.1}x",
            "docker run --rm busybox true",
            cli,
            dcli,
            dcli / cli
        );
        println!(
            "{:<58} {:>7.1} MB {:>7.1} MB  ({dprocs} docker procs)",
            "50 sleeping: RSS", rss, drss
        );
        println!(
            "{:<58} {:>7.1} MB {:>7.1} MB  {:.1}x",
            "50 sleeping: PSS",
            pss,
            dpss,
            dpss / pss
        );
        println!(
            "{:<58} {:>7.2} ms {:>7.2} ms  {:.1}x",
            "GET /containers/json with 50 running",
            list,
            dlist,
            dlist / list
        );
    }
}
