//! The wiring of `/volumes` and `/networks`: the engine's volumes and networks in the API's shape.

use berth_api_server::backend::{VolumeBackend, VolumeEntry};
use berth_api_server::ApiError;
use berth_api_types::volume::{Volume, VolumeCreateBody};
use berth_engine::containers::VolumeInfo;

use crate::adapter::Daemon;

fn entry(v: VolumeInfo) -> VolumeEntry {
    VolumeEntry {
        dangling: v.used_by.is_empty(),
        anonymous: v.anonymous,
        volume: Volume {
            name: v.record.name,
            driver: v.record.driver,
            mountpoint: v.mountpoint.display().to_string(),
            created_at: v.record.created,
            labels: v.record.labels,
            scope: "local".into(),
            options: v.record.options,
            usage_data: None,
        },
    }
}

fn api_err(e: berth_engine::EngineError) -> ApiError {
    ApiError::from_err(e)
}

impl VolumeBackend for Daemon {
    fn list_volumes(&self) -> Result<Vec<VolumeEntry>, ApiError> {
        Ok(self.containers().volumes().into_iter().map(entry).collect())
    }

    fn inspect_volume(&self, name: &str) -> Result<VolumeEntry, ApiError> {
        self.containers().volume(name).map(entry).map_err(api_err)
    }

    fn create_volume(&self, body: VolumeCreateBody) -> Result<VolumeEntry, ApiError> {
        self.containers()
            .create_volume(
                Some(body.name),
                &body.driver,
                body.driver_opts.unwrap_or_default(),
                body.labels.unwrap_or_default(),
            )
            .map(entry)
            .map_err(api_err)
    }

    fn remove_volume(&self, name: &str, force: bool) -> Result<(), ApiError> {
        self.containers()
            .remove_volume(name, force)
            .map_err(api_err)
    }

    fn prune_volumes(
        &self,
        all: bool,
        keep: &(dyn Fn(&VolumeEntry) -> bool + Sync),
    ) -> Result<(Vec<String>, u64), ApiError> {
        Ok(self
            .containers()
            .prune_volumes(all, &|v: &VolumeInfo| keep(&entry(v.clone()))))
    }
}

impl berth_api_server::backend::NetworkBackend for Daemon {
    fn list_networks(&self) -> Result<Vec<berth_api_types::network::NetworkResource>, ApiError> {
        use berth_api_types::network::{Ipam, IpamConfig, NetworkContainer, NetworkResource};
        Ok(self
            .containers()
            .networks()
            .into_iter()
            .map(|n| NetworkResource {
                name: n.name,
                id: n.id,
                created: n.created,
                scope: "local".into(),
                driver: n.driver,
                ipam: Ipam {
                    driver: "default".into(),
                    options: None,
                    config: n
                        .subnet
                        .map(|(subnet, gateway)| vec![IpamConfig { subnet, gateway }])
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
                ..Default::default()
            })
            .collect())
    }
}
