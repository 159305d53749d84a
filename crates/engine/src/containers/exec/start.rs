//! Starting an exec'd process: its pipes (or the terminal the helper sends back), the request to the container's exec helper, and recording its exit.

use super::*;

/// `process.env` of the container's OCI spec in its bundle. Only that field is decoded: the
/// rest is skipped, not built into a JSON tree (10 µs instead of 40 here).
pub(super) fn started_env(bundle: &std::path::Path) -> Option<Vec<String>> {
    #[derive(serde::Deserialize)]
    struct Spec {
        process: Option<Process>,
    }
    #[derive(serde::Deserialize)]
    struct Process {
        env: Option<Vec<String>>,
    }
    let spec = std::fs::read(bundle.join("config.json")).ok()?;
    serde_json::from_slice::<Spec>(&spec).ok()?.process?.env
}

pub(super) fn internal_io(what: &str, e: std::io::Error) -> EngineError {
    EngineError::failed(format!("exec: {what}"), e)
}

/// The pipes of an exec without a terminal: the ends the process gets, and the daemon's.
pub(super) struct ExecPipes {
    /// stdin (or /dev/null), stdout, stderr, for the helper to hand to the process.
    theirs: [OwnedFd; 3],
    ours: OurEnds,
}

pub(super) struct OurEnds {
    stdin: Option<tokio::net::unix::pipe::Sender>,
    stdout: tokio::net::unix::pipe::Receiver,
    /// `None` when stderr shares stdout's pipe.
    stderr: Option<tokio::net::unix::pipe::Receiver>,
}

impl ExecPipes {
    /// With `combined`, stdout and stderr are one pipe: the output arrives interleaved as the
    /// process wrote it (a healthcheck's, which Docker keeps as one buffer), with one pipe
    /// fewer to make and watch.
    pub(super) fn new(attach_stdin: bool, combined: bool) -> Result<ExecPipes, EngineError> {
        let pipe = || {
            rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)
                .map_err(|e| internal_io("pipe", e.into()))
        };
        let (stdin_theirs, stdin) = if attach_stdin {
            let (r, w) = pipe()?;
            let w = tokio::net::unix::pipe::Sender::from_owned_fd(w)
                .map_err(|e| internal_io("pipe", e))?;
            (r, Some(w))
        } else {
            let null = std::fs::File::open("/dev/null").map_err(|e| internal_io("/dev/null", e))?;
            (OwnedFd::from(null), None)
        };
        let receiver = |fd| {
            tokio::net::unix::pipe::Receiver::from_owned_fd(fd).map_err(|e| internal_io("pipe", e))
        };
        let (out_r, out_w) = pipe()?;
        let (err_w, stderr) = if combined {
            let w = out_w.try_clone().map_err(|e| internal_io("pipe", e))?;
            (w, None)
        } else {
            let (err_r, err_w) = pipe()?;
            (err_w, Some(receiver(err_r)?))
        };
        Ok(ExecPipes {
            theirs: [stdin_theirs, out_w, err_w],
            ours: OurEnds {
                stdin,
                stdout: receiver(out_r)?,
                stderr,
            },
        })
    }
}

/// A terminal's output: once the process and everything holding the terminal are gone,
/// reading the master side fails with EIO, which is its end of file.
pub(super) struct TerminalOutput(tokio::net::unix::pipe::Receiver);

impl AsyncRead for TerminalOutput {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        match Pin::new(&mut self.0).poll_read(cx, buf) {
            std::task::Poll::Ready(Err(e))
                if e.raw_os_error() == Some(rustix::io::Errno::IO.raw_os_error()) =>
            {
                std::task::Poll::Ready(Ok(()))
            }
            other => other,
        }
    }
}

