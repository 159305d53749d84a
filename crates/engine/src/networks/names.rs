//! Name resolution on user-defined networks: the table of running containers' names and
//! addresses, published to the resolver after every change that moves a name (start, exit,
//! connect, disconnect, rename, removal).

use std::net::IpAddr;

use berth_dns::{Endpoint, Sandbox, Table};

use crate::containers::{ContainerRecord, ContainerService, NetworkMode};

/// The servers a container's other questions go to: its `--dns`, else the host's (loopback
/// ones too: the resolver asks from the host's namespace), else Docker's public defaults.
fn upstreams(rec: &ContainerRecord, host_resolv: &str) -> Vec<IpAddr> {
    let own: Vec<IpAddr> = rec
        .spec
        .host
        .dns
        .iter()
        .flatten()
        .filter_map(|s| s.parse().ok())
        .collect();
    if !own.is_empty() {
        return own;
    }
    let host: Vec<IpAddr> = host_resolv
        .lines()
        .filter_map(|l| l.trim().strip_prefix("nameserver"))
        .filter_map(|ns| ns.trim().parse().ok())
        .collect();
    if !host.is_empty() {
        return host;
    }
    vec![[8, 8, 8, 8].into(), [8, 8, 4, 4].into()]
}

/// What the others find a container by on a network: its name, its aliases there, its short
/// ID and its hostname.
pub(crate) fn dns_names(rec: &ContainerRecord, aliases: &[String]) -> Vec<String> {
    let mut names = vec![rec.bare_name().to_string()];
    for n in aliases
        .iter()
        .cloned()
        .chain([rec.short_id().to_string(), rec.spec.config.hostname.clone()])
    {
        if !n.is_empty() && !names.contains(&n) {
            names.push(n);
        }
    }
    names
}

pub(crate) fn table_of(
    records: &[ContainerRecord],
    host_resolv: &str,
    names: &[(String, String)],
) -> Table {
    let network_name = |id: &str| {
        names
            .iter()
            .find(|(i, _)| i == id)
            .map(|(_, n)| n.clone())
            .unwrap_or_default()
    };
    let mut table = Table::default();
    for rec in records {
        let endpoints: Vec<(Endpoint, std::path::PathBuf)> = rec
            .networks
            .iter()
            .filter_map(|(name, a)| {
                let ep = a.endpoint.as_ref()?;
                // The network `NetworkMode` names also takes `HostConfig.Links`.
                let primary = matches!(&rec.spec.host.network_mode, NetworkMode::Named(n) if n == name || *n == a.network_id);
                let host_links = rec.spec.host.links.iter().flatten().filter(|_| primary);
                let mut links: Vec<(String, String)> = Vec::new();
                for (target, alias) in a
                    .links
                    .iter()
                    .chain(host_links)
                    .filter_map(|l| crate::containers::net::parse_link(l).ok())
                {
                    if !links.iter().any(|(a, _)| *a == alias) {
                        links.push((alias, target));
                    }
                }
                Some((
                    Endpoint {
                        network_id: a.network_id.clone(),
                        network_name: network_name(&a.network_id),
                        ip: ep.ip,
                        names: dns_names(rec, &a.aliases),
                        links,
                    },
                    ep.netns.clone(),
                ))
            })
            .collect();
        let Some((_, netns)) = endpoints.first() else {
            continue;
        };
        table.sandboxes.insert(
            rec.id.clone(),
            Sandbox {
                netns: netns.clone(),
                upstreams: upstreams(rec, host_resolv),
                endpoints: endpoints.into_iter().map(|(e, _)| e).collect(),
            },
        );
    }
    table
}

impl ContainerService {
    /// Publishes the names of the containers with endpoints on user-defined networks (those
    /// running, and one starting once its endpoints are recorded; all but `leaving`, whose
    /// exit is being recorded) to the resolver.
    pub(crate) fn publish_names_without(&self, leaving: Option<&str>) {
        let Some(resolver) = &self.resolver else {
            return;
        };
        let records: Vec<ContainerRecord> = self
            .list()
            .into_iter()
            .filter(|r| Some(r.id.as_str()) != leaving)
            .collect();
        let names: Vec<(String, String)> = self
            .user_networks
            .all()
            .iter()
            .map(|n| (n.record.id.clone(), n.record.name.clone()))
            .collect();
        let host = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
        let table = table_of(&records, &host, &names);
        // A word on a local socket, or starting the resolver (connect and rename call this
        // from the runtime's workers).
        let published = crate::blocking_io::blocking(|| resolver.publish(&table));
        if let Err(e) = published {
            tracing::error!(error = %e, "publishing names to the resolver");
        }
    }

    pub(crate) fn publish_names(&self) {
        self.publish_names_without(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstreams_come_from_the_container_then_the_host() {
        let mut rec = ContainerRecord::default();
        let host = "search example.com\nnameserver 127.0.0.53\nnameserver 10.0.0.2\n";
        assert_eq!(
            upstreams(&rec, host),
            vec![
                "127.0.0.53".parse::<IpAddr>().unwrap(),
                "10.0.0.2".parse().unwrap()
            ]
        );
        rec.spec.host.dns = Some(vec!["127.0.0.77".into()]);
        assert_eq!(
            upstreams(&rec, host),
            vec!["127.0.0.77".parse::<IpAddr>().unwrap()]
        );
        rec.spec.host.dns = None;
        assert_eq!(upstreams(&rec, "").len(), 2);
    }

    #[test]
    fn names_are_the_name_aliases_short_id_and_hostname() {
        let mut rec = ContainerRecord {
            id: "0123456789ab".repeat(5) + "cdef",
            name: "/web-1".into(),
            ..Default::default()
        };
        rec.spec.config.hostname = "0123456789ab".into();
        assert_eq!(
            dns_names(&rec, &["web".into(), "web-1".into()]),
            vec!["web-1", "web", "0123456789ab"]
        );
        rec.spec.config.hostname = "box".into();
        assert_eq!(dns_names(&rec, &[]), vec!["web-1", "0123456789ab", "box"]);
    }
}
