//! Container configuration as it appears on the wire (`Config` in create and inspect bodies,
//! `ContainerConfig`/`Config` in image inspect).

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};

use crate::network::EndpointSettings;

/// An empty JSON object, the value type of `Volumes` and `ExposedPorts` maps.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Empty {}

/// `Config`: the portable part of a container's configuration.
///
/// Inputs are tolerant (every field defaults; `Cmd`/`Entrypoint` accept a string or a list);
/// outputs always carry every field, as Docker's encoder does.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ContainerConfig {
    pub hostname: String,
    pub domainname: String,
    pub user: String,
    pub attach_stdin: bool,
    pub attach_stdout: bool,
    pub attach_stderr: bool,
    pub exposed_ports: Option<BTreeMap<String, Empty>>,
    pub tty: bool,
    pub open_stdin: bool,
    pub stdin_once: bool,
    pub env: Option<Vec<String>>,
    #[serde(deserialize_with = "str_or_list")]
    pub cmd: Option<Vec<String>>,
    pub image: String,
    pub volumes: Option<BTreeMap<String, Empty>>,
    pub working_dir: String,
    #[serde(deserialize_with = "str_or_list")]
    pub entrypoint: Option<Vec<String>>,
    pub network_disabled: bool,
    pub mac_address: String,
    pub on_build: Option<Vec<String>>,
    pub labels: Option<BTreeMap<String, String>>,
    pub stop_signal: Option<String>,
    /// Seconds `docker stop` waits before it kills (API 1.25); sent only when set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_timeout: Option<i64>,
    /// How to tell whether the container works (API 1.24); sent only when set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<HealthConfig>,
    /// The shell of a Dockerfile's shell forms (`SHELL`); sent only when set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shell: Option<Vec<String>>,
    /// Windows' command-line escaping; sent only when set.
    #[serde(skip_serializing_if = "is_false")]
    pub args_escaped: bool,
}

/// `Config.Healthcheck`: durations in nanoseconds, zero for "the default"; each sent only
/// when set, as Docker sends them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct HealthConfig {
    /// `[]` inherit, `["NONE"]` off, `["CMD", args…]`, `["CMD-SHELL", command]`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub test: Option<Vec<String>>,
    #[serde(skip_serializing_if = "is_zero")]
    pub interval: i64,
    #[serde(skip_serializing_if = "is_zero")]
    pub timeout: i64,
    #[serde(skip_serializing_if = "is_zero")]
    pub start_period: i64,
    /// API 1.44.
    #[serde(skip_serializing_if = "is_zero")]
    pub start_interval: i64,
    #[serde(skip_serializing_if = "is_zero")]
    pub retries: i64,
}

fn is_zero(n: &i64) -> bool {
    *n == 0
}

/// `State.Health`: the last probes and what they add up to.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Health {
    /// `starting`, `healthy` or `unhealthy`.
    pub status: String,
    pub failing_streak: i64,
    pub log: Vec<HealthcheckResult>,
}

/// One probe of a healthcheck.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct HealthcheckResult {
    pub start: String,
    pub end: String,
    pub exit_code: i64,
    pub output: String,
}

