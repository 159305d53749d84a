//! Helpers shared by the benchmark drivers (`src/bin/bench_*.rs`): timing, a bare HTTP
//! client, process memory, and a reference Docker Engine on a side socket.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// The median time of `runs` calls of `f`, in milliseconds.
pub fn median_ms(runs: usize, mut f: impl FnMut()) -> f64 {
    median(
        (0..runs)
            .map(|_| {
                let t = std::time::Instant::now();
                f();
                ms(t.elapsed())
            })
            .collect(),
    )
}

/// Median milliseconds of `runs` runs of `f(run)`, and the largest growth of process `pid`'s
/// resident memory (MiB) while they ran, sampled every 5 ms.
pub fn timed(pid: u32, runs: usize, f: impl FnMut(usize)) -> (f64, f64) {
    timed_between(pid, runs, f, |_| {})
}

/// As [`timed`], with `between(run)` after each run, not timed (undoing what a run did).
pub fn timed_between(
    pid: u32,
    runs: usize,
    f: impl FnMut(usize),
    between: impl FnMut(usize),
) -> (f64, f64) {
    let base = rss_kib(pid);
    let (median, peak) = timed_peak(pid, runs, f, between);
    (median, (peak - base as f64 / 1024.0).max(0.0))
}

/// As [`timed_between`], with the process's highest resident memory while it ran, MiB
/// (not its growth).
pub fn timed_peak(
    pid: u32,
    runs: usize,
    mut f: impl FnMut(usize),
    mut between: impl FnMut(usize),
) -> (f64, f64) {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    let stop = Arc::new(AtomicBool::new(false));
    let peak = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut peak = 0;
            while !stop.load(Ordering::Relaxed) {
                peak = peak.max(rss_kib(pid));
                std::thread::sleep(Duration::from_millis(5));
            }
            peak
        })
    };
    let mut times = Vec::new();
    for run in 0..runs {
        let t = std::time::Instant::now();
        f(run);
        times.push(ms(t.elapsed()));
        between(run);
    }
    stop.store(true, Ordering::Relaxed);
    let peak = peak.join().unwrap();
    (median(times), peak as f64 / 1024.0)
}

/// `POST /containers/create` under `/{version}`; returns the new container's ID.
pub fn create_container(socket: &Path, version: &str, body: &[u8]) -> String {
    let (st, b) = request(
        socket,
        "POST",
        &format!("/{version}/containers/create"),
        body,
    );
    assert_eq!(st, 201, "{}", String::from_utf8_lossy(&b));
    let v: serde_json::Value = serde_json::from_slice(&b).unwrap();
    v["Id"].as_str().unwrap().to_string()
}

/// `POST /containers/{id}/start` under `/{version}`.
pub fn start_container(socket: &Path, version: &str, id: &str) {
    let (st, b) = request(
        socket,
        "POST",
        &format!("/{version}/containers/{id}/start"),
        b"",
    );
    assert_eq!(st, 204, "{}", String::from_utf8_lossy(&b));
}

/// Runs `docker <args…>` against `host` with its own config directory, output discarded.
pub fn docker(host: &str, config: &Path, args: &[&str]) -> std::process::ExitStatus {
    Command::new(crate::docker_cli())
        .args(args)
        .env("DOCKER_HOST", host)
        .env("DOCKER_CONFIG", config)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap()
}

/// One request over a fresh connection; returns status and body.
pub fn request(socket: &Path, method: &str, path: &str, body: &[u8]) -> (u16, Vec<u8>) {
    let out = raw_request(socket, method, path, body);
    let status = std::str::from_utf8(&out[9..12]).unwrap().parse().unwrap();
    let split = out.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    let head = String::from_utf8_lossy(&out[..split]).to_ascii_lowercase();
    let body = if head.contains("transfer-encoding: chunked") {
        dechunk(&out[split..])
    } else {
        out[split..].to_vec()
    };
    (status, body)
}

/// One request over a fresh connection (`Connection: close`); every byte of the answer.
pub fn raw_request(socket: &Path, method: &str, path: &str, body: &[u8]) -> Vec<u8> {
    raw_request_with(socket, method, path, &[], body)
}

