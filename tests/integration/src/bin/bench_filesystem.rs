//! Filesystem benchmarks (issue 15), against a release berthd and, with `--with-docker`,
//! Docker Engine on a side socket in the same run: `docker commit` of a container that wrote
//! 100 MB in 1,000 files, `docker cp` of those 100 MB out and back in, `docker diff` of
//! 10,000 changed files, `docker export` of the 100 MB root; with each daemon's resident
//! memory growth while it streams. The copies are also timed as the API alone (`GET` and `PUT
//! .../archive` over raw HTTP): the CLI's own tar writing and reading is a large part of a
//! `docker cp`, the same for both daemons. Medians; prints figures, asserts nothing.
//!
//! usage: bench_filesystem [--with-docker]   (BERTHD_BIN picks the berthd binary)

use std::path::Path;

use berth_tests::bench::{docker, request, timed, RefDocker};
use berth_tests::Daemon;

/// CPU milliseconds the waited-for children of this process have used (`cutime`+`cstime`).
fn children_cpu_ms() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    // Fields 16 and 17 of proc(5); `after` starts at field 3.
    let ticks: f64 = fields[13].parse::<f64>().unwrap() + fields[14].parse::<f64>().unwrap();
    let hz = rustix::param::clock_ticks_per_second() as f64;
    ticks * 1000.0 / hz
}

struct Figures {
    commit: (f64, f64),
    cp_out: (f64, f64),
    cp_in: (f64, f64),
    /// The docker CLI's own CPU time per `docker cp` in: the floor of that figure.
    cp_in_client_cpu: f64,
    api_get: (f64, f64),
    api_put: (f64, f64),
    diff: (f64, f64),
    export: (f64, f64),
}

fn ok(host: &str, config: &Path, args: &[&str]) {
    assert!(docker(host, config, args).success(), "docker {args:?}");
}

fn measure(host: &str, config: &Path, pid: u32, scratch: &Path) -> Figures {
    // 100 MB in 1,000 files of 100 KiB.
    ok(
        host,
        config,
        &[
            "run",
            "--name",
            "fill",
            "busybox",
            "sh",
            "-c",
            "mkdir /data && cd /data && i=0; while [ $i -lt 1000 ]; do \
         head -c 102400 /dev/urandom > f$i; i=$((i+1)); done",
        ],
    );
    // 10,000 new files.
    ok(
        host,
        config,
        &[
            "run",
            "--name",
            "many",
            "busybox",
            "sh",
            "-c",
            "mkdir /d && cd /d && seq 10000 | xargs touch",
        ],
    );
    let commit = timed(pid, 3, |run| {
        ok(
            host,
            config,
            &["commit", "fill", &format!("bench-commit:{run}")],
        );
    });
    for run in 0..3 {
        ok(host, config, &["rmi", &format!("bench-commit:{run}")]);
    }
    let out = |run: usize| scratch.join(format!("out{run}"));
    let cp_out = timed(pid, 3, |run| {
        ok(
            host,
            config,
            &["cp", "fill:/data", out(run).to_str().unwrap()],
        );
    });
    let cpu_before = children_cpu_ms();
    let cp_in = timed(pid, 3, |run| {
        ok(
            host,
            config,
            &["cp", out(0).to_str().unwrap(), &format!("fill:/in{run}")],
        );
    });
    let cp_in_client_cpu = (children_cpu_ms() - cpu_before) / 3.0;
    // The API alone: the same tar out, and in under a new name each time.
    let socket = Path::new(host.trim_start_matches("unix://"));
    let api_get = timed(pid, 5, |_| {
        let (status, body) = request(socket, "GET", "/containers/fill/archive?path=/data", b"");
        assert!(
            status == 200 && body.len() > 100_000_000,
            "GET archive: {status}"
        );
    });
    let tars: Vec<Vec<u8>> = (0..5)
        .map(|run| {
            let out = std::process::Command::new("tar")
                .arg("-C")
                .arg(scratch)
                .args([
                    "-cf",
                    "-",
                    &format!("--transform=s,^out0,api{run},"),
                    "out0",
                ])
                .output()
                .unwrap();
            assert!(out.status.success());
            out.stdout
        })
        .collect();
    let api_put = timed(pid, 5, |run| {
        let (status, body) = request(socket, "PUT", "/containers/fill/archive?path=/", &tars[run]);
        assert_eq!(
            status,
            200,
            "PUT archive: {}",
            String::from_utf8_lossy(&body)
        );
    });
    for run in 0..3 {
        let _ = std::fs::remove_dir_all(out(run));
    }
    let diff = timed(pid, 5, |_| ok(host, config, &["diff", "many"]));
    // To the CLI's standard output (here /dev/null), as `docker export c | gzip` reads it:
    // with `-o` both daemons' figures were the disk's, 0.8 to 4.7 s from run to run.
    let export = timed(pid, 3, |_| ok(host, config, &["export", "fill"]));
    ok(host, config, &["rm", "-f", "fill", "many"]);
    Figures {
        commit,
        cp_out,
        cp_in,
        cp_in_client_cpu,
        api_get,
        api_put,
        diff,
        export,
    }
}

