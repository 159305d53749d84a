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
    /// A registry serving Docker Hub's images, tried before Docker Hub (repeatable, in
    /// order): `http://127.0.0.1:5000`, `https://mirror.example.com`.
    #[arg(long = "registry-mirror", value_name = "URL")]
    pub registry_mirrors: Vec<String>,
    /// A registry spoken to without checking its certificate, and over plain HTTP when
    /// TLS fails (repeatable): `host[:port]` or a CIDR. Loopback always is, as in Docker.
    #[arg(long = "insecure-registry", value_name = "HOST|CIDR")]
    pub insecure_registries: Vec<String>,
    /// Directories of per-registry certificates, `<dir>/<host[:port]>/` holding `*.crt` CAs
    /// and `*.cert`/`*.key` client pairs (repeatable; default: Docker's
    /// /etc/docker/certs.d, then /etc/berth/certs.d).
    #[arg(long = "registry-certs-dir", value_name = "DIR")]
    pub registry_certs_dirs: Vec<PathBuf>,
    /// Tries of each layer download before a pull fails (Docker's flag).
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_download_attempts: u32,
    /// Seconds a registry may send nothing (no answer, or a download that stops) before the
    /// request fails; a layer download then resumes, within its attempts.
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..))]
    pub registry_stall_timeout: u64,
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
    /// The default bridge's name; `none` runs without one (containers get only a loopback
    /// unless they use the host's or another container's network).
    #[arg(short = 'b', long, default_value = "berth0")]
    pub bridge: String,
    /// The bridge's address and subnet.
    #[arg(long, default_value = "172.18.0.1/16")]
    pub bip: String,
    /// Give containers addresses only from this part of the bridge's subnet.
    #[arg(long)]
    pub fixed_cidr: Option<String>,
    /// MTU of the bridge and the containers' interfaces.
    #[arg(long, default_value_t = 1500)]
    pub mtu: u32,
    /// Turn on IPv4 forwarding in the kernel.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub ip_forward: bool,
    /// Masquerade containers' traffic leaving the bridge.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub ip_masq: bool,
    /// Let containers on the bridge reach each other (off: only linked containers, on
    /// their exposed ports).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub icc: bool,
    /// Manage packet rules (published ports, masquerading, icc).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub iptables: bool,
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

impl Config {
    /// The bridge settings, or `None` with `--bridge none`.
    pub fn network(&self) -> Result<Option<berth_network::Config>, String> {
        if self.bridge == "none" {
            return Ok(None);
        }
        if self.bridge.is_empty() || self.bridge.len() > 15 {
            return Err(format!("invalid bridge name: {:?}", self.bridge));
        }
        Ok(Some(berth_network::Config {
            bridge: self.bridge.clone(),
            bip: berth_network::Cidr::parse(&self.bip)?,
            fixed_cidr: self
                .fixed_cidr
                .as_deref()
                .map(berth_network::Cidr::parse)
                .transpose()?,
            mtu: self.mtu,
            ip_forward: self.ip_forward,
            ip_masq: self.ip_masq,
            icc: self.icc,
            iptables: self.iptables,
            internal: false,
        }))
    }
}
