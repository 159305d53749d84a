//! The bridge's address pool: hands out IPv4 addresses of one subnet (or of the part
//! `--fixed-cidr` allows), never the network, broadcast or gateway address, and never one
//! address to two holders at once. Allocation moves round-robin through the pool, as
//! Docker's does, so a released address is not reused at once.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

/// An IPv4 CIDR: an address and a prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    pub addr: Ipv4Addr,
    pub prefix: u8,
}

impl Cidr {
    pub fn parse(s: &str) -> Result<Cidr, String> {
        let (a, p) = s
            .split_once('/')
            .ok_or_else(|| format!("invalid CIDR address: {s}"))?;
        let addr: Ipv4Addr = a
            .parse()
            .map_err(|_| format!("invalid CIDR address: {s}"))?;
        let prefix: u8 = p
            .parse()
            .map_err(|_| format!("invalid CIDR address: {s}"))?;
        if prefix > 30 {
            return Err(format!(
                "invalid CIDR address: {s}: the subnet is too small"
            ));
        }
        Ok(Cidr { addr, prefix })
    }

    fn mask(self) -> u32 {
        if self.prefix == 0 {
            0
        } else {
            u32::MAX << (32 - self.prefix)
        }
    }

    pub fn network(self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.addr) & self.mask())
    }

    pub fn broadcast(self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.addr) | !self.mask())
    }

    pub fn contains(self, ip: Ipv4Addr) -> bool {
        u32::from(ip) & self.mask() == u32::from(self.network())
    }

    /// Whether the two share an address.
    pub fn overlaps(self, other: Cidr) -> bool {
        self.contains(other.network()) || other.contains(self.network())
    }

    /// The network address with the prefix (`172.18.0.0/16`).
    pub fn base(self) -> Cidr {
        Cidr {
            addr: self.network(),
            prefix: self.prefix,
        }
    }

    /// The first usable address (a network's default gateway).
    pub fn first_host(self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.network()) + 1)
    }
}

/// A subnet for a new network from Docker's default address pools (172.17–172.31 as /16s,
/// then 192.168.0.0/16 as /20s), the first that overlaps nothing in `taken` (the host's
/// routes and the other networks).
pub fn pick_subnet(taken: &[Cidr]) -> Option<Cidr> {
    let sixteens = (17..=31).map(|b| Cidr {
        addr: Ipv4Addr::new(172, b, 0, 0),
        prefix: 16,
    });
    let twenties = (0..16).map(|i| Cidr {
        addr: Ipv4Addr::new(192, 168, i * 16, 0),
        prefix: 20,
    });
    sixteens
        .chain(twenties)
        .find(|c| !taken.iter().any(|t| t.overlaps(*c)))
}

impl std::fmt::Display for Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

#[derive(Debug)]
pub struct Ipam {
    subnet: Cidr,
    gateway: Ipv4Addr,
    first: u32,
    last: u32,
    /// Address → holder (a container ID).
    used: BTreeMap<u32, String>,
    next: u32,
}

impl Ipam {
    /// `bip` is the bridge's own address and subnet; `fixed` narrows where containers'
    /// addresses come from and must lie inside the subnet.
    pub fn new(bip: Cidr, fixed: Option<Cidr>) -> Result<Ipam, String> {
        let pool = match fixed {
            Some(f) => {
                if f.prefix < bip.prefix || !bip.contains(f.network()) {
                    return Err(format!(
                        "fixed-cidr {f} is not inside the bridge's subnet {bip}"
                    ));
                }
                f
            }
            None => bip,
        };
        let first = u32::from(pool.network()).max(u32::from(bip.network()) + 1);
        let last = u32::from(pool.broadcast()).min(u32::from(bip.broadcast()) - 1);
        Ok(Ipam {
            subnet: Cidr {
                addr: bip.network(),
                prefix: bip.prefix,
            },
            gateway: bip.addr,
            first,
            last,
            used: BTreeMap::new(),
            next: first,
        })
    }

    pub fn subnet(&self) -> Cidr {
        self.subnet
    }

    fn free(&self, ip: u32) -> bool {
        ip >= self.first
            && ip <= self.last
            && ip != u32::from(self.gateway)
            && !self.used.contains_key(&ip)
    }

