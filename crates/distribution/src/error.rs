//! What can go wrong talking to a registry, with Docker's wording where clients read it.

use berth_errdefs::{Classify, ErrorKind};

#[derive(Debug, thiserror::Error)]
pub enum DistributionError {
    /// The registry has no such manifest (Docker: `manifest for … not found: manifest unknown`).
    #[error("manifest for {reference} not found: {reason}")]
    ManifestUnknown { reference: String, reason: String },
    /// An index without the platform asked for.
    #[error("no matching manifest for {0} in the manifest list entries")]
    NoMatchingPlatform(String),
    /// The registry does not know the repository.
    #[error("repository {repository} not found: {reason}")]
    NameUnknown { repository: String, reason: String },
    /// The registry refused access to the repository, as Docker Hub answers for one that
    /// does not exist as well.
    #[error("pull access denied for {repository}, repository does not exist or may require 'docker login': {reason}")]
    AccessDenied { repository: String, reason: String },
    /// A registry that asks for Basic auth, and no credentials were given.
    #[error("{method} \"{url}\": no basic auth credentials")]
    NoCredentials { method: String, url: String },
    /// Credentials the registry rejected at login, or a token server refused.
    #[error("{0}")]
    Unauthorized(String),
    /// A manifest of a kind berth does not pull.
    #[error("{0}")]
    Unsupported(String),
    /// Content whose digest or size is not what was asked for, or that does not parse.
    #[error("{0}")]
    Invalid(String),
    /// The registry answered with a status it should not have, and no error of its own;
    /// worded as Docker's registry client words it.
    #[error("received unexpected HTTP status: {status}")]
    Status { url: String, status: String },
    /// The registry's own error (`code: message`).
    #[error("{0}")]
    Registry(String),
    /// A download another pull shared with this one failed so.
    #[error(transparent)]
    Shared(std::sync::Arc<DistributionError>),
    /// The registry could not be reached or the connection broke.
    #[error("{context}: {}", describe(source.as_ref()))]
    Transport {
        context: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl DistributionError {
    pub(crate) fn transport(
        context: impl Into<String>,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        DistributionError::Transport {
            context: context.into(),
            source: source.into(),
        }
    }
}

impl Classify for DistributionError {
    fn kind(&self) -> ErrorKind {
        match self {
            DistributionError::ManifestUnknown { .. }
            | DistributionError::NoMatchingPlatform(_)
            | DistributionError::NameUnknown { .. }
            | DistributionError::AccessDenied { .. } => ErrorKind::NotFound,
            DistributionError::Unauthorized(_) => ErrorKind::Unauthorized,
            DistributionError::NoCredentials { .. } => ErrorKind::Forbidden,
            DistributionError::Unsupported(_) | DistributionError::Invalid(_) => {
                ErrorKind::InvalidParameter
            }
            DistributionError::Shared(e) => e.kind(),
            DistributionError::Status { .. }
            | DistributionError::Registry(_)
            | DistributionError::Transport { .. } => ErrorKind::Internal,
        }
    }
}

/// An error with its causes (hyper's own text, `client error (Connect)`, hides the reason),
/// certificate failures in the words Docker (Go's x509) uses for them.
fn describe(e: &(dyn std::error::Error + 'static)) -> String {
    let mut last = e.to_string();
    let mut parts = vec![last.clone()];
    let mut cause = e.source();
    while let Some(c) = cause {
        let text = c.to_string();
        if !last.contains(&text) {
            parts.push(text.clone());
        }
        last = text;
        cause = c.source();
    }
    let text = parts.join(": ");
    if text.contains("UnknownIssuer") {
        return "x509: certificate signed by unknown authority".to_string();
    }
    if text.contains("NotValidForName") {
        return "x509: certificate is not valid for this name".to_string();
    }
    if text.contains("CertificateRequired") || text.contains("certificate required") {
        return "remote error: tls: certificate required".to_string();
    }
    text
}
