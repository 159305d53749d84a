//! One repository's registry over HTTP: requests that answer a 401 challenge once (Basic
//! with the client's credentials, or a Bearer token fetched from the challenge's realm for
//! the repository's scope), manifests with Docker's `Accept` list, blobs streamed.

use base64::Engine as _;
use bytes::Bytes;
use http::{header, Method, Request, Response, StatusCode};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;

use crate::auth::{challenges, Challenge, Credentials, TokenAnswer};
use crate::endpoint::Endpoint;
use crate::error::DistributionError;
use crate::manifest::ACCEPT;
use crate::options::RegistryOptions;

/// How many kept connections found closed one request may pass over before it fails: as
/// many as are kept idle for one registry.
const KEPT_RETRIES: usize = crate::connections::IDLE_PER_REGISTRY;

/// The largest manifest read: registries cap theirs at 4 MiB too.
const MANIFEST_LIMIT: usize = 4 << 20;

/// A request's body: bytes, or a stream (a blob being uploaded).
pub type RequestBody = BoxBody<Bytes, std::io::Error>;

fn bytes_body(b: Bytes) -> RequestBody {
    Full::new(b).map_err(|never| match never {}).boxed()
}

/// A manifest as fetched: its digest (checked when the reference was one), its type, its
/// bytes exactly as served (what `RepoDigests` and a later push rest on).
#[derive(Debug, Clone)]
pub struct Fetched {
    pub digest: String,
    pub media_type: String,
    pub body: Bytes,
}

pub struct RegistryClient {
    pub endpoint: Endpoint,
    http: crate::connections::HttpClient,
    /// The scheme and host requests go to now (`https://host:port`), and the other one to
    /// try once if this one turns out wrong: an insecure registry over plain HTTP after TLS
    /// fails, or a loopback registry over TLS when it answers plain HTTP so.
    base: std::sync::Mutex<(String, Option<String>)>,
    /// Why TLS could not be set up for this registry (its certs.d is broken): told at the
    /// first request.
    tls_error: Option<String>,
    credentials: Option<Credentials>,
    /// Scopes asked for beside this repository's: other repositories' `pull`, for a push
    /// that mounts their blobs.
    extra_scopes: Vec<String>,
    /// The `Authorization` value the last challenge was answered with, reused until a 401.
    authorization: tokio::sync::Mutex<Option<String>>,
    /// The scope's actions: `pull`, or `pull,push`.
    actions: &'static str,
    pub options: RegistryOptions,
}

/// Whether a request failed because its connection closed before any answer came: what a
/// kept connection the registry closed meanwhile gives.
fn closed_under_us(e: &hyper_util::client::legacy::Error) -> bool {
    std::error::Error::source(e)
        .and_then(|s| s.downcast_ref::<hyper::Error>())
        .is_some_and(|h| h.is_incomplete_message() || h.is_closed())
}

/// Go's spelling of a method in its URL errors (`Get "…": …`), which Docker's messages carry.
fn go_method(m: &Method) -> String {
    let s = m.as_str();
    format!("{}{}", &s[..1], s[1..].to_ascii_lowercase())
}

/// The reason a registry gave in its JSON errors, as Docker prints an errcode:
/// `manifest unknown: manifest unknown`; with no body, the status's reason.
async fn registry_reason(resp: Response<Incoming>) -> (String, String) {
    let status = resp.status();
    let body = http_body_util::Limited::new(resp.into_body(), 64 << 10)
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    #[derive(serde::Deserialize)]
    struct Errors {
        errors: Vec<ErrorEntry>,
    }
    #[derive(serde::Deserialize)]
    struct ErrorEntry {
        code: String,
        #[serde(default)]
        message: String,
    }
    match serde_json::from_slice::<Errors>(&body)
        .ok()
        .and_then(|e| e.errors.into_iter().next())
    {
        Some(e) => {
            let words = e.code.to_ascii_lowercase().replace('_', " ");
            (e.code, format!("{words}: {}", e.message))
        }
        None => (
            String::new(),
            status
                .canonical_reason()
                .unwrap_or("unknown")
                .to_ascii_lowercase(),
        ),
    }
}

