//! The registry side of images: where a reference's registry is and how to reach it, the
//! auth challenges registries answer with (Basic, and Bearer tokens from a token server),
//! manifests negotiated as Docker negotiates them (schema2, manifest lists, OCI manifests and
//! indexes; schema1 refused), and blobs streamed and verified. It knows no engine and no
//! Engine API; the engine drives it and renders its progress.

pub mod auth;
pub mod client;
pub mod connections;
pub mod endpoint;
pub mod error;
pub mod manifest;
pub mod options;
pub mod pull;
pub mod push;
pub mod search;
pub mod tls;
pub mod transfers;

pub use client::RegistryClient;
pub use endpoint::Endpoint;
pub use error::DistributionError;
pub use manifest::{Descriptor, Manifest, Platform};
pub use options::RegistryOptions;
pub use pull::{inspect, pull, LayerStep, PullEvent, PullRequest, Pulled};
pub use push::{push, PushEvent, PushRequest, PushStep};
pub use transfers::Transfers;
