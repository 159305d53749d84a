//! User-defined network benchmarks (issue 18), berth and (with `--with-docker`) Docker Engine
//! in the same run: the start latency a user-defined network adds over `--net=none`; a DNS
//! lookup of a peer's name from inside a container (UDP to 127.0.0.11 from the container's
//! namespace, median and p99); `network create` + `rm`; the resolver's memory with 50
//! containers on one network. Prints figures, asserts nothing.
//!
//! usage: bench_networks [--with-docker]   (BERTHD_BIN picks the berthd binary)

use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use berth_tests::bench::{
    create_container, median, memory_of, ms, request, start_container, RefDocker,
};
use berth_tests::Daemon;
use hickory_proto::op::{Message, MessageType, OpCode, Query};
use hickory_proto::rr::{Name, RecordType};

const V: &str = "v1.41";

fn run(socket: &Path, body: &serde_json::Value) -> String {
    let id = create_container(socket, V, body.to_string().as_bytes());
    start_container(socket, V, &id);
    id
}

fn remove(socket: &Path, id: &str) {
    request(
        socket,
        "DELETE",
        &format!("/{V}/containers/{id}?force=1"),
        b"",
    );
}

/// One `busybox true` in `mode`: the start's milliseconds.
fn start_once(socket: &Path, mode: &str) -> f64 {
    let body = serde_json::json!({"Image": "busybox", "Cmd": ["true"], "HostConfig": {"NetworkMode": mode}});
    let id = create_container(socket, V, body.to_string().as_bytes());
    let t = Instant::now();
    start_container(socket, V, &id);
    let start = ms(t.elapsed());
    request(socket, "POST", &format!("/{V}/containers/{id}/wait"), b"");
    request(socket, "DELETE", &format!("/{V}/containers/{id}"), b"");
    start
}

/// Medians of (none, user network) starts, interleaved.
fn start_latency(socket: &Path, network: &str, runs: usize) -> (f64, f64) {
    let (mut none, mut user) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        none.push(start_once(socket, "none"));
        user.push(start_once(socket, network));
    }
    (median(none), median(user))
}

fn create_network(socket: &Path, name: &str) -> String {
    let (st, b) = request(
        socket,
        "POST",
        &format!("/{V}/networks/create"),
        serde_json::json!({"Name": name}).to_string().as_bytes(),
    );
    assert_eq!(st, 201, "{}", String::from_utf8_lossy(&b));
    let v: serde_json::Value = serde_json::from_slice(&b).unwrap();
    v["Id"].as_str().unwrap().to_string()
}

/// Median milliseconds of `network create` + `network rm`.
fn create_remove(socket: &Path, runs: usize) -> f64 {
    let times = (0..runs)
        .map(|i| {
            let t = Instant::now();
            let id = create_network(socket, &format!("bench-cr-{i}"));
            let (st, _) = request(socket, "DELETE", &format!("/{V}/networks/{id}"), b"");
            assert_eq!(st, 204);
            ms(t.elapsed())
        })
        .collect();
    median(times)
}

fn sandbox_key(socket: &Path, id: &str) -> PathBuf {
    let (_, b) = request(socket, "GET", &format!("/{V}/containers/{id}/json"), b"");
    let v: serde_json::Value = serde_json::from_slice(&b).unwrap();
    PathBuf::from(v["NetworkSettings"]["SandboxKey"].as_str().unwrap())
}

/// Lookups of `name` at 127.0.0.11 from inside the namespace at `netns`: (median, p99) ms.
fn lookups(netns: &Path, name: &str, runs: usize) -> (f64, f64) {
    let ns = std::fs::File::open(netns).unwrap();
    let name = Name::from_ascii(format!("{name}.")).unwrap();
    std::thread::spawn(move || {
        nix_setns(&ns);
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        socket.connect("127.0.0.11:53").unwrap();
        socket
            .set_read_timeout(Some(Duration::from_secs(2)))
            .unwrap();
        let mut times = Vec::new();
        let mut buf = [0u8; 1500];
        for i in 0..runs + 50 {
            let mut q = Message::new();
            q.set_id(i as u16)
                .set_message_type(MessageType::Query)
                .set_op_code(OpCode::Query)
                .set_recursion_desired(true)
                .add_query(Query::query(name.clone(), RecordType::A));
            let bytes = q.to_vec().unwrap();
            let t = Instant::now();
            socket.send(&bytes).unwrap();
            let n = socket.recv(&mut buf).expect("an answer");
            let reply = Message::from_vec(&buf[..n]).unwrap();
            assert_eq!(reply.answers().len(), 1, "{reply:?}");
            if i >= 50 {
                times.push(ms(t.elapsed()));
            }
        }
        times.sort_by(|a, b| a.partial_cmp(b).unwrap());
        (times[times.len() / 2], times[times.len() * 99 / 100])
    })
    .join()
    .unwrap()
}

