//! The inspection sheet of Friday 9 October 2026, 16:00, from the recorded set: every figure
//! compared with what was worked out by hand from the samples and incidents.

#![allow(clippy::unwrap_used)]

mod recorded;

use patrol_report::checks::{Bad, Group};
use patrol_report::sheet::{self, Finding, Sheet, SheetInput, Status};
use patrol_report::{Language, sheet_render};
use recorded::*;

fn sheet(lang: Language) -> Sheet {
    let samples = samples();
    let cur = current(&samples, oct9("16:00"));
    let worst = worst_of(&samples);
    let rules = rules();
    let incidents = incidents();
    let site = site();
    let tz = site.calendar_named("office").unwrap().time_zone().clone();
    sheet::build(&SheetInput {
        title: "HQ data centre".into(),
        schedule: "daily".into(),
        at_ms: oct9("16:00"),
        previous_ms: oct9("09:00"),
        language: lang,
        time_zone: tz,
        current: &cur,
        worst: &worst,
        rules: &rules,
        incidents: &incidents,
    })
}

fn row<'a>(s: &'a Sheet, metric: &str, object: &str) -> &'a sheet::Row {
    s.rows()
        .find(|r| r.metric == metric && r.object == object)
        .unwrap_or_else(|| panic!("no row {metric} {object}"))
}

#[test]
fn the_period_comes_from_the_schedule() {
    let site = site();
    let daily = site.inspection("daily").unwrap();
    let cal = site.calendar_named("office").unwrap();
    // The sheet at 16:00 covers the time since the 09:00 round of the same day.
    assert_eq!(
        daily.previous_before(&cal, oct9("16:00")),
        Some(oct9("09:00"))
    );
}

#[test]
fn the_scheduled_period_and_title_come_from_the_site() {
    let site = site();
    let daily = site.inspection("daily").unwrap();
    // Thursday 8 October 09:00, the first round after the holiday, covers the time since
    // Wednesday 30 September 16:00.
    let p = sheet::period(&site, daily, at("2026-10-08T09:00:00+08:00")).unwrap();
    assert_eq!(p.previous_ms, at("2026-09-30T16:00:00+08:00"));
    assert_eq!(p.language, Language::ZhCn);
    assert_eq!(p.time_zone.iana_name(), Some("Asia/Shanghai"));
    assert_eq!(sheet::site_title(&site), "HQ data centre");
    assert_eq!(sheet::site_title(&patrol_site::Site::default()), "default");
}

#[test]
fn hostile_text_is_escaped_and_the_page_stays_well_formed() {
    let samples = samples();
    let cur = current(&samples, oct9("16:00"));
    let worst = worst_of(&samples);
    let rules = rules();
    let mut incidents = incidents();
    let six = incidents.iter_mut().find(|i| i.id == 6).unwrap();
    six.summary = "<script>alert(1)</script> & \"quoted\" \u{7}".into();
    let s = sheet::build(&SheetInput {
        title: "<b>HQ</b>".into(),
        schedule: "daily".into(),
        at_ms: oct9("16:00"),
        previous_ms: oct9("09:00"),
        language: Language::En,
        time_zone: jiff::tz::TimeZone::UTC,
        current: &cur,
        worst: &worst,
        rules: &rules,
        incidents: &incidents,
    });
    let html = sheet_render::html(&s);
    let doc = roxmltree::Document::parse_with_options(&html, xml_options()).unwrap();
    assert!(
        !doc.descendants()
            .any(|n| n.has_tag_name("script") || n.has_tag_name("b"))
    );
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;quoted&quot;"));
}

#[test]
fn summary_counts_by_hand() {
    let s = sheet(Language::En);
    // Machines: db1, app1, ups1 (the UPS is its own object, polled by app1).
    assert_eq!(s.summary.objects, 3);
    // Series on the sheet: db1 cpu, memory, 3 disks, fan, oracle_up, 2 tablespaces,
    // archive log, alert-log counter (11); app1 WebLogic log, stuck threads, ping loss,
    // ping rtt, exec_state (5); ups1 on battery, battery remaining (2). memory_total_bytes is
    // neither a check nor watched.
    assert_eq!(s.summary.checks, 18);
    // Abnormal: /u01 (92.5 > 90 and incident #6) and USERS (incident #2 in the period).
    assert_eq!(s.summary.abnormal_checks, 2);
    assert_eq!(s.summary.abnormal_objects, 1);
    // In the period 09:00–16:00: #2 (11:20–11:58) and #6 (from 15:40); #1 was resolved on
    // 8 October, #3 opens on 10 October. Open at 16:00: #6 only.
    assert_eq!(s.summary.period_incidents, 2);
    assert_eq!(s.summary.open_incidents, 1);
    assert!(!s.no_data);
    assert!(s.other_incidents.is_empty());
}

