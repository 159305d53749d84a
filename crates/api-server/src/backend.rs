//! What the API needs from the engine, as small traits the daemon implements. They speak
//! wire types (latest shape) and [`ApiError`]; they never see HTTP.

use std::pin::Pin;

use async_trait::async_trait;
use berth_api_types::container::{
    ContainerChange, ContainerConfig, ContainerInspect, ContainerPruneReport, ContainerSummary,
    CreateBody, CreateResponse, HostConfig, PathStat, TopResponse, UpdateBody, UpdateResponse,
};
use berth_api_types::events::EventMessage;
use berth_api_types::exec::{ExecCreateBody, ExecInspect};
use berth_api_types::filters::Filters;
use berth_api_types::image::{
    DeleteItem, HistoryItem, ImageInspect, ImagePruneReport, ImageSummary,
};
use berth_api_types::stats::ContainerStats;
use berth_api_types::system::{DiskUsage, Info, Version};
use futures_util::stream::BoxStream;
use tokio::io::AsyncRead;

use crate::error::ApiError;

/// A wait for a container under way: it ends with the exit code.
pub type Waiting = futures_util::future::BoxFuture<'static, Result<i64, ApiError>>;

/// A byte stream in or out (request body, tarball).
pub type ByteStream = Pin<Box<dyn AsyncRead + Send>>;

/// `POST /images/create?fromImage=`: what to pull, as the client gave it.
#[derive(Debug, Clone, Default)]
pub struct PullQuery {
    /// `fromImage`, which may carry a tag.
    pub image: String,
    /// `tag`: a tag or a digest.
    pub tag: String,
    /// `platform` (1.32+), `os/arch[/variant]`; empty for the host's.
    pub platform: String,
    /// The decoded `X-Registry-Auth`, when the client sent credentials.
    pub auth: Option<berth_api_types::auth::AuthConfig>,
}

/// A step of a pull, as the engine reports it; `handlers::images` words it as Docker does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PullProgress {
    PullingFrom { path: String, id: String },
    Layer { id: String, step: PullStep },
    Digest(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PullStep {
    AlreadyExists,
    PullingFsLayer,
    Waiting,
    Downloading { current: u64, total: u64 },
    Retrying { seconds: u64 },
    VerifyingChecksum,
    DownloadComplete,
    Extracting { current: u64, total: u64 },
    PullComplete,
}

/// How a pull ended: the reference as Docker prints it, and whether it names a new image.
#[derive(Debug, Clone)]
pub struct PullOutcome {
    pub reference: String,
    pub updated: bool,
}

/// A pull under way: its steps as they happen, and its end.
pub struct PullJob {
    pub progress: tokio::sync::mpsc::UnboundedReceiver<PullProgress>,
    pub done: futures_util::future::BoxFuture<'static, Result<PullOutcome, ApiError>>,
}

/// `POST /images/{name}/push`: what to push, as the client gave it.
#[derive(Debug, Clone, Default)]
pub struct PushQuery {
    /// The repository, perhaps with a tag.
    pub image: String,
    /// `tag`; empty: the name's tag, or every tag of the repository.
    pub tag: String,
    pub auth: Option<berth_api_types::auth::AuthConfig>,
}

/// A step of a push, as the engine reports it; `handlers::images` words it as Docker does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PushProgress {
    /// The repository pushed to, fully named (`docker.io/library/busybox`).
    RefersTo(String),
    Layer {
        id: String,
        step: PushStep,
    },
    Pushed {
        tag: String,
        digest: String,
        size: u64,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PushStep {
    Preparing,
    Waiting,
    AlreadyExists,
    MountedFrom(String),
    Pushing { current: u64, total: u64 },
    Pushed,
}

/// A push under way: its steps as they happen, and its end.
pub struct PushJob {
    pub progress: tokio::sync::mpsc::UnboundedReceiver<PushProgress>,
    pub done: futures_util::future::BoxFuture<'static, Result<(), ApiError>>,
}

/// `POST /build`: what to build, as the client asked.
#[derive(Debug, Clone, Default)]
pub struct BuildQuery {
    /// `t`: names for the result (repeatable).
    pub tags: Vec<String>,
    /// `dockerfile`: its path in the context (default `Dockerfile`).
    pub dockerfile: String,
    /// `remote`: a git URL (`#ref:subdir`), a tarball's URL or a Dockerfile's, fetched by
    /// the daemon instead of a context in the body.
    pub remote: String,
    pub quiet: bool,
    pub no_cache: bool,
    pub remove: bool,
    pub force_remove: bool,
    pub pull: bool,
    pub build_args: std::collections::BTreeMap<String, Option<String>>,
    pub labels: std::collections::BTreeMap<String, String>,
    pub target: String,
    /// `cachefrom` (1.25): images whose steps the cache may take.
    pub cache_from: Vec<String>,
    /// What RUN steps' containers get: `memory`, `memswap`, `cpushares`, `cpusetcpus`,
    /// `cpuperiod`, `cpuquota`, `shmsize`, `networkmode`, `extrahosts`.
    pub run_host: berth_api_types::container::HostConfig,
    /// `Step 0 :` below API 1.22, `Step 1 :` to 1.24, `Step 1/N :` from 1.25.
    pub step_numbering: StepNumbering,
    /// `X-Registry-Config`: credentials per registry for the FROM pulls.
    pub registry_config: std::collections::BTreeMap<String, berth_api_types::auth::AuthConfig>,
}

/// How a build numbers its steps for the client's API version.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum StepNumbering {
    FromZero,
    FromOne,
    #[default]
    OfTotal,
}

/// What a build tells as it runs; `handlers::build` writes it as Docker's stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BuildProgress {
    Stream(String),
    Built(String),
    Tagged(String),
    /// A status line (a FROM image's pull), for the object `id`.
    Status {
        id: Option<String>,
        status: String,
    },
    /// The build failed: Docker's message, and a RUN's exit code.
    Failed {
        message: String,
        code: Option<i64>,
    },
}

