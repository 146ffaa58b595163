//! The inspection round's records with the real collector binary: a site whose `[[inspection]]`
//! falls a few seconds after the start (the collector's report clock is shifted by the test,
//! see `PATROL_REPORTS_TEST_CLOCK_OFFSET_MS`), a scripted agent sending samples over the wire,
//! two incidents (one acknowledged, one opened and resolved by the rule); then:
//!
//! - the sheet appears on schedule with the values, the worst values from the history, the
//!   thresholds, the incidents in its remarks, and is e-mailed with the page attached
//!   (aiosmtpd);
//! - `patrolctl report sign` journals the sign-off, once;
//! - a restart after a missed inspection time catches that one up from the history, and
//!   another restart makes no second sheet for any time;
//! - `patrolctl report sla` agrees with `patrolctl incidents show --json` on every deadline;
//! - the pages on the HTTP port, and refusals with their reasons.

#[path = "../../notify/tests/notify_support/mod.rs"]
mod notify_support;
mod support;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;
use support::procs::{Proc, binary, eventually, free_port, http_get, patrolctl_json, run};
use support::wire::{ScriptedAgent, def, hello, point};

const MINUTE: i64 = 60_000;
/// How long after the collector starts its first inspection falls: room to start, take the
/// samples, open the incidents and acknowledge one on a loaded machine.
const LEAD_MS: i64 = 20_000;

const RULES: &str = r#"
[[rule]]
name = "report_disk_full"
expr = 'disk_used_percent > 90'
severity = "P2"
summary = "Disk {{mount}} on {{host}} at {{value}}%"

[[rule]]
name = "report_cpu_busy"
expr = 'cpu_usage_percent > 70'
severity = "P3"
summary = "CPU busy on {{host}}"
"#;

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

fn hhmm(ms: i64) -> String {
    let t = jiff::Timestamp::from_millisecond(ms).expect("time");
    t.strftime("%H:%M").to_string()
}

fn rfc3339(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .expect("time")
        .to_string()
}

fn ms_of(v: &Value) -> i64 {
    v.as_str()
        .and_then(|s| s.parse::<jiff::Timestamp>().ok())
        .map(|t| t.as_millisecond())
        .unwrap_or_else(|| panic!("not an RFC 3339 time: {v}"))
}

/// The site: levels P1–P3 on the 7×24 calendar (P2 responds in 10 minutes, P3 in 2 seconds),
/// an e-mail channel to `smtp`, and the daily inspection at `times` (UTC).
fn site(times: &[i64], smtp: u16) -> String {
    // In the order of the day (the two may straddle midnight).
    let mut at: Vec<String> = times.iter().map(|t| format!("\"{}\"", hhmm(*t))).collect();
    at.sort();
    format!(
        r#"
[notify]
site = "lab"

[report]
title = "Lab data centre"

[[level]]
name = "P1"
meaning = "outage"
respond = "10m"
resolve = "4h"

[[level]]
name = "P2"
meaning = "severe"
respond = "10m"
resolve = "1h"

[[level]]
name = "P3"
meaning = "warning"
respond = "2s"
resolve = "1h"

[channel.mail]
kind = "email"
host = "127.0.0.1"
port = {smtp}
from = "Patrol <patrol@lab.test>"
to = ["noc@lab.test"]

[[inspection]]
name = "daily"
at = [{}]
send = ["mail"]
"#,
        at.join(", ")
    )
}

/// Starts the collector on gRPC `port` with its report clock shifted by `offset_ms`; its HTTP
/// address once it listens.
fn collector(dir: &Path, port: u16, offset_ms: i64) -> (Proc, String) {
    let s = |p: std::path::PathBuf| p.to_str().expect("utf-8 path").to_owned();
    let mut cmd = Command::new(binary("patrol-collector"));
    cmd.args([
        "--listen",
        &format!("127.0.0.1:{port}"),
        "--http",
        "127.0.0.1:0",
        "--rules",
        &s(dir.join("rules")),
        "--data",
        &s(dir.join("data")),
        "--site",
        &s(dir.join("site.toml")),
    ])
    .env("PATROL_REPORTS_TEST_CLOCK_OFFSET_MS", offset_ms.to_string());
    let p = Proc::spawn_command("patrol-collector", cmd);
    let http = p.wait_line(Duration::from_secs(60), |l| {
        l.strip_prefix("patrol-collector listening ")?
            .split_whitespace()
            .find_map(|part| part.strip_prefix("http="))
            .map(str::to_owned)
    });
    (p, http)
}