impl RegistryClient {
    pub async fn new(
        endpoint: Endpoint,
        credentials: Option<Credentials>,
        push: bool,
        options: RegistryOptions,
    ) -> Self {
        // A mirror is its own host for certificates (its `certs.d/<host[:port]>`), as Docker
        // sets a mirror's TLS up; a registry is its name.
        let tls_host = endpoint
            .mirror_host()
            .unwrap_or(&endpoint.domain)
            .to_string();
        let insecure = endpoint.insecure || options.tls.is_insecure(&tls_host).await;
        let (http, tls_error) = options.connections.client(&tls_host, insecure, &options);
        // The registry's own endpoint (not a mirror's URL) may change scheme once.
        let (https, plain) = (
            format!("https://{}", endpoint.api_host()),
            format!("http://{}", endpoint.api_host()),
        );
        let other = if endpoint.base == https && insecure {
            Some(plain)
        } else if endpoint.base == plain {
            Some(https)
        } else {
            None
        };
        RegistryClient {
            base: std::sync::Mutex::new((endpoint.base.clone(), other)),
            tls_error,
            endpoint,
            http,
            credentials,
            extra_scopes: Vec::new(),
            authorization: tokio::sync::Mutex::new(None),
            actions: if push { "pull,push" } else { "pull" },
            options,
        }
    }

    /// Where requests go now: `https://host:port`.
    pub fn base(&self) -> String {
        self.base.lock().expect("lock").0.clone()
    }

    /// A URL of the repository's API: `manifests/latest`, `blobs/sha256:…`.
    pub fn url(&self, rest: &str) -> String {
        format!("{}/v2/{}/{rest}", self.base(), self.endpoint.path)
    }

    /// `url` on the base in use now (the scheme may have changed since it was made).
    fn rebase(&self, url: &str) -> String {
        let host = self.endpoint.api_host();
        for scheme in ["https://", "http://"] {
            if let Some(path) = url.strip_prefix(scheme).and_then(|r| r.strip_prefix(host)) {
                return format!("{}{path}", self.base());
            }
        }
        url.to_string()
    }

    /// Moves to the other scheme, once.
    fn fall_back(&self) -> bool {
        let mut base = self.base.lock().expect("lock");
        let Some(other) = base.1.take() else {
            return false;
        };
        tracing::debug!(from = %base.0, to = %other, "registry scheme");
        base.0 = other;
        true
    }

    /// Back to the base of `url`, settled.
    fn return_to(&self, url: &str) {
        let mut base = self.base.lock().expect("lock");
        if let Some(b) = url.split("/v2/").next() {
            base.0 = b.to_string();
        }
        base.1 = None;
    }

    /// The scheme in use has worked: no changing it any more.
    fn settle(&self) {
        self.base.lock().expect("lock").1 = None;
    }

    /// Sends a request whose body can be sent again, first finding the scheme the registry
    /// speaks while that is open: TLS that fails moves an insecure registry to plain HTTP
    /// (Docker tries HTTPS first); a plain request answered 400 (a TLS server's answer to
    /// plain HTTP) moves a loopback registry to HTTPS. Another 400 is asked again as it was.
    async fn send_settling(
        &self,
        method: &Method,
        url: &str,
        headers: &[(header::HeaderName, String)],
        authorization: Option<&str>,
        body: Bytes,
    ) -> Result<Response<Incoming>, DistributionError> {
        if let Some(e) = &self.tls_error {
            return Err(DistributionError::Invalid(e.clone()));
        }
        let open = self.base.lock().expect("lock").1.is_some();
        let first = self
            .send_once(
                method,
                url,
                headers,
                authorization,
                bytes_body(body.clone()),
            )
            .await;
        if !open {
            return first;
        }
        let wrong_scheme = match &first {
            Err(DistributionError::Transport { .. }) => url.starts_with("https://"),
            Ok(resp) => resp.status() == StatusCode::BAD_REQUEST && url.starts_with("http://"),
            Err(_) => false,
        };
        if !wrong_scheme || !self.fall_back() {
            if first.is_ok() {
                self.settle();
            }
            return first;
        }
        let second = self
            .send_once(
                method,
                &self.rebase(url),
                headers,
                authorization,
                bytes_body(body.clone()),
            )
            .await;
        match second {
            Ok(resp) => {
                self.settle();
                Ok(resp)
            }
            // Neither works: the first scheme's answer stands.
            Err(_) if first.is_ok() => {
                self.return_to(url);
                self.send_once(method, url, headers, authorization, bytes_body(body))
                    .await
            }
            Err(e) => Err(e),
        }
    }

