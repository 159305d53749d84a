//! The host's part of a container's configuration (Docker's `HostConfig`), typed.

use std::collections::BTreeMap;
use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::mounts::MountSpec;
use super::{invalid, Port};
use crate::error::EngineError;

/// Host-specific settings. Strings that stay strings (`Binds`, `Links`, `VolumesFrom`,
/// `SecurityOpt`, capabilities) are read where they take effect, with their own messages;
/// inspect shows them back as given.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct HostConfig {
    pub binds: Option<Vec<String>>,
    pub container_id_file: String,
    pub lxc_conf: Option<Vec<(String, String)>>,
    pub memory: i64,
    pub memory_swap: i64,
    pub cpu_shares: i64,
    pub cpuset_cpus: String,
    pub privileged: bool,
    pub port_bindings: Option<BTreeMap<Port, Vec<PortBinding>>>,
    pub links: Option<Vec<String>>,
    pub publish_all_ports: bool,
    pub dns: Option<Vec<String>>,
    pub dns_search: Option<Vec<String>>,
    pub extra_hosts: Option<Vec<String>>,
    pub volumes_from: Option<Vec<String>>,
    pub devices: Option<Vec<Device>>,
    pub network_mode: NetworkMode,
    pub ipc_mode: IpcMode,
    pub pid_mode: NamespaceMode,
    pub cap_add: Option<Vec<String>>,
    pub cap_drop: Option<Vec<String>>,
    /// `None` when none was given (shown as `""`, which means `no`).
    pub restart_policy: Option<RestartPolicy>,
    pub security_opt: Option<Vec<String>>,
    pub readonly_rootfs: bool,
    pub ulimits: Option<Vec<Ulimit>>,
    pub log_config: LogConfig,
    pub cgroup_parent: String,
    pub auto_remove: bool,
    /// berth's init runs as PID 1 and starts the command (`None`: not asked, no init).
    pub init: Option<bool>,
    /// CPU quota in units of 10⁻⁹ CPUs (a quota over Docker's 100 ms period).
    pub nano_cpus: i64,
    pub cpu_period: i64,
    pub cpu_quota: i64,
    pub cpuset_mems: String,
    pub pids_limit: Option<i64>,
    pub memory_reservation: i64,
    pub oom_kill_disable: Option<bool>,
    pub oom_score_adj: i64,
    pub shm_size: i64,
    /// Relative block I/O weight (10–1000; 0: the kernel's default).
    pub blkio_weight: u16,
    pub mounts: Option<Vec<MountSpec>>,
    /// Path → tmpfs options.
    pub tmpfs: Option<BTreeMap<String, String>>,
    /// Namespaced kernel parameters, checked against the container's namespaces at create.
    pub sysctls: Option<BTreeMap<String, String>>,
    /// Groups (names in the container's `/etc/group`, or numbers) the process also joins.
    pub group_add: Option<Vec<String>>,
    pub dns_options: Option<Vec<String>>,
    pub uts_mode: UtsMode,
    pub cgroupns_mode: CgroupnsMode,
    /// `None`: Docker's defaults (filled in at create, shown in inspect).
    pub masked_paths: Option<Vec<String>>,
    pub readonly_paths: Option<Vec<String>>,
    /// Passed to the runtime as the spec's annotations.
    pub annotations: Option<BTreeMap<String, String>>,
    /// The terminal's first size, `(height, width)`.
    pub console_size: Option<(u16, u16)>,
    /// Relative block I/O weight per device (path, 10–1000).
    pub blkio_weight_device: Option<Vec<(String, u16)>>,
    /// Block I/O limits per device (path, bytes or operations per second).
    pub blkio_device_read_bps: Option<Vec<(String, u64)>>,
    pub blkio_device_write_bps: Option<Vec<(String, u64)>>,
    pub blkio_device_read_iops: Option<Vec<(String, u64)>>,
    pub blkio_device_write_iops: Option<Vec<(String, u64)>>,
    /// Real-time scheduling budget (µs).
    pub cpu_realtime_period: i64,
    pub cpu_realtime_runtime: i64,
    /// Device cgroup rules as Docker spells them (`c 1:3 rwm`), checked at create.
    pub device_cgroup_rules: Option<Vec<String>>,
    /// 0–100; `None` leaves the kernel's.
    pub memory_swappiness: Option<i64>,
    /// Windows' CPU percent and deprecated kernel memory TCP limit: dropped with a warning.
    pub cpu_percent: i64,
    pub cpu_count: i64,
    pub kernel_memory_tcp: i64,
    /// `""` or `default`.
    pub isolation: String,
    /// The runtime's name ([`RUNTIME`], filled in at create).
    pub runtime: String,
    /// `""` or `host`: no user namespace either way.
    pub userns_mode: String,
    /// `""` or `local`.
    pub volume_driver: String,
}

