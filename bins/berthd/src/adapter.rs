//! The API server's backend traits, implemented over the engine services: wire ↔ domain
//! conversion lives here and nowhere else.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use berth_api_server::backend::{
    BuildJob, BuildQuery, ByteStream, ContainerBackend, ContainerListQuery, EventQuery,
    EventSubscription, EventsBackend, ImageBackend, ImportRequest, ImportSource, InsertJob,
    PruneQuery, PullJob, PullOutcome, PullQuery, PushJob, PushProgress, PushQuery, SystemBackend,
};
use berth_api_server::ApiError;
use berth_api_types::container::ContainerConfig;
use berth_api_types::container::GraphDriver;
use berth_api_types::events::{Actor, EventMessage};
use berth_api_types::filters::Filters;
use berth_api_types::image::{
    DeleteItem, HistoryItem, ImageInspect, ImageMetadata, ImagePruneReport, ImageSummary, RootFs,
};
use berth_api_types::system::{
    Commit, Component, DiskUsage, IndexInfo, Info, Platform, PluginsInfo, RegistryConfig, Runtime,
    SwarmInfo, Version,
};
use berth_api_types::volume::{UsageData, Volume};
use berth_api_types::ApiVersion;
use berth_engine::containers::ContainerPaths;
use berth_engine::images::{host_arch, ImageListOptions};
use berth_engine::labels::LabelFilter;
use berth_engine::prune::PruneFilters;
use berth_engine::{ContainerService, Event, EventBus, ImageService, SystemFacts};
use berth_image::{DeleteEffect, Image, ImageStore, Reference};
use futures_util::StreamExt;

use crate::config::Config;

pub struct Daemon {
    images: ImageService,
    /// Where loads and builds stage what they unpack (`<data-root>/tmp`).
    staging: std::path::PathBuf,
    containers: Arc<ContainerService>,
    container_paths: ContainerPaths,
    events: Arc<EventBus>,
    facts: SystemFacts,
    builds: crate::build::Builds,
}

pub(crate) fn api_err<E: berth_errdefs::Classify + std::error::Error + Send + Sync + 'static>(
    e: E,
) -> ApiError {
    ApiError::from_err(e)
}

impl Daemon {
    pub async fn open(config: &Config) -> Result<Self, String> {
        let root = &config.data_root;
        let staging = root.join("tmp");
        // Leftovers of loads interrupted by a crash.
        let _ = std::fs::remove_dir_all(&staging);
        std::fs::create_dir_all(&staging)
            .map_err(|e| format!("create {}: {e}", staging.display()))?;
        let store =
            ImageStore::open(&root.join("image")).map_err(|e| format!("open image store: {e}"))?;
        let events = Arc::new(EventBus::new());
        let store = Arc::new(store);
        let images = ImageService::new(
            store.clone(),
            events.clone(),
            staging.clone(),
            format!("berth-{}", env!("CARGO_PKG_VERSION")),
        )
        .with_registry_options(berth_distribution::RegistryOptions {
            mirrors: config
                .registry_mirrors
                .iter()
                .map(|m| crate::pull::mirror(m))
                .collect::<Result<_, _>>()?,
            stall_timeout: std::time::Duration::from_secs(config.registry_stall_timeout),
            download_attempts: config.max_download_attempts,
            tls: berth_distribution::tls::TlsSettings::new(
                if config.registry_certs_dirs.is_empty() {
                    berth_distribution::tls::default_certs_dirs()
                } else {
                    config.registry_certs_dirs.clone()
                },
                &config.insecure_registries,
            )?,
            ..Default::default()
        });
        let facts = SystemFacts::gather(root).map_err(|e| format!("read system facts: {e}"))?;
        let container_paths = ContainerPaths {
            data_root: root.clone(),
            exec_root: config.exec_root.clone(),
        };
        let monitor = match &config.monitor_path {
            Some(p) => p.clone(),
            None => std::env::current_exe()
                .map_err(|e| e.to_string())?
                .with_file_name("berth-monitor"),
        };
        let network = match config.network()? {
            Some(cfg) => Some(Arc::new(
                berth_network::Network::start(cfg, Some(container_paths.bridge_netns_dir()))
                    .await
                    .map_err(|e| format!("set up the bridge: {e}"))?,
            )),
            None => None,
        };
        let user_networks = berth_engine::networks::UserNetworks::open(
            root,
            Some(berth_engine::networks::BridgeDefaults {
                mtu: config.mtu,
                iptables: config.iptables,
                ip_forward: config.ip_forward,
            }),
        )
        .await
        .map_err(|e| format!("open networks: {e}"))?;
        let resolver = berth_dns::ResolverHandle::new(
            config.exec_root.join("resolver"),
            monitor.with_file_name("berth-resolver"),
        );
        let containers = ContainerService::open(
            container_paths.clone(),
            store,
            events.clone(),
            monitor,
            berth_engine::containers::Networking {
                default_bridge: network,
                user_networks,
                resolver: Some(resolver),
            },
        )
        .await
        .map_err(|e| format!("open containers: {e}"))?;
        Ok(Self {
            images,
            staging: root.join("tmp"),
            containers,
            container_paths,
            events,
            facts,
            builds: crate::build::Builds::default(),
        })
    }

