//! A container's end: watching its monitor, recording the exit, restart policies, and waiting for it.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use berth_runtime::monitor::ExitRecord;
use berth_snapshot::OverlayDirs;

use super::create::now;
use super::record::{ContainerRecord, Status};
use super::{ContainerService, Entry};

/// How long to wait before the next restart, as Docker's restart manager decides it: 100 ms,
/// doubling at each restart up to a minute; a run of 10 s or more starts it over.
fn next_restart_delay(previous: Option<Duration>, ran_for: Duration) -> Duration {
    const FIRST: Duration = Duration::from_millis(100);
    const MOST: Duration = Duration::from_secs(60);
    match previous {
        Some(p) if ran_for < Duration::from_secs(10) => (p * 2).min(MOST),
        _ => FIRST,
    }
}

/// How long a run lasted, from the record's `StartedAt` and `FinishedAt`.
fn run_length(started_at: &str, finished_at: &str) -> Duration {
    match (
        started_at.parse::<jiff::Timestamp>(),
        finished_at.parse::<jiff::Timestamp>(),
    ) {
        (Ok(a), Ok(b)) => Duration::try_from(b.duration_since(a)).unwrap_or_default(),
        _ => Duration::ZERO,
    }
}

/// How the daemon learns that a monitor exited: its own child (reaped by tokio), or, after a
/// daemon restart, a pidfd for a process it did not start.
pub(super) enum Monitor {
    Child(tokio::process::Child),
    Pidfd(std::os::fd::OwnedFd),
}

impl Monitor {
    pub(super) async fn wait(self) {
        match self {
            Monitor::Child(mut c) => {
                let _ = c.wait().await;
            }
            // `AsyncFd::new` is deprecated for types whose descriptor can change under it; an
            // `OwnedFd` cannot, and `register` would need `unsafe`.
            #[allow(deprecated)]
            Monitor::Pidfd(fd) => match tokio::io::unix::AsyncFd::new(fd) {
                Ok(afd) => {
                    let _ = afd.readable().await;
                }
                Err(_) => loop {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                },
            },
        }
    }
}

impl ContainerService {
    /// Takes a stopped container's interfaces off its user-defined networks (their
    /// addresses and ports back to the pools).
    pub(super) async fn release_attachments(&self, rec: &super::ContainerRecord) {
        for a in rec.networks.values() {
            let Some(ep) = &a.endpoint else { continue };
            match self.user_networks.by_id(&a.network_id) {
                Some(network) => network.bridge.disconnect(&rec.id, ep).await,
                None => berth_network::netns::remove(&ep.netns),
            }
        }
    }

    /// Watches the monitor until it exits, then records the exit.
    pub(super) fn watch(self: &Arc<Self>, entry: Arc<Entry>, monitor: Monitor) {
        self.watch_health(entry.clone());
        let svc = self.clone();
        tokio::spawn(async move {
            monitor.wait().await;
            svc.on_exit(&entry, true).await;
        });
    }

