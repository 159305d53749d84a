//! Shaping the latest wire types down to what each API version sends. Pure functions of
//! (version, value): which fields a version has is the field table's ([`crate::fields`]);
//! what is left here is structure (renamed, regrouped or re-encoded values), decided by
//! the gates in [`crate::gates`].

use berth_api_types::events::EventMessage;
use berth_api_types::image::{DeleteItem, HistoryItem, ImageInspect, ImageSummary};
use berth_api_types::system::{Info, Version};
use berth_api_types::ApiVersion;
use serde_json::{json, Map, Value};

use crate::fields::{self, Answer};
use crate::gates;

/// An image ID as the version shows it: `sha256:<hex>` from 1.22, bare hex before.
pub fn image_id(v: ApiVersion, id: &str) -> String {
    if id.is_empty() || gates::prefixed_image_ids(v) {
        id.to_string()
    } else {
        id.strip_prefix("sha256:").unwrap_or(id).to_string()
    }
}

/// `value` cut to the fields `answer` has at `v`, written out: straight from `value` when
/// the version has every field of the answer, as the round trip through a JSON tree is half
/// the time of a 10,000-change diff.
pub fn shaped_json<T: serde::Serialize>(
    answer: Answer,
    v: ApiVersion,
    value: &T,
) -> serde_json::Result<Vec<u8>> {
    if fields::table().fields(answer).all_present_at(v) {
        serde_json::to_vec(value)
    } else {
        serde_json::to_vec(&shaped(answer, v, value))
    }
}

/// Search results in the shape of `v` (see [`gates::search_shape`]).
pub fn search_results(v: ApiVersion, results: Vec<berth_api_types::image::SearchResult>) -> Value {
    let rows = results.into_iter().map(|r| match gates::search_shape(v) {
        gates::SearchShape::Capitalised => json!({"Name": r.name, "Description": r.description}),
        gates::SearchShape::Trusted => json!({
            "description": r.description, "is_official": r.is_official,
            "is_trusted": r.is_automated, "name": r.name, "star_count": r.star_count,
        }),
        gates::SearchShape::Automated => json!({
            "description": r.description, "is_official": r.is_official,
            "is_automated": r.is_automated, "name": r.name, "star_count": r.star_count,
        }),
    });
    Value::Array(rows.collect())
}

/// The latest shape of `value`, cut to the fields `answer` has at `v`.
pub fn shaped<T: serde::Serialize>(answer: Answer, v: ApiVersion, value: T) -> Value {
    let mut all = serde_json::to_value(value).expect("wire types serialise");
    fields::shape(answer, v, &mut all);
    all
}

/// What Docker changes in a create request by the version the client speaks (moby's
/// `postContainersCreate`): defaults older clients expect, fields their version did not
/// have, and combinations a newer version refuses.
pub fn create_request(
    v: ApiVersion,
    body: &mut berth_api_types::container::CreateBody,
) -> Result<(), crate::error::ApiError> {
    if !gates::start_interval_and_recursive_read_only(v) {
        if let Some(h) = body.config.healthcheck.as_mut() {
            h.start_interval = 0;
        }
    }
    let endpoints = body
        .extras
        .networking_config
        .as_ref()
        .and_then(|n| n.endpoints_config.as_ref());
    if let Some(e) = endpoints.filter(|e| e.len() > 1) {
        if !gates::several_networks_at_create(v) {
            let names: Vec<&str> = e.keys().map(String::as_str).collect();
            return Err(crate::error::ApiError::bad_request(format!(
                "Container cannot be connected to network endpoints: {}",
                names.join(", ")
            )));
        }
    }
    host_config_request(
        v,
        body.extras.host_config.get_or_insert_with(Default::default),
    )
}