/// A build under way: its steps as they happen, and its end (an error here is one before
/// the build started, such as an unreadable context, and is the answer's status).
pub struct BuildJob {
    pub progress: tokio::sync::mpsc::UnboundedReceiver<BuildProgress>,
    pub done: futures_util::future::BoxFuture<'static, Result<(), ApiError>>,
}

/// An insert under way (API ≤ 1.11): its download's progress, and its end.
pub struct InsertJob {
    /// The image the file goes into: its short ID names the progress lines.
    pub image_id: String,
    /// The download's length, when its server said.
    pub total: Option<u64>,
    /// The running count of bytes downloaded, after each read: Docker's reader wrote its
    /// lines from every read, so each count is weighed for a line.
    pub progress: tokio::sync::mpsc::UnboundedReceiver<u64>,
    /// The new image's ID, once the file is in it.
    pub done: futures_util::future::BoxFuture<'static, Result<String, ApiError>>,
}

/// `POST /commit`'s query.
#[derive(Debug, Clone, Default)]
pub struct CommitQuery {
    pub container: String,
    pub repo: String,
    pub tag: String,
    pub comment: String,
    pub author: String,
    pub pause: bool,
    /// Dockerfile instructions to apply to the new image's config (`--change`).
    pub changes: Vec<String>,
}

#[async_trait]
pub trait SystemBackend: Send + Sync {
    fn version(&self) -> Version;
    fn info(&self) -> Info;
    /// `GET /system/df`: every image, container and volume with what it takes on disk.
    async fn disk_usage(&self) -> Result<DiskUsage, ApiError>;
}

/// The filters the prune endpoints share, read and checked by the handler.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PruneQuery {
    /// Only objects created before this time (Unix nanoseconds).
    pub until: Option<i64>,
    /// `label=key` / `label=key=value`: every entry must hold.
    pub labels: Vec<(String, Option<String>)>,
    /// `label!=…`: no entry may hold.
    pub labels_not: Vec<(String, Option<String>)>,
    /// Images only: untagged ones alone (the default) or every unused one.
    pub dangling_only: bool,
}

pub enum ImportSource {
    Body(ByteStream),
    Url(String),
}

pub struct ImportRequest {
    pub source: ImportSource,
    pub repo: String,
    pub tag: String,
    pub message: String,
}