    /// The container's monitor has exited: record how, clean up, tell, and restart if the
    /// policy says so.
    pub(super) async fn on_exit(self: &Arc<Self>, entry: &Arc<Entry>, apply_policy: bool) {
        let id = entry.snapshot().id;
        // Unmounts and file removals off the async threads, where they would hold up the
        // streams of other clients.
        let svc = self.clone();
        let cid = id.clone();
        let record = tokio::task::spawn_blocking(move || {
            let record = ExitRecord::read(&svc.paths.exit_file(&cid));
            let overlay = OverlayDirs::new(svc.paths.overlay(&cid));
            if let Err(e) = overlay.unmount() {
                tracing::warn!(container = %cid, error = %e, "unmounting root filesystem");
            }
            svc.remove_run_files(&cid);
            berth_network::netns::remove(&svc.paths.netns(&cid));
            record
        })
        .await
        .unwrap_or(None);
        let snapshot = entry.snapshot();
        if snapshot.networks.values().any(|a| a.endpoint.is_some()) {
            // Its names go first: the resolver lets go of its namespace.
            let svc = self.clone();
            let leaving = id.clone();
            let _ = tokio::task::spawn_blocking(move || svc.publish_names_without(Some(&leaving)))
                .await;
            self.release_attachments(&snapshot).await;
        }
        if let Some(ep) = snapshot.network.clone() {
            match &self.network {
                Some(network) => network.disconnect(&id, &ep).await,
                // Started on a bridge the daemon no longer runs with: unpinning the
                // namespace lets the kernel take the veth pair with it.
                None => berth_network::netns::remove(&ep.netns),
            }
        }
        let rec = match self.update(entry, |r| {
            r.network = None;
            for a in r.networks.values_mut() {
                a.endpoint = None;
                a.endpoint_id.clear();
            }
            let (code, finished, error) = match &record {
                Some(x) => (x.exit_code, x.finished_at.clone(), String::new()),
                None => (
                    255,
                    now(),
                    "container monitor exited without recording an exit code".to_string(),
                ),
            };
            r.state.status = Status::Exited;
            r.state.pid = 0;
            r.state.monitor_pid = 0;
            r.state.exit_code = code;
            r.state.finished_at = finished;
            r.state.oom_killed = record.as_ref().is_some_and(|x| x.oom_killed);
            r.state.error = error;
            r.state.sandbox_id.clear();
            r.state.endpoint_id.clear();
        }) {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(container = %id, error = %e, "recording container exit");
                return;
            }
        };
        if rec.state.oom_killed {
            self.publish(&rec, "oom", &[]);
        }
        self.publish(
            &rec,
            "die",
            &[("exitCode", rec.state.exit_code.to_string())],
        );
        self.publish_left(&snapshot);
        if snapshot.networks.values().any(|a| a.endpoint.is_some()) {
            // Again now that the record has no endpoints: a table published by another
            // container between the first publication and here still named this one.
            let svc = self.clone();
            let _ = tokio::task::spawn_blocking(move || svc.publish_names()).await;
        }
        if rec.spec.host.auto_remove && !entry.restarting.load(Ordering::SeqCst) {
            // `--rm` on the daemon's side (API 1.25): the container and its anonymous volumes
            // go as soon as it exits; waits on `removed` end with the removal.
            let svc = self.clone();
            tokio::spawn(async move { svc.auto_remove(&rec.id).await });
            return;
        }
        if apply_policy && self.should_restart(&rec) {
            let svc = self.clone();
            let entry = entry.clone();
            let delay = {
                let mut last = entry.restart_delay.lock().expect("lock");
                let ran_for = run_length(&rec.state.started_at, &rec.state.finished_at);
                let delay = next_restart_delay(*last, ran_for);
                *last = Some(delay);
                delay
            };
            let _ = self.update(&entry, |r| r.state.status = Status::Restarting);
            tokio::spawn(async move {
                tokio::time::sleep(delay).await;
                let _op = entry.op.lock().await;
                let current = entry.snapshot();
                if current.state.status != Status::Restarting || current.state.stopped_by_user {
                    return;
                }
                let _ = svc.update(&entry, |r| r.restart_count += 1);
                if let Err(e) = svc.start_locked(&entry).await {
                    tracing::warn!(container = %current.id, error = %e, "restart failed");
                }
            });
        }
    }

    pub(super) fn should_restart(&self, rec: &ContainerRecord) -> bool {
        if rec.state.stopped_by_user || !self.containers.read().expect("lock").contains_key(&rec.id)
        {
            return false;
        }
        rec.spec
            .host
            .restart_policy
            .unwrap_or_default()
            .restarts_after(rec.state.exit_code, rec.restart_count)
    }

    pub(super) async fn wait_entry(&self, entry: &Entry, timeout: Option<Duration>) -> Option<i32> {
        let mut rx = entry.changed.subscribe();
        // A timeout too long to reach (`stop?t=` near i64::MAX) is no deadline at all.
        let deadline = timeout.and_then(|t| tokio::time::Instant::now().checked_add(t));
        loop {
            let rec = entry.snapshot();
            if !rec.state.status.is_active() {
                return Some(rec.state.exit_code);
            }
            match deadline {
                Some(d) => {
                    if tokio::time::timeout_at(d, rx.changed()).await.is_err() {
                        return None;
                    }
                }
                None => {
                    if rx.changed().await.is_err() {
                        return None;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restart_delay_doubles_to_a_minute_and_starts_over_after_a_long_run() {
        let short = Duration::from_secs(1);
        let mut delay = next_restart_delay(None, short);
        assert_eq!(delay, Duration::from_millis(100));
        let mut seen = vec![delay];
        for _ in 0..12 {
            delay = next_restart_delay(Some(delay), short);
            seen.push(delay);
        }
        assert_eq!(seen[1..4], [200, 400, 800].map(Duration::from_millis));
        assert_eq!(*seen.last().unwrap(), Duration::from_secs(60), "capped");
        assert_eq!(
            next_restart_delay(Some(delay), Duration::from_secs(10)),
            Duration::from_millis(100),
            "a run of 10 s starts over"
        );
        assert_eq!(
            run_length("2026-01-01T00:00:00.5Z", "2026-01-01T00:00:12Z"),
            Duration::from_millis(11_500)
        );
        assert_eq!(
            run_length("0001-01-01T00:00:00Z", "nonsense"),
            Duration::ZERO
        );
    }
}
