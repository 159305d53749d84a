//! The per-container `/etc/hostname`, `/etc/hosts` and `/etc/resolv.conf`, bind-mounted into
//! the container as Docker does.

/// `/etc/hosts`: Docker's standard lines, the container's own address and name when it has
/// one, then `extra` lines (links and `ExtraHosts`, as `(address, names)`).
pub fn hosts(
    hostname: &str,
    domainname: &str,
    own_ips: &[std::net::Ipv4Addr],
    extra: &[(String, String)],
) -> String {
    let mut s = String::from(
        "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n",
    );
    for ip in own_ips {
        s.push_str(&own_line(*ip, hostname, domainname));
    }
    for (ip, names) in extra {
        s.push_str(&format!("{ip}\t{names}\n"));
    }
    s
}

/// The container's own line for `ip` (its hostname, with the domain when it has one).
fn own_line(ip: std::net::Ipv4Addr, hostname: &str, domainname: &str) -> String {
    if domainname.is_empty() {
        format!("{ip}\t{hostname}\n")
    } else {
        format!("{ip}\t{hostname}.{domainname} {hostname}\n")
    }
}

/// `/etc/hosts` of a running container that joined a network: its line for the new address,
/// after its other own lines, as Docker adds it.
pub fn with_address(
    text: &str,
    ip: std::net::Ipv4Addr,
    hostname: &str,
    domainname: &str,
) -> String {
    let line = own_line(ip, hostname, domainname);
    let mut lines: Vec<&str> = text.split_inclusive('\n').collect();
    let after = lines
        .iter()
        .rposition(|l| {
            l.split('\t')
                .nth(1)
                .is_some_and(|n| n.trim_end().ends_with(hostname))
        })
        .map_or(lines.len(), |i| i + 1);
    lines.insert(after, &line);
    lines.concat()
}

/// `/etc/hosts` of a running container that left a network: without that address's lines.
pub fn without_address(text: &str, ip: std::net::Ipv4Addr) -> String {
    let prefix = format!("{ip}\t");
    text.split_inclusive('\n')
        .filter(|l| !l.starts_with(&prefix))
        .collect()
}

/// What `host-gateway` stands for in `--add-host` (Docker's special value).
pub const HOST_GATEWAY: &str = "host-gateway";

/// `ExtraHosts` entries (`host:IP`) as hosts lines; `host-gateway` is the host's address on
/// the default bridge, as Docker's (`host.docker.internal:host-gateway`).
pub fn extra_hosts(
    entries: &[String],
    host_gateway: Option<std::net::Ipv4Addr>,
) -> Result<Vec<(String, String)>, String> {
    entries
        .iter()
        .filter_map(|e| e.split_once(':'))
        .map(|(host, ip)| {
            let ip = if ip == HOST_GATEWAY {
                host_gateway
                    .ok_or("unable to derive the IP value for host-gateway")?
                    .to_string()
            } else {
                ip.to_string()
            };
            Ok((ip, host.to_string()))
        })
        .collect()
}

/// resolv.conf on a user-defined network, as Docker writes it: the embedded resolver (which
/// forwards to the real servers), the host's search domains (or `--dns-search`), and
/// `ndots:0` before the host's other options (or `--dns-option`).
pub fn embedded_resolv_conf(host: &str, search: &[String], options: &[String]) -> String {
    let mut out = String::from("nameserver 127.0.0.11\n");
    let host_search: Vec<&str> = host
        .lines()
        .filter_map(|l| l.trim().strip_prefix("search"))
        .flat_map(str::split_whitespace)
        .collect();
    if !search.is_empty() {
        out.push_str(&format!("search {}\n", search.join(" ")));
    } else if !host_search.is_empty() {
        out.push_str(&format!("search {}\n", host_search.join(" ")));
    }
    let mut opts = vec!["ndots:0".to_string()];
    let host_opts: Vec<String> = host
        .lines()
        .filter_map(|l| l.trim().strip_prefix("options"))
        .flat_map(str::split_whitespace)
        .map(str::to_string)
        .collect();
    let chosen = if options.is_empty() {
        &host_opts
    } else {
        options
    };
    for o in chosen {
        if o.starts_with("ndots:") {
            // The container's own wins over the default.
            opts.retain(|x| !x.starts_with("ndots:"));
        }
        opts.push(o.clone());
    }
    out.push_str(&format!("options {}\n", opts.join(" ")));
    out
}