#[test]
fn groups_in_the_handbook_order() {
    let s = sheet(Language::En);
    let groups: Vec<Group> = s.groups.iter().map(|g| g.group).collect();
    assert_eq!(
        groups,
        [
            Group::Servers,
            Group::Databases,
            Group::Middleware,
            Group::Network,
            Group::Gear,
            Group::Other
        ]
    );
    let servers: Vec<(&str, &str)> = s.groups[0]
        .rows
        .iter()
        .map(|r| (r.check.as_str(), r.object.as_str()))
        .collect();
    assert_eq!(
        servers,
        [
            ("fans", "db1 nct6775/fan2"),
            ("cpu", "db1"),
            ("memory", "db1"),
            ("disk", "db1 /"),
            ("disk", "db1 /backup"),
            ("disk", "db1 /u01"),
        ]
    );
    let other: Vec<&str> = s.groups[5].rows.iter().map(|r| r.check.as_str()).collect();
    assert_eq!(other, ["exec_state"]);
}

#[test]
fn rows_by_hand() {
    let s = sheet(Language::En);

    // /u01: 92.5 now, worst 92.5 at 15:59, threshold 90 (rule), abnormal by value and by #6.
    let u01 = row(&s, "disk_used_percent", "db1 /u01");
    assert_eq!(u01.value, 92.5);
    let w = u01.worst.unwrap();
    assert_eq!((w.value, w.at_ms), (92.5, oct9("15:59")));
    assert_eq!(u01.watches[0].threshold, Some(90.0));
    assert_eq!(u01.watches[0].override_match, None);
    assert_eq!(u01.status, Status::Abnormal);
    assert_eq!(
        u01.findings,
        [
            Finding::Incident { id: 6 },
            Finding::Threshold {
                rule: "disk_full".into()
            }
        ]
    );
    assert_eq!(u01.remarks.len(), 1);
    assert_eq!(u01.remarks[0].state, "open");
    assert_eq!(
        u01.remarks[0].acked_by, None,
        "acknowledged at 16:05, after the sheet"
    );

    // /backup: 93 is above the rule's 90 but below its override's 95: normal.
    let backup = row(&s, "disk_used_percent", "db1 /backup");
    assert_eq!(backup.watches[0].threshold, Some(95.0));
    assert_eq!(
        backup.watches[0].override_match.as_deref(),
        Some(r#"{mount="/backup"}"#)
    );
    assert_eq!(backup.status, Status::Normal);

    // USERS: 88 now, but 91.2 at 11:20 and incident #2 in the period: abnormal, remark says
    // who acknowledged and how it was resolved.
    let users = row(&s, "oracle_tablespace_used_percent", "db1 ORCL USERS");
    assert_eq!(users.value, 88.0);
    let w = users.worst.unwrap();
    assert_eq!((w.value, w.at_ms), (91.2, oct9("11:20")));
    assert_eq!(users.status, Status::Abnormal);
    assert_eq!(users.findings, [Finding::Incident { id: 2 }]);
    let m = &users.remarks[0];
    assert_eq!(
        (
            m.level.as_str(),
            m.acked_by.as_deref(),
            m.acked_ms,
            m.state.as_str()
        ),
        ("P2", Some("Li Na"), Some(oct9("11:26")), "resolved")
    );
    assert_eq!(m.resolved_ms, Some(oct9("11:58")));
    assert_eq!(m.resolution.as_deref(), Some("added a datafile to USERS"));

    // UNDOTBS1 96 under its override 97: normal.
    let undo = row(&s, "oracle_tablespace_used_percent", "db1 ORCL UNDOTBS1");
    assert_eq!(undo.watches[0].threshold, Some(97.0));
    assert_eq!(undo.status, Status::Normal);

    // CPU: the rule is a 10-minute average: its threshold is shown but the latest value is
    // not judged against it. Worst = the maximum, 78.4 at 12:30.
    let cpu = row(&s, "cpu_usage_percent", "db1");
    assert_eq!(cpu.watches[0].threshold, Some(90.0));
    assert!(!cpu.watches[0].compares_value);
    assert_eq!(cpu.worst.map(|w| w.value), Some(78.4));

    // Ping loss: 0 now, 40 % at 10:30 (the rule's 5 minutes never held): normal, worst 40.
    let loss = row(&s, "ping_loss_percent", "app1 10.0.0.1");
    assert_eq!(loss.status, Status::Normal);
    assert_eq!(
        loss.worst.map(|w| (w.value, w.at_ms)),
        Some((40.0, oct9("10:30")))
    );

    // UPS battery: no rule, low is bad by the check table: worst = minimum, 96 at 13:00.
    let battery = row(&s, "ups_battery_remaining_percent", "ups1");
    assert_eq!(battery.bad, Bad::Low);
    assert_eq!(
        battery.worst.map(|w| (w.value, w.at_ms)),
        Some((96.0, oct9("13:00")))
    );
    assert!(battery.watches.is_empty());

    // Fan: the rule `== 0` makes low bad.
    assert_eq!(row(&s, "hw_fan_ok", "db1 nct6775/fan2").bad, Bad::Low);

    // Alert log: a counter, shown as its increase since 09:00: 3 → 5 = +2.
    let alert = row(&s, "oracle_alert_log_errors_total", "db1 ORCL ORA-00600");
    assert_eq!(alert.worst.map(|w| w.value), Some(2.0));
}

#[test]
fn rendered_cells_in_both_languages() {
    let en = sheet_render::markdown(&sheet(Language::En));
    assert!(
        en.contains("| db1 /u01 | Disk usage | 92.5% | 92.5% (15:59) | > 90% (P2) | **abnormal** | P2 #6 Disk /u01 on db1 is 91% full; opened 15:40; open |"),
        "{en}"
    );
    assert!(
        en.contains(
            "| db1 /backup | Disk usage | 93% | 93% (09:00) | > 95% (P2, override) | normal |  |"
        ),
        "{en}"
    );
    assert!(
        en.contains("P2 #2 Tablespace USERS at 91.2%; opened 11:20; acknowledged by Li Na 11:26; resolved 11:58; resolution: added a datafile to USERS"),
        "{en}"
    );
    assert!(en.contains("- Inspection time: 9 Oct 2026 16:00"), "{en}");
    let zh = sheet_render::markdown(&sheet(Language::ZhCn));
    assert!(
        zh.contains("| db1 /u01 | 磁盘使用率 | 92.5% | 92.5%（15:59） | > 90%（P2） | **异常** | P2 #6 Disk /u01 on db1 is 91% full；发生于 15:40；待处理 |"),
        "{zh}"
    );
    assert!(zh.contains("- 巡检时间: 2026年10月9日 16:00"), "{zh}");
    assert!(zh.contains("| > 95%（P2，单独阈值） |"), "{zh}");
    assert!(
        zh.contains("| ups1 | UPS 电池 | 100% | 96%（13:00） | - | 正常 |  |"),
        "{zh}"
    );
}

#[test]
fn csv_is_rfc4180() {
    let csv = sheet_render::csv(&sheet(Language::En));
    let records: Vec<&str> = csv.split_terminator("\r\n").collect();
    // A header and one record per row.
    assert_eq!(records.len(), 1 + 18);
    assert_eq!(
        records[0],
        "Group,Object,Check,Metric,Value,Worst since previous,Worst at,Threshold,Status,Remarks"
    );
    // Remarks with commas are quoted; nothing else is.
    let u01 = records
        .iter()
        .find(|r| r.starts_with("Servers,db1 /u01,"))
        .unwrap();
    assert_eq!(
        *u01,
        "Servers,db1 /u01,Disk usage,disk_used_percent,92.5%,92.5%,9 Oct 2026 15:59,> 90% (P2),abnormal,P2 #6 Disk /u01 on db1 is 91% full; opened 15:40; open"
    );
    // Every record has 10 fields once quoted fields are read as RFC 4180 says.
    for r in &records {
        assert_eq!(fields(r).len(), 10, "{r}");
    }
    let backup = records
        .iter()
        .find(|r| r.starts_with("Servers,db1 /backup,"))
        .unwrap();
    assert_eq!(fields(backup)[7], "> 95% (P2, override)");
    assert!(backup.contains(",\"> 95% (P2, override)\","), "{backup}");
}

/// The fields of one CSV record (RFC 4180 §2: quoted fields, doubled quotes).
fn fields(record: &str) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut quoted = false;
    let mut chars = record.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                chars.next();
                out.last_mut().unwrap().push('"');
            }
            ('"', _) => quoted = !quoted,
            (',', false) => out.push(String::new()),
            (c, _) => out.last_mut().unwrap().push(c),
        }
    }
    out
}

