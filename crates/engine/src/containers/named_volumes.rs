//! Named volumes (`docker volume create/ls/inspect/rm/prune`, `-v name:/path`): the `local`
//! driver's, kept beside the anonymous ones under `<data-root>/volumes/<name>/`, with what
//! they were made with in `volume.json` (an anonymous volume has none). A volume's data is
//! its `_data` directory, or the device a `type=none,o=bind` volume names; a `type=tmpfs`
//! volume has a tmpfs mounted on `_data` from its creation to its removal.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::ContainerService;
use crate::error::EngineError;

/// What a named volume was made with.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VolumeRecord {
    pub name: String,
    pub driver: String,
    #[serde(default)]
    pub options: BTreeMap<String, String>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// RFC 3339.
    pub created: String,
}

/// A volume as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumeInfo {
    pub record: VolumeRecord,
    /// What containers mount.
    pub mountpoint: PathBuf,
    /// Made for one container and removed with it (`rm -v`).
    pub anonymous: bool,
    /// The containers that mount it.
    pub used_by: Vec<String>,
}

/// Docker's rule for volume names.
fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    name.len() >= 2
        && chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

impl ContainerService {
    fn volume_dir(&self, name: &str) -> PathBuf {
        self.paths.data_root.join("volumes").join(name)
    }