    /// The next free address after the last one handed out, wrapping around, for `owner`.
    pub fn allocate(&mut self, owner: &str) -> Result<Ipv4Addr, String> {
        let span = self.last - self.first + 1;
        for i in 0..span {
            let ip = self.first + (self.next - self.first + i) % span;
            if self.free(ip) {
                self.used.insert(ip, owner.to_string());
                self.next = if ip == self.last { self.first } else { ip + 1 };
                return Ok(Ipv4Addr::from(ip));
            }
        }
        Err(format!(
            "no available IPv4 addresses on this network's address pools: {}",
            self.subnet
        ))
    }

    /// Takes a given address for `owner` (a live container's, after a daemon restart).
    pub fn reserve(&mut self, ip: Ipv4Addr, owner: &str) -> Result<(), String> {
        let n = u32::from(ip);
        if !self.subnet.contains(ip) || n == u32::from(self.gateway) {
            return Err(format!("address {ip} is not usable in {}", self.subnet));
        }
        if self.used.contains_key(&n) {
            return Err(format!("Address already in use: {ip}"));
        }
        self.used.insert(n, owner.to_string());
        Ok(())
    }

    /// Takes an address a container asked for (`--ip`), with Docker's refusals.
    pub fn reserve_static(&mut self, ip: Ipv4Addr, owner: &str) -> Result<(), String> {
        let n = u32::from(ip);
        if !self.subnet.contains(ip) {
            return Err(format!(
                "Invalid address {ip}: It does not belong to any of this network's subnets"
            ));
        }
        if n == u32::from(self.gateway)
            || ip == self.subnet.network()
            || ip == self.subnet.broadcast()
            || self.used.contains_key(&n)
        {
            return Err(format!("Address already in use: {ip}"));
        }
        self.used.insert(n, owner.to_string());
        Ok(())
    }

    /// Gives an address back, only if `owner` holds it: a late release for a container
    /// that died while the daemon was down must not free an address handed out since.
    pub fn release(&mut self, ip: Ipv4Addr, owner: &str) {
        let n = u32::from(ip);
        if self.used.get(&n).is_some_and(|o| o == owner) {
            self.used.remove(&n);
        }
    }
}

/// Docker's MAC for an address: `02:42` and the four address bytes.
pub fn mac_for(ip: Ipv4Addr) -> [u8; 6] {
    let o = ip.octets();
    [0x02, 0x42, o[0], o[1], o[2], o[3]]
}

