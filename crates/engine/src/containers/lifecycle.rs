//! Container lifecycle: create, start, stop, kill, restart, wait, remove, rename, pause —
//! and the monitor's side of it: noticing an exit, recording it, applying restart policies,
//! and reconnecting after a daemon restart.

use std::collections::BTreeMap;
use std::io::BufRead;
use std::os::unix::process::CommandExt;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use berth_runtime::monitor::{ExitRecord, MonitorArgs, MonitorState, StartReport};
use berth_runtime::rootfs::OverlayDirs;
use berth_runtime::spec::{container_spec, SpecParams};

use super::host_files;
use super::names;
use super::procs;
use super::record::{Config, ContainerRecord, HostConfig, State, Status, ZERO_TIME};
use super::settings;
use super::volumes;
use super::{net, ContainerService, Entry};
use crate::error::EngineError;

pub(crate) const DEFAULT_PATH: &str =
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// What `create` needs: the user's config and host config (image not yet merged) and a name.
#[derive(Debug, Clone, Default)]
pub struct CreateRequest {
    pub name: String,
    pub config: Config,
    pub host_config: HostConfig,
}

fn now() -> String {
    jiff::Timestamp::now().to_string()
}

pub(crate) fn env_key(kv: &str) -> &str {
    kv.split_once('=').map_or(kv, |(k, _)| k)
}

