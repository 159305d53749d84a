//! Every behaviour and structure difference between API versions, as a named predicate. Each
//! cites the version that introduced the change; handlers and `compat` call these, never
//! compare versions inline. Which fields an answer has at a version is data, in
//! [`crate::fields`].

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

/// `GET /events` accepts `filters` from API 1.18 (1.18 doc; absent from 1.15).
pub fn events_have_filters(version: ApiVersion) -> bool {
    version >= v(18)
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

/// The prune endpoints and `GET /system/df` exist from API 1.25 (Docker 1.13), as do the
/// plugin endpoints.
pub fn prune_and_disk_usage(version: ApiVersion) -> bool {
    version >= v(25)
}

/// `POST /containers/(id)/update` exists from API 1.22 (Docker 1.10).
pub fn container_update(version: ApiVersion) -> bool {
    version >= v(22)
}

/// `stop` and `restart` take a `signal` from API 1.42 (Docker 22.06).
pub fn stop_takes_signal(version: ApiVersion) -> bool {
    version >= v(42)
}

/// Swarm mode's endpoints exist from API 1.24 (Docker 1.12).
pub fn swarm_endpoints(version: ApiVersion) -> bool {
    version >= v(24)
}

/// A commit pauses a running container unless told not to from API 1.13 (Docker 1.13);
/// before, only when `pause` says so.
pub fn commit_pauses_by_default(version: ApiVersion) -> bool {
    version >= v(13)
}

/// Progress text spells sizes `1.5 MB` below API 1.24 (Docker before 1.12), `1.5MB` from it.
pub fn progress_units(version: ApiVersion) -> crate::stream::progress::Units {
    if version < v(24) {
        crate::stream::progress::Units::Spaced
    } else {
        crate::stream::progress::Units::Joined
    }
}

/// `POST /images/(name)/insert` exists up to API 1.11 (Docker 0.9; removed in 0.10).
pub fn legacy_insert(version: ApiVersion) -> bool {
    version <= v(11)
}

/// `POST /containers/(id)/copy` answers below API 1.24 only (deprecated in Docker 1.8, gone
/// with 1.12, which answers 404 to it).
pub fn legacy_copy(version: ApiVersion) -> bool {
    version < v(24)
}

/// `POST /build/prune` exists from API 1.31 (Docker 17.07).
pub fn build_prune(version: ApiVersion) -> bool {
    version >= v(31)
}

/// A create without `IpcMode` gets `shareable` below API 1.40, the daemon's `private`
/// from it (moby `postContainersCreate`, v1.40 changelog).
pub fn default_ipc_shareable(version: ApiVersion) -> bool {
    version < v(40)
}

/// `BindOptions.NonRecursive` is read from API 1.40.
pub fn bind_non_recursive(version: ApiVersion) -> bool {
    version >= v(40)
}

/// From API 1.42 (Docker 23.0): `ConsoleSize` at create is honoured,
/// `BindOptions.CreateMountpoint` is read, and options of another mount type are refused
/// (before they were dropped).
pub fn console_size_and_mount_checks(version: ApiVersion) -> bool {
    version >= v(42)
}

/// `HostConfig.Annotations` is read from API 1.43.
pub fn annotations(version: ApiVersion) -> bool {
    version >= v(43)
}

/// `Healthcheck.StartInterval` and `BindOptions.ReadOnlyForceRecursive` from API 1.44.
pub fn start_interval_and_recursive_read_only(version: ApiVersion) -> bool {
    version >= v(44)
}

/// `attach/ws` sends output in binary frames from API 1.28 (moby 28176); text frames before.
pub fn websocket_binary_frames(version: ApiVersion) -> bool {
    version >= v(28)
}

/// `attach/ws` reads `stdin`, `stdout` and `stderr` from API 1.42; before, all three are on.
pub fn websocket_stream_choice(version: ApiVersion) -> bool {
    version >= v(42)
}

/// `stats?one-shot=true` answers at once, without a previous sample, from API 1.41.
pub fn stats_one_shot(version: ApiVersion) -> bool {
    version >= v(41)
}

/// `POST /images/create` takes `platform` from API 1.32.
pub fn pull_platform(version: ApiVersion) -> bool {
    version >= ApiVersion::new(1, 32)
}

/// `POST /auth` answers an `IdentityToken` from API 1.23.
pub fn login_identity_token(version: ApiVersion) -> bool {
    version >= ApiVersion::new(1, 23)
}

/// `GET /images/search` takes `limit` and `filters` from API 1.24.
pub fn search_limit_and_filters(version: ApiVersion) -> bool {
    version >= ApiVersion::new(1, 24)
}

/// The shape of search results at each version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SearchShape {
    /// Docker 0.6 (API below 1.7): `Name` and `Description`.
    Capitalised,
    /// API 1.7 to 1.11: the index's keys, with `is_trusted`.
    Trusted,
    /// From API 1.12: `is_automated`.
    Automated,
}

