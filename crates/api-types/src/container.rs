//! Container configuration as it appears on the wire (`Config` in create and inspect bodies,
//! `ContainerConfig`/`Config` in image inspect).

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};

/// An empty JSON object, the value type of `Volumes` and `ExposedPorts` maps.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Empty {}

/// `Config`: the portable part of a container's configuration.
///
/// Inputs are tolerant (every field defaults; `Cmd`/`Entrypoint` accept a string or a list);
/// outputs always carry every field, as Docker's encoder does.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ContainerConfig {
    pub hostname: String,
    pub domainname: String,
    pub user: String,
    pub attach_stdin: bool,
    pub attach_stdout: bool,
    pub attach_stderr: bool,
    pub exposed_ports: Option<BTreeMap<String, Empty>>,
    pub tty: bool,
    pub open_stdin: bool,
    pub stdin_once: bool,
    pub env: Option<Vec<String>>,
    #[serde(deserialize_with = "str_or_list")]
    pub cmd: Option<Vec<String>>,
    pub image: String,
    pub volumes: Option<BTreeMap<String, Empty>>,
    pub working_dir: String,
    #[serde(deserialize_with = "str_or_list")]
    pub entrypoint: Option<Vec<String>>,
    pub network_disabled: bool,
    pub mac_address: String,
    pub on_build: Option<Vec<String>>,
    pub labels: Option<BTreeMap<String, String>>,
}

/// Docker's `strslice`: `"echo hi"` (a single element, as the old API allows) or
/// `["echo","hi"]`; `null` and `""` mean unset.
pub fn str_or_list<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum StrOrList {
        Str(String),
        List(Vec<String>),
    }
    Ok(match Option::<StrOrList>::deserialize(d)? {
        None => None,
        Some(StrOrList::Str(s)) if s.is_empty() => None,
        Some(StrOrList::Str(s)) => Some(vec![s]),
        Some(StrOrList::List(l)) => Some(l),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cmd_accepts_string_or_list() {
        let a: ContainerConfig = serde_json::from_str(r#"{"Cmd":"date","Entrypoint":""}"#).unwrap();
        assert_eq!(a.cmd, Some(vec!["date".to_string()]));
        assert_eq!(a.entrypoint, None);
        let b: ContainerConfig = serde_json::from_str(r#"{"Cmd":["sh","-c","x"]}"#).unwrap();
        assert_eq!(b.cmd.unwrap().len(), 3);
    }

    #[test]
    fn output_has_every_field() {
        let v = serde_json::to_value(ContainerConfig::default()).unwrap();
        for k in [
            "Hostname",
            "Cmd",
            "Entrypoint",
            "Env",
            "OnBuild",
            "Labels",
            "MacAddress",
        ] {
            assert!(v.get(k).is_some(), "{k}");
        }
    }
}
