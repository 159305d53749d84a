//! The image store: images, their layers and the references that name them.
//!
//! One file on purpose (about 600 lines): every operation here changes the images, layers
//! and references under the same lock and persists them together, and keeping them side by
//! side keeps that invariant visible.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use serde::{Deserialize, Serialize};

use crate::config::{HistoryEntry, ImageConfig, RootFs};
use crate::content::ContentStore;
use crate::digest::Digest;
use crate::error::ImageError;
use crate::fsutil;
use crate::layers::{LayerInfo, LayerStore};
use crate::reference::Reference;
use crate::registry_blobs::{LayerBlob, ManifestRecord, RegistryBlobs};

/// A stored image.
#[derive(Debug, Clone)]
pub struct Image {
    /// The digest of the config: the image ID.
    pub id: Digest,
    pub config: ImageConfig,
    /// Layers bottom first.
    pub layers: Vec<LayerInfo>,
    /// Parent image, for images made from another on this host.
    pub parent: Option<Digest>,
    /// Made on this host by a commit (a build's steps are commits): what the build cache may
    /// reuse. Imported, loaded and pulled images are not, whatever their history says.
    pub built_here: bool,
}

impl Image {
    /// Total bytes of all layers.
    pub fn size(&self) -> u64 {
        self.layers.iter().map(|l| l.size).sum()
    }

    pub fn top_layer(&self) -> Option<&LayerInfo> {
        self.layers.last()
    }
}

/// The record written per image. Everything else about an image is in its config blob.
#[derive(Debug, Default, Serialize, Deserialize)]
struct ImageRecord {
    schema: u32,
    #[serde(default)]
    parent: Option<Digest>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    built_here: bool,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct RefsFile {
    /// Canonical reference → image ID.
    refs: BTreeMap<String, Digest>,
    /// Image ID → when a name was last given to it (RFC 3339; inspect's `LastTagTime`).
    #[serde(default)]
    tagged: BTreeMap<Digest, String>,
}

#[derive(Default)]
struct State {
    images: HashMap<Digest, Arc<Image>>,
    refs: BTreeMap<String, (Reference, Digest)>,
    tagged: BTreeMap<Digest, String>,
    /// Layers created by operations still running, not yet owned by an image.
    pending_layers: HashMap<Digest, usize>,
    /// Layers a pull had finished when the daemon went down, kept for the next pull to find
    /// (`pulls/kept.json`) until a pull uses them or `image prune` lets them go.
    kept: HashSet<Digest>,
}

/// Where pulls note the layers they have finished (`pulls/<n>.json`, removed when the pull
/// ends) and where those of interrupted pulls are kept (`pulls/kept.json`).
const PULLS: &str = "pulls";
const KEPT: &str = "kept.json";

/// Options of [`ImageStore::import`].
#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    pub reference: Option<Reference>,
    /// History comment, e.g. `Imported from -`.
    pub comment: String,
    /// Container config (`config` of the image JSON) to record; `None` for Docker's default.
    pub config: Option<serde_json::Value>,
    pub architecture: String,
    pub created: jiff::Timestamp,
    pub docker_version: String,
}

/// What [`ImageStore::commit`] records of the container a new image comes from.
#[derive(Debug, Clone, Default)]
pub struct CommitOptions {
    /// The new image's container config (`config`), Docker's JSON.
    pub config: Option<serde_json::Value>,
    /// The container's own config (`container_config`).
    pub container_config: Option<serde_json::Value>,
    pub container: String,
    pub author: String,
    pub comment: String,
    /// The history entry's `created_by`: the container's command.
    pub created_by: String,
    pub created: jiff::Timestamp,
    pub docker_version: String,
    /// The platform of an image made on no parent (`FROM scratch`).
    pub architecture: String,
}

/// The digest of an empty layer (a tar of two zero blocks): a commit that changed nothing
/// adds no layer, only a history entry marked empty, as Docker's does.
const EMPTY_LAYER: &str = "sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef";

/// What [`ImageStore::tag`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagOutcome {
    /// The image the reference pointed at before, when it moved.
    pub previous: Option<Digest>,
}

/// One step of an image removal, in the order Docker reports them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeleteEffect {
    Untagged { reference: Reference, image: Digest },
    DeletedImage(Digest),
    DeletedLayer(Digest),
}

/// Keeps `d` from the sweep for the operation whose holdings are `held`.
fn hold(held: &mut Vec<Digest>, st: &mut State, d: Digest) {
    *st.pending_layers.entry(d).or_default() += 1;
    held.push(d);
}

/// Lets go of one hold of `d`; whether it was the last.
fn release(st: &mut State, d: &Digest) -> bool {
    let Some(n) = st.pending_layers.get_mut(d) else {
        return false;
    };
    *n -= 1;
    if *n > 0 {
        return false;
    }
    st.pending_layers.remove(d);
    true
}

/// What a running operation has stored but no image owns yet (blobs, layers), protected from
/// the sweep until the operation ends; on drop, whatever no image took is removed. `S` is how
/// it holds the store: borrowed within one call, shared (`Arc`) by an operation that spans
/// tasks (a pull).
pub struct PendingLayers<S: std::ops::Deref<Target = ImageStore>> {
    store: S,
    layers: Vec<Digest>,
    /// A pull's note of the layers it has made (`pulls/<n>.json`), which a crash leaves for
    /// the next start to keep; removed when the pull ends.
    journal: Option<(PathBuf, Vec<Digest>)>,
    /// Whether the operation has stored anything, rather than only held what was there:
    /// only then (or when a sweep owes one) does its end sweep the store.
    stored: bool,
}

