//! Manifests as registries serve them: Docker schema2 and OCI image manifests, Docker
//! manifest lists and OCI indexes (one manifest per platform); schema1 is refused with
//! Docker's message.

use serde::{Deserialize, Serialize};

use crate::error::DistributionError;

pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
const SCHEMA1: &str = "application/vnd.docker.distribution.manifest.v1+json";
const SCHEMA1_SIGNED: &str = "application/vnd.docker.distribution.manifest.v1+prettyjws";

/// What a pull asks for, in Docker's order.
pub const ACCEPT: [&str; 4] = [DOCKER_LIST, DOCKER_MANIFEST, OCI_INDEX, OCI_MANIFEST];

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Platform {
    pub architecture: String,
    pub os: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
}

impl Platform {
    /// The platform of this host, as images name it.
    pub fn host() -> Platform {
        let (architecture, variant) = match std::env::consts::ARCH {
            "x86_64" => ("amd64", None),
            "aarch64" => ("arm64", Some("v8")),
            "arm" => ("arm", Some("v7")),
            "x86" => ("386", None),
            other => (other, None),
        };
        Platform {
            architecture: architecture.to_string(),
            os: "linux".to_string(),
            variant: variant.map(str::to_string),
        }
    }
}

/// A pointer to content: a config, a layer, or a platform's manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    #[serde(default)]
    pub media_type: String,
    pub digest: String,
    pub size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Manifest {
    /// One image: its config and its layers, bottom first.
    Image {
        config: Descriptor,
        layers: Vec<Descriptor>,
    },
    /// One manifest per platform.
    Index { manifests: Vec<Descriptor> },
}

/// Every field any of the kinds has; which are set tells the kind when no media type does.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Raw {
    #[serde(default)]
    schema_version: u32,
    #[serde(default)]
    media_type: String,
    config: Option<Descriptor>,
    layers: Option<Vec<Descriptor>>,
    manifests: Option<Vec<Descriptor>>,
    #[serde(default)]
    fs_layers: Option<serde_json::Value>,
}

impl Manifest {
    /// Parses a manifest served as `content_type` (the registry's header; the body's own
    /// `mediaType` or shape decides when that is generic). `name` is the image, for
    /// Docker's schema1 message.
    pub fn parse(
        content_type: &str,
        body: &[u8],
        name: &str,
    ) -> Result<Manifest, DistributionError> {
        let raw: Raw = serde_json::from_slice(body)
            .map_err(|e| DistributionError::Invalid(format!("invalid manifest: {e}")))?;
        let content_type = content_type.split(';').next().unwrap_or("").trim();
        let kind = [content_type, raw.media_type.as_str()]
            .into_iter()
            .find(|t| {
                [
                    DOCKER_MANIFEST,
                    DOCKER_LIST,
                    OCI_MANIFEST,
                    OCI_INDEX,
                    SCHEMA1,
                    SCHEMA1_SIGNED,
                ]
                .contains(t)
            })
            .unwrap_or("");
        let schema1 = kind == SCHEMA1
            || kind == SCHEMA1_SIGNED
            || raw.fs_layers.is_some()
            || raw.schema_version == 1;
        if schema1 {
            return Err(DistributionError::Unsupported(format!(
                "[DEPRECATION NOTICE] Docker Image Format v1 and Docker Image manifest version 2, schema 1 support has been removed. Suggest the author of {name} to upgrade the image to the OCI Format or Docker Image manifest v2, schema 2. More information at https://docs.docker.com/go/deprecated-image-specs/"
            )));
        }
        match (raw.config, raw.layers, raw.manifests) {
            (Some(config), Some(layers), _) if kind != DOCKER_LIST && kind != OCI_INDEX => {
                Ok(Manifest::Image { config, layers })
            }
            (_, _, Some(manifests)) if kind != DOCKER_MANIFEST && kind != OCI_MANIFEST => {
                Ok(Manifest::Index { manifests })
            }
            _ => Err(DistributionError::Unsupported(format!(
                "unsupported manifest media type and no default available: {content_type}"
            ))),
        }
    }
}

