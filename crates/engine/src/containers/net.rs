//! A container's network: which mode it runs in, the ports it publishes, and how its bridge
//! endpoint (kept in its record while it runs) shows in `inspect` and the container list.

use std::net::Ipv4Addr;

use berth_network::{PortRequest, Proto};

use super::record::ContainerRecord;
use super::spec::{NetworkMode, Port, PortBinding};
use crate::error::EngineError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Mode {
    /// A namespace of its own on the default bridge.
    Bridge,
    /// A namespace of its own with only a loopback.
    None,
    Host,
    /// Another container's namespace.
    Container(String),
    /// A namespace of its own on a user-defined network (its name).
    User(String),
}

/// The mode a container runs in; the default bridge counts as `none` when the daemon runs
/// without one (`--bridge none`).
pub(crate) fn mode(
    rec: &ContainerRecord,
    have_bridge: bool,
    user: &crate::networks::UserNetworks,
) -> Result<Mode, EngineError> {
    if rec.spec.config.network_disabled {
        return Ok(Mode::None);
    }
    Ok(match &rec.spec.host.network_mode {
        NetworkMode::Default | NetworkMode::Bridge if have_bridge => Mode::Bridge,
        NetworkMode::Default | NetworkMode::Bridge | NetworkMode::None => Mode::None,
        NetworkMode::Host => Mode::Host,
        NetworkMode::Container(other) => Mode::Container(other.clone()),
        NetworkMode::Named(n) => match user.find(n) {
            Some(net) => Mode::User(net.record.name.clone()),
            None => return Err(EngineError::NotFound(format!("network {n} not found"))),
        },
    })
}

/// The name of the network a container is on, as `NetworkSettings.Networks` keys it.
pub(crate) fn network_name(rec: &ContainerRecord) -> Option<String> {
    if rec.spec.config.network_disabled {
        return Some("none".into());
    }
    match &rec.spec.host.network_mode {
        NetworkMode::Default | NetworkMode::Bridge => Some("bridge".into()),
        NetworkMode::None => Some("none".into()),
        NetworkMode::Host => Some("host".into()),
        NetworkMode::Named(n) => Some(n.clone()),
        NetworkMode::Container(_) => None,
    }
}

/// Checks a create's network settings the way Docker does before anything runs.
pub(crate) fn validate(
    rec: &ContainerRecord,
    user: &crate::networks::UserNetworks,
) -> Result<(), EngineError> {
    mode(rec, true, user)?;
    if !rec.spec.config.mac_address.is_empty() {
        berth_network::parse_mac(&rec.spec.config.mac_address)
            .map_err(EngineError::InvalidParameter)?;
    }
    Ok(())
}

/// The ports to publish: `PortBindings`, and with `PublishAllPorts` every other exposed port
/// on an ephemeral host port.
pub(crate) fn port_requests(rec: &ContainerRecord) -> Vec<PortRequest> {
    let h = &rec.spec.host;
    let request = |port: Port, b: PortBinding| PortRequest {
        proto: port.proto,
        container_port: port.number,
        host_ip: b.host_ip.unwrap_or(Ipv4Addr::UNSPECIFIED),
        host_port: b.host_port.unwrap_or(0),
    };
    let bindings = h.port_bindings.clone().unwrap_or_default();
    let mut out = Vec::new();
    for (port, list) in &bindings {
        if list.is_empty() {
            out.push(request(*port, PortBinding::default()));
        }
        out.extend(list.iter().map(|b| request(*port, *b)));
    }
    if h.publish_all_ports {
        for port in rec.spec.exposed_ports() {
            if !bindings.contains_key(&port) {
                out.push(request(port, PortBinding::default()));
            }
        }
    }
    out
}

