//! The recorded set the report tests compute their expected figures from by hand: a site with
//! a split-day office calendar (08:30–12:00 and 13:30–17:30, China Standard Time) and the 2026
//! National Day holiday with an adjusted working Saturday, a rule file, one day of samples of
//! two hosts and a UPS, and six incidents with their journals.
//!
//! Deadlines on the incidents are written as the store records them (the `*_due_ms` fields),
//! each worked out by hand in the comment beside it; `deadlines_agree_with_the_site_calendar`
//! checks the site's calendar arithmetic lands on the same instants.

#![allow(dead_code, clippy::unwrap_used)]

use patrol_incident::{EventKind, Handling, Incident, IncidentEvent, IncidentState};
use patrol_proto::Labels;
use patrol_proto::model::fingerprint;
use patrol_report::checks::Bad;
use patrol_report::sheet::Current;
use patrol_rules::{Levels, RuleSet, parse_rules};
use patrol_site::{Site, parse_site};

pub const MIN: i64 = 60_000;
pub const HOUR: i64 = 60 * MIN;

pub const SITE: &str = r#"
[calendar.office]
timezone = "Asia/Shanghai"
hours = ["mon-fri 08:30-12:00", "mon-fri 13:30-17:30"]
holidays = ["2026-10-01", "2026-10-02", "2026-10-05", "2026-10-06", "2026-10-07"]
working_days = ["2026-10-10"]

[[level]]
name = "P1"
calendar = "24x7"
respond = "10m"
fix_plan = "30m"
resolve = "4h"

[[level]]
name = "P2"
calendar = "office"
respond = "15m"
fix_plan = "1h"
resolve = "4h"

[[level]]
name = "P3"
calendar = "office"
respond = "30m"
resolve = "8h"

[[level]]
name = "P4"
calendar = "office"
respond = "1h"
resolve = "24h"

[report]
language = "zh-CN"
title = "HQ data centre"

[report.availability]
calendar = "office"
levels = ["P1", "P2"]
group_by = ["role"]

[[inspection]]
name = "daily"
calendar = "office"
at = ["09:00", "16:00"]
"#;

pub const RULES: &str = r#"
[[rule]]
name = "disk_full"
expr = 'disk_used_percent > 90'
severity = "P2"
summary = "Disk {{mount}} on {{host}} is {{value}}% full"
overrides = [{ match = '{mount="/backup"}', threshold = 95 }]

[[rule]]
name = "tablespace_high"
expr = 'oracle_tablespace_used_percent > 90'
severity = "P2"
summary = "Tablespace {{tablespace}} at {{value}}%"
overrides = [{ match = '{tablespace="UNDOTBS1"}', threshold = 97 }]

[[rule]]
name = "archive_log_high"
expr = 'oracle_archive_log_used_percent > 40'
severity = "P2"
summary = "Archive log at {{value}}%"

[[rule]]
name = "oracle_down"
expr = 'oracle_up == 0'
severity = "P1"
summary = "{{db}} is down"

[[rule]]
name = "hw_fan_failed"
expr = 'hw_fan_ok == 0'
severity = "P2"
summary = "Fan {{fan}} failed"

[[rule]]
name = "weblogic_log_high"
expr = 'weblogic_log_used_percent > 50'
severity = "P3"
summary = "WebLogic log at {{value}}%"

[[rule]]
name = "ping_loss_high"
expr = 'ping_loss_percent > 20'
for = "5m"
severity = "P2"
summary = "Loss to {{target}} at {{value}}%"

[[rule]]
name = "cpu_high"
expr = 'avg_over_time(cpu_usage_percent[10m]) > 90'
severity = "P3"
summary = "CPU at {{value}}%"

[[rule]]
name = "exec_critical"
expr = 'exec_state == 2'
severity = "P2"
summary = "{{check}} is critical"
"#;

/// An instant written with its offset, independent of the code under test.
pub fn at(rfc3339: &str) -> i64 {
    rfc3339.parse::<jiff::Timestamp>().unwrap().as_millisecond()
}

