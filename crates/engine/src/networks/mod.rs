//! Networks: the three every daemon has (`bridge`, `host` and `none`, whose IDs are made once
//! per data root and kept, so that a container's `NetworkID` stays the same across daemon
//! restarts, as Docker's does), and the user-defined bridges with their name resolution.

mod connect;
mod create;
mod disconnect;
mod names;
mod prune;
mod remove;
mod store;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::EngineError;

pub use connect::EndpointRequest;
pub use create::{NetworkCreate, PoolRequest};
pub(crate) use names::dns_names;
pub use store::{BridgeDefaults, NetworkRecord, Pool, UserNetwork, UserNetworks};

/// The predefined networks' names, in the order Docker lists them.
pub const PREDEFINED: [&str; 3] = ["bridge", "host", "none"];

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PredefinedNetworks {
    bridge: String,
    host: String,
    none: String,
}

impl PredefinedNetworks {
    pub fn path(data_root: &Path) -> PathBuf {
        data_root.join("networks").join("predefined.json")
    }

    /// Reads the IDs, or makes and keeps them on a data root that has none yet.
    pub fn open(data_root: &Path) -> Result<Self, EngineError> {
        let path = Self::path(data_root);
        match std::fs::read(&path) {
            Ok(data) => serde_json::from_slice(&data)
                .map_err(|e| EngineError::failed(format!("read {}", path.display()), e)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let made = PredefinedNetworks {
                    bridge: crate::random_id(),
                    host: crate::random_id(),
                    none: crate::random_id(),
                };
                made.write(&path)
                    .map_err(|e| EngineError::failed(format!("write {}", path.display()), e))?;
                Ok(made)
            }
            Err(e) => Err(EngineError::failed(format!("read {}", path.display()), e)),
        }
    }

    fn write(&self, path: &Path) -> std::io::Result<()> {
        std::fs::create_dir_all(path.parent().expect("a file in a directory"))?;
        let data = serde_json::to_vec_pretty(self).expect("serialises");
        berth_image::fsutil::write_atomic(path, &data)
    }

    /// The ID of a predefined network, by name.
    pub fn id(&self, name: &str) -> Option<&str> {
        match name {
            "bridge" => Some(&self.bridge),
            "host" => Some(&self.host),
            "none" => Some(&self.none),
            _ => None,
        }
    }
}

/// A network as `GET /networks` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkView {
    pub name: String,
    pub id: String,
    /// `bridge`, `host` or `null`.
    pub driver: String,
    /// RFC 3339.
    pub created: String,
    /// User-defined (`custom`), or one of the predefined three (`builtin`).
    pub custom: bool,
    pub internal: bool,
    pub attachable: bool,
    /// The pool: subnet (`172.18.0.0/16`), gateway, range and auxiliary addresses.
    pub pool: Option<store::Pool>,
    pub ipam_options: Option<BTreeMap<String, String>>,
    pub options: BTreeMap<String, String>,
    pub labels: BTreeMap<String, String>,
    /// The running containers on it.
    pub endpoints: Vec<NetworkMember>,
}

/// A running container on a network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkMember {
    pub container: String,
    pub name: String,
    pub endpoint_id: String,
    pub mac: String,
    /// `172.18.0.2/16`, or empty.
    pub ipv4: String,
}

impl crate::containers::ContainerService {
    /// A predefined network's name by its ID or a unique prefix of it.
    pub(crate) fn predefined_named(&self, wanted: &str) -> Option<String> {
        if wanted.is_empty() {
            return None;
        }
        PREDEFINED
            .iter()
            .find(|n| {
                self.predefined
                    .id(n)
                    .is_some_and(|id| id.starts_with(wanted))
            })
            .map(|n| n.to_string())
    }

    /// The running containers on a user-defined network.
    pub(crate) fn network_members(&self, id: &str) -> Vec<NetworkMember> {
        self.list()
            .into_iter()
            .filter_map(|r| {
                let a = r.networks.values().find(|a| a.network_id == id)?;
                let ep = a.endpoint.as_ref()?;
                Some(NetworkMember {
                    container: r.id.clone(),
                    name: r.bare_name().to_string(),
                    endpoint_id: a.endpoint_id.clone(),
                    mac: ep.mac.clone(),
                    ipv4: format!("{}/{}", ep.ip, ep.prefix),
                })
            })
            .collect()
    }

