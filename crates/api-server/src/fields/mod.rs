//! Which fields each response has at each API version, as data: the table derived from
//! moby's API definitions for 1.25–1.44 (`swagger.tsv`, printed by `tools/api-fields` from a
//! moby/moby checkout) and berth's hand-written rows (`history.rs`) for 1.5–1.24 and for
//! what those definitions get wrong. [`shape`] drops from a latest-shape answer every field
//! the asked version does not have; structural differences (renamed or regrouped fields)
//! stay in `compat`, behaviour in `gates`.

mod history;

use std::collections::{BTreeSet, HashMap};
use std::sync::OnceLock;

use berth_api_types::ApiVersion;
use serde_json::Value;

const SWAGGER: &str = include_str!("swagger.tsv");

/// The first version moby's definitions describe; a field they show there is taken to be as
/// old as the route unless a hand-written row says when it came.
const FIRST_DEFINED: ApiVersion = ApiVersion::new(1, 25);

/// A response berth shapes with the table, named by its route as moby's definitions spell it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Answer {
    Version,
    Info,
    ContainerList,
    ContainerInspect,
    ContainerWait,
    ContainerTop,
    ContainerChanges,
    ImageList,
    ImageInspect,
    ImageHistory,
    ExecInspect,
    SystemDf,
    ContainerPrune,
    ContainerUpdate,
    ImagePrune,
    NetworkPrune,
    BuildPrune,
    ContainerCreate,
    ExecCreate,
    /// One event of the stream.
    Events,
}

impl Answer {
    pub const ALL: [Answer; 20] = [
        Answer::Version,
        Answer::Info,
        Answer::ContainerList,
        Answer::ContainerInspect,
        Answer::ContainerWait,
        Answer::ContainerTop,
        Answer::ContainerChanges,
        Answer::ImageList,
        Answer::ImageInspect,
        Answer::ImageHistory,
        Answer::ExecInspect,
        Answer::SystemDf,
        Answer::ContainerPrune,
        Answer::ContainerUpdate,
        Answer::ImagePrune,
        Answer::NetworkPrune,
        Answer::BuildPrune,
        Answer::ContainerCreate,
        Answer::ExecCreate,
        Answer::Events,
    ];

    pub fn route(self) -> &'static str {
        match self {
            Answer::Version => "GET /version",
            Answer::Info => "GET /info",
            Answer::ContainerList => "GET /containers/json",
            Answer::ContainerInspect => "GET /containers/{id}/json",
            Answer::ContainerWait => "POST /containers/{id}/wait",
            Answer::ContainerTop => "GET /containers/{id}/top",
            Answer::ContainerChanges => "GET /containers/{id}/changes",
            Answer::ImageList => "GET /images/json",
            Answer::ImageInspect => "GET /images/{name}/json",
            Answer::ImageHistory => "GET /images/{name}/history",
            Answer::ExecInspect => "GET /exec/{id}/json",
            Answer::SystemDf => "GET /system/df",
            Answer::ContainerPrune => "POST /containers/prune",
            Answer::ContainerUpdate => "POST /containers/{id}/update",
            Answer::ImagePrune => "POST /images/prune",
            Answer::NetworkPrune => "POST /networks/prune",
            Answer::BuildPrune => "POST /build/prune",
            Answer::ContainerCreate => "POST /containers/create",
            Answer::ExecCreate => "POST /containers/{id}/exec",
            Answer::Events => "GET /events",
        }
    }
}

/// One field of one answer: the versions that have it and whether fields lie below it.
#[derive(Debug, Clone)]
pub struct Field {
    pub ty: String,
    /// Where the row comes from: moby's definitions, or the hand-written row's citation.
    pub source: &'static str,
    pub added: ApiVersion,
    pub removed: Option<ApiVersion>,
}

impl Field {
    pub fn present_at(&self, v: ApiVersion) -> bool {
        self.added <= v && self.removed.is_none_or(|r| v < r)
    }
}

/// One answer's fields by path (`State.Status`, `[].Id`, `Networks.*.IPAddress`), with the
/// paths that have fields below them and those whose keys are a map's.
#[derive(Debug, Default)]
pub struct Fields {
    pub by_path: HashMap<String, Field>,
    parents: std::collections::HashSet<String>,
    maps: std::collections::HashSet<String>,
}

impl Fields {
    /// Whether the answer has every one of its fields at `v`: shaping it then drops nothing
    /// berth sends (the field-table test sees that berth sends no field the table lacks).
    pub fn all_present_at(&self, v: ApiVersion) -> bool {
        self.by_path.values().all(|f| f.present_at(v))
    }

