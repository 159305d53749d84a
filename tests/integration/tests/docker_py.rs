//! docker-py 7 (the Docker SDK for Python) against berthd at its own API version (1.44):
//! `py/docker_py_scenarios.py` drives it as its users do and checks every answer, pulls
//! included, from a registry on loopback that asks for Basic auth.

use std::path::Path;
use std::process::Command;

use berth_tests::registry::Registry;
use berth_tests::{busybox_tar, tarball, Daemon};

#[test]
fn docker_py_scenarios() {
    let d = Daemon::start();
    d.import_busybox("busybox:latest");
    let registry = Registry::with_basic_auth("berth", "s3cret");
    let base = std::fs::read(busybox_tar()).unwrap();
    let extra = tarball(&[("pulled.txt", b"pulled\n")]);
    registry.push_image("py/busybox", "1", &[base, extra]);
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("py/docker_py_scenarios.py");
    let out = Command::new("python3")
        .arg(&script)
        .env("DOCKER_HOST", format!("unix://{}", d.socket.display()))
        .env("REGISTRY", registry.host())
        .output()
        .expect("run python3 (scripts/install-test-deps.sh installs docker-py)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.trim_end().ends_with("ok"),
        "docker-py scenarios failed:\n{stdout}\n{}\n{}",
        String::from_utf8_lossy(&out.stderr),
        d.log()
    );
    d.remove_all_containers();
}