/// Docker's `strslice`: `"echo hi"` (a single element, as the old API allows) or
/// `["echo","hi"]`; `null` and `""` mean unset.
pub fn str_or_list<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum StrOrList {
        Str(String),
        List(Vec<String>),
    }
    Ok(match Option::<StrOrList>::deserialize(d)? {
        None => None,
        Some(StrOrList::Str(s)) if s.is_empty() => None,
        Some(StrOrList::Str(s)) => Some(vec![s]),
        Some(StrOrList::List(l)) => Some(l),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cmd_accepts_string_or_list() {
        let a: ContainerConfig = serde_json::from_str(r#"{"Cmd":"date","Entrypoint":""}"#).unwrap();
        assert_eq!(a.cmd, Some(vec!["date".to_string()]));
        assert_eq!(a.entrypoint, None);
        let b: ContainerConfig = serde_json::from_str(r#"{"Cmd":["sh","-c","x"]}"#).unwrap();
        assert_eq!(b.cmd.unwrap().len(), 3);
    }

    #[test]
    fn output_has_every_field() {
        let v = serde_json::to_value(ContainerConfig::default()).unwrap();
        for k in [
            "Hostname",
            "Cmd",
            "Entrypoint",
            "Env",
            "OnBuild",
            "Labels",
            "MacAddress",
        ] {
            assert!(v.get(k).is_some(), "{k}");
        }
    }
}

/// `RestartPolicy`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct RestartPolicy {
    pub name: String,
    pub maximum_retry_count: i64,
}

/// `LogConfig`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct LogConfig {
    #[serde(rename = "Type")]
    pub kind: String,
    pub config: Option<BTreeMap<String, String>>,
}

/// `HostConfig`, as create/start bodies give it and inspect shows it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct HostConfig {
    pub binds: Option<Vec<String>>,
    #[serde(rename = "ContainerIDFile")]
    pub container_id_file: String,
    #[serde(deserialize_with = "lxc_conf")]
    pub lxc_conf: Option<Vec<KeyValue>>,
    pub memory: i64,
    pub memory_swap: i64,
    pub cpu_shares: i64,
    pub cpuset_cpus: String,
    pub privileged: bool,
    pub port_bindings: Option<BTreeMap<String, Option<Vec<PortBinding>>>>,
    pub links: Option<Vec<String>>,
    pub publish_all_ports: bool,
    pub dns: Option<Vec<String>>,
    pub dns_search: Option<Vec<String>>,
    pub extra_hosts: Option<Vec<String>>,
    pub volumes_from: Option<Vec<String>>,
    pub devices: Option<Vec<DeviceMapping>>,
    pub network_mode: String,
    pub ipc_mode: String,
    pub pid_mode: String,
    pub cap_add: Option<Vec<String>>,
    pub cap_drop: Option<Vec<String>>,
    pub restart_policy: RestartPolicy,
    pub security_opt: Option<Vec<String>>,
    pub readonly_rootfs: bool,
    pub ulimits: Option<Vec<Ulimit>>,
    pub log_config: LogConfig,
    pub cgroup_parent: String,
    pub auto_remove: bool,
    /// Run an init as PID 1 (unset: the daemon's default, no init); sent only when set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub init: Option<bool>,
    /// CPU quota in units of 10⁻⁹ CPUs (API 1.25).
    pub nano_cpus: i64,
    pub cpu_period: i64,
    pub cpu_quota: i64,
    pub cpuset_mems: String,
    /// `null` or 0: unlimited; -1 unlimited.
    pub pids_limit: Option<i64>,
    pub memory_reservation: i64,
    pub oom_kill_disable: Option<bool>,
    pub oom_score_adj: i64,
    /// Bytes of `/dev/shm`; 0 takes Docker's 64 MiB.
    pub shm_size: i64,
    /// Relative block I/O weight, 10–1000 (0: the kernel's default).
    pub blkio_weight: u16,
    /// Mounts described one by one (API 1.25), beside `Binds`, `Volumes` and `Tmpfs`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mounts: Option<Vec<Mount>>,
    /// Path → tmpfs options (`size=64m,mode=1777`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tmpfs: Option<BTreeMap<String, String>>,
    /// Namespaced kernel parameters.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sysctls: Option<BTreeMap<String, String>>,
    /// Groups (names or numbers) the process joins besides its user's.
    pub group_add: Option<Vec<String>>,
    /// `options` lines of the container's `resolv.conf`.
    pub dns_options: Option<Vec<String>>,
    /// `host` shares the host's UTS namespace; `""` a private one.
    #[serde(rename = "UTSMode")]
    pub uts_mode: String,
    /// `private` or `host` cgroup namespace.
    pub cgroupns_mode: String,
    /// Paths masked in the container; `null` takes the default list.
    pub masked_paths: Option<Vec<String>>,
    /// Paths made read-only in the container; `null` takes the default list.
    pub readonly_paths: Option<Vec<String>>,
    /// Metadata passed to the runtime (API 1.43).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
    /// The terminal's initial size, `[height, width]` (API 1.42; zero: unset).
    pub console_size: [u64; 2],
    /// Relative block I/O weight per device.
    pub blkio_weight_device: Option<Vec<WeightDevice>>,
    /// Block I/O limits per device: bytes or operations per second.
    pub blkio_device_read_bps: Option<Vec<ThrottleDevice>>,
    pub blkio_device_write_bps: Option<Vec<ThrottleDevice>>,
    #[serde(rename = "BlkioDeviceReadIOps")]
    pub blkio_device_read_iops: Option<Vec<ThrottleDevice>>,
    #[serde(rename = "BlkioDeviceWriteIOps")]
    pub blkio_device_write_iops: Option<Vec<ThrottleDevice>>,
    /// Real-time scheduling period and runtime (µs).
    pub cpu_realtime_period: i64,
    pub cpu_realtime_runtime: i64,
    /// Device cgroup rules: `c 1:3 rwm`, `b *:* r`, `a *:* rwm`.
    pub device_cgroup_rules: Option<Vec<String>>,
    /// Devices a driver provides (GPUs).
    pub device_requests: Option<Vec<serde_json::Value>>,
    /// 0–100; `null` leaves the kernel's.
    pub memory_swappiness: Option<i64>,
    /// Deprecated kernel memory limits (removed in 1.42): accepted, without effect.
    pub kernel_memory: i64,
    #[serde(rename = "KernelMemoryTCP")]
    pub kernel_memory_tcp: i64,
    /// Windows' CPU and I/O limits: zero on Linux.
    pub cpu_count: i64,
    pub cpu_percent: i64,
    #[serde(rename = "IOMaximumIOps")]
    pub io_maximum_iops: u64,
    #[serde(rename = "IOMaximumBandwidth")]
    pub io_maximum_bandwidth: u64,
    /// `default` on Linux.
    pub isolation: String,
    /// The OCI runtime (`runc` is the name clients know).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub runtime: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub storage_opt: Option<BTreeMap<String, String>>,
    /// `host` or `""`: berth does not remap users.
    pub userns_mode: String,
    pub volume_driver: String,
    /// Another container's cgroup (`container:<id>`): not supported.
    pub cgroup: String,
    /// Removed in 1.40 (never had an effect on Linux).
    pub disk_quota: i64,
}