/// `2026-10-09 HH:MM` China Standard Time.
pub fn oct9(hm: &str) -> i64 {
    at(&format!("2026-10-09T{hm}:00+08:00"))
}

pub fn site() -> Site {
    parse_site("site.toml", SITE).unwrap()
}

pub fn rules() -> RuleSet {
    let levels = Levels::new(["P1", "P2", "P3", "P4"]).unwrap();
    RuleSet::from_rules(parse_rules("rules.toml", RULES, &levels).unwrap())
}

pub fn labels(pairs: &[(&str, &str)]) -> Labels {
    Labels::from_pairs(pairs.iter().copied())
}

pub fn db1(extra: &[(&str, &str)]) -> Labels {
    let mut l = labels(&[("host", "db1"), ("role", "db")]);
    for (k, v) in extra {
        l.insert(*k, *v);
    }
    l
}

pub fn app1(extra: &[(&str, &str)]) -> Labels {
    let mut l = labels(&[("host", "app1"), ("role", "app")]);
    for (k, v) in extra {
        l.insert(*k, *v);
    }
    l
}

/// One recorded sample.
pub struct Sample {
    pub metric: &'static str,
    pub labels: Labels,
    pub ts_ms: i64,
    pub value: f64,
}

fn s(metric: &'static str, labels: Labels, hm: &str, value: f64) -> Sample {
    Sample {
        metric,
        labels,
        ts_ms: oct9(hm),
        value,
    }
}

pub fn users() -> Labels {
    db1(&[
        ("db", "ORCL"),
        ("tablespace", "USERS"),
        ("contents", "permanent"),
    ])
}

pub fn u01() -> Labels {
    db1(&[("mount", "/u01")])
}

/// Friday 9 October 2026, 09:00 to 15:59, every series the two hosts report.
pub fn samples() -> Vec<Sample> {
    let undo = db1(&[
        ("db", "ORCL"),
        ("tablespace", "UNDOTBS1"),
        ("contents", "undo"),
    ]);
    let orcl = db1(&[("db", "ORCL")]);
    let wls = app1(&[("server", "AdminServer"), ("basis", "filesystem")]);
    let wls_server = app1(&[("server", "AdminServer")]);
    let gw = app1(&[("target", "10.0.0.1")]);
    let ups = app1(&[("device", "ups1")]);
    vec![
        s("cpu_usage_percent", db1(&[]), "09:00", 20.0),
        s("cpu_usage_percent", db1(&[]), "12:30", 78.4),
        s("cpu_usage_percent", db1(&[]), "15:59", 35.2),
        s("memory_used_percent", db1(&[]), "09:00", 70.0),
        s("memory_used_percent", db1(&[]), "15:59", 71.8),
        s("disk_used_percent", db1(&[("mount", "/")]), "09:00", 44.0),
        s("disk_used_percent", db1(&[("mount", "/")]), "15:59", 45.0),
        s("disk_used_percent", u01(), "09:00", 80.1),
        s("disk_used_percent", u01(), "15:40", 91.0),
        s("disk_used_percent", u01(), "15:59", 92.5),
        s(
            "disk_used_percent",
            db1(&[("mount", "/backup")]),
            "09:00",
            93.0,
        ),
        s(
            "disk_used_percent",
            db1(&[("mount", "/backup")]),
            "15:59",
            93.0,
        ),
        s("hw_fan_ok", db1(&[("fan", "nct6775/fan2")]), "09:00", 1.0),
        s("hw_fan_ok", db1(&[("fan", "nct6775/fan2")]), "15:59", 1.0),
        s("oracle_up", orcl.clone(), "09:00", 1.0),
        s("oracle_up", orcl.clone(), "15:59", 1.0),
        s("oracle_tablespace_used_percent", users(), "09:00", 85.0),
        s("oracle_tablespace_used_percent", users(), "11:20", 91.2),
        s("oracle_tablespace_used_percent", users(), "12:00", 87.5),
        s("oracle_tablespace_used_percent", users(), "15:59", 88.0),
        s(
            "oracle_tablespace_used_percent",
            undo.clone(),
            "09:00",
            95.5,
        ),
        s("oracle_tablespace_used_percent", undo, "15:59", 96.0),
        s(
            "oracle_archive_log_used_percent",
            orcl.clone(),
            "09:00",
            22.0,
        ),
        s(
            "oracle_archive_log_used_percent",
            orcl.clone(),
            "15:59",
            30.0,
        ),
        s(
            "oracle_alert_log_errors_total",
            db1(&[("db", "ORCL"), ("code", "ORA-00600")]),
            "09:00",
            3.0,
        ),
        s(
            "oracle_alert_log_errors_total",
            db1(&[("db", "ORCL"), ("code", "ORA-00600")]),
            "12:00",
            5.0,
        ),
        s(
            "oracle_alert_log_errors_total",
            db1(&[("db", "ORCL"), ("code", "ORA-00600")]),
            "15:59",
            5.0,
        ),
        s("weblogic_log_used_percent", wls.clone(), "09:00", 31.0),
        s("weblogic_log_used_percent", wls, "15:59", 35.0),
        s("weblogic_stuck_threads", wls_server.clone(), "09:00", 0.0),
        s("weblogic_stuck_threads", wls_server, "15:59", 0.0),
        s("ping_loss_percent", gw.clone(), "09:00", 0.0),
        s("ping_loss_percent", gw.clone(), "10:30", 40.0),
        s("ping_loss_percent", gw.clone(), "15:59", 0.0),
        s("ping_rtt_ms", gw.clone(), "09:00", 0.7),
        s("ping_rtt_ms", gw, "15:59", 0.8),
        s("ups_on_battery", ups.clone(), "09:00", 0.0),
        s("ups_on_battery", ups.clone(), "15:59", 0.0),
        s("ups_battery_remaining_percent", ups.clone(), "09:00", 100.0),
        s("ups_battery_remaining_percent", ups.clone(), "13:00", 96.0),
        s("ups_battery_remaining_percent", ups, "15:59", 100.0),
        s(
            "exec_state",
            app1(&[("check", "nightly_export")]),
            "09:00",
            0.0,
        ),
        s(
            "exec_state",
            app1(&[("check", "nightly_export")]),
            "15:59",
            0.0,
        ),
        // Not an inspection check and watched by no rule: not on the sheet.
        s("memory_total_bytes", app1(&[]), "15:59", 34_359_738_368.0),
    ]
}

