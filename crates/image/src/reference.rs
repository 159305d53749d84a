//! Image references: `name`, `name:tag`, `name@sha256:…`, normalised as Docker does
//! (`busybox` is `docker.io/library/busybox:latest`), following distribution/reference's
//! grammar, with the "familiar" display form Docker prints.

use std::fmt;

use crate::error::ImageError;

/// A named reference with a tag or a digest (never neither: a bare name means `:latest`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Reference {
    /// Full repository name, e.g. `docker.io/library/busybox` or `localhost:5000/x/y`.
    repo: String,
    tag: Option<String>,
    digest: Option<String>,
}

impl Reference {
    /// Parses a user-given reference the way the Docker daemon does (distribution/reference
    /// grammar, then `docker.io/library/` normalisation; a bare name means `:latest`).
    ///
    /// Hand-written rather than oci-spec's regex-based parser: compiling that regex cost the
    /// daemon several MiB of resident memory and milliseconds at start (measured).
    pub fn parse(s: &str) -> Result<Self, ImageError> {
        let invalid = || ImageError::InvalidReference("invalid reference format".to_string());
        if s.is_empty() {
            return Err(invalid());
        }
        if s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(ImageError::InvalidReference(format!(
                "invalid repository name ({s}), cannot specify 64-byte hexadecimal strings"
            )));
        }
        let (rest, digest) = match s.split_once('@') {
            Some((r, d)) => {
                if !valid_digest(d) {
                    return Err(ImageError::InvalidReference(
                        "invalid reference format: invalid checksum digest format".into(),
                    ));
                }
                (r, Some(d.to_string()))
            }
            None => (s, None),
        };
        let (name, tag) = match rest.rfind(':') {
            Some(i) if !rest[i..].contains('/') => (&rest[..i], Some(&rest[i + 1..])),
            _ => (rest, None),
        };
        if let Some(t) = tag {
            if !valid_tag(t) {
                return Err(invalid());
            }
        }
        let (domain, path) = split_domain(name);
        if let Some(d) = domain {
            if !valid_domain(d) {
                return Err(invalid());
            }
        }
        if path.is_empty() || !path.split('/').all(valid_path_component) {
            if path
                .split('/')
                .all(|c| valid_path_component(&c.to_ascii_lowercase()))
                && path.chars().any(|c| c.is_ascii_uppercase())
            {
                return Err(ImageError::InvalidReference(format!(
                    "invalid reference format: repository name ({path}) must be lowercase"
                )));
            }
            return Err(invalid());
        }
        if name.len() > 255 {
            return Err(ImageError::InvalidReference(
                "repository name must not be more than 255 characters".into(),
            ));
        }
        let domain = match domain {
            None | Some("index.docker.io") => "docker.io",
            Some(d) => d,
        };
        let repo = if domain == "docker.io" && !path.contains('/') {
            format!("docker.io/library/{path}")
        } else {
            format!("{domain}/{path}")
        };
        let tag = match (tag, &digest) {
            (Some(t), _) => Some(t.to_string()),
            (None, None) => Some("latest".to_string()),
            (None, Some(_)) => None,
        };
        Ok(Reference { repo, tag, digest })
    }

    /// A tagged reference from a repository name and a tag, as `POST /images/x/tag` and
    /// import's `repo`/`tag` parameters give them.
    pub fn with_tag(repo: &str, tag: &str) -> Result<Self, ImageError> {
        let base = Reference::parse(repo)?;
        if base.digest.is_some() {
            return Err(ImageError::InvalidReference(format!(
                "refusing to create a tag with a digest reference: {repo}"
            )));
        }
        if tag.is_empty() {
            return Ok(base);
        }
        if base.tag.is_some() && has_explicit_tag(repo) {
            return Err(ImageError::InvalidReference(
                "invalid reference format".to_string(),
            ));
        }
        if !valid_tag(tag) {
            return Err(ImageError::InvalidReference(format!(
                "invalid tag format: {tag}"
            )));
        }
        Ok(Reference {
            repo: base.repo,
            tag: Some(tag.to_string()),
            digest: None,
        })
    }

    pub fn repo(&self) -> &str {
        &self.repo
    }

    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    pub fn digest(&self) -> Option<&str> {
        self.digest.as_deref()
    }

    /// The repository as Docker shows it: `busybox`, `user/app`, `localhost:5000/x`.
    pub fn familiar_repo(&self) -> &str {
        let r = self.repo.strip_prefix("docker.io/").unwrap_or(&self.repo);
        if self.repo.starts_with("docker.io/") {
            r.strip_prefix("library/")
                .filter(|rest| !rest.contains('/'))
                .unwrap_or(r)
        } else {
            r
        }
    }

    /// The full stored form: `docker.io/library/busybox:latest`.
    pub fn canonical(&self) -> String {
        match (&self.tag, &self.digest) {
            (_, Some(d)) => format!("{}@{}", self.repo, d),
            (Some(t), None) => format!("{}:{}", self.repo, t),
            (None, None) => self.repo.clone(),
        }
    }
}

impl fmt::Display for Reference {
    /// The familiar form Docker prints: `busybox:latest`, `x/y@sha256:…`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.tag, &self.digest) {
            (_, Some(d)) => write!(f, "{}@{}", self.familiar_repo(), d),
            (Some(t), None) => write!(f, "{}:{}", self.familiar_repo(), t),
            (None, None) => f.write_str(self.familiar_repo()),
        }
    }
}