impl<S: std::ops::Deref<Target = ImageStore>> PendingLayers<S> {
    /// The layer `chain` if the store has it, held from now on, so that no removal takes it
    /// before the operation's image owns it.
    pub fn hold_existing(&mut self, chain: &Digest) -> Option<LayerInfo> {
        let mut st = self.store.state.write().expect("lock");
        let layer = self.store.layer_info(Some(&st), chain)?;
        hold(&mut self.layers, &mut st, *chain);
        hold(&mut self.layers, &mut st, layer.diff_id);
        Some(layer)
    }

    /// Registers the image whose config is `config_bytes` (its layers made or held by this
    /// operation) as one received from elsewhere.
    pub fn register(&mut self, config_bytes: &[u8]) -> Result<Arc<Image>, ImageError> {
        let registered = self.store.register(config_bytes);
        // A new image's config blob is stored before its record: one left by a failure goes.
        self.stored |= registered.is_err();
        registered
    }

    /// Points each of `references` at `id` (see [`ImageStore::tag_all`]).
    pub fn tag_all(&self, id: &Digest, references: &[Reference]) -> Result<(), ImageError> {
        self.store.tag_all(id, references)
    }

    /// Stores the uncompressed layer tar `tar` as a blob, then unpacks it on top of `parent`
    /// unless that layer exists already (content addressing makes a repeated layer free).
    pub fn create_layer(
        &mut self,
        parent: Option<&Digest>,
        tar: &mut dyn Read,
        expected: Option<&Digest>,
    ) -> Result<LayerInfo, ImageError> {
        self.stored = true;
        let mut blob = self.store.content.writer()?;
        std::io::copy(tar, &mut blob).map_err(ImageError::io("read layer"))?;
        let diff_id = {
            // Commit and hold under the lock, so a concurrent sweep never sees it unowned.
            let mut st = self.store.state.write().expect("lock");
            let d = blob.commit(expected)?;
            hold(&mut self.layers, &mut st, d);
            d
        };
        let (layer, _) = self
            .store
            .layers
            .create(&self.store.content, parent, &diff_id)?;
        self.made(&layer);
        Ok(layer)
    }

    /// Holds the layer just made and notes it in the pull's journal.
    fn made(&mut self, layer: &LayerInfo) {
        let mut st = self.store.state.write().expect("lock");
        hold(&mut self.layers, &mut st, layer.chain_id);
        drop(st);
        if let Some((path, made)) = &mut self.journal {
            made.push(layer.chain_id);
            let noted = fs::create_dir_all(path.parent().expect("in pulls/")).and_then(|_| {
                fsutil::write_atomic(path, &serde_json::to_vec(made).expect("digests serialise"))
            });
            if let Err(e) = noted {
                tracing::warn!(error = %e, "noting a pull's layers");
            }
        }
    }

    /// Holds `blob` (a download, perhaps shared with other pulls) for this operation too.
    pub fn hold_blob(&mut self, blob: &HeldBlob) {
        self.stored = true;
        let mut st = self.store.state.write().expect("lock");
        hold(&mut self.layers, &mut st, blob.digest);
    }

    /// Unpacks the uncompressed layer tar `tar` on top of `parent` as it streams, checked
    /// against `diff_id` when it ends. Unlike [`PendingLayers::create_layer`], no copy of
    /// the tar is kept: a pulled layer's compressed blob is (see [`ImageStore::open_layer_tar`]).
    pub fn unpack_layer(
        &mut self,
        parent: Option<&Digest>,
        tar: &mut dyn Read,
        diff_id: &Digest,
    ) -> Result<LayerInfo, ImageError> {
        self.stored = true;
        let (layer, _) = self.store.layers.create_from_tar(parent, tar, diff_id)?;
        self.made(&layer);
        Ok(layer)
    }
}

/// A blob just moved into the store (a downloaded layer, a manifest), kept from the sweep
/// while this lives; dropped while nothing records it (as a layer's blob or a manifest),
/// its file goes.
pub struct HeldBlob {
    store: Arc<ImageStore>,
    pub digest: Digest,
    pub size: u64,
}

impl std::fmt::Debug for HeldBlob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HeldBlob({}, {} bytes)", self.digest, self.size)
    }
}

impl Drop for HeldBlob {
    fn drop(&mut self) {
        let mut st = self.store.state.write().expect("lock");
        if !release(&mut st, &self.digest) {
            return;
        }
        let recorded = {
            let registry = self.store.registry.lock().expect("lock");
            registry.blobs.contains_key(&self.digest)
                || registry.manifests.contains_key(&self.digest)
        };
        // An image's config, or the uncompressed tar of an image's layer (imported, loaded,
        // committed: its digest is its diff ID), is that image's.
        let an_images = st.images.contains_key(&self.digest)
            || st
                .images
                .values()
                .any(|image| image.layers.iter().any(|l| l.diff_id == self.digest));
        if !recorded && !an_images {
            let _ = self.store.content.delete(&self.digest);
        }
    }
}

impl<S: std::ops::Deref<Target = ImageStore>> Drop for PendingLayers<S> {
    fn drop(&mut self) {
        let mut st = self.store.state.write().expect("lock");
        if let Some((path, made)) = self.journal.take() {
            // The note is written once a layer is made.
            if !made.is_empty() {
                let _ = fs::remove_file(path);
            }
            // What this pull used of the kept layers is an image's now, or goes with it.
            let before = st.kept.len();
            for d in &self.layers {
                st.kept.remove(d);
            }
            if st.kept.len() != before {
                self.store.write_kept(&st.kept);
                self.stored = true;
            }
        }
        for chain in self.layers.drain(..) {
            release(&mut st, &chain);
        }
        // Remove what this operation made or released that nothing owns (a failed import or
        // load, kept layers no image took), and what an earlier sweep spared only because an
        // operation held it.
        if !self.stored && !self.store.sweep_owed.load(Ordering::Relaxed) {
            return;
        }
        if let Err(e) = self.store.sweep_locked(&st) {
            tracing::warn!(error = %e, "sweeping after an operation failed");
        }
    }
}

