//! What a build needs of the image store beyond commits of containers: images of a step that
//! changed only the config, and the image a step made before (the build cache).

use berth_image::{CommitOptions, Digest};

use super::ImageService;
use crate::containers::Config;
use crate::error::EngineError;

/// What Docker's cache compares of two step configs: the fields a step can change.
const STEP_FIELDS: [&str; 11] = [
    "Cmd",
    "Env",
    "Entrypoint",
    "Labels",
    "ExposedPorts",
    "Volumes",
    "WorkingDir",
    "User",
    "OnBuild",
    "StopSignal",
    "Healthcheck",
];

/// Whether two recorded step configs are the same step (an absent field equals `null`).
fn same_step(a: &serde_json::Value, b: &serde_json::Value) -> bool {
    STEP_FIELDS.iter().all(|f| {
        let field = |v: &serde_json::Value| v.get(f).cloned().unwrap_or(serde_json::Value::Null);
        field(a) == field(b)
    })
}

impl ImageService {
    /// An image on `parent` (none: on no image, after `FROM scratch`) with `config` and no
    /// new layer, `step` recorded as what made it (the cache's key, `container_config`),
    /// by `author`.
    pub async fn commit_config(
        &self,
        parent: Option<&Digest>,
        config: &Config,
        step: &Config,
        author: &str,
    ) -> Result<Digest, EngineError> {
        let parent = match parent {
            Some(id) => Some(
                self.store
                    .get(id)
                    .ok_or_else(|| EngineError::NotFound(format!("No such image: {id}")))?,
            ),
            None => None,
        };
        let opts = CommitOptions {
            config: Some(crate::containers::image_config_json(config)),
            container_config: Some(crate::containers::image_config_json(step)),
            created_by: step.cmd.clone().unwrap_or_default().join(" "),
            author: author.to_string(),
            created: jiff::Timestamp::now(),
            docker_version: self.engine_version.clone(),
            architecture: super::host_arch().to_string(),
            ..Default::default()
        };
        let store = self.store.clone();
        let image = tokio::task::spawn_blocking(move || {
            // A tar of nothing (its end blocks): the store adds no layer for it.
            let mut empty = std::io::Cursor::new(vec![0u8; 1024]);
            store.commit_on(parent.as_deref(), &mut empty, &opts)
        })
        .await
        .map_err(|e| EngineError::Internal(format!("commit stopped: {e}")))??;
        Ok(image.id)
    }

    /// The image built here on `parent` by the step `step` (Docker's cache: the same step
    /// on the same image).
    pub fn cached_step(&self, parent: Option<&Digest>, step: &Config) -> Option<Digest> {
        let wanted = crate::containers::image_config_json(step);
        self.store
            .children_built_here(parent)
            .into_iter()
            .find(|i| {
                i.config
                    .container_config
                    .as_ref()
                    .is_some_and(|made_by| same_step(made_by, &wanted))
            })
            .map(|i| i.id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_are_the_same_by_the_fields_a_step_changes() {
        let a =
            serde_json::json!({"Cmd": ["/bin/sh", "-c", "make"], "Env": ["A=1"], "Hostname": "x"});
        let b = serde_json::json!({"Cmd": ["/bin/sh", "-c", "make"], "Env": ["A=1"], "Hostname": "y", "Labels": null});
        assert!(same_step(&a, &b));
        let c = serde_json::json!({"Cmd": ["/bin/sh", "-c", "make"], "Env": ["A=2"]});
        assert!(!same_step(&a, &c));
    }
}
