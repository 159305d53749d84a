//! The bridge: made or adopted at start with its address and forwarding, its packet rules installed with the live containers' (`adopt`).

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use futures_util::TryStreamExt;
use rtnetlink::LinkBridge;
use tokio::sync::watch;

use crate::{
    internal, ipam, link_index, nat, netns, ports, set_up, write_sysctl, Config, Endpoint,
    NetError, Network, Pools, PortRequest,
};

impl Network {
    /// Creates (or adopts) the bridge with its address, turns on forwarding and installs the
    /// standing packet rules in freshly emptied chains. Live containers are taken back with
    /// [`Network::adopt`].
    /// `netns_dir` holds the namespaces `connect` makes (the default bridge's); a network
    /// without one only `attach`es to namespaces made elsewhere.
    pub async fn start(cfg: Config, netns_dir: Option<PathBuf>) -> Result<Network, NetError> {
        let pool = ipam::Ipam::new(cfg.bip, cfg.fixed_cidr).map_err(NetError::InvalidParameter)?;
        let (conn, handle, _) =
            rtnetlink::new_connection().map_err(|e| NetError::failed("netlink", e))?;
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
        if let Some(dir) = &netns_dir {
            std::fs::create_dir_all(dir)
                .map_err(|e| NetError::failed(dir.display().to_string(), e))?;
        }
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
    pub(crate) async fn rules_ready(&self) -> Result<(), NetError> {
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

    /// Waits for the packet rules `adopt` installs; how that went.
    pub async fn rules_installed(&self) -> Result<(), NetError> {
        self.rules_ready().await
    }

    /// Keeps an address from being handed out (a network's auxiliary addresses).
    pub fn reserve(&self, ip: std::net::Ipv4Addr, owner: &str) -> Result<(), NetError> {
        self.pools
            .lock()
            .expect("pools")
            .ipam
            .reserve(ip, owner)
            .map_err(NetError::InvalidParameter)
    }

    pub fn netns_path(&self, id: &str) -> PathBuf {
        let dir = self
            .netns_dir
            .as_deref()
            .unwrap_or(Path::new("/run/berth-netns"));
        netns::path_in(dir, id)
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
                self.cfg.internal,
            ));
            let chains = self.chains.clone();
            let bridge = self.cfg.bridge.clone();
            tokio::task::spawn_blocking(move || {
                let result = nat::install(&chains, &bridge, &rules);
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
        let Some(dir) = &self.netns_dir else { return };
        if let Ok(entries) = std::fs::read_dir(dir) {
            for e in entries.flatten() {
                if !keep_ns.contains(&e.path()) {
                    netns::remove(&e.path());
                }
            }
        }
    }

    /// Removes the bridge with its packet rules (`docker network rm`; the caller has made
    /// sure no container is on it).
    pub async fn destroy(&self) -> Result<(), NetError> {
        // The rules and the link go at once: deleting a bridge waits for RCU grace periods
        // (40 ms here), the rules' transaction as long again.
        let rules = async {
            if self.cfg.iptables {
                let _ = self.rules_ready().await;
                let (chains, bridge) = (self.chains.clone(), self.cfg.bridge.clone());
                let _ = tokio::task::spawn_blocking(move || nat::uninstall(&chains, &bridge)).await;
            }
        };
        let link = self.handle.link().del(self.bridge_index).execute();
        let ((), deleted) = tokio::join!(rules, link);
        match deleted {
            Ok(()) => Ok(()),
            Err(e) if e.to_string().contains("No such device") => Ok(()),
            Err(e) => Err(NetError::failed("delete bridge", e)),
        }
    }
}

/// The destinations of the host's IPv4 routes (what a new network's subnet must not overlap).
pub async fn host_routes() -> Result<Vec<ipam::Cidr>, NetError> {
    use rtnetlink::packet_route::route::{RouteAddress, RouteAttribute};
    let (conn, handle, _) =
        rtnetlink::new_connection().map_err(|e| NetError::failed("netlink", e))?;
    tokio::spawn(conn);
    let mut routes = handle
        .route()
        .get(rtnetlink::RouteMessageBuilder::<std::net::Ipv4Addr>::new().build())
        .execute();
    let mut out = Vec::new();
    while let Some(r) = routes.try_next().await.map_err(internal("list routes"))? {
        let prefix = r.header.destination_prefix_length;
        // The default route covers everything and conflicts with nothing.
        if prefix == 0 {
            continue;
        }
        for a in &r.attributes {
            if let RouteAttribute::Destination(RouteAddress::Inet(ip)) = a {
                out.push(ipam::Cidr { addr: *ip, prefix });
            }
        }
    }
    Ok(out)
}
