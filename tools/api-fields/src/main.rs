//! `api-fields MOBY_CHECKOUT [LAST_MINOR]` derives the Engine API's field table from moby's
//! published API definitions (`api/docs/v1.25.yaml` … in a moby/moby checkout) and prints it
//! as tab-separated rows: `route  part  field  type  added  removed`.
//!
//! - `route` is `METHOD /path` as the swagger file spells it; `part` is `response` (the first
//!   2xx answer with a schema) or `body` (the request body);
//! - `field` is a path into the JSON: `State.Status`, `[].Id` for an array's items,
//!   `Networks.*.IPAddress` for the values of a map;
//! - `added` is the first version whose file has the field, `removed` the first later
//!   version whose file no longer has it (empty while 1.LAST still has it).
//!
//! berth checks in what this prints (crates/api-server/src/fields/swagger.tsv), not moby's
//! files. Swarm, plugin and session routes are left out: berth answers them without a body
//! of those shapes.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde_json::Value;

const FIRST_MINOR: u16 = 25;
const DEFAULT_LAST_MINOR: u16 = 44;
const LEFT_OUT: &[&str] = &[
    "/swarm",
    "/nodes",
    "/services",
    "/tasks",
    "/secrets",
    "/configs",
    "/plugins",
    "/session",
    "/distribution",
    "/grpc",
];

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let Some(checkout) = args.next() else {
        bail!("usage: api-fields MOBY_CHECKOUT [LAST_MINOR]");
    };
    let last: u16 = match args.next() {
        Some(s) => s.parse().context("LAST_MINOR")?,
        None => DEFAULT_LAST_MINOR,
    };
    let table = derive(Path::new(&checkout), last)?;
    print!("{}", render(&table, last));
    Ok(())
}

/// (route, part, field) → (type at the newest version that has it, versions that have it).
type Table = BTreeMap<(String, String, String), (String, BTreeSet<u16>)>;

fn derive(checkout: &Path, last: u16) -> Result<Table> {
    let mut table = Table::new();
    for minor in FIRST_MINOR..=last {
        let file: PathBuf = checkout.join(format!("api/docs/v1.{minor}.yaml"));
        let text =
            std::fs::read_to_string(&file).with_context(|| format!("read {}", file.display()))?;
        let yaml: serde_yaml_ng::Value =
            serde_yaml_ng::from_str(&text).with_context(|| format!("parse {}", file.display()))?;
        let doc = to_json(yaml);
        for (route, part, field, ty) in fields_of(&doc) {
            let entry = table
                .entry((route, part, field))
                .or_insert_with(|| (String::new(), BTreeSet::new()));
            entry.0 = ty;
            entry.1.insert(minor);
        }
    }
    Ok(table)
}

fn render(table: &Table, last: u16) -> String {
    let mut out = format!(
        "# Derived by tools/api-fields from moby's api/docs/v1.{FIRST_MINOR}.yaml … v1.{last}.yaml.\n\
         # route\tpart\tfield\ttype\tadded\tremoved\n"
    );
    for ((route, part, field), (ty, versions)) in table {
        let added = versions.first().expect("at least one version");
        let newest = versions.last().expect("at least one version");
        // A field that left and came back is kept from its first to its last appearance.
        let removed = if *newest < last {
            format!("1.{}", newest + 1)
        } else {
            String::new()
        };
        out.push_str(&format!(
            "{route}\t{part}\t{field}\t{ty}\t1.{added}\t{removed}\n"
        ));
    }
    out
}

/// YAML keys such as response codes (`200:`) are numbers; the JSON model wants strings.
fn to_json(v: serde_yaml_ng::Value) -> Value {
    use serde_yaml_ng::Value as Y;
    match v {
        Y::Null => Value::Null,
        Y::Bool(b) => Value::Bool(b),
        Y::Number(n) => serde_json::to_value(&n).unwrap_or(Value::Null),
        Y::String(s) => Value::String(s),
        Y::Sequence(items) => Value::Array(items.into_iter().map(to_json).collect()),
        Y::Mapping(m) => Value::Object(
            m.into_iter()
                .map(|(k, v)| {
                    let key = match k {
                        Y::String(s) => s,
                        Y::Number(n) => n.to_string(),
                        Y::Bool(b) => b.to_string(),
                        other => format!("{other:?}"),
                    };
                    (key, to_json(v))
                })
                .collect(),
        ),
        Y::Tagged(t) => to_json(t.value),
    }
}

