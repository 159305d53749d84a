//! `GET /containers/(id)/changes`: what a container changed in its root filesystem.

use berth_snapshot::{Change, OverlayDirs};

use super::ContainerService;
use crate::error::EngineError;

impl ContainerService {
    /// The container's changes over its image, as Docker's `diff` lists them; none for a
    /// container that never started.
    pub async fn changes(&self, name: &str) -> Result<Vec<Change>, EngineError> {
        let rec = self.entry(name)?.snapshot();
        let layers = self.image_layers(&rec)?;
        let overlay = OverlayDirs::new(self.paths.overlay(&rec.id));
        let views = self.paths.views();
        tokio::task::spawn_blocking(move || overlay.changes(&layers, &views))
            .await?
            .map_err(|e| EngineError::failed("list the container's changes", e))
    }
}
