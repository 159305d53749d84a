//! Starting a container: the root filesystem, the network, the host files, the spec, and its monitor.

use std::io::BufRead;
use std::os::unix::process::CommandExt;
use std::process::Stdio;
use std::sync::Arc;

use berth_runtime::monitor::{MonitorArgs, StartReport};
use berth_runtime::rootfs::OverlayDirs;
use berth_runtime::spec::{container_spec, SpecParams};

use super::create::{env_key, now, DEFAULT_PATH};
use super::exit::Monitor;
use super::host_files;
use super::procs;
use super::record::{ContainerRecord, HostConfig, State, Status, ZERO_TIME};
use super::settings;
use super::users::UserFiles;
use super::volumes;
use super::{net, ContainerService, Entry};
use crate::error::EngineError;

/// `/etc/hosts` lines as (address, names).
type HostsLines = Vec<(String, String)>;

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

impl ContainerService {
    /// `POST /containers/(id)/start`. Starting a running container is `NotModified`.
    pub async fn start(self: &Arc<Self>, name: &str) -> Result<(), EngineError> {
        let entry = self.entry(name)?;
        let _op = entry.op.lock().await;
        let rec = entry.snapshot();
        match rec.state.status {
            Status::Running | Status::Restarting => return Err(EngineError::NotModified),
            Status::Paused => {
                return Err(EngineError::Conflict(
                    "cannot start a paused container, try unpause instead".into(),
                ))
            }
            _ => {}
        }
        self.update(&entry, |r| r.state.stopped_by_user = false)?;
        // A start by hand begins the restart back-off anew, as Docker's does.
        *entry.restart_delay.lock().expect("lock") = None;
        self.start_locked(&entry).await
    }

    /// Starts the container; the caller holds its operation lock.
    pub(super) async fn start_locked(
        self: &Arc<Self>,
        entry: &Arc<Entry>,
    ) -> Result<(), EngineError> {
        let svc = self.clone();
        let e = entry.clone();
        let prepared = tokio::task::spawn_blocking(move || svc.launch(&e)).await?;
        match prepared {
            Ok((child, pid)) => {
                let monitor_pid = child.id().unwrap_or(0) as i32;
                let rec = self.update(entry, |r| {
                    r.state = State {
                        status: Status::Running,
                        pid,
                        monitor_pid,
                        monitor_start: procs::start_time(monitor_pid).unwrap_or(0),
                        started_at: now(),
                        finished_at: r.state.finished_at.clone(),
                        exit_code: 0,
                        ..State::default()
                    };
                })?;
                self.publish(&rec, "start", &[]);
                self.watch(entry.clone(), Monitor::Child(child));
                Ok(())
            }
            Err(err) => {
                let msg = err.to_string();
                // Docker's exit codes for a start that failed: 127 command not found, 126
                // not executable, 128 otherwise; and a `die` event, which clients waiting
                // for the container (the CLI's `--rm`) rely on.
                let code = if msg.contains("executable file not found") {
                    127
                } else if msg.contains("permission denied") {
                    126
                } else {
                    128
                };
                if let Ok(rec) = self.update(entry, |r| {
                    r.state.status = if r.state.started_at == ZERO_TIME {
                        Status::Created
                    } else {
                        Status::Exited
                    };
                    r.state.error = msg.clone();
                    r.state.exit_code = code;
                }) {
                    self.publish(&rec, "die", &[("exitCode", code.to_string())]);
                }
                Err(err)
            }
        }
    }

