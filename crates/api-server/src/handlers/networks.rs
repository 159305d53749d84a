//! Network endpoints. Only the predefined networks exist until user-defined networks do:
//! they are listed and inspected, never removed or pruned (pruning removes nothing, as
//! `docker system prune` expects to call it), and creating one is refused as not yet built.

use berth_api_types::system::NetworkPruneReport;
use http::{Request, StatusCode};

use crate::body::{json, HandlerResult};
use crate::error::ApiError;
use crate::gates;
use crate::query;
use crate::router::{Ctx, Route};
use crate::RequestBody;

/// This resource's routes.
pub(crate) fn routes() -> Vec<Route> {
    vec![
        route!(POST, "/networks/prune", prune, gates::prune_and_disk_usage),
        route!(GET, "/networks", list, gates::volumes),
        route!(POST, "/networks/create", create, gates::volumes),
        route!(GET, "/networks/{id}", inspect, gates::volumes),
        route!(DELETE, "/networks/{id}", remove, gates::volumes),
    ]
}

pub async fn list(ctx: Ctx, _req: Request<RequestBody>) -> HandlerResult {
    let filters = ctx
        .query
        .filters_param(&["name", "id", "driver", "type", "scope", "label", "dangling"])?;
    for t in filters.get("type") {
        if t != "custom" && t != "builtin" {
            return Err(ApiError::bad_request(format!(
                "invalid filter: 'type'='{t}'"
            )));
        }
    }
    let any = |key: &str, f: &dyn Fn(&str) -> bool| {
        let wanted = filters.get(key);
        wanted.is_empty() || wanted.iter().any(|w| f(w))
    };
    let networks: Vec<_> = ctx
        .backend
        .list_networks()?
        .into_iter()
        .filter(|n| any("name", &|w| n.name.contains(w)))
        .filter(|n| any("id", &|w| n.id.starts_with(w)))
        .filter(|n| any("driver", &|w| n.driver == w))
        .filter(|n| any("scope", &|w| n.scope == w))
        // The predefined networks are the builtin ones; labels, none of them has.
        .filter(|_| any("type", &|w| w == "builtin"))
        .filter(|_| filters.get("label").is_empty())
        .collect();
    json(StatusCode::OK, &networks)
}

/// A network by name, ID or unique ID prefix, as Docker finds one.
fn find(ctx: &Ctx, wanted: &str) -> Result<berth_api_types::network::NetworkResource, ApiError> {
    let networks = ctx.backend.list_networks()?;
    let by_name_or_id = networks.iter().find(|n| n.name == wanted || n.id == wanted);
    let by_prefix: Vec<_> = networks
        .iter()
        .filter(|n| n.id.starts_with(wanted))
        .collect();
    match (by_name_or_id, by_prefix.as_slice()) {
        (Some(n), _) => Ok(n.clone()),
        (None, [one]) if !wanted.is_empty() => Ok((*one).clone()),
        _ => Err(ApiError::not_found(format!("network {wanted} not found"))),
    }
}

pub async fn inspect(ctx: Ctx, _req: Request<RequestBody>) -> HandlerResult {
    let network = find(&ctx, ctx.param(0))?;
    json(StatusCode::OK, &network)
}

pub async fn create(_ctx: Ctx, _req: Request<RequestBody>) -> HandlerResult {
    Err(ApiError::new(
        berth_errdefs::ErrorKind::NotImplemented,
        "user-defined networks are not supported yet by berth",
    ))
}

pub async fn remove(ctx: Ctx, _req: Request<RequestBody>) -> HandlerResult {
    let network = find(&ctx, ctx.param(0))?;
    Err(ApiError::new(
        berth_errdefs::ErrorKind::Forbidden,
        format!(
            "{} is a pre-defined network and cannot be removed",
            network.name
        ),
    ))
}

pub async fn prune(ctx: Ctx, _req: Request<RequestBody>) -> HandlerResult {
    // Bad filters are still refused, as dockerd refuses them.
    query::prune_query(&ctx.query, false)?;
    json(StatusCode::OK, &NetworkPruneReport::default())
}