    fn read_volume(&self, name: &str) -> Option<VolumeInfo> {
        let dir = self.volume_dir(name);
        if !dir.join("_data").is_dir() {
            return None;
        }
        let record: Option<VolumeRecord> = std::fs::read(dir.join("volume.json"))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok());
        let anonymous = record.is_none();
        let record = record.unwrap_or_else(|| VolumeRecord {
            name: name.to_string(),
            driver: "local".into(),
            created: std::fs::metadata(&dir)
                .ok()
                .and_then(|m| m.modified().ok())
                .and_then(|t| jiff::Timestamp::try_from(t).ok())
                .map(|t| t.to_string())
                .unwrap_or_default(),
            ..Default::default()
        });
        let mountpoint = match record.options.get("o").map(String::as_str) {
            Some(o) if o.split(',').any(|x| x == "bind") => record
                .options
                .get("device")
                .map(PathBuf::from)
                .unwrap_or_else(|| dir.join("_data")),
            _ => dir.join("_data"),
        };
        let used_by = self
            .list()
            .into_iter()
            .filter(|c| c.mounts.iter().any(|m| m.volume.as_deref() == Some(name)))
            .map(|c| c.id)
            .collect();
        Some(VolumeInfo {
            record,
            mountpoint,
            anonymous,
            used_by,
        })
    }

    /// `POST /volumes/create`: a volume of the `local` driver (a generated name when none is
    /// given); one of that name already is returned as it is, as Docker does.
    pub fn create_volume(
        &self,
        name: Option<String>,
        driver: &str,
        options: BTreeMap<String, String>,
        labels: BTreeMap<String, String>,
    ) -> Result<VolumeInfo, EngineError> {
        if !driver.is_empty() && driver != "local" {
            return Err(EngineError::NotFound(format!(
                "error looking up volume plugin {driver}: plugin \"{driver}\" not found"
            )));
        }
        let name = name
            .filter(|n| !n.is_empty())
            .unwrap_or_else(crate::random_id);
        if !valid_name(&name) {
            return Err(EngineError::InvalidParameter(format!(
                "create {name}: \"{name}\" includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, use absolute path"
            )));
        }
        if let Some(existing) = self.read_volume(&name) {
            return Ok(existing);
        }
        for key in options.keys() {
            if !matches!(key.as_str(), "type" | "o" | "device") {
                return Err(EngineError::InvalidParameter(format!(
                    "invalid option key: {key:?}"
                )));
            }
        }
        let kind = options.get("type").map(String::as_str).unwrap_or("");
        let o = options.get("o").cloned().unwrap_or_default();
        let bind = o.split(',').any(|x| x == "bind");
        if bind {
            let device = options.get("device").ok_or_else(|| {
                EngineError::InvalidParameter("a bind volume needs a device".into())
            })?;
            if !Path::new(device).is_dir() {
                return Err(EngineError::InvalidParameter(format!(
                    "failed to mount local volume: mount {device}: no such file or directory"
                )));
            }
        } else if !kind.is_empty() && kind != "tmpfs" {
            return Err(EngineError::InvalidParameter(format!(
                "volume type {kind:?} is not supported by berth's local driver (none with o=bind, or tmpfs)"
            )));
        }
        let dir = self.volume_dir(&name);
        let data = dir.join("_data");
        std::fs::create_dir_all(&data).map_err(|e| EngineError::failed("create volume", e))?;
        let made = (|| {
            if kind == "tmpfs" {
                let flags = rustix::mount::MountFlags::NODEV | rustix::mount::MountFlags::NOSUID;
                let data_opts = std::ffi::CString::new(o.clone()).map_err(|_| {
                    EngineError::InvalidParameter(format!("invalid tmpfs options {o:?}"))
                })?;
                rustix::mount::mount("tmpfs", &data, "tmpfs", flags, data_opts.as_c_str())
                    .map_err(|e| {
                        EngineError::failed("mount the tmpfs volume", std::io::Error::from(e))
                    })?;
            }
            let record = VolumeRecord {
                name: name.clone(),
                driver: "local".into(),
                options: options.clone(),
                labels: labels.clone(),
                created: jiff::Timestamp::now().to_string(),
            };
            let bytes = serde_json::to_vec(&record).expect("record serialises");
            std::fs::write(dir.join("volume.json"), bytes)
                .map_err(|e| EngineError::failed("write volume.json", e))
        })();
        if let Err(e) = made {
            let _ = rustix::mount::unmount(&data, rustix::mount::UnmountFlags::DETACH);
            let _ = std::fs::remove_dir_all(&dir);
            return Err(e);
        }
        self.publish_volume("create", &name, &[]);
        self.read_volume(&name)
            .ok_or_else(|| EngineError::Internal(format!("volume {name} vanished")))
    }

    /// Every volume, named and anonymous, by name.
    pub fn volumes(&self) -> Vec<VolumeInfo> {
        let mut out: Vec<VolumeInfo> = std::fs::read_dir(self.paths.data_root.join("volumes"))
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| e.file_name().into_string().ok())
            .filter_map(|n| self.read_volume(&n))
            .collect();
        out.sort_by(|a, b| a.record.name.cmp(&b.record.name));
        out
    }

    pub fn volume(&self, name: &str) -> Result<VolumeInfo, EngineError> {
        self.read_volume(name)
            .ok_or_else(|| EngineError::NotFound(format!("get {name}: no such volume")))
    }

    /// `DELETE /volumes/{name}`: refused while a container mounts it (`force` changes
    /// nothing there, as in Docker; it only makes a missing volume no error).
    pub fn remove_volume(&self, name: &str, force: bool) -> Result<(), EngineError> {
        let Some(v) = self.read_volume(name) else {
            return if force {
                Ok(())
            } else {
                Err(EngineError::NotFound(format!("get {name}: no such volume")))
            };
        };
        if !v.used_by.is_empty() {
            return Err(EngineError::Conflict(format!(
                "remove {name}: volume is in use - [{}]",
                v.used_by.join(", ")
            )));
        }
        let dir = self.volume_dir(name);
        if v.record.options.get("type").map(String::as_str) == Some("tmpfs") {
            let _ = rustix::mount::unmount(dir.join("_data"), rustix::mount::UnmountFlags::DETACH);
        }
        std::fs::remove_dir_all(&dir).map_err(|e| EngineError::failed("remove volume", e))?;
        self.publish_volume("destroy", name, &[]);
        Ok(())
    }

    /// `POST /volumes/prune`: the volumes no container mounts, anonymous ones only unless
    /// `all`, that `keep` does not keep; their names and the bytes they held.
    pub fn prune_volumes(
        &self,
        all: bool,
        keep: &dyn Fn(&VolumeInfo) -> bool,
    ) -> (Vec<String>, u64) {
        let mut deleted = Vec::new();
        let mut reclaimed = 0u64;
        for v in self.volumes() {
            if !v.used_by.is_empty() || (!all && !v.anonymous) || keep(&v) {
                continue;
            }
            let size = super::list::dir_size(&v.mountpoint).max(0) as u64;
            if self.remove_volume(&v.record.name, false).is_ok() {
                reclaimed += size;
                deleted.push(v.record.name);
            }
        }
        (deleted, reclaimed)
    }

    /// The volume `name` for a container's `-v name:/path`, made on first use.
    pub(crate) fn volume_for_mount(&self, name: &str) -> Result<PathBuf, EngineError> {
        if let Some(v) = self.read_volume(name) {
            return Ok(v.mountpoint);
        }
        Ok(self
            .create_volume(
                Some(name.to_string()),
                "local",
                BTreeMap::new(),
                BTreeMap::new(),
            )?
            .mountpoint)
    }

    /// Whether `name` is a named volume (made with a record), which `rm -v` keeps.
    pub(crate) fn is_named_volume(&self, name: &str) -> bool {
        self.volume_dir(name).join("volume.json").exists()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn volume_names_follow_dockers_rule() {
        for ok in ["data", "my_vol-1.2", "a1"] {
            assert!(valid_name(ok), "{ok}");
        }
        for bad in ["a", "-x", "has space", "sl/ash", "", ".hidden"] {
            assert!(!valid_name(bad), "{bad}");
        }
    }
}
