//! `ContainerBackend` over the engine's container service: wire ↔ domain conversion.

use std::collections::BTreeMap;

use async_trait::async_trait;

use crate::adapter::api_err;
use berth_api_server::backend::{
    ByteStream, CommitQuery, ContainerBackend, ContainerListQuery, LogChunk, LogStream, LogsQuery,
    PruneQuery, StopQuery, Waiting,
};
use berth_api_server::ApiError;
use berth_api_types::container::PathStat;
use berth_api_types::container::{
    status_string, ContainerChange, ContainerConfig, ContainerInspect, ContainerPruneReport,
    ContainerState, ContainerSummary, CreateBody, CreateResponse, GraphDriver, HostConfig,
    MountPoint, NetworkSettings, PortBinding, PortSummary, SummaryHostConfig,
    SummaryNetworkSettings, TopResponse, UpdateBody, UpdateResponse,
};
use berth_api_types::container::{Health as WireHealth, HealthcheckResult};
use berth_api_types::network::{EndpointIpamConfig, EndpointSettings};
use berth_api_types::stats::{
    BlkioEntry, BlkioStats, ContainerStats, CpuStats, CpuUsage, MemoryStats, NetworkStats,
    ThrottlingData,
};
use berth_engine::containers::health::{Health, HealthStatus};
use berth_engine::containers::{
    net, CommitRequest, ContainerRecord, CreateRequest, ExtractOptions, ListOptions, LogDriver,
    LogOptions, Port, ResourceUpdate, RestartPolicy, StatsMode, StatsPair, Status, StopOptions,
    WaitCondition,
};
use futures_util::StreamExt;

use berth_engine::labels::LabelFilter;

use crate::adapter::Daemon;
use crate::spec;

fn stop_options(how: &StopQuery) -> StopOptions {
    StopOptions {
        timeout: how.timeout,
        signal: how.signal.clone(),
    }
}

fn unix(t: &str) -> Option<i64> {
    t.parse::<jiff::Timestamp>()
        .ok()
        .map(|t| t.as_second())
        .filter(|s| *s > 0)
}

fn status(rec: &ContainerRecord) -> String {
    let now = jiff::Timestamp::now().as_second();
    let since_start = unix(&rec.state.started_at).map_or(0, |s| now - s);
    let since_finish = unix(&rec.state.finished_at).map(|f| now - f);
    let status = status_string(
        rec.state.status.as_str(),
        rec.state.exit_code as i64,
        since_start,
        since_finish,
    );
    // Docker's `Up 5 minutes (healthy)`, `(health: starting)`, `(unhealthy)`.
    match (&rec.state.health, rec.state.status) {
        (Some(h), Status::Running) => match h.status {
            HealthStatus::Starting => format!("{status} (health: starting)"),
            other => format!("{status} ({})", other.as_str()),
        },
        _ => status,
    }
}

fn health_to_wire(h: &Health) -> WireHealth {
    WireHealth {
        status: h.status.as_str().to_string(),
        failing_streak: i64::from(h.failing_streak),
        log: h
            .log
            .iter()
            .map(|r| HealthcheckResult {
                start: r.start.clone(),
                end: r.end.clone(),
                exit_code: i64::from(r.exit_code),
                output: r.output.clone(),
            })
            .collect(),
    }
}

fn cpu_stats(s: &berth_runtime::stats::Sample) -> CpuStats {
    CpuStats {
        cpu_usage: CpuUsage {
            percpu_usage: s.cpu_percpu.clone(),
            usage_in_usermode: s.cpu_user,
            total_usage: s.cpu_total,
            usage_in_kernelmode: s.cpu_kernel,
        },
        system_cpu_usage: s.system_cpu,
        online_cpus: Some(s.online_cpus),
        throttling_data: ThrottlingData {
            periods: s.throttling.0,
            throttled_periods: s.throttling.1,
            throttled_time: s.throttling.2,
        },
    }
}

