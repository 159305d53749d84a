//! The kernel's packet rules for the bridge, through `iptables-restore` (one process per
//! change, all rules of the change at once). Every rule lives in chains named after the
//! bridge, reached by one jump from each built-in chain, so a daemon can flush and rebuild
//! its own rules without touching anyone else's (another daemon on another bridge, or the
//! host's). Published ports are DNAT rules: forwarding is the kernel's and keeps working
//! while berthd is down.

use std::io::Write;
use std::net::Ipv4Addr;
use std::process::{Command, Stdio};

use crate::ipam::Cidr;
use crate::ports::PortMapping;

/// One rule: table, chain and the match/target arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub table: &'static str,
    pub chain: String,
    pub spec: String,
}

#[derive(Debug, Clone)]
pub struct Chains {
    /// nat: DNAT of published ports.
    pub dnat: String,
    /// nat: masquerading after routing.
    pub post: String,
    /// filter: what may be forwarded to and from the bridge.
    pub forward: String,
}

impl Chains {
    pub fn for_bridge(bridge: &str) -> Chains {
        Chains {
            dnat: format!("BERTH-{bridge}"),
            post: format!("BERTH-{bridge}-POST"),
            forward: format!("BERTH-{bridge}-FWD"),
        }
    }

    fn all(&self) -> [(&'static str, &str); 3] {
        [
            ("nat", &self.dnat),
            ("nat", &self.post),
            ("filter", &self.forward),
        ]
    }
}

/// The jumps from the built-in chains into ours.
pub fn jumps(c: &Chains) -> Vec<Rule> {
    vec![
        Rule {
            table: "nat",
            chain: "PREROUTING".into(),
            spec: format!("-m addrtype --dst-type LOCAL -j {}", c.dnat),
        },
        // Local processes too, 127.0.0.1 included: there is no userland proxy.
        Rule {
            table: "nat",
            chain: "OUTPUT".into(),
            spec: format!("-m addrtype --dst-type LOCAL -j {}", c.dnat),
        },
        Rule {
            table: "nat",
            chain: "POSTROUTING".into(),
            spec: format!("-j {}", c.post),
        },
        Rule {
            table: "filter",
            chain: "FORWARD".into(),
            spec: format!("-j {}", c.forward),
        },
    ]
}

/// The bridge's standing rules, appended to freshly flushed chains.
pub fn bridge_rules(
    c: &Chains,
    bridge: &str,
    subnet: Cidr,
    ip_masq: bool,
    icc: bool,
    internal: bool,
) -> Vec<Rule> {
    let mut out = Vec::new();
    let post = |spec: String| Rule {
        table: "nat",
        chain: c.post.clone(),
        spec,
    };
    let fwd = |spec: String| Rule {
        table: "filter",
        chain: c.forward.clone(),
        spec,
    };
    if internal {
        // Nothing in or out; the containers reach each other and nothing else.
        out.push(fwd(format!("-i {bridge} ! -o {bridge} -j DROP")));
        out.push(fwd(format!("! -i {bridge} -o {bridge} -j DROP")));
        out.push(fwd(format!(
            "-i {bridge} -o {bridge} -j {}",
            if icc { "ACCEPT" } else { "DROP" }
        )));
        return out;
    }
    if ip_masq {
        out.push(post(format!(
            "-s {}/{} ! -o {bridge} -j MASQUERADE",
            subnet.network(),
            subnet.prefix
        )));
    }
    // Host → container through a port published on 127.0.0.1: the source is a loopback
    // address the container could not answer; it sees the bridge's address instead.
    out.push(post(format!(
        "-o {bridge} -m addrtype --src-type LOCAL -j MASQUERADE"
    )));
    out.push(fwd(format!(
        "-o {bridge} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT"
    )));
    out.push(fwd(format!("-i {bridge} ! -o {bridge} -j ACCEPT")));
    out.push(fwd(format!(
        "-i {bridge} -o {bridge} -j {}",
        if icc { "ACCEPT" } else { "DROP" }
    )));
    // New connections from outside reach a container only through a published port.
    out.push(fwd(format!("-o {bridge} -j DROP")));
    out
}

/// The rules of one published port (inserted before the standing ones).
pub fn port_rules(c: &Chains, bridge: &str, container: Ipv4Addr, m: &PortMapping) -> Vec<Rule> {
    let proto = m.proto.as_str();
    let dst = if m.host_ip.is_unspecified() {
        String::new()
    } else {
        format!("-d {}/32 ", m.host_ip)
    };
    vec![
        Rule {
            table: "nat",
            chain: c.dnat.clone(),
            spec: format!(
                "{dst}-p {proto} -m {proto} --dport {} -j DNAT --to-destination {container}:{}",
                m.host_port, m.container_port
            ),
        },
        // A container reaching its own published port (hairpin).
        Rule {
            table: "nat",
            chain: c.post.clone(),
            spec: format!(
                "-s {container}/32 -d {container}/32 -p {proto} -m {proto} --dport {} -j MASQUERADE",
                m.container_port
            ),
        },
        Rule {
            table: "filter",
            chain: c.forward.clone(),
            spec: format!(
                "-d {container}/32 ! -i {bridge} -o {bridge} -p {proto} -m {proto} --dport {} -j ACCEPT",
                m.container_port
            ),
        },
    ]
}

/// Lets two linked containers talk on a port when inter-container traffic is off.
pub fn link_rules(
    c: &Chains,
    bridge: &str,
    from: Ipv4Addr,
    to: Ipv4Addr,
    proto: &str,
    port: u16,
) -> Vec<Rule> {
    vec![
        Rule {
            table: "filter",
            chain: c.forward.clone(),
            spec: format!(
                "-i {bridge} -o {bridge} -s {from}/32 -d {to}/32 -p {proto} -m {proto} --dport {port} -j ACCEPT"
            ),
        },
        Rule {
            table: "filter",
            chain: c.forward.clone(),
            spec: format!(
                "-i {bridge} -o {bridge} -s {to}/32 -d {from}/32 -p {proto} -m {proto} --sport {port} -j ACCEPT"
            ),
        },
    ]
}

/// What to do with a list of rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Insert,
    Delete,
}

