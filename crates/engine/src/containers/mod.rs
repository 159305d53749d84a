//! The container service: create, start, stop, kill, wait, remove, rename, pause, logs, and
//! what happens when a container exits (events, restart policies). Each container runs under
//! its own `berth-monitor` process, so the daemon can die and come back: [`ContainerService::open`]
//! reconnects to live monitors and records the exits it missed.

mod archive;
mod attach;
mod changes;
mod commit;
mod create;
mod exec;
mod exit;
mod export;
pub mod health;
pub(crate) mod host_files;
mod launch;
mod list;
mod logs;
mod named_volumes;
pub mod names;
pub mod net;
mod paths;
mod pause;
mod procs;
mod prune;
pub mod record;
mod record_v1;
mod remove;
mod rename;
mod restore;
mod settings;
mod spec;
mod start;
mod stats;
mod stop;
mod top;
mod update;
mod users;
mod volumes;
mod wait;
mod workdir;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};

use berth_image::ImageStore;

use crate::error::EngineError;
use crate::events::{EventBus, EventKind};

pub use archive::{ExtractOptions, PathStat};
pub use commit::CommitRequest;
pub use create::{CreateRequest, Created};
pub use exec::{ExecConfig, ExecIo, ExecRecord};
pub use list::{ListOptions, Listed};
pub use logs::{LogLine, LogOptions};
pub use named_volumes::{VolumeInfo, VolumeRecord};
pub(crate) use net::network_name as network_of;
pub use paths::{ContainerPaths, MAX_EXEC_ROOT_LEN};
pub use procs::TopResult;
pub use prune::PruneReport;
pub use record::{Attachment, ContainerRecord, State, Status, RECORD_SCHEMA};
pub use settings::release_default_cgroup_parent;
/// A config as an image records it (`config`, `container_config`), in Docker's JSON.
pub(crate) fn image_config_json(c: &Config) -> serde_json::Value {
    spec::ImageRunConfig::of(c).to_json()
}

pub use spec::{
    tmpfs_data, BindFlags, CgroupnsMode, Config, ContainerSpec, Device, Healthcheck, HostConfig,
    IpcMode, LogConfig, LogDriver, MountKind, MountSpec, NamespaceMode, NetworkMode, Port,
    PortBinding, Propagation, RawMount, RestartPolicy, Streams, TmpfsFlags, Ulimit, UtsMode,
    VolumeDriver, VolumeFlags, RUNTIME,
};
pub use stats::{StatsMode, StatsPair};
pub use stop::StopOptions;
pub use update::ResourceUpdate;
pub use volumes::{MountPoint, VolumeUsage};
pub use wait::{WaitCondition, Waiting};

/// One container: its record (the truth, persisted on every change), a channel that ticks on
/// every state change, and a lock that serialises operations on it.
pub(crate) struct Entry {
    pub record: Mutex<ContainerRecord>,
    pub changed: tokio::sync::watch::Sender<u64>,
    pub op: tokio::sync::Mutex<()>,
    /// The restart policy's last back-off (kept in memory, as Docker's restart manager does).
    pub restart_delay: Mutex<Option<std::time::Duration>>,
    /// A restart asked for by a user is under way: the exit it causes does not remove an
    /// `AutoRemove` container (as Docker keeps it through `docker restart`).
    pub restarting: std::sync::atomic::AtomicBool,
    /// Held while the record is changed and written: one writer at a time (two would share
    /// the temporary file), in the order of the changes (so the file never goes back to an
    /// older state).
    pub persist: Mutex<()>,
}

impl Entry {
    fn new(record: ContainerRecord) -> Arc<Self> {
        let (changed, _) = tokio::sync::watch::channel(0);
        Arc::new(Entry {
            record: Mutex::new(record),
            changed,
            op: tokio::sync::Mutex::new(()),
            restart_delay: Mutex::new(None),
            restarting: Default::default(),
            persist: Mutex::new(()),
        })
    }

    pub fn snapshot(&self) -> ContainerRecord {
        self.record.lock().expect("lock").clone()
    }

    /// Reads part of the record without copying all of it (frequent readers: healthchecks).
    pub fn peek<T>(&self, read: impl FnOnce(&ContainerRecord) -> T) -> T {
        read(&self.record.lock().expect("lock"))
    }
}

