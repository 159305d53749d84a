//! Processes: signals by name, process identity across PID reuse, a container's processes
//! (`top`), and the cgroup freezer (`pause`).

use std::collections::HashSet;
use std::path::PathBuf;

use crate::error::EngineError;

const SIGNALS: &[(&str, i32)] = &[
    ("HUP", 1),
    ("INT", 2),
    ("QUIT", 3),
    ("ILL", 4),
    ("TRAP", 5),
    ("ABRT", 6),
    ("BUS", 7),
    ("FPE", 8),
    ("KILL", 9),
    ("USR1", 10),
    ("SEGV", 11),
    ("USR2", 12),
    ("PIPE", 13),
    ("ALRM", 14),
    ("TERM", 15),
    ("STKFLT", 16),
    ("CHLD", 17),
    ("CONT", 18),
    ("STOP", 19),
    ("TSTP", 20),
    ("TTIN", 21),
    ("TTOU", 22),
    ("URG", 23),
    ("XCPU", 24),
    ("XFSZ", 25),
    ("VTALRM", 26),
    ("PROF", 27),
    ("WINCH", 28),
    ("IO", 29),
    ("PWR", 30),
    ("SYS", 31),
];

/// Parses `SIGTERM`, `TERM`, `term` or `15`.
pub fn parse_signal(s: &str) -> Result<i32, EngineError> {
    let bad = || EngineError::InvalidParameter(format!("Invalid signal: {s}"));
    if let Ok(n) = s.parse::<i32>() {
        return if (1..=64).contains(&n) {
            Ok(n)
        } else {
            Err(bad())
        };
    }
    let upper = s.to_ascii_uppercase();
    let name = upper.strip_prefix("SIG").unwrap_or(&upper);
    SIGNALS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, v)| *v)
        .ok_or_else(bad)
}

/// Kills every process in the container's cgroup `cgroup` and below, in every hierarchy,
/// waits (two seconds at most) for them to go, and removes the cgroups; returns the
/// processes still there (none unless one is stuck in the kernel).
pub fn kill_cgroup(cgroup: &str) -> Vec<i32> {
    let fs = berth_runtime::stats::CgroupFs::default();
    if !fs.processes_below(cgroup).is_empty() {
        // A frozen cgroup's processes cannot die: thaw it first.
        let _ = set_frozen(cgroup, false);
    }
    let left = fs.kill_all(cgroup, std::time::Duration::from_secs(2));
    if left.is_empty() {
        fs.remove_tree(cgroup);
    }
    left
}

/// Sends `signal` to `pid`.
pub fn send_signal(pid: i32, signal: i32) -> std::io::Result<()> {
    let pid = rustix::process::Pid::from_raw(pid).ok_or_else(|| std::io::Error::other("no pid"))?;
    let sig = rustix::process::Signal::from_named_raw(signal)
        .ok_or_else(|| std::io::Error::other(format!("signal {signal}")))?;
    rustix::process::kill_process(pid, sig).map_err(Into::into)
}

pub use berth_runtime::monitor::process_start_time as start_time;

/// Whether process `pid` runs (exists and is not a zombie waiting to be reaped).
pub fn runs(pid: i32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    // The state follows the command, which may hold spaces and parentheses.
    stat.rfind(')')
        .and_then(|i| stat.get(i + 2..i + 3))
        .is_some_and(|state| state != "Z" && state != "X")
}

/// Every process in the container's cgroup (`cgroup` as in the spec, e.g. `/berth/<id>`).
pub fn container_pids(cgroup: &str) -> Vec<i32> {
    let needle = cgroup.to_string();
    let mut pids = Vec::new();
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for e in dir.flatten() {
            let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
                continue;
            };
            if let Ok(cg) = std::fs::read_to_string(format!("/proc/{pid}/cgroup")) {
                if cg.lines().any(|l| l.ends_with(&needle)) {
                    pids.push(pid);
                }
            }
        }
    }
    pids.sort();
    pids
}

/// `GET /containers/(id)/top`: `ps` output split into titles and rows, filtered to the
/// container's processes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopResult {
    pub titles: Vec<String>,
    pub processes: Vec<Vec<String>>,
}

