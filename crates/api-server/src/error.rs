//! API errors: one mapping from error kind to status, and Docker's body format per version.

use berth_api_types::ApiVersion;
use berth_errdefs::{Classify, ErrorKind};
use http::{header, Response, StatusCode};

use crate::{gates, Body};

/// An error answered to the client.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub kind: ErrorKind,
    pub message: String,
}

impl ApiError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
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

    /// Classifies any berth error.
    pub fn from_err<E: Classify + std::fmt::Display>(e: E) -> Self {
        Self::new(e.kind(), e.to_string())
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
            return builder
                .body(crate::router::empty())
                .expect("valid response");
        }
        if gates::json_errors(version) {
            let body =
                serde_json::to_vec(&serde_json::json!({ "message": self.message })).expect("json");
            let mut body = body;
            body.push(b'\n');
            builder
                .header(header::CONTENT_TYPE, "application/json")
                .body(crate::router::full(body))
                .expect("valid response")
        } else {
            builder
                .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
                .header("X-Content-Type-Options", "nosniff")
                .body(crate::router::full(format!("{}\n", self.message)))
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
    }
}
