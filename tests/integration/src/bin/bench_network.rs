//! Network benchmarks (issue 6): the start latency a bridged container adds over
//! `--net=none`, and HTTP through a port published on 127.0.0.1 (`ab`, concurrency 1 and 10);
//! with `--with-docker`, Docker Engine's docker-proxy in the same run. Medians; prints
//! figures, asserts nothing.
//!
//! usage: bench_network [--with-docker]   (BERTHD_BIN picks the berthd binary)

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use berth_tests::bench::{create_container, median, ms, request, start_container, RefDocker};
use berth_tests::Daemon;

/// One `busybox true` in `mode`: (start, whole create→start→wait→remove) in ms.
fn start_once(socket: &Path, version: &str, mode: &str) -> (f64, f64) {
    let body =
        format!(r#"{{"Image":"busybox","Cmd":["true"],"HostConfig":{{"NetworkMode":"{mode}"}}}}"#);
    let t = Instant::now();
    let id = create_container(socket, version, body.as_bytes());
    let s = Instant::now();
    start_container(socket, version, &id);
    let start = ms(s.elapsed());
    request(
        socket,
        "POST",
        &format!("/{version}/containers/{id}/wait"),
        b"",
    );
    request(
        socket,
        "DELETE",
        &format!("/{version}/containers/{id}"),
        b"",
    );
    (start, ms(t.elapsed()))
}

/// Medians for `none` and `bridge`, runs interleaved so machine drift hits both alike:
/// [none start, bridge start, none cycle, bridge cycle].
fn start_latency(socket: &Path, version: &str, runs: usize) -> [f64; 4] {
    let mut m: [Vec<f64>; 4] = Default::default();
    for _ in 0..runs {
        let (s, c) = start_once(socket, version, "none");
        m[0].push(s);
        m[2].push(c);
        let (s, c) = start_once(socket, version, "bridge");
        m[1].push(s);
        m[3].push(c);
    }
    m.map(median)
}

/// Starts `busybox httpd` publishing port 80 on 127.0.0.1; returns (id, host port).
fn httpd(socket: &Path, version: &str) -> (String, u16) {
    let body = serde_json::json!({
        "Image": "busybox",
        "Cmd": ["sh", "-c", "mkdir -p /var/www && echo hello > /var/www/index.html && exec httpd -f -p 80 -h /var/www"],
        "ExposedPorts": {"80/tcp": {}},
        "HostConfig": {"PortBindings": {"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": ""}]}},
    });
    let id = create_container(socket, version, body.to_string().as_bytes());
    start_container(socket, version, &id);
    let (_, b) = request(
        socket,
        "GET",
        &format!("/{version}/containers/{id}/json"),
        b"",
    );
    let v: serde_json::Value = serde_json::from_slice(&b).unwrap();
    let port = v["NetworkSettings"]["Ports"]["80/tcp"][0]["HostPort"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    // Wait until it answers.
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    (id, port)
}

