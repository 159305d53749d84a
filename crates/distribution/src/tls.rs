//! TLS to registries as Docker sets it up: the system's roots (which honour `SSL_CERT_FILE`
//! and `SSL_CERT_DIR`), plus for each registry host a `certs.d/<host[:port]>/` directory of
//! `*.crt` CAs and `*.cert` + `*.key` client certificate pairs; insecure registries
//! (`--insecure-registry`, and loopback always) are spoken to without checking certificates
//! and over plain HTTP when TLS fails.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

/// One `--insecure-registry` entry: a `host[:port]`, or a CIDR its IP addresses fall in.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Insecure {
    Host(String),
    Cidr(IpAddr, u8),
}

/// The daemon's TLS settings for registries (and for `fromSrc` downloads, which use only
/// the system's roots).
#[derive(Debug, Clone)]
pub struct TlsSettings {
    /// Parsed once: a client per pull or push starts from a copy.
    system_roots: Arc<RootCertStore>,
    /// Where `<host[:port]>/` directories are looked for, in order (Docker's
    /// `/etc/docker/certs.d`, then berth's own).
    certs_dirs: Vec<PathBuf>,
    insecure: Vec<Insecure>,
}

impl PartialEq for TlsSettings {
    fn eq(&self, other: &Self) -> bool {
        self.certs_dirs == other.certs_dirs && self.insecure == other.insecure
    }
}

impl Eq for TlsSettings {}

impl Default for TlsSettings {
    fn default() -> Self {
        TlsSettings {
            system_roots: Arc::new(RootCertStore::empty()),
            certs_dirs: Vec::new(),
            insecure: Vec::new(),
        }
    }
}

impl TlsSettings {
    /// Reads the system's roots once; `insecure` entries as `--insecure-registry` takes them.
    pub fn new(certs_dirs: Vec<PathBuf>, insecure: &[String]) -> Result<TlsSettings, String> {
        let found = rustls_native_certs::load_native_certs();
        for e in &found.errors {
            tracing::warn!(error = %e, "reading the system's CA certificates");
        }
        let insecure = insecure
            .iter()
            .map(|e| parse_insecure(e))
            .collect::<Result<_, _>>()?;
        let mut roots = RootCertStore::empty();
        let (added, ignored) = roots.add_parsable_certificates(found.certs);
        tracing::debug!(added, ignored, "the system's CA certificates");
        Ok(TlsSettings {
            system_roots: Arc::new(roots),
            certs_dirs,
            insecure,
        })
    }

    /// Whether the registry `domain` (`host[:port]`) may be spoken to without checking its
    /// certificate: loopback always (as Docker), else when an `--insecure-registry` entry
    /// names it exactly (`host` is not `host:443`, as Docker's index configs are keyed) or
    /// its address is in an entry's CIDR. A host name is resolved for the CIDRs, as moby's
    /// `isCIDRMatch` does (a name that does not resolve matches none), off the runtime's
    /// workers.
    pub async fn is_insecure(&self, domain: &str) -> bool {
        let host = host_of(domain);
        let ip = host.parse::<IpAddr>().ok();
        if host == "localhost" || ip.is_some_and(|ip| ip.is_loopback()) {
            return true;
        }
        if self
            .insecure
            .iter()
            .any(|e| matches!(e, Insecure::Host(h) if h == domain))
        {
            return true;
        }
        let cidrs: Vec<(IpAddr, u8)> = self
            .insecure
            .iter()
            .filter_map(|e| match e {
                Insecure::Cidr(net, bits) => Some((*net, *bits)),
                Insecure::Host(_) => None,
            })
            .collect();
        if cidrs.is_empty() {
            return false;
        }
        let addresses: Vec<IpAddr> = match ip {
            Some(ip) => vec![ip],
            None => tokio::net::lookup_host((host, 0))
                .await
                .map(|found| found.map(|a| a.ip()).collect())
                .unwrap_or_default(),
        };
        addresses
            .iter()
            .any(|ip| cidrs.iter().any(|(net, bits)| in_cidr(*ip, *net, *bits)))
    }