/// Where a container's network stands: its sandbox while it runs, its endpoint on each
/// network, and on the default bridge the addresses and published ports. `inspect`'s
/// `NetworkSettings` and the list's `Ports` and `NetworkSettings` are all drawn from this.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NetworkSettings {
    pub sandbox_id: String,
    /// The network namespace's path, for `nsenter --net=`.
    pub sandbox_key: String,
    /// The bridge endpoint while the container runs on the bridge.
    pub bridge: Option<BridgeEndpoint>,
    /// One endpoint per network, by network name; none for `container:` networking.
    pub networks: Vec<(String, NetworkEndpoint)>,
    /// While it runs on a bridge (the default one or a user-defined one): its exposed ports
    /// and where they are published.
    pub ports: Option<Vec<PublishedPort>>,
}

/// The default bridge's endpoint of a running container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BridgeEndpoint {
    pub bridge: String,
    pub gateway: Ipv4Addr,
    pub ip: Ipv4Addr,
    pub prefix: u8,
    pub mac: String,
}

/// A container's endpoint on one network. `network_id` is empty until the container's first
/// start and the rest while it does not run, as Docker shows them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NetworkEndpoint {
    pub network_id: String,
    pub endpoint_id: String,
    pub address: Option<EndpointAddress>,
    /// On a user-defined network: what was asked for it, and while it runs the names others
    /// find it by.
    pub user_defined: bool,
    pub aliases: Vec<String>,
    pub dns_names: Vec<String>,
    pub static_ipv4: Option<Ipv4Addr>,
    pub links: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointAddress {
    pub gateway: Ipv4Addr,
    pub ip: Ipv4Addr,
    pub prefix: u8,
    pub mac: String,
}

/// An exposed port and the host addresses and ports it is published on.
pub type PublishedPort = (Port, Vec<(Ipv4Addr, u16)>);

/// The container's exposed ports with their host bindings, in port order.
pub fn published_ports(rec: &ContainerRecord) -> Vec<PublishedPort> {
    rec.spec
        .exposed_ports()
        .into_iter()
        .map(|port| {
            let bound = rec
                .network
                .iter()
                .chain(rec.networks.values().filter_map(|a| a.endpoint.as_ref()))
                .flat_map(|ep| ep.ports.iter())
                .filter(|m| m.container_port == port.number && m.proto == port.proto)
                .map(|m| (m.host_ip, m.host_port))
                .collect();
            (port, bound)
        })
        .collect()
}

impl super::ContainerService {
    pub fn network_settings(&self, rec: &ContainerRecord) -> NetworkSettings {
        let bridge = rec.network.as_ref().map(|ep| BridgeEndpoint {
            bridge: ep.bridge.clone(),
            gateway: ep.gateway,
            ip: ep.ip,
            prefix: ep.prefix,
            mac: ep.mac.clone(),
        });
        let running = !rec.state.sandbox_id.is_empty();
        let user_ns = rec
            .networks
            .values()
            .find_map(|a| a.endpoint.as_ref().map(|e| e.netns.clone()));
        let sandbox_key = match (
            rec.network.as_ref().map(|e| &e.netns).or(user_ns.as_ref()),
            rec.state.pid,
        ) {
            _ if !running => String::new(),
            (Some(ns), _) => ns.display().to_string(),
            (None, pid) if pid > 0 => format!("/proc/{pid}/ns/net"),
            (None, _) => String::new(),
        };
        let mut networks: Vec<(String, NetworkEndpoint)> = network_name(rec)
            .filter(|n| self.predefined.id(n).is_some())
            .map(|name| {
                let ever_started = rec.state.started_at != super::record::ZERO_TIME;
                let endpoint = NetworkEndpoint {
                    network_id: match self.predefined.id(&name) {
                        Some(id) if ever_started => id.to_string(),
                        _ => String::new(),
                    },
                    endpoint_id: rec.state.endpoint_id.clone(),
                    address: rec.network.as_ref().map(|ep| EndpointAddress {
                        gateway: ep.gateway,
                        ip: ep.ip,
                        prefix: ep.prefix,
                        mac: ep.mac.clone(),
                    }),
                    ..NetworkEndpoint::default()
                };
                (name, endpoint)
            })
            .into_iter()
            .collect();
        for (name, a) in &rec.networks {
            let address = a.endpoint.as_ref().map(|ep| EndpointAddress {
                gateway: ep.gateway,
                ip: ep.ip,
                prefix: ep.prefix,
                mac: ep.mac.clone(),
            });
            networks.push((
                name.clone(),
                NetworkEndpoint {
                    network_id: a.network_id.clone(),
                    endpoint_id: a.endpoint_id.clone(),
                    dns_names: if address.is_some() {
                        crate::networks::dns_names(rec, &a.aliases)
                    } else {
                        Vec::new()
                    },
                    address,
                    user_defined: true,
                    aliases: a.aliases.clone(),
                    static_ipv4: a.ipv4,
                    links: a.links.clone(),
                },
            ));
        }
        let on_a_bridge =
            rec.network.is_some() || rec.networks.values().any(|a| a.endpoint.is_some());
        NetworkSettings {
            sandbox_id: rec.state.sandbox_id.clone(),
            sandbox_key,
            bridge,
            networks,
            ports: on_a_bridge.then(|| published_ports(rec)),
        }
    }
}

