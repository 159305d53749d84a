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
    dir: PathBuf,
    bin: PathBuf,
    /// One publication at a time: tables reach the resolver in the order they were made.
    lock: Mutex<()>,
}

impl ResolverHandle {
    /// `dir` holds the table, the control socket and the resolver's log; `bin` is the
    /// `berth-resolver` program.
    pub fn new(dir: PathBuf, bin: PathBuf) -> Self {
        ResolverHandle {
            dir,
            bin,
            lock: Mutex::new(()),
        }
    }

    pub fn dir(&self) -> &std::path::Path {
        &self.dir
    }

    /// Writes the table and has the resolver read it before returning (names follow changes
    /// at once). An empty table starts no resolver.
    pub fn publish(&self, table: &Table) -> std::io::Result<()> {
        let _one = self.lock.lock().expect("lock");
        table.write(&self.dir)?;
        if self.reload().is_ok() || table.sandboxes.is_empty() {
            return Ok(());
        }
        self.spawn()?;
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            match self.reload() {
                Ok(()) => return Ok(()),
                Err(e) if Instant::now() > deadline => return Err(e),
                Err(_) => std::thread::sleep(Duration::from_millis(5)),
            }
        }
    }

    /// Asks the running resolver to read the table again; fails when none answers.
    fn reload(&self) -> std::io::Result<()> {
        let mut stream = UnixStream::connect(self.dir.join(CONTROL))?;
        stream.set_read_timeout(Some(Duration::from_secs(5)))?;
        stream.set_write_timeout(Some(Duration::from_secs(5)))?;
        stream.write_all(b"reload\n")?;
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
