//! `HostConfig.Mounts` typed: one enum variant per mount type, each with its own options, read
//! with the checks and messages of Docker's Linux mount parser.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::invalid;
use crate::error::EngineError;

/// One entry of `HostConfig.Mounts`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MountSpec {
    pub target: String,
    pub read_only: bool,
    /// Accepted and kept, without effect on Linux (as Docker).
    #[serde(default)]
    pub consistency: String,
    pub kind: MountKind,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MountKind {
    Bind {
        source: String,
        propagation: Option<Propagation>,
        /// `bind` rather than `rbind`: mounts below the source are not carried.
        non_recursive: bool,
        create_mountpoint: bool,
        read_only_non_recursive: bool,
        read_only_force_recursive: bool,
    },
    Volume {
        /// Empty: an anonymous volume.
        name: String,
        no_copy: bool,
        labels: Option<BTreeMap<String, String>>,
        driver: Option<VolumeDriver>,
    },
    Tmpfs {
        size_bytes: i64,
        /// Permission bits; 0 is tmpfs's default (1777).
        mode: u32,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VolumeDriver {
    pub name: String,
    pub options: Option<BTreeMap<String, String>>,
}

/// Mount propagation of a bind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Propagation {
    Private,
    #[default]
    Rprivate,
    Shared,
    Rshared,
    Slave,
    Rslave,
}

impl FromStr for Propagation {
    type Err = EngineError;

    fn from_str(s: &str) -> Result<Self, EngineError> {
        Ok(match s {
            "private" => Propagation::Private,
            "rprivate" => Propagation::Rprivate,
            "shared" => Propagation::Shared,
            "rshared" => Propagation::Rshared,
            "slave" => Propagation::Slave,
            "rslave" => Propagation::Rslave,
            other => return Err(invalid(format!("invalid propagation mode: {other}"))),
        })
    }
}

impl fmt::Display for Propagation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Propagation::Private => "private",
            Propagation::Rprivate => "rprivate",
            Propagation::Shared => "shared",
            Propagation::Rshared => "rshared",
            Propagation::Slave => "slave",
            Propagation::Rslave => "rslave",
        })
    }
}

impl Propagation {
    /// Whether the source's mount must itself be shared (`Some(true)`), shared or slave
    /// (`Some(false)`), or may be anything (`None`).
    pub fn needs_shared_source(self) -> Option<bool> {
        match self {
            Propagation::Shared | Propagation::Rshared => Some(true),
            Propagation::Slave | Propagation::Rslave => Some(false),
            Propagation::Private | Propagation::Rprivate => None,
        }
    }
}

/// A mount as the wire gives it, before it is checked.
#[derive(Debug, Clone, Default)]
pub struct RawMount {
    pub kind: String,
    pub source: String,
    pub target: String,
    pub read_only: bool,
    pub consistency: String,
    pub bind: Option<BindFlags>,
    pub volume: Option<VolumeFlags>,
    pub tmpfs: Option<TmpfsFlags>,
}

/// `BindOptions` as given.
#[derive(Debug, Clone, Default)]
pub struct BindFlags {
    pub propagation: String,
    pub non_recursive: bool,
    pub create_mountpoint: bool,
    pub read_only_non_recursive: bool,
    pub read_only_force_recursive: bool,
}

/// `VolumeOptions` as given.
#[derive(Debug, Clone, Default)]
pub struct VolumeFlags {
    pub no_copy: bool,
    pub labels: Option<BTreeMap<String, String>>,
    pub driver: Option<VolumeDriver>,
}

/// `TmpfsOptions` as given.
#[derive(Debug, Clone, Copy, Default)]
pub struct TmpfsFlags {
    pub size_bytes: i64,
    pub mode: u32,
}

fn clean(p: &str) -> String {
    let parts: Vec<&str> = p
        .split('/')
        .filter(|s| !s.is_empty() && *s != ".")
        .collect();
    format!("/{}", parts.join("/"))
}

