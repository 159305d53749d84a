//! Links between containers when inter-container traffic is off: the grants and their rules.

use std::net::Ipv4Addr;

use crate::{nat, Endpoint, LinkGrant, NetError, Network, Proto};

impl Network {
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

    pub(crate) fn link_rules(&self, ep: &Endpoint) -> Vec<nat::Rule> {
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

    /// With inter-container traffic off, lets `from` reach `to` on its exposed ports.
    pub(crate) fn allow_link(
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
