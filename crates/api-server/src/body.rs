//! Request and response bodies: reading a JSON body (with Docker's content-type rule and
//! one parser that names the field at fault), and the bodies handlers answer with (empty,
//! whole, JSON, streamed).

use bytes::Bytes;
use http::{header, Request, Response, StatusCode};
use http_body_util::{BodyExt, Empty, Full};

use crate::error::ApiError;
use crate::{Body, RequestBody};

/// What every handler returns.
pub type HandlerResult = Result<Response<Body>, ApiError>;

pub fn empty() -> Body {
    Empty::<Bytes>::new()
        .map_err(|never| match never {})
        .boxed_unsync()
}

pub fn full(data: impl Into<Bytes>) -> Body {
    Full::new(data.into())
        .map_err(|never| match never {})
        .boxed_unsync()
}

/// A body that sends each chunk as it comes.
pub fn stream_body<S>(chunks: S) -> Body
where
    S: futures_util::Stream<Item = Bytes> + Send + 'static,
{
    use futures_util::StreamExt;
    BodyExt::boxed_unsync(http_body_util::StreamBody::new(
        chunks.map(|c| Ok::<_, std::io::Error>(hyper::body::Frame::data(c))),
    ))
}

/// A 200 streamed as it is produced: logs, events, stats, exec output.
pub fn streaming<S>(content_type: &'static str, chunks: S) -> HandlerResult
where
    S: futures_util::Stream<Item = Bytes> + Send + 'static,
{
    Ok(Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, content_type)
        .body(stream_body(chunks))
        .expect("valid"))
}

/// One value of a JSON-lines stream (events, stats).
pub fn json_line<T: serde::Serialize>(value: &T) -> Bytes {
    let mut line = serde_json::to_vec(value).expect("wire types serialise");
    line.push(b'\n');
    Bytes::from(line)
}

/// A JSON response with the given status.
pub fn json<T: serde::Serialize>(status: StatusCode, value: &T) -> HandlerResult {
    let body = serde_json::to_vec(value)
        .map_err(|e| ApiError::internal(format!("encode response: {e}")))?;
    json_bytes(status, body)
}

/// A JSON response already written out.
pub fn json_bytes(status: StatusCode, body: Vec<u8>) -> HandlerResult {
    Ok(Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json")
        .body(full(body))
        .expect("valid"))
}

/// Reads a request body that must be small (JSON), refusing more than `limit` bytes.
pub async fn read_small_body(req: Request<RequestBody>, limit: usize) -> Result<Bytes, ApiError> {
    let limited = http_body_util::Limited::new(req.into_body(), limit);
    limited
        .collect()
        .await
        .map(|c| c.to_bytes())
        .map_err(|e| ApiError::bad_request(format!("reading request body: {e}")))
}

/// Reads a JSON request body, refusing another content type as Docker does (a request with
/// neither a body nor a `Content-Type` is fine: an empty body).
pub async fn read_json_body(req: Request<RequestBody>, limit: usize) -> Result<Bytes, ApiError> {
    check_json_content_type(req.headers())?;
    read_small_body(req, limit).await
}

/// Docker's `CheckForJSON`.
fn check_json_content_type(headers: &http::HeaderMap) -> Result<(), ApiError> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .unwrap_or_default();
    let no_body = !headers.contains_key(header::TRANSFER_ENCODING)
        && headers
            .get(header::CONTENT_LENGTH)
            .is_none_or(|l| l.as_bytes() == b"0");
    if ct.is_empty() && no_body {
        return Ok(());
    }
    let media_type = ct.split(';').next().unwrap_or("").trim();
    if media_type.eq_ignore_ascii_case("application/json") {
        Ok(())
    } else {
        Err(ApiError::bad_request(format!(
            "Content-Type specified ({ct}) must be 'application/json'"
        )))
    }
}

/// The request body as an async byte stream (import, load).
pub fn body_stream(req: Request<RequestBody>) -> crate::backend::ByteStream {
    Box::pin(tokio_util::io::StreamReader::new(
        req.into_body().into_data_stream(),
    ))
}

/// Parses a JSON body into `T`, naming the field at fault as Docker's 400s do.
pub fn parse_json<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if path.is_empty() || path == "." {
            ApiError::bad_request(format!("invalid JSON: {inner}"))
        } else {
            ApiError::bad_request(format!("invalid JSON: field {path}: {inner}"))
        }
    })
}

/// As [`parse_json`], with an empty (or all-blank) body meaning every default.
pub fn parse_json_or_default<T: serde::de::DeserializeOwned + Default>(
    bytes: &[u8],
) -> Result<T, ApiError> {
    if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        return Ok(T::default());
    }
    parse_json(bytes)
}

/// A 204.
/// 200 with no body (Docker's answer to a network connect or disconnect).
pub fn ok_empty() -> HandlerResult {
    Ok(Response::builder()
        .status(StatusCode::OK)
        .body(empty())
        .expect("valid response"))
}

pub fn no_content() -> HandlerResult {
    Ok(Response::builder()
        .status(StatusCode::NO_CONTENT)
        .body(empty())
        .expect("valid"))
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    #[test]
    fn json_bodies_need_a_json_content_type() {
        let check = |pairs: &[(&str, &str)]| {
            let mut h = http::HeaderMap::new();
            for (k, v) in pairs {
                h.insert(
                    http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                    HeaderValue::from_str(v).unwrap(),
                );
            }
            check_json_content_type(&h).map_err(|e| e.message)
        };
        assert!(check(&[]).is_ok());
        assert!(check(&[("content-length", "0")]).is_ok());
        assert!(check(&[
            ("content-type", "application/json"),
            ("content-length", "2")
        ])
        .is_ok());
        assert!(check(&[("content-type", "application/json; charset=utf-8")]).is_ok());
        assert!(check(&[("content-type", "Application/JSON")]).is_ok());
        assert_eq!(
            check(&[("content-type", "text/plain"), ("content-length", "2")]),
            Err("Content-Type specified (text/plain) must be 'application/json'".into())
        );
        assert_eq!(
            check(&[("content-length", "2")]),
            Err("Content-Type specified () must be 'application/json'".into())
        );
        assert!(check(&[("transfer-encoding", "chunked")]).is_err());
    }

    #[test]
    fn json_errors_name_the_field() {
        #[derive(serde::Deserialize, Default, Debug)]
        #[serde(rename_all = "PascalCase")]
        struct Body {
            #[allow(dead_code)]
            memory: i64,
        }
        let e = parse_json::<Body>(br#"{"Memory": "lots"}"#).unwrap_err();
        assert!(
            e.message
                .starts_with("invalid JSON: field Memory: invalid type"),
            "{}",
            e.message
        );
        assert!(parse_json::<Body>(b"{")
            .unwrap_err()
            .message
            .starts_with("invalid JSON: "));
        assert!(parse_json_or_default::<Body>(b"  \n").is_ok());
    }
}
