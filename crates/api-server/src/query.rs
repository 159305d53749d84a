//! Query strings as Docker reads them.

use crate::error::ApiError;

#[derive(Debug, Default, Clone)]
pub struct Query(Vec<(String, String)>);

impl Query {
    pub fn parse(raw: Option<&str>) -> Self {
        Query(
            raw.map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
                .unwrap_or_default(),
        )
    }

    /// The last value given for `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    pub fn str(&self, key: &str) -> &str {
        self.get(key).unwrap_or("")
    }

    pub fn all(&self, key: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// Docker's boolean: false for absent, "", "0", "no", "false", "none"; true otherwise.
    pub fn bool(&self, key: &str) -> bool {
        match self.get(key) {
            None => false,
            Some(v) => !matches!(
                v.trim().to_ascii_lowercase().as_str(),
                "" | "0" | "no" | "false" | "none"
            ),
        }
    }

    pub fn filters(&self) -> Result<berth_api_types::filters::Filters, ApiError> {
        berth_api_types::filters::Filters::parse(self.str("filters"))
            .map_err(|e| ApiError::bad_request(e.0))
    }

    /// The `h` and `w` of a terminal resize, as rows and columns.
    pub fn terminal_size(&self) -> Result<(u16, u16), ApiError> {
        let dim = |key: &str| {
            self.str(key).parse::<u16>().map_err(|_| {
                ApiError::bad_request(format!("invalid value for {key}: {:?}", self.str(key)))
            })
        };
        Ok((dim("h")?, dim("w")?))
    }

    /// A Unix time, `SECONDS[.NANOS]`, as nanoseconds.
    pub fn timestamp(&self, key: &str) -> Result<Option<i64>, ApiError> {
        let Some(raw) = self.get(key).filter(|s| !s.is_empty()) else {
            return Ok(None);
        };
        let bad = || ApiError::bad_request(format!("invalid value for {key}: {raw:?}"));
        let (secs, frac) = raw.split_once('.').unwrap_or((raw, ""));
        let secs: i64 = secs.parse().map_err(|_| bad())?;
        if frac.len() > 9 || !frac.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let nanos: i64 = if frac.is_empty() {
            0
        } else {
            format!("{frac:0<9}").parse().map_err(|_| bad())?
        };
        Ok(Some(
            secs.saturating_mul(1_000_000_000).saturating_add(nanos),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_booleans_and_times() {
        let q = Query::parse(Some("a=1&b=True&c=0&d=false&e=&f=yes&since=12.5&bad=x"));
        assert!(q.bool("a") && q.bool("b") && q.bool("f"));
        assert!(!q.bool("c") && !q.bool("d") && !q.bool("e") && !q.bool("missing"));
        assert_eq!(q.timestamp("since").unwrap(), Some(12_500_000_000));
        assert!(q.timestamp("bad").is_err());
    }

    #[test]
    fn terminal_size_is_rows_then_columns() {
        assert_eq!(
            Query::parse(Some("h=33&w=101")).terminal_size().unwrap(),
            (33, 101)
        );
        assert!(Query::parse(Some("h=33")).terminal_size().is_err());
        assert!(Query::parse(Some("h=-1&w=5")).terminal_size().is_err());
    }
}
