//! The networks every daemon has: `bridge`, `host` and `none`. Their IDs are made once per
//! data root and kept, so that a container's `NetworkID` stays the same across daemon restarts,
//! as Docker's does.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::EngineError;

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
        let dir = path.parent().expect("a file in a directory");
        std::fs::create_dir_all(dir)?;
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, serde_json::to_vec_pretty(self).expect("serialises"))?;
        std::fs::File::open(&tmp)?.sync_all()?;
        std::fs::rename(&tmp, path)?;
        std::fs::File::open(dir)?.sync_all()
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