pub fn format_mac(mac: [u8; 6]) -> String {
    mac.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

pub fn parse_mac(s: &str) -> Result<[u8; 6], String> {
    let parts: Vec<&str> = s.split(':').collect();
    let bad = || format!("invalid MAC address: {s}");
    if parts.len() != 6 {
        return Err(bad());
    }
    let mut mac = [0u8; 6];
    for (i, p) in parts.iter().enumerate() {
        if p.len() != 2 {
            return Err(bad());
        }
        mac[i] = u8::from_str_radix(p, 16).map_err(|_| bad())?;
    }
    Ok(mac)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidr_parts() {
        let c = Cidr::parse("172.18.0.1/16").unwrap();
        assert_eq!(c.network(), Ipv4Addr::new(172, 18, 0, 0));
        assert_eq!(c.broadcast(), Ipv4Addr::new(172, 18, 255, 255));
        assert!(c.contains(Ipv4Addr::new(172, 18, 3, 4)));
        assert!(!c.contains(Ipv4Addr::new(172, 19, 0, 1)));
        assert!(Cidr::parse("172.18.0.1").is_err());
        assert!(Cidr::parse("1.2.3.4/31").is_err());
    }

    #[test]
    fn allocation_skips_gateway_and_edges_and_goes_round() {
        let mut ipam = Ipam::new(Cidr::parse("10.9.0.1/29").unwrap(), None).unwrap();
        // .0 network, .1 gateway, .7 broadcast: .2 to .6 remain.
        let got: Vec<_> = (0..5)
            .map(|i| ipam.allocate(&format!("c{i}")).unwrap())
            .collect();
        assert_eq!(got[0], Ipv4Addr::new(10, 9, 0, 2));
        assert_eq!(got[4], Ipv4Addr::new(10, 9, 0, 6));
        assert!(ipam.allocate("x").is_err(), "pool exhausted");
        ipam.release(Ipv4Addr::new(10, 9, 0, 3), "c1");
        assert_eq!(ipam.allocate("d").unwrap(), Ipv4Addr::new(10, 9, 0, 3));
        ipam.release(Ipv4Addr::new(10, 9, 0, 2), "c0");
        ipam.release(Ipv4Addr::new(10, 9, 0, 5), "c3");
        // Round-robin: after .3 comes .5, not the lower .2.
        assert_eq!(ipam.allocate("e").unwrap(), Ipv4Addr::new(10, 9, 0, 5));
        // A release by someone who no longer holds it changes nothing.
        ipam.release(Ipv4Addr::new(10, 9, 0, 5), "c3");
        ipam.release(Ipv4Addr::new(10, 9, 0, 3), "c1");
        assert_eq!(ipam.allocate("f").unwrap(), Ipv4Addr::new(10, 9, 0, 2));
        assert!(
            ipam.allocate("g").is_err(),
            "the late releases freed nothing"
        );
    }

    #[test]
    fn reserve_refuses_twice_and_fixed_cidr_narrows() {
        let mut ipam = Ipam::new(
            Cidr::parse("10.9.0.1/16").unwrap(),
            Some(Cidr::parse("10.9.5.0/24").unwrap()),
        )
        .unwrap();
        assert_eq!(ipam.allocate("a").unwrap(), Ipv4Addr::new(10, 9, 5, 0));
        ipam.reserve(Ipv4Addr::new(10, 9, 0, 9), "b").unwrap();
        assert!(ipam.reserve(Ipv4Addr::new(10, 9, 0, 9), "c").is_err());
        assert!(
            ipam.reserve(Ipv4Addr::new(10, 9, 0, 1), "c").is_err(),
            "gateway"
        );
        assert!(Ipam::new(
            Cidr::parse("10.9.0.1/16").unwrap(),
            Some(Cidr::parse("10.10.0.0/24").unwrap())
        )
        .is_err());
    }

    #[test]
    fn subnets_come_from_dockers_pools_around_what_is_taken() {
        let c = |s: &str| Cidr::parse(s).unwrap();
        assert_eq!(pick_subnet(&[]), Some(c("172.17.0.0/16")));
        let taken = [c("172.17.0.1/16"), c("172.18.5.0/24"), c("10.0.0.0/8")];
        assert_eq!(pick_subnet(&taken), Some(c("172.19.0.0/16")));
        // A route that covers all of 172.16/12 sends new networks to 192.168.
        let taken = [c("172.16.0.0/12"), c("192.168.0.0/20")];
        assert_eq!(pick_subnet(&taken), Some(c("192.168.16.0/20")));
        assert_eq!(pick_subnet(&[c("0.0.0.0/0")]), None);
        assert!(c("10.1.0.0/16").overlaps(c("10.1.2.0/24")));
        assert!(!c("10.1.0.0/16").overlaps(c("10.2.0.0/16")));
    }

    #[test]
    fn static_addresses_are_checked() {
        let mut ipam = Ipam::new(Cidr::parse("10.9.0.1/24").unwrap(), None).unwrap();
        ipam.reserve_static(Ipv4Addr::new(10, 9, 0, 50), "a")
            .unwrap();
        let again = ipam.reserve_static(Ipv4Addr::new(10, 9, 0, 50), "b");
        assert_eq!(again.unwrap_err(), "Address already in use: 10.9.0.50");
        let outside = ipam.reserve_static(Ipv4Addr::new(10, 8, 0, 5), "b");
        assert!(outside
            .unwrap_err()
            .contains("does not belong to any of this network's subnets"));
        assert!(ipam
            .reserve_static(Ipv4Addr::new(10, 9, 0, 1), "b")
            .is_err());
    }

    #[test]
    fn macs() {
        assert_eq!(
            format_mac(mac_for(Ipv4Addr::new(172, 17, 0, 2))),
            "02:42:ac:11:00:02"
        );
        assert_eq!(
            parse_mac("02:42:ac:11:00:02").unwrap(),
            mac_for(Ipv4Addr::new(172, 17, 0, 2))
        );
        assert!(parse_mac("02:42:ac:11:00").is_err());
    }
}