/// The name of berth's OCI runtime, as `/info` lists it and `HostConfig.Runtime` shows it.
pub const RUNTIME: &str = "berth";

/// `IpcMode`: whose IPC namespace the container has, and whether its `/dev/shm` can be
/// joined.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum IpcMode {
    /// Not given: the daemon's default (`private`) applies; containers migrated from
    /// records that predate the modes show `""`, as they did.
    #[default]
    Unset,
    Private,
    /// Its own namespace and a `/dev/shm` other containers may join.
    Shareable,
    /// Its own namespace and no `/dev/shm` at all.
    None,
    Host,
    Container(String),
}

impl FromStr for IpcMode {
    type Err = EngineError;

    fn from_str(s: &str) -> Result<Self, EngineError> {
        Ok(match s {
            "" => IpcMode::Unset,
            "private" => IpcMode::Private,
            "shareable" => IpcMode::Shareable,
            "none" => IpcMode::None,
            "host" => IpcMode::Host,
            _ => match s.strip_prefix("container:") {
                Some(other) if !other.is_empty() => IpcMode::Container(other.to_string()),
                _ => return Err(invalid(format!("invalid IPC mode: {s}"))),
            },
        })
    }
}

impl fmt::Display for IpcMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IpcMode::Unset => Ok(()),
            IpcMode::Private => f.write_str("private"),
            IpcMode::Shareable => f.write_str("shareable"),
            IpcMode::None => f.write_str("none"),
            IpcMode::Host => f.write_str("host"),
            IpcMode::Container(c) => write!(f, "container:{c}"),
        }
    }
}

impl IpcMode {
    /// Whether the container has an IPC namespace of its own.
    pub fn is_private(&self) -> bool {
        !matches!(self, IpcMode::Host | IpcMode::Container(_))
    }
}

/// `UTSMode`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum UtsMode {
    #[default]
    Private,
    Host,
}

impl FromStr for UtsMode {
    type Err = EngineError;

    fn from_str(s: &str) -> Result<Self, EngineError> {
        match s {
            "" => Ok(UtsMode::Private),
            "host" => Ok(UtsMode::Host),
            _ => Err(invalid(format!("invalid UTS mode: {s}"))),
        }
    }
}

impl fmt::Display for UtsMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            UtsMode::Private => "",
            UtsMode::Host => "host",
        })
    }
}

/// `CgroupnsMode`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CgroupnsMode {
    /// Not given: the daemon's default for the host's cgroup layout applies at create.
    #[default]
    Unset,
    Private,
    Host,
}

impl FromStr for CgroupnsMode {
    type Err = EngineError;

    fn from_str(s: &str) -> Result<Self, EngineError> {
        match s {
            "" => Ok(CgroupnsMode::Unset),
            "private" => Ok(CgroupnsMode::Private),
            "host" => Ok(CgroupnsMode::Host),
            _ => Err(invalid(format!("invalid cgroup namespace mode: {s}"))),
        }
    }
}

impl fmt::Display for CgroupnsMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CgroupnsMode::Unset => "",
            CgroupnsMode::Private => "private",
            CgroupnsMode::Host => "host",
        })
    }
}

/// When a container is started again after it exits.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RestartPolicy {
    #[default]
    No,
    Always,
    UnlessStopped,
    /// On a non-zero exit, at most `max_retries` times (0: no limit).
    OnFailure {
        max_retries: u32,
    },
}

impl RestartPolicy {
    /// From the wire's name and count, with Docker's checks and messages; `None` for the
    /// empty name.
    pub fn new(name: &str, maximum_retry_count: i64) -> Result<Option<Self>, EngineError> {
        if maximum_retry_count < 0 {
            return Err(invalid("maximum retry count cannot be negative"));
        }
        let policy = match name {
            "" => None,
            "no" => Some(RestartPolicy::No),
            "always" => Some(RestartPolicy::Always),
            "unless-stopped" => Some(RestartPolicy::UnlessStopped),
            "on-failure" => {
                return Ok(Some(RestartPolicy::OnFailure {
                    max_retries: u32::try_from(maximum_retry_count)
                        .map_err(|_| invalid("maximum retry count is too large"))?,
                }))
            }
            other => return Err(invalid(format!("invalid restart policy '{other}'"))),
        };
        if maximum_retry_count > 0 {
            return Err(invalid(format!(
                "maximum retry count cannot be used with restart policy '{name}'"
            )));
        }
        Ok(policy)
    }

