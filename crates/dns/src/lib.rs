//! Name resolution on user-defined networks, as Docker's embedded DNS server gives it: each
//! container on a user-defined network asks 127.0.0.11 in its own network namespace, which
//! answers the names of the containers it shares a network with and forwards every other
//! question to the upstream servers from the host's namespace.
//!
//! Unlike Docker's, the server is not inside the daemon: berthd publishes a [`Table`] (a file
//! written atomically, then a word on a control socket) to a `berth-resolver` process of its
//! own, which keeps answering from the last table while berthd is stopped or restarting.

pub mod answer;
pub mod handle;
pub mod server;
pub mod table;

pub use handle::ResolverHandle;
pub use table::{Endpoint, Sandbox, Table};
