//! Docker Engine API wire types.
//!
//! The types here are the *latest* shape berth serves; `berth-api-server`'s `compat` module
//! shapes them down for older API versions. Field names follow Docker's JSON exactly
//! (PascalCase unless the API itself uses another spelling). This crate does no I/O.

pub mod auth;
pub mod container;
pub mod events;
pub mod exec;
pub mod filters;
pub mod image;
pub mod network;
pub mod progress;
pub mod stats;
pub mod system;
pub mod version;
pub mod volume;

pub use version::ApiVersion;
