//! What the resolver knows: every running container on a user-defined network, with its
//! namespace, its upstream servers and its endpoints' addresses and names.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Table {
    /// By container ID.
    pub sandboxes: BTreeMap<String, Sandbox>,
}

/// A container's network namespace, where the resolver listens for it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sandbox {
    pub netns: PathBuf,
    /// Where other names are forwarded, in order (reached from the host's namespace).
    pub upstreams: Vec<IpAddr>,
    pub endpoints: Vec<Endpoint>,
}

/// A container's place on one user-defined network.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoint {
    pub network_id: String,
    pub network_name: String,
    pub ip: Ipv4Addr,
    /// Name, aliases, short ID, hostname: what the others find it by.
    pub names: Vec<String>,
    /// Its links on this network, as (alias, the linked container's name): names only this
    /// container resolves.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<(String, String)>,
}

impl Table {
    pub const FILE: &'static str = "table.json";

    pub fn read(dir: &Path) -> std::io::Result<Table> {
        match std::fs::read(dir.join(Self::FILE)) {
            Ok(data) => serde_json::from_slice(&data)
                .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Table::default()),
            Err(e) => Err(e),
        }
    }

    /// Replaces the file at once (a reader sees the old table or the new one, whole).
    pub fn write(&self, dir: &Path) -> std::io::Result<()> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join(Self::FILE);
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, serde_json::to_vec(self).expect("serialises"))?;
        std::fs::rename(&tmp, &path)
    }
}
