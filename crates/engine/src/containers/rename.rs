//! Renaming a container.

use super::names;
use super::ContainerService;
use crate::error::EngineError;

impl ContainerService {
    /// `POST /containers/(id)/rename?name=`.
    pub fn rename(&self, name: &str, new_name: &str) -> Result<(), EngineError> {
        let entry = self.entry(name)?;
        if !names::valid(new_name) {
            return Err(EngineError::InvalidParameter(format!(
                "Invalid container name ({new_name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
            )));
        }
        let wanted = format!("/{}", new_name.trim_start_matches('/'));
        let old = entry.snapshot().name;
        if old == wanted {
            return Err(EngineError::InvalidParameter(
                "Renaming a container with the same name as its current name".into(),
            ));
        }
        if let Some(other) = self.name_taken(&wanted) {
            return Err(Self::conflict_name(&wanted, &other));
        }
        let rec = self.update(&entry, |r| r.name = wanted.clone())?;
        if rec.networks.values().any(|a| a.endpoint.is_some()) {
            self.publish_names();
        }
        self.publish(&rec, "rename", &[("oldName", old)]);
        Ok(())
    }
}