pub fn search_shape(version: ApiVersion) -> SearchShape {
    if version < ApiVersion::new(1, 7) {
        SearchShape::Capitalised
    } else if version < ApiVersion::new(1, 12) {
        SearchShape::Trusted
    } else {
        SearchShape::Automated
    }
}

/// How a build numbers its steps: from zero before API 1.22 (Docker 1.10), from one to
/// 1.24, out of the total from 1.25 (Docker 1.13).
pub fn build_step_numbering(version: ApiVersion) -> crate::backend::StepNumbering {
    use crate::backend::StepNumbering;
    if version < ApiVersion::new(1, 22) {
        StepNumbering::FromZero
    } else if version < ApiVersion::new(1, 25) {
        StepNumbering::FromOne
    } else {
        StepNumbering::OfTotal
    }
}

/// A build's stream is plain text below API 1.8, JSON messages from it.
pub fn build_json_stream(version: ApiVersion) -> bool {
    version >= ApiVersion::new(1, 8)
}

/// `/volumes` exists from API 1.21 (Docker 1.9).
pub fn volumes(version: ApiVersion) -> bool {
    version >= v(21)
}

/// `GET /networks` lists each network's containers below API 1.28; from 1.28 only a
/// network's inspect does (CHANGELOG v1.28), and the list has `Containers: {}`.
pub fn network_list_has_containers(version: ApiVersion) -> bool {
    version < v(28)
}

/// A create may name several networks in `EndpointsConfig` from API 1.44 (before it, one,
/// and the others are connected after).
pub fn several_networks_at_create(version: ApiVersion) -> bool {
    version >= v(44)
}

/// Below API 1.45 Docker lists the container's short ID among its `Aliases` on a
/// user-defined network (compose looks for it); from 1.45 it is in `DNSNames` only.
pub fn short_id_in_aliases(version: ApiVersion) -> bool {
    version < v(45)
}

/// `POST /volumes/prune` removes named volumes only when asked (`all`) from API 1.42.
pub fn prune_named_volumes_on_request(version: ApiVersion) -> bool {
    version >= v(42)
}

/// A build's stream carries the image ID as `aux` from API 1.30.
pub fn build_aux(version: ApiVersion) -> bool {
    version >= ApiVersion::new(1, 30)
}

/// `GET /distribution/{name}/json` exists from API 1.30.
pub fn distribution_inspect(version: ApiVersion) -> bool {
    version >= ApiVersion::new(1, 30)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gates_by_documented_version() {
        assert!(!json_errors(v(18)) && !json_errors(v(23)) && json_errors(v(24)));
        assert!(legacy_image_rows(v(5)) && !legacy_image_rows(v(7)));
        assert!(raw_image_inspect(v(11)) && !raw_image_inspect(v(15)));
        assert!(tag_needs_force(v(18)));
        assert!(!load_reports_progress(v(18)));
        assert!(!prefixed_image_ids(v(18)) && prefixed_image_ids(v(22)));
        assert!(!events_have_filters(v(15)) && events_have_filters(v(18)));
        assert!(history_names_images(v(5)) && !history_names_images(v(7)));
        assert!(image_list_placeholder_tags(v(42)) && !image_list_placeholder_tags(v(43)));
        assert!(!wait_has_condition(v(29)) && wait_has_condition(v(30)));
        assert!(!multiplexed_stream_type(v(41)) && multiplexed_stream_type(v(42)));
        assert!(create_has_toplevel_resources(v(15)) && !create_has_toplevel_resources(v(18)));
        assert!(start_accepts_host_config(v(18)));
        assert!(legacy_network_settings(v(15)) && !legacy_network_settings(v(18)));
        assert!(!prune_and_disk_usage(v(24)) && prune_and_disk_usage(v(25)));
        assert!(!container_update(v(21)) && container_update(v(22)));
        assert!(!swarm_endpoints(v(23)) && swarm_endpoints(v(24)));
        assert!(!build_prune(v(30)) && build_prune(v(31)));
        assert!(!stop_takes_signal(v(41)) && stop_takes_signal(v(42)));
        assert!(default_ipc_shareable(v(39)) && !default_ipc_shareable(v(40)));
        assert!(!bind_non_recursive(v(39)) && bind_non_recursive(v(40)));
        assert!(!console_size_and_mount_checks(v(41)) && console_size_and_mount_checks(v(42)));
        assert!(!annotations(v(42)) && annotations(v(43)));
        assert!(!stats_one_shot(v(40)) && stats_one_shot(v(41)));
        assert!(!websocket_binary_frames(v(27)) && websocket_binary_frames(v(28)));
        assert!(!websocket_stream_choice(v(41)) && websocket_stream_choice(v(42)));
        assert!(
            !start_interval_and_recursive_read_only(v(43))
                && start_interval_and_recursive_read_only(v(44))
        );
    }
}
