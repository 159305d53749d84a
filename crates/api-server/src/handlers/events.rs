//! `GET /events`: past events (with `since`), then live ones, one JSON object per line,
//! until `until` passes or the client goes away.

use crate::RequestBody;
use futures_util::StreamExt;
use http::Request;

use crate::backend::EventQuery;
use crate::body::{json_line, streaming, HandlerResult};
use crate::compat;
use crate::error::ApiError;
use crate::gates;
use crate::query;
use crate::router::{Ctx, Route};

/// This resource's routes.
pub(crate) fn routes() -> Vec<Route> {
    vec![route!(GET, "/events", events)]
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
struct EventsParams {
    since: String,
    until: String,
    filters: String,
}

pub async fn events(ctx: Ctx, _req: Request<RequestBody>) -> HandlerResult {
    let p: EventsParams = ctx.query.decode()?;
    let since = query::timestamp("since", &p.since)?;
    let until = query::timestamp("until", &p.until)?;
    let filters = if gates::events_have_filters(ctx.version) {
        query::filters(&p.filters)?
    } else {
        Default::default()
    };
    filters
        .validate(&[
            "event",
            "image",
            "container",
            "type",
            "label",
            "scope",
            "daemon",
            "network",
            "volume",
            "plugin",
            "node",
            "service",
            "secret",
            "config",
        ])
        .map_err(|e| ApiError::bad_request(e.0))?;
    let sub = ctx.backend.subscribe_events(&EventQuery {
        since,
        until,
        filters,
    })?;
    let version = ctx.version;
    let line = move |e| json_line(&compat::event(version, e));
    let past = futures_util::stream::iter(
        sub.past
            .into_iter()
            .filter(move |e| until.is_none_or(|u| e.time_nano <= u)),
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0);
    let live = match until {
        // `until` in the past: history only.
        Some(u) if u <= now => futures_util::stream::empty().boxed(),
        Some(u) => {
            let deadline = tokio::time::sleep(std::time::Duration::from_nanos((u - now) as u64));
            sub.live
                .take_until(deadline)
                .filter(move |e| std::future::ready(e.time_nano <= u))
                .boxed()
        }
        None => sub.live,
    };
    streaming("application/json", past.chain(live).map(line))
}
