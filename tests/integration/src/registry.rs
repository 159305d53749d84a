//! A registry for the pull and push tests: Debian's `docker-registry` (distribution 2.8) on a
//! free loopback port with storage of its own, stopped and removed when dropped. Images are
//! put in through the registry's own HTTP API (monolithic blob uploads, manifest PUTs), so a
//! test needs no other engine to make them.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use sha2::Digest as _;

pub struct Registry {
    child: Child,
    pub port: u16,
    /// `user:password` when the registry asks for Basic auth.
    basic: Option<(String, String)>,
    /// The token server of a registry that asks for Bearer tokens.
    pub token: Option<crate::token_server::TokenServer>,
    pub dir: tempfile::TempDir,
}

/// An answer of the registry: status, headers (lower-cased names), body.
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

pub fn sha256(data: &[u8]) -> String {
    format!("sha256:{}", hex(&sha2::Sha256::digest(data)))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `size` bytes that gzip cannot shrink, different for each `seed`.
pub fn noise(seed: u64, size: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..size)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

/// The platform names the registry's images use for this host.
pub fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

impl Registry {
    /// An open registry.
    pub fn start() -> Registry {
        Self::start_with(None, None)
    }

    /// A registry that asks for `user`:`password` (htpasswd, bcrypt).
    pub fn with_basic_auth(user: &str, password: &str) -> Registry {
        Self::start_with(Some((user.to_string(), password.to_string())), None)
    }

    /// A registry that asks for Bearer tokens from a token server that knows `user`.
    pub fn with_token_auth(user: &str, password: &str) -> Registry {
        let server = crate::token_server::TokenServer::start(user, password);
        Self::start_with(None, Some(server))
    }

    fn start_with(
        basic: Option<(String, String)>,
        token: Option<crate::token_server::TokenServer>,
    ) -> Registry {
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let auth = match &basic {
            Some((user, password)) => {
                let out = Command::new("htpasswd")
                    .args(["-Bbn", user, password])
                    .output()
                    .expect("htpasswd (apache2-utils)");
                assert!(out.status.success());
                std::fs::write(dir.path().join("htpasswd"), &out.stdout).unwrap();
                format!(
                    "auth:\n  htpasswd:\n    realm: berth-test\n    path: {}\n",
                    dir.path().join("htpasswd").display()
                )
            }
            None => token
                .as_ref()
                .map(|t| t.registry_config())
                .unwrap_or_default(),
        };
        let config = format!(
            "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n{auth}",
            dir.path().join("data").display()
        );
        std::fs::write(dir.path().join("config.yml"), config).unwrap();
        let log = std::fs::File::create(dir.path().join("registry.log")).unwrap();
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(dir.path().join("config.yml"))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("docker-registry (Debian's package)");
        let r = Registry {
            child,
            port,
            basic,
            token,
            dir,
        };
        crate::audit::eventually("the registry listens", Duration::from_secs(20), || {
            TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        r
    }

    /// `127.0.0.1:<port>`, as image names spell the registry.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default()
    }

    /// One request; `target` is a path or the absolute URL a `Location` gave.
    pub fn request(
        &self,
        method: &str,
        target: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Answer {
        let path = target
            .strip_prefix(&format!("http://{}", self.host()))
            .unwrap_or(target);
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Length: {}\r\n",
            self.host(),
            body.len()
        );
        if let Some((user, password)) = &self.basic {
            use base64::Engine as _;
            head.push_str(&format!(
                "Authorization: Basic {}\r\n",
                base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
            ));
        }
        if let Some(t) = &self.token {
            // The test's own requests carry a token for the repository they name.
            let repo = path
                .trim_start_matches("/v2/")
                .split(['?'])
                .next()
                .unwrap_or("");
            let repo = ["/blobs/", "/manifests/"]
                .iter()
                .find_map(|m| repo.split_once(m).map(|(r, _)| r))
                .unwrap_or(repo);
            head.push_str(&format!(
                "Authorization: Bearer {}\r\n",
                t.admin_token(repo)
            ));
        }
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str("\r\n");
        s.write_all(head.as_bytes()).unwrap();
        s.write_all(body).unwrap();
        let mut raw = Vec::new();
        s.read_to_end(&mut raw).unwrap();
        let split = raw
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("an HTTP head")
            + 4;
        let text = String::from_utf8_lossy(&raw[..split]).to_string();
        let mut lines = text.split("\r\n");
        let status = lines.next().unwrap()[9..12].parse().unwrap();
        let headers = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        Answer {
            status,
            headers,
            body: raw[split..].to_vec(),
        }
    }

    /// Uploads `data` as a blob of `repo` in one request; returns its digest.
    pub fn push_blob(&self, repo: &str, data: &[u8]) -> String {
        let digest = sha256(data);
        let start = self.request("POST", &format!("/v2/{repo}/blobs/uploads/"), &[], b"");
        assert_eq!(
            start.status,
            202,
            "{}",
            String::from_utf8_lossy(&start.body)
        );
        let location = start.header("location").unwrap().to_string();
        let sep = if location.contains('?') { '&' } else { '?' };
        let done = self.request(
            "PUT",
            &format!("{location}{sep}digest={digest}"),
            &[("Content-Type", "application/octet-stream")],
            data,
        );
        assert_eq!(done.status, 201, "{}", String::from_utf8_lossy(&done.body));
        digest
    }

    /// Puts a manifest under `reference` (a tag or digest); returns its digest.
    pub fn push_manifest(
        &self,
        repo: &str,
        reference: &str,
        media_type: &str,
        body: &[u8],
    ) -> String {
        let r = self.request(
            "PUT",
            &format!("/v2/{repo}/manifests/{reference}"),
            &[("Content-Type", media_type)],
            body,
        );
        assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
        sha256(body)
    }

    /// Pushes a Docker schema2 image of `layers` (uncompressed tars, gzipped here) for this
    /// host's platform as `repo:tag`; returns the manifest's digest and the config's.
    pub fn push_image(&self, repo: &str, tag: &str, layers: &[Vec<u8>]) -> (String, String) {
        let pushed = self.push_image_as(repo, tag, layers, host_arch(), false);
        (pushed.manifest, pushed.config)
    }

    /// Pushes an image of `layers` for `linux/<arch>` under `reference` (a tag, or its own
    /// digest when empty), as Docker schema2 or (`oci`) OCI media types.
    pub fn push_image_as(
        &self,
        repo: &str,
        reference: &str,
        layers: &[Vec<u8>],
        arch: &str,
        oci: bool,
    ) -> Pushed {
        let (manifest_type, config_type, layer_type) = if oci {
            (
                "application/vnd.oci.image.manifest.v1+json",
                "application/vnd.oci.image.config.v1+json",
                "application/vnd.oci.image.layer.v1.tar+gzip",
            )
        } else {
            (
                "application/vnd.docker.distribution.manifest.v2+json",
                "application/vnd.docker.container.image.v1+json",
                "application/vnd.docker.image.rootfs.diff.tar.gzip",
            )
        };
        let diff_ids: Vec<String> = layers.iter().map(|l| sha256(l)).collect();
        let config = serde_json::json!({
            "architecture": arch,
            "os": "linux",
            "created": "2026-12-01T00:00:00Z",
            // Images of the same layers pushed under other tags are other images.
            "comment": reference,
            "config": {"Cmd": ["sh"], "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]},
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
            "history": layers.iter().map(|_| serde_json::json!({"created_by": "test layer"})).collect::<Vec<_>>(),
        });
        let config = serde_json::to_vec(&config).unwrap();
        let config_digest = self.push_blob(repo, &config);
        let mut descriptors = Vec::new();
        for layer in layers {
            let gz = gzip(layer);
            let digest = self.push_blob(repo, &gz);
            descriptors.push(serde_json::json!({
                "mediaType": layer_type,
                "size": gz.len(),
                "digest": digest,
            }));
        }
        let manifest = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": manifest_type,
            "config": {"mediaType": config_type, "size": config.len(), "digest": config_digest},
            "layers": descriptors,
        });
        let body = serde_json::to_vec(&manifest).unwrap();
        let digest = sha256(&body);
        let reference = if reference.is_empty() {
            digest.as_str()
        } else {
            reference
        };
        self.push_manifest(repo, reference, manifest_type, &body);
        Pushed {
            manifest: digest,
            config: config_digest,
            size: body.len(),
            media_type: manifest_type,
        }
    }

    /// Pushes an index of `images` (one per architecture) as `repo:tag`; returns its digest.
    pub fn push_index(
        &self,
        repo: &str,
        tag: &str,
        images: &[(&Pushed, &str)],
        oci: bool,
    ) -> String {
        let media_type = if oci {
            "application/vnd.oci.image.index.v1+json"
        } else {
            "application/vnd.docker.distribution.manifest.list.v2+json"
        };
        let manifests: Vec<serde_json::Value> = images
            .iter()
            .map(|(p, arch)| {
                serde_json::json!({
                    "mediaType": p.media_type,
                    "size": p.size,
                    "digest": p.manifest,
                    "platform": {"architecture": arch, "os": "linux"},
                })
            })
            .collect();
        let index = serde_json::json!({"schemaVersion": 2, "mediaType": media_type, "manifests": manifests});
        self.push_manifest(repo, tag, media_type, &serde_json::to_vec(&index).unwrap())
    }
}

/// An image put in a registry.
pub struct Pushed {
    pub manifest: String,
    pub config: String,
    pub size: usize,
    pub media_type: &'static str,
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
