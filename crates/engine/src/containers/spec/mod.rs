//! What a container is asked to be: the engine's own types for Docker's `Config` and
//! `HostConfig`, with enums for closed sets and parsed values where the wire has strings.
//! Values are checked when they are made (`FromStr`, `new`), so an operation never meets a
//! setting it cannot read. berthd converts the wire types to these in one place; records
//! store them in berth's own schema (see `record`).

mod host;
mod mounts;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

use berth_network::Proto;
use serde::{Deserialize, Serialize};

use crate::error::EngineError;

pub use host::{
    CgroupnsMode, Device, HostConfig, IpcMode, LogConfig, LogDriver, NamespaceMode, NetworkMode,
    PortBinding, RestartPolicy, Ulimit, UtsMode, RUNTIME,
};
pub use mounts::{
    tmpfs_data, tmpfs_options, BindFlags, MountKind, MountSpec, Propagation, RawMount, TmpfsFlags,
    VolumeDriver, VolumeFlags,
};

fn invalid(msg: impl Into<String>) -> EngineError {
    EngineError::InvalidParameter(msg.into())
}

/// A container's whole configuration: the portable part and the host's part.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ContainerSpec {
    pub config: Config,
    pub host: HostConfig,
}

/// Which of the standard streams a client attaches to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Streams {
    pub stdin: bool,
    pub stdout: bool,
    pub stderr: bool,
}

/// The portable configuration (Docker's `Config`). `Option`s keep "not given" apart from
/// "given empty", because inspect shows the difference (`null` or `[]`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Config {
    pub image: String,
    pub hostname: String,
    pub domainname: String,
    pub user: String,
    pub attach: Streams,
    pub tty: bool,
    pub open_stdin: bool,
    pub stdin_once: bool,
    pub env: Option<Vec<String>>,
    pub cmd: Option<Vec<String>>,
    pub entrypoint: Option<Vec<String>>,
    pub working_dir: String,
    pub exposed_ports: Option<BTreeSet<Port>>,
    /// Paths that get an anonymous volume.
    pub volumes: Option<BTreeSet<String>>,
    pub network_disabled: bool,
    pub mac_address: String,
    pub on_build: Option<Vec<String>>,
    pub labels: Option<BTreeMap<String, String>>,
    pub stop_signal: Option<String>,
    /// Seconds a stop waits before it kills, when the stop does not say.
    pub stop_timeout: Option<i64>,
    pub healthcheck: Option<Healthcheck>,
    /// The shell of a Dockerfile's shell forms (`SHELL`), kept for the image's children and
    /// for `CMD-SHELL` health probes.
    pub shell: Option<Vec<String>>,
}

/// How to tell whether the container works (Docker's `HealthConfig`, and the same JSON as an
/// image's config holds it). Durations in nanoseconds; zero takes the default.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Healthcheck {
    /// `[]` inherit, `["NONE"]` off, `["CMD", args…]`, `["CMD-SHELL", command]`.
    pub test: Vec<String>,
    pub interval: i64,
    pub timeout: i64,
    pub start_period: i64,
    pub start_interval: i64,
    pub retries: i64,
}

impl Healthcheck {
    /// Docker's checks of a healthcheck given at create.
    pub fn validate(&self) -> Result<(), EngineError> {
        const MIN: i64 = 1_000_000;
        for (name, v) in [
            ("Interval", self.interval),
            ("Timeout", self.timeout),
            ("StartPeriod", self.start_period),
            ("StartInterval", self.start_interval),
        ] {
            if v != 0 && v < MIN {
                return Err(invalid(format!(
                    "{name} in Healthcheck cannot be less than 1ms"
                )));
            }
        }
        if self.retries < 0 {
            return Err(invalid("Retries in Healthcheck cannot be negative"));
        }
        match self.test.first().map(String::as_str) {
            None | Some("NONE" | "CMD" | "CMD-SHELL") => Ok(()),
            Some(other) => Err(invalid(format!(
                "unknown healthcheck type '{other}' (expected 'CMD' or 'CMD-SHELL')"
            ))),
        }
    }

    /// The command a probe runs (`CMD-SHELL` through the container's `shell`, else
    /// `/bin/sh -c`, as Docker's `getShell`); `None` when the check is off.
    pub fn probe_command(&self, shell: Option<&[String]>) -> Option<Vec<String>> {
        match self.test.split_first() {
            Some((kind, rest)) if kind == "CMD" && !rest.is_empty() => Some(rest.to_vec()),
            Some((kind, rest)) if kind == "CMD-SHELL" && !rest.is_empty() => {
                let mut argv = match shell {
                    Some(s) if !s.is_empty() => s.to_vec(),
                    _ => vec!["/bin/sh".into(), "-c".into()],
                };
                argv.push(rest.join(" "));
                Some(argv)
            }
            _ => None,
        }
    }

    /// This check with the image's under it, field by field, as Docker merges them.
    fn over(mut self, image: &Healthcheck) -> Healthcheck {
        if self.test.is_empty() {
            self.test = image.test.clone();
        }
        for (mine, theirs) in [
            (&mut self.interval, image.interval),
            (&mut self.timeout, image.timeout),
            (&mut self.start_period, image.start_period),
            (&mut self.start_interval, image.start_interval),
            (&mut self.retries, image.retries),
        ] {
            if *mine == 0 {
                *mine = theirs;
            }
        }
        self
    }
}

