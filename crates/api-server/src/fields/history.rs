//! Hand-written rows of the field table: when fields came and went before API 1.25 (the
//! first version moby's definitions describe), and where those definitions are wrong about
//! what the daemon sent. Each row cites its source: the API documents of the version (the
//! `docs/api/v1.N.md` pages, and moby's `api/docs/CHANGELOG.md`, its version history).

/// A field of an answer from `added` until `removed`, overriding the derived row if any.
#[derive(Debug, Clone, Copy)]
pub(super) struct Row {
    pub route: &'static str,
    pub field: &'static str,
    /// The type, for a field the definitions do not have.
    pub ty: &'static str,
    pub added: &'static str,
    pub removed: Option<&'static str>,
    pub cite: &'static str,
}

/// A path the definitions list that is not a field the daemon sends (with what is below it).
#[derive(Debug, Clone, Copy)]
pub(super) struct NotField {
    pub route: &'static str,
    pub field: &'static str,
    #[cfg_attr(not(test), allow(dead_code))]
    pub cite: &'static str,
}

/// Paths the definitions of some versions spell wrongly: rows under `from` are rows under
/// `to`, merged with the rows the later definitions give there.
#[derive(Debug, Clone, Copy)]
pub(super) struct Moved {
    pub route: &'static str,
    pub from: &'static str,
    pub to: &'static str,
    #[cfg_attr(not(test), allow(dead_code))]
    pub cite: &'static str,
}

pub(super) const MOVED: &[Moved] = &[Moved {
    route: "GET /system/df",
    from: "Containers[][]",
    to: "Containers[]",
    cite: "v1.40 definitions correct `Containers` of v1.25–v1.39 from a list of lists to a list of containers; the daemon always sent a list of containers",
}];

const VERSION: &str = "GET /version";
const INFO: &str = "GET /info";
const CONTAINERS: &str = "GET /containers/json";
const INSPECT: &str = "GET /containers/{id}/json";
const IMAGES: &str = "GET /images/json";
const IMAGE: &str = "GET /images/{name}/json";
const HISTORY: &str = "GET /images/{name}/history";
const EXEC: &str = "GET /exec/{id}/json";
const EVENTS: &str = "GET /events";

const DOC_1_5: &str = "v1.5 document";
const DOC_1_7: &str = "v1.7 document";
const DOC_1_11: &str = "v1.11 document";
const DOC_1_15: &str = "v1.15 document";
const DOC_1_18: &str = "v1.18 document";
/// moby's `api/docs/v1.N.md`, the request examples of versions past the seeds.
const MOBY_DOC_1_19: &str = "moby api/docs/v1.19.md create example";
const MOBY_DOC_1_20: &str = "moby api/docs/v1.20.md create example";
const MOBY_DOC_1_21: &str = "moby api/docs/v1.21.md create example";
const MOBY_DOC_1_22: &str = "moby api/docs/v1.22.md create example";
const MOBY_DOC_1_24: &str = "moby api/docs/v1.24.md create example";
/// Fields the v1.19–v1.24 documents never show: first described by the v1.25 definitions.
const FIRST_IN_1_25: &str =
    "absent from moby api/docs/v1.19–v1.24.md; first in the v1.25 definitions";
const LOG_1_19: &str = "CHANGELOG v1.19";
const LOG_1_20: &str = "CHANGELOG v1.20";
const LOG_1_21: &str = "CHANGELOG v1.21";
const LOG_1_22: &str = "CHANGELOG v1.22";
const LOG_1_23: &str = "CHANGELOG v1.23";
const LOG_1_24: &str = "CHANGELOG v1.24";
const LOG_1_25: &str = "CHANGELOG v1.25";
/// Fields past the documented 1.18 that the version history does not date.
const AFTER_1_18: &str = "after the v1.18 document; the CHANGELOG gives no version";
/// The 1.25–1.31 definitions describe `NetworkSettings` with a type the daemon never sent;
/// 1.32's describe what it sent all along (moby PR 33130).
const NETWORK_SETTINGS_FIXED: &str = "v1.32 definitions correct v1.25–v1.31's NetworkSettings";

