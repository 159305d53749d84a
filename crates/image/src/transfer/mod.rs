//! `docker save` / `docker load` tarballs.
//!
//! Load reads three layouts: the v1 layout of API 1.18 (`<id>/VERSION|json|layer.tar` and
//! `repositories`), the `manifest.json` layout `docker save` has written since Docker 1.10,
//! and the OCI image layout (`index.json`, `blobs/`), which Docker 25+ also writes. Save
//! writes `manifest.json`, the config, one `<v1-id>/` directory per layer and `repositories`,
//! so that both old and new clients load it.

use std::collections::{BTreeMap, HashMap};
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;

use crate::config::{ImageConfig, RootFs};
use crate::digest::Digest;
use crate::error::ImageError;
use crate::reference::Reference;
use crate::store::{Image, ImageStore, TagOutcome};

mod layouts;
use layouts::{plan_manifest, plan_oci, plan_v1};

/// An image `load` stored, and the references it set.
#[derive(Debug, Clone)]
pub struct LoadedImage {
    pub image: Arc<Image>,
    pub references: Vec<(Reference, TagOutcome)>,
}

/// JSON files of a load are small; anything bigger is not metadata.
const MAX_METADATA: u64 = 16 << 20;
const MAX_LINK_HOPS: usize = 16;

/// The outer archive, staged: regular files copied out, symlinks remembered.
struct Staged {
    dir: PathBuf,
    files: HashMap<String, PathBuf>,
    links: HashMap<String, String>,
}

impl Staged {
    fn resolve(&self, path: &str) -> Option<&PathBuf> {
        let mut p = normalize(path)?;
        for _ in 0..MAX_LINK_HOPS {
            if let Some(f) = self.files.get(&p) {
                return Some(f);
            }
            let target = self.links.get(&p)?;
            let base = Path::new(&p)
                .parent()
                .map(|b| b.to_string_lossy().into_owned())
                .unwrap_or_default();
            p = if target.starts_with('/') {
                normalize(target)?
            } else {
                normalize(&format!("{base}/{target}"))?
            };
        }
        None
    }

    fn has(&self, path: &str) -> bool {
        self.resolve(path).is_some()
    }

    fn open(&self, path: &str) -> Result<File, ImageError> {
        let f = self.resolve(path).ok_or_else(|| {
            ImageError::InvalidInput(format!("load: {path} is missing from the archive"))
        })?;
        File::open(f).map_err(ImageError::io(format!("open {path}")))
    }

    fn read_json<T: for<'de> Deserialize<'de>>(&self, path: &str) -> Result<T, ImageError> {
        let bytes = self.read_bytes(path)?;
        serde_json::from_slice(&bytes)
            .map_err(|e| ImageError::InvalidInput(format!("load: invalid {path}: {e}")))
    }

    fn read_bytes(&self, path: &str) -> Result<Vec<u8>, ImageError> {
        let mut buf = Vec::new();
        self.open(path)?
            .take(MAX_METADATA)
            .read_to_end(&mut buf)
            .map_err(ImageError::io(format!("read {path}")))?;
        Ok(buf)
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// Normalises an in-archive path; `None` when it climbs above the archive root.
fn normalize(path: &str) -> Option<String> {
    let mut parts: Vec<&str> = Vec::new();
    for c in path.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            c => parts.push(c),
        }
    }
    Some(parts.join("/"))
}

/// One image found in the archive, before it is stored.
pub(crate) struct Plan {
    config: Vec<u8>,
    /// In-archive paths of the layer tars, bottom first.
    layers: Vec<String>,
    tags: Vec<Reference>,
}

