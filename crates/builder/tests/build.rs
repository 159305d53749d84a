//! The builder against a backend that keeps images and containers in memory: the steps and
//! the stream Docker's legacy builder gives, the cache, build args, failures and refusals.

use std::collections::BTreeMap;
use std::path::Path;

use berth_api_types::container::ContainerConfig;
use berth_builder::{build, Backend, BuildError, BuildOptions, Commit, Event, ImageInfo, Output};

#[derive(Default)]
struct Memory {
    /// id → (parent, config, step config, copied bytes)
    images: BTreeMap<String, (Option<String>, ContainerConfig, ContainerConfig)>,
    containers: BTreeMap<String, (Option<String>, ContainerConfig, Vec<String>)>,
    removed: Vec<String>,
    /// Every path a COPY or ADD put in a container.
    copied: Vec<String>,
    runs: usize,
    next: u64,
    tags: Vec<(String, String)>,
}

impl Memory {
    fn id(&mut self) -> String {
        self.next += 1;
        format!("sha256:{:064x}", self.next)
    }

    fn with_base() -> Memory {
        let mut m = Memory::default();
        let config = ContainerConfig {
            env: Some(vec!["PATH=/usr/bin:/bin".into()]),
            cmd: Some(vec!["sh".into()]),
            ..Default::default()
        };
        m.images.insert(
            "sha256:base".into(),
            (None, config, ContainerConfig::default()),
        );
        m
    }
}

impl Backend for Memory {
    fn image(
        &mut self,
        name: &str,
        _pull: bool,
        _events: &mut dyn FnMut(Event),
    ) -> Result<ImageInfo, BuildError> {
        let id = if name == "busybox" {
            "sha256:base"
        } else {
            name
        };
        let (_, config, _) = self
            .images
            .get(id)
            .ok_or_else(|| BuildError::new(format!("pull access denied for {name}")))?;
        Ok(ImageInfo {
            id: id.to_string(),
            config: config.clone(),
        })
    }

    fn cached(&mut self, parent: Option<&str>, step_config: &ContainerConfig) -> Option<String> {
        self.images
            .iter()
            .find(|(_, (p, _, s))| p.as_deref() == parent && s == step_config)
            .map(|(id, _)| id.clone())
    }

    fn create(
        &mut self,
        parent: Option<&str>,
        config: &ContainerConfig,
    ) -> Result<String, BuildError> {
        let id = format!("{:064x}", 1000 + self.next);
        self.next += 1;
        self.containers.insert(
            id.clone(),
            (parent.map(str::to_string), config.clone(), Vec::new()),
        );
        Ok(id)
    }

    fn run(
        &mut self,
        container: &str,
        output: &mut dyn FnMut(Output, &[u8]),
    ) -> Result<i64, BuildError> {
        self.runs += 1;
        let (_, config, _) = &self.containers[container];
        let cmd = config.cmd.clone().unwrap_or_default().join(" ");
        let env = config.env.clone().unwrap_or_default().join(",");
        output(Output::Stdout, format!("ran {cmd} with {env}\n").as_bytes());
        output(Output::Stderr, b"to stderr\n");
        Ok(if cmd.contains("exit 3") { 3 } else { 0 })
    }

