//! Registry credentials as clients send them: the `X-Registry-Auth` header's JSON (base64url)
//! and `POST /auth`'s body.

use serde::{Deserialize, Serialize};

/// Docker's `AuthConfig`. Any field may be empty; `auth` is `base64(username:password)`.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthConfig {
    #[serde(
        default,
        deserialize_with = "crate::null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub username: String,
    #[serde(
        default,
        deserialize_with = "crate::null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub password: String,
    #[serde(
        default,
        deserialize_with = "crate::null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub auth: String,
    #[serde(
        default,
        deserialize_with = "crate::null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub email: String,
    #[serde(
        default,
        deserialize_with = "crate::null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub serveraddress: String,
    #[serde(
        default,
        deserialize_with = "crate::null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub identitytoken: String,
    #[serde(
        default,
        deserialize_with = "crate::null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub registrytoken: String,
}

/// Credentials never reach a log: `Debug` names only the user.
impl std::fmt::Debug for AuthConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthConfig")
            .field("username", &self.username)
            .field("serveraddress", &self.serveraddress)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nulls_and_missing_fields_read_as_empty() {
        let a: AuthConfig = serde_json::from_str(
            r#"{"username":"u","password":"hunter2","email":null,"serveraddress":"r:5000","identitytoken":null}"#,
        )
        .unwrap();
        assert_eq!(
            (
                a.username.as_str(),
                a.email.as_str(),
                a.registrytoken.as_str()
            ),
            ("u", "", "")
        );
        assert!(!format!("{a:?}").contains("hunter2"), "a password in Debug");
    }
}
