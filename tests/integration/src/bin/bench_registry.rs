//! Registry benchmarks (issue 16), against a release berthd and, with `--with-docker`,
//! Docker Engine on a side socket in the same run, both pulling from one registry on
//! loopback (Debian's docker-registry): `docker pull` of an image of 5 layers totalling
//! 50 MB, cold (nothing present) and warm (its layers present, from another image made of
//! them), with the daemon's resident memory while it pulls; then `docker push` of the pulled
//! image, cold (to a registry that has none of it) and warm (to one that has it all).
//! Medians; prints figures, asserts nothing.
//!
//! usage: bench_registry [--with-docker]   (BERTHD_BIN picks the berthd binary)

use std::path::Path;

use berth_tests::bench::{docker, raw_request_with, timed_peak, RefDocker};
use berth_tests::registry::{noise, Registry};
use berth_tests::{busybox_tar, tarball, Daemon};

struct Figures {
    cold: (f64, f64),
    warm: (f64, f64),
    push_cold: (f64, f64),
    push_warm: (f64, f64),
    /// The warm pull and push over raw HTTP, without the CLI.
    api_pull_warm: (f64, f64),
    api_push_warm: (f64, f64),
}

/// Runs of each warm measure: they take tens of milliseconds, and this machine's noise is
/// of that order; 25 give a steadier median than five or fifteen.
const WARM_RUNS: usize = 25;

fn ok(host: &str, config: &Path, args: &[&str]) {
    assert!(docker(host, config, args).success(), "docker {args:?}");
}

/// `image` and `sibling` are made of the same layers.
fn measure(
    host: &str,
    socket: &Path,
    config: &Path,
    pid: u32,
    image: &str,
    sibling: &str,
) -> Figures {
    let cold = timed_peak(
        pid,
        3,
        |_| ok(host, config, &["pull", "-q", image]),
        |_| ok(host, config, &["rmi", image]),
    );
    ok(host, config, &["pull", "-q", sibling]);
    let warm = timed_peak(
        pid,
        WARM_RUNS,
        |_| ok(host, config, &["pull", "-q", image]),
        |_| ok(host, config, &["rmi", image]),
    );
    // The same warm pull over raw HTTP, without the CLI.
    let api = |path: String| {
        move |_: usize| {
            let out = raw_request_with(socket, "POST", &path, &[("X-Registry-Auth", "e30=")], b"");
            let text = String::from_utf8_lossy(&out);
            assert!(
                text.starts_with("HTTP/1.1 200") && !text.contains("\"error\""),
                "{text}"
            );
        }
    };
    let (repo, tag) = image.rsplit_once(':').unwrap();
    let api_pull_warm = timed_peak(
        pid,
        WARM_RUNS,
        api(format!("/v1.41/images/create?fromImage={repo}&tag={tag}")),
        |_| ok(host, config, &["rmi", image]),
    );
    ok(host, config, &["rmi", sibling]);
    // Pushes of the pulled image: each cold one to a registry of its own, empty; the warm
    // ones to the first, which then has it all.
    ok(host, config, &["pull", "-q", image]);
    const COLD_PUSHES: usize = 3;
    let targets: Vec<(Registry, String)> = (0..COLD_PUSHES)
        .map(|_| {
            let target = Registry::start();
            let name = format!("{}/bench/pushed:1", target.host());
            ok(host, config, &["tag", image, &name]);
            (target, name)
        })
        .collect();
    let push_cold = timed_peak(
        pid,
        COLD_PUSHES,
        |run| ok(host, config, &["push", "-q", &targets[run].1]),
        |_| {},
    );
    let push_warm = timed_peak(
        pid,
        WARM_RUNS,
        |_| ok(host, config, &["push", "-q", &targets[0].1]),
        |_| {},
    );
    let (repo, tag) = targets[0].1.rsplit_once(':').unwrap();
    let api_push_warm = timed_peak(
        pid,
        WARM_RUNS,
        api(format!("/v1.41/images/{repo}/push?tag={tag}")),
        |_| {},
    );
    for (_, name) in &targets {
        ok(host, config, &["rmi", name]);
    }
    ok(host, config, &["rmi", image]);
    Figures {
        cold,
        warm,
        push_cold,
        push_warm,
        api_pull_warm,
        api_push_warm,
    }
}

