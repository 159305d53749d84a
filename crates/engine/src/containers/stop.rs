//! Signals, stop, kill and restart.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use super::procs;
use super::record::{ContainerRecord, Status};
use super::settings;
use super::{ContainerService, Entry};
use crate::error::EngineError;

/// How a stop goes: which signal first, and how long before the kill.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StopOptions {
    /// Seconds; negative waits as long as it takes; `None`: the container's `StopTimeout`,
    /// or Docker's 10.
    pub timeout: Option<i64>,
    /// Instead of the container's `StopSignal` (or SIGTERM).
    pub signal: Option<String>,
}

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

    /// `POST /containers/(id)/stop?t=&signal=`: the stop signal, then SIGKILL after the
    /// timeout.
    pub async fn stop(&self, name: &str, how: &StopOptions) -> Result<(), EngineError> {
        let entry = self.entry(name)?;
        let _op = entry.op.lock().await;
        self.stop_locked(&entry, how).await
    }

    pub(super) async fn stop_locked(
        &self,
        entry: &Entry,
        how: &StopOptions,
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
        let stop_signal = how
            .signal
            .as_deref()
            .or(rec.spec.config.stop_signal.as_deref())
            .map(procs::parse_signal)
            .transpose()?
            .unwrap_or(15);
        let _ = self.signal(&rec, stop_signal);
        let timeout = how.timeout.or(rec.spec.config.stop_timeout).unwrap_or(10);
        let grace = u64::try_from(timeout).ok().map(Duration::from_secs);
        if self.wait_entry(entry, grace).await.is_none() {
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
        how: &StopOptions,
    ) -> Result<(), EngineError> {
        let entry = self.entry(name)?;
        let _op = entry.op.lock().await;
        entry.restarting.store(true, Ordering::SeqCst);
        let restarted = self.restart_locked(&entry, how).await;
        entry.restarting.store(false, Ordering::SeqCst);
        restarted?;
        self.publish(&entry.snapshot(), "restart", &[]);
        Ok(())
    }

    async fn restart_locked(
        self: &Arc<Self>,
        entry: &Arc<Entry>,
        how: &StopOptions,
    ) -> Result<(), EngineError> {
        match self.stop_locked(entry, how).await {
            Ok(()) | Err(EngineError::NotModified) => {}
            Err(e) => return Err(e),
        }
        self.update(entry, |r| r.state.stopped_by_user = false)?;
        *entry.restart_delay.lock().expect("lock") = None;
        self.start_locked(entry).await
    }
}
