//! Streams that outlive a request: a hijacked connection and the framing of output on it.

pub mod attach;
pub mod hijack;
pub mod progress;
pub mod stdcopy;
pub mod websocket;
