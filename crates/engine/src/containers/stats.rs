//! Usage samples of a container.

use std::sync::Arc;
use std::time::Duration;

use super::create::now;
use super::record::{ContainerRecord, ZERO_TIME};
use super::settings;
use super::ContainerService;
use crate::error::EngineError;

/// A stats sample with the one before it (for rates) and their times.
#[derive(Debug, Clone)]
pub struct StatsPair {
    pub current: berth_runtime::stats::Sample,
    pub previous: berth_runtime::stats::Sample,
    pub read: String,
    pub preread: String,
}

/// How many samples a stats call answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatsMode {
    /// One a second until the container stops (the first without a previous sample).
    Stream,
    /// One, with a previous sample taken a second before, so CPU use can be computed.
    Once,
    /// One at once, without a previous sample (`one-shot`, API 1.41).
    OneShot,
}

impl ContainerService {
    /// Samples the container's usage once a second (or once, a second after a first sample,
    /// when not streaming) until it stops or the receiver is dropped. A container not running
    /// gets one empty sample.
    pub fn stats(
        self: &Arc<Self>,
        name: &str,
        mode: StatsMode,
    ) -> Result<tokio::sync::mpsc::Receiver<StatsPair>, EngineError> {
        let stream = mode == StatsMode::Stream;
        let entry = self.entry(name)?;
        let (tx, rx) = tokio::sync::mpsc::channel(2);
        tokio::spawn(async move {
            let fs = berth_runtime::stats::CgroupFs::default();
            let sample =
                |rec: &ContainerRecord| fs.sample(&settings::cgroup_path(rec), rec.state.pid);
            let rec = entry.snapshot();
            if !rec.state.status.is_running() {
                let _ = tx
                    .send(StatsPair {
                        current: Default::default(),
                        previous: Default::default(),
                        read: now(),
                        preread: ZERO_TIME.into(),
                    })
                    .await;
                return;
            }
            let waits = mode == StatsMode::Once;
            let mut previous = if waits {
                sample(&rec)
            } else {
                Default::default()
            };
            let mut preread = if waits { now() } else { ZERO_TIME.to_string() };
            if waits {
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            loop {
                let rec = entry.snapshot();
                if !rec.state.status.is_running() {
                    return;
                }
                let current = sample(&rec);
                let read = now();
                let pair = StatsPair {
                    current: current.clone(),
                    previous,
                    read: read.clone(),
                    preread,
                };
                if tx.send(pair).await.is_err() || !stream {
                    return;
                }
                previous = current;
                preread = read;
                let mut changes = entry.changed.subscribe();
                let _ = tokio::time::timeout(Duration::from_secs(1), async {
                    // Wake early only to notice the container stopping.
                    while changes.changed().await.is_ok() {
                        if !entry.snapshot().state.status.is_running() {
                            return;
                        }
                    }
                })
                .await;
            }
        });
        Ok(rx)
    }
}
