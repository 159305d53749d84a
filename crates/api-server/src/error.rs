//! API errors: one mapping from error kind to status, and Docker's body format per version.

use std::sync::Arc;

use berth_api_types::ApiVersion;
use berth_errdefs::{Classify, ErrorKind};
use http::{header, Response, StatusCode};

use crate::{gates, Body};

/// An error answered to the client: its kind (the status), the message the client reads,
/// and the backend's error it came from, kept for the log.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub kind: ErrorKind,
    pub message: String,
    pub source: Option<Arc<dyn std::error::Error + Send + Sync>>,
}

impl ApiError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            source: None,
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidParameter, message)
    }

    /// The answer to a client that left before it: nobody reads it, and it is no failure of
    /// the server's.
    pub fn client_gone() -> Self {
        Self::bad_request("the client went away")
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotFound, message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Internal, message)
    }

    /// Classifies any berth error, keeping it as the source.
    pub fn from_err<E: Classify + std::error::Error + Send + Sync + 'static>(e: E) -> Self {
        Self {
            kind: e.kind(),
            message: e.to_string(),
            source: Some(Arc::new(e)),
        }
    }

    /// The message and every cause below it, for the log: `a: b: c`, each said once.
    pub fn chain(&self) -> String {
        let mut out = self.message.clone();
        let mut next = self.source.as_deref().and_then(|s| s.source());
        while let Some(e) = next {
            let text = e.to_string();
            if !out.contains(&text) {
                out.push_str(": ");
                out.push_str(&text);
            }
            next = e.source();
        }
        out
    }

    /// The single mapping from error kind to HTTP status.
    pub fn status(&self) -> StatusCode {
        status_of(self.kind)
    }

    /// Plain text below API 1.24, `{"message": …}` from 1.24 on (as Docker Engine).
    pub fn into_response(self, version: ApiVersion) -> Response<Body> {
        let status = self.status();
        let builder = Response::builder().status(status);
        if status == StatusCode::NOT_MODIFIED {
            return builder.body(crate::body::empty()).expect("valid response");
        }
        if gates::json_errors(version) {
            let body =
                serde_json::to_vec(&serde_json::json!({ "message": self.message })).expect("json");
            let mut body = body;
            body.push(b'\n');
            builder
                .header(header::CONTENT_TYPE, "application/json")
                .body(crate::body::full(body))
                .expect("valid response")
        } else {
            builder
                .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
                .header("X-Content-Type-Options", "nosniff")
                .body(crate::body::full(format!("{}\n", self.message)))
                .expect("valid response")
        }
    }
}

pub fn status_of(kind: ErrorKind) -> StatusCode {
    match kind {
        ErrorKind::NotFound => StatusCode::NOT_FOUND,
        ErrorKind::InvalidParameter => StatusCode::BAD_REQUEST,
        ErrorKind::Conflict => StatusCode::CONFLICT,
        ErrorKind::NotModified => StatusCode::NOT_MODIFIED,
        ErrorKind::Forbidden => StatusCode::FORBIDDEN,
        ErrorKind::Unauthorized => StatusCode::UNAUTHORIZED,
        ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        ErrorKind::NotImplemented => StatusCode::NOT_IMPLEMENTED,
        ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ApiError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_its_status() {
        assert_eq!(status_of(ErrorKind::NotFound), 404);
        assert_eq!(status_of(ErrorKind::InvalidParameter), 400);
        assert_eq!(status_of(ErrorKind::Conflict), 409);
        assert_eq!(status_of(ErrorKind::NotModified), 304);
        assert_eq!(status_of(ErrorKind::Internal), 500);
        assert_eq!(status_of(ErrorKind::Unauthorized), 401);
    }

    #[test]
    fn the_source_is_kept_for_the_log() {
        #[derive(Debug)]
        struct Outer(std::io::Error);
        impl std::fmt::Display for Outer {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("write record")
            }
        }
        impl std::error::Error for Outer {
            fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
                Some(&self.0)
            }
        }
        impl Classify for Outer {
            fn kind(&self) -> ErrorKind {
                ErrorKind::Internal
            }
        }
        let e = ApiError::from_err(Outer(std::io::Error::other("disk full")));
        assert_eq!(
            (e.status(), e.message.as_str()),
            (StatusCode::INTERNAL_SERVER_ERROR, "write record")
        );
        assert_eq!(e.chain(), "write record: disk full");
        assert!(std::error::Error::source(&e).is_some());
    }
}
