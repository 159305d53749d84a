//! Layers unpacked once, each into its own directory usable as an overlayfs lower layer.
//!
//! A layer is named by its chain ID (the digest of its own diff and all below it), so two
//! images that share a base share its directories. Each layer directory holds `diff/` (the
//! unpacked changes, whiteouts as overlayfs stores them) and `layer.json`.

use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::content::{ContentStore, TeeReader};
use crate::digest::{Digest, HashingReader};
use crate::error::ImageError;
use crate::fsutil;

/// What is known of a stored layer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LayerInfo {
    pub chain_id: Digest,
    pub diff_id: Digest,
    pub parent: Option<Digest>,
    /// Bytes of file content in this layer's diff.
    pub size: u64,
}

/// `chainID(L0) = diffID(L0)`; `chainID(Ln) = sha256(chainID(Ln-1) + " " + diffID(Ln))`.
pub fn chain_id(parent: Option<&Digest>, diff_id: &Digest) -> Digest {
    match parent {
        None => *diff_id,
        Some(p) => Digest::of(format!("{p} {diff_id}").as_bytes()),
    }
}

#[derive(Debug, Clone)]
pub(crate) struct LayerStore {
    root: PathBuf,
}

const TMP_PREFIX: &str = "tmp-";

impl LayerStore {
    pub fn open(root: &Path) -> io::Result<Self> {
        fs::create_dir_all(root)?;
        for e in fs::read_dir(root)? {
            let e = e?;
            if e.file_name().to_string_lossy().starts_with(TMP_PREFIX) {
                tracing::info!(path = %e.path().display(), "removing unfinished layer");
                fsutil::remove_any(&e.path())?;
            }
        }
        Ok(Self { root: root.to_path_buf() })
    }

    fn dir(&self, chain: &Digest) -> PathBuf {
        self.root.join(chain.hex())
    }

    /// The unpacked diff directory of a layer.
    pub fn diff_path(&self, chain: &Digest) -> PathBuf {
        self.dir(chain).join("diff")
    }

    pub fn get(&self, chain: &Digest) -> Option<LayerInfo> {
        let data = fs::read(self.dir(chain).join("layer.json")).ok()?;
        serde_json::from_slice(&data).ok()
    }

    pub fn list(&self) -> io::Result<Vec<Digest>> {
        let mut out = Vec::new();
        for e in fs::read_dir(&self.root)? {
            if let Some(d) = e?.file_name().to_str().and_then(Digest::from_hex) {
                out.push(d);
            }
        }
        Ok(out)
    }

    pub fn remove(&self, chain: &Digest) -> io::Result<()> {
        // Rename first so a crash mid-removal leaves a tmp- directory, swept at start.
        let dir = self.dir(chain);
        let doomed = self.root.join(format!("{TMP_PREFIX}rm-{}", chain.hex()));
        match fs::rename(&dir, &doomed) {
            Ok(()) => fsutil::remove_any(&doomed),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Unpacks the uncompressed layer tar `tar` on top of `parent`, keeping the tar itself as
    /// a blob (named by its diff ID). Returns the layer and whether it was new.
    pub fn create(
        &self,
        content: &ContentStore,
        parent: Option<&Digest>,
        tar: &mut dyn Read,
        expected_diff: Option<&Digest>,
    ) -> Result<(LayerInfo, bool), ImageError> {
        let tmp = self.root.join(format!("{TMP_PREFIX}{}", rand::random::<u64>()));
        let result = self.create_in(&tmp, content, parent, tar, expected_diff);
        if !matches!(result, Ok((_, true))) {
            let _ = fsutil::remove_any(&tmp);
        }
        result
    }

    fn create_in(
        &self,
        tmp: &Path,
        content: &ContentStore,
        parent: Option<&Digest>,
        tar: &mut dyn Read,
        expected_diff: Option<&Digest>,
    ) -> Result<(LayerInfo, bool), ImageError> {
        let diff = tmp.join("diff");
        fs::create_dir_all(&diff).map_err(ImageError::io("create layer directory"))?;
        let mut blob = content.writer()?;
        let mut hashing = HashingReader::new(TeeReader { inner: tar, sink: &mut blob });
        let stats = berth_archive::unpack(&mut hashing, &diff, &berth_archive::UnpackOptions::default())?;
        let (diff_id, _) = hashing.finish().map_err(ImageError::io("read layer"))?;
        if let Some(want) = expected_diff {
            if *want != diff_id {
                return Err(ImageError::InvalidInput(format!("layer digest mismatch: expected {want}, got {diff_id}")));
            }
        }
        blob.commit(Some(&diff_id))?;
        let chain = chain_id(parent, &diff_id);
        let info = LayerInfo { chain_id: chain, diff_id, parent: parent.copied(), size: stats.bytes };
        if self.get(&chain).is_some() {
            return Ok((info, false));
        }
        let meta = serde_json::to_vec(&info).expect("layer info serialises");
        fsutil::write_atomic(&tmp.join("layer.json"), &meta).map_err(ImageError::io("write layer.json"))?;
        match fs::rename(tmp, self.dir(&chain)) {
            Ok(()) => {}
            // Another import committed the same layer first.
            Err(_) if self.get(&chain).is_some() => return Ok((info, false)),
            Err(e) => return Err(ImageError::io("commit layer")(e)),
        }
        fsutil::sync_dir(&self.root).map_err(ImageError::io("sync layers"))?;
        Ok((info, true))
    }
}
