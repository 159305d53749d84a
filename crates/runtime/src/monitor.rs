//! The interface between the daemon and `berth-monitor`, the small per-container process that
//! creates and starts the container, holds its stdio, writes its log, and records how it
//! ended. The daemon can die and come back: the monitor and its records stay.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// How the daemon starts a monitor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MonitorArgs {
    pub id: String,
    /// The OCI bundle (holding `config.json`).
    pub bundle: PathBuf,
    /// libcontainer's state directory.
    pub runtime_root: PathBuf,
    pub log_path: PathBuf,
    /// Where the monitor writes the [`ExitRecord`].
    pub exit_file: PathBuf,
    pub log_max_size: Option<u64>,
    pub log_max_files: u32,
    /// Give the container a stdin pipe fed through this Unix socket (`OpenStdin`).
    pub stdin_socket: Option<PathBuf>,
    /// Close the container's stdin when the first client that wrote to it goes (`StdinOnce`).
    pub stdin_once: bool,
    /// Give the container a pseudo-terminal (`Tty`); resize requests (`ROWS COLS\n`) come
    /// through the Unix socket `resize_socket`.
    pub tty: bool,
    pub resize_socket: Option<PathBuf>,
    /// Where the daemon asks for execs ([`ExecRequest`]). The monitor listens from the start
    /// and, at the first request, forks the container's exec helper, which joins the
    /// container's namespaces and cgroups once and forks every exec from there.
    pub exec_socket: Option<PathBuf>,
    /// Where the monitor keeps its [`MonitorState`], so a daemon that died while it started
    /// the container still finds it.
    pub state_file: Option<PathBuf>,
}

impl MonitorArgs {
    pub fn to_args(&self) -> Vec<OsString> {
        let mut a: Vec<OsString> = vec![
            "--id".into(),
            self.id.clone().into(),
            "--bundle".into(),
            self.bundle.clone().into(),
            "--runtime-root".into(),
            self.runtime_root.clone().into(),
            "--log".into(),
            self.log_path.clone().into(),
            "--exit-file".into(),
            self.exit_file.clone().into(),
            "--log-max-files".into(),
            self.log_max_files.to_string().into(),
        ];
        if let Some(m) = self.log_max_size {
            a.push("--log-max-size".into());
            a.push(m.to_string().into());
        }
        if let Some(p) = &self.stdin_socket {
            a.push("--stdin-socket".into());
            a.push(p.clone().into());
        }
        if self.stdin_once {
            a.push("--stdin-once".into());
        }
        if self.tty {
            a.push("--tty".into());
        }
        if let Some(p) = &self.resize_socket {
            a.push("--resize-socket".into());
            a.push(p.clone().into());
        }
        if let Some(p) = &self.exec_socket {
            a.push("--exec-socket".into());
            a.push(p.clone().into());
        }
        if let Some(p) = &self.state_file {
            a.push("--state-file".into());
            a.push(p.clone().into());
        }
        a
    }

    pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Self, String> {
        let mut out = MonitorArgs {
            id: String::new(),
            bundle: PathBuf::new(),
            runtime_root: PathBuf::new(),
            log_path: PathBuf::new(),
            exit_file: PathBuf::new(),
            log_max_size: None,
            log_max_files: 1,
            stdin_socket: None,
            stdin_once: false,
            tty: false,
            resize_socket: None,
            exec_socket: None,
            state_file: None,
        };
        let mut it = args.into_iter();
        while let Some(flag) = it.next() {
            let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
            match flag.as_str() {
                "--id" => out.id = value()?,
                "--bundle" => out.bundle = value()?.into(),
                "--runtime-root" => out.runtime_root = value()?.into(),
                "--log" => out.log_path = value()?.into(),
                "--exit-file" => out.exit_file = value()?.into(),
                "--log-max-size" => {
                    out.log_max_size = Some(
                        value()?
                            .parse()
                            .map_err(|e| format!("--log-max-size: {e}"))?,
                    )
                }
                "--stdin-socket" => out.stdin_socket = Some(value()?.into()),
                "--stdin-once" => out.stdin_once = true,
                "--tty" => out.tty = true,
                "--resize-socket" => out.resize_socket = Some(value()?.into()),
                "--exec-socket" => out.exec_socket = Some(value()?.into()),
                "--state-file" => out.state_file = Some(value()?.into()),
                "--log-max-files" => {
                    out.log_max_files = value()?
                        .parse()
                        .map_err(|e| format!("--log-max-files: {e}"))?
                }
                other => return Err(format!("unknown argument {other}")),
            }
        }
        if out.id.is_empty()
            || out.bundle.as_os_str().is_empty()
            || out.exit_file.as_os_str().is_empty()
        {
            return Err("--id, --bundle and --exit-file are required".into());
        }
        Ok(out)
    }
}

/// The one line a monitor prints on stdout once the container started (or failed to).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StartReport {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// What a monitor says of itself while it lives, written (atomically) when it starts and
/// again once its container runs: the daemon's record of a start can lag behind (a daemon
/// killed between the two knows nothing of the container), this file cannot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MonitorState {
    pub pid: i32,
    /// The monitor's start time ([`process_start_time`]): with the PID, names it for good.
    pub start_time: u64,
    /// The container's init, once it runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_pid: Option<i32>,
}