fn to_wire(id: &str, name: &str, p: StatsPair) -> ContainerStats {
    let s = &p.current;
    let net = |v: &[u64; 8]| NetworkStats {
        rx_bytes: v[0],
        rx_packets: v[1],
        rx_errors: v[2],
        rx_dropped: v[3],
        tx_bytes: v[4],
        tx_packets: v[5],
        tx_errors: v[6],
        tx_dropped: v[7],
    };
    let networks: std::collections::BTreeMap<String, NetworkStats> = s
        .networks
        .iter()
        .map(|(k, v)| (k.clone(), net(v)))
        .collect();
    let blk = |v: &[(u64, u64, String, u64)]| {
        v.iter()
            .map(|(major, minor, op, value)| BlkioEntry {
                major: *major,
                minor: *minor,
                op: op.clone(),
                value: *value,
            })
            .collect()
    };
    ContainerStats {
        id: id.to_string(),
        name: name.to_string(),
        read: p.read.clone(),
        preread: p.preread.clone(),
        network: networks
            .get("eth0")
            .cloned()
            .or_else(|| networks.values().next().cloned())
            .unwrap_or_default(),
        networks,
        memory_stats: MemoryStats {
            stats: s.memory_stats.clone(),
            max_usage: s.memory_max_usage,
            usage: s.memory_usage,
            failcnt: s.memory_failcnt,
            limit: s.memory_limit,
        },
        blkio_stats: BlkioStats {
            io_service_bytes_recursive: blk(&s.io_service_bytes),
            io_serviced_recursive: blk(&s.io_serviced),
        },
        cpu_stats: cpu_stats(s),
        precpu_stats: cpu_stats(&p.previous),
        pids_stats: [("current".to_string(), s.pids)].into(),
    }
}

/// The list query in the engine's terms (the API layer has checked the filters' values).
/// A `publish` or `expose` filter: `80`, `80/udp`, `8000-8080/tcp`, read as Docker's
/// `portOp` reads them.
fn port_filter(
    f: &berth_api_types::filters::Filters,
    key: &str,
) -> Result<Option<Vec<Port>>, ApiError> {
    let Some(values) = f.given(key) else {
        return Ok(None);
    };
    let mut out = Vec::new();
    for value in values {
        if value.contains(':') {
            return Err(ApiError::bad_request(format!(
                "filter for '{key}' should not contain ':': {value}"
            )));
        }
        let (range, proto) = value.split_once('/').unwrap_or((&value, "tcp"));
        let bad = || {
            ApiError::bad_request(format!(
                "error while looking up for {key} {value}: invalid port range"
            ))
        };
        let (start, end) = match range.split_once('-') {
            Some((a, b)) => (
                a.parse::<u16>().map_err(|_| bad())?,
                b.parse::<u16>().map_err(|_| bad())?,
            ),
            None => {
                let n = range.parse::<u16>().map_err(|_| bad())?;
                (n, n)
            }
        };
        if start > end {
            return Err(bad());
        }
        for n in start..=end {
            out.push(format!("{n}/{proto}").parse::<Port>().map_err(api_err)?);
        }
    }
    Ok(Some(out))
}

fn list_options(q: &ContainerListQuery) -> Result<ListOptions, ApiError> {
    let f = &q.filters;
    let nonempty = |s: &str| (!s.is_empty()).then(|| s.to_string());
    // `since` and `before` come as parameters (old clients) or filters.
    let or_filter =
        |param: &str, key: &str| nonempty(param).or_else(|| f.get(key).first().cloned());
    Ok(ListOptions {
        all: q.all,
        limit: q.limit,
        since: or_filter(&q.since, "since"),
        before: or_filter(&q.before, "before"),
        size: q.size,
        exited: f
            .given("exited")
            .map(|v| v.iter().filter_map(|c| c.parse().ok()).collect()),
        status: f
            .given("status")
            .map(|v| v.iter().filter_map(|s| Status::from_name(s)).collect()),
        labels: LabelFilter(f.labels()),
        ids: f.given("id"),
        names: f.given("name"),
        ancestors: f.given("ancestor"),
        health: f.given("health"),
        networks: f.given("network"),
        publish: port_filter(f, "publish")?,
        expose: port_filter(f, "expose")?,
        volumes: f.given("volume"),
        is_task: f
            .bool_value("is-task")
            .map_err(|e| ApiError::bad_request(e.0))?,
    })
}

type PublishedPorts = [(Port, Vec<(std::net::Ipv4Addr, u16)>)];

