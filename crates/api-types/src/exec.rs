//! Exec: `POST /containers/(id)/exec`, `POST /exec/(id)/start`, `GET /exec/(id)/json`.

use serde::{Deserialize, Serialize};

use crate::container::{str_or_list, ContainerInspect};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ExecCreateBody {
    pub attach_stdin: bool,
    pub attach_stdout: bool,
    pub attach_stderr: bool,
    pub tty: bool,
    #[serde(deserialize_with = "str_or_list")]
    pub cmd: Option<Vec<String>>,
    pub user: String,
    pub privileged: bool,
    pub env: Option<Vec<String>>,
    pub working_dir: String,
    pub detach: bool,
    /// The terminal's first size, `[height, width]` (API 1.42).
    pub console_size: Option<[u64; 2]>,
    /// Keys that detach from the exec (`ctrl-p,ctrl-q` unless given).
    pub detach_keys: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ExecStartBody {
    pub detach: bool,
    pub tty: bool,
    /// The terminal's first size, over the one given at create (API 1.42).
    pub console_size: Option<[u64; 2]>,
}

/// A `[height, width]` size as the terminal takes it; `None` for zero or no size.
pub fn console_size(size: Option<[u64; 2]>) -> Option<(u16, u16)> {
    match size? {
        [0, 0] => None,
        [h, w] => Some((
            u16::try_from(h).unwrap_or(u16::MAX),
            u16::try_from(w).unwrap_or(u16::MAX),
        )),
    }
}

/// `ProcessConfig` of exec inspect (lower-case keys, as the 1.18 doc shows).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessConfig {
    pub privileged: bool,
    pub user: String,
    pub tty: bool,
    pub entrypoint: String,
    pub arguments: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ExecInspect {
    #[serde(rename = "ID")]
    pub id: String,
    pub running: bool,
    pub exit_code: Option<i64>,
    pub process_config: ProcessConfig,
    pub open_stdin: bool,
    pub open_stderr: bool,
    pub open_stdout: bool,
    pub container: ContainerInspect,
    #[serde(rename = "ContainerID")]
    pub container_id: String,
    pub pid: i64,
    /// It has ended and is no longer part of its container: the next sweep forgets it.
    pub can_remove: bool,
    pub detach_keys: String,
}
