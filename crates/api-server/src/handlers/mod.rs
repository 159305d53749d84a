//! Request handlers, one module per resource.

pub mod containers;
pub mod events;
pub mod exec;
pub mod images;
pub mod system;