/// A listed container's `Ports`: one entry per host binding, or the bare port.
fn port_summaries(ports: &PublishedPorts) -> Vec<PortSummary> {
    let mut out = Vec::new();
    for (port, bound) in ports {
        let entry = |host: Option<&(std::net::Ipv4Addr, u16)>| PortSummary {
            ip: host.map(|(ip, _)| ip.to_string()),
            private_port: port.number,
            public_port: host.map(|(_, p)| *p),
            kind: port.proto.as_str().to_string(),
        };
        if bound.is_empty() {
            out.push(entry(None));
        }
        out.extend(bound.iter().map(|b| entry(Some(b))));
    }
    out
}

/// `NetworkSettings` from the engine's one account of it.
/// The container's mounts as Docker shows them: anonymous volumes of the `local` driver,
/// binds (private propagation unless given), tmpfs mounts of `Mounts`.
fn mount_points(rec: &ContainerRecord) -> Vec<MountPoint> {
    rec.mounts
        .iter()
        .map(|m| {
            let propagation = m
                .propagation
                .map_or_else(|| "rprivate".to_string(), |p| p.to_string());
            let (kind, name, driver, propagation) = match (&m.volume, &m.tmpfs) {
                (Some(name), _) => ("volume", name.clone(), "local", String::new()),
                (None, Some(_)) => ("tmpfs", String::new(), "", String::new()),
                (None, None) => ("bind", String::new(), "", propagation),
            };
            MountPoint {
                kind: kind.into(),
                name,
                source: m.source.clone(),
                destination: m.destination.clone(),
                driver: driver.into(),
                mode: if m.rw { "" } else { "ro" }.into(),
                rw: m.rw,
                propagation,
            }
        })
        .collect()
}

fn path_stat(s: berth_engine::containers::PathStat) -> PathStat {
    PathStat {
        name: s.name,
        size: s.size,
        mode: s.mode,
        mtime: s.mtime,
        link_target: s.link_target,
    }
}

fn network_settings(s: net::NetworkSettings) -> NetworkSettings {
    let ports = s.ports.as_ref().map(|ports| {
        ports
            .iter()
            .map(|(port, bound)| {
                let bindings: Vec<_> = bound
                    .iter()
                    .map(|(ip, p)| PortBinding {
                        host_ip: ip.to_string(),
                        host_port: p.to_string(),
                    })
                    .collect();
                (port.to_string(), (!bindings.is_empty()).then_some(bindings))
            })
            .collect()
    });
    // The top-level addresses are the default bridge endpoint's, as Docker shows them.
    let on_bridge = s.networks.iter().find(|(name, _)| name == "bridge");
    let (endpoint_id, bridge_facts) = match (on_bridge, &s.bridge) {
        (Some((_, ep)), Some(b)) => (ep.endpoint_id.clone(), Some(b)),
        _ => (String::new(), None),
    };
    NetworkSettings {
        bridge: bridge_facts.map(|b| b.bridge.clone()).unwrap_or_default(),
        sandbox_id: s.sandbox_id,
        sandbox_key: s.sandbox_key,
        endpoint_id,
        gateway: bridge_facts
            .map(|b| b.gateway.to_string())
            .unwrap_or_default(),
        ip_address: bridge_facts.map(|b| b.ip.to_string()).unwrap_or_default(),
        ip_prefix_len: bridge_facts.map(|b| b.prefix).unwrap_or(0),
        mac_address: bridge_facts.map(|b| b.mac.clone()).unwrap_or_default(),
        ports,
        networks: endpoints(s.networks),
        ..NetworkSettings::default()
    }
}

/// `NetworkSettings.Networks`, for inspect and the list.
fn endpoints(networks: Vec<(String, net::NetworkEndpoint)>) -> BTreeMap<String, EndpointSettings> {
    networks
        .into_iter()
        .map(|(name, ep)| {
            let addr = ep.address.as_ref();
            let wire = EndpointSettings {
                network_id: ep.network_id,
                endpoint_id: ep.endpoint_id,
                gateway: addr.map(|a| a.gateway.to_string()).unwrap_or_default(),
                ip_address: addr.map(|a| a.ip.to_string()).unwrap_or_default(),
                ip_prefix_len: addr.map(|a| a.prefix).unwrap_or(0),
                mac_address: addr.map(|a| a.mac.clone()).unwrap_or_default(),
                ipam_config: ep.static_ipv4.map(|ip| EndpointIpamConfig {
                    ipv4_address: ip.to_string(),
                    ..Default::default()
                }),
                aliases: (ep.user_defined && !ep.aliases.is_empty()).then_some(ep.aliases),
                links: (!ep.links.is_empty()).then_some(ep.links),
                dns_names: ep.user_defined.then_some(ep.dns_names),
                ..EndpointSettings::default()
            };
            (name, wire)
        })
        .collect()
}