/// The latest value of every series at or before `at_ms`.
pub fn current(samples: &[Sample], at_ms: i64) -> Vec<Current> {
    let mut out: Vec<Current> = Vec::new();
    for s in samples.iter().filter(|s| s.ts_ms <= at_ms) {
        match out
            .iter_mut()
            .find(|c| c.metric == s.metric && c.labels == s.labels)
        {
            Some(c) if c.ts_ms <= s.ts_ms => {
                c.value = s.value;
                c.ts_ms = s.ts_ms;
            }
            Some(_) => {}
            None => out.push(Current {
                metric: s.metric.to_owned(),
                labels: s.labels.clone(),
                value: s.value,
                ts_ms: s.ts_ms,
            }),
        }
    }
    out
}

/// What the collector answers from minute aggregates: the worst sample's value and its minute.
pub fn worst_of(
    samples: &[Sample],
) -> impl Fn(&str, &Labels, i64, i64, Bad) -> Option<(f64, i64)> + '_ {
    move |metric, labels, from, to, bad| {
        let mut best: Option<(f64, i64)> = None;
        for s in samples.iter().filter(|s| {
            s.metric == metric && &s.labels == labels && from <= s.ts_ms && s.ts_ms <= to
        }) {
            let worse = match (best, bad) {
                (None, _) => true,
                (Some((v, _)), Bad::High) => s.value > v,
                (Some((v, _)), Bad::Low) => s.value < v,
            };
            if worse {
                best = Some((s.value, s.ts_ms - s.ts_ms % MIN));
            }
        }
        best
    }
}

