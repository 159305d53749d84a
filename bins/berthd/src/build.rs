//! The wiring of `POST /build`: the context unpacked into a directory of its own, the
//! builder run on a thread of its own against the engine ([`EngineBackend`] is the
//! builder's `Backend`, each call carried out on the runtime), its events passed to the API.
//! The builder knows no engine, the engine no Dockerfile; this is where they meet.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use berth_api_server::backend::{BuildJob, BuildProgress, BuildQuery, ByteStream};
use berth_api_server::ApiError;
use berth_api_types::container::ContainerConfig;
use berth_builder::{Backend, BuildError, BuildOptions, Commit, Event, ImageInfo, Output};
use berth_engine::containers::{
    CommitRequest, ContainerService, CreateRequest, ExtractOptions, LogOptions,
};
use berth_engine::images::ImageService;
use berth_image::{Digest, Reference};

/// The builder's view of the engine. Every call blocks the builder's thread on the runtime.
struct EngineBackend {
    runtime: tokio::runtime::Handle,
    images: ImageService,
    containers: Arc<ContainerService>,
    /// `X-Registry-Config`: credentials by registry, for the FROM pulls.
    credentials: std::collections::BTreeMap<String, berth_api_types::auth::AuthConfig>,
    /// Set when the client went away: the build stops, its running step's container with it.
    cancel: tokio_util::sync::CancellationToken,
    /// The host settings of every step's container (the build's resource limits, network).
    run_host: berth_api_types::container::HostConfig,
    /// `--cache-from`: images whose steps the cache may take.
    cache_from: Vec<String>,
}

fn canceled() -> BuildError {
    BuildError::new("the build was canceled: the client went away")
}

fn failed(e: impl std::fmt::Display) -> BuildError {
    BuildError::new(e.to_string())
}

/// The engine's form of a builder config.
fn spec_config(c: &ContainerConfig) -> Result<berth_engine::containers::Config, BuildError> {
    crate::spec::from_wire(c.clone(), None)
        .map(|s| s.config)
        .map_err(failed)
}

/// The registry a credentials key names (`https://index.docker.io/v1/`, `host:port`).
fn registry_of(key: &str) -> String {
    let host = key
        .trim_start_matches("https://")
        .trim_start_matches("http://")
        .split('/')
        .next()
        .unwrap_or("");
    match host {
        "index.docker.io" | "registry-1.docker.io" | "docker.io" | "" => "docker.io".into(),
        other => other.to_string(),
    }
}

impl EngineBackend {
    fn going_on(&self) -> Result<(), BuildError> {
        if self.cancel.is_cancelled() {
            return Err(canceled());
        }
        Ok(())
    }

    fn digest(id: &str) -> Result<Digest, BuildError> {
        Digest::parse(id).ok_or_else(|| BuildError::new(format!("invalid image ID {id}")))
    }

    /// An image of no layer, for a container on `FROM scratch`.
    fn scratch(&mut self) -> Result<String, BuildError> {
        let empty = spec_config(&ContainerConfig::default())?;
        let id = self
            .runtime
            .block_on(self.images.commit_config(None, &empty, &empty, ""))
            .map_err(failed)?;
        Ok(id.to_string())
    }
}