    /// Asks tokens for `pull` on `repositories` (paths on this registry) too.
    pub fn with_pull_scopes(mut self, repositories: impl IntoIterator<Item = String>) -> Self {
        self.extra_scopes = repositories
            .into_iter()
            .map(|r| format!("repository:{r}:pull"))
            .collect();
        self
    }

    /// `request`'s answer (its head), or an error once the registry has been silent for the
    /// stall timeout. A GET or HEAD that finds its kept connection closed under it (the
    /// registry closed it as the request went) is sent again on another, as Go's transport
    /// retries requests that change nothing.
    async fn timed(
        &self,
        request: Request<RequestBody>,
        what: String,
    ) -> Result<Response<Incoming>, DistributionError> {
        let again = matches!(*request.method(), Method::GET | Method::HEAD).then(|| {
            let mut head = Request::new(());
            *head.method_mut() = request.method().clone();
            *head.uri_mut() = request.uri().clone();
            *head.headers_mut() = request.headers().clone();
            head
        });
        let stall = self.options.stall_timeout;
        let send = |request| tokio::time::timeout(stall, self.http.request(request));
        let mut answer = send(request).await;
        if let Some(again) = again {
            // Each kept connection found closed is dropped from the pool; the next try takes
            // another, or a new one.
            for _ in 0..KEPT_RETRIES {
                match &answer {
                    Ok(Err(e)) if closed_under_us(e) => {
                        tracing::debug!(error = %e, "a kept connection was closed; asking again");
                    }
                    _ => break,
                }
                let mut copy = Request::new(bytes_body(Bytes::new()));
                *copy.method_mut() = again.method().clone();
                *copy.uri_mut() = again.uri().clone();
                *copy.headers_mut() = again.headers().clone();
                answer = send(copy).await;
            }
        }
        match answer {
            Ok(r) => r.map_err(|e| DistributionError::transport(what, e)),
            Err(_) => Err(DistributionError::transport(
                what,
                format!("no answer within {}s", stall.as_secs()),
            )),
        }
    }

    /// A whole small body (a manifest, a token), within the stall timeout.
    pub(crate) async fn read_small(
        &self,
        resp: Response<Incoming>,
        limit: usize,
        what: String,
    ) -> Result<Bytes, DistributionError> {
        let stall = self.options.stall_timeout;
        let read = http_body_util::Limited::new(resp.into_body(), limit).collect();
        match tokio::time::timeout(stall, read).await {
            Ok(r) => Ok(r
                .map_err(|e| DistributionError::transport(what, e))?
                .to_bytes()),
            Err(_) => Err(DistributionError::transport(
                what,
                format!("no data within {}s", stall.as_secs()),
            )),
        }
    }

    async fn send_once(
        &self,
        method: &Method,
        url: &str,
        headers: &[(header::HeaderName, String)],
        authorization: Option<&str>,
        body: RequestBody,
    ) -> Result<Response<Incoming>, DistributionError> {
        let mut req = Request::builder().method(method.clone()).uri(url);
        for (name, value) in headers {
            req = req.header(name, value);
        }
        if let Some(a) = authorization {
            req = req.header(header::AUTHORIZATION, a);
        }
        let req = req
            .body(body)
            .map_err(|e| DistributionError::Invalid(format!("invalid URL {url}: {e}")))?;
        self.timed(req, format!("{} \"{url}\"", go_method(method)))
            .await
    }

