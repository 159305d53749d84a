//! One repository's registry over HTTP: requests that answer a 401 challenge once (Basic
//! with the client's credentials, or a Bearer token fetched from the challenge's realm for
//! the repository's scope), manifests with Docker's `Accept` list, blobs streamed.

use base64::Engine as _;
use bytes::Bytes;
use http::{header, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::client::legacy::{connect::HttpConnector, Client};

use crate::auth::{challenges, Challenge, Credentials, TokenAnswer};
use crate::endpoint::Endpoint;
use crate::error::DistributionError;
use crate::manifest::ACCEPT;
use crate::options::RegistryOptions;

/// The largest manifest read: registries cap theirs at 4 MiB too.
const MANIFEST_LIMIT: usize = 4 << 20;

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
    http: Client<HttpConnector, Full<Bytes>>,
    credentials: Option<Credentials>,
    /// The `Authorization` value the last challenge was answered with, reused until a 401.
    authorization: tokio::sync::Mutex<Option<String>>,
    /// The scope's actions: `pull`, or `pull,push`.
    actions: &'static str,
    pub options: RegistryOptions,
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
    pub fn new(
        endpoint: Endpoint,
        credentials: Option<Credentials>,
        push: bool,
        options: RegistryOptions,
    ) -> Self {
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(options.connect_timeout));
        let http = Client::builder(hyper_util::rt::TokioExecutor::new()).build(connector);
        RegistryClient {
            endpoint,
            http,
            credentials,
            authorization: tokio::sync::Mutex::new(None),
            actions: if push { "pull,push" } else { "pull" },
            options,
        }
    }

    /// `request`'s answer (its head), or an error once the registry has been silent for the
    /// stall timeout.
    async fn timed(
        &self,
        request: Request<Full<Bytes>>,
        what: String,
    ) -> Result<Response<Incoming>, DistributionError> {
        let stall = self.options.stall_timeout;
        match tokio::time::timeout(stall, self.http.request(request)).await {
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
    ) -> Result<Response<Incoming>, DistributionError> {
        let mut req = Request::builder().method(method.clone()).uri(url);
        for (name, value) in headers {
            req = req.header(name, value);
        }
        if let Some(a) = authorization {
            req = req.header(header::AUTHORIZATION, a);
        }
        let req = req
            .body(Full::new(Bytes::new()))
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
        let known = self.authorization.lock().await.clone();
        let resp = self
            .send_once(&method, url, headers, known.as_deref())
            .await?;
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
        self.send_once(&method, url, headers, Some(&authorization))
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
                query.append_pair("scope", &scope);
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
                    .append_pair("scope", &scope)
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
            .body(Full::new(body))
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
        let url = format!("{}/v2/", self.endpoint.base);
        let first = self.send_once(&Method::GET, &url, &[], None).await?;
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
            .send_once(&Method::GET, &url, &[], Some(&authorization))
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
        let url = self.endpoint.url(&format!("manifests/{reference}"));
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
        let url = self.endpoint.url(&format!("blobs/{digest}"));
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
        let url = self.endpoint.url(&format!("blobs/{digest}"));
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