#[async_trait]
pub trait ImageBackend: Send + Sync {
    /// Returns the new image's ID (`sha256:…`).
    async fn import_image(&self, req: ImportRequest) -> Result<String, ApiError>;
    /// `GET /distribution/{name}/json`: the registry's descriptor and platforms for `name`.
    async fn distribution_inspect(
        &self,
        name: &str,
        auth: Option<berth_api_types::auth::AuthConfig>,
    ) -> Result<berth_api_types::image::DistributionInspect, ApiError>;
    /// `GET /images/search`: up to `limit` results for `term` from the registry it names
    /// (Docker Hub when it names none).
    async fn search_images(
        &self,
        term: &str,
        limit: usize,
        auth: Option<berth_api_types::auth::AuthConfig>,
    ) -> Result<Vec<berth_api_types::image::SearchResult>, ApiError>;
    /// `POST /auth`: logs in to the registry `auth.serveraddress` names; the identity token
    /// its token server gave, if any.
    async fn login(
        &self,
        auth: berth_api_types::auth::AuthConfig,
    ) -> Result<Option<String>, ApiError>;
    /// `POST /images/create?fromImage=`: a bad reference is an error here; the rest is the
    /// job's (what fails before its first step is still the answer's status).
    async fn pull_image(&self, query: PullQuery) -> Result<PullJob, ApiError>;
    /// `POST /images/{name}/push`: a bad name is an error here; everything after, a missing
    /// tag included, is the job's (Docker reports it in the stream).
    async fn push_image(&self, query: PushQuery) -> Result<PushJob, ApiError>;
    /// `POST /build`: the context is the request body (a tar, maybe compressed).
    async fn build_image(
        &self,
        query: BuildQuery,
        context: ByteStream,
    ) -> Result<BuildJob, ApiError>;
    /// `POST /images/(name)/insert` (API ≤ 1.11): a missing image or a failed request for
    /// the URL is an error here; the download then goes on in the job.
    async fn insert_file(&self, name: &str, url: &str, path: &str) -> Result<InsertJob, ApiError>;
    /// With `shared_size`, each row's `SharedSize` is measured (else -1, as Docker sends it).
    fn list_images(
        &self,
        all: bool,
        filters: &Filters,
        shared_size: bool,
    ) -> Result<Vec<ImageSummary>, ApiError>;
    fn inspect_image(&self, name: &str) -> Result<ImageInspect, ApiError>;
    fn image_history(&self, name: &str) -> Result<Vec<HistoryItem>, ApiError>;
    fn tag_image(&self, name: &str, repo: &str, tag: &str, force: bool) -> Result<(), ApiError>;
    async fn delete_image(
        &self,
        name: &str,
        force: bool,
        noprune: bool,
    ) -> Result<Vec<DeleteItem>, ApiError>;
    /// Resolves every name first (so a bad name fails before any byte is sent), then streams.
    fn save_images(&self, names: &[String]) -> Result<ByteStream, ApiError>;
    /// Returns one line per image loaded (`Loaded image: busybox:latest`).
    async fn load_images(&self, body: ByteStream) -> Result<Vec<String>, ApiError>;
    /// Removes the images `query` selects that no container uses.
    async fn prune_images(&self, query: &PruneQuery) -> Result<ImagePruneReport, ApiError>;
}

/// `GET /events` parameters, times in Unix nanoseconds.
pub struct EventQuery {
    pub since: Option<i64>,
    pub until: Option<i64>,
    pub filters: Filters,
}

pub struct EventSubscription {
    pub past: Vec<EventMessage>,
    pub live: BoxStream<'static, EventMessage>,
}

pub trait EventsBackend: Send + Sync {
    fn subscribe_events(&self, query: &EventQuery) -> Result<EventSubscription, ApiError>;
}

/// How `stop` and `restart` stop: `t` and, from API 1.42, `signal`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StopQuery {
    /// Seconds before the kill; negative waits as long as it takes; `None`: the container's
    /// `StopTimeout`, or 10.
    pub timeout: Option<i64>,
    /// Instead of the container's `StopSignal`.
    pub signal: Option<String>,
}

/// `GET /containers/json` parameters.
#[derive(Debug, Clone, Default)]
pub struct ContainerListQuery {
    pub all: bool,
    pub limit: Option<usize>,
    pub since: String,
    pub before: String,
    pub size: bool,
    pub filters: Filters,
}

/// `GET /containers/(id)/logs` (and attach's log replay) parameters.
#[derive(Debug, Clone, Default)]
pub struct LogsQuery {
    pub stdout: bool,
    pub stderr: bool,
    pub follow: bool,
    pub tail: Option<usize>,
    pub since: Option<i64>,
    /// Only lines before this (Unix nanoseconds); following stops there (API 1.35).
    pub until: Option<i64>,
    /// Each line prefixed with its log attributes.
    pub details: bool,
    /// For attach: the output is wanted whatever the log driver.
    pub attach: bool,
}

