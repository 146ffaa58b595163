//! Numbers, times and durations as each language writes them: English groups thousands with
//! commas and writes `9 Oct 2026 09:00`; Chinese writes `2026年10月9日 09:00`, durations as
//! `1小时30分钟`, and numbers without grouping, as the handbooks' forms do.

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;

use crate::lang::Language;

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];
const MONTHS_LONG: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// `v` with at most `decimals` decimals, trailing zeros dropped.
pub fn number(lang: Language, v: f64, decimals: usize) -> String {
    if !v.is_finite() {
        return if v.is_nan() {
            "NaN".to_owned()
        } else if v > 0.0 {
            "+Inf".to_owned()
        } else {
            "-Inf".to_owned()
        };
    }
    let mut s = format!("{v:.decimals$}");
    if s.contains('.') {
        s = s.trim_end_matches('0').trim_end_matches('.').to_owned();
    }
    if s == "-0" {
        s = "0".to_owned();
    }
    match lang {
        Language::En => group_thousands(&s),
        Language::ZhCn => s,
    }
}

/// `12345.6` → `12,345.6`.
fn group_thousands(s: &str) -> String {
    let (sign, rest) = s.strip_prefix('-').map_or(("", s), |r| ("-", r));
    let (int, frac) = rest
        .split_once('.')
        .map_or((rest, None), |(i, f)| (i, Some(f)));
    let mut out = String::new();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    match frac {
        Some(f) => format!("{sign}{out}.{f}"),
        None => format!("{sign}{out}"),
    }
}

/// A ratio (0–1) as a percentage with one decimal: `98.5%`.
pub fn percent(lang: Language, ratio: f64) -> String {
    format!("{}%", number(lang, ratio * 100.0, 1))
}

/// A ratio as a percentage with as many decimals as availability figures need (`99.95%`).
pub fn percent_fine(lang: Language, ratio: f64) -> String {
    format!("{}%", number(lang, ratio * 100.0, 3))
}

fn zoned(ms: i64, tz: &TimeZone) -> Option<jiff::Zoned> {
    Timestamp::from_millisecond(ms)
        .ok()
        .map(|t| t.to_zoned(tz.clone()))
}

/// A date and time: `9 Oct 2026 09:00` / `2026年10月9日 09:00`.
pub fn datetime(lang: Language, ms: i64, tz: &TimeZone) -> String {
    match zoned(ms, tz) {
        Some(z) => format!("{} {:02}:{:02}", date(lang, z.date()), z.hour(), z.minute()),
        None => ms.to_string(),
    }
}

/// A time of day when `ms` falls on `day`, else the full date and time: remarks on a sheet
/// are mostly about that day.
pub fn datetime_near(lang: Language, ms: i64, day: Date, tz: &TimeZone) -> String {
    match zoned(ms, tz) {
        Some(z) if z.date() == day => format!("{:02}:{:02}", z.hour(), z.minute()),
        _ => datetime(lang, ms, tz),
    }
}

/// A date: `9 Oct 2026` / `2026年10月9日`.
pub fn date(lang: Language, d: Date) -> String {
    let month = usize::try_from(d.month() - 1).unwrap_or(0);
    match lang {
        Language::En => format!(
            "{} {} {}",
            d.day(),
            MONTHS.get(month).copied().unwrap_or("?"),
            d.year()
        ),
        Language::ZhCn => format!("{}年{}月{}日", d.year(), d.month(), d.day()),
    }
}

/// A month: `October 2026` / `2026年10月`.
pub fn month(lang: Language, year: i16, month: i8) -> String {
    let i = usize::try_from(month - 1).unwrap_or(0);
    match lang {
        Language::En => format!("{} {year}", MONTHS_LONG.get(i).copied().unwrap_or("?")),
        Language::ZhCn => format!("{year}年{month}月"),
    }
}

