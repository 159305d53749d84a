//! The integration test harness.
//!
//! [`Daemon::start`] runs the real `berthd` binary on a temporary Unix socket, data root and
//! exec root, waits for `/_ping`, and on drop stops it with SIGTERM and removes everything.
//! [`Daemon::request`] speaks raw HTTP/1.1 so tests see exact status codes, headers and
//! bodies; [`Daemon::docker`] runs the real docker CLI against the daemon.

pub mod audit;
pub mod bench;
pub mod dns_server;
pub mod fake_registry;
pub mod loopback;
pub mod registry;
pub mod tls;
pub mod token_server;

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The workspace's target directory (tests run from `target/<profile>/deps`).
pub fn target_dir() -> PathBuf {
    if let Ok(d) = std::env::var("CARGO_TARGET_DIR") {
        return PathBuf::from(d);
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target")
}

/// The berthd binary: `BERTHD_BIN`, or the one built next to this test.
pub fn berthd_bin() -> PathBuf {
    if let Ok(p) = std::env::var("BERTHD_BIN") {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().expect("test executable");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>");
    let bin = profile_dir.join("berthd");
    assert!(
        bin.exists(),
        "{} is missing: build it first (cargo build -p berthd)",
        bin.display()
    );
    bin
}

/// A busybox root filesystem tarball made by `scripts/make-busybox-rootfs.sh`, built once
/// per test run.
pub fn busybox_tar() -> PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        let dir = target_dir().join("test-fixtures");
        std::fs::create_dir_all(&dir).unwrap();
        let out = dir.join("busybox.tar");
        if !out.exists() {
            let script =
                Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/make-busybox-rootfs.sh");
            let tmp = dir.join(format!("busybox.tar.{}", std::process::id()));
            let rootfs = tempfile::tempdir().unwrap();
            let status = Command::new("bash")
                .arg(&script)
                .arg(&tmp)
                .arg(rootfs.path().join("rootfs"))
                .stdout(Stdio::null())
                .status()
                .expect("run make-busybox-rootfs.sh");
            assert!(status.success(), "make-busybox-rootfs.sh failed");
            std::fs::rename(&tmp, &out).unwrap();
        }
        out
    })
    .clone()
}

/// An image ID (bare hex) as the API version of `prefix` (`/v1.18`, or `""` for the newest)
/// shows it: bare below 1.22, `sha256:`-prefixed from 1.22.
pub fn image_id_at(prefix: &str, hex: &str) -> String {
    let old = prefix
        .strip_prefix("/v")
        .and_then(|v| v.strip_prefix("1."))
        .and_then(|m| m.parse::<u16>().ok())
        .is_some_and(|minor| minor < 22);
    if old {
        hex.to_string()
    } else {
        format!("sha256:{hex}")
    }
}

/// The docker CLI: `/usr/local/bin/docker` when present, else `docker` from PATH.
pub fn docker_cli() -> PathBuf {
    let local = Path::new("/usr/local/bin/docker");
    if local.exists() {
        local.to_path_buf()
    } else {
        PathBuf::from("docker")
    }
}

/// A parsed HTTP response.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// An error's message: the text below API 1.24, the JSON `message` from 1.24.
    pub fn message(&self) -> String {
        let text = self.text();
        match serde_json::from_str::<serde_json::Value>(&text) {
            Ok(v) if v["message"].is_string() => v["message"].as_str().unwrap().to_string(),
            _ => text.trim_end_matches('\n').to_string(),
        }
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {}", self.text()))
    }

    /// A body of concatenated JSON objects (progress and event streams).
    pub fn json_lines(&self) -> Vec<serde_json::Value> {
        serde_json::Deserializer::from_slice(&self.body)
            .into_iter::<serde_json::Value>()
            .map(|v| v.unwrap())
            .collect()
    }

    /// The `status` of each line of a progress stream (pull, import, build), in order.
    pub fn statuses(&self) -> Vec<String> {
        self.json_lines()
            .iter()
            .filter_map(|l| l["status"].as_str().map(str::to_string))
            .collect()
    }
}

