//! What the in-process tests' fake daemons hold.

use std::collections::BTreeMap;

use berth_api_types::container::{
    Address, ContainerConfig, ContainerInspect, ContainerState, ContainerSummary, Health,
    HealthConfig, HealthcheckResult, HostConfig, MountPoint, NetworkSettings, PortBinding,
    PortSummary, SummaryNetworkSettings,
};
use berth_api_types::events::{Actor, EventMessage};
use berth_api_types::exec::{ExecInspect, ProcessConfig};
use berth_api_types::image::{HistoryItem, ImageInspect, ImageSummary, RootFs};
use berth_api_types::network::{EndpointIpamConfig, EndpointSettings};
use berth_api_types::stats::{ContainerStats, NetworkStats};
use berth_api_types::volume::{UsageData, Volume};

use super::{Fake, FakeContainer, FakeImage};

pub const ID: &str = "c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00";
pub const IMAGE: &str = "sha256:ab01ab01ab01ab01ab01ab01ab01ab01ab01ab01ab01ab01ab01ab01ab01ab01";

pub fn inspect() -> ContainerInspect {
    ContainerInspect {
        id: ID.into(),
        created: "2026-12-06T21:48:40Z".into(),
        path: "sleep".into(),
        args: vec!["1000".into()],
        state: ContainerState {
            status: "running".into(),
            running: true,
            paused: false,
            restarting: false,
            oom_killed: false,
            dead: false,
            pid: 4242,
            exit_code: 0,
            error: String::new(),
            started_at: "2026-12-06T21:48:41Z".into(),
            finished_at: "0001-01-01T00:00:00Z".into(),
            health: Some(Health {
                status: "healthy".into(),
                failing_streak: 0,
                log: vec![HealthcheckResult {
                    start: "2026-12-06T21:48:51Z".into(),
                    end: "2026-12-06T21:48:51Z".into(),
                    exit_code: 0,
                    output: "ok\n".into(),
                }],
            }),
        },
        image: IMAGE.into(),
        network_settings: NetworkSettings {
            bridge: "berth0".into(),
            sandbox_id: "5a4d".repeat(16),
            sandbox_key: "/run/berth/netns/c0ffee00c0ff".into(),
            endpoint_id: ENDPOINT.into(),
            gateway: "172.18.0.1".into(),
            ip_address: "172.18.0.2".into(),
            ip_prefix_len: 16,
            mac_address: "02:42:ac:12:00:02".into(),
            secondary_ip_addresses: Some(vec![Address {
                addr: "172.18.0.9".into(),
                prefix_len: 16,
            }]),
            secondary_ipv6_addresses: Some(vec![Address {
                addr: "fd00::9".into(),
                prefix_len: 64,
            }]),
            networks: networks(),
            hairpin_mode: false,
            link_local_ipv6_address: "fe80::42:acff:fe12:2".into(),
            link_local_ipv6_prefix_len: 64,
            global_ipv6_address: "fd00::2".into(),
            global_ipv6_prefix_len: 64,
            ipv6_gateway: "fd00::1".into(),
            port_mapping: None,
            ports: Some(BTreeMap::from([(
                "80/tcp".to_string(),
                Some(vec![PortBinding {
                    host_ip: "127.0.0.1".into(),
                    host_port: "8080".into(),
                }]),
            )])),
        },
        resolv_conf_path: String::new(),
        hostname_path: String::new(),
        hosts_path: String::new(),
        log_path: String::new(),
        name: "/web".into(),
        restart_count: 0,
        driver: "overlay2".into(),
        exec_driver: "berth-libcontainer".into(),
        mount_label: String::new(),
        process_label: String::new(),
        app_armor_profile: String::new(),
        exec_ids: None,
        config: ContainerConfig {
            image: "busybox".into(),
            labels: Some(BTreeMap::from([("tier".to_string(), "web".to_string())])),
            stop_timeout: Some(5),
            healthcheck: Some(HealthConfig {
                test: Some(vec!["CMD-SHELL".into(), "test -f /ok".into()]),
                interval: 1_000_000_000,
                timeout: 1_000_000_000,
                start_period: 1_000_000_000,
                start_interval: 1_000_000_000,
                retries: 2,
            }),
            ..Default::default()
        },
        host_config: HostConfig::default(),
        volumes: BTreeMap::from([("/data".to_string(), "/srv/data".to_string())]),
        volumes_rw: BTreeMap::from([("/data".to_string(), true)]),
        mounts: vec![data_volume()],
        platform: "linux".into(),
        graph_driver: berth_api_types::container::GraphDriver {
            name: "overlay2".into(),
            data: [("UpperDir".to_string(), "/data/overlay/x/upper".to_string())].into(),
        },
        size_rw: None,
        size_root_fs: None,
    }
}

