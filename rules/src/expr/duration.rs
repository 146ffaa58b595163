//! Window durations as PromQL writes them: `5m`, `90s`, `1h30m`, `500ms` — whole numbers with a
//! unit, largest unit first, each unit at most once.

/// Units, largest first, with their length in ms. A year is 365 days and a week 7, as in
/// Prometheus.
const UNITS: [(&str, i64); 7] = [
    ("y", 365 * 24 * 3_600_000),
    ("w", 7 * 24 * 3_600_000),
    ("d", 24 * 3_600_000),
    ("h", 3_600_000),
    ("m", 60_000),
    ("s", 1_000),
    ("ms", 1),
];

/// Parses a PromQL duration into milliseconds. The error is a sentence for the operator.
pub fn parse_duration_ms(text: &str) -> Result<i64, String> {
    if text.is_empty() {
        return Err("a window needs a duration, e.g. [5m]".to_owned());
    }
    let ms = parse_duration_or_zero_ms(text)?;
    if ms == 0 {
        return Err(format!(
            "a window of '{text}' is empty: give it a length, e.g. [5m]"
        ));
    }
    Ok(ms)
}

/// [`parse_duration_ms`] that also accepts a zero duration (`0s`, `0m`), as test files'
/// `eval_time = "0m"` needs.
pub fn parse_duration_or_zero_ms(text: &str) -> Result<i64, String> {
    let bad = || {
        format!(
            "invalid duration '{text}': write a whole number and a unit (ms, s, m, h, d, w, y), e.g. 5m, 90s or 1h30m"
        )
    };
    if text.is_empty() {
        return Err(bad());
    }
    let mut rest = text;
    let mut total: i64 = 0;
    // Index into UNITS of the last unit used: the next must be smaller.
    let mut last: Option<usize> = None;
    while !rest.is_empty() {
        let digits = rest.chars().take_while(char::is_ascii_digit).count();
        if digits == 0 {
            return Err(bad());
        }
        let (num, after) = rest.split_at(digits);
        let n: i64 = num.parse().map_err(|_| bad())?;
        // "ms" before "m": the longer unit name wins.
        let unit = UNITS
            .iter()
            .enumerate()
            .filter(|(_, (u, _))| after.starts_with(u))
            .max_by_key(|(_, (u, _))| u.len())
            .map(|(i, _)| i);
        let Some(i) = unit else {
            return Err(bad());
        };
        if last.is_some_and(|l| i <= l) {
            return Err(format!(
                "invalid duration '{text}': units must go from the largest to the smallest, each once (e.g. 1h30m)"
            ));
        }
        last = Some(i);
        let (unit_name, unit_ms) = UNITS[i];
        total = n
            .checked_mul(unit_ms)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(|| format!("duration '{text}' is too long"))?;
        rest = &after[unit_name.len()..];
    }
    Ok(total)
}

/// The canonical PromQL form of a positive duration: `5m`, `1h30m`, `1500ms` → `1s500ms`.
pub fn format_duration_ms(ms: i64) -> String {
    if ms <= 0 {
        return "0s".to_owned();
    }
    let mut rest = ms;
    let mut out = String::new();
    for (name, len) in UNITS {
        if rest >= len {
            out.push_str(&format!("{}{name}", rest / len));
            rest %= len;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units_and_combinations() {
        assert_eq!(parse_duration_ms("5m"), Ok(300_000));
        assert_eq!(parse_duration_ms("90s"), Ok(90_000));
        assert_eq!(parse_duration_ms("1h30m"), Ok(5_400_000));
        assert_eq!(parse_duration_ms("250ms"), Ok(250));
        assert_eq!(parse_duration_ms("1m500ms"), Ok(60_500));
        assert_eq!(parse_duration_ms("2w1d"), Ok(15 * 86_400_000));
        assert_eq!(parse_duration_ms("1y"), Ok(365 * 86_400_000));
    }

    #[test]
    fn refuses_what_promql_refuses() {
        for bad in [
            "5", "m", "5x", "1.5m", "-5m", "5m 3s", "30m1h", "1m1m", "5M",
        ] {
            assert!(parse_duration_ms(bad).is_err(), "{bad}");
        }
        assert_eq!(
            parse_duration_ms(""),
            Err("a window needs a duration, e.g. [5m]".to_owned())
        );
        assert!(parse_duration_ms("0s").unwrap_err().contains("is empty"));
        assert!(
            parse_duration_ms("99999999999999y")
                .unwrap_err()
                .contains("too long")
        );
    }

    #[test]
    fn formats_canonically_and_round_trips() {
        assert_eq!(format_duration_ms(300_000), "5m");
        assert_eq!(format_duration_ms(5_400_000), "1h30m");
        assert_eq!(format_duration_ms(1_500), "1s500ms");
        assert_eq!(format_duration_ms(86_400_000 * 8), "1w1d");
        for ms in [1, 999, 1_000, 61_001, 3_600_000, 123_456_789_012] {
            assert_eq!(parse_duration_ms(&format_duration_ms(ms)), Ok(ms));
        }
    }
}
