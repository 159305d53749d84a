//! Wire ↔ engine for a container's configuration: Docker's `Config`/`HostConfig` as the
//! engine's typed [`ContainerSpec`], both ways, in this one place. Reading checks each value
//! (the engine's types say how, with Docker's messages); writing shows back what was given.

use berth_api_types::container::{
    BindOptions, ContainerConfig, DeviceMapping, Empty, HealthConfig, HostConfig as WireHost,
    KeyValue, LogConfig as WireLog, Mount as WireMount, PortBinding as WireBinding,
    RestartPolicy as WireRestart, ThrottleDevice, TmpfsOptions, Ulimit as WireUlimit,
    VolumeDriver as WireVolumeDriver, VolumeOptions, WeightDevice,
};
use berth_engine::containers::{
    BindFlags, Config, ContainerSpec, Device, Healthcheck, HostConfig, LogConfig, MountKind,
    MountSpec, Port, PortBinding, RawMount, RestartPolicy, Streams, TmpfsFlags, Ulimit,
    VolumeDriver, VolumeFlags,
};
use berth_engine::EngineError;

/// A create's configuration (`HostConfig` absent: every default).
pub fn from_wire(c: ContainerConfig, h: Option<WireHost>) -> Result<ContainerSpec, EngineError> {
    let ports = |m: Option<std::collections::BTreeMap<String, Empty>>| {
        m.map(|m| m.keys().map(|k| k.parse::<Port>()).collect())
            .transpose()
    };
    let config = Config {
        image: c.image,
        hostname: c.hostname,
        domainname: c.domainname,
        user: c.user,
        attach: Streams {
            stdin: c.attach_stdin,
            stdout: c.attach_stdout,
            stderr: c.attach_stderr,
        },
        tty: c.tty,
        open_stdin: c.open_stdin,
        stdin_once: c.stdin_once,
        env: c.env,
        cmd: c.cmd,
        entrypoint: c.entrypoint,
        working_dir: c.working_dir,
        exposed_ports: ports(c.exposed_ports)?,
        volumes: c.volumes.map(|v| v.into_keys().collect()),
        network_disabled: c.network_disabled,
        mac_address: c.mac_address,
        on_build: c.on_build,
        labels: c.labels,
        stop_signal: c.stop_signal,
        stop_timeout: c.stop_timeout,
        healthcheck: c.healthcheck.map(|h| Healthcheck {
            test: h.test.unwrap_or_default(),
            interval: h.interval,
            timeout: h.timeout,
            start_period: h.start_period,
            start_interval: h.start_interval,
            retries: h.retries,
        }),
        shell: c.shell,
    };
    Ok(ContainerSpec {
        config,
        host: host_from_wire(h.unwrap_or_default())?,
    })
}

