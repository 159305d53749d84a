//! Changing the limits of a running container's cgroups (`docker update`), through youki's
//! libcgroups, which writes them in the order the kernel accepts (memory before or after
//! memory+swap, as the new values need) on cgroup v1, hybrid and v2 hosts alike.

use libcgroups::common::{CgroupConfig, CgroupManager, ControllerOpt};
use oci_spec::runtime::LinuxResources;

use crate::spec::{resources_json, Resources};

/// Applies `r` to the cgroup at `cgroup` (relative to each hierarchy's root, as the
/// container's `cgroupsPath`). Limits `r` leaves at zero are left as they are.
pub fn update(cgroup: &str, r: &Resources) -> Result<(), String> {
    let resources: LinuxResources =
        serde_json::from_value(resources_json(r)).map_err(|e| e.to_string())?;
    apply(cgroup, &resources, r.disable_oom_killer.unwrap_or(false))
}

/// Turns the OOM killer off for the cgroup, as `OomKillDisable` asks: libcontainer does not
/// apply the spec's `disableOOMKiller`, so the monitor calls this before the container's
/// process runs.
pub fn disable_oom_killer(cgroup: &str) -> Result<(), String> {
    let resources: LinuxResources =
        serde_json::from_value(serde_json::json!({"memory": {}})).map_err(|e| e.to_string())?;
    apply(cgroup, &resources, true)
}

fn apply(cgroup: &str, resources: &LinuxResources, disable_oom_killer: bool) -> Result<(), String> {
    let manager = libcgroups::common::create_cgroup_manager(CgroupConfig {
        cgroup_path: cgroup.into(),
        systemd_cgroup: false,
        container_name: String::new(),
    })
    .map_err(|e| e.to_string())?;
    manager
        .apply(&ControllerOpt {
            resources,
            disable_oom_killer,
            oom_score_adj: None,
            freezer_state: None,
        })
        .map_err(|e| e.to_string())
}
