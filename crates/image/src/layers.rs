//! Layers unpacked once, each into its own directory usable as an overlayfs lower layer.
//!
//! A layer is named by its chain ID (the digest of its own diff and all below it), so two
//! images that share a base share its directories. Each layer directory holds `diff/` (the
//! unpacked changes, whiteouts as overlayfs stores them) and `layer.json`.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::content::ContentStore;
use crate::digest::Digest;
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
    /// Bytes of the layer's uncompressed tar (what `docker save` writes); absent in records
    /// older than it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tar_size: Option<u64>,
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
        Ok(Self {
            root: root.to_path_buf(),
        })
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

    /// Unpacks the layer tar stored as blob `diff_id` on top of `parent`. Returns the layer
    /// and whether it was new (an existing layer with the same chain is reused as is).
    pub fn create(
        &self,
        content: &ContentStore,
        parent: Option<&Digest>,
        diff_id: &Digest,
    ) -> Result<(LayerInfo, bool), ImageError> {
        if let Some(existing) = self.get(&chain_id(parent, diff_id)) {
            return Ok((existing, false));
        }
        let blob = content.open_blob(diff_id)?;
        let mut blob = io::BufReader::with_capacity(256 * 1024, blob);
        // The blob's digest was checked when it was stored.
        self.unpack_new(parent, diff_id, &mut blob, false)
    }

    /// Unpacks the layer tar `tar` on top of `parent` as it streams, checking that its digest
    /// is `diff_id` once it ends: a pulled layer, whose compressed blob is what the store
    /// keeps (no uncompressed copy is written).
    pub fn create_from_tar(
        &self,
        parent: Option<&Digest>,
        tar: &mut dyn io::Read,
        diff_id: &Digest,
    ) -> Result<(LayerInfo, bool), ImageError> {
        if let Some(existing) = self.get(&chain_id(parent, diff_id)) {
            return Ok((existing, false));
        }
        self.unpack_new(parent, diff_id, tar, true)
    }

    /// Unpacks `tar` into a new layer directory on `parent`, checked against `diff_id` when
    /// `check` says so, and moves it into place; a failure leaves nothing.
    fn unpack_new(
        &self,
        parent: Option<&Digest>,
        diff_id: &Digest,
        tar: &mut dyn io::Read,
        check: bool,
    ) -> Result<(LayerInfo, bool), ImageError> {
        let tmp = self
            .root
            .join(format!("{TMP_PREFIX}{}", rand::random::<u64>()));
        let result = (|| {
            let diff = tmp.join("diff");
            fs::create_dir_all(&diff).map_err(ImageError::io("create layer directory"))?;
            let mut counted = HashingReader::new(tar, check);
            let stats = berth_archive::unpack(
                &mut counted,
                &diff,
                &berth_archive::UnpackOptions::default(),
            )?;
            // The digest and length cover the padding after the end marker too.
            io::copy(&mut counted, &mut io::sink()).map_err(ImageError::io("read layer"))?;
            let (got, tar_size) = counted.finish();
            if let Some(got) = got.filter(|got| got != diff_id) {
                return Err(ImageError::InvalidInput(format!(
                    "layer digest mismatch: expected {diff_id}, got {got}"
                )));
            }
            let info = LayerInfo {
                chain_id: chain_id(parent, diff_id),
                diff_id: *diff_id,
                parent: parent.copied(),
                size: stats.bytes,
                tar_size: Some(tar_size),
            };
            self.commit_dir(&tmp, info)
        })();
        if !matches!(result, Ok((_, true))) {
            let _ = fsutil::remove_any(&tmp);
        }
        result
    }

    /// Writes `layer.json` into the finished directory `tmp` and moves it into place.
    fn commit_dir(&self, tmp: &Path, info: LayerInfo) -> Result<(LayerInfo, bool), ImageError> {
        let chain = info.chain_id;
        let meta = serde_json::to_vec(&info).expect("layer info serialises");
        fsutil::write_atomic(&tmp.join("layer.json"), &meta)
            .map_err(ImageError::io("write layer.json"))?;
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

/// A reader that counts what passes through it, and hashes it (SHA-256) when asked to.
pub(crate) struct HashingReader<R> {
    inner: R,
    hasher: Option<sha2::Sha256>,
    read: u64,
}

impl<R: io::Read> HashingReader<R> {
    pub fn new(inner: R, hash: bool) -> Self {
        use sha2::Digest as _;
        HashingReader {
            inner,
            hasher: hash.then(sha2::Sha256::new),
            read: 0,
        }
    }

    /// The digest of everything read (when hashed), and its length.
    pub fn finish(self) -> (Option<Digest>, u64) {
        use sha2::Digest as _;
        let digest = self
            .hasher
            .map(|h| Digest::from_hex(&hex::encode(h.finalize())).expect("sha256 hex"));
        (digest, self.read)
    }
}

impl<R: io::Read> io::Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        use sha2::Digest as _;
        let n = self.inner.read(buf)?;
        if let Some(h) = &mut self.hasher {
            h.update(&buf[..n]);
        }
        self.read += n as u64;
        Ok(n)
    }
}