impl MountSpec {
    /// Docker's checks of one mount at create (the bind source must exist unless it is to
    /// be created).
    pub fn new(m: RawMount) -> Result<MountSpec, EngineError> {
        let fail =
            |msg: String| invalid(format!("invalid mount config for type {:?}: {msg}", m.kind));
        for (given, field, kind) in [
            (m.bind.is_some(), "BindOptions", "bind"),
            (m.volume.is_some(), "VolumeOptions", "volume"),
            (m.tmpfs.is_some(), "TmpfsOptions", "tmpfs"),
        ] {
            if given && m.kind != kind {
                return Err(fail(format!("field {field} must not be specified")));
            }
        }
        if m.target.is_empty() {
            return Err(fail("field Target must not be empty".into()));
        }
        if !m.target.starts_with('/') {
            return Err(fail(format!(
                "invalid mount path: '{}' mount path must be absolute",
                m.target
            )));
        }
        if clean(&m.target) == "/" {
            return Err(fail(
                "invalid specification: destination can't be '/'".into(),
            ));
        }
        let kind = match m.kind.as_str() {
            "bind" => {
                if m.source.is_empty() {
                    return Err(fail("field Source must not be empty".into()));
                }
                let BindFlags {
                    propagation,
                    non_recursive,
                    create_mountpoint: create,
                    read_only_non_recursive: ro_non_rec,
                    read_only_force_recursive: ro_force,
                } = m.bind.clone().unwrap_or_default();
                let propagation = match propagation.as_str() {
                    "" => None,
                    p => Some(
                        p.parse()
                            .map_err(|_| fail(format!("invalid propagation mode: {p}")))?,
                    ),
                };
                if !m.source.starts_with('/') {
                    return Err(fail(format!(
                        "invalid mount path: '{}' mount path must be absolute",
                        m.source
                    )));
                }
                if !create && std::fs::symlink_metadata(&m.source).is_err() {
                    return Err(fail(format!(
                        "bind source path does not exist: {}",
                        m.source
                    )));
                }
                if ro_non_rec && ro_force {
                    return Err(fail(
                        "cannot use ReadOnlyNonRecursive and ReadOnlyForceRecursive together"
                            .into(),
                    ));
                }
                if (ro_non_rec || ro_force) && !m.read_only {
                    return Err(fail(
                        "ReadOnlyNonRecursive and ReadOnlyForceRecursive need ReadOnly".into(),
                    ));
                }
                MountKind::Bind {
                    source: m.source.clone(),
                    propagation,
                    non_recursive,
                    create_mountpoint: create,
                    read_only_non_recursive: ro_non_rec,
                    read_only_force_recursive: ro_force,
                }
            }
            "volume" => {
                let VolumeFlags {
                    no_copy,
                    labels,
                    driver,
                } = m.volume.clone().unwrap_or_default();
                if let Some(d) = &driver {
                    if !d.name.is_empty() && d.name != "local" {
                        return Err(invalid(format!(
                            "error looking up volume plugin {}: plugin {:?} not found",
                            d.name, d.name
                        )));
                    }
                }
                MountKind::Volume {
                    name: m.source.clone(),
                    no_copy,
                    labels,
                    driver,
                }
            }
            "tmpfs" => {
                if !m.source.is_empty() {
                    return Err(fail("field Source must not be specified".into()));
                }
                let TmpfsFlags { size_bytes, mode } = m.tmpfs.unwrap_or_default();
                if size_bytes < 0 {
                    return Err(fail(format!("invalid tmpfs size {size_bytes}")));
                }
                MountKind::Tmpfs {
                    size_bytes,
                    mode: mode & 0o7777,
                }
            }
            _ => return Err(fail("mount type unknown".into())),
        };
        Ok(MountSpec {
            target: clean(&m.target),
            read_only: m.read_only,
            consistency: m.consistency,
            kind,
        })
    }

    pub fn kind_name(&self) -> &'static str {
        match self.kind {
            MountKind::Bind { .. } => "bind",
            MountKind::Volume { .. } => "volume",
            MountKind::Tmpfs { .. } => "tmpfs",
        }
    }
}

/// The mount options of a tmpfs as Docker writes them: `noexec,nosuid,nodev` under the
/// user's, later options winning (`HostConfig.Tmpfs` gives a string, `Mounts` a size and mode).
pub fn tmpfs_options(user: &str) -> Result<Vec<String>, EngineError> {
    let mut out: Vec<String> = ["noexec", "nosuid", "nodev"].map(String::from).to_vec();
    for o in user.split(',').map(str::trim).filter(|o| !o.is_empty()) {
        let key = o.split_once('=').map_or(o, |(k, _)| k);
        let opposite = match key {
            "exec" => Some("noexec"),
            "noexec" => Some("exec"),
            "suid" => Some("nosuid"),
            "nosuid" => Some("suid"),
            "dev" => Some("nodev"),
            "nodev" => Some("dev"),
            "ro" => Some("rw"),
            "rw" => Some("ro"),
            _ => None,
        };
        out.retain(|x| {
            let k = x.split_once('=').map_or(x.as_str(), |(k, _)| k);
            k != key && Some(k) != opposite
        });
        match key {
            "size" | "mode" | "uid" | "gid" | "nr_inodes" | "nr_blocks" | "mpol" | "exec"
            | "noexec" | "suid" | "nosuid" | "dev" | "nodev" | "ro" | "rw" | "atime"
            | "noatime" | "relatime" | "strictatime" | "nodiratime" | "sync" | "async" | "huge"
            | "rprivate" | "private" | "rshared" | "shared" | "rslave" | "slave" | "tmpcopyup"
            | "notmpcopyup" => out.push(o.to_string()),
            _ => return Err(invalid(format!("invalid tmpfs option [{o:?}]"))),
        }
    }
    Ok(out)
}

