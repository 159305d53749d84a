//! Exec: processes started in a running container, each through `berth-monitor exec`, which
//! joins the container's namespaces and cgroup. The process's stdio are pipes from the daemon.

use std::collections::HashMap;
use std::os::unix::process::CommandExt;
use std::process::Stdio;
use std::sync::Arc;

use berth_runtime::monitor::ExecSpec;

use super::lifecycle::{env_key, resolve_user, send_resize, DEFAULT_PATH};
use super::record::{ContainerRecord, Status};
use super::ContainerService;
use crate::error::EngineError;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExecConfig {
    pub cmd: Vec<String>,
    pub user: String,
    pub privileged: bool,
    pub env: Vec<String>,
    pub working_dir: String,
    pub tty: bool,
    pub attach_stdin: bool,
    pub attach_stdout: bool,
    pub attach_stderr: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecRecord {
    pub id: String,
    pub container_id: String,
    pub config: ExecConfig,
    pub running: bool,
    /// Set once it has run.
    pub exit_code: Option<i32>,
    pub pid: i32,
}

/// The streams of a started exec.
pub struct ExecIo {
    pub stdin: Option<tokio::process::ChildStdin>,
    pub stdout: tokio::process::ChildStdout,
    pub stderr: tokio::process::ChildStderr,
    /// Resolves with the exit code once it is recorded (clients inspect right after the
    /// stream ends).
    pub done: tokio::sync::oneshot::Receiver<i32>,
    /// Output is a terminal's (raw, on stdout).
    pub tty: bool,
}

#[derive(Default)]
pub(crate) struct Execs {
    map: std::sync::Mutex<HashMap<String, ExecRecord>>,
}

fn describe(cfg: &ExecConfig) -> String {
    cfg.cmd.join(" ")
}

impl ContainerService {
    fn running_container(&self, name: &str) -> Result<ContainerRecord, EngineError> {
        let rec = self.entry(name)?.snapshot();
        match rec.state.status {
            Status::Running => Ok(rec),
            Status::Paused => Err(EngineError::Conflict(format!(
                "Container {} is paused, unpause the container before exec",
                rec.id
            ))),
            _ => Err(EngineError::Conflict(format!(
                "Container {} is not running",
                rec.id
            ))),
        }
    }

    /// `POST /containers/(id)/exec`.
    pub fn exec_create(&self, container: &str, cfg: ExecConfig) -> Result<String, EngineError> {
        let rec = self.running_container(container)?;
        if cfg.cmd.is_empty() {
            return Err(EngineError::InvalidParameter(
                "No exec command specified".into(),
            ));
        }
        let bytes: [u8; 32] = rand::random();
        let id: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        let what = describe(&cfg);
        self.execs.map.lock().expect("lock").insert(
            id.clone(),
            ExecRecord {
                id: id.clone(),
                container_id: rec.id.clone(),
                config: cfg,
                running: false,
                exit_code: None,
                pid: 0,
            },
        );
        self.publish(
            &rec,
            &format!("exec_create: {what}"),
            &[("execID", id.clone())],
        );
        Ok(id)
    }

    fn exec_record(&self, id: &str) -> Result<ExecRecord, EngineError> {
        self.execs
            .map
            .lock()
            .expect("lock")
            .get(id)
            .cloned()
            .ok_or_else(|| EngineError::NotFound(format!("No such exec instance: {id}")))
    }

    pub fn exec_inspect(&self, id: &str) -> Result<(ExecRecord, ContainerRecord), EngineError> {
        let exec = self.exec_record(id)?;
        let container = self.entry(&exec.container_id)?.snapshot();
        Ok((exec, container))
    }

    /// `POST /exec/(id)/start`: runs it and hands back its streams.
    pub async fn exec_start(self: &Arc<Self>, id: &str) -> Result<ExecIo, EngineError> {
        let exec = {
            let mut map = self.execs.map.lock().expect("lock");
            let e = map
                .get_mut(id)
                .ok_or_else(|| EngineError::NotFound(format!("No such exec instance: {id}")))?;
            if e.running || e.exit_code.is_some() {
                return Err(EngineError::Conflict(format!(
                    "Error: Exec command {id} has already run"
                )));
            }
            e.running = true;
            e.clone()
        };
        let result = self.spawn_exec(&exec).await;
        if result.is_err() {
            if let Some(e) = self.execs.map.lock().expect("lock").get_mut(id) {
                e.running = false;
                e.exit_code = Some(126);
            }
        }
        result
    }

    async fn spawn_exec(self: &Arc<Self>, exec: &ExecRecord) -> Result<ExecIo, EngineError> {
        let rec = self.running_container(&exec.container_id)?;
        let cfg = &exec.config;
        let rootfs = self.paths.overlay(&rec.id).join("merged");
        let user = if cfg.user.is_empty() {
            rec.config.user.clone()
        } else {
            cfg.user.clone()
        };
        let (uid, gid, additional_gids) = resolve_user(&rootfs, &user)?;
        let mut env: Vec<String> = rec.config.env.clone().unwrap_or_default();
        for kv in &cfg.env {
            match env.iter_mut().find(|e| env_key(e) == env_key(kv)) {
                Some(slot) => *slot = kv.clone(),
                None => env.push(kv.clone()),
            }
        }
        if !env.iter().any(|e| env_key(e) == "PATH") {
            env.insert(0, DEFAULT_PATH.to_string());
        }
        env.push(format!("HOSTNAME={}", rec.config.hostname));
        let pid_file = self
            .paths
            .dir(&rec.id)
            .join(format!("exec-{}.pid", exec.id));
        let spec = ExecSpec {
            container_id: rec.id.clone(),
            runtime_root: self.paths.runtime_root(),
            pid_file: pid_file.clone(),
            args: cfg.cmd.clone(),
            env,
            cwd: if cfg.working_dir.is_empty() {
                rec.config.working_dir.clone()
            } else {
                cfg.working_dir.clone()
            },
            uid,
            gid,
            additional_gids,
            capabilities: if cfg.privileged {
                Some(
                    berth_runtime::security::capabilities(
                        &["ALL".into()],
                        &[],
                        true,
                        berth_runtime::security::host_bounding_set(),
                    )
                    .map_err(EngineError::InvalidParameter)?,
                )
            } else if cfg.tty {
                // A terminal exec is described in full: it needs the container's set spelled out.
                Some(super::settings::capabilities(&rec.host_config)?)
            } else {
                None
            },
            tty: cfg.tty,
            console_socket: cfg.tty.then(|| self.paths.exec_socket(&exec.id, "con")),
            resize_socket: cfg.tty.then(|| self.paths.exec_socket(&exec.id, "tty")),
        };
        let mut cmd = std::process::Command::new(&self.monitor_bin);
        cmd.arg("exec")
            .arg(serde_json::to_string(&spec).expect("exec spec serialises"))
            .stdin(if cfg.attach_stdin {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd.process_group(0);
        let mut child = tokio::process::Command::from(cmd)
            .spawn()
            .map_err(|e| EngineError::Internal(format!("start exec: {e}")))?;
        let (done_tx, done) = tokio::sync::oneshot::channel();
        let io = ExecIo {
            stdin: child.stdin.take(),
            stdout: child.stdout.take().expect("piped"),
            stderr: child.stderr.take().expect("piped"),
            done,
            tty: cfg.tty,
        };
        self.publish(
            &rec,
            &format!("exec_start: {}", describe(cfg)),
            &[("execID", exec.id.clone())],
        );
        let svc = self.clone();
        let id = exec.id.clone();
        tracing::trace!(exec = %exec.id, "exec monitor started");
        tokio::spawn(async move {
            // The monitor exits with the process's code (126 when it could not start it).
            let code = match child.wait().await {
                Ok(status) => status
                    .code()
                    .or_else(|| {
                        std::os::unix::process::ExitStatusExt::signal(&status).map(|s| 128 + s)
                    })
                    .unwrap_or(126),
                Err(_) => 126,
            };
            tracing::trace!(exec = %id, code, "exec monitor exited");
            let pid = std::fs::read_to_string(&pid_file)
                .ok()
                .and_then(|p| p.trim().parse().ok())
                .unwrap_or(0);
            let _ = std::fs::remove_file(&pid_file);
            if let Some(e) = svc.execs.map.lock().expect("lock").get_mut(&id) {
                e.running = false;
                e.exit_code = Some(code);
                e.pid = pid;
            }
            if let Ok(entry) = svc.entry(&rec.id) {
                svc.publish(
                    &entry.snapshot(),
                    "exec_die",
                    &[("execID", id.clone()), ("exitCode", code.to_string())],
                );
            }
            let _ = done_tx.send(code);
        });
        Ok(io)
    }

    /// `POST /exec/(id)/resize?h=&w=`.
    pub async fn exec_resize(&self, id: &str, rows: u16, cols: u16) -> Result<(), EngineError> {
        let exec = self.exec_record(id)?;
        if !exec.config.tty {
            return Err(EngineError::Conflict(format!("exec {id} has no terminal")));
        }
        if !exec.running {
            return Err(EngineError::Conflict(format!("exec {id} is not running")));
        }
        // Clients resize right after the start hijack, often before the monitor has made its
        // terminal; wait briefly for the resize socket rather than fail the first resize.
        let socket = self.paths.exec_socket(id, "tty");
        let mut attempts = 0;
        loop {
            match send_resize(&socket, rows, cols).await {
                Ok(()) => return Ok(()),
                // Not there yet, or bound but not yet listening.
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused
                    ) && attempts < 200 =>
                {
                    if !self.exec_record(id).is_ok_and(|e| e.running) {
                        return Err(EngineError::Conflict(format!("exec {id} is not running")));
                    }
                    attempts += 1;
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                }
                Err(e) => {
                    return Err(EngineError::Internal(format!(
                        "Cannot resize exec {id}: {e}"
                    )))
                }
            }
        }
    }

    /// Forgets the execs of a removed container.
    pub(crate) fn forget_execs(&self, container_id: &str) {
        self.execs
            .map
            .lock()
            .expect("lock")
            .retain(|_, e| e.container_id != container_id);
    }
}
