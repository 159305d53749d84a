//! `POST /build`: the legacy builder's endpoint, which docker CLI 28 without buildx, docker-py
//! and compose use. The body is the context; the answer is Docker's stream of the steps.

use berth_api_types::progress::{ErrorDetail, ProgressMessage};
use http::Request;

use crate::backend::{BuildProgress, BuildQuery};
use crate::body::{body_stream, HandlerResult};
use crate::error::ApiError;
use crate::gates;
use crate::query::{docker_bool, docker_bool_opt};
use crate::router::{Ctx, Route};
use crate::stream::progress;
use crate::RequestBody;

pub(crate) fn routes() -> Vec<Route> {
    vec![route!(POST, "/build", build)]
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
struct BuildParams {
    dockerfile: String,
    #[serde(deserialize_with = "docker_bool")]
    q: bool,
    #[serde(deserialize_with = "docker_bool")]
    nocache: bool,
    #[serde(deserialize_with = "docker_bool_opt")]
    rm: Option<bool>,
    #[serde(deserialize_with = "docker_bool")]
    forcerm: bool,
    #[serde(deserialize_with = "docker_bool")]
    pull: bool,
    buildargs: String,
    labels: String,
    target: String,
    remote: String,
    version: String,
    memory: i64,
    memswap: i64,
    cpushares: i64,
    cpusetcpus: String,
    cpuperiod: i64,
    cpuquota: i64,
    shmsize: i64,
    networkmode: String,
    extrahosts: String,
    platform: String,
    cachefrom: String,
}

/// `X-Registry-Config`: base64url JSON of registry → credentials (or, from older clients,
/// `{"configs": {...}}`). Unreadable, it is ignored, as Docker ignores it.
fn registry_config(
    req: &Request<RequestBody>,
) -> std::collections::BTreeMap<String, berth_api_types::auth::AuthConfig> {
    use base64::Engine as _;
    let Some(value) = req
        .headers()
        .get("x-registry-config")
        .and_then(|v| v.to_str().ok())
    else {
        return Default::default();
    };
    let trimmed = value.trim().trim_end_matches('=');
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(trimmed)
        .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(trimmed))
        .unwrap_or_default();
    #[derive(serde::Deserialize)]
    struct Old {
        configs: std::collections::BTreeMap<String, berth_api_types::auth::AuthConfig>,
    }
    serde_json::from_slice::<Old>(&bytes)
        .map(|o| o.configs)
        .or_else(|_| serde_json::from_slice(&bytes))
        .unwrap_or_default()
}

pub async fn build(ctx: Ctx, req: Request<RequestBody>) -> HandlerResult {
    let p: BuildParams = ctx.query.decode()?;
    if p.version == "2" {
        return Err(ApiError::bad_request(
            "BuildKit is not supported by berth; build with the legacy builder (version=1)",
        ));
    }
    fn json_map<T: serde::de::DeserializeOwned + Default>(
        text: &str,
        what: &str,
    ) -> Result<T, ApiError> {
        if text.is_empty() {
            return Ok(T::default());
        }
        serde_json::from_str(text)
            .map_err(|e| ApiError::bad_request(format!("invalid {what} JSON: {e}")))
    }
    // Only this host's platform is built (the builder runs no emulation).
    if !p.platform.is_empty() {
        let host = format!("linux/{}", crate::handlers::build::host_arch());
        if !p.platform.eq_ignore_ascii_case(&host) && !p.platform.eq_ignore_ascii_case("linux") {
            return Err(ApiError::bad_request(format!(
                "platform {} is not supported: this host builds for {host}",
                p.platform
            )));
        }
    }
    let run_host = berth_api_types::container::HostConfig {
        memory: p.memory,
        memory_swap: p.memswap,
        cpu_shares: p.cpushares,
        cpuset_cpus: p.cpusetcpus,
        cpu_period: p.cpuperiod,
        cpu_quota: p.cpuquota,
        shm_size: p.shmsize,
        network_mode: p.networkmode,
        // Comma-separated `host:ip` pairs, as the CLI sends `--add-host`.
        extra_hosts: Some(p.extrahosts)
            .filter(|h| !h.is_empty())
            .map(|h| h.split(',').map(str::to_string).collect()),
        ..Default::default()
    };
    let query = BuildQuery {
        run_host,
        remote: p.remote,
        tags: ctx.query.all("t"),
        dockerfile: if p.dockerfile.is_empty() {
            "Dockerfile".into()
        } else {
            p.dockerfile
        },
        quiet: p.q,
        no_cache: p.nocache,
        remove: p.rm.unwrap_or(true),
        force_remove: p.forcerm,
        pull: p.pull,
        build_args: json_map(&p.buildargs, "buildargs")?,
        labels: json_map(&p.labels, "labels")?,
        target: p.target,
        cache_from: json_map(&p.cachefrom, "cachefrom")?,
        step_numbering: gates::build_step_numbering(ctx.version),
        registry_config: registry_config(&req),
    };
    let quiet = query.quiet;
    let aux = gates::build_aux(ctx.version);
    let json = gates::build_json_stream(ctx.version);
    let job = ctx.backend.build_image(query, body_stream(req)).await?;
    // Below API 1.8 the stream is the text itself, as Docker 0.x wrote it.
    let say = move |m: ProgressMessage| {
        if json {
            progress::line(&m)
        } else if let Some(e) = m.error {
            bytes::Bytes::from(format!("Error: {e}\r\n"))
        } else if let Some(status) = m.status {
            bytes::Bytes::from(match m.id {
                Some(id) => format!("{id}: {status}\n"),
                None => format!("{status}\n"),
            })
        } else {
            bytes::Bytes::from(m.stream.unwrap_or_default())
        }
    };
    // A client that goes away stops the build: dropping its steps tells it so.
    progress::relay(
        job.done,
        job.progress,
        move |step| words(step, quiet, aux).into_iter().map(say).collect(),
        |()| Vec::new(),
        progress::WhenClientLeaves::Stop,
    )
    .await
}

/// Docker's messages for one step of a build.
fn words(step: BuildProgress, quiet: bool, aux: bool) -> Vec<ProgressMessage> {
    match step {
        BuildProgress::Stream(_) if quiet => Vec::new(),
        BuildProgress::Stream(text) => vec![ProgressMessage::stream(text)],
        BuildProgress::Built(id) if quiet => vec![ProgressMessage::stream(format!("{id}\n"))],
        BuildProgress::Built(id) => {
            let short: String = id.trim_start_matches("sha256:").chars().take(12).collect();
            let mut out = Vec::new();
            if aux {
                out.push(ProgressMessage {
                    aux: Some(serde_json::json!({ "ID": id })),
                    ..Default::default()
                });
            }
            out.push(ProgressMessage::stream(format!(
                "Successfully built {short}\n"
            )));
            out
        }
        BuildProgress::Status { .. } if quiet => Vec::new(),
        BuildProgress::Status { id, status } => {
            let mut m = ProgressMessage::status(status);
            m.id = id;
            vec![m]
        }
        BuildProgress::Tagged(_) if quiet => Vec::new(),
        BuildProgress::Tagged(t) => vec![ProgressMessage::stream(format!(
            "Successfully tagged {t}\n"
        ))],
        BuildProgress::Failed { message, code } => vec![ProgressMessage {
            error: Some(message.clone()),
            error_detail: Some(ErrorDetail { code, message }),
            ..Default::default()
        }],
    }
}

/// The host's architecture as platforms name it.
fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}
