//! Starting a container (its steps are in `launch`), its links, and undoing a start.

use std::sync::Arc;

use super::create::now;
use super::exit::Monitor;
use super::procs;
use super::record::{ContainerRecord, State, Status, ZERO_TIME};
use super::spec::{HostConfig, IpcMode, NamespaceMode, NetworkMode, UtsMode};
use super::{net, ContainerService, Entry};
use crate::error::EngineError;

/// Has the wait that the runtime's move of a container into its cgroups would make after a
/// quiet spell (an RCU grace period, see [`berth_runtime::cgroups::prime_migration`]) paid on
/// a blocking thread, beside the steps of a start (and from a create, ahead of the start
/// that usually follows).
pub(super) fn prime_cgroup_migration() {
    let prime = || {
        if let Err(e) = berth_runtime::cgroups::prime_migration() {
            tracing::debug!(error = %e, "priming the cgroup migration");
        }
    };
    match tokio::runtime::Handle::try_current() {
        Ok(runtime) => drop(runtime.spawn_blocking(prime)),
        Err(_) => drop(std::thread::spawn(prime)),
    }
}

/// `/etc/hosts` lines as (address, names).
pub(super) type HostsLines = Vec<(String, String)>;

impl ContainerService {
    /// `POST /containers/(id)/start`. Starting a running container is `NotModified`.
    pub async fn start(self: &Arc<Self>, name: &str) -> Result<(), EngineError> {
        let entry = self.entry(name)?;
        let started = {
            let _op = entry.op.lock().await;
            let rec = entry.snapshot();
            rec.state.status.check_start()?;
            if rec.state.stopped_by_user {
                self.update(&entry, |r| r.state.stopped_by_user = false)?;
            }
            // A start by hand begins the restart back-off anew, as Docker's does.
            *entry.restart_delay.lock().expect("lock") = None;
            self.start_locked(&entry).await
        };
        let rec = entry.snapshot();
        if started.is_err() && rec.spec.host.auto_remove {
            // An `AutoRemove` container that cannot start goes at once, as Docker's does:
            // `docker run --rm` waits for its removal before it reports the error.
            self.auto_remove(&rec.id).await;
        }
        started
    }

    /// Starts the container; the caller holds its operation lock.
    pub(super) async fn start_locked(
        self: &Arc<Self>,
        entry: &Arc<Entry>,
    ) -> Result<(), EngineError> {
        prime_cgroup_migration();
        let svc = self.clone();
        let e = entry.clone();
        let prepared = tokio::task::spawn_blocking(move || svc.launch(&e)).await?;
        match prepared {
            Ok((child, pid)) => {
                let monitor_pid = child.id().unwrap_or(0) as i32;
                // Not synced: a running state outlives only a daemon's crash, never the
                // host's (after a reboot nothing runs), and a crash keeps the page cache.
                let rec = self.update_unsynced(entry, |r| {
                    let own_sandbox = net::network_name(r).is_some();
                    let run_id = || own_sandbox.then(crate::random_id).unwrap_or_default();
                    r.state = State {
                        sandbox_id: run_id(),
                        endpoint_id: run_id(),
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
                self.publish_joined(&rec);
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
        if let Err(e) = berth_runtime::rootfs::unmount_dir(&self.paths.shm(id)) {
            tracing::warn!(container = %id, error = %e, "unmounting shm");
        }
    }

    /// The environment and hosts lines of a container's links; with `--icc=false`, opens
    /// each linked container's exposed ports to it.
    pub(super) fn links_for(
        &self,
        rec: &ContainerRecord,
        mut endpoint: Option<&mut berth_network::Endpoint>,
    ) -> Result<(Vec<String>, HostsLines), EngineError> {
        let (mut env, mut hosts) = (Vec::new(), Vec::new());
        for link in rec.spec.host.links.iter().flatten() {
            let (name, alias) = net::parse_link(link)?;
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
                let mut names = format!("{alias} {}", child.spec.config.hostname);
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
            .spec
            .host
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
        self.update(&entry, |r| r.spec.host.links = Some(kept))?;
        Ok(())
    }

    /// Undoes a start's network when the start fails (on the start's blocking thread).
    pub(super) fn release_network(
        &self,
        entry: &Entry,
        id: &str,
        endpoint: Option<berth_network::Endpoint>,
        attached: Vec<(String, berth_network::Endpoint)>,
    ) {
        let runtime = tokio::runtime::Handle::current();
        if let (Some(ep), Some(network)) = (endpoint, &self.network) {
            runtime.block_on(network.disconnect(id, &ep));
        }
        let rec = entry.snapshot();
        for (name, ep) in attached {
            let network = rec
                .networks
                .get(&name)
                .and_then(|a| self.user_networks.by_id(&a.network_id));
            if let Some(network) = network {
                runtime.block_on(network.bridge.disconnect(id, &ep));
            }
        }
        berth_network::netns::remove(&self.paths.netns(id));
        if rec.network.is_some() || rec.networks.values().any(|a| a.endpoint.is_some()) {
            let _ = self.update(entry, |r| {
                r.network = None;
                for a in r.networks.values_mut() {
                    a.endpoint = None;
                    a.endpoint_id.clear();
                }
            });
            if !rec.networks.is_empty() {
                self.publish_names();
            }
        }
    }

    /// `PidMode`, `IpcMode`, `NetworkMode`, `UTSMode`: `host` shares the host's namespace,
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
        let network = match &h.network_mode {
            NetworkMode::Host => NamespaceMode::Host,
            NetworkMode::Container(other) => NamespaceMode::Container(other.clone()),
            _ => NamespaceMode::Private,
        };
        let ipc = match &h.ipc_mode {
            IpcMode::Host => NamespaceMode::Host,
            IpcMode::Container(other) => NamespaceMode::Container(other.clone()),
            _ => NamespaceMode::Private,
        };
        let uts = match h.uts_mode {
            UtsMode::Host => NamespaceMode::Host,
            UtsMode::Private => NamespaceMode::Private,
        };
        for (kind, mode) in [
            ("pid", &h.pid_mode),
            ("ipc", &ipc),
            ("network", &network),
            ("uts", &uts),
        ] {
            if *mode == NamespaceMode::Host {
                out.push((kind.to_string(), None));
            } else if let NamespaceMode::Container(other) = mode {
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