    /// The builds under way, to end when the daemon stops.
    pub fn builds(&self) -> crate::build::Builds {
        self.builds.clone()
    }

    fn store(&self) -> &ImageStore {
        self.images.store()
    }

    pub fn containers(&self) -> &Arc<ContainerService> {
        &self.containers
    }

    pub fn container_paths(&self) -> &ContainerPaths {
        &self.container_paths
    }
}

/// The engine's prune filters from the API's.
pub(crate) fn prune_filters(q: &PruneQuery) -> PruneFilters {
    PruneFilters {
        until: q.until,
        labels: LabelFilter(q.labels.clone()),
        labels_not: q.labels_not.clone(),
    }
}

fn delete_items(effects: Vec<DeleteEffect>) -> Vec<DeleteItem> {
    effects
        .into_iter()
        .map(|e| match e {
            DeleteEffect::Untagged { reference, .. } => DeleteItem::Untagged(reference.to_string()),
            DeleteEffect::DeletedImage(id) | DeleteEffect::DeletedLayer(id) => {
                DeleteItem::Deleted(id.to_string())
            }
        })
        .collect()
}

/// How many images hold each layer: a layer held by two is shared by both.
struct LayerHolders(std::collections::HashMap<berth_image::Digest, (u64, i64)>);

impl LayerHolders {
    fn of<'a>(images: impl Iterator<Item = &'a berth_image::Image>) -> Self {
        let mut holders: std::collections::HashMap<berth_image::Digest, (u64, i64)> =
            Default::default();
        for img in images {
            for l in &img.layers {
                holders.entry(l.chain_id).or_insert((l.size, 0)).1 += 1;
            }
        }
        LayerHolders(holders)
    }

    /// Bytes of every layer, each counted once.
    fn total(&self) -> i64 {
        self.0.values().map(|(size, _)| *size as i64).sum()
    }

    /// Bytes of `img`'s layers that another image holds too.
    fn shared_size(&self, img: &berth_image::Image) -> i64 {
        img.layers
            .iter()
            .filter(|l| self.0.get(&l.chain_id).is_some_and(|(_, n)| *n > 1))
            .map(|l| l.size as i64)
            .sum()
    }
}

#[async_trait]
impl SystemBackend for Daemon {
    async fn disk_usage(&self) -> Result<DiskUsage, ApiError> {
        let images = self.images.list();
        let containers = self.containers.list();
        let holders = LayerHolders::of(images.iter().map(|(img, _)| img.as_ref()));
        let layers_size = holders.total();
        let image_rows = images
            .iter()
            .map(|(img, refs)| {
                let mut row = summary(img, refs);
                row.containers = containers.iter().filter(|c| c.image_id == row.id).count() as i64;
                row.shared_size = holders.shared_size(img);
                row
            })
            .collect();
        let container_rows = self.list_containers(&ContainerListQuery {
            all: true,
            size: true,
            ..Default::default()
        })?;
        let service = self.containers.clone();
        let usage = tokio::task::spawn_blocking(move || service.volume_usage())
            .await
            .map_err(|e| ApiError::internal(format!("measure volumes: {e}")))?;
        // What `GET /volumes` shows of each (its driver, labels, options), with its usage.
        let mut described: BTreeMap<String, Volume> = self
            .containers
            .volumes()
            .into_iter()
            .map(|v| (v.record.name.clone(), crate::volumes::wire(v)))
            .collect();
        let volumes = usage
            .into_iter()
            .map(|v| {
                let mut wire = described.remove(&v.name).unwrap_or_else(|| Volume {
                    name: v.name.clone(),
                    driver: "local".to_string(),
                    mountpoint: v.mountpoint.display().to_string(),
                    created_at: v.created.clone(),
                    labels: BTreeMap::new(),
                    scope: "local".to_string(),
                    options: BTreeMap::new(),
                    usage_data: None,
                });
                wire.usage_data = Some(UsageData {
                    size: v.size,
                    ref_count: v.ref_count,
                });
                wire
            })
            .collect();
        Ok(DiskUsage {
            layers_size,
            images: image_rows,
            containers: container_rows,
            volumes,
            build_cache: Vec::new(),
        })
    }

