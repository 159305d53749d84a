//! A container as the engine keeps it: its configuration and its state, persisted per
//! container as `config.v1.json` (berth's own schema, not the wire format).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::EngineError;

/// The portable configuration (Docker's `Config`), after merging with the image's.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Config {
    pub hostname: String,
    pub domainname: String,
    pub user: String,
    pub attach_stdin: bool,
    pub attach_stdout: bool,
    pub attach_stderr: bool,
    pub exposed_ports: Option<BTreeMap<String, serde_json::Value>>,
    pub tty: bool,
    pub open_stdin: bool,
    pub stdin_once: bool,
    pub env: Option<Vec<String>>,
    pub cmd: Option<Vec<String>>,
    pub image: String,
    pub volumes: Option<BTreeMap<String, serde_json::Value>>,
    pub working_dir: String,
    pub entrypoint: Option<Vec<String>>,
    pub network_disabled: bool,
    pub mac_address: String,
    pub on_build: Option<Vec<String>>,
    pub labels: Option<BTreeMap<String, String>>,
    pub stop_signal: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct RestartPolicy {
    pub name: String,
    pub maximum_retry_count: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct LogConfig {
    #[serde(rename = "Type")]
    pub kind: String,
    pub config: Option<BTreeMap<String, String>>,
}

/// Host-specific settings (Docker's `HostConfig`). Fields later work gives effect to are kept
/// as given, so inspect shows them back.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct HostConfig {
    pub binds: Option<Vec<String>>,
    #[serde(rename = "ContainerIDFile")]
    pub container_id_file: String,
    pub lxc_conf: Option<serde_json::Value>,
    pub memory: i64,
    pub memory_swap: i64,
    pub cpu_shares: i64,
    pub cpuset_cpus: String,
    pub privileged: bool,
    pub port_bindings: Option<serde_json::Value>,
    pub links: Option<Vec<String>>,
    pub publish_all_ports: bool,
    pub dns: Option<Vec<String>>,
    pub dns_search: Option<Vec<String>>,
    pub extra_hosts: Option<Vec<String>>,
    pub volumes_from: Option<Vec<String>>,
    pub devices: Option<serde_json::Value>,
    pub network_mode: String,
    pub ipc_mode: String,
    pub pid_mode: String,
    pub cap_add: Option<Vec<String>>,
    pub cap_drop: Option<Vec<String>>,
    pub restart_policy: RestartPolicy,
    pub security_opt: Option<Vec<String>>,
    pub readonly_rootfs: bool,
    pub ulimits: Option<serde_json::Value>,
    pub log_config: LogConfig,
    pub cgroup_parent: String,
    pub auto_remove: bool,
}

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
        }
    }
}

/// Docker's zero time.
pub const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContainerRecord {
    pub schema: u32,
    pub id: String,
    /// With the leading slash, as Docker shows it.
    pub name: String,
    pub created: String,
    pub image_id: String,
    pub path: String,
    pub args: Vec<String>,
    pub config: Config,
    pub host_config: HostConfig,
    pub state: State,
    pub restart_count: i64,
    /// Binds and volumes, decided at create.
    #[serde(default)]
    pub mounts: Vec<super::volumes::MountPoint>,
    /// Its place on the bridge while it runs (kept so a restarted daemon can take it back
    /// or clean it up).
    #[serde(default)]
    pub network: Option<berth_network::Endpoint>,
}

impl ContainerRecord {
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