/// The host's resolv.conf with loopback nameservers removed (they mean nothing inside the
/// container's network namespace); Docker's public defaults when none remain.
pub fn resolv_conf(host: &str, dns: &[String], search: &[String], options: &[String]) -> String {
    let mut out = String::new();
    let mut nameservers = 0;
    for line in host.lines() {
        let t = line.trim();
        if let Some(ns) = t.strip_prefix("nameserver") {
            let ns = ns.trim();
            if !dns.is_empty() || ns.starts_with("127.") || ns == "::1" {
                continue;
            }
            nameservers += 1;
        }
        if !search.is_empty() && (t.starts_with("search") || t.starts_with("domain")) {
            continue;
        }
        if !options.is_empty() && t.starts_with("options") {
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    if !search.is_empty() {
        out.push_str(&format!("search {}\n", search.join(" ")));
    }
    for ns in dns {
        out.push_str(&format!("nameserver {ns}\n"));
        nameservers += 1;
    }
    if nameservers == 0 {
        out.push_str("nameserver 8.8.8.8\nnameserver 8.8.4.4\n");
    }
    // `DnsOptions` replace the host's options.
    if !options.is_empty() {
        out.push_str(&format!("options {}\n", options.join(" ")));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_gateway_is_the_hosts_address() {
        let gw = "10.7.0.1".parse().ok();
        let lines = extra_hosts(&["host.docker.internal:host-gateway".into()], gw).unwrap();
        assert_eq!(
            lines,
            vec![("10.7.0.1".to_string(), "host.docker.internal".to_string())]
        );
        let none = extra_hosts(&["h:host-gateway".into()], None).unwrap_err();
        assert_eq!(none, "unable to derive the IP value for host-gateway");
    }

    #[test]
    fn addresses_come_and_go_with_networks() {
        let a: std::net::Ipv4Addr = "10.1.0.2".parse().unwrap();
        let b: std::net::Ipv4Addr = "10.2.0.2".parse().unwrap();
        let base = hosts("box", "", &[a], &[("10.9.9.9".into(), "db".into())]);
        let joined = with_address(&base, b, "box", "");
        assert!(
            joined.ends_with("10.1.0.2\tbox\n10.2.0.2\tbox\n10.9.9.9\tdb\n"),
            "{joined}"
        );
        assert_eq!(without_address(&joined, b), base);
    }

    #[test]
    fn the_embedded_resolver_keeps_search_domains_and_sets_ndots() {
        let host = "nameserver 10.0.0.2\nsearch corp.example lab\noptions timeout:2\n";
        assert_eq!(
            embedded_resolv_conf(host, &[], &[]),
            "nameserver 127.0.0.11\nsearch corp.example lab\noptions ndots:0 timeout:2\n"
        );
        assert_eq!(
            embedded_resolv_conf(host, &["x.test".into()], &["ndots:2".into()]),
            "nameserver 127.0.0.11\nsearch x.test\noptions ndots:2\n"
        );
    }

    #[test]
    fn loopback_nameservers_are_dropped() {
        let r = resolv_conf(
            "nameserver 10.0.0.1\noptions ndots:2\n",
            &[],
            &[],
            &["ndots:5".into(), "timeout:1".into()],
        );
        assert_eq!(r, "nameserver 10.0.0.1\noptions ndots:5 timeout:1\n");
        let r = resolv_conf("nameserver 127.0.0.53\nsearch corp\n", &[], &[], &[]);
        assert_eq!(r, "search corp\nnameserver 8.8.8.8\nnameserver 8.8.4.4\n");
        let r = resolv_conf("nameserver 10.0.0.1\n", &[], &[], &[]);
        assert_eq!(r, "nameserver 10.0.0.1\n");
        let r = resolv_conf(
            "nameserver 10.0.0.1\nsearch a\n",
            &["1.1.1.1".into()],
            &["b".into()],
            &[],
        );
        assert_eq!(r, "search b\nnameserver 1.1.1.1\n");
    }

    #[test]
    fn hosts_has_localhost_and_extra() {
        let h = hosts(
            "box",
            "",
            &["10.1.0.2".parse().unwrap()],
            &extra_hosts(&["db:10.0.0.5".into()], None).unwrap(),
        );
        assert!(h.starts_with("127.0.0.1\tlocalhost\n"));
        assert!(h.ends_with("10.1.0.2\tbox\n10.0.0.5\tdb\n"), "{h}");
        let h = hosts("box", "corp", &["10.1.0.2".parse().unwrap()], &[]);
        assert!(h.ends_with("10.1.0.2\tbox.corp box\n"));
        // On two networks: a line for each address, as Docker writes them.
        let h = hosts(
            "box",
            "",
            &["10.1.0.2".parse().unwrap(), "10.2.0.2".parse().unwrap()],
            &[],
        );
        assert!(h.ends_with("10.1.0.2\tbox\n10.2.0.2\tbox\n"), "{h}");
    }
}
