//! The fault report of incident #3 (P1, ORCL down) and the monthly summary of October 2026,
//! from the recorded set.

#![allow(clippy::unwrap_used)]

mod recorded;

use patrol_report::fault::{self, FaultError, FaultInput};
use patrol_report::monthly::{self, MonthlyInput};
use patrol_report::sheet::{self, SheetInput};
use patrol_report::sla::{self, SlaInput};
use patrol_report::{Group, Language};
use recorded::*;

fn xml_ok(html: &str) {
    let opts = roxmltree::ParsingOptions {
        allow_dtd: true,
        ..roxmltree::ParsingOptions::default()
    };
    roxmltree::Document::parse_with_options(html, opts)
        .unwrap_or_else(|e| panic!("not well-formed: {e}\n{html}"));
}

fn fault_of(id: u64, lang: Language) -> Result<fault::FaultReport, FaultError> {
    let site = site();
    let incidents = incidents();
    let journal = journal_of_3();
    fault::build(&FaultInput {
        title: "HQ data centre".into(),
        site: &site,
        incident: incidents.iter().find(|i| i.id == id).unwrap(),
        journal: &journal,
        now_ms: at("2026-10-12T09:00:00+08:00"),
        language: lang,
        time_zone: jiff::tz::TimeZone::get("Asia/Shanghai").unwrap(),
    })
}

