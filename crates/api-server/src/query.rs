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

    /// Every value given for `key` (a parameter that may repeat, as `names` of a save).
    pub fn all(&self, key: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// The `filters` parameter, read and checked against the keys `allowed` (Docker's 400
    /// for another).
    pub fn filters_param(
        &self,
        allowed: &[&str],
    ) -> Result<berth_api_types::filters::Filters, ApiError> {
        let raw = self
            .0
            .iter()
            .rev()
            .find(|(k, _)| k == "filters")
            .map(|(_, v)| v.as_str())
            .unwrap_or("");
        let f = filters(raw)?;
        f.validate(allowed)
            .map_err(|e| ApiError::bad_request(e.0))?;
        Ok(f)
    }

    /// The query as an endpoint's typed parameters (a struct deriving `Deserialize`,
    /// `#[serde(default)]`), decoded by `serde_urlencoded`. A key given more than once
    /// counts with its last value.
    pub fn decode<T: serde::de::DeserializeOwned>(&self) -> Result<T, ApiError> {
        let mut last: Vec<(&str, &str)> = Vec::new();
        for (k, v) in &self.0 {
            match last.iter_mut().find(|(lk, _)| lk == k) {
                Some(slot) => slot.1 = v,
                None => last.push((k, v)),
            }
        }
        let encoded = serde_urlencoded::to_string(&last)
            .map_err(|e| ApiError::bad_request(format!("invalid query: {e}")))?;
        serde_urlencoded::from_str(&encoded)
            .map_err(|e| ApiError::bad_request(format!("invalid query: {e}")))
    }
}

/// Docker's boolean: false for "", "0", "no", "false", "none" (any case, spaces ignored);
/// true otherwise. Absent is false (`#[serde(default)]`).
pub fn docker_bool<'de, D: serde::Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    let v = <std::borrow::Cow<'de, str> as serde::Deserialize>::deserialize(d)?;
    Ok(truthy(&v))
}

/// As [`docker_bool`], with absent kept apart (`None`) for parameters whose default is true.
pub fn docker_bool_opt<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    docker_bool(d).map(Some)
}

fn truthy(v: &str) -> bool {
    !matches!(
        v.trim().to_ascii_lowercase().as_str(),
        "" | "0" | "no" | "false" | "none"
    )
}

/// Filters from the `filters` parameter.
pub fn filters(raw: &str) -> Result<berth_api_types::filters::Filters, ApiError> {
    berth_api_types::filters::Filters::parse(raw).map_err(|e| ApiError::bad_request(e.0))
}

/// The `h` and `w` of a terminal resize, as rows and columns.
pub fn terminal_size(h: &str, w: &str) -> Result<(u16, u16), ApiError> {
    let dim = |key: &str, v: &str| {
        v.parse::<u16>()
            .map_err(|_| ApiError::bad_request(format!("invalid value for {key}: {v:?}")))
    };
    Ok((dim("h", h)?, dim("w", w)?))
}

/// A Unix time, `SECONDS[.NANOS]`, as nanoseconds; `None` when empty. `key` names the
/// parameter in the error.
pub fn timestamp(key: &str, raw: &str) -> Result<Option<i64>, ApiError> {
    if raw.is_empty() {
        return Ok(None);
    }
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

/// A point in time as Docker's `until` filters take it (`GetTimestamp`): a Go duration back
/// from `now` (`24h`, `1h30m`), an RFC 3339 time or date (without a zone: the host's), or Unix
/// seconds. Nanoseconds since the epoch.
pub fn point_in_time(key: &str, raw: &str, now_nano: i64) -> Result<i64, ApiError> {
    let bad = || {
        ApiError::bad_request(format!(
            "failed to parse value as time or duration: {raw:?} (in {key})"
        ))
    };
    if raw != "0"
        && raw
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_digit() || b == b'-')
    {
        if let Ok(d) = raw.parse::<jiff::SignedDuration>() {
            let back = i64::try_from(d.as_nanos()).map_err(|_| bad())?;
            return Ok(now_nano.saturating_sub(back));
        }
    }
    if let Ok(t) = raw.parse::<jiff::Timestamp>() {
        return Ok(t.as_nanosecond() as i64);
    }
    let local = raw.parse::<jiff::civil::DateTime>().or_else(|_| {
        raw.parse::<jiff::civil::Date>()
            .map(|d| d.to_datetime(jiff::civil::Time::midnight()))
    });
    if let Ok(dt) = local {
        let zoned = dt
            .to_zoned(jiff::tz::TimeZone::system())
            .map_err(|_| bad())?;
        return Ok(zoned.timestamp().as_nanosecond() as i64);
    }
    timestamp(key, raw).map_err(|_| bad())?.ok_or_else(bad)
}