/// `BlkioWeightDevice`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct WeightDevice {
    pub path: String,
    pub weight: u16,
}

/// `BlkioDevice{Read,Write}{Bps,IOps}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ThrottleDevice {
    pub path: String,
    pub rate: u64,
}

/// One entry of `HostConfig.Mounts`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Mount {
    /// `bind`, `volume` or `tmpfs` (`npipe` and `cluster` are not Linux's).
    #[serde(rename = "Type", skip_serializing_if = "String::is_empty")]
    pub kind: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub source: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub target: String,
    #[serde(skip_serializing_if = "is_false")]
    pub read_only: bool,
    /// Accepted and ignored on Linux, as Docker does.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub consistency: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bind_options: Option<BindOptions>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub volume_options: Option<VolumeOptions>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tmpfs_options: Option<TmpfsOptions>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct BindOptions {
    /// `private`, `rprivate` (the default), `shared`, `rshared`, `slave`, `rslave`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub propagation: String,
    #[serde(skip_serializing_if = "is_false")]
    pub non_recursive: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub create_mountpoint: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub read_only_non_recursive: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub read_only_force_recursive: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct VolumeOptions {
    /// Do not fill a new volume with what the image has at the target.
    #[serde(skip_serializing_if = "is_false")]
    pub no_copy: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub labels: Option<BTreeMap<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub driver_config: Option<VolumeDriver>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct VolumeDriver {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub options: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct TmpfsOptions {
    /// Bytes; 0 is the kernel's default (half the memory).
    #[serde(skip_serializing_if = "is_zero")]
    pub size_bytes: i64,
    /// Permission bits of the mount's root (Go's `os.FileMode`).
    #[serde(skip_serializing_if = "is_zero_u32")]
    pub mode: u32,
}

fn is_zero_u32(n: &u32) -> bool {
    *n == 0
}

/// One host address of a published port (`""` for any address, or an ephemeral port).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct PortBinding {
    pub host_ip: String,
    pub host_port: String,
}

/// A host device given to the container.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DeviceMapping {
    pub path_on_host: String,
    pub path_in_container: String,
    pub cgroup_permissions: String,
}

