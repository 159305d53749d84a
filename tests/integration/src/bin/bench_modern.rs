//! Modern-API benchmarks (issue 14), against a release berthd and, with `--with-docker`,
//! Docker Engine on a side socket in the same run. Medians; prints figures, asserts nothing.
//!
//! usage: bench_modern [--with-docker]   (BERTHD_BIN picks the berthd binary)

use std::path::Path;
use std::time::{Duration, Instant};

use berth_tests::bench::{docker, median, median_ms, ms, request, RefDocker};
use berth_tests::Daemon;

/// create → start → `wait?condition=next-exit` → remove of `busybox true` at `version` (the
/// newest the engine serves: 1.44 for berth, 1.41 for Docker Engine 20.10), the way today's
/// clients wait (the wait is asked before the start).
fn api_cycle(socket: &Path, version: &str, runs: usize) -> f64 {
    let body = br#"{"Image":"busybox","Cmd":["true"],"HostConfig":{"NetworkMode":"none"}}"#;
    median(
        (0..runs)
            .map(|_| {
                let t = Instant::now();
                let id = berth_tests::bench::create_container(socket, version, body);
                let waiter = {
                    let socket = socket.to_path_buf();
                    let id = id.clone();
                    let version = version.to_string();
                    std::thread::spawn(move || {
                        request(
                            &socket,
                            "POST",
                            &format!("/{version}/containers/{id}/wait?condition=next-exit"),
                            b"",
                        )
                    })
                };
                berth_tests::bench::start_container(socket, version, &id);
                assert_eq!(waiter.join().unwrap().0, 200);
                assert_eq!(
                    request(
                        socket,
                        "DELETE",
                        &format!("/{version}/containers/{id}"),
                        b""
                    )
                    .0,
                    204
                );
                ms(t.elapsed())
            })
            .collect(),
    )
}

fn cli_ms(host: &str, config: &Path, runs: usize, args: &[&str]) -> f64 {
    median_ms(runs, || {
        assert!(docker(host, config, args).success(), "docker {args:?}");
    })
}

/// Starts `n` sleeping containers through the CLI with `extra` options.
fn start_many(host: &str, config: &Path, n: usize, extra: &[&str]) {
    for _ in 0..n {
        let mut args = vec!["run", "-d", "--network", "none"];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["busybox", "sleep", "100000"]);
        assert!(docker(host, config, &args).success());
    }
}

fn remove_all(host: &str, config: &Path) {
    let out = std::process::Command::new(berth_tests::docker_cli())
        .args(["ps", "-aq"])
        .env("DOCKER_HOST", host)
        .env("DOCKER_CONFIG", config)
        .output()
        .unwrap();
    let ids: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .map(str::to_string)
        .collect();
    if !ids.is_empty() {
        let mut args = vec!["rm", "-f"];
        args.extend(ids.iter().map(String::as_str));
        docker(host, config, &args);
    }
}

/// CPU seconds (user + system) of every process whose name starts with one of `names`: their
/// own, and with that of the children they reaped (Docker's probes run as short-lived `runc
/// exec` children of the shims; berth's probe commands are children of the monitors' exec
/// helpers).
fn cpu_seconds(names: &[&str]) -> (f64, f64) {
    let tick = 100.0; // USER_HZ on Linux
    let (mut own, mut total) = (0u64, 0u64);
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(stat) = std::fs::read_to_string(e.path().join("stat")) else {
            continue;
        };
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let name = &stat[open + 1..close];
        if !names.iter().any(|n| name.starts_with(n)) {
            continue;
        }
        let fields: Vec<&str> = stat[close + 2..].split(' ').collect();
        // utime, stime, cutime, cstime: fields 14–17 of the line (11–14 after the name).
        let ticks: Vec<u64> = fields[11..15]
            .iter()
            .map(|f| f.parse::<u64>().unwrap_or(0))
            .collect();
        own += ticks[0] + ticks[1];
        total += ticks.iter().sum::<u64>();
    }
    (own as f64 / tick, total as f64 / tick)
}

