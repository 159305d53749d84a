//! Benchmarks of the foundation (issue 2), run against a release berthd and, when available,
//! Docker Engine on a side socket in the same run. Prints figures; asserts nothing.
//!
//! usage: bench_foundation [--with-docker]   (BERTHD_BIN picks the berthd binary)

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use berth_tests::bench::{median, memory_of, ms, request, rss_kib, RefDocker};
use berth_tests::{busybox_tar, tarball, Daemon};

/// The busybox tarball with one extra file, so every import is new content (no layer reuse).
fn unique_variant(tar: &[u8], i: usize) -> Vec<u8> {
    let mut out = tar.to_vec();
    // Drop the end-of-archive blocks and append one entry and a new end.
    while out.len() >= 512 && out[out.len() - 512..].iter().all(|b| *b == 0) {
        out.truncate(out.len() - 512);
    }
    let extra = tarball(&[(&format!("etc/variant-{i}"), format!("{i}").as_bytes())]);
    out.extend_from_slice(&extra);
    out
}

fn time_imports(socket: &Path, tar: &[u8], runs: usize, prefix: &str) -> f64 {
    time_import_bodies(socket, (0..runs).map(|_| tar.to_vec()).collect(), prefix)
}

fn time_import_bodies(socket: &Path, bodies: Vec<Vec<u8>>, prefix: &str) -> f64 {
    let times = bodies
        .iter()
        .enumerate()
        .map(|(i, tar)| {
            let t = Instant::now();
            let status = request(
                socket,
                "POST",
                &format!("/v1.18/images/create?fromSrc=-&repo={prefix}{i}&tag=latest"),
                tar,
            )
            .0;
            assert_eq!(status, 200);
            ms(t.elapsed())
        })
        .collect();
    median(times)
}

fn main() {
    let with_docker = std::env::args().any(|a| a == "--with-docker");
    let tar = std::fs::read(busybox_tar()).unwrap();
    println!(
        "berth foundation benchmarks (medians; berthd = {})",
        berth_tests::berthd_bin().display()
    );

    let mut d = Daemon::start();
    let new_ms = time_import_bodies(
        &d.socket,
        (0..20).map(|i| unique_variant(&tar, i)).collect(),
        "new",
    );
    let import_ms = time_imports(&d.socket, &tar, 20, "bb");

    // 200 images in all.
    for i in 0..160 {
        let t = tarball(&[("file", format!("image {i}").as_bytes())]);
        assert_eq!(
            request(
                &d.socket,
                "POST",
                &format!("/v1.18/images/create?fromSrc=-&repo=small{i}"),
                &t
            )
            .0,
            200
        );
    }
    let count = d.get("/v1.18/images/json").json().as_array().unwrap().len();
    assert_eq!(count, 200);
    let list_ms = median(
        (0..200)
            .map(|_| {
                let t = Instant::now();
                assert_eq!(request(&d.socket, "GET", "/v1.18/images/json", b"").0, 200);
                ms(t.elapsed())
            })
            .collect(),
    );

    // Start to first answered ping, with 200 images in the store.
    d.stop();
    let mut starts = Vec::new();
    let mut idle_rss = Vec::new();
    for _ in 0..20 {
        let t = Instant::now();
        let mut child = d
            .command()
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        loop {
            if let Ok(mut s) = UnixStream::connect(&d.socket) {
                if s.write_all(b"GET /_ping HTTP/1.1\r\nHost: b\r\nConnection: close\r\n\r\n")
                    .is_ok()
                {
                    let mut out = Vec::new();
                    if s.read_to_end(&mut out).is_ok() && out.starts_with(b"HTTP/1.1 200") {
                        break;
                    }
                }
            }
            std::thread::sleep(Duration::from_micros(200));
        }
        starts.push(ms(t.elapsed()));
        std::thread::sleep(Duration::from_millis(300));
        idle_rss.push(rss_kib(child.id()) as f64 / 1024.0);
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status();
        child.wait().unwrap();
    }
    let start_ms = median(starts);
    let rss_mib = median(idle_rss);

    println!();
    println!(
        "{:<48} {:>12} {:>12} {:>8}",
        "measure", "berth", "target", "ok"
    );
    let row = |name: &str, v: f64, unit: &str, target: f64| {
        println!(
            "{:<48} {:>9.2} {:<2} {:>9.0} {:<2} {:>6}",
            name,
            v,
            unit,
            target,
            unit,
            if v <= target { "yes" } else { "NO" }
        );
    };
    row(
        "import busybox tarball (2.1 MB), new layer",
        new_ms,
        "ms",
        40.0,
    );
    row(
        "import busybox tarball, layer already stored",
        import_ms,
        "ms",
        40.0,
    );
    row("GET /images/json with 200 images", list_ms, "ms", 2.0);
    row(
        "daemon start to first /_ping, 200 images",
        start_ms,
        "ms",
        50.0,
    );
    row("idle daemon RSS (200 images)", rss_mib, "MB", 15.0);

    if with_docker {
        match RefDocker::start() {
            None => println!("\nreference dockerd: not available (install Debian's docker.io)"),
            Some(r) => {
                let docker_new = time_import_bodies(
                    &r.socket(),
                    (100..110).map(|i| unique_variant(&tar, i)).collect(),
                    "new",
                );
                let docker_import = time_imports(&r.socket(), &tar, 10, "bb");
                std::thread::sleep(Duration::from_secs(2));
                let docker_rss = memory_of(&["dockerd", "containerd"]).0;
                println!("\nagainst Docker Engine (Debian docker.io, same machine, same run):");
                println!("{:<48} {:>9} {:>12}", "", "berth", "dockerd");
                println!(
                    "{:<48} {:>9.2} ms {:>9.2} ms  berth is {:.1}x faster",
                    "import busybox tarball, new layer",
                    new_ms,
                    docker_new,
                    docker_new / new_ms
                );
                println!(
                    "{:<48} {:>9.2} ms {:>9.2} ms  berth is {:.1}x faster",
                    "import busybox tarball, layer already stored",
                    import_ms,
                    docker_import,
                    docker_import / import_ms
                );
                println!(
                    "{:<48} {:>9.2} MB {:>9.2} MB  berth uses {:.1}x less",
                    "idle RSS (dockerd+containerd)",
                    rss_mib,
                    docker_rss,
                    docker_rss / rss_mib
                );
            }
        }
    }
}
