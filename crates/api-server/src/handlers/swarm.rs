//! Swarm mode's endpoints. berth is a single engine and never joins a swarm, so every one of
//! them answers as dockerd answers on a node outside any swarm: 503 with its message (the CLI
//! shows it as is, and `docker info` already says `Swarm: inactive`).

use berth_errdefs::ErrorKind;
use http::Request;

use crate::body::HandlerResult;
use crate::error::ApiError;
use crate::gates;
use crate::router::{Ctx, Route};
use crate::RequestBody;

const NOT_A_MANAGER: &str = "This node is not a swarm manager. Use \"docker swarm init\" or \"docker swarm join\" to connect this node to swarm and try again.";

/// This resource's routes.
pub(crate) fn routes() -> Vec<Route> {
    let on = gates::swarm_endpoints;
    vec![
        route!(POST, "/swarm/leave", not_in_swarm, on),
        route!(POST, "/swarm/init", no_swarm_mode, on),
        route!(POST, "/swarm/join", no_swarm_mode, on),
        route!(GET, "/swarm", not_a_manager, on),
        route!(GET, "/swarm/unlockkey", not_a_manager, on),
        route!(POST, "/swarm/update", not_a_manager, on),
        route!(POST, "/swarm/unlock", not_a_manager, on),
        route!(GET, "/nodes", not_a_manager, on),
        route!(GET, "/nodes/{id}", not_a_manager, on),
        route!(DELETE, "/nodes/{id}", not_a_manager, on),
        route!(POST, "/nodes/{id}/update", not_a_manager, on),
        route!(GET, "/services", not_a_manager, on),
        route!(POST, "/services/create", not_a_manager, on),
        route!(GET, "/services/{id}", not_a_manager, on),
        route!(DELETE, "/services/{id}", not_a_manager, on),
        route!(POST, "/services/{id}/update", not_a_manager, on),
        route!(GET, "/services/{id}/logs", not_a_manager, on),
        route!(GET, "/tasks", not_a_manager, on),
        route!(GET, "/tasks/{id}", not_a_manager, on),
        route!(GET, "/tasks/{id}/logs", not_a_manager, on),
        route!(GET, "/secrets", not_a_manager, on),
        route!(POST, "/secrets/create", not_a_manager, on),
        route!(GET, "/secrets/{id}", not_a_manager, on),
        route!(DELETE, "/secrets/{id}", not_a_manager, on),
        route!(POST, "/secrets/{id}/update", not_a_manager, on),
        route!(GET, "/configs", not_a_manager, on),
        route!(POST, "/configs/create", not_a_manager, on),
        route!(GET, "/configs/{id}", not_a_manager, on),
        route!(DELETE, "/configs/{id}", not_a_manager, on),
        route!(POST, "/configs/{id}/update", not_a_manager, on),
    ]
}

pub async fn not_a_manager(_ctx: Ctx, _req: Request<RequestBody>) -> HandlerResult {
    Err(ApiError::new(ErrorKind::Unavailable, NOT_A_MANAGER))
}

pub async fn not_in_swarm(_ctx: Ctx, _req: Request<RequestBody>) -> HandlerResult {
    Err(ApiError::new(
        ErrorKind::Unavailable,
        "This node is not part of a swarm",
    ))
}

/// `docker swarm init` and `join` would make this node a swarm member, which berth cannot be.
pub async fn no_swarm_mode(_ctx: Ctx, _req: Request<RequestBody>) -> HandlerResult {
    Err(ApiError::new(
        ErrorKind::Unavailable,
        "berth does not support swarm mode: this node cannot join or create a swarm",
    ))
}
