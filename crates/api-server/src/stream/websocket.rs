//! An attach over a websocket (`/containers/(id)/attach/ws`, RFC 6455): the container's
//! output raw (not multiplexed) in binary messages (text frames below API 1.28, as Docker's
//! then; their payload is the output's bytes whatever they are); text or binary messages
//! from the client into its stdin.

use std::sync::Arc;

use futures_util::{SinkExt, StreamExt};
use tokio::io::AsyncWriteExt;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::protocol::{Message, Role};

use crate::backend::{Backend, LogStream};
use crate::stream::hijack::Hijacked;

/// One client attached over a websocket.
pub(crate) struct WebSocketSession {
    pub backend: Arc<dyn Backend>,
    pub name: String,
    pub want_stdin: bool,
    pub chunks: Option<LogStream>,
    /// Output in binary frames (API 1.28) rather than text frames.
    pub binary: bool,
}

impl WebSocketSession {
    pub async fn run(self, io: Hijacked) {
        let Self {
            backend,
            name,
            want_stdin,
            chunks,
            binary,
        } = self;
        let peer = io.peer();
        let ws = tokio_tungstenite::WebSocketStream::from_raw_socket(io, Role::Server, None).await;
        let (mut sink, mut incoming) = ws.split();
        let feed = tokio::spawn(async move {
            let stdin = if want_stdin {
                backend.attach_stdin(&name).await.ok().flatten()
            } else {
                None
            };
            let Some(mut stdin) = stdin else {
                // Still read (and answer pings) until the client goes.
                while let Some(Ok(_)) = incoming.next().await {}
                return;
            };
            while let Some(Ok(msg)) = incoming.next().await {
                let data = match msg {
                    Message::Text(t) => t.as_bytes().to_vec(),
                    Message::Binary(b) => b.to_vec(),
                    Message::Close(_) => break,
                    _ => continue,
                };
                if stdin.write_all(&data).await.is_err() {
                    break;
                }
            }
            let _ = stdin.shutdown().await;
        });
        if let Some(LogStream { mut chunks, .. }) = chunks {
            loop {
                let c = tokio::select! {
                    c = chunks.next() => c,
                    _ = peer.hung_up() => None,
                };
                let Some(c) = c else { break };
                let msg = if binary {
                    Message::Binary(c.data)
                } else {
                    Message::Frame(Frame::message(c.data, OpCode::Data(Data::Text), true))
                };
                if sink.send(msg).await.is_err() {
                    break;
                }
            }
        }
        let _ = sink.close().await;
        feed.abort();
    }
}
