//! `POST /networks/prune`: the user-defined networks no running container is on.

use super::NetworkView;
use crate::containers::ContainerService;

impl ContainerService {
    /// Removes the unused networks `keep` does not keep (label and `until` filters); their
    /// names.
    pub async fn prune_networks(
        &self,
        keep: &(dyn Fn(&NetworkView) -> bool + Sync),
    ) -> Vec<String> {
        let candidates: Vec<NetworkView> = self
            .networks()
            .into_iter()
            .filter(|n| n.custom && n.endpoints.is_empty() && !keep(n))
            .collect();
        let mut removed = Vec::new();
        for n in candidates {
            match self.remove_network(&n.id).await {
                Ok(()) => removed.push(n.name),
                // Joined meanwhile: it stays, as Docker's prune leaves it.
                Err(e) => tracing::debug!(network = %n.name, error = %e, "not pruned"),
            }
        }
        removed
    }
}