pub struct ImageStore {
    root: PathBuf,
    pub(crate) content: ContentStore,
    pub(crate) layers: LayerStore,
    state: RwLock<State>,
    /// Serialises record writes (the refs file is rewritten whole).
    commit: Mutex<()>,
    /// Compressed blobs and manifests as registries know them (`distribution.json`). Locked
    /// after `state` when both are.
    registry: Mutex<RegistryBlobs>,
    /// A sweep ran while operations held layers or blobs, which it spared whether or not
    /// an image owns them: the next operation to end sweeps again.
    sweep_owed: AtomicBool,
}

/// Where [`RegistryBlobs`] is kept.
const REGISTRY_BLOBS: &str = "distribution.json";

impl ImageStore {
    /// Opens (or creates) the store under `root`, dropping leftovers of interrupted writes.
    pub fn open(root: &Path) -> Result<Self, ImageError> {
        let images_dir = root.join("images");
        fs::create_dir_all(&images_dir).map_err(ImageError::io("create image store"))?;
        let content = ContentStore::open(root).map_err(ImageError::io("open content store"))?;
        let layers =
            LayerStore::open(&root.join("layers")).map_err(ImageError::io("open layer store"))?;
        let store = ImageStore {
            root: root.to_path_buf(),
            content,
            layers,
            state: RwLock::new(State::default()),
            commit: Mutex::new(()),
            registry: Mutex::new(RegistryBlobs::default()),
            sweep_owed: AtomicBool::new(false),
        };
        store.load_index()?;
        Ok(store)
    }

    fn load_index(&self) -> Result<(), ImageError> {
        let mut st = State::default();
        for e in fs::read_dir(self.root.join("images")).map_err(ImageError::io("read images"))? {
            let e = e.map_err(ImageError::io("read images"))?;
            let name = e.file_name().to_string_lossy().into_owned();
            let Some(id) = name.strip_suffix(".json").and_then(Digest::from_hex) else {
                // Temp files of an interrupted write.
                let _ = fs::remove_file(e.path());
                continue;
            };
            match self.read_image(&id, &e.path()) {
                Ok(img) => {
                    st.images.insert(id, Arc::new(img));
                }
                Err(err) => {
                    tracing::warn!(image = %id, error = %err, "dropping unreadable image record");
                    let _ = fs::remove_file(e.path());
                }
            }
        }
        let refs_path = self.root.join("repositories.json");
        if let Ok(data) = fs::read(&refs_path) {
            let file: RefsFile = serde_json::from_slice(&data).unwrap_or_default();
            st.tagged = file
                .tagged
                .into_iter()
                .filter(|(id, _)| st.images.contains_key(id))
                .collect();
            for (canonical, id) in file.refs {
                if !st.images.contains_key(&id) {
                    continue;
                }
                if let Ok(r) = Reference::parse(&canonical) {
                    st.refs.insert(canonical, (r, id));
                }
            }
        }
        st.kept = self.adopt_pull_journals();
        let registry: RegistryBlobs = fs::read(self.root.join(REGISTRY_BLOBS))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        *self.registry.lock().expect("lock") = registry;
        self.sweep_locked(&st)?;
        *self.state.write().expect("lock") = st;
        Ok(())
    }

    /// The layers interrupted pulls had finished (their journals, and those kept before),
    /// noted again in one `kept.json`; the journals go.
    fn adopt_pull_journals(&self) -> HashSet<Digest> {
        let dir = self.root.join(PULLS);
        let mut kept = HashSet::new();
        for e in fs::read_dir(&dir).into_iter().flatten().flatten() {
            let listed: Vec<Digest> = fs::read(e.path())
                .ok()
                .and_then(|b| serde_json::from_slice(&b).ok())
                .unwrap_or_default();
            kept.extend(listed.into_iter().filter(|c| self.layers.get(c).is_some()));
            if e.file_name() != KEPT {
                let _ = fs::remove_file(e.path());
            }
        }
        self.write_kept(&kept);
        kept
    }

    /// Notes `kept` in `pulls/kept.json` (none: no file). A note that cannot be written only
    /// loses the layers to the next sweep.
    fn write_kept(&self, kept: &HashSet<Digest>) {
        let path = self.root.join(PULLS).join(KEPT);
        let result = if kept.is_empty() {
            fsutil::remove_any(&path)
        } else {
            let mut list: Vec<&Digest> = kept.iter().collect();
            list.sort();
            fs::create_dir_all(self.root.join(PULLS)).and_then(|_| {
                fsutil::write_atomic(
                    &path,
                    &serde_json::to_vec(&list).expect("digests serialise"),
                )
            })
        };
        if let Err(e) = result {
            tracing::warn!(error = %e, "noting the layers of interrupted pulls");
        }
    }

    /// Saves what is known of registries. A write that fails only loses that knowledge (a
    /// push then recompresses or uploads again), so it is logged, not returned.
    fn write_registry(&self, registry: &RegistryBlobs) {
        let data = serde_json::to_vec(registry).expect("registry blobs serialise");
        if let Err(e) = fsutil::write_atomic(&self.root.join(REGISTRY_BLOBS), &data) {
            tracing::warn!(error = %e, "saving what is known of registries");
        }
    }

    /// Lets go of the layers interrupted pulls left (`image prune`): those no image uses go.
    pub fn release_kept_layers(&self) -> Result<(), ImageError> {
        let _guard = self.commit.lock().expect("lock");
        let mut st = self.state.write().expect("lock");
        if st.kept.is_empty() {
            return Ok(());
        }
        st.kept.clear();
        self.write_kept(&st.kept);
        self.sweep_locked(&st)
    }

