//! API versions (`/v1.18/...`): parsing and ordering.

use std::fmt;
use std::str::FromStr;

/// A Docker Remote API version, `major.minor`. Ordered numerically (1.5 < 1.18).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ApiVersion {
    pub major: u16,
    pub minor: u16,
}

impl ApiVersion {
    pub const fn new(major: u16, minor: u16) -> Self {
        Self { major, minor }
    }

    /// The oldest version berth serves (the first documented one).
    pub const MIN: ApiVersion = ApiVersion::new(1, 5);
    /// The newest version berth serves; unprefixed requests are served at this version.
    pub const MAX: ApiVersion = ApiVersion::new(1, 44);
}

impl fmt::Display for ApiVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// Why a version string did not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseVersionError(pub String);

impl fmt::Display for ParseVersionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid API version {:?}", self.0)
    }
}

impl std::error::Error for ParseVersionError {}

impl FromStr for ApiVersion {
    type Err = ParseVersionError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || ParseVersionError(s.to_string());
        let (major, minor) = s.split_once('.').ok_or_else(err)?;
        let digits = |p: &str| -> Result<u16, ParseVersionError> {
            if p.is_empty() || p.len() > 4 || !p.bytes().all(|b| b.is_ascii_digit()) {
                return Err(err());
            }
            p.parse().map_err(|_| err())
        };
        Ok(ApiVersion::new(digits(major)?, digits(minor)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_orders_numerically() {
        let v15: ApiVersion = "1.5".parse().unwrap();
        let v118: ApiVersion = "1.18".parse().unwrap();
        assert!(v15 < v118);
        assert_eq!(v118.to_string(), "1.18");
        assert!("1.07".parse::<ApiVersion>().unwrap() == ApiVersion::new(1, 7));
    }

    #[test]
    fn rejects_garbage() {
        for bad in [
            "", "1", "1.", ".5", "a.b", "1.5.1", "-1.5", "1.+5", "99999.1",
        ] {
            assert!(bad.parse::<ApiVersion>().is_err(), "{bad}");
        }
    }
}