impl ImageStore {
    /// Loads a `docker save` tarball (any of the three layouts). Nothing is left behind when
    /// it fails.
    pub fn load(
        &self,
        reader: &mut (dyn Read + Send),
        staging_root: &Path,
    ) -> Result<Vec<LoadedImage>, ImageError> {
        let (_, reader) = berth_archive::decompress(reader).map_err(ImageError::io("read load"))?;
        let staged = stage(reader, staging_root)?;
        let plans = if staged.has("manifest.json") {
            plan_manifest(&staged)?
        } else if staged.has("index.json") {
            plan_oci(&staged)?
        } else if staged.has("repositories") || staged.files.keys().any(|k| k.ends_with("/json")) {
            plan_v1(&staged)?
        } else {
            return Err(ImageError::InvalidInput(
                "load: archive holds no image (no manifest.json, index.json or repositories)"
                    .into(),
            ));
        };
        let mut pending = self.pending();
        let mut stored = Vec::new();
        for plan in &plans {
            let config = ImageConfig::parse(&plan.config)?;
            if config.rootfs.diff_ids.len() != plan.layers.len()
                && !config.rootfs.diff_ids.is_empty()
            {
                return Err(ImageError::InvalidInput(format!(
                    "load: config lists {} layers, manifest {}",
                    config.rootfs.diff_ids.len(),
                    plan.layers.len()
                )));
            }
            let mut below: Option<Digest> = None;
            let mut diff_ids = Vec::new();
            for (i, path) in plan.layers.iter().enumerate() {
                let file = staged.open(path)?;
                let (_, mut tar) = berth_archive::decompress(file)
                    .map_err(ImageError::io(format!("read {path}")))?;
                let expected = config.rootfs.diff_ids.get(i);
                let layer = pending.create_layer(below.as_ref(), &mut tar, expected)?;
                diff_ids.push(layer.diff_id);
                below = Some(layer.chain_id);
            }
            // v1 archives carry no rootfs: the config is rebuilt with the diff IDs just read.
            let bytes = if config.rootfs.diff_ids.is_empty() {
                let mut c = config.clone();
                c.rootfs = RootFs {
                    kind: "layers".into(),
                    diff_ids,
                };
                serde_json::to_vec(&c).expect("config serialises")
            } else {
                plan.config.clone()
            };
            stored.push((self.register(&bytes)?, plan.tags.clone()));
        }
        let mut loaded = Vec::new();
        for (image, tags) in stored {
            let mut references = Vec::new();
            for r in tags {
                let outcome = self.tag(&image.id, &r, true)?;
                references.push((r, outcome));
            }
            loaded.push(LoadedImage { image, references });
        }
        Ok(loaded)
    }

    /// Writes the images named by `ids` (with the references to write for each) as one
    /// tarball.
    pub fn save(
        &self,
        images: &[(Arc<Image>, Vec<Reference>)],
        out: &mut dyn Write,
    ) -> Result<(), ImageError> {
        let mut tar = tar::Builder::new(out);
        tar.mode(tar::HeaderMode::Deterministic);
        let mut manifest = Vec::new();
        let mut repositories: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
        let mut written_layers: HashMap<String, ()> = HashMap::new();
        let mut written_configs: HashMap<Digest, ()> = HashMap::new();
        for (image, refs) in images {
            let config_bytes = self.config_bytes(&image.id)?;
            let config_name = format!("{}.json", image.id.hex());
            if written_configs.insert(image.id, ()).is_none() {
                append_bytes(&mut tar, &config_name, &config_bytes)?;
            }
            let mut parent_v1 = String::new();
            let mut layer_paths = Vec::new();
            for (i, layer) in image.layers.iter().enumerate() {
                let is_top = i + 1 == image.layers.len();
                // A v1 ID per layer, stable for the same layer chain (and, for the top, the
                // same image), as Docker derives them.
                let seed = if is_top {
                    format!("{} {} {}", layer.chain_id, parent_v1, image.id)
                } else {
                    format!("{} {}", layer.chain_id, parent_v1)
                };
                let v1_id = Digest::of(seed.as_bytes()).hex();
                let dir = v1_id.clone();
                layer_paths.push(format!("{dir}/layer.tar"));
                if written_layers.insert(dir.clone(), ()).is_none() {
                    let json = v1_layer_json(&image.config, &v1_id, &parent_v1, is_top);
                    append_dir(&mut tar, &dir)?;
                    append_bytes(&mut tar, &format!("{dir}/VERSION"), b"1.0")?;
                    append_bytes(&mut tar, &format!("{dir}/json"), &json)?;
                    let (len, mut f) = self.open_layer_tar(layer)?;
                    let mut h = tar::Header::new_ustar();
                    h.set_size(len);
                    h.set_mode(0o644);
                    h.set_entry_type(tar::EntryType::Regular);
                    tar.append_data(&mut h, format!("{dir}/layer.tar"), &mut f)
                        .map_err(ImageError::io("write save archive"))?;
                }
                parent_v1 = v1_id;
            }
            let repo_tags: Vec<String> = refs
                .iter()
                .filter(|r| r.tag().is_some())
                .map(|r| r.to_string())
                .collect();
            for r in refs {
                if let Some(tag) = r.tag() {
                    repositories
                        .entry(r.familiar_repo().to_string())
                        .or_default()
                        .insert(tag.to_string(), parent_v1.clone());
                }
            }
            manifest.push(serde_json::json!({
                "Config": config_name,
                "RepoTags": if repo_tags.is_empty() { serde_json::Value::Null } else { repo_tags.into() },
                "Layers": layer_paths,
            }));
        }
        append_bytes(
            &mut tar,
            "manifest.json",
            &serde_json::to_vec(&manifest).expect("manifest serialises"),
        )?;
        if !repositories.is_empty() {
            append_bytes(
                &mut tar,
                "repositories",
                &serde_json::to_vec(&repositories).expect("repositories serialise"),
            )?;
        }
        tar.into_inner()
            .map_err(ImageError::io("finish save archive"))?
            .flush()
            .map_err(ImageError::io("flush save archive"))?;
        Ok(())
    }
}

