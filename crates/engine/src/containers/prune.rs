//! `docker container prune`: removes every container that is not running and matches the
//! filters, and reports the space their writable layers took.

use std::collections::BTreeMap;

use super::list::dir_size;
use super::ContainerService;
use crate::events::EventKind;
use crate::prune::PruneFilters;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PruneReport {
    /// IDs, in the order they were removed.
    pub deleted: Vec<String>,
    /// Bytes of writable layers freed.
    pub reclaimed: u64,
}

impl ContainerService {
    pub async fn prune(&self, o: &PruneFilters) -> PruneReport {
        let mut report = PruneReport::default();
        for rec in self.list() {
            let created = rec
                .created
                .parse::<jiff::Timestamp>()
                .map_or(0, |t| t.as_nanosecond() as i64);
            // Docker prunes what is not running: created, exited and dead containers.
            let labels = rec.spec.config.labels.as_ref();
            if rec.state.status.is_active()
                || !o.matches(created, |k| {
                    labels.and_then(|l| l.get(k)).map(String::as_str)
                })
            {
                continue;
            }
            let upper = self.paths.overlay(&rec.id).join("upper");
            let size = tokio::task::spawn_blocking(move || dir_size(&upper))
                .await
                .unwrap_or(0);
            // A container started or removed meanwhile is left out, as Docker skips it.
            match self.remove(&rec.id, false, false).await {
                Ok(()) => {
                    report.deleted.push(rec.id.clone());
                    report.reclaimed += size.max(0) as u64;
                }
                Err(e) => tracing::debug!(container = %rec.id, error = %e, "prune skipped"),
            }
        }
        self.events.publish(
            EventKind::Container,
            "prune",
            "",
            BTreeMap::from([("reclaimed".to_string(), report.reclaimed.to_string())]),
        );
        report
    }
}
