//! Network wire types.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A container's place on one network, as `NetworkSettings.Networks` shows it (and, from API
/// 1.44, as `NetworkingConfig.EndpointsConfig` asks for it). The addresses are empty while the
/// container does not run; `NetworkID` is empty until its first start, as Docker's is.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct EndpointSettings {
    #[serde(rename = "IPAMConfig")]
    pub ipam_config: Option<EndpointIpamConfig>,
    pub links: Option<Vec<String>>,
    pub aliases: Option<Vec<String>>,
    #[serde(deserialize_with = "crate::null_as_default")]
    pub mac_address: String,
    #[serde(rename = "NetworkID")]
    pub network_id: String,
    #[serde(rename = "EndpointID")]
    pub endpoint_id: String,
    pub gateway: String,
    #[serde(rename = "IPAddress")]
    pub ip_address: String,
    #[serde(rename = "IPPrefixLen")]
    pub ip_prefix_len: u8,
    #[serde(rename = "IPv6Gateway")]
    pub ipv6_gateway: String,
    #[serde(rename = "GlobalIPv6Address")]
    pub global_ipv6_address: String,
    #[serde(rename = "GlobalIPv6PrefixLen")]
    pub global_ipv6_prefix_len: u8,
    pub driver_opts: Option<BTreeMap<String, String>>,
    /// The names other containers on a user-defined network find it by (API 1.44).
    #[serde(rename = "DNSNames")]
    pub dns_names: Option<Vec<String>>,
}

/// Static addresses asked for an endpoint.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct EndpointIpamConfig {
    #[serde(
        rename = "IPv4Address",
        skip_serializing_if = "String::is_empty",
        deserialize_with = "crate::null_as_default"
    )]
    pub ipv4_address: String,
    #[serde(
        rename = "IPv6Address",
        skip_serializing_if = "String::is_empty",
        deserialize_with = "crate::null_as_default"
    )]
    pub ipv6_address: String,
    #[serde(rename = "LinkLocalIPs", skip_serializing_if = "Vec::is_empty")]
    pub link_local_ips: Vec<String>,
}

/// A network as `GET /networks` and `GET /networks/{id}` show it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NetworkResource {
    pub name: String,
    pub id: String,
    pub created: String,
    pub scope: String,
    pub driver: String,
    #[serde(rename = "EnableIPv6")]
    pub enable_ipv6: bool,
    #[serde(rename = "IPAM")]
    pub ipam: Ipam,
    pub internal: bool,
    pub attachable: bool,
    pub ingress: bool,
    pub config_from: ConfigReference,
    pub config_only: bool,
    pub containers: BTreeMap<String, NetworkContainer>,
    pub options: BTreeMap<String, String>,
    pub labels: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Ipam {
    pub driver: String,
    pub options: Option<BTreeMap<String, String>>,
    pub config: Vec<IpamConfig>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct IpamConfig {
    #[serde(
        skip_serializing_if = "String::is_empty",
        deserialize_with = "crate::null_as_default"
    )]
    pub subnet: String,
    #[serde(
        rename = "IPRange",
        skip_serializing_if = "String::is_empty",
        deserialize_with = "crate::null_as_default"
    )]
    pub ip_range: String,
    #[serde(
        skip_serializing_if = "String::is_empty",
        deserialize_with = "crate::null_as_default"
    )]
    pub gateway: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auxiliary_addresses: Option<BTreeMap<String, String>>,
}

/// The body of `POST /networks/create` (docker-py sends what it was not given as `null`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct NetworkCreateRequest {
    #[serde(deserialize_with = "crate::null_as_default")]
    pub name: String,
    /// Ignored, as by Docker from API 1.44 (names are always checked).
    #[serde(deserialize_with = "crate::null_as_default")]
    pub check_duplicate: bool,
    #[serde(deserialize_with = "crate::null_as_default")]
    pub driver: String,
    #[serde(deserialize_with = "crate::null_as_default")]
    pub scope: String,
    #[serde(deserialize_with = "crate::null_as_default")]
    pub internal: bool,
    #[serde(deserialize_with = "crate::null_as_default")]
    pub attachable: bool,
    #[serde(deserialize_with = "crate::null_as_default")]
    pub ingress: bool,
    #[serde(deserialize_with = "crate::null_as_default")]
    pub config_only: bool,
    #[serde(rename = "EnableIPv6")]
    pub enable_ipv6: Option<bool>,
    #[serde(rename = "IPAM")]
    pub ipam: Option<IpamRequest>,
    pub options: Option<BTreeMap<String, String>>,
    pub labels: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct IpamRequest {
    #[serde(deserialize_with = "crate::null_as_default")]
    pub driver: String,
    pub options: Option<BTreeMap<String, String>>,
    pub config: Option<Vec<IpamConfig>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NetworkCreateResponse {
    pub id: String,
    pub warning: String,
}

/// The body of `POST /networks/{id}/connect`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct NetworkConnectRequest {
    #[serde(deserialize_with = "crate::null_as_default")]
    pub container: String,
    pub endpoint_config: Option<EndpointSettings>,
}

/// The body of `POST /networks/{id}/disconnect`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct NetworkDisconnectRequest {
    #[serde(deserialize_with = "crate::null_as_default")]
    pub container: String,
    #[serde(deserialize_with = "crate::null_as_default")]
    pub force: bool,
}

/// `NetworkingConfig` of a container create.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct NetworkingConfig {
    pub endpoints_config: Option<BTreeMap<String, EndpointSettings>>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ConfigReference {
    pub network: String,
}

/// A container's endpoint as a network's inspect lists it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NetworkContainer {
    pub name: String,
    #[serde(rename = "EndpointID")]
    pub endpoint_id: String,
    pub mac_address: String,
    #[serde(rename = "IPv4Address")]
    pub ipv4_address: String,
    #[serde(rename = "IPv6Address")]
    pub ipv6_address: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// docker-py's create body: every argument it was not given is `null`.
    #[test]
    fn nulls_read_as_defaults() {
        let body = r#"{"Name":"n","Driver":null,"Options":null,"CheckDuplicate":null,
            "IPAM":{"Driver":"default","Config":[{"Subnet":"10.1.0.0/24","IPRange":null,
            "Gateway":null,"AuxiliaryAddresses":null}],"Options":null},"Internal":null}"#;
        let r: NetworkCreateRequest = serde_json::from_str(body).unwrap();
        assert_eq!(r.driver, "");
        assert!(!r.check_duplicate && !r.internal);
        let pool = &r.ipam.unwrap().config.unwrap()[0];
        assert_eq!(
            (pool.subnet.as_str(), pool.ip_range.as_str()),
            ("10.1.0.0/24", "")
        );
        let c: NetworkConnectRequest = serde_json::from_str(
            r#"{"Container":"c","EndpointConfig":{"IPAMConfig":{"IPv4Address":null},"MacAddress":null}}"#,
        )
        .unwrap();
        assert_eq!(c.container, "c");
    }
}
