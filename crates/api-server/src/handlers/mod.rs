//! Request handlers, one module per resource.

pub mod archive;
pub mod auth;
pub mod build;
pub mod containers;
pub mod events;
pub mod exec;
pub mod images;
pub mod networks;
pub mod plugins;
pub mod swarm;
pub mod system;
pub mod volumes;
