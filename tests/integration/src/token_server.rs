//! A token server for a registry with Bearer auth, as Docker Hub's `auth.docker.io` works
//! (Debian packages none): it checks a user's password (or a refresh token it gave at login)
//! and hands out RS256 JWTs naming the access asked for, signed with a key whose self-signed
//! certificate the registry trusts (`rootcertbundle`). Keys and signatures are made with the
//! `openssl` program.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::Command;
use std::sync::{Arc, Mutex};

use base64::Engine as _;

use crate::loopback::LoopbackServer;

pub const SERVICE: &str = "berth-test-registry";
pub const ISSUER: &str = "berth-test-issuer";

pub struct TokenServer {
    pub port: u16,
    pub dir: tempfile::TempDir,
    signer: Arc<Signer>,
    /// Every request line served.
    pub requests: Arc<Mutex<Vec<String>>>,
    _server: LoopbackServer,
}

struct Signer {
    key: std::path::PathBuf,
    cert_der: Vec<u8>,
    user: String,
    password: String,
}

fn b64(data: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(data)
}

impl Signer {
    /// A JWT for `subject` granting `access` (repository name, actions).
    fn mint(&self, subject: &str, access: &[(String, Vec<String>)]) -> String {
        let now = jiff::Timestamp::now().as_second();
        let header = serde_json::json!({
            "alg": "RS256", "typ": "JWT",
            "x5c": [base64::engine::general_purpose::STANDARD.encode(&self.cert_der)],
        });
        let access: Vec<_> = access
            .iter()
            .map(|(name, actions)| {
                serde_json::json!({"type": "repository", "name": name, "actions": actions})
            })
            .collect();
        let claims = serde_json::json!({
            "iss": ISSUER, "sub": subject, "aud": SERVICE,
            "exp": now + 300, "nbf": now - 10, "iat": now,
            "jti": format!("{:016x}", rand_u64()),
            "access": access,
        });
        let input = format!(
            "{}.{}",
            b64(header.to_string().as_bytes()),
            b64(claims.to_string().as_bytes())
        );
        let mut sign = Command::new("openssl")
            .args(["dgst", "-sha256", "-binary", "-sign"])
            .arg(&self.key)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("openssl");
        sign.stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        let out = sign.wait_with_output().unwrap();
        assert!(out.status.success(), "openssl dgst -sign");
        format!("{input}.{}", b64(&out.stdout))
    }
}

fn rand_u64() -> u64 {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    t.as_nanos() as u64 ^ (std::process::id() as u64) << 32
}

impl TokenServer {
    /// A token server that knows `user` with `password`.
    pub fn start(user: &str, password: &str) -> TokenServer {
        let dir = tempfile::tempdir().unwrap();
        let (key, cert) = (dir.path().join("key.pem"), dir.path().join("cert.pem"));
        let made = Command::new("openssl")
            .args([
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            ])
            .args(["-subj", "/CN=berth-test-token"])
            .arg("-keyout")
            .arg(&key)
            .arg("-out")
            .arg(&cert)
            .output()
            .expect("openssl");
        assert!(
            made.status.success(),
            "{}",
            String::from_utf8_lossy(&made.stderr)
        );
        let der = Command::new("openssl")
            .args(["x509", "-outform", "der", "-in"])
            .arg(&cert)
            .output()
            .unwrap();
        assert!(der.status.success());
        let signer = Arc::new(Signer {
            key,
            cert_der: der.stdout,
            user: user.to_string(),
            password: password.to_string(),
        });
        let requests = Arc::new(Mutex::new(Vec::new()));
        let server = {
            let (requests, signer) = (requests.clone(), signer.clone());
            LoopbackServer::start(move |conn, _| {
                let _ = serve(conn, &signer, &requests);
            })
        };
        TokenServer {
            port: server.port,
            dir,
            signer,
            requests,
            _server: server,
        }
    }

    /// The registry's `auth:` section for this server.
    pub fn registry_config(&self) -> String {
        format!(
            "auth:\n  token:\n    realm: http://127.0.0.1:{}/token\n    service: {SERVICE}\n    issuer: {ISSUER}\n    rootcertbundle: {}\n",
            self.port,
            self.dir.path().join("cert.pem").display()
        )
    }

    /// A token with pull and push on `repo`, for the test's own requests.
    pub fn admin_token(&self, repo: &str) -> String {
        self.signer.mint(
            "admin",
            &[(repo.to_string(), vec!["pull".into(), "push".into()])],
        )
    }
}

fn serve(
    conn: std::net::TcpStream,
    signer: &Signer,
    requests: &Mutex<Vec<String>>,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let (mut basic, mut length) = (None, 0usize);
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h)? == 0 || h == "\r\n" {
            break;
        }
        let lower = h.to_ascii_lowercase();
        if lower.starts_with("authorization: basic ") {
            basic = base64::engine::general_purpose::STANDARD
                .decode(&h.trim().as_bytes()["authorization: basic ".len()..])
                .ok()
                .and_then(|b| String::from_utf8(b).ok());
        }
        if let Some(v) = lower.strip_prefix("content-length:") {
            length = v.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0u8; length];
    reader.read_exact(&mut body)?;
    requests.lock().unwrap().push(line.trim().to_string());
    let target = line.split_whitespace().nth(1).unwrap_or("");
    let query = if line.starts_with("POST") {
        String::from_utf8_lossy(&body).into_owned()
    } else {
        target
            .split_once('?')
            .map(|(_, q)| q.to_string())
            .unwrap_or_default()
    };
    let pairs: Vec<(String, String)> = form_pairs(&query);
    let get = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let refresh = format!("refresh-{}", signer.user);
    let password_ok = basic.as_deref() == Some(&format!("{}:{}", signer.user, signer.password));
    let refresh_ok = get("grant_type").as_deref() == Some("refresh_token")
        && get("refresh_token").as_deref() == Some(&refresh);
    let who = (password_ok || refresh_ok).then(|| signer.user.clone());
    let mut out = conn;
    if basic.is_some() && who.is_none() {
        let msg = r#"{"details":"incorrect username or password"}"#;
        return write!(
            out,
            "HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{msg}",
            msg.len()
        );
    }
    // What was asked for, granted to the known user; nothing to anyone else.
    let access: Vec<(String, Vec<String>)> = match &who {
        Some(_) => pairs
            .iter()
            .filter(|(n, _)| n == "scope")
            // Several scopes: a `scope` each (GET), or one joined by spaces (POST).
            .flat_map(|(_, s)| s.split(' '))
            .filter_map(|s| {
                let mut parts = s.splitn(3, ':');
                let (_, name, actions) = (parts.next()?, parts.next()?, parts.next()?);
                Some((
                    name.to_string(),
                    actions.split(',').map(str::to_string).collect(),
                ))
            })
            .collect(),
        None => Vec::new(),
    };
    let token = signer.mint(who.as_deref().unwrap_or(""), &access);
    let mut answer = serde_json::json!({"token": token, "access_token": token, "expires_in": 300});
    if who.is_some() && get("offline_token").as_deref() == Some("true") {
        answer["refresh_token"] = refresh.into();
    }
    let body = answer.to_string();
    write!(
        out,
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

fn form_pairs(query: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}