fn v1_layer_json(config: &ImageConfig, id: &str, parent: &str, top: bool) -> Vec<u8> {
    let mut v = if top {
        let mut c = config.clone();
        c.rootfs = RootFs::default();
        c.history = Vec::new();
        serde_json::to_value(c).expect("config serialises")
    } else {
        serde_json::json!({
            "created": "1970-01-01T00:00:00Z",
            "container_config": {"Cmd": null},
        })
    };
    let obj = v.as_object_mut().expect("object");
    obj.remove("rootfs");
    obj.remove("history");
    obj.insert("id".into(), id.into());
    if !parent.is_empty() {
        obj.insert("parent".into(), parent.into());
    } else {
        obj.remove("parent");
    }
    serde_json::to_vec(&v).expect("json serialises")
}

fn append_bytes<W: Write>(
    tar: &mut tar::Builder<W>,
    path: &str,
    data: &[u8],
) -> Result<(), ImageError> {
    let mut h = tar::Header::new_ustar();
    h.set_size(data.len() as u64);
    h.set_mode(0o644);
    h.set_entry_type(tar::EntryType::Regular);
    tar.append_data(&mut h, path, data)
        .map_err(ImageError::io("write save archive"))
}

fn append_dir<W: Write>(tar: &mut tar::Builder<W>, path: &str) -> Result<(), ImageError> {
    let mut h = tar::Header::new_ustar();
    h.set_size(0);
    h.set_mode(0o755);
    h.set_entry_type(tar::EntryType::Directory);
    tar.append_data(&mut h, format!("{path}/"), io::empty())
        .map_err(ImageError::io("write save archive"))
}

/// Copies the outer archive's files into a fresh staging directory (names are replaced by
/// numbers: nothing from the archive becomes a host path).
fn stage(reader: impl Read, staging_root: &Path) -> Result<Staged, ImageError> {
    fs::create_dir_all(staging_root).map_err(ImageError::io("create staging directory"))?;
    let dir = staging_root.join(format!("load-{}", rand::random::<u64>()));
    fs::create_dir(&dir).map_err(ImageError::io("create staging directory"))?;
    let mut staged = Staged {
        dir,
        files: HashMap::new(),
        links: HashMap::new(),
    };
    let mut archive = tar::Archive::new(reader);
    let bad = |e: io::Error| -> ImageError {
        if matches!(
            e.kind(),
            io::ErrorKind::UnexpectedEof | io::ErrorKind::InvalidData | io::ErrorKind::Other
        ) {
            ImageError::InvalidInput(format!("load: invalid archive: {e}"))
        } else {
            ImageError::io("load: read archive")(e)
        }
    };
    for entry in archive.entries().map_err(bad)? {
        let mut entry = entry.map_err(bad)?;
        let raw = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let Some(path) = normalize(&raw) else {
            return Err(ImageError::InvalidInput(format!(
                "load: path escapes the archive: {raw}"
            )));
        };
        match entry.header().entry_type() {
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                let dest = staged.dir.join(staged.files.len().to_string());
                let mut f = File::create(&dest).map_err(ImageError::io("stage file"))?;
                let size = entry.header().size().map_err(bad)?;
                let n = io::copy(&mut entry, &mut f).map_err(bad)?;
                if n != size {
                    return Err(ImageError::InvalidInput(
                        "load: archive ends inside a file".into(),
                    ));
                }
                staged.links.remove(&path);
                staged.files.insert(path, dest);
            }
            tar::EntryType::Symlink | tar::EntryType::Link => {
                let target = entry
                    .link_name_bytes()
                    .map(|t| String::from_utf8_lossy(&t).into_owned())
                    .unwrap_or_default();
                // Hard link targets are archive-root relative; symlinks relative to their dir.
                let target = if entry.header().entry_type() == tar::EntryType::Link {
                    format!("/{target}")
                } else {
                    target
                };
                staged.files.remove(&path);
                staged.links.insert(path, target);
            }
            _ => {}
        }
    }
    Ok(staged)
}
