//! Signals, stop, kill and restart.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use super::procs;
use super::record::{ContainerRecord, Status};
use super::settings;
use super::{ContainerService, Entry};
use crate::error::EngineError;

impl ContainerService {
    pub(super) fn signal(&self, rec: &ContainerRecord, signal: i32) -> Result<(), EngineError> {
        procs::send_signal(rec.state.pid, signal)
            .map_err(|e| EngineError::failed(format!("Cannot kill container {}", rec.id), e))?;
        self.publish(rec, "kill", &[("signal", signal.to_string())]);
        Ok(())
    }

    /// `POST /containers/(id)/kill`.
    pub async fn kill(&self, name: &str, signal: &str) -> Result<(), EngineError> {
        let entry = self.entry(name)?;
        let sig = if signal.is_empty() {
            9
        } else {
            procs::parse_signal(signal)?
        };
        let rec = entry.snapshot();
        rec.state.status.check_running(&rec.id)?;
        if sig == 9 || sig == 15 {
            self.update(&entry, |r| r.state.stopped_by_user = true)?;
        }
        self.signal(&rec, sig)?;
        if sig == 9 {
            self.wait_entry(&entry, Some(Duration::from_secs(10))).await;
        }
        Ok(())
    }

    /// `POST /containers/(id)/stop?t=`: the stop signal, then SIGKILL after `timeout`.
    pub async fn stop(&self, name: &str, timeout: Option<u64>) -> Result<(), EngineError> {
        let entry = self.entry(name)?;
        let _op = entry.op.lock().await;
        self.stop_locked(&entry, timeout).await
    }

    pub(super) async fn stop_locked(
        &self,
        entry: &Entry,
        timeout: Option<u64>,
    ) -> Result<(), EngineError> {
        let rec = entry.snapshot();
        if rec.state.status == Status::Restarting {
            self.update(entry, |r| {
                r.state.stopped_by_user = true;
                r.state.status = Status::Exited;
            })?;
            return Ok(());
        }
        if !rec.state.status.is_running() {
            return Err(EngineError::NotModified);
        }
        self.update(entry, |r| r.state.stopped_by_user = true)?;
        if rec.state.status == Status::Paused {
            let _ = procs::set_frozen(&settings::cgroup_path(&rec), false);
        }
        let stop_signal = rec
            .spec
            .config
            .stop_signal
            .as_deref()
            .map(procs::parse_signal)
            .transpose()?
            .unwrap_or(15);
        let _ = self.signal(&rec, stop_signal);
        let grace = Duration::from_secs(timeout.unwrap_or(10));
        if self.wait_entry(entry, Some(grace)).await.is_none() {
            let _ = self.signal(&rec, 9);
            self.wait_entry(entry, Some(Duration::from_secs(30))).await;
        }
        self.publish(&entry.snapshot(), "stop", &[]);
        Ok(())
    }

    /// `POST /containers/(id)/restart?t=`.
    pub async fn restart(
        self: &Arc<Self>,
        name: &str,
        timeout: Option<u64>,
    ) -> Result<(), EngineError> {
        let entry = self.entry(name)?;
        let _op = entry.op.lock().await;
        entry.restarting.store(true, Ordering::SeqCst);
        let restarted = self.restart_locked(&entry, timeout).await;
        entry.restarting.store(false, Ordering::SeqCst);
        restarted?;
        self.publish(&entry.snapshot(), "restart", &[]);
        Ok(())
    }

    async fn restart_locked(
        self: &Arc<Self>,
        entry: &Arc<Entry>,
        timeout: Option<u64>,
    ) -> Result<(), EngineError> {
        match self.stop_locked(entry, timeout).await {
            Ok(()) | Err(EngineError::NotModified) => {}
            Err(e) => return Err(e),
        }
        self.update(entry, |r| r.state.stopped_by_user = false)?;
        *entry.restart_delay.lock().expect("lock") = None;
        self.start_locked(entry).await
    }
}