pub fn host_from_wire(h: WireHost) -> Result<HostConfig, EngineError> {
    unsupported(&h)?;
    let port_bindings = h
        .port_bindings
        .map(|m| {
            m.into_iter()
                .map(|(key, list)| {
                    let bindings = list
                        .unwrap_or_default()
                        .iter()
                        .map(|b| PortBinding::new(&b.host_ip, &b.host_port))
                        .collect::<Result<_, _>>()?;
                    Ok((key.parse::<Port>()?, bindings))
                })
                .collect::<Result<_, EngineError>>()
        })
        .transpose()?;
    Ok(HostConfig {
        binds: h.binds,
        container_id_file: h.container_id_file,
        lxc_conf: h
            .lxc_conf
            .map(|l| l.into_iter().map(|kv| (kv.key, kv.value)).collect()),
        memory: h.memory,
        memory_swap: h.memory_swap,
        cpu_shares: h.cpu_shares,
        cpuset_cpus: h.cpuset_cpus,
        privileged: h.privileged,
        port_bindings,
        links: h.links,
        publish_all_ports: h.publish_all_ports,
        dns: h.dns,
        dns_search: h.dns_search,
        extra_hosts: h.extra_hosts,
        volumes_from: h.volumes_from,
        devices: h.devices.map(|d| {
            d.into_iter()
                .map(|d| Device {
                    path_on_host: d.path_on_host,
                    path_in_container: d.path_in_container,
                    cgroup_permissions: d.cgroup_permissions,
                })
                .collect()
        }),
        network_mode: h.network_mode.parse()?,
        ipc_mode: h.ipc_mode.parse()?,
        pid_mode: h.pid_mode.parse()?,
        cap_add: h.cap_add,
        cap_drop: h.cap_drop,
        restart_policy: RestartPolicy::new(
            &h.restart_policy.name,
            h.restart_policy.maximum_retry_count,
        )?,
        security_opt: h.security_opt,
        readonly_rootfs: h.readonly_rootfs,
        ulimits: h.ulimits.map(|u| {
            u.into_iter()
                .map(|u| Ulimit {
                    name: u.name,
                    soft: u.soft,
                    hard: u.hard,
                })
                .collect()
        }),
        log_config: LogConfig {
            driver: h.log_config.kind.parse()?,
            options: h.log_config.config,
        },
        cgroup_parent: h.cgroup_parent,
        auto_remove: h.auto_remove,
        init: h.init,
        nano_cpus: h.nano_cpus,
        cpu_period: h.cpu_period,
        cpu_quota: h.cpu_quota,
        cpuset_mems: h.cpuset_mems,
        pids_limit: h.pids_limit,
        memory_reservation: h.memory_reservation,
        oom_kill_disable: h.oom_kill_disable,
        oom_score_adj: h.oom_score_adj,
        shm_size: h.shm_size,
        blkio_weight: h.blkio_weight,
        mounts: h
            .mounts
            .map(|m| m.into_iter().map(mount_from_wire).collect())
            .transpose()?,
        tmpfs: h.tmpfs,
        sysctls: h.sysctls,
        group_add: h.group_add,
        dns_options: h.dns_options,
        uts_mode: h.uts_mode.parse()?,
        cgroupns_mode: h.cgroupns_mode.parse()?,
        masked_paths: h.masked_paths,
        readonly_paths: h.readonly_paths,
        annotations: h.annotations,
        console_size: match h.console_size {
            [0, 0] => None,
            [height, width] => Some((
                u16::try_from(height).unwrap_or(u16::MAX),
                u16::try_from(width).unwrap_or(u16::MAX),
            )),
        },
        blkio_weight_device: h
            .blkio_weight_device
            .map(|l| l.into_iter().map(|d| (d.path, d.weight)).collect()),
        blkio_device_read_bps: throttles(h.blkio_device_read_bps),
        blkio_device_write_bps: throttles(h.blkio_device_write_bps),
        blkio_device_read_iops: throttles(h.blkio_device_read_iops),
        blkio_device_write_iops: throttles(h.blkio_device_write_iops),
        cpu_realtime_period: h.cpu_realtime_period,
        cpu_realtime_runtime: h.cpu_realtime_runtime,
        device_cgroup_rules: h.device_cgroup_rules,
        memory_swappiness: h.memory_swappiness,
        cpu_percent: h.cpu_percent,
        cpu_count: h.cpu_count,
        kernel_memory_tcp: h.kernel_memory_tcp,
        isolation: h.isolation,
        runtime: h.runtime,
        userns_mode: h.userns_mode,
        volume_driver: h.volume_driver,
    })
}

fn throttles(list: Option<Vec<ThrottleDevice>>) -> Option<Vec<(String, u64)>> {
    list.map(|l| l.into_iter().map(|d| (d.path, d.rate)).collect())
}

fn throttles_to_wire(list: &Option<Vec<(String, u64)>>) -> Option<Vec<ThrottleDevice>> {
    list.as_ref().map(|l| {
        l.iter()
            .map(|(path, rate)| ThrottleDevice {
                path: path.clone(),
                rate: *rate,
            })
            .collect()
    })
}