impl Backend for EngineBackend {
    fn image(
        &mut self,
        name: &str,
        pull: bool,
        events: &mut dyn FnMut(Event),
    ) -> Result<ImageInfo, BuildError> {
        self.going_on()?;
        let here = self.images.resolve(name).ok();
        if here.is_none() || pull {
            let reference = Reference::parse(name).map_err(failed)?;
            let domain = reference.repo().split('/').next().unwrap_or("").to_string();
            let credentials = self
                .credentials
                .iter()
                .find(|(k, _)| registry_of(k) == domain)
                .map(|(_, a)| crate::pull::credentials(a.clone()));
            let req = berth_distribution::PullRequest {
                reference,
                credentials,
                platform: berth_distribution::Platform::host(),
                options: self.images.registry_options(),
            };
            let shown = req.reference.to_string();
            let (tell, mut happened) = tokio::sync::mpsc::unbounded_channel();
            let (images, cancel) = (self.images.clone(), self.cancel.clone());
            // The pull's statuses go into the build's stream as Docker's do; its byte
            // counts are left out (a build's log shows no bars). A client that leaves stops
            // the build's wait for it (the pull itself ends as any pull left by its client).
            let pulled = self.runtime.block_on(async {
                let pulling = images.pull(req, tell);
                tokio::pin!(pulling);
                let outcome = loop {
                    tokio::select! {
                        biased;
                        _ = cancel.cancelled() => return None,
                        e = happened.recv() => {
                            if let Some(e) = e { pull_status(e, events) }
                        }
                        r = &mut pulling => break r,
                    }
                };
                while let Ok(e) = happened.try_recv() {
                    pull_status(e, events);
                }
                Some(outcome)
            });
            let Some(pulled) = pulled else {
                return Err(canceled());
            };
            if let Ok(p) = &pulled {
                events(Event::Status {
                    id: None,
                    status: if p.updated {
                        format!("Status: Downloaded newer image for {shown}")
                    } else {
                        format!("Status: Image is up to date for {shown}")
                    },
                });
            }
            if let Err(e) = pulled {
                // An image here is used when the pull asked for could not refresh it.
                if here.is_none() {
                    return Err(failed(e));
                }
            }
        }
        let (image, _) = self.images.resolve(name).map_err(failed)?;
        let config = image
            .config
            .config
            .clone()
            .and_then(|v| serde_json::from_value(v).ok())
            .unwrap_or_default();
        Ok(ImageInfo {
            id: image.id.to_string(),
            config,
        })
    }

    fn cached(&mut self, parent: Option<&str>, step_config: &ContainerConfig) -> Option<String> {
        let parent = match parent {
            Some(p) => Some(Self::digest(p).ok()?),
            None => None,
        };
        let step = spec_config(step_config).ok()?;
        if !self.cache_from.is_empty() {
            return match self
                .images
                .cached_from(&self.cache_from, parent.as_ref(), &step)
            {
                Ok(found) => found.map(|id| id.to_string()),
                Err(e) => {
                    tracing::warn!(error = %e, "looking in the --cache-from images");
                    None
                }
            };
        }
        self.images
            .cached_step(parent.as_ref(), &step)
            .map(|id| id.to_string())
    }

    fn create(
        &mut self,
        parent: Option<&str>,
        config: &ContainerConfig,
    ) -> Result<String, BuildError> {
        self.going_on()?;
        let image = match parent {
            Some(p) => p.to_string(),
            None => self.scratch()?,
        };
        let mut config = config.clone();
        config.image = image;
        let spec = crate::spec::from_wire(config, Some(self.run_host.clone())).map_err(failed)?;
        let created = self
            .containers
            .create(CreateRequest {
                name: String::new(),
                spec,
                endpoints: Default::default(),
            })
            .map_err(failed)?;
        Ok(created.record.id)
    }

    fn run(
        &mut self,
        container: &str,
        output: &mut dyn FnMut(Output, &[u8]),
    ) -> Result<i64, BuildError> {
        self.going_on()?;
        let containers = self.containers.clone();
        let name = container.to_string();
        let cancel = self.cancel.clone();
        let outcome = self.runtime.block_on(async move {
            // Following the output from before the start: nothing it writes is missed.
            let (_, mut lines) = containers
                .logs(
                    &name,
                    LogOptions {
                        stdout: true,
                        stderr: true,
                        follow: true,
                        attach: true,
                        ..Default::default()
                    },
                )
                .map_err(failed)?;
            containers.start(&name).await.map_err(failed)?;
            let exited = containers.wait(&name);
            tokio::pin!(exited);
            let code = loop {
                tokio::select! {
                    line = lines.recv() => match line {
                        Some(l) => output(if l.stream == 2 { Output::Stderr } else { Output::Stdout }, &l.data),
                        None => break exited.await.map_err(failed)?,
                    },
                    code = &mut exited => break code.map_err(failed)?,
                    _ = cancel.cancelled() => {
                        return Err(canceled());
                    }
                }
            };
            // What it wrote just before it exited.
            let grace = tokio::time::sleep(std::time::Duration::from_secs(2));
            tokio::pin!(grace);
            loop {
                tokio::select! {
                    line = lines.recv() => match line {
                        Some(l) => output(if l.stream == 2 { Output::Stderr } else { Output::Stdout }, &l.data),
                        None => break,
                    },
                    _ = &mut grace => break,
                }
            }
            Ok(i64::from(code))
        });
        if self.cancel.is_cancelled() {
            // The step's container goes with the build, as Docker removes it.
            self.remove(container);
        }
        outcome
    }

