//! berth's engine: the services the API is built on. Each service takes only what it uses;
//! none of them knows about HTTP or the wire format.

pub mod containers;
pub mod error;
pub mod events;
pub mod images;
pub mod labels;
pub mod prune;
pub mod system;

pub use containers::ContainerService;
pub use error::EngineError;
pub use events::{Event, EventBus, EventKind};
pub use images::ImageService;
pub use system::SystemFacts;
