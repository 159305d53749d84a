//! User-defined networks: their records (one JSON file each, written atomically) and their
//! bridges, brought up at daemon start and kept by ID.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use serde::{Deserialize, Serialize};

use crate::error::EngineError;

/// The daemon's settings every user-defined bridge shares.
#[derive(Debug, Clone, Copy)]
pub struct BridgeDefaults {
    pub mtu: u32,
    pub iptables: bool,
    pub ip_forward: bool,
}

/// A boolean option as Go's `strconv.ParseBool` reads it (what Docker's options are).
pub(crate) fn parse_go_bool(v: &str) -> Option<bool> {
    match v {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// A user-defined network as kept on disk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkRecord {
    pub id: String,
    pub name: String,
    pub driver: String,
    /// RFC 3339.
    pub created: String,
    pub internal: bool,
    pub attachable: bool,
    pub labels: BTreeMap<String, String>,
    pub options: BTreeMap<String, String>,
    pub ipam_options: BTreeMap<String, String>,
    pub pool: Pool,
    /// Whether the subnet was asked for (static addresses need that, as in Docker).
    pub subnet_given: bool,
    /// The Linux bridge (`br-<short id>`, or `com.docker.network.bridge.name`).
    pub bridge: String,
}

/// The network's one IPv4 pool.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pool {
    /// `172.18.0.0/16`.
    pub subnet: String,
    pub gateway: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_range: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub aux_addresses: BTreeMap<String, String>,
}

impl NetworkRecord {
    pub fn short_id(&self) -> &str {
        &self.id[..12]
    }

    /// The bridge's settings for the network crate.
    pub(crate) fn bridge_config(
        &self,
        d: BridgeDefaults,
    ) -> Result<berth_network::Config, EngineError> {
        let subnet =
            berth_network::Cidr::parse(&self.pool.subnet).map_err(EngineError::InvalidParameter)?;
        let gateway: std::net::Ipv4Addr = self.pool.gateway.parse().map_err(|_| {
            EngineError::InvalidParameter(format!("invalid gateway {}", self.pool.gateway))
        })?;
        let flag = |key: &str, default: bool| {
            self.options
                .get(key)
                .and_then(|v| parse_go_bool(v))
                .unwrap_or(default)
        };
        Ok(berth_network::Config {
            bridge: self.bridge.clone(),
            bip: berth_network::Cidr {
                addr: gateway,
                prefix: subnet.prefix,
            },
            fixed_cidr: self
                .pool
                .ip_range
                .as_deref()
                .map(berth_network::Cidr::parse)
                .transpose()
                .map_err(EngineError::InvalidParameter)?,
            mtu: self
                .options
                .get("com.docker.network.driver.mtu")
                .and_then(|m| m.parse().ok())
                .unwrap_or(d.mtu),
            ip_forward: d.ip_forward,
            ip_masq: flag("com.docker.network.bridge.enable_ip_masquerade", true),
            icc: flag("com.docker.network.bridge.enable_icc", true),
            iptables: d.iptables,
            internal: self.internal,
        })
    }
}

/// A user-defined network with its bridge.
pub struct UserNetwork {
    pub record: NetworkRecord,
    pub bridge: Arc<berth_network::Network>,
}

/// The user-defined networks of a daemon.
pub struct UserNetworks {
    dir: PathBuf,
    pub(crate) defaults: Option<BridgeDefaults>,
    nets: RwLock<BTreeMap<String, Arc<UserNetwork>>>,
    /// Serialises creations and removals (names and subnets are checked, then taken).
    pub(crate) changes: tokio::sync::Mutex<()>,
}

impl UserNetworks {
    /// Reads the records and brings each network's bridge up (packet rules go in when the
    /// containers are adopted). `defaults` is `None` when the daemon cannot make bridges
    /// (tests of the API alone): the records are still listed.
    pub async fn open(
        data_root: &Path,
        defaults: Option<BridgeDefaults>,
    ) -> Result<Self, EngineError> {
        let dir = data_root.join("networks").join("user");
        std::fs::create_dir_all(&dir)
            .map_err(|e| EngineError::failed(format!("create {}", dir.display()), e))?;
        let store = UserNetworks {
            dir,
            defaults,
            nets: RwLock::new(BTreeMap::new()),
            changes: tokio::sync::Mutex::new(()),
        };
        for e in std::fs::read_dir(&store.dir)
            .map_err(|e| EngineError::failed("read networks", e))?
            .flatten()
        {
            let path = e.path();
            if path.extension().is_none_or(|x| x != "json") {
                continue;
            }
            let record: NetworkRecord = match std::fs::read(&path)
                .map_err(|e| e.to_string())
                .and_then(|d| serde_json::from_slice(&d).map_err(|e| e.to_string()))
            {
                Ok(r) => r,
                Err(err) => {
                    tracing::error!(path = %path.display(), error = %err, "skipping a network record that does not read");
                    continue;
                }
            };
            match store.bring_up(&record).await {
                Ok(bridge) => store.insert(record, bridge),
                Err(err) => {
                    tracing::error!(network = %record.name, error = %err, "cannot bring the network's bridge up")
                }
            }
        }
        Ok(store)
    }

    pub(crate) async fn bring_up(
        &self,
        record: &NetworkRecord,
    ) -> Result<Arc<berth_network::Network>, EngineError> {
        let defaults = self.defaults.ok_or_else(|| {
            EngineError::NotImplemented("this daemon runs without networking".into())
        })?;
        let cfg = record.bridge_config(defaults)?;
        let bridge = berth_network::Network::start(cfg, None).await?;
        for (name, addr) in &record.pool.aux_addresses {
            if let Ok(ip) = addr.parse() {
                bridge.reserve(ip, &format!("aux:{name}"))?;
            }
        }
        Ok(Arc::new(bridge))
    }

    pub(crate) fn insert(&self, record: NetworkRecord, bridge: Arc<berth_network::Network>) {
        self.nets
            .write()
            .expect("lock")
            .insert(record.id.clone(), Arc::new(UserNetwork { record, bridge }));
    }

    pub(crate) fn forget(&self, id: &str) {
        self.nets.write().expect("lock").remove(id);
        let _ = std::fs::remove_file(self.dir.join(format!("{id}.json")));
    }

    pub(crate) fn persist(&self, record: &NetworkRecord) -> Result<(), EngineError> {
        let path = self.dir.join(format!("{}.json", record.id));
        let data = serde_json::to_vec_pretty(record).expect("serialises");
        berth_image::fsutil::write_atomic(&path, &data)
            .map_err(|e| EngineError::failed(format!("write {}", path.display()), e))
    }

    pub fn all(&self) -> Vec<Arc<UserNetwork>> {
        self.nets.read().expect("lock").values().cloned().collect()
    }

    pub fn by_id(&self, id: &str) -> Option<Arc<UserNetwork>> {
        self.nets.read().expect("lock").get(id).cloned()
    }

    /// A network by full ID, name, or unique ID prefix, as Docker finds one.
    pub fn find(&self, wanted: &str) -> Option<Arc<UserNetwork>> {
        let nets = self.nets.read().expect("lock");
        if let Some(n) = nets.get(wanted) {
            return Some(n.clone());
        }
        if let Some(n) = nets.values().find(|n| n.record.name == wanted) {
            return Some(n.clone());
        }
        let mut by_prefix = nets.values().filter(|n| n.record.id.starts_with(wanted));
        match (by_prefix.next(), by_prefix.next()) {
            (Some(n), None) if !wanted.is_empty() => Some(n.clone()),
            _ => None,
        }
    }
}
