use super::*;
use crate::{Site, parse_site};

/// Office hours split at lunch, with the 2026 National Day holiday (1–7 October, of which the
/// 3rd and 4th are the weekend anyway) and Saturday 10 October worked in exchange.
const OFFICE: &str = r#"
[calendar.office]
timezone = "Asia/Shanghai"
hours = ["mon-fri 08:30-12:00", "mon-fri 13:30-17:30"]
holidays = ["2026-10-01", "2026-10-02", "2026-10-05", "2026-10-06", "2026-10-07"]
working_days = ["2026-10-10"]

[channel.email]
kind = "email"
host = "smtp.example.internal"
from = "patrol@example.internal"
to = ["noc@example.internal"]

[[route]]
name = "noc-mail"
channels = ["email"]
"#;

fn site(extra: &str) -> Site {
    parse_site("site.toml", &format!("{OFFICE}{extra}")).unwrap()
}

fn errors(extra: &str) -> Vec<String> {
    parse_site("site.toml", &format!("{OFFICE}{extra}"))
        .unwrap_err()
        .iter()
        .map(ToString::to_string)
        .collect()
}

/// An instant written with its offset: independent of the calendar code under test.
fn at(rfc3339: &str) -> i64 {
    rfc3339.parse::<jiff::Timestamp>().unwrap().as_millisecond()
}

const DAILY: &str = r#"
[[inspection]]
name = "daily"
calendar = "office"
at = ["16:00", "09:00"]
language = "zh-CN"
send = ["email", "noc-mail"]
"#;

#[test]
fn a_schedule_is_read_with_its_times_sorted() {
    let s = site(DAILY);
    let i = s.inspection("daily").unwrap();
    assert_eq!(i.calendar, "office");
    assert_eq!(i.at, [9 * 60, 16 * 60]);
    assert_eq!(i.language, Language::ZhCn);
    assert_eq!(i.send, ["email", "noc-mail"]);
    // Without [report] the default language is English.
    assert_eq!(s.report.language, Language::En);
}

#[test]
fn next_inspection_skips_the_holiday_and_keeps_the_adjusted_working_day() {
    let s = site(DAILY);
    let i = s.inspection("daily").unwrap();
    let cal = s.calendar_named("office").unwrap();
    let next = |t: &str| i.next_after(&cal, at(t));
    // Same day: the afternoon round.
    assert_eq!(
        next("2026-09-29T10:00:00+08:00"),
        Some(at("2026-09-29T16:00:00+08:00"))
    );
    // Strictly after: at 09:00 itself the next one is 16:00.
    assert_eq!(
        next("2026-09-29T09:00:00+08:00"),
        Some(at("2026-09-29T16:00:00+08:00"))
    );
    // Wednesday 30 September after the last round: 1–7 October are days off (holidays and a
    // weekend), so the next round is Thursday 8 October.
    assert_eq!(
        next("2026-09-30T16:00:00+08:00"),
        Some(at("2026-10-08T09:00:00+08:00"))
    );
    // Friday 9 October 16:30: Saturday 10 October is an adjusted working day.
    assert_eq!(
        next("2026-10-09T16:30:00+08:00"),
        Some(at("2026-10-10T09:00:00+08:00"))
    );
    // Saturday 10 October after its last round: Sunday off, Monday 12 October.
    assert_eq!(
        next("2026-10-10T17:00:00+08:00"),
        Some(at("2026-10-12T09:00:00+08:00"))
    );
    // 00:30 UTC is 08:30 in Shanghai: the times are the calendar's zone's, so that
    // morning's round is still ahead.
    assert_eq!(
        next("2026-10-12T00:30:00Z"),
        Some(at("2026-10-12T09:00:00+08:00"))
    );
    // Across the schedules of the site.
    let (which, when) = s
        .next_inspection_after(at("2026-09-30T16:00:00+08:00"))
        .unwrap();
    assert_eq!(which.name, "daily");
    assert_eq!(when, at("2026-10-08T09:00:00+08:00"));
}

#[test]
fn previous_inspection_is_the_start_of_the_period() {
    let s = site(DAILY);
    let i = s.inspection("daily").unwrap();
    let cal = s.calendar_named("office").unwrap();
    assert_eq!(
        i.previous_before(&cal, at("2026-10-08T09:00:00+08:00")),
        Some(at("2026-09-30T16:00:00+08:00"))
    );
    assert_eq!(
        i.previous_before(&cal, at("2026-10-08T16:00:00+08:00")),
        Some(at("2026-10-08T09:00:00+08:00"))
    );
    assert_eq!(
        i.times_on(&cal, "2026-10-01".parse().unwrap()),
        Vec::<i64>::new()
    );
    assert_eq!(
        i.times_on(&cal, "2026-10-10".parse().unwrap()),
        [
            at("2026-10-10T09:00:00+08:00"),
            at("2026-10-10T16:00:00+08:00")
        ]
    );
}

