//! API listeners: Unix sockets and TCP.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;

use berth_api_server::Router;

use crate::config::Config;

#[derive(Debug, Clone)]
pub enum Host {
    Unix(PathBuf),
    Tcp(SocketAddr),
}

pub const DEFAULT_SOCKET: &str = "/run/berth.sock";

pub fn parse_hosts(config: &Config) -> Result<Vec<Host>, String> {
    let raw = if config.hosts.is_empty() {
        vec![format!("unix://{DEFAULT_SOCKET}")]
    } else {
        config.hosts.clone()
    };
    raw.iter()
        .map(|h| {
            if let Some(path) = h.strip_prefix("unix://") {
                if path.is_empty() {
                    return Err(format!("invalid host {h:?}: empty socket path"));
                }
                Ok(Host::Unix(PathBuf::from(path)))
            } else if let Some(addr) = h.strip_prefix("tcp://") {
                let addr: SocketAddr = addr.parse().map_err(|e| format!("invalid host {h:?}: {e}"))?;
                if !addr.ip().is_loopback() {
                    if !config.allow_remote_api {
                        return Err(format!(
                            "refusing to listen on {addr}: the API is root-equivalent and unauthenticated; \
                             pass --allow-remote-api to listen on a non-loopback address"
                        ));
                    }
                    tracing::warn!(%addr, "listening on a non-loopback address: anyone who reaches it has root on this host");
                }
                Ok(Host::Tcp(addr))
            } else {
                Err(format!("invalid host {h:?}: use unix:///path or tcp://HOST:PORT"))
            }
        })
        .collect()
}

pub enum Bound {
    Unix(tokio::net::UnixListener),
    Tcp(tokio::net::TcpListener),
}

impl Bound {
    pub async fn serve(self, router: Router, shutdown: impl Future<Output = ()> + Send + 'static) {
        match self {
            Bound::Unix(l) => berth_api_server::serve_unix(l, router, shutdown).await,
            Bound::Tcp(l) => berth_api_server::serve_tcp(l, router, shutdown).await,
        }
    }
}

pub async fn bind(hosts: &[Host]) -> Result<Vec<Bound>, String> {
    let mut out = Vec::new();
    for h in hosts {
        match h {
            Host::Unix(path) => {
                if path.exists() {
                    // A live socket belongs to a running daemon; a dead one is stale.
                    if std::os::unix::net::UnixStream::connect(path).is_ok() {
                        return Err(format!("{} is in use by a running daemon", path.display()));
                    }
                    std::fs::remove_file(path)
                        .map_err(|e| format!("remove stale socket {}: {e}", path.display()))?;
                }
                if let Some(dir) = path.parent() {
                    std::fs::create_dir_all(dir)
                        .map_err(|e| format!("create {}: {e}", dir.display()))?;
                }
                let l = tokio::net::UnixListener::bind(path)
                    .map_err(|e| format!("listen on {}: {e}", path.display()))?;
                use std::os::unix::fs::PermissionsExt;
                let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660));
                tracing::info!(socket = %path.display(), "listening");
                out.push(Bound::Unix(l));
            }
            Host::Tcp(addr) => {
                let l = tokio::net::TcpListener::bind(addr)
                    .await
                    .map_err(|e| format!("listen on {addr}: {e}"))?;
                tracing::info!(%addr, "listening");
                out.push(Bound::Tcp(l));
            }
        }
    }
    Ok(out)
}

/// Removes socket files on shutdown.
pub fn cleanup(hosts: &[Host]) {
    for h in hosts {
        if let Host::Unix(path) = h {
            let _ = std::fs::remove_file(path);
        }
    }
}