impl MonitorState {
    pub fn read(path: &Path) -> Option<MonitorState> {
        serde_json::from_slice(&std::fs::read(path).ok()?).ok()
    }

    /// Atomic against a crash of either process (not a power loss, after which nothing the
    /// file speaks of is running anyway).
    pub fn write(&self, path: &Path) -> std::io::Result<()> {
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, serde_json::to_vec(self).expect("state serialises"))?;
        std::fs::rename(tmp, path)
    }

    /// Whether the monitor this file speaks of is still running.
    pub fn alive(&self) -> bool {
        process_start_time(self.pid) == Some(self.start_time)
    }
}

/// A process's start time in clock ticks since boot (field 22 of `/proc/PID/stat`); with the
/// PID it names one process for good.
pub fn process_start_time(pid: i32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command may contain spaces and parentheses: fields start after the last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    rest.split(' ').nth(19)?.parse().ok()
}

/// How a container ended, written atomically by its monitor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExitRecord {
    pub exit_code: i32,
    pub finished_at: String,
    #[serde(default)]
    pub oom_killed: bool,
}

impl ExitRecord {
    pub fn read(path: &Path) -> Option<ExitRecord> {
        serde_json::from_slice(&std::fs::read(path).ok()?).ok()
    }

    pub fn write(&self, path: &Path) -> std::io::Result<()> {
        let tmp = path.with_extension("tmp");
        std::fs::write(
            &tmp,
            serde_json::to_vec(self).expect("exit record serialises"),
        )?;
        std::fs::File::open(&tmp)?.sync_all()?;
        std::fs::rename(tmp, path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn args_roundtrip() {
        let a = MonitorArgs {
            id: "c1".into(),
            bundle: "/b".into(),
            runtime_root: "/r".into(),
            log_path: "/l".into(),
            exit_file: "/e".into(),
            log_max_size: Some(10),
            log_max_files: 3,
            stdin_socket: Some("/s".into()),
            stdin_once: true,
            tty: true,
            resize_socket: Some("/r".into()),
            exec_socket: Some("/x".into()),
            state_file: Some("/m".into()),
        };
        let strings = a.to_args().into_iter().map(|s| s.into_string().unwrap());
        assert_eq!(MonitorArgs::parse(strings).unwrap(), a);
        assert!(MonitorArgs::parse(["--bogus".to_string()]).is_err());
    }

    #[test]
    fn exit_record_roundtrip() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("exit.json");
        let r = ExitRecord {
            exit_code: 3,
            finished_at: "2024-01-01T00:00:00Z".into(),
            oom_killed: false,
        };
        r.write(&p).unwrap();
        assert_eq!(ExitRecord::read(&p), Some(r));
    }
}

/// One process to run in a running container, as the daemon asks the container's exec helper
/// for it: one JSON line on the helper's socket ([`MonitorArgs::exec_socket`]), sent with the
/// process's stdin, stdout and stderr unless it runs on a terminal, which the helper makes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecRequest {
    pub args: Vec<String>,
    pub env: Vec<String>,
    pub cwd: String,
    pub uid: u32,
    pub gid: u32,
    pub additional_gids: Vec<u32>,
    /// Capabilities to hold; `None` keeps the container's.
    pub capabilities: Option<Vec<String>>,
    #[serde(default)]
    pub tty: bool,
    /// The terminal's first size, `(height, width)`.
    #[serde(default)]
    pub console_size: Option<(u16, u16)>,
}

/// The helper's answers, one line each: `started` (with a terminal, its master side comes
/// with this line) or `failed`, then `exited` once the process has ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExecReply {
    Started { pid: i32 },
    Failed(String),
    Exited { code: i32 },
}

impl ExecReply {
    pub fn to_line(&self) -> String {
        match self {
            ExecReply::Started { pid } => format!("started {pid}\n"),
            // One line: a message cannot carry its own line break.
            ExecReply::Failed(msg) => format!("failed {}\n", msg.replace('\n', " ")),
            ExecReply::Exited { code } => format!("exited {code}\n"),
        }
    }

    pub fn parse(line: &str) -> Option<ExecReply> {
        let (word, rest) = line.trim_end_matches('\n').split_once(' ')?;
        match word {
            "started" => rest.parse().ok().map(|pid| ExecReply::Started { pid }),
            "failed" => Some(ExecReply::Failed(rest.to_string())),
            "exited" => rest.parse().ok().map(|code| ExecReply::Exited { code }),
            _ => None,
        }
    }
}

#[cfg(test)]
mod exec_tests {
    use super::*;

    #[test]
    fn exec_replies_roundtrip_as_lines() {
        for r in [
            ExecReply::Started { pid: 42 },
            ExecReply::Failed("no such file\nor directory".into()),
            ExecReply::Exited { code: 137 },
        ] {
            let line = r.to_line();
            assert_eq!(line.matches('\n').count(), 1, "{line:?}");
            let back = ExecReply::parse(&line).unwrap();
            match (&r, &back) {
                (ExecReply::Failed(_), ExecReply::Failed(m)) => {
                    assert_eq!(m, "no such file or directory")
                }
                _ => assert_eq!(back, r),
            }
        }
        assert_eq!(ExecReply::parse("exited x\n"), None);
        assert_eq!(ExecReply::parse("bogus 1\n"), None);
        assert_eq!(ExecReply::parse(""), None);
    }
}
