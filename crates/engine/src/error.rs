use berth_errdefs::{Classify, ErrorKind};

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Image(#[from] berth_image::ImageError),
    #[error("{0}")]
    InvalidParameter(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    Unavailable(String),
    #[error("not modified")]
    NotModified,
    #[error("{0}")]
    NotImplemented(String),
    /// A failure with no error beneath it (an invariant, a child's report).
    #[error("{0}")]
    Internal(String),
    /// Something the engine called failed; `context` says what it was doing.
    #[error("{context}: {source}")]
    Failed {
        context: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error(transparent)]
    Network(berth_network::NetError),
    #[error(transparent)]
    Registry(#[from] berth_distribution::DistributionError),
}

impl EngineError {
    pub fn failed(
        context: impl Into<String>,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        EngineError::Failed {
            context: context.into(),
            source: source.into(),
        }
    }
}

impl Classify for EngineError {
    fn kind(&self) -> ErrorKind {
        match self {
            EngineError::Image(e) => e.kind(),
            EngineError::InvalidParameter(_) => ErrorKind::InvalidParameter,
            EngineError::NotFound(_) => ErrorKind::NotFound,
            EngineError::Conflict(_) => ErrorKind::Conflict,
            EngineError::Forbidden(_) => ErrorKind::Forbidden,
            EngineError::Unavailable(_) => ErrorKind::Unavailable,
            EngineError::NotModified => ErrorKind::NotModified,
            EngineError::NotImplemented(_) => ErrorKind::NotImplemented,
            EngineError::Internal(_) | EngineError::Failed { .. } => ErrorKind::Internal,
            EngineError::Network(berth_network::NetError::InvalidParameter(_)) => {
                ErrorKind::InvalidParameter
            }
            EngineError::Network(_) => ErrorKind::Internal,
            EngineError::Registry(e) => e.kind(),
        }
    }
}

impl From<tokio::task::JoinError> for EngineError {
    fn from(e: tokio::task::JoinError) -> Self {
        EngineError::failed("task failed", e)
    }
}

impl From<berth_network::NetError> for EngineError {
    fn from(e: berth_network::NetError) -> Self {
        match e {
            // Callers match on it as their own (a bad port, a bad address).
            berth_network::NetError::InvalidParameter(m) => EngineError::InvalidParameter(m),
            other => EngineError::Network(other),
        }
    }
}
