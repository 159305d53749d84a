//! A container as the engine keeps it: its spec and its state, persisted per container as
//! `record.json` in berth's own schema (not the wire format). [`RECORD_SCHEMA`] numbers the
//! schema; older records are read by `record_v1` and rewritten in this one.

use serde::{Deserialize, Serialize};

use super::spec::ContainerSpec;
use crate::error::EngineError;

/// The schema [`ContainerRecord`] is written in.
pub const RECORD_SCHEMA: u32 = 2;

/// Where a container is in its life. One value, not a set of booleans.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Created,
    Running,
    Paused,
    Restarting,
    Exited,
    Dead,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Restarting => "restarting",
            Status::Exited => "exited",
            Status::Dead => "dead",
        }
    }

    /// The status a name names (`running`, `exited`, …).
    pub fn from_name(name: &str) -> Option<Status> {
        [
            Status::Created,
            Status::Running,
            Status::Paused,
            Status::Restarting,
            Status::Exited,
            Status::Dead,
        ]
        .into_iter()
        .find(|s| s.as_str() == name)
    }

    /// Running in Docker's sense: the process exists (also while paused).
    pub fn is_running(self) -> bool {
        matches!(self, Status::Running | Status::Paused)
    }

    /// Running, paused, or about to run again under its restart policy: not at rest.
    pub fn is_active(self) -> bool {
        self.is_running() || self == Status::Restarting
    }

    /// Whether a start may go ahead: a running (or restarting) container is not modified, a
    /// paused one is a conflict.
    pub(crate) fn check_start(self) -> Result<(), EngineError> {
        match self {
            Status::Running | Status::Restarting => Err(EngineError::NotModified),
            Status::Paused => Err(EngineError::Conflict(
                "cannot start a paused container, try unpause instead".into(),
            )),
            Status::Created | Status::Exited | Status::Dead => Ok(()),
        }
    }

    /// Whether a pause (`pause`) or an unpause (`!pause`) of container `id` may go ahead.
    pub(crate) fn check_pause(self, pause: bool, id: &str) -> Result<(), EngineError> {
        let conflict = |what: &str| Err(EngineError::Conflict(format!("Container {id} {what}")));
        match (self, pause) {
            (Status::Running, true) | (Status::Paused, false) => Ok(()),
            (Status::Paused, true) => conflict("is already paused"),
            (Status::Running, false) => conflict("is not paused"),
            _ => conflict("is not running"),
        }
    }

    /// For what needs the container's processes (kill, top): a conflict when it has none.
    pub(crate) fn check_running(self, id: &str) -> Result<(), EngineError> {
        if self.is_running() {
            Ok(())
        } else {
            Err(EngineError::Conflict(format!(
                "Container {id} is not running"
            )))
        }
    }

    /// Whether container `id` may be removed: an active one only with `force`.
    pub(crate) fn check_remove(self, force: bool, id: &str) -> Result<(), EngineError> {
        if self.is_active() && !force {
            return Err(EngineError::Conflict(format!(
                "You cannot remove a running container {id}. Stop the container before attempting removal or force remove"
            )));
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    pub status: Status,
    pub pid: i32,
    /// The monitor process and its start time (to tell it from a reused PID).
    pub monitor_pid: i32,
    pub monitor_start: u64,
    pub exit_code: i32,
    pub error: String,
    pub oom_killed: bool,
    pub started_at: String,
    pub finished_at: String,
    /// Stopped by the user: restart policies leave it alone.
    pub stopped_by_user: bool,
    /// The healthcheck's findings, for a container that has one and has run.
    #[serde(default)]
    pub health: Option<super::health::Health>,
    /// This run's network sandbox and its endpoint (`SandboxID`, `EndpointID`), made at each
    /// start and dropped at the exit, as Docker's are; empty for `container:` networking.
    #[serde(default)]
    pub sandbox_id: String,
    #[serde(default)]
    pub endpoint_id: String,
}

impl Default for State {
    fn default() -> Self {
        State {
            status: Status::Created,
            pid: 0,
            monitor_pid: 0,
            monitor_start: 0,
            exit_code: 0,
            error: String::new(),
            oom_killed: false,
            started_at: ZERO_TIME.to_string(),
            finished_at: ZERO_TIME.to_string(),
            stopped_by_user: false,
            health: None,
            sandbox_id: String::new(),
            endpoint_id: String::new(),
        }
    }
}

/// Docker's zero time.
pub const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ContainerRecord {
    pub schema: u32,
    pub id: String,
    /// With the leading slash, as Docker shows it.
    pub name: String,
    pub created: String,
    pub image_id: String,
    pub path: String,
    pub args: Vec<String>,
    pub spec: ContainerSpec,
    pub state: State,
    pub restart_count: i64,
    /// Binds and volumes, decided at create.
    #[serde(default)]
    pub mounts: Vec<super::volumes::MountPoint>,
    /// Its place on the bridge while it runs (kept so a restarted daemon can take it back
    /// or clean it up).
    #[serde(default)]
    pub network: Option<berth_network::Endpoint>,
    /// Its user-defined networks, by name: the one `NetworkMode` names and those connected
    /// since, each with what was asked for it and, while it runs, its endpoint.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub networks: std::collections::BTreeMap<String, Attachment>,
}

/// A container's place on a user-defined network.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Attachment {
    pub network_id: String,
    pub aliases: Vec<String>,
    /// A static address asked for (`--ip`).
    pub ipv4: Option<std::net::Ipv4Addr>,
    pub mac: Option<String>,
    pub links: Vec<String>,
    /// While it runs: this run's endpoint ID and its interface.
    pub endpoint_id: String,
    pub endpoint: Option<berth_network::Endpoint>,
}

