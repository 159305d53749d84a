//! `POST /networks/{id}/connect`: a container joins a user-defined network, at once when it
//! runs (a new interface in its namespace), at its next start otherwise.

use std::net::Ipv4Addr;

use super::store::UserNetwork;
use crate::containers::{net::Mode, Attachment, ContainerRecord, ContainerService};
use crate::error::EngineError;

/// What a client asks for a container's endpoint (`EndpointsConfig` at create, or connect's
/// `EndpointConfig`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EndpointRequest {
    pub aliases: Vec<String>,
    pub ipv4: Option<Ipv4Addr>,
    pub mac: Option<String>,
    pub links: Vec<String>,
}

impl ContainerService {
    /// A network by name, ID or ID prefix: a user-defined one, or an error that says why
    /// containers cannot join it.
    pub(crate) fn user_network(
        &self,
        wanted: &str,
    ) -> Result<std::sync::Arc<UserNetwork>, EngineError> {
        if let Some(n) = self.user_networks.find(wanted) {
            return Ok(n);
        }
        if super::PREDEFINED.contains(&wanted) || self.predefined_named(wanted).is_some() {
            return Err(EngineError::Forbidden(format!(
                "berth connects and disconnects containers on user-defined networks only, not on {wanted}"
            )));
        }
        Err(EngineError::NotFound(format!("network {wanted} not found")))
    }

    /// Checks an endpoint request against its network; the attachment to record.
    pub(crate) fn attachment_for(
        net: &UserNetwork,
        req: EndpointRequest,
    ) -> Result<Attachment, EngineError> {
        if req.ipv4.is_some() && !net.record.subnet_given {
            return Err(EngineError::InvalidParameter(
                "user specified IP address is supported only when connecting to networks with user configured subnets".into(),
            ));
        }
        if let Some(mac) = &req.mac {
            berth_network::parse_mac(mac).map_err(EngineError::InvalidParameter)?;
        }
        Ok(Attachment {
            network_id: net.record.id.clone(),
            aliases: req.aliases,
            ipv4: req.ipv4,
            mac: req.mac,
            links: req.links,
            endpoint_id: String::new(),
            endpoint: None,
        })
    }

    pub async fn connect_network(
        &self,
        network: &str,
        container: &str,
        req: EndpointRequest,
    ) -> Result<(), EngineError> {
        let net = self.user_network(network)?;
        let entry = self.entry(container)?;
        let _op = entry.op.lock().await;
        let rec = entry.snapshot();
        match crate::containers::net::mode(&rec, self.network.is_some(), &self.user_networks)? {
            Mode::None => {
                return Err(EngineError::Forbidden(
                    "container cannot be connected to multiple networks with one of the networks in private (none) mode".into(),
                ))
            }
            Mode::Host => {
                return Err(EngineError::Forbidden(
                    "container cannot be disconnected from host network or connected to host network".into(),
                ))
            }
            Mode::Container(_) => {
                return Err(EngineError::Forbidden(
                    "container sharing network namespace with another container or host cannot be connected to any other network".into(),
                ))
            }
            Mode::Bridge | Mode::User(_) => {}
        }
        let name = net.record.name.clone();
        if rec.networks.contains_key(&name) {
            return Err(EngineError::Forbidden(format!(
                "endpoint with name {} already exists in network {name}",
                rec.bare_name()
            )));
        }
        let mut attachment = Self::attachment_for(&net, req)?;
        if rec.state.status.is_running() {
            let netns = self.sandbox_path(&rec).ok_or_else(|| {
                EngineError::Conflict("the container's network namespace is gone".into())
            })?;
            let ep = self
                .attach_interface(&rec, &net, &attachment, netns, false)
                .await?;
            self.edit_hosts(&rec, |text| {
                let c = &rec.spec.config;
                crate::containers::host_files::with_address(text, ep.ip, &c.hostname, &c.domainname)
            });
            attachment.endpoint = Some(ep);
            attachment.endpoint_id = crate::random_id();
        }
        let attached = attachment.endpoint.clone();
        let updated = self.update(&entry, |r| {
            r.networks.insert(name.clone(), attachment);
        });
        if let Err(e) = updated {
            if let Some(ep) = attached {
                net.bridge.detach(&rec.id, &ep).await;
            }
            return Err(e);
        }
        self.publish_names();
        self.publish_network("connect", &net.record.id, &name, Some(&rec.id));
        Ok(())
    }

    /// Rewrites a running container's `/etc/hosts` (a file berth wrote; a failure to
    /// change it leaves it as it was).
    pub(crate) fn edit_hosts(&self, rec: &ContainerRecord, edit: impl FnOnce(&str) -> String) {
        let path = self.paths.hosts(&rec.id);
        if let Ok(text) = std::fs::read_to_string(&path) {
            if let Err(e) = std::fs::write(&path, edit(&text)) {
                tracing::warn!(container = %rec.id, error = %e, "updating /etc/hosts");
            }
        }
    }

    /// The namespace of a running container that has one of its own.
    pub(crate) fn sandbox_path(&self, rec: &ContainerRecord) -> Option<std::path::PathBuf> {
        if let Some(ep) = &rec.network {
            return Some(ep.netns.clone());
        }
        let path = self.paths.netns(&rec.id);
        path.exists().then_some(path)
    }

    /// Puts a new interface for `net` in the container's namespace: `eth<n>`, the first free
    /// number.
    pub(crate) async fn attach_interface(
        &self,
        rec: &ContainerRecord,
        net: &UserNetwork,
        a: &Attachment,
        netns: std::path::PathBuf,
        primary: bool,
    ) -> Result<berth_network::Endpoint, EngineError> {
        let used: Vec<String> = rec
            .network
            .iter()
            .map(|e| e.ifname.clone())
            .chain(
                rec.networks
                    .values()
                    .filter_map(|a| a.endpoint.as_ref().map(|e| e.ifname.clone())),
            )
            .collect();
        let ifname = (0..)
            .map(|i| format!("eth{i}"))
            .find(|n| !used.contains(n))
            .expect("a free name");
        let req = berth_network::AttachRequest {
            req: berth_network::ConnectRequest {
                id: rec.id.clone(),
                name: rec.bare_name().to_string(),
                mac: a
                    .mac
                    .as_deref()
                    .map(berth_network::parse_mac)
                    .transpose()
                    .map_err(EngineError::InvalidParameter)?,
                ports: if primary {
                    crate::containers::net::port_requests(rec)
                } else {
                    Vec::new()
                },
            },
            netns,
            ifname,
            host_veth: format!("veth{}{}", &rec.id[..7], &net.record.id[..4]),
            ip: a.ipv4,
            default_route: primary,
        };
        Ok(net.bridge.attach(req).await?)
    }
}
