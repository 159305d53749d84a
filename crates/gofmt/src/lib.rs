//! Values as Go prints them. Docker Engine writes some of its texts with Go's formatting
//! (`time.Duration.String` in a healthcheck's timeout message, an image's history, the
//! progress bar's time left); berth writes the same texts, so it prints them the same way.

/// A duration in nanoseconds as Go's `time.Duration.String` prints it: `0s`, `500ns`,
/// `1.5µs`, `100ms`, `1.5s`, `1m30s`, `1h0m0s`.
pub fn duration(nanos: i64) -> String {
    if nanos == 0 {
        return "0s".into();
    }
    let sign = if nanos < 0 { "-" } else { "" };
    let n = nanos.unsigned_abs();
    // `value / unit`, with its fraction's trailing zeros dropped.
    let fraction = |value: u64, unit: u64| -> String {
        let (whole, rest) = (value / unit, value % unit);
        if rest == 0 {
            return whole.to_string();
        }
        let digits = unit.to_string().len() - 1;
        let frac = format!("{rest:0digits$}");
        format!("{whole}.{}", frac.trim_end_matches('0'))
    };
    if n < 1_000 {
        return format!("{sign}{n}ns");
    }
    if n < 1_000_000 {
        return format!("{sign}{}µs", fraction(n, 1_000));
    }
    if n < 1_000_000_000 {
        return format!("{sign}{}ms", fraction(n, 1_000_000));
    }
    let minutes = n / 60_000_000_000;
    let seconds = fraction(n % 60_000_000_000, 1_000_000_000);
    match (minutes / 60, minutes % 60) {
        (0, 0) => format!("{sign}{seconds}s"),
        (0, m) => format!("{sign}{m}m{seconds}s"),
        (h, m) => format!("{sign}{h}h{m}m{seconds}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_print_as_go_prints_them() {
        for (nanos, text) in [
            (0, "0s"),
            (500, "500ns"),
            (1_500, "1.5µs"),
            (100_000_000, "100ms"),
            (1_500_000_000, "1.5s"),
            (30_000_000_000, "30s"),
            (90_000_000_000, "1m30s"),
            (185_000_000_000, "3m5s"),
            (3_600_000_000_000, "1h0m0s"),
            (3_661_000_000_000, "1h1m1s"),
            (3_723_000_000_000, "1h2m3s"),
            (-1_500_000_000, "-1.5s"),
        ] {
            assert_eq!(duration(nanos), text, "{nanos}");
        }
    }
}
