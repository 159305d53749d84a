//! From `HostConfig` to what the runtime spec needs: capabilities, cgroup limits, ulimits,
//! shared namespaces, devices and bind mounts, with Docker's validation and messages.

use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use berth_runtime::security;
use berth_runtime::spec::{BlkioDevices, Device, Resources, Rlimit};

use super::record::ContainerRecord;
use super::spec::{
    tmpfs_options, CgroupnsMode, HostConfig, IpcMode, NetworkMode, Propagation, RestartPolicy,
    UtsMode, RUNTIME,
};
use crate::error::EngineError;

fn invalid(msg: impl Into<String>) -> EngineError {
    EngineError::InvalidParameter(msg.into())
}

/// The parent of containers' cgroups when they name none.
pub const DEFAULT_CGROUP_PARENT: &str = "/berth";

/// Removes the default parent cgroup where no container is left in it, so a stopped daemon
/// with no containers leaves nothing in the cgroup tree.
pub fn release_default_cgroup_parent() {
    // Not while another daemon on the host makes a container's cgroup in it.
    let _removing = berth_runtime::cgroups::TreeLock::for_removing();
    berth_runtime::stats::CgroupFs::default().remove_if_empty(DEFAULT_CGROUP_PARENT);
}

/// The cgroup a container runs in: `/berth/<id>`, or under `CgroupParent` (a relative parent
/// is taken from the root of the hierarchy, as Docker's cgroupfs driver does).
pub fn cgroup_path(rec: &ContainerRecord) -> String {
    let parent = rec.spec.host.cgroup_parent.trim_matches('/');
    if parent.is_empty() {
        format!("{DEFAULT_CGROUP_PARENT}/{}", rec.id)
    } else {
        format!("/{parent}/{}", rec.id)
    }
}

/// Validates the host config at create time (what can be checked without running).
pub fn validate(h: &HostConfig) -> Result<(), EngineError> {
    if h.auto_remove && h.restart_policy.is_some_and(|p| p != RestartPolicy::No) {
        return Err(invalid(
            "can't create 'AutoRemove' container with restart policy",
        ));
    }
    capabilities(h)?;
    resources(h)?;
    if !(-1000..=1000).contains(&h.oom_score_adj) {
        return Err(invalid(format!(
            "Invalid value {}, range for oom score adj is [-1000, 1000]",
            h.oom_score_adj
        )));
    }
    if h.shm_size < 0 {
        return Err(invalid("SHM size can not be less than 0"));
    }
    rlimits(h)?;
    for opt in h.security_opt.clone().unwrap_or_default() {
        security_opt(&opt)?;
    }
    for b in h.binds.clone().unwrap_or_default() {
        parse_bind(&b)?;
    }
    if h.blkio_weight != 0 && !(10..=1000).contains(&h.blkio_weight) {
        return Err(invalid("Range of blkio weight is from 10 to 1000"));
    }
    for (path, options) in h.tmpfs.iter().flatten() {
        if !path.starts_with('/') {
            return Err(invalid(format!(
                "invalid mount path: '{path}' mount path must be absolute"
            )));
        }
        tmpfs_options(options)?;
    }
    sysctls(h)?;
    if let Some(v) = h.memory_swappiness {
        if v != -1 && !(0..=100).contains(&v) {
            return Err(invalid(format!(
                "Invalid value: {v}, valid memory swappiness range is 0-100"
            )));
        }
    }
    for rule in h.device_cgroup_rules.iter().flatten() {
        DeviceRule::parse(rule)?;
    }
    for (path, weight) in h.blkio_weight_device.iter().flatten() {
        if !(10..=1000).contains(weight) {
            return Err(invalid(format!(
                "invalid weight for device: {path}:{weight} (range of blkio weight is from 10 to 1000)"
            )));
        }
    }
    block_devices(h)?;
    if h.cpu_realtime_period != 0 || h.cpu_realtime_runtime != 0 {
        for (what, v, file) in [
            ("period", h.cpu_realtime_period, "cpu.rt_period_us"),
            ("runtime", h.cpu_realtime_runtime, "cpu.rt_runtime_us"),
        ] {
            if v != 0 && !Path::new("/sys/fs/cgroup/cpu").join(file).exists() {
                return Err(invalid(format!(
                    "Your kernel does not support cgroup cpu real-time {what}"
                )));
            }
        }
        if h.cpu_realtime_period != 0 && h.cpu_realtime_runtime > h.cpu_realtime_period {
            return Err(invalid(
                "cpu real-time runtime cannot be higher than cpu real-time period",
            ));
        }
    }
    if !matches!(h.isolation.as_str(), "" | "default") {
        return Err(invalid(format!(
            "Invalid isolation: {:?} - linux only supports 'default'",
            h.isolation
        )));
    }
    if !h.runtime.is_empty() && h.runtime != RUNTIME {
        return Err(invalid(format!("Unknown runtime specified {}", h.runtime)));
    }
    if !matches!(h.userns_mode.as_str(), "" | "host") {
        return Err(invalid(format!("invalid UsernsMode: {}", h.userns_mode)));
    }
    if !matches!(h.volume_driver.as_str(), "" | "local") {
        return Err(invalid(format!(
            "error looking up volume plugin {0}: plugin \"{0}\" not found",
            h.volume_driver
        )));
    }
    if let IpcMode::Container(_) = h.ipc_mode {
        if h.shm_size > 0 {
            return Err(invalid(
                "Conflicting options: ShmSize is not allowed with a shared IPC namespace",
            ));
        }
    }
    Ok(())
}

