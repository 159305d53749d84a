//! A container's stdin and terminal size for attach sessions.

use super::record::Status;
use super::ContainerService;
use crate::error::EngineError;

/// Asks a monitor to resize its terminal: one `ROWS COLS` line on its resize socket.
pub(super) async fn send_resize(
    socket: &std::path::Path,
    rows: u16,
    cols: u16,
) -> std::io::Result<()> {
    use tokio::io::AsyncWriteExt;
    let mut s = tokio::net::UnixStream::connect(socket).await?;
    s.write_all(format!("{rows} {cols}\n").as_bytes()).await
}

impl ContainerService {
    /// A writer into the container's stdin (through its monitor), once the container runs;
    /// `None` when it was created without `OpenStdin`. Waits for a container not yet started.
    pub async fn attach_stdin(
        &self,
        name: &str,
    ) -> Result<Option<tokio::net::UnixStream>, EngineError> {
        let entry = self.entry(name)?;
        if !entry.snapshot().spec.config.open_stdin {
            return Ok(None);
        }
        let mut changes = entry.changed.subscribe();
        loop {
            let rec = entry.snapshot();
            match rec.state.status {
                Status::Running | Status::Paused => {
                    let sock = self.paths.stdin_socket(&rec.id);
                    return tokio::net::UnixStream::connect(&sock)
                        .await
                        .map(Some)
                        .map_err(|e| {
                            EngineError::failed(format!("attach to stdin of {}", rec.id), e)
                        });
                }
                Status::Created | Status::Restarting => {
                    if changes.changed().await.is_err() {
                        return Ok(None);
                    }
                }
                _ => return Ok(None),
            }
        }
    }

    /// `POST /containers/(id)/resize?h=&w=`: resizes the container's terminal.
    pub async fn resize(&self, name: &str, rows: u16, cols: u16) -> Result<(), EngineError> {
        let rec = self.entry(name)?.snapshot();
        if !rec.state.status.is_running() {
            return Err(EngineError::Conflict(format!(
                "Container {} is not running",
                rec.id
            )));
        }
        if !rec.spec.config.tty {
            return Err(EngineError::Conflict(format!(
                "Container {} does not have a terminal",
                rec.id
            )));
        }
        send_resize(&self.paths.resize_socket(&rec.id), rows, cols)
            .await
            .map_err(|e| EngineError::failed(format!("Cannot resize container {}", rec.id), e))
    }
}
