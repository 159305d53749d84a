//! The real docker CLI (28, at API 1.44, the newest berthd serves) against berthd.

use std::path::PathBuf;
use std::process::Command;

use berth_tests::{busybox_tar, Daemon};

#[test]
fn version_and_info() {
    let d = Daemon::start();
    let out = d.docker_ok(&[
        "version",
        "--format",
        "{{.Server.Version}} {{.Server.APIVersion}} {{.Client.APIVersion}}",
    ]);
    assert_eq!(
        out.trim(),
        format!("{} 1.44 1.44", env!("CARGO_PKG_VERSION"))
    );
    let info = d.docker_ok(&[
        "info",
        "--format",
        "{{.Images}} {{.NCPU}} {{.Driver}} {{.DockerRootDir}}",
    ]);
    let ncpu = std::thread::available_parallelism().unwrap().get();
    assert_eq!(
        info.trim(),
        format!("0 {ncpu} overlay2 {}", d.data_root().display())
    );
    // The 1.44 shape: swarm inactive, live restore (containers outlive berthd), the
    // built-in seccomp profile, the runtime berth starts containers with.
    let modern = d.docker_ok(&[
        "info",
        "--format",
        "{{.Swarm.LocalNodeState}} {{.LiveRestoreEnabled}} {{.SecurityOptions}} {{.DefaultRuntime}} {{index .Plugins.Volume 0}}",
    ]);
    assert_eq!(
        modern.trim(),
        "inactive true [name=seccomp,profile=builtin] berth local"
    );
}

#[test]
fn import_images_inspect_history_tag_rmi() {
    let d = Daemon::start();
    let tar = busybox_tar();
    let id = d.docker_ok(&["import", tar.to_str().unwrap(), "busybox:latest"]);
    // From API 1.22 image IDs carry their algorithm.
    let id = id.trim().strip_prefix("sha256:").expect("a sha256: ID");
    assert_eq!(id.len(), 64, "{id}");
    let images = d.docker_ok(&["images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}"]);
    assert_eq!(images.trim(), format!("busybox:latest {}", &id[..12]));
    let inspected = d.docker_ok(&[
        "inspect",
        "--format",
        "{{.Id}} {{.Os}} {{.Architecture}}",
        "busybox",
    ]);
    assert!(
        inspected.starts_with(&format!("sha256:{id}")),
        "{inspected}"
    );
    assert!(inspected.contains(" linux "));
    let history = d.docker_ok(&[
        "history",
        "--no-trunc",
        "--format",
        "{{.ID}} {{.Size}}",
        "busybox",
    ]);
    assert!(
        history.trim().starts_with(&format!("sha256:{id}")),
        "{history}"
    );
    d.docker_ok(&["tag", "busybox", "mine/busybox:v1"]);
    let images = d.docker_ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"]);
    let mut names: Vec<&str> = images.lines().collect();
    names.sort();
    assert_eq!(names, ["busybox:latest", "mine/busybox:v1"]);
    let out = d.docker_ok(&["rmi", "mine/busybox:v1"]);
    assert_eq!(out.trim(), "Untagged: mine/busybox:v1");
    let out = d.docker_ok(&["rmi", "busybox"]);
    assert!(
        out.contains("Untagged: busybox:latest") && out.contains(&format!("Deleted: sha256:{id}")),
        "{out}"
    );
    assert_eq!(d.docker_ok(&["images", "-q"]).trim(), "");
    let missing = d.docker(&["rmi", "busybox"]);
    assert!(!missing.status.success());
    assert!(
        String::from_utf8_lossy(&missing.stderr).contains("No such image: busybox"),
        "{}",
        String::from_utf8_lossy(&missing.stderr)
    );
}

#[test]
fn save_and_load() {
    let d = Daemon::start();
    let id = d.import_busybox("busybox:latest");
    let out = d.dir.path().join("saved.tar");
    d.docker_ok(&["save", "-o", out.to_str().unwrap(), "busybox"]);
    d.docker_ok(&["rmi", "busybox"]);
    d.docker_ok(&["load", "-i", out.to_str().unwrap()]);
    let images = d.docker_ok(&[
        "images",
        "--no-trunc",
        "--format",
        "{{.Repository}}:{{.Tag}} {{.ID}}",
    ]);
    assert_eq!(images.trim(), format!("busybox:latest sha256:{id}"));
    // Piped through stdin as well.
    d.docker_ok(&["rmi", "busybox"]);
    let status = d
        .docker_cmd(&["load"])
        .stdin(std::fs::File::open(&out).unwrap())
        .output()
        .unwrap();
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    assert_eq!(
        d.docker_ok(&["images", "-q", "--no-trunc"]).trim(),
        format!("sha256:{id}")
    );
}

/// A tarball written by Docker Engine 20.10's `docker save` (Debian's docker.io), made once
/// with a reference dockerd on a side socket, without bridge or iptables changes.
fn docker_2010_save() -> PathBuf {
    let dir = berth_tests::target_dir().join("test-fixtures");
    let out = dir.join("docker-20.10-save.tar");
    if out.exists() {
        return out;
    }
    let reference = berth_tests::bench::RefDocker::start()
        .expect("start the reference dockerd (scripts/start-dockerd.sh)");
    let tmp = dir.join(format!("docker-20.10-save.tar.{}", std::process::id()));
    reference.docker(&["import", busybox_tar().to_str().unwrap(), "refbox:20.10"]);
    reference.docker(&["save", "-o", tmp.to_str().unwrap(), "refbox:20.10"]);
    // Stopped, and its mounts released, before the fixture is published.
    drop(reference);
    std::fs::rename(&tmp, &out).unwrap();
    out
}

#[test]
fn loads_a_tarball_saved_by_docker_engine_20_10() {
    if Command::new("dockerd").arg("--version").output().is_err() {
        panic!("dockerd (Debian docker.io) is needed to make the Docker 20.10 fixture; the test command installs it");
    }
    let fixture = docker_2010_save();
    let d = Daemon::start();
    d.docker_ok(&["load", "-i", fixture.to_str().unwrap()]);
    let images = d.docker_ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"]);
    assert_eq!(images.trim(), "refbox:20.10");
    let layers = d.docker_ok(&["inspect", "--format", "{{.Size}}", "refbox:20.10"]);
    assert!(layers.trim().parse::<u64>().unwrap() > 1_000_000);
}