    fn read_image(&self, id: &Digest, record_path: &Path) -> Result<Image, ImageError> {
        let record: ImageRecord = serde_json::from_slice(
            &fs::read(record_path).map_err(ImageError::io("read image record"))?,
        )
        .map_err(|e| ImageError::InvalidInput(format!("image record: {e}")))?;
        let config = ImageConfig::parse(&self.content.read(id)?)?;
        self.read_image_from(None, id, config, &record)
    }

    /// Removes layers and blobs that no image (and no running operation) uses.
    fn sweep_locked(&self, st: &State) -> Result<(), ImageError> {
        // Owed until this one has gone through.
        self.sweep_owed.store(true, Ordering::Relaxed);
        // Pending entries are layer chain IDs or blob digests; keeping both kinds live is safe.
        let mut live_layers: HashSet<Digest> = st.pending_layers.keys().copied().collect();
        live_layers.extend(st.kept.iter().copied());
        let mut live_blobs: HashSet<Digest> = st.pending_layers.keys().copied().collect();
        for img in st.images.values() {
            live_blobs.insert(img.id);
            for l in &img.layers {
                live_layers.insert(l.chain_id);
            }
        }
        for chain in self.layers.list().map_err(ImageError::io("list layers"))? {
            if !live_layers.contains(&chain) {
                tracing::debug!(layer = %chain, "removing unused layer");
                self.layers
                    .remove(&chain)
                    .map_err(ImageError::io("remove layer"))?;
            }
        }
        // The images' layers are known in memory; only the chains held by operations under
        // way or kept from interrupted pulls are read from their records.
        let mut live_diffs = HashSet::new();
        let mut in_images = HashSet::new();
        for l in st.images.values().flat_map(|img| img.layers.iter()) {
            live_diffs.insert(l.diff_id);
            in_images.insert(l.chain_id);
        }
        for chain in live_layers.iter().filter(|c| !in_images.contains(*c)) {
            if let Some(info) = self.layers.get(chain) {
                live_diffs.insert(info.diff_id);
            }
        }
        live_blobs.extend(live_diffs.iter().copied());
        {
            let mut registry = self.registry.lock().expect("lock");
            let image_here = |id: &Digest| st.images.contains_key(id);
            if registry.retain_live(&live_diffs, &image_here, &mut live_blobs) {
                self.write_registry(&registry);
            }
        }
        for blob in self.content.list().map_err(ImageError::io("list blobs"))? {
            if !live_blobs.contains(&blob) {
                self.content
                    .delete(&blob)
                    .map_err(ImageError::io("remove blob"))?;
            }
        }
        self.sweep_owed
            .store(!st.pending_layers.is_empty(), Ordering::Relaxed);
        Ok(())
    }

    pub(crate) fn pending(&self) -> PendingLayers<&ImageStore> {
        PendingLayers {
            store: self,
            layers: Vec::new(),
            journal: None,
            stored: false,
        }
    }

    /// A blob being written, hashed as it goes (a download).
    pub fn blob_writer(&self) -> Result<crate::BlobWriter, ImageError> {
        self.content.writer()
    }

    /// Moves a downloaded blob into the store, checked against `expected`, held from the
    /// sweep until the result is dropped.
    pub fn commit_blob(
        self: &Arc<Self>,
        blob: crate::BlobWriter,
        expected: &Digest,
    ) -> Result<HeldBlob, ImageError> {
        let size = blob.size();
        let mut st = self.state.write().expect("lock");
        let digest = blob.commit(Some(expected))?;
        *st.pending_layers.entry(digest).or_default() += 1;
        Ok(HeldBlob {
            store: self.clone(),
            digest,
            size,
        })
    }

    /// A pull: what it stores and holds stays until it ends, and the layers it finished
    /// outlive a crash of the daemon (they are kept at the next start for the next pull).
    pub fn session(self: &Arc<Self>) -> PendingLayers<Arc<ImageStore>> {
        let journal = self
            .root
            .join(PULLS)
            .join(format!("{:016x}.json", rand::random::<u64>()));
        PendingLayers {
            store: self.clone(),
            layers: Vec::new(),
            journal: Some((journal, Vec::new())),
            stored: false,
        }
    }

    // ---- queries ----

    /// Every image with its references.
    pub fn list(&self) -> Vec<(Arc<Image>, Vec<Reference>)> {
        let st = self.state.read().expect("lock");
        let mut by_image: HashMap<Digest, Vec<Reference>> = HashMap::new();
        for (r, id) in st.refs.values() {
            by_image.entry(*id).or_default().push(r.clone());
        }
        st.images
            .values()
            .map(|img| (img.clone(), by_image.remove(&img.id).unwrap_or_default()))
            .collect()
    }

    pub fn count(&self) -> usize {
        self.state.read().expect("lock").images.len()
    }

    /// When a name was last given to `id` (RFC 3339), if one ever was here.
    pub fn last_tag_time(&self, id: &Digest) -> Option<String> {
        self.state.read().expect("lock").tagged.get(id).cloned()
    }

    /// References that point at `id`.
    pub fn references(&self, id: &Digest) -> Vec<Reference> {
        let st = self.state.read().expect("lock");
        st.refs
            .values()
            .filter(|(_, i)| i == id)
            .map(|(r, _)| r.clone())
            .collect()
    }

    pub fn get(&self, id: &Digest) -> Option<Arc<Image>> {
        self.state.read().expect("lock").images.get(id).cloned()
    }

