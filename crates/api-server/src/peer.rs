//! The client's end of a connection, watched for its going away.
//!
//! A response that waits (`wait`, `events`, `logs -f`, an attach to a quiet container) writes
//! nothing for as long as it waits, so a client that left is never noticed by a failing
//! write: its request would hold a task, a subscription and the connection until the thing
//! it waited for happened. hyper does not read a connection while it answers (with
//! `half_close`, which hijacked connections need, it ignores the client's EOF anyway), so the
//! socket is watched here, on a duplicate of its descriptor registered with the reactor on
//! its own.

use std::os::fd::{AsFd, OwnedFd};
use std::sync::Arc;

use tokio::io::unix::AsyncFd;
use tokio::io::{Interest, Ready};

/// One per connection; cheap to clone into each request.
#[derive(Clone)]
pub struct Peer {
    /// A duplicate of the connection's descriptor; duplicated again and registered with the
    /// reactor only while someone waits (a connection nobody waits on costs no events).
    fd: Option<Arc<OwnedFd>>,
    /// Unix sockets report a full close (hang-up) apart from a half close; TCP does not.
    tells_hangup: bool,
}

impl Peer {
    /// Watches `conn`; a descriptor that cannot be duplicated gives a peer never seen to go.
    pub(crate) fn watch(conn: &impl AsFd, tells_hangup: bool) -> Self {
        Self {
            fd: conn.as_fd().try_clone_to_owned().ok().map(Arc::new),
            tells_hangup,
        }
    }

    /// A peer that is never seen to go (requests served in-process, tests).
    pub fn detached() -> Self {
        Self {
            fd: None,
            tells_hangup: false,
        }
    }

    /// Resolves once the client has closed its end for sending, as Go's server takes it for
    /// a request it answers (its context is cancelled): a client that sent its request and
    /// stops sending has gone.
    pub async fn closed(&self) {
        // Read-side readiness: data (a next request, for hyper to read) or the end of it.
        self.until(Interest::READABLE, Ready::READABLE, Ready::is_read_closed)
            .await
    }

    /// Resolves once the client has closed the connection both ways, for a hijacked stream
    /// whose client may close only its sending side (end of stdin) and go on reading. Only
    /// Unix sockets tell this apart; on TCP a gone client shows when a write fails.
    pub async fn hung_up(&self) {
        if !self.tells_hangup {
            return std::future::pending().await;
        }
        // Write-side readiness: a hang-up is reported there, a half close is not (and the
        // read side's "closed" would stay set after a half close, a busy loop).
        self.until(Interest::WRITABLE, Ready::WRITABLE, Ready::is_write_closed)
            .await
    }

    async fn until(&self, interest: Interest, passing: Ready, gone: fn(Ready) -> bool) {
        // A descriptor of its own for each wait, so waits never share a registration.
        // `with_interest` is deprecated for types whose descriptor can change under it; an
        // `OwnedFd` cannot, and `register_with_interest` would need `unsafe`.
        #[allow(deprecated)]
        let registered = self
            .fd
            .as_ref()
            .and_then(|fd| fd.try_clone().ok())
            .and_then(|fd| AsyncFd::with_interest(fd, interest).ok());
        let Some(afd) = registered else {
            return std::future::pending().await;
        };
        loop {
            let Ok(mut guard) = afd.ready(interest).await else {
                return std::future::pending().await;
            };
            if gone(guard.ready()) {
                return;
            }
            // Not gone, just readable or writable: wait for the next change.
            guard.clear_ready_matching(passing);
        }
    }
}
