//! The wiring of a pull: the client's reference, platform and credentials made into the
//! registry crate's terms, and its steps into the API's.

use berth_api_server::backend::{PullProgress, PullStep, PushProgress, PushStep};
use berth_api_server::ApiError;
use berth_api_types::auth::AuthConfig;
use berth_distribution::auth::Credentials;
use berth_distribution::{LayerStep, Platform, PullEvent, PushEvent};
use berth_image::Reference;

/// `fromImage` and `tag` as Docker combines them: a tag that is a digest pins the digest.
pub fn reference(image: &str, tag: &str) -> Result<Reference, ApiError> {
    let bad = |e: berth_image::ImageError| ApiError::bad_request(e.to_string());
    let base = Reference::parse(image).map_err(bad)?;
    if tag.is_empty() {
        return Ok(base);
    }
    let name = format!(
        "{}{}{tag}",
        base.repo(),
        if tag.contains(':') { "@" } else { ":" }
    );
    Reference::parse(&name).map_err(bad)
}

/// Whether `fromImage`/a push's name and `tag` name one tag or digest, not just a repository
/// (`127.0.0.1:5000/app` names none: its `:` is the port's).
pub fn names_a_tag(image: &str, tag: &str) -> bool {
    let last = image.rsplit('/').next().unwrap_or(image);
    !tag.is_empty() || last.contains(':') || last.contains('@')
}

/// `os/arch[/variant]`, or the host's when empty; only the host's OS can run here.
pub fn platform(spec: &str) -> Result<Platform, ApiError> {
    if spec.is_empty() {
        return Ok(Platform::host());
    }
    let parts: Vec<&str> = spec.split('/').collect();
    let (os, arch, variant) = match parts[..] {
        [os, arch] => (os, arch, None),
        [os, arch, variant] => (os, arch, Some(variant)),
        _ => {
            return Err(ApiError::bad_request(format!(
                "invalid platform {spec:?}: expected os/arch[/variant]"
            )))
        }
    };
    Ok(Platform {
        architecture: match arch {
            "x86_64" | "x86-64" => "amd64".into(),
            "aarch64" => "arm64".into(),
            other => other.to_ascii_lowercase(),
        },
        os: os.to_ascii_lowercase(),
        variant: variant.map(str::to_string),
    })
}

/// A `--registry-mirror` as Docker accepts one: an http(s) URL of a host, with no path.
pub fn mirror(url: &str) -> Result<String, String> {
    let uri: hyper::Uri = url
        .parse()
        .map_err(|e| format!("invalid mirror: {url:?}: {e}"))?;
    match uri.scheme_str() {
        Some("http" | "https") => {}
        other => {
            return Err(format!(
                "invalid mirror: unsupported scheme {:?} in {url:?}",
                other.unwrap_or("")
            ))
        }
    }
    if let Some((user, _)) = uri.authority().and_then(|a| a.as_str().rsplit_once('@')) {
        let name = user.split(':').next().unwrap_or(user);
        let shown = url.replacen(user, &format!("{name}:xxxxx"), 1);
        return Err(format!(
            "invalid mirror: username/password not allowed in URI {shown:?}"
        ));
    }
    if uri.authority().is_none() || !matches!(uri.path(), "" | "/") || uri.query().is_some() {
        return Err(format!(
            "invalid mirror: path, query, or fragment at end of the URI {url:?}"
        ));
    }
    Ok(url.trim_end_matches('/').to_string())
}

pub fn credentials(auth: AuthConfig) -> Credentials {
    if !auth.registrytoken.is_empty() {
        Credentials::RegistryToken(auth.registrytoken)
    } else if !auth.identitytoken.is_empty() {
        Credentials::IdentityToken(auth.identitytoken)
    } else {
        Credentials::Basic {
            username: auth.username,
            password: auth.password,
        }
    }
}

pub fn progress(e: PullEvent) -> PullProgress {
    match e {
        PullEvent::PullingFrom { path, id } => PullProgress::PullingFrom { path, id },
        PullEvent::Digest(d) => PullProgress::Digest(d),
        PullEvent::Layer { id, step } => PullProgress::Layer {
            id,
            step: match step {
                LayerStep::AlreadyExists => PullStep::AlreadyExists,
                LayerStep::PullingFsLayer => PullStep::PullingFsLayer,
                LayerStep::Waiting => PullStep::Waiting,
                LayerStep::Downloading { current, total } => {
                    PullStep::Downloading { current, total }
                }
                LayerStep::Retrying { seconds } => PullStep::Retrying { seconds },
                LayerStep::VerifyingChecksum => PullStep::VerifyingChecksum,
                LayerStep::DownloadComplete => PullStep::DownloadComplete,
                LayerStep::Extracting { current, total } => PullStep::Extracting { current, total },
                LayerStep::PullComplete => PullStep::PullComplete,
            },
        },
    }
}

pub fn push_progress(e: PushEvent) -> PushProgress {
    use berth_distribution::PushStep as S;
    match e {
        PushEvent::Pushed { tag, digest, size } => PushProgress::Pushed { tag, digest, size },
        PushEvent::Layer { id, step } => PushProgress::Layer {
            id,
            step: match step {
                S::Preparing => PushStep::Preparing,
                S::Waiting => PushStep::Waiting,
                S::AlreadyExists => PushStep::AlreadyExists,
                S::MountedFrom(from) => PushStep::MountedFrom(from),
                S::Pushing { current, total } => PushStep::Pushing { current, total },
                S::Pushed => PushStep::Pushed,
            },
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_and_platforms_are_read_as_docker_reads_them() {
        let r = reference("127.0.0.1:5000/busybox", "latest").unwrap();
        assert_eq!(r.canonical(), "127.0.0.1:5000/busybox:latest");
        let d = format!("sha256:{}", "a".repeat(64));
        let r = reference("busybox", &d).unwrap();
        assert_eq!(r.digest(), Some(d.as_str()));
        assert_eq!(reference("busybox:1.36", "").unwrap().tag(), Some("1.36"));
        assert!(!names_a_tag("127.0.0.1:5000/app", ""));
        assert!(names_a_tag("127.0.0.1:5000/app", "one"));
        assert!(names_a_tag("127.0.0.1:5000/app:one", ""));
        assert!(names_a_tag("busybox@sha256:abc", ""));
        assert!(!names_a_tag("busybox", ""));
        assert!(reference("Bad Name", "latest").is_err());
        assert_eq!(platform("").unwrap(), Platform::host());
        let p = platform("linux/arm64/v8").unwrap();
        assert_eq!(
            (p.os.as_str(), p.architecture.as_str(), p.variant.as_deref()),
            ("linux", "arm64", Some("v8"))
        );
        assert!(platform("linux").is_err());
        assert_eq!(
            mirror("http://127.0.0.1:5000/").unwrap(),
            "http://127.0.0.1:5000"
        );
        assert!(mirror("https://mirror.example.com").is_ok());
        assert!(mirror("ftp://x")
            .unwrap_err()
            .contains("unsupported scheme"));
        assert!(mirror("http://x/v2/").is_err());
        assert_eq!(
            mirror("http://foo:bar@mirror-1.example.com/").unwrap_err(),
            "invalid mirror: username/password not allowed in URI \"http://foo:xxxxx@mirror-1.example.com/\""
        );
        assert!(mirror("mirror.example.com").is_err());
    }
}