pub struct ContainerService {
    pub(crate) paths: ContainerPaths,
    pub(crate) images: Arc<ImageStore>,
    pub(crate) events: Arc<EventBus>,
    pub(crate) monitor_bin: PathBuf,
    pub(crate) containers: RwLock<HashMap<String, Arc<Entry>>>,
    pub(crate) execs: exec::Execs,
    /// The default bridge; `None` when the daemon runs with `--bridge none`.
    pub(crate) network: Option<Arc<berth_network::Network>>,
    pub(crate) predefined: crate::networks::PredefinedNetworks,
    pub(crate) user_networks: crate::networks::UserNetworks,
    /// Serves names on user-defined networks; `None` in a daemon without networking.
    pub(crate) resolver: Option<berth_dns::ResolverHandle>,
}

/// A daemon's networking: the default bridge (none with `--bridge none`), the user-defined
/// networks, and the resolver that serves their names.
pub struct Networking {
    pub default_bridge: Option<Arc<berth_network::Network>>,
    pub user_networks: crate::networks::UserNetworks,
    pub resolver: Option<berth_dns::ResolverHandle>,
}

impl ContainerService {
    /// The program each container runs under (its monitor, which starts it with libcontainer).
    pub fn monitor_bin(&self) -> &std::path::Path {
        &self.monitor_bin
    }