/// The daemon's defaults, filled in at create as Docker fills them (inspect shows them):
/// the IPC and cgroup namespace modes, the masked and read-only paths. A block I/O weight
/// the kernel cannot apply is dropped with Docker's warning.
pub fn fill_defaults(h: &mut HostConfig) -> Vec<String> {
    let mut warnings = Vec::new();
    if h.ipc_mode == IpcMode::Unset {
        h.ipc_mode = IpcMode::Private;
    }
    if h.cgroupns_mode == CgroupnsMode::Unset {
        // Docker's default: the host's on cgroup v1 (and hybrid) hosts, private on v2.
        h.cgroupns_mode = if Path::new("/sys/fs/cgroup/cgroup.controllers").exists() {
            CgroupnsMode::Private
        } else {
            CgroupnsMode::Host
        };
    }
    if !h.privileged {
        if h.masked_paths.is_none() {
            h.masked_paths = Some(berth_runtime::spec::default_masked_paths());
        }
        if h.readonly_paths.is_none() {
            h.readonly_paths = Some(
                berth_runtime::spec::READONLY_PATHS
                    .iter()
                    .map(|s| s.to_string())
                    .collect(),
            );
        }
    }
    if h.blkio_weight > 0 && !blkio_weight_supported() {
        h.blkio_weight = 0;
        warnings.push(
            "Your kernel does not support Block I/O weight or the cgroup is not mounted. Weight discarded."
                .to_string(),
        );
    }
    if h.runtime.is_empty() {
        h.runtime = RUNTIME.to_string();
    }
    // -1 is the kernel's default, as no value at all (Docker's `fixMemorySwappiness`).
    if h.memory_swappiness == Some(-1) {
        h.memory_swappiness = None;
    }
    if h.memory_swappiness.is_some()
        && !Path::new("/sys/fs/cgroup/memory/memory.swappiness").exists()
    {
        h.memory_swappiness = None;
        warnings.push("Your kernel does not support memory swappiness capabilities or the cgroup is not mounted. Memory swappiness discarded.".into());
    }
    if h.cpu_percent > 0 {
        h.cpu_percent = 0;
        warnings.push("linux does not support CPU percent. Percent discarded.".into());
    }
    if h.kernel_memory_tcp > 0 {
        h.kernel_memory_tcp = 0;
        warnings.push("Setting a kernel memory TCP limit is deprecated and berth does not support it. Limit discarded.".into());
    }
    if h.oom_kill_disable == Some(true) && h.memory == 0 {
        warnings.push("OOM killer is disabled for the container, but no memory limit is set, this can result in the system running out of resources.".into());
    }
    if h.blkio_weight_device
        .as_ref()
        .is_some_and(|l| !l.is_empty())
        && !blkio_file("blkio.weight_device")
    {
        h.blkio_weight_device = Some(Vec::new());
        warnings.push("Your kernel does not support Block I/O weight_device or the cgroup is not mounted. Weight-device discarded.".into());
    }
    for (list, file, message) in [
        (&mut h.blkio_device_read_bps, "blkio.throttle.read_bps_device", "Your kernel does not support BPS Block I/O read limit or the cgroup is not mounted. Block I/O BPS read limit discarded."),
        (&mut h.blkio_device_write_bps, "blkio.throttle.write_bps_device", "Your kernel does not support BPS Block I/O write limit or the cgroup is not mounted. Block I/O BPS write limit discarded."),
        (&mut h.blkio_device_read_iops, "blkio.throttle.read_iops_device", "Your kernel does not support IOPS Block read limit or the cgroup is not mounted. Block I/O IOPS read limit discarded."),
        (&mut h.blkio_device_write_iops, "blkio.throttle.write_iops_device", "Your kernel does not support IOPS Block write limit or the cgroup is not mounted. Block I/O IOPS write limit discarded."),
    ] {
        if list.as_ref().is_some_and(|l| !l.is_empty()) && !blkio_file(file) {
            *list = Some(Vec::new());
            warnings.push(message.into());
        }
    }
    warnings
}