impl ContainerRecord {
    /// Reads a record in this schema or an older one.
    pub fn from_json(data: &[u8]) -> Result<Self, EngineError> {
        #[derive(Deserialize)]
        struct Versioned {
            schema: u32,
        }
        let bad = |e: serde_json::Error| EngineError::failed("read container record", e);
        match serde_json::from_slice::<Versioned>(data)
            .map_err(bad)?
            .schema
        {
            1 => Ok(serde_json::from_slice::<super::record_v1::RecordV1>(data)
                .map_err(bad)?
                .migrate()),
            RECORD_SCHEMA => serde_json::from_slice(data).map_err(bad),
            other => Err(EngineError::Internal(format!(
                "container record schema {other} is newer than this berthd knows ({RECORD_SCHEMA})"
            ))),
        }
    }

    pub fn short_id(&self) -> &str {
        &self.id[..12]
    }

    /// The name without the leading slash.
    pub fn bare_name(&self) -> &str {
        self.name.trim_start_matches('/')
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What each guard answers in each state: `ok`, `304` (not modified) or `409` (conflict).
    #[test]
    fn status_guards_as_docker_answers() {
        fn code(r: Result<(), EngineError>) -> &'static str {
            match r {
                Ok(()) => "ok",
                Err(EngineError::NotModified) => "304",
                Err(EngineError::Conflict(_)) => "409",
                Err(e) => panic!("unexpected {e}"),
            }
        }
        use Status::*;
        // state: start, pause, unpause, kill/top, rm, rm -f
        let table = [
            (Created, ["ok", "409", "409", "409", "ok", "ok"]),
            (Running, ["304", "ok", "409", "ok", "409", "ok"]),
            (Paused, ["409", "409", "ok", "ok", "409", "ok"]),
            (Restarting, ["304", "409", "409", "409", "409", "ok"]),
            (Exited, ["ok", "409", "409", "409", "ok", "ok"]),
            (Dead, ["ok", "409", "409", "409", "ok", "ok"]),
        ];
        for (status, want) in table {
            let got = [
                code(status.check_start()),
                code(status.check_pause(true, "c")),
                code(status.check_pause(false, "c")),
                code(status.check_running("c")),
                code(status.check_remove(false, "c")),
                code(status.check_remove(true, "c")),
            ];
            assert_eq!(got, want, "{status:?}");
        }
        assert!(matches!(
            Paused.check_pause(true, "c"),
            Err(EngineError::Conflict(m)) if m == "Container c is already paused"
        ));
    }
}
