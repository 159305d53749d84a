//! Container networking: the default bridge and its address pool, one veth pair per bridged
//! container into a network namespace made for it, and published ports as kernel NAT rules
//! (so forwarding goes on while berthd is down or restarting).
//!
//! Links, addresses and routes go through netlink (`rtnetlink`); packet rules through
//! `iptables-restore`. Knows containers only by ID and name, and nothing of HTTP.

mod bridge;
mod endpoint;
mod ipam;
mod isolation;
mod links;
mod nat;
pub mod netns;
mod ports;

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use futures_util::TryStreamExt;
use rtnetlink::{Handle, LinkUnspec};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

pub use bridge::host_routes;
pub use ipam::{format_mac, mac_for, parse_mac, pick_subnet, Cidr};
pub use ports::{parse_port_key, PortMapping, PortRequest, Proto};

#[derive(Debug, thiserror::Error)]
pub enum NetError {
    #[error("{0}")]
    InvalidParameter(String),
    #[error("{0}")]
    Internal(String),
    /// Something the network called failed; `context` says what it was doing.
    #[error("{context}: {source}")]
    Failed {
        context: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl NetError {
    pub fn failed(
        context: impl Into<String>,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        NetError::Failed {
            context: context.into(),
            source: source.into(),
        }
    }
}

/// The daemon's bridge flags, as Docker has them.
#[derive(Debug, Clone)]
pub struct Config {
    pub bridge: String,
    /// The bridge's own address and the subnet.
    pub bip: Cidr,
    pub fixed_cidr: Option<Cidr>,
    pub mtu: u32,
    pub ip_forward: bool,
    pub ip_masq: bool,
    pub icc: bool,
    pub iptables: bool,
    /// No route out: the containers reach only each other (`docker network create --internal`).
    pub internal: bool,
}

/// A bridged container's side of the network, kept in its record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoint {
    pub netns: PathBuf,
    pub ip: Ipv4Addr,
    pub prefix: u8,
    pub gateway: Ipv4Addr,
    pub mac: String,
    pub bridge: String,
    pub host_veth: String,
    pub ports: Vec<PortMapping>,
    /// With `--icc=false`: the linked containers this one may reach, and on which ports.
    #[serde(default)]
    pub links: Vec<LinkGrant>,
    /// The interface's name in the container (`eth0`, `eth1` on a second network).
    #[serde(default = "default_ifname")]
    pub ifname: String,
}

fn default_ifname() -> String {
    "eth0".into()
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkGrant {
    pub to: Ipv4Addr,
    pub ports: Vec<(Proto, u16)>,
}

pub struct ConnectRequest {
    pub id: String,
    pub name: String,
    pub mac: Option<[u8; 6]>,
    pub ports: Vec<PortRequest>,
}

/// An interface for a namespace that exists already.
pub struct AttachRequest {
    pub req: ConnectRequest,
    pub netns: PathBuf,
    pub ifname: String,
    pub host_veth: String,
    /// A static address (`--ip`); the next free one otherwise.
    pub ip: Option<Ipv4Addr>,
    /// Whether the container's default route goes through this network (never on an
    /// internal one).
    pub default_route: bool,
}

struct Pools {
    ipam: ipam::Ipam,
    ports: ports::PortTable,
}

pub struct Network {
    cfg: Config,
    chains: nat::Chains,
    handle: Handle,
    bridge_index: u32,
    netns_dir: Option<PathBuf>,
    pools: std::sync::Arc<Mutex<Pools>>,
    /// Set once the standing rules are installed (or failed to be).
    rules: watch::Receiver<RulesState>,
    /// Taken by [`Network::adopt`], which installs the rules.
    rules_done: Mutex<Option<watch::Sender<RulesState>>>,
}

/// `None` until the rules are installed, then how that went.
type RulesState = Option<Result<(), String>>;

fn internal(what: &str) -> impl Fn(rtnetlink::Error) -> NetError + '_ {
    move |e| NetError::failed(what, e)
}

async fn link_index(h: &Handle, name: &str) -> Result<Option<u32>, NetError> {
    let mut links = h.link().get().match_name(name.to_string()).execute();
    match links.try_next().await {
        Ok(Some(l)) => Ok(Some(l.header.index)),
        Ok(None) => Ok(None),
        Err(e) if e.to_string().contains("No such device") => Ok(None),
        Err(e) => Err(NetError::failed(format!("look up link {name}"), e)),
    }
}

async fn set_up(h: &Handle, index: u32) -> Result<(), NetError> {
    h.link()
        .set(LinkUnspec::new_with_index(index).up().build())
        .execute()
        .await
        .map_err(internal("set link up"))
}

fn write_sysctl(path: &str, value: &str) -> Result<(), NetError> {
    std::fs::write(path, value).map_err(|e| NetError::failed(path, e))
}

/// A namespace with only a loopback, up (`NetworkMode: none`).
pub fn isolated_netns(path: &Path) -> Result<(), NetError> {
    netns::create(path).map_err(NetError::Internal)?;
    let up = netns::run_in(path, || async {
        let (conn, h, _) = rtnetlink::new_connection().map_err(|e| e.to_string())?;
        tokio::spawn(conn);
        let lo = link_index(&h, "lo")
            .await
            .map_err(|e| e.to_string())?
            .ok_or("no loopback")?;
        set_up(&h, lo).await.map_err(|e| e.to_string())
    });
    if let Err(e) = up {
        netns::remove(path);
        return Err(NetError::Internal(e));
    }
    Ok(())
}

/// Removes the packet rules berthd made for `bridge` (the test harness tears its bridges
/// down with this; a daemon leaves them, as Docker leaves docker0's).
pub fn remove_rules(bridge: &str) {
    nat::uninstall(&nat::Chains::for_bridge(bridge), bridge);
}

/// Deletes a bridge left by a daemon (the test harness, after a daemon whose user-defined
/// networks outlived it, as Docker's bridges outlive dockerd).
pub async fn delete_bridge(name: &str) {
    remove_rules(name);
    if let Ok((conn, h, _)) = rtnetlink::new_connection() {
        tokio::spawn(conn);
        if let Ok(Some(i)) = link_index(&h, name).await {
            let _ = h.link().del(i).execute().await;
        }
    }
}