/// [`raw_request`] with extra headers (`X-Registry-Auth`).
pub fn raw_request_with(
    socket: &Path,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Vec<u8> {
    let mut s = UnixStream::connect(socket).unwrap();
    let extra: String = headers
        .iter()
        .map(|(n, v)| format!("{n}: {v}\r\n"))
        .collect();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: bench\r\nConnection: close\r\nContent-Type: application/json\r\n{extra}Content-Length: {}\r\n\r\n",
        body.len()
    );
    // A server may answer (an error) and close before it reads the body: read what it said.
    let _ = s.write_all(head.as_bytes()).and_then(|_| s.write_all(body));
    let mut out = Vec::new();
    s.read_to_end(&mut out).unwrap();
    out
}

/// Decodes a chunked HTTP body (Docker Engine answers some requests that way).
fn dechunk(mut raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = raw.windows(2).position(|w| w == b"\r\n") {
        let size = std::str::from_utf8(&raw[..eol])
            .ok()
            .and_then(|s| usize::from_str_radix(s.split(';').next().unwrap_or("").trim(), 16).ok())
            .unwrap_or(0);
        if size == 0 || raw.len() < eol + 2 + size {
            break;
        }
        out.extend_from_slice(&raw[eol + 2..eol + 2 + size]);
        raw = &raw[(eol + 4 + size).min(raw.len())..];
    }
    out
}

pub use crate::audit::rss_kib;

/// Total (RSS, PSS) in MiB of the processes whose command name is in `names`.
pub fn memory_of(names: &[&str]) -> (f64, f64, usize) {
    let (mut rss, mut pss, mut n) = (0u64, 0u64, 0);
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(cmd) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
            continue;
        };
        let exe = cmd.split(|b| *b == 0).next().unwrap_or(&[]);
        let base = Path::new(std::str::from_utf8(exe).unwrap_or(""))
            .file_name()
            .and_then(|f| f.to_str())
            .unwrap_or("");
        if !names.contains(&base) {
            continue;
        }
        let Ok(rollup) = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")) else {
            continue;
        };
        for l in rollup.lines() {
            let kb = |p: &str| {
                l.strip_prefix(p).map(|v| {
                    v.trim()
                        .trim_end_matches("kB")
                        .trim()
                        .parse::<u64>()
                        .unwrap_or(0)
                })
            };
            if let Some(v) = kb("Rss:") {
                rss += v;
            }
            if let Some(v) = kb("Pss:") {
                pss += v;
            }
        }
        n += 1;
    }
    (rss as f64 / 1024.0, pss as f64 / 1024.0, n)
}

/// Docker Engine (Debian's docker.io) started by `scripts/start-dockerd.sh` on a side
/// socket, without bridge or iptables changes; stopped on drop.
pub struct RefDocker {
    pub dir: tempfile::TempDir,
}

impl RefDocker {
    pub fn start() -> Option<RefDocker> {
        Self::start_with("--bridge=none --iptables=false --ip6tables=false")
    }

    /// With other daemon flags (`DOCKERD_ARGS` of `start-dockerd.sh`).
    pub fn start_with(dockerd_args: &str) -> Option<RefDocker> {
        Command::new("dockerd").arg("--version").output().ok()?;
        let dir = tempfile::Builder::new()
            .prefix("berth-bench-dockerd-")
            .tempdir()
            .unwrap();
        let script =
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scripts/start-dockerd.sh");
        let ok = Command::new("bash")
            .arg(script)
            .arg(dir.path())
            .env("DOCKERD_ARGS", dockerd_args)
            .output()
            .ok()?
            .status
            .success();
        ok.then_some(RefDocker { dir })
    }

    pub fn socket(&self) -> PathBuf {
        self.dir.path().join("docker.sock")
    }

    /// dockerd's process ID.
    pub fn pid(&self) -> u32 {
        std::fs::read_to_string(self.dir.path().join("docker.pid"))
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    }

