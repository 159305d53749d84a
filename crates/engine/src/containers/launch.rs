//! The steps of a container's start, in order: mount the root filesystem, connect the
//! network, write the host files, resolve the mounts, build the spec, write the bundle, spawn
//! the monitor. [`ContainerService::launch`] runs them and undoes the whole start when one
//! fails.

use std::io::BufRead;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use berth_runtime::monitor::{MonitorArgs, StartReport};
use berth_runtime::spec::{container_spec, BindMount, Shm, SpecParams, TmpfsMount};
use berth_snapshot::OverlayDirs;

use super::create::DEFAULT_PATH;
use super::host_files;
use super::record::ContainerRecord;
use super::settings;
use super::spec::env_key;
use super::spec::{tmpfs_options, CgroupnsMode, Config, IpcMode, LogDriver};
use super::start::HostsLines;
use super::users::UserFiles;
use super::volumes;
use super::{net, ContainerService, Entry};
use crate::error::EngineError;

fn parse_size(s: &str) -> Result<u64, EngineError> {
    let t = s.trim().to_ascii_lowercase();
    let (num, mult) = match t.chars().last() {
        Some('k') => (&t[..t.len() - 1], 1024),
        Some('m') => (&t[..t.len() - 1], 1024 * 1024),
        Some('g') => (&t[..t.len() - 1], 1024 * 1024 * 1024),
        _ => (t.as_str(), 1),
    };
    num.parse::<u64>()
        .map(|n| n * mult)
        .map_err(|_| EngineError::InvalidParameter(format!("invalid max-size: {s}")))
}

/// Durations of the steps of a launch, for the debug log.
struct Steps {
    last: std::time::Instant,
    done: Vec<(&'static str, std::time::Duration)>,
}

impl Steps {
    fn new() -> Self {
        Steps {
            last: std::time::Instant::now(),
            done: Vec::new(),
        }
    }

    fn done(&mut self, step: &'static str) {
        let now = std::time::Instant::now();
        self.done.push((step, now - self.last));
        self.last = now;
    }
}

impl std::fmt::Display for Steps {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, (step, d)) in self.done.iter().enumerate() {
            let sep = if i == 0 { "" } else { ", " };
            write!(f, "{sep}{step} {:.1} ms", d.as_secs_f64() * 1000.0)?;
        }
        Ok(())
    }
}

/// Docker's check before a bind that propagates mounts: the mount holding its source must be
/// shared (`shared`, `rshared`) or at least a slave (`slave`, `rslave`).
fn check_source_propagation(source: &str, need_shared: bool) -> Result<(), EngineError> {
    let Some(held) = berth_runtime::rootfs::holding_mount(Path::new(source)) else {
        return Err(EngineError::InvalidParameter(format!(
            "cannot find the mount of {source}"
        )));
    };
    let mount_point = &held.mount_point;
    if need_shared && !held.shared {
        return Err(EngineError::InvalidParameter(format!(
            "path {source} is mounted on {mount_point} but it is not a shared mount"
        )));
    }
    if !need_shared && !held.shared && !held.slave {
        return Err(EngineError::InvalidParameter(format!(
            "path {source} is mounted on {mount_point} but it is not a shared or slave mount"
        )));
    }
    Ok(())
}

/// The container's environment: its link variables first (its own win over them), a default
/// `PATH`, `HOSTNAME`, and `TERM` on a terminal, as Docker composes it.
fn compose_env(c: &Config, link_env: Vec<String>) -> Vec<String> {
    let own = c.env.clone().unwrap_or_default();
    let mut env: Vec<String> = link_env
        .into_iter()
        .filter(|l| !own.iter().any(|e| env_key(e) == env_key(l)))
        .collect();
    env.extend(own);
    if !env.iter().any(|e| env_key(e) == "PATH") {
        env.insert(0, DEFAULT_PATH.to_string());
    }
    env.insert(1.min(env.len()), format!("HOSTNAME={}", c.hostname));
    if c.tty && !env.iter().any(|e| env_key(e) == "TERM") {
        env.push("TERM=xterm".into());
    }
    env
}