    /// Mounts the root filesystem, writes the host files and the bundle, and starts the
    /// monitor. Undoes what it did when a step fails.
    pub(super) fn launch(
        &self,
        entry: &Entry,
    ) -> Result<(tokio::process::Child, i32), EngineError> {
        let rec = entry.snapshot();
        let id = rec.id.clone();
        let image = self
            .images
            .get(
                &berth_image::Digest::parse(&rec.image_id)
                    .ok_or_else(|| EngineError::Internal("bad image id".into()))?,
            )
            .ok_or_else(|| EngineError::NotFound(format!("No such image: {}", rec.image_id)))?;
        let lowers: Vec<_> = image
            .layers
            .iter()
            .rev()
            .map(|l| self.images.diff_path(&l.chain_id))
            .collect();
        let overlay = OverlayDirs::new(self.paths.overlay(&id));
        let internal =
            |what: &str, e: std::io::Error| EngineError::Internal(format!("{what}: {e}"));
        overlay
            .create()
            .map_err(|e| internal("create root filesystem", e))?;
        overlay
            .unmount()
            .map_err(|e| internal("unmount stale root filesystem", e))?;
        let rootfs = overlay
            .mount(&lowers)
            .map_err(|e| internal("mount root filesystem", e))?;
        let mut endpoint = None;
        let result = (|| {
            let c = &rec.config;
            let h = &rec.host_config;
            let mode = net::mode(&rec, self.network.is_some())?;
            let netns = match (&mode, &self.network) {
                (net::Mode::Bridge, Some(network)) => {
                    let req = berth_network::ConnectRequest {
                        id: id.clone(),
                        name: rec.bare_name().to_string(),
                        mac: (!c.mac_address.is_empty())
                            .then(|| berth_network::parse_mac(&c.mac_address))
                            .transpose()
                            .map_err(EngineError::InvalidParameter)?,
                        ports: net::port_requests(&rec)?,
                    };
                    let ep = tokio::runtime::Handle::current().block_on(network.connect(req))?;
                    let path = ep.netns.clone();
                    endpoint = Some(ep);
                    Some(path)
                }
                (net::Mode::None, _) => {
                    let path = self.paths.netns(&id);
                    berth_network::isolated_netns(&path)?;
                    Some(path)
                }
                _ => None,
            };
            let (link_env, link_hosts) = self.links_for(&rec, endpoint.as_mut())?;
            if let Some(ep) = &endpoint {
                // Written before the monitor starts (without a sync: it matters only while
                // processes run), so a daemon killed during the start adopts the endpoint
                // with the container instead of sweeping it away as stale.
                let rec = {
                    let mut r = entry.record.lock().expect("lock");
                    r.network = Some(ep.clone());
                    r.clone()
                };
                self.write_record(&rec, false)?;
            }
            std::fs::write(self.paths.hostname(&id), format!("{}\n", c.hostname))
                .map_err(|e| internal("write hostname", e))?;
            let mut extra = link_hosts;
            extra.extend(host_files::extra_hosts(
                &h.extra_hosts.clone().unwrap_or_default(),
            ));
            std::fs::write(
                self.paths.hosts(&id),
                host_files::hosts(
                    &c.hostname,
                    &c.domainname,
                    endpoint.as_ref().map(|e: &berth_network::Endpoint| e.ip),
                    &extra,
                ),
            )
            .map_err(|e| internal("write hosts", e))?;
            let host_resolv = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
            let resolv = host_files::resolv_conf(
                &host_resolv,
                &h.dns.clone().unwrap_or_default(),
                &h.dns_search.clone().unwrap_or_default(),
            );
            std::fs::write(self.paths.resolv_conf(&id), resolv)
                .map_err(|e| internal("write resolv.conf", e))?;
            self.prepare_mounts(&rec, &rootfs)?;
            // Every mount destination resolved inside the root now, so the runtime mounts on
            // exactly that path and an image's symlinks cannot aim a mount at the host.
            let mut mounts = Vec::new();
            for m in &rec.mounts {
                mounts.push(berth_runtime::spec::BindMount {
                    destination: volumes::resolve_destination(
                        &rootfs,
                        &m.destination,
                        std::path::Path::new(&m.source).is_file(),
                    )?,
                    source: m.source.clone(),
                    readonly: !m.rw,
                });
            }
            for f in ["/etc/hostname", "/etc/hosts", "/etc/resolv.conf"] {
                if volumes::resolve_destination(&rootfs, f, true)? != f {
                    return Err(EngineError::InvalidParameter(format!(
                        "{f} in the image resolves elsewhere"
                    )));
                }
            }
            let (uid, gid, additional_gids) = UserFiles::new(&rootfs).resolve(&c.user)?;
            volumes::create_working_dir(&rootfs, &c.working_dir, uid, gid)?;
            let capabilities = settings::capabilities(h)?;
            let mut env = c.env.clone().unwrap_or_default();
            // Link variables first; the container's own win over them.
            let mut linked: Vec<String> = link_env
                .into_iter()
                .filter(|l| !env.iter().any(|e| env_key(e) == env_key(l)))
                .collect();
            linked.append(&mut env);
            env = linked;
            if !env.iter().any(|e| env_key(e) == "PATH") {
                env.insert(0, DEFAULT_PATH.to_string());
            }
            env.insert(1.min(env.len()), format!("HOSTNAME={}", c.hostname));
            if c.tty && !env.iter().any(|e| env_key(e) == "TERM") {
                env.push("TERM=xterm".into());
            }
            let mut args = vec![rec.path.clone()];
            args.extend(rec.args.iter().cloned());
            let spec = container_spec(&SpecParams {
                id: id.clone(),
                rootfs: rootfs.display().to_string(),
                args,
                env,
                cwd: c.working_dir.clone(),
                uid,
                gid,
                additional_gids,
                hostname: c.hostname.clone(),
                domainname: c.domainname.clone(),
                tty: c.tty,
                hostname_path: self.paths.hostname(&id).display().to_string(),
                hosts_path: self.paths.hosts(&id).display().to_string(),
                resolv_conf_path: self.paths.resolv_conf(&id).display().to_string(),
                cgroups_path: settings::cgroup_path(&rec),
                capabilities: Some(capabilities.clone()),
                seccomp: settings::seccomp(h, &capabilities),
                privileged: h.privileged,
                readonly_rootfs: h.readonly_rootfs,
                no_new_privileges: settings::no_new_privileges(h)?,
                resources: settings::resources(h)?,
                rlimits: settings::rlimits(h)?,
                shared_namespaces: self.shared_namespaces(h, netns.as_deref())?,
                devices: settings::devices(h)?,
                mounts,
            });
            let bundle = self.paths.bundle(&id);
            std::fs::create_dir_all(&bundle).map_err(|e| internal("create bundle", e))?;
            std::fs::write(
                bundle.join("config.json"),
                serde_json::to_vec(&spec).expect("spec serialises"),
            )
            .map_err(|e| internal("write bundle", e))?;
            let _ = std::fs::remove_file(self.paths.exit_file(&id));
            let _ = std::fs::remove_file(self.paths.monitor_state(&id));
            let log_cfg = h.log_config.config.clone().unwrap_or_default();
            let args = MonitorArgs {
                id: id.clone(),
                bundle,
                runtime_root: self.paths.runtime_root(),
                // With the `none` driver the output still goes to a small log (1 MiB, not
                // rotated into more files) because attach reads it; `logs` refuses it.
                log_path: self.paths.log(&id),
                exit_file: self.paths.exit_file(&id),
                log_max_size: if h.log_config.kind == "none" {
                    Some(1 << 20)
                } else {
                    log_cfg.get("max-size").map(|s| parse_size(s)).transpose()?
                },
                log_max_files: if h.log_config.kind == "none" {
                    1
                } else {
                    log_cfg
                        .get("max-file")
                        .map(|s| s.parse().unwrap_or(1))
                        .unwrap_or(1)
                },
                stdin_socket: c.open_stdin.then(|| self.paths.stdin_socket(&id)),
                stdin_once: c.stdin_once,
                tty: c.tty,
                resize_socket: c.tty.then(|| self.paths.resize_socket(&id)),
                exec_socket: Some(self.paths.exec_helper_socket(&id)),
                state_file: Some(self.paths.monitor_state(&id)),
            };
            let monitor_log = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(self.paths.monitor_log(&id))
                .map_err(|e| internal("open monitor log", e))?;
            let mut cmd = std::process::Command::new(&self.monitor_bin);
            cmd.args(args.to_args())
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(monitor_log);
            // Its own process group: signals meant for the daemon's terminal stay there.
            cmd.process_group(0);
            let mut child = tokio::process::Command::from(cmd)
                .spawn()
                .map_err(|e| internal("start monitor", e))?;
            let stdout = child
                .stdout
                .take()
                .expect("piped")
                .into_owned_fd()
                .map_err(|e| internal("monitor pipe", e))?;
            let mut line = String::new();
            std::io::BufReader::new(std::fs::File::from(stdout))
                .read_line(&mut line)
                .map_err(|e| internal("read monitor report", e))?;
            let report: StartReport = serde_json::from_str(line.trim()).unwrap_or(StartReport {
                pid: None,
                error: Some(format!(
                    "monitor gave no start report: {}",
                    std::fs::read_to_string(self.paths.monitor_log(&id))
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
        })();
        if result.is_err() {
            let _ = overlay.unmount();
            self.release_network(entry, &id, endpoint);
            self.remove_run_files(&id);
        }
        result
    }

    /// Removes what a start leaves under the exec root and beside the record for the
    /// container's run: its bundle, the runtime's state (its monitor deletes it, unless it was
    /// killed), its monitor's sockets and state.
    pub(super) fn remove_run_files(&self, id: &str) {
        let _ = std::fs::remove_dir_all(self.paths.bundle(id));
        let _ = std::fs::remove_dir_all(self.paths.runtime_root().join(id));
        let _ = std::fs::remove_file(self.paths.stdin_socket(id));
        let _ = std::fs::remove_file(self.paths.resize_socket(id));
        let _ = std::fs::remove_file(self.paths.exec_helper_socket(id));
        let _ = std::fs::remove_file(self.paths.exec_helper_pid(id));
        let _ = std::fs::remove_file(self.paths.monitor_state(id));
    }

    /// The environment and hosts lines of a container's links; with `--icc=false`, opens
    /// each linked container's exposed ports to it.
    pub(super) fn links_for(
        &self,
        rec: &ContainerRecord,
        mut endpoint: Option<&mut berth_network::Endpoint>,
    ) -> Result<(Vec<String>, HostsLines), EngineError> {
        let (mut env, mut hosts) = (Vec::new(), Vec::new());
        for spec in rec.host_config.links.iter().flatten() {
            let (name, alias) = net::parse_link(spec)?;
            let child = self
                .entry(&name)
                .map_err(|_| EngineError::NotFound(format!("Could not get container for {name}")))?
                .snapshot();
            if !child.state.status.is_running() {
                return Err(EngineError::Internal(format!(
                    "Cannot link to a non running container: {} AS {}/{alias}",
                    child.name, rec.name
                )));
            }
            env.extend(net::link_env(&rec.name, &alias, &child));
            if let Some(child_ep) = &child.network {
                // As Docker: the alias, the container's hostname, and its name unless that
                // is the alias.
                let mut names = format!("{alias} {}", child.config.hostname);
                if alias != child.bare_name() {
                    names = format!("{names} {}", child.bare_name());
                }
                hosts.push((child_ep.ip.to_string(), names));
                if let (Some(ep), Some(network)) = (endpoint.as_deref_mut(), &self.network) {
                    network.grant(ep, child_ep.ip, net::exposed_ports(&child))?;
                }
            }
        }
        Ok((env, hosts))
    }

    /// `DELETE /containers/<parent>/<alias>?link=1`: forgets that link (the running parent
    /// keeps what it was started with, as in Docker).
    pub fn remove_link(&self, link_name: &str) -> Result<(), EngineError> {
        let trimmed = link_name.trim_start_matches('/');
        let Some((parent, alias)) = trimmed.rsplit_once('/') else {
            return Err(EngineError::Conflict(
                "Conflict, cannot remove the default name of the container".into(),
            ));
        };
        let entry = self.entry(parent)?;
        let rec = entry.snapshot();
        let mut found = false;
        let kept: Vec<String> = rec
            .host_config
            .links
            .iter()
            .flatten()
            .filter(|spec| {
                let matches = net::parse_link(spec).is_ok_and(|(_, a)| a == alias);
                found |= matches;
                !matches
            })
            .cloned()
            .collect();
        if !found {
            return Err(EngineError::NotFound(format!("No such link: /{trimmed}")));
        }
        self.update(&entry, |r| r.host_config.links = Some(kept))?;
        Ok(())
    }

    /// Undoes a start's network when the start fails (on the start's blocking thread).
    pub(super) fn release_network(
        &self,
        entry: &Entry,
        id: &str,
        endpoint: Option<berth_network::Endpoint>,
    ) {
        if let (Some(ep), Some(network)) = (endpoint, &self.network) {
            tokio::runtime::Handle::current().block_on(network.disconnect(id, &ep));
        }
        berth_network::netns::remove(&self.paths.netns(id));
        if entry.snapshot().network.is_some() {
            let _ = self.update(entry, |r| r.network = None);
        }
    }

    /// `PidMode`, `IpcMode`, `NetworkMode`: `host` shares the host's namespace,
    /// `container:<name>` joins a running container's.
    pub(super) fn shared_namespaces(
        &self,
        h: &HostConfig,
        netns: Option<&std::path::Path>,
    ) -> Result<Vec<(String, Option<String>)>, EngineError> {
        let mut out = Vec::new();
        if let Some(path) = netns {
            out.push(("network".to_string(), Some(path.display().to_string())));
        }
        for (kind, mode) in [
            ("pid", &h.pid_mode),
            ("ipc", &h.ipc_mode),
            ("network", &h.network_mode),
        ] {
            if mode == "host" {
                out.push((kind.to_string(), None));
            } else if let Some(other) = mode.strip_prefix("container:") {
                let target = self.entry(other)?.snapshot();
                if !target.state.status.is_running() {
                    return Err(EngineError::Conflict(format!(
                        "cannot join the namespaces of container {other}: it is not running"
                    )));
                }
                out.push((
                    kind.to_string(),
                    Some(format!(
                        "/proc/{}/ns/{}",
                        target.state.pid,
                        if kind == "network" { "net" } else { kind }
                    )),
                ));
            }
        }
        Ok(out)
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
}