/// A container port: `80/tcp`, `53/udp` (a bare number is TCP).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct Port {
    pub number: u16,
    pub proto: Proto,
}

impl FromStr for Port {
    type Err = EngineError;

    fn from_str(key: &str) -> Result<Self, EngineError> {
        let (number, proto) = berth_network::parse_port_key(key).map_err(invalid)?;
        Ok(Port { number, proto })
    }
}

impl fmt::Display for Port {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.number, self.proto.as_str())
    }
}

impl From<Port> for String {
    fn from(p: Port) -> String {
        p.to_string()
    }
}

impl TryFrom<String> for Port {
    type Error = EngineError;

    fn try_from(s: String) -> Result<Self, EngineError> {
        s.parse()
    }
}

impl ContainerSpec {
    /// Every port the container exposes: its config's and every port that has bindings,
    /// in order.
    pub fn exposed_ports(&self) -> BTreeSet<Port> {
        let mut out: BTreeSet<Port> = self.config.exposed_ports.clone().unwrap_or_default();
        out.extend(
            self.host
                .port_bindings
                .iter()
                .flat_map(|m| m.keys().copied()),
        );
        out
    }
}

/// `{}`, the value of Docker's port and volume sets.
#[derive(Serialize)]
struct Empty {}

/// A container's config as an image keeps it (`config` and `container_config` of an image's
/// JSON, in Docker's names): what a commit writes.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ImageRunConfig<'a> {
    hostname: &'a str,
    domainname: &'a str,
    user: &'a str,
    attach_stdin: bool,
    attach_stdout: bool,
    attach_stderr: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    exposed_ports: Option<BTreeMap<String, Empty>>,
    tty: bool,
    open_stdin: bool,
    stdin_once: bool,
    env: &'a Option<Vec<String>>,
    cmd: &'a Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    healthcheck: &'a Option<Healthcheck>,
    image: &'a str,
    volumes: Option<BTreeMap<String, Empty>>,
    working_dir: &'a str,
    entrypoint: &'a Option<Vec<String>>,
    on_build: &'a Option<Vec<String>>,
    labels: &'a Option<BTreeMap<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stop_signal: &'a Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    shell: &'a Option<Vec<String>>,
}

impl<'a> ImageRunConfig<'a> {
    pub(crate) fn of(c: &'a Config) -> Self {
        ImageRunConfig {
            hostname: &c.hostname,
            domainname: &c.domainname,
            user: &c.user,
            attach_stdin: c.attach.stdin,
            attach_stdout: c.attach.stdout,
            attach_stderr: c.attach.stderr,
            exposed_ports: c
                .exposed_ports
                .as_ref()
                .map(|p| p.iter().map(|p| (p.to_string(), Empty {})).collect()),
            tty: c.tty,
            open_stdin: c.open_stdin,
            stdin_once: c.stdin_once,
            env: &c.env,
            cmd: &c.cmd,
            healthcheck: &c.healthcheck,
            image: &c.image,
            volumes: c
                .volumes
                .as_ref()
                .map(|v| v.iter().map(|p| (p.clone(), Empty {})).collect()),
            working_dir: &c.working_dir,
            entrypoint: &c.entrypoint,
            on_build: &c.on_build,
            labels: &c.labels,
            stop_signal: &c.stop_signal,
            shell: &c.shell,
        }
    }

    pub(crate) fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).expect("config serialises")
    }
}

/// The part of an image's config a container inherits (read from the image's JSON).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub(crate) struct ImageDefaults {
    env: Option<Vec<String>>,
    cmd: Option<Vec<String>>,
    entrypoint: Option<Vec<String>>,
    working_dir: String,
    user: String,
    exposed_ports: Option<BTreeMap<String, serde::de::IgnoredAny>>,
    volumes: Option<BTreeMap<String, serde::de::IgnoredAny>>,
    labels: Option<BTreeMap<String, String>>,
    on_build: Option<Vec<String>>,
    stop_signal: Option<String>,
    healthcheck: Option<Healthcheck>,
    shell: Option<Vec<String>>,
}

impl ImageDefaults {
    /// A container's own config as the defaults of a config committed from it.
    pub(crate) fn from_config(c: &Config) -> Self {
        ImageDefaults {
            env: c.env.clone(),
            cmd: c.cmd.clone(),
            entrypoint: c.entrypoint.clone(),
            working_dir: c.working_dir.clone(),
            user: c.user.clone(),
            exposed_ports: c.exposed_ports.as_ref().map(|p| {
                p.iter()
                    .map(|p| (p.to_string(), serde::de::IgnoredAny))
                    .collect()
            }),
            volumes: c.volumes.as_ref().map(|v| {
                v.iter()
                    .map(|p| (p.clone(), serde::de::IgnoredAny))
                    .collect()
            }),
            labels: c.labels.clone(),
            on_build: c.on_build.clone(),
            stop_signal: c.stop_signal.clone(),
            healthcheck: c.healthcheck.clone(),
            shell: c.shell.clone(),
        }
    }

