//! berth's engine: the services the API is built on. Each service takes only what it uses;
//! none of them knows about HTTP or the wire format.

pub mod blocking_io;
pub mod containers;
pub mod error;
pub mod events;
pub mod images;
pub mod labels;
pub mod networks;
pub mod prune;
pub mod system;

pub use containers::ContainerService;
pub use error::EngineError;
pub use events::{Event, EventBus, EventKind};
pub use images::ImageService;
pub use system::SystemFacts;

/// A random 64-hex-digit ID, as Docker makes for containers, execs, volumes, networks,
/// endpoints and sandboxes.
pub(crate) fn random_id() -> String {
    let bytes: [u8; 32] = rand::random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