/// What the wire has that berth cannot do on this host, refused before anything is made with
/// Docker's message (fields of Windows, of storage drivers and device plugins berth lacks).
fn unsupported(h: &WireHost) -> Result<(), EngineError> {
    let invalid = |m: String| Err(EngineError::InvalidParameter(m));
    if h.io_maximum_bandwidth != 0 || h.io_maximum_iops != 0 {
        return invalid(
            "Invalid QoS settings: linux does not support Maximum IO Bandwidth or Maximum IO IOps"
                .into(),
        );
    }
    if h.storage_opt.as_ref().is_some_and(|o| !o.is_empty()) {
        return invalid(
            "--storage-opt is supported only for overlay over xfs with 'pquota' mount option"
                .into(),
        );
    }
    if let Some(request) = h.device_requests.as_ref().and_then(|r| r.first()) {
        return invalid(format!(
            "could not select device driver {:?} with capabilities: {}",
            request["Driver"].as_str().unwrap_or_default(),
            request["Capabilities"]
        ));
    }
    if !h.cgroup.is_empty() {
        return invalid(format!(
            "berth cannot run a container in another's cgroup (Cgroup {:?})",
            h.cgroup
        ));
    }
    Ok(())
}

fn mount_from_wire(m: WireMount) -> Result<MountSpec, EngineError> {
    MountSpec::new(RawMount {
        kind: m.kind,
        source: m.source,
        target: m.target,
        read_only: m.read_only,
        consistency: m.consistency,
        bind: m.bind_options.map(|b| BindFlags {
            propagation: b.propagation,
            non_recursive: b.non_recursive,
            create_mountpoint: b.create_mountpoint,
            read_only_non_recursive: b.read_only_non_recursive,
            read_only_force_recursive: b.read_only_force_recursive,
        }),
        volume: m.volume_options.map(|v| VolumeFlags {
            no_copy: v.no_copy,
            labels: v.labels,
            driver: v.driver_config.map(|d| VolumeDriver {
                name: d.name,
                options: d.options,
            }),
        }),
        tmpfs: m.tmpfs_options.map(|t| TmpfsFlags {
            size_bytes: t.size_bytes,
            mode: t.mode,
        }),
    })
}

fn mount_to_wire(m: &MountSpec) -> WireMount {
    let mut w = WireMount {
        kind: m.kind_name().to_string(),
        target: m.target.clone(),
        read_only: m.read_only,
        consistency: m.consistency.clone(),
        ..Default::default()
    };
    match &m.kind {
        MountKind::Bind {
            source,
            propagation,
            non_recursive,
            create_mountpoint,
            read_only_non_recursive,
            read_only_force_recursive,
        } => {
            w.source = source.clone();
            let options = BindOptions {
                propagation: propagation.map(|p| p.to_string()).unwrap_or_default(),
                non_recursive: *non_recursive,
                create_mountpoint: *create_mountpoint,
                read_only_non_recursive: *read_only_non_recursive,
                read_only_force_recursive: *read_only_force_recursive,
            };
            w.bind_options = (options != BindOptions::default()).then_some(options);
        }
        MountKind::Volume {
            name,
            no_copy,
            labels,
            driver,
        } => {
            w.source = name.clone();
            let options = VolumeOptions {
                no_copy: *no_copy,
                labels: labels.clone(),
                driver_config: driver.as_ref().map(|d| WireVolumeDriver {
                    name: d.name.clone(),
                    options: d.options.clone(),
                }),
            };
            w.volume_options = (options != VolumeOptions::default()).then_some(options);
        }
        MountKind::Tmpfs { size_bytes, mode } => {
            let options = TmpfsOptions {
                size_bytes: *size_bytes,
                mode: *mode,
            };
            w.tmpfs_options = (options != TmpfsOptions::default()).then_some(options);
        }
    }
    w
}