    /// Sends a request; a 401 is answered once through its challenge, and the answer kept for
    /// the requests after it.
    pub async fn send(
        &self,
        method: Method,
        url: &str,
        headers: &[(header::HeaderName, String)],
    ) -> Result<Response<Incoming>, DistributionError> {
        self.send_bytes(method, url, headers, Bytes::new()).await
    }

    /// [`RegistryClient::send`] with a body, sent again after a challenge is answered.
    pub async fn send_bytes(
        &self,
        method: Method,
        url: &str,
        headers: &[(header::HeaderName, String)],
        body: Bytes,
    ) -> Result<Response<Incoming>, DistributionError> {
        let known = self.authorization.lock().await.clone();
        let resp = self
            .send_settling(&method, url, headers, known.as_deref(), body.clone())
            .await?;
        // The scheme may have changed under the URL.
        let url = &self.rebase(url);
        if resp.status() != StatusCode::UNAUTHORIZED {
            return Ok(resp);
        }
        let offered = resp
            .headers()
            .get_all(header::WWW_AUTHENTICATE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(challenges)
            .collect::<Vec<_>>();
        let Some(authorization) = self.answer(&offered, &method, url).await? else {
            return Ok(resp);
        };
        *self.authorization.lock().await = Some(authorization.clone());
        self.send_once(
            &method,
            url,
            headers,
            Some(&authorization),
            bytes_body(body),
        )
        .await
    }

    /// Sends a streamed body (a blob's upload) with the authorization earlier requests
    /// earned: a stream cannot be sent twice, so a 401 here stands.
    pub async fn send_stream(
        &self,
        method: Method,
        url: &str,
        headers: &[(header::HeaderName, String)],
        body: RequestBody,
    ) -> Result<Response<Incoming>, DistributionError> {
        let known = self.authorization.lock().await.clone();
        self.send_once(&method, url, headers, known.as_deref(), body)
            .await
    }

    /// The `Authorization` value for the first challenge berth can answer; `None` when there
    /// is none to answer (the 401 stands).
    async fn answer(
        &self,
        offered: &[Challenge],
        method: &Method,
        url: &str,
    ) -> Result<Option<String>, DistributionError> {
        // The first challenge: `challenges` keeps only the schemes berth answers.
        match offered.first() {
            None => Ok(None),
            Some(Challenge::Basic) => match &self.credentials {
                Some(Credentials::Basic { username, password }) => Ok(Some(format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD
                        .encode(format!("{username}:{password}"))
                ))),
                _ => Err(DistributionError::NoCredentials {
                    method: go_method(method),
                    url: url.to_string(),
                }),
            },
            Some(Challenge::Bearer { realm, service, .. }) => {
                let token = self.token(realm, service.as_deref()).await?;
                Ok(Some(format!("Bearer {token}")))
            }
        }
    }

    /// A token for this repository's scope from the Bearer challenge's server.
    async fn token(&self, realm: &str, service: Option<&str>) -> Result<String, DistributionError> {
        Ok(self.token_answer(realm, service).await?.0)
    }

