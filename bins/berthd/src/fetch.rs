//! Fetching `fromSrc=http://…` imports and inserts: the body is streamed to the engine as it
//! arrives.

use berth_api_server::ApiError;
use berth_engine::images::ByteStream;

/// Fetches an `http://` or `https://` URL (the system's roots check the latter, as Docker's
/// default transport does), streaming its body; with its length when the server said.
pub async fn fetch(
    url: &str,
    tls: &berth_distribution::tls::TlsSettings,
) -> Result<(ByteStream, Option<u64>), ApiError> {
    use futures_util::TryStreamExt;
    use http_body_util::BodyExt;
    let url = if url.contains("://") {
        url.to_string()
    } else {
        format!("http://{url}")
    };
    let uri: hyper::Uri = url
        .parse()
        .map_err(|e| ApiError::bad_request(format!("invalid URL {url}: {e}")))?;
    if !matches!(uri.scheme_str(), Some("http" | "https")) {
        return Err(ApiError::bad_request(format!(
            "unsupported URL scheme for import: {url} (http:// and https:// are)"
        )));
    }
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls.web_config())
        .https_or_http()
        .enable_http1()
        .build();
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build::<_, http_body_util::Empty<bytes::Bytes>>(connector);
    let resp = client
        .get(uri)
        .await
        .map_err(|e| ApiError::bad_request(format!("error downloading {url}: {}", chain(&e))))?;
    if !resp.status().is_success() {
        return Err(ApiError::bad_request(format!(
            "error downloading {url}: status {}",
            resp.status()
        )));
    }
    let length = hyper::body::Body::size_hint(resp.body()).exact();
    let stream = resp
        .into_body()
        .into_data_stream()
        .map_err(std::io::Error::other);
    let reader = tokio_util::io::StreamReader::new(stream);
    Ok((Box::new(reader), length))
}

/// An error with its causes, as `a: b: c` (hyper's own text hides the TLS reason).
fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        out.push_str(": ");
        out.push_str(&c.to_string());
        cause = c.source();
    }
    out
}