    fn copy_into(&mut self, container: &str, archive: std::fs::File) -> Result<(), BuildError> {
        self.going_on()?;
        let body: berth_engine::images::ByteStream = Box::new(tokio::fs::File::from_std(archive));
        self.runtime
            .block_on(self.containers.extract_to_dir(
                container,
                "/",
                ExtractOptions::default(),
                body,
            ))
            .map_err(failed)
    }

    fn make_working_dir(&mut self, container: &str) -> Result<(), BuildError> {
        self.going_on()?;
        self.runtime
            .block_on(self.containers.create_working_dir(container))
            .map_err(failed)
    }

    fn commit(&mut self, c: Commit<'_>) -> Result<String, BuildError> {
        let (config, step) = (spec_config(c.config)?, spec_config(c.step_config)?);
        let id = match c.container {
            Some(container) => {
                let req = CommitRequest {
                    config: Some(config),
                    container_config: Some(step),
                    author: c.author.to_string(),
                    docker_version: format!("berth-{}", env!("CARGO_PKG_VERSION")),
                    ..Default::default()
                };
                self.runtime
                    .block_on(self.containers.commit(container, req))
                    .map_err(failed)?
            }
            None => {
                let parent = c.parent.map(Self::digest).transpose()?;
                self.runtime
                    .block_on(
                        self.images
                            .commit_config(parent.as_ref(), &config, &step, c.author),
                    )
                    .map_err(failed)?
            }
        };
        Ok(id.to_string())
    }

    fn remove(&mut self, container: &str) {
        if let Err(e) = self
            .runtime
            .block_on(self.containers.remove(container, true, true))
        {
            tracing::warn!(container, error = %e, "removing a build step's container");
        }
    }

    fn extract_from_image(
        &mut self,
        image: &str,
        path: &str,
        into: &Path,
    ) -> Result<(), BuildError> {
        // A container of the image, never started, read as `docker cp` reads one.
        // Never started, but a container needs a command.
        let config = ContainerConfig {
            cmd: Some(vec!["#(nop) COPY --from".into()]),
            ..Default::default()
        };
        let container = self.create(Some(image), &config)?;
        let containers = self.containers.clone();
        let (name, path, into) = (container.clone(), path.to_string(), into.to_path_buf());
        let copied = self.runtime.block_on(async move {
            let (_, stream) = containers
                .archive_path(&name, &path)
                .await
                .map_err(|e| BuildError::new(format!("COPY --from: {e}")))?;
            tokio::task::spawn_blocking(move || {
                let reader = berth_engine::blocking_io::batched_reader(stream);
                berth_archive::unpack(reader, &into, &berth_archive::UnpackOptions::default())
                    .map(|_| ())
                    .map_err(failed)
            })
            .await
            .map_err(failed)?
        });
        self.remove(&container);
        copied
    }