    /// Resolves a name as Docker does: a full ID (`sha256:…` or 64 hex), then a reference,
    /// then a unique ID prefix.
    pub fn resolve(&self, name: &str) -> Result<Arc<Image>, ImageError> {
        let st = self.state.read().expect("lock");
        let not_found = || ImageError::NotFound(name.to_string());
        if let Some(d) =
            Digest::parse(name).filter(|_| name.starts_with("sha256:") || name.len() == 64)
        {
            if let Some(img) = st.images.get(&d) {
                return Ok(img.clone());
            }
        }
        if let Ok(r) = Reference::parse(name) {
            if let Some((_, id)) = st.refs.get(&r.canonical()) {
                return st.images.get(id).cloned().ok_or_else(not_found);
            }
        }
        let prefix = name.strip_prefix("sha256:").unwrap_or(name);
        if !prefix.is_empty() && prefix.len() < 64 && prefix.bytes().all(|b| b.is_ascii_hexdigit())
        {
            let mut found = st
                .images
                .values()
                .filter(|i| i.id.hex().starts_with(prefix));
            if let (Some(img), None) = (found.next(), found.next()) {
                return Ok(img.clone());
            }
        }
        Err(not_found())
    }

    pub fn diff_path(&self, chain: &Digest) -> PathBuf {
        self.layers.diff_path(chain)
    }

    /// A layer's uncompressed tar and its length: the tar kept when the layer was made here
    /// (imported, loaded, committed), or its compressed blob decompressed (pulled).
    pub fn open_layer_tar(
        &self,
        layer: &LayerInfo,
    ) -> Result<(u64, Box<dyn Read + Send>), ImageError> {
        if let Ok(f) = self.content.open_blob(&layer.diff_id) {
            let len = f
                .metadata()
                .map_err(ImageError::io("stat layer tar"))?
                .len();
            return Ok((
                len,
                Box::new(std::io::BufReader::with_capacity(256 * 1024, f)),
            ));
        }
        let missing = || ImageError::NotFound(format!("the tar of layer {}", layer.diff_id));
        let size = layer.tar_size.ok_or_else(missing)?;
        let blob = self
            .layer_blobs(&layer.diff_id)
            .into_iter()
            .find(|b| self.has_blob(&b.digest))
            .ok_or_else(missing)?;
        let f = self.content.open_blob(&blob.digest)?;
        let (_, tar) = berth_archive::decompress(f).map_err(ImageError::io("decompress layer"))?;
        Ok((size, tar))
    }

    /// The compressed blobs known for layer `diff_id`, in a stable order; the store holds
    /// the bytes of those [`ImageStore::has_blob`] says.
    pub fn layer_blobs(&self, diff_id: &Digest) -> Vec<LayerBlob> {
        self.registry.lock().expect("lock").of_layer(diff_id)
    }

    pub fn has_blob(&self, digest: &Digest) -> bool {
        self.content.has(digest)
    }

    /// A blob of the store, to read (a compressed layer to push).
    pub fn open_blob(&self, digest: &Digest) -> Result<std::fs::File, ImageError> {
        self.content.open_blob(digest)
    }

    /// Notes layers' compressed blobs and where they are known to be (one write for all);
    /// a blob known already gains the repositories.
    pub fn record_layer_blobs(&self, blobs: impl IntoIterator<Item = LayerBlob>) {
        let _guard = self.commit.lock().expect("lock");
        let mut registry = self.registry.lock().expect("lock");
        let mut changed = false;
        for blob in blobs {
            let before = registry.blobs.get(&blob.digest).cloned();
            registry.add(blob.clone());
            changed |= registry.blobs.get(&blob.digest) != before.as_ref();
        }
        if changed {
            self.write_registry(&registry);
        }
    }

    /// Compresses layer `layer` (gzip, as Docker pushes) into a blob of the store, noted as
    /// the layer's; the next push of the layer finds it, so its digest stays the same.
    pub fn compress_layer(
        &self,
        layer: &LayerInfo,
        media_type: &str,
    ) -> Result<LayerBlob, ImageError> {
        let (_, mut tar) = self.open_layer_tar(layer)?;
        let mut gz =
            flate2::GzBuilder::new().write(self.content.writer()?, flate2::Compression::fast());
        std::io::copy(&mut tar, &mut gz).map_err(ImageError::io("compress layer"))?;
        let writer = gz.finish().map_err(ImageError::io("compress layer"))?;
        let size = writer.size();
        // Committed and noted under the state lock, so no sweep sees it unowned.
        let _guard = self.commit.lock().expect("lock");
        let _st = self.state.write().expect("lock");
        let digest = writer.commit(None)?;
        let blob = LayerBlob {
            digest,
            diff_id: layer.diff_id,
            media_type: media_type.to_string(),
            size,
            repositories: Default::default(),
        };
        let mut registry = self.registry.lock().expect("lock");
        registry.add(blob.clone());
        self.write_registry(&registry);
        Ok(blob)
    }

    /// Keeps manifests (an index and its platform's manifest, say) pulled or pushed for image
    /// `image`, for as long as the image is here, with one write of the notes.
    pub fn keep_manifests(
        &self,
        manifests: &[(&[u8], &str)],
        image: &Digest,
    ) -> Result<(), ImageError> {
        let _guard = self.commit.lock().expect("lock");
        let st = self.state.write().expect("lock");
        if !st.images.contains_key(image) {
            return Err(ImageError::NotFound(image.to_string()));
        }
        let mut registry = self.registry.lock().expect("lock");
        let mut changed = false;
        for (bytes, media_type) in manifests {
            // Kept already (a pull or push of what is up to date): no write.
            let known = Digest::of(bytes);
            let digest = if self.content.has(&known) {
                known
            } else {
                self.content.put(bytes)?
            };
            let record = ManifestRecord {
                media_type: media_type.to_string(),
                image: *image,
            };
            if registry.manifests.get(&digest) != Some(&record) {
                registry.manifests.insert(digest, record);
                changed = true;
            }
        }
        if changed {
            self.write_registry(&registry);
        }
        Ok(())
    }

