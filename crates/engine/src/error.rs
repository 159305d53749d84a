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
    #[error("not modified")]
    NotModified,
    #[error("{0}")]
    NotImplemented(String),
    #[error("{0}")]
    Internal(String),
}

impl Classify for EngineError {
    fn kind(&self) -> ErrorKind {
        match self {
            EngineError::Image(e) => e.kind(),
            EngineError::InvalidParameter(_) => ErrorKind::InvalidParameter,
            EngineError::NotFound(_) => ErrorKind::NotFound,
            EngineError::Conflict(_) => ErrorKind::Conflict,
            EngineError::NotModified => ErrorKind::NotModified,
            EngineError::NotImplemented(_) => ErrorKind::NotImplemented,
            EngineError::Internal(_) => ErrorKind::Internal,
        }
    }
}

impl From<tokio::task::JoinError> for EngineError {
    fn from(e: tokio::task::JoinError) -> Self {
        EngineError::Internal(format!("task failed: {e}"))
    }
}

impl From<berth_network::NetError> for EngineError {
    fn from(e: berth_network::NetError) -> Self {
        match e {
            berth_network::NetError::InvalidParameter(m) => EngineError::InvalidParameter(m),
            berth_network::NetError::Internal(m) => EngineError::Internal(m),
        }
    }
}
