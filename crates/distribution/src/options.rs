//! How patient berth is with registries: connections, stalls, retries.

use std::time::Duration;

/// The daemon's settings for every registry it talks to.
#[derive(Debug, Clone)]
pub struct RegistryOptions {
    /// A connection not made within this is an error (Docker's dialer waits 30 s).
    pub connect_timeout: Duration,
    /// A registry that sends nothing for this long (no answer, or a body that stops) has
    /// failed that request; a layer's download then resumes, up to `download_attempts`.
    pub stall_timeout: Duration,
    /// Tries of each layer download (Docker's `--max-download-attempts`, 5).
    pub download_attempts: u32,
    /// Registries that serve Docker Hub's images (`--registry-mirror`), tried in order
    /// before Docker Hub itself: base URLs such as `http://127.0.0.1:5000`.
    pub mirrors: Vec<String>,
    /// Roots, `certs.d` and `--insecure-registry`.
    pub tls: crate::tls::TlsSettings,
    /// The connections kept open to registries, shared by the clones of these options.
    pub connections: crate::connections::Connections,
}

impl Default for RegistryOptions {
    fn default() -> Self {
        RegistryOptions {
            connect_timeout: Duration::from_secs(30),
            stall_timeout: Duration::from_secs(30),
            download_attempts: 5,
            mirrors: Vec::new(),
            tls: crate::tls::TlsSettings::default(),
            connections: Default::default(),
        }
    }
}
