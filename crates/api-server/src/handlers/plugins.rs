//! Managed plugins (`docker plugin`). berth has no plugin system: the list is empty and every
//! named plugin is missing, with dockerd's message, so `docker inspect` moves on to the next
//! object type.

use http::{Request, StatusCode};

use crate::body::{json, HandlerResult};
use crate::error::ApiError;
use crate::gates;
use crate::router::{Ctx, Route};
use crate::RequestBody;

/// This resource's routes.
pub(crate) fn routes() -> Vec<Route> {
    let on = gates::prune_and_disk_usage;
    vec![
        route!(GET, "/plugins", list, on),
        route!(GET, "/plugins/{name:.*}/json", missing, on),
        route!(DELETE, "/plugins/{name:.*}", missing, on),
    ]
}

pub async fn list(_ctx: Ctx, _req: Request<RequestBody>) -> HandlerResult {
    json(StatusCode::OK, &Vec::<serde_json::Value>::new())
}

pub async fn missing(ctx: Ctx, _req: Request<RequestBody>) -> HandlerResult {
    Err(ApiError::not_found(format!(
        "plugin \"{}\" not found",
        ctx.param(0)
    )))
}
