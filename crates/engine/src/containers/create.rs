//! Creating a container: the image's config merged under the user's, names, the record.

use std::collections::BTreeMap;

use super::names;
use super::record::{Config, ContainerRecord, HostConfig, State};
use super::settings;
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

/// The time now, as records write it (RFC 3339).
pub(super) fn now() -> String {
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
}