#[test]
fn json_carries_raw_figures() {
    let s = sheet(Language::En);
    let v: serde_json::Value = serde_json::from_str(&sheet_render::json(&s)).unwrap();
    assert_eq!(v["summary"]["checks"], 18);
    assert_eq!(v["language"], "en");
    assert_eq!(v["time_zone"], "Asia/Shanghai");
    let rows = v["groups"][0]["rows"].as_array().unwrap();
    let u01 = rows.iter().find(|r| r["object"] == "db1 /u01").unwrap();
    assert_eq!(u01["value"], 92.5);
    assert_eq!(u01["status"], "abnormal");
    assert_eq!(u01["findings"][0]["kind"], "incident");
    assert_eq!(u01["watches"][0]["threshold"], 90.0);
    assert_eq!(u01["labels"]["mount"], "/u01");
}

#[test]
fn a_date_with_no_data_says_so() {
    let rules = rules();
    let none = |_: &str, _: &patrol_proto::Labels, _: i64, _: i64, _: Bad| None;
    let s = sheet::build(&SheetInput {
        title: "HQ data centre".into(),
        schedule: "daily".into(),
        at_ms: at("2026-10-01T09:00:00+08:00"),
        previous_ms: at("2026-09-30T16:00:00+08:00"),
        language: Language::ZhCn,
        time_zone: jiff::tz::TimeZone::get("Asia/Shanghai").unwrap(),
        current: &[],
        worst: &none,
        rules: &rules,
        incidents: &[],
    });
    assert!(s.no_data);
    assert_eq!(s.summary.checks, 0);
    let md = sheet_render::markdown(&s);
    assert!(
        md.contains("该日期无数据：未记录任何采样，也无故障。"),
        "{md}"
    );
    let html = sheet_render::html(&s);
    assert!(html.contains("<p class=\"nodata\">"), "{html}");
    assert!(roxmltree::Document::parse_with_options(&html, xml_options()).is_ok());
}