    /// From an image's `config`; an image whose config does not read gives nothing.
    pub(crate) fn from_image(config: Option<&serde_json::Value>) -> Self {
        config
            .and_then(|c| serde_json::from_value(c.clone()).ok())
            .unwrap_or_default()
    }

    #[cfg(test)]
    pub(crate) fn for_test(
        env: &[&str],
        cmd: &[&str],
        entrypoint: &[&str],
        working_dir: &str,
        labels: &[(&str, &str)],
    ) -> Self {
        let list = |l: &[&str]| Some(l.iter().map(|s| s.to_string()).collect());
        ImageDefaults {
            env: list(env),
            cmd: list(cmd),
            entrypoint: list(entrypoint),
            working_dir: working_dir.into(),
            labels: Some(
                labels
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            ),
            ..Default::default()
        }
    }
}

pub(crate) fn env_key(kv: &str) -> &str {
    kv.split_once('=').map_or(kv, |(k, _)| k)
}

impl Config {
    /// Merges the image's config under the user's, as Docker does.
    pub(crate) fn merge_image(&mut self, image: ImageDefaults) {
        let mut env: Vec<String> = image.env.unwrap_or_default();
        for kv in self.env.take().unwrap_or_default() {
            match env.iter_mut().find(|e| env_key(e) == env_key(&kv)) {
                Some(slot) => *slot = kv,
                None => env.push(kv),
            }
        }
        self.env = Some(env);
        // An entrypoint given by the user drops the image's command too.
        if self.entrypoint.is_none() {
            self.entrypoint = image.entrypoint;
            if self.cmd.is_none() {
                self.cmd = image.cmd;
            }
        }
        if self.working_dir.is_empty() {
            self.working_dir = image.working_dir;
        }
        if self.user.is_empty() {
            self.user = image.user;
        }
        if let Some(ports) = image.exposed_ports {
            // A port the image names in a way no port is named is not inherited.
            let ports = ports.keys().filter_map(|k| k.parse::<Port>().ok());
            self.exposed_ports
                .get_or_insert_with(Default::default)
                .extend(ports);
        }
        if let Some(volumes) = image.volumes {
            self.volumes
                .get_or_insert_with(Default::default)
                .extend(volumes.into_keys());
        }
        if let Some(labels) = image.labels {
            let mine = self.labels.get_or_insert_with(BTreeMap::new);
            for (k, v) in labels {
                mine.entry(k).or_insert(v);
            }
        }
        if self.on_build.is_none() {
            self.on_build = image.on_build;
        }
        if self.stop_signal.is_none() {
            self.stop_signal = image.stop_signal;
        }
        if self.shell.is_none() {
            self.shell = image.shell;
        }
        self.healthcheck = match (self.healthcheck.take(), image.healthcheck) {
            (Some(mine), Some(theirs)) => Some(mine.over(&theirs)),
            (mine, theirs) => mine.or(theirs),
        };
    }

    /// The process to run: entrypoint then command.
    pub fn argv(&self) -> Vec<String> {
        let mut argv = self.entrypoint.clone().unwrap_or_default();
        argv.extend(self.cmd.clone().unwrap_or_default());
        argv
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_follows_docker_rules() {
        let image = || {
            ImageDefaults::for_test(
                &["PATH=/x", "A=1"],
                &["sh"],
                &["/init"],
                "/w",
                &[("l", "img")],
            )
        };
        let mut user = Config {
            env: Some(vec!["A=2".into(), "B=3".into()]),
            cmd: Some(vec!["echo".into()]),
            ..Default::default()
        };
        user.merge_image(image());
        assert_eq!(user.env.unwrap(), ["PATH=/x", "A=2", "B=3"]);
        assert_eq!(user.entrypoint.unwrap(), ["/init"]);
        assert_eq!(user.cmd.unwrap(), ["echo"]);
        assert_eq!(user.working_dir, "/w");
        assert_eq!(user.labels.unwrap()["l"], "img");
        let mut user = Config {
            entrypoint: Some(vec!["/mine".into()]),
            ..Default::default()
        };
        user.merge_image(image());
        assert_eq!(
            user.cmd, None,
            "a user entrypoint drops the image's command"
        );
    }

    #[test]
    fn ports_read_and_print_as_docker_names_them() {
        let p: Port = "53/udp".parse().unwrap();
        assert_eq!(
            (p.number, p.proto, p.to_string()),
            (53, Proto::Udp, "53/udp".into())
        );
        assert_eq!("80".parse::<Port>().unwrap().to_string(), "80/tcp");
        let bad = "http/tcp".parse::<Port>().unwrap_err().to_string();
        assert!(bad.contains("invalid containerPort: http"), "{bad}");
        assert!("80/sctp-ish".parse::<Port>().is_err());
        // Stored as the string, so ports can key a JSON map.
        let m: BTreeMap<Port, u8> = [(p, 1)].into();
        assert_eq!(serde_json::to_string(&m).unwrap(), r#"{"53/udp":1}"#);
    }
}