/// `helper` is the container's exec helper, in its cgroups but not one of its processes.
pub fn top(cgroup: &str, ps_args: &str, helper: Option<i32>) -> Result<TopResult, EngineError> {
    let args: Vec<&str> = if ps_args.is_empty() {
        vec!["-ef"]
    } else {
        ps_args.split_whitespace().collect()
    };
    let out = std::process::Command::new("ps")
        .args(&args)
        .output()
        .map_err(|e| EngineError::failed("running ps", e))?;
    if !out.status.success() {
        return Err(EngineError::Internal(format!(
            "ps: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    parse_ps(
        &String::from_utf8_lossy(&out.stdout),
        &container_pids(cgroup)
            .into_iter()
            .filter(|p| Some(*p) != helper)
            .collect(),
    )
}

/// Splits `ps` output as Docker does: titles by whitespace, each row into as many fields as
/// titles, the last taking the rest of the line (commands have spaces).
pub fn parse_ps(output: &str, pids: &HashSet<i32>) -> Result<TopResult, EngineError> {
    let mut lines = output.lines();
    let titles: Vec<String> = lines
        .next()
        .unwrap_or("")
        .split_whitespace()
        .map(str::to_string)
        .collect();
    let pid_col = titles.iter().position(|t| t == "PID").ok_or_else(|| {
        EngineError::InvalidParameter("Couldn't find PID field in ps output".to_string())
    })?;
    let mut processes = Vec::new();
    for line in lines {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.len() < titles.len() {
            continue;
        }
        let Ok(pid) = fields[pid_col].parse::<i32>() else {
            continue;
        };
        if !pids.contains(&pid) {
            continue;
        }
        let mut row: Vec<String> = fields[..titles.len() - 1]
            .iter()
            .map(|s| s.to_string())
            .collect();
        row.push(fields[titles.len() - 1..].join(" "));
        processes.push(row);
    }
    Ok(TopResult { titles, processes })
}

/// The freezer control file of the container's cgroup (v2 `cgroup.freeze`, v1
/// `freezer.state`).
fn freezer(cgroup: &str) -> Option<(PathBuf, bool)> {
    let v2 = PathBuf::from(format!("/sys/fs/cgroup{cgroup}/cgroup.freeze"));
    if v2.exists() {
        return Some((v2, true));
    }
    let v1 = PathBuf::from(format!("/sys/fs/cgroup/freezer{cgroup}/freezer.state"));
    v1.exists().then_some((v1, false))
}

pub fn set_frozen(cgroup: &str, frozen: bool) -> Result<(), EngineError> {
    let (path, v2) = freezer(cgroup)
        .ok_or_else(|| EngineError::Internal("container has no freezer cgroup".into()))?;
    let value = match (v2, frozen) {
        (true, true) => "1",
        (true, false) => "0",
        (false, true) => "FROZEN",
        (false, false) => "THAWED",
    };
    std::fs::write(&path, value)
        .map_err(|e| EngineError::failed(format!("write {}", path.display()), e))?;
    // v1 freezing is asynchronous: wait until the state settles.
    if !v2 {
        for _ in 0..1000 {
            let now = std::fs::read_to_string(&path).unwrap_or_default();
            if now.trim() == value {
                return Ok(());
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_by_name_and_number() {
        assert_eq!(parse_signal("SIGTERM").unwrap(), 15);
        assert_eq!(parse_signal("kill").unwrap(), 9);
        assert_eq!(parse_signal("HUP").unwrap(), 1);
        assert_eq!(parse_signal("10").unwrap(), 10);
        assert!(parse_signal("SIGNOPE").is_err());
        assert!(parse_signal("0").is_err());
    }

    #[test]
    fn ps_rows_keep_spaces_in_commands() {
        let out = "UID PID PPID C STIME TTY TIME CMD\nroot 10 1 0 10:00 ? 00:00:00 sleep 100\nroot 11 1 0 10:00 ? 00:00:00 other thing\n";
        let r = parse_ps(out, &[10].into_iter().collect()).unwrap();
        assert_eq!(r.titles.len(), 8);
        assert_eq!(
            r.processes,
            vec![vec![
                "root",
                "10",
                "1",
                "0",
                "10:00",
                "?",
                "00:00:00",
                "sleep 100"
            ]]
        );
        assert!(parse_ps("USER COMMAND\nroot x\n", &HashSet::new()).is_err());
    }

    #[test]
    fn a_running_process_runs_and_a_reaped_one_does_not() {
        assert!(runs(std::process::id() as i32));
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id() as i32;
        // Exited, not reaped: a zombie.
        while std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| !s.contains(") Z"))
        {
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        assert!(!runs(pid));
        child.wait().unwrap();
        assert!(!runs(pid));
    }

    #[test]
    fn own_start_time_is_stable() {
        let me = std::process::id() as i32;
        assert!(start_time(me).is_some());
        assert_eq!(start_time(me), start_time(me));
    }
}
