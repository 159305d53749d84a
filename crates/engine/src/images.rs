//! The image service: image operations plus the events they publish. Store work is blocking
//! file I/O, so it runs on the blocking pool.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use berth_image::{DeleteEffect, Digest, Image, ImageStore, ImportOptions, LoadedImage, Reference};
use tokio::io::AsyncRead;
use tokio_util::io::SyncIoBridge;

mod build_step;
mod insert;
mod pull;
mod push;

use crate::error::EngineError;
use crate::events::{EventBus, EventKind};
use crate::labels::LabelFilter;
use crate::prune::PruneFilters;

/// A byte stream handed to the engine (a request body, in practice).
pub type ByteStream = Box<dyn AsyncRead + Send + Unpin>;

/// An image with the references that name it.
pub type NamedImage = (Arc<Image>, Vec<Reference>);

/// What an image list asks for; `None` (or empty) for "any".
#[derive(Debug, Clone, Default)]
pub struct ImageListOptions {
    /// Only untagged (`true`) or only tagged (`false`) images.
    pub dangling: Option<bool>,
    pub labels: LabelFilter,
    /// Repository patterns (`*` globbing) one of the image's references matches.
    pub references: Option<Vec<String>>,
    /// Only images created before / after this one.
    pub before: Option<String>,
    pub since: Option<String>,
}

/// `*` globbing, as Docker's `reference` filter.
fn glob(pattern: &str, text: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == text,
        Some((head, rest)) => {
            let Some(mut t) = text.strip_prefix(head) else {
                return false;
            };
            loop {
                if glob(rest, t) {
                    return true;
                }
                let mut chars = t.chars();
                if chars.next().is_none() {
                    return false;
                }
                t = chars.as_str();
            }
        }
    }
}

/// Cheap to clone: every clone shares the one store and event bus.
#[derive(Clone)]
pub struct ImageService {
    store: Arc<ImageStore>,
    events: Arc<EventBus>,
    staging: PathBuf,
    engine_version: String,
    registry: berth_distribution::RegistryOptions,
    /// Layer downloads under way, shared by the pulls that want the same blob.
    transfers: Arc<berth_distribution::Transfers>,
}

impl ImageService {
    pub fn new(
        store: Arc<ImageStore>,
        events: Arc<EventBus>,
        staging: PathBuf,
        engine_version: String,
    ) -> Self {
        Self {
            store,
            events,
            staging,
            engine_version,
            registry: Default::default(),
            transfers: Default::default(),
        }
    }

    /// How registries are waited for and retried (the daemon's flags).
    pub fn with_registry_options(mut self, options: berth_distribution::RegistryOptions) -> Self {
        self.registry = options;
        self
    }

    pub fn registry_options(&self) -> berth_distribution::RegistryOptions {
        self.registry.clone()
    }

    pub fn store(&self) -> &Arc<ImageStore> {
        &self.store
    }

    fn publish(&self, action: &str, image: &Digest, name: String) {
        let mut attrs = BTreeMap::new();
        if let Some(img) = self.store.get(image) {
            attrs.extend(img.config.labels());
        }
        attrs.insert("name".to_string(), name);
        self.events
            .publish(EventKind::Image, action, &image.to_string(), attrs);
    }

    /// `docker import`: one layer from a tarball, tagged `repo[:tag]` when given. `source`
    /// names where the stream came from (`-` or a URL) for the image's comment.
    pub fn check_import_reference(repo: &str, tag: &str) -> Result<Option<Reference>, EngineError> {
        Ok(if repo.is_empty() {
            None
        } else {
            Some(Reference::with_tag(repo, tag)?)
        })
    }

    pub async fn import(
        &self,
        stream: ByteStream,
        source: &str,
        repo: &str,
        tag: &str,
        message: &str,
    ) -> Result<Arc<Image>, EngineError> {
        let reference = Self::check_import_reference(repo, tag)?;
        let label = source.to_string();
        let opts = ImportOptions {
            reference: reference.clone(),
            comment: if message.is_empty() {
                format!("Imported from {label}")
            } else {
                message.to_string()
            },
            config: None,
            architecture: host_arch().to_string(),
            created: jiff::Timestamp::now(),
            docker_version: self.engine_version.clone(),
        };
        let store = self.store.clone();
        let mut reader = crate::blocking_io::batched_reader(stream);
        let (image, _) =
            tokio::task::spawn_blocking(move || store.import(&mut reader, &opts)).await??;
        if let Some(r) = reference {
            self.publish("tag", &image.id, r.to_string());
        }
        self.publish("import", &image.id, image.id.to_string());
        Ok(image)
    }