#[test]
fn a_stored_sheet_reads_back_and_renders_the_same() {
    // The collector stores a sheet as its JSON and renders it again later (after sign-off).
    let s = sheet(Language::ZhCn);
    let back: Sheet = serde_json::from_str(&sheet_render::json(&s)).unwrap();
    assert_eq!(back, s);
    assert_eq!(sheet_render::html(&back), sheet_render::html(&s));
}

#[test]
fn a_signed_sheet_shows_the_reviewer() {
    let mut s = sheet(Language::En);
    let md = sheet_render::markdown(&s);
    assert!(md.contains("- Reviewer: ________"), "{md}");
    s.sign(
        "Zhang Wei",
        oct9("17:00"),
        Some("checked; /u01 being cleaned"),
    );
    let md = sheet_render::markdown(&s);
    assert!(md.contains("- Reviewer: Zhang Wei"), "{md}");
    assert!(md.contains("- Time: 9 Oct 2026 17:00"), "{md}");
    assert!(md.contains("- Note: checked; /u01 being cleaned"), "{md}");
}

fn xml_options<'a>() -> roxmltree::ParsingOptions<'a> {
    roxmltree::ParsingOptions {
        allow_dtd: true,
        ..roxmltree::ParsingOptions::default()
    }
}

#[test]
fn html_is_well_formed_self_contained_and_printable() {
    for lang in Language::ALL {
        let html = sheet_render::html(&sheet(lang));
        let doc = roxmltree::Document::parse_with_options(&html, xml_options())
            .unwrap_or_else(|e| panic!("not well-formed: {e}\n{html}"));
        let root = doc.root_element();
        assert_eq!(root.tag_name().name(), "html");
        assert_eq!(root.attribute("lang"), Some(lang.code()));
        // No script, no external resource: nothing to fetch on an isolated network.
        for n in doc.descendants().filter(|n| n.is_element()) {
            assert_ne!(n.tag_name().name(), "script");
            assert_ne!(n.tag_name().name(), "link");
            for a in n.attributes() {
                assert!(
                    !a.value().contains("://"),
                    "external URL in {}: {}",
                    n.tag_name().name(),
                    a.value()
                );
            }
        }
        let style = doc
            .descendants()
            .find(|n| n.has_tag_name("style"))
            .and_then(|n| n.text())
            .unwrap();
        assert!(style.contains("@media print"));
        // Abnormal rows are marked.
        let abnormal = doc
            .descendants()
            .filter(|n| n.has_tag_name("tr") && n.attribute("class") == Some("abnormal"))
            .count();
        assert_eq!(abnormal, 2);
    }
}
