//! Docker's json-file log format: one JSON object per line,
//! `{"log":"hello\n","stream":"stdout","time":"2024-01-01T00:00:00.000000001Z"}`, written by the
//! monitor, rotated only when a maximum size is configured, and read back by the daemon.

use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogEntry {
    pub log: String,
    pub stream: String,
    pub time: String,
}

/// Lines longer than this are written in pieces (Docker's 16 KiB buffer).
pub const MAX_LINE: usize = 16 * 1024;

/// Appends entries to a log file, rotating it at `max_size` into `path.1` … `path.N-1`.
pub struct LogWriter {
    path: PathBuf,
    out: BufWriter<File>,
    size: u64,
    max_size: Option<u64>,
    max_files: u32,
    partial: [Vec<u8>; 2],
}

impl LogWriter {
    pub fn open(path: &Path, max_size: Option<u64>, max_files: u32) -> io::Result<Self> {
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        let size = file.metadata()?.len();
        Ok(Self {
            path: path.to_path_buf(),
            out: BufWriter::with_capacity(64 * 1024, file),
            size,
            max_size,
            max_files: max_files.max(1),
            partial: [Vec::new(), Vec::new()],
        })
    }

    /// Feeds bytes read from the container's stdout (`stream` 0) or stderr (1); complete lines
    /// are written, the rest waits for more (up to [`MAX_LINE`]).
    pub fn feed(&mut self, stream: usize, data: &[u8]) -> io::Result<()> {
        let mut buf = std::mem::take(&mut self.partial[stream]);
        buf.extend_from_slice(data);
        let mut start = 0;
        while let Some(nl) = buf[start..].iter().position(|b| *b == b'\n') {
            let end = start + nl + 1;
            self.entry(stream, &buf[start..end])?;
            start = end;
        }
        while buf.len() - start >= MAX_LINE {
            self.entry(stream, &buf[start..start + MAX_LINE])?;
            start += MAX_LINE;
        }
        buf.drain(..start);
        self.partial[stream] = buf;
        Ok(())
    }

    /// Writes out whatever partial lines remain (at exit).
    pub fn flush_partial(&mut self) -> io::Result<()> {
        for stream in 0..2 {
            let rest = std::mem::take(&mut self.partial[stream]);
            if !rest.is_empty() {
                self.entry(stream, &rest)?;
            }
        }
        self.out.flush()
    }

    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    fn entry(&mut self, stream: usize, line: &[u8]) -> io::Result<()> {
        let entry = LogEntry {
            log: String::from_utf8_lossy(line).into_owned(),
            stream: if stream == 0 { "stdout" } else { "stderr" }.to_string(),
            time: jiff::Timestamp::now().to_string(),
        };
        let mut bytes = serde_json::to_vec(&entry).expect("log entry serialises");
        bytes.push(b'\n');
        if let Some(max) = self.max_size {
            if self.size > 0 && self.size + bytes.len() as u64 > max {
                self.rotate()?;
            }
        }
        self.out.write_all(&bytes)?;
        self.size += bytes.len() as u64;
        Ok(())
    }

    fn rotate(&mut self) -> io::Result<()> {
        self.out.flush()?;
        if self.max_files > 1 {
            for i in (1..self.max_files - 1).rev() {
                let _ = std::fs::rename(rotated(&self.path, i), rotated(&self.path, i + 1));
            }
            std::fs::rename(&self.path, rotated(&self.path, 1))?;
        }
        let file = OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(true)
            .open(&self.path)?;
        self.out = BufWriter::with_capacity(64 * 1024, file);
        self.size = 0;
        Ok(())
    }
}

fn rotated(path: &Path, i: u32) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(format!(".{i}"));
    PathBuf::from(s)
}

/// The log files of `path`, oldest first.
pub fn log_files(path: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = (1..100)
        .map(|i| rotated(path, i))
        .take_while(|p| p.exists())
        .collect();
    files.reverse();
    files.push(path.to_path_buf());
    files
}