/// Whether the cgroup v1 blkio hierarchy has `file`.
fn blkio_file(file: &str) -> bool {
    Path::new("/sys/fs/cgroup/blkio").join(file).exists()
}

/// A device cgroup rule: `c 1:3 rwm`, `b *:* r`, `a *:* rwm` (Docker's
/// `deviceCgroupRuleRegex`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceRule {
    /// `c`, `b` or `a`.
    pub kind: char,
    pub major: Option<i64>,
    pub minor: Option<i64>,
    pub access: String,
}

impl DeviceRule {
    pub fn parse(rule: &str) -> Result<DeviceRule, EngineError> {
        let bad = || invalid(format!("invalid device cgroup rule format: '{rule}'"));
        let mut parts = rule.split(' ');
        let (Some(kind), Some(numbers), Some(access), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(bad());
        };
        let kind = match kind {
            "a" | "b" | "c" => kind.chars().next().expect("one letter"),
            _ => return Err(bad()),
        };
        let (major, minor) = numbers.split_once(':').ok_or_else(bad)?;
        let number = |n: &str| -> Result<Option<i64>, EngineError> {
            match n {
                "*" => Ok(None),
                n => n.parse().map(Some).map_err(|_| bad()),
            }
        };
        if access.is_empty()
            || access.len() > 3
            || !access.chars().all(|c| matches!(c, 'r' | 'w' | 'm'))
        {
            return Err(bad());
        }
        Ok(DeviceRule {
            kind,
            major: number(major)?,
            minor: number(minor)?,
            access: access.to_string(),
        })
    }
}

/// The block devices of the per-device blkio settings, each `(major, minor)` with its value;
/// a path that is not a block device is Docker's 400.
fn block_devices(h: &HostConfig) -> Result<BlkioDevices, EngineError> {
    let lookup = |path: &str| -> Result<(i64, i64), EngineError> {
        let meta = std::fs::metadata(path).map_err(|e| invalid(format!("stat {path}: {e}")))?;
        if !meta.file_type().is_block_device() {
            return Err(invalid(format!("{path} is not a block device")));
        }
        let rdev = meta.rdev();
        Ok((
            rustix::fs::major(rdev) as i64,
            rustix::fs::minor(rdev) as i64,
        ))
    };
    let each = |list: &Option<Vec<(String, u64)>>| -> Result<Vec<(i64, i64, u64)>, EngineError> {
        list.iter()
            .flatten()
            .map(|(p, v)| lookup(p).map(|(a, b)| (a, b, *v)))
            .collect()
    };
    Ok(BlkioDevices {
        weight: h
            .blkio_weight_device
            .iter()
            .flatten()
            .map(|(p, w)| lookup(p).map(|(a, b)| (a, b, *w)))
            .collect::<Result<_, _>>()?,
        read_bps: each(&h.blkio_device_read_bps)?,
        write_bps: each(&h.blkio_device_write_bps)?,
        read_iops: each(&h.blkio_device_read_iops)?,
        write_iops: each(&h.blkio_device_write_iops)?,
    })
}

