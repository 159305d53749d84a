//! `docker commit --change`: Dockerfile instructions applied to the committed image's config,
//! as moby's `BuildFromConfig` applies them. Only the instructions that change a config are
//! allowed.

use std::collections::BTreeMap;

use berth_api_types::container::{ContainerConfig, Empty, HealthConfig};
use parse_dockerfile::{Command, HealthcheckArguments, Instruction, JsonOrStringArray};

use crate::lex::{LexError, Lexer};

/// Why a change cannot be applied; the message is Docker's where Docker has one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChangeError {
    #[error("{0} is not a valid change command")]
    NotAllowed(String),
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Lex(#[from] LexError),
}

/// The instructions a commit may carry (moby's `validCommitCommands`).
const ALLOWED: [&str; 11] = [
    "cmd",
    "entrypoint",
    "healthcheck",
    "env",
    "expose",
    "label",
    "onbuild",
    "stopsignal",
    "user",
    "volume",
    "workdir",
];

/// Applies each change (one instruction per entry; an entry may hold several lines) to
/// `config`, in order, variables expanded from its environment as it grows.
pub fn apply_changes(config: &mut ContainerConfig, changes: &[String]) -> Result<(), ChangeError> {
    let text: String = changes.join("\n");
    // Docker names an instruction it does not allow before it parses anything else.
    for line in text.lines() {
        let Some(word) = line.split_whitespace().next() else {
            continue;
        };
        if word.starts_with('#') {
            continue;
        }
        let word = word.to_ascii_lowercase();
        if !ALLOWED.contains(&word.as_str()) {
            return Err(ChangeError::NotAllowed(word));
        }
    }
    // The parser wants a stage: a FROM is put before the changes and skipped.
    let source = format!("FROM scratch\n{text}\n");
    let parsed = parse_dockerfile::parse(&source)
        .map_err(|e| ChangeError::Invalid(format!("dockerfile parse error: {e}")))?;
    let lexer = Lexer::default();
    let mut cmd_set = false;
    for instruction in parsed.instructions.iter().skip(1) {
        apply(config, instruction, &source, &lexer, &[], &mut cmd_set)?;
    }
    Ok(())
}

fn env(config: &ContainerConfig) -> Vec<String> {
    config.env.clone().unwrap_or_default()
}

/// CMD, ENTRYPOINT and RUN: the exec form as given, the shell form through the config's
/// shell (`SHELL`), `/bin/sh -c` without one.
/// A shell form's lines are joined first, as Docker's parser joins them (the shell never
/// sees the escape character that continued a line).
pub(crate) fn command(
    config: &ContainerConfig,
    c: &Command<'_>,
    escape: char,
) -> Result<Vec<String>, ChangeError> {
    match c {
        Command::Exec(args) => Ok(args.value.iter().map(|a| a.value.to_string()).collect()),
        Command::Shell(text) => Ok(shell_form(
            config,
            &crate::steps::join_lines(text.value, escape),
        )),
        _ => Err(ChangeError::Invalid("unsupported command form".into())),
    }
}

/// The config's shell (`SHELL`), `/bin/sh -c` without one.
pub(crate) fn shell(config: &ContainerConfig) -> Vec<String> {
    match &config.shell {
        Some(shell) if !shell.is_empty() => shell.clone(),
        _ => vec!["/bin/sh".into(), "-c".into()],
    }
}

/// `command` run by the config's shell.
fn shell_form(config: &ContainerConfig, command: &str) -> Vec<String> {
    let mut argv = shell(config);
    argv.push(command.to_string());
    argv
}

/// `KEY=VALUE` pairs (or, for ENV, the old `KEY VALUE` form), processed.
fn pairs(
    lexer: &Lexer,
    text: &str,
    env: &[String],
    legacy_allowed: bool,
    what: &str,
) -> Result<Vec<(String, String)>, ChangeError> {
    let words = lexer.process_words(text, env)?;
    let Some(first) = words.first() else {
        return Err(ChangeError::Invalid(format!(
            "{what} requires at least one argument"
        )));
    };
    if !first.contains('=') {
        if !legacy_allowed {
            return Err(ChangeError::Invalid(format!(
                "Syntax error - can't find = in \"{first}\". Must be of the form: name=value"
            )));
        }
        // `ENV KEY VALUE…`: the value is the rest of the line, as one word.
        let rest = text.trim_start()[text
            .trim_start()
            .find(char::is_whitespace)
            .unwrap_or(text.len())..]
            .trim();
        if rest.is_empty() {
            return Err(ChangeError::Invalid(format!(
                "{what} must have two arguments"
            )));
        }
        return Ok(vec![(first.clone(), lexer.process_word(rest, env)?)]);
    }
    words
        .into_iter()
        .map(|w| match w.split_once('=') {
            Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
            _ => Err(ChangeError::Invalid(format!(
                "Syntax error - can't find = in \"{w}\". Must be of the form: name=value"
            ))),
        })
        .collect()
}

