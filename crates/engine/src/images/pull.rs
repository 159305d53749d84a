//! `docker pull`: an image from its registry into the store, with a `pull` event.

use berth_distribution::auth::Credentials;
use berth_distribution::{Endpoint, PullEvent, PullRequest, Pulled, RegistryClient};
use tokio::sync::mpsc;

use super::ImageService;
use crate::error::EngineError;

impl ImageService {
    /// Pulls `req.reference`, telling `events` each step as it happens.
    pub async fn pull(
        &self,
        req: PullRequest,
        events: mpsc::UnboundedSender<PullEvent>,
    ) -> Result<Pulled, EngineError> {
        let shown = req.reference.to_string();
        let name = req.reference.familiar_repo().to_string();
        let pulled =
            berth_distribution::pull(self.store.clone(), self.transfers.clone(), req, events)
                .await?;
        // Docker names a pull event by the reference, not the image ID.
        let mut attrs = std::collections::BTreeMap::from([("name".to_string(), name)]);
        attrs.extend(pulled.image.config.labels());
        self.events
            .publish(crate::EventKind::Image, "pull", &shown, attrs);
        Ok(pulled)
    }
}

impl ImageService {
    /// `docker login`: checks `credentials` against the registry `server` names; the
    /// identity token its token server gave, if any. Nothing is kept.
    pub async fn login(
        &self,
        server: &str,
        credentials: Credentials,
    ) -> Result<Option<String>, EngineError> {
        let client = RegistryClient::new(
            Endpoint::registry(server),
            Some(credentials),
            false,
            self.registry.clone(),
        )
        .await;
        Ok(client.login().await?)
    }
}

impl ImageService {
    /// `docker search`: up to `limit` hits for `term` on the registry it names.
    pub async fn search(
        &self,
        term: &str,
        limit: usize,
        credentials: Option<Credentials>,
    ) -> Result<Vec<berth_distribution::search::SearchHit>, EngineError> {
        Ok(
            berth_distribution::search::search(term, limit, credentials, self.registry.clone())
                .await?,
        )
    }
}

impl ImageService {
    /// What the registry holds for `reference`: its manifest's descriptor and platforms.
    pub async fn distribution_inspect(
        &self,
        reference: &berth_image::Reference,
        credentials: Option<Credentials>,
    ) -> Result<
        (
            berth_distribution::Descriptor,
            Vec<berth_distribution::Platform>,
        ),
        EngineError,
    > {
        Ok(berth_distribution::inspect(reference, credentials, self.registry.clone()).await?)
    }
}