fn blkio_weight_supported() -> bool {
    blkio_file("blkio.weight")
        || blkio_file("blkio.bfq.weight")
        || std::fs::read_to_string("/sys/fs/cgroup/cgroup.controllers")
            .is_ok_and(|c| c.split_whitespace().any(|c| c == "io"))
}

/// IPC kernel parameters, namespaced by the IPC namespace.
const IPC_SYSCTLS: &[&str] = &[
    "kernel.msgmax",
    "kernel.msgmnb",
    "kernel.msgmni",
    "kernel.sem",
    "kernel.shmall",
    "kernel.shmmax",
    "kernel.shmmni",
    "kernel.shm_rmid_forced",
];

/// `Sysctls`: only parameters of a namespace the container has of its own, with the
/// runtime's messages (Docker passes them to runc, which refuses the others).
fn sysctls(h: &HostConfig) -> Result<(), EngineError> {
    for key in h.sysctls.iter().flatten().map(|(k, _)| k.replace('/', ".")) {
        if IPC_SYSCTLS.contains(&key.as_str()) || key.starts_with("fs.mqueue.") {
            if !h.ipc_mode.is_private() {
                return Err(invalid(format!(
                    "sysctl {key:?} is not allowed in the hosts ipc namespace"
                )));
            }
        } else if key.starts_with("net.") {
            // Another container's namespace is not the host's: the runtime allows it there.
            if h.network_mode == NetworkMode::Host {
                return Err(invalid(format!(
                    "sysctl {key:?} not allowed in host network namespace"
                )));
            }
        } else if key == "kernel.hostname" || key == "kernel.domainname" {
            if h.uts_mode == UtsMode::Host {
                return Err(invalid(format!(
                    "sysctl {key:?} is not allowed in the hosts uts namespace"
                )));
            }
            return Err(invalid(format!(
                "sysctl {key:?} is not allowed as it conflicts with the OCI \"{}\" field",
                key.trim_start_matches("kernel.")
            )));
        } else {
            return Err(invalid(format!(
                "sysctl {key:?} is not in a separate kernel namespace"
            )));
        }
    }
    Ok(())
}

pub fn capabilities(h: &HostConfig) -> Result<Vec<String>, EngineError> {
    security::capabilities(
        &h.cap_add.clone().unwrap_or_default(),
        &h.cap_drop.clone().unwrap_or_default(),
        h.privileged,
        security::host_bounding_set(),
    )
    .map_err(invalid)
}

fn online_cpus() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

fn parse_cpuset(s: &str) -> Option<Vec<usize>> {
    let mut out = Vec::new();
    for part in s.split(',') {
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b): (usize, usize) = (a.trim().parse().ok()?, b.trim().parse().ok()?);
                if a > b {
                    return None;
                }
                out.extend(a..=b);
            }
            None => out.push(part.trim().parse().ok()?),
        }
    }
    Some(out)
}

fn swap_accounting() -> bool {
    Path::new("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes").exists()
        || Path::new("/sys/fs/cgroup/cgroup.controllers").exists()
}