/// A stand-in daemon for `docker cp` that does no work of its own: `/` and `/data` are
/// directories, other paths are missing; a `GET` of `/data` sends `tar` (prebuilt, in
/// memory), a `PUT` is read to its end and dropped. What the CLI's side of a copy costs
/// alone: the floor under both daemons' figures. Serves on its own threads.
fn cp_floor_standin(at: &Path, tar: std::sync::Arc<Vec<u8>>) {
    use base64::Engine as _;
    let stat = base64::engine::general_purpose::STANDARD.encode(
        r#"{"name":"data","size":4096,"mode":2147484141,"mtime":"2026-01-01T00:00:00Z","linkTarget":""}"#,
    );
    berth_tests::bench::standin_daemon(at, move |request| {
        request.drain_body();
        let (method, path) = (request.method().to_string(), request.path().to_string());
        let is_dir = ["path=%2F", "path=/"].iter().any(|p| path.ends_with(p))
            || ["path=%2Fdata", "path=/data"]
                .iter()
                .any(|p| path.contains(p));
        let (status, headers, body): (&str, String, &[u8]) = if path.contains("/_ping") {
            ("200 OK", String::new(), b"OK")
        } else if !path.contains("/archive") {
            ("404 Not Found", String::new(), b"{\"message\":\"no such\"}")
        } else if method == "PUT" {
            ("200 OK", String::new(), b"")
        } else if !is_dir {
            (
                "404 Not Found",
                String::new(),
                b"{\"message\":\"Could not find the file\"}",
            )
        } else if method == "GET" {
            (
                "200 OK",
                format!(
                    "X-Docker-Container-Path-Stat: {stat}\r\nContent-Type: application/x-tar\r\n"
                ),
                &tar,
            )
        } else {
            (
                "200 OK",
                format!("X-Docker-Container-Path-Stat: {stat}\r\n"),
                b"",
            )
        };
        request.respond(status, &headers, body)
    })
}

