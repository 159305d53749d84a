//! Pausing and unpausing through the cgroup freezer.

use super::procs;
use super::record::Status;
use super::settings;
use super::{ContainerService, Entry};
use crate::error::EngineError;

impl ContainerService {
    /// `POST /containers/(id)/pause` and `unpause`.
    pub async fn pause(&self, name: &str, pause: bool) -> Result<(), EngineError> {
        let entry = self.entry(name)?;
        let _op = entry.op.lock().await;
        self.pause_locked(&entry, pause).await
    }

    /// [`Self::pause`] for a caller that holds the operation lock (a commit).
    pub(super) async fn pause_locked(&self, entry: &Entry, pause: bool) -> Result<(), EngineError> {
        let rec = entry.snapshot();
        rec.state.status.check_pause(pause, &rec.id)?;
        let cgroup = settings::cgroup_path(&rec);
        tokio::task::spawn_blocking(move || procs::set_frozen(&cgroup, pause)).await??;
        let rec = self.update(entry, |r| {
            r.state.status = if pause {
                Status::Paused
            } else {
                Status::Running
            }
        })?;
        self.publish(&rec, if pause { "pause" } else { "unpause" }, &[]);
        Ok(())
    }
}