impl ContainerService {
    /// Starts the container's monitor with everything it needs in place; returns it and the
    /// container's PID. Undoes what it did when a step fails.
    pub(super) fn launch(
        &self,
        entry: &Entry,
    ) -> Result<(tokio::process::Child, i32), EngineError> {
        let rec = entry.snapshot();
        // How long each step takes, at debug level: start latency is a figure we keep.
        let mut steps = Steps::new();
        let overlay = OverlayDirs::new(self.paths.overlay(&rec.id));
        let rootfs = self.mount_root(&rec, &overlay)?;
        steps.done("mount root");
        let mut endpoint = None;
        let mut attached = Vec::new();
        let result = (|| {
            let netns = self.join_networks(&rec, &mut endpoint, &mut attached)?;
            steps.done("network");
            // On a user-defined network, links are names the resolver gives this container
            // alone (no environment, no hosts lines), as in Docker.
            let on_user_network = matches!(
                net::mode(&rec, self.network.is_some(), &self.user_networks),
                Ok(net::Mode::User(_))
            );
            let (link_env, link_hosts) = if on_user_network {
                Default::default()
            } else {
                self.links_for(&rec, endpoint.as_mut())?
            };
            if let Some(ep) = &endpoint {
                self.record_endpoint(entry, ep)?;
            }
            if !attached.is_empty() {
                self.record_attachments(entry, &attached)?;
                // Before its first process runs: its first question finds the resolver there.
                self.publish_names();
            }
            let own_ips: Vec<_> = endpoint
                .iter()
                .chain(attached.iter().map(|(_, ep)| ep))
                .map(|ep| ep.ip)
                .collect();
            let embedded_dns = matches!(
                net::mode(&rec, self.network.is_some(), &self.user_networks),
                Ok(net::Mode::User(_))
            ) || !attached.is_empty();
            self.write_host_files(&rec, &own_ips, embedded_dns, link_hosts)?;
            steps.done("host files");
            let mounts = self.resolve_mounts(&rec, &rootfs)?;
            let spec = self.build_spec(&rec, &rootfs, link_env, mounts, netns.as_deref())?;
            self.write_bundle(&rec.id, &spec)?;
            steps.done("spec");
            let spawned = self.spawn_monitor(&rec);
            steps.done("monitor");
            spawned
        })();
        tracing::debug!(container = %rec.id, steps = %steps, "launch");
        if result.is_err() {
            let _ = overlay.unmount();
            self.release_network(entry, &rec.id, endpoint, attached);
            self.remove_run_files(&rec.id);
        }
        result
    }

    /// The image's layers under a fresh upper directory, mounted (a stale mount of an
    /// earlier run is undone first).
    fn mount_root(
        &self,
        rec: &ContainerRecord,
        overlay: &OverlayDirs,
    ) -> Result<PathBuf, EngineError> {
        let lowers = self.image_layers(rec)?;
        overlay
            .create()
            .map_err(|e| EngineError::failed("create root filesystem", e))?;
        overlay
            .unmount()
            .map_err(|e| EngineError::failed("unmount stale root filesystem", e))?;
        overlay
            .mount(&lowers)
            .map_err(|e| EngineError::failed("mount root filesystem", e))
    }

    /// The directories of the container's image layers, top first.
    pub(super) fn image_layers(&self, rec: &ContainerRecord) -> Result<Vec<PathBuf>, EngineError> {
        let image = self
            .images
            .get(
                &berth_image::Digest::parse(&rec.image_id)
                    .ok_or_else(|| EngineError::Internal("bad image id".into()))?,
            )
            .ok_or_else(|| EngineError::NotFound(format!("No such image: {}", rec.image_id)))?;
        Ok(image
            .layers
            .iter()
            .rev()
            .map(|l| self.images.diff_path(&l.chain_id))
            .collect())
    }