/// An anonymous volume on `/data`.
pub fn data_volume() -> MountPoint {
    MountPoint {
        kind: "volume".into(),
        name: "5ca1ab1e".into(),
        source: "/srv/data".into(),
        destination: "/data".into(),
        driver: "local".into(),
        mode: String::new(),
        rw: true,
        propagation: String::new(),
    }
}

const ENDPOINT: &str = "e9d0e9d0e9d0e9d0e9d0e9d0e9d0e9d0e9d0e9d0e9d0e9d0e9d0e9d0e9d0e9d0";

/// The container's endpoint, with every field set so that the tables see them all.
fn networks() -> BTreeMap<String, EndpointSettings> {
    BTreeMap::from([(
        "bridge".to_string(),
        EndpointSettings {
            ipam_config: Some(EndpointIpamConfig {
                ipv4_address: "172.18.0.2".into(),
                ipv6_address: "fd00::2".into(),
                link_local_ips: vec!["169.254.0.2".into()],
            }),
            links: Some(vec!["/db:/web/db".into()]),
            aliases: Some(vec!["web".into()]),
            mac_address: "02:42:ac:12:00:02".into(),
            network_id: "b71d".repeat(16),
            endpoint_id: ENDPOINT.into(),
            gateway: "172.18.0.1".into(),
            ip_address: "172.18.0.2".into(),
            ip_prefix_len: 16,
            ipv6_gateway: "fd00::1".into(),
            global_ipv6_address: "fd00::2".into(),
            global_ipv6_prefix_len: 64,
            driver_opts: Some(BTreeMap::from([("mtu".to_string(), "1500".to_string())])),
            dns_names: Some(vec!["web".into(), "c0ffee00c0ff".into()]),
        },
    )])
}

/// A daemon holding one running container on the bridge with a published port, one exec
/// and one event.
pub fn one_container() -> Fake {
    let eth0 = NetworkStats {
        rx_bytes: 10,
        ..Default::default()
    };
    Fake {
        containers: vec![FakeContainer {
            summary: ContainerSummary {
                id: ID.into(),
                names: vec!["/web".into()],
                image: "busybox".into(),
                image_id: IMAGE.into(),
                command: "sleep 1000".into(),
                created: 1_765_057_720,
                status: "Up 5 seconds".into(),
                state: "running".into(),
                ports: vec![
                    PortSummary {
                        ip: Some("127.0.0.1".into()),
                        private_port: 80,
                        public_port: Some(8080),
                        kind: "tcp".into(),
                    },
                    PortSummary {
                        ip: None,
                        private_port: 53,
                        public_port: None,
                        kind: "udp".into(),
                    },
                ],
                labels: BTreeMap::from([("tier".to_string(), "web".to_string())]),
                mounts: vec![data_volume()],
                size_rw: None,
                size_root_fs: None,
                host_config: berth_api_types::container::SummaryHostConfig {
                    network_mode: "default".into(),
                },
                network_settings: SummaryNetworkSettings {
                    networks: networks(),
                },
            },
            inspect: inspect(),
            stats: ContainerStats {
                id: ID.into(),
                name: "/web".into(),
                read: "2026-12-06T21:49:00Z".into(),
                preread: "2026-12-06T21:48:59Z".into(),
                network: eth0.clone(),
                networks: BTreeMap::from([("eth0".to_string(), eth0)]),
                ..Default::default()
            },
        }],
        execs: vec![ExecInspect {
            id: "e1".into(),
            running: false,
            exit_code: None,
            process_config: ProcessConfig {
                entrypoint: "true".into(),
                ..Default::default()
            },
            open_stdin: false,
            open_stderr: true,
            open_stdout: true,
            container: inspect(),
            container_id: ID.into(),
            pid: 0,
            can_remove: false,
            detach_keys: String::new(),
        }],
        events: vec![EventMessage {
            status: Some("start".into()),
            id: Some(ID.into()),
            from: Some("busybox".into()),
            kind: "container".into(),
            action: "start".into(),
            actor: Actor {
                id: ID.into(),
                attributes: BTreeMap::from([("name".to_string(), "web".to_string())]),
            },
            scope: "local".into(),
            time: 1_765_057_721,
            time_nano: 1_765_057_721_000_000_000,
        }],
        ..Default::default()
    }
}

