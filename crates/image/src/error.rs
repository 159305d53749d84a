use berth_errdefs::{Classify, ErrorKind};

#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    /// Docker's wording: `No such image: busybox:latest`.
    #[error("No such image: {0}")]
    NotFound(String),
    #[error("{0}")]
    InvalidReference(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    InvalidInput(String),
    #[error(transparent)]
    Archive(#[from] berth_archive::ArchiveError),
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
}

impl ImageError {
    pub(crate) fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> ImageError {
        let context = context.into();
        move |source| ImageError::Io { context, source }
    }
}

impl Classify for ImageError {
    fn kind(&self) -> ErrorKind {
        match self {
            ImageError::NotFound(_) => ErrorKind::NotFound,
            ImageError::InvalidReference(_) | ImageError::InvalidInput(_) => {
                ErrorKind::InvalidParameter
            }
            ImageError::Conflict(_) => ErrorKind::Conflict,
            ImageError::Archive(e) => e.kind(),
            ImageError::Io { source, .. } => {
                // A truncated request body is the client's fault.
                if source.kind() == std::io::ErrorKind::UnexpectedEof {
                    ErrorKind::InvalidParameter
                } else {
                    ErrorKind::Internal
                }
            }
        }
    }
}
