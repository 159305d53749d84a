//! The processes of a running container.

use super::procs;
use super::settings;
use super::ContainerService;
use crate::error::EngineError;

impl ContainerService {
    /// `GET /containers/(id)/top?ps_args=`.
    pub async fn top(&self, name: &str, ps_args: &str) -> Result<procs::TopResult, EngineError> {
        let rec = self.entry(name)?.snapshot();
        rec.state.status.check_running(&rec.id)?;
        let ps_args = ps_args.to_string();
        let cgroup = settings::cgroup_path(&rec);
        let helper = std::fs::read_to_string(self.paths.exec_helper_pid(&rec.id))
            .ok()
            .and_then(|p| p.trim().parse().ok());
        tokio::task::spawn_blocking(move || procs::top(&cgroup, &ps_args, helper)).await?
    }
}
