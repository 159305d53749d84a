//! Healthchecks: while a container with a healthcheck runs, its probe runs through the exec
//! path every interval; the results add up to `starting`, `healthy` or `unhealthy` in the
//! record (`State.Health`), and each change is a `health_status: …` event, as in Docker.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio::io::AsyncReadExt;

use super::create::now;
use super::exec::ExecConfig;
use super::record::Status;
use super::spec::Healthcheck;
use super::{ContainerService, Entry};

/// Docker's defaults for what a healthcheck leaves at zero.
const DEFAULT_INTERVAL: Duration = Duration::from_secs(30);
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
const DEFAULT_START_INTERVAL: Duration = Duration::from_secs(5);
const DEFAULT_RETRIES: u32 = 3;
/// How many results `State.Health.Log` keeps, and how much output each keeps.
const KEPT_RESULTS: usize = 5;
const MAX_OUTPUT: usize = 4096;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HealthStatus {
    Starting,
    Healthy,
    Unhealthy,
}

impl HealthStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            HealthStatus::Starting => "starting",
            HealthStatus::Healthy => "healthy",
            HealthStatus::Unhealthy => "unhealthy",
        }
    }
}

/// One probe: when it ran, its exit code (-1 when it timed out or could not run) and the
/// start of its output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthResult {
    pub start: String,
    pub end: String,
    pub exit_code: i32,
    pub output: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    pub status: HealthStatus,
    pub failing_streak: u32,
    pub log: Vec<HealthResult>,
}

/// The timings of a healthcheck with Docker's defaults filled in.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Timing {
    interval: Duration,
    timeout: Duration,
    start_period: Duration,
    start_interval: Duration,
    retries: u32,
}

fn nanos_or(n: i64, default: Duration) -> Duration {
    u64::try_from(n)
        .ok()
        .filter(|n| *n > 0)
        .map_or(default, Duration::from_nanos)
}

impl Timing {
    fn of(h: &Healthcheck) -> Self {
        Timing {
            interval: nanos_or(h.interval, DEFAULT_INTERVAL),
            timeout: nanos_or(h.timeout, DEFAULT_TIMEOUT),
            start_period: nanos_or(h.start_period, Duration::ZERO),
            start_interval: nanos_or(h.start_interval, DEFAULT_START_INTERVAL),
            retries: u32::try_from(h.retries)
                .ok()
                .filter(|r| *r > 0)
                .unwrap_or(DEFAULT_RETRIES),
        }
    }
}

impl Health {
    fn starting() -> Self {
        Health {
            status: HealthStatus::Starting,
            failing_streak: 0,
            log: Vec::new(),
        }
    }

    /// Adds a result as Docker counts it: a success makes the container healthy; a failure
    /// in the start period does not count; `retries` failures in a row make it unhealthy.
    fn record(&mut self, result: HealthResult, in_start_period: bool, retries: u32) {
        if result.exit_code == 0 {
            self.failing_streak = 0;
            self.status = HealthStatus::Healthy;
        } else if !(in_start_period && self.status == HealthStatus::Starting) {
            self.failing_streak += 1;
            if self.failing_streak >= retries {
                self.status = HealthStatus::Unhealthy;
            }
        }
        self.log.push(result);
        if self.log.len() > KEPT_RESULTS {
            self.log.remove(0);
        }
    }
}

impl ContainerService {
    /// Runs the container's healthcheck for as long as this run of it lasts.
    pub(super) fn watch_health(self: &Arc<Self>, entry: Arc<Entry>) {
        let rec = entry.snapshot();
        let Some(check) = rec.spec.config.healthcheck.clone() else {
            return;
        };
        let Some(command) = check.probe_command(rec.spec.config.shell.as_deref()) else {
            return;
        };
        let run = rec.state.started_at.clone();
        let timing = Timing::of(&check);
        let svc = self.clone();
        tokio::spawn(async move {
            // A daemon that comes back to a running container carries on its findings.
            if rec.state.health.is_none()
                && svc
                    .update(&entry, |r| r.state.health = Some(Health::starting()))
                    .is_err()
            {
                return;
            }
            let started = Instant::now();
            let mut changed = entry.changed.subscribe();
            loop {
                let in_start_period = started.elapsed() < timing.start_period;
                let starting = entry.peek(|r| r.state.health.as_ref().map(|h| h.status))
                    == Some(HealthStatus::Starting);
                let wait = if in_start_period && starting {
                    timing.start_interval
                } else {
                    timing.interval
                };
                let deadline = tokio::time::Instant::now() + wait;
                // Wake early only to notice the run ended.
                loop {
                    let ended =
                        entry.peek(|r| r.state.started_at != run || !r.state.status.is_active());
                    if ended {
                        return;
                    }
                    match tokio::time::timeout_at(deadline, changed.changed()).await {
                        Err(_) => break,
                        Ok(Err(_)) => return,
                        Ok(Ok(())) => {}
                    }
                }
                let (id, paused) = entry.peek(|r| (r.id.clone(), r.state.status == Status::Paused));
                if paused {
                    continue;
                }
                let result = svc.probe(&id, &command, timing.timeout).await;
                let in_start_period = started.elapsed() < timing.start_period;
                // Kept in memory; written out (without a sync) when the status changes. The
                // results of a probe a second are not worth a disk write each.
                let outcome = svc.update_in_memory(&entry, |r| {
                    if r.state.started_at != run {
                        return None;
                    }
                    let health = r.state.health.get_or_insert_with(Health::starting);
                    let before = health.status;
                    health.record(result, in_start_period, timing.retries);
                    Some((before, health.status))
                });
                if let Some((_, after)) = outcome.filter(|(before, after)| before != after) {
                    let Ok(rec) = svc.rewrite(&entry, false, |_| {}) else {
                        return;
                    };
                    entry.changed.send_modify(|n| *n += 1);
                    svc.publish(&rec, &format!("health_status: {}", after.as_str()), &[]);
                }
            }
        });
    }