    fn copy_into(&mut self, container: &str, archive: std::fs::File) -> Result<(), BuildError> {
        let mut tar = tar::Archive::new(archive);
        let names: Vec<String> = tar
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().to_string_lossy().into_owned())
            .collect();
        self.copied.extend(names.iter().cloned());
        self.containers.get_mut(container).unwrap().2.extend(names);
        Ok(())
    }

    fn make_working_dir(&mut self, container: &str) -> Result<(), BuildError> {
        let c = self.containers.get_mut(container).unwrap();
        let dir = format!("{}/", c.1.working_dir.trim_start_matches('/'));
        c.2.push(dir);
        Ok(())
    }

    fn commit(&mut self, c: Commit<'_>) -> Result<String, BuildError> {
        let id = self.id();
        self.images.insert(
            id.clone(),
            (
                c.parent.map(str::to_string),
                c.config.clone(),
                c.step_config.clone(),
            ),
        );
        Ok(id)
    }

    fn remove(&mut self, container: &str) {
        self.removed.push(container.to_string());
        self.containers.remove(container);
    }

    fn extract_from_image(
        &mut self,
        image: &str,
        path: &str,
        into: &Path,
    ) -> Result<(), BuildError> {
        // Each image "holds" one file per path asked, naming the image.
        let name = Path::new(path)
            .file_name()
            .map_or("root".into(), |n| n.to_string_lossy().into_owned());
        std::fs::write(into.join(name), format!("{image}:{path}"))
            .map_err(|e| BuildError::new(e.to_string()))
    }

    fn download(&mut self, url: &str, into: &Path) -> Result<String, BuildError> {
        let name = url.rsplit('/').next().unwrap().to_string();
        std::fs::write(into.join(&name), format!("downloaded {url}")).unwrap();
        Ok(name)
    }

    fn tag(&mut self, image: &str, reference: &str) -> Result<(), BuildError> {
        self.tags.push((image.to_string(), reference.to_string()));
        Ok(())
    }
}

fn context(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, content) in files {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
    }
    dir
}

fn run_build(
    m: &mut Memory,
    dockerfile: &str,
    ctx: &Path,
    options: &BuildOptions,
) -> (Result<String, BuildError>, Vec<Event>) {
    let mut events = Vec::new();
    let result = build(dockerfile, ctx, options, m, &mut |e| events.push(e));
    (result, events)
}

fn text(events: &[Event]) -> String {
    events
        .iter()
        .map(|e| match e {
            Event::Stream(s) => s.clone(),
            Event::Built(id) => format!("<built {id}>\n"),
            Event::Tagged(t) => format!("<tagged {t}>\n"),
            Event::Status { status, .. } => format!("<status {status}>\n"),
        })
        .collect()
}

/// Each image's step command (its cache key and history line), joined by spaces.
fn step_commands(m: &Memory) -> Vec<String> {
    m.images
        .values()
        .filter_map(|(_, _, s)| s.cmd.clone())
        .map(|c| c.join(" "))
        .collect()
}

fn options() -> BuildOptions {
    BuildOptions {
        remove: true,
        tags: vec!["demo:1".into()],
        ..Default::default()
    }
}

const DOCKERFILE: &str = "FROM busybox\nENV A=1 B=\"two words\"\nLABEL x=y\nRUN echo building $A\nCOPY hello.txt /h/\nCOPY dir /d\nWORKDIR /w\nCMD [\"sh\", \"-c\", \"echo hi\"]\n";

