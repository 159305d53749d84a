//! Daemon start: records loaded, live monitors found again (whatever the records say), exits recorded, interrupted starts undone.

use std::sync::Arc;
use std::time::Duration;

use berth_runtime::monitor::MonitorState;
use berth_snapshot::OverlayDirs;

use super::create::now;
use super::exit::Monitor;
use super::procs;
use super::record::{ContainerRecord, State, Status};
use super::settings;
use super::{net, ContainerService, Entry};
use crate::error::EngineError;

impl ContainerService {
    /// A container's record, from `record.json` or, written by an older berthd,
    /// `config.v1.json` (then rewritten in the current schema and the old file removed).
    /// `None` when it has neither.
    fn load_record(&self, id: &str) -> Result<Option<ContainerRecord>, EngineError> {
        match std::fs::read(self.paths.record(id)) {
            Ok(data) => return ContainerRecord::from_json(&data).map(Some),
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(EngineError::failed("read container record", e))
            }
            Err(_) => {}
        }
        let legacy = self.paths.record_v1(id);
        let data = match std::fs::read(&legacy) {
            Ok(data) => data,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(EngineError::failed("read container record", e)),
        };
        let rec = ContainerRecord::from_json(&data)?;
        self.persist(&rec)?;
        let _ = std::fs::remove_file(&legacy);
        tracing::info!(container = %id, "container record migrated to schema {}", rec.schema);
        Ok(Some(rec))
    }

    /// At daemon start: loads every record, reconnects to live monitors, records the exits
    /// that happened while the daemon was away, and brings back `always` containers.
    pub(crate) async fn restore(self: &Arc<Self>) -> Result<(), EngineError> {
        let dir = self.paths.data_root.join("containers");
        let mut restart = Vec::new();
        let mut watch = Vec::new();
        for e in std::fs::read_dir(&dir)
            .map_err(|e| EngineError::failed("read containers", e))?
            .flatten()
        {
            let id = e.file_name().to_string_lossy().into_owned();
            let rec = match self.load_record(&id) {
                Ok(Some(r)) => r,
                Ok(None) => {
                    // A create that crashed before its record was written.
                    tracing::warn!(container = %id, "removing container directory without a record");
                    let _ = std::fs::remove_dir_all(e.path());
                    continue;
                }
                Err(err) => {
                    // Kept as it is: a record this berthd cannot read is not proof the
                    // container is gone.
                    tracing::error!(container = %id, error = %err, "skipping a container whose record does not read");
                    continue;
                }
            };
            let entry = Entry::new(rec.clone());
            self.containers
                .write()
                .expect("lock")
                .insert(rec.id.clone(), entry.clone());
            let was_running = rec.state.status.is_active();
            // The monitor's own file is the truth: a daemon killed during a start never
            // recorded the container as running, though it runs.
            let adopted = match self.find_live_monitor(&rec).await {
                Some((state, pidfd)) => {
                    if !was_running || rec.state.pid != state.container_pid.unwrap_or(0) {
                        tracing::info!(container = %rec.id, pid = ?state.container_pid, "adopting a container whose start the daemon did not see end");
                        self.adopt_running(&entry, &state)?;
                    } else {
                        tracing::info!(container = %rec.id, pid = rec.state.pid, "reconnected to running container");
                    }
                    // Watched once the network has taken it back (below): an exit seen
                    // before that would release what adopting then takes again.
                    watch.push((entry.clone(), pidfd));
                    true
                }
                None => false,
            };
            if adopted {
                continue;
            }
            // A start the record never saw whose container has run and exited since: its
            // monitor's files tell.
            let ran_unrecorded = self.paths.monitor_state(&rec.id).exists()
                && self.paths.exit_file(&rec.id).exists();
            if was_running || ran_unrecorded {
                tracing::info!(container = %rec.id, "container exited while the daemon was down");
                self.on_exit(&entry, false).await;
                // Docker brings `always` containers back at daemon start, at once.
                if rec
                    .spec
                    .host
                    .restart_policy
                    .is_some_and(|p| p.restarts_with_daemon())
                    && !rec.state.stopped_by_user
                {
                    restart.push(entry);
                }
            } else if self.paths.bundle(&rec.id).exists()
                || self.paths.monitor_state(&rec.id).exists()
            {
                // A start that was cut short, with no monitor left: undo what it made.
                tracing::info!(container = %rec.id, "cleaning up after an interrupted start");
                self.reap_interrupted_start(&entry).await;
            }
        }
        if let Some(network) = &self.network {
            let live: Vec<_> = self
                .containers
                .read()
                .expect("lock")
                .values()
                .map(|e| e.snapshot())
                .filter(|r| r.state.status.is_running())
                .filter_map(|r| r.network.map(|ep| (r.id, ep)))
                .collect();
            network.adopt(&live).await;
        }
        for network in self.user_networks.all() {
            let live: Vec<_> = self
                .list()
                .into_iter()
                .filter(|r| r.state.status.is_running())
                .filter_map(|r| {
                    let a = r
                        .networks
                        .values()
                        .find(|a| a.network_id == network.record.id)?;
                    Some((r.id.clone(), a.endpoint.clone()?))
                })
                .collect();
            network.bridge.adopt(&live).await;
        }
        // The resolver may have outlived the daemon (and answered meanwhile): it gets the
        // table as it is now.
        let svc = self.clone();
        let _ = tokio::task::spawn_blocking(move || svc.publish_names()).await;
        for (entry, fd) in watch {
            self.watch(entry, Monitor::Pidfd(fd));
        }
        for entry in restart {
            let _op = entry.op.lock().await;
            if entry.snapshot().state.status == Status::Exited {
                if let Err(e) = self.start_locked(&entry).await {
                    tracing::warn!(error = %e, "restarting container at daemon start");
                }
            }
        }
        Ok(())
    }

    /// The container's monitor if it still runs (found by its state file, or for a monitor
    /// of an earlier berthd by the record), once it has finished starting the container:
    /// its state and a pidfd to watch it by. A monitor still starting is waited for (a few
    /// seconds at most); one that never finishes is killed with what it started.
    pub(super) async fn find_live_monitor(
        &self,
        rec: &ContainerRecord,
    ) -> Option<(MonitorState, std::os::fd::OwnedFd)> {
        let exited = || self.paths.exit_file(&rec.id).exists();
        let from_record = || {
            (rec.state.monitor_pid > 0 && rec.state.status.is_running()).then_some(MonitorState {
                pid: rec.state.monitor_pid,
                start_time: rec.state.monitor_start,
                container_pid: Some(rec.state.pid),
            })
        };
        let state_path = self.paths.monitor_state(&rec.id);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            // A monitor that wrote the exit file is done even if its process lingers (a
            // zombie nobody reaped): take the exit now, so no stale state is ever served.
            let state = MonitorState::read(&state_path).or_else(from_record)?;
            if exited() || !state.alive() {
                return None;
            }
            if let Some(container_pid) = state.container_pid {
                if !procs::runs(container_pid) {
                    // The container has ended and its monitor is recording it (the daemon
                    // died during a stop or kill): let it finish, and take the exit.
                    if tokio::time::Instant::now() > deadline {
                        return None;
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
                let pidfd = rustix::process::Pid::from_raw(state.pid).and_then(|p| {
                    rustix::process::pidfd_open(p, rustix::process::PidfdFlags::empty()).ok()
                })?;
                // Checked again with the pidfd held: the PID cannot be reused from here on.
                return state.alive().then_some((state, pidfd));
            }
            if tokio::time::Instant::now() > deadline {
                tracing::warn!(container = %rec.id, monitor = state.pid, "monitor never finished starting its container: killing it");
                if let Some(pid) = rustix::process::Pid::from_raw(state.pid) {
                    let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
                }
                return None;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Records as running a container whose monitor outlived the daemon that started it.
    pub(super) fn adopt_running(
        &self,
        entry: &Entry,
        state: &MonitorState,
    ) -> Result<(), EngineError> {
        self.update(entry, |r| {
            let (started_at, sandbox_id, endpoint_id) = if r.state.status.is_running() {
                let s = &r.state;
                (
                    s.started_at.clone(),
                    s.sandbox_id.clone(),
                    s.endpoint_id.clone(),
                )
            } else {
                (now(), String::new(), String::new())
            };
            r.state = State {
                status: Status::Running,
                pid: state.container_pid.unwrap_or(0),
                monitor_pid: state.pid,
                monitor_start: state.start_time,
                started_at,
                finished_at: r.state.finished_at.clone(),
                exit_code: 0,
                stopped_by_user: r.state.stopped_by_user,
                sandbox_id,
                endpoint_id,
                ..State::default()
            };
            // A start cut short before it recorded its sandbox gets one now.
            if r.state.sandbox_id.is_empty() && net::network_name(r).is_some() {
                r.state.sandbox_id = crate::random_id();
                r.state.endpoint_id = crate::random_id();
            }
        })?;
        Ok(())
    }

    /// Undoes a start that a crash cut short and whose monitor is gone: whatever process it
    /// left in the container's cgroups, the root filesystem, the network, the run files.
    pub(super) async fn reap_interrupted_start(&self, entry: &Arc<Entry>) {
        let rec = entry.snapshot();
        let cgroup = settings::cgroup_path(&rec);
        tokio::task::spawn_blocking(move || procs::kill_cgroup(&cgroup))
            .await
            .ok();
        if let Err(e) = OverlayDirs::new(self.paths.overlay(&rec.id)).unmount() {
            tracing::warn!(container = %rec.id, error = %e, "unmounting root filesystem");
        }
        self.remove_run_files(&rec.id);
        if let Some(ep) = &rec.network {
            match &self.network {
                Some(network) => network.disconnect(&rec.id, ep).await,
                None => berth_network::netns::remove(&ep.netns),
            }
            let _ = self.update(entry, |r| r.network = None);
        }
        if rec.networks.values().any(|a| a.endpoint.is_some()) {
            self.release_attachments(&rec).await;
            let _ = self.update(entry, |r| {
                for a in r.networks.values_mut() {
                    a.endpoint = None;
                    a.endpoint_id.clear();
                }
            });
        }
        berth_network::netns::remove(&self.paths.netns(&rec.id));
    }
}
