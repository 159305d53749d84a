//! The Docker Engine API over HTTP.
//!
//! Requests arrive unprefixed or under `/vX.Y`; [`router`] strips the prefix, checks the
//! version and dispatches by a single route table. Handlers talk to the engine only through
//! the small traits in [`backend`], receive the API version, and shape their answers with the
//! pure functions of [`compat`]; every version difference is a named gate in [`gates`].
//! Errors map from [`berth_errdefs::ErrorKind`] to a status in one place ([`error`]).

/// One line of a resource's route table: `route!(GET, "/containers/{id}/json", inspect)`.
macro_rules! route {
    ($method:ident, $pattern:literal, $handler:path) => {
        route!($method, $pattern, $handler, |_| true)
    };
    // A route that exists from some version on: `available` is a `gates` predicate.
    ($method:ident, $pattern:literal, $handler:path, $available:expr) => {
        $crate::router::Route {
            method: http::Method::$method,
            pattern: $pattern,
            handler: |c, r| Box::pin($handler(c, r)),
            available: $available,
        }
    };
}

pub mod backend;
pub mod body;
pub mod compat;
pub mod error;
pub mod fields;
pub mod gates;
mod handlers;
mod long_target;
pub mod peer;
mod query;
pub mod router;
pub mod server;
pub mod stream;

pub use backend::Backend;
pub use error::ApiError;
pub use router::{Router, ServerInfo};
pub use server::{serve_tcp, serve_unix};

/// The response body type of every handler.
pub type Body = http_body_util::combinators::UnsyncBoxBody<bytes::Bytes, std::io::Error>;

/// The request body every handler takes: a connection's (the server boxes hyper's, its
/// errors as I/O errors) or, in tests that drive the router in-process, any other.
pub type RequestBody = http_body_util::combinators::UnsyncBoxBody<bytes::Bytes, std::io::Error>;
