//! Progress streams (import, load, later pull and push): one JSON message per line, each
//! ended by `\r\n` as Docker's JSON-message writer ends them.

use berth_api_types::progress::{ProgressDetail, ProgressMessage};
use bytes::Bytes;

/// One message of a progress stream.
pub fn line(v: &ProgressMessage) -> Bytes {
    let mut b = serde_json::to_vec(v).expect("json");
    b.extend_from_slice(b"\r\n");
    Bytes::from(b)
}

/// What a job that streams progress says: a line to send, or how it failed.
pub enum Said {
    Line(Bytes),
    Failed(crate::error::ApiError),
}

/// The answer of a job that speaks through `said`: a failure before its first line is the
/// answer's status, as Docker answered a job that had written nothing; after it, an error
/// line in the stream.
pub async fn respond(mut said: tokio::sync::mpsc::Receiver<Said>) -> crate::body::HandlerResult {
    use futures_util::StreamExt;
    let first = match said.recv().await {
        Some(Said::Line(line)) => line,
        Some(Said::Failed(e)) => return Err(e),
        None => {
            return Err(crate::error::ApiError::internal(
                "the operation ended without an answer",
            ))
        }
    };
    let rest = futures_util::stream::unfold(said, |mut said| async move {
        let line = match said.recv().await? {
            Said::Line(line) => line,
            Said::Failed(e) => line(&ProgressMessage::error(e.message)),
        };
        Some((line, said))
    });
    crate::body::streaming(
        "application/json",
        futures_util::stream::once(async move { first }).chain(rest),
    )
}

/// How a size's number and unit are joined: Docker before 1.12 wrote `1.5 MB`, later
/// Docker `1.5MB` (go-units dropped the space).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Units {
    Spaced,
    Joined,
}

/// What a job with a progress stream does when its client goes away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WhenClientLeaves {
    /// It runs to its end (a pull, a push: what they store is worth having).
    RunOn,
    /// It stops: its steps are dropped, which tells the job to stop (a build).
    Stop,
}

/// The answer of a job that reports `steps` and ends with `done`: each step worded as
/// lines by `words`, the steps told just before the end included, then the end's own
/// lines (`finish`) or its error.
pub async fn relay<S, O>(
    done: futures_util::future::BoxFuture<'static, Result<O, crate::error::ApiError>>,
    mut steps: tokio::sync::mpsc::UnboundedReceiver<S>,
    mut words: impl FnMut(S) -> Vec<Bytes> + Send + 'static,
    finish: impl FnOnce(O) -> Vec<Bytes> + Send + 'static,
    leaves: WhenClientLeaves,
) -> crate::body::HandlerResult
where
    S: Send + 'static,
    O: Send + 'static,
{
    let (tx, rx) = tokio::sync::mpsc::channel::<Said>(64);
    tokio::spawn(async move {
        let mut done = done;
        let mut stepping = true;
        let result = loop {
            tokio::select! {
                biased;
                _ = tx.closed(), if leaves == WhenClientLeaves::Stop => return,
                step = steps.recv(), if stepping => match step {
                    Some(step) => {
                        for line in words(step) {
                            let _ = tx.send(Said::Line(line)).await;
                        }
                    }
                    None => stepping = false,
                },
                r = &mut done => break r,
            }
        };
        // What came after the end was decided (the last steps) goes first.
        while let Ok(step) = steps.try_recv() {
            for line in words(step) {
                let _ = tx.send(Said::Line(line)).await;
            }
        }
        match result {
            Ok(outcome) => {
                for line in finish(outcome) {
                    let _ = tx.send(Said::Line(line)).await;
                }
            }
            Err(e) => {
                let _ = tx.send(Said::Failed(e)).await;
            }
        }
    });
    respond(rx).await
}

