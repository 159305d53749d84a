//! Stream benchmarks (issue 5): `docker exec CID true` latency and attach throughput of a
//! container writing 1 GB to stdout, against a release berthd and, with `--with-docker`,
//! Docker Engine on a side socket in the same run. `docker exec` is also timed against a
//! stand-in daemon that answers from memory and runs nothing ([`Standin`]), in alternation
//! with berth: the CLI's own floor. Medians; prints figures, asserts nothing.
//!
//! usage: bench_streams [--with-docker] [--megabytes N]   (BERTHD_BIN picks the berthd binary)

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Instant;

use berth_tests::bench::{
    create_container, docker, median, ms, raw_request, request, start_container, RefDocker,
};
use berth_tests::Daemon;

/// The producer: 1 MB of 999-column lines, copied by `cat` in 10 MB pieces until `mb` MB
/// are out (busybox's `yes` or `tr` alone would be slower than the engines being measured).
fn producer(mb: usize) -> String {
    format!(
        "head -c 1000000 /dev/zero | tr '\\0' a | fold -w 999 > /tmp/1m; \
         for i in 1 2 3 4 5 6 7 8 9 10; do cat /tmp/1m; done > /tmp/10m; \
         i=0; while [ $i -lt {} ]; do cat /tmp/10m; i=$((i+1)); done",
        mb / 10
    )
}

/// Creates a producer container, attaches to it over a raw hijacked connection, starts it
/// and reads the multiplexed stream to its end. Returns (payload MB, MB/s).
fn attach_throughput(socket: &Path, version: &str, mb: usize) -> (f64, f64) {
    let body = serde_json::json!({
        "Image": "busybox",
        "Cmd": ["sh", "-c", producer(mb)],
        "HostConfig": {"NetworkMode": "none"},
    });
    let id = create_container(socket, version, body.to_string().as_bytes());
    let mut s = berth_tests::hijack(
        socket,
        &format!("/{version}/containers/{id}/attach?stream=1&stdout=1&stderr=1"),
        b"",
    );
    let head = berth_tests::read_head(&mut s);
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    let t = Instant::now();
    start_container(socket, version, &id);
    // Walk the frames as a client must, counting payload bytes.
    let mut buf = vec![0u8; 256 * 1024];
    let (mut payload, mut need_header, mut left_in_frame) = (0usize, [0u8; 8], 0usize);
    let mut header_fill = 0usize;
    loop {
        let n = s.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        let mut chunk = &buf[..n];
        while !chunk.is_empty() {
            if left_in_frame == 0 {
                let take = (8 - header_fill).min(chunk.len());
                need_header[header_fill..header_fill + take].copy_from_slice(&chunk[..take]);
                header_fill += take;
                chunk = &chunk[take..];
                if header_fill == 8 {
                    left_in_frame =
                        u32::from_be_bytes(need_header[4..8].try_into().unwrap()) as usize;
                    header_fill = 0;
                }
            } else {
                let take = left_in_frame.min(chunk.len());
                payload += take;
                left_in_frame -= take;
                chunk = &chunk[take..];
            }
        }
    }
    let secs = t.elapsed().as_secs_f64();
    request(
        socket,
        "DELETE",
        &format!("/{version}/containers/{id}?force=1"),
        b"",
    );
    let mb = payload as f64 / 1e6;
    (mb, mb / secs)
}

/// `docker <args…>`, which must succeed.
fn docker_ok(host: &str, config: &Path, args: &[&str]) {
    assert!(docker(host, config, args).success(), "docker {args:?}");
}

/// Median time of `docker <args…>`.
fn docker_ms(host: &str, config: &Path, args: &[&str], runs: usize) -> f64 {
    median(
        (0..runs)
            .map(|_| {
                let t = Instant::now();
                docker_ok(host, config, args);
                ms(t.elapsed())
            })
            .collect(),
    )
}

/// Medians of several docker commands, run in turn (one of each per round), so that a slow
/// spell of this shared machine weighs on all of them alike.
fn docker_ms_interleaved(config: &Path, commands: &[(&str, &[&str])], runs: usize) -> Vec<f64> {
    let mut times = vec![Vec::new(); commands.len()];
    for _ in 0..runs {
        for (i, (host, args)) in commands.iter().enumerate() {
            let t = Instant::now();
            docker_ok(host, config, args);
            times[i].push(ms(t.elapsed()));
        }
    }
    times.into_iter().map(median).collect()
}

/// A stand-in daemon for the CLI's own floor: it answers the requests of `docker exec CID
/// true` and `docker inspect CID` (ping, container inspect, exec create, exec start, exec
/// inspect) at once from memory, with the bytes berthd sent for them once, and runs nothing.
/// It serves on its own threads for the rest of the process.
struct Standin;