fn main() {
    let with_docker = std::env::args().any(|a| a == "--with-docker");
    println!(
        "berth filesystem benchmarks (medians; berthd = {})",
        berth_tests::berthd_bin().display()
    );
    let d = Daemon::start_with(&["--bridge", "none"]);
    d.import_busybox("busybox:latest");
    let host = format!("unix://{}", d.socket.display());
    let cfg = d.dir.path().join("docker-config");
    let scratch = d.dir.path().join("scratch");
    std::fs::create_dir_all(&scratch).unwrap();
    let berth = measure(&host, &cfg, d.pid(), &scratch);
    let reference = if with_docker {
        RefDocker::start().map(|r| {
            r.import_busybox();
            let host = format!("unix://{}", r.socket().display());
            let cfg = std::env::temp_dir().join("berth-bench-docker-config");
            let pid = r.pid();
            let scratch = r.dir.path().join("scratch");
            std::fs::create_dir_all(&scratch).unwrap();
            measure(&host, &cfg, pid, &scratch)
        })
    } else {
        None
    };
    println!();
    println!(
        "{:<44} {:>10} {:>10} {:>7} {:>13} {:>13}",
        "measure", "berth", "docker", "ratio", "berth RSS+", "docker RSS+"
    );
    let pick = |f: &Figures, i: usize| {
        [
            f.commit, f.cp_out, f.cp_in, f.api_get, f.api_put, f.diff, f.export,
        ][i]
    };
    let names = [
        "docker commit (100 MB in 1,000 files)",
        "docker cp out (100 MB)",
        "docker cp in (100 MB)",
        "  API alone: GET .../archive (100 MB)",
        "  API alone: PUT .../archive (100 MB)",
        "docker diff (10,000 changes)",
        "docker export (100 MB root)",
    ];
    for (i, name) in names.iter().enumerate() {
        let b = pick(&berth, i);
        let r = reference.as_ref().map(|r| pick(r, i));
        println!(
            "{name:<44} {:>7.1} ms {:>10} {:>7} {:>10.1} MiB {:>13}",
            b.0,
            r.map(|r| format!("{:.1} ms", r.0)).unwrap_or("-".into()),
            r.map(|r| format!("{:.2}x", b.0 / r.0))
                .unwrap_or("-".into()),
            b.1,
            r.map(|r| format!("{:.1} MiB", r.1)).unwrap_or("-".into()),
        );
    }
    println!(
        "the docker CLI's own CPU time per cp in: {:.0} ms with berth{}",
        berth.cp_in_client_cpu,
        reference
            .as_ref()
            .map(|r| format!(", {:.0} ms with Docker", r.cp_in_client_cpu))
            .unwrap_or_default()
    );
    // The CLI alone, against a stand-in that does nothing: the same 100 MB out and in.
    let data = scratch.join("floor-src");
    std::fs::create_dir_all(&data).unwrap();
    for i in 0..1000 {
        std::fs::write(
            data.join(format!("f{i}")),
            berth_tests::registry::noise(i, 102_400),
        )
        .unwrap();
    }
    let tar = std::process::Command::new("tar")
        .arg("-C")
        .arg(&scratch)
        .args(["-cf", "-", "--transform=s,^floor-src,data,", "floor-src"])
        .output()
        .unwrap();
    assert!(tar.status.success());
    let floor_dir = tempfile::tempdir().unwrap();
    let floor_socket = floor_dir.path().join("standin.sock");
    cp_floor_standin(&floor_socket, std::sync::Arc::new(tar.stdout));
    let floor_host = format!("unix://{}", floor_socket.display());
    let floor_out = berth_tests::bench::median_ms(3, || {
        let dest = scratch.join("floor-out");
        let _ = std::fs::remove_dir_all(&dest);
        ok(
            &floor_host,
            &cfg,
            &["cp", "fill:/data", dest.to_str().unwrap()],
        );
    });
    let floor_in = berth_tests::bench::median_ms(3, || {
        ok(
            &floor_host,
            &cfg,
            &["cp", data.to_str().unwrap(), "fill:/in"],
        );
    });
    let of_docker = |floor: f64, i: usize| {
        reference
            .as_ref()
            .map(|r| format!(" ({:.2}x Docker's)", floor / pick(r, i).0))
            .unwrap_or_default()
    };
    println!(
        "the docker CLI alone (a stand-in daemon that does nothing): cp out {floor_out:.1} ms{}, cp in {floor_in:.1} ms{}",
        of_docker(floor_out, 1),
        of_docker(floor_in, 2)
    );
    println!("target: each at most 0.5x Docker Engine's time; RSS flat while streaming");
}
