//! What the TLS tests stand on: a network namespace with a veth to the host (Docker treats
//! loopback registries as insecure always, so certificates are only checked on another
//! address), a test CA that issues server and client certificates (openssl), and servers
//! inside the namespace: a registry over TLS, a static file server over HTTPS. Everything is
//! removed when dropped.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

fn run(cmd: &mut Command) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A namespace reached from the host over a veth pair: the host side is `host_ip`, the
/// namespace side `ns_ip` (a /30 of 10.250.0.0/16, outside the test bridges' 10.200–249).
pub struct Netns {
    pub name: String,
    pub host_ip: String,
    pub ns_ip: String,
}

impl Netns {
    pub fn create() -> Netns {
        let pid = std::process::id();
        let n = pid % 16_000;
        let name = format!("berth-tls-{pid}");
        let (a, b) = (n / 64, (n % 64) * 4);
        let host_ip = format!("10.250.{a}.{}", b + 1);
        let ns_ip = format!("10.250.{a}.{}", b + 2);
        let (vh, vn) = (format!("bth{n}"), format!("btn{n}"));
        let ns = Netns {
            name: name.clone(),
            host_ip: host_ip.clone(),
            ns_ip: ns_ip.clone(),
        };
        run(Command::new("ip").args(["netns", "add", &name]));
        run(Command::new("ip").args([
            "link", "add", &vh, "type", "veth", "peer", "name", &vn, "netns", &name,
        ]));
        run(Command::new("ip").args(["addr", "add", &format!("{host_ip}/30"), "dev", &vh]));
        run(Command::new("ip").args(["link", "set", &vh, "up"]));
        for args in [
            vec!["addr", "add", &format!("{ns_ip}/30"), "dev", &vn],
            vec!["link", "set", &vn, "up"],
            vec!["link", "set", "lo", "up"],
        ] {
            run(Command::new("ip").args(["-n", &name]).args(args));
        }
        ns
    }

    /// `program` run inside the namespace.
    pub fn command(&self, program: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.name, program]);
        c
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        // The veth goes with the namespace.
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

/// A CA of the test's own, and the certificates it issues.
pub struct TestCa {
    pub dir: tempfile::TempDir,
}

impl TestCa {
    pub fn create() -> TestCa {
        let dir = tempfile::tempdir().unwrap();
        run(Command::new("openssl")
            .args([
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            ])
            .args(["-subj", "/CN=berth-test-ca", "-keyout"])
            .arg(dir.path().join("ca.key"))
            .arg("-out")
            .arg(dir.path().join("ca.crt")));
        TestCa { dir }
    }

    pub fn cert(&self) -> PathBuf {
        self.dir.path().join("ca.crt")
    }

    /// A certificate `name` signed by the CA with the extension lines `ext` (such as
    /// `subjectAltName=IP:10.250.0.2`); returns its certificate and key files.
    pub fn issue(&self, name: &str, ext: &str) -> (PathBuf, PathBuf) {
        let d = self.dir.path();
        let (key, csr, crt, extfile) = (
            d.join(format!("{name}.key")),
            d.join(format!("{name}.csr")),
            d.join(format!("{name}.crt")),
            d.join(format!("{name}.ext")),
        );
        std::fs::write(&extfile, ext).unwrap();
        run(Command::new("openssl")
            .args(["req", "-newkey", "rsa:2048", "-nodes", "-subj"])
            .arg(format!("/CN={name}"))
            .arg("-keyout")
            .arg(&key)
            .arg("-out")
            .arg(&csr));
        run(Command::new("openssl")
            .args(["x509", "-req", "-days", "1", "-CAcreateserial", "-in"])
            .arg(&csr)
            .arg("-CA")
            .arg(self.cert())
            .arg("-CAkey")
            .arg(d.join("ca.key"))
            .arg("-extfile")
            .arg(&extfile)
            .arg("-out")
            .arg(&crt));
        (crt, key)
    }
}

/// A server process in a namespace, stopped when dropped.
pub struct NsServer {
    child: Child,
    pub host: String,
    _dir: tempfile::TempDir,
}

impl Drop for NsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn wait_listening(host: &str) {
    crate::audit::eventually(&format!("{host} listens"), Duration::from_secs(20), || {
        TcpStream::connect(host).is_ok()
    });
}

/// Debian's `docker-registry` over TLS at `ns`'s address (none: loopback), `port`, serving
/// the storage under `storage` (another registry's, so that the test can fill it over plain
/// HTTP); with `client_ca`, it asks clients for a certificate that CA signed.
pub fn tls_registry(
    ns: Option<&Netns>,
    port: u16,
    storage: &Path,
    (cert, key): (&Path, &Path),
    client_ca: Option<&Path>,
) -> NsServer {
    let dir = tempfile::tempdir().unwrap();
    let host = format!("{}:{port}", ns.map_or("127.0.0.1", |n| n.ns_ip.as_str()));
    let clientcas = client_ca
        .map(|ca| format!("    clientcas:\n      - {}\n", ca.display()))
        .unwrap_or_default();
    let config = format!(
        "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: {host}\n  tls:\n    certificate: {}\n    key: {}\n{clientcas}",
        storage.display(),
        cert.display(),
        key.display()
    );
    std::fs::write(dir.path().join("config.yml"), config).unwrap();
    let log = std::fs::File::create(dir.path().join("registry.log")).unwrap();
    let mut command = match ns {
        Some(ns) => ns.command("docker-registry"),
        None => Command::new("docker-registry"),
    };
    let child = command
        .arg("serve")
        .arg(dir.path().join("config.yml"))
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("docker-registry");
    wait_listening(&host);
    NsServer {
        child,
        host,
        _dir: dir,
    }
}

/// The files of `root` served over HTTPS at `ns`'s address, `port` (`openssl s_server -WWW`).
pub fn https_files(ns: &Netns, port: u16, root: &Path, (cert, key): (&Path, &Path)) -> NsServer {
    let host = format!("{}:{port}", ns.ns_ip);
    let child = ns
        .command("openssl")
        .args(["s_server", "-quiet", "-WWW", "-accept"])
        .arg(&host)
        .arg("-cert")
        .arg(cert)
        .arg("-key")
        .arg(key)
        .current_dir(root)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("openssl s_server");
    wait_listening(&host);
    NsServer {
        child,
        host,
        _dir: tempfile::tempdir().unwrap(),
    }
}