    fn download(&mut self, url: &str, into: &Path) -> Result<String, BuildError> {
        self.going_on()?;
        let name = url
            .split(['?', '#'])
            .next()
            .unwrap_or("")
            .trim_end_matches('/')
            .rsplit('/')
            .next()
            .filter(|n| !n.is_empty() && !n.contains(':') && *n != "..")
            .ok_or_else(|| BuildError::new(format!("cannot determine filename from url: {url}")))?
            .to_string();
        let tls = self.images.registry_options().tls;
        let path = into.join(&name);
        let (url, file_path) = (url.to_string(), path.clone());
        self.runtime.block_on(async move {
            let (mut body, _) = crate::fetch::fetch(&url, &tls)
                .await
                .map_err(|e| BuildError::new(e.message))?;
            let mut file = tokio::fs::File::create(&file_path).await.map_err(failed)?;
            tokio::io::copy(&mut body, &mut file)
                .await
                .map_err(failed)?;
            Ok::<_, BuildError>(())
        })?;
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).map_err(failed)?;
        Ok(name)
    }

    fn tag(&mut self, image: &str, reference: &str) -> Result<(), BuildError> {
        let r = Reference::parse(reference).map_err(failed)?;
        let tag = r.tag().unwrap_or("latest").to_string();
        self.images
            .tag(image, r.familiar_repo(), &tag, true)
            .map_err(failed)
    }
}

/// A pull's step as a build's status line: Docker's words, without the byte counts.
fn pull_status(e: berth_distribution::PullEvent, events: &mut dyn FnMut(Event)) {
    use berth_distribution::{LayerStep as S, PullEvent as P};
    let (id, status) = match e {
        P::PullingFrom { path, id } => (Some(id), format!("Pulling from {path}")),
        P::Digest(d) => (None, format!("Digest: {d}")),
        P::Layer { id, step } => {
            let words = match step {
                S::AlreadyExists => "Already exists".to_string(),
                S::PullingFsLayer => "Pulling fs layer".to_string(),
                S::Waiting => "Waiting".to_string(),
                S::Retrying { seconds } => format!("Retrying in {seconds} seconds"),
                S::VerifyingChecksum => "Verifying Checksum".to_string(),
                S::DownloadComplete => "Download complete".to_string(),
                S::PullComplete => "Pull complete".to_string(),
                S::Downloading { .. } | S::Extracting { .. } => return,
            };
            (Some(id), words)
        }
    };
    events(Event::Status { id, status });
}

/// Unpacks the context into `dir` (any compression), confined to it.
fn unpack_context(body: ByteStream, dir: &Path) -> Result<(), ApiError> {
    let reader = berth_engine::blocking_io::batched_reader(Box::new(body));
    let (_, tar) = berth_archive::decompress(reader)
        .map_err(|e| ApiError::bad_request(format!("read the build context: {e}")))?;
    let opts = berth_archive::UnpackOptions {
        lenient_end: true,
        ..Default::default()
    };
    berth_archive::unpack(tar, dir, &opts)
        .map_err(|e| ApiError::bad_request(format!("read the build context: {e}")))?;
    Ok(())
}

/// Whether `remote` names a git repository, as Docker tells one.
fn is_git(remote: &str) -> bool {
    let url = remote.split('#').next().unwrap_or(remote);
    url.starts_with("git://")
        || url.starts_with("git@")
        || url.starts_with("github.com/")
        || (url.starts_with("http") && url.ends_with(".git"))
}