/// The host config's part of [`create_request`] (also what old clients pass to `start`).
pub fn host_config_request(
    v: ApiVersion,
    hc: &mut berth_api_types::container::HostConfig,
) -> Result<(), crate::error::ApiError> {
    use crate::error::ApiError;
    if gates::default_ipc_shareable(v) && hc.ipc_mode.is_empty() {
        hc.ipc_mode = "shareable".into();
    }
    if !gates::annotations(v) {
        hc.annotations = None;
    }
    if !gates::console_size_and_mount_checks(v) {
        hc.console_size = [0, 0];
    }
    // Zero or less is no limit: Docker keeps no value at all then.
    if hc.pids_limit.is_some_and(|l| l <= 0) {
        hc.pids_limit = None;
    }
    for m in hc.mounts.iter_mut().flatten() {
        let checked = gates::console_size_and_mount_checks(v);
        for (given, kind, field) in [
            (m.volume_options.is_some(), "volume", "VolumeOptions"),
            (m.bind_options.is_some(), "bind", "BindOptions"),
            (m.tmpfs_options.is_some(), "tmpfs", "TmpfsOptions"),
        ] {
            if given && m.kind != kind && checked {
                return Err(ApiError::bad_request(format!(
                    "{field} must not be specified on mount type {:?}",
                    m.kind
                )));
            }
        }
        if !checked {
            if m.kind != "volume" {
                m.volume_options = None;
            }
            if m.kind != "tmpfs" {
                m.tmpfs_options = None;
            }
        }
        if let Some(b) = m.bind_options.as_mut() {
            if !gates::bind_non_recursive(v) {
                b.non_recursive = false;
            }
            if !checked {
                b.create_mountpoint = false;
            }
            if !gates::start_interval_and_recursive_read_only(v) && b.read_only_force_recursive {
                return Err(ApiError::bad_request(
                    "BindOptions.ReadOnlyForceRecursive needs API v1.44 or newer",
                ));
            }
        }
    }
    Ok(())
}

pub fn version(v: ApiVersion, ver: Version) -> Value {
    shaped(Answer::Version, v, ver)
}

pub fn info(v: ApiVersion, info: Info) -> Value {
    shaped(Answer::Info, v, info)
}

/// `GET /images/json`: per-tag rows before 1.7, one object per image after.
pub fn image_list(v: ApiVersion, images: Vec<ImageSummary>) -> Value {
    if gates::legacy_image_rows(v) {
        let mut rows = Vec::new();
        for img in images {
            let id = image_id(v, &img.id);
            let tags = if img.repo_tags.is_empty() {
                vec!["<none>:<none>".to_string()]
            } else {
                img.repo_tags
            };
            for t in tags {
                let (repo, tag) = t.rsplit_once(':').unwrap_or((&t, ""));
                rows.push(json!({
                    "Repository": repo, "Tag": tag, "Id": id, "Created": img.created,
                    "Size": img.size, "VirtualSize": img.virtual_size,
                }));
            }
        }
        return Value::Array(rows);
    }
    let placeholders = gates::image_list_placeholder_tags(v);
    let rows: Vec<ImageSummary> = images
        .into_iter()
        .map(|mut img| {
            img.id = image_id(v, &img.id);
            img.parent_id = image_id(v, &img.parent_id);
            if placeholders && img.repo_tags.is_empty() {
                img.repo_tags = vec!["<none>:<none>".to_string()];
            }
            if placeholders && img.repo_digests.is_empty() {
                img.repo_digests = vec!["<none>@<none>".to_string()];
            }
            img
        })
        .collect();
    shaped(Answer::ImageList, v, rows)
}

/// `GET /images/(name)/json`: the raw lower-case image JSON before 1.12, Docker 1.6's
/// capitalised object up to 1.18, the modern object after.
pub fn image_inspect(v: ApiVersion, img: ImageInspect) -> Value {
    let id = image_id(v, &img.id);
    let parent = image_id(v, &img.parent);
    if gates::raw_image_inspect(v) {
        let mut m = Map::new();
        m.insert("id".into(), id.into());
        if !parent.is_empty() {
            m.insert("parent".into(), parent.into());
        }
        if !img.comment.is_empty() {
            m.insert("comment".into(), img.comment.into());
        }
        m.insert("created".into(), img.created.into());
        if !img.container.is_empty() {
            m.insert("container".into(), img.container.into());
        }
        m.insert(
            "container_config".into(),
            serde_json::to_value(img.container_config).expect("config"),
        );
        if !img.docker_version.is_empty() {
            m.insert("docker_version".into(), img.docker_version.into());
        }
        if !img.author.is_empty() {
            m.insert("author".into(), img.author.into());
        }
        m.insert(
            "config".into(),
            serde_json::to_value(img.config).expect("config"),
        );
        m.insert("architecture".into(), img.architecture.into());
        m.insert("os".into(), img.os.into());
        m.insert("Size".into(), img.size.into());
        return Value::Object(m);
    }
    let mut all = serde_json::to_value(&img).expect("inspect serialises");
    all["Id"] = id.into();
    all["Parent"] = parent.into();
    fields::shape(Answer::ImageInspect, v, &mut all);
    all
}

