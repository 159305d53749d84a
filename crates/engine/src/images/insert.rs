//! `POST /images/(name)/insert` (API 1.5–1.11, gone with Docker 0.10): a file downloaded
//! into a new untagged image made from another.

use std::io::Write;
use std::path::{Path, PathBuf};

use berth_image::{CommitOptions, Digest};
use berth_snapshot::View;

use super::{ByteStream, ImageService};
use crate::error::EngineError;

/// The path's components, or an error for one that names no file.
fn components(path: &str) -> Result<Vec<&str>, EngineError> {
    let parts: Vec<&str> = path
        .split('/')
        .filter(|p| !p.is_empty() && *p != ".")
        .collect();
    if parts.is_empty() || parts.contains(&"..") {
        return Err(EngineError::InvalidParameter(format!(
            "invalid insert path: {path:?}"
        )));
    }
    Ok(parts)
}

impl ImageService {
    /// Writes `body` (the download of `url`) at `path` in a new image whose parent is `name`,
    /// telling `progress` the bytes written so far as they come; returns the new image's ID.
    /// A path the image has is refused.
    pub async fn insert(
        &self,
        name: &str,
        url: &str,
        path: &str,
        body: ByteStream,
        views: PathBuf,
        progress: Box<dyn Fn(u64) + Send>,
    ) -> Result<Digest, EngineError> {
        let parent = self.store.resolve(name)?;
        let parts: Vec<String> = components(path)?.into_iter().map(str::to_string).collect();
        let store = self.store.clone();
        let staging = self
            .staging
            .join(format!("insert-{:016x}", rand::random::<u64>()));
        let opts = CommitOptions {
            config: parent.config.config.clone(),
            container_config: None,
            container: String::new(),
            author: parent.config.author.clone(),
            comment: parent.config.comment.clone(),
            created_by: format!("echo insert {url} {path}"),
            created: jiff::Timestamp::now(),
            docker_version: self.engine_version.clone(),
            architecture: super::host_arch().to_string(),
        };
        let shown = path.to_string();
        let mut body = crate::blocking_io::batched_reader(body);
        let made = tokio::task::spawn_blocking(move || {
            let layers: Vec<PathBuf> = parent
                .layers
                .iter()
                .rev()
                .map(|l| store.diff_path(&l.chain_id))
                .collect();
            let rel = parts.join("/");
            if exists_in(&layers, &rel, &views)? {
                return Err(EngineError::InvalidParameter(format!(
                    "{shown}: File already exists"
                )));
            }
            let result = (|| {
                let file_path = staging.join(&rel);
                std::fs::create_dir_all(file_path.parent().expect("a parent"))
                    .map_err(|e| EngineError::failed("stage the download", e))?;
                let mut file = std::fs::File::create(&file_path)
                    .map_err(|e| EngineError::failed("stage the download", e))?;
                let mut counted = Counted {
                    inner: &mut body,
                    bytes: 0,
                    progress,
                };
                std::io::copy(&mut counted, &mut file)
                    .map_err(|e| EngineError::failed("download", e))?;
                file.flush()
                    .map_err(|e| EngineError::failed("download", e))?;
                let (reader, writer) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)
                    .map_err(|e| EngineError::failed("pipe", std::io::Error::from(e)))?;
                let root = staging.clone();
                let packer = std::thread::spawn(move || {
                    berth_archive::pack(&root, std::fs::File::from(writer))
                });
                let image = store.commit(&parent, &mut std::fs::File::from(reader), &opts);
                packer
                    .join()
                    .map_err(|_| EngineError::Internal("the layer writer panicked".into()))?
                    .map_err(|e| EngineError::failed("write the layer", e))?;
                Ok(image?.id)
            })();
            let _ = std::fs::remove_dir_all(&staging);
            result
        })
        .await??;
        self.publish("insert", &made, made.to_string());
        Ok(made)
    }
}

/// A reader that tells `progress` its running count.
struct Counted<'a, R> {
    inner: &'a mut R,
    bytes: u64,
    progress: Box<dyn Fn(u64) + Send>,
}

impl<R: std::io::Read> std::io::Read for Counted<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.bytes += n as u64;
        (self.progress)(self.bytes);
        Ok(n)
    }
}

/// Whether the image whose layers are `layers` (top first) has `rel`: looked up in a
/// read-only mount of them, which applies their whiteouts (a lone layer has none).
fn exists_in(layers: &[PathBuf], rel: &str, views: &Path) -> Result<bool, EngineError> {
    let exists = |root: &Path| root.join(rel).symlink_metadata().is_ok();
    match layers {
        [] => Ok(false),
        [only] => Ok(exists(only)),
        _ => {
            let view = View::mount(&berth_snapshot::read_only(layers), views)
                .map_err(|e| EngineError::failed("mount the image", e))?;
            Ok(exists(view.path()))
        }
    }
}
