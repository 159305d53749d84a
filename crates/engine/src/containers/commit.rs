//! `POST /commit`: a new image from what a container changed.

use std::collections::BTreeMap;
use std::sync::Arc;

use berth_image::{CommitOptions, Digest};
use berth_snapshot::OverlayDirs;

use super::record::Status;
use super::spec::{Config, ImageDefaults, ImageRunConfig};
use super::ContainerService;
use crate::error::EngineError;
use crate::events::EventKind;
use crate::images::ImageService;

/// What `POST /commit` asks besides the container.
#[derive(Debug, Clone, Default)]
pub struct CommitRequest {
    pub repo: String,
    pub tag: String,
    pub author: String,
    pub comment: String,
    /// Freeze a running container while its changes are read.
    pub pause: bool,
    /// The body's config, taking precedence over the container's (which fills what it
    /// leaves out, as Docker merges them).
    pub config: Option<Config>,
    /// What made the image, recorded as its `container_config` (a build step's config, the
    /// cache's key); the container's own config when absent.
    pub container_config: Option<Config>,
    pub docker_version: String,
}

impl ContainerService {
    /// Makes an image of the container's changes over its image; returns its ID.
    pub async fn commit(&self, name: &str, req: CommitRequest) -> Result<Digest, EngineError> {
        let reference = ImageService::check_import_reference(&req.repo, &req.tag)?;
        let entry = self.entry(name)?;
        // No start, stop or removal meanwhile.
        let _op = entry.op.lock().await;
        let rec = entry.snapshot();
        if rec.state.status == Status::Dead {
            return Err(EngineError::Conflict(format!(
                "You cannot commit container {} which is Dead",
                rec.id
            )));
        }
        let parent = Digest::parse(&rec.image_id)
            .and_then(|id| self.images.get(&id))
            .ok_or_else(|| EngineError::NotFound(format!("No such image: {}", rec.image_id)))?;
        let mut config = req
            .config
            .clone()
            .unwrap_or_else(|| rec.spec.config.clone());
        // A build step's config is whole already; a user's commit is completed from the
        // container's, as Docker completes it.
        if req.container_config.is_none() {
            config.merge_image(ImageDefaults::from_config(&rec.spec.config));
        }
        let made_by = req.container_config.as_ref().unwrap_or(&rec.spec.config);
        let opts = CommitOptions {
            config: Some(ImageRunConfig::of(&config).to_json()),
            container_config: Some(ImageRunConfig::of(made_by).to_json()),
            container: rec.id.clone(),
            author: req.author.clone(),
            comment: req.comment.clone(),
            created_by: made_by.cmd.clone().unwrap_or_default().join(" "),
            created: jiff::Timestamp::now(),
            architecture: crate::images::host_arch().to_string(),
            docker_version: req.docker_version.clone(),
        };
        let overlay = OverlayDirs::new(self.paths.overlay(&rec.id));
        overlay
            .create()
            .map_err(|e| EngineError::failed("prepare the container's files", e))?;
        let freeze = req.pause && rec.state.status == Status::Running;
        if freeze {
            self.pause_locked(&entry, true).await?;
        }
        let store = self.images.clone();
        let upper = overlay.upper();
        let committed = tokio::task::spawn_blocking(move || {
            // The layer streams from the upper directory into the store through a pipe: the
            // daemon holds none of it in memory.
            let (reader, writer) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)
                .map_err(|e| EngineError::failed("pipe", std::io::Error::from(e)))?;
            let packer = std::thread::spawn(move || {
                berth_archive::pack_layer(&upper, std::fs::File::from(writer))
            });
            let stored = store.commit(&parent, &mut std::fs::File::from(reader), &opts);
            let packed = packer
                .join()
                .map_err(|_| EngineError::Internal("the layer writer panicked".into()))?;
            packed.map_err(|e| EngineError::failed("read the container's changes", e))?;
            Ok::<_, EngineError>(stored?)
        })
        .await;
        if freeze {
            self.pause_locked(&entry, false).await?;
        }
        let image: Arc<berth_image::Image> = committed??;
        let mut shown = String::new();
        if let Some(r) = &reference {
            self.images.tag(&image.id, r, true)?;
            shown = r.to_string();
            let mut attrs: BTreeMap<String, String> = image.config.labels().into_iter().collect();
            attrs.insert("name".into(), shown.clone());
            self.events
                .publish(EventKind::Image, "tag", &image.id.to_string(), attrs);
        }
        let extra = [
            ("comment", req.comment.clone()),
            ("imageID", image.id.to_string()),
            ("imageRef", shown),
        ];
        self.publish(&rec, "commit", &extra);
        Ok(image.id)
    }
}