    fn version(&self) -> Version {
        let mut v = Version {
            platform: Platform {
                name: "berth".to_string(),
            },
            components: Vec::new(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            api_version: ApiVersion::MAX.to_string(),
            min_api_version: ApiVersion::MIN.to_string(),
            git_commit: option_env!("BERTH_GIT_COMMIT")
                .unwrap_or("unknown")
                .to_string(),
            go_version: "rust".to_string(),
            os: "linux".to_string(),
            arch: host_arch().to_string(),
            kernel_version: self.facts.kernel_version.clone(),
            build_time: String::new(),
            experimental: false,
        };
        // The engine's component repeats the daemon's details, as Docker's does.
        let details = [
            ("ApiVersion", v.api_version.clone()),
            ("Arch", v.arch.clone()),
            ("BuildTime", v.build_time.clone()),
            ("Experimental", v.experimental.to_string()),
            ("GitCommit", v.git_commit.clone()),
            ("GoVersion", v.go_version.clone()),
            ("KernelVersion", v.kernel_version.clone()),
            ("MinAPIVersion", v.min_api_version.clone()),
            ("Os", v.os.clone()),
        ];
        v.components.push(Component {
            name: "Engine".to_string(),
            version: v.version.clone(),
            details: details
                .into_iter()
                .map(|(k, d)| (k.to_string(), d))
                .collect(),
        });
        v
    }

    fn info(&self) -> Info {
        let env = |k: &str| {
            std::env::var(k)
                .or_else(|_| std::env::var(k.to_lowercase()))
                .unwrap_or_default()
        };
        let (all, running, paused, stopped) = self.containers.counts();
        let bridge_nf = [SystemFacts::bridge_nf(false), SystemFacts::bridge_nf(true)];
        Info {
            id: self.facts.id.clone(),
            containers: all as i64,
            containers_running: running as i64,
            containers_paused: paused as i64,
            containers_stopped: stopped as i64,
            images: self.store().count() as i64,
            driver: "overlay2".to_string(),
            driver_status: vec![[
                "Backing Filesystem".to_string(),
                backing_fs(&self.facts.root_dir),
            ]],
            execution_driver: "berth-libcontainer".to_string(),
            logging_driver: "json-file".to_string(),
            cgroup_driver: "cgroupfs".to_string(),
            cgroup_version: self.facts.cgroup_version.clone(),
            memory_limit: self.facts.memory_limit,
            swap_limit: self.facts.swap_limit,
            cpu_cfs_period: true,
            cpu_cfs_quota: true,
            cpu_shares: true,
            cpu_set: true,
            ipv4_forwarding: SystemFacts::ipv4_forwarding(),
            debug: false,
            nfd: SystemFacts::open_fds(),
            n_goroutines: SystemFacts::threads(),
            system_time: jiff::Timestamp::now().to_string(),
            n_events_listener: self.events.listeners() as i64,
            kernel_version: self.facts.kernel_version.clone(),
            operating_system: self.facts.operating_system.clone(),
            os_type: "linux".to_string(),
            architecture: std::env::consts::ARCH.to_string(),
            index_server_address: "https://index.docker.io/v1/".to_string(),
            init_path: std::env::current_exe()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
            init_sha1: String::new(),
            ncpu: self.facts.ncpu,
            mem_total: self.facts.mem_total,
            docker_root_dir: self.facts.root_dir.display().to_string(),
            http_proxy: env("HTTP_PROXY"),
            https_proxy: env("HTTPS_PROXY"),
            no_proxy: env("NO_PROXY"),
            name: self.facts.name.clone(),
            labels: Vec::new(),
            server_version: env!("CARGO_PKG_VERSION").to_string(),
            plugins: PluginsInfo {
                volume: vec!["local".into()],
                network: vec!["bridge".into(), "host".into(), "none".into()],
                authorization: None,
                log: vec!["json-file".into(), "none".into()],
            },
            registry_config: RegistryConfig {
                insecure_registry_cidrs: vec!["127.0.0.0/8".into()],
                index_configs: [(
                    "docker.io".to_string(),
                    IndexInfo {
                        name: "docker.io".into(),
                        mirrors: Vec::new(),
                        secure: true,
                        official: true,
                    },
                )]
                .into(),
                ..Default::default()
            },
            // Containers run under berth's monitor with youki's libcontainer.
            runtimes: [(
                "berth".to_string(),
                Runtime {
                    path: self.containers.monitor_bin().display().to_string(),
                    runtime_args: Vec::new(),
                },
            )]
            .into(),
            default_runtime: "berth".into(),
            swarm: SwarmInfo::inactive(),
            // Containers outlive the daemon: what Docker calls live restore is berth's only mode.
            live_restore_enabled: true,
            isolation: String::new(),
            init_binary: String::new(),
            containerd_commit: Commit::default(),
            runc_commit: Commit::default(),
            init_commit: Commit::default(),
            security_options: vec!["name=seccomp,profile=builtin".into()],
            os_version: self.facts.os_version.clone(),
            pids_limit: self.facts.pids_limit,
            kernel_memory: self.facts.kernel_memory,
            oom_kill_disable: self.facts.oom_kill_disable,
            oom_score_adj: SystemFacts::oom_score_adj(),
            kernel_memory_tcp: self.facts.kernel_memory_tcp,
            experimental_build: false,
            bridge_nf_iptables: bridge_nf[0],
            bridge_nf_ip6tables: bridge_nf[1],
            default_address_pools: Vec::new(),
            generic_resources: None,
            product_license: String::new(),
            cdi_spec_dirs: Vec::new(),
            warnings: self.warnings(bridge_nf),
        }
    }
}

impl Daemon {
    /// An image's layers as Docker's `overlay2` names them: the top layer's directory as
    /// `UpperDir`, the ones below as `LowerDir` (absent for a single layer).
    fn image_graph_driver(&self, img: &berth_image::Image) -> GraphDriver {
        let mut dirs: Vec<String> = img
            .layers
            .iter()
            .rev()
            .map(|l| {
                self.images
                    .store()
                    .diff_path(&l.chain_id)
                    .display()
                    .to_string()
            })
            .collect();
        let mut data = std::collections::BTreeMap::new();
        if !dirs.is_empty() {
            data.insert("UpperDir".to_string(), dirs.remove(0));
        }
        if !dirs.is_empty() {
            data.insert("LowerDir".to_string(), dirs.join(":"));
        }
        GraphDriver {
            name: "overlay2".into(),
            data,
        }
    }
}

impl Daemon {
    /// What `docker info` warns of, as Docker words it (`bridge_nf`: iptables, ip6tables).
    fn warnings(&self, bridge_nf: [bool; 2]) -> Vec<String> {
        let mut out = Vec::new();
        if !self.facts.swap_limit {
            out.push("WARNING: No swap limit support".to_string());
        }
        for (on, name) in bridge_nf.into_iter().zip(["iptables", "ip6tables"]) {
            if !on {
                out.push(format!("WARNING: bridge-nf-call-{name} is disabled"));
            }
        }
        out
    }
}

// `f_type`'s integer type differs between architectures.
#[allow(clippy::unnecessary_cast)]
fn backing_fs(root: &std::path::Path) -> String {
    match rustix::fs::statfs(root).map(|s| s.f_type as i64) {
        Ok(0xef53) => "extfs",
        Ok(0x9123683e) => "btrfs",
        Ok(0x58465342) => "xfs",
        Ok(0x01021994) => "tmpfs",
        Ok(0x794c7630) => "overlayfs",
        _ => "unknown",
    }
    .to_string()
}

fn container_config(v: Option<&serde_json::Value>) -> ContainerConfig {
    v.and_then(|c| serde_json::from_value(c.clone()).ok())
        .unwrap_or_default()
}

fn tags_and_digests(refs: &[Reference]) -> (Vec<String>, Vec<String>) {
    let tags = refs
        .iter()
        .filter(|r| r.digest().is_none())
        .map(|r| r.to_string())
        .collect();
    let digests = refs
        .iter()
        .filter(|r| r.digest().is_some())
        .map(|r| r.to_string())
        .collect();
    (tags, digests)
}

fn summary(img: &Image, refs: &[Reference]) -> ImageSummary {
    let (repo_tags, repo_digests) = tags_and_digests(refs);
    let labels = img.config.labels();
    ImageSummary {
        id: img.id.to_string(),
        parent_id: img.parent.map(|p| p.to_string()).unwrap_or_default(),
        repo_tags,
        repo_digests,
        created: img.config.created_unix(),
        size: img.size() as i64,
        virtual_size: img.size() as i64,
        labels: if labels.is_empty() {
            None
        } else {
            Some(labels.into_iter().collect())
        },
        containers: -1,
        shared_size: -1,
    }
}

#[async_trait]
impl ImageBackend for Daemon {
    async fn import_image(&self, req: ImportRequest) -> Result<String, ApiError> {
        // Check the name before reading anything: a bad name must not cost a download.
        ImageService::check_import_reference(&req.repo, &req.tag).map_err(api_err)?;
        let (stream, label): (berth_engine::images::ByteStream, String) = match req.source {
            ImportSource::Body(body) => (Box::new(body), "-".to_string()),
            ImportSource::Url(url) => (
                crate::fetch::fetch(&url, &self.images.registry_options().tls)
                    .await?
                    .0,
                url,
            ),
        };
        let image = self
            .images
            .import(stream, &label, &req.repo, &req.tag, &req.message)
            .await
            .map_err(api_err)?;
        Ok(image.id.to_string())
    }