impl Op {
    fn flag(self) -> &'static str {
        match self {
            Op::Insert => "-I",
            Op::Delete => "-D",
        }
    }
}

fn run(mut cmd: Command, input: Option<&str>) -> Result<(), String> {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("{:?}: {e}", cmd.get_program()))?;
    if let (Some(input), Some(mut stdin)) = (input, child.stdin.take()) {
        stdin
            .write_all(input.as_bytes())
            .map_err(|e| format!("iptables-restore: {e}"))?;
    }
    let out = child.wait_with_output().map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
    }
}

/// Applies rules in one `iptables-restore` run.
pub fn apply(op: Op, rules: &[Rule]) -> Result<(), String> {
    let mut batch = Batch::default();
    for r in rules {
        batch.rule(op.flag(), r);
    }
    batch.run()
}

/// A table's chains and rules as `iptables -S` prints them (one process), to decide what a
/// change must add or delete without asking rule by rule: each `iptables` run costs a few
/// milliseconds and each committed change 15–20 (nf_tables), so a change is one listing per
/// table and one `iptables-restore`.
#[derive(Debug, Default)]
pub(crate) struct Listing {
    rules: Vec<String>,
    chains: std::collections::HashSet<String>,
}

impl Listing {
    pub(crate) fn of(table: &str) -> Listing {
        let out = Command::new("iptables")
            .args(["-w", "-t", table, "-S"])
            .stderr(Stdio::null())
            .output();
        let text = out
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default();
        Self::parse(&text)
    }

