#![allow(clippy::unwrap_used)] // a failing unwrap is a failing test

use super::*;
use crate::notify::Payload;
use crate::parse_site;

const SITE: &str = r#"
[calendar.office]
timezone = "UTC"
hours = ["mon-fri 08:00-18:00"]

[channel.mqtt]
kind = "mqtt"
host = "h"

[channel.hotline]
kind = "webhook"
url = "http://h/hotline"

[channel.oncall]
kind = "webhook"
url = "http://h/oncall"

[[route]]
name = "dashboards"
channels = ["mqtt"]

[[route]]
name = "office"
levels = ["P1", "P2"]
kinds = ["opened", "escalated"]
match = '{db=~"ORCL|PROD"}'
calendar = "office"
channels = ["hotline", "mqtt"]
rate_limit = "20/1h"
group_by = ["rule"]
group_wait = "30s"
stop = true

[[route]]
name = "nights"
levels = ["P1", "P2"]
outside_calendar = "office"
channels = ["oncall"]
"#;

/// The sample message at `time` (ms), with `level` and `kind`.
fn msg(time: i64, level: &str, kind: &str) -> Message {
    let mut p = Payload::sample("hq");
    p.time.ms = time;
    p.level = level.to_owned();
    p.kind = kind.to_owned();
    Message::new(p)
}

// 2026-11-18 is a Wednesday.
const WED_10_00: i64 = 1_794_996_000_000;
const WED_22_00: i64 = 1_795_039_200_000;

#[test]
fn office_hours_go_to_the_hotline_nights_to_on_call() {
    let site = parse_site("site.toml", SITE).unwrap();
    let routes = &site.notify.routes;
    assert_eq!(
        routes[1].rate_limit,
        Some(RateLimit {
            count: 20,
            per: Duration::from_secs(3600)
        })
    );
    assert_eq!(
        routes[1].group,
        Some(Grouping {
            by: vec!["rule".into()],
            wait: Duration::from_secs(30)
        })
    );

    let (decisions, channels) = select(routes, &msg(WED_10_00, "P1", "opened"), &site.calendars);
    assert_eq!(channels, ["mqtt", "hotline"]);
    assert_eq!(
        decisions,
        [
            ("dashboards", Decision::Matched),
            ("office", Decision::Matched),
            ("nights", Decision::Stopped)
        ]
    );

    let (decisions, channels) = select(routes, &msg(WED_22_00, "P1", "opened"), &site.calendars);
    assert_eq!(channels, ["mqtt", "oncall"]);
    assert_eq!(decisions[1], ("office", Decision::OutsideHours));

    let (decisions, channels) = select(routes, &msg(WED_10_00, "P3", "opened"), &site.calendars);
    assert_eq!(channels, ["mqtt"]);
    assert_eq!(decisions[1].1, Decision::Level);
    assert_eq!(decisions[2].1, Decision::Level);

    let (decisions, _) = select(
        routes,
        &msg(WED_10_00, "P1", "acknowledged"),
        &site.calendars,
    );
    assert_eq!(decisions[1].1, Decision::Kind);
    assert_eq!(decisions[2].1, Decision::InsideHours);

    let mut other_db = msg(WED_10_00, "P1", "opened");
    other_db.labels.insert("db".into(), "TEST".into());
    let (decisions, _) = select(routes, &other_db, &site.calendars);
    assert_eq!(decisions[1].1, Decision::Labels);
}

#[test]
fn route_errors_are_reported_at_their_positions() {
    let src = r#"[channel.mqtt]
kind = "mqtt"
host = "h"

[[route]]
name = "r"
channels = ["mqtt", "pager"]
levels = ["P9"]
kinds = ["exploded"]
match = '{db=~"("}'
calendar = "office"
rate_limit = "lots"
group_wait = "30s"
"#;
    let errs: Vec<String> = parse_site("site.toml", src)
        .unwrap_err()
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(errs.len(), 7, "{errs:#?}");
    assert!(
        errs[0].starts_with("site.toml:7:21: route 'r': channel 'pager' is not defined"),
        "{errs:#?}"
    );
    assert!(
        errs[1].starts_with(
            "site.toml:8:11: route 'r': level 'P9' is not defined (levels: P1, P2, P3, P4)"
        ),
        "{errs:#?}"
    );
    assert!(
        errs[2].starts_with("site.toml:9:10: route 'r': unknown event kind 'exploded'"),
        "{errs:#?}"
    );
    assert!(errs[3].starts_with("site.toml:10:"), "{errs:#?}");
    assert_eq!(
        errs[4],
        "site.toml:11:12: route 'r': calendar 'office' is not defined"
    );
    assert_eq!(
        errs[5],
        "site.toml:12:14: route 'r': invalid rate_limit 'lots': write COUNT/PERIOD, e.g. \"20/1h\""
    );
    assert_eq!(
        errs[6],
        "site.toml:13:14: route 'r': 'group_wait' needs 'group_by'"
    );
}

#[test]
fn rates_parse() {
    assert_eq!(
        parse_rate("5/10m"),
        Ok(RateLimit {
            count: 5,
            per: Duration::from_secs(600)
        })
    );
    assert!(parse_rate("0/1h").unwrap_err().contains("allows nothing"));
    assert!(parse_rate("5").is_err());
}