    /// A manifest kept by [`ImageStore::keep_manifests`]: its bytes and media type.
    pub fn manifest(&self, digest: &Digest) -> Option<(Vec<u8>, String)> {
        let media_type = self
            .registry
            .lock()
            .expect("lock")
            .manifests
            .get(digest)?
            .media_type
            .clone();
        Some((self.content.read(digest).ok()?, media_type))
    }

    pub fn config_bytes(&self, id: &Digest) -> Result<Vec<u8>, ImageError> {
        self.content.read(id)
    }

    // ---- writes ----

    fn write_refs_locked(&self, st: &State) -> Result<(), ImageError> {
        let file = RefsFile {
            refs: st
                .refs
                .iter()
                .map(|(k, (_, id))| (k.clone(), *id))
                .collect(),
            tagged: st
                .tagged
                .iter()
                .filter(|(id, _)| st.images.contains_key(id))
                .map(|(id, t)| (*id, t.clone()))
                .collect(),
        };
        let data = serde_json::to_vec_pretty(&file).expect("refs serialise");
        fsutil::write_atomic(&self.root.join("repositories.json"), &data)
            .map_err(ImageError::io("write repositories.json"))
    }

    /// Registers an image received from elsewhere (imported, loaded) from its config bytes;
    /// its layers must already be stored.
    pub(crate) fn register(&self, config_bytes: &[u8]) -> Result<Arc<Image>, ImageError> {
        self.register_record(
            config_bytes,
            ImageRecord {
                schema: 1,
                parent: None,
                built_here: false,
            },
        )
    }

    /// Registers an image made here from what another image holds (a build's step taken
    /// from a `--cache-from` image): its layers are here already; linked to `parent` and
    /// marked built here, so that the next build finds it as a step.
    pub fn register_derived(
        &self,
        config_bytes: &[u8],
        parent: Option<Digest>,
    ) -> Result<Arc<Image>, ImageError> {
        self.register_record(
            config_bytes,
            ImageRecord {
                schema: 1,
                parent,
                built_here: true,
            },
        )
    }

    /// Registers an image with its record: the parent and mark of one made here.
    fn register_record(
        &self,
        config_bytes: &[u8],
        record: ImageRecord,
    ) -> Result<Arc<Image>, ImageError> {
        // An image already here costs no write (a pull of what is up to date).
        if let Some(existing) = self.get(&Digest::of(config_bytes)) {
            return Ok(existing);
        }
        let config = ImageConfig::parse(config_bytes)?;
        // The config is held from sweeps from its write until the image owns it; one left by
        // a failure goes at the next sweep.
        let id = Digest::of(config_bytes);
        *self
            .state
            .write()
            .expect("lock")
            .pending_layers
            .entry(id)
            .or_default() += 1;
        let registered = self.register_held(config_bytes, config, record);
        let mut st = self.state.write().expect("lock");
        release(&mut st, &id);
        if registered.is_err() {
            self.sweep_owed.store(true, Ordering::Relaxed);
        }
        registered
    }

    /// [`ImageStore::register_record`]'s writes, its config held.
    fn register_held(
        &self,
        config_bytes: &[u8],
        config: ImageConfig,
        record: ImageRecord,
    ) -> Result<Arc<Image>, ImageError> {
        let id = self.content.put(config_bytes)?;
        let record_path = self.root.join("images").join(format!("{}.json", id.hex()));
        let _guard = self.commit.lock().expect("lock");
        if let Some(existing) = self.get(&id) {
            return Ok(existing);
        }
        let image = {
            let st = self.state.read().expect("lock");
            self.read_image_from(Some(&st), &id, config, &record)?
        };
        let record = serde_json::to_vec(&record).expect("record serialises");
        fsutil::write_atomic(&record_path, &record)
            .map_err(ImageError::io("write image record"))?;
        let image = Arc::new(image);
        self.state
            .write()
            .expect("lock")
            .images
            .insert(id, image.clone());
        Ok(image)
    }

    /// Layer `chain`: from an image in `st` (known in memory), else from its record.
    fn layer_info(&self, st: Option<&State>, chain: &Digest) -> Option<LayerInfo> {
        st.and_then(|st| {
            st.images
                .values()
                .flat_map(|image| image.layers.iter())
                .find(|l| l.chain_id == *chain)
                .cloned()
        })
        .or_else(|| self.layers.get(chain))
    }

    fn read_image_from(
        &self,
        st: Option<&State>,
        id: &Digest,
        config: ImageConfig,
        record: &ImageRecord,
    ) -> Result<Image, ImageError> {
        let mut layers = Vec::with_capacity(config.rootfs.diff_ids.len());
        let mut below = None;
        for diff in &config.rootfs.diff_ids {
            let chain = crate::layers::chain_id(below.as_ref(), diff);
            layers.push(
                self.layer_info(st, &chain)
                    .ok_or_else(|| ImageError::NotFound(format!("layer {chain}")))?,
            );
            below = Some(chain);
        }
        Ok(Image {
            id: *id,
            config,
            layers,
            parent: record.parent,
            built_here: record.built_here,
        })
    }