    /// One probe through the exec path: its exit code and output, or -1 and Docker's
    /// message when it outlives `timeout` (it is killed then).
    async fn probe(
        self: &Arc<Self>,
        container: &str,
        command: &[String],
        timeout: Duration,
    ) -> HealthResult {
        let start = now();
        let failed = |output: String| HealthResult {
            start: start.clone(),
            end: now(),
            exit_code: -1,
            output,
        };
        let cfg = ExecConfig {
            cmd: command.to_vec(),
            attach_stdout: true,
            attach_stderr: true,
            ..Default::default()
        };
        // One stream, as Docker keeps a probe's output in one buffer.
        let id = match self.create_exec(container, cfg, true) {
            Ok(id) => id,
            Err(e) => return failed(e.to_string()),
        };
        let io = match self.exec_start(&id, None).await {
            Ok(io) => io,
            Err(e) => {
                self.forget_exec(&id);
                return failed(e.to_string());
            }
        };
        let read = async move {
            let mut out = Vec::new();
            let mut stdout = io.stdout;
            let _ = stdout.read_to_end(&mut out).await;
            (out, io.done.await.unwrap_or(-1))
        };
        let result = match tokio::time::timeout(timeout, read).await {
            Ok((mut output, code)) => {
                output.truncate(MAX_OUTPUT);
                HealthResult {
                    start,
                    end: now(),
                    exit_code: code,
                    output: String::from_utf8_lossy(&output).into_owned(),
                }
            }
            Err(_) => {
                if let Ok((exec, _)) = self.exec_inspect(&id) {
                    if exec.pid > 0 {
                        let _ = super::procs::send_signal(exec.pid, 9);
                    }
                }
                failed(format!(
                    "Health check exceeded timeout ({})",
                    berth_gofmt::duration(timeout.as_nanos() as i64)
                ))
            }
        };
        // Probes are not the user's execs: they are not kept for inspection.
        self.forget_exec(&id);
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(code: i32) -> HealthResult {
        HealthResult {
            start: String::new(),
            end: String::new(),
            exit_code: code,
            output: String::new(),
        }
    }

    #[test]
    fn results_add_up_as_docker_counts_them() {
        let mut h = Health::starting();
        // Failures in the start period do not count while it is starting.
        h.record(result(1), true, 3);
        assert_eq!((h.status, h.failing_streak), (HealthStatus::Starting, 0));
        h.record(result(0), true, 3);
        assert_eq!(h.status, HealthStatus::Healthy);
        // Once healthy, failures count even in the start period.
        h.record(result(1), true, 3);
        h.record(result(1), false, 3);
        assert_eq!((h.status, h.failing_streak), (HealthStatus::Healthy, 2));
        h.record(result(1), false, 3);
        assert_eq!((h.status, h.failing_streak), (HealthStatus::Unhealthy, 3));
        h.record(result(0), false, 3);
        assert_eq!((h.status, h.failing_streak), (HealthStatus::Healthy, 0));
        for _ in 0..10 {
            h.record(result(0), false, 3);
        }
        assert_eq!(h.log.len(), KEPT_RESULTS);
    }

    #[test]
    fn defaults_and_go_durations() {
        let t = Timing::of(&Healthcheck::default());
        assert_eq!(
            (t.interval, t.timeout, t.start_interval, t.retries),
            (DEFAULT_INTERVAL, DEFAULT_TIMEOUT, DEFAULT_START_INTERVAL, 3)
        );
        assert_eq!(
            berth_gofmt::duration(Duration::from_secs(30).as_nanos() as i64),
            "30s"
        );
        assert_eq!(
            berth_gofmt::duration(Duration::from_millis(1500).as_nanos() as i64),
            "1.5s"
        );
        assert_eq!(
            berth_gofmt::duration(Duration::from_millis(100).as_nanos() as i64),
            "100ms"
        );
    }

    #[test]
    fn probe_commands() {
        let check = |test: &[&str]| Healthcheck {
            test: test.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        };
        assert_eq!(check(&["NONE"]).probe_command(None), None);
        assert_eq!(check(&[]).probe_command(None), None);
        assert_eq!(
            check(&["CMD-SHELL", "test -f /ok"])
                .probe_command(None)
                .unwrap(),
            ["/bin/sh", "-c", "test -f /ok"]
        );
        assert_eq!(
            check(&["CMD", "true"]).probe_command(None).unwrap(),
            ["true"]
        );
        // A SHELL the image set runs CMD-SHELL probes, as Docker's getShell.
        let ash = ["/bin/ash".to_string(), "-eo".to_string()];
        assert_eq!(
            check(&["CMD-SHELL", "true"])
                .probe_command(Some(&ash))
                .unwrap(),
            ["/bin/ash", "-eo", "true"]
        );
        assert!(check(&["SHELL", "x"]).validate().is_err());
        let fast = Healthcheck {
            interval: 1000,
            ..check(&["CMD", "true"])
        };
        assert!(fast.validate().is_err());
    }
}
