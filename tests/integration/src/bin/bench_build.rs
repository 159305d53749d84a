//! Build benchmarks (issue 17), against a release berthd and, with `--with-docker`, Docker
//! Engine on a side socket in the same run (both without a bridge): `docker build` (the
//! legacy builder) of a 3-line Dockerfile with `--no-cache`, a fully cached rebuild of a
//! 10-step Dockerfile, and a build whose COPY sends a 100 MB context, with the daemon's peak
//! memory growth while it runs. Medians; prints figures, asserts nothing.
//!
//! usage: bench_build [--with-docker]   (BERTHD_BIN picks the berthd binary)

use std::path::Path;

use berth_tests::bench::{docker, timed, RefDocker};
use berth_tests::registry::noise;
use berth_tests::Daemon;

struct Figures {
    three_lines: (f64, f64),
    cached_ten: (f64, f64),
    big_copy: (f64, f64),
    bigger_copy: (f64, f64),
}

fn ok(host: &str, config: &Path, args: &[&str]) {
    assert!(docker(host, config, args).success(), "docker {args:?}");
}

fn write(dir: &Path, name: &str, content: &[u8]) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join(name), content).unwrap();
}

fn measure(host: &str, config: &Path, pid: u32, work: &Path) -> Figures {
    let three = work.join("three");
    write(
        &three,
        "Dockerfile",
        b"FROM busybox\nRUN true\nCMD [\"sh\"]\n",
    );
    let three = three.to_str().unwrap().to_string();
    let three_lines = timed(pid, 5, |_| {
        ok(
            host,
            config,
            &["build", "-q", "--no-cache", "-t", "bench:three", &three],
        )
    });
    let ten = work.join("ten");
    let mut df = String::from("FROM busybox\n");
    for i in 1..=4 {
        df.push_str(&format!("ENV STEP{i}={i}\nRUN echo {i} > /step{i}\n"));
    }
    df.push_str("CMD [\"sh\"]\n");
    write(&ten, "Dockerfile", df.as_bytes());
    let ten = ten.to_str().unwrap().to_string();
    ok(host, config, &["build", "-q", "-t", "bench:ten", &ten]);
    let cached_ten = timed(pid, 10, |_| {
        ok(host, config, &["build", "-q", "-t", "bench:ten", &ten])
    });
    let big = work.join("big");
    write(
        &big,
        "Dockerfile",
        b"FROM busybox\nCOPY data.bin /data.bin\n",
    );
    write(&big, "data.bin", &noise(11, 100_000_000));
    let big = big.to_str().unwrap().to_string();
    let big_copy = timed(pid, 3, |_| {
        ok(
            host,
            config,
            &["build", "-q", "--no-cache", "-t", "bench:big", &big],
        )
    });
    // Three times the context: the memory the daemon grows by must not triple with it.
    let bigger = work.join("bigger");
    write(
        &bigger,
        "Dockerfile",
        b"FROM busybox\nCOPY data.bin /data.bin\n",
    );
    write(&bigger, "data.bin", &noise(12, 300_000_000));
    let bigger_dir = bigger.to_str().unwrap().to_string();
    let bigger_copy = timed(pid, 1, |_| {
        ok(
            host,
            config,
            &[
                "build",
                "-q",
                "--no-cache",
                "-t",
                "bench:bigger",
                &bigger_dir,
            ],
        )
    });
    let _ = std::fs::remove_dir_all(&bigger);
    for t in ["bench:three", "bench:ten", "bench:big", "bench:bigger"] {
        ok(host, config, &["rmi", t]);
    }
    Figures {
        three_lines,
        cached_ten,
        big_copy,
        bigger_copy,
    }
}

fn main() {
    let with_docker = std::env::args().any(|a| a == "--with-docker");
    println!(
        "berth build benchmarks (medians; berthd = {})",
        berth_tests::berthd_bin().display()
    );
    let work = tempfile::tempdir().unwrap();
    let d = Daemon::start_with(&["--bridge", "none"]);
    d.import_busybox("busybox:latest");
    let host = format!("unix://{}", d.socket.display());
    let cfg = d.dir.path().join("docker-config");
    let berth = measure(&host, &cfg, d.pid(), work.path());
    let reference = if with_docker {
        RefDocker::start().map(|r| {
            r.import_busybox();
            let host = format!("unix://{}", r.socket().display());
            let cfg = r.dir.path().join("cfg");
            measure(&host, &cfg, r.pid(), work.path())
        })
    } else {
        None
    };
    println!();
    println!(
        "{:<52} {:>10} {:>10} {:>7} {:>12} {:>12}",
        "measure", "berth", "docker", "ratio", "berth +RSS", "docker +RSS"
    );
    type Pick = fn(&Figures) -> (f64, f64);
    let rows: [(&str, Pick); 4] = [
        ("docker build --no-cache, 3 lines (FROM, RUN, CMD)", |f| {
            f.three_lines
        }),
        ("docker build, 10 steps all cached", |f| f.cached_ten),
        ("docker build --no-cache, COPY of a 100 MB context", |f| {
            f.big_copy
        }),
        ("docker build --no-cache, COPY of a 300 MB context", |f| {
            f.bigger_copy
        }),
    ];
    for (name, pick) in rows {
        let b = pick(&berth);
        let r = reference.as_ref().map(pick);
        println!(
            "{name:<52} {:>7.1} ms {:>10} {:>7} {:>8.1} MiB {:>12}",
            b.0,
            r.map(|r| format!("{:.1} ms", r.0)).unwrap_or("-".into()),
            r.map(|r| format!("{:.2}x", b.0 / r.0))
                .unwrap_or("-".into()),
            b.1,
            r.map(|r| format!("{:.1} MiB", r.1)).unwrap_or("-".into()),
        );
    }
    println!("+RSS: the daemon's peak growth while building. Targets: 3 lines at most 150 ms; the cached rebuild at most 30 ms; RSS flat while the context is sent (the same for 100 and 300 MB)");
}