    /// The network namespace the container joins: its endpoint's on the bridge (left in
    /// `endpoint`, for the caller to undo), a loopback-only one for `none` and for
    /// user-defined networks, which then get an interface each (left in `attached`), or none
    /// of its own (`host`, `container:`).
    fn join_networks(
        &self,
        rec: &ContainerRecord,
        endpoint: &mut Option<berth_network::Endpoint>,
        attached: &mut Vec<(String, berth_network::Endpoint)>,
    ) -> Result<Option<PathBuf>, EngineError> {
        let c = &rec.spec.config;
        let mode = net::mode(rec, self.network.is_some(), &self.user_networks)?;
        let netns = match (&mode, &self.network) {
            (net::Mode::Bridge, Some(network)) => {
                let req = berth_network::ConnectRequest {
                    id: rec.id.clone(),
                    name: rec.bare_name().to_string(),
                    mac: (!c.mac_address.is_empty())
                        .then(|| berth_network::parse_mac(&c.mac_address))
                        .transpose()
                        .map_err(EngineError::InvalidParameter)?,
                    ports: net::port_requests(rec),
                };
                let ep = tokio::runtime::Handle::current().block_on(network.connect(req))?;
                let path = ep.netns.clone();
                *endpoint = Some(ep);
                path
            }
            (net::Mode::None | net::Mode::User(_), _) => {
                let path = self.paths.netns(&rec.id);
                berth_network::isolated_netns(&path)?;
                path
            }
            _ => return Ok(None),
        };
        if matches!(mode, net::Mode::None) {
            return Ok(Some(netns));
        }
        // The network `NetworkMode` names first: it is `eth0` and has the default route.
        let primary = match &mode {
            net::Mode::User(name) => Some(name.clone()),
            _ => None,
        };
        let mut order: Vec<&String> = rec.networks.keys().collect();
        order.sort_by_key(|n| Some(*n) != primary.as_ref());
        let mut so_far = rec.clone();
        so_far.network = endpoint.clone();
        for name in order {
            let a = &rec.networks[name];
            let network = self
                .user_networks
                .by_id(&a.network_id)
                .ok_or_else(|| EngineError::NotFound(format!("network {name} not found")))?;
            let ep = tokio::runtime::Handle::current().block_on(self.attach_interface(
                &so_far,
                &network,
                a,
                netns.clone(),
                primary.as_ref() == Some(name),
            ))?;
            if let Some(x) = so_far.networks.get_mut(name) {
                x.endpoint = Some(ep.clone());
            }
            attached.push((name.clone(), ep));
        }
        Ok(Some(netns))
    }

    /// Writes the user-defined networks' endpoints into the record, each with this run's
    /// endpoint ID (synced with the bridge's, see `record_endpoint`).
    fn record_attachments(
        &self,
        entry: &Entry,
        attached: &[(String, berth_network::Endpoint)],
    ) -> Result<(), EngineError> {
        self.rewrite(entry, false, |r| {
            for (name, ep) in attached {
                if let Some(a) = r.networks.get_mut(name) {
                    a.endpoint = Some(ep.clone());
                    a.endpoint_id = crate::random_id();
                }
            }
        })
        .map(drop)
    }

    /// Writes the endpoint into the record before the monitor starts (without a sync: it
    /// matters only while processes run), so a daemon killed during the start adopts the
    /// endpoint with the container instead of sweeping it away as stale.
    fn record_endpoint(
        &self,
        entry: &Entry,
        ep: &berth_network::Endpoint,
    ) -> Result<(), EngineError> {
        self.rewrite(entry, false, |r| r.network = Some(ep.clone()))
            .map(drop)
    }

    /// `/etc/hostname`, `/etc/hosts` (with the links' and `--add-host` lines) and
    /// `/etc/resolv.conf` (the host's, with `--dns` and `--dns-search`).
    fn write_host_files(
        &self,
        rec: &ContainerRecord,
        own_ips: &[std::net::Ipv4Addr],
        embedded_dns: bool,
        link_hosts: HostsLines,
    ) -> Result<(), EngineError> {
        let (c, h, id) = (&rec.spec.config, &rec.spec.host, &rec.id);
        std::fs::write(self.paths.hostname(id), format!("{}\n", c.hostname))
            .map_err(|e| EngineError::failed("write hostname", e))?;
        let mut extra = link_hosts;
        let host_gateway = self.network.as_ref().map(|n| n.config().bip.addr);
        extra.extend(
            host_files::extra_hosts(&h.extra_hosts.clone().unwrap_or_default(), host_gateway)
                .map_err(EngineError::InvalidParameter)?,
        );
        std::fs::write(
            self.paths.hosts(id),
            host_files::hosts(&c.hostname, &c.domainname, own_ips, &extra),
        )
        .map_err(|e| EngineError::failed("write hosts", e))?;
        let host_resolv = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
        let resolv = if embedded_dns {
            host_files::embedded_resolv_conf(
                &host_resolv,
                &h.dns_search.clone().unwrap_or_default(),
                &h.dns_options.clone().unwrap_or_default(),
            )
        } else {
            host_files::resolv_conf(
                &host_resolv,
                &h.dns.clone().unwrap_or_default(),
                &h.dns_search.clone().unwrap_or_default(),
                &h.dns_options.clone().unwrap_or_default(),
            )
        };
        std::fs::write(self.paths.resolv_conf(id), resolv)
            .map_err(|e| EngineError::failed("write resolv.conf", e))
    }

