//! Exec: processes started in a running container by the container's exec helper (see
//! `berth-monitor`), which forks them inside the container's namespaces and cgroups. The
//! process's stdio are pipes from the daemon, or a terminal whose master side the helper
//! sends back.

use std::collections::HashMap;
use std::os::fd::{AsFd, OwnedFd};
use std::pin::Pin;
use std::sync::Arc;

use berth_runtime::fdpass;
use berth_runtime::monitor::{ExecReply, ExecRequest};
use tokio::io::{AsyncRead, AsyncWrite};

use super::create::DEFAULT_PATH;
use super::record::{ContainerRecord, Status};
use super::spec::env_key;
use super::users::UserFiles;
use super::ContainerService;
use crate::error::EngineError;

mod helper_call;
mod start;

use helper_call::*;

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
    /// The terminal's first size, `(height, width)`.
    pub console_size: Option<(u16, u16)>,
    pub detach_keys: String,
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
    /// Seen finished by a sweep ([`Execs::sweep`]): the next one forgets it.
    pub removable: bool,
    /// stderr goes down stdout's pipe (healthcheck probes).
    pub(crate) combined_output: bool,
}

/// The streams of a started exec.
pub struct ExecIo {
    pub stdin: Option<Pin<Box<dyn AsyncWrite + Send>>>,
    pub stdout: Pin<Box<dyn AsyncRead + Send>>,
    /// Empty with a terminal: everything comes on its one output.
    pub stderr: Pin<Box<dyn AsyncRead + Send>>,
    /// Resolves with the exit code once it is recorded (clients inspect right after the
    /// stream ends).
    pub done: tokio::sync::oneshot::Receiver<i32>,
    /// Output is a terminal's (raw, on stdout).
    pub tty: bool,
}

#[derive(Default)]
pub(crate) struct Execs {
    map: std::sync::Mutex<HashMap<String, ExecRecord>>,
    /// The master side of each running exec's terminal, for resizes.
    terminals: std::sync::Mutex<HashMap<String, Arc<OwnedFd>>>,
    /// Each container's process environment as its run started (from its bundle's spec,
    /// which does not change during a run): every exec starts from it, and healthchecks
    /// exec every second.
    started_envs: PerRun<Option<Arc<Vec<String>>>>,
    /// Each container's home directories by user ID, as its `/etc/passwd` gave them during
    /// the run: an exec without `HOME` gets its user's, and reading the file in the root
    /// every second was a healthcheck's largest cost. A user added during the run is looked
    /// up when first seen.
    homes: PerRun<HashMap<u32, String>>,
    /// Each container's exec helper socket: its name is settled when the run starts (the
    /// legacy name of a monitor from an older berthd, or the short one).
    sockets: PerRun<Option<std::path::PathBuf>>,
}

/// A value that holds for one run of each container: kept by container ID, started afresh
/// when the container's run (its start time) changes.
pub(crate) struct PerRun<T>(std::sync::Mutex<HashMap<String, (String, T)>>);

impl<T> Default for PerRun<T> {
    fn default() -> Self {
        PerRun(Default::default())
    }
}

impl<T: Default> PerRun<T> {
    fn with<R>(&self, container: &str, run: &str, f: impl FnOnce(&mut T) -> R) -> R {
        let mut map = self.0.lock().expect("lock");
        let slot = map
            .entry(container.to_string())
            .or_insert_with(|| (run.to_string(), T::default()));
        if slot.0 != run {
            *slot = (run.to_string(), T::default());
        }
        f(&mut slot.1)
    }

    fn forget(&self, container: &str) {
        self.0.lock().expect("lock").remove(container);
    }
}

impl Execs {
    /// The home directory of `uid` in `container`'s run `run`, read by `read` once per run.
    pub(crate) fn home(
        &self,
        container: &str,
        run: &str,
        uid: u32,
        read: impl FnOnce() -> String,
    ) -> String {
        self.homes.with(container, run, |by_uid| {
            by_uid.entry(uid).or_insert_with(read).clone()
        })
    }

    /// The exec helper socket of `container`'s run `run`, found by `find` once per run.
    pub(crate) fn helper_socket(
        &self,
        container: &str,
        run: &str,
        find: impl FnOnce() -> std::path::PathBuf,
    ) -> std::path::PathBuf {
        self.sockets.with(container, run, |socket| {
            socket.get_or_insert_with(find).clone()
        })
    }

    /// The started environment of `container`'s run `run`, read by `read` once per run.
    pub(crate) fn started_env(
        &self,
        container: &str,
        run: &str,
        read: impl FnOnce() -> Option<Vec<String>>,
    ) -> Option<Arc<Vec<String>>> {
        self.started_envs.with(container, run, |env| {
            if env.is_none() {
                *env = read().map(Arc::new);
            }
            env.clone()
        })
    }
}

/// How often finished execs are swept, as Docker's `execCommandGC` does: a finished exec can
/// still be inspected for one to two periods, then it is forgotten.
pub(crate) const EXEC_SWEEP_PERIOD: std::time::Duration = std::time::Duration::from_secs(300);

impl Execs {
    /// Forgets the execs an earlier sweep found finished and marks those finished since. Execs
    /// created but not started, or running, stay. Returns how many went.
    pub(crate) fn sweep(&self) -> usize {
        let mut map = self.map.lock().expect("lock");
        let before = map.len();
        map.retain(|_, e| !e.removable);
        for e in map.values_mut() {
            if !e.running && e.exit_code.is_some() {
                e.removable = true;
            }
        }
        before - map.len()
    }
}

