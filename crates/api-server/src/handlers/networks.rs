//! `/networks` (API 1.21 on): list, inspect, create, remove, connect, disconnect, prune. The
//! predefined networks (`bridge`, `host`, `none`) are listed and never removed.

use berth_api_types::filters::Filters;
use berth_api_types::network::{
    NetworkConnectRequest, NetworkCreateRequest, NetworkCreateResponse, NetworkDisconnectRequest,
    NetworkResource,
};
use berth_api_types::system::NetworkPruneReport;
use http::{Request, StatusCode};

use crate::body::{json, no_content, ok_empty, parse_json, read_json_body, HandlerResult};
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
        route!(POST, "/networks/{id}/connect", connect, gates::volumes),
        route!(
            POST,
            "/networks/{id}/disconnect",
            disconnect,
            gates::volumes
        ),
    ]
}

fn is_builtin(n: &NetworkResource) -> bool {
    matches!(n.name.as_str(), "bridge" | "host" | "none")
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
    let dangling = filters
        .bool_value("dangling")
        .map_err(|e| ApiError::bad_request(e.0))?;
    let any = |key: &str, f: &dyn Fn(&str) -> bool| {
        let wanted = filters.get(key);
        wanted.is_empty() || wanted.iter().any(|w| f(w))
    };
    let labels = filters.labels();
    let with_containers = gates::network_list_has_containers(ctx.version);
    let networks: Vec<_> = ctx
        .backend
        .list_networks()?
        .into_iter()
        .filter(|n| any("name", &|w| n.name.contains(w)))
        .filter(|n| any("id", &|w| n.id.starts_with(w)))
        .filter(|n| any("driver", &|w| n.driver == w))
        .filter(|n| any("scope", &|w| n.scope == w))
        .filter(|n| any("type", &|w| (w == "builtin") == is_builtin(n)))
        .filter(|n| Filters::labels_hold(&n.labels, &labels))
        // Dangling: a user-defined network no container is on.
        .filter(|n| dangling.is_none_or(|d| d == (!is_builtin(n) && n.containers.is_empty())))
        .map(|mut n| {
            if !with_containers {
                n.containers.clear();
            }
            n
        })
        .collect();
    json(StatusCode::OK, &networks)
}

/// A network by name, ID or unique ID prefix, as Docker finds one.
fn find(ctx: &Ctx, wanted: &str) -> Result<NetworkResource, ApiError> {
    let networks = ctx.backend.list_networks()?;
    let by_name_or_id = networks
        .iter()
        .find(|n| n.id == wanted)
        .or_else(|| networks.iter().find(|n| n.name == wanted));
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

pub async fn create(ctx: Ctx, req: Request<RequestBody>) -> HandlerResult {
    let body = read_json_body(req, 1 << 20).await?;
    let body: NetworkCreateRequest = parse_json(&body)?;
    let id = ctx.backend.create_network(body).await?;
    json(
        StatusCode::CREATED,
        &NetworkCreateResponse {
            id,
            warning: String::new(),
        },
    )
}

pub async fn remove(ctx: Ctx, _req: Request<RequestBody>) -> HandlerResult {
    ctx.backend.remove_network(ctx.param(0)).await?;
    no_content()
}

pub async fn connect(ctx: Ctx, req: Request<RequestBody>) -> HandlerResult {
    let body = read_json_body(req, 1 << 20).await?;
    let body: NetworkConnectRequest = parse_json(&body)?;
    if body.container.is_empty() {
        return Err(ApiError::bad_request("container is required"));
    }
    ctx.backend.connect_network(ctx.param(0), body).await?;
    ok_empty()
}

pub async fn disconnect(ctx: Ctx, req: Request<RequestBody>) -> HandlerResult {
    let body = read_json_body(req, 1 << 20).await?;
    let body: NetworkDisconnectRequest = parse_json(&body)?;
    if body.container.is_empty() {
        return Err(ApiError::bad_request("container is required"));
    }
    ctx.backend.disconnect_network(ctx.param(0), body).await?;
    ok_empty()
}

pub async fn prune(ctx: Ctx, _req: Request<RequestBody>) -> HandlerResult {
    let q = query::prune_query(&ctx.query, false)?;
    let keep = move |n: &NetworkResource| {
        let created = n
            .created
            .parse::<jiff::Timestamp>()
            .map(|t| t.as_nanosecond() as i64)
            .unwrap_or(0);
        q.until.is_some_and(|u| created >= u)
            || !Filters::labels_hold(&n.labels, &q.labels)
            || q.labels_not
                .iter()
                .any(|w| Filters::labels_hold(&n.labels, std::slice::from_ref(w)))
    };
    let deleted = ctx.backend.prune_networks(&keep).await?;
    json(
        StatusCode::OK,
        // Nothing deleted is `null`, as Docker's empty list.
        &NetworkPruneReport {
            networks_deleted: (!deleted.is_empty()).then_some(deleted),
        },
    )
}
