use super::*;

const EXAMPLE: &str = include_str!("../../packaging/examples/site.toml");

fn errors(src: &str) -> Vec<String> {
    parse_site("site.toml", src)
        .unwrap_err()
        .iter()
        .map(ToString::to_string)
        .collect()
}

#[test]
fn the_shipped_example_is_valid() {
    let site = parse_site("site.toml", EXAMPLE).unwrap();
    let names: Vec<&str> = site.levels.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(names, ["P1", "P2", "P3", "P4"]);
    let p3 = site.level("P3").unwrap();
    assert_eq!(p3.calendar, "office");
    assert!(p3.waiting_pauses_resolve);
    assert_eq!(p3.resolve, Duration::from_secs(12 * 3600));
    assert_eq!(
        site.level("P1").unwrap().fix_plan,
        Some(Duration::from_secs(1800))
    );
    let minor = site.policies.get("minor").unwrap();
    assert_eq!(minor.steps[1].raise_to.as_deref(), Some("P2"));
    assert_eq!(
        site.policies["major"].steps[2].every,
        Some(Duration::from_secs(1800))
    );
    assert_eq!(site.incidents.reopen_within, Duration::from_secs(1800));
    assert_eq!(site.maintenance.len(), 2);
    assert_eq!(site.scale().names(), ["P1", "P2", "P3", "P4"]);
    let daily = site.inspection("daily").unwrap();
    assert_eq!(daily.at, [9 * 60, 16 * 60]);
    assert_eq!(daily.language, crate::Language::ZhCn);
    assert_eq!(site.availability_levels(), ["P1", "P2"]);
}

#[test]
fn five_levels_named_in_roman_numerals_are_configuration() {
    let src = r#"
[[level]]
name = "I"
respond = "5m"
resolve = "2h"
[[level]]
name = "II"
respond = "10m"
resolve = "4h"
[[level]]
name = "III"
respond = "30m"
resolve = "8h"
[[level]]
name = "IV"
respond = "1h"
resolve = "24h"
[[level]]
name = "V"
respond = "4h"
resolve = "72h"
"#;
    let site = parse_site("site.toml", src).unwrap();
    assert_eq!(site.scale().names(), ["I", "II", "III", "IV", "V"]);
    assert_eq!(site.level("V").unwrap().calendar, ALWAYS);
    assert!(site.policies.is_empty());
}

#[test]
fn no_file_means_the_design_defaults() {
    let site = Site::default();
    let p2 = site.level("P2").unwrap();
    assert_eq!(p2.respond, Duration::from_secs(600));
    assert_eq!(p2.resolve, Duration::from_secs(6 * 3600));
    assert_eq!(site.level("P4").unwrap().respond, Duration::from_secs(1800));
    assert!(site.policy_of(p2).is_some());
    // An empty file is the defaults too.
    assert_eq!(parse_site("s.toml", "").unwrap().levels, site.levels);
}

