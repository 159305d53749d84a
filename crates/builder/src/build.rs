//! Building an image from a Dockerfile as Docker's legacy builder (`POST /build`) does: each
//! instruction a step over the image the step before made, each step an image of its own
//! (committed here, so that the next build finds it: the cache), RUN in a container, COPY and
//! ADD into one, the rest on the config alone. The builder drives the engine through
//! [`Backend`] and tells what happens as Docker's stream text ([`Event`]).

use std::collections::BTreeMap;
use std::path::Path;

use berth_api_types::container::ContainerConfig;
use parse_dockerfile::Instruction;

use crate::context::{Context, Copied};
use crate::lex::Lexer;
use crate::steps;

/// What a build is asked for, besides its Dockerfile and context.
#[derive(Debug, Clone, Default)]
pub struct BuildOptions {
    /// References to tag the result with, checked by the caller.
    pub tags: Vec<String>,
    pub no_cache: bool,
    /// Remove each step's container once its image is made (`rm`, Docker's default).
    pub remove: bool,
    /// Remove them even when the step failed (`forcerm`).
    pub force_remove: bool,
    /// Pull the base images even when they are here (`pull`).
    pub pull: bool,
    /// `--build-arg`: a value, or none to take it from the daemon's environment.
    pub build_args: BTreeMap<String, Option<String>>,
    /// `--label`: set on the final image.
    pub labels: BTreeMap<String, String>,
    /// The stage to stop at (`--target`).
    pub target: Option<String>,
    /// How steps are numbered in the stream, as the client's API version saw them.
    pub numbering: StepNumbering,
}

/// `Step 0 : …` (Docker before 1.10), `Step 1 : …` (1.10 to 1.12), `Step 1/3 : …` (1.13 on).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum StepNumbering {
    FromZero,
    FromOne,
    #[default]
    OfTotal,
}

impl StepNumbering {
    fn line(self, n: usize, total: usize, text: &str) -> String {
        match self {
            StepNumbering::FromZero => format!("Step {n} : {text}"),
            StepNumbering::FromOne => format!("Step {} : {text}", n + 1),
            StepNumbering::OfTotal => format!("Step {}/{total} : {text}", n + 1),
        }
    }
}

/// A build's failure, as Docker reports it (`errorDetail`: the message, and a RUN's exit
/// code).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct BuildError {
    pub message: String,
    pub code: Option<i64>,
}

impl BuildError {
    pub fn new(message: impl Into<String>) -> Self {
        BuildError {
            message: message.into(),
            code: None,
        }
    }
}

impl From<crate::lex::LexError> for BuildError {
    fn from(e: crate::lex::LexError) -> Self {
        BuildError::new(e.to_string())
    }
}

impl From<crate::changes::ChangeError> for BuildError {
    fn from(e: crate::changes::ChangeError) -> Self {
        BuildError::new(e.to_string())
    }
}

/// What a build tells as it goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Text of Docker's stream (`Step 1/3 : FROM busybox`, ` ---> 3f2a…`, a RUN's output).
    Stream(String),
    /// The image built: its full ID (the API adds `aux` and `Successfully built`).
    Built(String),
    /// A name given to it (`Successfully tagged …`).
    Tagged(String),
    /// A status line of something the build waits for (a FROM image's pull), for the
    /// object `id` when there is one.
    Status { id: Option<String>, status: String },
}

/// An image a build starts from or makes: its ID and config.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ImageInfo {
    pub id: String,
    pub config: ContainerConfig,
}

/// Which stream of a RUN some output came on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    Stdout,
    Stderr,
}

