//! The fake backend and the request helper the in-process API tests share. Each test binary
//! uses a part of it.
#![allow(dead_code)]

pub mod fixtures;

use std::pin::Pin;
use std::sync::Arc;

use async_trait::async_trait;
use berth_api_server::backend::{
    BuildJob, BuildProgress, BuildQuery, ByteStream, CommitQuery, ContainerBackend,
    ContainerListQuery, EventQuery, EventSubscription, EventsBackend, ExecBackend, ExecStreams,
    ImageBackend, ImportRequest, InsertJob, LogStream, LogsQuery, PruneQuery, PullJob, PullQuery,
    PushJob, PushProgress, PushQuery, PushStep, StopQuery, SystemBackend, Waiting,
};
use berth_api_server::{ApiError, RequestBody, Router, ServerInfo};
use berth_api_types::container::PathStat;
use berth_api_types::container::{
    ContainerChange, ContainerInspect, ContainerPruneReport, ContainerSummary, CreateBody,
    CreateResponse, HostConfig, TopResponse, UpdateBody, UpdateResponse,
};
use berth_api_types::events::EventMessage;
use berth_api_types::exec::{ExecCreateBody, ExecInspect};
use berth_api_types::filters::Filters;
use berth_api_types::image::{
    DeleteItem, HistoryItem, ImageInspect, ImagePruneReport, ImageSummary,
};
use berth_api_types::stats::ContainerStats;
use berth_api_types::system::{DiskUsage, Info, Version};
use berth_api_types::volume::Volume;
use bytes::Bytes;
use futures_util::stream::BoxStream;
use http_body_util::{BodyExt, Full};

/// A backend with the images, containers, execs and past events it is given: every other
/// lookup misses, as on a daemon that only has those.
#[derive(Default)]
pub struct Fake {
    pub images: Vec<FakeImage>,
    pub containers: Vec<FakeContainer>,
    pub execs: Vec<ExecInspect>,
    pub events: Vec<EventMessage>,
    pub volumes: Vec<Volume>,
    /// The last prune query a prune endpoint passed on.
    pub pruned_with: std::sync::Mutex<Option<PruneQuery>>,
    /// The last create request, as the API layer passed it on.
    pub created_with: std::sync::Mutex<Option<CreateBody>>,
    /// User-defined networks made through the API, beside the predefined `none`.
    pub networks: std::sync::Mutex<Vec<berth_api_types::network::NetworkResource>>,
    /// Connect and disconnect calls as `(network, container)`, in order.
    pub network_calls: std::sync::Mutex<Vec<(String, String)>>,
}

/// A container as the fake backend answers for it: in the list, in inspect, and one stats
/// sample.
pub struct FakeContainer {
    pub summary: ContainerSummary,
    pub inspect: ContainerInspect,
    pub stats: ContainerStats,
}

/// An image as the fake backend answers for it.
pub struct FakeImage {
    pub summary: ImageSummary,
    pub inspect: ImageInspect,
    pub history: Vec<HistoryItem>,
}

impl Fake {
    fn container(&self, name: &str) -> Result<&FakeContainer, ApiError> {
        self.containers
            .iter()
            .find(|c| c.inspect.id.starts_with(name) || c.inspect.name == format!("/{name}"))
            .ok_or_else(|| no_container(name))
    }

    fn image(&self, name: &str) -> Result<&FakeImage, ApiError> {
        self.images
            .iter()
            .find(|i| {
                i.summary.id == name
                    || i.summary
                        .repo_tags
                        .iter()
                        .any(|t| t == name || t.strip_suffix(":latest") == Some(name))
            })
            .ok_or_else(|| no_image(name))
    }
}

fn no_container(name: &str) -> ApiError {
    ApiError::not_found(format!("No such container: {name}"))
}

fn no_image(name: &str) -> ApiError {
    ApiError::not_found(format!("No such image: {name}"))
}

#[async_trait]
impl SystemBackend for Fake {
    /// What the fake holds, each container counted against its image.
    async fn disk_usage(&self) -> Result<DiskUsage, ApiError> {
        Ok(DiskUsage {
            layers_size: self.images.iter().map(|i| i.summary.size).sum(),
            images: self
                .images
                .iter()
                .map(|i| ImageSummary {
                    containers: self
                        .containers
                        .iter()
                        .filter(|c| c.summary.image_id == i.summary.id)
                        .count() as i64,
                    shared_size: 0,
                    ..i.summary.clone()
                })
                .collect(),
            containers: self
                .containers
                .iter()
                .map(|c| ContainerSummary {
                    size_rw: Some(0),
                    size_root_fs: Some(0),
                    ..c.summary.clone()
                })
                .collect(),
            volumes: self.volumes.clone(),
            build_cache: Vec::new(),
        })
    }