/// A `remote` build's context in `dir`: a git repository cloned (`#ref:subdir` chooses the
/// ref and the directory), or a URL fetched: a tarball (any compression) unpacked, anything
/// else taken as the Dockerfile.
async fn fetch_remote(
    remote: &str,
    dir: &Path,
    dockerfile: &str,
    tls: &berth_distribution::tls::TlsSettings,
) -> Result<(), ApiError> {
    let bad = |e: String| ApiError::bad_request(format!("error fetching {remote}: {e}"));
    if is_git(remote) {
        let (url, fragment) = remote.split_once('#').unwrap_or((remote, ""));
        let (reference, subdir) = fragment.split_once(':').unwrap_or((fragment, ""));
        let url = if url.starts_with("github.com/") {
            format!("https://{url}")
        } else {
            url.to_string()
        };
        let checkout = dir.with_extension("git");
        let mut clone = tokio::process::Command::new("git");
        clone
            .args(["clone", "--quiet", "--recurse-submodules"])
            .arg(&url)
            .arg(&checkout)
            .env("GIT_TERMINAL_PROMPT", "0");
        let out = clone.output().await.map_err(|e| bad(e.to_string()))?;
        if !out.status.success() {
            return Err(bad(String::from_utf8_lossy(&out.stderr).trim().to_string()));
        }
        if !reference.is_empty() {
            let out = tokio::process::Command::new("git")
                .arg("-C")
                .arg(&checkout)
                .args(["checkout", "--quiet", reference])
                .output()
                .await
                .map_err(|e| bad(e.to_string()))?;
            if !out.status.success() {
                return Err(bad(String::from_utf8_lossy(&out.stderr).trim().to_string()));
            }
        }
        let root = std::fs::canonicalize(&checkout).map_err(|e| bad(e.to_string()))?;
        let source = std::fs::canonicalize(root.join(subdir.trim_start_matches('/')))
            .map_err(|_| bad(format!("subdirectory {subdir} not found")))?;
        if !source.starts_with(&root) {
            return Err(bad(format!(
                "subdirectory {subdir} is outside the repository"
            )));
        }
        std::fs::remove_dir(dir).map_err(|e| bad(e.to_string()))?;
        std::fs::rename(&source, dir).map_err(|e| bad(e.to_string()))?;
        let _ = std::fs::remove_dir_all(&checkout);
        return Ok(());
    }
    let (body, _) = crate::fetch::fetch(remote, tls).await?;
    let file = dir.with_extension("download");
    let mut out = tokio::fs::File::create(&file)
        .await
        .map_err(|e| bad(e.to_string()))?;
    let mut body = body;
    tokio::io::copy(&mut body, &mut out)
        .await
        .map_err(|e| bad(e.to_string()))?;
    drop(out);
    let (dir, dockerfile, remote) = (
        dir.to_path_buf(),
        dockerfile.to_string(),
        remote.to_string(),
    );
    tokio::task::spawn_blocking(move || {
        let bad = |e: String| ApiError::bad_request(format!("error fetching {remote}: {e}"));
        let result = if berth_archive::is_tar_file(&file) {
            std::fs::File::open(&file)
                .map_err(|e| bad(e.to_string()))
                .and_then(|f| {
                    let (_, tar) = berth_archive::decompress(f).map_err(|e| bad(e.to_string()))?;
                    berth_archive::unpack(tar, &dir, &berth_archive::UnpackOptions::default())
                        .map(|_| ())
                        .map_err(|e| bad(e.to_string()))
                })
        } else {
            let name = dockerfile.trim_start_matches('/');
            std::fs::rename(&file, dir.join(name)).map_err(|e| bad(e.to_string()))
        };
        let _ = std::fs::remove_file(&file);
        result
    })
    .await
    .map_err(|e| ApiError::internal(format!("fetching stopped: {e}")))?
}

/// The Dockerfile named `name` in the context, read from inside it only.
fn read_dockerfile(context: &Path, name: &str) -> Result<String, ApiError> {
    let missing = || ApiError::bad_request(format!("Cannot locate specified Dockerfile: {name}"));
    let root = std::fs::canonicalize(context).map_err(|_| missing())?;
    let path =
        std::fs::canonicalize(root.join(name.trim_start_matches('/'))).map_err(|_| missing())?;
    if !path.starts_with(&root) {
        return Err(ApiError::bad_request(format!(
            "forbidden path outside the build context: {name} ()"
        )));
    }
    std::fs::read_to_string(&path).map_err(|_| missing())
}

/// The builds under way: each one's thread, and what cancels them all when the daemon stops
/// (a build left running would hold the daemon's runtime, its RUN container and its
/// directory past the daemon's end).
#[derive(Clone, Default)]
pub struct Builds {
    stopping: tokio_util::sync::CancellationToken,
    threads: tokio_util::task::TaskTracker,
}

impl Builds {
    /// Cancels every build and waits, up to `limit`, for each to end (its step's container
    /// removed, its directory gone).
    pub async fn stop(&self, limit: std::time::Duration) {
        self.stopping.cancel();
        self.threads.close();
        if tokio::time::timeout(limit, self.threads.wait())
            .await
            .is_err()
        {
            tracing::warn!("builds still ending as the daemon stops");
        }
    }
}