impl Standin {
    fn start(berth: &Path, container: &str, at: &Path) -> Standin {
        let exec_body = br#"{"AttachStdout": true, "AttachStderr": true, "Cmd": ["true"]}"#;
        let recorded = |method: &str, path: &str, body: &[u8]| {
            kept_open(&raw_request(berth, method, path, body))
        };
        let created = recorded(
            "POST",
            &format!("/v1.18/containers/{container}/exec"),
            exec_body,
        );
        let exec_id = serde_json::from_slice::<serde_json::Value>(&created[head_end(&created)..])
            .unwrap()["Id"]
            .as_str()
            .unwrap()
            .to_string();
        let mut hijacked = berth_tests::hijack(
            berth,
            &format!("/v1.18/exec/{exec_id}/start"),
            br#"{"Detach": false}"#,
        );
        let started = berth_tests::read_head(&mut hijacked).into_bytes();
        std::io::copy(&mut hijacked, &mut std::io::sink()).unwrap();
        let answers = std::sync::Arc::new(vec![
            (Route::Ping, recorded("GET", "/_ping", b"")),
            (Route::PingHead, recorded("HEAD", "/_ping", b"")),
            (
                Route::Container,
                recorded("GET", &format!("/v1.18/containers/{container}/json"), b""),
            ),
            (Route::ExecCreate, created),
            (Route::ExecStart, started),
            (
                Route::ExecInspect,
                recorded("GET", &format!("/v1.18/exec/{exec_id}/json"), b""),
            ),
        ]);
        let listener = std::os::unix::net::UnixListener::bind(at).unwrap();
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let answers = answers.clone();
                std::thread::spawn(move || serve_recorded(conn, &answers));
            }
        });
        Standin
    }
}

#[derive(PartialEq, Clone, Copy)]
enum Route {
    Ping,
    PingHead,
    Container,
    ExecCreate,
    ExecStart,
    ExecInspect,
}

fn route(method: &str, path: &str) -> Option<Route> {
    let path = path.split('?').next().unwrap_or("");
    // Without the version prefix.
    let path = match path.strip_prefix("/v") {
        Some(rest) => &rest[rest.find('/')?..],
        None => path,
    };
    let parts: Vec<&str> = path.split('/').skip(1).collect();
    match parts[..] {
        ["_ping"] if method == "HEAD" => Some(Route::PingHead),
        ["_ping"] => Some(Route::Ping),
        ["containers", _, "json"] => Some(Route::Container),
        ["containers", _, "exec"] => Some(Route::ExecCreate),
        ["exec", _, "start"] => Some(Route::ExecStart),
        ["exec", _, "json"] => Some(Route::ExecInspect),
        _ => None,
    }
}