/// An incident with its deadlines as recorded.
pub struct Rec {
    pub id: u64,
    pub rule: &'static str,
    pub metric: &'static str,
    pub level: &'static str,
    pub labels: Labels,
    pub summary: &'static str,
    pub source: &'static str,
    pub opened: i64,
    pub respond_due: i64,
    pub fix_plan_due: Option<i64>,
    pub resolve_due: i64,
    pub acked: Option<(&'static str, i64)>,
    pub planned: Option<i64>,
    pub resolved: Option<(&'static str, i64, &'static str)>,
    pub assignee: Option<&'static str>,
}

impl Rec {
    pub fn incident(&self) -> Incident {
        let mut h = Handling::rule(self.opened);
        h.source = self.source.to_owned();
        h.respond_due_ms = Some(self.respond_due);
        h.fix_plan_due_ms = self.fix_plan_due;
        h.resolve_due_ms = Some(self.resolve_due);
        h.planned_ms = self.planned;
        h.assignee = self.assignee.map(str::to_owned);
        h.resolution = self.resolved.map(|(_, _, note)| note.to_owned());
        let state = match (self.resolved, self.acked, self.assignee) {
            (Some(_), _, _) => IncidentState::Resolved,
            (None, _, Some(_)) => IncidentState::Assigned,
            (None, Some(_), None) => IncidentState::Acknowledged,
            (None, None, None) => IncidentState::Open,
        };
        Incident {
            id: self.id,
            rule: self.rule.to_owned(),
            severity: self.level.to_owned(),
            state,
            host: self.labels.get("host").unwrap_or("").to_owned(),
            labels: self.labels.clone(),
            summary: self.summary.to_owned(),
            value: 0.0,
            fingerprint: fingerprint(self.metric, &self.labels),
            opened_ms: self.opened,
            updated_ms: self.resolved.map_or(self.opened, |(_, t, _)| t),
            acked_by: self.acked.map(|(who, _)| who.to_owned()),
            acked_ms: self.acked.map(|(_, t)| t),
            ack_note: None,
            resolved_ms: self.resolved.map(|(_, t, _)| t),
            resolved_by: self.resolved.map(|(who, _, _)| who.to_owned()),
            handling: h,
        }
    }
}

/// The six incidents. Business time is on the level's calendar: P1 on 24x7, the others on
/// the office calendar (08:30–12:00, 13:30–17:30 Mon–Fri; 1, 2, 5, 6, 7 October off; Saturday
/// 10 October worked).
pub fn records() -> Vec<Rec> {
    vec![
        // #1 P2 disk /u01, opened Wednesday 30 September 17:00 (30 min of office time left).
        // respond 15m → 17:15. fix plan 1h: 30 min that day, then 1–7 October are off, so
        // 30 min from Thursday 8 October 08:30 → 09:00. resolve 4h: 30 min + 3h30 (08:30–12:00)
        // → Thursday 8 October 12:00.
        Rec {
            id: 1,
            rule: "disk_full",
            metric: "disk_used_percent",
            level: "P2",
            labels: u01(),
            summary: "Disk /u01 on db1 is 91% full",
            source: "rule",
            opened: at("2026-09-30T17:00:00+08:00"),
            respond_due: at("2026-09-30T17:15:00+08:00"),
            fix_plan_due: Some(at("2026-10-08T09:00:00+08:00")),
            resolve_due: at("2026-10-08T12:00:00+08:00"),
            acked: Some(("Li Na", at("2026-09-30T17:10:00+08:00"))),
            planned: Some(at("2026-10-08T08:50:00+08:00")),
            resolved: Some((
                "Li Na",
                at("2026-10-08T11:00:00+08:00"),
                "moved archives to /backup",
            )),
            assignee: None,
        },
        // #2 P2 tablespace USERS, Friday 9 October 11:20. respond → 11:35. fix plan 1h: 40 min
        // to 12:00, 20 min from 13:30 → 13:50. resolve 4h: 40 min + 3h20 from 13:30 → 16:50.
        // Acknowledged 11:26 (6 min), resolved 11:58 (38 min) before any plan: the fix-plan
        // clock was not needed.
        Rec {
            id: 2,
            rule: "tablespace_high",
            metric: "oracle_tablespace_used_percent",
            level: "P2",
            labels: users(),
            summary: "Tablespace USERS at 91.2%",
            source: "rule",
            opened: oct9("11:20"),
            respond_due: oct9("11:35"),
            fix_plan_due: Some(oct9("13:50")),
            resolve_due: oct9("16:50"),
            acked: Some(("Li Na", oct9("11:26"))),
            planned: None,
            resolved: Some(("Li Na", oct9("11:58"), "added a datafile to USERS")),
            assignee: None,
        },
        // #6 P2 disk /u01 again, Friday 9 October 15:40. respond → 15:55 (acknowledged 16:05:
        // 10 min late, 25 min). fix plan → 16:40 (planned 16:30). resolve 4h: 1h50 to 17:30,
        // then Saturday 10 October is a working day: 2h10 from 08:30 → 10:40. Resolved
        // Saturday 09:00: 1h50 + 30 min = 2h20.
        Rec {
            id: 6,
            rule: "disk_full",
            metric: "disk_used_percent",
            level: "P2",
            labels: u01(),
            summary: "Disk /u01 on db1 is 91% full",
            source: "rule",
            opened: oct9("15:40"),
            respond_due: oct9("15:55"),
            fix_plan_due: Some(oct9("16:40")),
            resolve_due: at("2026-10-10T10:40:00+08:00"),
            acked: Some(("Wang Wei", oct9("16:05"))),
            planned: Some(oct9("16:30")),
            resolved: Some((
                "Wang Wei",
                at("2026-10-10T09:00:00+08:00"),
                "cleaned old exports",
            )),
            assignee: Some("Wang Wei"),
        },
        // #3 P1 ORCL down, Saturday 10 October 08:00, on 24x7. respond → 08:10 (acknowledged
        // 08:25: late, 25 min); fix plan → 08:30 (planned 08:40: late); resolve → 12:00
        // (resolved 11:00: met, 3 h).
        Rec {
            id: 3,
            rule: "oracle_down",
            metric: "oracle_up",
            level: "P1",
            labels: db1(&[("db", "ORCL")]),
            summary: "ORCL is down",
            source: "rule",
            opened: at("2026-10-10T08:00:00+08:00"),
            respond_due: at("2026-10-10T08:10:00+08:00"),
            fix_plan_due: Some(at("2026-10-10T08:30:00+08:00")),
            resolve_due: at("2026-10-10T12:00:00+08:00"),
            acked: Some(("Li Na", at("2026-10-10T08:25:00+08:00"))),
            planned: Some(at("2026-10-10T08:40:00+08:00")),
            resolved: Some((
                "Li Na",
                at("2026-10-10T11:00:00+08:00"),
                "restarted the listener; ORCL open again",
            )),
            assignee: None,
        },
        // #5 P2 reported by phone, Monday 12 October 10:00. respond → 10:15 (10:05: 5 min);
        // fix plan → 11:00 (10:30); resolve 4h: 2h to 12:00, 2h from 13:30 → 15:30 (resolved
        // 15:00: 2h + 1h30 = 3h30).
        Rec {
            id: 5,
            rule: "manual",
            metric: "manual",
            level: "P2",
            labels: app1(&[]),
            summary: "Users report slow logins on app1",
            source: "phone",
            opened: at("2026-10-12T10:00:00+08:00"),
            respond_due: at("2026-10-12T10:15:00+08:00"),
            fix_plan_due: Some(at("2026-10-12T11:00:00+08:00")),
            resolve_due: at("2026-10-12T15:30:00+08:00"),
            acked: Some(("Li Na", at("2026-10-12T10:05:00+08:00"))),
            planned: Some(at("2026-10-12T10:30:00+08:00")),
            resolved: Some((
                "Wang Wei",
                at("2026-10-12T15:00:00+08:00"),
                "connection pool enlarged",
            )),
            assignee: Some("Wang Wei"),
        },
        // #4 P3 WebLogic log, Tuesday 20 October 17:20. respond 30m: 10 min to 17:30, 20 min
        // Wednesday from 08:30 → 08:50 (acknowledged 08:40: met, 20 min). resolve 8h: 10 min,
        // 7h30 on Wednesday, 20 min on Thursday → Thursday 22 October 08:50 (resolved 09:30:
        // 40 min late; 10 min + 7h30 + 1h = 8h40).
        Rec {
            id: 4,
            rule: "weblogic_log_high",
            metric: "weblogic_log_used_percent",
            level: "P3",
            labels: app1(&[("server", "AdminServer"), ("basis", "filesystem")]),
            summary: "WebLogic log at 55%",
            source: "rule",
            opened: at("2026-10-20T17:20:00+08:00"),
            respond_due: at("2026-10-21T08:50:00+08:00"),
            fix_plan_due: None,
            resolve_due: at("2026-10-22T08:50:00+08:00"),
            acked: Some(("Zhao Lei", at("2026-10-21T08:40:00+08:00"))),
            planned: None,
            resolved: Some(("Zhao Lei", at("2026-10-22T09:30:00+08:00"), "rotated logs")),
            assignee: Some("Zhao Lei"),
        },
    ]
}

pub fn incidents() -> Vec<Incident> {
    records().iter().map(Rec::incident).collect()
}

/// The journal of incident #3 as the store writes it: kinds, actors and detail JSON.
pub fn journal_of_3() -> Vec<IncidentEvent> {
    let inc = records()
        .into_iter()
        .find(|r| r.id == 3)
        .unwrap()
        .incident();
    let t = |hm: &str| at(&format!("2026-10-10T{hm}:00+08:00"));
    let ev = |id: u64, kind, at_ms, actor: &str, note: Option<&str>, detail: Option<String>| {
        IncidentEvent {
            id,
            kind,
            at_ms,
            actor: actor.to_owned(),
            note: note.map(str::to_owned),
            detail,
            incident: inc.clone(),
        }
    };
    let deadlines = format!(
        r#"{{"level":"P1","clock_start_ms":{},"respond":{{"due_ms":{},"met_ms":{},"met":false}},"fix_plan":{{"due_ms":{},"met_ms":{},"met":false}},"resolve":{{"due_ms":{},"met_ms":{},"met":true}}}}"#,
        t("08:00"),
        t("08:10"),
        t("08:25"),
        t("08:30"),
        t("08:40"),
        t("12:00"),
        t("11:00")
    );
    vec![
        ev(101, EventKind::Opened, t("08:00"), "rule", None, None),
        ev(
            102,
            EventKind::Notified,
            t("08:01"),
            "channel:sms",
            None,
            Some(r#"{"channel":"sms","route":"nights","event_id":101,"outcome":"sent","attempts":2,"error":null}"#.to_owned()),
        ),
        ev(
            103,
            EventKind::Notified,
            t("08:02"),
            "channel:email",
            None,
            Some(r#"{"channel":"email","route":"office-hours","event_id":101,"outcome":"dead","attempts":5,"error":"550 mailbox unavailable"}"#.to_owned()),
        ),
        ev(
            104,
            EventKind::Breached,
            t("08:10"),
            "escalation",
            None,
            Some(format!(r#"{{"clock":"respond","due_ms":{}}}"#, t("08:10"))),
        ),
        ev(
            105,
            EventKind::Escalated,
            t("08:10"),
            "escalation",
            None,
            Some(r#"{"policy":"major","step":"not_acknowledged","when":"unacknowledged","occurrence":0,"notify":["duty_manager"],"targets":[{"name":"duty_manager","members":["Zhang Wei"],"channels":["sms"]}]}"#.to_owned()),
        ),
        ev(106, EventKind::Acknowledged, t("08:25"), "Li Na", Some("on it"), None),
        ev(
            107,
            EventKind::Breached,
            t("08:30"),
            "escalation",
            None,
            Some(format!(r#"{{"clock":"fix_plan","due_ms":{}}}"#, t("08:30"))),
        ),
        ev(
            108,
            EventKind::Planned,
            t("08:40"),
            "Li Na",
            Some("restart the listener, fail over if it does not come back"),
            None,
        ),
        ev(
            109,
            EventKind::Resolved,
            t("11:00"),
            "Li Na",
            Some("restarted the listener; ORCL open again"),
            Some(deadlines),
        ),
    ]
}