#[test]
fn a_time_skipped_by_daylight_saving_runs_just_after_the_jump() {
    let s = site(
        r#"
[calendar.berlin]
timezone = "Europe/Berlin"
hours = ["daily 00:00-24:00"]

[[inspection]]
name = "night"
calendar = "berlin"
at = ["02:30"]
"#,
    );
    let i = s.inspection("night").unwrap();
    let cal = s.calendar_named("berlin").unwrap();
    // 29 March 2026: clocks jump from 02:00 CET to 03:00 CEST, so 02:30 does not exist and the
    // round runs at 03:30 CEST (01:30 UTC), the instant after the jump.
    assert_eq!(
        i.next_after(&cal, at("2026-03-28T12:00:00+01:00")),
        Some(at("2026-03-29T01:30:00Z"))
    );
    assert_eq!(
        i.next_after(&cal, at("2026-03-29T01:30:00Z")),
        Some(at("2026-03-30T02:30:00+02:00"))
    );
}

#[test]
fn the_default_calendar_is_every_day() {
    let s = site("[[inspection]]\nname = \"round\"\nat = [\"08:00\"]\n");
    let i = s.inspection("round").unwrap();
    assert_eq!(i.calendar, "24x7");
    let cal = s.calendar_named("24x7").unwrap();
    // Thursday 1 October (a holiday of the office calendar, not of 24x7), 08:00 UTC.
    assert_eq!(
        i.next_after(&cal, at("2026-09-30T09:00:00Z")),
        Some(at("2026-10-01T08:00:00Z"))
    );
}

#[test]
fn report_settings_are_read() {
    let s = site(
        r#"
[report]
language = "zh-CN"
title = "HQ data centre"

[report.availability]
calendar = "office"
levels = ["P1", "P2"]
group_by = ["role", "system"]

[[inspection]]
name = "daily"
at = ["09:00"]
"#,
    );
    assert_eq!(s.report.language, Language::ZhCn);
    assert_eq!(s.report.title.as_deref(), Some("HQ data centre"));
    assert_eq!(s.report.availability.calendar, "office");
    assert_eq!(s.availability_levels(), ["P1", "P2"]);
    assert_eq!(s.report.availability.group_by, ["role", "system"]);
    // A schedule without its own language takes the site's.
    assert_eq!(s.inspection("daily").unwrap().language, Language::ZhCn);
    // Without levels, the most severe level counts.
    assert_eq!(site("").availability_levels(), ["P1"]);
    assert_eq!(Site::default().inspections, Vec::new());
}

#[test]
fn every_schedule_problem_at_its_position() {
    // OFFICE ends on line 16: line k of the text below is line 16 + k of the file.
    let errs = errors(
        r#"
[[inspection]]
name = "daily"
calendar = "ofice"
at = ["09:00", "25:00", "9am", "09:00"]
language = "fr"
send = ["emial"]

[[inspection]]
name = "daily"
at = []

[report]
language = "zh"

[report.availability]
calendar = "nights"
levels = ["P9"]
group_by = ["1role"]
"#,
    );
    assert_eq!(
        errs,
        [
            "site.toml:20:12: inspection 'daily' uses calendar 'ofice', which is not defined (defined: 24x7, office)",
            "site.toml:21:16: invalid time '25:00': write HH:MM from 00:00 to 23:59, e.g. \"09:00\"",
            "site.toml:21:25: invalid time '9am': write HH:MM from 00:00 to 23:59, e.g. \"09:00\"",
            "site.toml:21:32: inspection 'daily' lists 09:00 twice",
            "site.toml:22:12: unknown language 'fr': write \"zh-CN\" or \"en\"",
            "site.toml:23:9: inspection 'daily' sends to 'emial', which is neither a channel nor a route of this site (add a [channel.emial] table or name a [[route]])",
            "site.toml:26:8: inspection 'daily' is defined twice",
            "site.toml:27:6: inspection 'daily' has no times: write e.g. at = [\"09:00\", \"16:00\"]",
            "site.toml:30:12: unknown language 'zh': write \"zh-CN\" or \"en\"",
            "site.toml:33:12: availability uses calendar 'nights', which is not defined (defined: 24x7, office)",
            "site.toml:34:11: availability counts level 'P9', which is not defined (levels: P1, P2, P3, P4)",
            "site.toml:35:13: '1role' is not a label name: write letters, digits and '_', not starting with a digit (e.g. \"role\")",
        ]
    );
}

#[test]
fn times_of_day() {
    assert_eq!(parse_time_of_day("00:00"), Ok(0));
    assert_eq!(parse_time_of_day(" 9:05 "), Ok(545));
    assert_eq!(parse_time_of_day("23:59"), Ok(1439));
    for bad in ["24:00", "12:60", "12", "12:5", "-1:00", "ab:cd", ""] {
        assert!(parse_time_of_day(bad).is_err(), "{bad}");
    }
}