#[test]
fn steps_stream_as_dockers_and_a_second_build_is_all_cache() {
    let ctx = context(&[("hello.txt", "hello\n"), ("dir/a", "a"), ("dir/sub/b", "b")]);
    let mut m = Memory::with_base();
    let (result, events) = run_build(&mut m, DOCKERFILE, ctx.path(), &options());
    let id = result.unwrap();
    let out = text(&events);
    assert!(
        out.starts_with("Step 1/8 : FROM busybox\n ---> base\n"),
        "{out}"
    );
    assert!(
        out.contains("Step 2/8 : ENV A=1 B=\"two words\"\n ---> "),
        "{out}"
    );
    assert!(
        out.contains("Step 4/8 : RUN echo building $A\n ---> Running in "),
        "{out}"
    );
    // The RUN saw the stage's environment; its standard error is coloured as Docker's.
    assert!(
        out.contains("ran /bin/sh -c echo building $A with PATH=/usr/bin:/bin,A=1,B=two words\n"),
        "{out}"
    );
    assert!(out.contains("\u{1b}[91mto stderr\n\u{1b}[0m"), "{out}");
    assert!(out.contains("Removing intermediate container "), "{out}");
    assert!(
        out.ends_with(&format!("<built {id}>\n<tagged demo:1>\n")),
        "{out}"
    );
    assert_eq!(m.runs, 1);
    // Every container a step made is gone; the COPYs put their files where Docker would.
    assert!(m.containers.is_empty());
    let (_, config, _) = &m.images[&id];
    assert_eq!(
        config.cmd.as_deref(),
        Some(&["sh".to_string(), "-c".into(), "echo hi".into()][..])
    );
    assert_eq!(config.working_dir, "/w");
    assert_eq!(config.labels.as_ref().unwrap()["x"], "y");
    // History and cache keys: Docker's `#(nop)` forms.
    let steps = step_commands(&m);
    assert!(
        steps.iter().any(|s| s == "/bin/sh -c #(nop)  LABEL x=y"),
        "{steps:?}"
    );
    assert!(
        steps
            .iter()
            .any(|s| s.starts_with("/bin/sh -c #(nop) COPY file:") && s.ends_with(" in /h/ ")),
        "{steps:?}"
    );
    assert!(
        steps
            .iter()
            .any(|s| s.starts_with("/bin/sh -c #(nop) COPY dir:") && s.ends_with(" in /d ")),
        "{steps:?}"
    );
    // Again: nothing runs, every step is the cache's, the same image comes out.
    let images = m.images.len();
    let (again, events) = run_build(&mut m, DOCKERFILE, ctx.path(), &options());
    assert_eq!(again.unwrap(), id);
    assert_eq!(m.runs, 1);
    assert_eq!(m.images.len(), images);
    assert_eq!(text(&events).matches(" ---> Using cache\n").count(), 7);
    // A file's time changed alone: still every step from the cache.
    let file = std::fs::File::options()
        .write(true)
        .open(ctx.path().join("hello.txt"))
        .unwrap();
    file.set_modified(std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(86_400))
        .unwrap();
    let (_, events) = run_build(&mut m, DOCKERFILE, ctx.path(), &options());
    assert_eq!(text(&events).matches(" ---> Using cache\n").count(), 7);
    // A file's content changed (not its time): that COPY and the steps after it miss.
    std::fs::write(ctx.path().join("hello.txt"), "changed\n").unwrap();
    let (_, events) = run_build(&mut m, DOCKERFILE, ctx.path(), &options());
    assert_eq!(text(&events).matches(" ---> Using cache\n").count(), 3);
    // `nocache`: every step runs.
    let no_cache = BuildOptions {
        no_cache: true,
        ..options()
    };
    let (_, events) = run_build(&mut m, DOCKERFILE, ctx.path(), &no_cache);
    assert_eq!(text(&events).matches("Using cache").count(), 0);
    assert_eq!(m.runs, 2);
}

#[test]
fn a_failing_run_reports_its_code_and_keeps_its_container_unless_forced() {
    let ctx = context(&[]);
    let mut m = Memory::with_base();
    let df = "FROM busybox\nRUN echo out; exit 3\n";
    let (result, _) = run_build(&mut m, df, ctx.path(), &options());
    let err = result.unwrap_err();
    assert_eq!(err.code, Some(3));
    assert_eq!(
        err.message,
        "The command '/bin/sh -c echo out; exit 3' returned a non-zero code: 3"
    );
    assert_eq!(m.containers.len(), 1, "kept for a look, as Docker keeps it");
    let forced = BuildOptions {
        force_remove: true,
        no_cache: true,
        ..options()
    };
    let (result, _) = run_build(&mut m, df, ctx.path(), &forced);
    assert!(result.is_err());
    assert_eq!(m.containers.len(), 1, "the forced build removed its own");
}

