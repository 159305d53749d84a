//! Creating a container: the image's config merged under the user's, names, the record.

use super::names;
use super::record::{ContainerRecord, State, RECORD_SCHEMA};
use super::settings;
use super::spec::{ContainerSpec, HostConfig, ImageDefaults, NetworkMode, UtsMode};
use super::{net, ContainerService, Entry};
use crate::error::EngineError;

pub(crate) const DEFAULT_PATH: &str =
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// What `create` needs: the user's spec (the image's config not yet merged) and a name.
#[derive(Debug, Clone, Default)]
pub struct CreateRequest {
    pub name: String,
    pub spec: ContainerSpec,
    /// `NetworkingConfig.EndpointsConfig`: by network name or ID.
    pub endpoints: std::collections::BTreeMap<String, crate::networks::EndpointRequest>,
}

/// A container just made, and what the daemon changed of what was asked (Docker's
/// `Warnings`).
#[derive(Debug, Clone)]
pub struct Created {
    pub record: ContainerRecord,
    pub warnings: Vec<String>,
}

/// The time now, as records write it (RFC 3339).
pub(super) fn now() -> String {
    jiff::Timestamp::now().to_string()
}

impl ContainerService {
    pub(super) fn name_taken(&self, name: &str) -> Option<String> {
        let map = self.containers.read().expect("lock");
        map.values()
            .map(|e| e.snapshot())
            .find(|r| r.name == name)
            .map(|r| r.id)
    }

    pub(super) fn conflict_name(name: &str, id: &str) -> EngineError {
        EngineError::Conflict(format!(
            "Conflict. The container name \"{name}\" is already in use by container \"{id}\". You have to remove (or rename) that container to be able to reuse that name."
        ))
    }

