//! Isolation between bridges, as Docker's `DOCKER-ISOLATION-STAGE-1/2`: a packet that comes in
//! on one berth bridge and would leave on another is dropped. Stage one matches "in on B, out
//! elsewhere" per bridge and jumps to stage two, which drops "out on any berth bridge". The
//! chains are shared by every berthd on the host (each adds and removes only its own bridges'
//! rules), and the jump to them is kept first in `FORWARD`, ahead of every bridge's own chain.

use crate::nat::{Batch, Listing, Rule};

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
/// once and each moves the jump. The caller lists the chains and applies its batch under it.
pub(crate) struct Exclusive {
    _thread: std::sync::MutexGuard<'static, ()>,
    _file: std::fs::File,
}

pub(crate) fn exclusive() -> Result<Exclusive, String> {
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

/// Adds to `batch` what puts `bridge` in the isolation (what `filter` lacks of it) and keeps
/// the jump first in `FORWARD` (moved when it is not, or when the batch inserts there too).
pub(crate) fn add(batch: &mut Batch, filter: &Listing, bridge: &str, forward_changed: bool) {
    for chain in [STAGE1, STAGE2] {
        if !filter.has_chain(chain) {
            batch.push("filter", format!("-N {chain}"));
        }
    }
    for r in rules(bridge) {
        if !filter.has(&r) {
            batch.rule("-I", &r);
        }
    }
    let j = jump();
    let first = filter.first_of("FORWARD") == Some(j.spec.as_str());
    if !first || forward_changed {
        if filter.has(&j) {
            batch.rule("-D", &j);
        }
        batch.rule("-I", &j);
    }
}

/// Adds to `batch` what takes `bridge` out of the isolation; the chains and the jump go too
/// when no other bridge of any daemon is left in them.
pub(crate) fn remove(batch: &mut Batch, filter: &Listing, bridge: &str) {
    let mine = rules(bridge);
    for r in &mine {
        if filter.has(r) {
            batch.rule("-D", r);
        }
    }
    let others = [STAGE1, STAGE2].iter().any(|chain| {
        filter
            .rules_of(chain)
            .any(|spec| !mine.iter().any(|r| r.spec == spec))
    });
    if !others && filter.has_chain(STAGE1) {
        // Every jump (a second one would keep the chain from being deleted).
        let j = jump();
        for _ in filter.rules_of("FORWARD").filter(|spec| *spec == j.spec) {
            batch.rule("-D", &j);
        }
        for chain in [STAGE1, STAGE2] {
            batch.push("filter", format!("-X {chain}"));
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

    #[test]
    fn the_jump_is_kept_first_and_nothing_is_added_twice() {
        // Nothing yet: chains, rules and the jump.
        let mut b = Batch::default();
        add(&mut b, &Listing::default(), "br-1", false);
        assert_eq!(
            b.input(),
            "*filter\n-N BERTH-ISOLATION-1\n-N BERTH-ISOLATION-2\n\
             -I BERTH-ISOLATION-1 -i br-1 ! -o br-1 -j BERTH-ISOLATION-2\n\
             -I BERTH-ISOLATION-2 -o br-1 -j DROP\n-I FORWARD -j BERTH-ISOLATION-1\nCOMMIT\n"
        );
        // All there and first: nothing to do, unless the batch inserts into FORWARD too.
        let listing = Listing::parse(
            "-P FORWARD ACCEPT\n-N BERTH-ISOLATION-1\n-N BERTH-ISOLATION-2\n\
             -A FORWARD -j BERTH-ISOLATION-1\n-A FORWARD -j BERTH-bt0-FWD\n\
             -A BERTH-ISOLATION-1 -i br-1 ! -o br-1 -j BERTH-ISOLATION-2\n\
             -A BERTH-ISOLATION-2 -o br-1 -j DROP\n",
        );
        let mut b = Batch::default();
        add(&mut b, &listing, "br-1", false);
        assert_eq!(b.input(), "");
        let mut b = Batch::default();
        add(&mut b, &listing, "br-1", true);
        assert_eq!(
            b.input(),
            "*filter\n-D FORWARD -j BERTH-ISOLATION-1\n-I FORWARD -j BERTH-ISOLATION-1\nCOMMIT\n"
        );
        // The last bridge out takes the chains and the jump with it.
        let mut b = Batch::default();
        remove(&mut b, &listing, "br-1");
        assert_eq!(
            b.input(),
            "*filter\n-D BERTH-ISOLATION-1 -i br-1 ! -o br-1 -j BERTH-ISOLATION-2\n\
             -D BERTH-ISOLATION-2 -o br-1 -j DROP\n-D FORWARD -j BERTH-ISOLATION-1\n\
             -X BERTH-ISOLATION-1\n-X BERTH-ISOLATION-2\nCOMMIT\n"
        );
        // Another bridge still in: only this one's rules go.
        let shared = Listing::parse(
            "-N BERTH-ISOLATION-1\n-N BERTH-ISOLATION-2\n-A FORWARD -j BERTH-ISOLATION-1\n\
             -A BERTH-ISOLATION-1 -i br-1 ! -o br-1 -j BERTH-ISOLATION-2\n\
             -A BERTH-ISOLATION-1 -i br-2 ! -o br-2 -j BERTH-ISOLATION-2\n\
             -A BERTH-ISOLATION-2 -o br-1 -j DROP\n-A BERTH-ISOLATION-2 -o br-2 -j DROP\n",
        );
        let mut b = Batch::default();
        remove(&mut b, &shared, "br-1");
        assert!(!b.input().contains("-X"), "{}", b.input());
        assert!(b.input().contains("-D BERTH-ISOLATION-2 -o br-1 -j DROP\n"));
    }
}