/// Whether a container in `status` takes an exec, with Docker's messages.
fn can_exec(status: Status, id: &str) -> Result<(), EngineError> {
    match status {
        Status::Running => Ok(()),
        Status::Paused => Err(EngineError::Conflict(format!(
            "Container {id} is paused, unpause the container before exec"
        ))),
        _ => Err(EngineError::Conflict(format!(
            "Container {id} is not running"
        ))),
    }
}

fn describe(cfg: &ExecConfig) -> String {
    cfg.cmd.join(" ")
}

impl ContainerService {
    fn running_container(&self, name: &str) -> Result<ContainerRecord, EngineError> {
        let rec = self.entry(name)?.snapshot();
        can_exec(rec.state.status, &rec.id)?;
        Ok(rec)
    }

    /// `POST /containers/(id)/exec`.
    pub fn exec_create(&self, container: &str, cfg: ExecConfig) -> Result<String, EngineError> {
        self.create_exec(container, cfg, false)
    }

    /// An exec whose stdout and stderr are one stream (`combined_output`).
    pub(crate) fn create_exec(
        &self,
        container: &str,
        cfg: ExecConfig,
        combined_output: bool,
    ) -> Result<String, EngineError> {
        let entry = self.entry(container)?;
        let container_id =
            entry.peek(|r| can_exec(r.state.status, &r.id).map(|()| r.id.clone()))?;
        if cfg.cmd.is_empty() {
            return Err(EngineError::InvalidParameter(
                "No exec command specified".into(),
            ));
        }
        let id = crate::random_id();
        let what = describe(&cfg);
        self.execs.map.lock().expect("lock").insert(
            id.clone(),
            ExecRecord {
                id: id.clone(),
                container_id,
                config: cfg,
                running: false,
                exit_code: None,
                pid: 0,
                removable: false,
                combined_output,
            },
        );
        self.publish_for(
            &entry,
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

    /// `POST /exec/(id)/start`: runs it and hands back its streams; `console_size` (a
    /// terminal's) replaces the one given at create.
    pub async fn exec_start(
        self: &Arc<Self>,
        id: &str,
        console_size: Option<(u16, u16)>,
    ) -> Result<ExecIo, EngineError> {
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
            if console_size.is_some() {
                e.config.console_size = console_size;
            }
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

    /// `POST /exec/(id)/resize?h=&w=`.
    pub async fn exec_resize(&self, id: &str, rows: u16, cols: u16) -> Result<(), EngineError> {
        let exec = self.exec_record(id)?;
        if !exec.config.tty {
            return Err(EngineError::Conflict(format!("exec {id} has no terminal")));
        }
        if !exec.running {
            return Err(EngineError::Conflict(format!("exec {id} is not running")));
        }
        let master = self.execs.terminals.lock().expect("lock").get(id).cloned();
        let Some(master) = master else {
            return Err(EngineError::Conflict(format!("exec {id} is not running")));
        };
        let size = rustix::termios::Winsize {
            ws_row: rows,
            ws_col: cols,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        rustix::termios::tcsetwinsize(master.as_fd(), size)
            .map_err(|e| EngineError::failed(format!("Cannot resize exec {id}"), e))
    }

    /// Forgets the execs of a removed container.
    /// Forgets one exec (a healthcheck's probe, once it has run).
    pub(crate) fn forget_exec(&self, id: &str) {
        self.execs.map.lock().expect("lock").remove(id);
    }

    pub(crate) fn forget_execs(&self, container_id: &str) {
        self.execs
            .map
            .lock()
            .expect("lock")
            .retain(|_, e| e.container_id != container_id);
        self.execs.started_envs.forget(container_id);
        self.execs.homes.forget(container_id);
        self.execs.sockets.forget(container_id);
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn per_run_values_last_one_run() {
        let homes: PerRun<HashMap<u32, String>> = PerRun::default();
        let read = |v: &'static str| move || v.to_string();
        let home = |run: &str, uid: u32, v: &'static str| {
            homes.with("c1", run, |m| m.entry(uid).or_insert_with(read(v)).clone())
        };
        assert_eq!(home("run1", 0, "/root"), "/root");
        assert_eq!(home("run1", 0, "/elsewhere"), "/root", "read once per run");
        assert_eq!(
            home("run1", 7, "/home/u"),
            "/home/u",
            "a new user is looked up"
        );
        assert_eq!(home("run2", 0, "/new"), "/new", "a new run reads again");
        homes.forget("c1");
        assert_eq!(home("run2", 0, "/again"), "/again");
    }
    use super::*;

    #[test]
    fn finished_execs_are_forgotten_on_the_second_sweep() {
        let execs = Execs::default();
        let record = |id: &str, running: bool, exit_code: Option<i32>| ExecRecord {
            id: id.into(),
            container_id: "c".into(),
            config: ExecConfig::default(),
            running,
            exit_code,
            pid: 0,
            removable: false,
            combined_output: false,
        };
        {
            let mut map = execs.map.lock().unwrap();
            map.insert("created".into(), record("created", false, None));
            map.insert("running".into(), record("running", true, None));
            map.insert("done".into(), record("done", false, Some(0)));
        }
        // The first sweep only marks: a finished exec can still be inspected.
        assert_eq!(execs.sweep(), 0);
        assert_eq!(execs.map.lock().unwrap().len(), 3);
        // The running one ends between sweeps: it gets its full period too.
        {
            let mut map = execs.map.lock().unwrap();
            let r = map.get_mut("running").unwrap();
            r.running = false;
            r.exit_code = Some(3);
        }
        assert_eq!(execs.sweep(), 1);
        let left: std::collections::BTreeSet<String> =
            execs.map.lock().unwrap().keys().cloned().collect();
        assert_eq!(left, ["created", "running"].map(String::from).into());
        assert_eq!(execs.sweep(), 1);
        assert_eq!(execs.map.lock().unwrap().len(), 1, "never started: kept");
    }
}