/// A size as Docker's progress text writes it: decimal units, four significant digits
/// (Go's `%.4g`: `1.5 MB`, `102.4 kB`, `999 B`), the unit joined as `units` says.
pub fn human_size(bytes: i64, units: Units) -> String {
    const UNITS: [&str; 7] = ["B", "kB", "MB", "GB", "TB", "PB", "EB"];
    let mut size = bytes.max(0) as f64;
    let mut unit = 0;
    while size >= 1000.0 && unit < UNITS.len() - 1 {
        size /= 1000.0;
        unit += 1;
    }
    // Four significant digits, then Go's %g drops trailing zeros.
    let decimals = match size {
        s if s >= 100.0 => 1,
        s if s >= 10.0 => 2,
        _ => 3,
    };
    let mut text = format!("{size:.decimals$}");
    // Rounding may carry into a fifth digit (999.95 → 1000.0): %.4g then shows no fraction.
    if text.contains('.') {
        let digits = text.chars().filter(char::is_ascii_digit).count();
        if digits > 4 {
            text = format!("{size:.0}");
        }
        if text.contains('.') {
            text = text.trim_end_matches('0').trim_end_matches('.').to_string();
        }
    }
    match units {
        Units::Spaced => format!("{text} {}", UNITS[unit]),
        Units::Joined => format!("{text}{}", UNITS[unit]),
    }
}

/// The progress text of `detail` at `now` (Unix seconds), as Docker's `JSONProgress.String`
/// writes it for a wide terminal: a 50-column bar, the sizes, and the time left while under
/// half done.
pub fn bar(detail: &ProgressDetail, now: i64, units: Units) -> String {
    let (current, total) = (detail.current, detail.total);
    if current <= 0 && total <= 0 {
        return String::new();
    }
    if total <= 0 {
        return format!("{:>8}", human_size(current, units));
    }
    let half_percent = ((current as f64 / total as f64 * 100.0) as i64 / 2).clamp(0, 50) as usize;
    let arrow = format!(
        "[{}>{}] ",
        "=".repeat(half_percent),
        " ".repeat(50 - half_percent)
    );
    let numbers = format!(
        "{:>8}/{}",
        human_size(current, units),
        human_size(total, units)
    );
    let mut left = String::new();
    if detail.start > 0 && current > 0 && half_percent < 50 {
        // In nanoseconds per byte, truncated, as Go's Duration arithmetic does it.
        let per_byte = (now - detail.start).max(0) as i128 * 1_000_000_000 / current as i128;
        let secs = (per_byte * (total - current) as i128 / 1_000_000_000) as u64;
        left = format!(" {}", berth_gofmt::duration(secs as i64 * 1_000_000_000));
    }
    format!("{arrow}{numbers}{left}")
}

/// When a transfer's progress is worth a line, by Docker's rule (moby's progress reader):
/// each 512 KiB, or each 1 % of a known total when that is less, and then at most one line
/// each 100 ms (its rate limiter: one token, one more every 100 ms).
#[derive(Debug)]
pub struct Throttle {
    every: i64,
    last: i64,
    /// At most one line each [`LINE_EVERY`] (not in [`Throttle::by_bytes`]).
    rate_limited: bool,
    /// When the last line was let through.
    shown: Option<std::time::Instant>,
}

/// The least time between two lines of one transfer.
const LINE_EVERY: std::time::Duration = std::time::Duration::from_millis(100);

impl Throttle {
    pub fn new(total: Option<u64>) -> Self {
        Throttle {
            rate_limited: true,
            ..Throttle::by_bytes(total)
        }
    }

    /// The byte rule alone, as Docker's progress reader was before it was rate-limited (the
    /// daemons of the API versions `insert` belongs to).
    pub fn by_bytes(total: Option<u64>) -> Self {
        let mut every = 512 * 1024;
        if let Some(total) = total.filter(|t| *t > 0) {
            every = every.min((total as f64 * 0.01) as i64);
        }
        Throttle {
            every,
            last: 0,
            rate_limited: false,
            shown: None,
        }
    }

    /// Whether `current` bytes call for a line now.
    pub fn due(&mut self, current: i64) -> bool {
        self.due_at(current, std::time::Instant::now())
    }