    /// `POST /containers/create`.
    pub fn create(&self, req: CreateRequest) -> Result<Created, EngineError> {
        // Most creates are followed by a start at once.
        super::start::prime_cgroup_migration();
        let CreateRequest {
            name,
            mut spec,
            endpoints,
        } = req;
        if spec.config.image.is_empty() {
            return Err(EngineError::InvalidParameter(
                "Config.Image is required".into(),
            ));
        }
        let image = self
            .images
            .resolve(&spec.config.image)
            .map_err(|e| match e {
                berth_image::ImageError::NotFound(_) => {
                    EngineError::NotFound(format!("No such image: {}", spec.config.image))
                }
                other => other.into(),
            })?;
        spec.config
            .merge_image(ImageDefaults::from_image(image.config.config.as_ref()));
        let argv = spec.config.argv();
        if argv.is_empty() {
            return Err(EngineError::InvalidParameter("No command specified".into()));
        }
        settings::validate(&spec.host)?;
        if let Some(check) = &spec.config.healthcheck {
            check.validate()?;
        }
        if spec.host.uts_mode == UtsMode::Host {
            if !spec.config.hostname.is_empty() {
                return Err(EngineError::InvalidParameter(
                    "Conflicting options: hostname and the UTS mode".into(),
                ));
            }
            // The host's name is the container's, as the host's namespace says.
            spec.config.hostname = rustix::system::uname()
                .nodename()
                .to_string_lossy()
                .into_owned();
        }
        let warnings = settings::fill_defaults(&mut spec.host);
        let id = loop {
            let id = crate::random_id();
            // Docker avoids IDs that look like numbers (they would be ambiguous with PIDs).
            if !id[..12].bytes().all(|b| b.is_ascii_digit()) {
                break id;
            }
        };
        let name = if name.is_empty() {
            let mut n = format!("/{}", names::generate(0));
            let mut retry = 1;
            while self.name_taken(&n).is_some() {
                n = format!("/{}", names::generate(retry));
                retry += 1;
            }
            n
        } else {
            if !names::valid(&name) {
                return Err(EngineError::InvalidParameter(format!(
                    "Invalid container name ({name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
                )));
            }
            format!("/{}", name.trim_start_matches('/'))
        };
        if spec.config.hostname.is_empty() {
            spec.config.hostname = id[..12].to_string();
        }
        let record = ContainerRecord {
            schema: RECORD_SCHEMA,
            id: id.clone(),
            name: name.clone(),
            created: now(),
            image_id: image.id.to_string(),
            path: argv[0].clone(),
            args: argv[1..].to_vec(),
            spec,
            state: State::default(),
            restart_count: 0,
            mounts: Vec::new(),
            network: None,
            networks: Default::default(),
        };
        let mut record = record;
        // A network that is not there is a bad request at create (a 404 would have the
        // client pull the image), as Docker answers it.
        let not_found_is_invalid = |e: EngineError| match e {
            EngineError::NotFound(m) => EngineError::InvalidParameter(m),
            other => other,
        };
        net::validate(&record, &self.user_networks).map_err(not_found_is_invalid)?;
        record.networks = self
            .create_attachments(&record, endpoints)
            .map_err(not_found_is_invalid)?;
        for link in record.spec.host.links.iter().flatten() {
            let (name, _) = net::parse_link(link)?;
            // Invalid parameter, not "not found": a 404 would make the client try to pull
            // the image (Docker answers this way for the same reason).
            let child = self
                .entry(&name)
                .map_err(|_| {
                    EngineError::InvalidParameter(format!("Could not get container for {name}"))
                })?
                .snapshot();
            if child.spec.host.network_mode == NetworkMode::Host {
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
                .map_err(|e| EngineError::failed("create container directory", e))?;
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
        Ok(Created { record, warnings })
    }

    /// The user-defined networks a new container joins: the one `NetworkMode` names and
    /// those `EndpointsConfig` lists, with what each asks.
    fn create_attachments(
        &self,
        rec: &ContainerRecord,
        endpoints: std::collections::BTreeMap<String, crate::networks::EndpointRequest>,
    ) -> Result<std::collections::BTreeMap<String, super::Attachment>, EngineError> {
        let mode = net::mode(rec, true, &self.user_networks)?;
        let mut out = std::collections::BTreeMap::new();
        for (key, req) in endpoints {
            let predefined = matches!(key.as_str(), "bridge" | "host" | "none" | "default");
            if predefined {
                if !req.aliases.is_empty() && key != "none" && key != "host" {
                    return Err(EngineError::InvalidParameter(
                        "network-scoped alias is supported only for containers in user defined networks".into(),
                    ));
                }
                if req.ipv4.is_some() {
                    return Err(EngineError::InvalidParameter(
                        "user specified IP address is supported on user defined networks only"
                            .into(),
                    ));
                }
                continue;
            }
            let network = self
                .user_networks
                .find(&key)
                .ok_or_else(|| EngineError::NotFound(format!("network {key} not found")))?;
            if !matches!(mode, net::Mode::User(_) | net::Mode::Bridge) {
                return Err(EngineError::InvalidParameter(format!(
                    "container cannot be connected to network {key} in network mode {}",
                    rec.spec.host.network_mode
                )));
            }
            out.insert(
                network.record.name.clone(),
                Self::attachment_for(&network, req)?,
            );
        }
        if let net::Mode::User(name) = mode {
            if let std::collections::btree_map::Entry::Vacant(slot) = out.entry(name) {
                let network = self.user_networks.find(slot.key()).expect("found by mode");
                slot.insert(Self::attachment_for(&network, Default::default())?);
            }
        }
        Ok(out)
    }

    /// Replaces the host config of a container that is not running (old clients pass it to
    /// `start`).
    pub fn set_host_config(&self, name: &str, hc: HostConfig) -> Result<(), EngineError> {
        let entry = self.entry(name)?;
        if entry.snapshot().state.status.is_running() {
            return Ok(());
        }
        settings::validate(&hc)?;
        let mut hc = hc;
        settings::fill_defaults(&mut hc);
        self.update(&entry, |r| r.spec.host = hc)?;
        Ok(())
    }
}