    /// Every network: the predefined ones (`bridge` only when the daemon has one), then the
    /// user-defined ones.
    pub fn networks(&self) -> Vec<NetworkView> {
        let created = std::fs::metadata(PredefinedNetworks::path(&self.paths.data_root))
            .ok()
            .and_then(|m| m.modified().ok())
            .and_then(|t| jiff::Timestamp::try_from(t).ok())
            .map(|t| t.to_string())
            .unwrap_or_default();
        let running: Vec<crate::containers::ContainerRecord> = self
            .list()
            .into_iter()
            .filter(|r| !r.state.sandbox_id.is_empty())
            .collect();
        let mut out: Vec<NetworkView> = PREDEFINED
            .iter()
            .filter(|n| **n != "bridge" || self.network.is_some())
            .map(|name| {
                let (pool, options) = match (*name, &self.network) {
                    ("bridge", Some(net)) => {
                        let cfg = net.config();
                        let options = [
                            (
                                "com.docker.network.bridge.default_bridge",
                                "true".to_string(),
                            ),
                            ("com.docker.network.bridge.enable_icc", cfg.icc.to_string()),
                            (
                                "com.docker.network.bridge.enable_ip_masquerade",
                                cfg.ip_masq.to_string(),
                            ),
                            (
                                "com.docker.network.bridge.host_binding_ipv4",
                                "0.0.0.0".into(),
                            ),
                            ("com.docker.network.bridge.name", cfg.bridge.clone()),
                            ("com.docker.network.driver.mtu", cfg.mtu.to_string()),
                        ]
                        .into_iter()
                        .map(|(k, v)| (k.to_string(), v))
                        .collect();
                        let pool = store::Pool {
                            subnet: cfg.bip.base().to_string(),
                            gateway: cfg.bip.addr.to_string(),
                            ip_range: None,
                            aux_addresses: BTreeMap::new(),
                        };
                        (Some(pool), options)
                    }
                    _ => (None, Default::default()),
                };
                let endpoints = running
                    .iter()
                    .filter(|r| crate::containers::network_of(r).as_deref() == Some(*name))
                    .map(|r| NetworkMember {
                        container: r.id.clone(),
                        name: r.name.trim_start_matches('/').to_string(),
                        endpoint_id: r.state.endpoint_id.clone(),
                        mac: r
                            .network
                            .as_ref()
                            .map(|e| e.mac.clone())
                            .unwrap_or_default(),
                        ipv4: r
                            .network
                            .as_ref()
                            .map(|e| format!("{}/{}", e.ip, e.prefix))
                            .unwrap_or_default(),
                    })
                    .collect();
                NetworkView {
                    name: name.to_string(),
                    id: self.predefined.id(name).unwrap_or_default().to_string(),
                    driver: match *name {
                        "none" => "null".into(),
                        other => other.to_string(),
                    },
                    created: created.clone(),
                    custom: false,
                    internal: false,
                    attachable: false,
                    pool,
                    ipam_options: None,
                    options,
                    labels: BTreeMap::new(),
                    endpoints,
                }
            })
            .collect();
        for n in self.user_networks.all() {
            let r = &n.record;
            out.push(NetworkView {
                name: r.name.clone(),
                id: r.id.clone(),
                driver: r.driver.clone(),
                created: r.created.clone(),
                custom: true,
                internal: r.internal,
                attachable: r.attachable,
                pool: Some(r.pool.clone()),
                ipam_options: Some(r.ipam_options.clone()),
                options: r.options.clone(),
                labels: r.labels.clone(),
                endpoints: self.network_members(&r.id),
            });
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_made_once_and_kept() {
        let root = tempfile::tempdir().unwrap();
        let first = PredefinedNetworks::open(root.path()).unwrap();
        let again = PredefinedNetworks::open(root.path()).unwrap();
        assert_eq!(first, again);
        let ids: Vec<_> = PREDEFINED.iter().map(|n| first.id(n).unwrap()).collect();
        assert!(ids.iter().all(|id| id.len() == 64));
        assert!(ids[0] != ids[1] && ids[1] != ids[2] && ids[0] != ids[2]);
        assert_eq!(first.id("mynet"), None);
        // Another data root, other IDs.
        let other = tempfile::tempdir().unwrap();
        assert_ne!(PredefinedNetworks::open(other.path()).unwrap(), first);
    }
}