impl ContainerService {
    pub(super) async fn spawn_exec(
        self: &Arc<Self>,
        exec: &ExecRecord,
    ) -> Result<ExecIo, EngineError> {
        let rec = self.running_container(&exec.container_id)?;
        let cfg = &exec.config;
        let rootfs = self.paths.overlay(&rec.id).join("merged");
        let user = if cfg.user.is_empty() {
            rec.spec.config.user.clone()
        } else {
            cfg.user.clone()
        };
        // Read once for both the user and HOME.
        let users = UserFiles::new(&rootfs);
        let (uid, gid, additional_gids) = users.resolve(&user)?;
        // The container's processes' environment as it started (with its link variables,
        // PATH and HOSTNAME), then the exec's own, as Docker builds it.
        let bundle = self.paths.bundle(&rec.id);
        let mut env: Vec<String> = self
            .execs
            .started_env(&rec.id, &rec.state.started_at, || started_env(&bundle))
            .map(|e| e.as_ref().clone())
            .unwrap_or_else(|| rec.spec.config.env.clone().unwrap_or_default());
        // TERM=xterm was the container's terminal's; an exec gets its own below.
        let own_term = rec
            .spec
            .config
            .env
            .iter()
            .flatten()
            .any(|e| env_key(e) == "TERM");
        if rec.spec.config.tty && !own_term {
            env.retain(|e| env_key(e) != "TERM");
        }
        for kv in &cfg.env {
            match env.iter_mut().find(|e| env_key(e) == env_key(kv)) {
                Some(slot) => *slot = kv.clone(),
                None => env.push(kv.clone()),
            }
        }
        if !env.iter().any(|e| env_key(e) == "PATH") {
            env.insert(0, DEFAULT_PATH.to_string());
        }
        if !env.iter().any(|e| env_key(e) == "HOSTNAME") {
            env.push(format!("HOSTNAME={}", rec.spec.config.hostname));
        }
        // Docker gives a terminal exec TERM=xterm unless the container sets TERM.
        if cfg.tty && !env.iter().any(|e| env_key(e) == "TERM") {
            env.push("TERM=xterm".to_string());
        }
        if !env.iter().any(|e| env_key(e) == "HOME") {
            let home = self
                .execs
                .home(&rec.id, &rec.state.started_at, uid, || users.home_dir(uid));
            env.push(format!("HOME={home}"));
        }
        let request = ExecRequest {
            args: cfg.cmd.clone(),
            env,
            cwd: if cfg.working_dir.is_empty() {
                rec.spec.config.working_dir.clone()
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
            } else {
                None
            },
            tty: cfg.tty,
            console_size: cfg.console_size.filter(|_| cfg.tty),
        };
        let socket = self
            .execs
            .helper_socket(&rec.id, &rec.state.started_at, || {
                self.paths.exec_helper_socket(&rec.id)
            });
        let line = format!(
            "{}\n",
            serde_json::to_string(&request).expect("exec request serialises")
        );
        type Reader = Pin<Box<dyn AsyncRead + Send>>;
        type Writer = Pin<Box<dyn AsyncWrite + Send>>;
        // Without a terminal the streams are our pipes, ready before the process is: the
        // client gets its answer while the helper starts the process, and a failure to start
        // it reaches the client on the stream, as with Docker. A terminal comes from the
        // helper, so that exec waits for it. Either way the helper's answers are awaited by a
        // task of its own: a client that goes away meanwhile leaves no exec marked running
        // forever.
        let pipes = if cfg.tty {
            None
        } else {
            Some(ExecPipes::new(cfg.attach_stdin, exec.combined_output)?)
        };
        let (theirs, ours) = match pipes {
            Some(p) => (Some(p.theirs), Some(p.ours)),
            None => (None, None),
        };
        // The request leaves now, before the client's answer is written, so the helper forks
        // while the answer travels; the task only finishes a request too big for one send.
        let call = HelperCall::send(&socket, line, theirs.as_ref());
        // The terminal, or why the process did not start.
        let (terminal_tx, terminal_rx) =
            tokio::sync::oneshot::channel::<Result<Option<Arc<OwnedFd>>, String>>();
        let (done_tx, done) = tokio::sync::oneshot::channel();
        let svc = self.clone();
        let id = exec.id.clone();
        let container_id = rec.id.clone();
        tokio::spawn(async move {
            let handshake = match call {
                Ok(call) => call.started(theirs).await,
                Err(e) => Err(not_started(format!("container's exec helper: {e}"), theirs)),
            };
            let code = match handshake {
                Ok((conn, pid, master)) => {
                    let master = master.map(Arc::new);
                    if let Some(m) = &master {
                        svc.execs
                            .terminals
                            .lock()
                            .expect("lock")
                            .insert(id.clone(), m.clone());
                    }
                    if let Some(e) = svc.execs.map.lock().expect("lock").get_mut(&id) {
                        e.pid = pid;
                    }
                    let _ = terminal_tx.send(Ok(master));
                    exit_code(conn).await
                }
                Err(msg) => {
                    tracing::warn!(exec = %id, error = %msg, "exec did not start");
                    let _ = terminal_tx.send(Err(msg));
                    126
                }
            };
            tracing::trace!(exec = %id, code, "exec exited");
            svc.execs.terminals.lock().expect("lock").remove(&id);
            if let Some(e) = svc.execs.map.lock().expect("lock").get_mut(&id) {
                e.running = false;
                e.exit_code = Some(code);
            }
            if let Ok(entry) = svc.entry(&container_id) {
                svc.publish_for(
                    &entry,
                    "exec_die",
                    &[("execID", id.clone()), ("exitCode", code.to_string())],
                );
            }
            let _ = done_tx.send(code);
        });
        let (stdin, stdout, stderr): (Option<Writer>, Reader, Reader) = match ours {
            Some(o) => (
                o.stdin.map(|w| Box::pin(w) as Writer),
                Box::pin(o.stdout),
                match o.stderr {
                    Some(e) => Box::pin(e) as Reader,
                    None => Box::pin(tokio::io::empty()),
                },
            ),
            None => {
                let master = match terminal_rx.await {
                    Ok(Ok(Some(master))) => master,
                    Ok(Ok(None)) => {
                        return Err(EngineError::Internal("exec helper sent no terminal".into()))
                    }
                    // As without a terminal: the client is answered and reads why on the
                    // stream, and the exit code is 126.
                    Ok(Err(msg)) => {
                        let text = runtime_failure(&msg).into_bytes();
                        return Ok(ExecIo {
                            stdin: None,
                            stdout: Box::pin(std::io::Cursor::new(text)),
                            stderr: Box::pin(tokio::io::empty()),
                            done,
                            tty: true,
                        });
                    }
                    Err(_) => return Err(EngineError::Internal("exec: helper task ended".into())),
                };
                let dup = || master.try_clone().map_err(|e| internal_io("terminal", e));
                let input = tokio::net::unix::pipe::Sender::from_owned_fd_unchecked(dup()?)
                    .map_err(|e| internal_io("terminal", e))?;
                let output = tokio::net::unix::pipe::Receiver::from_owned_fd_unchecked(dup()?)
                    .map_err(|e| internal_io("terminal", e))?;
                (
                    cfg.attach_stdin.then(|| Box::pin(input) as Writer),
                    Box::pin(TerminalOutput(output)),
                    Box::pin(tokio::io::empty()),
                )
            }
        };
        let io = ExecIo {
            stdin,
            stdout,
            stderr,
            done,
            tty: cfg.tty,
        };
        self.publish(
            &rec,
            &format!("exec_start: {}", describe(cfg)),
            &[("execID", exec.id.clone())],
        );
        Ok(io)
    }
}
