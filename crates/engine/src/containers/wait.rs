//! `POST /containers/(id)/wait?condition=`: waiting for a container to stop, to exit next,
//! or to be removed.

use std::str::FromStr;
use std::sync::Arc;

use super::ContainerService;

/// A wait under way, owned by whoever awaits it.
pub type Waiting =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<i32, EngineError>> + Send>>;
use crate::error::EngineError;

/// What a wait waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WaitCondition {
    /// Until the container is not running; at once if it is not.
    #[default]
    NotRunning,
    /// Until the container's next exit, even if it is not running now (`docker run` waits so
    /// before it starts the container).
    NextExit,
    /// Until the container is removed (`docker run --rm`, with the daemon's `AutoRemove`).
    Removed,
}

impl FromStr for WaitCondition {
    type Err = EngineError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "" | "not-running" => Ok(WaitCondition::NotRunning),
            "next-exit" => Ok(WaitCondition::NextExit),
            "removed" => Ok(WaitCondition::Removed),
            other => Err(EngineError::InvalidParameter(format!(
                "invalid condition: {other:?}"
            ))),
        }
    }
}

impl ContainerService {
    /// Waits until the container is no longer running (or restarting); returns its exit code.
    pub async fn wait(self: &Arc<Self>, name: &str) -> Result<i32, EngineError> {
        self.wait_for(name, WaitCondition::NotRunning)?.await
    }

    /// Resolves the container now (a missing one fails here, before anything is answered) and
    /// returns the wait itself, which ends with the container's exit code.
    pub fn wait_for(
        self: &Arc<Self>,
        name: &str,
        condition: WaitCondition,
    ) -> Result<Waiting, EngineError> {
        let entry = self.entry(name)?;
        // Subscribed before returning, so that an exit right after (the start `docker run`
        // sends once its wait is in place) is seen.
        let mut rx = entry.changed.subscribe();
        let first = entry.snapshot();
        let svc = self.clone();
        Ok(Box::pin(async move {
            loop {
                let rec = entry.snapshot();
                let removed = !svc.containers.read().expect("lock").contains_key(&rec.id);
                let done = match condition {
                    WaitCondition::NotRunning => removed || !rec.state.status.is_active(),
                    WaitCondition::NextExit => {
                        removed
                            || (!rec.state.status.is_active()
                                && rec.state.finished_at != first.state.finished_at)
                    }
                    WaitCondition::Removed => removed,
                };
                if done {
                    return Ok(rec.state.exit_code);
                }
                if rx.changed().await.is_err() {
                    return Err(EngineError::Internal("wait interrupted".into()));
                }
            }
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conditions_read_as_docker_names_them() {
        assert_eq!(
            "".parse::<WaitCondition>().unwrap(),
            WaitCondition::NotRunning
        );
        assert_eq!(
            "next-exit".parse::<WaitCondition>().unwrap(),
            WaitCondition::NextExit
        );
        assert_eq!(
            "removed".parse::<WaitCondition>().unwrap(),
            WaitCondition::Removed
        );
        let err = "soon".parse::<WaitCondition>().unwrap_err();
        assert_eq!(err.to_string(), "invalid condition: \"soon\"");
    }
}