/// A resource limit.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Ulimit {
    pub name: String,
    pub soft: i64,
    pub hard: i64,
}

/// One `LxcConf` setting.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct KeyValue {
    pub key: String,
    pub value: String,
}

/// `LxcConf` as a list of `{"Key","Value"}` or, as old clients send it, a map; shown back as
/// the list (Docker 1.x's `LxcConfig` reads both the same way).
fn lxc_conf<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<KeyValue>>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum ListOrMap {
        List(Vec<KeyValue>),
        Map(BTreeMap<String, String>),
    }
    Ok(Option::<ListOrMap>::deserialize(d)?.map(|l| match l {
        ListOrMap::List(l) => l,
        ListOrMap::Map(m) => m
            .into_iter()
            .map(|(key, value)| KeyValue { key, value })
            .collect(),
    }))
}

/// The body of `POST /containers/create`: the config, and beside it in the same JSON object
/// ([`CreateExtras`]) the host config and the fields old API versions put at the top level.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CreateBody {
    pub config: ContainerConfig,
    pub extras: CreateExtras,
}

/// The parts of a create body that are not `Config` (read from the same JSON object; no
/// `serde(flatten)`, so errors can name the field at fault).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct CreateExtras {
    pub host_config: Option<HostConfig>,
    pub memory: i64,
    pub memory_swap: i64,
    pub cpu_shares: i64,
    pub cpuset: String,
    pub dns: Option<Vec<String>>,
    pub volumes_from: Option<serde_json::Value>,
    pub networking_config: Option<crate::network::NetworkingConfig>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateResponse {
    pub id: String,
    pub warnings: Vec<String>,
}

/// `X-Docker-Container-Path-Stat` of `HEAD`/`GET /containers/(id)/archive` (base64 JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PathStat {
    pub name: String,
    pub size: i64,
    /// Go's `os.FileMode` bits.
    pub mode: u32,
    pub mtime: String,
    pub link_target: String,
}

/// `POST /containers/(id)/copy` (API ≤ 1.23).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct CopyBody {
    pub resource: String,
}

/// One entry of `GET /containers/(id)/changes`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerChange {
    pub path: String,
    /// 0 modified, 1 added, 2 deleted.
    pub kind: u8,
}

/// One entry of `GET /containers/json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerSummary {
    pub id: String,
    pub names: Vec<String>,
    pub image: String,
    #[serde(rename = "ImageID")]
    pub image_id: String,
    pub command: String,
    pub created: i64,
    pub status: String,
    pub state: String,
    pub ports: Vec<PortSummary>,
    pub labels: BTreeMap<String, String>,
    pub mounts: Vec<MountPoint>,
    /// Only with `size=true`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size_rw: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size_root_fs: Option<i64>,
    /// The network mode (API 1.22).
    #[serde(default)]
    pub host_config: SummaryHostConfig,
    /// Its endpoints, one per network (API 1.22).
    #[serde(default)]
    pub network_settings: SummaryNetworkSettings,
}

/// `NetworkSettings` of a listed container.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct SummaryNetworkSettings {
    pub networks: BTreeMap<String, EndpointSettings>,
}

/// `HostConfig` of a listed container.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct SummaryHostConfig {
    pub network_mode: String,
}

/// One entry of a listed container's `Ports`: a port, and where it is published if it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PortSummary {
    #[serde(rename = "IP", default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    pub private_port: u16,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_port: Option<u16>,
    #[serde(rename = "Type")]
    pub kind: String,
}