pub fn resources(h: &HostConfig) -> Result<Resources, EngineError> {
    if h.memory != 0 && h.memory < 6 * 1024 * 1024 {
        return Err(invalid("Minimum memory limit allowed is 6MB"));
    }
    if h.memory_swap > 0 && h.memory > 0 && h.memory_swap < h.memory {
        return Err(invalid(
            "Minimum memoryswap limit should be larger than memory limit, see usage",
        ));
    }
    if h.memory_swap > 0 && h.memory == 0 {
        return Err(invalid(
            "You should always set the Memory limit when using Memoryswap limit, see usage",
        ));
    }
    if h.cpu_shares < 0 {
        return Err(invalid("invalid CPU shares: negative"));
    }
    if !h.cpuset_cpus.is_empty() {
        let cpus = parse_cpuset(&h.cpuset_cpus)
            .ok_or_else(|| invalid(format!("Invalid value {} for cpuset cpus", h.cpuset_cpus)))?;
        let online = online_cpus();
        if cpus.iter().any(|c| *c >= online) {
            return Err(invalid(format!(
                "Requested CPUs are not available - requested {}, available: 0-{}",
                h.cpuset_cpus,
                online - 1
            )));
        }
    }
    if h.memory_reservation > 0 && h.memory_reservation < 6 * 1024 * 1024 {
        return Err(invalid("Minimum memory reservation allowed is 6MB"));
    }
    if h.memory > 0 && h.memory_reservation > 0 && h.memory < h.memory_reservation {
        return Err(invalid(
            "Minimum memory limit can not be less than memory reservation limit, see usage",
        ));
    }
    if h.nano_cpus > 0 && h.cpu_period > 0 {
        return Err(invalid(
            "Conflicting options: Nano CPUs and CPU Period cannot both be set",
        ));
    }
    if h.nano_cpus > 0 && h.cpu_quota > 0 {
        return Err(invalid(
            "Conflicting options: Nano CPUs and CPU Quota cannot both be set",
        ));
    }
    let online = online_cpus();
    if h.nano_cpus < 0 || h.nano_cpus > online as i64 * 1_000_000_000 {
        return Err(invalid(format!(
            "range of CPUs is from 0.01 to {online}.00, as there are only {online} CPUs available"
        )));
    }
    if h.cpu_period != 0 && !(1000..=1_000_000).contains(&h.cpu_period) {
        return Err(invalid(
            "CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)",
        ));
    }
    if h.cpu_quota > 0 && h.cpu_quota < 1000 {
        return Err(invalid(
            "CPU cfs quota can not be less than 1ms (i.e. 1000)",
        ));
    }
    if !h.cpuset_mems.is_empty() {
        let mems = parse_cpuset(&h.cpuset_mems)
            .ok_or_else(|| invalid(format!("Invalid value {} for cpuset mems", h.cpuset_mems)))?;
        let available = std::fs::read_to_string("/sys/devices/system/node/online")
            .ok()
            .and_then(|s| parse_cpuset(s.trim()))
            .unwrap_or_else(|| vec![0]);
        if mems.iter().any(|m| !available.contains(m)) {
            return Err(invalid(format!(
                "Requested memory nodes are not available - requested {}, available: {}",
                h.cpuset_mems,
                std::fs::read_to_string("/sys/devices/system/node/online")
                    .map(|s| s.trim().to_string())
                    .unwrap_or_else(|_| "0".into())
            )));
        }
    }
    // Docker's CFS quota for `--cpus`: over a 100 ms period.
    let (cpu_period, cpu_quota) = if h.nano_cpus > 0 {
        (100_000, h.nano_cpus * 100_000 / 1_000_000_000)
    } else {
        (h.cpu_period.max(0) as u64, h.cpu_quota)
    };
    // Docker's default: as much swap as memory (total twice the memory), when the kernel
    // accounts swap at all.
    let memory_swap = if !swap_accounting() || h.memory == 0 {
        0
    } else if h.memory_swap == 0 {
        h.memory * 2
    } else {
        h.memory_swap
    };
    Ok(Resources {
        memory: h.memory,
        memory_swap,
        memory_reservation: h.memory_reservation,
        disable_oom_killer: h.oom_kill_disable,
        cpu_shares: h.cpu_shares as u64,
        cpuset_cpus: h.cpuset_cpus.clone(),
        cpuset_mems: h.cpuset_mems.clone(),
        cpu_period,
        cpu_quota,
        // Zero or less is unlimited, as Docker reads it.
        pids_limit: h.pids_limit.map(|l| if l <= 0 { -1 } else { l }),
        blkio_weight: h.blkio_weight,
        blkio_devices: block_devices(h)?,
        memory_swappiness: h.memory_swappiness.and_then(|v| u64::try_from(v).ok()),
        cpu_realtime_period: h.cpu_realtime_period.max(0) as u64,
        cpu_realtime_runtime: h.cpu_realtime_runtime,
    })
}

const ULIMITS: &[(&str, rustix::process::Resource)] = &[
    ("core", rustix::process::Resource::Core),
    ("cpu", rustix::process::Resource::Cpu),
    ("data", rustix::process::Resource::Data),
    ("fsize", rustix::process::Resource::Fsize),
    ("locks", rustix::process::Resource::Locks),
    ("memlock", rustix::process::Resource::Memlock),
    ("msgqueue", rustix::process::Resource::Msgqueue),
    ("nice", rustix::process::Resource::Nice),
    ("nofile", rustix::process::Resource::Nofile),
    ("nproc", rustix::process::Resource::Nproc),
    ("rss", rustix::process::Resource::Rss),
    ("rtprio", rustix::process::Resource::Rtprio),
    ("rttime", rustix::process::Resource::Rttime),
    ("sigpending", rustix::process::Resource::Sigpending),
    ("stack", rustix::process::Resource::Stack),
];