/// A link spec, `name:alias` or `name`, as (container name, alias).
pub(crate) fn parse_link(spec: &str) -> Result<(String, String), EngineError> {
    let (name, alias) = match spec.split_once(':') {
        Some((n, a)) => (n, a),
        None => (spec, spec),
    };
    let (name, alias) = (name.trim_start_matches('/'), alias.trim_start_matches('/'));
    if name.is_empty() || alias.is_empty() || alias.contains('/') {
        return Err(EngineError::InvalidParameter(format!(
            "invalid link: {spec}"
        )));
    }
    Ok((name.to_string(), alias.to_string()))
}

/// The environment Docker gives a container for each link: `ALIAS_NAME`, `ALIAS_PORT`, one
/// `ALIAS_PORT_<port>_<PROTO>` group per exposed port, and the linked container's own
/// environment as `ALIAS_ENV_*`.
pub(crate) fn link_env(parent_name: &str, alias: &str, child: &ContainerRecord) -> Vec<String> {
    let prefix = alias.to_ascii_uppercase().replace('-', "_");
    let ip = child
        .network
        .as_ref()
        .map(|e| e.ip.to_string())
        .unwrap_or_default();
    let mut env = vec![format!(
        "{prefix}_NAME={}/{alias}",
        parent_name.trim_end_matches('/')
    )];
    let ports = child.spec.exposed_ports();
    if let Some(Port { number, proto }) = ports.first() {
        env.push(format!("{prefix}_PORT={}://{ip}:{number}", proto.as_str()));
    }
    for Port {
        number: port,
        proto,
    } in &ports
    {
        let p = proto.as_str();
        let key = format!("{prefix}_PORT_{port}_{}", p.to_ascii_uppercase());
        env.push(format!("{key}={p}://{ip}:{port}"));
        env.push(format!("{key}_ADDR={ip}"));
        env.push(format!("{key}_PORT={port}"));
        env.push(format!("{key}_PROTO={p}"));
    }
    for kv in child.spec.config.env.iter().flatten() {
        let Some((k, v)) = kv.split_once('=') else {
            continue;
        };
        // As Docker: what image builds add is not the linked container's own.
        if k == "HOME" || k == "PATH" {
            continue;
        }
        env.push(format!("{prefix}_ENV_{k}={v}"));
    }
    env
}

/// The linked container's exposed ports (what `--icc=false` opens to the linking one).
pub(crate) fn exposed_ports(child: &ContainerRecord) -> Vec<(Proto, u16)> {
    child
        .spec
        .exposed_ports()
        .into_iter()
        .map(|p| (p.proto, p.number))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_specs() {
        assert_eq!(parse_link("db:data").unwrap(), ("db".into(), "data".into()));
        assert_eq!(parse_link("/db").unwrap(), ("db".into(), "db".into()));
        assert!(parse_link("db:").is_err());
    }
}