    async fn distribution_inspect(
        &self,
        name: &str,
        auth: Option<berth_api_types::auth::AuthConfig>,
    ) -> Result<berth_api_types::image::DistributionInspect, ApiError> {
        use berth_api_types::image::{DistributionInspect, OciDescriptor, OciPlatform};
        let reference = crate::pull::reference(name, "")?;
        let (descriptor, platforms) = self
            .images
            .distribution_inspect(&reference, auth.map(crate::pull::credentials))
            .await
            .map_err(api_err)?;
        Ok(DistributionInspect {
            descriptor: OciDescriptor {
                media_type: descriptor.media_type,
                digest: descriptor.digest,
                size: descriptor.size,
            },
            platforms: platforms
                .into_iter()
                .map(|p| OciPlatform {
                    architecture: p.architecture,
                    os: p.os,
                    variant: p.variant.unwrap_or_default(),
                })
                .collect(),
        })
    }

    async fn search_images(
        &self,
        term: &str,
        limit: usize,
        auth: Option<berth_api_types::auth::AuthConfig>,
    ) -> Result<Vec<berth_api_types::image::SearchResult>, ApiError> {
        let hits = self
            .images
            .search(term, limit, auth.map(crate::pull::credentials))
            .await
            .map_err(api_err)?;
        Ok(hits
            .into_iter()
            .map(|h| berth_api_types::image::SearchResult {
                description: h.description,
                is_official: h.is_official,
                is_automated: h.is_automated,
                name: h.name,
                star_count: h.star_count,
            })
            .collect())
    }