/// `Ulimits`. A hard limit above the host's cannot be granted without CAP_SYS_RESOURCE: that
/// is an error, not a silent clamp.
pub fn rlimits(h: &HostConfig) -> Result<Vec<Rlimit>, EngineError> {
    let can_raise = security::host_bounding_set() & (1 << 24) != 0;
    let mut out = Vec::new();
    for u in h.ulimits.iter().flatten() {
        // The documented example's `[{}]` is no limit at all.
        if *u == Default::default() {
            continue;
        }
        let (name, soft, hard) = (u.name.as_str(), u.soft, u.hard);
        let (_, resource) = ULIMITS
            .iter()
            .find(|(n, _)| *n == name)
            .ok_or_else(|| invalid(format!("invalid ulimit type: {name}")))?;
        if soft > hard {
            return Err(invalid(format!(
                "ulimit soft limit must be less than or equal to hard limit: {soft} > {hard}"
            )));
        }
        let host = rustix::process::getrlimit(*resource);
        if let Some(host_hard) = host.maximum {
            if !can_raise && (hard < 0 || hard as u64 > host_hard) {
                return Err(invalid(format!(
                    "ulimit {name}: hard limit {hard} exceeds the host's hard limit {host_hard} (raising it needs CAP_SYS_RESOURCE, which this host does not have)"
                )));
            }
        }
        out.push(Rlimit {
            kind: format!("RLIMIT_{}", name.to_ascii_uppercase()),
            soft: soft as u64,
            hard: hard as u64,
        });
    }
    Ok(out)
}

/// `SecurityOpt`: returns whether it asks for no-new-privileges.
pub fn security_opt(opt: &str) -> Result<bool, EngineError> {
    let (k, v) = opt.split_once(['=', ':']).unwrap_or((opt, ""));
    match k {
        "no-new-privileges" => Ok(v.is_empty() || v == "true"),
        "label" | "apparmor" => Ok(false),
        "seccomp" if v == "unconfined" => Ok(false),
        "seccomp" => Err(invalid(
            "seccomp profiles are not supported yet (only seccomp=unconfined)",
        )),
        _ => Err(invalid(format!("Invalid --security-opt: {opt:?}"))),
    }
}

/// The seccomp profile: Docker's default unless privileged or `seccomp=unconfined`.
pub(crate) fn seccomp(h: &HostConfig, capabilities: &[String]) -> Option<serde_json::Value> {
    let unconfined = h
        .security_opt
        .iter()
        .flatten()
        .any(|o| o == "seccomp=unconfined" || o == "seccomp:unconfined");
    if h.privileged || unconfined {
        None
    } else {
        Some(berth_runtime::seccomp::default_profile(capabilities))
    }
}

pub fn no_new_privileges(h: &HostConfig) -> Result<bool, EngineError> {
    let mut nnp = false;
    for opt in h.security_opt.clone().unwrap_or_default() {
        nnp |= security_opt(&opt)?;
    }
    Ok(nnp)
}

fn device_of(
    host: &Path,
    in_container: &str,
    permissions: &str,
) -> Result<Option<Device>, EngineError> {
    let meta = std::fs::metadata(host).map_err(|e| {
        invalid(format!(
            "error gathering device information while adding custom device \"{}\": {e}",
            host.display()
        ))
    })?;
    let kind = if meta.file_type().is_char_device() {
        "c"
    } else if meta.file_type().is_block_device() {
        "b"
    } else {
        return Ok(None);
    };
    let rdev = meta.rdev();
    Ok(Some(Device {
        path: in_container.to_string(),
        kind: kind.to_string(),
        major: rustix::fs::major(rdev) as i64,
        minor: rustix::fs::minor(rdev) as i64,
        file_mode: meta.mode() & 0o777,
        uid: meta.uid(),
        gid: meta.gid(),
        permissions: permissions.to_string(),
    }))
}

