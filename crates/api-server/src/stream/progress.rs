//! Progress streams (import, load, later pull and push): one JSON message per line, each
//! ended by `\r\n` as Docker's JSON-message writer ends them.

use berth_api_types::progress::ProgressMessage;
use bytes::Bytes;

/// One message of a progress stream.
pub fn line(v: &ProgressMessage) -> Bytes {
    let mut b = serde_json::to_vec(v).expect("json");
    b.extend_from_slice(b"\r\n");
    Bytes::from(b)
}