/// Go's `time.ParseDuration` for what HEALTHCHECK takes (`30s`, `1m30s`, `1.5s`, `500ms`),
/// in nanoseconds. Written here: it is one small grammar, and no crate reads Go's exactly.
fn go_duration(s: &str) -> Option<i64> {
    let mut total = 0f64;
    let mut rest = s;
    if rest.is_empty() {
        return None;
    }
    if rest == "0" {
        return Some(0);
    }
    while !rest.is_empty() {
        let num_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number: f64 = rest[..num_end].parse().ok()?;
        rest = &rest[num_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_end] {
            "ns" => 1.0,
            "us" | "µs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        total += number * scale;
        rest = &rest[unit_end..];
    }
    Some(total as i64)
}

/// One instruction of a build that changes only the config (CMD, ENV, LABEL, …), its words
/// expanded with `vars` (the stage's ARGs) and the config's environment, which wins.
/// `source` is the Dockerfile the instruction is in; `cmd_set`, whether the stage set a CMD.
/// Returns the step's comment as moby's dispatchers write it in the image's history
/// (`ENV A=1`, `CMD ["/bin/sh" "-c" "x"]`, `VOLUME [/data]`).
pub fn apply_instruction(
    config: &mut ContainerConfig,
    instruction: &Instruction<'_>,
    source: &str,
    lexer: &Lexer,
    vars: &[String],
    cmd_set: &mut bool,
) -> Result<String, ChangeError> {
    apply(config, instruction, source, lexer, vars, cmd_set)
}

fn apply(
    config: &mut ContainerConfig,
    instruction: &Instruction<'_>,
    source: &str,
    lexer: &Lexer,
    vars: &[String],
    cmd_set: &mut bool,
) -> Result<String, ChangeError> {
    let env: Vec<String> = vars.iter().cloned().chain(env(config)).collect();
    let comment = match instruction {
        Instruction::Cmd(i) => {
            let cmd = command(config, &i.arguments, lexer.escape)?;
            let comment = format!("CMD {}", go_quoted(&cmd));
            config.cmd = Some(cmd);
            *cmd_set = true;
            comment
        }
        Instruction::Entrypoint(i) => {
            let entrypoint = command(config, &i.arguments, lexer.escape)?;
            let comment = format!("ENTRYPOINT {}", go_quoted(&entrypoint));
            config.entrypoint = Some(entrypoint);
            // As Docker: a new entrypoint drops an inherited command.
            if !*cmd_set {
                config.cmd = None;
            }
            comment
        }
        Instruction::Env(i) => {
            let mut comment = "ENV".to_string();
            for (k, v) in pairs(lexer, &i.arguments.value, &env, true, "ENV")? {
                comment.push_str(&format!(" {k}={v}"));
                let list = config.env.get_or_insert_with(Vec::new);
                let entry = format!("{k}={v}");
                match list.iter_mut().find(|e| crate::lex::env_key(e) == k) {
                    Some(slot) => *slot = entry,
                    None => list.push(entry),
                }
            }
            comment
        }
        Instruction::Label(i) => {
            let mut comment = "LABEL".to_string();
            let labels = config.labels.get_or_insert_with(BTreeMap::new);
            for (k, v) in pairs(lexer, &i.arguments.value, &env, false, "LABEL")? {
                comment.push_str(&format!(" {k}={v}"));
                labels.insert(k, v);
            }
            comment
        }
        Instruction::Expose(i) => {
            let mut specs = Vec::new();
            let ports = config.exposed_ports.get_or_insert_with(BTreeMap::new);
            for arg in &i.arguments {
                for spec in lexer.process_words(&arg.value, &env)? {
                    for port in expand_port(&spec)? {
                        ports.insert(port, Empty {});
                    }
                    specs.push(spec);
                }
            }
            format!("EXPOSE {}", specs.join(" "))
        }
        Instruction::User(i) => {
            config.user = lexer.process_word(&i.arguments.value, &env)?;
            format!("USER {}", config.user)
        }
        Instruction::Stopsignal(i) => {
            let signal = lexer.process_word(&i.arguments.value, &env)?;
            config.stop_signal = Some(signal.clone());
            format!("STOPSIGNAL {signal}")
        }
        Instruction::Workdir(i) => {
            let dir = lexer.process_word(&i.arguments.value, &env)?;
            let joined = if dir.starts_with('/') {
                dir
            } else {
                format!("{}/{dir}", config.working_dir)
            };
            config.working_dir = clean_path(&joined);
            format!("WORKDIR {}", config.working_dir)
        }
        Instruction::Volume(i) => {
            let paths: Vec<String> = match &i.arguments {
                JsonOrStringArray::Json(a) => a.value.iter().map(|v| v.value.to_string()).collect(),
                JsonOrStringArray::String(words) => {
                    let mut out = Vec::new();
                    for w in words {
                        out.extend(lexer.process_words(&w.value, &env)?);
                    }
                    out
                }
            };
            let volumes = config.volumes.get_or_insert_with(BTreeMap::new);
            for p in &paths {
                let p = p.trim().to_string();
                if p.is_empty() {
                    return Err(ChangeError::Invalid(
                        "VOLUME specified can not be an empty string".into(),
                    ));
                }
                volumes.insert(p, Empty {});
            }
            format!("VOLUME [{}]", paths.join(" "))
        }
        Instruction::Onbuild(i) => {
            // The trigger as written, after the ONBUILD keyword.
            let start = i.onbuild.span.end;
            let end = instruction_end(source, start);
            let trigger = source[start..end].trim().to_string();
            let first = trigger
                .split_whitespace()
                .next()
                .unwrap_or_default()
                .to_ascii_uppercase();
            if matches!(first.as_str(), "ONBUILD" | "FROM" | "MAINTAINER") {
                return Err(ChangeError::Invalid(format!(
                    "{first} isn't allowed as an ONBUILD trigger"
                )));
            }
            let comment = format!("ONBUILD {trigger}");
            config.on_build.get_or_insert_with(Vec::new).push(trigger);
            comment
        }
        Instruction::Healthcheck(i) => {
            let mut health = HealthConfig::default();
            for flag in &i.options {
                let name = flag.name.value.as_ref();
                let value = flag
                    .value
                    .as_ref()
                    .map(|v| v.value.to_string())
                    .unwrap_or_default();
                let duration = || {
                    go_duration(&value).ok_or_else(|| {
                        ChangeError::Invalid(format!("time: invalid duration \"{value}\""))
                    })
                };
                match name {
                    "interval" => health.interval = duration()?,
                    "timeout" => health.timeout = duration()?,
                    "start-period" => health.start_period = duration()?,
                    "start-interval" => health.start_interval = duration()?,
                    "retries" => {
                        health.retries = value.parse().map_err(|_| {
                            ChangeError::Invalid(format!("invalid retries value \"{value}\""))
                        })?
                    }
                    other => return Err(ChangeError::Invalid(format!("Unknown flag: {other}"))),
                }
            }
            health.test = Some(match &i.arguments {
                HealthcheckArguments::None { .. } => vec!["NONE".into()],
                HealthcheckArguments::Cmd { arguments, .. } => match arguments {
                    Command::Shell(text) => vec![
                        "CMD-SHELL".into(),
                        crate::steps::join_lines(text.value, lexer.escape),
                    ],
                    exec => std::iter::once("CMD".to_string())
                        .chain(command(config, exec, lexer.escape)?)
                        .collect(),
                },
                _ => return Err(ChangeError::Invalid("unknown HEALTHCHECK form".into())),
            });
            let comment = health_comment(&health);
            config.healthcheck = Some(health);
            comment
        }
        other => {
            // The up-front check lets only allowed instructions through.
            return Err(ChangeError::NotAllowed(format!("{other:?}")));
        }
    };
    Ok(comment)
}

/// A list as Go's `%q` prints a `[]string`: `["a" "b c"]`.
pub(crate) fn go_quoted(list: &[String]) -> String {
    let quoted: Vec<String> = list.iter().map(|s| go_quote(s)).collect();
    format!("[{}]", quoted.join(" "))
}

/// A string as Go's `strconv.Quote` writes it.
fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `HEALTHCHECK %+v` of moby's `*HealthConfig`.
fn health_comment(h: &HealthConfig) -> String {
    format!(
        "HEALTHCHECK &{{Test:[{}] Interval:{} Timeout:{} StartPeriod:{} StartInterval:{} Retries:{}}}",
        h.test.clone().unwrap_or_default().join(" "),
        berth_gofmt::duration(h.interval),
        berth_gofmt::duration(h.timeout),
        berth_gofmt::duration(h.start_period),
        berth_gofmt::duration(h.start_interval),
        h.retries
    )
}

/// Where the instruction starting at `start` ends: the end of its line, continuation lines
/// (a trailing `\`) included.
fn instruction_end(source: &str, start: usize) -> usize {
    let mut end = start;
    for line in source[start..].split_inclusive('\n') {
        end += line.len();
        if !line.trim_end().ends_with('\\') {
            break;
        }
    }
    end
}

/// `filepath.Clean` of an absolute path.
pub(crate) fn clean_path(p: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for c in p.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    format!("/{}", parts.join("/"))
}

/// `80`, `80/udp`, `8000-8002/tcp` as Docker's port keys.
fn expand_port(spec: &str) -> Result<Vec<String>, ChangeError> {
    let (ports, proto) = spec.split_once('/').unwrap_or((spec, "tcp"));
    let bad = || ChangeError::Invalid(format!("invalid containerPort: {spec}"));
    let (first, last) = match ports.split_once('-') {
        Some((a, b)) => (
            a.parse::<u16>().map_err(|_| bad())?,
            b.parse::<u16>().map_err(|_| bad())?,
        ),
        None => {
            let p = ports.parse::<u16>().map_err(|_| bad())?;
            (p, p)
        }
    };
    if last < first {
        return Err(bad());
    }
    Ok((first..=last)
        .map(|p| format!("{p}/{}", proto.to_ascii_lowercase()))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> ContainerConfig {
        ContainerConfig {
            env: Some(vec!["PATH=/bin".into(), "APP=/srv".into()]),
            cmd: Some(vec!["sh".into()]),
            working_dir: "/srv".into(),
            ..Default::default()
        }
    }

    fn changed(changes: &[&str]) -> ContainerConfig {
        let mut c = base();
        let changes: Vec<String> = changes.iter().map(|s| s.to_string()).collect();
        apply_changes(&mut c, &changes).unwrap();
        c
    }

    #[test]
    fn each_step_is_commented_as_mobys_dispatchers_write_it() {
        let source = "FROM scratch\nENV A=1 B=\"two words\"\nENV OLD some value\nLABEL v=\"1.0\" t=$A\nEXPOSE 80 53/udp\nUSER app\nSTOPSIGNAL SIGINT\nWORKDIR x/../y\nVOLUME /a /b\nVOLUME [\"/c\"]\nONBUILD RUN echo hi\nCMD echo \"q\"\nENTRYPOINT [\"/e\", \"a\\\\b\"]\nHEALTHCHECK --interval=90s --timeout=1500ms --retries=2 CMD curl -f http://x/\n";
        let parsed = parse_dockerfile::parse(source).unwrap();
        let mut config = base();
        let mut cmd_set = false;
        let comments: Vec<String> = parsed
            .instructions
            .iter()
            .skip(1)
            .map(|i| {
                apply_instruction(&mut config, i, source, &Lexer::default(), &[], &mut cmd_set)
                    .unwrap()
            })
            .collect();
        assert_eq!(
            comments,
            [
                "ENV A=1 B=two words",
                "ENV OLD=some value",
                "LABEL v=1.0 t=1",
                "EXPOSE 80 53/udp",
                "USER app",
                "STOPSIGNAL SIGINT",
                "WORKDIR /srv/y",
                "VOLUME [/a /b]",
                "VOLUME [/c]",
                "ONBUILD RUN echo hi",
                "CMD [\"/bin/sh\" \"-c\" \"echo \\\"q\\\"\"]",
                "ENTRYPOINT [\"/e\" \"a\\\\b\"]",
                "HEALTHCHECK &{Test:[CMD-SHELL curl -f http://x/] Interval:1m30s Timeout:1.5s StartPeriod:0s StartInterval:0s Retries:2}",
            ]
        );
    }

    #[test]
    fn each_instruction_a_commit_may_carry() {
        let c = changed(&[
            "CMD [\"run\", \"--fast\"]",
            "ENV MODE=prod HOME_DIR=$APP/home",
            "ENV LEGACY some value",
            "EXPOSE 80 53/udp 8000-8001",
            "LABEL version=\"1.0\" team=core",
            "USER app",
            "WORKDIR data",
            "VOLUME [\"/cache\"]",
            "VOLUME /logs /tmp/x",
            "STOPSIGNAL SIGINT",
            "ONBUILD RUN echo hi",
            "HEALTHCHECK --interval=30s --timeout=1m30s --retries=2 CMD curl -f http://x/",
        ]);
        assert_eq!(c.cmd.unwrap(), ["run", "--fast"]);
        let env = c.env.unwrap();
        assert!(env.contains(&"MODE=prod".to_string()), "{env:?}");
        assert!(env.contains(&"HOME_DIR=/srv/home".to_string()), "{env:?}");
        assert!(env.contains(&"LEGACY=some value".to_string()), "{env:?}");
        let ports: Vec<_> = c.exposed_ports.unwrap().into_keys().collect();
        assert_eq!(ports, ["53/udp", "80/tcp", "8000/tcp", "8001/tcp"]);
        let labels = c.labels.unwrap();
        assert_eq!(labels["version"], "1.0");
        assert_eq!(labels["team"], "core");
        assert_eq!(c.user, "app");
        assert_eq!(c.working_dir, "/srv/data");
        let volumes: Vec<_> = c.volumes.unwrap().into_keys().collect();
        assert_eq!(volumes, ["/cache", "/logs", "/tmp/x"]);
        assert_eq!(c.stop_signal.as_deref(), Some("SIGINT"));
        assert_eq!(c.on_build.unwrap(), ["RUN echo hi"]);
        let h = c.healthcheck.unwrap();
        assert_eq!(h.test.unwrap(), ["CMD-SHELL", "curl -f http://x/"]);
        assert_eq!(
            (h.interval, h.timeout, h.retries),
            (30_000_000_000, 90_000_000_000, 2)
        );
    }

    #[test]
    fn entrypoint_drops_an_inherited_command_and_shell_forms_use_sh() {
        let c = changed(&["ENTRYPOINT /start.sh"]);
        assert_eq!(c.entrypoint.unwrap(), ["/bin/sh", "-c", "/start.sh"]);
        assert_eq!(c.cmd, None);
        let c = changed(&["CMD [\"x\"]", "ENTRYPOINT [\"e\"]"]);
        assert_eq!(c.cmd.unwrap(), ["x"]);
        let c = changed(&["HEALTHCHECK NONE"]);
        assert_eq!(c.healthcheck.unwrap().test.unwrap(), ["NONE"]);
    }

    #[test]
    fn what_a_commit_may_not_carry_is_refused_as_docker_words_it() {
        let mut c = base();
        for (change, message) in [
            ("RUN echo hi", "run is not a valid change command"),
            ("FROM busybox", "from is not a valid change command"),
            ("BOGUS x", "bogus is not a valid change command"),
            (
                "LABEL novalue",
                "Syntax error - can't find = in \"novalue\". Must be of the form: name=value",
            ),
            ("ONBUILD FROM x", "FROM isn't allowed as an ONBUILD trigger"),
            ("EXPOSE http", "invalid containerPort: http"),
            (
                "HEALTHCHECK --interval=soon CMD true",
                "time: invalid duration \"soon\"",
            ),
        ] {
            let err = apply_changes(&mut c, &[change.to_string()]).unwrap_err();
            assert_eq!(err.to_string(), message, "{change}");
        }
    }

    #[test]
    fn durations_read_as_go_reads_them() {
        assert_eq!(go_duration("30s"), Some(30_000_000_000));
        assert_eq!(go_duration("1m30s"), Some(90_000_000_000));
        assert_eq!(go_duration("1.5s"), Some(1_500_000_000));
        assert_eq!(go_duration("500ms"), Some(500_000_000));
        assert_eq!(go_duration("0"), Some(0));
        assert_eq!(go_duration("10"), None);
        assert_eq!(go_duration(""), None);
    }
}
