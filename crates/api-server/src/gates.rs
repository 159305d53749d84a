//! Every difference between API versions, as a named predicate. Each cites the version that
//! introduced the change; handlers and `compat` call these, never compare versions inline.

use berth_api_types::ApiVersion;

const fn v(minor: u16) -> ApiVersion {
    ApiVersion::new(1, minor)
}

/// Error bodies are JSON `{"message":…}` from API 1.24 (Docker 1.12); plain text before.
pub fn json_errors(version: ApiVersion) -> bool {
    version >= v(24)
}

/// Image IDs carry the `sha256:` prefix from API 1.22 (Docker 1.10, content-addressed images).
pub fn prefixed_image_ids(version: ApiVersion) -> bool {
    version >= v(22)
}

/// `GET /images/json` returns one row per `repo:tag` (`Repository`, `Tag`) below API 1.7
/// (1.7 doc: `RepoTags`; moby v1.6.0 `getImagesJSON`: `version.LessThan("1.7")`).
pub fn legacy_image_rows(version: ApiVersion) -> bool {
    version < v(7)
}

/// `GET /images/(name)/json` answers the raw lower-case image JSON below API 1.12
/// (1.11 doc; moby v1.6.0 `getImagesByName`: `version.LessThan("1.12")`).
pub fn raw_image_inspect(version: ApiVersion) -> bool {
    version < v(12)
}

/// `/version` has `ApiVersion`, `Os`, `Arch`, `KernelVersion` from API 1.11 (Docker 0.11).
pub fn version_has_platform(version: ApiVersion) -> bool {
    version >= v(11)
}

/// `/version` has `MinAPIVersion` and `BuildTime` from API 1.19/1.25 (Docker 1.7+); shown
/// to clients above the documented range.
pub fn version_has_min_api(version: ApiVersion) -> bool {
    version >= v(25)
}

/// History entries name the image (its first tag, or short ID) in `Id` below API 1.7; full
/// IDs after.
pub fn history_names_images(version: ApiVersion) -> bool {
    version < v(7)
}

/// Untagged images are listed with `<none>:<none>` and `<none>@<none>` placeholders below
/// API 1.43 (Docker 24 lists empty `RepoTags`/`RepoDigests`).
pub fn image_list_placeholder_tags(version: ApiVersion) -> bool {
    version < v(43)
}

/// `POST /images/(name)/tag` refuses to move an existing tag without `force` before API 1.22
/// (Docker 1.10 ignores `force` and always moves it).
pub fn tag_needs_force(version: ApiVersion) -> bool {
    version < v(22)
}

/// `POST /images/load` answers a JSON progress stream (`Loaded image: …`) from API 1.23;
/// before, an empty 200.
pub fn load_reports_progress(version: ApiVersion) -> bool {
    version >= v(23)
}

/// `/info` has `OperatingSystem` from API 1.15 (doc), `ID`, `Name`, `NCPU`, `MemTotal`,
/// `DockerRootDir`, `Labels`, proxies and `SystemTime` from API 1.18 (doc).
pub fn info_has_host_details(version: ApiVersion) -> bool {
    version >= v(18)
}

pub fn info_has_operating_system(version: ApiVersion) -> bool {
    version >= v(15)
}

/// `/info` has the `ExecutionDriver`, `InitPath`, `InitSha1` fields from API 1.11 to 1.24.
pub fn info_has_exec_driver(version: ApiVersion) -> bool {
    version >= v(11) && version < v(25)
}

/// `/info` container state counts and the modern fields (`ContainersRunning`, `OSType`,
/// `Architecture`, `ServerVersion`, `CgroupDriver`…) arrive after the documented range.
pub fn info_has_modern_fields(version: ApiVersion) -> bool {
    version >= v(19)
}

/// `GET /events` accepts `filters` from API 1.18 (1.18 doc; absent from 1.15).
pub fn events_have_filters(version: ApiVersion) -> bool {
    version >= v(18)
}

/// `GET /containers/json` entries have `Labels` from API 1.18 (1.18 doc).
pub fn container_list_has_labels(version: ApiVersion) -> bool {
    version >= v(18)
}

/// `GET /containers/json` entries have `ImageID` from 1.21 and `State` from 1.23 (Docker 1.9, 1.11).
pub fn container_list_has_image_id(version: ApiVersion) -> bool {
    version >= v(21)
}

