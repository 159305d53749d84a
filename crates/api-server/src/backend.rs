//! What the API needs from the engine, as small traits the daemon implements. They speak
//! wire types (latest shape) and [`ApiError`]; they never see HTTP.

use std::pin::Pin;

use async_trait::async_trait;
use berth_api_types::events::EventMessage;
use berth_api_types::filters::Filters;
use berth_api_types::image::{DeleteItem, HistoryItem, ImageInspect, ImageSummary};
use berth_api_types::system::{Info, Version};
use futures_util::stream::BoxStream;
use tokio::io::AsyncRead;

use crate::error::ApiError;

/// A byte stream in or out (request body, tarball).
pub type ByteStream = Pin<Box<dyn AsyncRead + Send>>;

pub trait SystemBackend: Send + Sync {
    fn version(&self) -> Version;
    fn info(&self) -> Info;
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
    fn list_images(&self, all: bool, filters: &Filters) -> Result<Vec<ImageSummary>, ApiError>;
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

/// Everything the API server uses.
pub trait Backend: SystemBackend + ImageBackend + EventsBackend {}

impl<T: SystemBackend + ImageBackend + EventsBackend> Backend for T {}