#[test]
fn every_error_at_its_position_in_one_pass() {
    let src = r#"[calendar.office]
timezone = "Asia/Shangai"
hours = ["mon-fri 08:00-12:00", "mon-fri 11:00-13:00"]

[calendar.shop]
timezone = "UTC"
hours = ["mon-fri 08:00-12:00", "tue 11:30-14:00"]

[[level]]
name = "P1"
calendar = "offise"
respond = "10m"
resolve = "4h"
escalation = "major"

[[level]]
name = "P2"
respond = "10 mins please"
resolve = "6h"

[target.duty]
channels = ["sms"]

[[escalation.major.step]]
name = "late"
when = "unacknowledged"
after = "10m"
notify = ["duty_manager"]

[[escalation.major.step]]
name = "raise"
when = "whenever"
raise_to = "P0"
"#;
    let errs = errors(src);
    assert_eq!(
        errs,
        [
            "site.toml:2:12: unknown time zone 'Asia/Shangai': use an IANA name such as \"Asia/Shanghai\" or \"UTC\"",
            "site.toml:3:33: calendar 'office': window 11:00-13:00 overlaps window 08:00-12:00 on Monday",
            "site.toml:7:33: calendar 'shop': window 11:30-14:00 overlaps window 08:00-12:00 on Tuesday",
            "site.toml:11:12: level 'P1' uses calendar 'offise', which is not defined (defined: 24x7)",
            "site.toml:18:11: invalid duration '10 mins please': expected number at 8 (write e.g. \"10m\", \"4h\", \"1h 30m\")",
            "site.toml:22:13: target 'duty' uses channel 'sms', which is not defined (add a [channel.sms] table)",
            "site.toml:28:11: step 'late' notifies 'duty_manager', which is not a defined target (add a [target.duty_manager] table)",
            "site.toml:32:8: unknown condition 'whenever': expected one of unacknowledged, unresolved, respond_breached, fix_plan_breached, resolve_breached",
            "site.toml:33:12: step 'raise' raises to level 'P0', which is not defined",
        ],
        "{errs:#?}"
    );
}

#[test]
fn a_level_on_a_broken_calendar_still_reports_its_own_errors() {
    let src = r#"[calendar.office]
timezone = "UTC"
hours = ["mon 08:00-12:00", "mon 11:00-13:00"]

[[level]]
name = "P1"
calendar = "office"
respond = "soon"
resolve = "4h"
escalation = "nope"
"#;
    let errs = errors(src);
    assert_eq!(
        errs,
        [
            "site.toml:3:29: calendar 'office': window 11:00-13:00 overlaps window 08:00-12:00 on Monday",
            "site.toml:8:11: invalid duration 'soon': expected number at 0 (write e.g. \"10m\", \"4h\", \"1h 30m\")",
            "site.toml:10:14: level 'P1' uses escalation policy 'nope', which is not defined",
        ],
        "{errs:#?}"
    );
}

#[test]
fn deadlines_too_long_to_ever_fall_due_are_refused() {
    let src = "[[level]]\nname = \"P1\"\nrespond = \"10m\"\nresolve = \"500000years\"\n";
    let errs = errors(src);
    assert_eq!(
        errs,
        [
            "site.toml:4:11: '500000years' is longer than any deadline can run (at most 10 years): write e.g. \"4h\" or \"30d\""
        ],
        "{errs:#?}"
    );
}

#[test]
fn overlap_inside_one_calendar_points_at_the_later_window() {
    let src = "[calendar.a]\ntimezone = \"UTC\"\nhours = [\"mon-fri 08:00-12:00\", \"mon 11:00-13:00\"]\n";
    let errs = errors(src);
    assert_eq!(
        errs,
        ["site.toml:3:33: calendar 'a': window 11:00-13:00 overlaps window 08:00-12:00 on Monday"]
    );
}

#[test]
fn bad_hours_dates_and_maintenance() {
    let src = r#"[calendar.a]
timezone = "UTC"
hours = ["weekdays 08:00-12:00", "mon 22:00-06:00", "fri 08:00-25:00"]
holidays = ["2026-13-01"]

[[maintenance]]
name = "m1"
match = '{host="db1"'
start = "2026-11-28T22:00:00+08:00"
end = "2026-11-28T21:00:00+08:00"

[[maintenance]]
name = "m2"
match = '{}'
weekly = "sun 01:00-03:00"
start = "2026-11-28T22:00:00+08:00"
"#;
    let errs = errors(src);
    assert_eq!(errs.len(), 7, "{errs:#?}");
    assert!(
        errs[0].starts_with("site.toml:3:10: invalid day 'weekdays'"),
        "{}",
        errs[0]
    );
    assert!(
        errs[1].starts_with("site.toml:3:34: window 22:00-06:00"),
        "{}",
        errs[1]
    );
    assert!(errs[1].contains("cannot cross midnight"), "{}", errs[1]);
    assert!(
        errs[2].starts_with("site.toml:3:53: invalid time '25:00'"),
        "{}",
        errs[2]
    );
    assert!(
        errs[3].starts_with("site.toml:4:13: invalid date '2026-13-01'"),
        "{}",
        errs[3]
    );
    assert!(
        errs[4].starts_with("site.toml:8:21: expected ',' or '}'"),
        "{}",
        errs[4]
    );
    assert_eq!(
        errs[5],
        "site.toml:10:7: maintenance 'm1' ends before it starts"
    );
    assert!(
        errs[6].starts_with("site.toml:12:1: maintenance 'm2' needs either"),
        "{}",
        errs[6]
    );
}