    /// Points `reference` at `id`. Without `force`, a reference already pointing elsewhere is
    /// a conflict (Docker before API 1.22).
    pub fn tag(
        &self,
        id: &Digest,
        reference: &Reference,
        force: bool,
    ) -> Result<TagOutcome, ImageError> {
        let _guard = self.commit.lock().expect("lock");
        let mut st = self.state.write().expect("lock");
        if !st.images.contains_key(id) {
            return Err(ImageError::NotFound(id.to_string()));
        }
        let key = reference.canonical();
        let previous = st
            .refs
            .get(&key)
            .map(|(_, old)| *old)
            .filter(|old| old != id);
        if let (Some(old), false) = (previous, force) {
            let tag = reference.tag().unwrap_or("latest");
            return Err(ImageError::Conflict(format!(
                "Conflict: Tag {tag} is already set to image {}, if you want to replace it, please use -f option",
                old.hex()
            )));
        }
        let before = st.refs.insert(key.clone(), (reference.clone(), *id));
        let tagged_before = st.tagged.insert(*id, jiff::Timestamp::now().to_string());
        if let Err(e) = self.write_refs_locked(&st) {
            match before {
                Some(b) => st.refs.insert(key, b),
                None => st.refs.remove(&key),
            };
            match tagged_before {
                Some(t) => st.tagged.insert(*id, t),
                None => st.tagged.remove(id),
            };
            return Err(e);
        }
        Ok(TagOutcome { previous })
    }

    /// Points each of `references` at `id`, replacing what they named, with one write of the
    /// references; those that already name `id` are left as they are, its tag time too, as a
    /// pull of an image that is up to date leaves them.
    pub fn tag_all(&self, id: &Digest, references: &[Reference]) -> Result<(), ImageError> {
        let _guard = self.commit.lock().expect("lock");
        let mut st = self.state.write().expect("lock");
        if !st.images.contains_key(id) {
            return Err(ImageError::NotFound(id.to_string()));
        }
        let new: Vec<&Reference> = references
            .iter()
            .filter(|r| st.refs.get(&r.canonical()).is_none_or(|(_, i)| i != id))
            .collect();
        if new.is_empty() {
            return Ok(());
        }
        let saved = (st.refs.clone(), st.tagged.clone());
        for r in new {
            st.refs.insert(r.canonical(), (r.clone(), *id));
        }
        st.tagged.insert(*id, jiff::Timestamp::now().to_string());
        if let Err(e) = self.write_refs_locked(&st) {
            (st.refs, st.tagged) = saved;
            return Err(e);
        }
        Ok(())
    }

    /// Stores a single-layer image from a (possibly compressed) filesystem tarball, as
    /// `docker import` does, and tags it when a reference is given.
    pub fn import(
        &self,
        reader: &mut (dyn Read + Send),
        opts: &ImportOptions,
    ) -> Result<(Arc<Image>, Option<TagOutcome>), ImageError> {
        let (_, mut tar) =
            berth_archive::decompress(reader).map_err(ImageError::io("read import"))?;
        let mut pending = self.pending();
        let layer = pending.create_layer(None, &mut tar, None)?;
        let created = opts.created.to_string();
        let history = HistoryEntry {
            created: Some(created.clone()),
            comment: opts.comment.clone(),
            ..Default::default()
        };
        let config = ImageConfig {
            architecture: opts.architecture.clone(),
            os: "linux".to_string(),
            created: Some(created),
            comment: opts.comment.clone(),
            docker_version: opts.docker_version.clone(),
            config: opts.config.clone(),
            rootfs: RootFs {
                kind: "layers".to_string(),
                diff_ids: vec![layer.diff_id],
            },
            history: vec![history],
            ..Default::default()
        };
        let bytes = serde_json::to_vec(&config).expect("config serialises");
        let image = self.register(&bytes)?;
        let tagged = match &opts.reference {
            Some(r) => Some(self.tag(&image.id, r, true)?),
            None => None,
        };
        Ok((image, tagged))
    }

    /// Stores a child of `parent` whose new layer is the tar `layer` (a container's diff):
    /// the parent's config and history carried on, the parent linked (what `docker history`
    /// and the build cache follow), as `docker commit` makes it.
    pub fn commit(
        &self,
        parent: &Image,
        layer: &mut dyn Read,
        opts: &CommitOptions,
    ) -> Result<Arc<Image>, ImageError> {
        self.commit_on(Some(parent), layer, opts)
    }

    /// [`ImageStore::commit`] on `parent`, or on no image (a build's steps after
    /// `FROM scratch`: the config starts empty, for this host's platform).
    pub fn commit_on(
        &self,
        parent: Option<&Image>,
        layer: &mut dyn Read,
        opts: &CommitOptions,
    ) -> Result<Arc<Image>, ImageError> {
        let mut pending = self.pending();
        let top = parent.and_then(|p| p.top_layer()).map(|l| l.chain_id);
        let made = pending.create_layer(top.as_ref(), layer, None)?;
        let empty = made.diff_id.to_string() == EMPTY_LAYER;
        let created = opts.created.to_string();
        let mut config = match parent {
            Some(p) => p.config.clone(),
            None => ImageConfig {
                architecture: opts.architecture.clone(),
                os: "linux".to_string(),
                rootfs: RootFs {
                    kind: "layers".to_string(),
                    diff_ids: Vec::new(),
                },
                ..Default::default()
            },
        };
        if !empty {
            config.rootfs.diff_ids.push(made.diff_id);
        }
        config.history.push(HistoryEntry {
            created: Some(created.clone()),
            created_by: opts.created_by.clone(),
            author: opts.author.clone(),
            comment: opts.comment.clone(),
            empty_layer: empty,
        });
        config.id = String::new();
        config.parent = String::new();
        config.created = Some(created);
        config.container = opts.container.clone();
        config.container_config = opts.container_config.clone();
        config.config = opts.config.clone();
        config.author = opts.author.clone();
        config.comment = opts.comment.clone();
        config.docker_version = opts.docker_version.clone();
        let bytes = serde_json::to_vec(&config).expect("config serialises");
        self.register_record(
            &bytes,
            ImageRecord {
                schema: 1,
                parent: parent.map(|p| p.id),
                built_here: true,
            },
        )
    }

