//! Request handlers, one module per resource.

pub mod events;
pub mod images;
pub mod system;