/// Percent of one core the engine's processes spend while 50 containers are probed every
/// second for `window`: their own, and with their reaped children.
fn health_cost(host: &str, config: &Path, names: &[&str], window: Duration) -> (f64, f64) {
    start_many(
        host,
        config,
        50,
        &["--health-cmd", "true", "--health-interval", "1s"],
    );
    // Let the starts settle, then measure only the steady probing.
    std::thread::sleep(Duration::from_secs(5));
    let before = cpu_seconds(names);
    let t = Instant::now();
    std::thread::sleep(window);
    let after = cpu_seconds(names);
    let secs = t.elapsed().as_secs_f64();
    remove_all(host, config);
    (
        (after.0 - before.0) / secs * 100.0,
        (after.1 - before.1) / secs * 100.0,
    )
}

struct Figures {
    api: f64,
    run: f64,
    ps: f64,
    version: f64,
    health: (f64, f64),
}

fn measure(host: &str, config: &Path, api: (&Path, &str), names: &[&str]) -> Figures {
    let (socket, version) = api;
    api_cycle(socket, version, 3);
    let api = api_cycle(socket, version, 30);
    let run_args = ["run", "--rm", "--network", "none", "busybox", "true"];
    cli_ms(host, config, 3, &run_args);
    let run = cli_ms(host, config, 20, &run_args);
    start_many(host, config, 50, &[]);
    let version = cli_ms(host, config, 20, &["version"]);
    let ps = cli_ms(host, config, 20, &["ps"]);
    remove_all(host, config);
    let health = health_cost(host, config, names, Duration::from_secs(30));
    Figures {
        api,
        run,
        ps,
        version,
        health,
    }
}

fn main() {
    let with_docker = std::env::args().any(|a| a == "--with-docker");
    println!(
        "berth modern-API benchmarks (medians; berthd = {})",
        berth_tests::berthd_bin().display()
    );
    let d = Daemon::start();
    d.import_busybox("busybox:latest");
    let host = format!("unix://{}", d.socket.display());
    let cfg = d.dir.path().join("docker-config");
    let berth = measure(
        &host,
        &cfg,
        (&d.socket, "v1.44"),
        &["berthd", "berth-monitor", "berth-exec"],
    );
    println!(
        "berth: api {:.2} ms, run {:.2} ms, version {:.2} ms, ps {:.2} ms, healthchecks {:.2} % ({:.2} % with children)",
        berth.api, berth.run, berth.version, berth.ps, berth.health.0, berth.health.1
    );
    let reference = if with_docker {
        RefDocker::start().map(|r| {
            r.import_busybox();
            let host = format!("unix://{}", r.socket().display());
            let cfg = std::env::temp_dir().join("berth-bench-docker-config");
            measure(
                &host,
                &cfg,
                (&r.socket(), "v1.41"),
                &["dockerd", "containerd", "runc"],
            )
        })
    } else {
        None
    };
    let dash = |v: Option<f64>, unit: &str| match v {
        Some(v) if v.is_finite() => format!("{v:>7.2} {unit}"),
        _ => format!("{:>7} {unit}", "-"),
    };
    println!();
    println!(
        "{:<62} {:>10} {:>10} {:>10}",
        "measure", "berth", "docker", "target"
    );
    let rows = [
        (
            "API create+start+wait(next-exit)+remove (berth 1.44, docker 1.41)",
            berth.api,
            reference.as_ref().map(|r| r.api),
            "25 ms",
            "ms",
        ),
        (
            "docker run --rm busybox true (CLI at 1.44)",
            berth.run,
            reference.as_ref().map(|r| r.run),
            "50 ms",
            "ms",
        ),
        (
            "docker version (the CLI's floor)",
            berth.version,
            reference.as_ref().map(|r| r.version),
            "",
            "ms",
        ),
        (
            "docker ps, 50 running",
            berth.ps,
            reference.as_ref().map(|r| r.ps),
            "2x floor",
            "ms",
        ),
        (
            "healthchecks: 50 probed every 1 s, % of a core (own)",
            berth.health.0,
            reference.as_ref().map(|r| r.health.0),
            "2 %",
            "% ",
        ),
        (
            "healthchecks: the same with reaped children",
            berth.health.1,
            reference.as_ref().map(|r| r.health.1),
            "",
            "% ",
        ),
    ];
    for (what, b, r, target, unit) in rows {
        println!(
            "{what:<62} {} {} {target:>10}",
            dash(Some(b), unit),
            dash(r, unit)
        );
    }
    println!(
        "{:<62} {:>9.2}x",
        "docker ps / docker version (berth)",
        berth.ps / berth.version
    );
}