#[async_trait]
impl ContainerBackend for Daemon {
    fn create_container(&self, name: &str, body: CreateBody) -> Result<CreateResponse, ApiError> {
        let endpoints = body
            .extras
            .networking_config
            .and_then(|n| n.endpoints_config)
            .unwrap_or_default()
            .into_iter()
            .map(|(net, ep)| Ok((net, crate::networks::endpoint_request(ep)?)))
            .collect::<Result<_, ApiError>>()?;
        let spec = spec::from_wire(body.config, body.extras.host_config).map_err(api_err)?;
        let created = self
            .containers()
            .create(CreateRequest {
                name: name.to_string(),
                spec,
                endpoints,
            })
            .map_err(api_err)?;
        Ok(CreateResponse {
            id: created.record.id,
            warnings: created.warnings,
        })
    }

    async fn start_container(
        &self,
        name: &str,
        host_config: Option<HostConfig>,
    ) -> Result<(), ApiError> {
        if let Some(hc) = host_config {
            self.containers()
                .set_host_config(name, spec::host_from_wire(hc).map_err(api_err)?)
                .map_err(api_err)?;
        }
        self.containers().start(name).await.map_err(api_err)
    }

    async fn stop_container(&self, name: &str, how: &StopQuery) -> Result<(), ApiError> {
        self.containers()
            .stop(name, &stop_options(how))
            .await
            .map_err(api_err)
    }

    async fn restart_container(&self, name: &str, how: &StopQuery) -> Result<(), ApiError> {
        self.containers()
            .restart(name, &stop_options(how))
            .await
            .map_err(api_err)
    }

    async fn kill_container(&self, name: &str, signal: &str) -> Result<(), ApiError> {
        self.containers().kill(name, signal).await.map_err(api_err)
    }

    fn wait_container(&self, name: &str, condition: &str) -> Result<Waiting, ApiError> {
        let condition: WaitCondition = condition.parse().map_err(api_err)?;
        let waiting = self
            .containers()
            .wait_for(name, condition)
            .map_err(api_err)?;
        Ok(Box::pin(async move {
            waiting.await.map(i64::from).map_err(api_err)
        }))
    }

    async fn remove_container(
        &self,
        name: &str,
        force: bool,
        volumes: bool,
    ) -> Result<(), ApiError> {
        let removed = self.containers().remove(name, force, volumes).await;
        crate::memory::give_back_freed_heap();
        removed.map_err(api_err)
    }

    async fn prune_containers(&self, q: &PruneQuery) -> Result<ContainerPruneReport, ApiError> {
        let report = self
            .containers()
            .prune(&crate::adapter::prune_filters(q))
            .await;
        crate::memory::give_back_freed_heap();
        Ok(ContainerPruneReport {
            containers_deleted: (!report.deleted.is_empty()).then_some(report.deleted),
            space_reclaimed: report.reclaimed,
        })
    }

    async fn update_container(
        &self,
        name: &str,
        body: UpdateBody,
    ) -> Result<UpdateResponse, ApiError> {
        // Limits the container spec does not hold yet are refused rather than dropped.
        let unsupported = [
            ("BlkioWeight", body.blkio_weight != 0),
            ("KernelMemory", body.kernel_memory != 0),
        ];
        if let Some((field, _)) = unsupported.iter().find(|(_, set)| *set) {
            return Err(ApiError::new(
                berth_errdefs::ErrorKind::NotImplemented,
                format!("berth cannot update {field} yet"),
            ));
        }
        let restart_policy = match body.restart_policy {
            Some(p) => RestartPolicy::new(&p.name, p.maximum_retry_count).map_err(api_err)?,
            None => None,
        };
        let update = ResourceUpdate {
            memory: body.memory,
            memory_swap: body.memory_swap,
            memory_reservation: body.memory_reservation,
            cpu_shares: body.cpu_shares,
            cpuset_cpus: body.cpuset_cpus,
            cpuset_mems: body.cpuset_mems,
            nano_cpus: body.nano_cpus,
            cpu_period: body.cpu_period,
            cpu_quota: body.cpu_quota,
            pids_limit: body.pids_limit,
            restart_policy,
        };
        self.containers()
            .update_resources(name, &update)
            .await
            .map_err(api_err)?;
        Ok(UpdateResponse::default())
    }

