//! `patrolctl incidents show ID`: the incident, what its host (and device) is, its deadlines
//! per clock and its journal, as text or as one JSON object `{"incident":…, "host_facts":{…},
//! "device_facts":{…}, "deadlines":[…], "journal":[…]}`.

use std::collections::BTreeMap;

use crate::clocks;
use crate::detail;
use crate::facts;
use crate::format::clean;
use crate::format::{Human, quoted};
use crate::json::{IncidentJson, detail as detail_json, non_empty, to_string};
use crate::table::{self, Cell};
use crate::time::{self, rfc3339};
use patrol_proto::v1;
use serde::Serialize;
use serde_json::Value;

/// The whole `show` output as text.
pub fn text(i: &v1::Incident, journal: &v1::JournalResponse, human: &Human, now_ms: i64) -> String {
    let mut out = human.details(i);
    out.push_str(&facts_text(i, human));
    out.push_str("\n\ndeadlines\n");
    let rows: Vec<Vec<Cell>> = clocks::clocks(i)
        .iter()
        .map(|c| {
            vec![
                Cell::new(c.name),
                Cell::new(time::local(c.due_ms, &human.tz)),
                Cell::new(clocks::describe(i, c, now_ms, &human.tz)),
            ]
        })
        .collect();
    if rows.is_empty() {
        out.push_str("(no clocks: the level has no targets)\n");
    } else {
        out.push_str(&table::render(human, &["CLOCK", "DUE", "STATUS"], &rows));
    }
    out.push_str("\njournal\n");
    if let Some(cut) = cut_note(journal) {
        out.push_str(&cut);
        out.push('\n');
    }
    let rows: Vec<Vec<Cell>> = journal
        .entries
        .iter()
        .map(|e| {
            vec![
                Cell::new(time::local(e.at_ms, &human.tz)),
                Cell::new(&e.actor),
                Cell::new(e.kind().label()),
                Cell::new(e.state().label()),
                Cell::new(entry_text(e, human)),
            ]
        })
        .collect();
    out.push_str(&table::render(
        human,
        &["TIME", "ACTOR", "KIND", "STATE", "DETAIL"],
        &rows,
    ));
    // The caller adds the final newline.
    out.trim_end().to_owned()
}

/// The key facts of the incident's host and device (model, serial, OS, addresses), so the
/// person on duty sees what the box is; one line when its agent has sent none.
fn facts_text(i: &v1::Incident, human: &Human) -> String {
    let mut out = format!("\n\nhost {}\n", clean(&i.host));
    match facts::table(human, &i.host_facts) {
        Some(t) => out.push_str(t.trim_end()),
        None => out.push_str("(no facts: its agent has sent none)"),
    }
    let device = i.label_set().get("device").map(clean);
    if let (Some(device), Some(t)) = (device, facts::table(human, &i.device_facts)) {
        out.push_str(&format!("\n\ndevice {device}\n"));
        out.push_str(t.trim_end());
    }
    out
}

/// Says so when the journal shown is not the whole journal.
fn cut_note(journal: &v1::JournalResponse) -> Option<String> {
    let shown = journal.entries.len() as u64;
    (journal.total > shown).then(|| {
        format!(
            "(the newest {shown} of {} entries; `--limit` shows more, up to 10000)",
            journal.total
        )
    })
}

/// The detail phrase and the note of a journal entry.
fn entry_text(e: &v1::JournalEntry, human: &Human) -> String {
    let phrase = detail::phrase(e.kind(), &e.detail, &human.tz);
    let note = quoted(&e.note);
    match (phrase.is_empty(), note.is_empty()) {
        (_, true) => phrase,
        (true, false) => note,
        (false, false) => format!("{phrase} {note}"),
    }
}

/// The `show --json` object.
#[derive(Debug, Serialize)]
struct ShowJson<'a> {
    incident: IncidentJson<'a>,
    /// Key facts of the host and of the device (docs/inventory.md); `{}` when none came.
    host_facts: &'a BTreeMap<String, String>,
    device_facts: &'a BTreeMap<String, String>,
    deadlines: Vec<DeadlineJson>,
    journal: Vec<JournalJson<'a>>,
    /// Entries the incident has in all (`journal` holds the newest of them).
    journal_total: u64,
}

