//! The three layouts a loaded archive may have, each read into plans: Docker's
//! `manifest.json`, the OCI image layout, and the v1 layout of API 1.18.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use serde::Deserialize;

use super::{Plan, Staged};
use crate::config::HistoryEntry;
use crate::digest::Digest;
use crate::error::ImageError;
use crate::reference::Reference;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ManifestEntry {
    config: String,
    #[serde(default)]
    repo_tags: Option<Vec<String>>,
    layers: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct OciDescriptor {
    #[serde(default)]
    media_type: String,
    digest: String,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
    #[serde(default)]
    platform: Option<OciPlatform>,
}

#[derive(Deserialize)]
struct OciPlatform {
    #[serde(default)]
    architecture: String,
    #[serde(default)]
    os: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct OciIndexOrManifest {
    #[serde(default)]
    media_type: String,
    #[serde(default)]
    manifests: Vec<OciDescriptor>,
    #[serde(default)]
    config: Option<OciDescriptor>,
    #[serde(default)]
    layers: Vec<OciDescriptor>,
}

/// The legacy per-layer `json` file: enough to chain layers and rebuild a config.
#[derive(Deserialize)]
struct V1Json {
    id: String,
    #[serde(default)]
    parent: String,
    #[serde(default)]
    created: Option<String>,
    #[serde(default)]
    container_config: Option<serde_json::Value>,
    #[serde(default, rename = "Size")]
    _size: Option<i64>,
    #[serde(default)]
    comment: String,
    #[serde(default)]
    author: String,
    #[serde(default)]
    throwaway: bool,
}

fn parse_tags(tags: &[String]) -> Result<Vec<Reference>, ImageError> {
    tags.iter()
        .map(|t| {
            let r = Reference::parse(t)?;
            if r.tag().is_none() {
                return Err(ImageError::InvalidInput(format!(
                    "load: {t} is not a tagged reference"
                )));
            }
            Ok(r)
        })
        .collect()
}

pub(super) fn plan_manifest(staged: &Staged) -> Result<Vec<Plan>, ImageError> {
    let entries: Vec<ManifestEntry> = staged.read_json("manifest.json")?;
    entries
        .into_iter()
        .map(|e| {
            let config = staged.read_bytes(&e.config)?;
            // The config's file name is its digest (`<hex>.json` or `blobs/sha256/<hex>`).
            let stem = Path::new(&e.config)
                .file_name()
                .map(|n| n.to_string_lossy().trim_end_matches(".json").to_string())
                .unwrap_or_default();
            if let Some(want) = Digest::from_hex(&stem) {
                if Digest::of(&config) != want {
                    return Err(ImageError::InvalidInput(format!(
                        "load: config {} does not match its digest",
                        e.config
                    )));
                }
            }
            Ok(Plan {
                config,
                layers: e.layers,
                tags: parse_tags(&e.repo_tags.unwrap_or_default())?,
            })
        })
        .collect()
}

fn blob_path(digest: &str) -> Result<String, ImageError> {
    let d = Digest::parse(digest)
        .ok_or_else(|| ImageError::InvalidInput(format!("load: unsupported digest {digest}")))?;
    Ok(format!("blobs/sha256/{}", d.hex()))
}

pub(super) fn plan_oci(staged: &Staged) -> Result<Vec<Plan>, ImageError> {
    let index: OciIndexOrManifest = staged.read_json("index.json")?;
    let mut plans = Vec::new();
    for desc in &index.manifests {
        let name = desc
            .annotations
            .get("io.containerd.image.name")
            .cloned()
            .or_else(|| {
                desc.annotations
                    .get("org.opencontainers.image.ref.name")
                    .filter(|n| n.contains(':') || n.contains('/'))
                    .cloned()
            });
        let mut doc: OciIndexOrManifest = staged.read_json(&blob_path(&desc.digest)?)?;
        let mut hops = 0;
        // A nested index: choose linux/amd64 (or the first linux manifest).
        while doc.config.is_none() && !doc.manifests.is_empty() {
            hops += 1;
            if hops > 4 {
                return Err(ImageError::InvalidInput(
                    "load: index nesting too deep".into(),
                ));
            }
            let chosen = doc
                .manifests
                .iter()
                .find(|m| {
                    m.platform
                        .as_ref()
                        .is_some_and(|p| p.os == "linux" && p.architecture == host_arch())
                })
                .or_else(|| {
                    doc.manifests
                        .iter()
                        .find(|m| m.platform.as_ref().is_none_or(|p| p.os == "linux"))
                })
                .ok_or_else(|| ImageError::InvalidInput("load: no linux image in index".into()))?;
            let path = blob_path(&chosen.digest)?;
            doc = staged.read_json(&path)?;
        }
        let _ = (&doc.media_type, &desc.media_type);
        let config_desc = doc
            .config
            .as_ref()
            .ok_or_else(|| ImageError::InvalidInput("load: manifest without config".into()))?;
        let config = staged.read_bytes(&blob_path(&config_desc.digest)?)?;
        if Some(Digest::of(&config)) != Digest::parse(&config_desc.digest) {
            return Err(ImageError::InvalidInput(
                "load: config does not match its digest".into(),
            ));
        }
        let layers = doc
            .layers
            .iter()
            .map(|l| blob_path(&l.digest))
            .collect::<Result<Vec<_>, _>>()?;
        let tags = match name {
            Some(n) => parse_tags(&[n])?,
            None => Vec::new(),
        };
        plans.push(Plan {
            config,
            layers,
            tags,
        });
    }
    Ok(plans)
}

pub(super) fn plan_v1(staged: &Staged) -> Result<Vec<Plan>, ImageError> {
    // Every layer directory's json, by ID.
    let mut layers: HashMap<String, (V1Json, serde_json::Value)> = HashMap::new();
    for path in staged
        .files
        .keys()
        .filter(|k| k.ends_with("/json") && k.matches('/').count() == 1)
    {
        let raw: serde_json::Value = staged.read_json(path)?;
        let parsed: V1Json = serde_json::from_value(raw.clone())
            .map_err(|e| ImageError::InvalidInput(format!("load: invalid {path}: {e}")))?;
        let dir = path.trim_end_matches("/json");
        if parsed.id != dir {
            return Err(ImageError::InvalidInput(format!(
                "load: {path} names id {}",
                parsed.id
            )));
        }
        layers.insert(parsed.id.clone(), (parsed, raw));
    }
    let repositories: BTreeMap<String, BTreeMap<String, String>> = if staged.has("repositories") {
        staged.read_json("repositories")?
    } else {
        BTreeMap::new()
    };
    // Tops: images named in `repositories`, plus layers nobody has as parent.
    let mut tops: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (repo, tags) in &repositories {
        for (tag, id) in tags {
            tops.entry(id.clone())
                .or_default()
                .push(format!("{repo}:{tag}"));
        }
    }
    let parents: std::collections::HashSet<&str> =
        layers.values().map(|(j, _)| j.parent.as_str()).collect();
    for id in layers.keys() {
        if !parents.contains(id.as_str()) {
            tops.entry(id.clone()).or_default();
        }
    }
    let mut plans = Vec::new();
    for (top, tags) in tops {
        let mut chain = Vec::new();
        let mut cur = top.clone();
        while !cur.is_empty() {
            let (j, raw) = layers
                .get(&cur)
                .ok_or_else(|| ImageError::InvalidInput(format!("load: layer {cur} is missing")))?;
            chain.push((j, raw));
            if chain.len() > 500 {
                return Err(ImageError::InvalidInput(
                    "load: layer chain too long or cyclic".into(),
                ));
            }
            cur = j.parent.clone();
        }
        chain.reverse();
        let (top_json, top_raw) = chain.last().expect("non-empty chain");
        // The config is the top layer's json without the v1 fields, plus history and rootfs
        // (filled in once the layers are read).
        let mut config = top_raw.as_object().cloned().unwrap_or_default();
        for k in [
            "id",
            "parent",
            "Size",
            "parent_id",
            "layer_id",
            "throwaway",
            "checksum",
        ] {
            config.remove(k);
        }
        let history: Vec<HistoryEntry> = chain
            .iter()
            .map(|(j, _)| HistoryEntry {
                created: j.created.clone(),
                created_by: j
                    .container_config
                    .as_ref()
                    .and_then(|c| c.get("Cmd"))
                    .and_then(|c| c.as_array())
                    .map(|a| {
                        a.iter()
                            .filter_map(|s| s.as_str())
                            .collect::<Vec<_>>()
                            .join(" ")
                    })
                    .unwrap_or_default(),
                author: j.author.clone(),
                comment: j.comment.clone(),
                empty_layer: j.throwaway,
            })
            .collect();
        config.insert(
            "history".into(),
            serde_json::to_value(history).expect("history serialises"),
        );
        let _ = top_json;
        let layer_paths = chain
            .iter()
            .map(|(j, _)| format!("{}/layer.tar", j.id))
            .collect();
        plans.push(Plan {
            config: serde_json::to_vec(&config).expect("config serialises"),
            layers: layer_paths,
            tags: parse_tags(&tags)?,
        });
    }
    Ok(plans)
}

fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}