/// A stand-in daemon that answers `docker pull` and `docker push` at once (ping, then one
/// status line) and does nothing: what the CLI costs on its own.
fn cli_floor_standin(at: &Path) {
    berth_tests::bench::standin_daemon(at, |request| {
        let body: &[u8] = if request.path().contains("/_ping") {
            b"OK"
        } else if request.path().contains("/push") {
            b"{\"progressDetail\":{},\"aux\":{\"Tag\":\"1\",\"Digest\":\"sha256:0000000000000000000000000000000000000000000000000000000000000000\",\"Size\":1}}\r\n"
        } else {
            b"{\"status\":\"Status: Image is up to date\"}\r\n"
        };
        request.respond("200 OK", "Content-Type: application/json\r\n", body)
    });
}

fn main() {
    let with_docker = std::env::args().any(|a| a == "--with-docker");
    println!(
        "berth registry benchmarks (medians; berthd = {})",
        berth_tests::berthd_bin().display()
    );
    let reg = Registry::start();
    let mut layers = vec![std::fs::read(busybox_tar()).unwrap()];
    for i in 1..5u64 {
        layers.push(tarball(&[(&format!("data{i}.bin"), &noise(i, 12_000_000))]));
    }
    let total: usize = layers.iter().map(Vec::len).sum();
    reg.push_image("bench/fifty", "1", &layers);
    reg.push_image("bench/fifty", "sibling", &layers);
    let image = format!("{}/bench/fifty:1", reg.host());
    let sibling = format!("{}/bench/fifty:sibling", reg.host());
    println!("image: {image}, 5 layers, {:.1} MB", total as f64 / 1e6);

    let d = Daemon::start_with(&["--bridge", "none"]);
    let host = format!("unix://{}", d.socket.display());
    let cfg = d.dir.path().join("docker-config");
    let berth = measure(&host, &d.socket, &cfg, d.pid(), &image, &sibling);
    let reference = if with_docker {
        RefDocker::start().map(|r| {
            let host = format!("unix://{}", r.socket().display());
            let cfg = std::env::temp_dir().join("berth-bench-docker-config");
            measure(&host, &r.socket(), &cfg, r.pid(), &image, &sibling)
        })
    } else {
        None
    };
    let floor_dir = tempfile::tempdir().unwrap();
    let floor_socket = floor_dir.path().join("standin.sock");
    cli_floor_standin(&floor_socket);
    let floor_host = format!("unix://{}", floor_socket.display());
    let floor = |args: &[&str]| {
        berth_tests::bench::median_ms(10, || {
            ok(&floor_host, &cfg, args);
        })
    };
    let (floor_pull, floor_push) = (
        floor(&["pull", "-q", &image]),
        floor(&["push", "-q", &image]),
    );
    println!();
    println!(
        "{:<40} {:>10} {:>10} {:>7} {:>13} {:>13}",
        "measure", "berth", "docker", "ratio", "berth RSS", "docker RSS"
    );
    type Pick = fn(&Figures) -> (f64, f64);
    let rows: [(&str, Pick); 6] = [
        ("docker pull, cold (nothing present)", |f| f.cold),
        ("docker pull, warm (layers present)", |f| f.warm),
        ("docker push, cold (registry empty)", |f| f.push_cold),
        ("docker push, warm (registry has it)", |f| f.push_warm),
        ("  API alone: pull, warm", |f| f.api_pull_warm),
        ("  API alone: push, warm", |f| f.api_push_warm),
    ];
    for (name, pick) in rows {
        let b = pick(&berth);
        let r = reference.as_ref().map(pick);
        println!(
            "{name:<40} {:>7.1} ms {:>10} {:>7} {:>9.1} MiB {:>13}",
            b.0,
            r.map(|r| format!("{:.1} ms", r.0)).unwrap_or("-".into()),
            r.map(|r| format!("{:.2}x", b.0 / r.0))
                .unwrap_or("-".into()),
            b.1,
            r.map(|r| format!("{:.1} MiB", r.1)).unwrap_or("-".into()),
        );
    }
    println!(
        "the docker CLI's own floor (a stand-in that answers at once): pull -q {floor_pull:.1} ms, push -q {floor_push:.1} ms"
    );
    // What the CLI alone weighs against Docker Engine's warm times: the least ratio any
    // daemon could show there.
    if let Some(r) = &reference {
        println!(
            "the floor against Docker Engine's warm times: pull {:.2}x, push {:.2}x",
            floor_pull / r.warm.0,
            floor_push / r.push_warm.0
        );
    }
    println!("RSS: the daemon's peak while pulling or pushing. Targets: each at most 0.5x Docker Engine's time; berthd's peak RSS at most 30 MiB");
}