/// A running berthd with its own socket, data root and exec root.
pub struct Daemon {
    child: Option<Child>,
    pub dir: tempfile::TempDir,
    pub socket: PathBuf,
    pub extra_args: Vec<String>,
    bridge: String,
    /// The exec root's name in `dir`.
    exec_root: String,
    /// Open-files limits (soft, hard) to start berthd with, as a service manager might.
    pub nofile: Option<(u64, u64)>,
    /// The berthd binary this daemon runs ([`berthd_bin`] unless a benchmark picks another).
    pub bin: PathBuf,
    /// Environment variables berthd runs with beside the test's own.
    pub env: Vec<(String, String)>,
}

/// A bridge name and address no other daemon of this machine's test runs uses at the same
/// time: from this process's ID and a counter.
fn test_bridge() -> (String, String) {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::SeqCst);
    let pid = std::process::id();
    (
        format!("bt{}x{}", pid % 100_000, n),
        format!("10.{}.{}.1/24", 200 + pid % 50, n % 256),
    )
}

/// Removes a test daemon's bridge and the packet rules berthd made for it.
pub fn remove_bridge(bridge: &str) {
    if bridge == "none" {
        return;
    }
    berth_network::remove_rules(bridge);
    let _ = Command::new("ip")
        .args(["link", "del", bridge])
        .stderr(std::process::Stdio::null())
        .status();
}

impl Daemon {
    pub fn start() -> Daemon {
        Self::start_with(&[])
    }

    /// Starts berthd with `args`. Unless they name a bridge, the daemon gets a bridge and a
    /// /24 of its own (so tests running side by side never share addresses or rules); the
    /// bridge and its rules are removed when the daemon is dropped.
    pub fn start_with(args: &[&str]) -> Daemon {
        Self::start_with_exec_root("exec", args)
    }

    /// As [`Daemon::start_with`], with the exec root named `exec_root` in the daemon's
    /// directory (`/tmp/berth-test-XXXXXX/`, [`Daemon::dir_len`] bytes).
    pub fn start_with_exec_root(exec_root: &str, args: &[&str]) -> Daemon {
        Self::start_binary(None, exec_root, args)
    }

    /// As [`Daemon::start_with_exec_root`], running `bin` instead of [`berthd_bin`] (to
    /// compare two builds in one run).
    pub fn start_binary(bin: Option<&Path>, exec_root: &str, args: &[&str]) -> Daemon {
        let dir = tempfile::Builder::new()
            .prefix("berth-test-")
            .tempdir()
            .unwrap();
        let socket = dir.path().join("berthd.sock");
        let mut extra_args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let named = args
            .iter()
            .position(|a| *a == "--bridge" || *a == "-b")
            .map(|i| args[i + 1].to_string())
            .or_else(|| {
                args.iter()
                    .find_map(|a| a.strip_prefix("--bridge=").map(str::to_string))
            });
        let bridge = match named {
            Some(b) => b,
            None => {
                let (bridge, bip) = test_bridge();
                extra_args.extend(["--bridge".into(), bridge.clone(), "--bip".into(), bip]);
                bridge
            }
        };
        let mut d = Daemon {
            child: None,
            dir,
            socket,
            extra_args,
            bridge,
            exec_root: exec_root.to_string(),
            nofile: None,
            bin: bin.map_or_else(berthd_bin, Path::to_path_buf),
            env: Vec::new(),
        };
        d.spawn();
        d
    }

    /// As [`Daemon::start_with`], with environment variables `env` set for berthd.
    pub fn start_with_env(args: &[&str], env: &[(&str, &str)]) -> Daemon {
        let mut d = Self::start_with(args);
        d.stop();
        d.env = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        d.spawn();
        d
    }

    /// The length of a daemon's directory path with its final slash.
    pub fn dir_len() -> usize {
        std::env::temp_dir()
            .join("berth-test-XXXXXX/")
            .as_os_str()
            .len()
    }

