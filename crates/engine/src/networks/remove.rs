//! `DELETE /networks/{id}`: a user-defined network and its bridge, refused while a running
//! container is on it.

use super::PREDEFINED;
use crate::containers::ContainerService;
use crate::error::EngineError;

impl ContainerService {
    pub async fn remove_network(&self, wanted: &str) -> Result<(), EngineError> {
        let _changes = self.user_networks.changes.lock().await;
        let Some(net) = self.user_networks.find(wanted) else {
            if let Some(name) = PREDEFINED
                .iter()
                .find(|n| **n == wanted)
                .map(|n| n.to_string())
                .or_else(|| self.predefined_named(wanted))
            {
                return Err(EngineError::Forbidden(format!(
                    "{name} is a pre-defined network and cannot be removed"
                )));
            }
            return Err(EngineError::NotFound(format!("network {wanted} not found")));
        };
        if !self.network_members(&net.record.id).is_empty() {
            return Err(EngineError::Conflict(format!(
                "error while removing network: network {} id {} has active endpoints",
                net.record.name, net.record.id
            )));
        }
        net.bridge.destroy().await?;
        self.user_networks.forget(&net.record.id);
        self.publish_network("destroy", &net.record.id, &net.record.name, None);
        Ok(())
    }
}