    /// Loads every container record and reconnects to the monitors still running; containers
    /// whose monitor is gone are marked exited with the code it recorded.
    pub async fn open(
        paths: ContainerPaths,
        images: Arc<ImageStore>,
        events: Arc<EventBus>,
        monitor_bin: PathBuf,
        networking: Networking,
    ) -> Result<Arc<Self>, EngineError> {
        paths
            .create()
            .map_err(|e| EngineError::failed("create container directories", e))?;
        // Views a killed daemon left mounted.
        berth_snapshot::View::sweep(&paths.views());
        let predefined = crate::networks::PredefinedNetworks::open(&paths.data_root)?;
        let svc = Arc::new(ContainerService {
            predefined,
            paths,
            images,
            events,
            monitor_bin,
            containers: RwLock::new(HashMap::new()),
            execs: Default::default(),
            network: networking.default_bridge,
            user_networks: networking.user_networks,
            resolver: networking.resolver,
        });
        svc.restore().await?;
        // Finished execs are forgotten after a while, as Docker forgets them; the sweeper
        // holds the service weakly and ends with it.
        let weak = Arc::downgrade(&svc);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(exec::EXEC_SWEEP_PERIOD);
            tick.tick().await;
            loop {
                tick.tick().await;
                let Some(svc) = weak.upgrade() else { return };
                let gone = svc.execs.sweep();
                if gone > 0 {
                    tracing::debug!(gone, "forgot finished execs");
                }
            }
        });
        Ok(svc)
    }

    /// Resolves an ID, unique ID prefix or name (with or without `/`).
    pub(crate) fn entry(&self, name: &str) -> Result<Arc<Entry>, EngineError> {
        let map = self.containers.read().expect("lock");
        if let Some(e) = map.get(name) {
            return Ok(e.clone());
        }
        let wanted = format!("/{}", name.trim_start_matches('/'));
        if let Some(e) = map
            .values()
            .find(|e| e.record.lock().expect("lock").name == wanted)
        {
            return Ok(e.clone());
        }
        if !name.is_empty() && name.bytes().all(|b| b.is_ascii_hexdigit()) {
            let mut found = map.iter().filter(|(id, _)| id.starts_with(name));
            if let (Some((_, e)), None) = (found.next(), found.next()) {
                return Ok(e.clone());
            }
        }
        Err(EngineError::NotFound(format!("No such container: {name}")))
    }

    pub fn inspect(&self, name: &str) -> Result<ContainerRecord, EngineError> {
        Ok(self.entry(name)?.snapshot())
    }

    pub fn list(&self) -> Vec<ContainerRecord> {
        self.containers
            .read()
            .expect("lock")
            .values()
            .map(|e| e.snapshot())
            .collect()
    }

    /// (all, running, paused, stopped) counts.
    pub fn counts(&self) -> (usize, usize, usize, usize) {
        let all = self.list();
        let running = all
            .iter()
            .filter(|c| c.state.status == Status::Running || c.state.status == Status::Restarting)
            .count();
        let paused = all
            .iter()
            .filter(|c| c.state.status == Status::Paused)
            .count();
        (all.len(), running, paused, all.len() - running - paused)
    }

    /// Whether any container uses the image `id` (`sha256:…`).
    pub fn image_in_use(&self, id: &str) -> bool {
        self.containers
            .read()
            .expect("lock")
            .values()
            .any(|e| e.record.lock().expect("lock").image_id == id)
    }

    pub(crate) fn persist(&self, rec: &ContainerRecord) -> Result<(), EngineError> {
        self.write_record(rec, true)
    }

    /// Writes the record atomically; `sync` also makes it survive a power loss (a state that
    /// only matters while processes run, such as a start in progress, need not).
    pub(crate) fn write_record(
        &self,
        rec: &ContainerRecord,
        sync: bool,
    ) -> Result<(), EngineError> {
        let data = serde_json::to_vec_pretty(rec).expect("record serialises");
        let path = self.paths.record(&rec.id);
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, &data)
            .and_then(|_| {
                if sync {
                    std::fs::File::open(&tmp)?.sync_all()?;
                }
                Ok(())
            })
            .and_then(|_| std::fs::rename(&tmp, &path))
            .map_err(|e| EngineError::failed("write container record", e))
    }

    /// Changes the record, persists it, and wakes whoever waits on the container.
    pub(crate) fn update(
        &self,
        entry: &Entry,
        f: impl FnOnce(&mut ContainerRecord),
    ) -> Result<ContainerRecord, EngineError> {
        self.change(entry, true, f)
    }

    /// [`Self::update`] writing the record without waiting for the disk: for states a power
    /// loss makes moot anyway (a process running).
    pub(crate) fn update_unsynced(
        &self,
        entry: &Entry,
        f: impl FnOnce(&mut ContainerRecord),
    ) -> Result<ContainerRecord, EngineError> {
        self.change(entry, false, f)
    }

    fn change(
        &self,
        entry: &Entry,
        sync: bool,
        f: impl FnOnce(&mut ContainerRecord),
    ) -> Result<ContainerRecord, EngineError> {
        // Written before anyone waiting hears of it.
        let rec = self.rewrite(entry, sync, f)?;
        entry.changed.send_modify(|n| *n += 1);
        Ok(rec)
    }

    /// Changes the record and writes it (see [`Entry::persist`]), waking no one.
    pub(crate) fn rewrite(
        &self,
        entry: &Entry,
        sync: bool,
        f: impl FnOnce(&mut ContainerRecord),
    ) -> Result<ContainerRecord, EngineError> {
        let _one_writer = entry.persist.lock().expect("lock");
        let rec = {
            let mut r = entry.record.lock().expect("lock");
            f(&mut r);
            r.clone()
        };
        self.write_record(&rec, sync)?;
        Ok(rec)
    }

    /// [`Self::update`] without the disk and without waking anyone: for what a crash may lose
    /// and nobody waits on (a healthcheck's latest result, every probe). Returns what `f`
    /// returns, not a copy of the record.
    pub(crate) fn update_in_memory<T>(
        &self,
        entry: &Entry,
        f: impl FnOnce(&mut ContainerRecord) -> T,
    ) -> T {
        f(&mut entry.record.lock().expect("lock"))
    }

    /// [`Self::publish`] reading the record in place rather than from a copy.
    pub(crate) fn publish_for(&self, entry: &Entry, action: &str, extra: &[(&str, String)]) {
        entry.peek(|rec| self.publish(rec, action, extra))
    }

    /// A network event (`create`, `destroy`; `connect` and `disconnect` with the container),
    /// as Docker's: the network's ID, its name and type.
    pub(crate) fn publish_network(
        &self,
        action: &str,
        id: &str,
        name: &str,
        container: Option<&str>,
    ) {
        let mut attrs = BTreeMap::from([
            ("name".to_string(), name.to_string()),
            (
                "type".to_string(),
                if name == "host" || name == "none" {
                    name
                } else {
                    "bridge"
                }
                .to_string(),
            ),
        ]);
        if let Some(c) = container {
            attrs.insert("container".into(), c.to_string());
        }
        self.events.publish(EventKind::Network, action, id, attrs);
    }

    /// A volume event (`create`, `destroy`, `mount`, `unmount`), as Docker's.
    pub(crate) fn publish_volume(&self, action: &str, name: &str, extra: &[(&str, String)]) {
        let mut attrs = BTreeMap::from([("driver".to_string(), "local".to_string())]);
        for (k, v) in extra {
            attrs.insert((*k).to_string(), v.clone());
        }
        self.events.publish(EventKind::Volume, action, name, attrs);
    }

    /// At a start, before its `start` event: its volumes mounted, its networks joined.
    pub(crate) fn publish_joined(&self, rec: &ContainerRecord) {
        for m in &rec.mounts {
            if let Some(v) = &m.volume {
                self.publish_volume(
                    "mount",
                    v,
                    &[
                        ("container", rec.id.clone()),
                        ("destination", m.destination.clone()),
                        ("propagation", String::new()),
                        ("read/write", m.rw.to_string()),
                    ],
                );
            }
        }
        for (id, name) in self.joined_networks(rec) {
            self.publish_network("connect", &id, &name, Some(&rec.id));
        }
    }

    /// After an exit's `die` event: its networks left, its volumes unmounted.
    pub(crate) fn publish_left(&self, rec: &ContainerRecord) {
        for (id, name) in self.joined_networks(rec) {
            self.publish_network("disconnect", &id, &name, Some(&rec.id));
        }
        for v in rec.mounts.iter().filter_map(|m| m.volume.as_ref()) {
            self.publish_volume("unmount", v, &[("container", rec.id.clone())]);
        }
    }

    /// The networks a running container is on, as (ID, name).
    fn joined_networks(&self, rec: &ContainerRecord) -> Vec<(String, String)> {
        let bridge = rec
            .network
            .as_ref()
            .and_then(|_| self.predefined.id("bridge"))
            .map(|id| (id.to_string(), "bridge".to_string()));
        bridge
            .into_iter()
            .chain(
                rec.networks
                    .iter()
                    .filter(|(_, a)| a.endpoint.is_some())
                    .map(|(name, a)| (a.network_id.clone(), name.clone())),
            )
            .collect()
    }

    pub(crate) fn publish(&self, rec: &ContainerRecord, action: &str, extra: &[(&str, String)]) {
        let mut attrs: BTreeMap<String, String> =
            rec.spec.config.labels.clone().unwrap_or_default();
        attrs.insert("image".into(), rec.spec.config.image.clone());
        attrs.insert("name".into(), rec.bare_name().to_string());
        for (k, v) in extra {
            attrs.insert((*k).to_string(), v.clone());
        }
        self.events
            .publish(EventKind::Container, action, &rec.id, attrs);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Changes from many threads at once (a removal's and an exit's, say) all reach the
    /// disk, none fails on another's temporary file, and the file ends as the memory does.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_changes_are_written_one_at_a_time_and_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let paths = ContainerPaths {
            data_root: dir.path().join("data"),
            exec_root: dir.path().join("exec"),
        };
        let images = Arc::new(ImageStore::open(&dir.path().join("data/image")).unwrap());
        let networking = Networking {
            default_bridge: None,
            user_networks: crate::networks::UserNetworks::open(&paths.data_root, None)
                .await
                .unwrap(),
            resolver: None,
        };
        let svc = ContainerService::open(
            paths,
            images,
            Arc::new(EventBus::new()),
            PathBuf::from("/nonexistent/berth-monitor"),
            networking,
        )
        .await
        .unwrap();
        let rec = ContainerRecord {
            schema: RECORD_SCHEMA,
            id: "ab".repeat(32),
            name: "/racer".into(),
            ..Default::default()
        };
        std::fs::create_dir_all(svc.paths.dir(&rec.id)).unwrap();
        svc.persist(&rec).unwrap();
        let entry = Entry::new(rec.clone());
        let threads: Vec<_> = (0..8)
            .map(|t| {
                let (svc, entry) = (svc.clone(), entry.clone());
                std::thread::spawn(move || {
                    for i in 0..50 {
                        svc.update(&entry, |r| r.restart_count += 1)
                            .unwrap_or_else(|e| panic!("thread {t}, change {i}: {e}"));
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let on_disk =
            ContainerRecord::from_json(&std::fs::read(svc.paths.record(&rec.id)).unwrap()).unwrap();
        assert_eq!(on_disk.restart_count, 400);
        assert_eq!(on_disk, entry.snapshot());
    }
}
