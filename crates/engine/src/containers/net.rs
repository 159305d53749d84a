//! A container's network: which mode it runs in, the ports it publishes, and how its bridge
//! endpoint (kept in its record while it runs) shows in `inspect` and the container list.

use std::net::Ipv4Addr;

use berth_network::{parse_port_key, Endpoint, PortRequest, Proto};

use super::record::ContainerRecord;
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
}

/// The mode a container runs in; the default bridge counts as `none` when the daemon runs
/// without one (`--bridge none`).
pub(crate) fn mode(rec: &ContainerRecord, have_bridge: bool) -> Result<Mode, EngineError> {
    if rec.config.network_disabled {
        return Ok(Mode::None);
    }
    let m = rec.host_config.network_mode.as_str();
    Ok(match m {
        "" | "default" | "bridge" => {
            if have_bridge {
                Mode::Bridge
            } else {
                Mode::None
            }
        }
        "none" => Mode::None,
        "host" => Mode::Host,
        _ => match m.strip_prefix("container:") {
            Some(other) if !other.is_empty() => Mode::Container(other.to_string()),
            _ => {
                return Err(EngineError::InvalidParameter(format!(
                    "network {m} not found"
                )))
            }
        },
    })
}

/// Checks a create's network settings the way Docker does before anything runs.
pub(crate) fn validate(rec: &ContainerRecord) -> Result<(), EngineError> {
    mode(rec, true)?;
    if !rec.config.mac_address.is_empty() {
        berth_network::parse_mac(&rec.config.mac_address).map_err(EngineError::InvalidParameter)?;
    }
    port_requests(rec)?;
    Ok(())
}

/// The exposed ports: the config's, and every port that has bindings.
fn exposed(rec: &ContainerRecord) -> Result<Vec<(u16, Proto)>, EngineError> {
    let mut out = Vec::new();
    let keys = rec
        .config
        .exposed_ports
        .iter()
        .flat_map(|m| m.keys().cloned())
        .chain(bindings(rec).into_iter().map(|(k, _)| k));
    for k in keys {
        let p = parse_port_key(&k).map_err(EngineError::InvalidParameter)?;
        if !out.contains(&p) {
            out.push(p);
        }
    }
    out.sort();
    Ok(out)
}

/// `PortBindings` as (port key, [(HostIp, HostPort)]).
fn bindings(rec: &ContainerRecord) -> Vec<(String, Vec<(String, String)>)> {
    let Some(serde_json::Value::Object(map)) = &rec.host_config.port_bindings else {
        return Vec::new();
    };
    map.iter()
        .map(|(k, v)| {
            let list = v
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|b| {
                            let s = |f: &str| {
                                b.get(f).and_then(|x| x.as_str()).unwrap_or("").to_string()
                            };
                            (s("HostIp"), s("HostPort"))
                        })
                        .collect()
                })
                .unwrap_or_default();
            (k.clone(), list)
        })
        .collect()
}

/// The ports to publish: `PortBindings`, and with `PublishAllPorts` every other exposed port
/// on an ephemeral host port.
pub(crate) fn port_requests(rec: &ContainerRecord) -> Result<Vec<PortRequest>, EngineError> {
    let mut out = Vec::new();
    let mut bound = Vec::new();
    for (key, list) in bindings(rec) {
        let (port, proto) = parse_port_key(&key).map_err(EngineError::InvalidParameter)?;
        bound.push((port, proto));
        let list = if list.is_empty() {
            vec![(String::new(), String::new())]
        } else {
            list
        };
        for (ip, host_port) in list {
            let host_ip: Ipv4Addr = if ip.is_empty() {
                Ipv4Addr::UNSPECIFIED
            } else {
                ip.parse().map_err(|_| {
                    EngineError::InvalidParameter(format!("invalid IP address: {ip}"))
                })?
            };
            let host_port: u16 = if host_port.is_empty() {
                0
            } else {
                host_port.parse().map_err(|_| {
                    EngineError::InvalidParameter(format!("invalid hostPort: {host_port}"))
                })?
            };
            out.push(PortRequest {
                proto,
                container_port: port,
                host_ip,
                host_port,
            });
        }
    }
    if rec.host_config.publish_all_ports {
        for (port, proto) in exposed(rec)? {
            if !bound.contains(&(port, proto)) {
                out.push(PortRequest {
                    proto,
                    container_port: port,
                    host_ip: Ipv4Addr::UNSPECIFIED,
                    host_port: 0,
                });
            }
        }
    }
    Ok(out)
}

/// `NetworkSettings.Ports`: every exposed port, with its host bindings or null.
pub fn ports_map(rec: &ContainerRecord) -> serde_json::Value {
    let Some(ep) = &rec.network else {
        return serde_json::Value::Null;
    };
    let mut map = serde_json::Map::new();
    for (port, proto) in exposed(rec).unwrap_or_default() {
        let bound: Vec<_> = ep
            .ports
            .iter()
            .filter(|m| m.container_port == port && m.proto == proto)
            .map(|m| serde_json::json!({"HostIp": m.host_ip.to_string(), "HostPort": m.host_port.to_string()}))
            .collect();
        map.insert(
            format!("{port}/{}", proto.as_str()),
            if bound.is_empty() {
                serde_json::Value::Null
            } else {
                serde_json::Value::Array(bound)
            },
        );
    }
    serde_json::Value::Object(map)
}

/// The `Ports` list of `/containers/json`.
pub fn ports_list(rec: &ContainerRecord) -> Vec<serde_json::Value> {
    let mut out = Vec::new();
    for (port, proto) in exposed(rec).unwrap_or_default() {
        let mapped: Vec<_> = rec
            .network
            .iter()
            .flat_map(|ep| ep.ports.iter())
            .filter(|m| m.container_port == port && m.proto == proto)
            .collect();
        if mapped.is_empty() {
            out.push(serde_json::json!({"PrivatePort": port, "Type": proto.as_str()}));
        }
        for m in mapped {
            out.push(serde_json::json!({
                "IP": m.host_ip.to_string(),
                "PrivatePort": port,
                "PublicPort": m.host_port,
                "Type": proto.as_str(),
            }));
        }
    }
    out
}

/// The endpoint's address facts for `inspect` (empty when not on the bridge).
pub fn endpoint(rec: &ContainerRecord) -> Option<&Endpoint> {
    rec.network.as_ref()
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
    let ports = exposed(child).unwrap_or_default();
    if let Some((port, proto)) = ports.first() {
        env.push(format!("{prefix}_PORT={}://{ip}:{port}", proto.as_str()));
    }
    for (port, proto) in &ports {
        let p = proto.as_str();
        let key = format!("{prefix}_PORT_{port}_{}", p.to_ascii_uppercase());
        env.push(format!("{key}={p}://{ip}:{port}"));
        env.push(format!("{key}_ADDR={ip}"));
        env.push(format!("{key}_PORT={port}"));
        env.push(format!("{key}_PROTO={p}"));
    }
    for kv in child.config.env.iter().flatten() {
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
    exposed(child)
        .unwrap_or_default()
        .into_iter()
        .map(|(port, proto)| (proto, port))
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
