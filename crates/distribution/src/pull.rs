//! Pulling an image: the manifest (the host's platform chosen from an index), the config,
//! then the layers the store lacks, downloaded three at a time as Docker does, each verified
//! while it streams to disk, and unpacked in order. What happens is told as [`PullEvent`]s,
//! which the API renders as Docker's progress stream.

use std::io::{Read, Write};
use std::sync::Arc;

use berth_image::{
    chain_id, Digest, HeldBlob, Image, ImageConfig, ImageStore, LayerBlob, PendingLayers, Reference,
};
use http_body_util::BodyExt;
use tokio::sync::{mpsc, Semaphore};

use crate::auth::Credentials;
use crate::client::RegistryClient;
use crate::endpoint::Endpoint;
use crate::error::DistributionError;
use crate::manifest::{choose, Manifest, Platform};

/// Layers downloaded at once (Docker's `max-concurrent-downloads` default).
const CONCURRENT_DOWNLOADS: usize = 3;
/// The largest image config read.
const CONFIG_LIMIT: usize = 8 << 20;

/// What a pull does, step by step, in the order Docker reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PullEvent {
    /// The manifest was found: `Pulling from <path>`, named by the tag or digest.
    PullingFrom { path: String, id: String },
    /// A step of the layer whose short ID is `id`.
    Layer { id: String, step: LayerStep },
    /// The digest the reference resolved to (the index's for a multi-platform image).
    Digest(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LayerStep {
    AlreadyExists,
    PullingFsLayer,
    Waiting,
    /// A download's progress: every 32 KiB, and at its end.
    Downloading {
        current: u64,
        total: u64,
    },
    /// A download resumed after a failure, in `seconds`.
    Retrying {
        seconds: u64,
    },
    VerifyingChecksum,
    DownloadComplete,
    /// The compressed bytes unpacked so far.
    Extracting {
        current: u64,
        total: u64,
    },
    PullComplete,
}

pub struct PullRequest {
    pub reference: Reference,
    pub credentials: Option<Credentials>,
    pub platform: Platform,
    pub options: crate::RegistryOptions,
}

#[derive(Debug)]
pub struct Pulled {
    pub image: Arc<Image>,
    /// The manifest digest the reference resolved to.
    pub digest: String,
    /// Whether the reference now names a different image than before the pull.
    pub updated: bool,
}

/// A layer's ID in the progress: the short hex of its blob digest.
fn short(digest: &str) -> String {
    let hex = digest.split_once(':').map_or(digest, |(_, h)| h);
    hex.chars().take(12).collect()
}

fn store_err(e: berth_image::ImageError) -> DistributionError {
    DistributionError::Invalid(e.to_string())
}

pub async fn pull(
    store: Arc<ImageStore>,
    transfers: Arc<crate::Transfers>,
    req: PullRequest,
    events: mpsc::UnboundedSender<PullEvent>,
) -> Result<Pulled, DistributionError> {
    let tell = |e: PullEvent| {
        let _ = events.send(e);
    };
    let reference = req.reference;
    let name = reference.to_string();
    let wanted = reference
        .digest()
        .or(reference.tag())
        .unwrap_or("latest")
        .to_string();
    // The first endpoint that has the manifest serves the whole pull; a mirror that fails in
    // any way is passed over, as Docker passes over it.
    let mut candidates = Endpoint::candidates(reference.repo(), &req.options.mirrors).into_iter();
    let (endpoint, client, top) = loop {
        let endpoint = candidates.next().expect("at least the registry itself");
        let client = Arc::new(
            RegistryClient::new(
                endpoint.clone(),
                req.credentials.clone(),
                false,
                req.options.clone(),
            )
            .await,
        );
        match client.manifest(&wanted, &name).await {
            Ok(top) => break (endpoint, client, top),
            Err(e) if candidates.len() > 0 => {
                tracing::info!(mirror = %endpoint.base, error = %e, "mirror passed over");
            }
            Err(e) => return Err(e),
        }
    };
    tell(PullEvent::PullingFrom {
        path: endpoint.path.clone(),
        id: wanted.clone(),
    });
    let mut platform_manifest = None;
    let (config, layers) = match Manifest::parse(&top.media_type, &top.body, &name)? {
        Manifest::Image { config, layers } => (config, layers),
        Manifest::Index { manifests } => {
            let one = choose(&manifests, &req.platform).ok_or_else(|| {
                let p = &req.platform;
                DistributionError::NoMatchingPlatform(match &p.variant {
                    Some(v) => format!("{}/{}/{v}", p.os, p.architecture),
                    None => format!("{}/{}", p.os, p.architecture),
                })
            })?;
            let fetched = client.manifest(&one.digest, &name).await?;
            let parsed = Manifest::parse(&fetched.media_type, &fetched.body, &name)?;
            platform_manifest = Some(fetched);
            match parsed {
                Manifest::Image { config, layers } => (config, layers),
                Manifest::Index { .. } => {
                    return Err(DistributionError::Unsupported(format!(
                        "{name}: an index inside an index is not supported"
                    )))
                }
            }
        }
    };
    // An image already here has its config here: only the manifest is asked for.
    let present = Digest::parse(&config.digest).and_then(|d| store.get(&d));
    // A new image: its manifest is stored while the config comes, not after it.
    let early_manifest = (present.is_none() && store.manifest(&Digest::of(&top.body)).is_none())
        .then(|| {
            let (store, body) = (store.clone(), top.body.clone());
            tokio::task::spawn_blocking(move || {
                let mut writer = store.blob_writer().ok()?;
                writer.write_all(&body).ok()?;
                store.commit_blob(writer, &Digest::of(&body)).ok()
            })
        });
    let config_bytes = match present {
        Some(image) => store.config_bytes(&image.id).map_err(store_err)?,
        None => fetch_small(&client, &config.digest, CONFIG_LIMIT).await?,
    };
    // Held (kept from sweeps) until the image's manifests are recorded.
    let early_manifest = match early_manifest {
        Some(written) => written.await.ok().flatten(),
        None => None,
    };
    let image_config = ImageConfig::parse(&config_bytes).map_err(store_err)?;
    let diff_ids = image_config.rootfs.diff_ids.clone();
    if diff_ids.len() != layers.len() {
        return Err(DistributionError::Invalid(format!(
            "{name}: the manifest has {} layers and the config {}",
            layers.len(),
            diff_ids.len()
        )));
    }
    let before = store.resolve(&reference.canonical()).ok().map(|i| i.id);
    let mut session = store.session();
    // Which layers the store has: a layer counts only with all those below it (its chain).
    let mut chains = Vec::new();
    let mut missing = Vec::new();
    let mut found_here = Vec::new();
    for (i, layer) in layers.iter().enumerate() {
        let chain = chain_id(chains.last(), &diff_ids[i]);
        chains.push(chain);
        let step = if missing.is_empty() && session.hold_existing(&chain).is_some() {
            // Where the registry has it is worth knowing: a push there need send nothing.
            found_here.push(LayerBlob {
                digest: Digest::parse(&layer.digest).ok_or_else(|| {
                    DistributionError::Invalid(format!("invalid digest {}", layer.digest))
                })?,
                diff_id: diff_ids[i],
                media_type: layer.media_type.clone(),
                size: layer.size,
                repositories: [endpoint.repository()].into(),
            });
            LayerStep::AlreadyExists
        } else {
            missing.push(i);
            LayerStep::PullingFsLayer
        };
        tell(PullEvent::Layer {
            id: short(&layer.digest),
            step,
        });
    }
    // Downloads run ahead (shared with other pulls of the same blobs); unpacking follows
    // in order.
    let slots = Arc::new(Semaphore::new(CONCURRENT_DOWNLOADS));
    let mut downloads = Vec::new();
    for &i in &missing {
        let (client, store, slots, events) =
            (client.clone(), store.clone(), slots.clone(), events.clone());
        let layer = layers[i].clone();
        let (mut transfer, _) = transfers.join(&layers[i].digest, move |steps| {
            // A slot is taken here, in the manifest's order, so that the layers told to
            // wait are the later ones, as Docker's.
            let slot = slots.clone().try_acquire_owned().ok();
            if slot.is_none() {
                let _ = steps.send(LayerStep::Waiting);
            }
            Box::pin(async move {
                let report = |step| {
                    let _ = steps.send(step);
                };
                let _slot = match slot {
                    Some(slot) => slot,
                    None => slots.acquire_owned().await.expect("never closed"),
                };
                download(&client, &store, &layer.digest, layer.size, &report).await
            })
        });
        let id = short(&layers[i].digest);
        downloads.push(tokio::spawn(async move {
            let tell = |step| {
                let _ = events.send(PullEvent::Layer {
                    id: id.clone(),
                    step,
                });
            };
            // This pull's view of the download, whoever started it.
            let mut following = true;
            let outcome = loop {
                tokio::select! {
                    biased;
                    step = transfer.steps.recv(), if following => match step {
                        Ok(step) => tell(step),
                        // Fallen behind: the steps missed were counts, soon bettered.
                        Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                        Err(tokio::sync::broadcast::error::RecvError::Closed) => following = false,
                    },
                    outcome = &mut transfer.done => break outcome,
                }
            };
            // Steps told just before the end.
            while let Ok(step) = transfer.steps.try_recv() {
                tell(step);
            }
            let blob = outcome.map_err(DistributionError::Shared)?;
            tell(LayerStep::DownloadComplete);
            Ok::<Arc<HeldBlob>, DistributionError>(blob)
        }));
    }
    // Dropped on an error: the downloads still running stop with it.
    struct AbortOnDrop(Vec<tokio::task::JoinHandle<Result<Arc<HeldBlob>, DistributionError>>>);
    impl Drop for AbortOnDrop {
        fn drop(&mut self) {
            for d in &self.0 {
                d.abort();
            }
        }
    }
    let mut downloads = AbortOnDrop(downloads);
    for (n, &i) in missing.iter().enumerate() {
        let handle = &mut downloads.0[n];
        let blob = handle
            .await
            .map_err(|e| DistributionError::Invalid(format!("download stopped: {e}")))??;
        let id = short(&layers[i].digest);
        let parent = i.checked_sub(1).map(|p| chains[p]);
        let expected = diff_ids[i];
        let events = events.clone();
        let kept = LayerBlob {
            digest: blob.digest,
            diff_id: expected,
            media_type: layers[i].media_type.clone(),
            size: blob.size,
            repositories: [endpoint.repository()].into(),
        };
        let store = store.clone();
        session = tokio::task::spawn_blocking(move || {
            session.hold_blob(&blob);
            unpack(&store, &mut session, &blob, parent, expected, &id, &events)?;
            // The compressed blob stays, noted as the layer's: what a push sends back.
            store.record_layer_blobs([kept]);
            Ok::<_, DistributionError>(session)
        })
        .await
        .map_err(|e| DistributionError::Invalid(format!("unpacking stopped: {e}")))??;
        tell(PullEvent::Layer {
            id: short(&layers[i].digest),
            step: LayerStep::PullComplete,
        });
    }
    // The digest the reference resolved to is recorded too (`RepoDigests`), as Docker does.
    let by_digest =
        Reference::parse(&format!("{}@{}", reference.repo(), top.digest)).map_err(store_err)?;
    let platform_manifest = platform_manifest.map(|m| (m.body, m.media_type));
    let top_manifest = (top.body.clone(), top.media_type.clone());
    let store_here = store.clone();
    let (image, session) = tokio::task::spawn_blocking(move || {
        let image = session.register(&config_bytes).map_err(store_err)?;
        store_here.record_layer_blobs(found_here);
        // The manifests as the registry sent them stay with the image.
        let kept: Vec<(&[u8], &str)> = std::iter::once(&top_manifest)
            .chain(platform_manifest.as_ref())
            .map(|(body, media_type)| (&body[..], media_type.as_str()))
            .collect();
        store_here
            .keep_manifests(&kept, &image.id)
            .map_err(store_err)?;
        drop(early_manifest);
        let mut names = vec![reference.clone()];
        if by_digest != reference {
            names.push(by_digest);
        }
        session.tag_all(&image.id, &names).map_err(store_err)?;
        Ok::<_, DistributionError>((image, session))
    })
    .await
    .map_err(|e| DistributionError::Invalid(format!("registering stopped: {e}")))??;
    drop(session);
    tell(PullEvent::Digest(top.digest.clone()));
    Ok(Pulled {
        updated: before != Some(image.id),
        image,
        digest: top.digest,
    })
}

/// A small blob (a config) read whole and verified (Docker's message when it is not its
/// digest).
async fn fetch_small(
    client: &RegistryClient,
    digest: &str,
    limit: usize,
) -> Result<Vec<u8>, DistributionError> {
    let resp = client.blob_response(digest).await?;
    let bytes = client
        .read_small(resp, limit, format!("read blob {digest}"))
        .await?;
    if Digest::of(&bytes).to_string() != digest {
        return Err(DistributionError::Invalid(format!(
            "image config verification failed for digest {digest}"
        )));
    }
    Ok(bytes.to_vec())
}

/// Downloads blob `digest` into the store's ingest area, verified; a broken or stalled
/// download is resumed (`Range`), up to the options' attempts in all, after 5, 10, 15…
/// seconds as Docker waits.
async fn download(
    client: &RegistryClient,
    store: &Arc<ImageStore>,
    digest: &str,
    size: u64,
    tell: &(dyn Fn(LayerStep) + Sync),
) -> Result<HeldBlob, DistributionError> {
    let expected = Digest::parse(digest)
        .ok_or_else(|| DistributionError::Invalid(format!("invalid digest {digest}")))?;
    let writer = store.blob_writer().map_err(store_err)?;
    // The file is written on a blocking thread; the pieces come to it through a channel.
    let (pieces, mut arriving) = mpsc::channel::<bytes::Bytes>(16);
    let written = tokio::task::spawn_blocking(move || {
        let mut writer = writer;
        while let Some(piece) = arriving.blocking_recv() {
            writer
                .write_all(&piece)
                .map_err(|e| DistributionError::transport("write the layer", e))?;
        }
        Ok::<_, DistributionError>(writer)
    });
    let mut current = 0u64;
    let mut told = 0u64;
    let mut attempt = 1;
    let fetched: Result<(), DistributionError> = loop {
        let result = async {
            let (_, mut body) = client.blob(digest, current).await?;
            let stall = client.options.stall_timeout;
            loop {
                let frame = match tokio::time::timeout(stall, body.frame()).await {
                    Ok(Some(frame)) => frame,
                    Ok(None) => break,
                    Err(_) => {
                        return Err(DistributionError::transport(
                            format!("read blob {digest}"),
                            format!("no data within {}s", stall.as_secs()),
                        ))
                    }
                };
                let frame = frame
                    .map_err(|e| DistributionError::transport(format!("read blob {digest}"), e))?;
                if let Ok(data) = frame.into_data() {
                    current += data.len() as u64;
                    if current > size {
                        return Err(DistributionError::Invalid(format!(
                            "blob {digest} is larger than the {size} bytes its manifest says"
                        )));
                    }
                    if pieces.send(data).await.is_err() {
                        return Err(DistributionError::Invalid(
                            "the layer writer stopped".into(),
                        ));
                    }
                    // Every 32 KiB and the last: enough for Docker's own rule downstream.
                    if current - told >= 32 * 1024 || current == size {
                        told = current;
                        tell(LayerStep::Downloading {
                            current,
                            total: size,
                        });
                    }
                }
            }
            Ok(())
        }
        .await;
        match result {
            Ok(()) if current == size => break Ok(()),
            Ok(()) => {
                if attempt >= client.options.download_attempts {
                    break Err(DistributionError::Invalid(format!(
                        "blob {digest} ended after {current} of {size} bytes"
                    )));
                }
            }
            Err(e @ DistributionError::Transport { .. })
                if attempt < client.options.download_attempts =>
            {
                tracing::debug!(error = %e, attempt, "layer download broke; resuming");
            }
            Err(e) => break Err(e),
        }
        let wait = 5 * attempt as u64;
        tell(LayerStep::Retrying { seconds: wait });
        tokio::time::sleep(std::time::Duration::from_secs(wait)).await;
        attempt += 1;
    };
    drop(pieces);
    let writer = written
        .await
        .map_err(|e| DistributionError::Invalid(format!("the layer writer stopped: {e}")))??;
    fetched?;
    tell(LayerStep::VerifyingChecksum);
    let store = store.clone();
    tokio::task::spawn_blocking(move || store.commit_blob(writer, &expected))
        .await
        .map_err(|e| DistributionError::Invalid(format!("verifying stopped: {e}")))?
        .map_err(|e| {
            tracing::debug!(error = %e, "a layer's digest did not match");
            DistributionError::Invalid(format!(
                "filesystem layer verification failed for digest {digest}"
            ))
        })
}

/// Unpacks a downloaded layer on `parent`, telling the compressed bytes read as it goes.
fn unpack(
    store: &ImageStore,
    session: &mut PendingLayers<Arc<ImageStore>>,
    blob: &HeldBlob,
    parent: Option<Digest>,
    expected: Digest,
    id: &str,
    events: &mpsc::UnboundedSender<PullEvent>,
) -> Result<(), DistributionError> {
    struct Counted<'a> {
        inner: std::fs::File,
        read: u64,
        total: u64,
        id: &'a str,
        events: &'a mpsc::UnboundedSender<PullEvent>,
    }
    impl Read for Counted<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = self.inner.read(buf)?;
            self.read += n as u64;
            let _ = self.events.send(PullEvent::Layer {
                id: self.id.to_string(),
                step: LayerStep::Extracting {
                    current: self.read,
                    total: self.total,
                },
            });
            Ok(n)
        }
    }
    let file = store.open_blob(&blob.digest).map_err(store_err)?;
    let counted = Counted {
        inner: file,
        read: 0,
        total: blob.size,
        id,
        events,
    };
    let (_, mut tar) = berth_archive::decompress(counted)
        .map_err(|e| DistributionError::Invalid(format!("layer {id}: {e}")))?;
    session
        .unpack_layer(parent.as_ref(), &mut tar, &expected)
        .map_err(store_err)?;
    Ok(())
}