/// The value of the gauge of schedule `daily`'s next inspection on `/metrics`, once the
/// scheduler has looked (it publishes it after making what was due).
fn next_inspection(http: &str) -> Option<f64> {
    let (_, body) = http_get(http, "/metrics");
    body.lines().find_map(|l| {
        l.strip_prefix("patrol_report_next_inspection_timestamp_seconds{schedule=\"daily\"} ")?
            .trim()
            .parse()
            .ok()
    })
}

fn metric_line(http: &str, prefix: &str) -> Option<f64> {
    let (_, body) = http_get(http, "/metrics");
    body.lines()
        .find_map(|l| l.strip_prefix(prefix)?.trim().parse().ok())
}

fn list(url: &str) -> Vec<Value> {
    patrolctl_json(url, &["report", "list", "--json"])
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// The row of `metric` whose labels include `label`=`value`.
fn row<'a>(sheet: &'a Value, metric: &str, label: (&str, &str)) -> &'a Value {
    sheet["groups"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|g| g["rows"].as_array().into_iter().flatten())
        .find(|r| r["metric"] == metric && r["labels"][label.0] == label.1)
        .unwrap_or_else(|| panic!("no {metric} row with {label:?} in {sheet:#}"))
}

/// Mails aiosmtpd stored in `maildir`/new.
fn mails(maildir: &Path) -> Vec<String> {
    std::fs::read_dir(maildir.join("new"))
        .map(|entries| {
            entries
                .filter_map(|e| std::fs::read_to_string(e.ok()?.path()).ok())
                .collect()
        })
        .unwrap_or_default()
}

/// (met, late, running, not needed) of one clock in the SLA report's JSON.
fn sla_clock(c: &Value) -> (u64, u64, u64, u64) {
    let n = |k: &str| c[k].as_u64().unwrap_or_else(|| panic!("{k} in {c}"));
    (n("met"), n("late"), n("running"), n("not_needed"))
}