/// `NetworkSettings` in container inspect. The top-level addresses are the default bridge
/// endpoint's (what Docker 1.6 showed, and Docker kept for old clients); `Networks` has one
/// endpoint per network (API 1.21).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NetworkSettings {
    pub bridge: String,
    #[serde(rename = "SandboxID")]
    pub sandbox_id: String,
    pub sandbox_key: String,
    pub hairpin_mode: bool,
    #[serde(rename = "LinkLocalIPv6Address")]
    pub link_local_ipv6_address: String,
    #[serde(rename = "LinkLocalIPv6PrefixLen")]
    pub link_local_ipv6_prefix_len: u8,
    #[serde(rename = "SecondaryIPAddresses")]
    pub secondary_ip_addresses: Option<Vec<Address>>,
    #[serde(rename = "SecondaryIPv6Addresses")]
    pub secondary_ipv6_addresses: Option<Vec<Address>>,
    #[serde(rename = "EndpointID")]
    pub endpoint_id: String,
    pub gateway: String,
    #[serde(rename = "GlobalIPv6Address")]
    pub global_ipv6_address: String,
    #[serde(rename = "GlobalIPv6PrefixLen")]
    pub global_ipv6_prefix_len: u8,
    #[serde(rename = "IPAddress")]
    pub ip_address: String,
    #[serde(rename = "IPPrefixLen")]
    pub ip_prefix_len: u8,
    #[serde(rename = "IPv6Gateway")]
    pub ipv6_gateway: String,
    pub mac_address: String,
    /// Always null (Docker 1.x kept it for old clients).
    pub port_mapping: Option<BTreeMap<String, String>>,
    /// Each exposed port with its host bindings, `null` where it has none; `null` as a
    /// whole off the bridge.
    pub ports: Option<BTreeMap<String, Option<Vec<PortBinding>>>>,
    pub networks: BTreeMap<String, EndpointSettings>,
}

/// An extra address of an endpoint.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Address {
    pub addr: String,
    pub prefix_len: u8,
}

/// `State` in container inspect.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerState {
    pub status: String,
    pub running: bool,
    pub paused: bool,
    pub restarting: bool,
    #[serde(rename = "OOMKilled")]
    pub oom_killed: bool,
    pub dead: bool,
    pub pid: i64,
    pub exit_code: i64,
    pub error: String,
    pub started_at: String,
    pub finished_at: String,
    /// Only for a container with a healthcheck.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<Health>,
}

/// `GET /containers/(id)/json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerInspect {
    pub id: String,
    pub created: String,
    pub path: String,
    pub args: Vec<String>,
    pub state: ContainerState,
    pub image: String,
    pub network_settings: NetworkSettings,
    pub resolv_conf_path: String,
    pub hostname_path: String,
    pub hosts_path: String,
    pub log_path: String,
    pub name: String,
    pub restart_count: i64,
    pub driver: String,
    pub exec_driver: String,
    pub mount_label: String,
    pub process_label: String,
    pub app_armor_profile: String,
    #[serde(rename = "ExecIDs")]
    pub exec_ids: Option<Vec<String>>,
    pub config: ContainerConfig,
    pub host_config: HostConfig,
    pub volumes: BTreeMap<String, String>,
    #[serde(rename = "VolumesRW")]
    pub volumes_rw: BTreeMap<String, bool>,
    pub mounts: Vec<MountPoint>,
    /// `linux` (API 1.40).
    pub platform: String,
    pub graph_driver: GraphDriver,
    /// Bytes of the writable layer and of everything, with `?size=1`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size_rw: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size_root_fs: Option<i64>,
}

/// The storage driver and its directories (`overlay2`: `LowerDir`, `UpperDir`, `WorkDir`,
/// `MergedDir`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GraphDriver {
    pub name: String,
    pub data: BTreeMap<String, String>,
}

/// `GET /containers/(id)/top`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TopResponse {
    pub titles: Vec<String>,
    pub processes: Vec<Vec<String>>,
}

/// Docker's human-readable duration (go-units `HumanDuration`): "Less than a second",
/// "5 seconds", "About a minute", "3 hours", "2 weeks"…
pub fn human_duration(secs: i64) -> String {
    let s = secs.max(0);
    let (m, h, d) = (s / 60, s / 3600, s / 86400);
    if s < 1 {
        "Less than a second".into()
    } else if s == 1 {
        "1 second".into()
    } else if s < 60 {
        format!("{s} seconds")
    } else if m == 1 {
        "About a minute".into()
    } else if m < 60 {
        format!("{m} minutes")
    } else if h == 1 {
        "About an hour".into()
    } else if h < 48 {
        format!("{h} hours")
    } else if h < 24 * 7 * 2 {
        format!("{d} days")
    } else if h < 24 * 30 * 3 {
        format!("{} weeks", d / 7)
    } else if h < 24 * 365 * 2 {
        format!("{} months", d / 30)
    } else {
        format!("{} years", d / 365)
    }
}

