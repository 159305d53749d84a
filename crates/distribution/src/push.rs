//! Pushing an image: each layer's compressed blob (the one pulled, or one compressed once
//! and kept, so that pushes of the same image give the same digests) checked for on the
//! registry first, mounted from another repository of the same registry when one is known
//! to hold it, else uploaded with its progress, five at a time as Docker uploads; then the
//! config and a schema2 manifest. What happens is told as [`PushEvent`]s, which the API
//! renders as Docker's progress stream.

use std::sync::Arc;

use berth_image::{Digest, Image, ImageStore, LayerBlob, LayerInfo, Reference};
use bytes::Bytes;
use futures_util::StreamExt;
use http_body_util::BodyExt;
use tokio::sync::{mpsc, Semaphore};

use crate::auth::Credentials;
use crate::client::{RegistryClient, RequestBody};
use crate::endpoint::Endpoint;
use crate::error::DistributionError;

/// Layers uploaded at once (Docker's `max-concurrent-uploads` default).
const CONCURRENT_UPLOADS: usize = 5;
/// The media types of what a push sends (Docker schema2).
const LAYER_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";
const CONFIG: &str = "application/vnd.docker.container.image.v1+json";

/// What a push does, step by step, in the order Docker reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PushEvent {
    /// A step of the layer whose short diff ID is `id`.
    Layer { id: String, step: PushStep },
    /// A tag pushed: its manifest's digest and size.
    Pushed {
        tag: String,
        digest: String,
        size: u64,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PushStep {
    Preparing,
    Waiting,
    AlreadyExists,
    /// Mounted from another repository (its path on the registry).
    MountedFrom(String),
    /// Bytes of the compressed blob sent so far.
    Pushing {
        current: u64,
        total: u64,
    },
    Pushed,
}

pub struct PushRequest {
    /// The repository pushed to, with the tag pushed.
    pub reference: Reference,
    pub image: Arc<Image>,
    pub credentials: Option<Credentials>,
    pub options: crate::RegistryOptions,
}

fn store_err(e: berth_image::ImageError) -> DistributionError {
    DistributionError::Invalid(e.to_string())
}

/// A layer's ID in the progress: the short hex of its diff ID, as Docker shows a push.
fn short(d: &Digest) -> String {
    d.hex()[..12].to_string()
}

/// Pushes `req.image` as `req.reference`'s tag; returns the manifest's digest, which the
/// image is then also named by (`RepoDigests`).
pub async fn push(
    store: Arc<ImageStore>,
    req: PushRequest,
    events: mpsc::UnboundedSender<PushEvent>,
) -> Result<String, DistributionError> {
    let endpoint = Endpoint::of(req.reference.repo());
    let repository = endpoint.repository();
    let tag = req.reference.tag().unwrap_or("latest").to_string();
    // The other repositories of this registry known to hold the image's blobs: mount
    // sources, whose `pull` scope the token must carry too.
    let known: Vec<Vec<LayerBlob>> = req
        .image
        .layers
        .iter()
        .map(|l| store.layer_blobs(&l.diff_id))
        .collect();
    let same_registry = format!("{}/", endpoint.domain);
    let mut sources: Vec<String> = known
        .iter()
        .flatten()
        .flat_map(|b| b.repositories.iter())
        .filter_map(|r| r.strip_prefix(&same_registry))
        .filter(|p| *p != endpoint.path)
        .map(str::to_string)
        .collect();
    sources.sort();
    sources.dedup();
    let client = Arc::new(
        RegistryClient::new(endpoint.clone(), req.credentials, true, req.options)
            .await
            .with_pull_scopes(sources),
    );
    for layer in req.image.layers.iter().rev() {
        let _ = events.send(PushEvent::Layer {
            id: short(&layer.diff_id),
            step: PushStep::Preparing,
        });
    }
    // Pushed to (or pulled from) this repository before, byte for byte: the manifest is put
    // again at once. The registry checks that every blob it names is there (a blob gone is
    // `MANIFEST_BLOB_UNKNOWN`, and the layers then go the long way), so the answer is what
    // a HEAD of each would have said, in one request instead of one per blob.
    if let Some((manifest, media_type)) = earlier_manifest(&store, &req.image, &req.reference) {
        match client
            .put_manifest(&tag, &media_type, manifest.clone())
            .await
        {
            Ok(digest) => {
                for layer in req.image.layers.iter().rev() {
                    let _ = events.send(PushEvent::Layer {
                        id: short(&layer.diff_id),
                        step: PushStep::AlreadyExists,
                    });
                }
                let pushed = PushedTag {
                    reference: req.reference,
                    image: req.image.id,
                    tag,
                    digest,
                    manifest,
                    media_type,
                };
                return finish(store, pushed, &events).await;
            }
            Err(e) => tracing::debug!(error = %e, "the earlier manifest was refused; pushing"),
        }
    }
    let slots = Arc::new(Semaphore::new(CONCURRENT_UPLOADS));
    let mut uploads = Vec::new();
    for (layer, known) in req.image.layers.iter().zip(known).rev() {
        let (client, store, slots, events) =
            (client.clone(), store.clone(), slots.clone(), events.clone());
        let (layer, repository, same_registry) =
            (layer.clone(), repository.clone(), same_registry.clone());
        // Slots taken in the push's order: the layers that wait are the later ones.
        let slot = slots.clone().try_acquire_owned().ok();
        uploads.push(tokio::spawn(async move {
            let id = short(&layer.diff_id);
            let tell = |step| {
                let _ = events.send(PushEvent::Layer {
                    id: id.clone(),
                    step,
                });
            };
            let _slot = match slot {
                Some(slot) => slot,
                None => {
                    tell(PushStep::Waiting);
                    slots.acquire_owned().await.expect("never closed")
                }
            };
            let place = Place {
                client: &client,
                store: &store,
                repository: &repository,
                same_registry: &same_registry,
            };
            place.layer(&layer, known, &tell).await
        }));
    }
    // Dropped on an error: the uploads still running stop with it.
    struct AbortOnDrop(Vec<tokio::task::JoinHandle<Result<LayerBlob, DistributionError>>>);
    impl Drop for AbortOnDrop {
        fn drop(&mut self) {
            for u in &self.0 {
                u.abort();
            }
        }
    }
    let mut uploads = AbortOnDrop(uploads);
    let mut blobs = Vec::new();
    for handle in uploads.0.iter_mut() {
        blobs.push(
            handle
                .await
                .map_err(|e| DistributionError::Invalid(format!("upload stopped: {e}")))??,
        );
    }
    // Uploads were started top first; the manifest lists them bottom first.
    blobs.reverse();
    let config = store.config_bytes(&req.image.id).map_err(store_err)?;
    let config_digest = req.image.id.to_string();
    if !client.blob_exists(&config_digest).await? {
        let location = client.start_upload(None).await?;
        let location = location.expect("no mount asked");
        let body = http_body_util::Full::new(Bytes::from(config.clone()))
            .map_err(|never| match never {})
            .boxed();
        client
            .finish_upload(&location, body, &config_digest)
            .await?;
    }
    let manifest = schema2(&config_digest, config.len() as u64, &blobs);
    let media_type = crate::manifest::DOCKER_MANIFEST;
    let digest = client
        .put_manifest(&tag, media_type, manifest.clone())
        .await?;
    let pushed = PushedTag {
        reference: req.reference,
        image: req.image.id,
        tag,
        digest,
        manifest,
        media_type: media_type.to_string(),
    };
    finish(store, pushed, &events).await
}

/// The manifest of `image` this repository was last given or gave (the image is named
/// `<repo>@<digest>` for it): a single image's, which a push may put again as it is.
fn earlier_manifest(
    store: &ImageStore,
    image: &Image,
    reference: &Reference,
) -> Option<(Bytes, String)> {
    store
        .references(&image.id)
        .iter()
        .filter(|r| r.repo() == reference.repo())
        .filter_map(|r| Digest::parse(r.digest()?))
        .filter_map(|d| store.manifest(&d))
        .find(|(_, media_type)| {
            media_type == crate::manifest::DOCKER_MANIFEST
                || media_type == crate::manifest::OCI_MANIFEST
        })
        .map(|(bytes, media_type)| (Bytes::from(bytes), media_type))
}

/// A tag the registry took: its manifest, as put, and what it names.
struct PushedTag {
    reference: Reference,
    image: Digest,
    tag: String,
    digest: String,
    manifest: Bytes,
    media_type: String,
}

/// A tag pushed: told, its manifest kept and the image named by its digest (`RepoDigests`).
async fn finish(
    store: Arc<ImageStore>,
    pushed: PushedTag,
    events: &mpsc::UnboundedSender<PushEvent>,
) -> Result<String, DistributionError> {
    let _ = events.send(PushEvent::Pushed {
        tag: pushed.tag,
        digest: pushed.digest.clone(),
        size: pushed.manifest.len() as u64,
    });
    let by_digest = Reference::parse(&format!("{}@{}", pushed.reference.repo(), pushed.digest))
        .map_err(store_err)?;
    let (manifest, media_type, image) = (pushed.manifest, pushed.media_type, pushed.image);
    tokio::task::spawn_blocking(move || {
        store.keep_manifests(&[(&manifest[..], &media_type)], &image)?;
        store.tag_all(&image, &[by_digest])
    })
    .await
    .map_err(|e| DistributionError::Invalid(format!("recording the push stopped: {e}")))?
    .map_err(store_err)?;
    Ok(pushed.digest)
}

/// Where one layer goes, and what is known to find it there.
struct Place<'a> {
    client: &'a RegistryClient,
    store: &'a Arc<ImageStore>,
    /// The repository pushed to (`127.0.0.1:5000/app`).
    repository: &'a str,
    /// Its registry's prefix (`127.0.0.1:5000/`).
    same_registry: &'a str,
}

