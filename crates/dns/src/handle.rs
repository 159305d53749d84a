//! berthd's side: publishes the table and makes sure a resolver serves it, starting one
//! (detached, in a session of its own, so it outlives berthd) when none answers.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::server::CONTROL;
use crate::table::Table;

pub struct ResolverHandle {
    inner: std::sync::Arc<Inner>,
}

struct Inner {
    dir: PathBuf,
    bin: PathBuf,
    /// One publication at a time (tables reach the resolver in the order they were made);
    /// holds whether the last table had anyone to serve.
    lock: Mutex<bool>,
    keeper: std::sync::Once,
}

/// How often the keeper checks that a resolver serves the containers that need one.
const KEEPER_PERIOD: Duration = Duration::from_secs(1);

impl ResolverHandle {
    /// `dir` holds the table, the control socket and the resolver's log; `bin` is the
    /// `berth-resolver` program.
    pub fn new(dir: PathBuf, bin: PathBuf) -> Self {
        ResolverHandle {
            inner: std::sync::Arc::new(Inner {
                dir,
                bin,
                lock: Mutex::new(false),
                keeper: std::sync::Once::new(),
            }),
        }
    }

    pub fn dir(&self) -> &std::path::Path {
        &self.inner.dir
    }

    /// Writes the table and has the resolver read it before returning (names follow changes
    /// at once). An empty table starts no resolver. The first table with anyone to serve
    /// starts a keeper thread, which starts a resolver again if one dies while needed.
    pub fn publish(&self, table: &Table) -> std::io::Result<()> {
        let inner = &self.inner;
        let mut needed = inner.lock.lock().expect("lock");
        table.write(&inner.dir)?;
        *needed = !table.sandboxes.is_empty();
        if *needed {
            let keeper = self.inner.clone();
            inner.keeper.call_once(|| {
                std::thread::Builder::new()
                    .name("resolver-keeper".into())
                    .spawn(move || keeper.keep())
                    .expect("spawn the resolver keeper");
            });
        }
        if inner.ask("reload").is_ok() || !*needed {
            return Ok(());
        }
        inner.start()
    }
}

impl Inner {
    /// Every `KEEPER_PERIOD`: a resolver that should serve and does not answer is started
    /// again (it was killed, or crashed), from the table on disk.
    fn keep(&self) {
        loop {
            std::thread::sleep(KEEPER_PERIOD);
            let needed = self.lock.lock().expect("lock");
            if *needed && self.ask("ping").is_err() {
                match self.start() {
                    Ok(()) => tracing::warn!("the resolver was gone: started it again"),
                    Err(e) => tracing::error!(error = %e, "starting the resolver again"),
                }
            }
            drop(needed);
        }
    }

    /// Starts a resolver and has it read the table.
    fn start(&self) -> std::io::Result<()> {
        self.spawn()?;
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            match self.ask("reload") {
                Ok(()) => return Ok(()),
                Err(e) if Instant::now() > deadline => return Err(e),
                Err(_) => std::thread::sleep(Duration::from_millis(5)),
            }
        }
    }

    /// Sends `word` (`reload`, `ping`) to the running resolver; fails when none answers.
    fn ask(&self, word: &str) -> std::io::Result<()> {
        let mut stream = UnixStream::connect(self.dir.join(CONTROL))?;
        stream.set_read_timeout(Some(Duration::from_secs(5)))?;
        stream.set_write_timeout(Some(Duration::from_secs(5)))?;
        stream.write_all(format!("{word}\n").as_bytes())?;
        let mut line = String::new();
        BufReader::new(&stream).read_line(&mut line)?;
        if line.trim() == "ok" {
            Ok(())
        } else {
            Err(std::io::Error::other(
                "the resolver did not confirm the reload",
            ))
        }
    }

    fn spawn(&self) -> std::io::Result<()> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("resolver.log"))?;
        let mut cmd = Command::new(&self.bin);
        cmd.arg("--dir")
            .arg(&self.dir)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        // A process group of its own: a signal to berthd's group (a terminal's ^C) leaves
        // it serving, as the containers' monitors do.
        cmd.process_group(0);
        let mut child = cmd.spawn()?;
        // Reaped when it leaves, so it never lingers as a zombie of berthd.
        std::thread::spawn(move || {
            let _ = child.wait();
        });
        Ok(())
    }
}
