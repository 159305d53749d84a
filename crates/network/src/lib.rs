//! Container networking: the default bridge and its address pool, one veth pair per bridged
//! container into a network namespace made for it, and published ports as kernel NAT rules
//! (so forwarding goes on while berthd is down or restarting).
//!
//! Links, addresses and routes go through netlink (`rtnetlink`); packet rules through
//! `iptables-restore`. Knows containers only by ID and name, and nothing of HTTP.

mod ipam;
mod nat;
pub mod netns;
mod ports;

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use futures_util::TryStreamExt;
use rtnetlink::{Handle, LinkBridge, LinkUnspec, LinkVeth, RouteMessageBuilder};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

pub use ipam::{format_mac, mac_for, parse_mac, Cidr};
pub use ports::{parse_port_key, PortMapping, PortRequest, Proto};

#[derive(Debug, thiserror::Error)]
pub enum NetError {
    #[error("{0}")]
    InvalidParameter(String),
    #[error("{0}")]
    Internal(String),
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

struct Pools {
    ipam: ipam::Ipam,
    ports: ports::PortTable,
}

pub struct Network {
    cfg: Config,
    chains: nat::Chains,
    handle: Handle,
    bridge_index: u32,
    netns_dir: PathBuf,
    pools: std::sync::Arc<Mutex<Pools>>,
    /// Set once the standing rules are installed (or failed to be).
    rules: watch::Receiver<RulesState>,
    /// Taken by [`Network::adopt`], which installs the rules.
    rules_done: Mutex<Option<watch::Sender<RulesState>>>,
}

/// `None` until the rules are installed, then how that went.
type RulesState = Option<Result<(), String>>;

fn internal(what: &str) -> impl Fn(rtnetlink::Error) -> NetError + '_ {
    move |e| NetError::Internal(format!("{what}: {e}"))
}