    fn remove_link(&self, link_name: &str) -> Result<(), ApiError> {
        self.containers().remove_link(link_name).map_err(api_err)
    }

    fn rename_container(&self, name: &str, new_name: &str) -> Result<(), ApiError> {
        self.containers().rename(name, new_name).map_err(api_err)
    }

    async fn pause_container(&self, name: &str, pause: bool) -> Result<(), ApiError> {
        self.containers().pause(name, pause).await.map_err(api_err)
    }

    fn list_containers(&self, q: &ContainerListQuery) -> Result<Vec<ContainerSummary>, ApiError> {
        let listed = self
            .containers()
            .list_filtered(&list_options(q)?)
            .map_err(api_err)?;
        Ok(listed
            .into_iter()
            .map(|l| {
                let rec = &l.record;
                let mut command = rec.path.clone();
                for a in &rec.args {
                    command.push(' ');
                    command.push_str(a);
                }
                ContainerSummary {
                    id: rec.id.clone(),
                    names: l.names.clone(),
                    image: rec.spec.config.image.clone(),
                    image_id: rec.image_id.clone(),
                    command,
                    created: unix(&rec.created).unwrap_or(0),
                    status: status(rec),
                    state: rec.state.status.as_str().to_string(),
                    ports: port_summaries(&l.ports),
                    labels: rec.spec.config.labels.clone().unwrap_or_default(),
                    mounts: mount_points(rec),
                    size_rw: l.size_rw,
                    size_root_fs: l.size_root_fs,
                    host_config: SummaryHostConfig {
                        network_mode: rec.spec.host.network_mode.to_string(),
                    },
                    network_settings: SummaryNetworkSettings {
                        networks: endpoints(self.containers().network_settings(rec).networks),
                    },
                }
            })
            .collect())
    }

    async fn container_sizes(&self, name: &str) -> Result<(i64, i64), ApiError> {
        let svc = self.containers().clone();
        let name = name.to_string();
        tokio::task::spawn_blocking(move || svc.sizes(&name))
            .await
            .map_err(|e| ApiError::internal(e.to_string()))?
            .map_err(api_err)
    }

    fn inspect_container(&self, name: &str) -> Result<ContainerInspect, ApiError> {
        let rec = self.containers().inspect(name).map_err(api_err)?;
        let paths = self.container_paths();
        let s = &rec.state;
        let config = spec::config_to_wire(&rec.spec.config);
        let host_config = spec::host_to_wire(&rec.spec.host);
        let existing = |p: std::path::PathBuf| {
            if p.exists() {
                p.display().to_string()
            } else {
                String::new()
            }
        };
        Ok(ContainerInspect {
            id: rec.id.clone(),
            created: rec.created.clone(),
            path: rec.path.clone(),
            args: rec.args.clone(),
            state: ContainerState {
                status: s.status.as_str().to_string(),
                running: s.status.is_running(),
                paused: s.status == Status::Paused,
                restarting: s.status == Status::Restarting,
                oom_killed: s.oom_killed,
                dead: s.status == Status::Dead,
                pid: s.pid as i64,
                exit_code: s.exit_code as i64,
                error: s.error.clone(),
                started_at: s.started_at.clone(),
                finished_at: s.finished_at.clone(),
                health: s.health.as_ref().map(health_to_wire),
            },
            image: rec.image_id.clone(),
            network_settings: network_settings(self.containers().network_settings(&rec)),
            resolv_conf_path: existing(paths.resolv_conf(&rec.id)),
            hostname_path: existing(paths.hostname(&rec.id)),
            hosts_path: existing(paths.hosts(&rec.id)),
            log_path: if rec.spec.host.log_config.driver == LogDriver::None {
                String::new()
            } else {
                paths.log(&rec.id).display().to_string()
            },
            name: rec.name.clone(),
            restart_count: rec.restart_count,
            driver: "overlay2".into(),
            exec_driver: "berth-libcontainer".into(),
            mount_label: String::new(),
            process_label: String::new(),
            app_armor_profile: String::new(),
            exec_ids: None,
            config,
            host_config,
            volumes: rec
                .mounts
                .iter()
                .map(|m| (m.destination.clone(), m.source.clone()))
                .collect(),
            volumes_rw: rec
                .mounts
                .iter()
                .map(|m| (m.destination.clone(), m.rw))
                .collect(),
            mounts: mount_points(&rec),
            platform: "linux".into(),
            graph_driver: GraphDriver {
                name: "overlay2".into(),
                data: self.containers().graph_driver_data(&rec),
            },
            size_rw: None,
            size_root_fs: None,
        })
    }

