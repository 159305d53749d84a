//! `docker search`: a registry's v1 search API, or, for a registry without one (distribution
//! 2.x has none), its `/v2/_catalog` filtered by the term, as Podman searches them (dockerd
//! answers a 500 there).

use http::{header, Method, StatusCode};

use crate::auth::Credentials;
use crate::client::RegistryClient;
use crate::endpoint::Endpoint;
use crate::error::DistributionError;

/// One result, in Docker's terms.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct SearchHit {
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub star_count: u64,
    #[serde(default)]
    pub is_official: bool,
    /// `is_automated`, which v1 indexes of old spelled `is_trusted`.
    #[serde(default, alias = "is_trusted")]
    pub is_automated: bool,
}

/// A search term split as Docker splits it: `host[:port]/words` searches that registry for
/// `words`; anything else searches Docker Hub.
pub fn split_term(term: &str) -> (Endpoint, String) {
    match term.split_once('/') {
        Some((first, rest))
            if first.contains('.') || first.contains(':') || first == "localhost" =>
        {
            (Endpoint::registry(first), rest.to_string())
        }
        _ => {
            // Docker Hub searches on its index, not where it serves images.
            let mut hub = Endpoint::registry("");
            hub.base = "https://index.docker.io".to_string();
            (hub, term.to_string())
        }
    }
}

/// Searches the registry `term` names for up to `limit` results.
pub async fn search(
    term: &str,
    limit: usize,
    credentials: Option<Credentials>,
    options: crate::RegistryOptions,
) -> Result<Vec<SearchHit>, DistributionError> {
    let (endpoint, words) = split_term(term);
    let domain = endpoint.domain.clone();
    let client = RegistryClient::new(endpoint, credentials, false, options).await;
    let base = client.base();
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("q", &words)
        .append_pair("n", &limit.to_string())
        .finish();
    #[derive(serde::Deserialize)]
    struct Answer {
        #[serde(default)]
        results: Vec<SearchHit>,
    }
    let url = format!("{base}/v1/search?{query}");
    if let Some(answer) = fetch_json::<Answer>(&client, &url).await? {
        return Ok(answer.results.into_iter().take(limit).collect());
    }
    // No v1 search: the catalog's names that hold the words.
    #[derive(serde::Deserialize)]
    struct Catalog {
        #[serde(default)]
        repositories: Vec<String>,
    }
    let url = format!("{base}/v2/_catalog?n=1000");
    let catalog: Catalog =
        fetch_json(&client, &url)
            .await?
            .ok_or_else(|| DistributionError::Status {
                url,
                status: StatusCode::NOT_FOUND.to_string(),
            })?;
    Ok(catalog
        .repositories
        .into_iter()
        .filter(|r| r.contains(&words))
        .take(limit)
        .map(|r| SearchHit {
            name: format!("{domain}/{r}"),
            description: String::new(),
            star_count: 0,
            is_official: false,
            is_automated: false,
        })
        .collect())
}

/// `url`'s JSON answer; `None` for a 404 (the registry has no such API).
async fn fetch_json<T: serde::de::DeserializeOwned>(
    client: &RegistryClient,
    url: &str,
) -> Result<Option<T>, DistributionError> {
    let accept = [(header::ACCEPT, "application/json".to_string())];
    let resp = client.send(Method::GET, url, &accept).await?;
    match resp.status() {
        StatusCode::NOT_FOUND => Ok(None),
        s if s.is_success() => {
            let body = client
                .read_small(resp, 16 << 20, format!("read {url}"))
                .await?;
            serde_json::from_slice(&body)
                .map(Some)
                .map_err(|e| DistributionError::Invalid(format!("invalid answer from {url}: {e}")))
        }
        s => Err(DistributionError::Status {
            url: url.to_string(),
            status: s.to_string(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_term_names_its_registry_as_docker_reads_it() {
        let (e, q) = split_term("127.0.0.1:5000/busy");
        assert_eq!(
            (e.base.as_str(), q.as_str()),
            ("http://127.0.0.1:5000", "busy")
        );
        let (e, q) = split_term("registry.example.com/team/app");
        assert_eq!(
            (e.domain.as_str(), q.as_str()),
            ("registry.example.com", "team/app")
        );
        let (e, q) = split_term("user/app");
        assert_eq!((e.domain.as_str(), q.as_str()), ("docker.io", "user/app"));
        let (e, q) = split_term("sshd");
        assert_eq!((e.domain.as_str(), q.as_str()), ("docker.io", "sshd"));
    }
}