/// The same counts from `incidents show --json`'s deadline statuses.
fn shown_clock(shown: &[Value], clock: &str) -> (u64, u64, u64, u64) {
    let mut out = (0, 0, 0, 0);
    for s in shown {
        for d in s["deadlines"].as_array().into_iter().flatten() {
            if d["clock"] != clock {
                continue;
            }
            match d["status"].as_str() {
                Some("met") => out.0 += 1,
                Some("met_late" | "missed" | "overdue") => out.1 += 1,
                Some("running") => out.2 += 1,
                Some("not_needed") => out.3 += 1,
                other => panic!("unknown status {other:?} in {d}"),
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sheet_is_made_on_schedule_signed_caught_up_once_and_the_sla_agrees_with_the_incidents()
{
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(dir.path().join("rules")).expect("rules dir");
    std::fs::write(dir.path().join("rules/report.toml"), RULES).expect("rules");
    let maildir = dir.path().join("mail");
    let smtp = notify_support::free_port();
    let _smtp = notify_support::aiosmtpd(&maildir, smtp, notify_support::SmtpTls::None);

    // The first inspection on a whole minute: the report clock is shifted so that it falls
    // LEAD_MS after the start; the second a minute later (caught up after a restart).
    let t0 = now_ms();
    let first = (t0 + LEAD_MS) / MINUTE * MINUTE + MINUTE;
    let second = first + MINUTE;
    let offset = first - LEAD_MS - t0;
    assert!((0..MINUTE + 1).contains(&offset));
    std::fs::write(dir.path().join("site.toml"), site(&[first, second], smtp)).expect("site");
    let port = free_port();
    let grpc = format!("127.0.0.1:{port}");
    let url = format!("http://{grpc}");
    let (mut collector1, http) = collector(dir.path(), port, offset);

    // Samples over the wire: /u01 peaks at 97 a minute ago (P2 opens) and stays over 90; /
    // stays low; the CPU is busy a minute ago (P3 opens) and calm once P3's 2 s to respond
    // have passed unanswered (the rule resolves it: respond missed, resolved in time).
    let mut agent = ScriptedAgent::connect(&grpc, hello("rep", 1))
        .await
        .expect("welcome");
    let (a, b) = (t0 - 120_000, t0 - 60_000);
    agent
        .send(
            1,
            vec![
                def(0, "disk_used_percent", &[("mount", "/u01")]),
                def(1, "disk_used_percent", &[("mount", "/")]),
                def(2, "cpu_usage_percent", &[]),
            ],
            vec![
                point(0, 50.0, a),
                point(1, 40.0, a),
                point(2, 10.0, a),
                point(0, 97.0, b),
                point(1, 45.0, b),
                point(2, 80.0, b),
            ],
        )
        .await;
    // Acknowledged once what it changed is durable: the incidents are there.
    assert_eq!(
        agent.next_ack(Duration::from_secs(20)).await.expect("ack"),
        1
    );
    let incidents = patrolctl_json(&url, &["incidents", "list", "--json"]);
    let id_of = |rule: &str| {
        incidents
            .as_array()
            .into_iter()
            .flatten()
            .find(|i| i["rule"] == rule)
            .and_then(|i| i["id"].as_u64())
            .unwrap_or_else(|| panic!("no incident of {rule}: {incidents:#}"))
    };
    let (disk, cpu) = (id_of("report_disk_full"), id_of("report_cpu_busy"));
    let (code, _, err) = run(
        "patrolctl",
        &[
            "--collector",
            &url,
            "incidents",
            "ack",
            &disk.to_string(),
            "--by",
            "Li Na",
            "--note",
            "adding space",
        ],
    );
    assert_eq!(code, 0, "ack: {err}");
    let respond_of = |id: u64| {
        let shown = patrolctl_json(&url, &["incidents", "show", &id.to_string(), "--json"]);
        shown["deadlines"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|d| d["clock"] == "respond")
            .and_then(|d| d["status"].as_str().map(str::to_owned))
    };
    assert!(
        eventually(Duration::from_secs(15), || respond_of(cpu).as_deref()
            == Some("overdue")),
        "P3's respond deadline did not pass: {:?}",
        respond_of(cpu)
    );
    let c = now_ms();
    agent
        .send(
            2,
            vec![],
            vec![point(0, 93.0, c), point(1, 42.0, c), point(2, 20.0, c)],
        )
        .await;
    assert_eq!(
        agent.next_ack(Duration::from_secs(20)).await.expect("ack"),
        2
    );
    assert!(
        list(&url).is_empty(),
        "the sheet was made before the incident was acknowledged: the machine is slower than LEAD_MS allows"
    );

    // The sheet appears at its time, and goes out by e-mail.
    assert!(
        eventually(Duration::from_secs(60), || !list(&url).is_empty()),
        "no sheet within a minute of its time"
    );
    assert!(
        eventually(Duration::from_secs(30), || metric_line(
            &http,
            "patrol_report_sends_total{channel=\"mail\",outcome=\"sent\"} "
        ) == Some(1.0)),
        "the sheet was not mailed"
    );
    // Crash before the second inspection time, and start again with the report clock past
    // it: that time is caught up, its values from the history (the agent is gone).
    let before = list(&url);
    assert_eq!(
        before.len(),
        1,
        "the second time came before the crash: the machine is too slow"
    );
    drop(agent);
    collector1.kill();
    let offset2 = offset + 130_000;
    let (mut collector2, http) = collector(dir.path(), port, offset2);
    assert!(
        eventually(Duration::from_secs(30), || list(&url).len() == 2),
        "the missed inspection was not caught up: {:#?}",
        list(&url)
    );
    let listed = list(&url);
    let caught = &listed[0];
    assert_eq!(caught["at_ms"], second);
    assert_eq!(caught["caught_up"], true);
    let sheet2 = patrolctl_json(
        &url,
        &[
            "report",
            "inspection",
            "--id",
            &caught["id"].to_string(),
            "--format",
            "json",
        ],
    );
    assert_eq!(
        row(&sheet2, "disk_used_percent", ("mount", "/u01"))["value"],
        93.0,
        "the value at that time, from the history"
    );
    assert_eq!(
        next_inspection(&http),
        Some((first + 86_400_000) as f64 / 1000.0),
        "the scheduler looked"
    );
    assert!(
        eventually(Duration::from_secs(30), || mails(&maildir).len() == 2),
        "the caught-up sheet was not mailed"
    );

    // The first sheet.
    let made = &listed[1];
    let id = made["id"].as_u64().expect("id");
    assert_eq!(made["at_ms"], first);
    assert_eq!(made["caught_up"], false);
    let sheet = patrolctl_json(
        &url,
        &[
            "report",
            "inspection",
            "--id",
            &id.to_string(),
            "--format",
            "json",
        ],
    );
    assert_eq!(sheet["schedule"], "daily");
    assert_eq!(sheet["at_ms"], first);
    assert_eq!(
        sheet["previous_ms"],
        second - 86_400_000,
        "the previous inspection, the day before"
    );
    assert_eq!(sheet["title"], "Lab data centre");

    let u01 = row(&sheet, "disk_used_percent", ("mount", "/u01"));
    assert_eq!(u01["labels"]["host"], "rep-host");
    assert_eq!(u01["value"], 93.0, "the value at inspection time");
    assert_eq!(
        u01["worst"]["value"], 97.0,
        "the worst since the previous inspection, from the history"
    );
    assert_eq!(u01["worst"]["at_ms"], b / MINUTE * MINUTE, "and its minute");
    assert_eq!(u01["watches"][0]["rule"], "report_disk_full");
    assert_eq!(u01["watches"][0]["op"], ">");
    assert_eq!(u01["watches"][0]["threshold"], 90.0);
    assert_eq!(u01["status"], "abnormal");
    let remark = &u01["remarks"][0];
    assert_eq!(remark["incident"], disk);
    assert_eq!(remark["level"], "P2");
    assert_eq!(remark["acked_by"], "Li Na");
    assert_eq!(remark["state"], "acknowledged");

    let root = row(&sheet, "disk_used_percent", ("mount", "/"));
    assert_eq!(
        (root["value"].clone(), root["worst"]["value"].clone()),
        (42.0.into(), 45.0.into())
    );
    assert_eq!(root["status"], "normal");
    assert!(root["remarks"].as_array().is_some_and(Vec::is_empty));

    let busy = row(&sheet, "cpu_usage_percent", ("host", "rep-host"));
    assert_eq!(busy["value"], 20.0);
    assert_eq!(busy["worst"]["value"], 80.0);
    assert_eq!(
        busy["status"], "abnormal",
        "an incident of the period is about it"
    );
    assert_eq!(busy["remarks"][0]["incident"], cpu);
    assert_eq!(busy["remarks"][0]["state"], "resolved");
    assert_eq!(sheet["summary"]["open_incidents"], 1);
    assert_eq!(sheet["summary"]["period_incidents"], 2);
    assert_eq!(sheet["summary"]["abnormal_checks"], 2);

    // The same sheet as Markdown, in Chinese on request, and as a page on the HTTP port.
    let date = made["date"].as_str().expect("date").to_owned();
    let (code, md, err) = run(
        "patrolctl",
        &[
            "--collector",
            &url,
            "report",
            "inspection",
            "--id",
            &id.to_string(),
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert!(md.starts_with("# Inspection sheet"), "{md}");
    // A date names its newest sheet (here the caught-up one, unless midnight fell between).
    let newest_of_date = listed
        .iter()
        .find(|s| s["date"] == date)
        .and_then(|s| s["id"].as_u64())
        .expect("a sheet of that date");
    let by_date = run(
        "patrolctl",
        &["--collector", &url, "report", "inspection", "--date", &date],
    );
    let by_id = run(
        "patrolctl",
        &[
            "--collector",
            &url,
            "report",
            "inspection",
            "--id",
            &newest_of_date.to_string(),
        ],
    );
    assert_eq!(by_date, by_id);
    assert!(
        md.contains("| rep-host /u01 | Disk usage | 93% | 97% ("),
        "{md}"
    );
    let (code, zh, err) = run(
        "patrolctl",
        &[
            "--collector",
            &url,
            "report",
            "inspection",
            "--id",
            &id.to_string(),
            "--lang",
            "zh-CN",
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert!(zh.starts_with("# 巡检记录表"), "{zh}");
    let (status, page) = http_get(&http, &format!("/reports/sheets/{id}"));
    assert_eq!(status, 200, "{page}");
    assert!(
        page.starts_with("<!DOCTYPE html>") && page.contains("Li Na"),
        "{page}"
    );
    let (status, index) = http_get(&http, "/reports/");
    assert_eq!(status, 200);
    assert!(
        index.contains(&format!("href=\"/reports/sheets/{id}\"")),
        "{index}"
    );
    assert_eq!(http_get(&http, "/reports/sheets/999").0, 404);
    assert_eq!(http_get(&http, "/reports/sheets?date=yesterday").0, 400);

    // Both went out by e-mail, each once, with the page attached.
    let got = mails(&maildir);
    assert_eq!(got.len(), 2, "{got:#?}");
    let mail = got
        .iter()
        .find(|m| m.contains(&format!("patrolctl report sign {id} ")))
        .unwrap_or_else(|| panic!("no mail of sheet {id}: {got:#?}"));
    // The subject is RFC 2047-encoded (it has a dash that is not ASCII); the text is plain.
    assert!(mail.contains("Subject: "), "{mail}");
    assert!(mail.contains(&format!("Inspection sheet #{id}")), "{mail}");
    assert!(mail.contains("Site: Lab data centre"), "{mail}");
    assert!(mail.contains("Abnormal checks: 2"), "{mail}");
    assert!(mail.contains("multipart/mixed"), "{mail}");
    let stamp = jiff::Timestamp::from_millisecond(first)
        .expect("time")
        .strftime("%Y-%m-%d-%H%M")
        .to_string();
    assert!(
        mail.contains(&format!("inspection-{stamp}-daily.html")),
        "{mail}"
    );

    // Signed off once, journaled: the sheet shows it; a second sign-off is refused.
    let signed = patrolctl_json(
        &url,
        &[
            "report",
            "sign",
            &id.to_string(),
            "--by",
            "Wang Wei",
            "--note",
            "checked",
            "--json",
        ],
    );
    assert_eq!(signed["signed_by"], "Wang Wei");
    assert_eq!(signed["sign_note"], "checked");
    let again = patrolctl_json(
        &url,
        &[
            "report",
            "inspection",
            "--id",
            &id.to_string(),
            "--format",
            "json",
        ],
    );
    assert_eq!(again["sign_off"]["reviewer"], "Wang Wei");
    assert_eq!(again["sign_off"]["note"], "checked");
    let (code, _, err) = run(
        "patrolctl",
        &[
            "--collector",
            &url,
            "report",
            "sign",
            &id.to_string(),
            "--by",
            "Zhao Lei",
        ],
    );
    assert_eq!(code, 1);
    assert!(err.contains("was signed off by Wang Wei"), "{err}");

    // The SLA report agrees with the incidents' own deadline records.
    let from = rfc3339(t0 - 600_000);
    let to = rfc3339(t0 + 3_600_000);
    let sla = patrolctl_json(
        &url,
        &[
            "report", "sla", "--from", &from, "--to", &to, "--format", "json",
        ],
    );
    let show = |id: u64| patrolctl_json(&url, &["incidents", "show", &id.to_string(), "--json"]);
    for (level, id) in [("P2", disk), ("P3", cpu)] {
        let shown = [show(id)];
        let l = sla["levels"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|l| l["level"] == level)
            .unwrap_or_else(|| panic!("{level} in {sla:#}"));
        assert_eq!(l["incidents"], 1, "{level}");
        for clock in ["respond", "fix_plan", "resolve"] {
            assert_eq!(
                sla_clock(&l[clock]),
                shown_clock(&shown, clock),
                "{level} {clock}: the SLA report and `incidents show` differ"
            );
        }
        let inc = &shown[0]["incident"];
        let start = ms_of(&inc["clock_start_at"]);
        if !inc["acked_at"].is_null() {
            assert_eq!(
                l["respond_time"]["mean_ms"],
                ms_of(&inc["acked_at"]) - start,
                "{level}"
            );
        }
        if !inc["resolved_at"].is_null() {
            assert_eq!(
                l["resolve_time"]["mean_ms"],
                ms_of(&inc["resolved_at"]) - start,
                "{level}"
            );
        }
    }
    // The cases are not all alike: P2 responded in time, P3 never did and was resolved.
    assert_eq!(
        shown_clock(&[show(cpu)], "respond"),
        (0, 1, 0, 0),
        "P3's respond clock was missed"
    );
    assert_eq!(shown_clock(&[show(cpu)], "resolve"), (1, 0, 0, 0));
    assert_eq!(shown_clock(&[show(disk)], "respond"), (1, 0, 0, 0));
    assert_eq!(shown_clock(&[show(disk)], "resolve"), (0, 0, 1, 0));

    // Other records and refusals.
    let (code, monthly, err) = run(
        "patrolctl",
        &[
            "--collector",
            &url,
            "report",
            "monthly",
            "--month",
            &date[..7],
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        monthly.contains("Monthly inspection summary") && monthly.contains("Signed off: 1"),
        "{monthly}"
    );
    let (code, fault, err) = run(
        "patrolctl",
        &["--collector", &url, "report", "fault", &disk.to_string()],
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        fault.starts_with(&format!("# Fault report #{disk}")),
        "{fault}"
    );
    let (code, _, err) = run(
        "patrolctl",
        &["--collector", &url, "report", "fault", &cpu.to_string()],
    );
    assert_eq!(code, 1);
    assert!(err.contains("two most severe levels (P1, P2)"), "{err}");
    let (code, _, err) = run(
        "patrolctl",
        &[
            "--collector",
            &url,
            "report",
            "sla",
            "--from",
            "2020-01-01",
            "--to",
            "2026-01-01",
        ],
    );
    assert_eq!(code, 1);
    assert!(err.contains("a report covers at most 400 days"), "{err}");
    assert_eq!(http_get(&http, &format!("/reports/fault/{cpu}")).0, 409);
    let query = format!("/reports/sla?from={from}&to={to}").replace('+', "%2B");
    let (status, sla_page) = http_get(&http, &query);
    assert_eq!(status, 200, "{sla_page}");
    assert!(sla_page.contains("SLA report"), "{sla_page}");
    let now_sheet = patrolctl_json(&url, &["report", "inspection", "--now", "--format", "json"]);
    assert_eq!(now_sheet["schedule"], "manual");
    assert_eq!(list(&url).len(), 2, "a sheet made with --now is not stored");

    // Once more: nothing is due, nothing is made twice, nothing is mailed twice.
    collector2.kill();
    let (_collector3, http3) = collector(dir.path(), port, offset2);
    assert!(
        eventually(Duration::from_secs(30), || next_inspection(&http3)
            .is_some()),
        "the scheduler did not look"
    );
    let kept = list(&url);
    assert_eq!(kept.len(), 2, "{kept:#?}");
    assert_eq!(
        kept[1]["signed_by"], "Wang Wei",
        "the sign-off survives restarts"
    );
    assert_eq!(
        metric_line(&http3, "patrol_report_sheets_total{when=\"on_time\"} "),
        Some(0.0)
    );
    assert_eq!(
        metric_line(&http3, "patrol_report_sheets_total{when=\"caught_up\"} "),
        Some(0.0)
    );
    assert_eq!(mails(&maildir).len(), 2);
}