    /// The images built here whose parent is `parent` (`None`: built on no image, as a
    /// build's steps after `FROM scratch`): where the build cache looks for a step it has run.
    pub fn children_built_here(&self, parent: Option<&Digest>) -> Vec<Arc<Image>> {
        self.state
            .read()
            .expect("lock")
            .images
            .values()
            .filter(|i| i.built_here && i.parent.as_ref() == parent)
            .cloned()
            .collect()
    }

    /// Removes `name` as `docker rmi` does: a reference is untagged, and the image goes with
    /// its last reference; an ID removes the image (with `force`, even when several
    /// repositories reference it). `in_use` says whether a container uses an image.
    pub fn delete(
        &self,
        name: &str,
        force: bool,
        prune_parents: bool,
        in_use: &dyn Fn(&Digest) -> bool,
    ) -> Result<Vec<DeleteEffect>, ImageError> {
        let image = self.resolve(name)?;
        let id = image.id;
        let by_reference = Reference::parse(name).ok().filter(|r| {
            let st = self.state.read().expect("lock");
            st.refs.get(&r.canonical()).is_some_and(|(_, i)| *i == id)
                && !name.starts_with("sha256:")
        });
        let _guard = self.commit.lock().expect("lock");
        let mut st = self.state.write().expect("lock");
        let refs: Vec<Reference> = st
            .refs
            .values()
            .filter(|(_, i)| *i == id)
            .map(|(r, _)| r.clone())
            .collect();
        let mut effects = Vec::new();
        let mut untag = |st: &mut State, r: &Reference| {
            st.refs.remove(&r.canonical());
            effects.push(DeleteEffect::Untagged {
                reference: r.clone(),
                image: id,
            });
        };
        match by_reference {
            Some(r) => {
                untag(&mut st, &r);
                // A tag gone, its repository's digest references go too when no tag of that
                // repository is left on the image, as Docker's do (what a pull recorded).
                if r.digest().is_none() {
                    let same_repo = |x: &Reference| x.repo() == r.repo();
                    let tag_left = refs
                        .iter()
                        .any(|x| x != &r && x.digest().is_none() && same_repo(x));
                    if !tag_left {
                        for x in refs.iter().filter(|x| x.digest().is_some() && same_repo(x)) {
                            untag(&mut st, x);
                        }
                    }
                }
                let others_left = st.refs.values().any(|(_, i)| *i == id);
                if others_left {
                    self.write_refs_locked(&st)?;
                    return Ok(effects);
                }
                if in_use(&id) {
                    // The reference is gone, the image stays for its container (Docker
                    // keeps the image and reports only the untag).
                    self.write_refs_locked(&st)?;
                    return Ok(effects);
                }
            }
            None => {
                if in_use(&id) && !force {
                    return Err(ImageError::Conflict(format!(
                        "conflict: unable to delete {} (must be forced) - image is being used by a container",
                        id.short()
                    )));
                }
                let repos: HashSet<&str> = refs.iter().map(|r| r.repo()).collect();
                if repos.len() > 1 && !force {
                    return Err(ImageError::Conflict(format!(
                        "conflict: unable to delete {} (must be forced) - image is referenced in multiple repositories",
                        id.short()
                    )));
                }
                for r in &refs {
                    untag(&mut st, r);
                }
                if in_use(&id) {
                    // Forced: the names go, the image stays while a container runs from it
                    // (its layers are that container's root filesystem).
                    self.write_refs_locked(&st)?;
                    return Ok(effects);
                }
            }
        }
        let children = st.images.values().any(|i| i.parent == Some(id));
        if children {
            return Err(ImageError::Conflict(format!(
                "conflict: unable to delete {} (cannot be forced) - image has dependent child images",
                id.short()
            )));
        }
        self.write_refs_locked(&st)?;
        let mut removed = vec![image.clone()];
        self.remove_record_locked(&mut st, &id)?;
        effects.push(DeleteEffect::DeletedImage(id));
        // As Docker, unless told not to (`noprune`): the parents that only this image kept
        // (untagged, no other child, no container) go with it.
        let mut parent = if prune_parents { image.parent } else { None };
        while let Some(p) = parent {
            let Some(up) = st.images.get(&p).cloned() else {
                break;
            };
            let tagged = st.refs.values().any(|(_, i)| *i == p);
            let has_children = st.images.values().any(|i| i.parent == Some(p));
            if tagged || has_children || in_use(&p) {
                break;
            }
            self.remove_record_locked(&mut st, &p)?;
            effects.push(DeleteEffect::DeletedImage(p));
            parent = up.parent;
            removed.push(up);
        }
        let still_used: HashSet<Digest> = st
            .images
            .values()
            .flat_map(|i| i.layers.iter().map(|l| l.chain_id))
            .chain(st.pending_layers.keys().copied())
            .collect();
        let mut gone = HashSet::new();
        for layer in removed.iter().flat_map(|i| i.layers.iter().rev()) {
            if !still_used.contains(&layer.chain_id) && gone.insert(layer.chain_id) {
                effects.push(DeleteEffect::DeletedLayer(layer.chain_id));
            }
        }
        self.sweep_locked(&st)?;
        Ok(effects)
    }

    /// Drops an image's record, on disk and in memory; the caller holds the locks.
    fn remove_record_locked(&self, st: &mut State, id: &Digest) -> Result<(), ImageError> {
        fsutil::remove_any(&self.root.join("images").join(format!("{}.json", id.hex())))
            .map_err(ImageError::io("remove image record"))?;
        st.images.remove(id);
        Ok(())
    }
}

#[cfg(test)]
mod tests;