    fn version(&self) -> Version {
        Version {
            version: "0.0.0-test".into(),
            os: "linux".into(),
            arch: "amd64".into(),
            ..Default::default()
        }
    }

    fn info(&self) -> Info {
        Info::default()
    }
}

#[async_trait]
impl ImageBackend for Fake {
    async fn insert_file(
        &self,
        name: &str,
        _url: &str,
        _path: &str,
    ) -> Result<InsertJob, ApiError> {
        Err(ApiError::not_found(format!("No such image: {name}")))
    }
    async fn distribution_inspect(
        &self,
        name: &str,
        _auth: Option<berth_api_types::auth::AuthConfig>,
    ) -> Result<berth_api_types::image::DistributionInspect, ApiError> {
        Err(ApiError::not_found(format!("no registry here for {name}")))
    }
    async fn search_images(
        &self,
        term: &str,
        _limit: usize,
        _auth: Option<berth_api_types::auth::AuthConfig>,
    ) -> Result<Vec<berth_api_types::image::SearchResult>, ApiError> {
        Ok(vec![berth_api_types::image::SearchResult {
            description: "a fake".into(),
            is_official: false,
            is_automated: true,
            name: format!("fake/{term}"),
            star_count: 3,
        }])
    }
    async fn login(
        &self,
        auth: berth_api_types::auth::AuthConfig,
    ) -> Result<Option<String>, ApiError> {
        Err(ApiError::new(
            berth_errdefs::ErrorKind::Unauthorized,
            format!("no login for {}", auth.username),
        ))
    }
    async fn pull_image(&self, query: PullQuery) -> Result<PullJob, ApiError> {
        Err(ApiError::not_found(format!(
            "No such image: {}",
            query.image
        )))
    }
    async fn push_image(&self, query: PushQuery) -> Result<PushJob, ApiError> {
        let (tell, progress) = tokio::sync::mpsc::unbounded_channel();
        let _ = tell.send(PushProgress::RefersTo(format!(
            "docker.io/library/{}",
            query.image
        )));
        let _ = tell.send(PushProgress::Layer {
            id: "0123456789ab".into(),
            step: PushStep::Preparing,
        });
        let _ = tell.send(PushProgress::Layer {
            id: "0123456789ab".into(),
            step: PushStep::Pushing {
                current: 10,
                total: 10,
            },
        });
        let _ = tell.send(PushProgress::Pushed {
            tag: "latest".into(),
            digest: format!("sha256:{}", "d".repeat(64)),
            size: 527,
        });
        Ok(PushJob {
            progress,
            done: Box::pin(async { Ok(()) }),
        })
    }
    async fn build_image(
        &self,
        query: BuildQuery,
        _context: ByteStream,
    ) -> Result<BuildJob, ApiError> {
        let (tell, progress) = tokio::sync::mpsc::unbounded_channel();
        let _ = tell.send(BuildProgress::Stream("Step 1/1 : FROM scratch".into()));
        let _ = tell.send(BuildProgress::Stream("\n".into()));
        let _ = tell.send(BuildProgress::Built(format!("sha256:{}", "b".repeat(64))));
        for t in query.tags {
            let _ = tell.send(BuildProgress::Tagged(t));
        }
        Ok(BuildJob {
            progress,
            done: Box::pin(async { Ok(()) }),
        })
    }
    async fn import_image(&self, _req: ImportRequest) -> Result<String, ApiError> {
        Err(ApiError::bad_request("no import here"))
    }
    fn list_images(
        &self,
        _all: bool,
        _f: &Filters,
        shared_size: bool,
    ) -> Result<Vec<ImageSummary>, ApiError> {
        Ok(self
            .images
            .iter()
            .map(|i| {
                let mut s = i.summary.clone();
                if shared_size {
                    s.shared_size = 0;
                }
                s
            })
            .collect())
    }
    fn inspect_image(&self, name: &str) -> Result<ImageInspect, ApiError> {
        Ok(self.image(name)?.inspect.clone())
    }
    fn image_history(&self, name: &str) -> Result<Vec<HistoryItem>, ApiError> {
        Ok(self.image(name)?.history.clone())
    }
    fn tag_image(&self, name: &str, _r: &str, _t: &str, _f: bool) -> Result<(), ApiError> {
        Err(no_image(name))
    }
    async fn delete_image(
        &self,
        name: &str,
        _force: bool,
        _noprune: bool,
    ) -> Result<Vec<DeleteItem>, ApiError> {
        Err(no_image(name))
    }
    fn save_images(&self, names: &[String]) -> Result<ByteStream, ApiError> {
        Err(no_image(names.first().map_or("", String::as_str)))
    }
    async fn load_images(&self, _body: ByteStream) -> Result<Vec<String>, ApiError> {
        Ok(Vec::new())
    }
    /// Untagged images go; with `dangling_only` false, tagged ones lose their tags too.
    async fn prune_images(&self, q: &PruneQuery) -> Result<ImagePruneReport, ApiError> {
        *self.pruned_with.lock().unwrap() = Some(q.clone());
        let mut items = Vec::new();
        for i in &self.images {
            if !i.summary.repo_tags.is_empty() && q.dangling_only {
                continue;
            }
            items.extend(
                i.summary
                    .repo_tags
                    .iter()
                    .cloned()
                    .map(DeleteItem::Untagged),
            );
            items.push(DeleteItem::Deleted(i.summary.id.clone()));
        }
        Ok(ImagePruneReport {
            space_reclaimed: if items.is_empty() { 0 } else { 1 },
            images_deleted: (!items.is_empty()).then_some(items),
        })
    }
}