/// Enters a network namespace (this thread only), with `nsenter`'s system call.
fn nix_setns(ns: &std::fs::File) {
    use std::os::fd::AsFd;
    rustix::thread::move_into_link_name_space(
        ns.as_fd(),
        Some(rustix::thread::LinkNameSpaceType::Network),
    )
    .expect("setns");
}

struct Figures {
    none_start: f64,
    user_start: f64,
    lookup: (f64, f64),
    create_rm: f64,
    resolver_mib: f64,
}

fn measure(socket: &Path, resolver: &dyn Fn() -> f64) -> Figures {
    create_network(socket, "bench");
    start_latency(socket, "bench", 3);
    let (none_start, user_start) = start_latency(socket, "bench", 30);
    let sleeper = |name: &str| serde_json::json!({"Image": "busybox", "Cmd": ["sleep", "600"], "HostConfig": {"NetworkMode": "bench"}, "NetworkingConfig": {"EndpointsConfig": {"bench": {"Aliases": [name]}}}});
    let peer = run(socket, &sleeper("peer"));
    let asker = run(socket, &sleeper("asker"));
    let lookup = lookups(&sandbox_key(socket, &asker), "peer", 2000);
    let mut more = Vec::new();
    for i in 0..48 {
        more.push(run(socket, &sleeper(&format!("c{i}"))));
    }
    std::thread::sleep(Duration::from_millis(500));
    let resolver_mib = resolver();
    for id in more.iter().chain([&peer, &asker]) {
        remove(socket, id);
    }
    let create_rm = {
        create_remove(socket, 3);
        create_remove(socket, 20)
    };
    request(socket, "DELETE", &format!("/{V}/networks/bench"), b"");
    Figures {
        none_start,
        user_start,
        lookup,
        create_rm,
        resolver_mib,
    }
}

fn print(label: &str, f: &Figures, resolver_label: &str) {
    println!("\n{label}");
    println!("{:<58} {:>9.2} ms", "start, --net=none", f.none_start);
    println!(
        "{:<58} {:>9.2} ms",
        "start, user-defined network", f.user_start
    );
    println!(
        "{:<58} {:>9.2} ms  (target ≤ 5 for berth)",
        "  added by the network",
        f.user_start - f.none_start
    );
    println!(
        "{:<58} {:>9.3} ms",
        "DNS lookup of a peer, median", f.lookup.0
    );
    println!("{:<58} {:>9.3} ms", "DNS lookup of a peer, p99", f.lookup.1);
    println!("{:<58} {:>9.2} ms", "network create + rm", f.create_rm);
    println!("{:<58} {:>9.1} MiB", resolver_label, f.resolver_mib);
}

fn main() {
    let with_docker = std::env::args().any(|a| a == "--with-docker");
    println!(
        "berth user-defined network benchmarks (medians; berthd = {})",
        berth_tests::berthd_bin().display()
    );
    let berth = {
        let d = Daemon::start();
        d.import_busybox("busybox:latest");
        let f = measure(&d.socket, &|| memory_of(&["berth-resolver"]).0);
        d.remove_all_containers();
        f
    };
    print(
        "berth",
        &berth,
        "berth-resolver RSS, 50 containers on the network",
    );
    // Like for like with the reference Docker, which runs without packet rules.
    let berth_no_rules = {
        let d = Daemon::start_with(&["--iptables=false"]);
        create_remove(&d.socket, 3);
        create_remove(&d.socket, 20)
    };
    println!(
        "{:<58} {:>9.2} ms",
        "network create + rm, --iptables=false", berth_no_rules
    );
    if !with_docker {
        return;
    }
    let Some(docker) = RefDocker::start() else {
        println!("\nDocker Engine: dockerd not installed, skipped");
        return;
    };
    docker.import_busybox();
    let pid = docker.pid();
    let base = berth_tests::bench::rss_kib(pid) as f64 / 1024.0;
    let f = measure(&docker.socket(), &|| {
        berth_tests::bench::rss_kib(pid) as f64 / 1024.0 - base
    });
    print(
        "Docker Engine",
        &f,
        "dockerd RSS growth (its resolver is inside), 50 containers",
    );
    println!("\nratios berth/Docker");
    println!(
        "{:<58} {:>9.2}×",
        "start, user-defined network",
        berth.user_start / f.user_start
    );
    println!(
        "{:<58} {:>9.2}×",
        "DNS lookup, median",
        berth.lookup.0 / f.lookup.0
    );
    println!(
        "{:<58} {:>9.2}×",
        "DNS lookup, p99",
        berth.lookup.1 / f.lookup.1
    );
    println!(
        "{:<58} {:>9.2}×",
        "network create + rm",
        berth.create_rm / f.create_rm
    );
    println!(
        "{:<58} {:>9.2}×",
        "network create + rm, both without packet rules",
        berth_no_rules / f.create_rm
    );
}
