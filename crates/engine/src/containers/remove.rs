//! Removing a container and everything it had, whatever its record says.

use std::time::Duration;

use berth_runtime::monitor::MonitorState;
use berth_snapshot::OverlayDirs;

use super::procs;
use super::record::Status;
use super::settings;
use super::{ContainerService, Entry};
use crate::error::EngineError;

impl ContainerService {
    /// `DELETE /containers/(id)?force=`: removes a stopped container (or, with `force`, kills
    /// it first) and everything it had on disk.
    pub async fn remove(&self, name: &str, force: bool, volumes: bool) -> Result<(), EngineError> {
        let entry = self.entry(name)?;
        if force {
            // At once, as Docker's `rm -f` does, even while another operation (a long stop)
            // holds the container: the kill ends that operation too.
            self.kill_for_removal(&entry)?;
        }
        let _op = entry.op.lock().await;
        let rec = entry.snapshot();
        rec.state.status.check_remove(force, &rec.id)?;
        if rec.state.status.is_active() {
            self.kill_for_removal(&entry)?;
            if rec.state.status.is_running()
                && self
                    .wait_entry(&entry, Some(Duration::from_secs(30)))
                    .await
                    .is_none()
            {
                return Err(EngineError::Internal(format!(
                    "Could not kill running container {}, cannot remove - the container did not exit",
                    rec.id
                )));
            }
        }
        // Whatever the record says, nothing of the container may outlive its removal: not a
        // monitor the daemon lost track of, not a process left in its cgroups.
        if let Some(state) = MonitorState::read(&self.paths.monitor_state(&rec.id)) {
            if state.alive() {
                let _ = procs::send_signal(state.pid, 9);
            }
        }
        let cgroup = settings::cgroup_path(&rec);
        let left = tokio::task::spawn_blocking(move || procs::kill_cgroup(&cgroup)).await?;
        if !left.is_empty() {
            return Err(EngineError::Internal(format!(
                "Could not kill running container {}, cannot remove - processes {left:?} did not exit",
                rec.id
            )));
        }
        if rec.network.is_some() || self.paths.bundle(&rec.id).exists() {
            // A start cut short by a crash left these.
            self.reap_interrupted_start(&entry).await;
        }
        berth_network::netns::remove(&self.paths.netns(&rec.id));
        self.containers.write().expect("lock").remove(&rec.id);
        self.forget_execs(&rec.id);
        if volumes {
            self.remove_volumes(&rec);
        }
        let overlay = OverlayDirs::new(self.paths.overlay(&rec.id));
        let dirs = [self.paths.bundle(&rec.id), self.paths.dir(&rec.id)];
        // A shareable container's /dev/shm: a daemon killed in the middle of a start can
        // leave it mounted with nothing else of the run.
        let shm = self.paths.shm(&rec.id);
        // Off the async threads: unmounting and deleting a root filesystem takes a while,
        // and the streams of other clients (an attach ending with this container) wait on
        // those threads meanwhile.
        let problems = tokio::task::spawn_blocking(move || {
            let mut problems = Vec::new();
            if let Err(e) = berth_runtime::rootfs::unmount_dir(&shm) {
                problems.push(format!("unmount shm: {e}"));
            }
            if let Err(e) = overlay.remove() {
                problems.push(format!("remove root filesystem: {e}"));
            }
            for dir in dirs {
                if let Err(e) = std::fs::remove_dir_all(&dir) {
                    if e.kind() != std::io::ErrorKind::NotFound {
                        problems.push(format!("remove {}: {e}", dir.display()));
                    }
                }
            }
            problems
        })
        .await?;
        entry.changed.send_modify(|n| *n += 1);
        self.publish(&rec, "destroy", &[]);
        if problems.is_empty() {
            Ok(())
        } else {
            Err(EngineError::Internal(problems.join("; ")))
        }
    }

    /// Removes an `AutoRemove` container (with its anonymous volumes) that exited or could
    /// not start; nobody waits for an answer, so a failure is logged.
    pub(super) async fn auto_remove(&self, id: &str) {
        if let Err(e) = self.remove(id, true, true).await {
            tracing::warn!(container = %id, error = %e, "auto-removing container");
        }
    }

    /// The first step of `rm -f`: marks the container stopped by the user (so no restart
    /// policy brings it back) and kills it if it runs.
    pub(super) fn kill_for_removal(&self, entry: &Entry) -> Result<(), EngineError> {
        let rec = entry.snapshot();
        if !rec.state.status.is_active() {
            return Ok(());
        }
        if !rec.state.stopped_by_user {
            self.update(entry, |r| r.state.stopped_by_user = true)?;
        }
        if rec.state.status == Status::Paused {
            let _ = procs::set_frozen(&settings::cgroup_path(&rec), false);
        }
        if rec.state.status.is_running() {
            let _ = self.signal(&rec, 9);
        }
        Ok(())
    }
}
