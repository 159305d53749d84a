//! A container's endpoint on the bridge: its veth pair, address, published ports, and their release.

use std::net::{IpAddr, Ipv4Addr};

use futures_util::TryStreamExt;
use rtnetlink::{Handle, LinkUnspec, LinkVeth, RouteMessageBuilder};

use crate::{
    format_mac, internal, link_index, mac_for, nat, netns, parse_mac, ports, set_up, AttachRequest,
    ConnectRequest, Endpoint, NetError, Network,
};

impl Network {
    /// The host end's name: from the container ID, so a restarted daemon can tell whose
    /// a veth is.
    pub(crate) fn veth_name(id: &str) -> String {
        format!("veth{}", &id[..id.len().min(11)])
    }

    /// Gives a container an address, a namespace with `eth0` on the bridge, and its
    /// published ports. Undoes everything when a step fails.
    pub async fn connect(&self, req: ConnectRequest) -> Result<Endpoint, NetError> {
        let attach = AttachRequest {
            netns: self.netns_path(&req.id),
            ifname: "eth0".into(),
            host_veth: Self::veth_name(&req.id),
            ip: None,
            default_route: true,
            req,
        };
        let path = attach.netns.clone();
        netns::create(&path).map_err(NetError::Internal)?;
        let made = self.attach(attach).await;
        if made.is_err() {
            netns::remove(&path);
        }
        made
    }

    /// Adds an interface on the bridge to an existing namespace (a container on a
    /// user-defined network, or on a second network), with an address (the one asked for,
    /// or the next free one) and the published ports. On failure, what was done is undone
    /// except the namespace.
    pub async fn attach(&self, a: AttachRequest) -> Result<Endpoint, NetError> {
        // Also covers the link grants made right after (`grant`).
        self.rules_ready().await?;
        let ip = {
            let mut p = self.pools.lock().expect("pools");
            match a.ip {
                Some(ip) => p.ipam.reserve_static(ip, &a.req.id).map(|()| ip),
                None => p.ipam.allocate(&a.req.id),
            }
        };
        let ip = ip.map_err(NetError::InvalidParameter)?;
        let mut ep = Endpoint {
            netns: a.netns.clone(),
            ip,
            prefix: self.cfg.bip.prefix,
            gateway: self.cfg.bip.addr,
            mac: format_mac(a.req.mac.unwrap_or_else(|| mac_for(ip))),
            bridge: self.cfg.bridge.clone(),
            host_veth: a.host_veth.clone(),
            ports: Vec::new(),
            links: Vec::new(),
            ifname: a.ifname.clone(),
        };
        let default_route = a.default_route && !self.cfg.internal;
        match self.connect_steps(&a.req, &mut ep, default_route).await {
            Ok(()) => Ok(ep),
            Err(e) => {
                self.detach(&a.req.id, &ep).await;
                Err(e)
            }
        }
    }

    pub(crate) async fn connect_steps(
        &self,
        req: &ConnectRequest,
        ep: &mut Endpoint,
        default_route: bool,
    ) -> Result<(), NetError> {
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
        // The container's end is made inside its namespace, already named with its MAC:
        // moving an interface between namespaces waits for RCU grace periods (measured here:
        // 30–40 ms), making it there does not.
        let ns = std::fs::File::open(&ep.netns)
            .map_err(|e| NetError::failed("open network namespace", e))?;
        let mac = parse_mac(&ep.mac).map_err(NetError::InvalidParameter)?;
        {
            use rtnetlink::packet_route::link::{InfoData, InfoKind, InfoVeth};
            use rtnetlink::LinkMessageBuilder;
            use std::os::fd::AsRawFd;
            let container_end = LinkMessageBuilder::<LinkUnspec>::new()
                .name(ep.ifname.clone())
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
        let ifname = ep.ifname.clone();
        netns::run_in(&ep.netns, move || async move {
            let (conn, h, _) = rtnetlink::new_connection().map_err(|e| e.to_string())?;
            tokio::spawn(conn);
            let e = |e: NetError| e.to_string();
            let lo = link_index(&h, "lo")
                .await
                .map_err(e)?
                .ok_or("no loopback")?;
            set_up(&h, lo).await.map_err(e)?;
            let idx = link_index(&h, &ifname)
                .await
                .map_err(e)?
                .ok_or_else(|| format!("{ifname} missing"))?;
            set_up(&h, idx).await.map_err(e)?;
            h.address()
                .add(idx, IpAddr::V4(ip), prefix)
                .execute()
                .await
                .map_err(|e| format!("set address: {e}"))?;
            if !default_route {
                return Ok(());
            }
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
            nat::apply(nat::Op::Insert, &self.port_rules(ep)).map_err(NetError::Internal)?;
        }
        mark("rules");
        Ok(())
    }

    pub(crate) fn port_rules(&self, ep: &Endpoint) -> Vec<nat::Rule> {
        ep.ports
            .iter()
            .flat_map(|m| nat::port_rules(&self.chains, &self.cfg.bridge, ep.ip, m))
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
                tokio::task::spawn_blocking(move || nat::apply(nat::Op::Delete, &rules)).await;
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

    /// Takes one interface out of a namespace that stays (`docker network disconnect` of a
    /// running container): its rules, its veth (at once, so the address is free again),
    /// its ports and its address.
    pub async fn detach(&self, id: &str, ep: &Endpoint) {
        let mut rules = self.link_rules(ep);
        rules.extend(self.port_rules(ep));
        if self.cfg.iptables && !rules.is_empty() && self.rules_ready().await.is_ok() {
            let done =
                tokio::task::spawn_blocking(move || nat::apply(nat::Op::Delete, &rules)).await;
            if let Ok(Err(e)) = done {
                tracing::debug!(error = %e, "removing rules");
            }
        }
        if let Ok(Some(index)) = link_index(&self.handle, &ep.host_veth).await {
            let _ = self.handle.link().del(index).execute().await;
        }
        let mut p = self.pools.lock().expect("pools");
        p.ports.release_owner(id);
        p.ipam.release(ep.ip, id);
    }
}
