//! Image references: `name`, `name:tag`, `name@sha256:…`, normalised as Docker does
//! (`busybox` is `docker.io/library/busybox:latest`). Parsing is oci-spec's port of
//! distribution/reference; this adds Docker's checks and the "familiar" display form.

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
    /// Parses a user-given reference the way the Docker daemon does.
    pub fn parse(s: &str) -> Result<Self, ImageError> {
        if s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(ImageError::InvalidReference(format!(
                "invalid repository name ({s}), cannot specify 64-byte hexadecimal strings"
            )));
        }
        let parsed: oci_spec::distribution::Reference = s.parse().map_err(|e| {
            let name_part = s.split(['@']).next().unwrap_or(s);
            if name_part.chars().any(|c| c.is_ascii_uppercase()) && !name_part.contains(':') {
                ImageError::InvalidReference(format!("invalid reference format: repository name ({s}) must be lowercase"))
            } else {
                let _ = e;
                ImageError::InvalidReference("invalid reference format".to_string())
            }
        })?;
        let repo = format!("{}/{}", parsed.registry(), parsed.repository());
        let digest = parsed.digest().map(str::to_string);
        // oci-spec fills in `latest` for a bare name; with a digest, Docker keeps no tag.
        let tag = if digest.is_some() && !has_explicit_tag(s) { None } else { parsed.tag().map(str::to_string) };
        Ok(Reference { repo, tag, digest })
    }

    /// A tagged reference from a repository name and a tag, as `POST /images/x/tag` and
    /// import's `repo`/`tag` parameters give them.
    pub fn with_tag(repo: &str, tag: &str) -> Result<Self, ImageError> {
        let base = Reference::parse(repo)?;
        if base.digest.is_some() {
            return Err(ImageError::InvalidReference(format!("refusing to create a tag with a digest reference: {repo}")));
        }
        if tag.is_empty() {
            return Ok(base);
        }
        if base.tag.is_some() && has_explicit_tag(repo) {
            return Err(ImageError::InvalidReference("invalid reference format".to_string()));
        }
        if !valid_tag(tag) {
            return Err(ImageError::InvalidReference(format!("invalid tag format: {tag}")));
        }
        Ok(Reference { repo: base.repo, tag: Some(tag.to_string()), digest: None })
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
            r.strip_prefix("library/").filter(|rest| !rest.contains('/')).unwrap_or(r)
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
        && b.iter().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'))
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
    fn rejects_bad_names() {
        assert!(Reference::parse("Busybox").unwrap_err().to_string().contains("must be lowercase"));
        assert!(Reference::parse("a b").is_err());
        assert!(Reference::parse("").is_err());
        assert!(Reference::parse(&"a".repeat(64)).unwrap_err().to_string().contains("64-byte"));
        assert!(Reference::with_tag("busybox", "bad tag").is_err());
        assert!(Reference::with_tag("busybox", ".x").is_err());
        assert_eq!(Reference::with_tag("busybox", "v1").unwrap().to_string(), "busybox:v1");
        assert_eq!(Reference::with_tag("busybox", "").unwrap().to_string(), "busybox:latest");
    }
}