    pub(crate) fn parse(text: &str) -> Listing {
        let mut l = Listing::default();
        for line in text.lines() {
            if let Some(chain) = line.strip_prefix("-N ") {
                l.chains.insert(chain.trim().to_string());
            } else if let Some(rest) = line.strip_prefix("-P ") {
                if let Some(chain) = rest.split_whitespace().next() {
                    l.chains.insert(chain.to_string());
                }
            } else if line.starts_with("-A ") {
                l.rules.push(line.trim().to_string());
            }
        }
        l
    }

    pub(crate) fn has(&self, r: &Rule) -> bool {
        let line = format!("-A {} {}", r.chain, r.spec);
        self.rules.contains(&line)
    }

    pub(crate) fn has_chain(&self, chain: &str) -> bool {
        self.chains.contains(chain)
    }

    /// The specs of a chain's rules, in order.
    pub(crate) fn rules_of<'a>(&'a self, chain: &str) -> impl Iterator<Item = &'a str> + 'a {
        let prefix = format!("-A {chain} ");
        self.rules
            .iter()
            .filter_map(move |l| l.strip_prefix(&prefix))
    }

    /// The spec of a chain's first rule.
    pub(crate) fn first_of(&self, chain: &str) -> Option<&str> {
        self.rules_of(chain).next()
    }
}

/// Commands for one `iptables-restore --noflush`, by table, in order.
#[derive(Debug, Default)]
pub(crate) struct Batch {
    nat: Vec<String>,
    filter: Vec<String>,
}

impl Batch {
    pub(crate) fn push(&mut self, table: &str, line: String) {
        match table {
            "nat" => self.nat.push(line),
            _ => self.filter.push(line),
        }
    }

    pub(crate) fn rule(&mut self, flag: &str, r: &Rule) {
        self.push(r.table, format!("{flag} {} {}", r.chain, r.spec));
    }

    pub(crate) fn input(&self) -> String {
        let mut out = String::new();
        for (table, lines) in [("nat", &self.nat), ("filter", &self.filter)] {
            if lines.is_empty() {
                continue;
            }
            out.push_str(&format!("*{table}\n"));
            for l in lines {
                out.push_str(l);
                out.push('\n');
            }
            out.push_str("COMMIT\n");
        }
        out
    }

    pub(crate) fn run(&self) -> Result<(), String> {
        let input = self.input();
        if input.is_empty() {
            return Ok(());
        }
        tracing::debug!(%input, "iptables-restore");
        let mut cmd = Command::new("iptables-restore");
        cmd.args(["-w", "--noflush"]);
        run(cmd, Some(&input)).map_err(|e| format!("iptables-restore: {e}"))
    }
}

/// Sets up a bridge's chains in one transaction per table: declared (emptied) and filled with
/// `rules` (what they held is replaced at once, so no packet meets them empty), the jumps
/// added where they are missing, and the bridge cut off from the others (`isolation`).
pub fn install(c: &Chains, bridge: &str, rules: &[Rule]) -> Result<(), String> {
    let _only_us = crate::isolation::exclusive()?;
    let (nat, filter) = (Listing::of("nat"), Listing::of("filter"));
    let mut batch = Batch::default();
    for (table, chain) in c.all() {
        batch.push(table, format!(":{chain} - [0:0]"));
    }
    for r in rules {
        batch.rule("-A", r);
    }
    let mut forward_changed = false;
    for j in jumps(c) {
        let listing = if j.table == "nat" { &nat } else { &filter };
        if !listing.has(&j) {
            forward_changed |= j.chain == "FORWARD";
            batch.rule("-I", &j);
        }
    }
    crate::isolation::add(&mut batch, &filter, bridge, forward_changed);
    batch.run()
}

