//! A registry that misbehaves on purpose, for the pull fault tests: one image (`fake/app:1`,
//! schema2) whose last layer is served as the test asks (sent with other bytes, cut short
//! once, slowly), or whose manifest fails. A real registry cannot be made to lie; this one
//! speaks only the few requests a pull makes, one per connection.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::loopback::LoopbackServer;
use crate::registry::{host_arch, sha256};

/// How the image's last layer (or its manifest) is served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Other bytes than the digest names, of the same length.
    Lying,
    /// The first answer stops half-way (its length promised whole); a `Range` request after it
    /// is answered with the rest.
    CutOnce,
    /// 64 KiB every 50 ms (2 MiB take 1.6 s).
    Slow,
    /// The manifest request fails with a 500 and no body of the registry's own.
    ManifestError,
    /// The first answer stops half-way and the connection stays open, silent; a `Range`
    /// request after it is answered with the rest.
    StallOnce,
    /// The manifest request is never answered.
    HangManifest,
    /// For a push: no blob is there (HEAD 404), an upload starts (POST 202), and its bytes
    /// are refused (PATCH 500 with the registry error `BLOB_UPLOAD_INVALID`).
    RefusesUploads,
    /// The manifest asked for by its digest is other bytes (a space more).
    ManifestNotItsDigest,
    /// The config blob is other bytes (a space more): still JSON, not its digest.
    ConfigNotItsDigest,
    /// The layer's request fails with a 500.
    LayerError,
    /// Every answer for the layer stops half-way, resumed or not.
    CutAlways,
}

pub struct FakeRegistry {
    pub port: u16,
    /// The manifest's digest.
    pub digest: String,
    /// The config's digest: the image's ID once pulled.
    pub config: String,
    /// The digest of the layer the fault is about (the last one).
    pub layer: String,
    /// Every request line served, with its `Range` header if any.
    pub requests: Arc<Mutex<Vec<String>>>,
    _server: LoopbackServer,
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

struct Served {
    manifest: Vec<u8>,
    blobs: Vec<(String, Vec<u8>)>,
    faulty: String,
    fault: Fault,
    cut_done: AtomicUsize,
}

impl FakeRegistry {
    /// Serves `fake/app:1` made of `layers` (uncompressed tars), the last one with `fault`.
    pub fn start(layers: &[Vec<u8>], fault: Fault) -> FakeRegistry {
        let diff_ids: Vec<String> = layers.iter().map(|l| sha256(l)).collect();
        let config = serde_json::to_vec(&serde_json::json!({
            "architecture": host_arch(), "os": "linux",
            "config": {"Cmd": ["sh"]},
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
        }))
        .unwrap();
        let config_digest = sha256(&config);
        let mut blobs = vec![(config_digest.clone(), config.clone())];
        let mut descriptors = Vec::new();
        for layer in layers {
            let gz = gzip(layer);
            let digest = sha256(&gz);
            descriptors.push(serde_json::json!({
                "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                "size": gz.len(), "digest": digest,
            }));
            blobs.push((digest, gz));
        }
        let manifest = serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {"mediaType": "application/vnd.docker.container.image.v1+json",
                       "size": config.len(), "digest": config_digest},
            "layers": descriptors,
        }))
        .unwrap();
        let digest = sha256(&manifest);
        let served = Arc::new(Served {
            faulty: blobs.last().unwrap().0.clone(),
            manifest,
            blobs,
            fault,
            cut_done: AtomicUsize::new(0),
        });
        let layer = served.faulty.clone();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let server = {
            let requests = requests.clone();
            LoopbackServer::start(move |conn, stop| {
                let _ = serve(conn, &served, &requests, stop);
            })
        };
        FakeRegistry {
            port: server.port,
            digest,
            config: config_digest,
            layer,
            requests,
            _server: server,
        }
    }

    /// The image's name: `127.0.0.1:<port>/fake/app:1`.
    pub fn image(&self) -> String {
        format!("127.0.0.1:{}/fake/app:1", self.port)
    }
}