    pub fn name(self) -> &'static str {
        match self {
            RestartPolicy::No => "no",
            RestartPolicy::Always => "always",
            RestartPolicy::UnlessStopped => "unless-stopped",
            RestartPolicy::OnFailure { .. } => "on-failure",
        }
    }

    pub fn maximum_retry_count(self) -> i64 {
        match self {
            RestartPolicy::OnFailure { max_retries } => i64::from(max_retries),
            _ => 0,
        }
    }

    /// Whether the daemon brings the container back when it starts (Docker does for
    /// `always` and `unless-stopped` containers the user did not stop).
    pub fn restarts_with_daemon(self) -> bool {
        matches!(self, RestartPolicy::Always | RestartPolicy::UnlessStopped)
    }

    /// Whether a container that exited with `exit_code` after `restarts` restarts goes again.
    pub fn restarts_after(self, exit_code: i32, restarts: i64) -> bool {
        match self {
            RestartPolicy::No => false,
            RestartPolicy::Always | RestartPolicy::UnlessStopped => true,
            RestartPolicy::OnFailure { max_retries } => {
                exit_code != 0 && (max_retries == 0 || restarts < i64::from(max_retries))
            }
        }
    }
}

/// Where a container's output is kept.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LogDriver {
    #[default]
    JsonFile,
    None,
}

impl FromStr for LogDriver {
    type Err = EngineError;

    fn from_str(s: &str) -> Result<Self, EngineError> {
        match s {
            "" | "json-file" => Ok(LogDriver::JsonFile),
            "none" => Ok(LogDriver::None),
            // Docker's message for a driver it does not have.
            other => Err(invalid(format!(
                "logger: no log driver named '{other}' is registered"
            ))),
        }
    }
}

impl LogDriver {
    pub fn name(self) -> &'static str {
        match self {
            LogDriver::JsonFile => "json-file",
            LogDriver::None => "none",
        }
    }
}

/// `LogConfig`: the driver and its options (`max-size`, `max-file`), read at start.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LogConfig {
    pub driver: LogDriver,
    pub options: Option<BTreeMap<String, String>>,
}

/// The network a container joins.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NetworkMode {
    /// The daemon's default: the bridge.
    #[default]
    Default,
    Bridge,
    None,
    Host,
    /// Another container's network namespace.
    Container(String),
    /// A network by name.
    Named(String),
}

impl FromStr for NetworkMode {
    type Err = EngineError;

    fn from_str(s: &str) -> Result<Self, EngineError> {
        Ok(match s {
            "" | "default" => NetworkMode::Default,
            "bridge" => NetworkMode::Bridge,
            "none" => NetworkMode::None,
            "host" => NetworkMode::Host,
            _ => match s.strip_prefix("container:") {
                Some("") => return Err(invalid(format!("network {s} not found"))),
                Some(other) => NetworkMode::Container(other.to_string()),
                None => NetworkMode::Named(s.to_string()),
            },
        })
    }
}

impl fmt::Display for NetworkMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NetworkMode::Default => f.write_str("default"),
            NetworkMode::Bridge => f.write_str("bridge"),
            NetworkMode::None => f.write_str("none"),
            NetworkMode::Host => f.write_str("host"),
            NetworkMode::Container(c) => write!(f, "container:{c}"),
            NetworkMode::Named(n) => f.write_str(n),
        }
    }
}

/// `PidMode`, `IpcMode`: a namespace of the container's own, the host's, or another
/// container's.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NamespaceMode {
    #[default]
    Private,
    Host,
    Container(String),
}

impl FromStr for NamespaceMode {
    type Err = EngineError;

    fn from_str(s: &str) -> Result<Self, EngineError> {
        match s {
            "" => Ok(NamespaceMode::Private),
            "host" => Ok(NamespaceMode::Host),
            _ => match s.strip_prefix("container:") {
                Some(other) => Ok(NamespaceMode::Container(other.to_string())),
                None => Err(invalid(format!("invalid mode: {s}"))),
            },
        }
    }
}

impl fmt::Display for NamespaceMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NamespaceMode::Private => Ok(()),
            NamespaceMode::Host => f.write_str("host"),
            NamespaceMode::Container(c) => write!(f, "container:{c}"),
        }
    }
}

/// Where a published port listens on the host; `None` for any address or an ephemeral port.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PortBinding {
    pub host_ip: Option<Ipv4Addr>,
    pub host_port: Option<u16>,
}