/// One chunk of container output: stream 1 stdout, 2 stderr; `time` is RFC 3339.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogChunk {
    pub stream: u8,
    pub data: bytes::Bytes,
    pub time: String,
}

pub struct LogStream {
    pub tty: bool,
    pub chunks: BoxStream<'static, LogChunk>,
}

#[async_trait]
pub trait ContainerBackend: Send + Sync {
    fn create_container(&self, name: &str, body: CreateBody) -> Result<CreateResponse, ApiError>;
    async fn start_container(
        &self,
        name: &str,
        host_config: Option<HostConfig>,
    ) -> Result<(), ApiError>;
    async fn stop_container(&self, name: &str, how: &StopQuery) -> Result<(), ApiError>;
    async fn restart_container(&self, name: &str, how: &StopQuery) -> Result<(), ApiError>;
    async fn kill_container(&self, name: &str, signal: &str) -> Result<(), ApiError>;
    /// Resolves the container and the `condition` (`not-running`, `next-exit`, `removed`;
    /// empty for the first) at once, so that a bad one fails before anything is answered;
    /// the returned wait ends with the exit code.
    fn wait_container(&self, name: &str, condition: &str) -> Result<Waiting, ApiError>;
    async fn remove_container(
        &self,
        name: &str,
        force: bool,
        volumes: bool,
    ) -> Result<(), ApiError>;
    fn rename_container(&self, name: &str, new_name: &str) -> Result<(), ApiError>;
    /// Removes the containers `query` selects that are not running.
    async fn prune_containers(&self, query: &PruneQuery) -> Result<ContainerPruneReport, ApiError>;
    /// Changes resources and the restart policy, live when the container runs.
    async fn update_container(
        &self,
        name: &str,
        body: UpdateBody,
    ) -> Result<UpdateResponse, ApiError>;
    /// Removes a legacy link, named `<parent>/<alias>`.
    fn remove_link(&self, link_name: &str) -> Result<(), ApiError>;
    async fn pause_container(&self, name: &str, pause: bool) -> Result<(), ApiError>;
    fn list_containers(
        &self,
        query: &ContainerListQuery,
    ) -> Result<Vec<ContainerSummary>, ApiError>;
    fn inspect_container(&self, name: &str) -> Result<ContainerInspect, ApiError>;
    /// `SizeRw` and `SizeRootFs` (inspect with `?size=1`): walks the writable layer.
    async fn container_sizes(&self, name: &str) -> Result<(i64, i64), ApiError>;
    async fn top_container(&self, name: &str, ps_args: &str) -> Result<TopResponse, ApiError>;
    /// `HEAD .../archive`: what is at `path` in the container.
    async fn stat_container_path(&self, name: &str, path: &str) -> Result<PathStat, ApiError>;
    /// `GET .../archive`: the stat and a tar of `path`.
    async fn archive_container_path(
        &self,
        name: &str,
        path: &str,
    ) -> Result<(PathStat, ByteStream), ApiError>;
    /// `PUT .../archive`: extracts `body` into the directory `path`.
    async fn extract_to_container(
        &self,
        name: &str,
        path: &str,
        no_overwrite_dir_non_dir: bool,
        copy_uid_gid: bool,
        body: ByteStream,
    ) -> Result<(), ApiError>;
    /// `POST /commit`: an image of the container's changes; its ID.
    async fn commit_container(
        &self,
        query: &CommitQuery,
        config: Option<ContainerConfig>,
    ) -> Result<String, ApiError>;
    /// The container's files as a tar stream.
    fn export_container(&self, name: &str) -> Result<ByteStream, ApiError>;
    /// What the container changed in its root filesystem.
    async fn container_changes(&self, name: &str) -> Result<Vec<ContainerChange>, ApiError>;
    fn container_logs(&self, name: &str, query: &LogsQuery) -> Result<LogStream, ApiError>;
    async fn resize_container(&self, name: &str, rows: u16, cols: u16) -> Result<(), ApiError>;
    /// A writer into the container's stdin, once it runs; `None` without `OpenStdin`.
    async fn attach_stdin(
        &self,
        name: &str,
    ) -> Result<Option<Pin<Box<dyn tokio::io::AsyncWrite + Send>>>, ApiError>;
    /// Stats once a second until the container stops; with `stream` false, one object
    /// (taken a second after the first sample, so CPU use can be computed, unless
    /// `one_shot`).
    fn container_stats(
        &self,
        name: &str,
        stream: bool,
        one_shot: bool,
    ) -> Result<BoxStream<'static, ContainerStats>, ApiError>;
}