    /// The bind and tmpfs mounts, with every destination resolved inside the root, so the
    /// runtime mounts on exactly that path and an image's symlinks cannot aim a mount at the
    /// host. A bind that propagates mounts needs its source's mount to propagate too.
    fn resolve_mounts(
        &self,
        rec: &ContainerRecord,
        rootfs: &Path,
    ) -> Result<(Vec<BindMount>, Vec<TmpfsMount>), EngineError> {
        self.prepare_mounts(rec, rootfs)?;
        let (mut mounts, mut tmpfs) = (Vec::new(), Vec::new());
        for m in &rec.mounts {
            if let Some(data) = &m.tmpfs {
                tmpfs.push(TmpfsMount {
                    destination: volumes::resolve_destination(rootfs, &m.destination, false)?,
                    options: tmpfs_options(data)?,
                });
                continue;
            }
            if let Some(shared) = m.propagation.and_then(|p| p.needs_shared_source()) {
                check_source_propagation(&m.source, shared)?;
            }
            mounts.push(BindMount {
                destination: volumes::resolve_destination(
                    rootfs,
                    &m.destination,
                    // Anything but a directory (a file, a socket such as the engine's own,
                    // which reapers mount) is mounted on a file.
                    Path::new(&m.source).metadata().is_ok_and(|md| !md.is_dir()),
                )?,
                source: m.source.clone(),
                readonly: !m.rw,
                propagation: m.propagation.map(|p| p.to_string()),
                non_recursive: m.non_recursive,
            });
        }
        for (path, options) in rec.spec.host.tmpfs.iter().flatten() {
            tmpfs.push(TmpfsMount {
                destination: volumes::resolve_destination(rootfs, path, false)?,
                options: tmpfs_options(options)?,
            });
        }
        if rec.spec.host.init == Some(true) {
            mounts.push(BindMount {
                destination: volumes::resolve_destination(
                    rootfs,
                    berth_runtime::init::PATH_IN_CONTAINER,
                    true,
                )?,
                source: self.paths.init_binary().display().to_string(),
                readonly: true,
                ..Default::default()
            });
        }
        for f in ["/etc/hostname", "/etc/hosts", "/etc/resolv.conf"] {
            if volumes::resolve_destination(rootfs, f, true)? != f {
                return Err(EngineError::InvalidParameter(format!(
                    "{f} in the image resolves elsewhere"
                )));
            }
        }
        Ok((mounts, tmpfs))
    }

    /// `/dev/shm` by `IpcMode`: a tmpfs of its own (private), one on the host that others may
    /// join (shareable, mounted here), the host's, another container's, or none.
    fn shm_for(&self, rec: &ContainerRecord) -> Result<Shm, EngineError> {
        let h = &rec.spec.host;
        Ok(match &h.ipc_mode {
            IpcMode::Unset | IpcMode::Private => Shm::Private,
            IpcMode::None => Shm::None,
            IpcMode::Host => Shm::Bind("/dev/shm".into()),
            IpcMode::Shareable => {
                let dir = self.paths.shm(&rec.id);
                berth_runtime::rootfs::mount_shm(&dir, h.shm_size)
                    .map_err(|e| EngineError::failed("mount shm", e))?;
                Shm::Bind(dir.display().to_string())
            }
            IpcMode::Container(other) => {
                let donor = self.entry(other)?.snapshot();
                let dir = self.paths.shm(&donor.id);
                if !berth_runtime::rootfs::is_mounted(&dir) {
                    return Err(EngineError::InvalidParameter(format!(
                        "container {}: non-shareable IPC (hint: use IpcMode:shareable for the donor container)",
                        donor.id
                    )));
                }
                Shm::Bind(dir.display().to_string())
            }
        })
    }