/// Merges the image's config under the user's, as Docker does.
fn merge(user: &mut Config, image: &Config) {
    let mut env: Vec<String> = image.env.clone().unwrap_or_default();
    for kv in user.env.take().unwrap_or_default() {
        match env.iter_mut().find(|e| env_key(e) == env_key(&kv)) {
            Some(slot) => *slot = kv,
            None => env.push(kv),
        }
    }
    user.env = Some(env);
    // An entrypoint given by the user drops the image's command too.
    if user.entrypoint.is_none() {
        user.entrypoint = image.entrypoint.clone();
        if user.cmd.is_none() {
            user.cmd = image.cmd.clone();
        }
    }
    if user.working_dir.is_empty() {
        user.working_dir = image.working_dir.clone();
    }
    if user.user.is_empty() {
        user.user = image.user.clone();
    }
    for (mine, theirs) in [
        (&mut user.exposed_ports, &image.exposed_ports),
        (&mut user.volumes, &image.volumes),
    ] {
        if let Some(t) = theirs {
            let m = mine.get_or_insert_with(BTreeMap::new);
            for (k, v) in t {
                m.entry(k.clone()).or_insert_with(|| v.clone());
            }
        }
    }
    if let Some(labels) = &image.labels {
        let m = user.labels.get_or_insert_with(BTreeMap::new);
        for (k, v) in labels {
            m.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
    if user.on_build.is_none() {
        user.on_build = image.on_build.clone();
    }
    if user.stop_signal.is_none() {
        user.stop_signal = image.stop_signal.clone();
    }
}

/// A small file of the container's (`etc/passwd`), resolved as the container sees it: its
/// symlinks stay inside its root, as Docker resolves them in scope. Empty when it is missing
/// or not a regular file: it is looked at (`O_PATH`) before it is opened, so a device node
/// or FIFO planted there is never opened by the daemon.
fn read_in_root(rootfs: &std::path::Path, path: &str) -> String {
    use rustix::fs::{Mode, OFlags, ResolveFlags};
    use std::io::Read;
    const LIMIT: u64 = 16 << 20;
    let Ok(root) = rustix::fs::open(
        rootfs,
        OFlags::DIRECTORY | OFlags::RDONLY | OFlags::CLOEXEC,
        Mode::empty(),
    ) else {
        return String::new();
    };
    let located = (0..3)
        .map(|_| {
            rustix::fs::openat2(
                &root,
                path,
                OFlags::PATH | OFlags::CLOEXEC,
                Mode::empty(),
                ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS,
            )
        })
        // EAGAIN: a rename somewhere in the container raced the lookup.
        .find(|r| !matches!(r, Err(rustix::io::Errno::AGAIN)));
    let Some(Ok(located)) = located else {
        return String::new();
    };
    let regular = rustix::fs::fstat(&located).is_ok_and(|st| {
        rustix::fs::FileType::from_raw_mode(st.st_mode) == rustix::fs::FileType::RegularFile
    });
    if !regular {
        return String::new();
    }
    let reopened = format!(
        "/proc/self/fd/{}",
        std::os::fd::AsRawFd::as_raw_fd(&located)
    );
    let Ok(file) = std::fs::File::open(reopened) else {
        return String::new();
    };
    let mut text = String::new();
    let _ = file.take(LIMIT).read_to_string(&mut text);
    text
}

/// A container's `/etc/passwd` and `/etc/group`, each read at most once, when first needed.
pub(crate) struct UserFiles<'a> {
    rootfs: &'a std::path::Path,
    passwd: std::cell::OnceCell<String>,
    group: std::cell::OnceCell<String>,
}

impl<'a> UserFiles<'a> {
    pub(crate) fn new(rootfs: &'a std::path::Path) -> UserFiles<'a> {
        UserFiles {
            rootfs,
            passwd: Default::default(),
            group: Default::default(),
        }
    }

    fn passwd(&self) -> &str {
        self.passwd
            .get_or_init(|| read_in_root(self.rootfs, "etc/passwd"))
    }

    fn group(&self) -> &str {
        self.group
            .get_or_init(|| read_in_root(self.rootfs, "etc/group"))
    }

    /// The home directory of `uid`, `/` when it has none: the `HOME` a process gets when its
    /// environment does not set one, as runc gives it.
    pub(crate) fn home_dir(&self, uid: u32) -> String {
        self.passwd()
            .lines()
            .map(|l| l.split(':').collect::<Vec<_>>())
            .find(|f| f.len() >= 6 && f[2].parse() == Ok(uid))
            .map(|f| f[5].to_string())
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "/".to_string())
    }

    /// Resolves `user` (`name`, `uid`, `uid:gid`, `name:group`): uid, gid and supplementary
    /// groups.
    pub(crate) fn resolve(&self, user: &str) -> Result<(u32, u32, Vec<u32>), EngineError> {
        if user.is_empty() {
            return Ok((0, 0, Vec::new()));
        }
        let (u, g) = user
            .split_once(':')
            .map_or((user, None), |(u, g)| (u, Some(g)));
        let entry = self
            .passwd()
            .lines()
            .map(|l| l.split(':').collect::<Vec<_>>())
            .find(|f| f.len() >= 4 && (f[0] == u || f[2] == u));
        let (uid, mut gid) = match (u.parse::<u32>(), &entry) {
            (_, Some(f)) => (f[2].parse().unwrap_or(0), f[3].parse().unwrap_or(0)),
            (Ok(n), None) => (n, 0),
            (Err(_), None) => {
                return Err(EngineError::InvalidParameter(format!(
                    "unable to find user {u}: no matching entries in passwd file"
                )))
            }
        };
        if let Some(g) = g {
            gid = match g.parse::<u32>() {
                Ok(n) => n,
                Err(_) => self
                    .group()
                    .lines()
                    .map(|l| l.split(':').collect::<Vec<_>>())
                    .find(|f| f.len() >= 3 && f[0] == g)
                    .and_then(|f| f[2].parse().ok())
                    .ok_or_else(|| {
                        EngineError::InvalidParameter(format!(
                            "unable to find group {g}: no matching entries in group file"
                        ))
                    })?,
            };
        }
        let name = entry.as_ref().map(|f| f[0]).unwrap_or("");
        let extra: Vec<u32> = self
            .group()
            .lines()
            .map(|l| l.split(':').collect::<Vec<_>>())
            .filter(|f| f.len() >= 4 && !name.is_empty() && f[3].split(',').any(|m| m == name))
            .filter_map(|f| f[2].parse().ok())
            .filter(|g| *g != gid)
            .collect();
        Ok((uid, gid, extra))
    }
}

/// `/etc/hosts` lines as (address, names).
type HostsLines = Vec<(String, String)>;

/// How long to wait before the next restart, as Docker's restart manager decides it: 100 ms,
/// doubling at each restart up to a minute; a run of 10 s or more starts it over.
fn next_restart_delay(previous: Option<Duration>, ran_for: Duration) -> Duration {
    const FIRST: Duration = Duration::from_millis(100);
    const MOST: Duration = Duration::from_secs(60);
    match previous {
        Some(p) if ran_for < Duration::from_secs(10) => (p * 2).min(MOST),
        _ => FIRST,
    }
}

/// How long a run lasted, from the record's `StartedAt` and `FinishedAt`.
fn run_length(started_at: &str, finished_at: &str) -> Duration {
    match (
        started_at.parse::<jiff::Timestamp>(),
        finished_at.parse::<jiff::Timestamp>(),
    ) {
        (Ok(a), Ok(b)) => Duration::try_from(b.duration_since(a)).unwrap_or_default(),
        _ => Duration::ZERO,
    }
}

impl ContainerService {
    fn name_taken(&self, name: &str) -> Option<String> {
        let map = self.containers.read().expect("lock");
        map.values()
            .map(|e| e.snapshot())
            .find(|r| r.name == name)
            .map(|r| r.id)
    }

    fn conflict_name(name: &str, id: &str) -> EngineError {
        EngineError::Conflict(format!(
            "Conflict. The container name \"{name}\" is already in use by container \"{id}\". You have to remove (or rename) that container to be able to reuse that name."
        ))
    }

    /// `POST /containers/create`.
    pub fn create(&self, mut req: CreateRequest) -> Result<ContainerRecord, EngineError> {
        if req.config.image.is_empty() {
            return Err(EngineError::InvalidParameter(
                "Config.Image is required".into(),
            ));
        }
        let image = self
            .images
            .resolve(&req.config.image)
            .map_err(|e| match e {
                berth_image::ImageError::NotFound(_) => {
                    EngineError::NotFound(format!("No such image: {}", req.config.image))
                }
                other => other.into(),
            })?;
        let image_config: Config = image
            .config
            .config
            .as_ref()
            .and_then(|c| serde_json::from_value(c.clone()).ok())
            .unwrap_or_default();
        merge(&mut req.config, &image_config);
        let mut argv: Vec<String> = req.config.entrypoint.clone().unwrap_or_default();
        argv.extend(req.config.cmd.clone().unwrap_or_default());
        if argv.is_empty() {
            return Err(EngineError::InvalidParameter("No command specified".into()));
        }
        match req.host_config.restart_policy.name.as_str() {
            "" | "no" | "always" | "unless-stopped" | "on-failure" => {}
            other => {
                return Err(EngineError::InvalidParameter(format!(
                    "invalid restart policy '{other}'"
                )))
            }
        }
        if req.host_config.restart_policy.maximum_retry_count < 0 {
            return Err(EngineError::InvalidParameter(
                "maximum retry count cannot be negative".into(),
            ));
        }
        if req.host_config.restart_policy.name != "on-failure"
            && req.host_config.restart_policy.maximum_retry_count > 0
        {
            return Err(EngineError::InvalidParameter(format!(
                "maximum retry count cannot be used with restart policy '{}'",
                req.host_config.restart_policy.name
            )));
        }
        settings::validate(&req.host_config)?;
        match req.host_config.log_config.kind.as_str() {
            "" => req.host_config.log_config.kind = "json-file".into(),
            "json-file" | "none" => {}
            other => {
                // Docker's message for a driver it does not have.
                return Err(EngineError::InvalidParameter(format!(
                    "logger: no log driver named '{other}' is registered"
                )));
            }
        }
        if req.host_config.network_mode.is_empty() {
            req.host_config.network_mode = "default".into();
        }
        let id = loop {
            let bytes: [u8; 32] = rand::random();
            let id: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
            // Docker avoids IDs that look like numbers (they would be ambiguous with PIDs).
            if !id[..12].bytes().all(|b| b.is_ascii_digit()) {
                break id;
            }
        };
        let name = if req.name.is_empty() {
            let mut n = format!("/{}", names::generate(0));
            let mut retry = 1;
            while self.name_taken(&n).is_some() {
                n = format!("/{}", names::generate(retry));
                retry += 1;
            }
            n
        } else {
            if !names::valid(&req.name) {
                return Err(EngineError::InvalidParameter(format!(
                    "Invalid container name ({}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed",
                    req.name
                )));
            }
            format!("/{}", req.name.trim_start_matches('/'))
        };
        if req.config.hostname.is_empty() {
            req.config.hostname = id[..12].to_string();
        }
        let record = ContainerRecord {
            schema: 1,
            id: id.clone(),
            name: name.clone(),
            created: now(),
            image_id: image.id.to_string(),
            path: argv[0].clone(),
            args: argv[1..].to_vec(),
            config: req.config,
            host_config: req.host_config,
            state: State::default(),
            restart_count: 0,
            mounts: Vec::new(),
            network: None,
        };
        let mut record = record;
        net::validate(&record)?;
        for spec in record.host_config.links.iter().flatten() {
            let (name, _) = net::parse_link(spec)?;
            // Invalid parameter, not "not found": a 404 would make the client try to pull
            // the image (Docker answers this way for the same reason).
            let child = self
                .entry(&name)
                .map_err(|_| {
                    EngineError::InvalidParameter(format!("Could not get container for {name}"))
                })?
                .snapshot();
            if child.host_config.network_mode == "host" {
                return Err(EngineError::InvalidParameter(
                    "Conflicting options: host type networking can't be used with links. This would result in undefined behavior".into(),
                ));
            }
        }
        record.mounts = self.plan_mounts(&record)?;
        let inserted = (|| {
            let mut map = self.containers.write().expect("lock");
            if let Some(other) = map.values().map(|e| e.snapshot()).find(|r| r.name == name) {
                return Err(Self::conflict_name(&name, &other.id));
            }
            std::fs::create_dir_all(self.paths.dir(&id))
                .map_err(|e| EngineError::Internal(format!("create container directory: {e}")))?;
            if let Err(e) = self.persist(&record) {
                let _ = std::fs::remove_dir_all(self.paths.dir(&id));
                return Err(e);
            }
            map.insert(id.clone(), Entry::new(record.clone()));
            Ok(())
        })();
        if let Err(e) = inserted {
            // The anonymous volumes just made belong to nobody.
            self.remove_volumes(&record);
            return Err(e);
        }
        self.publish(&record, "create", &[]);
        Ok(record)
    }

    /// Replaces the host config of a container that is not running (old clients pass it to
    /// `start`).
    pub fn set_host_config(&self, name: &str, mut hc: HostConfig) -> Result<(), EngineError> {
        let entry = self.entry(name)?;
        if entry.snapshot().state.status.is_running() {
            return Ok(());
        }
        if hc.log_config.kind.is_empty() {
            hc.log_config.kind = "json-file".into();
        }
        if hc.network_mode.is_empty() {
            hc.network_mode = "default".into();
        }
        settings::validate(&hc)?;
        self.update(&entry, |r| r.host_config = hc)?;
        Ok(())
    }

    /// `POST /containers/(id)/start`. Starting a running container is `NotModified`.
    pub async fn start(self: &Arc<Self>, name: &str) -> Result<(), EngineError> {
        let entry = self.entry(name)?;
        let _op = entry.op.lock().await;
        let rec = entry.snapshot();
        match rec.state.status {
            Status::Running | Status::Restarting => return Err(EngineError::NotModified),
            Status::Paused => {
                return Err(EngineError::Conflict(
                    "cannot start a paused container, try unpause instead".into(),
                ))
            }
            _ => {}
        }
        self.update(&entry, |r| r.state.stopped_by_user = false)?;
        // A start by hand begins the restart back-off anew, as Docker's does.
        *entry.restart_delay.lock().expect("lock") = None;
        self.start_locked(&entry).await
    }

    /// Starts the container; the caller holds its operation lock.
    async fn start_locked(self: &Arc<Self>, entry: &Arc<Entry>) -> Result<(), EngineError> {
        let svc = self.clone();
        let e = entry.clone();
        let prepared = tokio::task::spawn_blocking(move || svc.launch(&e)).await?;
        match prepared {
            Ok((child, pid)) => {
                let monitor_pid = child.id().unwrap_or(0) as i32;
                let rec = self.update(entry, |r| {
                    r.state = State {
                        status: Status::Running,
                        pid,
                        monitor_pid,
                        monitor_start: procs::start_time(monitor_pid).unwrap_or(0),
                        started_at: now(),
                        finished_at: r.state.finished_at.clone(),
                        exit_code: 0,
                        ..State::default()
                    };
                })?;
                self.publish(&rec, "start", &[]);
                self.watch(entry.clone(), Monitor::Child(child));
                Ok(())
            }
            Err(err) => {
                let msg = err.to_string();
                // Docker's exit codes for a start that failed: 127 command not found, 126
                // not executable, 128 otherwise; and a `die` event, which clients waiting
                // for the container (the CLI's `--rm`) rely on.
                let code = if msg.contains("executable file not found") {
                    127
                } else if msg.contains("permission denied") {
                    126
                } else {
                    128
                };
                if let Ok(rec) = self.update(entry, |r| {
                    r.state.status = if r.state.started_at == ZERO_TIME {
                        Status::Created
                    } else {
                        Status::Exited
                    };
                    r.state.error = msg.clone();
                    r.state.exit_code = code;
                }) {
                    self.publish(&rec, "die", &[("exitCode", code.to_string())]);
                }
                Err(err)
            }
        }
    }

    /// Mounts the root filesystem, writes the host files and the bundle, and starts the
    /// monitor. Undoes what it did when a step fails.
    fn launch(&self, entry: &Entry) -> Result<(tokio::process::Child, i32), EngineError> {
        let rec = entry.snapshot();
        let id = rec.id.clone();
        let image = self
            .images
            .get(
                &berth_image::Digest::parse(&rec.image_id)
                    .ok_or_else(|| EngineError::Internal("bad image id".into()))?,
            )
            .ok_or_else(|| EngineError::NotFound(format!("No such image: {}", rec.image_id)))?;
        let lowers: Vec<_> = image
            .layers
            .iter()
            .rev()
            .map(|l| self.images.diff_path(&l.chain_id))
            .collect();
        let overlay = OverlayDirs::new(self.paths.overlay(&id));
        let internal =
            |what: &str, e: std::io::Error| EngineError::Internal(format!("{what}: {e}"));
        overlay
            .create()
            .map_err(|e| internal("create root filesystem", e))?;
        overlay
            .unmount()
            .map_err(|e| internal("unmount stale root filesystem", e))?;
        let rootfs = overlay
            .mount(&lowers)
            .map_err(|e| internal("mount root filesystem", e))?;
        let mut endpoint = None;
        let result = (|| {
            let c = &rec.config;
            let h = &rec.host_config;
            let mode = net::mode(&rec, self.network.is_some())?;
            let netns = match (&mode, &self.network) {
                (net::Mode::Bridge, Some(network)) => {
                    let req = berth_network::ConnectRequest {
                        id: id.clone(),
                        name: rec.bare_name().to_string(),
                        mac: (!c.mac_address.is_empty())
                            .then(|| berth_network::parse_mac(&c.mac_address))
                            .transpose()
                            .map_err(EngineError::InvalidParameter)?,
                        ports: net::port_requests(&rec)?,
                    };
                    let ep = tokio::runtime::Handle::current().block_on(network.connect(req))?;
                    let path = ep.netns.clone();
                    endpoint = Some(ep);
                    Some(path)
                }
                (net::Mode::None, _) => {
                    let path = self.paths.netns(&id);
                    berth_network::isolated_netns(&path)?;
                    Some(path)
                }
                _ => None,
            };
            let (link_env, link_hosts) = self.links_for(&rec, endpoint.as_mut())?;
            if let Some(ep) = &endpoint {
                // Written before the monitor starts (without a sync: it matters only while
                // processes run), so a daemon killed during the start adopts the endpoint
                // with the container instead of sweeping it away as stale.
                let rec = {
                    let mut r = entry.record.lock().expect("lock");
                    r.network = Some(ep.clone());
                    r.clone()
                };
                self.write_record(&rec, false)?;
            }
            std::fs::write(self.paths.hostname(&id), format!("{}\n", c.hostname))
                .map_err(|e| internal("write hostname", e))?;
            let mut extra = link_hosts;
            extra.extend(host_files::extra_hosts(
                &h.extra_hosts.clone().unwrap_or_default(),
            ));
            std::fs::write(
                self.paths.hosts(&id),
                host_files::hosts(
                    &c.hostname,
                    &c.domainname,
                    endpoint.as_ref().map(|e: &berth_network::Endpoint| e.ip),
                    &extra,
                ),
            )
            .map_err(|e| internal("write hosts", e))?;
            let host_resolv = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
            let resolv = host_files::resolv_conf(
                &host_resolv,
                &h.dns.clone().unwrap_or_default(),
                &h.dns_search.clone().unwrap_or_default(),
            );
            std::fs::write(self.paths.resolv_conf(&id), resolv)
                .map_err(|e| internal("write resolv.conf", e))?;
            self.prepare_mounts(&rec, &rootfs)?;
            // Every mount destination resolved inside the root now, so the runtime mounts on
            // exactly that path and an image's symlinks cannot aim a mount at the host.
            let mut mounts = Vec::new();
            for m in &rec.mounts {
                mounts.push(berth_runtime::spec::BindMount {
                    destination: volumes::resolve_destination(
                        &rootfs,
                        &m.destination,
                        std::path::Path::new(&m.source).is_file(),
                    )?,
                    source: m.source.clone(),
                    readonly: !m.rw,
                });
            }
            for f in ["/etc/hostname", "/etc/hosts", "/etc/resolv.conf"] {
                if volumes::resolve_destination(&rootfs, f, true)? != f {
                    return Err(EngineError::InvalidParameter(format!(
                        "{f} in the image resolves elsewhere"
                    )));
                }
            }
            let (uid, gid, additional_gids) = UserFiles::new(&rootfs).resolve(&c.user)?;
            volumes::create_working_dir(&rootfs, &c.working_dir, uid, gid)?;
            let capabilities = settings::capabilities(h)?;
            let mut env = c.env.clone().unwrap_or_default();
            // Link variables first; the container's own win over them.
            let mut linked: Vec<String> = link_env
                .into_iter()
                .filter(|l| !env.iter().any(|e| env_key(e) == env_key(l)))
                .collect();
            linked.append(&mut env);
            env = linked;
            if !env.iter().any(|e| env_key(e) == "PATH") {
                env.insert(0, DEFAULT_PATH.to_string());
            }
            env.insert(1.min(env.len()), format!("HOSTNAME={}", c.hostname));
            if c.tty && !env.iter().any(|e| env_key(e) == "TERM") {
                env.push("TERM=xterm".into());
            }
            let mut args = vec![rec.path.clone()];
            args.extend(rec.args.iter().cloned());
            let spec = container_spec(&SpecParams {
                id: id.clone(),
                rootfs: rootfs.display().to_string(),
                args,
                env,
                cwd: c.working_dir.clone(),
                uid,
                gid,
                additional_gids,
                hostname: c.hostname.clone(),
                domainname: c.domainname.clone(),
                tty: c.tty,
                hostname_path: self.paths.hostname(&id).display().to_string(),
                hosts_path: self.paths.hosts(&id).display().to_string(),
                resolv_conf_path: self.paths.resolv_conf(&id).display().to_string(),
                cgroups_path: settings::cgroup_path(&rec),
                capabilities: Some(capabilities.clone()),
                seccomp: settings::seccomp(h, &capabilities),
                privileged: h.privileged,
                readonly_rootfs: h.readonly_rootfs,
                no_new_privileges: settings::no_new_privileges(h)?,
                resources: settings::resources(h)?,
                rlimits: settings::rlimits(h)?,
                shared_namespaces: self.shared_namespaces(h, netns.as_deref())?,
                devices: settings::devices(h)?,
                mounts,
            });
            let bundle = self.paths.bundle(&id);
            std::fs::create_dir_all(&bundle).map_err(|e| internal("create bundle", e))?;
            std::fs::write(
                bundle.join("config.json"),
                serde_json::to_vec(&spec).expect("spec serialises"),
            )
            .map_err(|e| internal("write bundle", e))?;
            let _ = std::fs::remove_file(self.paths.exit_file(&id));
            let _ = std::fs::remove_file(self.paths.monitor_state(&id));
            let log_cfg = h.log_config.config.clone().unwrap_or_default();
            let args = MonitorArgs {
                id: id.clone(),
                bundle,
                runtime_root: self.paths.runtime_root(),
                // With the `none` driver the output still goes to a small log (1 MiB, not
                // rotated into more files) because attach reads it; `logs` refuses it.
                log_path: self.paths.log(&id),
                exit_file: self.paths.exit_file(&id),
                log_max_size: if h.log_config.kind == "none" {
                    Some(1 << 20)
                } else {
                    log_cfg.get("max-size").map(|s| parse_size(s)).transpose()?
                },
                log_max_files: if h.log_config.kind == "none" {
                    1
                } else {
                    log_cfg
                        .get("max-file")
                        .map(|s| s.parse().unwrap_or(1))
                        .unwrap_or(1)
                },
                stdin_socket: c.open_stdin.then(|| self.paths.stdin_socket(&id)),
                stdin_once: c.stdin_once,
                tty: c.tty,
                resize_socket: c.tty.then(|| self.paths.resize_socket(&id)),
                exec_socket: Some(self.paths.exec_helper_socket(&id)),
                state_file: Some(self.paths.monitor_state(&id)),
            };
            let monitor_log = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(self.paths.monitor_log(&id))
                .map_err(|e| internal("open monitor log", e))?;
            let mut cmd = std::process::Command::new(&self.monitor_bin);
            cmd.args(args.to_args())
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(monitor_log);
            // Its own process group: signals meant for the daemon's terminal stay there.
            cmd.process_group(0);
            let mut child = tokio::process::Command::from(cmd)
                .spawn()
                .map_err(|e| internal("start monitor", e))?;
            let stdout = child
                .stdout
                .take()
                .expect("piped")
                .into_owned_fd()
                .map_err(|e| internal("monitor pipe", e))?;
            let mut line = String::new();
            std::io::BufReader::new(std::fs::File::from(stdout))
                .read_line(&mut line)
                .map_err(|e| internal("read monitor report", e))?;
            let report: StartReport = serde_json::from_str(line.trim()).unwrap_or(StartReport {
                pid: None,
                error: Some(format!(
                    "monitor gave no start report: {}",
                    std::fs::read_to_string(self.paths.monitor_log(&id))
                        .unwrap_or_default()
                        .trim()
                )),
            });
            match report.pid {
                Some(pid) => Ok((child, pid)),
                None => {
                    let _ = child.start_kill();
                    let msg = report.error.unwrap_or_default();
                    // Docker's wording for a command that cannot be run.
                    if msg.contains("No such file") || msg.contains("not found") {
                        Err(EngineError::InvalidParameter(format!(
                            "OCI runtime create failed: {msg}: exec: \"{}\": executable file not found in $PATH",
                            rec.path
                        )))
                    } else {
                        Err(EngineError::Internal(format!(
                            "OCI runtime create failed: {msg}"
                        )))
                    }
                }
            }
        })();
        if result.is_err() {
            let _ = overlay.unmount();
            self.release_network(entry, &id, endpoint);
            self.remove_run_files(&id);
        }
        result
    }

    /// Removes what a start leaves under the exec root and beside the record for the
    /// container's run: its bundle, the runtime's state (its monitor deletes it, unless it was
    /// killed), its monitor's sockets and state.
    fn remove_run_files(&self, id: &str) {
        let _ = std::fs::remove_dir_all(self.paths.bundle(id));
        let _ = std::fs::remove_dir_all(self.paths.runtime_root().join(id));
        let _ = std::fs::remove_file(self.paths.stdin_socket(id));
        let _ = std::fs::remove_file(self.paths.resize_socket(id));
        let _ = std::fs::remove_file(self.paths.exec_helper_socket(id));
        let _ = std::fs::remove_file(self.paths.exec_helper_pid(id));
        let _ = std::fs::remove_file(self.paths.monitor_state(id));
    }

    /// The environment and hosts lines of a container's links; with `--icc=false`, opens
    /// each linked container's exposed ports to it.
    fn links_for(
        &self,
        rec: &ContainerRecord,
        mut endpoint: Option<&mut berth_network::Endpoint>,
    ) -> Result<(Vec<String>, HostsLines), EngineError> {
        let (mut env, mut hosts) = (Vec::new(), Vec::new());
        for spec in rec.host_config.links.iter().flatten() {
            let (name, alias) = net::parse_link(spec)?;
            let child = self
                .entry(&name)
                .map_err(|_| EngineError::NotFound(format!("Could not get container for {name}")))?
                .snapshot();
            if !child.state.status.is_running() {
                return Err(EngineError::Internal(format!(
                    "Cannot link to a non running container: {} AS {}/{alias}",
                    child.name, rec.name
                )));
            }
            env.extend(net::link_env(&rec.name, &alias, &child));
            if let Some(child_ep) = &child.network {
                // As Docker: the alias, the container's hostname, and its name unless that
                // is the alias.
                let mut names = format!("{alias} {}", child.config.hostname);
                if alias != child.bare_name() {
                    names = format!("{names} {}", child.bare_name());
                }
                hosts.push((child_ep.ip.to_string(), names));
                if let (Some(ep), Some(network)) = (endpoint.as_deref_mut(), &self.network) {
                    network.grant(ep, child_ep.ip, net::exposed_ports(&child))?;
                }
            }
        }
        Ok((env, hosts))
    }

    /// `DELETE /containers/<parent>/<alias>?link=1`: forgets that link (the running parent
    /// keeps what it was started with, as in Docker).
    pub fn remove_link(&self, link_name: &str) -> Result<(), EngineError> {
        let trimmed = link_name.trim_start_matches('/');
        let Some((parent, alias)) = trimmed.rsplit_once('/') else {
            return Err(EngineError::Conflict(
                "Conflict, cannot remove the default name of the container".into(),
            ));
        };
        let entry = self.entry(parent)?;
        let rec = entry.snapshot();
        let mut found = false;
        let kept: Vec<String> = rec
            .host_config
            .links
            .iter()
            .flatten()
            .filter(|spec| {
                let matches = net::parse_link(spec).is_ok_and(|(_, a)| a == alias);
                found |= matches;
                !matches
            })
            .cloned()
            .collect();
        if !found {
            return Err(EngineError::NotFound(format!("No such link: /{trimmed}")));
        }
        self.update(&entry, |r| r.host_config.links = Some(kept))?;
        Ok(())
    }

    /// Undoes a start's network when the start fails (on the start's blocking thread).
    fn release_network(&self, entry: &Entry, id: &str, endpoint: Option<berth_network::Endpoint>) {
        if let (Some(ep), Some(network)) = (endpoint, &self.network) {
            tokio::runtime::Handle::current().block_on(network.disconnect(id, &ep));
        }
        berth_network::netns::remove(&self.paths.netns(id));
        if entry.snapshot().network.is_some() {
            let _ = self.update(entry, |r| r.network = None);
        }
    }

    /// `PidMode`, `IpcMode`, `NetworkMode`: `host` shares the host's namespace,
    /// `container:<name>` joins a running container's.
    fn shared_namespaces(
        &self,
        h: &HostConfig,
        netns: Option<&std::path::Path>,
    ) -> Result<Vec<(String, Option<String>)>, EngineError> {
        let mut out = Vec::new();
        if let Some(path) = netns {
            out.push(("network".to_string(), Some(path.display().to_string())));
        }
        for (kind, mode) in [
            ("pid", &h.pid_mode),
            ("ipc", &h.ipc_mode),
            ("network", &h.network_mode),
        ] {
            if mode == "host" {
                out.push((kind.to_string(), None));
            } else if let Some(other) = mode.strip_prefix("container:") {
                let target = self.entry(other)?.snapshot();
                if !target.state.status.is_running() {
                    return Err(EngineError::Conflict(format!(
                        "cannot join the namespaces of container {other}: it is not running"
                    )));
                }
                out.push((
                    kind.to_string(),
                    Some(format!(
                        "/proc/{}/ns/{}",
                        target.state.pid,
                        if kind == "network" { "net" } else { kind }
                    )),
                ));
            }
        }
        Ok(out)
    }

    /// Watches the monitor until it exits, then records the exit.
    fn watch(self: &Arc<Self>, entry: Arc<Entry>, monitor: Monitor) {
        let svc = self.clone();
        tokio::spawn(async move {
            monitor.wait().await;
            svc.on_exit(&entry, true).await;
        });
    }

    /// The container's monitor has exited: record how, clean up, tell, and restart if the
    /// policy says so.
    async fn on_exit(self: &Arc<Self>, entry: &Arc<Entry>, apply_policy: bool) {
        let id = entry.snapshot().id;
        let record = ExitRecord::read(&self.paths.exit_file(&id));
        let overlay = OverlayDirs::new(self.paths.overlay(&id));
        if let Err(e) = overlay.unmount() {
            tracing::warn!(container = %id, error = %e, "unmounting root filesystem");
        }
        self.remove_run_files(&id);
        if let Some(ep) = entry.snapshot().network {
            match &self.network {
                Some(network) => network.disconnect(&id, &ep).await,
                // Started on a bridge the daemon no longer runs with: unpinning the
                // namespace lets the kernel take the veth pair with it.
                None => berth_network::netns::remove(&ep.netns),
            }
        }
        berth_network::netns::remove(&self.paths.netns(&id));
        let rec = match self.update(entry, |r| {
            r.network = None;
            let (code, finished, error) = match &record {
                Some(x) => (x.exit_code, x.finished_at.clone(), String::new()),
                None => (
                    255,
                    now(),
                    "container monitor exited without recording an exit code".to_string(),
                ),
            };
            r.state.status = Status::Exited;
            r.state.pid = 0;
            r.state.monitor_pid = 0;
            r.state.exit_code = code;
            r.state.finished_at = finished;
            r.state.oom_killed = record.as_ref().is_some_and(|x| x.oom_killed);
            r.state.error = error;
        }) {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(container = %id, error = %e, "recording container exit");
                return;
            }
        };
        if rec.state.oom_killed {
            self.publish(&rec, "oom", &[]);
        }
        self.publish(
            &rec,
            "die",
            &[("exitCode", rec.state.exit_code.to_string())],
        );
        if apply_policy && self.should_restart(&rec) {
            let svc = self.clone();
            let entry = entry.clone();
            let delay = {
                let mut last = entry.restart_delay.lock().expect("lock");
                let ran_for = run_length(&rec.state.started_at, &rec.state.finished_at);
                let delay = next_restart_delay(*last, ran_for);
                *last = Some(delay);
                delay
            };
            let _ = self.update(&entry, |r| r.state.status = Status::Restarting);
            tokio::spawn(async move {
                tokio::time::sleep(delay).await;
                let _op = entry.op.lock().await;
                let current = entry.snapshot();
                if current.state.status != Status::Restarting || current.state.stopped_by_user {
                    return;
                }
                let _ = svc.update(&entry, |r| r.restart_count += 1);
                if let Err(e) = svc.start_locked(&entry).await {
                    tracing::warn!(container = %current.id, error = %e, "restart failed");
                }
            });
        }
    }

    fn should_restart(&self, rec: &ContainerRecord) -> bool {
        if rec.state.stopped_by_user || !self.containers.read().expect("lock").contains_key(&rec.id)
        {
            return false;
        }
        let p = &rec.host_config.restart_policy;
        match p.name.as_str() {
            "always" | "unless-stopped" => true,
            "on-failure" => {
                rec.state.exit_code != 0
                    && (p.maximum_retry_count == 0 || rec.restart_count < p.maximum_retry_count)
            }
            _ => false,
        }
    }

    /// Waits until the container is no longer running (or restarting); returns its exit code.
    pub async fn wait(&self, name: &str) -> Result<i32, EngineError> {
        let entry = self.entry(name)?;
        self.wait_entry(&entry, None)
            .await
            .ok_or_else(|| EngineError::Internal("wait interrupted".into()))
    }

    async fn wait_entry(&self, entry: &Entry, timeout: Option<Duration>) -> Option<i32> {
        let mut rx = entry.changed.subscribe();
        // A timeout too long to reach (`stop?t=` near i64::MAX) is no deadline at all.
        let deadline = timeout.and_then(|t| tokio::time::Instant::now().checked_add(t));
        loop {
            let rec = entry.snapshot();
            if !rec.state.status.is_running() && rec.state.status != Status::Restarting {
                return Some(rec.state.exit_code);
            }
            match deadline {
                Some(d) => {
                    if tokio::time::timeout_at(d, rx.changed()).await.is_err() {
                        return None;
                    }
                }
                None => {
                    if rx.changed().await.is_err() {
                        return None;
                    }
                }
            }
        }
    }

    fn signal(&self, rec: &ContainerRecord, signal: i32) -> Result<(), EngineError> {
        procs::send_signal(rec.state.pid, signal)
            .map_err(|e| EngineError::Internal(format!("Cannot kill container {}: {e}", rec.id)))?;
        self.publish(rec, "kill", &[("signal", signal.to_string())]);
        Ok(())
    }

    /// `POST /containers/(id)/kill`.
    pub async fn kill(&self, name: &str, signal: &str) -> Result<(), EngineError> {
        let entry = self.entry(name)?;
        let sig = if signal.is_empty() {
            9
        } else {
            procs::parse_signal(signal)?
        };
        let rec = entry.snapshot();
        if !rec.state.status.is_running() {
            return Err(EngineError::Conflict(format!(
                "Container {} is not running",
                rec.id
            )));
        }
        if sig == 9 || sig == 15 {
            self.update(&entry, |r| r.state.stopped_by_user = true)?;
        }
        self.signal(&rec, sig)?;
        if sig == 9 {
            self.wait_entry(&entry, Some(Duration::from_secs(10))).await;
        }
        Ok(())
    }

    /// `POST /containers/(id)/stop?t=`: the stop signal, then SIGKILL after `timeout`.
    pub async fn stop(&self, name: &str, timeout: Option<u64>) -> Result<(), EngineError> {
        let entry = self.entry(name)?;
        let _op = entry.op.lock().await;
        self.stop_locked(&entry, timeout).await
    }

    async fn stop_locked(&self, entry: &Entry, timeout: Option<u64>) -> Result<(), EngineError> {
        let rec = entry.snapshot();
        if rec.state.status == Status::Restarting {
            self.update(entry, |r| {
                r.state.stopped_by_user = true;
                r.state.status = Status::Exited;
            })?;
            return Ok(());
        }
        if !rec.state.status.is_running() {
            return Err(EngineError::NotModified);
        }
        self.update(entry, |r| r.state.stopped_by_user = true)?;
        if rec.state.status == Status::Paused {
            let _ = procs::set_frozen(&settings::cgroup_path(&rec), false);
        }
        let stop_signal = rec
            .config
            .stop_signal
            .as_deref()
            .map(procs::parse_signal)
            .transpose()?
            .unwrap_or(15);
        let _ = self.signal(&rec, stop_signal);
        let grace = Duration::from_secs(timeout.unwrap_or(10));
        if self.wait_entry(entry, Some(grace)).await.is_none() {
            let _ = self.signal(&rec, 9);
            self.wait_entry(entry, Some(Duration::from_secs(30))).await;
        }
        self.publish(&entry.snapshot(), "stop", &[]);
        Ok(())
    }

    /// `POST /containers/(id)/restart?t=`.
    pub async fn restart(
        self: &Arc<Self>,
        name: &str,
        timeout: Option<u64>,
    ) -> Result<(), EngineError> {
        let entry = self.entry(name)?;
        let _op = entry.op.lock().await;
        match self.stop_locked(&entry, timeout).await {
            Ok(()) | Err(EngineError::NotModified) => {}
            Err(e) => return Err(e),
        }
        self.update(&entry, |r| r.state.stopped_by_user = false)?;
        *entry.restart_delay.lock().expect("lock") = None;
        self.start_locked(&entry).await?;
        self.publish(&entry.snapshot(), "restart", &[]);
        Ok(())
    }

    /// `POST /containers/(id)/pause` and `unpause`.
    pub async fn pause(&self, name: &str, pause: bool) -> Result<(), EngineError> {
        let entry = self.entry(name)?;
        let _op = entry.op.lock().await;
        let rec = entry.snapshot();
        match (rec.state.status, pause) {
            (Status::Running, true) | (Status::Paused, false) => {}
            (Status::Paused, true) => {
                return Err(EngineError::Conflict(format!(
                    "Container {} is already paused",
                    rec.id
                )))
            }
            (Status::Running, false) => {
                return Err(EngineError::Conflict(format!(
                    "Container {} is not paused",
                    rec.id
                )))
            }
            _ => {
                return Err(EngineError::Conflict(format!(
                    "Container {} is not running",
                    rec.id
                )))
            }
        }
        let cgroup = settings::cgroup_path(&rec);
        tokio::task::spawn_blocking(move || procs::set_frozen(&cgroup, pause)).await??;
        let rec = self.update(&entry, |r| {
            r.state.status = if pause {
                Status::Paused
            } else {
                Status::Running
            }
        })?;
        self.publish(&rec, if pause { "pause" } else { "unpause" }, &[]);
        Ok(())
    }

    /// `GET /containers/(id)/top?ps_args=`.
    pub async fn top(&self, name: &str, ps_args: &str) -> Result<procs::TopResult, EngineError> {
        let rec = self.entry(name)?.snapshot();
        if !rec.state.status.is_running() {
            return Err(EngineError::Conflict(format!(
                "Container {} is not running",
                rec.id
            )));
        }
        let ps_args = ps_args.to_string();
        let cgroup = settings::cgroup_path(&rec);
        let helper = std::fs::read_to_string(self.paths.exec_helper_pid(&rec.id))
            .ok()
            .and_then(|p| p.trim().parse().ok());
        tokio::task::spawn_blocking(move || procs::top(&cgroup, &ps_args, helper)).await?
    }

    /// `POST /containers/(id)/rename?name=`.
    pub fn rename(&self, name: &str, new_name: &str) -> Result<(), EngineError> {
        let entry = self.entry(name)?;
        if !names::valid(new_name) {
            return Err(EngineError::InvalidParameter(format!(
                "Invalid container name ({new_name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
            )));
        }
        let wanted = format!("/{}", new_name.trim_start_matches('/'));
        let old = entry.snapshot().name;
        if old == wanted {
            return Err(EngineError::InvalidParameter(
                "Renaming a container with the same name as its current name".into(),
            ));
        }
        if let Some(other) = self.name_taken(&wanted) {
            return Err(Self::conflict_name(&wanted, &other));
        }
        let rec = self.update(&entry, |r| r.name = wanted.clone())?;
        self.publish(&rec, "rename", &[("oldName", old)]);
        Ok(())
    }

    /// `DELETE /containers/(id)?force=`: removes a stopped container (or, with `force`, kills
    /// it first) and everything it had on disk.
    pub async fn remove(&self, name: &str, force: bool, volumes: bool) -> Result<(), EngineError> {
        let entry = self.entry(name)?;
        if force {
            // At once, as Docker's `rm -f` does, even while another operation (a long stop)
            // holds the container: the kill ends that operation too.
            self.kill_for_removal(&entry)?;
        }
        let _op = entry.op.lock().await;
        let rec = entry.snapshot();
        if rec.state.status.is_running() || rec.state.status == Status::Restarting {
            if !force {
                return Err(EngineError::Conflict(format!(
                    "You cannot remove a running container {}. Stop the container before attempting removal or force remove",
                    rec.id
                )));
            }
            self.kill_for_removal(&entry)?;
            if rec.state.status.is_running()
                && self
                    .wait_entry(&entry, Some(Duration::from_secs(30)))
                    .await
                    .is_none()
            {
                return Err(EngineError::Internal(format!(
                    "Could not kill running container {}, cannot remove - the container did not exit",
                    rec.id
                )));
            }
        }
        // Whatever the record says, nothing of the container may outlive its removal: not a
        // monitor the daemon lost track of, not a process left in its cgroups.
        if let Some(state) = MonitorState::read(&self.paths.monitor_state(&rec.id)) {
            if state.alive() {
                let _ = procs::send_signal(state.pid, 9);
            }
        }
        let cgroup = settings::cgroup_path(&rec);
        let left = tokio::task::spawn_blocking(move || procs::kill_cgroup(&cgroup)).await?;
        if !left.is_empty() {
            return Err(EngineError::Internal(format!(
                "Could not kill running container {}, cannot remove - processes {left:?} did not exit",
                rec.id
            )));
        }
        if rec.network.is_some() || self.paths.bundle(&rec.id).exists() {
            // A start cut short by a crash left these.
            self.reap_interrupted_start(&entry).await;
        }
        berth_network::netns::remove(&self.paths.netns(&rec.id));
        self.containers.write().expect("lock").remove(&rec.id);
        self.forget_execs(&rec.id);
        if volumes {
            self.remove_volumes(&rec);
        }
        let overlay = OverlayDirs::new(self.paths.overlay(&rec.id));
        let mut problems = Vec::new();
        if let Err(e) = overlay.remove() {
            problems.push(format!("remove root filesystem: {e}"));
        }
        for dir in [self.paths.bundle(&rec.id), self.paths.dir(&rec.id)] {
            if let Err(e) = std::fs::remove_dir_all(&dir) {
                if e.kind() != std::io::ErrorKind::NotFound {
                    problems.push(format!("remove {}: {e}", dir.display()));
                }
            }
        }
        entry.changed.send_modify(|n| *n += 1);
        self.publish(&rec, "destroy", &[]);
        if problems.is_empty() {
            Ok(())
        } else {
            Err(EngineError::Internal(problems.join("; ")))
        }
    }

    /// The first step of `rm -f`: marks the container stopped by the user (so no restart
    /// policy brings it back) and kills it if it runs.
    fn kill_for_removal(&self, entry: &Entry) -> Result<(), EngineError> {
        let rec = entry.snapshot();
        if !(rec.state.status.is_running() || rec.state.status == Status::Restarting) {
            return Ok(());
        }
        if !rec.state.stopped_by_user {
            self.update(entry, |r| r.state.stopped_by_user = true)?;
        }
        if rec.state.status == Status::Paused {
            let _ = procs::set_frozen(&settings::cgroup_path(&rec), false);
        }
        if rec.state.status.is_running() {
            let _ = self.signal(&rec, 9);
        }
        Ok(())
    }

    /// At daemon start: loads every record, reconnects to live monitors, records the exits
    /// that happened while the daemon was away, and brings back `always` containers.
    pub(crate) async fn restore(self: &Arc<Self>) -> Result<(), EngineError> {
        let dir = self.paths.data_root.join("containers");
        let mut restart = Vec::new();
        let mut watch = Vec::new();
        for e in std::fs::read_dir(&dir)
            .map_err(|e| EngineError::Internal(format!("read containers: {e}")))?
            .flatten()
        {
            let id = e.file_name().to_string_lossy().into_owned();
            let rec: ContainerRecord = match std::fs::read(self.paths.record(&id))
                .ok()
                .and_then(|d| serde_json::from_slice(&d).ok())
            {
                Some(r) => r,
                None => {
                    // A create that crashed before its record was written.
                    tracing::warn!(container = %id, "removing container directory without a record");
                    let _ = std::fs::remove_dir_all(e.path());
                    continue;
                }
            };
            let entry = Entry::new(rec.clone());
            self.containers
                .write()
                .expect("lock")
                .insert(rec.id.clone(), entry.clone());
            let was_running =
                rec.state.status.is_running() || rec.state.status == Status::Restarting;
            // The monitor's own file is the truth: a daemon killed during a start never
            // recorded the container as running, though it runs.
            let adopted = match self.find_live_monitor(&rec).await {
                Some((state, pidfd)) => {
                    if !was_running || rec.state.pid != state.container_pid.unwrap_or(0) {
                        tracing::info!(container = %rec.id, pid = ?state.container_pid, "adopting a container whose start the daemon did not see end");
                        self.adopt_running(&entry, &state)?;
                    } else {
                        tracing::info!(container = %rec.id, pid = rec.state.pid, "reconnected to running container");
                    }
                    // Watched once the network has taken it back (below): an exit seen
                    // before that would release what adopting then takes again.
                    watch.push((entry.clone(), pidfd));
                    true
                }
                None => false,
            };
            if adopted {
                continue;
            }
            // A start the record never saw whose container has run and exited since: its
            // monitor's files tell.
            let ran_unrecorded = self.paths.monitor_state(&rec.id).exists()
                && self.paths.exit_file(&rec.id).exists();
            if was_running || ran_unrecorded {
                tracing::info!(container = %rec.id, "container exited while the daemon was down");
                self.on_exit(&entry, false).await;
                // Docker brings `always` containers back at daemon start, at once.
                let policy = rec.host_config.restart_policy.name.as_str();
                if matches!(policy, "always" | "unless-stopped") && !rec.state.stopped_by_user {
                    restart.push(entry);
                }
            } else if self.paths.bundle(&rec.id).exists()
                || self.paths.monitor_state(&rec.id).exists()
            {
                // A start that was cut short, with no monitor left: undo what it made.
                tracing::info!(container = %rec.id, "cleaning up after an interrupted start");
                self.reap_interrupted_start(&entry).await;
            }
        }
        if let Some(network) = &self.network {
            let live: Vec<_> = self
                .containers
                .read()
                .expect("lock")
                .values()
                .map(|e| e.snapshot())
                .filter(|r| r.state.status.is_running())
                .filter_map(|r| r.network.map(|ep| (r.id, ep)))
                .collect();
            network.adopt(&live).await;
        }
        for (entry, fd) in watch {
            self.watch(entry, Monitor::Pidfd(fd));
        }
        for entry in restart {
            let _op = entry.op.lock().await;
            if entry.snapshot().state.status == Status::Exited {
                if let Err(e) = self.start_locked(&entry).await {
                    tracing::warn!(error = %e, "restarting container at daemon start");
                }
            }
        }
        Ok(())
    }
}