/// `DeviceCgroupRules` as the runtime takes them.
pub fn device_rules(h: &HostConfig) -> Result<Vec<berth_runtime::spec::DeviceAllow>, EngineError> {
    h.device_cgroup_rules
        .iter()
        .flatten()
        .map(|r| {
            DeviceRule::parse(r).map(|d| berth_runtime::spec::DeviceAllow {
                kind: d.kind,
                major: d.major,
                minor: d.minor,
                access: d.access,
            })
        })
        .collect()
}

/// `Devices`, plus every host device when privileged.
pub fn devices(h: &HostConfig) -> Result<Vec<Device>, EngineError> {
    let mut out = Vec::new();
    if h.privileged {
        let skip = [
            "/dev/pts",
            "/dev/shm",
            "/dev/mqueue",
            "/dev/console",
            "/dev/ptmx",
            "/dev/tty",
        ];
        let mut dirs = vec![std::path::PathBuf::from("/dev")];
        while let Some(dir) = dirs.pop() {
            for e in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
                let p = e.path();
                if skip.iter().any(|s| p == Path::new(s)) {
                    continue;
                }
                let Ok(ft) = e.file_type() else { continue };
                if ft.is_dir() && dir == Path::new("/dev") {
                    dirs.push(p);
                } else if ft.is_char_device() || ft.is_block_device() {
                    if let Ok(Some(d)) = device_of(&p, &p.display().to_string(), "rwm") {
                        out.push(d);
                    }
                }
            }
        }
    }
    for d in h.devices.iter().flatten() {
        let host = d.path_on_host.as_str();
        if host.is_empty() {
            return Err(invalid("Devices: PathOnHost is required"));
        }
        let inside = Some(d.path_in_container.as_str())
            .filter(|s| !s.is_empty())
            .unwrap_or(host);
        let perms = Some(d.cgroup_permissions.as_str())
            .filter(|s| !s.is_empty())
            .unwrap_or("rwm");
        if !perms.chars().all(|c| matches!(c, 'r' | 'w' | 'm')) {
            return Err(invalid(format!(
                "invalid device cgroup permissions: {perms}"
            )));
        }
        match device_of(Path::new(host), inside, perms)? {
            Some(dev) => {
                out.retain(|x| x.path != dev.path);
                out.push(dev);
            }
            None => {
                return Err(invalid(format!(
                    "error gathering device information while adding custom device \"{host}\": not a device node"
                )))
            }
        }
    }
    Ok(out)
}

/// One `Binds` entry, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bind {
    /// `None`: an anonymous volume at `destination` (or the named one, `volume`).
    pub source: Option<String>,
    /// `name:/path`: the named volume `name`, made on first use.
    pub volume: Option<String>,
    pub destination: String,
    pub readonly: bool,
    pub propagation: Option<Propagation>,
    /// `nocopy`: a new volume is not filled from the image.
    pub no_copy: bool,
}

