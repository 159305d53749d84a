//! Error classes shared across berth.
//!
//! Every crate keeps its own error enum; each error says which [`ErrorKind`] it is through
//! [`Classify`]. The HTTP layer maps a kind to a status code in exactly one place, so no call
//! site ever picks a status by hand (moby's `httpstatus` package follows the same rule).

/// The class of an error, independent of transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The named object does not exist (404).
    NotFound,
    /// The request is malformed or names something invalid (400).
    InvalidParameter,
    /// The request clashes with the current state (409).
    Conflict,
    /// Nothing to do: the object is already in the requested state (304).
    NotModified,
    /// The operation is refused (403).
    Forbidden,
    /// Credentials are missing or wrong (401): a registry refused a login.
    Unauthorized,
    /// A needed resource is temporarily missing (503).
    Unavailable,
    /// The operation is not implemented (501).
    NotImplemented,
    /// Anything else (500).
    Internal,
}

/// Implemented by every berth error type so callers can classify it without downcasting.
pub trait Classify {
    fn kind(&self) -> ErrorKind;
}

impl Classify for std::io::Error {
    fn kind(&self) -> ErrorKind {
        match std::io::Error::kind(self) {
            std::io::ErrorKind::NotFound => ErrorKind::NotFound,
            std::io::ErrorKind::InvalidInput | std::io::ErrorKind::InvalidData => {
                ErrorKind::InvalidParameter
            }
            std::io::ErrorKind::AlreadyExists => ErrorKind::Conflict,
            std::io::ErrorKind::PermissionDenied => ErrorKind::Forbidden,
            _ => ErrorKind::Internal,
        }
    }
}