/// A `Mounts` tmpfs's size and mode as option text.
pub fn tmpfs_data(size_bytes: i64, mode: u32, read_only: bool) -> String {
    let mut o = Vec::new();
    if read_only {
        o.push("ro".to_string());
    }
    if mode != 0 {
        o.push(format!("mode={mode:o}"));
    }
    if size_bytes != 0 {
        o.push(format!("size={size_bytes}"));
    }
    o.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(kind: &str, source: &str, target: &str) -> RawMount {
        RawMount {
            kind: kind.into(),
            source: source.into(),
            target: target.into(),
            ..Default::default()
        }
    }

    #[test]
    fn mounts_are_checked_as_docker_checks_them() {
        let err = |m: RawMount| MountSpec::new(m).unwrap_err().to_string();
        for (m, want) in [
            (
                raw("bind", "/", ""),
                "invalid mount config for type \"bind\": field Target must not be empty",
            ),
            (raw("bind", "", "/x"), "field Source must not be empty"),
            (
                raw("bind", "/", "x"),
                "invalid mount path: 'x' mount path must be absolute",
            ),
            (raw("bind", "/", "/"), "destination can't be '/'"),
            (
                raw("bind", "/no/such/berth/path", "/x"),
                "bind source path does not exist: /no/such/berth/path",
            ),
            (
                raw("tmpfs", "/a", "/x"),
                "invalid mount config for type \"tmpfs\": field Source must not be specified",
            ),
            (
                raw("blob", "", "/x"),
                "invalid mount config for type \"blob\": mount type unknown",
            ),
            (
                RawMount {
                    tmpfs: Some(TmpfsFlags {
                        size_bytes: 1,
                        mode: 0,
                    }),
                    ..raw("bind", "/", "/x")
                },
                "field TmpfsOptions must not be specified",
            ),
            (
                RawMount {
                    bind: Some(BindFlags {
                        propagation: "sideways".into(),
                        ..Default::default()
                    }),
                    ..raw("bind", "/", "/x")
                },
                "invalid propagation mode: sideways",
            ),
        ] {
            let got = err(m.clone());
            assert!(got.contains(want), "{m:?}: {got}");
        }
        let m = MountSpec::new(RawMount {
            bind: Some(BindFlags {
                propagation: "rslave".into(),
                ..Default::default()
            }),
            read_only: true,
            ..raw("bind", "/", "/data/")
        })
        .unwrap();
        assert_eq!(m.target, "/data");
        assert!(matches!(
            m.kind,
            MountKind::Bind {
                propagation: Some(Propagation::Rslave),
                ..
            }
        ));
        let created = MountSpec::new(RawMount {
            bind: Some(BindFlags {
                create_mountpoint: true,
                ..Default::default()
            }),
            ..raw("bind", "/no/such/berth/path", "/x")
        });
        assert!(
            created.is_ok(),
            "CreateMountpoint lets a missing source through"
        );
        let v = MountSpec::new(raw("volume", "", "/v")).unwrap();
        assert!(matches!(v.kind, MountKind::Volume { ref name, .. } if name.is_empty()));
    }

    #[test]
    fn tmpfs_options_merge_over_docker_defaults() {
        assert_eq!(tmpfs_options("").unwrap(), ["noexec", "nosuid", "nodev"]);
        assert_eq!(
            tmpfs_options("exec,size=64m,mode=1770").unwrap(),
            ["nosuid", "nodev", "exec", "size=64m", "mode=1770"]
        );
        assert_eq!(
            tmpfs_options("size=1m,size=2m").unwrap(),
            ["noexec", "nosuid", "nodev", "size=2m"]
        );
        assert!(tmpfs_options("bogus")
            .unwrap_err()
            .to_string()
            .contains("invalid tmpfs option"));
        assert_eq!(
            tmpfs_data(1 << 20, 0o1770, true),
            "ro,mode=1770,size=1048576"
        );
    }
}