pub const HEX: &str = "ab01ab01ab01ab01ab01ab01ab01ab01ab01ab01ab01ab01ab01ab01ab01ab01";

/// A daemon holding one image with two tags.
pub fn one_image() -> Fake {
    let id = format!("sha256:{HEX}");
    let tags = vec!["busybox:latest".to_string(), "bb:1".to_string()];
    Fake {
        images: vec![FakeImage {
            summary: ImageSummary {
                id: id.clone(),
                parent_id: String::new(),
                repo_tags: tags.clone(),
                repo_digests: Vec::new(),
                created: 1_700_000_000,
                size: 2_000_000,
                virtual_size: 2_000_000,
                labels: None,
                containers: -1,
                shared_size: -1,
            },
            inspect: ImageInspect {
                id: id.clone(),
                repo_tags: tags.clone(),
                repo_digests: Vec::new(),
                parent: String::new(),
                comment: "Imported from -".into(),
                created: "2023-11-14T22:13:20Z".into(),
                container: String::new(),
                container_config: ContainerConfig::default(),
                docker_version: String::new(),
                author: String::new(),
                config: ContainerConfig::default(),
                architecture: "amd64".into(),
                variant: String::new(),
                os_version: String::new(),
                os: "linux".into(),
                size: 2_000_000,
                virtual_size: 2_000_000,
                root_fs: RootFs {
                    kind: "layers".into(),
                    layers: vec![id.clone()],
                },
                graph_driver: berth_api_types::container::GraphDriver {
                    name: "overlay2".into(),
                    data: [("UpperDir".to_string(), "/data/layers/x/diff".to_string())].into(),
                },
                metadata: berth_api_types::image::ImageMetadata {
                    last_tag_time: "2026-12-06T21:48:40Z".into(),
                },
            },
            history: vec![HistoryItem {
                id,
                created: 1_700_000_000,
                created_by: String::new(),
                tags: Some(vec!["busybox:latest".into()]),
                size: 2_000_000,
                comment: "Imported from -".into(),
            }],
        }],
        ..Default::default()
    }
}

/// One image, one running container made from it, and the volume it mounts: what
/// `GET /system/df` counts.
pub fn whole_host() -> Fake {
    let mut host = one_container();
    host.images = one_image().images;
    host.containers[0].summary.image_id = host.images[0].summary.id.clone();
    host.volumes = vec![Volume {
        name: "data".into(),
        driver: "local".into(),
        mountpoint: "/var/lib/berth/volumes/data/_data".into(),
        created_at: "2026-12-06T21:48:00Z".into(),
        labels: BTreeMap::new(),
        scope: "local".into(),
        options: BTreeMap::new(),
        usage_data: Some(UsageData {
            size: 4096,
            ref_count: 1,
        }),
    }];
    host
}
