//! Timestamps and ages as patrolctl prints them. The time zone and "now" are parameters so
//! tests pin exact strings; only `main` reads the clock and the system zone.

use jiff::Timestamp;
use jiff::tz::TimeZone;

/// Milliseconds since the epoch as RFC 3339 UTC with milliseconds (`2026-11-23T09:12:01.123Z`).
///
/// `None` for 0 (the wire's "not set") and for values jiff cannot represent, so a bad value from
/// the server becomes a JSON null rather than a panic.
pub fn rfc3339(ms: i64) -> Option<String> {
    let ts = timestamp(ms)?;
    Some(ts.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
}

/// Milliseconds since the epoch as `2026-11-23 09:12:01` in `tz`; `-` when unset or invalid.
pub fn local(ms: i64, tz: &TimeZone) -> String {
    match timestamp(ms) {
        Some(ts) => ts
            .to_zoned(tz.clone())
            .strftime("%Y-%m-%d %H:%M:%S")
            .to_string(),
        None => "-".to_owned(),
    }
}

/// How long ago `ms` was, at `now_ms`, in at most two units (`45s`, `12m`, `3h05m`, `2d04h`).
/// `-` when unset; a time in the future (clock skew) counts as `0s`.
pub fn age(ms: i64, now_ms: i64) -> String {
    if ms == 0 {
        return "-".to_owned();
    }
    span(now_ms.saturating_sub(ms))
}

/// Time left until `due_ms` at `now_ms` (`4m left`), or how far past it (`12m overdue`).
/// Exactly at the deadline is still `0s left`: a deadline is met up to and including it.
pub fn left_or_overdue(due_ms: i64, now_ms: i64) -> String {
    if now_ms <= due_ms {
        format!("{} left", span(due_ms.saturating_sub(now_ms)))
    } else {
        // Rounded up, so a deadline just passed never reads "0s overdue".
        let over = now_ms.saturating_sub(due_ms).saturating_add(999);
        format!("{} overdue", span(over))
    }
}

/// A length of time in at most two units (`45s`, `12m`, `3h05m`, `2d04h`), rounded down;
/// negative counts as `0s`.
pub fn span(ms: i64) -> String {
    let secs = ms.max(0) / 1000;
    let (d, h, m, s) = (secs / 86_400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
    if d > 0 {
        format!("{d}d{h:02}h")
    } else if h > 0 {
        format!("{h}h{m:02}m")
    } else if m > 0 {
        format!("{m}m")
    } else {
        format!("{s}s")
    }
}

/// A rule's `for` duration in milliseconds, compact (`0s`, `90s`, `5m`, `1h30m`).
pub fn duration(ms: i64) -> String {
    let secs = ms.max(0) / 1000;
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    let mut out = String::new();
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if m > 0 {
        out.push_str(&format!("{m}m"));
    }
    if s > 0 || out.is_empty() {
        out.push_str(&format!("{s}s"));
    }
    out
}

fn timestamp(ms: i64) -> Option<Timestamp> {
    if ms == 0 {
        return None;
    }
    Timestamp::from_millisecond(ms).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-11-23T09:12:01.123Z
    const T: i64 = 1_795_425_121_123;

    #[test]
    fn rfc3339_is_utc_with_millis() {
        assert_eq!(rfc3339(T).as_deref(), Some("2026-11-23T09:12:01.123Z"));
        assert_eq!(
            rfc3339(T - 123).as_deref(),
            Some("2026-11-23T09:12:01.000Z")
        );
        assert_eq!(rfc3339(0), None);
        assert_eq!(rfc3339(i64::MAX), None);
    }

    #[test]
    fn local_uses_the_given_zone() {
        assert_eq!(local(T, &TimeZone::UTC), "2026-11-23 09:12:01");
        let shanghai = TimeZone::fixed(jiff::tz::offset(8));
        assert_eq!(local(T, &shanghai), "2026-11-23 17:12:01");
        assert_eq!(local(0, &TimeZone::UTC), "-");
        assert_eq!(local(i64::MIN, &TimeZone::UTC), "-");
    }

    #[test]
    fn age_uses_two_units_at_most() {
        assert_eq!(age(T, T + 45_000), "45s");
        assert_eq!(age(T, T + 12 * 60_000 + 5_000), "12m");
        assert_eq!(age(T, T + 3 * 3_600_000 + 5 * 60_000), "3h05m");
        assert_eq!(age(T, T + 2 * 86_400_000 + 4 * 3_600_000), "2d04h");
        assert_eq!(age(T, T - 5_000), "0s");
        assert_eq!(age(0, T), "-");
    }

    #[test]
    fn time_left_or_overdue_table() {
        const S: i64 = 1_000;
        const M: i64 = 60 * S;
        const H: i64 = 60 * M;
        let cases: &[(i64, i64, &str)] = &[
            // (due relative to now, now, expected)
            (4 * M, T, "4m left"),
            (4 * M + 59 * S, T, "4m left"),
            (30 * S, T, "30s left"),
            (0, T, "0s left"),
            (-1, T, "1s overdue"),
            (-12 * M, T, "12m overdue"),
            (-(2 * H + 5 * M), T, "2h05m overdue"),
            (3 * 24 * H + 4 * H, T, "3d04h left"),
            (-(24 * H), T, "1d00h overdue"),
        ];
        for &(delta, now, want) in cases {
            assert_eq!(
                left_or_overdue(now + delta, now),
                want,
                "due now{delta:+}ms"
            );
        }
        // Extreme values from a bad server saturate instead of overflowing.
        assert!(left_or_overdue(i64::MAX, i64::MIN).ends_with(" left"));
        assert!(left_or_overdue(i64::MIN, i64::MAX).ends_with(" overdue"));
    }

    #[test]
    fn durations_are_compact() {
        assert_eq!(duration(0), "0s");
        assert_eq!(duration(90_000), "1m30s");
        assert_eq!(duration(5_400_000), "1h30m");
    }
}