    /// The daemon's bridge (`none` when it runs without one).
    pub fn bridge(&self) -> &str {
        &self.bridge
    }

    /// The bridge's subnet prefix, e.g. `10.201.3.` (addresses are prefix + host number).
    pub fn subnet_prefix(&self) -> String {
        let bip = self
            .extra_args
            .iter()
            .position(|a| a == "--bip")
            .map(|i| self.extra_args[i + 1].clone())
            .unwrap_or_default();
        let ip = bip.split('/').next().unwrap_or("");
        ip.rsplit_once('.')
            .map(|(p, _)| format!("{p}."))
            .unwrap_or_default()
    }

    pub fn data_root(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn exec_root(&self) -> PathBuf {
        self.dir.path().join(&self.exec_root)
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("berthd.log")).unwrap_or_default()
    }

    /// The command line this daemon runs with.
    pub fn command(&self) -> Command {
        let mut cmd = match self.nofile {
            Some((soft, hard)) => {
                let mut c = Command::new("prlimit");
                c.arg(format!("--nofile={soft}:{hard}"))
                    .arg("--")
                    .arg(&self.bin);
                c
            }
            None => Command::new(&self.bin),
        };
        cmd.arg("--data-root")
            .arg(self.data_root())
            .arg("--exec-root")
            .arg(self.dir.path().join(&self.exec_root))
            .arg("--pidfile")
            .arg(self.dir.path().join("berthd.pid"))
            .arg("-H")
            .arg(format!("unix://{}", self.socket.display()))
            .args(&self.extra_args)
            .envs(self.env.iter().map(|(k, v)| (k, v)));
        cmd
    }

    /// Starts berthd and waits until it answers `/_ping`.
    pub fn spawn(&mut self) {
        if let Err(e) = self.try_spawn() {
            panic!("{e}");
        }
    }