    async fn login(
        &self,
        auth: berth_api_types::auth::AuthConfig,
    ) -> Result<Option<String>, ApiError> {
        let server = auth.serveraddress.clone();
        self.images
            .login(&server, crate::pull::credentials(auth))
            .await
            .map_err(api_err)
    }

    async fn pull_image(&self, query: PullQuery) -> Result<PullJob, ApiError> {
        let reference = crate::pull::reference(&query.image, &query.tag)?;
        let platform = crate::pull::platform(&query.platform)?;
        let credentials = query.auth.map(crate::pull::credentials);
        let shown = reference.to_string();
        let (events, mut happened) = tokio::sync::mpsc::unbounded_channel();
        let (progress, steps) = tokio::sync::mpsc::unbounded_channel();
        let forwarding = tokio::spawn(async move {
            while let Some(e) = happened.recv().await {
                if progress.send(crate::pull::progress(e)).is_err() {
                    break;
                }
            }
        });
        let images = self.images.clone();
        let done = Box::pin(async move {
            let req = berth_distribution::PullRequest {
                reference,
                credentials,
                platform,
                options: images.registry_options(),
            };
            let pulled = images.pull(req, events).await;
            // Every step is passed on before the end is told, so none comes after it.
            let _ = forwarding.await;
            let pulled = pulled.map_err(api_err)?;
            Ok(PullOutcome {
                reference: shown,
                updated: pulled.updated,
            })
        });
        Ok(PullJob {
            progress: steps,
            done,
        })
    }