    fn new(by_path: HashMap<String, Field>) -> Self {
        let mut parents = std::collections::HashSet::new();
        let mut maps = std::collections::HashSet::new();
        for path in by_path.keys() {
            // Every prefix of a path ends at a `.`, a `[]` or a `*`.
            let mut end = 0;
            while let Some(i) = path[end..].find(['.', '[']) {
                let at = end + i;
                let parent = &path[..at];
                if let Some(map) = parent.strip_suffix(".*") {
                    maps.insert(map.to_string());
                } else if parent == "*" {
                    maps.insert(String::new());
                }
                parents.insert(parent.to_string());
                end = at + if path[at..].starts_with("[]") { 2 } else { 1 };
            }
        }
        Fields {
            by_path,
            parents,
            maps,
        }
    }
}

/// Every answer's fields, by route.
#[derive(Debug, Default)]
pub struct Table {
    routes: HashMap<String, Fields>,
}

pub fn table() -> &'static Table {
    static TABLE: OnceLock<Table> = OnceLock::new();
    TABLE.get_or_init(|| Table::build(SWAGGER, history::ROWS, history::NOT_FIELDS))
}

fn version(s: &str) -> ApiVersion {
    s.parse()
        .unwrap_or_else(|_| panic!("bad version {s:?} in the field table"))
}

impl Table {
    fn build(swagger: &str, hand: &[history::Row], not_fields: &[history::NotField]) -> Table {
        let mut routes: HashMap<String, HashMap<String, Field>> = HashMap::new();
        for line in swagger.lines().filter(|l| !l.starts_with('#')) {
            let cols: Vec<&str> = line.split('\t').collect();
            let [route, part, path, ty, added, removed] = cols[..] else {
                panic!("bad field table row {line:?}");
            };
            if part != "response" {
                continue;
            }
            let added = match version(added) {
                v if v == FIRST_DEFINED => ApiVersion::MIN,
                v => v,
            };
            let removed = (!removed.is_empty()).then(|| version(removed));
            let path = history::MOVED
                .iter()
                .find(|m| m.route == route && path.starts_with(m.from))
                .map_or_else(
                    || path.to_string(),
                    |m| format!("{}{}", m.to, &path[m.from.len()..]),
                );
            let field = Field {
                ty: ty.to_string(),
                source: "moby api/docs definitions",
                added,
                removed,
            };
            let fields = routes.entry(route.to_string()).or_default();
            match fields.get_mut(&path) {
                // A moved row meets the row of the versions that spell it right: one field
                // from the earlier's start to the later's end.
                Some(seen) => {
                    seen.added = seen.added.min(field.added);
                    seen.removed = seen.removed.zip(field.removed).map(|(a, b)| a.max(b));
                }
                None => {
                    fields.insert(path, field);
                }
            }
        }
        for nf in not_fields {
            if let Some(fields) = routes.get_mut(nf.route) {
                fields.retain(|p, _| p != nf.field && !p.starts_with(&format!("{}.", nf.field)));
            }
        }
        for row in hand {
            let fields = routes.entry(row.route.to_string()).or_default();
            let ty = fields
                .get(row.field)
                .map(|f| f.ty.clone())
                .unwrap_or_else(|| row.ty.to_string());
            fields.insert(
                row.field.to_string(),
                Field {
                    ty,
                    source: row.cite,
                    added: version(row.added),
                    removed: row.removed.map(version),
                },
            );
        }
        Table {
            routes: routes
                .into_iter()
                .map(|(r, f)| (r, Fields::new(f)))
                .collect(),
        }
    }

    pub fn fields(&self, answer: Answer) -> &Fields {
        static NONE: OnceLock<Fields> = OnceLock::new();
        self.routes
            .get(answer.route())
            .unwrap_or_else(|| NONE.get_or_init(Fields::default))
    }

    /// The paths `answer` has at `v`.
    pub fn fields_at(&self, answer: Answer, v: ApiVersion) -> BTreeSet<String> {
        self.fields(answer)
            .by_path
            .iter()
            .filter(|(_, f)| f.present_at(v))
            .map(|(p, _)| p.clone())
            .collect()
    }
}

/// Drops from `value` (the answer in its latest shape) every field `answer` does not have at
/// `v`. Maps (`Labels`, `Networks`) keep their keys; free-form objects are kept whole.
pub fn shape(answer: Answer, v: ApiVersion, value: &mut Value) {
    prune(table().fields(answer), v, "", value);
}

fn prune(fields: &Fields, v: ApiVersion, prefix: &str, value: &mut Value) {
    match value {
        Value::Array(items) => {
            let path = join(prefix, "[]");
            for item in items {
                prune(fields, v, &path, item);
            }
        }
        Value::Object(map) if fields.maps.contains(prefix) => {
            let path = join(prefix, "*");
            for item in map.values_mut() {
                prune(fields, v, &path, item);
            }
        }
        Value::Object(map) => {
            map.retain(|k, _| {
                fields
                    .by_path
                    .get(&join(prefix, k))
                    .is_some_and(|f| f.present_at(v))
            });
            for (k, item) in map.iter_mut() {
                let path = join(prefix, k);
                if fields.parents.contains(&path) {
                    prune(fields, v, &path, item);
                }
            }
        }
        _ => {}
    }
}