/// Removes a bridge's jumps, chains and isolation rules, in one transaction per table.
pub fn uninstall(c: &Chains, bridge: &str) {
    let Ok(_only_us) = crate::isolation::exclusive() else {
        return;
    };
    let (nat, filter) = (Listing::of("nat"), Listing::of("filter"));
    let mut batch = Batch::default();
    for j in jumps(c) {
        let listing = if j.table == "nat" { &nat } else { &filter };
        if listing.has(&j) {
            batch.rule("-D", &j);
        }
    }
    crate::isolation::remove(&mut batch, &filter, bridge);
    for (table, chain) in c.all() {
        let listing = if table == "nat" { &nat } else { &filter };
        if listing.has_chain(chain) {
            batch.push(table, format!("-F {chain}"));
            batch.push(table, format!("-X {chain}"));
        }
    }
    if let Err(e) = batch.run() {
        tracing::warn!(error = %e, "removing the bridge's packet rules");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `iptables-restore --noflush` input that applies `rules`.
    fn restore_input(op: Op, rules: &[Rule]) -> String {
        let mut batch = Batch::default();
        for r in rules {
            batch.rule(op.flag(), r);
        }
        batch.input()
    }
    use crate::ports::Proto;

    #[test]
    fn restore_input_groups_by_table() {
        let c = Chains::for_bridge("bt0");
        let m = PortMapping {
            proto: Proto::Tcp,
            container_port: 80,
            host_ip: Ipv4Addr::LOCALHOST,
            host_port: 8080,
        };
        let rules = port_rules(&c, "bt0", Ipv4Addr::new(10, 1, 0, 2), &m);
        let text = restore_input(Op::Insert, &rules);
        assert_eq!(
            text,
            "*nat\n\
             -I BERTH-bt0 -d 127.0.0.1/32 -p tcp -m tcp --dport 8080 -j DNAT --to-destination 10.1.0.2:80\n\
             -I BERTH-bt0-POST -s 10.1.0.2/32 -d 10.1.0.2/32 -p tcp -m tcp --dport 80 -j MASQUERADE\n\
             COMMIT\n\
             *filter\n\
             -I BERTH-bt0-FWD -d 10.1.0.2/32 ! -i bt0 -o bt0 -p tcp -m tcp --dport 80 -j ACCEPT\n\
             COMMIT\n"
        );
        let wild = PortMapping {
            host_ip: Ipv4Addr::UNSPECIFIED,
            proto: Proto::Udp,
            ..m
        };
        assert!(port_rules(&c, "bt0", Ipv4Addr::new(10, 1, 0, 2), &wild)[0]
            .spec
            .starts_with("-p udp -m udp --dport 8080"));
    }

    #[test]
    fn standing_rules_follow_the_flags() {
        let c = Chains::for_bridge("bt0");
        let subnet = Cidr::parse("10.1.0.1/24").unwrap();
        let on = bridge_rules(&c, "bt0", subnet, true, true, false);
        assert!(on[0]
            .spec
            .starts_with("-s 10.1.0.0/24 ! -o bt0 -j MASQUERADE"));
        assert!(on.iter().any(|r| r.spec == "-i bt0 -o bt0 -j ACCEPT"));
        let off = bridge_rules(&c, "bt0", subnet, false, false, false);
        let internal = bridge_rules(&c, "bt0", subnet, true, true, true);
        assert!(!internal.iter().any(|r| r.spec.contains("MASQUERADE")));
        assert!(internal.iter().any(|r| r.spec == "-i bt0 ! -o bt0 -j DROP"));
        assert!(!off.iter().any(|r| r.spec.contains("-s 10.1.0.0/24")));
        assert!(off.iter().any(|r| r.spec == "-i bt0 -o bt0 -j DROP"));
        // Uninstalled: the jumps there are, then the chains emptied and deleted.
        let mut batch = Batch::default();
        let listing = Listing::parse(
            "-N BERTH-bt0\n-A PREROUTING -m addrtype --dst-type LOCAL -j BERTH-bt0\n",
        );
        for j in jumps(&c)
            .iter()
            .filter(|j| j.table == "nat" && listing.has(j))
        {
            batch.rule("-D", j);
        }
        assert_eq!(
            batch.input(),
            "*nat\n-D PREROUTING -m addrtype --dst-type LOCAL -j BERTH-bt0\nCOMMIT\n"
        );
    }
}