    async fn top_container(&self, name: &str, ps_args: &str) -> Result<TopResponse, ApiError> {
        let t = self
            .containers()
            .top(name, ps_args)
            .await
            .map_err(api_err)?;
        Ok(TopResponse {
            titles: t.titles,
            processes: t.processes,
        })
    }

    async fn stat_container_path(&self, name: &str, path: &str) -> Result<PathStat, ApiError> {
        let stat = self
            .containers()
            .stat_path(name, path)
            .await
            .map_err(api_err)?;
        Ok(path_stat(stat))
    }

    async fn archive_container_path(
        &self,
        name: &str,
        path: &str,
    ) -> Result<(PathStat, ByteStream), ApiError> {
        let (stat, tar) = self
            .containers()
            .archive_path(name, path)
            .await
            .map_err(api_err)?;
        Ok((path_stat(stat), Box::pin(tar)))
    }

    async fn extract_to_container(
        &self,
        name: &str,
        path: &str,
        no_overwrite_dir_non_dir: bool,
        copy_uid_gid: bool,
        body: ByteStream,
    ) -> Result<(), ApiError> {
        let opts = ExtractOptions {
            no_overwrite_dir_non_dir,
            copy_uid_gid,
        };
        self.containers()
            .extract_to_dir(name, path, opts, Box::new(body))
            .await
            .map_err(api_err)
    }

    async fn commit_container(
        &self,
        q: &CommitQuery,
        config: Option<ContainerConfig>,
    ) -> Result<String, ApiError> {
        // As dockerd: the body's config or the container's, with the changes applied; the
        // engine fills what it leaves out from the container's.
        let config = if q.changes.is_empty() {
            config
        } else {
            let mut config = match config {
                Some(c) => c,
                None => {
                    let rec = self.containers().inspect(&q.container).map_err(api_err)?;
                    spec::config_to_wire(&rec.spec.config)
                }
            };
            berth_builder::apply_changes(&mut config, &q.changes)
                .map_err(|e| ApiError::bad_request(e.to_string()))?;
            Some(config)
        };
        let config = config
            .map(|c| spec::from_wire(c, None).map(|s| s.config))
            .transpose()
            .map_err(api_err)?;
        let req = CommitRequest {
            repo: q.repo.clone(),
            tag: q.tag.clone(),
            author: q.author.clone(),
            comment: q.comment.clone(),
            pause: q.pause,
            config,
            container_config: None,
            docker_version: format!("berth-{}", env!("CARGO_PKG_VERSION")),
        };
        let id = self
            .containers()
            .commit(&q.container, req)
            .await
            .map_err(api_err)?;
        Ok(id.to_string())
    }

    fn export_container(&self, name: &str) -> Result<ByteStream, ApiError> {
        let stream = self.containers().export(name).map_err(api_err)?;
        Ok(Box::pin(stream))
    }

    async fn container_changes(&self, name: &str) -> Result<Vec<ContainerChange>, ApiError> {
        let changes = self.containers().changes(name).await.map_err(api_err)?;
        Ok(changes
            .into_iter()
            .map(|c| ContainerChange {
                path: c.path,
                kind: c.kind.code(),
            })
            .collect())
    }

    async fn resize_container(&self, name: &str, rows: u16, cols: u16) -> Result<(), ApiError> {
        self.containers()
            .resize(name, rows, cols)
            .await
            .map_err(api_err)
    }

