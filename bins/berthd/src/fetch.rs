//! Fetching `fromSrc=http://…` imports and inserts: the body is streamed to the engine as it
//! arrives.

use berth_api_server::ApiError;
use berth_engine::images::ByteStream;

/// Fetches an `http://` URL, streaming its body; with its length when the server said.
pub async fn fetch(url: &str) -> Result<(ByteStream, Option<u64>), ApiError> {
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
    if uri.scheme_str() != Some("http") {
        return Err(ApiError::bad_request(format!(
            "unsupported URL scheme for import: {url} (only http:// is supported)"
        )));
    }
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<http_body_util::Empty<bytes::Bytes>>();
    let resp = client
        .get(uri)
        .await
        .map_err(|e| ApiError::bad_request(format!("error downloading {url}: {e}")))?;
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
