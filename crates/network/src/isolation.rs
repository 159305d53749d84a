//! Isolation between bridges, as Docker's `DOCKER-ISOLATION-STAGE-1/2`: a packet that comes in
//! on one berth bridge and would leave on another is dropped. Stage one matches "in on B, out
//! elsewhere" per bridge and jumps to stage two, which drops "out on any berth bridge". The
//! chains are shared by every berthd on the host (each adds and removes only its own bridges'
//! rules), and the jump to them is kept first in `FORWARD`, ahead of every bridge's own chain.

use crate::nat::{self, Rule};

const STAGE1: &str = "BERTH-ISOLATION-1";
const STAGE2: &str = "BERTH-ISOLATION-2";

fn jump() -> Rule {
    Rule {
        table: "filter",
        chain: "FORWARD".into(),
        spec: format!("-j {STAGE1}"),
    }
}

fn rules(bridge: &str) -> [Rule; 2] {
    [
        Rule {
            table: "filter",
            chain: STAGE1.into(),
            spec: format!("-i {bridge} ! -o {bridge} -j {STAGE2}"),
        },
        Rule {
            table: "filter",
            chain: STAGE2.into(),
            spec: format!("-o {bridge} -j DROP"),
        },
    ]
}

/// Held while the shared chains change: by one thread of this process (a mutex) and one
/// process of the host (a lock on a file), as several bridges of several daemons come up at
/// once and each moves the jump.
struct Exclusive {
    _thread: std::sync::MutexGuard<'static, ()>,
    _file: std::fs::File,
}

fn exclusive() -> Result<Exclusive, String> {
    static IN_PROCESS: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let thread = IN_PROCESS.lock().unwrap_or_else(|e| e.into_inner());
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open("/run/berth-isolation.lock")
        .map_err(|e| format!("/run/berth-isolation.lock: {e}"))?;
    rustix::fs::flock(&file, rustix::fs::FlockOperation::LockExclusive)
        .map_err(|e| format!("lock /run/berth-isolation.lock: {e}"))?;
    Ok(Exclusive {
        _thread: thread,
        _file: file,
    })
}

/// Adds `bridge` to the isolation (idempotent) and moves the jump to the head of `FORWARD`.
pub(crate) fn add(bridge: &str) -> Result<(), String> {
    let _only_us = exclusive()?;
    nat::ensure_chain("filter", STAGE1)?;
    nat::ensure_chain("filter", STAGE2)?;
    let missing: Vec<Rule> = rules(bridge)
        .into_iter()
        .filter(|r| !nat::present(r))
        .collect();
    nat::apply(&[], nat::Op::Insert, &missing)?;
    let j = jump();
    if nat::first_rule("filter", "FORWARD").as_deref() != Some(j.spec.as_str()) {
        while nat::present(&j) {
            nat::apply(&[], nat::Op::Delete, std::slice::from_ref(&j))?;
        }
        nat::apply(&[], nat::Op::Insert, std::slice::from_ref(&j))?;
    }
    Ok(())
}

/// Takes `bridge` out of the isolation (the chains and the jump stay, for the others).
pub(crate) fn remove(bridge: &str) {
    let _only_us = exclusive();
    for r in rules(bridge) {
        while nat::present(&r) {
            if nat::apply(&[], nat::Op::Delete, std::slice::from_ref(&r)).is_err() {
                break;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bridge_is_cut_off_from_the_others() {
        let [one, two] = rules("br-1");
        assert_eq!(one.spec, "-i br-1 ! -o br-1 -j BERTH-ISOLATION-2");
        assert_eq!(two.spec, "-o br-1 -j DROP");
    }
}
