//! `POST /auth`: a login to a registry with the client's credentials, checked against it.

use http::{Request, StatusCode};
use serde::Serialize;

use crate::body::{json, parse_json, read_json_body, HandlerResult};
use crate::gates;
use crate::router::{Ctx, Route};
use crate::RequestBody;

pub(crate) fn routes() -> Vec<Route> {
    vec![route!(POST, "/auth", login)]
}

/// Docker's answer: `Status`, and from API 1.23 the `IdentityToken` a token server gave
/// (always present, empty when none), first as Go's struct writes it.
#[derive(Serialize)]
struct LoginAnswer {
    #[serde(rename = "IdentityToken", skip_serializing_if = "Option::is_none")]
    identity_token: Option<String>,
    #[serde(rename = "Status")]
    status: &'static str,
}

pub async fn login(ctx: Ctx, req: Request<RequestBody>) -> HandlerResult {
    let body = read_json_body(req, 1 << 20).await?;
    let auth: berth_api_types::auth::AuthConfig = parse_json(&body)?;
    let token = ctx.backend.login(auth).await?;
    let answer = LoginAnswer {
        identity_token: gates::login_identity_token(ctx.version).then(|| token.unwrap_or_default()),
        status: "Login Succeeded",
    };
    json(StatusCode::OK, &answer)
}
