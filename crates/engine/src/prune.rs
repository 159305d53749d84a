//! The filters of the prune operations (`until`, `label`, `label!`).

use crate::labels::LabelFilter;

/// The filters `docker container prune` and `docker image prune` share. `None` / empty for
/// "any".
#[derive(Debug, Clone, Default)]
pub struct PruneFilters {
    /// Only objects created before this time (Unix nanoseconds).
    pub until: Option<i64>,
    /// Only objects whose labels match every entry.
    pub labels: LabelFilter,
    /// Only objects whose labels match none of these entries (`label!=`).
    pub labels_not: Vec<(String, Option<String>)>,
}

impl PruneFilters {
    /// `get` looks a label up by key.
    pub fn matches<'a>(
        &self,
        created_nano: i64,
        get: impl Fn(&str) -> Option<&'a str> + Copy,
    ) -> bool {
        self.until.is_none_or(|u| created_nano < u)
            && self.labels.matches(get)
            && !self
                .labels_not
                .iter()
                .any(|entry| LabelFilter(vec![entry.clone()]).matches(get))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[test]
    fn until_and_label_filters() {
        let map = BTreeMap::from([("keep", "yes")]);
        let labels = |k: &str| map.get(k).copied();
        let none = |_: &str| None;
        let o = PruneFilters {
            until: Some(100),
            ..Default::default()
        };
        assert!(o.matches(99, none));
        assert!(!o.matches(100, none), "until is exclusive");
        let not_kept = PruneFilters {
            labels_not: vec![("keep".into(), None)],
            ..Default::default()
        };
        assert!(!not_kept.matches(0, labels));
        assert!(not_kept.matches(0, none));
        let other_value = PruneFilters {
            labels_not: vec![("keep".into(), Some("no".into()))],
            ..Default::default()
        };
        assert!(other_value.matches(0, labels));
        let only = PruneFilters {
            labels: LabelFilter(vec![("keep".into(), Some("yes".into()))]),
            ..Default::default()
        };
        assert!(only.matches(0, labels) && !only.matches(0, none));
    }
}