    pub fn list(&self) -> Vec<NamedImage> {
        self.store.list()
    }

    /// The images `o` asks for, newest first.
    pub fn list_filtered(&self, o: &ImageListOptions) -> Result<Vec<NamedImage>, EngineError> {
        let created_of = |name: &Option<String>| -> Result<Option<i64>, EngineError> {
            name.as_deref()
                .map(|n| self.resolve(n).map(|(img, _)| img.config.created_unix()))
                .transpose()
        };
        let (before, since) = (created_of(&o.before)?, created_of(&o.since)?);
        let mut rows: Vec<NamedImage> = self
            .list()
            .into_iter()
            .filter(|(img, refs)| {
                let tagged = refs.iter().any(|r| r.tag().is_some());
                let created = img.config.created_unix();
                let labels = img.config.labels();
                o.dangling.is_none_or(|d| d != tagged)
                    && o.labels.matches(|k| labels.get(k).map(String::as_str))
                    && o.references.as_ref().is_none_or(|pats| {
                        pats.iter().any(|pat| {
                            refs.iter()
                                .any(|r| glob(pat, r.familiar_repo()) || glob(pat, &r.to_string()))
                        })
                    })
                    && before.is_none_or(|b| created < b)
                    && since.is_none_or(|s| created > s)
            })
            .collect();
        rows.sort_by(|a, b| {
            b.0.config
                .created_unix()
                .cmp(&a.0.config.created_unix())
                .then_with(|| a.0.id.to_string().cmp(&b.0.id.to_string()))
        });
        Ok(rows)
    }

    pub fn resolve(&self, name: &str) -> Result<NamedImage, EngineError> {
        let image = self.store.resolve(name)?;
        let refs = self.store.references(&image.id);
        Ok((image, refs))
    }

    /// Points `repo[:tag]` at the image `name`.
    pub fn tag(&self, name: &str, repo: &str, tag: &str, force: bool) -> Result<(), EngineError> {
        let image = self.store.resolve(name)?;
        let reference = Reference::with_tag(repo, tag)?;
        self.store.tag(&image.id, &reference, force)?;
        self.publish("tag", &image.id, reference.to_string());
        Ok(())
    }

    /// `docker rmi`. `in_use` tells whether a container uses an image; `prune_parents` (unless
    /// `noprune`) removes the untagged parents only this image kept.
    pub async fn delete(
        &self,
        name: &str,
        force: bool,
        prune_parents: bool,
        in_use: Arc<dyn Fn(&Digest) -> bool + Send + Sync>,
    ) -> Result<Vec<DeleteEffect>, EngineError> {
        let store = self.store.clone();
        let name = name.to_string();
        let effects = tokio::task::spawn_blocking(move || {
            store.delete(&name, force, prune_parents, &*in_use)
        })
        .await??;
        for e in &effects {
            match e {
                DeleteEffect::Untagged { image, .. } => {
                    self.publish("untag", image, image.to_string())
                }
                DeleteEffect::DeletedImage(id) => self.publish("delete", id, id.to_string()),
                DeleteEffect::DeletedLayer(_) => {}
            }
        }
        Ok(effects)
    }