impl EventsBackend for Fake {
    fn subscribe_events(&self, _q: &EventQuery) -> Result<EventSubscription, ApiError> {
        Ok(EventSubscription {
            past: self.events.clone(),
            live: Box::pin(futures_util::stream::empty()),
        })
    }
}

#[async_trait]
impl ContainerBackend for Fake {
    /// Every container that does not run goes.
    async fn prune_containers(&self, q: &PruneQuery) -> Result<ContainerPruneReport, ApiError> {
        *self.pruned_with.lock().unwrap() = Some(q.clone());
        let gone: Vec<String> = self
            .containers
            .iter()
            .filter(|c| !c.inspect.state.running)
            .map(|c| c.inspect.id.clone())
            .collect();
        Ok(ContainerPruneReport {
            containers_deleted: (!gone.is_empty()).then_some(gone),
            space_reclaimed: 0,
        })
    }
    async fn update_container(&self, n: &str, _b: UpdateBody) -> Result<UpdateResponse, ApiError> {
        self.container(n)?;
        Ok(UpdateResponse::default())
    }
    fn create_container(&self, _n: &str, body: CreateBody) -> Result<CreateResponse, ApiError> {
        let image = body.config.image.clone();
        *self.created_with.lock().unwrap() = Some(body);
        // Made from an image the fake holds; anything else is missing.
        self.images
            .iter()
            .find(|i| i.summary.repo_tags.contains(&image) || i.summary.id == image)
            .map(|_| CreateResponse {
                id: "c0ffee".repeat(10) + "0000",
                warnings: vec![],
            })
            .ok_or_else(|| no_image(&image))
    }
    async fn start_container(&self, n: &str, _h: Option<HostConfig>) -> Result<(), ApiError> {
        Err(no_container(n))
    }
    async fn stop_container(&self, n: &str, _h: &StopQuery) -> Result<(), ApiError> {
        Err(no_container(n))
    }
    async fn restart_container(&self, n: &str, _h: &StopQuery) -> Result<(), ApiError> {
        Err(no_container(n))
    }
    async fn kill_container(&self, n: &str, _s: &str) -> Result<(), ApiError> {
        Err(no_container(n))
    }
    fn wait_container(&self, n: &str, condition: &str) -> Result<Waiting, ApiError> {
        let found = self.containers.iter().find(|c| c.summary.id == n);
        let Some(c) = found else {
            return Err(no_container(n));
        };
        if !["", "not-running", "next-exit", "removed"].contains(&condition) {
            return Err(ApiError::bad_request(format!(
                "invalid condition: {condition:?}"
            )));
        }
        let code = c.inspect.state.exit_code;
        Ok(Box::pin(async move { Ok(code) }))
    }
    async fn remove_container(&self, n: &str, _f: bool, _v: bool) -> Result<(), ApiError> {
        Err(no_container(n))
    }
    fn rename_container(&self, n: &str, _new: &str) -> Result<(), ApiError> {
        Err(no_container(n))
    }
    fn remove_link(&self, n: &str) -> Result<(), ApiError> {
        Err(no_container(n))
    }
    async fn pause_container(&self, n: &str, _p: bool) -> Result<(), ApiError> {
        Err(no_container(n))
    }
    fn list_containers(&self, _q: &ContainerListQuery) -> Result<Vec<ContainerSummary>, ApiError> {
        Ok(self.containers.iter().map(|c| c.summary.clone()).collect())
    }
    fn inspect_container(&self, n: &str) -> Result<ContainerInspect, ApiError> {
        self.container(n).map(|c| c.inspect.clone())
    }
    async fn container_sizes(&self, n: &str) -> Result<(i64, i64), ApiError> {
        let c = self.container(n)?;
        Ok((
            c.summary.size_rw.unwrap_or(1),
            c.summary.size_root_fs.unwrap_or(2),
        ))
    }
    async fn stat_container_path(&self, n: &str, _p: &str) -> Result<PathStat, ApiError> {
        self.container(n)?;
        Err(ApiError::not_found("not in the fake"))
    }
    async fn archive_container_path(
        &self,
        n: &str,
        _p: &str,
    ) -> Result<(PathStat, ByteStream), ApiError> {
        self.container(n)?;
        Err(ApiError::not_found("not in the fake"))
    }
    async fn extract_to_container(
        &self,
        n: &str,
        _p: &str,
        _no_overwrite: bool,
        _copy_uid_gid: bool,
        _body: ByteStream,
    ) -> Result<(), ApiError> {
        self.container(n)?;
        Err(ApiError::not_found("not in the fake"))
    }
    async fn commit_container(
        &self,
        q: &CommitQuery,
        _config: Option<berth_api_types::container::ContainerConfig>,
    ) -> Result<String, ApiError> {
        self.container(&q.container)?;
        Ok(fixtures::IMAGE.into())
    }
    fn export_container(&self, n: &str) -> Result<ByteStream, ApiError> {
        self.container(n)?;
        Ok(Box::pin(std::io::Cursor::new(b"not a real tar".to_vec())))
    }
    async fn container_changes(&self, n: &str) -> Result<Vec<ContainerChange>, ApiError> {
        self.container(n)?;
        Ok(vec![
            ContainerChange {
                path: "/tmp".into(),
                kind: 0,
            },
            ContainerChange {
                path: "/tmp/new".into(),
                kind: 1,
            },
        ])
    }
    async fn top_container(&self, n: &str, _a: &str) -> Result<TopResponse, ApiError> {
        self.container(n)?;
        Ok(TopResponse {
            titles: vec!["PID".into(), "CMD".into()],
            processes: vec![vec!["1".into(), "sleep 1000".into()]],
        })
    }
    fn container_logs(&self, n: &str, _q: &LogsQuery) -> Result<LogStream, ApiError> {
        Err(no_container(n))
    }
    async fn resize_container(&self, n: &str, _r: u16, _c: u16) -> Result<(), ApiError> {
        Err(no_container(n))
    }
    async fn attach_stdin(
        &self,
        n: &str,
    ) -> Result<Option<Pin<Box<dyn tokio::io::AsyncWrite + Send>>>, ApiError> {
        Err(no_container(n))
    }
    fn container_stats(
        &self,
        n: &str,
        _stream: bool,
        _one_shot: bool,
    ) -> Result<BoxStream<'static, ContainerStats>, ApiError> {
        let sample = self.container(n)?.stats.clone();
        Ok(Box::pin(futures_util::stream::iter([sample])))
    }
}