    async fn build_image(
        &self,
        query: BuildQuery,
        context: berth_api_server::backend::ByteStream,
    ) -> Result<BuildJob, ApiError> {
        crate::build::start(
            self.images.clone(),
            self.containers.clone(),
            self.staging.clone(),
            &self.builds,
            query,
            context,
        )
        .await
    }

    async fn push_image(&self, query: PushQuery) -> Result<PushJob, ApiError> {
        let reference = crate::pull::reference(&query.image, &query.tag)?;
        let all_tags = !crate::pull::names_a_tag(&query.image, &query.tag);
        if reference.digest().is_some() {
            return Err(ApiError::bad_request(format!(
                "cannot push a digest reference: {reference}"
            )));
        }
        let credentials = query.auth.map(crate::pull::credentials);
        let (progress, steps) = tokio::sync::mpsc::unbounded_channel();
        let _ = progress.send(PushProgress::RefersTo(reference.repo().to_string()));
        let images = self.images.clone();
        let done = Box::pin(async move {
            for (tag, image) in images.push_targets(&reference, all_tags).map_err(api_err)? {
                let (events, mut happened) = tokio::sync::mpsc::unbounded_channel();
                let progress = progress.clone();
                let forwarding = tokio::spawn(async move {
                    while let Some(e) = happened.recv().await {
                        if progress.send(crate::pull::push_progress(e)).is_err() {
                            break;
                        }
                    }
                });
                let pushed = images.push(tag, image, credentials.clone(), events).await;
                // Every step is passed on before the end is told, so none comes after it.
                let _ = forwarding.await;
                pushed.map_err(api_err)?;
            }
            Ok(())
        });
        Ok(PushJob {
            progress: steps,
            done,
        })
    }

    async fn insert_file(&self, name: &str, url: &str, path: &str) -> Result<InsertJob, ApiError> {
        // The image first: a missing one must not cost a download.
        let (image, _) = self.images.resolve(name).map_err(api_err)?;
        let (body, total) = crate::fetch::fetch(url, &self.images.registry_options().tls).await?;
        let (progress, counts) = tokio::sync::mpsc::unbounded_channel();
        let images = self.images.clone();
        let views = self.container_paths.views();
        let (name, url, path) = (name.to_string(), url.to_string(), path.to_string());
        let done = Box::pin(async move {
            let report = Box::new(move |bytes| {
                let _ = progress.send(bytes);
            });
            images
                .insert(&name, &url, &path, body, views, report)
                .await
                .map(|id| id.to_string())
                .map_err(api_err)
        });
        Ok(InsertJob {
            image_id: image.id.to_string(),
            total,
            progress: counts,
            done,
        })
    }

    fn list_images(
        &self,
        all: bool,
        filters: &Filters,
        shared_size: bool,
    ) -> Result<Vec<ImageSummary>, ApiError> {
        let _ = all; // every stored image is a top-level image: there are no intermediate layers to hide
        let options = ImageListOptions {
            dangling: filters
                .bool_value("dangling")
                .map_err(|e| ApiError::bad_request(e.0))?,
            labels: LabelFilter(filters.labels()),
            references: filters.given("reference"),
            before: filters.get("before").first().cloned(),
            since: filters.get("since").first().cloned(),
        };
        let images = self.images.list_filtered(&options).map_err(api_err)?;
        // Shared with any image, not only the listed ones, as Docker counts it.
        let holders = shared_size.then(|| {
            let every = self.images.list();
            let holders = LayerHolders::of(every.iter().map(|(img, _)| img.as_ref()));
            images
                .iter()
                .map(|(img, _)| (img.id, holders.shared_size(img)))
                .collect::<std::collections::HashMap<_, _>>()
        });
        Ok(images
            .iter()
            .map(|(img, refs)| {
                let mut row = summary(img, refs);
                if let Some(sizes) = &holders {
                    row.shared_size = sizes[&img.id];
                }
                row
            })
            .collect())
    }

