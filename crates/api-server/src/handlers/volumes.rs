//! `/volumes` (API 1.21 on): list, inspect, create, remove, prune.

use berth_api_types::volume::{VolumeCreateBody, VolumeList, VolumePruneReport};
use http::{Request, StatusCode};

use crate::backend::VolumeEntry;
use crate::body::{json, no_content, read_json_body, HandlerResult};
use crate::error::ApiError;
use crate::gates;
use crate::query::docker_bool;
use crate::router::{Ctx, Route};
use crate::RequestBody;

pub(crate) fn routes() -> Vec<Route> {
    vec![
        route!(GET, "/volumes", list, gates::volumes),
        route!(POST, "/volumes/create", create, gates::volumes),
        route!(POST, "/volumes/prune", prune, gates::prune_and_disk_usage),
        route!(GET, "/volumes/{name}", inspect, gates::volumes),
        route!(DELETE, "/volumes/{name}", remove, gates::volumes),
    ]
}

/// Whether `v`'s labels match every `label` filter (`key` or `key=value`).
fn labels_match(v: &VolumeEntry, wanted: &[(String, Option<String>)]) -> bool {
    berth_api_types::filters::Filters::labels_hold(&v.volume.labels, wanted)
}

pub async fn list(ctx: Ctx, _req: Request<RequestBody>) -> HandlerResult {
    let filters = ctx
        .query
        .filters_param(&["dangling", "name", "label", "driver"])?;
    let names = filters.get("name");
    let drivers = filters.get("driver");
    let dangling: Option<bool> = filters
        .get("dangling")
        .first()
        .map(|d| matches!(d.as_str(), "true" | "1"));
    let labels = filters.labels();
    let volumes = ctx
        .backend
        .list_volumes()?
        .into_iter()
        .filter(|v| names.is_empty() || names.iter().any(|n| v.volume.name.contains(n.as_str())))
        .filter(|v| drivers.is_empty() || drivers.contains(&v.volume.driver))
        .filter(|v| dangling.is_none_or(|d| v.dangling == d))
        .filter(|v| labels_match(v, &labels))
        .map(|v| v.volume)
        .collect();
    json(
        StatusCode::OK,
        &VolumeList {
            volumes,
            warnings: None,
        },
    )
}

pub async fn inspect(ctx: Ctx, _req: Request<RequestBody>) -> HandlerResult {
    let v = ctx.backend.inspect_volume(ctx.param(0))?;
    json(StatusCode::OK, &v.volume)
}

pub async fn create(ctx: Ctx, req: Request<RequestBody>) -> HandlerResult {
    let body = read_json_body(req, 1 << 20).await?;
    let body: VolumeCreateBody = if body.is_empty() {
        VolumeCreateBody::default()
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| ApiError::bad_request(format!("invalid JSON: {e}")))?
    };
    let v = ctx.backend.create_volume(body)?;
    json(StatusCode::CREATED, &v.volume)
}

pub async fn remove(ctx: Ctx, _req: Request<RequestBody>) -> HandlerResult {
    #[derive(Debug, Default, serde::Deserialize)]
    #[serde(default)]
    struct Params {
        #[serde(deserialize_with = "docker_bool")]
        force: bool,
    }
    let p: Params = ctx.query.decode()?;
    ctx.backend.remove_volume(ctx.param(0), p.force)?;
    no_content()
}

pub async fn prune(ctx: Ctx, _req: Request<RequestBody>) -> HandlerResult {
    let filters = ctx.query.filters_param(&["label", "label!", "all"])?;
    // `all` (API 1.42): named volumes too; before it every unused volume went.
    let all = if gates::prune_named_volumes_on_request(ctx.version) {
        filters
            .get("all")
            .first()
            .is_some_and(|a| matches!(a.as_str(), "true" | "1"))
    } else {
        true
    };
    let with = filters.labels();
    let without = filters.label_pairs("label!");
    let keep = move |v: &VolumeEntry| {
        !labels_match(v, &with)
            || (!without.is_empty()
                && without
                    .iter()
                    .any(|w| labels_match(v, std::slice::from_ref(w))))
    };
    let (deleted, reclaimed) = ctx.backend.prune_volumes(all, &keep)?;
    json(
        StatusCode::OK,
        &VolumePruneReport {
            volumes_deleted: deleted,
            space_reclaimed: reclaimed,
        },
    )
}
