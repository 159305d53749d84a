//! Published ports: which host ports belong to which container, and a bound (never
//! listening) socket per port so no other host process can take it while the kernel's NAT
//! rules forward it.

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::os::fd::OwnedFd;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Proto {
    Tcp,
    Udp,
}

impl Proto {
    pub fn as_str(self) -> &'static str {
        match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
        }
    }

    pub fn parse(s: &str) -> Result<Proto, String> {
        match s.to_ascii_lowercase().as_str() {
            "tcp" | "" => Ok(Proto::Tcp),
            "udp" => Ok(Proto::Udp),
            other => Err(format!("invalid proto: {other}")),
        }
    }
}

/// A port to publish: `host_port` 0 asks for an ephemeral one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortRequest {
    pub proto: Proto,
    pub container_port: u16,
    pub host_ip: Ipv4Addr,
    pub host_port: u16,
}

/// A published port as it was set up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortMapping {
    pub proto: Proto,
    pub container_port: u16,
    pub host_ip: Ipv4Addr,
    pub host_port: u16,
}

/// Parses a Docker port key: `80`, `80/tcp`, `53/udp`.
pub fn parse_port_key(key: &str) -> Result<(u16, Proto), String> {
    let (port, proto) = key.split_once('/').unwrap_or((key, "tcp"));
    let port: u16 = port
        .parse()
        .ok()
        .filter(|p| *p > 0)
        .ok_or_else(|| format!("invalid containerPort: {port}"))?;
    Ok((port, Proto::parse(proto)?))
}

struct Held {
    owner: String,
    _socket: OwnedFd,
}

pub(crate) struct PortTable {
    held: HashMap<(Proto, Ipv4Addr, u16), Held>,
    ephemeral: (u16, u16),
    next: u16,
}

/// Why a port could not be had.
#[derive(Debug)]
pub enum PortError {
    /// Another container publishes it.
    Allocated,
    /// Some process on the host holds it.
    InUse(std::io::Error),
    Exhausted,
}

fn ephemeral_range() -> (u16, u16) {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| {
            let mut it = s.split_whitespace().map(|p| p.parse::<u16>().ok());
            Some((it.next()??, it.next()??))
        })
        .unwrap_or((32768, 60999))
}

fn bind(proto: Proto, ip: Ipv4Addr, port: u16) -> std::io::Result<OwnedFd> {
    use rustix::net::{bind, socket_with, AddressFamily, SocketAddrV4, SocketFlags, SocketType};
    let kind = match proto {
        Proto::Tcp => SocketType::STREAM,
        Proto::Udp => SocketType::DGRAM,
    };
    let fd = socket_with(AddressFamily::INET, kind, SocketFlags::CLOEXEC, None)?;
    bind(&fd, &SocketAddrV4::new(ip, port))?;
    Ok(fd)
}

impl PortTable {
    pub(crate) fn new() -> Self {
        let ephemeral = ephemeral_range();
        PortTable {
            held: HashMap::new(),
            ephemeral,
            next: ephemeral.0,
        }
    }

    fn taken_by_container(&self, proto: Proto, ip: Ipv4Addr, port: u16) -> bool {
        self.held.keys().any(|(p, i, n)| {
            *p == proto && *n == port && (*i == ip || i.is_unspecified() || ip.is_unspecified())
        })
    }

    fn take(
        &mut self,
        owner: &str,
        proto: Proto,
        ip: Ipv4Addr,
        port: u16,
    ) -> Result<(), PortError> {
        if self.taken_by_container(proto, ip, port) {
            return Err(PortError::Allocated);
        }
        let socket = bind(proto, ip, port).map_err(PortError::InUse)?;
        self.held.insert(
            (proto, ip, port),
            Held {
                owner: owner.to_string(),
                _socket: socket,
            },
        );
        Ok(())
    }

    /// Takes `req`'s port for `owner`, picking a free ephemeral one when it asks for 0.
    pub(crate) fn reserve(
        &mut self,
        owner: &str,
        req: &PortRequest,
    ) -> Result<PortMapping, PortError> {
        let port = if req.host_port != 0 {
            self.take(owner, req.proto, req.host_ip, req.host_port)?;
            req.host_port
        } else {
            let (lo, hi) = self.ephemeral;
            let span = u32::from(hi - lo) + 1;
            let mut found = None;
            for i in 0..span {
                let p = (u32::from(lo) + (u32::from(self.next - lo) + i) % span) as u16;
                if self.take(owner, req.proto, req.host_ip, p).is_ok() {
                    self.next = if p == hi { lo } else { p + 1 };
                    found = Some(p);
                    break;
                }
            }
            found.ok_or(PortError::Exhausted)?
        };
        Ok(PortMapping {
            proto: req.proto,
            container_port: req.container_port,
            host_ip: req.host_ip,
            host_port: port,
        })
    }

    pub(crate) fn release_owner(&mut self, owner: &str) {
        self.held.retain(|_, h| h.owner != owner);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_keys() {
        assert_eq!(parse_port_key("80").unwrap(), (80, Proto::Tcp));
        assert_eq!(parse_port_key("53/udp").unwrap(), (53, Proto::Udp));
        assert!(parse_port_key("0/tcp").is_err());
        assert!(parse_port_key("80/sctpx").is_err());
        assert!(parse_port_key("x").is_err());
    }

    #[test]
    fn a_port_goes_to_one_container_and_back() {
        let mut t = PortTable::new();
        let lo = Ipv4Addr::LOCALHOST;
        let req = PortRequest {
            proto: Proto::Tcp,
            container_port: 80,
            host_ip: lo,
            host_port: 0,
        };
        let a = t.reserve("a", &req).unwrap();
        assert!(a.host_port >= t.ephemeral.0 && a.host_port <= t.ephemeral.1);
        // The same port for another container, on the same or the wildcard address.
        let again = PortRequest {
            host_port: a.host_port,
            ..req.clone()
        };
        assert!(matches!(t.reserve("b", &again), Err(PortError::Allocated)));
        let wild = PortRequest {
            host_ip: Ipv4Addr::UNSPECIFIED,
            ..again.clone()
        };
        assert!(matches!(t.reserve("b", &wild), Err(PortError::Allocated)));
        // The host cannot take it either while it is published.
        assert!(std::net::TcpListener::bind((lo, a.host_port)).is_err());
        t.release_owner("a");
        assert!(t.reserve("b", &again).is_ok());
        // A port a host process listens on is refused with the OS's reason.
        let l = std::net::TcpListener::bind((lo, 0)).unwrap();
        let busy = PortRequest {
            host_port: l.local_addr().unwrap().port(),
            ..req
        };
        assert!(matches!(t.reserve("c", &busy), Err(PortError::InUse(_))));
    }
}