    /// `docker ARGS` against this daemon; its standard output, or a panic with its error.
    pub fn docker(&self, args: &[&str]) -> String {
        let o = Command::new(crate::docker_cli())
            .args(args)
            .env("DOCKER_HOST", format!("unix://{}", self.socket().display()))
            .env("DOCKER_CONFIG", self.dir.path().join("cfg"))
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "reference docker {args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    /// Imports the busybox fixture as `busybox:latest`, as the benchmarks run it.
    pub fn import_busybox(&self) {
        let tar = std::fs::read(crate::busybox_tar()).unwrap();
        let (st, b) = request(
            &self.socket(),
            "POST",
            "/v1.41/images/create?fromSrc=-&repo=busybox&tag=latest",
            &tar,
        );
        assert_eq!(st, 200, "{}", String::from_utf8_lossy(&b));
    }
}

impl Drop for RefDocker {
    fn drop(&mut self) {
        if let Ok(pid) = std::fs::read_to_string(self.dir.path().join("docker.pid")) {
            let _ = Command::new("kill").arg(pid.trim()).status();
            for _ in 0..150 {
                if !self.dir.path().join("docker.pid").exists() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }
}

/// A request as a stand-in daemon sees it: its line, its headers (lower-cased), the
/// connection to read its body from and the one to answer on.
pub struct StandinRequest<'a> {
    pub line: String,
    pub headers: Vec<String>,
    pub body: &'a mut std::io::BufReader<UnixStream>,
    pub out: &'a mut UnixStream,
}

impl StandinRequest<'_> {
    /// Writes a response: `status`, Docker's API version header, `headers` (each ended by
    /// CRLF) and `body` (left out for a HEAD, its length kept).
    pub fn respond(&mut self, status: &str, headers: &str, body: &[u8]) -> std::io::Result<()> {
        let head = format!(
            "HTTP/1.1 {status}\r\nApi-Version: 1.44\r\n{headers}Content-Length: {}\r\n\r\n",
            body.len()
        );
        self.out.write_all(head.as_bytes())?;
        if self.method() != "HEAD" {
            self.out.write_all(body)?;
        }
        Ok(())
    }
}

impl StandinRequest<'_> {
    pub fn method(&self) -> &str {
        self.line.split_whitespace().next().unwrap_or("")
    }

    pub fn path(&self) -> &str {
        self.line.split_whitespace().nth(1).unwrap_or("")
    }

    /// Reads the body (chunked or of a `Content-Length`) to its end and drops it.
    pub fn drain_body(&mut self) {
        use std::io::BufRead;
        let chunked = self
            .headers
            .iter()
            .any(|h| h.starts_with("transfer-encoding: chunked"));
        if !chunked {
            let length: u64 = self
                .headers
                .iter()
                .find_map(|h| h.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            let _ = std::io::copy(&mut (&mut *self.body).take(length), &mut std::io::sink());
            return;
        }
        loop {
            let mut size = String::new();
            if self.body.read_line(&mut size).unwrap_or(0) == 0 {
                return;
            }
            let n = u64::from_str_radix(size.trim(), 16).unwrap_or(0);
            let _ = std::io::copy(&mut (&mut *self.body).take(n + 2), &mut std::io::sink());
            if n == 0 {
                return;
            }
        }
    }
}

/// Serves a stand-in daemon on the unix socket `at` (a thread per connection, each kept
/// open): `answer` reads what body it wants and responds. For timing what the docker CLI
/// costs on its own.
pub fn standin_daemon(
    at: &Path,
    answer: impl Fn(&mut StandinRequest<'_>) -> std::io::Result<()> + Send + Sync + 'static,
) {
    use std::io::BufRead;
    let listener = std::os::unix::net::UnixListener::bind(at).unwrap();
    let answer = std::sync::Arc::new(answer);
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            let answer = answer.clone();
            std::thread::spawn(move || {
                let mut reader = std::io::BufReader::new(conn.try_clone().unwrap());
                let mut out = conn;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let mut headers = Vec::new();
                    loop {
                        let mut h = String::new();
                        if reader.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
                            break;
                        }
                        headers.push(h.to_ascii_lowercase());
                    }
                    let mut request = StandinRequest {
                        line,
                        headers,
                        body: &mut reader,
                        out: &mut out,
                    };
                    if answer(&mut request).is_err() {
                        return;
                    }
                }
            });
        }
    });
}