/// What the builder needs of an engine. Blocking: the builder runs on a thread of its own.
pub trait Backend {
    /// The image `name`, pulled when it is missing or `pull` says so (a pull's progress
    /// told through `events`).
    fn image(
        &mut self,
        name: &str,
        pull: bool,
        events: &mut dyn FnMut(Event),
    ) -> Result<ImageInfo, BuildError>;
    /// An image built here on `parent` (none: on no image) whose step config was
    /// `step_config`: the step's cache.
    fn cached(&mut self, parent: Option<&str>, step_config: &ContainerConfig) -> Option<String>;
    /// A container of `parent` with `config`, not started.
    fn create(
        &mut self,
        parent: Option<&str>,
        config: &ContainerConfig,
    ) -> Result<String, BuildError>;
    /// Starts the container and waits for it, its output passed on as it comes; its exit
    /// code.
    fn run(
        &mut self,
        container: &str,
        output: &mut dyn FnMut(Output, &[u8]),
    ) -> Result<i64, BuildError>;
    /// Extracts the tar `archive` (a file the builder wrote) at the container's root.
    fn copy_into(&mut self, container: &str, archive: std::fs::File) -> Result<(), BuildError>;
    /// Makes the container's working directory (and its parents) in its files, owned by
    /// root; an existing one stays as it is.
    fn make_working_dir(&mut self, container: &str) -> Result<(), BuildError>;
    /// An image of a step (see [`Commit`]); its ID.
    fn commit(&mut self, commit: Commit<'_>) -> Result<String, BuildError>;
    fn remove(&mut self, container: &str);
    /// Downloads `url` into the directory `into` (mode 0600, as Docker keeps an ADD's
    /// download), named by the URL's last path segment; returns that name.
    fn download(&mut self, url: &str, into: &Path) -> Result<String, BuildError>;
    /// Copies `path` of `image`'s files into the directory `into` (as `into/<its name>`):
    /// the sources of a `COPY --from`.
    fn extract_from_image(
        &mut self,
        image: &str,
        path: &str,
        into: &Path,
    ) -> Result<(), BuildError>;
    fn tag(&mut self, image: &str, reference: &str) -> Result<(), BuildError>;
}

/// An image a step makes: `config` on `parent`, with the container's changes as its layer
/// or (no container) with no layer; `step_config` recorded as what made it (the cache's key,
/// the image's `ContainerConfig`), `author` as its author (MAINTAINER).
pub struct Commit<'a> {
    pub container: Option<&'a str>,
    pub parent: Option<&'a str>,
    pub config: &'a ContainerConfig,
    pub step_config: &'a ContainerConfig,
    pub author: &'a str,
}

/// The build args a RUN gets without an ARG declaring them, never warned about and, unless
/// an ARG declares them, left out of the cache key (moby's `builtinAllowedBuildArgs`).
const PREDEFINED_ARGS: [&str; 10] = [
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "FTP_PROXY",
    "ftp_proxy",
    "NO_PROXY",
    "no_proxy",
    "ALL_PROXY",
    "all_proxy",
];

fn short(id: &str) -> String {
    id.trim_start_matches("sha256:").chars().take(12).collect()
}

/// One stage's state as its steps go.
struct Stage {
    /// The image the last step made (none: `FROM scratch` and nothing yet).
    image: Option<String>,
    config: ContainerConfig,
    /// The ARGs this stage declared, with their values (`KEY=VALUE`).
    args: Vec<String>,
    /// A CMD was set in this stage (an ENTRYPOINT then keeps it).
    cmd_set: bool,
    /// The cache still holds for this stage: the first miss ends it.
    cache: bool,
    /// The image's author (MAINTAINER).
    author: String,
}