    /// The TLS client setup for the registry `domain`: the system's roots and its
    /// `certs.d` CAs, its client certificate if one is there; `insecure`, no checks.
    pub fn client_config(&self, domain: &str, insecure: bool) -> Result<ClientConfig, String> {
        let provider = Arc::new(provider());
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?;
        let builder = if insecure {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(NoVerification(provider)))
        } else {
            let mut roots = (*self.system_roots).clone();
            for ca in self.host_files(domain, "crt") {
                let certs = CertificateDer::pem_file_iter(&ca)
                    .and_then(|i| i.collect::<Result<Vec<_>, _>>())
                    .map_err(|e| format!("read {}: {e}", ca.display()))?;
                roots.add_parsable_certificates(certs);
            }
            builder.with_root_certificates(roots)
        };
        // A client certificate: `<name>.cert` with `<name>.key` beside it, as Docker pairs them.
        if let Some(cert) = self.host_files(domain, "cert").into_iter().next() {
            let key = cert.with_extension("key");
            if !key.exists() {
                return Err(format!(
                    "missing key {} for client certificate {}",
                    key.display(),
                    cert.display()
                ));
            }
            let chain = CertificateDer::pem_file_iter(&cert)
                .and_then(|i| i.collect::<Result<Vec<_>, _>>())
                .map_err(|e| format!("read {}: {e}", cert.display()))?;
            let key = PrivateKeyDer::from_pem_file(&key)
                .map_err(|e| format!("read {}: {e}", key.display()))?;
            return builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| format!("client certificate {}: {e}", cert.display()));
        }
        Ok(builder.with_no_client_auth())
    }

    /// The system's roots only: what a `fromSrc=https://…` download checks against.
    pub fn web_config(&self) -> ClientConfig {
        let roots = (*self.system_roots).clone();
        ClientConfig::builder_with_provider(Arc::new(provider()))
            .with_safe_default_protocol_versions()
            .expect("ring supports the default versions")
            .with_root_certificates(roots)
            .with_no_client_auth()
    }

    /// Every file of `domain`'s `certs.d` directories with what identifies its contents
    /// (followed through symlinks): what a client made for it was made from.
    pub fn certs_state(&self, domain: &str) -> crate::connections::CertsState {
        use std::os::unix::fs::MetadataExt;
        let mut out = Vec::new();
        for dir in &self.certs_dirs {
            let mut files: Vec<_> = std::fs::read_dir(dir.join(domain))
                .into_iter()
                .flatten()
                .flatten()
                .map(|e| {
                    let path = e.path();
                    // The change time too: a copy that keeps the modification time (`cp -p`)
                    // or a file rewritten within one tick still changes it.
                    let seen = std::fs::metadata(&path).ok().map(|m| {
                        (
                            m.dev(),
                            m.ino(),
                            m.size(),
                            m.mtime(),
                            m.mtime_nsec(),
                            m.ctime(),
                            m.ctime_nsec(),
                        )
                    });
                    (path, seen)
                })
                .collect();
            files.sort();
            out.extend(files);
        }
        out
    }

    /// The files ending in `.ext` of `domain`'s `certs.d` directories, in name order.
    fn host_files(&self, domain: &str, ext: &str) -> Vec<PathBuf> {
        self.certs_state(domain)
            .into_iter()
            .map(|(path, _)| path)
            .filter(|p| p.extension().is_some_and(|x| x == ext))
            .collect()
    }
}

/// The host of `host[:port]` (`[v6]:port` too).
fn host_of(domain: &str) -> &str {
    if let Some(rest) = domain.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match domain.rsplit_once(':') {
        Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) && !h.contains(':') => h,
        _ => domain,
    }
}

fn parse_insecure(entry: &str) -> Result<Insecure, String> {
    let entry = entry
        .trim()
        .trim_start_matches("http://")
        .trim_start_matches("https://")
        .trim_end_matches('/');
    if let Some((net, bits)) = entry.split_once('/') {
        let net: IpAddr = net
            .parse()
            .map_err(|_| format!("invalid insecure registry {entry:?}: not a CIDR"))?;
        let max = if net.is_ipv4() { 32 } else { 128 };
        let bits: u8 = bits
            .parse()
            .ok()
            .filter(|b| *b <= max)
            .ok_or_else(|| format!("invalid insecure registry {entry:?}: bad prefix length"))?;
        return Ok(Insecure::Cidr(net, bits));
    }
    if entry.is_empty() || entry.contains('/') {
        return Err(format!("invalid insecure registry {entry:?}"));
    }
    Ok(Insecure::Host(entry.to_string()))
}