/// The `Status` column of `docker ps`: `Up 5 seconds`, `Up 2 minutes (Paused)`,
/// `Restarting (1) 3 seconds ago`, `Exited (3) 2 minutes ago`, `Created`.
pub fn status_string(
    status: &str,
    exit_code: i64,
    since_start: i64,
    since_finish: Option<i64>,
) -> String {
    match status {
        "running" => format!("Up {}", human_duration(since_start)),
        "paused" => format!("Up {} (Paused)", human_duration(since_start)),
        "restarting" => format!(
            "Restarting ({exit_code}) {} ago",
            human_duration(since_finish.unwrap_or(0))
        ),
        "exited" | "dead" => match since_finish {
            Some(f) => format!("Exited ({exit_code}) {} ago", human_duration(f)),
            None => String::new(),
        },
        "removing" => "Removal In Progress".into(),
        _ => "Created".into(),
    }
}

#[cfg(test)]
mod status_tests {
    use super::*;

    #[test]
    fn docker_status_strings() {
        assert_eq!(status_string("running", 0, 5, None), "Up 5 seconds");
        assert_eq!(
            status_string("running", 0, 0, None),
            "Up Less than a second"
        );
        assert_eq!(
            status_string("paused", 0, 61, None),
            "Up About a minute (Paused)"
        );
        assert_eq!(
            status_string("exited", 3, 999, Some(150)),
            "Exited (3) 2 minutes ago"
        );
        assert_eq!(status_string("created", 0, 0, None), "Created");
        assert_eq!(human_duration(3600 * 5), "5 hours");
        assert_eq!(human_duration(86400 * 3), "3 days");
    }
}

/// A mount of a container, in inspect (API 1.20) and the container list (1.23).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct MountPoint {
    /// `bind`, `volume` or `tmpfs`.
    #[serde(rename = "Type")]
    pub kind: String,
    /// The volume's name; empty for other kinds.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    pub source: String,
    pub destination: String,
    /// The volume's driver; empty for other kinds.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub driver: String,
    /// The options as given (`ro`, `z`, …).
    pub mode: String,
    #[serde(rename = "RW")]
    pub rw: bool,
    pub propagation: String,
}

/// `POST /containers/(id)/wait`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct WaitResponse {
    pub status_code: i64,
    /// Why the wait failed (API 1.34), sent only then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<WaitError>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct WaitError {
    pub message: String,
}

impl WaitResponse {
    pub fn exited(status_code: i64) -> Self {
        Self {
            status_code,
            error: None,
        }
    }

    pub fn failed(message: String) -> Self {
        Self {
            status_code: -1,
            error: Some(WaitError { message }),
        }
    }
}

/// `POST /containers/prune` (API 1.25).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerPruneReport {
    /// `null` when nothing was removed, as Docker sends it.
    pub containers_deleted: Option<Vec<String>>,
    pub space_reclaimed: u64,
}

/// The body of `POST /containers/(id)/update`: the resources of a `HostConfig` and its
/// restart policy, each `None` or zero when left as it is.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct UpdateBody {
    pub memory: i64,
    pub memory_swap: i64,
    pub memory_reservation: i64,
    pub cpu_shares: i64,
    pub cpuset_cpus: String,
    pub cpuset_mems: String,
    pub cpu_period: i64,
    pub cpu_quota: i64,
    pub nano_cpus: i64,
    pub blkio_weight: u16,
    pub pids_limit: Option<i64>,
    pub kernel_memory: i64,
    pub restart_policy: Option<RestartPolicy>,
}

/// The answer of `POST /containers/(id)/update`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateResponse {
    pub warnings: Vec<String>,
}