async fn link_index(h: &Handle, name: &str) -> Result<Option<u32>, NetError> {
    let mut links = h.link().get().match_name(name.to_string()).execute();
    match links.try_next().await {
        Ok(Some(l)) => Ok(Some(l.header.index)),
        Ok(None) => Ok(None),
        Err(e) if e.to_string().contains("No such device") => Ok(None),
        Err(e) => Err(NetError::Internal(format!("look up link {name}: {e}"))),
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
    std::fs::write(path, value).map_err(|e| NetError::Internal(format!("{path}: {e}")))
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

impl Network {
    /// Creates (or adopts) the bridge with its address, turns on forwarding and installs the
    /// standing packet rules in freshly emptied chains. Live containers are taken back with
    /// [`Network::adopt`].
    pub async fn start(cfg: Config, netns_dir: PathBuf) -> Result<Network, NetError> {
        let pool = ipam::Ipam::new(cfg.bip, cfg.fixed_cidr).map_err(NetError::InvalidParameter)?;
        let (conn, handle, _) =
            rtnetlink::new_connection().map_err(|e| NetError::Internal(format!("netlink: {e}")))?;
        tokio::spawn(conn);
        let bridge_index = match link_index(&handle, &cfg.bridge).await? {
            Some(i) => i,
            None => {
                handle
                    .link()
                    .add(LinkBridge::new(&cfg.bridge).mtu(cfg.mtu).build())
                    .execute()
                    .await
                    .map_err(internal("create bridge"))?;
                link_index(&handle, &cfg.bridge)
                    .await?
                    .ok_or_else(|| NetError::Internal("bridge vanished".into()))?
            }
        };
        let mut has_addr = false;
        let mut addrs = handle
            .address()
            .get()
            .set_link_index_filter(bridge_index)
            .execute();
        while let Some(a) = addrs.try_next().await.map_err(internal("list addresses"))? {
            use rtnetlink::packet_route::address::AddressAttribute;
            has_addr |= a.header.prefix_len == cfg.bip.prefix
                && a.attributes.iter().any(|at| {
                    matches!(at, AddressAttribute::Address(IpAddr::V4(ip)) if *ip == cfg.bip.addr)
                });
        }
        if !has_addr {
            handle
                .address()
                .add(bridge_index, IpAddr::V4(cfg.bip.addr), cfg.bip.prefix)
                .execute()
                .await
                .map_err(internal("set bridge address"))?;
        }
        set_up(&handle, bridge_index).await?;
        if cfg.ip_forward {
            write_sysctl("/proc/sys/net/ipv4/ip_forward", "1")?;
        }
        let chains = nat::Chains::for_bridge(&cfg.bridge);
        if cfg.iptables {
            // Traffic between two containers on the bridge is bridged, not routed: it meets
            // the packet rules (the icc DROP, link grants, un-NATing a reply through a
            // published port) only through br_netfilter, which Docker loads too.
            let nf = "/proc/sys/net/bridge/bridge-nf-call-iptables";
            if !Path::new(nf).exists() {
                let _ = std::process::Command::new("modprobe")
                    .arg("br_netfilter")
                    .stderr(std::process::Stdio::null())
                    .status();
            }
            if Path::new(nf).exists() {
                write_sysctl(nf, "1")?;
            } else if !cfg.icc {
                return Err(NetError::InvalidParameter(
                    "--icc=false needs the br_netfilter kernel module, which is not available"
                        .into(),
                ));
            } else {
                tracing::warn!("br_netfilter is not available: containers reaching each other through a published port may fail");
            }
            // Ports published on 127.0.0.1 are DNATed to the bridge: the kernel must route
            // loopback-sourced packets there.
            write_sysctl(
                &format!("/proc/sys/net/ipv4/conf/{}/route_localnet", cfg.bridge),
                "1",
            )?;
        }
        // Installing the rules runs iptables-restore, 30–50 ms here when the chains already
        // exist: off the start-up path, so the API answers at once. Everything that touches
        // rules waits for it (`rules_ready`).
        // The live containers' rules go in with the standing ones, in `adopt`.
        let (rules_done, rules) = watch::channel(None);
        if !cfg.iptables {
            let _ = rules_done.send(Some(Ok(())));
        }
        std::fs::create_dir_all(&netns_dir)
            .map_err(|e| NetError::Internal(format!("{}: {e}", netns_dir.display())))?;
        Ok(Network {
            cfg,
            chains,
            handle,
            bridge_index,
            netns_dir,
            rules,
            rules_done: Mutex::new(Some(rules_done)),
            pools: std::sync::Arc::new(Mutex::new(Pools {
                ipam: pool,
                ports: ports::PortTable::new(),
            })),
        })
    }

    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// Waits until the standing rules are in place: a rule added before would be flushed
    /// with the chains.
    async fn rules_ready(&self) -> Result<(), NetError> {
        let mut rx = self.rules.clone();
        let state = rx
            .wait_for(Option::is_some)
            .await
            .map_err(|_| NetError::Internal("packet rules were never installed".into()))?;
        match state.as_ref() {
            Some(Err(e)) => Err(NetError::Internal(format!("packet rules: {e}"))),
            _ => Ok(()),
        }
    }

    pub fn netns_path(&self, id: &str) -> PathBuf {
        netns::path_in(&self.netns_dir, id)
    }

    /// The host end's name: from the container ID, so a restarted daemon can tell whose
    /// a veth is.
    fn veth_name(id: &str) -> String {
        format!("veth{}", &id[..id.len().min(11)])
    }

    /// Gives a container an address, a namespace with `eth0` on the bridge, and its
    /// published ports. Undoes everything when a step fails.
    pub async fn connect(&self, req: ConnectRequest) -> Result<Endpoint, NetError> {
        // Also covers the link grants made right after (`grant`).
        self.rules_ready().await?;
        let ip = {
            let mut p = self.pools.lock().expect("pools");
            p.ipam.allocate(&req.id).map_err(NetError::Internal)?
        };
        let host_veth = Self::veth_name(&req.id);
        let mut ep = Endpoint {
            netns: self.netns_path(&req.id),
            ip,
            prefix: self.cfg.bip.prefix,
            gateway: self.cfg.bip.addr,
            mac: format_mac(req.mac.unwrap_or_else(|| mac_for(ip))),
            bridge: self.cfg.bridge.clone(),
            host_veth,
            ports: Vec::new(),
            links: Vec::new(),
        };
        let result = self.connect_steps(&req, &mut ep).await;
        if let Err(e) = result {
            self.disconnect(&req.id, &ep).await;
            return Err(e);
        }
        Ok(ep)
    }

    async fn connect_steps(&self, req: &ConnectRequest, ep: &mut Endpoint) -> Result<(), NetError> {
        {
            let mut p = self.pools.lock().expect("pools");
            for r in &req.ports {
                let m = p.ports.reserve(&req.id, r).map_err(|e| {
                    let what = format!(
                        "driver failed programming external connectivity on endpoint {} ({})",
                        req.name, req.id
                    );
                    NetError::Internal(match e {
                        ports::PortError::Allocated => format!(
                            "{what}: Bind for {}:{} failed: port is already allocated",
                            r.host_ip, r.host_port
                        ),
                        ports::PortError::InUse(err) => format!(
                            "{what}: failed to bind host port for {}:{}:{}:{}/{}: {}",
                            r.host_ip,
                            r.host_port,
                            ep.ip,
                            r.container_port,
                            r.proto.as_str(),
                            // Go's wording, which Docker's message carries.
                            if err.kind() == std::io::ErrorKind::AddrInUse {
                                "address already in use".to_string()
                            } else {
                                err.to_string()
                            }
                        ),
                        ports::PortError::Exhausted => format!("{what}: no free host port"),
                    })
                })?;
                ep.ports.push(m);
            }
        }
        let t = std::time::Instant::now();
        let mark = |what: &str| {
            tracing::trace!(step = what, us = t.elapsed().as_micros() as u64, "connect")
        };
        let h = &self.handle;
        // A veth left by a crash under the same name would make the add fail.
        if let Some(stale) = link_index(h, &ep.host_veth).await? {
            let _ = h.link().del(stale).execute().await;
        }
        // The container's end is made inside its namespace, already named eth0 with its MAC:
        // moving an interface between namespaces waits for RCU grace periods (measured here:
        // 30–40 ms), making it there does not.
        netns::create(&ep.netns).map_err(NetError::Internal)?;
        mark("netns");
        let ns = std::fs::File::open(&ep.netns)
            .map_err(|e| NetError::Internal(format!("open network namespace: {e}")))?;
        let mac = parse_mac(&ep.mac).map_err(NetError::InvalidParameter)?;
        {
            use rtnetlink::packet_route::link::{InfoData, InfoKind, InfoVeth};
            use rtnetlink::LinkMessageBuilder;
            use std::os::fd::AsRawFd;
            let container_end = LinkMessageBuilder::<LinkUnspec>::new()
                .name("eth0")
                .address(mac.to_vec())
                .mtu(self.cfg.mtu)
                .setns_by_fd(ns.as_raw_fd())
                .build();
            let pair = LinkMessageBuilder::<LinkVeth>::new_with_info_kind(InfoKind::Veth)
                .name(ep.host_veth.clone())
                .mtu(self.cfg.mtu)
                .controller(self.bridge_index)
                .up()
                .set_info_data(InfoData::Veth(InfoVeth::Peer(container_end)))
                .build();
            h.link()
                .add(pair)
                .execute()
                .await
                .map_err(internal("create veth pair"))?;
        }
        mark("veth pair");
        let (ip, prefix, gateway) = (ep.ip, ep.prefix, ep.gateway);
        netns::run_in(&ep.netns, move || async move {
            let (conn, h, _) = rtnetlink::new_connection().map_err(|e| e.to_string())?;
            tokio::spawn(conn);
            let e = |e: NetError| e.to_string();
            let lo = link_index(&h, "lo")
                .await
                .map_err(e)?
                .ok_or("no loopback")?;
            set_up(&h, lo).await.map_err(e)?;
            let idx = link_index(&h, "eth0")
                .await
                .map_err(e)?
                .ok_or("eth0 missing")?;
            set_up(&h, idx).await.map_err(e)?;
            h.address()
                .add(idx, IpAddr::V4(ip), prefix)
                .execute()
                .await
                .map_err(|e| format!("set address: {e}"))?;
            h.route()
                .add(
                    RouteMessageBuilder::<Ipv4Addr>::new()
                        .gateway(gateway)
                        .build(),
                )
                .execute()
                .await
                .map_err(|e| format!("set default route: {e}"))
        })
        .map_err(NetError::Internal)?;
        mark("configured");
        if self.cfg.iptables && !ep.ports.is_empty() {
            nat::apply(&[], nat::Op::Insert, &self.port_rules(ep)).map_err(NetError::Internal)?;
        }
        mark("rules");
        Ok(())
    }

    fn port_rules(&self, ep: &Endpoint) -> Vec<nat::Rule> {
        ep.ports
            .iter()
            .flat_map(|m| nat::port_rules(&self.chains, &self.cfg.bridge, ep.ip, m))
            .collect()
    }

    /// Lets the container of `ep` reach a linked one on its exposed ports (only needed,
    /// and only done, when inter-container traffic is off); recorded in `ep`.
    pub fn grant(
        &self,
        ep: &mut Endpoint,
        to: Ipv4Addr,
        ports: Vec<(Proto, u16)>,
    ) -> Result<(), NetError> {
        self.allow_link(ep.ip, to, &ports, true)?;
        ep.links.push(LinkGrant { to, ports });
        Ok(())
    }

    fn link_rules(&self, ep: &Endpoint) -> Vec<nat::Rule> {
        if self.cfg.icc {
            return Vec::new();
        }
        ep.links
            .iter()
            .flat_map(|g| {
                g.ports.iter().flat_map(move |(proto, port)| {
                    nat::link_rules(
                        &self.chains,
                        &self.cfg.bridge,
                        ep.ip,
                        g.to,
                        proto.as_str(),
                        *port,
                    )
                })
            })
            .collect()
    }

    /// Takes a container off the network: its rules, veth, namespace, address and ports.
    /// Best effort: what is already gone is skipped.
    pub async fn disconnect(&self, id: &str, ep: &Endpoint) {
        let mut rules = self.link_rules(ep);
        rules.extend(self.port_rules(ep));
        // Before `adopt` installs the rules (a container found dead at daemon start), its old
        // rules go when the chains' content is replaced: nothing to delete, nor to wait for.
        let installing = self.rules_done.lock().expect("rules").is_some();
        if self.cfg.iptables && !rules.is_empty() && !installing && self.rules_ready().await.is_ok()
        {
            // `iptables-restore -w` may wait for another program's lock: not on a runtime
            // thread.
            let done =
                tokio::task::spawn_blocking(move || nat::apply(&[], nat::Op::Delete, &rules)).await;
            if let Ok(Err(e)) = done {
                tracing::debug!(error = %e, "removing rules");
            }
        }
        netns::remove(&ep.netns);
        self.pools.lock().expect("pools").ports.release_owner(id);
        // The pair goes with the namespace: once unpinned and empty, the kernel destroys it
        // with its interfaces, batched. Deleting the veth here instead costs RCU grace
        // periods under the lock every interface change takes (measured: the next
        // container's start 25 ms slower). A namespace another container still uses
        // (`container:` mode) would keep the pair: it is deleted after a grace time, by
        // index (a new veth of the same name may exist by then). The address goes back to
        // the pool as soon as its interface is gone (no sooner: two interfaces would answer
        // for it), so a small pool under churn is not held up for the whole grace time.
        let index = link_index(&self.handle, &ep.host_veth).await.ok().flatten();
        let (handle, pools, ip, owner) = (
            self.handle.clone(),
            self.pools.clone(),
            ep.ip,
            id.to_string(),
        );
        tokio::spawn(async move {
            if let Some(i) = index {
                let exists = |h: Handle| async move {
                    let mut still = h.link().get().match_index(i).execute();
                    matches!(still.try_next().await, Ok(Some(_)))
                };
                let grace = tokio::time::Instant::now() + std::time::Duration::from_secs(2);
                while exists(handle.clone()).await {
                    if tokio::time::Instant::now() >= grace {
                        let _ = handle.link().del(i).execute().await;
                        break;
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            }
            pools.lock().expect("pools").ipam.release(ip, &owner);
        });
    }

    /// At daemon start, before any container connects: takes back the live containers'
    /// addresses and ports, installs the packet rules (the standing ones and the live
    /// containers' together, replacing the chains' old content in one transaction per table,
    /// so a published port never stops forwarding across a restart), and removes what dead
    /// containers left: veths on the bridge and pinned namespaces no live container owns.
    pub async fn adopt(self: &std::sync::Arc<Self>, live: &[(String, Endpoint)]) {
        let mut rules = Vec::new();
        {
            let mut p = self.pools.lock().expect("pools");
            for (id, ep) in live {
                if let Err(e) = p.ipam.reserve(ep.ip, id) {
                    tracing::warn!(container = %id, error = %e, "cannot take back address");
                }
                for m in &ep.ports {
                    let req = PortRequest {
                        proto: m.proto,
                        container_port: m.container_port,
                        host_ip: m.host_ip,
                        host_port: m.host_port,
                    };
                    if p.ports.reserve(id, &req).is_err() {
                        tracing::warn!(container = %id, port = m.host_port, "published port is held by someone else now");
                    }
                }
                rules.extend(self.port_rules(ep));
                rules.extend(self.link_rules(ep));
            }
        }
        let rules_done = self.rules_done.lock().expect("rules").take();
        if let (true, Some(rules_done)) = (self.cfg.iptables, rules_done) {
            // iptables-restore takes 30-50 ms: off the start-up path, so the API answers at
            // once; everything that touches rules waits for it (`rules_ready`). The live
            // containers' rules come first, as they were inserted before the standing ones.
            let subnet = self.pools.lock().expect("pools").ipam.subnet();
            rules.extend(nat::bridge_rules(
                &self.chains,
                &self.cfg.bridge,
                subnet,
                self.cfg.ip_masq,
                self.cfg.icc,
            ));
            let chains = self.chains.clone();
            tokio::task::spawn_blocking(move || {
                let result = nat::install(&chains, &rules);
                if let Err(e) = &result {
                    tracing::error!(error = %e, "installing the bridge's packet rules");
                }
                let _ = rules_done.send(Some(result));
            });
        }
        let keep_veths: std::collections::HashSet<_> =
            live.iter().map(|(_, ep)| ep.host_veth.clone()).collect();
        let mut links = self.handle.link().get().execute();
        let mut stale = Vec::new();
        while let Ok(Some(l)) = links.try_next().await {
            use rtnetlink::packet_route::link::LinkAttribute;
            let on_bridge = l
                .attributes
                .iter()
                .any(|a| matches!(a, LinkAttribute::Controller(c) if *c == self.bridge_index));
            let name = l.attributes.iter().find_map(|a| match a {
                LinkAttribute::IfName(n) => Some(n.clone()),
                _ => None,
            });
            if let (true, Some(name)) = (on_bridge, name) {
                if name.starts_with("veth") && !keep_veths.contains(&name) {
                    stale.push((l.header.index, name));
                }
            }
        }
        for (index, name) in stale {
            tracing::info!(veth = %name, "removing a veth no live container owns");
            let _ = self.handle.link().del(index).execute().await;
        }
        let keep_ns: std::collections::HashSet<_> =
            live.iter().map(|(_, ep)| ep.netns.clone()).collect();
        if let Ok(entries) = std::fs::read_dir(&self.netns_dir) {
            for e in entries.flatten() {
                if !keep_ns.contains(&e.path()) {
                    netns::remove(&e.path());
                }
            }
        }
    }

    /// With inter-container traffic off, lets `from` reach `to` on its exposed ports.
    fn allow_link(
        &self,
        from: Ipv4Addr,
        to: Ipv4Addr,
        ports: &[(Proto, u16)],
        allow: bool,
    ) -> Result<(), NetError> {
        if self.cfg.icc || !self.cfg.iptables || ports.is_empty() {
            return Ok(());
        }
        let rules: Vec<_> = ports
            .iter()
            .flat_map(|(proto, port)| {
                nat::link_rules(
                    &self.chains,
                    &self.cfg.bridge,
                    from,
                    to,
                    proto.as_str(),
                    *port,
                )
            })
            .collect();
        nat::apply(
            &[],
            if allow {
                nat::Op::Insert
            } else {
                nat::Op::Delete
            },
            &rules,
        )
        .map_err(NetError::Internal)
    }
}

/// Removes the packet rules berthd made for `bridge` (the test harness tears its bridges
/// down with this; a daemon leaves them, as Docker leaves docker0's).
pub fn remove_rules(bridge: &str) {
    nat::uninstall(&nat::Chains::for_bridge(bridge));
}