/// The 1.25–1.34 definitions give each port of a `PortMap` one binding; the daemon always
/// sent a list (fixed in the 1.35 definitions).
const PORT_MAP_FIXED: &str = "v1.35 definitions correct PortMap to a list of bindings";
/// LXC options went with the LXC driver in Docker 1.10 (API 1.22).
const LXC_GONE: &str = "CHANGELOG v1.22: the LXC execution driver is removed";

const fn row(
    route: &'static str,
    field: &'static str,
    added: &'static str,
    removed: Option<&'static str>,
    cite: &'static str,
) -> Row {
    Row {
        route,
        field,
        ty: "",
        added,
        removed,
        cite,
    }
}

const fn gone(
    route: &'static str,
    field: &'static str,
    ty: &'static str,
    added: &'static str,
    removed: &'static str,
    cite: &'static str,
) -> Row {
    Row {
        route,
        field,
        ty,
        added,
        removed: Some(removed),
        cite,
    }
}

/// A field the definitions leave out that the daemon sends all the same.
const fn kept(
    route: &'static str,
    field: &'static str,
    ty: &'static str,
    added: &'static str,
    cite: &'static str,
) -> Row {
    Row {
        route,
        field,
        ty,
        added,
        removed: None,
        cite,
    }
}

/// dockerd keeps the 1.5 event fields on container and image events beside `Type`, `Action`
/// and `Actor` (moby api/types/events `Message`: "Deprecated information from JSONMessage"),
/// though the definitions from 1.25 on no longer describe them.
const EVENTS_LEGACY: &str =
    "v1.5 document; moby's events.Message keeps status, id and from for older clients";

/// The documents date `timeNano` (v1.21), `Type`/`Action`/`Actor` (v1.22) and `scope`, but
/// dockerd's events router never shapes an event by version: every client gets the whole
/// message, and today's clients pinned to an old version read it (docker CLI 28 with
/// `DOCKER_API_VERSION=1.18` learns a `run --rm` container's exit code from
/// `Actor.Attributes.exitCode`).
const EVENTS_WHOLE: &str =
    "dockerd sends the whole event at every version; clients pinned to old versions read Actor";

/// The 1.25 definitions give the network prune report the volume report's field.
const NETWORK_PRUNE_FIXED: &str =
    "v1.26 definitions correct v1.25's network prune report (NetworksDeleted, not VolumesDeleted); Docker 1.13 sent NetworksDeleted";

pub(super) const NOT_FIELDS: &[NotField] = &[
    NotField {
        route: "POST /networks/prune",
        field: "VolumesDeleted",
        cite: NETWORK_PRUNE_FIXED,
    },
    NotField {
        route: INSPECT,
        field: "NetworkSettings.Ports[]",
        cite: NETWORK_SETTINGS_FIXED,
    },
    NotField {
        route: INSPECT,
        field: "NetworkSettings.Address",
        cite: NETWORK_SETTINGS_FIXED,
    },
    NotField {
        route: INSPECT,
        field: "HostConfig.PortBindings.*.HostIp",
        cite: PORT_MAP_FIXED,
    },
    NotField {
        route: INSPECT,
        field: "HostConfig.PortBindings.*.HostPort",
        cite: PORT_MAP_FIXED,
    },
    NotField {
        route: INSPECT,
        field: "Config.Volumes.additionalProperties",
        cite:
            "the definitions spell a map of empty objects as a property named additionalProperties",
    },
    NotField {
        route: IMAGE,
        field: "Config.Volumes.additionalProperties",
        cite:
            "the definitions spell a map of empty objects as a property named additionalProperties",
    },
    NotField {
        route: IMAGE,
        field: "ContainerConfig.Volumes.additionalProperties",
        cite:
            "the definitions spell a map of empty objects as a property named additionalProperties",
    },
];