#[test]
fn build_args_reach_run_and_its_cache_key_and_unused_ones_are_told() {
    let ctx = context(&[]);
    let mut m = Memory::with_base();
    let df = "ARG BASE=busybox\nFROM $BASE\nARG V=default\nRUN echo $V\n";
    let mut opts = options();
    opts.build_args.insert("V".into(), Some("given".into()));
    opts.build_args.insert("NOPE".into(), Some("x".into()));
    opts.build_args
        .insert("HTTP_PROXY".into(), Some("http://proxy".into()));
    let (result, events) = run_build(&mut m, df, ctx.path(), &opts);
    result.unwrap();
    let out = text(&events);
    assert!(out.contains("Step 1/4 : ARG BASE=busybox"), "{out}");
    // The stage's environment, then the build args (the proxy too, though no ARG names it).
    assert!(
        out.contains("with PATH=/usr/bin:/bin,V=given,HTTP_PROXY=http://proxy\n"),
        "{out}"
    );
    assert!(
        out.contains("[Warning] One or more build-args [NOPE] were not consumed\n"),
        "{out}"
    );
    let keys = step_commands(&m);
    assert!(
        keys.iter().any(|k| k == "|1 V=given /bin/sh -c echo $V"),
        "{keys:?}"
    );
    // Another value misses the cache.
    opts.build_args.insert("V".into(), Some("other".into()));
    let (_, events) = run_build(&mut m, df, ctx.path(), &opts);
    assert!(text(&events).contains(",V=other,"));
    assert_eq!(m.runs, 2);
}

#[test]
fn build_args_as_moby_filters_them_for_run_and_its_cache_key() {
    let ctx = context(&[("f", "x")]);
    let mut m = Memory::with_base();
    // A valueless build arg (the client had no value for it) takes the ARG's default; ENV
    // hides an ARG of its name; the key lists the rest sorted; a proxy an ARG declares is in
    // the key, one it does not is only in the environment.
    let df =
        "FROM busybox\nARG Z=zed\nARG A\nARG HIDDEN=h\nENV HIDDEN=env\nARG https_proxy\nRUN true\n";
    let mut opts = options();
    opts.build_args.insert("Z".into(), None);
    opts.build_args.insert("A".into(), Some("a".into()));
    opts.build_args
        .insert("https_proxy".into(), Some("http://declared".into()));
    opts.build_args
        .insert("NO_PROXY".into(), Some("localhost".into()));
    let (result, events) = run_build(&mut m, df, ctx.path(), &opts);
    result.unwrap();
    let out = text(&events);
    assert!(
        out.contains(
            "ran /bin/sh -c true with PATH=/usr/bin:/bin,HIDDEN=env,Z=zed,A=a,https_proxy=http://declared,NO_PROXY=localhost\n"
        ),
        "{out}"
    );
    assert!(!out.contains("[Warning]"), "{out}");
    let keys = step_commands(&m);
    assert!(
        keys.iter()
            .any(|k| k == "|3 A=a Z=zed https_proxy=http://declared /bin/sh -c true"),
        "{keys:?}"
    );
    // Another proxy alone still hits the cache.
    opts.build_args
        .insert("NO_PROXY".into(), Some("elsewhere".into()));
    let runs = m.runs;
    let (result, _) = run_build(&mut m, df, ctx.path(), &opts);
    result.unwrap();
    assert_eq!(m.runs, runs);
}