/// Starts a build: the context unpacked, then the builder on a thread of its own.
pub async fn start(
    images: ImageService,
    containers: Arc<ContainerService>,
    staging: PathBuf,
    builds: &Builds,
    query: BuildQuery,
    context: ByteStream,
) -> Result<BuildJob, ApiError> {
    let dir = tempfile::Builder::new()
        .prefix("build-")
        .tempdir_in(&staging)
        .map_err(|e| ApiError::internal(format!("make the build's directory: {e}")))?;
    let context_dir = dir.path().join("context");
    std::fs::create_dir(&context_dir)
        .map_err(|e| ApiError::internal(format!("make the build's directory: {e}")))?;
    let tls = images.registry_options().tls;
    if query.remote.is_empty() {
        let unpack_to = context_dir.clone();
        tokio::task::spawn_blocking(move || unpack_context(context, &unpack_to))
            .await
            .map_err(|e| ApiError::internal(format!("unpacking stopped: {e}")))??;
    } else {
        fetch_remote(&query.remote, &context_dir, &query.dockerfile, &tls).await?;
    }
    let dockerfile = read_dockerfile(&context_dir, &query.dockerfile)?;
    berth_builder::drop_ignored_build_files(&context_dir, &query.dockerfile)
        .map_err(|e| ApiError::internal(format!("read .dockerignore: {e}")))?;
    let options = BuildOptions {
        tags: query.tags.clone(),
        no_cache: query.no_cache,
        remove: query.remove,
        force_remove: query.force_remove,
        pull: query.pull,
        build_args: query.build_args.clone(),
        labels: query.labels.clone(),
        target: Some(query.target.clone()).filter(|t| !t.is_empty()),
        numbering: match query.step_numbering {
            berth_api_server::backend::StepNumbering::FromZero => {
                berth_builder::StepNumbering::FromZero
            }
            berth_api_server::backend::StepNumbering::FromOne => {
                berth_builder::StepNumbering::FromOne
            }
            berth_api_server::backend::StepNumbering::OfTotal => {
                berth_builder::StepNumbering::OfTotal
            }
        },
    };
    for t in &options.tags {
        Reference::parse(t).map_err(|e| ApiError::bad_request(e.to_string()))?;
    }
    let (tell, progress) = tokio::sync::mpsc::unbounded_channel();
    let cancel = builds.stopping.child_token();
    // The API drops the progress when the client goes away: the build is canceled then.
    let watch = (tell.clone(), cancel.clone());
    tokio::spawn(async move {
        tokio::select! {
            _ = watch.0.closed() => watch.1.cancel(),
            _ = watch.1.cancelled() => {}
        }
    });
    let finished = cancel.clone();
    let mut backend = EngineBackend {
        runtime: tokio::runtime::Handle::current(),
        images,
        containers,
        credentials: query.registry_config,
        cancel,
        run_host: query.run_host,
        cache_from: query.cache_from,
    };
    let building = builds.threads.spawn_blocking(move || {
        let to_api = |e: Event| match e {
            Event::Stream(s) => BuildProgress::Stream(s),
            Event::Built(id) => BuildProgress::Built(id),
            Event::Tagged(t) => BuildProgress::Tagged(t),
            Event::Status { id, status } => BuildProgress::Status { id, status },
        };
        let result = berth_builder::build(
            &dockerfile,
            &context_dir,
            &options,
            &mut backend,
            &mut |e| {
                let _ = tell.send(to_api(e));
            },
        );
        if let Err(e) = result {
            let _ = tell.send(BuildProgress::Failed {
                message: e.message,
                code: e.code,
            });
        }
        // The context goes with the build; the watch with it.
        drop(dir);
        finished.cancel();
    });
    let done = Box::pin(async move {
        building
            .await
            .map_err(|e| ApiError::internal(format!("the build stopped: {e}")))
    });
    Ok(BuildJob { progress, done })
}