pub(super) const ROWS: &[Row] = &[
    // GET /events
    kept(EVENTS, "status", "string", "1.5", EVENTS_LEGACY),
    kept(EVENTS, "id", "string", "1.5", EVENTS_LEGACY),
    kept(EVENTS, "from", "string", "1.5", EVENTS_LEGACY),
    row(EVENTS, "time", "1.5", None, DOC_1_5),
    row(EVENTS, "timeNano", "1.5", None, EVENTS_WHOLE),
    row(EVENTS, "Type", "1.5", None, EVENTS_WHOLE),
    row(EVENTS, "Action", "1.5", None, EVENTS_WHOLE),
    row(EVENTS, "Actor", "1.5", None, EVENTS_WHOLE),
    row(EVENTS, "Actor.ID", "1.5", None, EVENTS_WHOLE),
    row(EVENTS, "Actor.Attributes", "1.5", None, EVENTS_WHOLE),
    row(EVENTS, "scope", "1.5", None, EVENTS_WHOLE),
    row(
        "POST /networks/prune",
        "NetworksDeleted",
        "1.25",
        None,
        NETWORK_PRUNE_FIXED,
    ),
    // GET /version
    row(VERSION, "ApiVersion", "1.11", None, DOC_1_11),
    row(VERSION, "Os", "1.11", None, DOC_1_11),
    row(VERSION, "Arch", "1.11", None, DOC_1_11),
    row(VERSION, "KernelVersion", "1.11", None, DOC_1_11),
    row(VERSION, "MinAPIVersion", "1.25", None, LOG_1_25),
    row(VERSION, "BuildTime", "1.25", None, LOG_1_25),
    row(VERSION, "Experimental", "1.25", None, LOG_1_25),
    // GET /info
    gone(INFO, "ExecutionDriver", "string", "1.11", "1.24", LOG_1_24),
    row(INFO, "InitPath", "1.11", Some("1.32"), DOC_1_11),
    row(INFO, "InitSha1", "1.11", Some("1.32"), DOC_1_11),
    row(INFO, "OperatingSystem", "1.15", None, DOC_1_15),
    row(INFO, "ID", "1.18", None, DOC_1_18),
    row(INFO, "Name", "1.18", None, DOC_1_18),
    row(INFO, "NCPU", "1.18", None, DOC_1_18),
    row(INFO, "MemTotal", "1.18", None, DOC_1_18),
    row(INFO, "DockerRootDir", "1.18", None, DOC_1_18),
    row(INFO, "Labels", "1.18", None, DOC_1_18),
    row(INFO, "SystemTime", "1.18", None, DOC_1_18),
    row(INFO, "HttpProxy", "1.18", None, DOC_1_18),
    row(INFO, "HttpsProxy", "1.18", None, DOC_1_18),
    row(INFO, "NoProxy", "1.18", None, DOC_1_18),
    row(INFO, "CpuCfsPeriod", "1.19", None, AFTER_1_18),
    row(INFO, "CpuCfsQuota", "1.19", None, AFTER_1_18),
    row(INFO, "ExperimentalBuild", "1.19", None, AFTER_1_18),
    row(INFO, "OomKillDisable", "1.19", None, AFTER_1_18),
    row(INFO, "OomScoreAdj", "1.19", Some("1.32"), AFTER_1_18),
    row(INFO, "Plugins", "1.19", None, AFTER_1_18),
    row(INFO, "RegistryConfig", "1.19", None, AFTER_1_18),
    row(INFO, "ServerVersion", "1.21", None, LOG_1_21),
    row(INFO, "DiscoveryBackend", "1.21", Some("1.32"), AFTER_1_18),
    row(INFO, "Architecture", "1.22", None, LOG_1_22),
    row(INFO, "OSType", "1.22", None, LOG_1_22),
    row(INFO, "ContainersRunning", "1.22", None, LOG_1_22),
    row(INFO, "ContainersPaused", "1.22", None, LOG_1_22),
    row(INFO, "ContainersStopped", "1.22", None, LOG_1_22),
    row(INFO, "SystemStatus", "1.22", Some("1.41"), LOG_1_22),
    // GET /containers/json
    row(CONTAINERS, "[].Labels", "1.18", None, DOC_1_18),
    row(CONTAINERS, "[].ImageID", "1.21", None, LOG_1_21),
    row(CONTAINERS, "[].NetworkSettings", "1.22", None, LOG_1_22),
    row(CONTAINERS, "[].HostConfig", "1.22", None, LOG_1_22),
    row(CONTAINERS, "[].State", "1.23", None, LOG_1_23),
    row(CONTAINERS, "[].Mounts", "1.23", None, LOG_1_23),
    // GET /containers/{id}/json
    gone(
        INSPECT,
        "Volumes",
        "map[string]string",
        "1.5",
        "1.21",
        LOG_1_21,
    ),
    gone(
        INSPECT,
        "VolumesRW",
        "map[string]boolean",
        "1.5",
        "1.21",
        LOG_1_21,
    ),
    gone(INSPECT, "ExecDriver", "string", "1.5", "1.25", LOG_1_25),
    row(INSPECT, "Mounts", "1.20", None, LOG_1_20),
    row(
        INSPECT,
        "HostConfig.PortBindings.*[].HostIp",
        "1.5",
        None,
        PORT_MAP_FIXED,
    ),
    row(
        INSPECT,
        "HostConfig.PortBindings.*[].HostPort",
        "1.5",
        None,
        PORT_MAP_FIXED,
    ),
    gone(
        INSPECT,
        "HostConfig.LxcConf",
        "[]object",
        "1.5",
        "1.22",
        LXC_GONE,
    ),
    row(INSPECT, "HostConfig.AutoRemove", "1.25", None, LOG_1_25),
    row(INSPECT, "State.Status", "1.21", None, LOG_1_21),
    row(INSPECT, "State.Dead", "1.21", None, LOG_1_21),
    row(INSPECT, "Config.StopSignal", "1.21", None, LOG_1_21),
    row(INSPECT, "GraphDriver", "1.21", None, LOG_1_21),
    row(INSPECT, "SizeRw", "1.22", None, LOG_1_22),
    row(INSPECT, "SizeRootFs", "1.22", None, LOG_1_22),
    row(INSPECT, "HostConfig.CpuPeriod", "1.19", None, LOG_1_19),
    row(INSPECT, "HostConfig.CpuQuota", "1.19", None, LOG_1_19),
    row(INSPECT, "HostConfig.CpusetMems", "1.19", None, AFTER_1_18),
    row(
        INSPECT,
        "HostConfig.OomKillDisable",
        "1.19",
        None,
        AFTER_1_18,
    ),
    row(INSPECT, "HostConfig.OomScoreAdj", "1.21", None, LOG_1_21),
    row(
        INSPECT,
        "HostConfig.MemoryReservation",
        "1.21",
        None,
        AFTER_1_18,
    ),
    row(INSPECT, "HostConfig.ShmSize", "1.22", None, AFTER_1_18),
    row(INSPECT, "HostConfig.PidsLimit", "1.23", None, LOG_1_23),
    row(INSPECT, "HostConfig.NanoCpus", "1.25", None, LOG_1_25),
    row(
        INSPECT,
        "HostConfig.BlkioWeight",
        "1.19",
        None,
        MOBY_DOC_1_19,
    ),
    row(INSPECT, "HostConfig.UTSMode", "1.19", None, AFTER_1_18),
    row(INSPECT, "HostConfig.GroupAdd", "1.20", None, LOG_1_20),
    row(INSPECT, "HostConfig.DnsOptions", "1.21", None, LOG_1_21),
    row(INSPECT, "HostConfig.Tmpfs", "1.22", None, MOBY_DOC_1_22),
    row(INSPECT, "HostConfig.ConsoleSize", "1.22", None, AFTER_1_18),
    row(INSPECT, "HostConfig.Sysctls", "1.24", None, LOG_1_24),
    row(INSPECT, "HostConfig.Mounts", "1.25", None, LOG_1_25),
    row(
        INSPECT,
        "HostConfig.BlkioWeightDevice",
        "1.22",
        None,
        MOBY_DOC_1_22,
    ),
    row(
        INSPECT,
        "HostConfig.BlkioDeviceReadBps",
        "1.22",
        None,
        MOBY_DOC_1_22,
    ),
    row(
        INSPECT,
        "HostConfig.BlkioDeviceWriteBps",
        "1.22",
        None,
        MOBY_DOC_1_22,
    ),
    row(
        INSPECT,
        "HostConfig.BlkioDeviceReadIOps",
        "1.22",
        None,
        MOBY_DOC_1_22,
    ),
    row(
        INSPECT,
        "HostConfig.BlkioDeviceWriteIOps",
        "1.22",
        None,
        MOBY_DOC_1_22,
    ),
    row(
        INSPECT,
        "HostConfig.MemorySwappiness",
        "1.20",
        None,
        MOBY_DOC_1_20,
    ),
    row(
        INSPECT,
        "HostConfig.VolumeDriver",
        "1.21",
        None,
        MOBY_DOC_1_21,
    ),
    row(
        INSPECT,
        "HostConfig.CpuPercent",
        "1.24",
        None,
        MOBY_DOC_1_24,
    ),
    row(
        INSPECT,
        "HostConfig.IOMaximumBandwidth",
        "1.24",
        None,
        MOBY_DOC_1_24,
    ),
    row(
        INSPECT,
        "HostConfig.IOMaximumIOps",
        "1.24",
        None,
        MOBY_DOC_1_24,
    ),
    row(
        INSPECT,
        "HostConfig.CpuRealtimePeriod",
        "1.25",
        None,
        FIRST_IN_1_25,
    ),
    row(INSPECT, "HostConfig.Runtime", "1.25", None, FIRST_IN_1_25),
    row(
        INSPECT,
        "HostConfig.StorageOpt",
        "1.24",
        None,
        MOBY_DOC_1_24,
    ),
    row(
        INSPECT,
        "HostConfig.KernelMemory",
        "1.21",
        Some("1.42"),
        MOBY_DOC_1_21,
    ),
    row(
        INSPECT,
        "HostConfig.DiskQuota",
        "1.25",
        Some("1.40"),
        FIRST_IN_1_25,
    ),
    row(
        INSPECT,
        "HostConfig.CpuRealtimeRuntime",
        "1.25",
        None,
        FIRST_IN_1_25,
    ),
    row(
        INSPECT,
        "HostConfig.UsernsMode",
        "1.25",
        None,
        FIRST_IN_1_25,
    ),
    row(INSPECT, "HostConfig.Cgroup", "1.25", None, FIRST_IN_1_25),
    row(INSPECT, "HostConfig.CpuCount", "1.25", None, FIRST_IN_1_25),
    row(INSPECT, "HostConfig.Isolation", "1.25", None, FIRST_IN_1_25),
    row(INSPECT, "Config.Healthcheck", "1.24", None, LOG_1_24),
    row(INSPECT, "Config.Healthcheck.Test", "1.24", None, LOG_1_24),
    row(
        INSPECT,
        "Config.Healthcheck.Interval",
        "1.24",
        None,
        LOG_1_24,
    ),
    row(
        INSPECT,
        "Config.Healthcheck.Timeout",
        "1.24",
        None,
        LOG_1_24,
    ),
    row(
        INSPECT,
        "Config.Healthcheck.Retries",
        "1.24",
        None,
        LOG_1_24,
    ),
    row(INSPECT, "State.Health", "1.24", None, LOG_1_24),
    row(INSPECT, "State.Health.Status", "1.24", None, LOG_1_24),
    row(
        INSPECT,
        "State.Health.FailingStreak",
        "1.24",
        None,
        LOG_1_24,
    ),
    row(INSPECT, "State.Health.Log", "1.24", None, LOG_1_24),
    row(INSPECT, "State.Health.Log[].Start", "1.24", None, LOG_1_24),
    row(INSPECT, "State.Health.Log[].End", "1.24", None, LOG_1_24),
    row(
        INSPECT,
        "State.Health.Log[].ExitCode",
        "1.24",
        None,
        LOG_1_24,
    ),
    row(INSPECT, "State.Health.Log[].Output", "1.24", None, LOG_1_24),
    // Spelled `IpAddress`/`IpPrefixLen` before 1.18 (compat renames them).
    gone(
        INSPECT,
        "NetworkSettings.IpAddress",
        "string",
        "1.5",
        "1.18",
        DOC_1_18,
    ),
    gone(
        INSPECT,
        "NetworkSettings.IpPrefixLen",
        "integer",
        "1.5",
        "1.18",
        DOC_1_18,
    ),
    row(
        INSPECT,
        "NetworkSettings.IPAddress",
        "1.18",
        None,
        NETWORK_SETTINGS_FIXED,
    ),
    row(
        INSPECT,
        "NetworkSettings.IPPrefixLen",
        "1.18",
        None,
        NETWORK_SETTINGS_FIXED,
    ),
    row(
        INSPECT,
        "NetworkSettings.MacAddress",
        "1.18",
        None,
        NETWORK_SETTINGS_FIXED,
    ),
    row(
        INSPECT,
        "NetworkSettings.Gateway",
        "1.5",
        None,
        NETWORK_SETTINGS_FIXED,
    ),
    row(
        INSPECT,
        "NetworkSettings.Ports.*[].HostIp",
        "1.5",
        None,
        NETWORK_SETTINGS_FIXED,
    ),
    row(
        INSPECT,
        "NetworkSettings.Ports.*[].HostPort",
        "1.5",
        None,
        NETWORK_SETTINGS_FIXED,
    ),
    row(
        INSPECT,
        "NetworkSettings.EndpointID",
        "1.21",
        None,
        NETWORK_SETTINGS_FIXED,
    ),
    row(
        INSPECT,
        "NetworkSettings.GlobalIPv6Address",
        "1.21",
        None,
        NETWORK_SETTINGS_FIXED,
    ),
    row(
        INSPECT,
        "NetworkSettings.GlobalIPv6PrefixLen",
        "1.21",
        None,
        NETWORK_SETTINGS_FIXED,
    ),
    row(
        INSPECT,
        "NetworkSettings.HairpinMode",
        "1.21",
        None,
        NETWORK_SETTINGS_FIXED,
    ),
    row(
        INSPECT,
        "NetworkSettings.IPv6Gateway",
        "1.21",
        None,
        NETWORK_SETTINGS_FIXED,
    ),
    row(
        INSPECT,
        "NetworkSettings.LinkLocalIPv6Address",
        "1.21",
        None,
        NETWORK_SETTINGS_FIXED,
    ),
    row(
        INSPECT,
        "NetworkSettings.LinkLocalIPv6PrefixLen",
        "1.21",
        None,
        NETWORK_SETTINGS_FIXED,
    ),
    row(
        INSPECT,
        "NetworkSettings.SandboxID",
        "1.21",
        None,
        NETWORK_SETTINGS_FIXED,
    ),
    row(
        INSPECT,
        "NetworkSettings.SandboxKey",
        "1.21",
        None,
        NETWORK_SETTINGS_FIXED,
    ),
    row(
        INSPECT,
        "NetworkSettings.SecondaryIPAddresses",
        "1.21",
        None,
        NETWORK_SETTINGS_FIXED,
    ),
    row(
        INSPECT,
        "NetworkSettings.SecondaryIPv6Addresses",
        "1.21",
        None,
        NETWORK_SETTINGS_FIXED,
    ),
    row(INSPECT, "NetworkSettings.Networks", "1.21", None, LOG_1_21),
    // GET /images/json
    row(IMAGES, "[].RepoDigests", "1.18", None, DOC_1_18),
    row(IMAGES, "[].Labels", "1.18", None, DOC_1_18),
    row(IMAGES, "[].Containers", "1.25", None, LOG_1_25),
    row(IMAGES, "[].SharedSize", "1.25", None, LOG_1_25),
    // GET /images/{name}/json
    row(IMAGE, "RepoTags", "1.21", None, LOG_1_21),
    row(IMAGE, "RepoDigests", "1.21", None, LOG_1_21),
    row(IMAGE, "GraphDriver", "1.21", None, LOG_1_21),
    row(IMAGE, "RootFS", "1.23", None, LOG_1_23),
    row(IMAGE, "OsVersion", "1.25", None, LOG_1_25),
    // GET /images/{name}/history
    row(HISTORY, "[].Size", "1.7", None, DOC_1_7),
    row(HISTORY, "[].Comment", "1.19", None, LOG_1_19),
    // GET /exec/{id}/json
    gone(EXEC, "Container", "object", "1.5", "1.22", LOG_1_22),
    row(EXEC, "ContainerID", "1.22", None, LOG_1_22),
    row(EXEC, "Pid", "1.25", None, LOG_1_25),
];