#[test]
fn fault_report_of_a_p1() {
    let r = fault_of(3, Language::En).unwrap();
    // Deadlines: respond 08:10 met 08:25 (late), fix plan 08:30 met 08:40 (late), resolve
    // 12:00 met 11:00.
    let d: Vec<(&str, i64, Option<i64>, &str)> = r
        .deadlines
        .iter()
        .map(|d| (d.clock, d.due_ms, d.met_ms, d.standing))
        .collect();
    let t = |hm: &str| at(&format!("2026-10-10T{hm}:00+08:00"));
    assert_eq!(
        d,
        [
            ("respond", t("08:10"), Some(t("08:25")), "met_late"),
            ("fix_plan", t("08:30"), Some(t("08:40")), "met_late"),
            ("resolve", t("12:00"), Some(t("11:00")), "met"),
        ]
    );
    // The timeline is the journal, oldest first.
    let kinds: Vec<&str> = r.timeline.iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        [
            "opened",
            "notified",
            "notified",
            "breached",
            "escalated",
            "acknowledged",
            "breached",
            "planned",
            "resolved"
        ]
    );
    assert_eq!(r.timeline[3].detail, "respond");
    assert_eq!(
        r.timeline[4].detail,
        "not_acknowledged #0 → duty_manager (Zhang Wei)"
    );
    assert_eq!(r.timeline[8].detail, "respond ✗, fix_plan ✗, resolve ✓");
    // Notifications and their outcomes.
    let n: Vec<(&str, &str, u64, Option<&str>)> = r
        .notifications
        .iter()
        .map(|n| {
            (
                n.channel.as_str(),
                n.outcome.as_str(),
                n.attempts,
                n.error.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        n,
        [
            ("sms", "sent", 2, None),
            ("email", "dead", 5, Some("550 mailbox unavailable"))
        ]
    );
    // 08:00 to 11:00 on 24x7: 3 h both ways.
    assert_eq!(r.incident.duration_ms, 3 * HOUR);
    assert_eq!(r.incident.business_to_resolve_ms, Some(3 * HOUR));
    assert_eq!(
        r.incident.resolution.as_deref(),
        Some("restarted the listener; ORCL open again")
    );

    let md = fault::markdown(&r);
    assert!(md.starts_with("# Fault report #3\n"), "{md}");
    assert!(
        md.contains("| **Respond** | 10 Oct 2026 08:10 | 10 Oct 2026 08:25 | met late |"),
        "{md}"
    );
    assert!(
        md.contains(
            "| **10 Oct 2026 08:02** | email | office-hours | dead: 550 mailbox unavailable | 5 |"
        ),
        "{md}"
    );
    assert!(
        md.contains("- Acknowledged by: Li Na (10 Oct 2026 08:25)"),
        "{md}"
    );
    assert!(md.contains("- Business time to resolve: 3 h"), "{md}");
    let zh = fault::markdown(&fault_of(3, Language::ZhCn).unwrap());
    assert!(zh.starts_with("# 故障报告 #3\n"), "{zh}");
    assert!(
        zh.contains("| 2026年10月10日 08:40 | Li Na | 处理方案 |"),
        "{zh}"
    );
    for lang in Language::ALL {
        xml_ok(&fault::html(&fault_of(3, lang).unwrap()));
    }
}

#[test]
fn fault_report_only_for_the_two_most_severe_levels() {
    let e = fault_of(4, Language::En).unwrap_err();
    assert_eq!(
        e.to_string(),
        "incident 4 is P3: a fault report is written for incidents of the two most severe levels (P1, P2)"
    );
    // A P2 (#5, reported by phone) has one, with no journal given: no notification recorded.
    let r = fault_of(5, Language::En).unwrap();
    assert!(r.timeline.is_empty());
    assert!(fault::markdown(&r).contains("No notification was recorded."));
}

#[test]
fn monthly_summary_rolls_up_the_sheets() {
    let site = site();
    let rules = rules();
    let incidents = incidents();
    let samples = samples();
    let worst = worst_of(&samples);
    let tz = jiff::tz::TimeZone::get("Asia/Shanghai").unwrap();
    // Two sheets of 9 October: at 09:00 (only the 09:00 samples) and at 16:00.
    let make = |at_ms: i64, previous_ms: i64| {
        let cur = current(&samples, at_ms);
        sheet::build(&SheetInput {
            title: "HQ data centre".into(),
            schedule: "daily".into(),
            at_ms,
            previous_ms,
            language: Language::ZhCn,
            time_zone: tz.clone(),
            current: &cur,
            worst: &worst,
            rules: &rules,
            incidents: &incidents,
        })
    };
    let morning = make(oct9("09:00"), at("2026-10-08T16:00:00+08:00"));
    let mut afternoon = make(oct9("16:00"), oct9("09:00"));
    afternoon.sign("Zhang Wei", oct9("17:00"), None);
    // At 09:00 /backup (93 under its 95 override) and everything else is normal; #1 was
    // resolved on the 8th at 11:00, before the period (8 October 16:00 – 9 October 09:00).
    assert_eq!(morning.summary.abnormal_checks, 0);
    let (from, to) = monthly::month_period(2026, 10, &tz).unwrap();
    assert_eq!(
        (from, to),
        (
            at("2026-10-01T00:00:00+08:00"),
            at("2026-11-01T00:00:00+08:00")
        )
    );
    let sla = sla::build(&SlaInput {
        title: "HQ data centre".into(),
        site: &site,
        incidents: &incidents,
        from_ms: from,
        to_ms: to,
        now_ms: at("2026-11-02T09:00:00+08:00"),
        known: &[],
        language: Language::ZhCn,
        time_zone: tz.clone(),
    })
    .unwrap();
    let sheets = [afternoon, morning];
    let m = monthly::build(&MonthlyInput {
        title: "HQ data centre".into(),
        year: 2026,
        month: 10,
        sheets: &sheets,
        sla: &sla,
        language: Language::ZhCn,
        time_zone: tz,
    });
    assert_eq!((m.sheets, m.signed), (2, 1));
    let f: Vec<(Group, &str, &str, usize, Vec<u64>)> = m
        .findings
        .iter()
        .map(|f| {
            (
                f.group,
                f.object.as_str(),
                f.check_label.as_str(),
                f.sheets,
                f.incidents.clone(),
            )
        })
        .collect();
    assert_eq!(
        f,
        [
            (Group::Servers, "db1 /u01", "磁盘使用率", 1, vec![6]),
            (
                Group::Databases,
                "db1 ORCL USERS",
                "表空间使用率",
                1,
                vec![2]
            ),
        ]
    );
    assert_eq!(
        m.incidents_per_level,
        [
            ("P1".to_owned(), 1),
            ("P2".to_owned(), 3),
            ("P3".to_owned(), 1),
            ("P4".to_owned(), 0)
        ]
    );
    let md = monthly::markdown(&m);
    assert!(md.starts_with("# 月度巡检汇总 — 2026年10月\n"), "{md}");
    assert!(
        md.contains("| 服务器 | db1 /u01 | 磁盘使用率 | 2026年10月9日 16:00 | 2026年10月9日 16:00 | #6 | 1 |"),
        "{md}"
    );
    // The SLA figures follow.
    assert!(md.contains("## 服务水平报告"), "{md}");
    assert!(md.contains("| **合计** | 5 | 60% (3/5) |"), "{md}");
    let html = monthly::html(&m);
    xml_ok(&html);
    assert!(html.contains("@media print"));
}
