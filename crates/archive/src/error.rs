use berth_errdefs::{Classify, ErrorKind};

/// Why an archive could not be read or unpacked.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    /// The archive itself is malformed or hostile: the client's fault.
    #[error("invalid archive: {0}")]
    Invalid(String),
    /// The entry would need more space than the target filesystem has.
    #[error("archive entry {path} needs {size} bytes, more than the {available} bytes free")]
    TooLarge {
        path: String,
        size: u64,
        available: u64,
    },
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
}

impl ArchiveError {
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        // A truncated or corrupt stream surfaces as an I/O error from the reader; that is
        // still bad input, not a daemon fault.
        match source.kind() {
            std::io::ErrorKind::UnexpectedEof
            | std::io::ErrorKind::InvalidData
            | std::io::ErrorKind::InvalidInput => {
                ArchiveError::Invalid(format!("{}: {}", context.into(), source))
            }
            _ => ArchiveError::Io {
                context: context.into(),
                source,
            },
        }
    }
}

impl From<rustix::io::Errno> for ArchiveError {
    fn from(e: rustix::io::Errno) -> Self {
        ArchiveError::io("unpack", e.into())
    }
}

impl Classify for ArchiveError {
    fn kind(&self) -> ErrorKind {
        match self {
            ArchiveError::Invalid(_) | ArchiveError::TooLarge { .. } => ErrorKind::InvalidParameter,
            ArchiveError::Io { .. } => ErrorKind::Internal,
        }
    }
}
