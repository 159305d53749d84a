//! `docker push`: the tags of a repository asked for, each pushed with a `push` event.

use std::sync::Arc;

use berth_distribution::auth::Credentials;
use berth_distribution::{PushEvent, PushRequest};
use berth_image::{Image, Reference};
use tokio::sync::mpsc;

use super::ImageService;
use crate::error::EngineError;

impl ImageService {
    /// What `docker push` of `reference` sends: its tag, or (`all_tags`) every tag of its
    /// repository in tag order, each with its image. Docker's errors when there is none.
    pub fn push_targets(
        &self,
        reference: &Reference,
        all_tags: bool,
    ) -> Result<Vec<(Reference, Arc<Image>)>, EngineError> {
        if !all_tags {
            let image = self
                .store
                .resolve(&reference.canonical())
                .map_err(|_| EngineError::NotFound(format!("tag does not exist: {reference}")))?;
            return Ok(vec![(reference.clone(), image)]);
        }
        let mut tagged: Vec<(Reference, Arc<Image>)> = self
            .store
            .list()
            .into_iter()
            .flat_map(|(image, refs)| {
                refs.into_iter()
                    .filter(|r| r.repo() == reference.repo() && r.tag().is_some())
                    .map(move |r| (r, image.clone()))
            })
            .collect();
        if tagged.is_empty() {
            return Err(EngineError::NotFound(format!(
                "An image does not exist locally with the tag: {}",
                reference.familiar_repo()
            )));
        }
        tagged.sort_by(|a, b| a.0.tag().cmp(&b.0.tag()));
        Ok(tagged)
    }

    /// Pushes `image` as `reference` (a tag), telling `events` each step; returns the
    /// manifest's digest.
    pub async fn push(
        &self,
        reference: Reference,
        image: Arc<Image>,
        credentials: Option<Credentials>,
        events: mpsc::UnboundedSender<PushEvent>,
    ) -> Result<String, EngineError> {
        let shown = reference.to_string();
        let req = PushRequest {
            reference,
            image,
            credentials,
            options: self.registry.clone(),
        };
        let digest = berth_distribution::push(self.store.clone(), req, events).await?;
        // Docker names a push event by the reference, not the image ID.
        let attrs = std::collections::BTreeMap::from([("name".to_string(), shown.clone())]);
        self.events
            .publish(crate::EventKind::Image, "push", &shown, attrs);
        Ok(digest)
    }
}