    fn inspect_image(&self, name: &str) -> Result<ImageInspect, ApiError> {
        let (img, refs) = self.images.resolve(name).map_err(api_err)?;
        let (repo_tags, repo_digests) = tags_and_digests(&refs);
        let c = &img.config;
        Ok(ImageInspect {
            id: img.id.to_string(),
            repo_tags,
            repo_digests,
            parent: img.parent.map(|p| p.to_string()).unwrap_or_default(),
            comment: c.comment.clone(),
            created: c
                .created
                .clone()
                .unwrap_or_else(|| "0001-01-01T00:00:00Z".to_string()),
            container: c.container.clone(),
            container_config: container_config(c.container_config.as_ref()),
            docker_version: c.docker_version.clone(),
            author: c.author.clone(),
            config: container_config(c.config.as_ref()),
            architecture: c.architecture.clone(),
            variant: c.variant.clone(),
            os: c.os.clone(),
            os_version: c.os_version.clone(),
            size: img.size() as i64,
            virtual_size: img.size() as i64,
            root_fs: RootFs {
                kind: "layers".to_string(),
                layers: c.rootfs.diff_ids.iter().map(|d| d.to_string()).collect(),
            },
            graph_driver: self.image_graph_driver(&img),
            metadata: ImageMetadata {
                // Go's zero time for an image never named here, as Docker shows it.
                last_tag_time: self
                    .images
                    .store()
                    .last_tag_time(&img.id)
                    .unwrap_or_else(|| "0001-01-01T00:00:00Z".to_string()),
            },
        })
    }

    fn image_history(&self, name: &str) -> Result<Vec<HistoryItem>, ApiError> {
        let (img, refs) = self.images.resolve(name).map_err(api_err)?;
        let (tags, _) = tags_and_digests(&refs);
        let c = &img.config;
        let mut layers = img.layers.iter();
        let mut items: Vec<HistoryItem> = if c.history.is_empty() {
            // No history recorded: one entry per layer.
            img.layers
                .iter()
                .map(|l| HistoryItem {
                    id: "<missing>".into(),
                    created: c.created_unix(),
                    created_by: String::new(),
                    tags: None,
                    size: l.size as i64,
                    comment: String::new(),
                })
                .collect()
        } else {
            c.history
                .iter()
                .map(|h| {
                    let size = if h.empty_layer {
                        0
                    } else {
                        layers.next().map_or(0, |l| l.size as i64)
                    };
                    HistoryItem {
                        id: "<missing>".into(),
                        created: h
                            .created
                            .as_deref()
                            .and_then(|t| t.parse::<jiff::Timestamp>().ok())
                            .map_or(0, |t| t.as_second()),
                        created_by: h.created_by.clone(),
                        tags: None,
                        size,
                        comment: h.comment.clone(),
                    }
                })
                .collect()
        };
        // The images this one was built on here (its parent links) name the entries that
        // made them, as Docker shows them; what came from elsewhere stays `<missing>`.
        let mut parent = img.parent;
        while let Some(id) = parent {
            let Ok((p, refs)) = self.images.resolve(&id.to_string()) else {
                break;
            };
            let n = p.config.history.len();
            if n == 0 || n > items.len() {
                break;
            }
            let (tags, _) = tags_and_digests(&refs);
            items[n - 1].id = p.id.to_string();
            items[n - 1].tags = if tags.is_empty() { None } else { Some(tags) };
            parent = p.parent;
        }
        items.reverse();
        if let Some(top) = items.first_mut() {
            top.id = img.id.to_string();
            top.tags = if tags.is_empty() { None } else { Some(tags) };
        }
        Ok(items)
    }

    fn tag_image(&self, name: &str, repo: &str, tag: &str, force: bool) -> Result<(), ApiError> {
        self.images.tag(name, repo, tag, force).map_err(api_err)
    }

    async fn delete_image(
        &self,
        name: &str,
        force: bool,
        noprune: bool,
    ) -> Result<Vec<DeleteItem>, ApiError> {
        let containers = self.containers.clone();
        let in_use =
            Arc::new(move |id: &berth_image::Digest| containers.image_in_use(&id.to_string()));
        let effects = self
            .images
            .delete(name, force, !noprune, in_use)
            .await
            .map_err(api_err)?;
        Ok(delete_items(effects))
    }

    async fn prune_images(&self, q: &PruneQuery) -> Result<ImagePruneReport, ApiError> {
        let containers = self.containers.clone();
        let in_use =
            Arc::new(move |id: &berth_image::Digest| containers.image_in_use(&id.to_string()));
        let (effects, reclaimed) = self
            .images
            .prune(q.dangling_only, &prune_filters(q), in_use)
            .await
            .map_err(api_err)?;
        crate::memory::give_back_freed_heap();
        Ok(ImagePruneReport {
            images_deleted: (!effects.is_empty()).then(|| delete_items(effects)),
            space_reclaimed: reclaimed,
        })
    }

