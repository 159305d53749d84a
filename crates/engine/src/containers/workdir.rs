//! A container's working directory made in its files before it ever runs: what a build's
//! WORKDIR step commits, as moby's `ContainerCreateWorkdir` makes it.

use std::path::Path;

use super::ContainerService;
use crate::error::EngineError;

impl ContainerService {
    /// Makes the container's working directory, and the parents it lacks, inside its root,
    /// owned by root; an existing one is left as it is.
    pub async fn create_working_dir(&self, name: &str) -> Result<(), EngineError> {
        let entry = self.entry(name)?;
        let _op = entry.op.lock().await;
        let rec = entry.snapshot();
        let cwd = rec.spec.config.working_dir.clone();
        if cwd.trim_matches('/').is_empty() {
            return Ok(());
        }
        let (root, binds) = self.container_files(&rec)?;
        let views = self.paths.views();
        tokio::task::spawn_blocking(move || {
            berth_snapshot::run_in(root, binds, &views, move || {
                super::volumes::create_working_dir(Path::new("/"), &cwd, 0, 0)
            })
        })
        .await?
        .map_err(|e| EngineError::failed("open the container's files", e))?
    }
}