pub fn history(v: ApiVersion, items: Vec<HistoryItem>) -> Value {
    let names = gates::history_names_images(v);
    let items: Vec<HistoryItem> = items
        .into_iter()
        .map(|mut h| {
            h.id = if names {
                // Before 1.7 the Id is the image's name (first tag) or its short ID.
                h.tags
                    .as_ref()
                    .and_then(|t| t.first().cloned())
                    .unwrap_or_else(|| short(&h.id))
            } else {
                image_id(v, &h.id)
            };
            h
        })
        .collect();
    let mut all = shaped(Answer::ImageHistory, v, items);
    if names {
        // Untagged layers had no `Tags` at all.
        for item in all.as_array_mut().into_iter().flatten() {
            if item.get("Tags").is_some_and(Value::is_null) {
                item.as_object_mut().expect("object").remove("Tags");
            }
        }
    }
    all
}

fn short(id: &str) -> String {
    let hex = id.strip_prefix("sha256:").unwrap_or(id);
    hex.chars().take(12).collect()
}

pub fn delete_items(v: ApiVersion, items: Vec<DeleteItem>) -> Value {
    Value::Array(
        items
            .into_iter()
            .map(|i| match i {
                DeleteItem::Untagged(r) => json!({"Untagged": r}),
                DeleteItem::Deleted(id) => json!({"Deleted": image_id(v, &id)}),
            })
            .collect(),
    )
}

/// An event line. Docker 20.10 sends `Type`/`Action`/`Actor` at every version; the legacy
/// `status`/`id`/`from` carry the version's ID form.
pub fn event(v: ApiVersion, mut e: EventMessage) -> Value {
    if e.kind == "image" {
        if let Some(id) = e.id.take() {
            e.id = Some(image_id(v, &id));
        }
    }
    shaped(Answer::Events, v, e)
}

/// `GET /containers/json` entries for the version; sizes only when asked for.
pub fn container_list(
    v: ApiVersion,
    items: Vec<berth_api_types::container::ContainerSummary>,
    size: bool,
) -> Value {
    let rows: Vec<_> = items
        .into_iter()
        .map(|mut c| {
            if size {
                c.size_rw.get_or_insert(0);
                c.size_root_fs.get_or_insert(0);
            } else {
                c.size_rw = None;
                c.size_root_fs = None;
            }
            c
        })
        .collect();
    shaped(Answer::ContainerList, v, rows)
}

/// `GET /containers/(id)/json` for the version.
pub fn container_inspect(v: ApiVersion, c: berth_api_types::container::ContainerInspect) -> Value {
    let image = image_id(v, &c.image);
    let mut c = c;
    if gates::short_id_in_aliases(v) {
        let short = c.id.get(..12).unwrap_or_default().to_string();
        // User-defined networks are the ones with `DNSNames`.
        for ep in c.network_settings.networks.values_mut() {
            if ep.dns_names.is_some() {
                let aliases = ep.aliases.get_or_insert_with(Vec::new);
                if !aliases.contains(&short) {
                    aliases.push(short.clone());
                }
            }
        }
    }
    let mut all = serde_json::to_value(&c).expect("inspect serialises");
    if gates::legacy_network_settings(v) {
        if let Some(ns) = all["NetworkSettings"].as_object_mut() {
            for (new, old) in [("IPAddress", "IpAddress"), ("IPPrefixLen", "IpPrefixLen")] {
                let value = ns.remove(new).unwrap_or(Value::Null);
                ns.insert(old.into(), value);
            }
        }
    }
    all["Image"] = json!(image);
    fields::shape(Answer::ContainerInspect, v, &mut all);
    all
}

/// One stats object for the version. `precpu_stats`, `pids_stats`, `id` and `name` (API 1.19+)
/// are sent at every version: docker CLI 28 computes CPU % only from `precpu_stats` and
/// labels rows with `id`/`name`, and older clients ignore fields they do not know.
pub fn stats(v: ApiVersion, s: berth_api_types::stats::ContainerStats) -> Value {
    let mut all = serde_json::to_value(&s).expect("stats serialise");
    let o = all.as_object_mut().expect("object");
    if !gates::stats_have_precpu(v) {
        o.remove("preread");
        if let Some(cpu) = o.get_mut("cpu_stats").and_then(|c| c.as_object_mut()) {
            cpu.remove("online_cpus");
        }
    }
    if gates::stats_have_networks(v) {
        o.remove("network");
    } else {
        o.remove("networks");
    }
    all
}