#[test]
fn unknown_keys_and_syntax_errors_stop_early_with_a_position() {
    let errs = errors("[[level]]\nname = \"P1\"\nrespond = \"1m\"\nresolve = \"1h\"\nrespnd = 3\n");
    assert_eq!(errs.len(), 1);
    assert!(
        errs[0].starts_with("site.toml:5:1: unknown field `respnd`"),
        "{}",
        errs[0]
    );
    let errs = errors("[incidents\n");
    assert!(errs[0].starts_with("site.toml:1:"), "{}", errs[0]);
}

#[test]
fn duplicate_levels_and_steps() {
    let src = r#"[[level]]
name = "P1"
respond = "1m"
resolve = "1h"
[[level]]
name = "P1"
respond = "1m"
resolve = "1h"
[target.t]
[[escalation.e.step]]
name = "s"
when = "unresolved"
notify = ["t"]
[[escalation.e.step]]
name = "s"
when = "unresolved"
notify = ["t"]
"#;
    let errs = errors(src);
    assert_eq!(
        errs,
        [
            "site.toml:6:8: level 'P1' is defined twice",
            "site.toml:15:8: escalation 'e' has two steps named 's'",
        ]
    );
}

#[test]
fn maintenance_windows_cover_matching_series_only() {
    let site = parse_site("site.toml", EXAMPLE).unwrap();
    let db1 = patrol_proto::Labels::from_pairs([("host", "db1"), ("mount", "/")]);
    let db2 = patrol_proto::Labels::from_pairs([("host", "db2")]);
    let t = |s: &str| s.parse::<jiff::Timestamp>().unwrap().as_millisecond();
    let inside = t("2026-11-28T23:00:00+08:00");
    let end = t("2026-11-29T02:00:00+08:00");
    assert_eq!(
        site.maintenance_at(&db1, inside),
        Some(("db1 patching".to_owned(), end))
    );
    assert_eq!(site.maintenance_at(&db2, inside), None);
    assert_eq!(site.maintenance_at(&db1, end), None);
    // Weekly: Sunday 01:00-03:00 Shanghai for role=backup.
    let backup = patrol_proto::Labels::from_pairs([("host", "bk1"), ("role", "backup")]);
    let sunday = t("2026-11-29T01:30:00+08:00");
    assert_eq!(
        site.maintenance_at(&backup, sunday),
        Some((
            "weekly backup window".to_owned(),
            t("2026-11-29T03:00:00+08:00")
        ))
    );
    assert_eq!(
        site.maintenance_at(&backup, t("2026-11-30T01:30:00+08:00")),
        None
    );
}

#[test]
fn the_noc_guide_shows_the_packaged_example_verbatim() {
    let guide = include_str!("../../docs/noc.md");
    let example = include_str!("../../packaging/examples/site.toml");
    let block = guide
        .split("## Complete example")
        .nth(1)
        .and_then(|rest| rest.split("```toml\n").nth(1))
        .and_then(|rest| rest.split("```").next())
        .expect("docs/noc.md has a toml block under '## Complete example'");
    assert_eq!(
        block, example,
        "docs/noc.md's complete example differs from packaging/examples/site.toml: copy it over"
    );
}