/// Builds `dockerfile` (its text) with `context` as the build context; returns the image ID.
pub fn build(
    dockerfile: &str,
    context: &Path,
    options: &BuildOptions,
    backend: &mut dyn Backend,
    events: &mut dyn FnMut(Event),
) -> Result<String, BuildError> {
    let parsed = parse_dockerfile::parse(dockerfile)
        .map_err(|e| BuildError::new(format!("Dockerfile parse error: {e}")))?;
    let escape = parsed
        .parser_directives
        .escape
        .as_ref()
        .map_or('\\', |d| d.value.value);
    let lexer = Lexer { escape };
    let texts = steps::texts(dockerfile, &parsed.instructions, escape);
    for i in &parsed.instructions {
        if let Some(what) = steps::buildkit_only(i) {
            return Err(BuildError::new(format!(
                "the Dockerfile uses {what}, which requires BuildKit; berth builds with the legacy builder"
            )));
        }
        steps::check_flags(i)?;
    }
    // The stages to run: up to the target's, all of them without one.
    let stage_starts: Vec<usize> = parsed
        .instructions
        .iter()
        .enumerate()
        .filter(|(_, i)| matches!(i, Instruction::From(_)))
        .map(|(n, _)| n)
        .collect();
    if stage_starts.is_empty() {
        return Err(BuildError::new(
            "Dockerfile parse error: no build stage in current context",
        ));
    }
    let names: Vec<Option<String>> = stage_starts
        .iter()
        .map(|&n| match &parsed.instructions[n] {
            Instruction::From(f) => f.as_.as_ref().map(|(_, n)| n.value.to_ascii_lowercase()),
            _ => None,
        })
        .collect();
    let last_stage = match &options.target {
        Some(t) => names
            .iter()
            .position(|n| n.as_deref() == Some(&t.to_ascii_lowercase()))
            .ok_or_else(|| {
                BuildError::new(format!("failed to reach build target {t} in Dockerfile"))
            })?,
        None => stage_starts.len() - 1,
    };
    let end = stage_starts
        .get(last_stage + 1)
        .copied()
        .unwrap_or(parsed.instructions.len());
    let total = end;
    // ARGs before the first FROM: for the FROM lines (and redeclared in a stage to be used
    // in it).
    let mut global_args: Vec<String> = Vec::new();
    // Declared there, they count as used (moby's processMetaArg references them).
    let mut global_declared: Vec<String> = Vec::new();
    for i in &parsed.instructions[..stage_starts[0]] {
        if let Instruction::Arg(a) = i {
            for (k, v) in arg_pairs(&lexer, &a.arguments.value, &global_args)? {
                let value = options.build_args.get(&k).cloned().flatten().or(v);
                global_declared.push(k.clone());
                if let Some(v) = value {
                    global_args.push(format!("{k}={v}"));
                }
            }
        }
    }
    let context = Context::new(context)?;
    let mut steps = Steps {
        lexer,
        context: &context,
        options,
        global_args: &global_args,
        used_args: global_declared,
        built_stages: Vec::new(),
    };
    let mut stage: Option<Stage> = None;
    for (n, instruction) in parsed.instructions[..end].iter().enumerate() {
        events(Event::Stream(options.numbering.line(n, total, &texts[n])));
        events(Event::Stream("\n".into()));
        if n < stage_starts[0] {
            // Global ARGs are steps too in Docker's count.
            continue;
        }
        if let Instruction::From(from) = instruction {
            if let Some(done) = stage.take() {
                let name = names[steps.built_stages.len()].clone();
                steps.built_stages.push((name, done.image));
            }
            let image_name = lexer.process_word(&from.image.value, &global_args)?;
            let base = if image_name == "scratch" {
                None
            } else if let Some((_, id)) = steps
                .built_stages
                .iter()
                .find(|(name, _)| name.as_deref() == Some(&image_name.to_ascii_lowercase()))
            {
                let id = id
                    .clone()
                    .ok_or_else(|| BuildError::new(format!("stage {image_name} made no image")))?;
                Some(backend.image(&id, false, events)?)
            } else {
                Some(backend.image(&image_name, options.pull, events)?)
            };
            match &base {
                Some(b) => events(Event::Stream(format!(" ---> {}\n", short(&b.id)))),
                None => events(Event::Stream(" ---> \n".into())),
            }
            let mut config = base.as_ref().map(|b| b.config.clone()).unwrap_or_default();
            if base.is_none() {
                config.env = Some(vec![
                    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into(),
                ]);
            }
            // The base's ONBUILD triggers run now, as steps of this stage; the image made
            // here does not inherit them.
            let triggers = config.on_build.take().unwrap_or_default();
            let st = stage.insert(Stage {
                image: base.map(|b| b.id),
                config,
                args: Vec::new(),
                cmd_set: false,
                cache: !options.no_cache,
                author: String::new(),
            });
            if !triggers.is_empty() {
                events(Event::Stream(format!(
                    "# Executing {} build trigger{}\n",
                    triggers.len(),
                    if triggers.len() == 1 { "" } else { "s" }
                )));
            }
            for trigger in triggers {
                let source = format!("FROM scratch\n{trigger}\n");
                let parsed = parse_dockerfile::parse(&source).map_err(|e| {
                    BuildError::new(format!("Dockerfile parse error in an ONBUILD trigger: {e}"))
                })?;
                let Some(instruction) = parsed.instructions.get(1) else {
                    continue;
                };
                steps.step(instruction, &source, st, backend, events)?;
            }
            continue;
        }
        let st = stage.as_mut().expect("a stage after FROM");
        steps.step(instruction, dockerfile, st, backend, events)?;
    }
    let mut st = stage.expect("at least one stage");
    // `--label`s go on the final image, as one more metadata commit.
    if !options.labels.is_empty() {
        let labels = st.config.labels.get_or_insert_with(BTreeMap::new);
        for (k, v) in &options.labels {
            labels.insert(k.clone(), v.clone());
        }
        let text = format!(
            "LABEL {}",
            options
                .labels
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(" ")
        );
        let step_config = nop_config(&st.config, &text, true);
        let id = commit_config(&st, &step_config, backend)?;
        st.image = Some(id);
    }
    let unused: Vec<&String> = options
        .build_args
        .keys()
        .filter(|k| !steps.used_args.contains(k) && !PREDEFINED_ARGS.contains(&k.as_str()))
        .collect();
    if !unused.is_empty() {
        let list: Vec<&str> = unused.iter().map(|s| s.as_str()).collect();
        events(Event::Stream(format!(
            "[Warning] One or more build-args [{}] were not consumed\n",
            list.join(" ")
        )));
    }
    let id = match st.image {
        Some(id) => id,
        // `FROM scratch` and nothing else: an image of no layer, as Docker makes it.
        None => {
            let step_config = nop_config(&st.config, "FROM scratch", true);
            backend.commit(Commit {
                container: None,
                parent: None,
                config: &st.config,
                step_config: &step_config,
                author: &st.author,
            })?
        }
    };
    events(Event::Built(id.clone()));
    for t in &options.tags {
        backend.tag(&id, t)?;
        events(Event::Tagged(t.clone()));
    }
    Ok(id)
}