impl ContainerService {
    /// The container's monitor if it still runs (found by its state file, or for a monitor
    /// of an earlier berthd by the record), once it has finished starting the container:
    /// its state and a pidfd to watch it by. A monitor still starting is waited for (a few
    /// seconds at most); one that never finishes is killed with what it started.
    async fn find_live_monitor(
        &self,
        rec: &ContainerRecord,
    ) -> Option<(MonitorState, std::os::fd::OwnedFd)> {
        let exited = || self.paths.exit_file(&rec.id).exists();
        let from_record = || {
            (rec.state.monitor_pid > 0 && rec.state.status.is_running()).then_some(MonitorState {
                pid: rec.state.monitor_pid,
                start_time: rec.state.monitor_start,
                container_pid: Some(rec.state.pid),
            })
        };
        let state_path = self.paths.monitor_state(&rec.id);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            // A monitor that wrote the exit file is done even if its process lingers (a
            // zombie nobody reaped): take the exit now, so no stale state is ever served.
            let state = MonitorState::read(&state_path).or_else(from_record)?;
            if exited() || !state.alive() {
                return None;
            }
            if let Some(container_pid) = state.container_pid {
                if !procs::runs(container_pid) {
                    // The container has ended and its monitor is recording it (the daemon
                    // died during a stop or kill): let it finish, and take the exit.
                    if tokio::time::Instant::now() > deadline {
                        return None;
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
                let pidfd = rustix::process::Pid::from_raw(state.pid).and_then(|p| {
                    rustix::process::pidfd_open(p, rustix::process::PidfdFlags::empty()).ok()
                })?;
                // Checked again with the pidfd held: the PID cannot be reused from here on.
                return state.alive().then_some((state, pidfd));
            }
            if tokio::time::Instant::now() > deadline {
                tracing::warn!(container = %rec.id, monitor = state.pid, "monitor never finished starting its container: killing it");
                if let Some(pid) = rustix::process::Pid::from_raw(state.pid) {
                    let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
                }
                return None;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Records as running a container whose monitor outlived the daemon that started it.
    fn adopt_running(&self, entry: &Entry, state: &MonitorState) -> Result<(), EngineError> {
        self.update(entry, |r| {
            let started_at = if r.state.status.is_running() {
                r.state.started_at.clone()
            } else {
                now()
            };
            r.state = State {
                status: Status::Running,
                pid: state.container_pid.unwrap_or(0),
                monitor_pid: state.pid,
                monitor_start: state.start_time,
                started_at,
                finished_at: r.state.finished_at.clone(),
                exit_code: 0,
                stopped_by_user: r.state.stopped_by_user,
                ..State::default()
            };
        })?;
        Ok(())
    }

    /// Undoes a start that a crash cut short and whose monitor is gone: whatever process it
    /// left in the container's cgroups, the root filesystem, the network, the run files.
    async fn reap_interrupted_start(&self, entry: &Arc<Entry>) {
        let rec = entry.snapshot();
        let cgroup = settings::cgroup_path(&rec);
        tokio::task::spawn_blocking(move || procs::kill_cgroup(&cgroup))
            .await
            .ok();
        if let Err(e) = OverlayDirs::new(self.paths.overlay(&rec.id)).unmount() {
            tracing::warn!(container = %rec.id, error = %e, "unmounting root filesystem");
        }
        self.remove_run_files(&rec.id);
        if let Some(ep) = &rec.network {
            match &self.network {
                Some(network) => network.disconnect(&rec.id, ep).await,
                None => berth_network::netns::remove(&ep.netns),
            }
            let _ = self.update(entry, |r| r.network = None);
        }
        berth_network::netns::remove(&self.paths.netns(&rec.id));
    }
}

fn parse_size(s: &str) -> Result<u64, EngineError> {
    let t = s.trim().to_ascii_lowercase();
    let (num, mult) = match t.chars().last() {
        Some('k') => (&t[..t.len() - 1], 1024),
        Some('m') => (&t[..t.len() - 1], 1024 * 1024),
        Some('g') => (&t[..t.len() - 1], 1024 * 1024 * 1024),
        _ => (t.as_str(), 1),
    };
    num.parse::<u64>()
        .map(|n| n * mult)
        .map_err(|_| EngineError::InvalidParameter(format!("invalid max-size: {s}")))
}

/// How the daemon learns that a monitor exited: its own child (reaped by tokio), or, after a
/// daemon restart, a pidfd for a process it did not start.
enum Monitor {
    Child(tokio::process::Child),
    Pidfd(std::os::fd::OwnedFd),
}

impl Monitor {
    async fn wait(self) {
        match self {
            Monitor::Child(mut c) => {
                let _ = c.wait().await;
            }
            // `AsyncFd::new` is deprecated for types whose descriptor can change under it; an
            // `OwnedFd` cannot, and `register` would need `unsafe`.
            #[allow(deprecated)]
            Monitor::Pidfd(fd) => match tokio::io::unix::AsyncFd::new(fd) {
                Ok(afd) => {
                    let _ = afd.readable().await;
                }
                Err(_) => loop {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                },
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_follows_docker_rules() {
        let image = Config {
            env: Some(vec!["PATH=/x".into(), "A=1".into()]),
            cmd: Some(vec!["sh".into()]),
            entrypoint: Some(vec!["/init".into()]),
            working_dir: "/w".into(),
            labels: Some([("l".to_string(), "img".to_string())].into()),
            ..Default::default()
        };
        let mut user = Config {
            env: Some(vec!["A=2".into(), "B=3".into()]),
            cmd: Some(vec!["echo".into()]),
            ..Default::default()
        };
        merge(&mut user, &image);
        assert_eq!(user.env.unwrap(), ["PATH=/x", "A=2", "B=3"]);
        assert_eq!(user.entrypoint.unwrap(), ["/init"]);
        assert_eq!(user.cmd.unwrap(), ["echo"]);
        assert_eq!(user.working_dir, "/w");
        let mut user = Config {
            entrypoint: Some(vec!["/mine".into()]),
            ..Default::default()
        };
        merge(&mut user, &image);
        assert_eq!(
            user.cmd, None,
            "a user entrypoint drops the image's command"
        );
    }

    #[test]
    fn users_resolve_in_the_container_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("etc")).unwrap();
        std::fs::write(dir.path().join("etc/passwd"), "root:x:0:0::/root:/bin/sh\nnobody:x:65534:65534::/:/bin/false\napp:x:1000:1000::/:/bin/sh\n").unwrap();
        std::fs::write(
            dir.path().join("etc/group"),
            "root:x:0:\nstaff:x:50:app\napp:x:1000:\n",
        )
        .unwrap();
        assert_eq!(UserFiles::new(dir.path()).home_dir(0), "/root");
        assert_eq!(UserFiles::new(dir.path()).home_dir(1000), "/");
        assert_eq!(UserFiles::new(dir.path()).home_dir(4242), "/");
        assert_eq!(
            UserFiles::new(dir.path()).resolve("").unwrap(),
            (0, 0, vec![])
        );
        assert_eq!(
            UserFiles::new(dir.path()).resolve("nobody").unwrap(),
            (65534, 65534, vec![])
        );
        assert_eq!(
            UserFiles::new(dir.path()).resolve("app").unwrap(),
            (1000, 1000, vec![50])
        );
        assert_eq!(
            UserFiles::new(dir.path()).resolve("1234").unwrap(),
            (1234, 0, vec![])
        );
        assert_eq!(
            UserFiles::new(dir.path()).resolve("1234:7").unwrap(),
            (1234, 7, vec![])
        );
        assert_eq!(
            UserFiles::new(dir.path()).resolve("app:staff").unwrap().1,
            50
        );
        assert!(UserFiles::new(dir.path()).resolve("ghost").is_err());
        // One exec's user and HOME come from a single read of each file.
        let users = UserFiles::new(dir.path());
        assert_eq!(users.resolve("app").unwrap(), (1000, 1000, vec![50]));
        std::fs::remove_file(dir.path().join("etc/passwd")).unwrap();
        std::fs::remove_file(dir.path().join("etc/group")).unwrap();
        assert_eq!(users.home_dir(0), "/root");
        assert_eq!(users.resolve("app:staff").unwrap().1, 50);
    }

    #[test]
    fn user_files_are_read_as_the_container_sees_them() {
        let outside = tempfile::tempdir().unwrap();
        let host_passwd = outside.path().join("passwd");
        std::fs::write(&host_passwd, "evil:x:0:0::/evil:/bin/sh\n").unwrap();
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir(root.path().join("etc")).unwrap();
        // An absolute link, and a relative one climbing out: both stay in the root.
        std::os::unix::fs::symlink(&host_passwd, root.path().join("etc/passwd")).unwrap();
        let climb = format!("../../../../../../..{}", host_passwd.display());
        std::os::unix::fs::symlink(climb, root.path().join("etc/group")).unwrap();
        assert!(UserFiles::new(root.path()).resolve("evil").is_err());
        assert_eq!(UserFiles::new(root.path()).home_dir(0), "/");
        assert!(UserFiles::new(root.path()).resolve("0:evil").is_err());
        // A link that stays inside is followed.
        std::fs::write(
            root.path().join("etc/real"),
            "app:x:7:8::/home/app:/bin/sh\n",
        )
        .unwrap();
        std::fs::remove_file(root.path().join("etc/passwd")).unwrap();
        std::os::unix::fs::symlink("/etc/real", root.path().join("etc/passwd")).unwrap();
        assert_eq!(
            UserFiles::new(root.path()).resolve("app").unwrap(),
            (7, 8, vec![])
        );
        assert_eq!(UserFiles::new(root.path()).home_dir(7), "/home/app");
        // A FIFO there does not hang, nor is a device opened.
        std::fs::remove_file(root.path().join("etc/passwd")).unwrap();
        rustix::fs::mknodat(
            rustix::fs::CWD,
            root.path().join("etc/passwd"),
            rustix::fs::FileType::Fifo,
            rustix::fs::Mode::from_raw_mode(0o644),
            0,
        )
        .unwrap();
        assert_eq!(UserFiles::new(root.path()).home_dir(0), "/");
    }

    #[test]
    fn restart_delay_doubles_to_a_minute_and_starts_over_after_a_long_run() {
        let short = Duration::from_secs(1);
        let mut delay = next_restart_delay(None, short);
        assert_eq!(delay, Duration::from_millis(100));
        let mut seen = vec![delay];
        for _ in 0..12 {
            delay = next_restart_delay(Some(delay), short);
            seen.push(delay);
        }
        assert_eq!(seen[1..4], [200, 400, 800].map(Duration::from_millis));
        assert_eq!(*seen.last().unwrap(), Duration::from_secs(60), "capped");
        assert_eq!(
            next_restart_delay(Some(delay), Duration::from_secs(10)),
            Duration::from_millis(100),
            "a run of 10 s starts over"
        );
        assert_eq!(
            run_length("2026-01-01T00:00:00.5Z", "2026-01-01T00:00:12Z"),
            Duration::from_millis(11_500)
        );
        assert_eq!(
            run_length("0001-01-01T00:00:00Z", "nonsense"),
            Duration::ZERO
        );
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("10m").unwrap(), 10 * 1024 * 1024);
        assert_eq!(parse_size("512").unwrap(), 512);
        assert!(parse_size("x").is_err());
    }
}

/// A stats sample with the one before it (for rates) and their times.
#[derive(Debug, Clone)]
pub struct StatsPair {
    pub current: berth_runtime::stats::Sample,
    pub previous: berth_runtime::stats::Sample,
    pub read: String,
    pub preread: String,
}

impl ContainerService {
    /// Samples the container's usage once a second (or once, a second after a first sample,
    /// when not streaming) until it stops or the receiver is dropped. A container not running
    /// gets one empty sample.
    pub fn stats(
        self: &Arc<Self>,
        name: &str,
        stream: bool,
    ) -> Result<tokio::sync::mpsc::Receiver<StatsPair>, EngineError> {
        let entry = self.entry(name)?;
        let (tx, rx) = tokio::sync::mpsc::channel(2);
        tokio::spawn(async move {
            let fs = berth_runtime::stats::CgroupFs::default();
            let sample =
                |rec: &ContainerRecord| fs.sample(&settings::cgroup_path(rec), rec.state.pid);
            let rec = entry.snapshot();
            if !rec.state.status.is_running() {
                let _ = tx
                    .send(StatsPair {
                        current: Default::default(),
                        previous: Default::default(),
                        read: now(),
                        preread: ZERO_TIME.into(),
                    })
                    .await;
                return;
            }
            let mut previous = if stream {
                Default::default()
            } else {
                sample(&rec)
            };
            let mut preread = if stream { ZERO_TIME.to_string() } else { now() };
            if !stream {
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            loop {
                let rec = entry.snapshot();
                if !rec.state.status.is_running() {
                    return;
                }
                let current = sample(&rec);
                let read = now();
                let pair = StatsPair {
                    current: current.clone(),
                    previous,
                    read: read.clone(),
                    preread,
                };
                if tx.send(pair).await.is_err() || !stream {
                    return;
                }
                previous = current;
                preread = read;
                let mut changes = entry.changed.subscribe();
                let _ = tokio::time::timeout(Duration::from_secs(1), async {
                    // Wake early only to notice the container stopping.
                    while changes.changed().await.is_ok() {
                        if !entry.snapshot().state.status.is_running() {
                            return;
                        }
                    }
                })
                .await;
            }
        });
        Ok(rx)
    }
}

impl ContainerService {
    /// A writer into the container's stdin (through its monitor), once the container runs;
    /// `None` when it was created without `OpenStdin`. Waits for a container not yet started.
    pub async fn attach_stdin(
        &self,
        name: &str,
    ) -> Result<Option<tokio::net::UnixStream>, EngineError> {
        let entry = self.entry(name)?;
        if !entry.snapshot().config.open_stdin {
            return Ok(None);
        }
        let mut changes = entry.changed.subscribe();
        loop {
            let rec = entry.snapshot();
            match rec.state.status {
                Status::Running | Status::Paused => {
                    let sock = self.paths.stdin_socket(&rec.id);
                    return tokio::net::UnixStream::connect(&sock)
                        .await
                        .map(Some)
                        .map_err(|e| {
                            EngineError::Internal(format!("attach to stdin of {}: {e}", rec.id))
                        });
                }
                Status::Created | Status::Restarting => {
                    if changes.changed().await.is_err() {
                        return Ok(None);
                    }
                }
                _ => return Ok(None),
            }
        }
    }
}

impl ContainerService {
    /// `POST /containers/(id)/resize?h=&w=`: resizes the container's terminal.
    pub async fn resize(&self, name: &str, rows: u16, cols: u16) -> Result<(), EngineError> {
        let rec = self.entry(name)?.snapshot();
        if !rec.state.status.is_running() {
            return Err(EngineError::Conflict(format!(
                "Container {} is not running",
                rec.id
            )));
        }
        if !rec.config.tty {
            return Err(EngineError::Conflict(format!(
                "Container {} does not have a terminal",
                rec.id
            )));
        }
        send_resize(&self.paths.resize_socket(&rec.id), rows, cols)
            .await
            .map_err(|e| EngineError::Internal(format!("Cannot resize container {}: {e}", rec.id)))
    }
}

/// Asks a monitor to resize its terminal: one `ROWS COLS` line on its resize socket.
pub(super) async fn send_resize(
    socket: &std::path::Path,
    rows: u16,
    cols: u16,
) -> std::io::Result<()> {
    use tokio::io::AsyncWriteExt;
    let mut s = tokio::net::UnixStream::connect(socket).await?;
    s.write_all(format!("{rows} {cols}\n").as_bytes()).await
}