/// A duration to the minute (seconds below a minute): `1 h 30 min` / `1小时30分钟`.
pub fn duration(lang: Language, ms: i64) -> String {
    let neg = ms < 0;
    let ms = ms.unsigned_abs();
    let (d, h, m, s) = (
        ms / 86_400_000,
        ms / 3_600_000 % 24,
        ms / 60_000 % 60,
        ms / 1000 % 60,
    );
    let units: [(u64, &str, &str); 4] = [
        (d, "d", "天"),
        (h, "h", "小时"),
        (m, "min", "分钟"),
        (s, "s", "秒"),
    ];
    // Seconds only matter below a minute.
    let shown: Vec<(u64, &str, &str)> = if ms < 60_000 {
        vec![units[3]]
    } else {
        units[..3].iter().copied().filter(|u| u.0 > 0).collect()
    };
    let text = match lang {
        Language::En => shown
            .iter()
            .map(|(n, u, _)| format!("{n} {u}"))
            .collect::<Vec<_>>()
            .join(" "),
        Language::ZhCn => shown.iter().map(|(n, _, u)| format!("{n}{u}")).collect(),
    };
    if neg { format!("-{text}") } else { text }
}

/// A parenthesised aside after a value: ` (15:59)`, or full-width `（15:59）` in Chinese.
pub fn aside(lang: Language, s: &str) -> String {
    match lang {
        Language::En => format!(" ({s})"),
        Language::ZhCn => format!("（{s}）"),
    }
}

/// Items of a short list: `a, b` / `a，b`.
pub fn list(lang: Language, items: &[&str]) -> String {
    items.join(match lang {
        Language::En => ", ",
        Language::ZhCn => "，",
    })
}

/// A long span in hours, as service time is counted: `135 h` / `135小时`.
pub fn hours(lang: Language, ms: i64) -> String {
    let h = number(lang, ms as f64 / 3_600_000.0, 1);
    match lang {
        Language::En => format!("{h} h"),
        Language::ZhCn => format!("{h}小时"),
    }
}

/// `tz`'s IANA name, or its offset when it has none.
pub fn zone_name(tz: &TimeZone) -> String {
    tz.iana_name().map_or_else(
        || tz.to_offset(Timestamp::UNIX_EPOCH).to_string(),
        str::to_owned,
    )
}

/// The zone called `name` (UTC when it is not known: a stored sheet stays readable).
pub fn zone(name: &str) -> TimeZone {
    TimeZone::get(name).unwrap_or(TimeZone::UTC)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_per_language() {
        assert_eq!(number(Language::En, 12345.678, 2), "12,345.68");
        assert_eq!(number(Language::ZhCn, 12345.678, 2), "12345.68");
        assert_eq!(number(Language::En, 91.5, 2), "91.5");
        assert_eq!(number(Language::En, 100.0, 2), "100");
        assert_eq!(number(Language::En, -1234.0, 0), "-1,234");
        assert_eq!(number(Language::En, -0.001, 2), "0");
        assert_eq!(number(Language::En, 999.0, 2), "999");
        assert_eq!(number(Language::En, f64::NAN, 2), "NaN");
        assert_eq!(percent(Language::ZhCn, 0.875), "87.5%");
    }

    #[test]
    fn times_per_language() {
        let tz = TimeZone::get("Asia/Shanghai").unwrap_or(TimeZone::UTC);
        let ms = "2026-10-09T09:05:00+08:00"
            .parse::<Timestamp>()
            .map(|t| t.as_millisecond())
            .unwrap_or_default();
        assert_eq!(datetime(Language::En, ms, &tz), "9 Oct 2026 09:05");
        assert_eq!(datetime(Language::ZhCn, ms, &tz), "2026年10月9日 09:05");
        let day = Date::new(2026, 10, 9).unwrap_or_default();
        assert_eq!(datetime_near(Language::En, ms, day, &tz), "09:05");
        assert_eq!(month(Language::En, 2026, 10), "October 2026");
        assert_eq!(month(Language::ZhCn, 2026, 10), "2026年10月");
    }

    #[test]
    fn durations_per_language() {
        assert_eq!(duration(Language::En, 90 * 60_000), "1 h 30 min");
        assert_eq!(duration(Language::ZhCn, 90 * 60_000), "1小时30分钟");
        assert_eq!(duration(Language::En, 26 * 3_600_000), "1 d 2 h");
        assert_eq!(duration(Language::En, 42_000), "42 s");
        assert_eq!(duration(Language::ZhCn, 0), "0秒");
    }
}