pub(crate) fn join(prefix: &str, name: &str) -> String {
    match (prefix.is_empty(), name) {
        (true, _) => name.to_string(),
        (false, "[]") => format!("{prefix}[]"),
        (false, _) => format!("{prefix}.{name}"),
    }
}

/// Every field path of a JSON value as the table names them (map keys as `*`), with `a[]` and
/// `a.*` for collections that have an element; fields the table does not know are named but
/// not walked into.
pub fn paths_of(answer: Answer, value: &Value) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    collect(table().fields(answer), "", value, &mut out);
    out
}

fn collect(fields: &Fields, prefix: &str, value: &Value, out: &mut BTreeSet<String>) {
    match value {
        Value::Array(items) => {
            let path = join(prefix, "[]");
            for item in items {
                out.insert(path.clone());
                collect(fields, &path, item, out);
            }
        }
        Value::Object(map) if fields.maps.contains(prefix) => {
            let path = join(prefix, "*");
            for item in map.values() {
                out.insert(path.clone());
                collect(fields, &path, item, out);
            }
        }
        Value::Object(map) => {
            for (k, item) in map {
                let path = join(prefix, k);
                if fields.parents.contains(&path) {
                    collect(fields, &path, item, out);
                }
                out.insert(path);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn v(minor: u16) -> ApiVersion {
        ApiVersion::new(1, minor)
    }

    #[test]
    fn parents_and_maps_are_read_off_the_paths() {
        let f = table().fields(Answer::ContainerInspect);
        assert!(f.parents.contains("State") && f.parents.contains("NetworkSettings.Networks"));
        assert!(
            f.maps.contains("NetworkSettings.Networks") && f.maps.contains("NetworkSettings.Ports")
        );
        assert!(
            !f.parents.contains("Config.Labels"),
            "a map of strings is a leaf"
        );
        let list = table().fields(Answer::ContainerList);
        assert!(list.parents.contains("[].Ports") && list.by_path.contains_key("[].Id"));
    }

    #[test]
    fn shaping_drops_what_the_version_lacks_and_keeps_map_keys() {
        let mut inspect = json!({
            "Id": "x",
            "Platform": "linux",
            "Unknown": 1,
            "State": {"Status": "running", "Running": true, "Health": {"Status": "healthy"}},
            "Config": {"Labels": {"a": "b"}},
            "NetworkSettings": {
                "Ports": {"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8080"}]},
                "Networks": {"bridge": {"IPAddress": "172.18.0.2", "DNSNames": ["x"]}}
            }
        });
        let mut old = inspect.clone();
        shape(Answer::ContainerInspect, v(44), &mut inspect);
        assert!(inspect.get("Unknown").is_none());
        assert_eq!(inspect["Config"]["Labels"]["a"], "b");
        assert_eq!(
            inspect["NetworkSettings"]["Ports"]["80/tcp"][0]["HostPort"],
            "8080"
        );
        assert_eq!(
            inspect["NetworkSettings"]["Networks"]["bridge"]["DNSNames"][0],
            "x"
        );
        assert_eq!(inspect["State"]["Health"]["Status"], "healthy");
        shape(Answer::ContainerInspect, v(18), &mut old);
        assert!(
            old["State"].get("Status").is_none(),
            "State.Status came in 1.21"
        );
        assert!(old["State"].get("Health").is_none());
        assert!(old["NetworkSettings"].get("Networks").is_none());
        assert_eq!(
            old["NetworkSettings"]["Ports"]["80/tcp"][0]["HostIp"],
            "0.0.0.0"
        );
    }

    #[test]
    fn moved_rows_merge_into_one_field() {
        let df = table().fields(Answer::SystemDf);
        let id = &df.by_path["Containers[].Id"];
        assert_eq!((id.added, id.removed), (ApiVersion::MIN, None));
        let v25 = table().fields_at(Answer::SystemDf, ApiVersion::new(1, 25));
        assert!(v25.contains("Containers[].Id") && !v25.iter().any(|p| p.contains("[][]")));
    }

    #[test]
    fn hand_rows_name_fields_and_versions_that_read() {
        for row in history::ROWS {
            let added = version(row.added);
            assert!(
                row.removed.is_none_or(|r| version(r) > added),
                "{row:?} is removed before it is added"
            );
            assert!(!row.cite.is_empty(), "{row:?} cites nothing");
        }
        for nf in history::NOT_FIELDS {
            assert!(!nf.cite.is_empty(), "{nf:?} cites nothing");
        }
        for m in history::MOVED {
            assert!(!m.cite.is_empty(), "{m:?} cites nothing");
            // Every field the later definitions give lies under `to` from the route's start.
            let fields = &table().routes[m.route];
            assert!(
                fields.by_path.keys().all(|p| !p.starts_with(m.from)),
                "{m:?}"
            );
        }
        for answer in Answer::ALL {
            assert!(
                !table().fields(answer).by_path.is_empty(),
                "{answer:?} has no fields"
            );
        }
    }
}