    fn save_images(&self, names: &[String]) -> Result<ByteStream, ApiError> {
        let set = self.images.resolve_for_save(names).map_err(api_err)?;
        Ok(Box::pin(self.images.save(set)))
    }

    async fn load_images(&self, body: ByteStream) -> Result<Vec<String>, ApiError> {
        let loaded = self.images.load(Box::new(body)).await.map_err(api_err)?;
        let mut lines = Vec::new();
        for l in loaded {
            if l.references.is_empty() {
                lines.push(format!("Loaded image ID: {}", l.image.id));
            }
            for (r, outcome) in &l.references {
                if let Some(old) = outcome.previous {
                    lines.push(format!("The image {r} already exists, renaming the old one with ID {old} to empty string"));
                }
                lines.push(format!("Loaded image: {r}"));
            }
        }
        Ok(lines)
    }
}

fn message(e: Event) -> EventMessage {
    let legacy = matches!(
        e.kind,
        berth_engine::EventKind::Container | berth_engine::EventKind::Image
    );
    EventMessage {
        status: legacy.then(|| e.action.clone()),
        id: legacy.then(|| e.actor_id.clone()),
        from: match e.kind {
            berth_engine::EventKind::Container => e.attributes.get("image").cloned(),
            _ => None,
        },
        kind: e.kind.as_str().to_string(),
        action: e.action,
        actor: Actor {
            id: e.actor_id,
            attributes: e.attributes,
        },
        scope: "local".to_string(),
        time: e.time_nano.div_euclid(1_000_000_000),
        time_nano: e.time_nano,
    }
}

fn id_matches(want: &str, id: &str) -> bool {
    let hex = id.strip_prefix("sha256:").unwrap_or(id);
    let want_hex = want.strip_prefix("sha256:").unwrap_or(want);
    !want_hex.is_empty() && hex.starts_with(want_hex)
}

fn event_matches(f: &Filters, e: &EventMessage) -> bool {
    let attrs: &BTreeMap<String, String> = &e.actor.attributes;
    let name = attrs.get("name").map(String::as_str).unwrap_or("");
    let named = |want: &str| {
        id_matches(want, &e.actor.id)
            || name == want
            || Reference::parse(want).is_ok_and(|r| {
                Reference::parse(name)
                    .is_ok_and(|n| n == r || (n.repo() == r.repo() && !want.contains(':')))
            })
    };
    // `exec_start: sh`, `health_status: healthy` also match by the part before the colon.
    f.any_matches("event", |v| {
        v == e.action
            || e.action
                .split_once(':')
                .is_some_and(|(head, _)| head.trim() == v)
    }) && f.any_matches("type", |v| v == e.kind)
        && f.any_matches("image", |v| match e.kind.as_str() {
            "image" => named(v),
            _ => attrs
                .get("image")
                .is_some_and(|i| i == v || i.split(':').next() == Some(v)),
        })
        && f.any_matches("container", |v| e.kind == "container" && named(v))
        && f.match_labels(|k| attrs.get(k).map(String::as_str))
        && f.any_matches("scope", |v| v == e.scope)
        // The other object types match their own events, by ID or name.
        && ["daemon", "network", "volume", "plugin", "node", "service", "secret", "config"]
            .iter()
            .all(|kind| {
                f.any_matches(kind, |v| {
                    e.kind == *kind && (e.actor.id == v || id_matches(v, &e.actor.id) || name == v)
                })
            })
}

impl EventsBackend for Daemon {
    fn subscribe_events(&self, query: &EventQuery) -> Result<EventSubscription, ApiError> {
        let (past, rx) = self.events.subscribe(query.since);
        let filters = Arc::new(query.filters.clone());
        let past = past
            .into_iter()
            .map(message)
            .filter(|m| event_matches(&filters, m))
            .collect();
        let live_filters = filters.clone();
        let live = tokio_stream::wrappers::BroadcastStream::new(rx)
            .filter_map(move |r| {
                let keep = r
                    .ok()
                    .map(message)
                    .filter(|m| event_matches(&live_filters, m));
                std::future::ready(keep)
            })
            .boxed();
        Ok(EventSubscription { past, live })
    }
}