impl Place<'_> {
    /// Gets `layer` onto the registry: there already, mounted, or uploaded. Returns the blob
    /// the manifest names.
    async fn layer(
        &self,
        layer: &LayerInfo,
        known: Vec<LayerBlob>,
        tell: &(dyn Fn(PushStep) + Sync),
    ) -> Result<LayerBlob, DistributionError> {
        // Blobs this repository is known to hold are asked about first (HEAD), then any other
        // the store has: a registry that has one needs nothing sent.
        let mut asked = known.clone();
        asked.sort_by_key(|b| !b.repositories.contains(self.repository));
        for blob in &asked {
            if self.client.blob_exists(&blob.digest.to_string()).await? {
                self.note(blob);
                tell(PushStep::AlreadyExists);
                return Ok(blob.clone());
            }
        }
        let mut upload_at = None;
        for blob in &known {
            let Some(from) = blob
                .repositories
                .iter()
                .filter_map(|r| r.strip_prefix(self.same_registry))
                .find(|p| format!("{}{p}", self.same_registry) != self.repository)
            else {
                continue;
            };
            match self
                .client
                .start_upload(Some((&blob.digest.to_string(), from)))
                .await
            {
                Ok(None) => {
                    self.note(blob);
                    tell(PushStep::MountedFrom(from.to_string()));
                    return Ok(blob.clone());
                }
                // Not mounted: the registry opened an upload instead, used below.
                Ok(Some(location)) => {
                    upload_at = Some(location);
                    break;
                }
                Err(e) => tracing::debug!(error = %e, "mounting a blob failed; uploading it"),
            }
        }
        let blob = match known.into_iter().find(|b| self.store.has_blob(&b.digest)) {
            Some(blob) => blob,
            None => {
                let (store, layer) = (self.store.clone(), layer.clone());
                tokio::task::spawn_blocking(move || store.compress_layer(&layer, LAYER_GZIP))
                    .await
                    .map_err(|e| DistributionError::Invalid(format!("compressing stopped: {e}")))?
                    .map_err(store_err)?
            }
        };
        let location = match upload_at {
            Some(l) => l,
            None => self
                .client
                .start_upload(None)
                .await?
                .expect("no mount asked"),
        };
        let file = self.store.open_blob(&blob.digest).map_err(store_err)?;
        let (sent, mut counts) = mpsc::unbounded_channel();
        let body = counted_body(file, blob.size, sent);
        let digest = blob.digest.to_string();
        let upload = self.client.finish_upload(&location, body, &digest);
        tokio::pin!(upload);
        let total = blob.size;
        let uploaded = loop {
            tokio::select! {
                biased;
                Some(current) = counts.recv() => tell(PushStep::Pushing { current, total }),
                r = &mut upload => break r,
            }
        };
        while let Ok(current) = counts.try_recv() {
            tell(PushStep::Pushing { current, total });
        }
        uploaded?;
        self.note(&blob);
        tell(PushStep::Pushed);
        Ok(blob)
    }

    /// Notes that this repository holds `blob` now.
    fn note(&self, blob: &LayerBlob) {
        let mut noted = blob.clone();
        noted.repositories = [self.repository.to_string()].into();
        self.store.record_layer_blobs([noted]);
    }
}