pub fn config_to_wire(c: &Config) -> ContainerConfig {
    let ports = c
        .exposed_ports
        .as_ref()
        .map(|p| p.iter().map(|p| (p.to_string(), Empty {})).collect());
    ContainerConfig {
        hostname: c.hostname.clone(),
        domainname: c.domainname.clone(),
        user: c.user.clone(),
        attach_stdin: c.attach.stdin,
        attach_stdout: c.attach.stdout,
        attach_stderr: c.attach.stderr,
        exposed_ports: ports,
        tty: c.tty,
        open_stdin: c.open_stdin,
        stdin_once: c.stdin_once,
        env: c.env.clone(),
        cmd: c.cmd.clone(),
        image: c.image.clone(),
        volumes: c
            .volumes
            .as_ref()
            .map(|v| v.iter().map(|p| (p.clone(), Empty {})).collect()),
        working_dir: c.working_dir.clone(),
        entrypoint: c.entrypoint.clone(),
        network_disabled: c.network_disabled,
        mac_address: c.mac_address.clone(),
        on_build: c.on_build.clone(),
        labels: c.labels.clone(),
        stop_signal: c.stop_signal.clone(),
        stop_timeout: c.stop_timeout,
        healthcheck: c.healthcheck.as_ref().map(|h| HealthConfig {
            test: Some(h.test.clone()),
            interval: h.interval,
            timeout: h.timeout,
            start_period: h.start_period,
            start_interval: h.start_interval,
            retries: h.retries,
        }),
        shell: c.shell.clone(),
        args_escaped: false,
    }
}

/// A host binding as the wire shows it (`""` for unset).
pub fn binding_to_wire(b: &PortBinding) -> WireBinding {
    WireBinding {
        host_ip: b.host_ip.map(|ip| ip.to_string()).unwrap_or_default(),
        host_port: b.host_port.map(|p| p.to_string()).unwrap_or_default(),
    }
}

