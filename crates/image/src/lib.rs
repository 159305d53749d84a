//! The image store.
//!
//! Layout under the store root (`<data-root>/image`):
//!
//! ```text
//! blobs/sha256/<hex>     content-addressed blobs: image configs, manifests, the uncompressed
//!                        tars of layers made here, the compressed blobs of layers pulled
//!                        or pushed
//! ingest/                blobs being written (temp files, removed at start)
//! layers/<chain-hex>/    one unpacked layer: diff/ (an overlayfs lower dir) and layer.json
//! layers/tmp-*           layers being unpacked (removed at start)
//! images/<id-hex>.json   one record per image; the image *is* its config blob
//! repositories.json      references (name:tag, name@digest) → image ID
//! distribution.json      compressed blob ↔ diff ID, with the repositories holding each
//!                        blob; manifests kept (see `registry_blobs`)
//! ```
//!
//! Every write goes to a temporary name, is fsynced, then renamed into place, and records are
//! written after what they point to; so a daemon killed at any moment leaves a store whose
//! records are all complete, plus leftovers that [`ImageStore::open`] sweeps away.

mod config;
mod content;
mod digest;
mod error;
pub mod fsutil;
mod layers;
mod reference;
mod registry_blobs;
mod store;
mod transfer;

pub use config::{HistoryEntry, ImageConfig, RootFs};
pub use content::{BlobWriter, ContentStore};
pub use digest::Digest;
pub use error::ImageError;
pub use layers::{chain_id, LayerInfo};
pub use reference::Reference;
pub use registry_blobs::{LayerBlob, ManifestRecord};
pub use store::{
    CommitOptions, DeleteEffect, HeldBlob, Image, ImageStore, ImportOptions, PendingLayers,
    TagOutcome,
};
pub use transfer::LoadedImage;