pub fn container_list_has_state(version: ApiVersion) -> bool {
    version >= v(23)
}

/// Container inspect: `State.Status`/`State.Dead` from API 1.21 (Docker 1.9); `Config.StopSignal`
/// from 1.21; `Volumes`/`VolumesRW` until 1.20 (replaced by `Mounts`); `ExecDriver` until 1.24.
pub fn inspect_state_has_status(version: ApiVersion) -> bool {
    version >= v(21)
}

pub fn inspect_has_volumes_maps(version: ApiVersion) -> bool {
    version < v(21)
}

/// Container inspect: `NetworkSettings` spells `IpAddress`/`IpPrefixLen` and has no
/// `MacAddress` below API 1.18 (the 1.7, 1.11 and 1.15 docs; the 1.18 doc shows `IPAddress`,
/// `IPPrefixLen`, `MacAddress` and `Ports`).
pub fn legacy_network_settings(version: ApiVersion) -> bool {
    version < v(18)
}

/// `POST /containers/create` reads `Memory`, `MemorySwap`, `CpuShares`, `Cpuset`, `Dns` and
/// `VolumesFrom` from the top level of the body before API 1.18 (the 1.15 doc shows them
/// there; 1.18 shows them in `HostConfig`).
pub fn create_has_toplevel_resources(version: ApiVersion) -> bool {
    version < v(18)
}

/// `POST /containers/(id)/wait` takes `condition` and sends its headers at once from API 1.30.
pub fn wait_has_condition(version: ApiVersion) -> bool {
    version >= v(30)
}

/// Multiplexed output (attach, exec, logs without a terminal) is sent as
/// `application/vnd.docker.multiplexed-stream` from API 1.42; `raw-stream` before.
pub fn multiplexed_stream_type(version: ApiVersion) -> bool {
    version >= v(42)
}

/// `POST /containers/(id)/start` accepts a `HostConfig` body until API 1.24 (removed in 1.24).
pub fn start_accepts_host_config(version: ApiVersion) -> bool {
    version < v(24)
}

/// Stats: `precpu_stats`, `preread` and `stream=` from API 1.19; `networks` per interface
/// (instead of one `network`) and `pids_stats` from 1.21/1.23.
pub fn stats_have_precpu(version: ApiVersion) -> bool {
    version >= v(19)
}

pub fn stats_have_networks(version: ApiVersion) -> bool {
    version >= v(21)
}

/// Exec inspect has `ContainerID` and `Pid` from API 1.22/1.25 instead of only the embedded
/// `Container` object (1.18 doc).
pub fn exec_inspect_has_container_id(version: ApiVersion) -> bool {
    version >= v(22)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gates_by_documented_version() {
        assert!(!json_errors(v(18)) && !json_errors(v(23)) && json_errors(v(24)));
        assert!(legacy_image_rows(v(5)) && !legacy_image_rows(v(7)));
        assert!(raw_image_inspect(v(11)) && !raw_image_inspect(v(15)));
        assert!(!version_has_platform(v(7)) && version_has_platform(v(11)));
        assert!(tag_needs_force(v(18)));
        assert!(!load_reports_progress(v(18)));
        assert!(!prefixed_image_ids(v(18)) && prefixed_image_ids(v(22)));
        assert!(!events_have_filters(v(15)) && events_have_filters(v(18)));
        assert!(
            info_has_operating_system(v(15))
                && !info_has_host_details(v(15))
                && info_has_host_details(v(18))
        );
        assert!(history_names_images(v(5)) && !history_names_images(v(7)));
        assert!(image_list_placeholder_tags(v(42)) && !image_list_placeholder_tags(v(43)));
        assert!(!container_list_has_labels(v(15)) && container_list_has_labels(v(18)));
        assert!(
            !container_list_has_state(v(18))
                && !inspect_state_has_status(v(18))
                && inspect_has_volumes_maps(v(18))
        );
        assert!(create_has_toplevel_resources(v(15)) && !create_has_toplevel_resources(v(18)));
        assert!(start_accepts_host_config(v(18)));
        assert!(legacy_network_settings(v(15)) && !legacy_network_settings(v(18)));
    }
}