    /// As [`Throttle::due`] at `now`. As moby's reader, the count is taken as seen whenever
    /// it passes the step, shown or not.
    fn due_at(&mut self, current: i64, now: std::time::Instant) -> bool {
        if current - self.last <= self.every {
            return false;
        }
        self.last = current;
        match self.shown {
            Some(at) if self.rate_limited && now.duration_since(at) < LINE_EVERY => false,
            _ => {
                self.shown = Some(now);
                true
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_as_docker_writes_them() {
        for (bytes, text) in [
            (0, "0 B"),
            (999, "999 B"),
            (1000, "1 kB"),
            (1536, "1.536 kB"),
            (102_400, "102.4 kB"),
            (1_500_000, "1.5 MB"),
            (12_345_678, "12.35 MB"),
            (999_960, "1000 kB"),
            (3_000_000_000, "3 GB"),
        ] {
            assert_eq!(human_size(bytes, Units::Spaced), text, "{bytes}");
            let joined = text.replace(' ', "");
            assert_eq!(human_size(bytes, Units::Joined), joined, "{bytes}");
        }
    }

    #[test]
    fn the_bar_shows_the_share_done_the_sizes_and_the_time_left() {
        let d = |current, total, start| ProgressDetail {
            current,
            total,
            start,
        };
        assert_eq!(bar(&d(0, 0, 0), 0, Units::Spaced), "");
        assert_eq!(bar(&d(2048, 0, 0), 0, Units::Spaced), "2.048 kB");
        assert_eq!(
            bar(&d(250_000, 1_000_000, 0), 0, Units::Spaced),
            format!("[{}>{}]   250 kB/1 MB", "=".repeat(12), " ".repeat(38))
        );
        // A quarter in 10 s: 30 s left.
        assert_eq!(
            bar(&d(250_000, 1_000_000, 100), 110, Units::Spaced),
            format!("[{}>{}]   250 kB/1 MB 30s", "=".repeat(12), " ".repeat(38))
        );
        // Done: a full bar, no time left.
        assert_eq!(
            bar(&d(1_000_000, 1_000_000, 100), 110, Units::Spaced),
            format!("[{}>]     1 MB/1 MB", "=".repeat(50))
        );
        // Docker 20.10's spelling, as it wrote a push of this size.
        assert_eq!(
            bar(&d(35_840, 1_985_625, 0), 0, Units::Joined),
            format!("[>{}]  35.84kB/1.986MB", " ".repeat(50))
        );
        assert_eq!(berth_gofmt::duration(185 * 1_000_000_000), "3m5s");
        assert_eq!(berth_gofmt::duration(3723 * 1_000_000_000), "1h2m3s");
    }

    #[test]
    fn lines_come_each_percent_of_a_small_total_and_each_512_kib_of_a_large_one() {
        let t0 = std::time::Instant::now();
        let later = |ms: u64| t0 + std::time::Duration::from_millis(ms);
        let mut small = Throttle::new(Some(10_000));
        assert!(!small.due_at(100, later(0)));
        assert!(small.due_at(101, later(0)));
        assert!(!small.due_at(150, later(200)));
        assert!(small.due_at(202, later(200)));
        let mut large = Throttle::new(Some(1 << 30));
        assert!(!large.due_at(512 * 1024, later(0)));
        assert!(large.due_at(512 * 1024 + 1, later(0)));
        let mut unknown = Throttle::new(None);
        assert!(!unknown.due_at(1000, later(0)));
        assert!(unknown.due_at(600_000, later(0)));
    }

    #[test]
    fn at_most_one_line_each_100_ms() {
        let t0 = std::time::Instant::now();
        let later = |ms: u64| t0 + std::time::Duration::from_millis(ms);
        let mut t = Throttle::new(Some(10_000));
        assert!(t.due_at(200, later(0)));
        // Past the step but too soon: no line, and the count is taken as seen.
        assert!(!t.due_at(400, later(50)));
        assert!(!t.due_at(450, later(120)));
        assert!(t.due_at(600, later(120)));
        assert!(!t.due_at(800, later(219)));
        assert!(t.due_at(1000, later(220)));
        // Without the limit: each step past the last.
        let mut bytes = Throttle::by_bytes(Some(10_000));
        assert!(bytes.due_at(200, later(0)));
        assert!(bytes.due_at(400, later(1)));
    }

    #[test]
    fn a_line_is_json_ended_by_crlf() {
        let mut m = ProgressMessage::status("Downloading");
        m.progress_detail = Some(ProgressDetail {
            current: 5,
            total: 10,
            start: 0,
        });
        m.id = Some("abc".into());
        assert_eq!(
            &line(&m)[..],
            &b"{\"status\":\"Downloading\",\"progressDetail\":{\"current\":5,\"total\":10},\"id\":\"abc\"}\r\n"[..]
        );
        m.progress_detail = Some(ProgressDetail::default());
        assert!(String::from_utf8_lossy(&line(&m)).contains("\"progressDetail\":{}"));
    }
}
