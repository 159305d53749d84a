//! Records of schema 1 (`config.v1.json`, written by berth before the typed spec): Docker's
//! `Config`/`HostConfig` field for field, loose JSON where a type was missing. Read once and
//! rewritten in the current schema. Frozen: this is what those files hold, so it does not
//! follow the wire types as they grow (that conversion lives in berthd).

use std::collections::BTreeMap;

use serde::Deserialize;

use super::record::{ContainerRecord, State, RECORD_SCHEMA};
use super::spec::{
    Config, ContainerSpec, Device, HostConfig, LogConfig, PortBinding, RestartPolicy, Streams,
    Ulimit,
};
use super::volumes::MountPoint;

#[derive(Deserialize)]
pub(super) struct RecordV1 {
    id: String,
    name: String,
    created: String,
    image_id: String,
    path: String,
    args: Vec<String>,
    config: ConfigV1,
    host_config: HostConfigV1,
    state: State,
    restart_count: i64,
    #[serde(default)]
    mounts: Vec<MountPoint>,
    #[serde(default)]
    network: Option<berth_network::Endpoint>,
}

#[derive(Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct ConfigV1 {
    hostname: String,
    domainname: String,
    user: String,
    attach_stdin: bool,
    attach_stdout: bool,
    attach_stderr: bool,
    exposed_ports: Option<BTreeMap<String, serde_json::Value>>,
    tty: bool,
    open_stdin: bool,
    stdin_once: bool,
    env: Option<Vec<String>>,
    cmd: Option<Vec<String>>,
    image: String,
    volumes: Option<BTreeMap<String, serde_json::Value>>,
    working_dir: String,
    entrypoint: Option<Vec<String>>,
    network_disabled: bool,
    mac_address: String,
    on_build: Option<Vec<String>>,
    labels: Option<BTreeMap<String, String>>,
    stop_signal: Option<String>,
}

#[derive(Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct RestartPolicyV1 {
    name: String,
    maximum_retry_count: i64,
}

#[derive(Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct LogConfigV1 {
    #[serde(rename = "Type")]
    kind: String,
    config: Option<BTreeMap<String, String>>,
}

#[derive(Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct HostConfigV1 {
    binds: Option<Vec<String>>,
    #[serde(rename = "ContainerIDFile")]
    container_id_file: String,
    lxc_conf: Option<serde_json::Value>,
    memory: i64,
    memory_swap: i64,
    cpu_shares: i64,
    cpuset_cpus: String,
    privileged: bool,
    port_bindings: Option<serde_json::Value>,
    links: Option<Vec<String>>,
    publish_all_ports: bool,
    dns: Option<Vec<String>>,
    dns_search: Option<Vec<String>>,
    extra_hosts: Option<Vec<String>>,
    volumes_from: Option<Vec<String>>,
    devices: Option<serde_json::Value>,
    network_mode: String,
    ipc_mode: String,
    pid_mode: String,
    cap_add: Option<Vec<String>>,
    cap_drop: Option<Vec<String>>,
    restart_policy: RestartPolicyV1,
    security_opt: Option<Vec<String>>,
    readonly_rootfs: bool,
    ulimits: Option<serde_json::Value>,
    log_config: LogConfigV1,
    cgroup_parent: String,
    auto_remove: bool,
}

fn str_of<'a>(v: &'a serde_json::Value, key: &str) -> &'a str {
    v.get(key).and_then(|s| s.as_str()).unwrap_or("")
}

