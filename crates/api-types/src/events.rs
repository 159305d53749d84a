//! `GET /events` messages.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The object an event is about and its attributes (`Actor` in Docker ≥ 1.10's events).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Actor {
    #[serde(rename = "ID")]
    pub id: String,
    pub attributes: BTreeMap<String, String>,
}

/// One event, in the shape Docker 20.10 writes at any API version: the legacy
/// `status`/`id`/`from` fields next to `Type`/`Action`/`Actor`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventMessage {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    #[serde(rename = "Type")]
    pub kind: String,
    #[serde(rename = "Action")]
    pub action: String,
    #[serde(rename = "Actor")]
    pub actor: Actor,
    pub scope: String,
    pub time: i64,
    #[serde(rename = "timeNano")]
    pub time_nano: i64,
}