    /// `docker image prune`: untagged images (`dangling_only`) or every image no container
    /// uses, among those `filters` keep. Returns what was untagged and deleted, and the bytes
    /// of the layers that went with them.
    pub async fn prune(
        &self,
        dangling_only: bool,
        filters: &PruneFilters,
        in_use: Arc<dyn Fn(&Digest) -> bool + Send + Sync>,
    ) -> Result<(Vec<DeleteEffect>, u64), EngineError> {
        let images = self.list();
        let layer_sizes: std::collections::HashMap<Digest, u64> = images
            .iter()
            .flat_map(|(img, _)| img.layers.iter().map(|l| (l.chain_id, l.size)))
            .collect();
        let mut effects = Vec::new();
        for (img, refs) in images {
            let tagged = refs.iter().any(|r| r.tag().is_some());
            let labels = img.config.labels();
            let created = img.config.created_unix().saturating_mul(1_000_000_000);
            if (dangling_only && tagged)
                || in_use(&img.id)
                || !filters.matches(created, |k| labels.get(k).map(String::as_str))
            {
                continue;
            }
            // Each name goes on its own, and the image with its last name, as Docker prunes.
            let names: Vec<String> = if dangling_only || refs.is_empty() {
                vec![img.id.to_string()]
            } else {
                refs.iter().map(ToString::to_string).collect()
            };
            for name in names {
                match self.delete(&name, false, true, in_use.clone()).await {
                    Ok(done) => effects.extend(done),
                    // Tagged meanwhile, or in use by a container created meanwhile.
                    Err(e) => tracing::debug!(image = %name, error = %e, "prune skipped"),
                }
            }
        }
        // The layers interrupted pulls left are no image's: they go too.
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || store.release_kept_layers())
            .await
            .map_err(|e| EngineError::Internal(e.to_string()))??;
        let reclaimed: u64 = effects
            .iter()
            .filter_map(|e| match e {
                DeleteEffect::DeletedLayer(chain) => layer_sizes.get(chain).copied(),
                _ => None,
            })
            .sum();
        self.events.publish(
            EventKind::Image,
            "prune",
            "",
            BTreeMap::from([("reclaimed".to_string(), reclaimed.to_string())]),
        );
        Ok((effects, reclaimed))
    }

    /// Resolves the names of a save request, as Docker does: `repo` means all its tags,
    /// `repo:tag` that tag, an ID the image alone (written without references).
    pub fn resolve_for_save(&self, names: &[String]) -> Result<Vec<NamedImage>, EngineError> {
        let mut out: Vec<NamedImage> = Vec::new();
        let mut add = |image: Arc<Image>, refs: Vec<Reference>| match out
            .iter_mut()
            .find(|(i, _)| i.id == image.id)
        {
            Some((_, existing)) => {
                for r in refs {
                    if !existing.contains(&r) {
                        existing.push(r);
                    }
                }
            }
            None => out.push((image, refs)),
        };
        for name in names {
            let bare_repo =
                !name.contains('@') && !name.rsplit('/').next().unwrap_or(name).contains(':');
            if bare_repo {
                if let Ok(r) = Reference::parse(name) {
                    let tagged: Vec<NamedImage> = self
                        .store
                        .list()
                        .into_iter()
                        .map(|(img, refs)| {
                            (
                                img,
                                refs.into_iter()
                                    .filter(|x| x.repo() == r.repo() && x.tag().is_some())
                                    .collect::<Vec<_>>(),
                            )
                        })
                        .filter(|(_, refs)| !refs.is_empty())
                        .collect();
                    if !tagged.is_empty() {
                        for (img, refs) in tagged {
                            add(img, refs);
                        }
                        continue;
                    }
                }
            }
            let image = self.store.resolve(name)?;
            let refs = match Reference::parse(name) {
                Ok(r) if self.store.references(&image.id).contains(&r) => vec![r],
                _ => Vec::new(),
            };
            add(image, refs);
        }
        Ok(out)
    }

    /// Streams a save tarball of `images`. Errors after the first byte end the stream early.
    pub fn save(&self, images: Vec<NamedImage>) -> ByteStream {
        let (reader, writer) = tokio::io::duplex(256 * 1024);
        let store = self.store.clone();
        for (img, _) in &images {
            self.publish("save", &img.id, img.id.to_string());
        }
        tokio::task::spawn_blocking(move || {
            let mut out = SyncIoBridge::new(writer);
            if let Err(e) = store.save(&images, &mut out) {
                tracing::warn!(error = %e, "image save stopped");
            }
        });
        Box::new(reader)
    }

    /// `docker load`.
    pub async fn load(&self, body: ByteStream) -> Result<Vec<LoadedImage>, EngineError> {
        let store = self.store.clone();
        let staging = self.staging.clone();
        let mut reader = crate::blocking_io::batched_reader(body);
        let loaded = tokio::task::spawn_blocking(move || {
            let result = store.load(&mut reader, &staging);
            // Drain what the client still sends so it sees our answer, not a reset.
            if result.is_ok() {
                let _ = std::io::copy(&mut reader, &mut std::io::sink());
            }
            result
        })
        .await??;
        for l in &loaded {
            for (r, _) in &l.references {
                self.publish("tag", &l.image.id, r.to_string());
            }
            self.publish("load", &l.image.id, l.image.id.to_string());
        }
        Ok(loaded)
    }
}

/// Docker's architecture names.
pub fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "arm" => "arm",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globbing() {
        assert!(glob("busy*", "busybox"));
        assert!(glob("*box", "busybox"));
        assert!(glob("b*s*x", "busybox"));
        assert!(!glob("busy", "busybox"));
        assert!(glob("*", ""));
    }
}
