//! `POST /networks/{id}/disconnect`: a container leaves a user-defined network (its
//! interface goes at once when it runs).

use crate::containers::ContainerService;
use crate::error::EngineError;

impl ContainerService {
    pub async fn disconnect_network(
        &self,
        network: &str,
        container: &str,
        force: bool,
    ) -> Result<(), EngineError> {
        let net = self.user_networks.find(network);
        let entry = self.entry(container)?;
        let _op = entry.op.lock().await;
        let rec = entry.snapshot();
        // With `force`, a network that is gone can still be left by name.
        let name = match (&net, force) {
            (Some(n), _) => n.record.name.clone(),
            (None, true) if rec.networks.contains_key(network) => network.to_string(),
            (None, _) => {
                return Err(self.user_network(network).err().unwrap_or_else(|| {
                    EngineError::NotFound(format!("network {network} not found"))
                }))
            }
        };
        let Some(attachment) = rec.networks.get(&name).cloned() else {
            return Err(EngineError::Forbidden(format!(
                "container {} is not connected to network {name}",
                rec.id
            )));
        };
        self.update(&entry, |r| {
            r.networks.remove(&name);
        })?;
        if let (Some(ep), Some(net)) = (&attachment.endpoint, &net) {
            net.bridge.detach(&rec.id, ep).await;
        }
        if let Some(ep) = &attachment.endpoint {
            self.edit_hosts(&rec, |text| {
                crate::containers::host_files::without_address(text, ep.ip)
            });
        }
        self.publish_names();
        self.publish_network("disconnect", &attachment.network_id, &name, Some(&rec.id));
        Ok(())
    }
}