#[test]
fn shell_owner_and_workdir_steps_as_docker_records_them() {
    let ctx = context(&[("f", "x")]);
    let mut m = Memory::with_base();
    let df = "FROM busybox\nSHELL [\"/bin/ash\", \"-eo\"]\nRUN echo in ash\nCMD echo cmd\nENTRYPOINT echo entry\nWORKDIR app\nCOPY --chown=7:8 f /f\n";
    let (result, events) = run_build(&mut m, df, ctx.path(), &options());
    let id = result.unwrap();
    let out = text(&events);
    assert!(out.contains("ran /bin/ash -eo echo in ash"), "{out}");
    let (_, config, _) = &m.images[&id];
    assert_eq!(config.shell.as_deref().unwrap(), ["/bin/ash", "-eo"]);
    assert_eq!(
        config.entrypoint.as_deref().unwrap(),
        ["/bin/ash", "-eo", "echo entry"]
    );
    assert_eq!(config.working_dir, "/app");
    let steps: Vec<(String, Option<String>)> = m
        .images
        .values()
        .filter_map(|(p, _, s)| s.cmd.clone().map(|c| (c.join(" "), p.clone())))
        .collect();
    let has = |prefix: &str| steps.iter().any(|(k, _)| k.starts_with(prefix));
    // Comments start with the stage's shell; WORKDIR records the path it resolved to, and
    // COPY the owner it was asked for.
    assert!(
        has("/bin/ash -eo #(nop)  CMD [\"/bin/ash\" \"-eo\" \"echo cmd\"]"),
        "{steps:?}"
    );
    assert!(
        has("/bin/ash -eo #(nop)  SHELL [/bin/ash -eo]"),
        "{steps:?}"
    );
    assert!(has("/bin/ash -eo #(nop) WORKDIR /app"), "{steps:?}");
    assert!(
        has("/bin/ash -eo #(nop) COPY --chown=7:8 file:"),
        "{steps:?}"
    );
    // WORKDIR made its directory in a container, committed and removed.
    assert!(m.removed.len() >= 3, "{:?}", m.removed);
    // Another owner is another step: the cache misses it.
    let df2 = df.replace("--chown=7:8", "--chown=7:9");
    let (result, events) = run_build(&mut m, &df2, ctx.path(), &options());
    result.unwrap();
    let out = text(&events);
    let last = out.rsplit("Step 7/7").next().unwrap();
    assert!(!last.contains("Using cache"), "{out}");
}

#[test]
fn add_takes_urls_and_local_files_in_one_instruction() {
    let ctx = context(&[("local.txt", "here")]);
    let mut m = Memory::with_base();
    // The container is removed after its commit: keep what it was given.
    let df = "FROM busybox\nADD http://example.invalid/a/remote.txt local.txt /dst/\n";
    let mut opts = options();
    opts.remove = false;
    let (result, events) = run_build(&mut m, df, ctx.path(), &opts);
    result.unwrap();
    let out = text(&events);
    assert!(out.contains("Step 2/2 : ADD http://"), "{out}");
    let steps = step_commands(&m);
    assert!(
        steps
            .iter()
            .any(|s| s.starts_with("/bin/sh -c #(nop) ADD multi:") && s.ends_with(" in /dst/ ")),
        "{steps:?}"
    );
    assert!(
        m.copied.iter().any(|n| n == "dst/remote.txt"),
        "{:?}",
        m.copied
    );
    assert!(
        m.copied.iter().any(|n| n == "dst/local.txt"),
        "{:?}",
        m.copied
    );
}

#[test]
fn sources_outside_the_context_and_buildkit_syntax_are_refused() {
    let outside = context(&[("secret", "s")]);
    let ctx = context(&[("in.txt", "x")]);
    std::os::unix::fs::symlink(outside.path().join("secret"), ctx.path().join("link")).unwrap();
    let mut m = Memory::with_base();
    for src in ["../secret", "link", "/../../etc/passwd"] {
        let df = format!("FROM busybox\nCOPY {src} /x\n");
        let (result, _) = run_build(&mut m, &df, ctx.path(), &options());
        assert_eq!(
            result.unwrap_err().message,
            format!("forbidden path outside the build context: {src} ()"),
            "{src}"
        );
    }
    let (result, _) = run_build(
        &mut m,
        "FROM busybox\nCOPY nothere /x\n",
        ctx.path(),
        &options(),
    );
    assert!(result
        .unwrap_err()
        .message
        .contains("file not found in build context"));
    let (result, _) = run_build(
        &mut m,
        "FROM busybox\nRUN --mount=type=cache,target=/c true\n",
        ctx.path(),
        &options(),
    );
    assert!(result.unwrap_err().message.contains("requires BuildKit"));
    assert_eq!(m.runs, 0);
}