/// Every (route, part, field, type) of one swagger document.
fn fields_of(doc: &Value) -> Vec<(String, String, String, String)> {
    let mut out = Vec::new();
    let Some(paths) = doc["paths"].as_object() else {
        return out;
    };
    for (path, ops) in paths {
        if LEFT_OUT.iter().any(|p| path.starts_with(p)) {
            continue;
        }
        let Some(ops) = ops.as_object() else { continue };
        for (method, op) in ops {
            let route = format!("{} {path}", method.to_uppercase());
            let response = op["responses"].as_object().and_then(|rs| {
                rs.iter()
                    .filter(|(code, _)| code.starts_with('2'))
                    .find_map(|(_, r)| r.get("schema"))
            });
            if let Some(schema) = response {
                let mut rows = Vec::new();
                walk(doc, schema, "", &mut Vec::new(), &mut rows);
                out.extend(
                    rows.into_iter()
                        .map(|(f, t)| (route.clone(), "response".to_string(), f, t)),
                );
            }
            let body = op["parameters"].as_array().and_then(|ps| {
                ps.iter()
                    .find(|p| p["in"] == "body")
                    .and_then(|p| p.get("schema"))
            });
            if let Some(schema) = body {
                let mut rows = Vec::new();
                walk(doc, schema, "", &mut Vec::new(), &mut rows);
                out.extend(
                    rows.into_iter()
                        .map(|(f, t)| (route.clone(), "body".to_string(), f, t)),
                );
            }
        }
    }
    out
}

/// Follows `$ref`s, remembering which are open so that a recursive definition ends.
fn resolve<'a>(doc: &'a Value, schema: &'a Value, open: &mut Vec<String>) -> Option<&'a Value> {
    match schema.get("$ref").and_then(Value::as_str) {
        Some(r) => {
            if open.iter().any(|o| o == r) {
                return None;
            }
            open.push(r.to_string());
            let name = r.trim_start_matches("#/definitions/");
            doc["definitions"].get(name)
        }
        None => Some(schema),
    }
}

/// The properties of an object schema, `allOf` members merged in order.
fn properties(doc: &Value, schema: &Value, open: &mut Vec<String>) -> BTreeMap<String, Value> {
    let mut props = BTreeMap::new();
    if let Some(members) = schema["allOf"].as_array() {
        for m in members {
            let depth = open.len();
            if let Some(m) = resolve(doc, m, open) {
                props.extend(properties(doc, m, open));
            }
            open.truncate(depth);
        }
    }
    if let Some(p) = schema["properties"].as_object() {
        props.extend(p.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    props
}

/// Appends `(field, type)` for the schema at `prefix` and for everything below it; returns
/// the schema's type.
fn walk(
    doc: &Value,
    schema: &Value,
    prefix: &str,
    open: &mut Vec<String>,
    rows: &mut Vec<(String, String)>,
) -> String {
    let depth = open.len();
    let ty = match resolve(doc, schema, open) {
        None => "object".to_string(),
        Some(s) => {
            let props = properties(doc, s, open);
            if !props.is_empty() {
                for (name, sub) in &props {
                    let field = join(prefix, name);
                    let t = walk(doc, sub, &field, open, rows);
                    rows.push((field, t));
                }
                "object".to_string()
            } else if let Some(first) = s["allOf"].as_array().and_then(|m| m.first()) {
                // `allOf: [$ref]` wraps a scalar definition (an enum) to add a description.
                walk(doc, first, prefix, open, rows)
            } else if s["type"] == "array" || s.get("items").is_some() {
                let item = walk(doc, &s["items"], &join(prefix, "[]"), open, rows);
                format!("[]{item}")
            } else if let Some(values) = s.get("additionalProperties").filter(|v| v.is_object()) {
                let value = walk(doc, values, &join(prefix, "*"), open, rows);
                format!("map[string]{value}")
            } else {
                s["type"].as_str().unwrap_or("object").to_string()
            }
        }
    };
    open.truncate(depth);
    ty
}

fn join(prefix: &str, name: &str) -> String {
    match (prefix.is_empty(), name) {
        (true, _) => name.to_string(),
        (false, "[]") => format!("{prefix}[]"),
        (false, _) => format!("{prefix}.{name}"),
    }
}