fn in_cidr(ip: IpAddr, net: IpAddr, bits: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let mask = u32::MAX.checked_shl(32 - bits as u32).unwrap_or(0);
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let mask = u128::MAX.checked_shl(128 - bits as u32).unwrap_or(0);
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}

/// Accepts any certificate (an insecure registry), still checking the handshake's
/// signatures so that the connection is at least to whoever holds the key it showed.
#[derive(Debug)]
struct NoVerification(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for NoVerification {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// The crypto of every TLS connection: ring, which builds without CMake. (rustls marks it
/// deprecated for lacking post-quantum key exchange, which registries do not ask for.)
#[allow(deprecated)]
fn provider() -> rustls::crypto::CryptoProvider {
    rustls::crypto::ring::default_provider()
}

/// The certs.d directories Docker reads, then berth's own.
pub fn default_certs_dirs() -> Vec<PathBuf> {
    vec![
        Path::new("/etc/docker/certs.d").to_path_buf(),
        Path::new("/etc/berth/certs.d").to_path_buf(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn insecure_registries_are_matched_as_docker_matches_them() {
        let t = TlsSettings::new(
            Vec::new(),
            &[
                "registry.internal:5000".to_string(),
                "10.20.0.0/16".to_string(),
                "plain.example".to_string(),
            ],
        )
        .unwrap();
        for (domain, insecure) in [
            ("127.0.0.1:5000", true),
            ("localhost", true),
            ("[::1]:5000", true),
            ("registry.internal:5000", true),
            ("registry.internal:5001", false),
            ("plain.example", true),
            ("plain.example:443", false),
            ("10.20.3.4:5000", true),
            ("10.21.0.1:5000", false),
            ("registry.example.com", false),
            // A name that does not resolve matches no CIDR.
            ("nowhere.invalid:5000", false),
        ] {
            assert_eq!(t.is_insecure(domain).await, insecure, "{domain}");
        }
        assert!(TlsSettings::new(Vec::new(), &["10.0.0.0/40".into()]).is_err());
        assert!(TlsSettings::new(Vec::new(), &["a/b/c".into()]).is_err());
    }

    #[test]
    fn a_client_certificate_needs_its_key() {
        let dir = tempfile::tempdir().unwrap();
        let host = dir.path().join("reg.example:5000");
        std::fs::create_dir_all(&host).unwrap();
        std::fs::write(host.join("client.cert"), "").unwrap();
        let t = TlsSettings::new(vec![dir.path().to_path_buf()], &[]).unwrap();
        let err = t.client_config("reg.example:5000", false).unwrap_err();
        assert!(err.contains("missing key"), "{err}");
        assert!(t.client_config("other:5000", false).is_ok());
    }

    /// What a kept client was made from changes with the files a certs.d entry leads to,
    /// followed through a symlink, even at the same length and modification time.
    #[test]
    fn the_certs_state_follows_links_and_sees_rewrites() {
        let dir = tempfile::tempdir().unwrap();
        let host = dir.path().join("reg.example:5000");
        std::fs::create_dir_all(&host).unwrap();
        let target = dir.path().join("ca.pem");
        std::fs::write(&target, "first CA").unwrap();
        std::os::unix::fs::symlink(&target, host.join("ca.crt")).unwrap();
        let t = TlsSettings::new(vec![dir.path().to_path_buf()], &[]).unwrap();
        let before = t.certs_state("reg.example:5000");
        assert_eq!(before.len(), 1);
        assert_eq!(before, t.certs_state("reg.example:5000"));
        // Rewritten in place, same length, its modification time put back.
        let mtime = std::fs::metadata(&target).unwrap().modified().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        std::fs::write(&target, "other CA").unwrap();
        std::fs::File::options()
            .write(true)
            .open(&target)
            .unwrap()
            .set_modified(mtime)
            .unwrap();
        assert_ne!(before, t.certs_state("reg.example:5000"));
    }
}
