//! The networks API on the engine: wire shapes in and out.

use berth_api_server::ApiError;
use berth_api_types::network::{
    EndpointSettings, Ipam, IpamConfig, NetworkConnectRequest, NetworkContainer,
    NetworkCreateRequest, NetworkDisconnectRequest, NetworkResource,
};
use berth_engine::networks::{EndpointRequest, NetworkCreate, NetworkView, PoolRequest};

use crate::adapter::{api_err, Daemon};

/// What a client asks for an endpoint, checked.
pub fn endpoint_request(ep: EndpointSettings) -> Result<EndpointRequest, ApiError> {
    let ipv4 = match ep.ipam_config.as_ref().map(|c| c.ipv4_address.as_str()) {
        None | Some("") => None,
        Some(ip) => Some(
            ip.parse()
                .map_err(|_| ApiError::bad_request(format!("invalid IPv4 address: {ip}")))?,
        ),
    };
    Ok(EndpointRequest {
        aliases: ep.aliases.unwrap_or_default(),
        ipv4,
        mac: (!ep.mac_address.is_empty()).then_some(ep.mac_address),
        links: ep.links.unwrap_or_default(),
    })
}

fn resource(n: NetworkView) -> NetworkResource {
    NetworkResource {
        name: n.name,
        id: n.id,
        created: n.created,
        scope: "local".into(),
        driver: n.driver,
        internal: n.internal,
        attachable: n.attachable,
        ipam: Ipam {
            driver: "default".into(),
            options: n.ipam_options,
            config: n
                .pool
                .map(|p| {
                    vec![IpamConfig {
                        subnet: p.subnet,
                        ip_range: p.ip_range.unwrap_or_default(),
                        gateway: p.gateway,
                        auxiliary_addresses: (!p.aux_addresses.is_empty())
                            .then_some(p.aux_addresses),
                    }]
                })
                .unwrap_or_default(),
        },
        containers: n
            .endpoints
            .into_iter()
            .map(|e| {
                (
                    e.container,
                    NetworkContainer {
                        name: e.name,
                        endpoint_id: e.endpoint_id,
                        mac_address: e.mac,
                        ipv4_address: e.ipv4,
                        ipv6_address: String::new(),
                    },
                )
            })
            .collect(),
        options: n.options,
        labels: n.labels,
        ..Default::default()
    }
}

#[async_trait::async_trait]
impl berth_api_server::backend::NetworkBackend for Daemon {
    fn list_networks(&self) -> Result<Vec<NetworkResource>, ApiError> {
        Ok(self
            .containers()
            .networks()
            .into_iter()
            .map(resource)
            .collect())
    }

    async fn create_network(&self, body: NetworkCreateRequest) -> Result<String, ApiError> {
        let ipam = body.ipam.unwrap_or_default();
        let req = NetworkCreate {
            name: body.name,
            driver: body.driver,
            internal: body.internal,
            attachable: body.attachable,
            enable_ipv6: body.enable_ipv6.unwrap_or(false),
            scope: body.scope,
            ingress: body.ingress,
            config_only: body.config_only,
            labels: body.labels.unwrap_or_default(),
            options: body.options.unwrap_or_default(),
            ipam_driver: ipam.driver,
            ipam_options: ipam.options.unwrap_or_default(),
            pools: ipam
                .config
                .unwrap_or_default()
                .into_iter()
                .map(|c| PoolRequest {
                    subnet: c.subnet,
                    ip_range: c.ip_range,
                    gateway: c.gateway,
                    aux_addresses: c.auxiliary_addresses.unwrap_or_default(),
                })
                .collect(),
        };
        self.containers().create_network(req).await.map_err(api_err)
    }

    async fn remove_network(&self, name: &str) -> Result<(), ApiError> {
        self.containers()
            .remove_network(name)
            .await
            .map_err(api_err)
    }

    async fn connect_network(
        &self,
        network: &str,
        body: NetworkConnectRequest,
    ) -> Result<(), ApiError> {
        let req = endpoint_request(body.endpoint_config.unwrap_or_default())?;
        self.containers()
            .connect_network(network, &body.container, req)
            .await
            .map_err(api_err)
    }

    async fn disconnect_network(
        &self,
        network: &str,
        body: NetworkDisconnectRequest,
    ) -> Result<(), ApiError> {
        self.containers()
            .disconnect_network(network, &body.container, body.force)
            .await
            .map_err(api_err)
    }

    async fn prune_networks(
        &self,
        keep: &(dyn for<'n> Fn(&'n NetworkResource) -> bool + Sync),
    ) -> Result<Vec<String>, ApiError> {
        let keep_view = |n: &NetworkView| {
            let wire = resource(n.clone());
            keep(&wire)
        };
        Ok(self.containers().prune_networks(&keep_view).await)
    }
}
