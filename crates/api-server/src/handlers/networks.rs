//! Network endpoints. Only the predefined networks exist until user-defined networks do, and
//! those are never pruned: pruning removes nothing (as `docker system prune` expects to call
//! it).

use berth_api_types::system::NetworkPruneReport;
use http::{Request, StatusCode};

use crate::body::{json, HandlerResult};
use crate::gates;
use crate::query;
use crate::router::{Ctx, Route};
use crate::RequestBody;

/// This resource's routes.
pub(crate) fn routes() -> Vec<Route> {
    vec![route!(
        POST,
        "/networks/prune",
        prune,
        gates::prune_and_disk_usage
    )]
}

pub async fn prune(ctx: Ctx, _req: Request<RequestBody>) -> HandlerResult {
    // Bad filters are still refused, as dockerd refuses them.
    query::prune_query(&ctx.query, false)?;
    json(StatusCode::OK, &NetworkPruneReport::default())
}
