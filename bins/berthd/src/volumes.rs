//! The wiring of `/volumes`: the engine's volumes in the API's shape.

use berth_api_server::backend::{VolumeBackend, VolumeEntry};
use berth_api_server::ApiError;

use crate::adapter::api_err;
use berth_api_types::volume::{Volume, VolumeCreateBody};
use berth_engine::containers::VolumeInfo;

use crate::adapter::Daemon;

/// A volume as `GET /volumes` shows it.
pub(crate) fn wire(v: VolumeInfo) -> Volume {
    Volume {
        name: v.record.name,
        driver: v.record.driver,
        mountpoint: v.mountpoint.display().to_string(),
        created_at: v.record.created,
        labels: v.record.labels,
        scope: "local".into(),
        options: v.record.options,
        usage_data: None,
    }
}

fn entry(v: VolumeInfo) -> VolumeEntry {
    VolumeEntry {
        dangling: v.used_by.is_empty(),
        anonymous: v.anonymous,
        volume: wire(v),
    }
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
