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

/// A field a client may send as `null` (docker-py sends the arguments it was not given so;
/// Go's decoder, Docker's, leaves the zero value): `null` reads as the default.
use serde::Deserialize;

pub(crate) fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

pub use version::ApiVersion;