/// A file streamed as a request body, the bytes sent told on `sent` (every 512 KiB and the
/// last; the API thins them further by Docker's rule).
fn counted_body(file: std::fs::File, total: u64, sent: mpsc::UnboundedSender<u64>) -> RequestBody {
    let stream =
        tokio_util::io::ReaderStream::with_capacity(tokio::fs::File::from_std(file), 256 << 10);
    let (mut count, mut told) = (0u64, 0u64);
    let counted = stream.map(move |piece| {
        let piece = piece?;
        count += piece.len() as u64;
        if count - told >= 512 << 10 || count == total {
            told = count;
            let _ = sent.send(count);
        }
        Ok(hyper::body::Frame::data(piece))
    });
    BodyExt::boxed(http_body_util::StreamBody::new(counted))
}

/// Docker's schema2 manifest, byte for byte as dockerd writes it (three-space indent).
fn schema2(config_digest: &str, config_size: u64, layers: &[LayerBlob]) -> Bytes {
    #[derive(serde::Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Manifest<'a> {
        schema_version: u32,
        media_type: &'a str,
        config: Entry<'a>,
        layers: Vec<Entry<'a>>,
    }
    #[derive(serde::Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Entry<'a> {
        media_type: &'a str,
        size: u64,
        digest: String,
    }
    let m = Manifest {
        schema_version: 2,
        media_type: crate::manifest::DOCKER_MANIFEST,
        config: Entry {
            media_type: CONFIG,
            size: config_size,
            digest: config_digest.to_string(),
        },
        layers: layers
            .iter()
            .map(|b| Entry {
                media_type: if b.media_type.is_empty() {
                    LAYER_GZIP
                } else {
                    &b.media_type
                },
                size: b.size,
                digest: b.digest.to_string(),
            })
            .collect(),
    };
    let mut out = Vec::new();
    let formatter = serde_json::ser::PrettyFormatter::with_indent(b"   ");
    let mut ser = serde_json::Serializer::with_formatter(&mut out, formatter);
    serde::Serialize::serialize(&m, &mut ser).expect("manifest serialises");
    Bytes::from(out)
}
