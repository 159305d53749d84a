//! `docker update`: new resource limits and restart policy, kept in the record (so the next
//! start uses them) and applied at once to the cgroups of a container that runs.

use super::record::Status;
use super::settings;
use super::spec::{HostConfig, RestartPolicy};
use super::ContainerService;
use crate::error::EngineError;

/// What to change; zero, empty or `None` leaves a setting as it is (as in Docker's API).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResourceUpdate {
    pub memory: i64,
    pub memory_swap: i64,
    pub memory_reservation: i64,
    pub cpu_shares: i64,
    pub cpuset_cpus: String,
    pub cpuset_mems: String,
    pub nano_cpus: i64,
    pub cpu_period: i64,
    pub cpu_quota: i64,
    pub pids_limit: Option<i64>,
    pub restart_policy: Option<RestartPolicy>,
}

/// `hc` with `u` applied, refused where Docker refuses the combination.
fn merged(hc: &HostConfig, u: &ResourceUpdate) -> Result<HostConfig, EngineError> {
    let conflict = |m: &str| Err(EngineError::Conflict(m.to_string()));
    // `--cpus` sets period and quota: once one way is used, the other cannot be updated.
    if u.nano_cpus > 0 && hc.cpu_period > 0 {
        return conflict(
            "Conflicting options: Nano CPUs cannot be updated as CPU Period has already been set",
        );
    }
    if u.nano_cpus > 0 && hc.cpu_quota > 0 {
        return conflict(
            "Conflicting options: Nano CPUs cannot be updated as CPU Quota has already been set",
        );
    }
    if u.cpu_period > 0 && hc.nano_cpus > 0 {
        return conflict(
            "Conflicting options: CPU Period cannot be updated as NanoCPUs has already been set",
        );
    }
    if u.cpu_quota > 0 && hc.nano_cpus > 0 {
        return conflict(
            "Conflicting options: CPU Quota cannot be updated as NanoCPUs has already been set",
        );
    }
    let mut new = hc.clone();
    for (mine, theirs) in [
        (&mut new.cpu_shares, u.cpu_shares),
        (&mut new.nano_cpus, u.nano_cpus),
        (&mut new.cpu_period, u.cpu_period),
        (&mut new.cpu_quota, u.cpu_quota),
        (&mut new.memory_reservation, u.memory_reservation),
    ] {
        if theirs != 0 {
            *mine = theirs;
        }
    }
    if !u.cpuset_cpus.is_empty() {
        new.cpuset_cpus = u.cpuset_cpus.clone();
    }
    if !u.cpuset_mems.is_empty() {
        new.cpuset_mems = u.cpuset_mems.clone();
    }
    if u.pids_limit.is_some() {
        new.pids_limit = u.pids_limit;
    }
    if u.memory != 0 {
        // The swap limit in force: Docker records twice the memory when none was given.
        let swap = match (hc.memory, hc.memory_swap) {
            (m, 0) if m > 0 => 2 * m,
            (_, s) => s,
        };
        if u.memory > swap && u.memory_swap == 0 {
            return conflict("Memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time");
        }
        if hc.memory_swap == 0 && hc.memory > 0 {
            new.memory_swap = swap;
        }
        new.memory = u.memory;
    }
    if u.memory_swap != 0 {
        new.memory_swap = u.memory_swap;
    }
    if let Some(policy) = u.restart_policy {
        if hc.auto_remove && policy != RestartPolicy::No {
            return conflict(
                "Restart policy cannot be updated because AutoRemove is enabled for the container",
            );
        }
        new.restart_policy = Some(policy);
    }
    Ok(new)
}

impl ContainerService {
    pub async fn update_resources(
        &self,
        name: &str,
        u: &ResourceUpdate,
    ) -> Result<(), EngineError> {
        let entry = self.entry(name)?;
        let _op = entry.op.lock().await;
        let rec = entry.snapshot();
        let cannot = |e: EngineError| {
            let message = format!("Cannot update container {}: {e}", rec.id);
            match e {
                EngineError::Conflict(_) => EngineError::Conflict(message),
                EngineError::InvalidParameter(_) => EngineError::InvalidParameter(message),
                _ => EngineError::Internal(message),
            }
        };
        if rec.state.status == Status::Dead {
            return Err(cannot(EngineError::Conflict(
                "container is marked for removal and cannot be \"update\"".into(),
            )));
        }
        let new = merged(&rec.spec.host, u).map_err(cannot)?;
        let resources = settings::resources(&new)?;
        let old = rec.spec.host.clone();
        self.update(&entry, |r| r.spec.host = new)?;
        if matches!(rec.state.status, Status::Running | Status::Paused) {
            let cgroup = settings::cgroup_path(&rec);
            let applied = tokio::task::spawn_blocking(move || {
                berth_runtime::cgroups::update(&cgroup, &resources)
            })
            .await?;
            if let Err(e) = applied {
                // The record keeps what the container runs with.
                self.update(&entry, |r| r.spec.host = old)?;
                return Err(cannot(EngineError::Internal(e)));
            }
        }
        self.publish(&entry.snapshot(), "update", &[]);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MB: i64 = 1024 * 1024;

    #[test]
    fn memory_is_checked_against_the_swap_limit_in_force() {
        let limited = HostConfig {
            memory: 300 * MB,
            ..Default::default()
        };
        let raise = |memory, memory_swap| ResourceUpdate {
            memory,
            memory_swap,
            ..Default::default()
        };
        // Within twice the old memory: allowed, and the old swap limit is kept.
        let hc = merged(&limited, &raise(500 * MB, 0)).unwrap();
        assert_eq!((hc.memory, hc.memory_swap), (500 * MB, 600 * MB));
        // Above it: Docker's conflict, unless the swap limit moves too.
        assert!(matches!(
            merged(&limited, &raise(800 * MB, 0)),
            Err(EngineError::Conflict(m)) if m.contains("memoryswap")
        ));
        let hc = merged(&limited, &raise(800 * MB, 1000 * MB)).unwrap();
        assert_eq!((hc.memory, hc.memory_swap), (800 * MB, 1000 * MB));
        // No limit before: no swap limit either, so memory alone conflicts, as in Docker.
        assert!(merged(&HostConfig::default(), &raise(64 * MB, 0)).is_err());
        assert!(merged(&HostConfig::default(), &raise(64 * MB, -1)).is_ok());
    }

    #[test]
    fn zero_leaves_a_setting_and_auto_remove_keeps_its_policy() {
        let hc = HostConfig {
            cpu_shares: 512,
            auto_remove: true,
            ..Default::default()
        };
        let same = merged(&hc, &ResourceUpdate::default()).unwrap();
        assert_eq!(same, hc);
        let policy = ResourceUpdate {
            restart_policy: Some(RestartPolicy::Always),
            ..Default::default()
        };
        assert!(matches!(
            merged(&hc, &policy),
            Err(EngineError::Conflict(_))
        ));
    }
}