/// The step config of a metadata step: the config with Docker's `#(nop)` command, by which
/// the cache finds it (`/bin/sh -c #(nop)  ENV A=1`).
/// The stage's shell starts it, as moby's `withCmdComment` (two words: metadata steps) and
/// `withCmdCommentString` (one: COPY, ADD, WORKDIR).
fn nop_config(config: &ContainerConfig, text: &str, metadata: bool) -> ContainerConfig {
    let mut c = config.clone();
    let mut cmd = crate::changes::shell(config);
    if metadata {
        cmd.extend(["#(nop) ".to_string(), text.to_string()]);
    } else {
        cmd.push(format!("#(nop) {text}"));
    }
    c.cmd = Some(cmd);
    c
}

/// `ARG` names with their defaults.
fn arg_pairs(
    lexer: &Lexer,
    text: &str,
    env: &[String],
) -> Result<Vec<(String, Option<String>)>, BuildError> {
    Ok(lexer
        .process_words(text, env)?
        .into_iter()
        .map(|w| match w.split_once('=') {
            Some((k, v)) => (k.to_string(), Some(v.to_string())),
            None => (w, None),
        })
        .collect())
}

/// What every step of a build reads, and what the steps add to as they go.
struct Steps<'a> {
    lexer: Lexer,
    context: &'a Context,
    options: &'a BuildOptions,
    /// The ARGs before the first FROM, with their values.
    global_args: &'a [String],
    /// The build args some ARG declared (the rest are warned about).
    used_args: Vec<String>,
    /// Each finished stage: its name, and the image it made.
    built_stages: Vec<(Option<String>, Option<String>)>,
}

