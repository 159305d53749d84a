//! Reading a container's json-file log: everything or the last lines, optionally following
//! it until the container stops.

use std::io::{BufRead, BufReader, Seek, SeekFrom};
use std::sync::Arc;

use berth_runtime::logfile::{self, LogEntry};

use super::spec::LogDriver;
use super::{ContainerService, Entry};
use crate::error::EngineError;

#[derive(Debug, Clone, Default)]
pub struct LogOptions {
    pub stdout: bool,
    pub stderr: bool,
    pub follow: bool,
    /// Only the last N lines.
    pub tail: Option<usize>,
    /// Only entries at or after / before these Unix nanoseconds.
    pub since: Option<i64>,
    pub until: Option<i64>,
    /// For attach, which streams the output whatever the log driver.
    pub attach: bool,
    /// Each line prefixed with the attributes the log options ask for (`labels`, `env`), as
    /// `k=v,k2=v2 ` (a lone space when there are none).
    pub details: bool,
}

/// One log line: stream 1 is stdout, 2 stderr.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    pub stream: u8,
    pub data: Vec<u8>,
    pub time: String,
}

/// The attributes of a container's log lines: the labels and environment variables its log
/// options name (`labels=a,b`, `env=X,Y`), sorted, values query-escaped, as Docker writes
/// them with `details`.
fn details_prefix(rec: &super::ContainerRecord) -> Vec<u8> {
    let opts = rec.spec.host.log_config.options.clone().unwrap_or_default();
    let wanted = |key: &str| -> Vec<String> {
        opts.get(key)
            .map(|v| {
                v.split(',')
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut attrs: Vec<(String, String)> = Vec::new();
    let labels = rec.spec.config.labels.clone().unwrap_or_default();
    for k in wanted("labels") {
        if let Some(v) = labels.get(&k) {
            attrs.push((k, v.clone()));
        }
    }
    let env = rec.spec.config.env.clone().unwrap_or_default();
    for k in wanted("env") {
        if let Some(v) = env.iter().find_map(|e| e.strip_prefix(&format!("{k}="))) {
            attrs.push((k, v.to_string()));
        }
    }
    attrs.sort();
    let joined: Vec<String> = attrs
        .iter()
        .map(|(k, v)| {
            format!(
                "{k}={}",
                form_urlencoded::byte_serialize(v.as_bytes()).collect::<String>()
            )
        })
        .collect();
    format!("{} ", joined.join(",")).into_bytes()
}

/// What a reader wants of the log, and how its lines are told.
struct Wanted {
    opts: LogOptions,
    /// Put before each line with `details`.
    prefix: Vec<u8>,
}

impl Wanted {
    fn line(&self, e: LogEntry) -> Option<LogLine> {
        to_line(e, &self.opts, &self.prefix)
    }
}

fn to_line(e: LogEntry, opts: &LogOptions, prefix: &[u8]) -> Option<LogLine> {
    let stream = if e.stream == "stderr" { 2 } else { 1 };
    if (stream == 1 && !opts.stdout) || (stream == 2 && !opts.stderr) {
        return None;
    }
    if opts.since.is_some() || opts.until.is_some() {
        let t = e.time.parse::<jiff::Timestamp>().ok()?.as_nanosecond() as i64;
        if opts.since.is_some_and(|s| t < s) || opts.until.is_some_and(|u| t > u) {
            return None;
        }
    }
    let data = if opts.details {
        let mut d = prefix.to_vec();
        d.extend_from_slice(e.log.as_bytes());
        d
    } else {
        e.log.into_bytes()
    };
    Some(LogLine {
        stream,
        data,
        time: e.time,
    })
}

impl ContainerService {
    /// Streams the log of `name`; the receiver ends when everything asked for was sent (with
    /// `follow`, when the container has stopped), or when it is dropped.
    pub fn logs(
        self: &Arc<Self>,
        name: &str,
        opts: LogOptions,
    ) -> Result<(bool, tokio::sync::mpsc::Receiver<LogLine>), EngineError> {
        let entry = self.entry(name)?;
        let rec = entry.snapshot();
        if rec.spec.host.log_config.driver == LogDriver::None && !opts.attach {
            return Err(EngineError::NotImplemented(
                "configured logging driver does not support reading".into(),
            ));
        }
        let path = self.paths.log(&rec.id);
        // "Now" is this call, not whenever the reading task gets to run: an attach that
        // writes stdin right after asking must see the output it causes.
        let now = std::fs::File::open(&path).ok().and_then(|f| {
            let len = f.metadata().ok()?.len();
            Some((f, len))
        });
        let (tx, rx) = tokio::sync::mpsc::channel(256);
        let handle = tokio::runtime::Handle::current();
        let wanted = Wanted {
            prefix: details_prefix(&rec),
            opts,
        };
        tokio::task::spawn_blocking(move || {
            let mut watch: Option<Arc<LogWrites>> = None;
            follow_log(&handle, &entry, &path, now, &wanted, &tx, &mut watch);
            // The stream ends before the watch goes: closing an inotify descriptor waits for
            // an RCU grace period, milliseconds that would hold up the client's end of stream.
            drop(tx);
            drop(watch);
        });
        Ok((rec.spec.config.tty, rx))
    }
}

fn follow_log(
    handle: &tokio::runtime::Handle,
    entry: &Arc<Entry>,
    path: &std::path::Path,
    now: Option<(std::fs::File, u64)>,
    wanted: &Wanted,
    tx: &tokio::sync::mpsc::Sender<LogLine>,
    watch: &mut Option<Arc<LogWrites>>,
) {
    let opts = &wanted.opts;
    // No file when asked: nothing was written yet, and all of it comes by following (read
    // here too, a line written since would come twice).
    let written = match &now {
        Some((file, len)) => logfile::read_until(path, Some((file, *len))).unwrap_or_default(),
        None => Vec::new(),
    };
    let mut lines: Vec<LogLine> = written.into_iter().filter_map(|e| wanted.line(e)).collect();
    if let Some(n) = opts.tail {
        let skip = lines.len().saturating_sub(n);
        lines.drain(..skip);
    }
    for l in lines {
        if tx.blocking_send(l).is_err() {
            return;
        }
    }
    if !opts.follow {
        return;
    }
    *watch = LogWrites::watch(handle, path).map(Arc::new);
    // The waiting is done by a task on the runtime, which wakes this thread through a
    // channel: a thread that waited on the runtime's timers itself panicked when the
    // daemon stopped under it; this one sees the channel close and ends.
    let (wake, woken) = std::sync::mpsc::sync_channel::<()>(1);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let waiter = handle.spawn(wake_on_changes(
        entry.changed.subscribe(),
        watch.clone(),
        wake,
        stopped,
    ));
    // Without a watch (inotify instances are limited), new lines are polled for.
    let poll_every = match watch {
        Some(_) => std::time::Duration::from_secs(1),
        None => std::time::Duration::from_millis(10),
    };
    follow_lines(entry, path, now, wanted, tx, &woken, poll_every);
    drop(stop);
    // The task's hold on the watch goes before this thread's: the watch is closed here, off
    // the runtime (closing an inotify descriptor waits for an RCU grace period).
    let _ = handle.block_on(waiter);
}

/// Wakes the following thread (`wake`) on each write to the log and each change of the
/// container's state, until `stopped` or the thread is gone.
async fn wake_on_changes(
    mut changes: tokio::sync::watch::Receiver<u64>,
    writes: Option<Arc<LogWrites>>,
    wake: std::sync::mpsc::SyncSender<()>,
    mut stopped: tokio::sync::oneshot::Receiver<()>,
) {
    // `changes` was subscribed before the thread first read the state: a change since then
    // is unseen here, and wakes it.
    loop {
        let written = async {
            match &writes {
                Some(w) => w.written().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = &mut stopped => return,
            changed = changes.changed() => {
                if changed.is_err() {
                    let _ = wake.try_send(());
                    return;
                }
            }
            _ = written => {}
        }
        if let Err(std::sync::mpsc::TrySendError::Disconnected(_)) = wake.try_send(()) {
            return;
        }
    }
}

/// The following proper: lines as they come, until the container has stopped and its log
/// is read, the client has gone, `until` has passed, or the daemon stops (`woken` closes).
fn follow_lines(
    entry: &Arc<Entry>,
    path: &std::path::Path,
    now: Option<(std::fs::File, u64)>,
    wanted: &Wanted,
    tx: &tokio::sync::mpsc::Sender<LogLine>,
    woken: &std::sync::mpsc::Receiver<()>,
    poll_every: std::time::Duration,
) {
    let opts = &wanted.opts;
    // Follow from where the file ended when asked (a container never started has none yet:
    // then everything it will write is new).
    let mut reader: Option<BufReader<std::fs::File>> = None;
    let mut offset = 0u64;
    if let Some((file, len)) = now {
        let mut r = BufReader::new(file);
        offset = r.seek(SeekFrom::Start(len)).unwrap_or(0);
        reader = Some(r);
    }
    let mut pending = String::new();
    loop {
        // Following ends at `until`, as Docker's does.
        if opts
            .until
            .is_some_and(|u| jiff::Timestamp::now().as_nanosecond() as i64 > u)
        {
            return;
        }
        // A wake that comes after this read of the state waits in the channel: a change
        // after it is never swallowed.
        // A container not yet started will be: keep following until it has run and stopped.
        let status = entry.snapshot().state.status;
        let running = status.is_running()
            || status == super::Status::Created
            || status == super::Status::Restarting;
        if reader.is_none() {
            reader = std::fs::File::open(path).ok().map(BufReader::new);
        }
        let mut got_any = false;
        while let Some(r) = reader.as_mut() {
            let mut buf = String::new();
            match r.read_line(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    offset += n as u64;
                    pending.push_str(&buf);
                    if !pending.ends_with('\n') {
                        continue;
                    }
                    got_any = true;
                    if let Ok(e) = serde_json::from_str::<LogEntry>(pending.trim_end()) {
                        if let Some(l) = wanted.line(e) {
                            if tx.blocking_send(l).is_err() {
                                return;
                            }
                        }
                    }
                    pending.clear();
                }
            }
        }
        if !running && !got_any {
            return;
        }
        if tx.is_closed() {
            return;
        }
        // Rotated away under us: start again from the new file.
        if std::fs::metadata(path)
            .map(|m| m.len() < offset)
            .unwrap_or(false)
        {
            reader = std::fs::File::open(path).ok().map(BufReader::new);
            offset = 0;
        }
        // A write to the log or a state change (the container stopping) wakes us at once;
        // with a watch, the time limit is a safety net only (every write is an event).
        match woken.recv_timeout(poll_every) {
            Ok(()) | Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => return,
        }
    }
}

/// Writes to a container's log, as inotify events on its directory (the file itself is
/// replaced when it rotates).
struct LogWrites {
    fd: tokio::io::unix::AsyncFd<std::os::fd::OwnedFd>,
}

/// Registers the inotify descriptor with the runtime.
#[allow(unsafe_code)]
fn register(fd: std::os::fd::OwnedFd) -> Option<tokio::io::unix::AsyncFd<std::os::fd::OwnedFd>> {
    // SAFETY: an OwnedFd is open until dropped and always names the same descriptor; the
    // AsyncFd owns it, so it outlives the registration.
    unsafe { tokio::io::unix::AsyncFd::register(fd) }.ok()
}

impl LogWrites {
    fn watch(handle: &tokio::runtime::Handle, log: &std::path::Path) -> Option<LogWrites> {
        use rustix::fs::inotify;
        let dir = log.parent()?;
        let fd =
            inotify::init(inotify::CreateFlags::CLOEXEC | inotify::CreateFlags::NONBLOCK).ok()?;
        inotify::add_watch(
            &fd,
            dir,
            inotify::WatchFlags::MODIFY
                | inotify::WatchFlags::CREATE
                | inotify::WatchFlags::MOVED_TO,
        )
        .ok()?;
        let _runtime = handle.enter();
        register(fd).map(|fd| LogWrites { fd })
    }

    /// Resolves once something was written since the last call (events are drained).
    async fn written(&self) {
        let Ok(mut ready) = self.fd.readable().await else {
            return std::future::pending().await;
        };
        let mut buf = [0u8; 4096];
        while rustix::io::read(self.fd.get_ref(), &mut buf).is_ok_and(|n| n > 0) {}
        ready.clear_ready();
    }
}