    /// A token from the Bearer challenge's server, and the refresh token it gave (asked for
    /// at login, with no repository: Docker's `offline_token`).
    async fn token_answer(
        &self,
        realm: &str,
        service: Option<&str>,
    ) -> Result<(String, Option<String>), DistributionError> {
        if let Some(Credentials::RegistryToken(t)) = &self.credentials {
            return Ok((t.clone(), None));
        }
        let login = self.endpoint.path.is_empty();
        let scope = format!("repository:{}:{}", self.endpoint.path, self.actions);
        let scopes = std::iter::once(scope.clone()).chain(self.extra_scopes.iter().cloned());
        let query = {
            let mut query = form_urlencoded::Serializer::new(String::new());
            if let Some(s) = service {
                query.append_pair("service", s);
            }
            if login {
                query.append_pair("offline_token", "true");
                query.append_pair("client_id", "docker");
                if let Some(Credentials::Basic { username, .. }) = &self.credentials {
                    query.append_pair("account", username);
                }
            } else {
                for scope in scopes.clone() {
                    query.append_pair("scope", &scope);
                }
            }
            query.finish()
        };
        let mut headers = Vec::new();
        let (method, body) = match &self.credentials {
            // An identity token is traded through OAuth's refresh-token grant.
            Some(Credentials::IdentityToken(t)) => {
                let mut form = form_urlencoded::Serializer::new(String::new());
                form.append_pair("grant_type", "refresh_token")
                    .append_pair("refresh_token", t)
                    .append_pair("service", service.unwrap_or(""))
                    .append_pair("scope", &scopes.collect::<Vec<_>>().join(" "))
                    .append_pair("client_id", "docker");
                headers.push((
                    header::CONTENT_TYPE,
                    "application/x-www-form-urlencoded".to_string(),
                ));
                (Method::POST, Bytes::from(form.finish()))
            }
            Some(Credentials::Basic { username, password }) => {
                headers.push((
                    header::AUTHORIZATION,
                    format!(
                        "Basic {}",
                        base64::engine::general_purpose::STANDARD
                            .encode(format!("{username}:{password}"))
                    ),
                ));
                (Method::GET, Bytes::new())
            }
            _ => (Method::GET, Bytes::new()),
        };
        let url = if method == Method::GET {
            let sep = if realm.contains('?') { '&' } else { '?' };
            format!("{realm}{sep}{query}")
        } else {
            realm.to_string()
        };
        let mut req = Request::builder().method(method.clone()).uri(&url);
        for (name, value) in headers {
            req = req.header(name, value);
        }
        let req = req
            .body(bytes_body(body))
            .map_err(|e| DistributionError::Invalid(format!("invalid token realm {realm}: {e}")))?;
        let resp = self
            .timed(req, format!("{} \"{url}\"", go_method(&method)))
            .await?;
        if !resp.status().is_success() {
            let (_, reason) = registry_reason(resp).await;
            return Err(DistributionError::Unauthorized(format!(
                "failed to fetch a token from {realm}: {reason}"
            )));
        }
        let body = self
            .read_small(resp, 1 << 20, "read the token".into())
            .await?;
        let answer = serde_json::from_slice::<TokenAnswer>(&body).unwrap_or_default();
        let refresh = Some(answer.refresh_token.clone()).filter(|t| !t.is_empty());
        let token = answer
            .token()
            .ok_or_else(|| DistributionError::Unauthorized(format!("no token from {realm}")))?;
        Ok((token, refresh))
    }