    async fn attach_stdin(
        &self,
        name: &str,
    ) -> Result<Option<std::pin::Pin<Box<dyn tokio::io::AsyncWrite + Send>>>, ApiError> {
        let s = self
            .containers()
            .attach_stdin(name)
            .await
            .map_err(api_err)?;
        Ok(s.map(|s| Box::pin(s) as std::pin::Pin<Box<dyn tokio::io::AsyncWrite + Send>>))
    }

    fn container_stats(
        &self,
        name: &str,
        stream: bool,
        one_shot: bool,
    ) -> Result<futures_util::stream::BoxStream<'static, ContainerStats>, ApiError> {
        let rec = self.containers().inspect(name).map_err(api_err)?;
        let mode = match (stream, one_shot) {
            (true, _) => StatsMode::Stream,
            (false, false) => StatsMode::Once,
            (false, true) => StatsMode::OneShot,
        };
        let rx = self.containers().stats(name, mode).map_err(api_err)?;
        Ok(tokio_stream::wrappers::ReceiverStream::new(rx)
            .map(move |p| to_wire(&rec.id, &rec.name, p))
            .boxed())
    }

    fn container_logs(&self, name: &str, q: &LogsQuery) -> Result<LogStream, ApiError> {
        let opts = LogOptions {
            stdout: q.stdout,
            stderr: q.stderr,
            follow: q.follow,
            tail: q.tail,
            since: q.since,
            until: q.until,
            attach: q.attach,
            details: q.details,
        };
        let (tty, rx) = self.containers().logs(name, opts).map_err(api_err)?;
        let chunks = tokio_stream::wrappers::ReceiverStream::new(rx)
            .map(|l| LogChunk {
                stream: l.stream,
                data: l.data.into(),
                time: l.time,
            })
            .boxed();
        Ok(LogStream { tty, chunks })
    }
}

#[async_trait]
impl berth_api_server::backend::ExecBackend for Daemon {
    fn exec_create(
        &self,
        container: &str,
        body: berth_api_types::exec::ExecCreateBody,
    ) -> Result<String, ApiError> {
        let cfg = berth_engine::containers::ExecConfig {
            cmd: body.cmd.unwrap_or_default(),
            user: body.user,
            privileged: body.privileged,
            env: body.env.unwrap_or_default(),
            working_dir: body.working_dir,
            tty: body.tty,
            attach_stdin: body.attach_stdin,
            attach_stdout: body.attach_stdout,
            attach_stderr: body.attach_stderr,
            console_size: berth_api_types::exec::console_size(body.console_size),
            detach_keys: body.detach_keys,
        };
        self.containers()
            .exec_create(container, cfg)
            .map_err(api_err)
    }

    async fn exec_start(
        &self,
        id: &str,
        console_size: Option<(u16, u16)>,
    ) -> Result<berth_api_server::backend::ExecStreams, ApiError> {
        let io = self
            .containers()
            .exec_start(id, console_size)
            .await
            .map_err(api_err)?;
        Ok(berth_api_server::backend::ExecStreams {
            stdin: io.stdin,
            stdout: io.stdout,
            stderr: io.stderr,
            tty: io.tty,
            done: Box::pin(async move {
                let _ = io.done.await;
            }),
        })
    }

    async fn exec_resize(&self, id: &str, rows: u16, cols: u16) -> Result<(), ApiError> {
        self.containers()
            .exec_resize(id, rows, cols)
            .await
            .map_err(api_err)
    }

    fn exec_inspect(&self, id: &str) -> Result<berth_api_types::exec::ExecInspect, ApiError> {
        let (e, c) = self.containers().exec_inspect(id).map_err(api_err)?;
        let container = self.inspect_container(&c.id)?;
        Ok(berth_api_types::exec::ExecInspect {
            id: e.id.clone(),
            running: e.running,
            exit_code: e.exit_code.map(i64::from),
            process_config: berth_api_types::exec::ProcessConfig {
                privileged: e.config.privileged,
                user: e.config.user.clone(),
                tty: e.config.tty,
                entrypoint: e.config.cmd.first().cloned().unwrap_or_default(),
                arguments: e.config.cmd.iter().skip(1).cloned().collect(),
            },
            open_stdin: e.config.attach_stdin,
            open_stderr: e.config.attach_stderr,
            open_stdout: e.config.attach_stdout,
            container,
            container_id: c.id,
            pid: e.pid as i64,
            can_remove: e.removable,
            detach_keys: e.config.detach_keys.clone(),
        })
    }
}
