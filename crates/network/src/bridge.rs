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
    pub async fn start(cfg: Config, netns_dir: PathBuf) -> Result<Network, NetError> {
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
        std::fs::create_dir_all(&netns_dir)
            .map_err(|e| NetError::failed(netns_dir.display().to_string(), e))?;
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

    pub fn netns_path(&self, id: &str) -> PathBuf {
        netns::path_in(&self.netns_dir, id)
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
}