/// Splits off the registry host: the first component is one when it has a `.` or `:` or is
/// `localhost` (and a `/` follows).
fn split_domain(name: &str) -> (Option<&str>, &str) {
    match name.split_once('/') {
        Some((first, rest))
            if first.contains('.') || first.contains(':') || first == "localhost" =>
        {
            (Some(first), rest)
        }
        _ => (None, name),
    }
}

fn valid_domain(d: &str) -> bool {
    let (host, port) = match d.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || d.starts_with('[') => (h, Some(p)),
        _ => (d, None),
    };
    if let Some(p) = port {
        if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
            return false;
        }
    }
    if let Some(v6) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        return v6.parse::<std::net::Ipv6Addr>().is_ok();
    }
    !host.is_empty()
        && host.split('.').all(|c| {
            let b = c.as_bytes();
            !b.is_empty()
                && b[0].is_ascii_alphanumeric()
                && b[b.len() - 1].is_ascii_alphanumeric()
                && b.iter().all(|x| x.is_ascii_alphanumeric() || *x == b'-')
        })
}

/// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`
fn valid_path_component(c: &str) -> bool {
    let b = c.as_bytes();
    let alnum = |x: u8| x.is_ascii_lowercase() || x.is_ascii_digit();
    if b.is_empty() || !alnum(b[0]) || !alnum(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if alnum(b[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && !alnum(b[i]) {
            i += 1;
        }
        let sep = &c[start..i];
        if !(sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|x| x == b'-')) {
            return false;
        }
    }
    true
}

fn valid_digest(d: &str) -> bool {
    match d.split_once(':') {
        Some(("sha256", hex)) => {
            hex.len() == 64
                && hex
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        }
        Some(("sha512", hex)) => hex.len() == 128 && hex.bytes().all(|b| b.is_ascii_hexdigit()),
        _ => false,
    }
}

fn has_explicit_tag(s: &str) -> bool {
    let name = s.split('@').next().unwrap_or(s);
    let last = name.rsplit('/').next().unwrap_or(name);
    last.contains(':')
}

fn valid_tag(tag: &str) -> bool {
    let b = tag.as_bytes();
    !b.is_empty()
        && b.len() <= 128
        && (b[0].is_ascii_alphanumeric() || b[0] == b'_')
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_like_docker() {
        let r = Reference::parse("busybox").unwrap();
        assert_eq!(r.canonical(), "docker.io/library/busybox:latest");
        assert_eq!(r.to_string(), "busybox:latest");
        let r = Reference::parse("docker.io/library/busybox:1.36").unwrap();
        assert_eq!(r.to_string(), "busybox:1.36");
        let r = Reference::parse("user/app").unwrap();
        assert_eq!(r.to_string(), "user/app:latest");
        let r = Reference::parse("localhost:5000/test/busybox:v1").unwrap();
        assert_eq!(r.repo(), "localhost:5000/test/busybox");
        assert_eq!(r.to_string(), "localhost:5000/test/busybox:v1");
        let d = format!("sha256:{}", "a".repeat(64));
        let r = Reference::parse(&format!("busybox@{d}")).unwrap();
        assert_eq!(r.tag(), None);
        assert_eq!(r.to_string(), format!("busybox@{d}"));
    }

    #[test]
    fn grammar_edges() {
        for ok in [
            "a",
            "a/b/c",
            "a_b",
            "a__b",
            "a---b",
            "a.b",
            "localhost/x",
            "localhost:5000/x",
            "my.reg:443/a/b:t",
            "[::1]:5000/x",
            "x:1.0-rc_1",
        ] {
            assert!(Reference::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "-a",
            "a-",
            "a..b",
            "a___b",
            "a/",
            "/a",
            "a//b",
            "a:",
            "a:-t",
            "a@sha256:xyz",
            "a b",
            "reg:abc/x",
            "@sha256:0",
        ] {
            assert!(Reference::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            Reference::parse("index.docker.io/foo").unwrap().canonical(),
            "docker.io/library/foo:latest"
        );
        assert_eq!(
            Reference::parse("docker.io/user/foo")
                .unwrap()
                .familiar_repo(),
            "user/foo"
        );
        assert_eq!(
            Reference::parse("localhost/foo").unwrap().to_string(),
            "localhost/foo:latest"
        );
    }

    #[test]
    fn rejects_bad_names() {
        assert!(Reference::parse("Busybox")
            .unwrap_err()
            .to_string()
            .contains("must be lowercase"));
        assert!(Reference::parse("a b").is_err());
        assert!(Reference::parse("").is_err());
        assert!(Reference::parse(&"a".repeat(64))
            .unwrap_err()
            .to_string()
            .contains("64-byte"));
        assert!(Reference::with_tag("busybox", "bad tag").is_err());
        assert!(Reference::with_tag("busybox", ".x").is_err());
        assert_eq!(
            Reference::with_tag("busybox", "v1").unwrap().to_string(),
            "busybox:v1"
        );
        assert_eq!(
            Reference::with_tag("busybox", "").unwrap().to_string(),
            "busybox:latest"
        );
    }
}