/// The manifest of an index for `want`: os and architecture must match, and the variant
/// when both name one; an exact variant wins over an entry without one.
pub fn choose<'a>(manifests: &'a [Descriptor], want: &Platform) -> Option<&'a Descriptor> {
    let fits = |d: &&Descriptor| {
        d.platform.as_ref().is_some_and(|p| {
            p.os == want.os
                && p.architecture == want.architecture
                && (p.variant.is_none() || want.variant.is_none() || p.variant == want.variant)
        })
    };
    manifests
        .iter()
        .filter(fits)
        .find(|d| d.platform.as_ref().and_then(|p| p.variant.as_ref()) == want.variant.as_ref())
        .or_else(|| manifests.iter().find(fits))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn desc(digest: &str, platform: Option<(&str, &str, Option<&str>)>) -> serde_json::Value {
        let mut d = serde_json::json!({"mediaType": DOCKER_MANIFEST, "digest": digest, "size": 10});
        if let Some((os, arch, variant)) = platform {
            d["platform"] = serde_json::json!({"os": os, "architecture": arch});
            if let Some(v) = variant {
                d["platform"]["variant"] = v.into();
            }
        }
        d
    }

    #[test]
    fn each_kind_is_told_by_its_type_or_its_shape() {
        let image = serde_json::json!({
            "schemaVersion": 2, "mediaType": DOCKER_MANIFEST,
            "config": desc("sha256:c", None), "layers": [desc("sha256:l", None)],
        });
        let body = serde_json::to_vec(&image).unwrap();
        let Manifest::Image { config, layers } =
            Manifest::parse(DOCKER_MANIFEST, &body, "x").unwrap()
        else {
            panic!("an image manifest");
        };
        assert_eq!((config.digest.as_str(), layers.len()), ("sha256:c", 1));
        // OCI manifests may leave out mediaType; a generic header leaves the shape to decide.
        let oci =
            serde_json::json!({"schemaVersion": 2, "config": desc("sha256:c", None), "layers": []});
        assert!(matches!(
            Manifest::parse("application/json", &serde_json::to_vec(&oci).unwrap(), "x").unwrap(),
            Manifest::Image { .. }
        ));
        let index = serde_json::json!({"schemaVersion": 2, "manifests": [desc("sha256:a", Some(("linux", "amd64", None)))]});
        assert!(matches!(
            Manifest::parse(OCI_INDEX, &serde_json::to_vec(&index).unwrap(), "x").unwrap(),
            Manifest::Index { .. }
        ));
        // Schema1, by type or by shape, is refused with Docker's notice.
        let v1 = serde_json::json!({"schemaVersion": 1, "name": "x", "fsLayers": []});
        let err = Manifest::parse(
            SCHEMA1_SIGNED,
            &serde_json::to_vec(&v1).unwrap(),
            "127.0.0.1:5000/old:1",
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .contains("Suggest the author of 127.0.0.1:5000/old:1 to upgrade"),
            "{err}"
        );
        assert!(
            Manifest::parse("application/json", &serde_json::to_vec(&v1).unwrap(), "x").is_err()
        );
        assert!(Manifest::parse(DOCKER_MANIFEST, b"{not json", "x").is_err());
    }

    #[test]
    fn the_hosts_platform_is_chosen_from_an_index() {
        let list: Vec<Descriptor> = serde_json::from_value(serde_json::json!([
            desc("sha256:arm7", Some(("linux", "arm", Some("v7")))),
            desc("sha256:amd", Some(("linux", "amd64", None))),
            desc("sha256:arm64", Some(("linux", "arm64", Some("v8")))),
            desc("sha256:att", Some(("unknown", "unknown", None))),
            desc("sha256:win", Some(("windows", "amd64", None))),
        ]))
        .unwrap();
        let pick = |arch: &str, variant: Option<&str>| {
            choose(
                &list,
                &Platform {
                    architecture: arch.into(),
                    os: "linux".into(),
                    variant: variant.map(Into::into),
                },
            )
            .map(|d| d.digest.clone())
        };
        assert_eq!(pick("amd64", None).as_deref(), Some("sha256:amd"));
        assert_eq!(pick("arm64", Some("v8")).as_deref(), Some("sha256:arm64"));
        assert_eq!(pick("arm", Some("v6")), None);
        assert_eq!(pick("s390x", None), None);
    }
}
