//! Where a repository's registry is, and whether it may be spoken to without TLS.

use std::net::IpAddr;

/// A repository on a registry: `127.0.0.1:5000` + `team/app`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// The registry as image names spell it (`docker.io`, `localhost:5000`).
    pub domain: String,
    /// The repository's path on it (`library/busybox`), what Docker's `Pulling from` shows.
    pub path: String,
    /// The registry's API base URL.
    pub base: String,
    /// Plain HTTP: loopback registries, which Docker always treats as insecure.
    pub insecure: bool,
}

impl Endpoint {
    /// The endpoint of a full repository name as the image store keeps it
    /// (`docker.io/library/busybox`, `127.0.0.1:5000/app`).
    pub fn of(repo: &str) -> Endpoint {
        let (domain, path) = repo.split_once('/').unwrap_or(("docker.io", repo));
        // Docker Hub's API is not served under the name images carry.
        let api_host = if domain == "docker.io" {
            "registry-1.docker.io"
        } else {
            domain
        };
        let insecure = is_loopback(domain);
        let scheme = if insecure { "http" } else { "https" };
        Endpoint {
            domain: domain.to_string(),
            path: path.to_string(),
            base: format!("{scheme}://{api_host}"),
            insecure,
        }
    }

    /// The registry a login names (`serveraddress`): `127.0.0.1:5000`, a URL of it, or
    /// Docker Hub's (empty, or its v1 index URL).
    pub fn registry(server: &str) -> Endpoint {
        let host = server
            .trim_start_matches("https://")
            .trim_start_matches("http://")
            .split('/')
            .next()
            .unwrap_or("");
        let domain = match host {
            "" | "index.docker.io" | "registry-1.docker.io" | "docker.io" => "docker.io",
            other => other,
        };
        Endpoint::of(&format!("{domain}/"))
    }

    /// Where a pull of `repo` may go, in order: for Docker Hub's images the `mirrors`
    /// first (as Docker tries them), then the registry itself.
    pub fn candidates(repo: &str, mirrors: &[String]) -> Vec<Endpoint> {
        let own = Endpoint::of(repo);
        if own.domain != "docker.io" {
            return vec![own];
        }
        let mut out: Vec<Endpoint> = mirrors
            .iter()
            .map(|m| {
                let base = m.trim_end_matches('/').to_string();
                Endpoint {
                    domain: own.domain.clone(),
                    path: own.path.clone(),
                    insecure: base.starts_with("http://"),
                    base,
                }
            })
            .collect();
        out.push(own);
        out
    }

    /// The host (and port) of a mirror this endpoint is: where its base URL points, when
    /// that is not the registry's own API host.
    pub fn mirror_host(&self) -> Option<&str> {
        let host = self
            .base
            .split_once("://")
            .map_or(&self.base[..], |(_, rest)| rest)
            .split('/')
            .next()
            .unwrap_or_default();
        (host != self.api_host()).then_some(host)
    }

    /// The host (and port) the registry's API is served on: Docker Hub's is not the name
    /// its images carry.
    pub fn api_host(&self) -> &str {
        if self.domain == "docker.io" {
            "registry-1.docker.io"
        } else {
            &self.domain
        }
    }

    /// The repository's full name as the image store spells it (`127.0.0.1:5000/app`).
    pub fn repository(&self) -> String {
        format!("{}/{}", self.domain, self.path)
    }

    /// A URL of this repository's API: `manifests/latest`, `blobs/sha256:…`.
    pub fn url(&self, rest: &str) -> String {
        format!("{}/v2/{}/{rest}", self.base, self.path)
    }
}

/// `localhost`, 127.0.0.0/8 and ::1, with or without a port: Docker's always-insecure set.
fn is_loopback(domain: &str) -> bool {
    let host = if let Some(rest) = domain.strip_prefix('[') {
        rest.split(']').next().unwrap_or(rest)
    } else {
        domain.rsplit_once(':').map_or(domain, |(h, _)| h)
    };
    host == "localhost" || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_are_found_as_docker_finds_them() {
        let hub = Endpoint::of("docker.io/library/busybox");
        assert_eq!(
            (
                hub.domain.as_str(),
                hub.path.as_str(),
                hub.base.as_str(),
                hub.insecure
            ),
            (
                "docker.io",
                "library/busybox",
                "https://registry-1.docker.io",
                false
            )
        );
        assert_eq!(
            hub.url("manifests/latest"),
            "https://registry-1.docker.io/v2/library/busybox/manifests/latest"
        );
        let local = Endpoint::of("127.0.0.1:5000/team/app");
        assert_eq!(
            (
                local.domain.as_str(),
                local.path.as_str(),
                local.base.as_str(),
                local.insecure
            ),
            ("127.0.0.1:5000", "team/app", "http://127.0.0.1:5000", true)
        );
        assert!(Endpoint::of("localhost:5000/a").insecure);
        assert!(Endpoint::of("[::1]:5000/a").insecure);
        assert!(Endpoint::of("127.1.2.3/a").insecure);
        assert!(!Endpoint::of("registry.example.com:5000/a").insecure);
        assert!(!Endpoint::of("10.0.0.1:5000/a").insecure);
        let mirrors = ["http://127.0.0.1:5001/".to_string()];
        let hub = Endpoint::candidates("docker.io/library/busybox", &mirrors);
        assert_eq!(
            hub.iter().map(|e| e.base.as_str()).collect::<Vec<_>>(),
            ["http://127.0.0.1:5001", "https://registry-1.docker.io"]
        );
        assert!(hub.iter().all(|e| e.path == "library/busybox"));
        // A mirror's certificates are its own host's; a registry's, its name's.
        assert_eq!(hub[0].mirror_host(), Some("127.0.0.1:5001"));
        assert_eq!(hub[1].mirror_host(), None);
        assert_eq!(local.mirror_host(), None);
        assert_eq!(Endpoint::candidates("127.0.0.1:5000/a", &mirrors).len(), 1);
        for (server, base) in [
            ("", "https://registry-1.docker.io"),
            (
                "https://index.docker.io/v1/",
                "https://registry-1.docker.io",
            ),
            ("127.0.0.1:5000", "http://127.0.0.1:5000"),
            ("http://localhost:5000/", "http://localhost:5000"),
        ] {
            let e = Endpoint::registry(server);
            assert_eq!((e.base.as_str(), e.path.as_str()), (base, ""), "{server}");
        }
    }
}