/// One `Binds` entry: `host:ctr[:options]` (a bind) or `ctr` (an anonymous volume); the
/// options are `ro`/`rw`, a propagation mode, `nocopy`, and the SELinux `z`/`Z`.
pub fn parse_bind(spec: &str) -> Result<Bind, EngineError> {
    let parts: Vec<&str> = spec.split(':').collect();
    let (src, dst, mode) = match parts.as_slice() {
        [dst] => (None, *dst, ""),
        [src, dst] => (Some(*src), *dst, ""),
        [src, dst, mode] => (Some(*src), *dst, *mode),
        _ => return Err(invalid(format!("invalid volume specification: '{spec}'"))),
    };
    if !dst.starts_with('/') || dst == "/" {
        return Err(invalid(format!("invalid volume specification: '{spec}': destination must be an absolute path other than /")));
    }
    // A source that is not a path names a volume.
    let volume = src.filter(|s| !s.starts_with('/')).map(str::to_string);
    let src = src.filter(|s| s.starts_with('/'));
    let mut bind = Bind {
        volume,
        source: src.map(str::to_string),
        destination: dst.to_string(),
        readonly: false,
        propagation: None,
        no_copy: false,
    };
    for o in mode.split(',').filter(|o| !o.is_empty()) {
        match o {
            "ro" => bind.readonly = true,
            "rw" | "z" | "Z" => {}
            "nocopy" => bind.no_copy = true,
            p => match p.parse::<Propagation>() {
                Ok(p) if bind.propagation.is_none() => bind.propagation = Some(p),
                _ => return Err(invalid(format!("invalid mode: {mode}"))),
            },
        }
    }
    Ok(bind)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resources_follow_docker_rules() {
        let h = HostConfig {
            memory: 1 << 20,
            ..Default::default()
        };
        assert!(resources(&h)
            .unwrap_err()
            .to_string()
            .contains("Minimum memory limit"));
        let h = HostConfig {
            memory: 64 << 20,
            memory_swap: 32 << 20,
            ..Default::default()
        };
        assert!(resources(&h).is_err());
        let h = HostConfig {
            cpuset_cpus: "0-99".into(),
            ..Default::default()
        };
        assert!(resources(&h)
            .unwrap_err()
            .to_string()
            .contains("Requested CPUs are not available"));
        let h = HostConfig {
            cpuset_cpus: "0".into(),
            cpu_shares: 512,
            memory: 32 << 20,
            ..Default::default()
        };
        let r = resources(&h).unwrap();
        assert_eq!(
            (r.cpu_shares, r.cpuset_cpus.as_str(), r.memory),
            (512, "0", 32 << 20)
        );
        assert_eq!(parse_cpuset("0,2-3"), Some(vec![0, 2, 3]));
        assert_eq!(parse_cpuset("3-1"), None);
    }

    fn ulimit(name: &str, soft: i64, hard: i64) -> super::super::spec::Ulimit {
        super::super::spec::Ulimit {
            name: name.into(),
            soft,
            hard,
        }
    }

    #[test]
    fn ulimits_are_checked_against_the_host() {
        let ok = HostConfig {
            ulimits: Some(vec![ulimit("nofile", 100, 200)]),
            ..Default::default()
        };
        assert_eq!(rlimits(&ok).unwrap()[0].kind, "RLIMIT_NOFILE");
        let bad = HostConfig {
            ulimits: Some(vec![ulimit("nofiles", 1, 2)]),
            ..Default::default()
        };
        assert!(rlimits(&bad).is_err());
        let inverted = HostConfig {
            ulimits: Some(vec![ulimit("nofile", 3, 2)]),
            ..Default::default()
        };
        assert!(rlimits(&inverted).is_err());
        // The documented example's `[{}]` is no limit at all.
        let empty = HostConfig {
            ulimits: Some(vec![Default::default()]),
            ..Default::default()
        };
        assert!(rlimits(&empty).unwrap().is_empty());
    }

    #[test]
    fn binds_and_security_opts() {
        let read = |s: &str| {
            let b = parse_bind(s).unwrap();
            (b.source, b.destination, b.readonly, b.propagation)
        };
        assert_eq!(
            read("/a:/b:ro"),
            (Some("/a".into()), "/b".into(), true, None)
        );
        assert_eq!(read("/a:/b"), (Some("/a".into()), "/b".into(), false, None));
        assert_eq!(read("/data"), (None, "/data".into(), false, None));
        assert_eq!(
            read("/a:/b:ro,rslave"),
            (
                Some("/a".into()),
                "/b".into(),
                true,
                Some(Propagation::Rslave)
            )
        );
        assert!(parse_bind("/a:/b:rshared,rslave").is_err());
        // A source that is not a path names a volume.
        let named = parse_bind("data:/b").unwrap();
        assert_eq!(
            (named.source, named.volume.as_deref()),
            (None, Some("data"))
        );
        assert!(parse_bind("/a:b").is_err());
        assert!(parse_bind("/a:/b:xx").is_err());
        assert!(security_opt("no-new-privileges").unwrap());
        assert!(security_opt("no-new-privileges:true").unwrap());
        assert!(!security_opt("label:disable").unwrap());
        assert!(!security_opt("seccomp=unconfined").unwrap());
        assert!(security_opt("bogus").is_err());
    }

    #[test]
    fn cgroup_parent() {
        let mut rec = ContainerRecord {
            id: "abc".into(),
            ..ContainerRecord::default()
        };
        assert_eq!(cgroup_path(&rec), "/berth/abc");
        rec.spec.host.cgroup_parent = "mine".into();
        assert_eq!(cgroup_path(&rec), "/mine/abc");
        rec.spec.host.cgroup_parent = "/a/b/".into();
        assert_eq!(cgroup_path(&rec), "/a/b/abc");
    }
}