/// One clock's deadline and standing.
#[derive(Debug, Serialize)]
struct DeadlineJson {
    clock: &'static str,
    due_at: Option<String>,
    due_ms: i64,
    met_at: Option<String>,
    /// met, met_late, missed, not_needed, running or overdue.
    status: &'static str,
    /// To the deadline while the clock runs; negative once overdue.
    left_ms: Option<i64>,
}

/// One journal entry.
#[derive(Debug, Serialize)]
struct JournalJson<'a> {
    event_id: u64,
    kind: &'static str,
    at: Option<String>,
    at_ms: i64,
    actor: &'a str,
    note: Option<&'a str>,
    state: &'static str,
    level: Option<&'a str>,
    detail: Option<Value>,
}

/// The whole `show` output as one line of JSON.
pub fn json(i: &v1::Incident, journal: &v1::JournalResponse, now_ms: i64) -> String {
    let deadlines = clocks::clocks(i)
        .iter()
        .map(|c| {
            let standing = clocks::standing(i, c, now_ms);
            DeadlineJson {
                clock: c.name,
                due_at: rfc3339(c.due_ms),
                due_ms: c.due_ms,
                met_at: c.met_ms.and_then(rfc3339),
                status: standing.as_str(),
                left_ms: standing.left_ms(),
            }
        })
        .collect();
    let journal_total = journal.total;
    let journal = journal
        .entries
        .iter()
        .map(|e| JournalJson {
            event_id: e.event_id,
            kind: e.kind().label(),
            at: rfc3339(e.at_ms),
            at_ms: e.at_ms,
            actor: &e.actor,
            note: non_empty(&e.note),
            state: e.state().label(),
            level: non_empty(&e.level),
            detail: detail_json(&e.detail),
        })
        .collect();
    to_string(&ShowJson {
        incident: IncidentJson::new(i),
        host_facts: &i.host_facts,
        device_facts: &i.device_facts,
        deadlines,
        journal,
        journal_total,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::tests::{OPENED, sample_incident};
    use jiff::tz::TimeZone;

    const MIN: i64 = 60_000;

    fn entry(
        id: u64,
        kind: v1::EventKind,
        at: i64,
        actor: &str,
        note: &str,
        detail: &str,
    ) -> v1::JournalEntry {
        v1::JournalEntry {
            event_id: id,
            kind: kind as i32,
            at_ms: at,
            actor: actor.to_owned(),
            note: note.to_owned(),
            state: v1::IncidentState::Assigned as i32,
            detail: detail.to_owned(),
            level: "P2".to_owned(),
        }
    }

    fn assigned() -> (v1::Incident, v1::JournalResponse) {
        let mut i = sample_incident();
        i.state = v1::IncidentState::Assigned as i32;
        i.acked_by = "ann".to_owned();
        i.acked_ms = OPENED + 4 * MIN;
        i.assignee = "bob".to_owned();
        i.respond_due_ms = OPENED + 10 * MIN;
        i.resolve_due_ms = OPENED + 240 * MIN;
        let journal = vec![
            entry(1, v1::EventKind::Opened, OPENED, "rule", "", ""),
            entry(
                2,
                v1::EventKind::Assigned,
                OPENED + 4 * MIN,
                "ann",
                "db team",
                r#"{"assignee":"bob"}"#,
            ),
        ];
        let total = journal.len() as u64;
        (
            i,
            v1::JournalResponse {
                entries: journal,
                total,
            },
        )
    }

    #[test]
    fn text_has_deadlines_and_journal() {
        let (i, journal) = assigned();
        let human = Human {
            tz: TimeZone::UTC,
            color: false,
        };
        let out = text(&i, &journal, &human, OPENED + 30 * MIN);
        let tail = out
            .split("\n\ndeadlines\n")
            .nth(1)
            .expect("deadlines section");
        assert_eq!(
            tail,
            "CLOCK    DUE                  STATUS\n\
             respond  2026-11-23 09:22:01  met at 2026-11-23 09:16:01\n\
             resolve  2026-11-23 13:12:01  3h30m left\n\
             \n\
             journal\n\
             TIME                 ACTOR  KIND      STATE     DETAIL\n\
             2026-11-23 09:12:01  rule   opened    assigned\n\
             2026-11-23 09:16:01  ann    assigned  assigned  to bob \"db team\""
        );
    }

    #[test]
    fn json_has_incident_deadlines_and_parsed_details() {
        let (i, journal) = assigned();
        let v: Value = serde_json::from_str(&json(&i, &journal, OPENED + 300 * MIN)).expect("JSON");
        assert_eq!(v["incident"]["assignee"], "bob");
        assert_eq!(v["deadlines"][0]["clock"], "respond");
        assert_eq!(v["deadlines"][0]["status"], "met");
        assert_eq!(v["deadlines"][0]["met_at"], "2026-11-23T09:16:01.123Z");
        assert_eq!(v["deadlines"][0]["left_ms"], Value::Null);
        assert_eq!(v["deadlines"][1]["status"], "overdue");
        assert_eq!(v["deadlines"][1]["left_ms"], -60 * MIN);
        assert_eq!(v["journal"][1]["kind"], "assigned");
        assert_eq!(v["journal"][1]["note"], "db team");
        assert_eq!(v["journal"][1]["detail"]["assignee"], "bob");
        assert_eq!(v["journal"][0]["detail"], Value::Null);
        assert_eq!(v["journal_total"], 2);
        assert_eq!(v["host_facts"], serde_json::json!({}));
    }

    #[test]
    fn the_host_and_device_facts_come_before_the_deadlines() {
        let (mut i, journal) = assigned();
        let human = Human {
            tz: TimeZone::UTC,
            color: false,
        };
        let none = text(&i, &journal, &human, OPENED);
        assert!(
            none.contains("\n\nhost db01\n(no facts: its agent has sent none)\n\ndeadlines\n"),
            "{none}"
        );
        i.labels.push(v1::Label {
            name: "device".to_owned(),
            value: "sw1".to_owned(),
        });
        i.host_facts = [
            ("hw.serial".to_owned(), "7XK2S53".to_owned()),
            ("ip[eth0]".to_owned(), "192.0.2.5/24".to_owned()),
        ]
        .into();
        i.device_facts = [(
            "chassis[3001].model".to_owned(),
            "WS-C3750-48PS-S".to_owned(),
        )]
        .into();
        let out = text(&i, &journal, &human, OPENED);
        assert!(
            out.contains(
                "\n\nhost db01\n\
                 FACT       VALUE\n\
                 hw.serial  7XK2S53\n\
                 ip[eth0]   192.0.2.5/24\n\
                 \n\
                 device sw1\n\
                 FACT                 VALUE\n\
                 chassis[3001].model  WS-C3750-48PS-S\n\
                 \n\
                 deadlines\n"
            ),
            "{out}"
        );
        let v: Value = serde_json::from_str(&json(&i, &journal, OPENED)).expect("JSON");
        assert_eq!(v["host_facts"]["hw.serial"], "7XK2S53");
        assert_eq!(v["device_facts"]["chassis[3001].model"], "WS-C3750-48PS-S");
    }

    #[test]
    fn a_cut_journal_says_so() {
        let (i, mut journal) = assigned();
        let human = Human {
            tz: TimeZone::UTC,
            color: false,
        };
        let whole = text(&i, &journal, &human, OPENED);
        assert!(!whole.contains("the newest"), "{whole}");
        journal.total = 1500;
        let cut = text(&i, &journal, &human, OPENED);
        assert!(
            cut.contains(
                "journal\n(the newest 2 of 1500 entries; `--limit` shows more, up to 10000)\nTIME"
            ),
            "{cut}"
        );
    }
}