    /// The OCI spec: the user as the container's own files name it, its working directory
    /// (made when missing), its environment, and every HostConfig setting.
    fn build_spec(
        &self,
        rec: &ContainerRecord,
        rootfs: &Path,
        link_env: Vec<String>,
        (mounts, tmpfs_mounts): (Vec<BindMount>, Vec<TmpfsMount>),
        netns: Option<&Path>,
    ) -> Result<serde_json::Value, EngineError> {
        let (c, h, id) = (&rec.spec.config, &rec.spec.host, &rec.id);
        let users = UserFiles::new(rootfs);
        let (uid, gid, mut additional_gids) = users.resolve(&c.user)?;
        for g in users.group_ids(&h.group_add.clone().unwrap_or_default())? {
            if g != gid && !additional_gids.contains(&g) {
                additional_gids.push(g);
            }
        }
        volumes::create_working_dir(rootfs, &c.working_dir, uid, gid)?;
        let capabilities = settings::capabilities(h)?;
        // With `--init`, berth's init is PID 1 and starts the command (as Docker's does).
        let mut args = if h.init == Some(true) {
            vec![
                berth_runtime::init::PATH_IN_CONTAINER.to_string(),
                "--".to_string(),
            ]
        } else {
            Vec::new()
        };
        args.push(rec.path.clone());
        args.extend(rec.args.iter().cloned());
        Ok(container_spec(&SpecParams {
            id: id.clone(),
            rootfs: rootfs.display().to_string(),
            args,
            env: compose_env(c, link_env),
            cwd: c.working_dir.clone(),
            uid,
            gid,
            additional_gids,
            hostname: c.hostname.clone(),
            domainname: c.domainname.clone(),
            tty: c.tty,
            hostname_path: self.paths.hostname(id).display().to_string(),
            hosts_path: self.paths.hosts(id).display().to_string(),
            resolv_conf_path: self.paths.resolv_conf(id).display().to_string(),
            cgroups_path: settings::cgroup_path(rec),
            capabilities: Some(capabilities.clone()),
            seccomp: settings::seccomp(h, &capabilities),
            privileged: h.privileged,
            readonly_rootfs: h.readonly_rootfs,
            no_new_privileges: settings::no_new_privileges(h)?,
            resources: settings::resources(h)?,
            oom_score_adj: h.oom_score_adj,
            shm_size: h.shm_size,
            rlimits: settings::rlimits(h)?,
            shared_namespaces: self.shared_namespaces(h, netns)?,
            devices: settings::devices(h)?,
            device_rules: settings::device_rules(h)?,
            mounts,
            tmpfs_mounts,
            shm: self.shm_for(rec)?,
            cgroup_namespace: h.cgroupns_mode == CgroupnsMode::Private,
            sysctls: h.sysctls.clone().unwrap_or_default(),
            annotations: h.annotations.clone().unwrap_or_default(),
            masked_paths: h.masked_paths.clone(),
            readonly_paths: h.readonly_paths.clone(),
            console_size: h.console_size,
        }))
    }

    /// The bundle directory with its `config.json`.
    fn write_bundle(&self, id: &str, spec: &serde_json::Value) -> Result<(), EngineError> {
        let bundle = self.paths.bundle(id);
        std::fs::create_dir_all(&bundle).map_err(|e| EngineError::failed("create bundle", e))?;
        std::fs::write(
            bundle.join("config.json"),
            serde_json::to_vec(spec).expect("spec serialises"),
        )
        .map_err(|e| EngineError::failed("write bundle", e))
    }

