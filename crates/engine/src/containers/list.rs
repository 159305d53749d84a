//! Listing containers (`docker ps`): which ones, newest first, under which names (a linked
//! container is also listed as `/<parent>/<alias>`), and with their sizes when asked.

use std::collections::HashMap;

use super::record::{ContainerRecord, Status};
use super::{net, ContainerService};
use crate::error::EngineError;
use crate::labels::LabelFilter;

/// What to list. Each filter is `None` for "any"; `Some(values)` keeps a container that
/// matches one of the values (so `Some(vec![])` keeps none).
#[derive(Debug, Clone, Default)]
pub struct ListOptions {
    /// Stopped containers too (implied by every option but `size` and the label, id, name
    /// and ancestor filters, as in Docker).
    pub all: bool,
    pub limit: Option<usize>,
    /// Only containers created after / before this one (a name or ID).
    pub since: Option<String>,
    pub before: Option<String>,
    pub size: bool,
    pub exited: Option<Vec<i32>>,
    pub status: Option<Vec<Status>>,
    pub labels: LabelFilter,
    /// ID prefixes.
    pub ids: Option<Vec<String>>,
    /// Substrings of the name.
    pub names: Option<Vec<String>>,
    /// Image references or IDs the container was made from.
    pub ancestors: Option<Vec<String>>,
    /// Healthcheck states: `starting`, `healthy`, `unhealthy`, or `none` (no healthcheck).
    pub health: Option<Vec<String>>,
    /// Networks (by name) the container is on.
    pub networks: Option<Vec<String>>,
    /// Host ports the container publishes, and container ports it exposes (published or not).
    pub publish: Option<Vec<super::spec::Port>>,
    pub expose: Option<Vec<super::spec::Port>>,
    /// A volume's name, a bind's source, or a mount's destination.
    pub volumes: Option<Vec<String>>,
    /// Only swarm tasks (`true`: none here) or only containers that are not (`false`).
    pub is_task: Option<bool>,
}

/// One listed container.
#[derive(Debug, Clone)]
pub struct Listed {
    pub record: ContainerRecord,
    /// Its name, then its link names.
    pub names: Vec<String>,
    /// What its writable layer holds and that plus its image, in bytes (with `size`).
    pub size_rw: Option<i64>,
    pub size_root_fs: Option<i64>,
    /// Exposed ports and where they are published.
    pub ports: Vec<(super::spec::Port, Vec<(std::net::Ipv4Addr, u16)>)>,
}

fn any<T>(filter: &Option<Vec<T>>, pred: impl FnMut(&T) -> bool) -> bool {
    filter.as_ref().is_none_or(|values| values.iter().any(pred))
}

pub(crate) fn dir_size(path: &std::path::Path) -> i64 {
    let mut total = 0;
    for e in std::fs::read_dir(path).into_iter().flatten().flatten() {
        match e.file_type() {
            Ok(t) if t.is_dir() => total += dir_size(&e.path()),
            Ok(_) => total += e.metadata().map(|m| m.len() as i64).unwrap_or(0),
            Err(_) => {}
        }
    }
    total
}

impl ContainerService {
    /// Bytes of a container's writable layer, and of it with its image's. Walks the layer:
    /// run it off the async threads.
    fn sizes_of(&self, rec: &ContainerRecord) -> (i64, i64) {
        let rw = dir_size(&self.paths.overlay(&rec.id).join("upper"));
        let image = self
            .images
            .resolve(&rec.image_id)
            .map(|i| i.size() as i64)
            .unwrap_or(0);
        (rw, rw + image)
    }

    /// `SizeRw` and `SizeRootFs` of `name` (inspect with `?size=1`).
    pub fn sizes(&self, name: &str) -> Result<(i64, i64), EngineError> {
        let rec = self.entry(name)?.snapshot();
        Ok(self.sizes_of(&rec))
    }