fn serve(
    conn: TcpStream,
    served: &Served,
    requests: &Mutex<Vec<String>>,
    stop: &AtomicBool,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut range = None;
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h)? == 0 || h == "\r\n" {
            break;
        }
        if let Some(v) = h.to_ascii_lowercase().strip_prefix("range: bytes=") {
            range = v.trim().trim_end_matches('-').parse::<usize>().ok();
        }
    }
    let path = line.split_whitespace().nth(1).unwrap_or("").to_string();
    requests.lock().unwrap().push(match range {
        Some(r) => format!("{path} from {r}"),
        None => path.clone(),
    });
    let mut out = conn;
    let head = |out: &mut TcpStream, status: &str, kind: &str, len: usize| {
        write!(
            out,
            "HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {len}\r\nConnection: close\r\n\r\n"
        )
    };
    if path == "/v2/" {
        head(&mut out, "200 OK", "application/json", 2)?;
        return out.write_all(b"{}");
    }
    if served.fault == Fault::RefusesUploads {
        let method = line.split_whitespace().next().unwrap_or("");
        return match method {
            "HEAD" => head(&mut out, "404 Not Found", "text/plain", 0),
            "POST" if path.contains("/blobs/uploads/") => write!(
                out,
                "HTTP/1.1 202 Accepted\r\nLocation: /v2/fake/app/blobs/uploads/u1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            ),
            _ => {
                let msg = br#"{"errors":[{"code":"BLOB_UPLOAD_INVALID","message":"blob upload invalid"}]}"#;
                head(&mut out, "500 Internal Server Error", "application/json", msg.len())?;
                out.write_all(msg)
            }
        };
    }
    let hang = |stop: &AtomicBool| {
        while !stop.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    if path.starts_with("/v2/fake/app/manifests/") {
        if served.fault == Fault::HangManifest {
            hang(stop);
            return Ok(());
        }
        if served.fault == Fault::ManifestError {
            head(&mut out, "500 Internal Server Error", "text/plain", 0)?;
            return Ok(());
        }
        let mut manifest = served.manifest.clone();
        if served.fault == Fault::ManifestNotItsDigest {
            manifest.push(b' ');
        }
        head(
            &mut out,
            "200 OK",
            "application/vnd.docker.distribution.manifest.v2+json",
            manifest.len(),
        )?;
        return out.write_all(&manifest);
    }
    let Some((digest, blob)) = path
        .strip_prefix("/v2/fake/app/blobs/")
        .and_then(|d| served.blobs.iter().find(|(b, _)| b == d))
    else {
        head(&mut out, "404 Not Found", "text/plain", 0)?;
        return Ok(());
    };
    if served.fault == Fault::ConfigNotItsDigest && *digest == served.blobs[0].0 {
        let mut other = blob.clone();
        other.push(b' ');
        head(&mut out, "200 OK", "application/octet-stream", other.len())?;
        return out.write_all(&other);
    }
    if *digest != served.faulty {
        head(&mut out, "200 OK", "application/octet-stream", blob.len())?;
        return out.write_all(blob);
    }
    match served.fault {
        Fault::Lying => {
            let other: Vec<u8> = blob.iter().map(|b| b ^ 0x5a).collect();
            head(&mut out, "200 OK", "application/octet-stream", other.len())?;
            out.write_all(&other)
        }
        Fault::StallOnce
            if range.is_none() && served.cut_done.fetch_add(1, Ordering::SeqCst) == 0 =>
        {
            head(&mut out, "200 OK", "application/octet-stream", blob.len())?;
            out.write_all(&blob[..blob.len() / 2])?;
            out.flush()?;
            hang(stop);
            Ok(())
        }
        Fault::CutOnce | Fault::StallOnce => match range {
            Some(from) => {
                write!(
                    out,
                    "HTTP/1.1 206 Partial Content\r\nContent-Length: {}\r\nContent-Range: bytes {from}-{}/{}\r\nConnection: close\r\n\r\n",
                    blob.len() - from,
                    blob.len() - 1,
                    blob.len()
                )?;
                out.write_all(&blob[from..])
            }
            None if served.cut_done.fetch_add(1, Ordering::SeqCst) == 0 => {
                head(&mut out, "200 OK", "application/octet-stream", blob.len())?;
                out.write_all(&blob[..blob.len() / 2])?;
                out.flush()
                // Dropped here: the client sees the body end early.
            }
            None => {
                head(&mut out, "200 OK", "application/octet-stream", blob.len())?;
                out.write_all(blob)
            }
        },
        Fault::Slow => {
            head(&mut out, "200 OK", "application/octet-stream", blob.len())?;
            for piece in blob.chunks(64 * 1024) {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                out.write_all(piece)?;
                std::thread::sleep(Duration::from_millis(50));
            }
            Ok(())
        }
        Fault::LayerError => head(&mut out, "500 Internal Server Error", "text/plain", 0),
        Fault::CutAlways => {
            let from = range.unwrap_or(0);
            let rest = &blob[from..];
            match range {
                Some(_) => write!(
                    out,
                    "HTTP/1.1 206 Partial Content\r\nContent-Length: {}\r\nContent-Range: bytes {from}-{}/{}\r\nConnection: close\r\n\r\n",
                    rest.len(),
                    blob.len() - 1,
                    blob.len()
                )?,
                None => head(&mut out, "200 OK", "application/octet-stream", rest.len())?,
            }
            out.write_all(&rest[..rest.len() / 2])?;
            out.flush()
        }
        Fault::ManifestError
        | Fault::HangManifest
        | Fault::RefusesUploads
        | Fault::ManifestNotItsDigest
        | Fault::ConfigNotItsDigest => {
            head(&mut out, "200 OK", "application/octet-stream", blob.len())?;
            out.write_all(blob)
        }
    }
}

/// A tar of one file of `size` bytes that gzip cannot shrink.
pub fn noise_layer(name: &str, size: usize) -> Vec<u8> {
    crate::tarball(&[(name, &crate::registry::noise(7, size))])
}

/// Reads what is left of a response into a string (for a stream cut off by the test).
pub fn read_some(s: &mut impl Read, limit: usize) -> String {
    let mut buf = vec![0u8; limit];
    let n = s.read(&mut buf).unwrap_or(0);
    String::from_utf8_lossy(&buf[..n]).into_owned()
}