    /// `docker login`: the registry's `/v2/` with the credentials, its challenge answered;
    /// returns the refresh token a token server gave, which clients keep as an identity token.
    /// A registry that refuses is Docker's `login attempt to … failed with status: …`.
    pub async fn login(&self) -> Result<Option<String>, DistributionError> {
        let url = format!("{}/v2/", self.base());
        let first = self
            .send_settling(&Method::GET, &url, &[], None, Bytes::new())
            .await?;
        let url = self.rebase(&url);
        if first.status().is_success() {
            return Ok(None);
        }
        let refused = |status: StatusCode| {
            DistributionError::Unauthorized(format!(
                "login attempt to {url} failed with status: {} {}",
                status.as_u16(),
                status.canonical_reason().unwrap_or("")
            ))
        };
        if first.status() != StatusCode::UNAUTHORIZED {
            return Err(refused(first.status()));
        }
        let offered: Vec<Challenge> = first
            .headers()
            .get_all(header::WWW_AUTHENTICATE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(challenges)
            .collect();
        let (authorization, refresh) = match offered.first() {
            Some(Challenge::Bearer { realm, service, .. }) => {
                let (token, refresh) = self.token_answer(realm, service.as_deref()).await?;
                (format!("Bearer {token}"), refresh)
            }
            Some(Challenge::Basic) => match self.answer(&offered, &Method::GET, &url).await? {
                Some(a) => (a, None),
                None => return Err(refused(StatusCode::UNAUTHORIZED)),
            },
            None => return Err(refused(StatusCode::UNAUTHORIZED)),
        };
        let second = self
            .send_once(
                &Method::GET,
                &url,
                &[],
                Some(&authorization),
                bytes_body(Bytes::new()),
            )
            .await?;
        if second.status().is_success() {
            Ok(refresh)
        } else {
            Err(refused(second.status()))
        }
    }

    /// The manifest `reference` (a tag or a digest) names. `name` is the image as the user
    /// wrote it, for the messages.
    pub async fn manifest(
        &self,
        reference: &str,
        name: &str,
    ) -> Result<Fetched, DistributionError> {
        let url = self.url(&format!("manifests/{reference}"));
        let resp = self
            .send(Method::GET, &url, &[(header::ACCEPT, ACCEPT.join(", "))])
            .await?;
        let status = resp.status();
        if !status.is_success() {
            return Err(self.refusal(resp, &url, name).await);
        }
        let media_type = resp
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let body = self
            .read_small(resp, MANIFEST_LIMIT, format!("read the manifest of {name}"))
            .await?;
        let digest = berth_image::Digest::of(&body).to_string();
        if reference.starts_with("sha256:") && reference != digest {
            return Err(DistributionError::Invalid(format!(
                "manifest verification failed for digest {reference}"
            )));
        }
        Ok(Fetched {
            digest,
            media_type,
            body,
        })
    }

    /// A blob's whole answer (a config's), for [`RegistryClient::read_small`].
    pub(crate) async fn blob_response(
        &self,
        digest: &str,
    ) -> Result<Response<Incoming>, DistributionError> {
        let url = self.url(&format!("blobs/{digest}"));
        let resp = self.send(Method::GET, &url, &[]).await?;
        if !resp.status().is_success() {
            return Err(self.refusal(resp, &url, digest).await);
        }
        Ok(resp)
    }

    /// A blob's body, streamed, and its length when the registry said; from byte `offset`
    /// on (a `Range` request) to resume a download.
    pub async fn blob(
        &self,
        digest: &str,
        offset: u64,
    ) -> Result<(Option<u64>, Incoming), DistributionError> {
        let url = self.url(&format!("blobs/{digest}"));
        let mut headers = Vec::new();
        if offset > 0 {
            headers.push((header::RANGE, format!("bytes={offset}-")));
        }
        let resp = self.send(Method::GET, &url, &headers).await?;
        let status = resp.status();
        if !(status == StatusCode::OK || (offset > 0 && status == StatusCode::PARTIAL_CONTENT)) {
            return Err(self.refusal(resp, &url, digest).await);
        }
        let length = hyper::body::Body::size_hint(resp.body()).exact();
        Ok((length, resp.into_body()))
    }

    /// Whether this repository has blob `digest` (`HEAD`), as a push asks first.
    pub async fn blob_exists(&self, digest: &str) -> Result<bool, DistributionError> {
        let url = self.url(&format!("blobs/{digest}"));
        let resp = self.send(Method::HEAD, &url, &[]).await?;
        match resp.status() {
            s if s.is_success() => Ok(true),
            StatusCode::NOT_FOUND => Ok(false),
            _ => Err(self.refusal(resp, &url, digest).await),
        }
    }

    /// Starts an upload; with `mount`, asks the registry to take blob `digest` from another
    /// of its repositories instead. `Ok(None)`: mounted, nothing to send; else where to send.
    pub async fn start_upload(
        &self,
        mount: Option<(&str, &str)>,
    ) -> Result<Option<String>, DistributionError> {
        let mut url = self.url("blobs/uploads/");
        if let Some((digest, from)) = mount {
            let query = form_urlencoded::Serializer::new(String::new())
                .append_pair("mount", digest)
                .append_pair("from", from)
                .finish();
            url = format!("{url}?{query}");
        }
        let resp = self.send(Method::POST, &url, &[]).await?;
        match resp.status() {
            StatusCode::CREATED if mount.is_some() => Ok(None),
            StatusCode::ACCEPTED => Ok(Some(self.location(&resp, &url)?)),
            _ => Err(self.refusal(resp, &url, "").await),
        }
    }

    /// Sends a blob's bytes to the upload at `location` (one `PATCH`, streamed), then closes
    /// the upload with its digest (`PUT`), as Docker uploads.
    pub async fn finish_upload(
        &self,
        location: &str,
        body: RequestBody,
        digest: &str,
    ) -> Result<(), DistributionError> {
        let headers = [(header::CONTENT_TYPE, "application/octet-stream".to_string())];
        let resp = self
            .send_stream(Method::PATCH, location, &headers, body)
            .await?;
        if resp.status() != StatusCode::ACCEPTED {
            return Err(self.refusal(resp, location, digest).await);
        }
        let location = self.location(&resp, location)?;
        let sep = if location.contains('?') { '&' } else { '?' };
        let query = form_urlencoded::Serializer::new(String::new())
            .append_pair("digest", digest)
            .finish();
        let url = format!("{location}{sep}{query}");
        let resp = self.send(Method::PUT, &url, &[]).await?;
        if resp.status() != StatusCode::CREATED {
            return Err(self.refusal(resp, &url, digest).await);
        }
        Ok(())
    }

    /// Puts a manifest under `reference` (a tag); returns the digest the registry gave it.
    pub async fn put_manifest(
        &self,
        reference: &str,
        media_type: &str,
        body: Bytes,
    ) -> Result<String, DistributionError> {
        let url = self.url(&format!("manifests/{reference}"));
        let headers = [(header::CONTENT_TYPE, media_type.to_string())];
        let resp = self
            .send_bytes(Method::PUT, &url, &headers, body.clone())
            .await?;
        if resp.status() != StatusCode::CREATED {
            return Err(self.refusal(resp, &url, reference).await);
        }
        let ours = berth_image::Digest::of(&body).to_string();
        match resp
            .headers()
            .get("docker-content-digest")
            .and_then(|v| v.to_str().ok())
        {
            Some(theirs) if theirs != ours => Err(DistributionError::Invalid(format!(
                "the registry stored the manifest as {theirs}, not {ours}"
            ))),
            _ => Ok(ours),
        }
    }

    /// An answer's `Location`, made absolute against the registry.
    fn location(&self, resp: &Response<Incoming>, url: &str) -> Result<String, DistributionError> {
        let location = resp
            .headers()
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| {
                DistributionError::Invalid(format!("no upload location in the answer to {url}"))
            })?;
        Ok(if location.starts_with('/') {
            format!("{}{location}", self.base())
        } else {
            location.to_string()
        })
    }