/// Reads every entry of the log (all rotated files, oldest first). Torn last lines are skipped.
pub fn read_all(path: &Path) -> io::Result<Vec<LogEntry>> {
    read_until(path, None)
}

/// As [`read_all`], with the current file (`path` itself) as `current` gives it, when given:
/// an open handle and how many of its bytes to read, what was there at some earlier moment,
/// for a reader that follows the rest from that offset on the same handle.
pub fn read_until(path: &Path, current: Option<(&File, u64)>) -> io::Result<Vec<LogEntry>> {
    use std::io::{Read, Seek};
    let mut out = Vec::new();
    let mut collect = |r: &mut dyn Read| -> io::Result<()> {
        for line in BufReader::new(r).lines() {
            if let Ok(entry) = serde_json::from_str::<LogEntry>(&line?) {
                out.push(entry);
            }
        }
        Ok(())
    };
    for f in log_files(path) {
        if let (true, Some((mut file, len))) = (f == path, current) {
            file.rewind()?;
            collect(&mut file.take(len))?;
            continue;
        }
        match File::open(&f) {
            Ok(file) => collect(&mut &file)?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_until_stops_at_the_given_length() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c-json.log");
        let mut w = LogWriter::open(&path, None, 1).unwrap();
        w.feed(0, b"one\n").unwrap();
        w.flush().unwrap();
        let len = std::fs::metadata(&path).unwrap().len();
        w.feed(0, b"two\n").unwrap();
        w.flush().unwrap();
        let logs = |n: Option<u64>| {
            let file = File::open(&path).unwrap();
            read_until(&path, n.map(|len| (&file, len)))
                .unwrap()
                .into_iter()
                .map(|e| e.log)
                .collect::<Vec<_>>()
        };
        assert_eq!(logs(Some(len)), ["one\n"]);
        assert_eq!(logs(None), ["one\n", "two\n"]);
    }

    #[test]
    fn lines_partials_and_streams() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c-json.log");
        let mut w = LogWriter::open(&path, None, 1).unwrap();
        w.feed(0, b"hel").unwrap();
        w.feed(1, b"oops\n").unwrap();
        w.feed(0, b"lo\nworld").unwrap();
        w.flush_partial().unwrap();
        let e = read_all(&path).unwrap();
        let got: Vec<(&str, &str)> = e
            .iter()
            .map(|e| (e.stream.as_str(), e.log.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("stderr", "oops\n"),
                ("stdout", "hello\n"),
                ("stdout", "world")
            ]
        );
        assert!(e[0].time.ends_with('Z'));
        let raw = std::fs::read_to_string(&path).unwrap();
        assert!(
            raw.starts_with(r#"{"log":"oops\n","stream":"stderr","time":""#),
            "{raw}"
        );
    }

    #[test]
    fn long_lines_are_split() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("l.log");
        let mut w = LogWriter::open(&path, None, 1).unwrap();
        w.feed(0, &vec![b'x'; MAX_LINE * 2 + 10]).unwrap();
        w.flush_partial().unwrap();
        let lens: Vec<usize> = read_all(&path)
            .unwrap()
            .iter()
            .map(|e| e.log.len())
            .collect();
        assert_eq!(lens, [MAX_LINE, MAX_LINE, 10]);
    }

    #[test]
    fn rotation_keeps_max_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.log");
        let mut w = LogWriter::open(&path, Some(300), 3).unwrap();
        for i in 0..40 {
            w.feed(0, format!("line {i}\n").as_bytes()).unwrap();
        }
        w.flush().unwrap();
        assert_eq!(log_files(&path).len(), 3);
        assert!(!rotated(&path, 3).exists());
        let all = read_all(&path).unwrap();
        assert_eq!(all.last().unwrap().log, "line 39\n");
        assert!(all.len() < 40, "old lines were rotated away");
        let nums: Vec<u32> = all
            .iter()
            .map(|e| e.log.trim().trim_start_matches("line ").parse().unwrap())
            .collect();
        assert!(
            nums.windows(2).all(|w| w[1] == w[0] + 1),
            "in order: {nums:?}"
        );
    }
}
