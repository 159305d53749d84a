//! What the store knows of registries: each layer's compressed blobs (the bytes a registry
//! sent, or that a push sent) with the repositories known to hold them, and the manifests
//! pulled or pushed. A layer is named by its diff ID (the digest of its uncompressed tar);
//! a registry names it by its compressed blob's digest; this is the map between the two,
//! kept in `distribution.json` beside the references. It is what lets a push send the very
//! bytes a pull received (so digests stay stable) and skip or mount what a registry has.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use serde::{Deserialize, Serialize};

use crate::digest::Digest;

/// A layer's compressed blob as registries know it. The store may hold its bytes (pulled,
/// or compressed here for a push) or not (a layer already here when a pull named it): then
/// it only says where the registry has it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LayerBlob {
    pub digest: Digest,
    pub diff_id: Digest,
    /// The manifest's media type for it (`…rootfs.diff.tar.gzip`, `…layer.v1.tar+gzip`).
    pub media_type: String,
    pub size: u64,
    /// Repositories known to hold it (`127.0.0.1:5000/team/app`): where a push finds it
    /// already there, or mounts it from.
    #[serde(default)]
    pub repositories: BTreeSet<String>,
}

/// A manifest (or index) kept as it was pulled or pushed, for the image it resolves to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestRecord {
    pub media_type: String,
    pub image: Digest,
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct RegistryBlobs {
    #[serde(default)]
    pub blobs: BTreeMap<Digest, LayerBlob>,
    #[serde(default)]
    pub manifests: BTreeMap<Digest, ManifestRecord>,
}

impl RegistryBlobs {
    /// Notes `blob`; known already, it gains the repositories given.
    pub fn add(&mut self, blob: LayerBlob) {
        match self.blobs.get_mut(&blob.digest) {
            Some(known) => known.repositories.extend(blob.repositories),
            None => {
                self.blobs.insert(blob.digest, blob);
            }
        }
    }

    /// The compressed blobs of the layer `diff_id`, in digest order (so that every push of a
    /// layer picks the same one).
    pub fn of_layer(&self, diff_id: &Digest) -> Vec<LayerBlob> {
        self.blobs
            .values()
            .filter(|b| b.diff_id == *diff_id)
            .cloned()
            .collect()
    }

    /// The blobs live while the layers `diff_ids` and the images `images` are: their
    /// compressed blobs and manifests. Entries for anything else are dropped; returns
    /// whether any was.
    pub fn retain_live(
        &mut self,
        diff_ids: &HashSet<Digest>,
        images: &dyn Fn(&Digest) -> bool,
        live: &mut HashSet<Digest>,
    ) -> bool {
        let before = (self.blobs.len(), self.manifests.len());
        self.blobs.retain(|d, b| {
            let keep = diff_ids.contains(&b.diff_id);
            if keep {
                live.insert(*d);
            }
            keep
        });
        self.manifests.retain(|d, m| {
            let keep = images(&m.image);
            if keep {
                live.insert(*d);
            }
            keep
        });
        before != (self.blobs.len(), self.manifests.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blob(content: &[u8], diff: &[u8], repo: &str) -> LayerBlob {
        LayerBlob {
            digest: Digest::of(content),
            diff_id: Digest::of(diff),
            media_type: "application/vnd.docker.image.rootfs.diff.tar.gzip".into(),
            size: content.len() as u64,
            repositories: [repo.to_string()].into(),
        }
    }

    #[test]
    fn blobs_gather_repositories_and_go_with_their_layer() {
        let mut r = RegistryBlobs::default();
        r.add(blob(b"gz", b"tar", "reg/a"));
        r.add(blob(b"gz", b"tar", "reg/b"));
        r.add(blob(b"other gz", b"other tar", "reg/a"));
        let of = r.of_layer(&Digest::of(b"tar"));
        assert_eq!(of.len(), 1);
        assert_eq!(
            of[0].repositories.iter().collect::<Vec<_>>(),
            ["reg/a", "reg/b"]
        );
        r.manifests.insert(
            Digest::of(b"manifest"),
            ManifestRecord {
                media_type: "m".into(),
                image: Digest::of(b"config"),
            },
        );
        let mut live = HashSet::new();
        let diffs: HashSet<Digest> = [Digest::of(b"tar")].into();
        let changed = r.retain_live(&diffs, &|_| false, &mut live);
        assert!(changed);
        assert_eq!(live, [Digest::of(b"gz")].into());
        assert!(r.of_layer(&Digest::of(b"other tar")).is_empty());
        assert!(r.manifests.is_empty());
        assert!(!r.retain_live(&diffs, &|_| false, &mut live));
    }
}
