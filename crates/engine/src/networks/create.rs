//! `POST /networks/create`: a user-defined bridge network, its subnet given or picked from
//! Docker's default pools around the host's routes and the other networks.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use berth_network::Cidr;

use super::store::{NetworkRecord, Pool};
use super::PREDEFINED;
use crate::containers::ContainerService;
use crate::error::EngineError;

/// What a client asks for.
#[derive(Debug, Clone, Default)]
pub struct NetworkCreate {
    pub name: String,
    /// `bridge` when empty.
    pub driver: String,
    pub internal: bool,
    pub attachable: bool,
    pub enable_ipv6: bool,
    /// `local` when empty; `swarm` and `global` need a swarm.
    pub scope: String,
    pub ingress: bool,
    pub config_only: bool,
    pub labels: BTreeMap<String, String>,
    pub options: BTreeMap<String, String>,
    /// `default` when empty.
    pub ipam_driver: String,
    pub ipam_options: BTreeMap<String, String>,
    pub pools: Vec<PoolRequest>,
}

#[derive(Debug, Clone, Default)]
pub struct PoolRequest {
    pub subnet: String,
    pub ip_range: String,
    pub gateway: String,
    pub aux_addresses: BTreeMap<String, String>,
}

fn invalid(m: impl Into<String>) -> EngineError {
    EngineError::InvalidParameter(m.into())
}

fn parse_subnet(s: &str) -> Result<Cidr, EngineError> {
    Cidr::parse(s).map_err(|e| invalid(format!("Invalid subnet {s} : {e}")))
}

/// Checks a requested pool against itself; `None` subnet means "pick one".
fn check_pool(p: &PoolRequest) -> Result<(Cidr, Option<Cidr>, Ipv4Addr), EngineError> {
    let subnet = parse_subnet(&p.subnet)?;
    let range = match p.ip_range.as_str() {
        "" => None,
        r => {
            let range = Cidr::parse(r).map_err(|e| invalid(format!("Invalid range {r} : {e}")))?;
            if range.prefix < subnet.prefix || !subnet.contains(range.network()) {
                return Err(invalid(format!("no matching subnet for range {r}")));
            }
            Some(range)
        }
    };
    let gateway = match p.gateway.as_str() {
        "" => subnet.first_host(),
        g => {
            let ip: Ipv4Addr = g
                .parse()
                .map_err(|_| invalid(format!("invalid gateway address {g}")))?;
            if !subnet.contains(ip) {
                return Err(invalid(format!("no matching subnet for gateway {g}")));
            }
            ip
        }
    };
    for (name, addr) in &p.aux_addresses {
        let ip: Ipv4Addr = addr
            .parse()
            .map_err(|_| invalid(format!("invalid auxiliary address {name}: {addr}")))?;
        if !subnet.contains(ip) {
            return Err(EngineError::Forbidden(format!(
                "auxiliary address: ({name}:{addr}) must belong to the master pool: {}",
                subnet.base()
            )));
        }
    }
    Ok((subnet, range, gateway))
}

/// `/run/berth-networks.lock`, held while a subnet is picked and its bridge made.
struct HostLock(#[allow(dead_code)] std::fs::File);

impl HostLock {
    fn take() -> Result<HostLock, EngineError> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open("/run/berth-networks.lock")
            .map_err(|e| EngineError::failed("open /run/berth-networks.lock", e))?;
        rustix::fs::flock(&file, rustix::fs::FlockOperation::LockExclusive)
            .map_err(|e| EngineError::failed("lock /run/berth-networks.lock", e))?;
        Ok(HostLock(file))
    }
}