    /// As [`Daemon::spawn`], with an error instead of a panic.
    pub fn try_spawn(&mut self) -> Result<(), String> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("berthd.log"))
            .map_err(|e| e.to_string())?;
        let child = self
            .command()
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|e| format!("spawn berthd: {e}"))?;
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(r) = self.try_request("GET", "/_ping", &[], &[]) {
                if r.status == 200 {
                    return Ok(());
                }
            }
            let child = self.child.as_mut().expect("spawned");
            if let Ok(Some(status)) = child.try_wait() {
                self.child = None;
                return Err(format!(
                    "berthd exited ({status}) during start:\n{}",
                    self.log()
                ));
            }
            if Instant::now() > deadline {
                return Err(format!("berthd did not answer /_ping:\n{}", self.log()));
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// Sends SIGTERM and waits for the exit status.
    pub fn stop(&mut self) -> std::process::ExitStatus {
        let mut child = self.child.take().expect("running");
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(s) = child.try_wait().unwrap() {
                return s;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                return child.wait().unwrap();
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Waits for a daemon killed from outside and forgets its process.
    pub fn reap(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.wait();
        }
    }

    /// SIGKILL, as a crash.
    pub fn kill(&mut self) {
        let mut child = self.child.take().expect("running");
        child.kill().unwrap();
        child.wait().unwrap();
    }

    pub fn try_request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> std::io::Result<Response> {
        let mut s = UnixStream::connect(&self.socket)?;
        s.set_read_timeout(Some(Duration::from_secs(60)))?;
        let mut req = format!("{method} {path} HTTP/1.1\r\nHost: berth\r\nConnection: close\r\n");
        let mut has_len = false;
        for (k, v) in headers {
            has_len |= k.eq_ignore_ascii_case("content-length")
                || k.eq_ignore_ascii_case("transfer-encoding");
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        if !has_len && (!body.is_empty() || method == "POST") {
            req.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
        req.push_str("\r\n");
        s.write_all(req.as_bytes())?;
        // A server may answer (an error) before reading the whole body and close its end: as
        // Docker's clients do, read the answer anyway.
        match s.write_all(body) {
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::BrokenPipe | std::io::ErrorKind::ConnectionReset
                ) => {}
            other => other?,
        }
        let mut raw = Vec::new();
        s.read_to_end(&mut raw)?;
        parse_response(&raw, method == "HEAD")
    }

    /// A raw HTTP request; panics when the daemon cannot be reached.
    pub fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Response {
        self.try_request(method, path, headers, body)
            .unwrap_or_else(|e| panic!("{method} {path}: {e}\n{}", self.log()))
    }

    pub fn get(&self, path: &str) -> Response {
        self.request("GET", path, &[], &[])
    }

    pub fn post(&self, path: &str) -> Response {
        self.request("POST", path, &[], &[])
    }

    /// `POST` with a JSON body.
    pub fn post_json(&self, path: &str, body: &[u8]) -> Response {
        self.request("POST", path, &[("Content-Type", "application/json")], body)
    }

    pub fn delete(&self, path: &str) -> Response {
        self.request("DELETE", path, &[], &[])
    }

    /// Imports a tarball as `repo:tag` and returns the image ID from the stream.
    /// Imports `tarball` as `reference`; returns the image's ID as bare hex (see [`image_id_at`]).
    pub fn import(&self, tarball: &[u8], reference: &str) -> String {
        let (repo, tag) = reference.rsplit_once(':').unwrap_or((reference, "latest"));
        let r = self.request(
            "POST",
            &format!("/images/create?fromSrc=-&repo={repo}&tag={tag}"),
            &[("Content-Type", "application/x-tar")],
            tarball,
        );
        assert_eq!(r.status, 200, "import failed: {}", r.text());
        let lines = r.json_lines();
        let id = lines.last().unwrap()["status"].as_str().unwrap();
        id.strip_prefix("sha256:").unwrap_or(id).to_string()
    }

    pub fn import_busybox(&self, reference: &str) -> String {
        self.import(&std::fs::read(busybox_tar()).unwrap(), reference)
    }

    /// Runs the docker CLI against this daemon.
    /// The events so far with `action`.
    pub fn past_events(&self, action: &str) -> Vec<serde_json::Value> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        self.get(&format!(
            "/events?since=0&until={}&filters=%7B%22event%22%3A%5B%22{action}%22%5D%7D",
            now + 1
        ))
        .json_lines()
    }

    pub fn docker(&self, args: &[&str]) -> Output {
        self.docker_cmd(args).output().expect("run docker CLI")
    }

    pub fn docker_cmd(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(docker_cli());
        cmd.args(args)
            .env("DOCKER_HOST", format!("unix://{}", self.socket.display()))
            .env("DOCKER_CONFIG", self.dir.path().join("docker-config"))
            .env_remove("DOCKER_API_VERSION")
            .env_remove("DOCKER_CONTEXT");
        cmd
    }

    /// Runs the docker CLI and returns stdout, panicking with stderr on failure.
    /// `docker ARGS…` with `input` on its standard input.
    pub fn docker_with_input(&self, args: &[&str], input: &[u8]) -> Output {
        let mut cmd = self.docker_cmd(args);
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("run docker CLI");
        child.stdin.take().unwrap().write_all(input).unwrap();
        child.wait_with_output().unwrap()
    }

    /// `docker login -u USER --password-stdin HOST`; what it printed, or a panic with its
    /// error.
    pub fn docker_login(&self, host: &str, user: &str, password: &str) -> String {
        let out = self.docker_with_input(
            &["login", "-u", user, "--password-stdin", host],
            format!("{password}\n").as_bytes(),
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn docker_ok(&self, args: &[&str]) -> String {
        let out = self.docker(args);
        assert!(
            out.status.success(),
            "docker {args:?} failed: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            self.log()
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Daemon {
    /// Removes every container (containers outlive the daemon by design, so a test must
    /// remove them or they keep running).
    /// The Linux bridges of the daemon's user-defined networks, from their records.
    pub fn user_bridges(&self) -> Vec<String> {
        let dir = self.data_root().join("networks/user");
        std::fs::read_dir(dir)
            .map(|d| {
                d.flatten()
                    .filter_map(|e| std::fs::read(e.path()).ok())
                    .filter_map(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
                    .filter_map(|v| v["bridge"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Removes every user-defined network (with its bridge and rules).
    pub fn remove_all_networks(&self) {
        let Ok(r) = self.try_request("GET", "/networks", &[], &[]) else {
            return;
        };
        let list: serde_json::Value = serde_json::from_slice(&r.body).unwrap_or_default();
        for n in list.as_array().cloned().unwrap_or_default() {
            let name = n["Name"].as_str().unwrap_or_default();
            if !matches!(name, "bridge" | "host" | "none") {
                let id = n["Id"].as_str().unwrap_or_default();
                let _ = self.try_request("DELETE", &format!("/networks/{id}"), &[], &[]);
            }
        }
    }

    /// How many containers the daemon has, running or not.
    pub fn container_count(&self) -> usize {
        self.get("/v1.44/containers/json?all=1")
            .json()
            .as_array()
            .expect("a list")
            .len()
    }

    pub fn remove_all_containers(&self) {
        let Ok(r) = self.try_request("GET", "/containers/json?all=1", &[], &[]) else {
            return;
        };
        if r.status != 200 {
            return;
        }
        for c in r.json().as_array().cloned().unwrap_or_default() {
            if let Some(id) = c["Id"].as_str() {
                let _ = self.try_request("DELETE", &format!("/containers/{id}?force=1"), &[], &[]);
            }
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let mut running = self.child.is_some();
        if !running {
            let has_containers = std::fs::read_dir(self.data_root().join("containers"))
                .map(|mut d| d.next().is_some())
                .unwrap_or(false);
            // Stopped or crashed by the test (or a failing one) with containers left: bring
            // it back to clean up.
            if has_containers {
                running = self.try_spawn().is_ok();
            }
        }
        if running {
            self.remove_all_containers();
            self.remove_all_networks();
            self.stop();
        }
        remove_bridge(&self.bridge);
        // What a daemon that could not be brought back left: its networks' bridges and
        // rules, and the resolver serving their names.
        for bridge in self.user_bridges() {
            remove_bridge(&bridge);
        }
        if let Ok(pid) = std::fs::read_to_string(self.exec_root().join("resolver/resolver.pid")) {
            // Only if that process is still the resolver (its PID may have been reused).
            let cmdline =
                std::fs::read(format!("/proc/{}/cmdline", pid.trim())).unwrap_or_default();
            if String::from_utf8_lossy(&cmdline).contains("berth-resolver") {
                let _ = Command::new("kill").args(["-KILL", pid.trim()]).status();
            }
        }
    }
}

fn parse_response(raw: &[u8], head: bool) -> std::io::Result<Response> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut resp = httparse::Response::new(&mut headers);
    let header_len = match resp.parse(raw) {
        Ok(httparse::Status::Complete(n)) => n,
        other => {
            return Err(std::io::Error::other(format!(
                "bad response ({other:?}): {}",
                String::from_utf8_lossy(raw)
            )))
        }
    };
    let status = resp.code.unwrap_or(0);
    let headers: Vec<(String, String)> = resp
        .headers
        .iter()
        .map(|h| {
            (
                h.name.to_string(),
                String::from_utf8_lossy(h.value).into_owned(),
            )
        })
        .collect();
    let rest = &raw[header_len..];
    let chunked = headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    let body = if head {
        Vec::new()
    } else if chunked {
        dechunk(rest)?
    } else {
        rest.to_vec()
    };
    Ok(Response {
        status,
        headers,
        body,
    })
}

fn dechunk(mut data: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = data
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or_else(|| std::io::Error::other("truncated chunk"))?;
        let size_text = std::str::from_utf8(&data[..line_end]).map_err(std::io::Error::other)?;
        let size = usize::from_str_radix(size_text.split(';').next().unwrap().trim(), 16)
            .map_err(std::io::Error::other)?;
        data = &data[line_end + 2..];
        if size == 0 {
            return Ok(out);
        }
        if data.len() < size + 2 {
            return Err(std::io::Error::other("truncated chunk body"));
        }
        out.extend_from_slice(&data[..size]);
        data = &data[size + 2..];
    }
}

/// `POST path` with `body` on a new connection to `socket`, asking for the hijack
/// (`Upgrade: tcp`); returns the connection, with a 20 s read timeout, to read the answer from.
pub fn hijack(socket: &Path, path: &str, body: &[u8]) -> UnixStream {
    let mut s = UnixStream::connect(socket).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: x\r\nUpgrade: tcp\r\nConnection: Upgrade\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    s
}

/// A response head, read byte by byte so that nothing of the stream behind it is taken.
pub fn read_head(s: &mut impl Read) -> String {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        assert_eq!(s.read(&mut byte).unwrap(), 1, "closed in the headers");
        head.push(byte[0]);
    }
    String::from_utf8_lossy(&head).into_owned()
}

/// The stdout and stderr carried by a multiplexed stream (the 1.18 doc's 8-byte frames:
/// stream type, three zero bytes, big-endian length). Panics on anything else, partial frames
/// included.
pub fn demux(mut body: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
    while !body.is_empty() {
        assert!(body.len() >= 8, "a partial frame header: {body:?}");
        assert_eq!(&body[1..4], &[0, 0, 0], "frame header {:?}", &body[..8]);
        let len = u32::from_be_bytes(body[4..8].try_into().unwrap()) as usize;
        assert!(body.len() >= 8 + len, "a partial frame");
        match body[0] {
            1 => stdout.extend_from_slice(&body[8..8 + len]),
            2 => stderr.extend_from_slice(&body[8..8 + len]),
            other => panic!("stream type {other}"),
        }
        body = &body[8 + len..];
    }
    (stdout, stderr)
}

/// A tarball from `(path, contents)` pairs.
pub fn tarball(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, data) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_mtime(1_700_000_000);
        b.append_data(&mut h, name, *data).unwrap();
    }
    b.into_inner().unwrap()
}

/// The API versions every endpoint is tested under ("" = unprefixed).
pub const VERSIONS: &[&str] = &["/v1.5", "/v1.7", "/v1.11", "/v1.15", "/v1.18", ""];

/// Builds tarballs entry by entry with names and link targets written raw, so tests can make
/// hostile archives (the tar crate's builder refuses `..`).
#[derive(Default)]
pub struct RawTar(Vec<u8>);

impl RawTar {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn entry(
        mut self,
        name: &str,
        kind: tar::EntryType,
        link: &str,
        size: u64,
        data: &[u8],
    ) -> Self {
        let mut h = tar::Header::new_gnu();
        {
            let gnu = h.as_gnu_mut().unwrap();
            gnu.name[..name.len()].copy_from_slice(name.as_bytes());
            gnu.linkname[..link.len()].copy_from_slice(link.as_bytes());
        }
        h.set_entry_type(kind);
        h.set_size(size);
        h.set_mode(0o644);
        h.set_cksum();
        self.0.extend_from_slice(h.as_bytes());
        self.0.extend_from_slice(data);
        self.0
            .extend(std::iter::repeat_n(0u8, (512 - data.len() % 512) % 512));
        self
    }

    pub fn file(self, name: &str, data: &[u8]) -> Self {
        self.entry(name, tar::EntryType::Regular, "", data.len() as u64, data)
    }

    pub fn symlink(self, name: &str, target: &str) -> Self {
        self.entry(name, tar::EntryType::Symlink, target, 0, b"")
    }

    pub fn hardlink(self, name: &str, target: &str) -> Self {
        self.entry(name, tar::EntryType::Link, target, 0, b"")
    }

    pub fn finish(mut self) -> Vec<u8> {
        self.0.extend(std::iter::repeat_n(0u8, 1024));
        self.0
    }

    /// Without the end-of-archive marker.
    pub fn unfinished(self) -> Vec<u8> {
        self.0
    }
}