    /// Starts the monitor and reads its start report: the container's PID, or why it did
    /// not start (in Docker's words for a command that cannot be run).
    fn spawn_monitor(
        &self,
        rec: &ContainerRecord,
    ) -> Result<(tokio::process::Child, i32), EngineError> {
        let (c, h, id) = (&rec.spec.config, &rec.spec.host, &rec.id);
        let _ = std::fs::remove_file(self.paths.exit_file(id));
        let _ = std::fs::remove_file(self.paths.monitor_state(id));
        let log_cfg = h.log_config.options.clone().unwrap_or_default();
        let no_log = h.log_config.driver == LogDriver::None;
        let args = MonitorArgs {
            id: id.clone(),
            bundle: self.paths.bundle(id),
            runtime_root: self.paths.runtime_root(),
            // With the `none` driver the output still goes to a small log (1 MiB, not
            // rotated into more files) because attach reads it; `logs` refuses it.
            log_path: self.paths.log(id),
            exit_file: self.paths.exit_file(id),
            log_max_size: if no_log {
                Some(1 << 20)
            } else {
                log_cfg.get("max-size").map(|s| parse_size(s)).transpose()?
            },
            log_max_files: if no_log {
                1
            } else {
                log_cfg
                    .get("max-file")
                    .map(|s| s.parse().unwrap_or(1))
                    .unwrap_or(1)
            },
            stdin_socket: c.open_stdin.then(|| self.paths.stdin_socket(id)),
            stdin_once: c.stdin_once,
            tty: c.tty,
            resize_socket: c.tty.then(|| self.paths.resize_socket(id)),
            exec_socket: Some(self.paths.exec_helper_socket(id)),
            state_file: Some(self.paths.monitor_state(id)),
        };
        let monitor_log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.paths.monitor_log(id))
            .map_err(|e| EngineError::failed("open monitor log", e))?;
        let mut cmd = std::process::Command::new(&self.monitor_bin);
        cmd.args(args.to_args())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(monitor_log);
        // Its own process group: signals meant for the daemon's terminal stay there.
        cmd.process_group(0);
        let mut child = tokio::process::Command::from(cmd)
            .spawn()
            .map_err(|e| EngineError::failed("start monitor", e))?;
        let stdout = child
            .stdout
            .take()
            .expect("piped")
            .into_owned_fd()
            .map_err(|e| EngineError::failed("monitor pipe", e))?;
        let mut line = String::new();
        std::io::BufReader::new(std::fs::File::from(stdout))
            .read_line(&mut line)
            .map_err(|e| EngineError::failed("read monitor report", e))?;
        let report: StartReport = serde_json::from_str(line.trim()).unwrap_or(StartReport {
            pid: None,
            error: Some(format!(
                "monitor gave no start report: {}",
                std::fs::read_to_string(self.paths.monitor_log(id))
                    .unwrap_or_default()
                    .trim()
            )),
        });
        match report.pid {
            Some(pid) => Ok((child, pid)),
            None => {
                let _ = child.start_kill();
                let msg = report.error.unwrap_or_default();
                // Docker's wording for a command that cannot be run.
                if msg.contains("No such file") || msg.contains("not found") {
                    Err(EngineError::InvalidParameter(format!(
                        "OCI runtime create failed: {msg}: exec: \"{}\": executable file not found in $PATH",
                        rec.path
                    )))
                } else {
                    Err(EngineError::Internal(format!(
                        "OCI runtime create failed: {msg}"
                    )))
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("10m").unwrap(), 10 * 1024 * 1024);
        assert_eq!(parse_size("512").unwrap(), 512);
        assert!(parse_size("x").is_err());
    }

    #[test]
    fn environment_as_docker_composes_it() {
        let c = Config {
            env: Some(vec!["A=own".into(), "TERM=dumb".into()]),
            hostname: "box".into(),
            tty: true,
            ..Default::default()
        };
        assert_eq!(
            compose_env(&c, vec!["A=link".into(), "DB_PORT=tcp://x".into()]),
            [
                DEFAULT_PATH,
                "HOSTNAME=box",
                "DB_PORT=tcp://x",
                "A=own",
                "TERM=dumb"
            ]
        );
        let plain = Config {
            env: Some(vec!["PATH=/x".into()]),
            hostname: "h".into(),
            ..Default::default()
        };
        assert_eq!(compose_env(&plain, vec![]), ["PATH=/x", "HOSTNAME=h"]);
    }
}