/// `ab` requests per second at `concurrency`.
fn ab(port: u16, concurrency: usize) -> f64 {
    let out = Command::new("ab")
        .args(["-q", "-n", "4000", "-c", &concurrency.to_string()])
        .arg(format!("http://127.0.0.1:{port}/"))
        .output()
        .expect("ab (apache2-utils)");
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .find_map(|l| l.strip_prefix("Requests per second:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("ab output: {text}{}", String::from_utf8_lossy(&out.stderr)))
}

fn measure(socket: &Path, version: &str) -> [f64; 6] {
    start_latency(socket, version, 3);
    let [none_start, br_start, none_cycle, br_cycle] = start_latency(socket, version, 30);
    let (id, port) = httpd(socket, version);
    ab(port, 1);
    let (c1, c10) = (ab(port, 1), ab(port, 10));
    request(
        socket,
        "DELETE",
        &format!("/{version}/containers/{id}?force=1"),
        b"",
    );
    [none_start, br_start, none_cycle, br_cycle, c1, c10]
}

fn print(label: &str, m: &[f64; 6]) {
    println!("\n{label}");
    println!("{:<52} {:>9.2} ms", "start, --net=none", m[0]);
    println!("{:<52} {:>9.2} ms", "start, bridge", m[1]);
    println!(
        "{:<52} {:>9.2} ms  (target ≤ 5 for berth)",
        "  added by the bridge",
        m[1] - m[0]
    );
    println!(
        "{:<52} {:>9.2} ms",
        "create→start→wait→remove, --net=none", m[2]
    );
    println!(
        "{:<52} {:>9.2} ms",
        "create→start→wait→remove, bridge", m[3]
    );
    println!(
        "{:<52} {:>9.0} req/s",
        "HTTP via 127.0.0.1 published port, ab -c 1", m[4]
    );
    println!(
        "{:<52} {:>9.0} req/s",
        "HTTP via 127.0.0.1 published port, ab -c 10", m[5]
    );
}

fn main() {
    let with_docker = std::env::args().any(|a| a == "--with-docker");
    println!(
        "berth network benchmarks (medians; berthd = {})",
        berth_tests::berthd_bin().display()
    );
    let berth = {
        let d = Daemon::start();
        d.import_busybox("busybox:latest");
        measure(&d.socket, "v1.18")
    };
    print("berth (kernel NAT, no userland proxy)", &berth);
    let (h1, h10) = host_httpd_ceiling();
    println!(
        "{:<52} {:>9.0} req/s",
        "  the same httpd on the host, no container, ab -c 1", h1
    );
    println!(
        "{:<52} {:>9.0} req/s",
        "  the same httpd on the host, no container, ab -c 10", h10
    );
    if !with_docker {
        return;
    }
    // Docker's bridge changes the host's packet rules (and the FORWARD policy): they are put
    // back exactly as they were, even if a measurement panics.
    let _restore = RestoreHostNetwork::save();
    let Some(r) =
        RefDocker::start_with("--bip=10.250.77.1/24 --ip6tables=false --userland-proxy=true")
    else {
        println!("\nreference dockerd: not available (install Debian's docker.io)");
        return;
    };
    let sock = r.socket();
    r.import_busybox();
    let docker = measure(&sock, "v1.41");
    drop(r);
    print(
        "Docker Engine 20.10 (docker-proxy), same machine, same run",
        &docker,
    );
    println!(
        "\nratios berth / dockerd: ab -c 1 {:.2}x, ab -c 10 {:.2}x; bridge start added {:.2} ms vs {:.2} ms",
        berth[4] / docker[4],
        berth[5] / docker[5],
        berth[1] - berth[0],
        docker[1] - docker[0]
    );
}

/// The ceiling for the published-port figures: the same busybox httpd serving the same
/// file straight on the host (no container, no NAT), under the same `ab`.
fn host_httpd_ceiling() -> (f64, f64) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("index.html"), "hello\n").unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut httpd = Command::new("busybox")
        .args(["httpd", "-f", "-p", &format!("127.0.0.1:{port}"), "-h"])
        .arg(dir.path())
        .spawn()
        .expect("busybox httpd");
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    ab(port, 1);
    let got = (ab(port, 1), ab(port, 10));
    let _ = httpd.kill();
    let _ = httpd.wait();
    got
}

/// The host's packet rules as they were, restored on drop, and Docker's bridge removed.
struct RestoreHostNetwork(Vec<u8>);

impl RestoreHostNetwork {
    fn save() -> Self {
        RestoreHostNetwork(Command::new("iptables-save").output().unwrap().stdout)
    }
}

impl Drop for RestoreHostNetwork {
    fn drop(&mut self) {
        use std::io::Write;
        if let Ok(mut restore) = Command::new("iptables-restore")
            .stdin(std::process::Stdio::piped())
            .spawn()
        {
            if let Some(mut stdin) = restore.stdin.take() {
                let _ = stdin.write_all(&self.0);
            }
            let _ = restore.wait();
        }
        let _ = Command::new("ip").args(["link", "del", "docker0"]).status();
    }
}