pub fn host_to_wire(h: &HostConfig) -> WireHost {
    WireHost {
        binds: h.binds.clone(),
        container_id_file: h.container_id_file.clone(),
        lxc_conf: h.lxc_conf.as_ref().map(|l| {
            l.iter()
                .map(|(key, value)| KeyValue {
                    key: key.clone(),
                    value: value.clone(),
                })
                .collect()
        }),
        memory: h.memory,
        memory_swap: h.memory_swap,
        cpu_shares: h.cpu_shares,
        cpuset_cpus: h.cpuset_cpus.clone(),
        privileged: h.privileged,
        port_bindings: h.port_bindings.as_ref().map(|m| {
            m.iter()
                .map(|(port, list)| {
                    (
                        port.to_string(),
                        Some(list.iter().map(binding_to_wire).collect()),
                    )
                })
                .collect()
        }),
        links: h.links.clone(),
        publish_all_ports: h.publish_all_ports,
        dns: h.dns.clone(),
        dns_search: h.dns_search.clone(),
        extra_hosts: h.extra_hosts.clone(),
        volumes_from: h.volumes_from.clone(),
        devices: h.devices.as_ref().map(|d| {
            d.iter()
                .map(|d| DeviceMapping {
                    path_on_host: d.path_on_host.clone(),
                    path_in_container: d.path_in_container.clone(),
                    cgroup_permissions: d.cgroup_permissions.clone(),
                })
                .collect()
        }),
        network_mode: h.network_mode.to_string(),
        ipc_mode: h.ipc_mode.to_string(),
        pid_mode: h.pid_mode.to_string(),
        cap_add: h.cap_add.clone(),
        cap_drop: h.cap_drop.clone(),
        restart_policy: h
            .restart_policy
            .map(|p| WireRestart {
                name: p.name().to_string(),
                maximum_retry_count: p.maximum_retry_count(),
            })
            .unwrap_or_default(),
        security_opt: h.security_opt.clone(),
        readonly_rootfs: h.readonly_rootfs,
        ulimits: h.ulimits.as_ref().map(|u| {
            u.iter()
                .map(|u| WireUlimit {
                    name: u.name.clone(),
                    soft: u.soft,
                    hard: u.hard,
                })
                .collect()
        }),
        log_config: WireLog {
            kind: h.log_config.driver.name().to_string(),
            config: h.log_config.options.clone(),
        },
        cgroup_parent: h.cgroup_parent.clone(),
        auto_remove: h.auto_remove,
        init: h.init,
        nano_cpus: h.nano_cpus,
        cpu_period: h.cpu_period,
        cpu_quota: h.cpu_quota,
        cpuset_mems: h.cpuset_mems.clone(),
        pids_limit: h.pids_limit,
        memory_reservation: h.memory_reservation,
        oom_kill_disable: h.oom_kill_disable,
        oom_score_adj: h.oom_score_adj,
        shm_size: h.shm_size,
        blkio_weight: h.blkio_weight,
        mounts: h
            .mounts
            .as_ref()
            .map(|m| m.iter().map(mount_to_wire).collect()),
        tmpfs: h.tmpfs.clone(),
        sysctls: h.sysctls.clone(),
        group_add: h.group_add.clone(),
        dns_options: h.dns_options.clone(),
        uts_mode: h.uts_mode.to_string(),
        cgroupns_mode: h.cgroupns_mode.to_string(),
        masked_paths: h.masked_paths.clone(),
        readonly_paths: h.readonly_paths.clone(),
        annotations: h.annotations.clone(),
        console_size: h
            .console_size
            .map_or([0, 0], |(height, width)| [height.into(), width.into()]),
        blkio_weight_device: h.blkio_weight_device.as_ref().map(|l| {
            l.iter()
                .map(|(path, weight)| WeightDevice {
                    path: path.clone(),
                    weight: *weight,
                })
                .collect()
        }),
        blkio_device_read_bps: throttles_to_wire(&h.blkio_device_read_bps),
        blkio_device_write_bps: throttles_to_wire(&h.blkio_device_write_bps),
        blkio_device_read_iops: throttles_to_wire(&h.blkio_device_read_iops),
        blkio_device_write_iops: throttles_to_wire(&h.blkio_device_write_iops),
        cpu_realtime_period: h.cpu_realtime_period,
        cpu_realtime_runtime: h.cpu_realtime_runtime,
        device_cgroup_rules: h.device_cgroup_rules.clone(),
        // Refused at create when given: always none.
        device_requests: None,
        memory_swappiness: h.memory_swappiness,
        kernel_memory: 0,
        kernel_memory_tcp: h.kernel_memory_tcp,
        cpu_count: h.cpu_count,
        cpu_percent: h.cpu_percent,
        io_maximum_iops: 0,
        io_maximum_bandwidth: 0,
        isolation: h.isolation.clone(),
        runtime: h.runtime.clone(),
        storage_opt: None,
        userns_mode: h.userns_mode.clone(),
        volume_driver: h.volume_driver.clone(),
        cgroup: String::new(),
        disk_quota: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What inspect showed of a container before the typed spec, and the record berthd wrote
    /// for it then (both captured from that build).
    const INSPECT: &str = include_str!("../../../crates/engine/testdata/record-v1.inspect.json");
    const RECORD: &[u8] = include_bytes!("../../../crates/engine/testdata/record-v1.json");

    /// Field by field, so a failure names the field; both as API 1.18 has them (the capture
    /// is of 1.18, from a build that also showed fields 1.18 lacks, such as `AutoRemove`).
    fn assert_same(got: &serde_json::Value, want: &serde_json::Value) {
        let mut want = want.clone();
        at_1_18(&mut want);
        for part in ["Config", "HostConfig"] {
            let (g, w) = (
                got[part].as_object().unwrap(),
                want[part].as_object().unwrap(),
            );
            for (k, v) in w {
                assert_eq!(g.get(k), Some(v), "{part}.{k}");
            }
            let extra: Vec<_> = g.keys().filter(|k| !w.contains_key(*k)).collect();
            assert!(extra.is_empty(), "{part} has more: {extra:?}");
        }
    }

    fn at_1_18(inspect: &mut serde_json::Value) {
        berth_api_server::fields::shape(
            berth_api_server::fields::Answer::ContainerInspect,
            berth_api_types::ApiVersion::new(1, 18),
            inspect,
        );
    }

    /// As inspect shows it at API 1.18, the version of the capture.
    fn shown(spec: &ContainerSpec) -> serde_json::Value {
        let mut shown = serde_json::json!({
            "Config": config_to_wire(&spec.config),
            "HostConfig": host_to_wire(&spec.host),
        });
        at_1_18(&mut shown);
        shown
    }

    /// Every field a client sets comes back in inspect as it gave it.
    #[test]
    fn a_configuration_reads_and_shows_back_unchanged() {
        let given: serde_json::Value = serde_json::from_str(INSPECT).unwrap();
        let spec = from_wire(
            serde_json::from_value(given["Config"].clone()).unwrap(),
            Some(serde_json::from_value(given["HostConfig"].clone()).unwrap()),
        )
        .unwrap();
        assert_same(&shown(&spec), &given);
    }

    /// A container made by the berthd before the typed spec shows in inspect exactly as it
    /// did then, once its record is migrated.
    #[test]
    fn a_migrated_record_shows_as_it_did() {
        let rec = berth_engine::containers::ContainerRecord::from_json(RECORD).unwrap();
        let before: serde_json::Value = serde_json::from_str(INSPECT).unwrap();
        assert_same(&shown(&rec.spec), &before);
    }

    #[test]
    fn bad_values_get_docker_messages() {
        let host = |json: serde_json::Value| -> String {
            host_from_wire(serde_json::from_value(json).unwrap())
                .unwrap_err()
                .to_string()
        };
        for (json, want) in [
            (
                serde_json::json!({"PortBindings": {"80/tcp": [{"HostPort": "abc"}]}}),
                "invalid hostPort: abc",
            ),
            (
                serde_json::json!({"PortBindings": {"http/tcp": [{"HostPort": "80"}]}}),
                "invalid containerPort: http",
            ),
            (
                serde_json::json!({"NetworkMode": "container:"}),
                "network container: not found",
            ),
            (
                serde_json::json!({"PidMode": "shared"}),
                "invalid mode: shared",
            ),
            (
                serde_json::json!({"RestartPolicy": {"Name": "sometimes"}}),
                "invalid restart policy 'sometimes'",
            ),
            (
                serde_json::json!({"LogConfig": {"Type": "syslog"}}),
                "no log driver named 'syslog'",
            ),
        ] {
            let got = host(json.clone());
            assert!(got.contains(want), "{json}: {got}");
        }
        // `LxcConf` as a map reads as the list it shows back.
        let h: WireHost =
            serde_json::from_value(serde_json::json!({"LxcConf": {"lxc.utsname": "docker"}}))
                .unwrap();
        let shown = host_to_wire(&host_from_wire(h).unwrap());
        assert_eq!(
            serde_json::to_value(shown.lxc_conf).unwrap(),
            serde_json::json!([{"Key": "lxc.utsname", "Value": "docker"}])
        );
        // An unset host config is every default, shown as Docker fills it.
        let shown = host_to_wire(&host_from_wire(WireHost::default()).unwrap());
        assert_eq!(
            (
                shown.network_mode.as_str(),
                shown.log_config.kind.as_str(),
                shown.restart_policy.name.as_str()
            ),
            ("default", "json-file", "")
        );
    }
}