impl ContainerService {
    /// Creates a network; its ID.
    pub async fn create_network(&self, req: NetworkCreate) -> Result<String, EngineError> {
        let _changes = self.user_networks.changes.lock().await;
        if req.name.is_empty() {
            return Err(invalid(format!("invalid name: {}", req.name)));
        }
        match req.driver.as_str() {
            "" | "bridge" => {}
            "host" | "null" => {
                return Err(EngineError::Forbidden(format!(
                    "only one instance of \"{}\" network is allowed",
                    req.driver
                )))
            }
            other => {
                return Err(EngineError::NotFound(format!(
                    "plugin \"{other}\" not found"
                )))
            }
        }
        match req.ipam_driver.as_str() {
            "" | "default" => {}
            other => {
                return Err(EngineError::NotFound(format!(
                    "plugin \"{other}\" not found"
                )))
            }
        }
        if PREDEFINED.contains(&req.name.as_str()) {
            return Err(EngineError::Forbidden(format!(
                "{} is a pre-defined network and cannot be created",
                req.name
            )));
        }
        if self
            .user_networks
            .find(&req.name)
            .is_some_and(|n| n.record.name == req.name)
        {
            return Err(EngineError::Conflict(format!(
                "network with name {} already exists",
                req.name
            )));
        }
        if req.enable_ipv6 {
            return Err(EngineError::NotFound(
                "could not find an available, non-overlapping IPv6 address pool among the defaults to assign to the network".into(),
            ));
        }
        if req.pools.len() > 1 {
            return Err(invalid("berth networks have one IPv4 pool"));
        }
        if req.ingress {
            return Err(invalid("Ingress network can only be global scope network"));
        }
        match req.scope.as_str() {
            "" | "local" => {}
            "swarm" | "global" => {
                return Err(EngineError::Unavailable(
                    "cannot create a swarm scoped network when swarm is not active".into(),
                ))
            }
            other => return Err(invalid(format!("invalid network scope: {other}"))),
        }
        if req.config_only {
            return Err(EngineError::NotImplemented(
                "configuration-only networks are not supported by berth".into(),
            ));
        }
        for key in [
            "com.docker.network.bridge.enable_icc",
            "com.docker.network.bridge.enable_ip_masquerade",
        ] {
            if let Some(v) = req.options.get(key) {
                super::store::parse_go_bool(v).ok_or_else(|| {
                    invalid(format!(
                        "failed to parse {key} value: {v} (strconv.ParseBool: parsing \"{v}\": invalid syntax)"
                    ))
                })?;
            }
        }
        if let Some(mtu) = req.options.get("com.docker.network.driver.mtu") {
            mtu.parse::<u32>().map_err(|e| {
                invalid(format!(
                    "failed to parse com.docker.network.driver.mtu value: {mtu} ({e})"
                ))
            })?;
        }
        // Every berthd of the host picks subnets from the same pools: one at a time, until
        // its bridge (and so its route) exists.
        let _host_wide = crate::blocking_io::blocking(HostLock::take)?;
        let mut taken: Vec<Cidr> = self
            .user_networks
            .all()
            .iter()
            .filter_map(|n| Cidr::parse(&n.record.pool.subnet).ok())
            .collect();
        if let Some(def) = &self.network {
            taken.push(def.config().bip);
        }
        let given = req.pools.first().filter(|p| !p.subnet.is_empty());
        let (pool, subnet_given) = match given {
            Some(p) => {
                let (subnet, range, gateway) = check_pool(p)?;
                if taken.iter().any(|t| t.overlaps(subnet)) {
                    return Err(EngineError::Forbidden(
                        "Pool overlaps with other one on this address space".into(),
                    ));
                }
                let pool = Pool {
                    subnet: subnet.to_string(),
                    gateway: gateway.to_string(),
                    ip_range: range.map(|r| r.to_string()),
                    aux_addresses: p.aux_addresses.clone(),
                };
                (pool, true)
            }
            None => {
                if let Some(p) = req.pools.first() {
                    if !p.gateway.is_empty() || !p.ip_range.is_empty() {
                        return Err(invalid("Invalid subnet  : invalid CIDR address: "));
                    }
                }
                taken.extend(berth_network::host_routes().await?);
                let subnet = berth_network::pick_subnet(&taken).ok_or_else(|| {
                    EngineError::NotFound("could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network".into())
                })?;
                let pool = Pool {
                    subnet: subnet.to_string(),
                    gateway: subnet.first_host().to_string(),
                    ip_range: None,
                    aux_addresses: BTreeMap::new(),
                };
                (pool, false)
            }
        };
        let id = crate::random_id();
        let bridge = match req.options.get("com.docker.network.bridge.name") {
            Some(b) if b.is_empty() || b.len() > 15 || b.contains('/') || b.contains(' ') => {
                return Err(invalid(format!("invalid bridge name: {b}")))
            }
            Some(b) => b.clone(),
            None => format!("br-{}", &id[..12]),
        };
        if self
            .user_networks
            .all()
            .iter()
            .any(|n| n.record.bridge == bridge)
            || self
                .network
                .as_ref()
                .is_some_and(|n| n.config().bridge == bridge)
        {
            return Err(EngineError::Forbidden(format!(
                "bridge name {bridge} is in use by another network"
            )));
        }
        let record = NetworkRecord {
            id: id.clone(),
            name: req.name.clone(),
            driver: "bridge".into(),
            created: jiff::Timestamp::now().to_string(),
            internal: req.internal,
            attachable: req.attachable,
            labels: req.labels,
            options: req.options,
            ipam_options: req.ipam_options,
            pool,
            subnet_given,
            bridge,
        };
        // The record first: a daemon killed before the bridge is up brings it up from the
        // record at its next start, rather than leaving a bridge no record names.
        self.user_networks.persist(&record)?;
        let bridge = match self.user_networks.bring_up(&record).await {
            Ok(b) => b,
            Err(e) => {
                self.user_networks.forget(&record.id);
                return Err(e);
            }
        };
        // The rules go in now (no container is on it yet).
        bridge.adopt(&[]).await;
        if let Err(e) = bridge.rules_installed().await {
            let _ = bridge.destroy().await;
            self.user_networks.forget(&record.id);
            return Err(e.into());
        }
        let name = record.name.clone();
        self.user_networks.insert(record, bridge);
        self.publish_network("create", &id, &name, None);
        Ok(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool(subnet: &str, range: &str, gateway: &str) -> PoolRequest {
        PoolRequest {
            subnet: subnet.into(),
            ip_range: range.into(),
            gateway: gateway.into(),
            aux_addresses: BTreeMap::new(),
        }
    }

    #[test]
    fn pools_are_checked_as_docker_checks_them() {
        let (s, r, g) = check_pool(&pool("10.5.0.0/16", "10.5.1.0/24", "")).unwrap();
        assert_eq!(s.to_string(), "10.5.0.0/16");
        assert_eq!(r.unwrap().to_string(), "10.5.1.0/24");
        assert_eq!(g, Ipv4Addr::new(10, 5, 0, 1));
        let err = |p| check_pool(&p).unwrap_err().to_string();
        assert_eq!(
            err(pool("10.5.0.0/16", "", "10.6.0.1")),
            "no matching subnet for gateway 10.6.0.1"
        );
        assert_eq!(
            err(pool("10.5.0.0/16", "10.6.0.0/24", "")),
            "no matching subnet for range 10.6.0.0/24"
        );
        assert!(err(pool("10.5.0.0/33", "", "")).starts_with("Invalid subnet 10.5.0.0/33"));
        let mut aux = pool("10.5.0.0/16", "", "");
        aux.aux_addresses.insert("a".into(), "10.7.0.3".into());
        assert_eq!(
            err(aux),
            "auxiliary address: (a:10.7.0.3) must belong to the master pool: 10.5.0.0/16"
        );
    }
}