impl RecordV1 {
    /// The record in the current schema. Schema-1 records were checked when their container
    /// was made, so a value that no longer reads can only be damage: it is dropped (and
    /// logged) rather than costing the container.
    pub(super) fn migrate(self) -> ContainerRecord {
        let id = self.id.clone();
        let dropped = |what: &str, e: &dyn std::fmt::Display| {
            tracing::warn!(container = %id, "record migration drops {what}: {e}");
        };
        let c = self.config;
        let h = self.host_config;
        let ports = |m: Option<BTreeMap<String, serde_json::Value>>| {
            m.map(|m| {
                m.keys()
                    .filter_map(|k| k.parse().map_err(|e| dropped("a port", &e)).ok())
                    .collect()
            })
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
            exposed_ports: ports(c.exposed_ports),
            volumes: c.volumes.map(|v| v.into_keys().collect()),
            network_disabled: c.network_disabled,
            mac_address: c.mac_address,
            on_build: c.on_build,
            labels: c.labels,
            stop_signal: c.stop_signal,
            stop_timeout: None,
            healthcheck: None,
            shell: None,
        };
        let port_bindings = match h.port_bindings {
            Some(serde_json::Value::Object(map)) => Some(
                map.iter()
                    .filter_map(|(k, list)| {
                        let port = k.parse().map_err(|e| dropped("a port", &e)).ok()?;
                        let bindings = list
                            .as_array()
                            .into_iter()
                            .flatten()
                            .filter_map(|b| {
                                PortBinding::new(str_of(b, "HostIp"), str_of(b, "HostPort"))
                                    .map_err(|e| dropped("a port binding", &e))
                                    .ok()
                            })
                            .collect();
                        Some((port, bindings))
                    })
                    .collect(),
            ),
            _ => None,
        };
        let devices = h.devices.and_then(|d| d.as_array().cloned()).map(|list| {
            list.iter()
                .map(|d| Device {
                    path_on_host: str_of(d, "PathOnHost").into(),
                    path_in_container: str_of(d, "PathInContainer").into(),
                    cgroup_permissions: str_of(d, "CgroupPermissions").into(),
                })
                .collect()
        });
        let ulimits = h.ulimits.and_then(|u| u.as_array().cloned()).map(|list| {
            list.iter()
                .filter(|u| !u.as_object().is_some_and(|o| o.is_empty()))
                .map(|u| Ulimit {
                    name: str_of(u, "Name").into(),
                    soft: u["Soft"].as_i64().unwrap_or(0),
                    hard: u["Hard"].as_i64().unwrap_or(0),
                })
                .collect()
        });
        let lxc_conf = h.lxc_conf.and_then(|l| match l {
            serde_json::Value::Array(list) => Some(
                list.iter()
                    .map(|kv| (str_of(kv, "Key").into(), str_of(kv, "Value").into()))
                    .collect(),
            ),
            serde_json::Value::Object(map) => Some(
                map.iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").into()))
                    .collect(),
            ),
            _ => None,
        });
        fn parsed<T: Default>(
            dropped: &dyn Fn(&str, &dyn std::fmt::Display),
            what: &str,
            r: Result<T, crate::EngineError>,
        ) -> T {
            r.map_err(|e| dropped(what, &e)).unwrap_or_default()
        }
        let host = HostConfig {
            binds: h.binds,
            container_id_file: h.container_id_file,
            lxc_conf,
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
            devices,
            network_mode: parsed(&dropped, "the network mode", h.network_mode.parse()),
            ipc_mode: parsed(&dropped, "the IPC mode", h.ipc_mode.parse()),
            pid_mode: parsed(&dropped, "the PID mode", h.pid_mode.parse()),
            cap_add: h.cap_add,
            cap_drop: h.cap_drop,
            restart_policy: parsed(
                &dropped,
                "the restart policy",
                RestartPolicy::new(&h.restart_policy.name, h.restart_policy.maximum_retry_count),
            ),
            security_opt: h.security_opt,
            readonly_rootfs: h.readonly_rootfs,
            ulimits,
            log_config: LogConfig {
                driver: parsed(&dropped, "the log driver", h.log_config.kind.parse()),
                options: h.log_config.config,
            },
            cgroup_parent: h.cgroup_parent,
            auto_remove: h.auto_remove,
            ..Default::default()
        };
        ContainerRecord {
            schema: RECORD_SCHEMA,
            id: self.id,
            name: self.name,
            created: self.created,
            image_id: self.image_id,
            path: self.path,
            args: self.args,
            spec: ContainerSpec { config, host },
            state: self.state,
            restart_count: self.restart_count,
            mounts: self.mounts,
            network: self.network,
            networks: Default::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::super::spec::{LogDriver, NetworkMode, Port};
    use super::*;

    /// A record berthd wrote before the typed spec (a running container with most settings),
    /// read in full.
    #[test]
    fn a_schema_1_record_reads_in_full() {
        let rec =
            ContainerRecord::from_json(include_bytes!("../../testdata/record-v1.json")).unwrap();
        assert_eq!(rec.schema, RECORD_SCHEMA);
        assert_eq!(rec.name, "/rich");
        let (c, h) = (&rec.spec.config, &rec.spec.host);
        assert_eq!(
            (c.hostname.as_str(), c.user.as_str(), c.working_dir.as_str()),
            ("richhost", "0:0", "/work")
        );
        assert_eq!(
            c.cmd.as_deref(),
            Some(&["sleep".to_string(), "1000".to_string()][..])
        );
        assert_eq!(c.entrypoint, None);
        let exposed: Vec<String> = c
            .exposed_ports
            .iter()
            .flatten()
            .map(|p| p.to_string())
            .collect();
        assert_eq!(exposed, ["53/udp", "80/tcp", "9000/tcp"]);
        assert_eq!(
            c.volumes.as_ref().unwrap().iter().collect::<Vec<_>>(),
            ["/anon"]
        );
        assert_eq!(c.labels.as_ref().unwrap()["tier"], "web");
        let web: Port = "80/tcp".parse().unwrap();
        let udp: Port = "53/udp".parse().unwrap();
        let pb = h.port_bindings.as_ref().unwrap();
        assert_eq!(
            pb[&web],
            [PortBinding {
                host_ip: Some(Ipv4Addr::LOCALHOST),
                host_port: Some(18080)
            }]
        );
        assert_eq!(pb[&udp], [PortBinding::default()]);
        assert_eq!(
            h.restart_policy,
            Some(RestartPolicy::OnFailure { max_retries: 3 })
        );
        assert_eq!(h.network_mode, NetworkMode::Default);
        assert_eq!(h.log_config.driver, LogDriver::JsonFile);
        assert_eq!(h.log_config.options.as_ref().unwrap()["max-size"], "1m");
        assert_eq!(
            h.ulimits.as_deref(),
            Some(
                &[Ulimit {
                    name: "nofile".into(),
                    soft: 100,
                    hard: 200
                }][..]
            )
        );
        assert_eq!(
            h.devices.as_ref().unwrap()[0].path_in_container,
            "/dev/mynull"
        );
        assert_eq!(h.memory, 64 << 20);
        assert_eq!(
            h.cap_add.as_deref(),
            Some(&["CAP_NET_ADMIN".to_string()][..])
        );
        assert_eq!(rec.state.status, super::super::Status::Running);
        assert_eq!(rec.mounts.len(), 2);
        assert_eq!(rec.network.as_ref().unwrap().ports.len(), 2);
        // Written back in the current schema, it reads the same.
        let again = ContainerRecord::from_json(&serde_json::to_vec(&rec).unwrap()).unwrap();
        assert_eq!(again, rec);
    }

    #[test]
    fn a_newer_schema_is_refused_not_guessed() {
        let err = ContainerRecord::from_json(br#"{"schema": 99}"#).unwrap_err();
        assert!(err.to_string().contains("schema 99"), "{err}");
    }
}
