//! Docker's `filters` query parameter: a JSON object whose values are either lists of strings
//! (`{"label":["a=b"]}`, every documented version) or maps of string to `true`
//! (`{"label":{"a=b":true}}`, what newer clients send).

use std::collections::BTreeMap;

/// Parsed filters: key → accepted values.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filters(BTreeMap<String, Vec<String>>);

/// A filters value that could not be used; the message is Docker's wording.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterError(pub String);

impl std::fmt::Display for FilterError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for FilterError {}

impl Filters {
    /// Parses the raw (already URL-decoded) `filters` value. An empty string means no filters.
    pub fn parse(raw: &str) -> Result<Self, FilterError> {
        if raw.trim().is_empty() {
            return Ok(Self::default());
        }
        let value: serde_json::Value =
            serde_json::from_str(raw).map_err(|e| FilterError(format!("invalid filter: {e}")))?;
        let object = value
            .as_object()
            .ok_or_else(|| FilterError("invalid filter: expected a JSON object".into()))?;
        let mut out = BTreeMap::new();
        for (key, val) in object {
            let values: Vec<String> = match val {
                serde_json::Value::Array(items) => items
                    .iter()
                    .map(|i| match i {
                        serde_json::Value::String(s) => Ok(s.clone()),
                        other => Err(FilterError(format!(
                            "invalid filter: value for {key:?} must be a string, got {other}"
                        ))),
                    })
                    .collect::<Result<_, _>>()?,
                serde_json::Value::Object(map) => map
                    .iter()
                    .filter(|(_, on)| on.as_bool().unwrap_or(false))
                    .map(|(k, _)| k.clone())
                    .collect(),
                serde_json::Value::String(s) => vec![s.clone()],
                other => {
                    return Err(FilterError(format!(
                        "invalid filter: value for {key:?} must be a list, got {other}"
                    )))
                }
            };
            out.insert(key.clone(), values);
        }
        Ok(Self(out))
    }

    /// Adds a value (used for legacy single-valued query parameters such as `filter=`).
    pub fn add(&mut self, key: &str, value: &str) {
        self.0
            .entry(key.to_string())
            .or_default()
            .push(value.to_string());
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The values given for `key`, empty when absent.
    pub fn get(&self, key: &str) -> &[String] {
        self.0.get(key).map(Vec::as_slice).unwrap_or(&[])
    }

    /// The values given for `key`, `None` when it is absent (a filter to apply or not).
    pub fn given(&self, key: &str) -> Option<Vec<String>> {
        self.0.get(key).filter(|v| !v.is_empty()).cloned()
    }

    /// The `label` values as (key, value): `key` asks for the label's presence.
    pub fn labels(&self) -> Vec<(String, Option<String>)> {
        self.label_pairs("label")
    }

    /// Whether `labels` hold every (key, value) of `wanted` (a key alone asks for presence).
    pub fn labels_hold(
        labels: &std::collections::BTreeMap<String, String>,
        wanted: &[(String, Option<String>)],
    ) -> bool {
        wanted.iter().all(|(k, want)| match (labels.get(k), want) {
            (Some(_), None) => true,
            (Some(have), Some(want)) => have == want,
            (None, _) => false,
        })
    }

    /// A label filter's values (`label`, `label!`) as (key, value).
    pub fn label_pairs(&self, filter: &str) -> Vec<(String, Option<String>)> {
        self.get(filter)
            .iter()
            .map(|l| match l.split_once('=') {
                Some((k, v)) => (k.to_string(), Some(v.to_string())),
                None => (l.clone(), None),
            })
            .collect()
    }

    pub fn contains(&self, key: &str) -> bool {
        self.0.contains_key(key)
    }

    /// Fails on the first key not in `allowed`, with Docker's message.
    pub fn validate(&self, allowed: &[&str]) -> Result<(), FilterError> {
        match self.0.keys().find(|k| !allowed.contains(&k.as_str())) {
            Some(k) => Err(FilterError(format!("Invalid filter '{k}'"))),
            None => Ok(()),
        }
    }

    /// The value of a boolean filter (`dangling=true`); `None` when absent.
    pub fn bool_value(&self, key: &str) -> Result<Option<bool>, FilterError> {
        let mut result = None;
        for v in self.get(key) {
            let b = match v.to_ascii_lowercase().as_str() {
                "true" | "1" => true,
                "false" | "0" => false,
                _ => {
                    return Err(FilterError(format!(
                        "Invalid filter '{key}={v}': value must be true or false"
                    )))
                }
            };
            result = Some(b);
        }
        Ok(result)
    }

    /// True when the labels `get` looks up satisfy every `label` value (`key` or
    /// `key=value`).
    pub fn match_labels<'a>(&self, get: impl Fn(&str) -> Option<&'a str>) -> bool {
        self.labels().iter().all(|(k, want)| match (get(k), want) {
            (Some(have), Some(want)) => have == want,
            (Some(_), None) => true,
            (None, _) => false,
        })
    }

    /// True when no values are given for `key`, or `pred` accepts one of them.
    pub fn any_matches(&self, key: &str, mut pred: impl FnMut(&str) -> bool) -> bool {
        let values = self.get(key);
        values.is_empty() || values.iter().any(|v| pred(v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_list_and_map_forms() {
        let a = Filters::parse(r#"{"label":["a=b","c"],"dangling":["true"]}"#).unwrap();
        let b =
            Filters::parse(r#"{"label":{"a=b":true,"c":true},"dangling":{"true":true}}"#).unwrap();
        assert_eq!(a.get("label"), b.get("label"));
        assert_eq!(a.bool_value("dangling").unwrap(), Some(true));
        assert!(Filters::parse("").unwrap().is_empty());
    }

    #[test]
    fn rejects_bad_json_and_unknown_keys() {
        assert!(Filters::parse("{").is_err());
        assert!(Filters::parse("[1]").is_err());
        assert!(Filters::parse(r#"{"a":[1]}"#).is_err());
        let f = Filters::parse(r#"{"nope":["x"]}"#).unwrap();
        assert_eq!(
            f.validate(&["label"]).unwrap_err().0,
            "Invalid filter 'nope'"
        );
    }

    #[test]
    fn label_matching() {
        let f = Filters::parse(r#"{"label":["a=b","c"]}"#).unwrap();
        let mut labels = std::collections::HashMap::new();
        labels.insert("a".to_string(), "b".to_string());
        assert!(!f.match_labels(|k| labels.get(k).map(String::as_str)));
        labels.insert("c".to_string(), "anything".to_string());
        assert!(f.match_labels(|k| labels.get(k).map(String::as_str)));
        labels.insert("a".to_string(), "x".to_string());
        assert!(!f.match_labels(|k| labels.get(k).map(String::as_str)));
        assert_eq!(
            f.labels(),
            [
                ("a".to_string(), Some("b".to_string())),
                ("c".to_string(), None)
            ]
        );
        assert_eq!(f.given("label").map(|v| v.len()), Some(2));
        assert_eq!(f.given("id"), None);
    }
}
