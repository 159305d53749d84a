//! Command-line configuration and the data-root lock.

use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use clap::Parser;

/// berth: a container engine that speaks the Docker Engine API.
#[derive(Debug, Clone, Parser)]
#[command(name = "berthd", version, about)]
pub struct Config {
    /// Socket(s) to listen on: unix:///path or tcp://HOST:PORT (repeatable).
    #[arg(short = 'H', long = "host", value_name = "ADDR")]
    pub hosts: Vec<String>,
    /// Where images, containers and volumes live.
    #[arg(long, default_value = "/var/lib/berth")]
    pub data_root: PathBuf,
    /// Where runtime state (sockets, monitors) lives.
    #[arg(long, default_value = "/run/berth")]
    pub exec_root: PathBuf,
    /// Write the daemon's PID to this file.
    #[arg(short = 'p', long)]
    pub pidfile: Option<PathBuf>,
    /// Log level (error, warn, info, debug, trace) or a tracing filter.
    #[arg(short = 'l', long, default_value = "info")]
    pub log_level: String,
    /// Allowed CORS origin for the API ("*" for any); unset disables CORS.
    #[arg(long)]
    pub api_cors_header: Option<String>,
    /// Allow TCP listeners on non-loopback addresses. The API is root-equivalent and has no
    /// authentication: anyone who can reach it owns this host.
    #[arg(long)]
    pub allow_remote_api: bool,
    /// The berth-monitor binary (default: next to berthd).
    #[arg(long, hide = true)]
    pub monitor_path: Option<PathBuf>,
}

/// Takes an exclusive lock on `<data-root>/berthd.lock`, held for the daemon's life.
pub fn lock_data_root(root: &Path) -> Result<OwnedFd, String> {
    use rustix::fs::{flock, open, FlockOperation, Mode, OFlags};
    let path = root.join("berthd.lock");
    let fd = open(
        &path,
        OFlags::CREATE | OFlags::RDWR | OFlags::CLOEXEC,
        Mode::from_raw_mode(0o600),
    )
    .map_err(|e| format!("open {}: {e}", path.display()))?;
    match flock(&fd, FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => Ok(fd),
        Err(rustix::io::Errno::WOULDBLOCK) => Err(format!(
            "data root {} is in use by another berthd (lock {} is held)",
            root.display(),
            path.display()
        )),
        Err(e) => Err(format!("lock {}: {e}", path.display())),
    }
}