    /// The error for a registry's refusal, worded as Docker words it.
    async fn refusal(&self, resp: Response<Incoming>, url: &str, name: &str) -> DistributionError {
        let status = resp.status();
        let (code, reason) = registry_reason(resp).await;
        let repository = format!("{}/{}", self.endpoint.domain, self.endpoint.path);
        let repository = repository
            .strip_prefix("docker.io/")
            .map(|r| r.strip_prefix("library/").unwrap_or(r).to_string())
            .unwrap_or(repository);
        match (status, code.as_str()) {
            (_, "MANIFEST_UNKNOWN") | (StatusCode::NOT_FOUND, "") => {
                DistributionError::ManifestUnknown {
                    reference: name.to_string(),
                    reason,
                }
            }
            (_, "NAME_UNKNOWN") => DistributionError::NameUnknown { repository, reason },
            // A push refused is the registry's own words (`denied: …`), as Docker prints it.
            (StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN, _) | (_, "DENIED")
                if self.actions != "pull" =>
            {
                DistributionError::Registry(reason)
            }
            (StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN, _) | (_, "DENIED") => {
                DistributionError::AccessDenied { repository, reason }
            }
            // A registry's own error code is its message, as Docker prints an errcode.
            (_, code) if !code.is_empty() => DistributionError::Registry(reason),
            _ => DistributionError::Status {
                url: url.to_string(),
                status: format!(
                    "{} {}",
                    status.as_u16(),
                    status.canonical_reason().unwrap_or("")
                ),
            },
        }
    }
}