/// Answers each request on `conn` with its recorded response; the exec start's hijack ends
/// at once, as an exec of `true` does.
fn serve_recorded(mut conn: UnixStream, answers: &[(Route, Vec<u8>)]) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    loop {
        let (head_len, method, path, body_len) = loop {
            let mut headers = [httparse::EMPTY_HEADER; 32];
            let mut req = httparse::Request::new(&mut headers);
            match req.parse(&buf) {
                Ok(httparse::Status::Complete(n)) => {
                    let length = req
                        .headers
                        .iter()
                        .find(|h| h.name.eq_ignore_ascii_case("content-length"))
                        .and_then(|h| std::str::from_utf8(h.value).ok()?.trim().parse().ok())
                        .unwrap_or(0usize);
                    let method = req.method.unwrap_or("").to_string();
                    break (n, method, req.path.unwrap_or("").to_string(), length);
                }
                Ok(httparse::Status::Partial) => match conn.read(&mut chunk) {
                    Ok(0) | Err(_) => return,
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                },
                Err(_) => return,
            }
        };
        while buf.len() < head_len + body_len {
            match conn.read(&mut chunk) {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        buf.drain(..head_len + body_len);
        let which = route(&method, &path);
        let Some((_, answer)) = answers.iter().find(|(r, _)| Some(*r) == which) else {
            let _ = conn.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
            continue;
        };
        if conn.write_all(answer).is_err() {
            return;
        }
        if which == Some(Route::ExecStart) {
            let _ = conn.shutdown(std::net::Shutdown::Write);
            return;
        }
    }
}

fn head_end(response: &[u8]) -> usize {
    response.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4
}

/// A recorded response without its `Connection: close`, for a connection that stays open.
fn kept_open(response: &[u8]) -> Vec<u8> {
    let split = head_end(response);
    let head = String::from_utf8_lossy(&response[..split]);
    let mut out: Vec<u8> = head
        .split("\r\n")
        .filter(|l| !l.to_ascii_lowercase().starts_with("connection:"))
        .collect::<Vec<_>>()
        .join("\r\n")
        .into_bytes();
    out.extend_from_slice(&response[split..]);
    out
}

/// Median of the first `docker exec` into each of `n` new containers: berth starts the
/// container's exec helper then, which joins its cgroups once.
fn first_exec_ms(host: &str, config: &Path, n: usize) -> f64 {
    median(
        (0..n)
            .map(|i| {
                let name = format!("first{i}");
                start_sleeper(host, config, &name);
                // As a user would: not straight after the start.
                std::thread::sleep(std::time::Duration::from_millis(100));
                let t = Instant::now();
                docker_ok(host, config, &["exec", &name, "true"]);
                let took = ms(t.elapsed());
                docker_ok(host, config, &["rm", "-f", &name]);
                took
            })
            .collect(),
    )
}

/// `busybox sleep 1000` named `name`, without a network.
fn start_sleeper(host: &str, config: &Path, name: &str) {
    docker_ok(
        host,
        config,
        &[
            "run",
            "-d",
            "--name",
            name,
            "--network",
            "none",
            "busybox",
            "sleep",
            "1000",
        ],
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let with_docker = args.iter().any(|a| a == "--with-docker");
    let mb: usize = args
        .iter()
        .position(|a| a == "--megabytes")
        .map(|i| args[i + 1].parse().expect("--megabytes N"))
        .unwrap_or(1000);
    println!(
        "berth stream benchmarks (medians; berthd = {})",
        berth_tests::berthd_bin().display()
    );
    let d = Daemon::start();
    d.import_busybox("busybox:latest");
    let host = format!("unix://{}", d.socket.display());
    let cfg = d.dir.path().join("docker-config");
    start_sleeper(&host, &cfg, "target");
    docker_ms(&host, &cfg, &["exec", "target", "true"], 3);
    let stub_socket = d.dir.path().join("standin.sock");
    Standin::start(&d.socket, "target", &stub_socket);
    let stub = format!("unix://{}", stub_socket.display());
    let exec_args: &[&str] = &["exec", "target", "true"];
    let inspect_args: &[&str] = &["inspect", "target"];
    let [exec, stub_exec, floor, stub_floor] = docker_ms_interleaved(
        &cfg,
        &[
            (&host, exec_args),
            (&stub, exec_args),
            (&host, inspect_args),
            (&stub, inspect_args),
        ],
        60,
    )[..] else {
        unreachable!()
    };
    let detached = docker_ms(&host, &cfg, &["exec", "-d", "target", "true"], 30);
    let first = first_exec_ms(&host, &cfg, 10);
    let (got, attach) = attach_throughput(&d.socket, "v1.18", mb);
    let peak_rss = std::fs::read_to_string(format!("/proc/{}/status", d.pid()))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:").map(|v| v.trim().to_string()))
        .unwrap_or_default();
    d.remove_all_containers();

    println!();
    println!("{:<52} {:>12} {:>10}", "measure", "berth", "target");
    println!(
        "{:<52} {:>9.2} ms {:>7} ms",
        "docker exec CID true", exec, 20
    );
    println!(
        "{:<52} {:>9.2} ms",
        "  the same CLI against a stand-in that runs nothing", stub_exec
    );
    println!(
        "{:<52} {:>9.2} ms",
        "  berth's own share (the difference)",
        exec - stub_exec
    );
    println!(
        "{:<52} {:>9.2} ms {:>9.2} ms (stand-in)",
        "  docker inspect CID", floor, stub_floor
    );
    println!("{:<52} {:>9.2} ms", "  docker exec -d CID true", detached);
    println!(
        "{:<52} {:>9.2} ms",
        "  first exec into a new container", first
    );
    println!(
        "{:<52} {:>7.0} MB/s",
        format!("attach throughput, {got:.0} MB of stdout"),
        attach
    );
    println!("{:<52} {:>12}", "  berthd peak RSS", peak_rss);

    if with_docker {
        let Some(r) = RefDocker::start() else {
            println!("\nreference dockerd: not available (install Debian's docker.io)");
            return;
        };
        let rsock = r.socket();
        let rhost = format!("unix://{}", rsock.display());
        let rcfg = r.dir.path().join("cfg");
        r.import_busybox();
        start_sleeper(&rhost, &rcfg, "target");
        docker_ms(&rhost, &rcfg, &["exec", "target", "true"], 3);
        let dexec = docker_ms(&rhost, &rcfg, &["exec", "target", "true"], 30);
        let dfloor = docker_ms(&rhost, &rcfg, inspect_args, 30);
        let ddetached = docker_ms(&rhost, &rcfg, &["exec", "-d", "target", "true"], 30);
        let dfirst = first_exec_ms(&rhost, &rcfg, 10);
        let (dgot, dattach) = attach_throughput(&rsock, "v1.41", mb);
        request(&rsock, "DELETE", "/v1.41/containers/target?force=1", b"");
        println!("\nagainst Docker Engine (Debian docker.io 20.10, same machine, same run; --network none for both):");
        println!("{:<52} {:>12} {:>12}", "", "berth", "dockerd");
        println!(
            "{:<52} {:>9.2} ms {:>9.2} ms  {:.1}x",
            "docker exec CID true",
            exec,
            dexec,
            dexec / exec
        );
        println!(
            "{:<52} {:>9.2} ms {:>9.2} ms",
            "  docker inspect CID", floor, dfloor
        );
        println!(
            "{:<52} {:>9.2} ms {:>9.2} ms",
            "  docker exec -d CID true", detached, ddetached
        );
        println!(
            "{:<52} {:>9.2} ms {:>9.2} ms",
            "  first exec into a new container", first, dfirst
        );
        println!(
            "{:<52} {:>7.0} MB/s {:>7.0} MB/s  {:.2}x  ({dgot:.0} MB at dockerd)",
            format!("attach throughput, {got:.0} MB of stdout"),
            attach,
            dattach,
            attach / dattach
        );
    }
}