    /// The overlay's directories as Docker's `overlay2` driver names them in inspect's
    /// `GraphDriver.Data`.
    pub fn graph_driver_data(
        &self,
        rec: &ContainerRecord,
    ) -> std::collections::BTreeMap<String, String> {
        let dirs = berth_snapshot::OverlayDirs::new(self.paths.overlay(&rec.id));
        let lower: Vec<String> = berth_image::Digest::parse(&rec.image_id)
            .and_then(|id| self.images.get(&id))
            .map(|img| {
                img.layers
                    .iter()
                    .rev()
                    .map(|l| self.images.diff_path(&l.chain_id).display().to_string())
                    .collect()
            })
            .unwrap_or_default();
        [
            ("LowerDir", lower.join(":")),
            ("MergedDir", dirs.merged().display().to_string()),
            ("UpperDir", dirs.upper().display().to_string()),
            ("WorkDir", dirs.work().display().to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }

    /// `ancestors`: each ancestor filter with the ID of the image it names, if any.
    fn matches(
        rec: &ContainerRecord,
        o: &ListOptions,
        ancestors: &Option<Vec<(String, Option<String>)>>,
    ) -> bool {
        let labels = rec.spec.config.labels.as_ref();
        any(&o.exited, |code| {
            rec.state.status == Status::Exited && rec.state.exit_code == *code
        }) && any(&o.status, |s| *s == rec.state.status)
            && o.labels
                .matches(|k| labels.and_then(|l| l.get(k)).map(String::as_str))
            && any(&o.ids, |p| rec.id.starts_with(p.as_str()))
            && any(&o.health, |want| {
                rec.state
                    .health
                    .as_ref()
                    .map_or("none", |h| h.status.as_str())
                    == want
            })
            && any(&o.names, |n| {
                rec.bare_name().contains(n.trim_start_matches('/'))
            })
            && any(ancestors, |(name, id)| {
                rec.spec.config.image == *name || id.as_deref() == Some(rec.image_id.as_str())
            })
            && any(&o.networks, |n| {
                net::network_name(rec).as_deref() == Some(n.as_str())
            })
            && Self::port_matches(rec, o)
            && any(&o.volumes, |v| {
                rec.mounts.iter().any(|m| {
                    m.destination == *v
                        || m.volume.as_deref() == Some(v.as_str())
                        || (m.volume.is_none() && m.source == *v)
                })
            })
            && o.is_task != Some(true)
    }

    /// `publish` and `expose`: one of the container's ports is published on a host port, or
    /// exposed, as one of those asked for (either kind of filter matching is enough).
    fn port_matches(rec: &ContainerRecord, o: &ListOptions) -> bool {
        if o.publish.is_none() && o.expose.is_none() {
            return true;
        }
        let ports = net::published_ports(rec);
        ports.iter().any(|(port, bound)| {
            o.expose.iter().flatten().any(|e| e == port)
                || bound.iter().any(|(_, host_port)| {
                    o.publish
                        .iter()
                        .flatten()
                        .any(|p| p.number == *host_port && p.proto == port.proto)
                })
        })
    }

    /// `/<parent>/<alias>` for each link, by the linked container's ID.
    fn link_names(&self, all: &[ContainerRecord]) -> HashMap<String, Vec<String>> {
        let mut out: HashMap<String, Vec<String>> = HashMap::new();
        for parent in all {
            for link in parent.spec.host.links.iter().flatten() {
                let Ok((child, alias)) = net::parse_link(link) else {
                    continue;
                };
                if let Ok(child) = self.entry(&child) {
                    out.entry(child.snapshot().id)
                        .or_default()
                        .push(format!("{}/{alias}", parent.name));
                }
            }
        }
        out
    }

    /// The containers `o` asks for, newest first.
    pub fn list_filtered(&self, o: &ListOptions) -> Result<Vec<Listed>, EngineError> {
        let mut all = self.list();
        all.sort_by(|a, b| b.created.cmp(&a.created).then_with(|| b.id.cmp(&a.id)));
        let created_of = |name: &Option<String>| -> Result<Option<String>, EngineError> {
            name.as_deref()
                .map(|n| self.inspect(n).map(|r| r.created))
                .transpose()
        };
        let (since, before) = (created_of(&o.since)?, created_of(&o.before)?);
        let show_all = o.all
            || o.limit.is_some()
            || since.is_some()
            || before.is_some()
            || o.status.is_some()
            || o.exited.is_some();
        let link_names = self.link_names(&all);
        // Each named image is looked up once, not once per container.
        let ancestors = o.ancestors.as_ref().map(|names| {
            names
                .iter()
                .map(|n| {
                    let id = self.images.resolve(n).ok().map(|i| i.id.to_string());
                    (n.clone(), id)
                })
                .collect()
        });
        let mut out = Vec::new();
        for rec in all {
            if !show_all && !rec.state.status.is_active() {
                continue;
            }
            if since.as_ref().is_some_and(|s| rec.created <= *s)
                || before.as_ref().is_some_and(|b| rec.created >= *b)
                || !Self::matches(&rec, o, &ancestors)
            {
                continue;
            }
            let (size_rw, size_root_fs) = if o.size {
                let (rw, root) = self.sizes_of(&rec);
                (Some(rw), Some(root))
            } else {
                (None, None)
            };
            out.push(Listed {
                names: std::iter::once(rec.name.clone())
                    .chain(link_names.get(&rec.id).into_iter().flatten().cloned())
                    .collect(),
                size_rw,
                size_root_fs,
                ports: net::published_ports(&rec),
                record: rec,
            });
            if o.limit.is_some_and(|l| out.len() >= l) {
                break;
            }
        }
        Ok(out)
    }
}