#[test]
fn a_target_stops_at_its_stage_and_stages_build_on_each_other() {
    let ctx = context(&[]);
    let mut m = Memory::with_base();
    let df = "FROM busybox AS one\nENV STAGE=one\nFROM one AS two\nENV TWO=2\nFROM busybox\nCMD [\"last\"]\n";
    let mut opts = options();
    opts.target = Some("two".into());
    let (result, events) = run_build(&mut m, df, ctx.path(), &opts);
    let id = result.unwrap();
    let (_, config, _) = &m.images[&id];
    let env = config.env.clone().unwrap();
    assert!(
        env.contains(&"STAGE=one".to_string()) && env.contains(&"TWO=2".to_string()),
        "{env:?}"
    );
    assert!(
        text(&events).contains("Step 4/4 : ENV TWO=2"),
        "{}",
        text(&events)
    );
    opts.target = Some("nope".into());
    let (result, _) = run_build(&mut m, df, ctx.path(), &opts);
    assert_eq!(
        result.unwrap_err().message,
        "failed to reach build target nope in Dockerfile"
    );
}

/// Dockerfiles put together at random from instructions and words (the evaluator's
/// fuzzing: no fuzzer runs here, a seeded generator stands in for one): every build ends
/// with an image or an error, never a panic, and leaves no container behind.
#[test]
fn no_dockerfile_makes_the_evaluator_panic() {
    const INSTRUCTIONS: [&str; 19] = [
        "RUN ",
        "CMD ",
        "ENTRYPOINT ",
        "ENV ",
        "ARG ",
        "LABEL ",
        "EXPOSE ",
        "USER ",
        "WORKDIR ",
        "VOLUME ",
        "STOPSIGNAL ",
        "HEALTHCHECK ",
        "SHELL ",
        "ONBUILD ",
        "COPY ",
        "ADD ",
        "MAINTAINER ",
        "FROM ",
        "run ",
    ];
    const WORDS: [&str; 36] = [
        "a",
        "f",
        "dir",
        "dir/",
        "/x",
        "$A",
        "${A:-d}",
        "${B:+x}",
        "${C:?m}",
        "\"q\"",
        "'s'",
        "[\"/bin/sh\",\"-c\",\"x\"]",
        "[",
        "]",
        "--chown=1:2",
        "--chown=nobody",
        "--from=0",
        "--from=nope",
        "--interval=1s",
        "--retries=x",
        "CMD",
        "NONE",
        "80/tcp",
        "1-3",
        "=",
        "k=v",
        "..",
        "../up",
        "*",
        "?",
        "AS s",
        "\\\n",
        "#c",
        "busybox",
        "scratch",
        "exit 3",
    ];
    let ctx = context(&[("f", "file"), ("dir/a", "a"), ("dir/sub/b", "b")]);
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move |n: usize| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % n as u64) as usize
    };
    let mut built = 0;
    for _ in 0..3_000 {
        let mut df = String::new();
        if next(8) == 0 {
            df.push_str("# escape=`\n");
        }
        if next(6) == 0 {
            df.push_str("ARG A=1\n");
        }
        df.push_str("FROM busybox AS first\n");
        for _ in 0..1 + next(6) {
            df.push_str(INSTRUCTIONS[next(INSTRUCTIONS.len())]);
            for _ in 0..next(5) {
                df.push_str(WORDS[next(WORDS.len())]);
                df.push(' ');
            }
            df.push('\n');
        }
        let mut m = Memory::with_base();
        let mut opts = options();
        opts.force_remove = true;
        if next(3) == 0 {
            opts.build_args.insert("A".into(), None);
        }
        let (result, _) = run_build(&mut m, &df, ctx.path(), &opts);
        built += usize::from(result.is_ok());
        assert!(m.containers.is_empty(), "{df:?} left {:?}", m.containers);
    }
    // The generator makes buildable files too, not only errors.
    assert!(built > 300, "{built}");
}
