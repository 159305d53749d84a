//! Label filters, as the container, image and event lists read them.

/// Every entry must hold: a key with a value asks for that value, a key alone for the
/// label's presence.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LabelFilter(pub Vec<(String, Option<String>)>);

impl LabelFilter {
    /// Whether labels looked up by `get` satisfy every entry.
    pub fn matches<'a>(&self, get: impl Fn(&str) -> Option<&'a str>) -> bool {
        self.0.iter().all(|(k, want)| match (get(k), want) {
            (Some(have), Some(want)) => have == want,
            (Some(_), None) => true,
            (None, _) => false,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presence_and_values() {
        let labels = std::collections::BTreeMap::from([("a", "b"), ("c", "x")]);
        let get = |k: &str| labels.get(k).copied();
        let f = |pairs: &[(&str, Option<&str>)]| {
            LabelFilter(
                pairs
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.map(str::to_string)))
                    .collect(),
            )
        };
        assert!(f(&[]).matches(get));
        assert!(f(&[("a", Some("b")), ("c", None)]).matches(get));
        assert!(!f(&[("a", Some("x"))]).matches(get));
        assert!(!f(&[("missing", None)]).matches(get));
    }
}
