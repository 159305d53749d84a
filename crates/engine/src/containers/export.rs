//! `GET /containers/(id)/export`: the container's files as a tar stream.

use berth_snapshot::{OverlayDirs, View};
use tokio_util::io::SyncIoBridge;

use super::ContainerService;
use crate::error::EngineError;
use crate::images::ByteStream;

impl ContainerService {
    /// The container's root filesystem as its image, the init layer and its own changes make
    /// it (without volumes or binds, as Docker's), streamed while it is read from a view of
    /// its own, so that the container may start, run, stop or go meanwhile.
    pub fn export(&self, name: &str) -> Result<ByteStream, EngineError> {
        let rec = self.entry(name)?.snapshot();
        let layers = self.image_layers(&rec)?;
        let overlay = OverlayDirs::new(self.paths.overlay(&rec.id));
        // A container that never started gets its (empty) directories now, as Docker makes
        // a container's layer at create.
        overlay
            .create()
            .map_err(|e| EngineError::failed("prepare the container's files", e))?;
        let view = View::mount(&overlay.view(&layers), &self.paths.views())
            .map_err(|e| EngineError::failed("mount the container's files", e))?;
        self.publish(&rec, "export", &[]);
        let (reader, writer) = tokio::io::duplex(256 * 1024);
        let id = rec.id.clone();
        tokio::task::spawn_blocking(move || {
            let out = std::io::BufWriter::with_capacity(
                super::archive::STREAM_BUFFER,
                SyncIoBridge::new(writer),
            );
            if let Err(e) = berth_archive::pack(view.path(), out) {
                tracing::warn!(container = %id, error = %e, "export stopped");
            }
            drop(view);
        });
        Ok(Box::new(reader))
    }
}