impl PortBinding {
    /// From the wire's strings (`""` for unset), with Docker's messages.
    pub fn new(host_ip: &str, host_port: &str) -> Result<Self, EngineError> {
        Ok(PortBinding {
            host_ip: match host_ip {
                "" => None,
                ip => Some(
                    ip.parse()
                        .map_err(|_| invalid(format!("invalid IP address: {ip}")))?,
                ),
            },
            host_port: match host_port {
                "" => None,
                p => Some(
                    p.parse()
                        .map_err(|_| invalid(format!("invalid hostPort: {p}")))?,
                ),
            },
        })
    }
}

/// A host device made available in the container.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Device {
    pub path_on_host: String,
    pub path_in_container: String,
    pub cgroup_permissions: String,
}

/// A resource limit (`nofile`, `nproc`, …); checked against the host at create.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Ulimit {
    pub name: String,
    pub soft: i64,
    pub hard: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restart_policies_as_docker_checks_them() {
        let ok = |n: &str, c: i64| RestartPolicy::new(n, c).unwrap().unwrap();
        assert_eq!(RestartPolicy::new("", 0).unwrap(), None);
        assert_eq!(ok("no", 0), RestartPolicy::No);
        assert_eq!(
            ok("on-failure", 3),
            RestartPolicy::OnFailure { max_retries: 3 }
        );
        assert_eq!(ok("unless-stopped", 0).name(), "unless-stopped");
        let err = |n: &str, c: i64| RestartPolicy::new(n, c).unwrap_err().to_string();
        assert!(err("sometimes", 0).contains("invalid restart policy 'sometimes'"));
        assert!(err("on-failure", -1).contains("cannot be negative"));
        assert!(err("always", 2).contains("cannot be used with restart policy 'always'"));
        // Who goes again: (policy, exit code, restarts so far) → restart?
        for (p, code, n, want) in [
            (RestartPolicy::No, 1, 0, false),
            (RestartPolicy::Always, 0, 99, true),
            (RestartPolicy::OnFailure { max_retries: 0 }, 1, 99, true),
            (RestartPolicy::OnFailure { max_retries: 2 }, 1, 1, true),
            (RestartPolicy::OnFailure { max_retries: 2 }, 1, 2, false),
            (RestartPolicy::OnFailure { max_retries: 2 }, 0, 0, false),
        ] {
            assert_eq!(p.restarts_after(code, n), want, "{p:?} {code} {n}");
        }
    }

    #[test]
    fn modes_read_and_print_back() {
        for s in ["default", "bridge", "none", "host", "container:db", "mynet"] {
            assert_eq!(s.parse::<NetworkMode>().unwrap().to_string(), s);
        }
        assert_eq!("".parse::<NetworkMode>().unwrap(), NetworkMode::Default);
        assert!("container:".parse::<NetworkMode>().is_err());
        for s in ["", "host", "container:db"] {
            assert_eq!(s.parse::<NamespaceMode>().unwrap().to_string(), s);
        }
        for s in ["", "private", "shareable", "none", "host", "container:db"] {
            assert_eq!(s.parse::<IpcMode>().unwrap().to_string(), s);
        }
        assert!("container:".parse::<IpcMode>().is_err());
        for s in ["", "private", "host"] {
            assert_eq!(s.parse::<CgroupnsMode>().unwrap().to_string(), s);
        }
        assert!("sideways".parse::<UtsMode>().is_err());
        assert!("private"
            .parse::<NamespaceMode>()
            .unwrap_err()
            .to_string()
            .contains("invalid mode: private"));
        assert_eq!("".parse::<LogDriver>().unwrap(), LogDriver::JsonFile);
        assert!("syslog"
            .parse::<LogDriver>()
            .unwrap_err()
            .to_string()
            .contains("no log driver named 'syslog'"));
    }

    #[test]
    fn port_bindings_from_strings() {
        assert_eq!(PortBinding::new("", "").unwrap(), PortBinding::default());
        let b = PortBinding::new("127.0.0.1", "8080").unwrap();
        assert_eq!(
            (b.host_ip, b.host_port),
            (Some(Ipv4Addr::LOCALHOST), Some(8080))
        );
        assert!(PortBinding::new("1.2.3", "80")
            .unwrap_err()
            .to_string()
            .contains("invalid IP address: 1.2.3"));
        assert!(PortBinding::new("", "abc")
            .unwrap_err()
            .to_string()
            .contains("invalid hostPort: abc"));
    }
}
