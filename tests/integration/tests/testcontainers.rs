//! testcontainers-python 4 on berthd, reaper included. Ryuk's image cannot be pulled here, so
//! the test builds an equivalent (`fixtures/ryuk`, static, in a busybox image) with
//! `docker build` on berthd and points testcontainers at it; the reaper talks to the engine
//! through the socket mounted into it, as Ryuk does.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use berth_tests::Daemon;

/// The reaper's image, built from `fixtures/ryuk/main.rs`.
fn build_reaper(d: &Daemon) -> &'static str {
    let ctx = tempfile::tempdir().unwrap();
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/ryuk/main.rs");
    let out = Command::new("rustc")
        .args([
            "-O",
            "-C",
            "target-feature=+crt-static",
            "--edition",
            "2021",
            "-o",
        ])
        .arg(ctx.path().join("ryuk"))
        .arg(&source)
        .output()
        .expect("rustc");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::write(
        ctx.path().join("Dockerfile"),
        "FROM busybox\nCOPY ryuk /ryuk\nENTRYPOINT [\"/ryuk\"]\n",
    )
    .unwrap();
    let dir = ctx.path().to_str().unwrap();
    d.docker_ok(&["build", "-q", "-t", "berth-test/ryuk:1", dir]);
    "berth-test/ryuk:1"
}

fn labelled(d: &Daemon, what: &[&str], session: &str) -> String {
    let mut args = what.to_vec();
    let filter = format!("label=org.testcontainers.session-id={session}");
    args.extend(["--filter", &filter]);
    d.docker_ok(&args)
}

#[test]
fn a_session_runs_talks_and_is_reaped() {
    let d = Daemon::start();
    d.import_busybox("busybox:latest");
    let reaper = build_reaper(&d);
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("py/testcontainers_scenario.py");
    let out = Command::new("python3")
        .arg(&script)
        .env("DOCKER_HOST", format!("unix://{}", d.socket.display()))
        .env("RYUK_CONTAINER_IMAGE", reaper)
        .env("RYUK_RECONNECTION_TIMEOUT", "1s")
        // This machine has /.dockerenv: testcontainers would look for the engine at the
        // default gateway. Published ports answer on the host's loopback.
        .env("TC_HOST", "127.0.0.1")
        .output()
        .expect("run python3 (scripts/install-test-deps.sh installs testcontainers)");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success() && stdout.trim_end().ends_with("ok"),
        "testcontainers scenario failed:\n{stdout}\n{}\n{}",
        String::from_utf8_lossy(&out.stderr),
        d.log()
    );
    let session = stdout.lines().next().unwrap().trim().to_string();
    // The reaper takes what the session left, then goes itself (it was started AutoRemove).
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let containers = labelled(&d, &["ps", "-aq"], &session);
        let networks = labelled(&d, &["network", "ls", "-q"], &session);
        let volumes = labelled(&d, &["volume", "ls", "-q"], &session);
        let reapers = d.docker_ok(&["ps", "-aq", "--filter", &format!("ancestor={reaper}")]);
        if containers.is_empty() && networks.is_empty() && volumes.is_empty() && reapers.is_empty()
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not reaped: containers {containers:?} networks {networks:?} volumes {volumes:?} reapers {reapers:?}\n{}",
            d.log()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    d.remove_all_containers();
}