impl Steps<'_> {
    /// One instruction of stage `st`; `source` is the Dockerfile it is in.
    fn step(
        &mut self,
        instruction: &Instruction<'_>,
        source: &str,
        st: &mut Stage,
        backend: &mut dyn Backend,
        events: &mut dyn FnMut(Event),
    ) -> Result<(), BuildError> {
        let (lexer, context, options) = (&self.lexer, self.context, self.options);
        let (global_args, built_stages) = (self.global_args, &self.built_stages);
        let used_args = &mut self.used_args;
        // Variables for expansion: the stage's ARGs, then its ENV (which wins).
        let vars: Vec<String> = st
            .args
            .iter()
            .cloned()
            .chain(st.config.env.clone().unwrap_or_default())
            .collect();
        match instruction {
            Instruction::Arg(a) => {
                let mut declared = Vec::new();
                for (k, default) in arg_pairs(lexer, &a.arguments.value, &vars)? {
                    declared.push(match &default {
                        Some(d) => format!("{k}={d}"),
                        None => k.clone(),
                    });
                    let from_global = crate::lex::lookup(global_args, &k).map(str::to_string);
                    // A build arg given without a value (the client found none) is as
                    // not given: the default, else the global ARG's (moby's getBuildArg).
                    let value = match options.build_args.get(&k) {
                        Some(Some(v)) => Some(v.clone()),
                        _ => default.or(from_global),
                    };
                    used_args.push(k.clone());
                    st.args.retain(|e| crate::lex::env_key(e) != k);
                    if let Some(v) = value {
                        st.args.push(format!("{k}={v}"));
                    }
                }
                metadata(st, &format!("ARG {}", declared.join(" ")), backend, events)
            }
            Instruction::Run(r) => {
                let argv = crate::changes::command(&st.config, &r.arguments, lexer.escape)?;
                run(st, argv, options, backend, events)
            }
            Instruction::Copy(c) => {
                let from = c
                    .options
                    .iter()
                    .find(|f| f.name.value == "from")
                    .and_then(|f| f.value.as_ref())
                    .map(|v| v.value.to_string());
                let chown = flag(&c.options, "chown");
                let srcs: Vec<String> = sources(&c.src, lexer, &vars)?;
                let dest = lexer.process_word(&c.dest.value, &vars)?;
                let source_root = match from {
                    Some(f) => Some(stage_or_image(&f, built_stages, backend, events)?),
                    None => None,
                };
                let source = match &source_root {
                    Some(id) => CopySource::Image(id),
                    None => CopySource::Context,
                };
                copy(
                    st, "COPY", &srcs, &dest, chown, false, source, context, backend, events,
                )
            }
            Instruction::Add(a) => {
                let chown = flag(&a.options, "chown");
                let srcs: Vec<String> = sources(&a.src, lexer, &vars)?;
                let dest = lexer.process_word(&a.dest.value, &vars)?;
                let is_url = |s: &String| s.starts_with("http://") || s.starts_with("https://");
                let source = if srcs.iter().any(is_url) {
                    CopySource::Web
                } else {
                    CopySource::Context
                };
                copy(
                    st, "ADD", &srcs, &dest, chown, true, source, context, backend, events,
                )
            }
            Instruction::From(_) => unreachable!("FROM starts a stage"),
            Instruction::Shell(s) => {
                let shell: Vec<String> = s.arguments.iter().map(|a| a.value.to_string()).collect();
                let comment = format!("SHELL [{}]", shell.join(" "));
                st.config.shell = Some(shell);
                metadata(st, &comment, backend, events)
            }
            // WORKDIR makes its directory in a layer of its own, as Docker's does.
            Instruction::Workdir(_) => {
                let comment = crate::changes::apply_instruction(
                    &mut st.config,
                    instruction,
                    source,
                    lexer,
                    &st.args,
                    &mut st.cmd_set,
                )?;
                workdir(st, &comment, backend, events)
            }
            // The author goes in the image's own field; the config is unchanged.
            Instruction::Maintainer(m) => {
                st.author = lexer.process_word(&m.name.value, &vars)?;
                let comment = format!("MAINTAINER {}", st.author);
                metadata(st, &comment, backend, events)
            }
            _ => {
                // The instructions that change only the config, as `commit --change` applies
                // them, variables from the stage's ARGs too.
                let comment = crate::changes::apply_instruction(
                    &mut st.config,
                    instruction,
                    source,
                    lexer,
                    &st.args,
                    &mut st.cmd_set,
                )?;
                metadata(st, &comment, backend, events)
            }
        }
    }
}