#[async_trait]
impl ExecBackend for Fake {
    fn exec_create(&self, container: &str, _b: ExecCreateBody) -> Result<String, ApiError> {
        self.container(container).map(|_| "e2".to_string())
    }
    async fn exec_start(
        &self,
        id: &str,
        _size: Option<(u16, u16)>,
    ) -> Result<ExecStreams, ApiError> {
        Err(ApiError::not_found(format!("No such exec instance: {id}")))
    }
    async fn exec_resize(&self, id: &str, _r: u16, _c: u16) -> Result<(), ApiError> {
        Err(ApiError::not_found(format!("No such exec instance: {id}")))
    }
    fn exec_inspect(&self, id: &str) -> Result<ExecInspect, ApiError> {
        self.execs
            .iter()
            .find(|e| e.id == id)
            .cloned()
            .ok_or_else(|| ApiError::not_found(format!("No such exec instance: {id}")))
    }
}

fn router(backend: Arc<Fake>) -> Router {
    Router::new(
        backend,
        ServerInfo {
            version: "0.0.0-test".into(),
            cors_origin: None,
        },
    )
}

pub struct Answer {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub body: String,
}

/// One request to a router over an empty daemon.
pub async fn call(method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Answer {
    call_with(Fake::default(), method, path, headers, body).await
}

/// One request to a router over `backend` (share it as an `Arc` to look at it after).
pub async fn call_with(
    backend: impl Into<Arc<Fake>>,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Answer {
    let mut req = http::Request::builder().method(method).uri(path);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    if !body.is_empty() {
        req = req.header("content-length", body.len());
    }
    let body: RequestBody = Full::new(Bytes::from(body.to_string()))
        .map_err(|never| match never {})
        .boxed_unsync();
    let resp = router(backend.into()).handle(req.body(body).unwrap()).await;
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    Answer {
        status,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}

impl berth_api_server::backend::VolumeBackend for Fake {
    fn list_volumes(&self) -> Result<Vec<berth_api_server::backend::VolumeEntry>, ApiError> {
        Ok(Vec::new())
    }
    fn inspect_volume(
        &self,
        name: &str,
    ) -> Result<berth_api_server::backend::VolumeEntry, ApiError> {
        Err(ApiError::not_found(format!("get {name}: no such volume")))
    }
    fn create_volume(
        &self,
        body: berth_api_types::volume::VolumeCreateBody,
    ) -> Result<berth_api_server::backend::VolumeEntry, ApiError> {
        Ok(berth_api_server::backend::VolumeEntry {
            volume: berth_api_types::volume::Volume {
                name: body.name,
                driver: "local".into(),
                scope: "local".into(),
                ..Default::default()
            },
            anonymous: false,
            dangling: true,
        })
    }
    fn remove_volume(&self, _name: &str, _force: bool) -> Result<(), ApiError> {
        Ok(())
    }
    fn prune_volumes(
        &self,
        _all: bool,
        _keep: &(dyn Fn(&berth_api_server::backend::VolumeEntry) -> bool + Sync),
    ) -> Result<(Vec<String>, u64), ApiError> {
        Ok((Vec::new(), 0))
    }
}

#[async_trait::async_trait]
impl berth_api_server::backend::NetworkBackend for Fake {
    fn list_networks(&self) -> Result<Vec<berth_api_types::network::NetworkResource>, ApiError> {
        let mut all = vec![berth_api_types::network::NetworkResource {
            name: "none".into(),
            id: "n".repeat(64),
            driver: "null".into(),
            scope: "local".into(),
            ..Default::default()
        }];
        all.extend(self.networks.lock().unwrap().iter().cloned());
        Ok(all)
    }

    async fn create_network(
        &self,
        body: berth_api_types::network::NetworkCreateRequest,
    ) -> Result<String, ApiError> {
        // IDs that share their first digits, so short prefixes are ambiguous.
        let id = format!(
            "{:04x}{}",
            self.networks.lock().unwrap().len() + 1,
            "e".repeat(60)
        );
        self.networks
            .lock()
            .unwrap()
            .push(berth_api_types::network::NetworkResource {
                name: body.name,
                id: id.clone(),
                driver: "bridge".into(),
                scope: "local".into(),
                created: "2026-01-01T00:00:00Z".into(),
                labels: body.labels.unwrap_or_default(),
                ..Default::default()
            });
        Ok(id)
    }

    async fn remove_network(&self, name: &str) -> Result<(), ApiError> {
        let mut nets = self.networks.lock().unwrap();
        let before = nets.len();
        nets.retain(|n| n.name != name && n.id != name);
        if nets.len() == before {
            return Err(ApiError::not_found(format!("network {name} not found")));
        }
        Ok(())
    }

    async fn connect_network(
        &self,
        network: &str,
        body: berth_api_types::network::NetworkConnectRequest,
    ) -> Result<(), ApiError> {
        self.network_calls
            .lock()
            .unwrap()
            .push((network.to_string(), body.container));
        Ok(())
    }

    async fn disconnect_network(
        &self,
        network: &str,
        body: berth_api_types::network::NetworkDisconnectRequest,
    ) -> Result<(), ApiError> {
        self.network_calls
            .lock()
            .unwrap()
            .push((network.to_string(), body.container));
        Ok(())
    }

    async fn prune_networks(
        &self,
        keep: &(dyn for<'n> Fn(&'n berth_api_types::network::NetworkResource) -> bool + Sync),
    ) -> Result<Vec<String>, ApiError> {
        let mut nets = self.networks.lock().unwrap();
        let (kept, gone): (Vec<_>, Vec<_>) = nets.drain(..).partition(|n| keep(n));
        *nets = kept;
        Ok(gone.into_iter().map(|n| n.name).collect())
    }
}