/// The streams of a started exec process.
pub struct ExecStreams {
    pub stdin: Option<Pin<Box<dyn tokio::io::AsyncWrite + Send>>>,
    pub stdout: ByteStream,
    pub stderr: ByteStream,
    pub tty: bool,
    /// Resolves once the process's end is recorded (inspect then shows its exit code).
    pub done: futures_util::future::BoxFuture<'static, ()>,
}

#[async_trait]
pub trait ExecBackend: Send + Sync {
    /// Returns the exec's ID.
    fn exec_create(&self, container: &str, body: ExecCreateBody) -> Result<String, ApiError>;
    /// `console_size`: the terminal's first size, `(height, width)`.
    async fn exec_start(
        &self,
        id: &str,
        console_size: Option<(u16, u16)>,
    ) -> Result<ExecStreams, ApiError>;
    async fn exec_resize(&self, id: &str, rows: u16, cols: u16) -> Result<(), ApiError>;
    fn exec_inspect(&self, id: &str) -> Result<ExecInspect, ApiError>;
}

/// Everything the API server uses.
/// `/networks`: the predefined networks and the user-defined bridges.
#[async_trait::async_trait]
pub trait NetworkBackend: Send + Sync {
    /// Every network; the handler filters and finds.
    fn list_networks(&self) -> Result<Vec<berth_api_types::network::NetworkResource>, ApiError>;
    /// Its ID.
    async fn create_network(
        &self,
        body: berth_api_types::network::NetworkCreateRequest,
    ) -> Result<String, ApiError>;
    async fn remove_network(&self, name: &str) -> Result<(), ApiError>;
    async fn connect_network(
        &self,
        network: &str,
        body: berth_api_types::network::NetworkConnectRequest,
    ) -> Result<(), ApiError>;
    async fn disconnect_network(
        &self,
        network: &str,
        body: berth_api_types::network::NetworkDisconnectRequest,
    ) -> Result<(), ApiError>;
    /// Removes the unused user-defined networks `keep` does not keep; their names.
    async fn prune_networks(
        &self,
        keep: &(dyn for<'n> Fn(&'n berth_api_types::network::NetworkResource) -> bool + Sync),
    ) -> Result<Vec<String>, ApiError>;
}

/// `/volumes`: named and anonymous volumes of the `local` driver.
pub trait VolumeBackend: Send + Sync {
    /// Every volume; the handler filters.
    fn list_volumes(&self) -> Result<Vec<VolumeEntry>, ApiError>;
    fn inspect_volume(&self, name: &str) -> Result<VolumeEntry, ApiError>;
    fn create_volume(
        &self,
        body: berth_api_types::volume::VolumeCreateBody,
    ) -> Result<VolumeEntry, ApiError>;
    fn remove_volume(&self, name: &str, force: bool) -> Result<(), ApiError>;
    /// Removes the unused volumes (anonymous ones only unless `all`) whose labels `keep`
    /// does not keep; their names and the bytes they held.
    fn prune_volumes(
        &self,
        all: bool,
        keep: &(dyn Fn(&VolumeEntry) -> bool + Sync),
    ) -> Result<(Vec<String>, u64), ApiError>;
}

/// A volume with what the handler filters on.
#[derive(Debug, Clone, PartialEq)]
pub struct VolumeEntry {
    pub volume: berth_api_types::volume::Volume,
    /// Made for one container (not by name).
    pub anonymous: bool,
    /// Mounted by no container.
    pub dangling: bool,
}

pub trait Backend:
    SystemBackend
    + ImageBackend
    + EventsBackend
    + ContainerBackend
    + ExecBackend
    + VolumeBackend
    + NetworkBackend
{
}

impl<
        T: SystemBackend
            + ImageBackend
            + EventsBackend
            + ContainerBackend
            + ExecBackend
            + VolumeBackend
            + NetworkBackend,
    > Backend for T
{
}
