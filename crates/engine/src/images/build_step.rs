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
    /// An image by its ID, or Docker's 404.
    fn image_by_id(&self, id: &Digest) -> Result<std::sync::Arc<berth_image::Image>, EngineError> {
        self.store
            .get(id)
            .ok_or_else(|| EngineError::NotFound(format!("No such image: {id}")))
    }

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
        let parent = parent.map(|id| self.image_by_id(id)).transpose()?;
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

impl ImageService {
    /// Docker's `--cache-from`: the step `step` on `parent` taken from one of `sources`
    /// (images the client named, often pulled, with no build history here). A step built
    /// here counts only when it lies on a source's line; else a source whose history goes on
    /// from `parent`'s with this very step gives it: the source itself when the step is its
    /// last, else an image of its layers up to the step (made here, linked to `parent`).
    pub fn cached_from(
        &self,
        sources: &[String],
        parent: Option<&Digest>,
        step: &Config,
    ) -> Result<Option<Digest>, EngineError> {
        let sources: Vec<std::sync::Arc<berth_image::Image>> = sources
            .iter()
            .filter_map(|name| match self.store.resolve(name) {
                Ok(i) => Some(i),
                Err(e) => {
                    tracing::warn!(image = %name, error = %e, "a --cache-from image is not here; skipped");
                    None
                }
            })
            .collect();
        let parent = parent.map(|id| self.image_by_id(id)).transpose()?;
        // Whether `img` carries on from `parent`: the same history and layers, and more.
        let carries_on = |img: &berth_image::Image| -> bool {
            let Some(p) = &parent else {
                return !img.config.history.is_empty();
            };
            let (ph, ih) = (&p.config.history, &img.config.history);
            let (pl, il) = (&p.config.rootfs.diff_ids, &img.config.rootfs.diff_ids);
            ph.len() < ih.len()
                && pl.len() <= il.len()
                && ih[..ph.len()] == ph[..]
                && il[..pl.len()] == pl[..]
        };
        if let Some(local) = self.cached_step(parent.as_ref().map(|p| &p.id), step) {
            let on_a_line = self.store.get(&local).is_some_and(|l| {
                sources.iter().any(|s| {
                    s.id == l.id
                        || (l.config.history.len() <= s.config.history.len()
                            && s.config.history[..l.config.history.len()] == l.config.history[..])
                })
            });
            if on_a_line {
                return Ok(Some(local));
            }
        }
        let made_by = step.cmd.clone().unwrap_or_default().join(" ");
        let at = parent.as_ref().map_or(0, |p| p.config.history.len());
        for target in &sources {
            if !carries_on(target) || target.config.history[at].created_by != made_by {
                continue;
            }
            if target.config.history.len() - 1 == at {
                return Ok(Some(target.id));
            }
            // An image of the target's layers up to this step.
            let entry = target.config.history[at].clone();
            let mut rootfs = parent
                .as_ref()
                .map(|p| p.config.rootfs.clone())
                .unwrap_or_else(|| berth_image::RootFs {
                    kind: "layers".into(),
                    diff_ids: Vec::new(),
                });
            if !entry.empty_layer {
                let index = target.config.history[..at]
                    .iter()
                    .filter(|h| !h.empty_layer)
                    .count();
                match target.config.rootfs.diff_ids.get(index) {
                    Some(d) => rootfs.diff_ids.push(*d),
                    None => continue,
                }
            }
            let mut history = parent
                .as_ref()
                .map(|p| p.config.history.clone())
                .unwrap_or_default();
            history.push(entry.clone());
            let config = berth_image::ImageConfig {
                architecture: target.config.architecture.clone(),
                os: target.config.os.clone(),
                author: target.config.author.clone(),
                created: entry.created.clone(),
                docker_version: self.engine_version.clone(),
                config: Some(crate::containers::image_config_json(step)),
                container_config: Some(crate::containers::image_config_json(step)),
                rootfs,
                history,
                ..Default::default()
            };
            let bytes = serde_json::to_vec(&config).expect("config serialises");
            let image = self
                .store
                .register_derived(&bytes, parent.as_ref().map(|p| p.id))?;
            return Ok(Some(image.id));
        }
        Ok(None)
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