/// `GET /exec/(id)/json` for the version (the embedded container, sent before 1.22, shaped
/// as inspect is).
pub fn exec_inspect(v: ApiVersion, e: berth_api_types::exec::ExecInspect) -> Value {
    let container = container_inspect(v, e.container.clone());
    let mut all = serde_json::to_value(&e).expect("exec inspect serialises");
    all["Container"] = container;
    if all.get("ExitCode").is_some_and(Value::is_null) && !gates::exec_inspect_has_container_id(v) {
        all["ExitCode"] = json!(0);
    }
    fields::shape(Answer::ExecInspect, v, &mut all);
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary() -> ImageSummary {
        ImageSummary {
            id: format!("sha256:{}", "a".repeat(64)),
            parent_id: String::new(),
            repo_tags: vec!["busybox:latest".into(), "busybox:1".into()],
            repo_digests: vec![],
            created: 1,
            size: 2,
            virtual_size: 2,
            labels: None,
            containers: -1,
            shared_size: -1,
        }
    }

    #[test]
    fn v1_5_lists_one_row_per_tag() {
        let rows = image_list(ApiVersion::new(1, 5), vec![summary()]);
        assert_eq!(rows.as_array().unwrap().len(), 2);
        assert_eq!(rows[0]["Repository"], "busybox");
        assert_eq!(rows[0]["Id"], "a".repeat(64));
        assert!(rows[0].get("RepoTags").is_none());
    }

    #[test]
    fn v1_18_lists_repo_tags_with_bare_ids() {
        let rows = image_list(ApiVersion::new(1, 18), vec![summary()]);
        assert_eq!(rows[0]["RepoTags"][1], "busybox:1");
        assert_eq!(rows[0]["RepoDigests"][0], "<none>@<none>");
        assert_eq!(rows[0]["Id"], "a".repeat(64));
    }

    #[test]
    fn v1_11_inspect_is_lowercase_and_v1_18_capitalised() {
        let img = ImageInspect {
            id: format!("sha256:{}", "b".repeat(64)),
            repo_tags: vec![],
            repo_digests: vec![],
            parent: String::new(),
            comment: "Imported from -".into(),
            created: "2024-01-01T00:00:00Z".into(),
            container: String::new(),
            container_config: Default::default(),
            docker_version: "berth".into(),
            author: String::new(),
            config: Default::default(),
            architecture: "amd64".into(),
            os: "linux".into(),
            size: 5,
            virtual_size: 5,
            root_fs: berth_api_types::image::RootFs {
                kind: "layers".into(),
                layers: vec![],
            },
            graph_driver: Default::default(),
            metadata: Default::default(),
            variant: String::new(),
            os_version: String::new(),
        };
        let old = image_inspect(ApiVersion::new(1, 11), img.clone());
        assert_eq!(old["id"], "b".repeat(64));
        assert!(
            old.get("Id").is_none()
                && old.get("container_config").is_some()
                && old.get("Size").is_some()
        );
        let new = image_inspect(ApiVersion::new(1, 18), img);
        assert_eq!(new["Id"], "b".repeat(64));
        assert!(
            new.get("ContainerConfig").is_some()
                && new.get("VirtualSize").is_some()
                && new.get("RootFS").is_none()
        );
    }

    #[test]
    fn version_fields_grow_with_the_api() {
        let ver = Version {
            version: "0.1.0".into(),
            api_version: "1.18".into(),
            min_api_version: "1.5".into(),
            git_commit: "x".into(),
            go_version: "rust".into(),
            os: "linux".into(),
            arch: "amd64".into(),
            kernel_version: "6".into(),
            build_time: String::new(),
            ..Default::default()
        };
        let v7 = version(ApiVersion::new(1, 7), ver.clone());
        assert!(v7.get("ApiVersion").is_none() && v7.get("Version").is_some());
        let v18 = version(ApiVersion::new(1, 18), ver);
        assert_eq!(v18["ApiVersion"], "1.18");
        assert!(v18.get("Os").is_some() && v18.get("MinAPIVersion").is_none());
    }

    #[test]
    fn history_before_1_7_names_images_and_has_no_size() {
        let h = HistoryItem {
            id: format!("sha256:{}", "c".repeat(64)),
            created: 3,
            created_by: String::new(),
            tags: Some(vec!["busybox:latest".into()]),
            size: 9,
            comment: "c".into(),
        };
        let old = history(ApiVersion::new(1, 5), vec![h.clone()]);
        assert_eq!(old[0]["Id"], "busybox:latest");
        assert!(old[0].get("Size").is_none());
        let new = history(ApiVersion::new(1, 18), vec![h]);
        assert_eq!(new[0]["Size"], 9);
        assert!(new[0].get("Comment").is_none());
    }
}
