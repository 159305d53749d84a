//! Registry auth: the credentials a client gave (`X-Registry-Auth`), the challenges a
//! registry answers a 401 with, and the tokens a Bearer challenge's server hands out.

use std::fmt;

/// What a client gave to log in with. Never written to disk or logs (`Debug` hides it).
#[derive(Clone, PartialEq, Eq)]
pub enum Credentials {
    Basic {
        username: String,
        password: String,
    },
    /// A token from an earlier login, traded for access tokens (`refresh_token` grant).
    IdentityToken(String),
    /// A bearer token to send as it is.
    RegistryToken(String),
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Credentials::Basic { username, .. } => write!(f, "Basic({username}, ***)"),
            Credentials::IdentityToken(_) => f.write_str("IdentityToken(***)"),
            Credentials::RegistryToken(_) => f.write_str("RegistryToken(***)"),
        }
    }
}

/// One challenge of a `WWW-Authenticate` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Challenge {
    Basic,
    Bearer {
        realm: String,
        service: Option<String>,
        scope: Option<String>,
    },
}

/// The challenges berth can answer in `header`, in the registry's order; others are skipped.
pub fn challenges(header: &str) -> Vec<Challenge> {
    let Ok(parsed) = http_auth::parse_challenges(header) else {
        return Vec::new();
    };
    parsed
        .into_iter()
        .filter_map(|c| {
            let param = |name: &str| {
                c.params
                    .iter()
                    .find(|(n, _)| n.eq_ignore_ascii_case(name))
                    .map(|(_, v)| v.to_unescaped())
            };
            if c.scheme.eq_ignore_ascii_case("basic") {
                Some(Challenge::Basic)
            } else if c.scheme.eq_ignore_ascii_case("bearer") {
                Some(Challenge::Bearer {
                    realm: param("realm")?,
                    service: param("service"),
                    scope: param("scope"),
                })
            } else {
                None
            }
        })
        .collect()
}

/// A token server's answer: `token`, or OAuth's `access_token`.
#[derive(Debug, Default, serde::Deserialize)]
pub(crate) struct TokenAnswer {
    #[serde(default)]
    pub token: String,
    #[serde(default)]
    pub access_token: String,
    /// Given when asked for (`offline_token`): a login's identity token.
    #[serde(default)]
    pub refresh_token: String,
}

impl TokenAnswer {
    pub fn token(&self) -> Option<String> {
        [&self.token, &self.access_token]
            .into_iter()
            .find(|t| !t.is_empty())
            .cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges_are_read_as_registries_write_them() {
        assert_eq!(
            challenges(r#"Basic realm="berth-test""#),
            vec![Challenge::Basic]
        );
        assert_eq!(
            challenges(
                r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull""#
            ),
            vec![Challenge::Bearer {
                realm: "https://auth.docker.io/token".into(),
                service: Some("registry.docker.io".into()),
                scope: Some("repository:library/busybox:pull".into()),
            }]
        );
        // A scheme berth does not speak is skipped; a Bearer without a realm is no challenge.
        assert_eq!(
            challenges(r#"Negotiate, Bearer service="x", Basic realm="r""#),
            vec![Challenge::Basic]
        );
        assert!(challenges("").is_empty());
    }

    #[test]
    fn credentials_never_show_in_logs() {
        let c = Credentials::Basic {
            username: "me".into(),
            password: "s3cret".into(),
        };
        assert!(!format!("{c:?}").contains("s3cret"));
        assert!(!format!("{:?}", Credentials::IdentityToken("tok".into())).contains("tok"));
    }
}