/// What a registry holds for a name, without pulling it (`docker manifest`-like, for
/// `GET /distribution/{name}/json`): the manifest's descriptor, and the platforms it serves
/// (an index's entries, or the one its image's config names).
pub async fn inspect(
    reference: &Reference,
    credentials: Option<Credentials>,
    options: crate::RegistryOptions,
) -> Result<(crate::Descriptor, Vec<Platform>), DistributionError> {
    let name = reference.to_string();
    let client =
        RegistryClient::new(Endpoint::of(reference.repo()), credentials, false, options).await;
    let wanted = reference.digest().or(reference.tag()).unwrap_or("latest");
    let top = client.manifest(wanted, &name).await?;
    let parsed = Manifest::parse(&top.media_type, &top.body, &name)?;
    let media_type = match top.media_type.split(';').next().unwrap_or("").trim() {
        t if !t.is_empty() && t != "application/json" => t.to_string(),
        _ => match &parsed {
            Manifest::Image { .. } => crate::manifest::OCI_MANIFEST.to_string(),
            Manifest::Index { .. } => crate::manifest::OCI_INDEX.to_string(),
        },
    };
    let platforms = match parsed {
        Manifest::Index { manifests } => manifests.into_iter().filter_map(|m| m.platform).collect(),
        Manifest::Image { config, .. } => {
            let bytes = fetch_small(&client, &config.digest, CONFIG_LIMIT).await?;
            #[derive(serde::Deserialize)]
            struct Config {
                #[serde(default)]
                architecture: String,
                #[serde(default)]
                os: String,
                #[serde(default)]
                variant: Option<String>,
            }
            let c: Config = serde_json::from_slice(&bytes)
                .map_err(|e| DistributionError::Invalid(format!("invalid image config: {e}")))?;
            vec![Platform {
                architecture: c.architecture,
                os: c.os,
                variant: c.variant.filter(|v| !v.is_empty()),
            }]
        }
    };
    let descriptor = crate::Descriptor {
        media_type,
        digest: top.digest,
        size: top.body.len() as u64,
        platform: None,
    };
    Ok((descriptor, platforms))
}