fn flag(options: &[parse_dockerfile::Flag<'_>], name: &str) -> Option<String> {
    options
        .iter()
        .find(|f| f.name.value == name)
        .and_then(|f| f.value.as_ref())
        .map(|v| v.value.to_string())
}

fn sources(
    srcs: &[parse_dockerfile::Source<'_>],
    lexer: &Lexer,
    vars: &[String],
) -> Result<Vec<String>, BuildError> {
    srcs.iter()
        .map(|s| match s {
            parse_dockerfile::Source::Path(p) => Ok(lexer.process_word(&p.value, vars)?),
            _ => Err(BuildError::new("heredocs require BuildKit")),
        })
        .collect()
}

/// `COPY --from=`: a stage built before (by name or index), else an image; the root of a
/// container of it, to copy from.
fn stage_or_image(
    from: &str,
    built_stages: &[(Option<String>, Option<String>)],
    backend: &mut dyn Backend,
    events: &mut dyn FnMut(Event),
) -> Result<String, BuildError> {
    let by_name = built_stages
        .iter()
        .find(|(n, _)| n.as_deref() == Some(&from.to_ascii_lowercase()))
        .or_else(|| from.parse::<usize>().ok().and_then(|i| built_stages.get(i)));
    match by_name {
        Some((_, Some(id))) => Ok(id.clone()),
        Some((_, None)) => Err(BuildError::new(format!("stage {from} made no image"))),
        None => Ok(backend.image(from, false, events)?.id),
    }
}

/// The stage's config committed without a container, over its image.
fn commit_config(
    st: &Stage,
    step_config: &ContainerConfig,
    backend: &mut dyn Backend,
) -> Result<String, BuildError> {
    backend.commit(Commit {
        container: None,
        parent: st.image.as_deref(),
        config: &st.config,
        step_config,
        author: &st.author,
    })
}

/// WORKDIR, once the config has it: a container that makes the directory, committed under
/// `#(nop) WORKDIR <path>` (the path resolved, as Docker records it).
fn workdir(
    st: &mut Stage,
    comment: &str,
    backend: &mut dyn Backend,
    events: &mut dyn FnMut(Event),
) -> Result<(), BuildError> {
    let step_config = nop_config(&st.config, comment, false);
    if from_cache(st, &step_config, backend, events) {
        return Ok(());
    }
    in_container(st, &step_config, backend, events, |backend, container| {
        backend.make_working_dir(container)
    })
}

/// A step made in a container of the stage's image (not started): `work` done in it, then
/// committed under `step_config`; the container is removed either way.
fn in_container(
    st: &mut Stage,
    step_config: &ContainerConfig,
    backend: &mut dyn Backend,
    events: &mut dyn FnMut(Event),
    work: impl FnOnce(&mut dyn Backend, &str) -> Result<(), BuildError>,
) -> Result<(), BuildError> {
    let container = backend.create(st.image.as_deref(), step_config)?;
    let result = work(backend, &container).and_then(|()| {
        backend.commit(Commit {
            container: Some(&container),
            parent: st.image.as_deref(),
            config: &st.config,
            step_config,
            author: &st.author,
        })
    });
    backend.remove(&container);
    let id = result?;
    events(Event::Stream(format!(" ---> {}\n", short(&id))));
    st.image = Some(id);
    Ok(())
}

/// A step that changes only the config: committed without a container.
fn metadata(
    st: &mut Stage,
    text: &str,
    backend: &mut dyn Backend,
    events: &mut dyn FnMut(Event),
) -> Result<(), BuildError> {
    let step_config = nop_config(&st.config, text, true);
    if from_cache(st, &step_config, backend, events) {
        return Ok(());
    }
    let id = commit_config(st, &step_config, backend)?;
    events(Event::Stream(format!(" ---> {}\n", short(&id))));
    st.image = Some(id);
    Ok(())
}

/// The step's image from the cache, made the stage's, when the cache still holds for the
/// stage and has one; the first miss ends the cache for the rest of the stage.
fn from_cache(
    st: &mut Stage,
    step_config: &ContainerConfig,
    backend: &mut dyn Backend,
    events: &mut dyn FnMut(Event),
) -> bool {
    if !st.cache {
        return false;
    }
    match backend.cached(st.image.as_deref(), step_config) {
        Some(id) => {
            events(Event::Stream(" ---> Using cache\n".into()));
            events(Event::Stream(format!(" ---> {}\n", short(&id))));
            st.image = Some(id);
            true
        }
        None => {
            st.cache = false;
            false
        }
    }
}

fn run(
    st: &mut Stage,
    argv: Vec<String>,
    options: &BuildOptions,
    backend: &mut dyn Backend,
    events: &mut dyn FnMut(Event),
) -> Result<(), BuildError> {
    let (args, recorded_args) = run_args(st, options);
    // The step config: the command, with the ARGs in play before it as Docker records them
    // (`|2 A=1 B=2 /bin/sh -c …`), so a different build arg misses the cache.
    let mut step_config = st.config.clone();
    let mut recorded = argv.clone();
    if !args.is_empty() {
        let mut prefixed = vec![format!("|{}", recorded_args.len())];
        prefixed.extend(recorded_args);
        prefixed.extend(recorded);
        recorded = prefixed;
    }
    step_config.cmd = Some(recorded);
    if from_cache(st, &step_config, backend, events) {
        return Ok(());
    }
    let mut run_config = st.config.clone();
    run_config.cmd = Some(argv.clone());
    run_config.entrypoint = None;
    let mut env = st.config.env.clone().unwrap_or_default();
    env.extend(args);
    run_config.env = Some(env);
    let container = backend.create(st.image.as_deref(), &run_config)?;
    events(Event::Stream(format!(
        " ---> Running in {}\n",
        short(&container)
    )));
    let code = backend.run(&container, &mut |stream, bytes| {
        let text = String::from_utf8_lossy(bytes).into_owned();
        events(Event::Stream(match stream {
            Output::Stdout => text,
            // Docker colours a step's standard error red.
            Output::Stderr => format!("\u{1b}[91m{text}\u{1b}[0m"),
        }));
    });
    let code = match code {
        Ok(c) => c,
        Err(e) => {
            if options.force_remove {
                backend.remove(&container);
            }
            return Err(e);
        }
    };
    if code != 0 {
        if options.force_remove {
            backend.remove(&container);
        }
        return Err(BuildError {
            message: format!(
                "The command '{}' returned a non-zero code: {code}",
                argv.join(" ")
            ),
            code: Some(code),
        });
    }
    let id = backend.commit(Commit {
        container: Some(&container),
        parent: st.image.as_deref(),
        config: &st.config,
        step_config: &step_config,
        author: &st.author,
    });
    if options.remove || options.force_remove {
        backend.remove(&container);
        if id.is_ok() {
            events(Event::Stream(format!(
                "Removing intermediate container {}\n",
                short(&container)
            )));
        }
    }
    let id = id?;
    events(Event::Stream(format!(" ---> {}\n", short(&id))));
    st.image = Some(id);
    Ok(())
}

/// The build args a RUN sees (`KEY=VALUE`), as moby's `FilterAllowed`: the stage's ARGs and
/// the proxy args given for the build, less those an ENV of the same name hides; and those
/// of them its cache key records, sorted (`prependEnvOnCmd`): all but the proxy args no ARG
/// declared, so that a proxy setting alone never misses the cache.
fn run_args(st: &Stage, options: &BuildOptions) -> (Vec<String>, Vec<String>) {
    let env = st.config.env.as_deref().unwrap_or_default();
    let hidden = |k: &str| env.iter().any(|e| crate::lex::env_key(e) == k);
    let declared = |k: &str| st.args.iter().any(|a| crate::lex::env_key(a) == k);
    let mut args: Vec<String> = st
        .args
        .iter()
        .filter(|a| !hidden(crate::lex::env_key(a)))
        .cloned()
        .collect();
    for (k, v) in &options.build_args {
        if let (true, Some(v)) = (PREDEFINED_ARGS.contains(&k.as_str()), v) {
            if !declared(k) && !hidden(k) {
                args.push(format!("{k}={v}"));
            }
        }
    }
    let mut recorded: Vec<String> = args
        .iter()
        .filter(|a| {
            let k = crate::lex::env_key(a);
            declared(k) || !PREDEFINED_ARGS.contains(&k)
        })
        .cloned()
        .collect();
    recorded.sort();
    (args, recorded)
}

/// Where a COPY or ADD takes its sources from.
enum CopySource<'a> {
    Context,
    /// An image or an earlier stage (`COPY --from`), by ID.
    Image(&'a str),
    /// Sources some of which are URLs (`ADD https://…`): those downloaded, never extracted.
    Web,
}

#[allow(clippy::too_many_arguments)] // one COPY or ADD, as the Dockerfile spelled it
fn copy(
    st: &mut Stage,
    what: &str,
    srcs: &[String],
    dest: &str,
    chown: Option<String>,
    extract_archives: bool,
    source: CopySource<'_>,
    context: &Context,
    backend: &mut dyn Backend,
    events: &mut dyn FnMut(Event),
) -> Result<(), BuildError> {
    let owner = match chown.as_deref() {
        None => (0, 0),
        Some(spec) => resolve_chown(spec, st.image.as_deref(), backend, context)?,
    };
    // A relative destination is under WORKDIR.
    let dest = if dest.starts_with('/') {
        dest.to_string()
    } else {
        let wd = if st.config.working_dir.is_empty() {
            "/".to_string()
        } else {
            st.config.working_dir.clone()
        };
        format!("{}/{dest}", wd.trim_end_matches('/'))
    };
    let copied: Copied = match source {
        CopySource::Context => context.archive(srcs, &dest, owner, extract_archives)?,
        // URLs downloaded beside the context (never extracted), local files from it.
        CopySource::Web => {
            let staged = context.scratch_dir()?;
            let downloads = Context::new(staged.path())?;
            let mut names = Vec::new();
            for src in srcs {
                let is_url = src.starts_with("http://") || src.starts_with("https://");
                names.push(match is_url {
                    true => (true, backend.download(src, staged.path())?),
                    false => (false, src.clone()),
                });
            }
            let sources: Vec<(&Context, &str, bool)> = names
                .iter()
                .map(|(url, name)| match url {
                    true => (&downloads, name.as_str(), false),
                    false => (context, name.as_str(), extract_archives),
                })
                .collect();
            Context::archive_from(&sources, &dest, owner)?
        }
        // From an image or an earlier stage: its files are put in a directory beside the
        // context, then copied from there as from a context.
        CopySource::Image(image) => {
            let staged = context.scratch_dir()?;
            let mut names = Vec::new();
            for src in srcs {
                let clean = src.trim_end_matches('/');
                let path = if clean.is_empty() { "/" } else { clean };
                backend.extract_from_image(image, path, staged.path())?;
                let name = Path::new(path)
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                names.push(if name.is_empty() {
                    ".".to_string()
                } else {
                    name
                });
            }
            // One source copied to a directory destination keeps its name (`COPY --from=x
            // /app/bin /usr/local/bin/`); a directory source gives its contents, as from a
            // context.
            let names: Vec<String> = names;
            Context::new(staged.path())?.archive(&names, &dest, owner, false)?
        }
    };
    // The owner asked for is part of the step (moby's `--chown=… ` in the comment).
    let chown_comment = chown.map_or(String::new(), |c| format!("--chown={c} "));
    let text = format!(
        "{what} {chown_comment}{}:{} in {dest} ",
        copied.kind, copied.hash
    );
    let step_config = nop_config(&st.config, &text, false);
    if from_cache(st, &step_config, backend, events) {
        return Ok(());
    }
    in_container(st, &step_config, backend, events, |backend, container| {
        backend.copy_into(container, copied.open()?)
    })
}

/// The ID of `name` in an `/etc/passwd` or `/etc/group` file (its third field).
fn id_in(file: &str, name: &str) -> Option<u64> {
    file.lines().find_map(|l| {
        let mut f = l.split(':');
        (f.next()? == name).then_some(())?;
        f.nth(1)?.parse().ok()
    })
}

/// `--chown=user[:group]`, names looked up in the image's `/etc/passwd` and `/etc/group`;
/// a user alone gives its own ID as the group too, as Docker takes it.
fn resolve_chown(
    spec: &str,
    image: Option<&str>,
    backend: &mut dyn Backend,
    context: &Context,
) -> Result<(u64, u64), BuildError> {
    let (user, group) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let mut read = |path: &str| -> Result<String, BuildError> {
        let image = image.ok_or_else(|| {
            BuildError::new(format!(
                "--chown={spec}: no {path} to find names in (FROM scratch)"
            ))
        })?;
        let staged = context.scratch_dir()?;
        backend.extract_from_image(image, path, staged.path())?;
        let name = Path::new(path).file_name().expect("a file name");
        std::fs::read_to_string(staged.path().join(name))
            .map_err(|e| BuildError::new(format!("read {path}: {e}")))
    };
    let uid = match user.parse::<u64>() {
        Ok(n) => n,
        Err(_) => id_in(&read("/etc/passwd")?, user).ok_or_else(|| {
            BuildError::new(format!(
                "unable to convert uid/gid chown string to host mapping: can't find uid for user {user}: no such user: {user}"
            ))
        })?,
    };
    let gid = match group {
        None => uid,
        Some(g) => match g.parse::<u64>() {
            Ok(n) => n,
            Err(_) => id_in(&read("/etc/group")?, g).ok_or_else(|| {
                BuildError::new(format!(
                    "unable to convert uid/gid chown string to host mapping: can't find gid for group {g}: no such group: {g}"
                ))
            })?,
        },
    };
    Ok((uid, gid))
}
