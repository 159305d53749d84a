//! Content-addressed blobs, verified on commit.

use std::fs::{self, File};
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest as _, Sha256};

use crate::digest::Digest;
use crate::error::ImageError;
use crate::fsutil;

/// `blobs/sha256/<hex>` plus an `ingest/` directory for blobs being written.
#[derive(Debug, Clone)]
pub struct ContentStore {
    blobs: PathBuf,
    ingest: PathBuf,
}

impl ContentStore {
    /// Opens the store under `root`, removing unfinished ingests.
    pub fn open(root: &Path) -> io::Result<Self> {
        let blobs = root.join("blobs").join("sha256");
        let ingest = root.join("ingest");
        fs::create_dir_all(&blobs)?;
        let _ = fs::remove_dir_all(&ingest);
        fs::create_dir_all(&ingest)?;
        Ok(Self { blobs, ingest })
    }

    pub fn path(&self, d: &Digest) -> PathBuf {
        self.blobs.join(d.hex())
    }

    pub fn has(&self, d: &Digest) -> bool {
        self.path(d).exists()
    }

    pub fn read(&self, d: &Digest) -> Result<Vec<u8>, ImageError> {
        fs::read(self.path(d)).map_err(ImageError::io(format!("read blob {d}")))
    }

    pub fn open_blob(&self, d: &Digest) -> Result<File, ImageError> {
        File::open(self.path(d)).map_err(ImageError::io(format!("open blob {d}")))
    }

    pub fn delete(&self, d: &Digest) -> io::Result<()> {
        fsutil::remove_any(&self.path(d))
    }

    /// Every blob digest present.
    pub fn list(&self) -> io::Result<Vec<Digest>> {
        let mut out = Vec::new();
        for e in fs::read_dir(&self.blobs)? {
            if let Some(d) = e?.file_name().to_str().and_then(Digest::from_hex) {
                out.push(d);
            }
        }
        Ok(out)
    }

    /// Stores `data`, returning its digest.
    pub fn put(&self, data: &[u8]) -> Result<Digest, ImageError> {
        let mut w = self.writer()?;
        w.write_all(data).map_err(ImageError::io("write blob"))?;
        w.commit(None)
    }

    /// Starts a blob; bytes written are hashed as they go.
    pub fn writer(&self) -> Result<BlobWriter, ImageError> {
        let tmp = self
            .ingest
            .join(format!("{}-{}", std::process::id(), rand::random::<u64>()));
        let file = File::create(&tmp).map_err(ImageError::io("create ingest file"))?;
        Ok(BlobWriter {
            file: Some(BufWriter::with_capacity(256 * 1024, file)),
            tmp,
            hasher: Sha256::new(),
            size: 0,
            blobs: self.blobs.clone(),
        })
    }

    /// Copies `reader` into a blob and commits it.
    pub fn put_reader(
        &self,
        reader: &mut dyn Read,
        expected: Option<&Digest>,
    ) -> Result<(Digest, u64), ImageError> {
        let mut w = self.writer()?;
        io::copy(reader, &mut w).map_err(ImageError::io("write blob"))?;
        let size = w.size;
        Ok((w.commit(expected)?, size))
    }
}

/// A blob being written. Dropped without [`BlobWriter::commit`], it leaves nothing behind.
pub struct BlobWriter {
    file: Option<BufWriter<File>>,
    tmp: PathBuf,
    hasher: Sha256,
    size: u64,
    blobs: PathBuf,
}

impl BlobWriter {
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Verifies the digest (when one is expected), syncs and moves the blob into place.
    pub fn commit(mut self, expected: Option<&Digest>) -> Result<Digest, ImageError> {
        let digest = Digest::from_hex(&hex::encode(std::mem::take(&mut self.hasher).finalize()))
            .expect("sha256 hex");
        if let Some(want) = expected {
            if *want != digest {
                return Err(ImageError::InvalidInput(format!(
                    "digest mismatch: expected {want}, got {digest}"
                )));
            }
        }
        let file = self.file.take().expect("not committed twice");
        let file = file
            .into_inner()
            .map_err(|e| ImageError::io("flush blob")(e.into_error()))?;
        file.sync_all().map_err(ImageError::io("sync blob"))?;
        let dest = self.blobs.join(digest.hex());
        fs::rename(&self.tmp, &dest).map_err(ImageError::io("commit blob"))?;
        fsutil::sync_dir(&self.blobs).map_err(ImageError::io("sync blob dir"))?;
        Ok(digest)
    }
}

impl Write for BlobWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.file.as_mut().expect("open").write(buf)?;
        self.hasher.update(&buf[..n]);
        self.size += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.as_mut().expect("open").flush()
    }
}

impl Drop for BlobWriter {
    fn drop(&mut self) {
        if self.file.is_some() {
            let _ = fs::remove_file(&self.tmp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn put_verifies_and_uncommitted_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let cs = ContentStore::open(dir.path()).unwrap();
        let d = cs.put(b"hello").unwrap();
        assert_eq!(d, Digest::of(b"hello"));
        assert_eq!(cs.read(&d).unwrap(), b"hello");
        let mut w = cs.writer().unwrap();
        w.write_all(b"other").unwrap();
        assert!(w.commit(Some(&d)).is_err());
        let mut w = cs.writer().unwrap();
        w.write_all(b"dropped").unwrap();
        drop(w);
        assert_eq!(fs::read_dir(dir.path().join("ingest")).unwrap().count(), 0);
        assert_eq!(cs.list().unwrap(), vec![d]);
    }
}