/// The `filters` parameter of a prune endpoint: `until`, `label`, `label!`, and for images
/// `dangling` (true unless given as false, as `docker image prune` without `-a` sends it).
pub fn prune_query(query: &Query, images: bool) -> Result<crate::backend::PruneQuery, ApiError> {
    let allowed: &[&str] = if images {
        &["until", "label", "label!", "dangling"]
    } else {
        &["until", "label", "label!"]
    };
    let f = query.filters_param(allowed)?;
    let until = match f.get("until") {
        [] => None,
        [one] => Some(point_in_time(
            "until",
            one,
            jiff::Timestamp::now().as_nanosecond() as i64,
        )?),
        _ => {
            return Err(ApiError::bad_request(
                "more than one until filter specified",
            ))
        }
    };
    Ok(crate::backend::PruneQuery {
        until,
        labels: f.labels(),
        labels_not: f.label_pairs("label!"),
        dangling_only: f
            .bool_value("dangling")
            .map_err(|e| ApiError::bad_request(e.0))?
            .unwrap_or(true),
    })
}

/// `h` and `w`, the parameters of both resize endpoints.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct ResizeParams {
    pub h: String,
    pub w: String,
}

impl ResizeParams {
    pub fn rows_cols(&self) -> Result<(u16, u16), ApiError> {
        terminal_size(&self.h, &self.w)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Default, serde::Deserialize)]
    #[serde(default)]
    struct Params {
        #[serde(deserialize_with = "docker_bool")]
        a: bool,
        #[serde(deserialize_with = "docker_bool")]
        b: bool,
        #[serde(deserialize_with = "docker_bool")]
        c: bool,
        #[serde(deserialize_with = "docker_bool")]
        missing: bool,
        #[serde(deserialize_with = "docker_bool_opt")]
        stream: Option<bool>,
        name: String,
    }

    #[test]
    fn points_in_time_as_docker_reads_them() {
        let now = 1_000_000 * 1_000_000_000;
        let at = |raw| point_in_time("until", raw, now).unwrap();
        assert_eq!(at("24h"), now - 86_400 * 1_000_000_000);
        assert_eq!(at("1h30m"), now - 5_400 * 1_000_000_000);
        assert_eq!(
            at("10"),
            10 * 1_000_000_000,
            "a bare number is Unix seconds"
        );
        assert_eq!(at("10.5"), 10_500_000_000);
        assert_eq!(at("2020-01-02T03:04:05Z"), 1_577_934_245 * 1_000_000_000);
        assert!(point_in_time("until", "soon", now).is_err());
        assert!(point_in_time("until", "", now).is_err());
    }

    #[test]
    fn typed_parameters_with_docker_booleans() {
        let q: Params = Query::parse(Some("a=1&b=True&c=0&name=x&name=last&other=ignored"))
            .decode()
            .unwrap();
        assert!(q.a && q.b && !q.c && !q.missing);
        assert_eq!((q.stream, q.name.as_str()), (None, "last"));
        for (v, want) in [
            ("yes", true),
            ("", false),
            ("no", false),
            ("none", false),
            ("FALSE", false),
            (" 0 ", false),
            ("2", true),
        ] {
            let q: Params = Query::parse(Some(&format!("a={v}&stream={v}")))
                .decode()
                .unwrap();
            assert_eq!((q.a, q.stream), (want, Some(want)), "{v:?}");
        }
    }

    #[test]
    fn times_and_terminal_sizes() {
        assert_eq!(timestamp("since", "12.5").unwrap(), Some(12_500_000_000));
        assert_eq!(timestamp("since", "").unwrap(), None);
        assert!(timestamp("since", "x").is_err());
        assert_eq!(terminal_size("33", "101").unwrap(), (33, 101));
        assert!(terminal_size("33", "").is_err());
        assert!(terminal_size("-1", "5").is_err());
    }
}
