//! Human-readable text for incidents and incident events: one aligned line per event, and the
//! multi-line detail view of `incidents show`. Colour and time zone are parameters.

use crate::{detail, time};
use jiff::tz::TimeZone;
use patrol_proto::v1::{self, EventKind, IncidentState};
use std::fmt::Write as _;

const RESET: &str = "\x1b[0m";
const BOLD_RED: &str = "\x1b[1;31m";
const RED: &str = "\x1b[31m";
const YELLOW: &str = "\x1b[33m";
const CYAN: &str = "\x1b[36m";
const GREEN: &str = "\x1b[32m";

// Minimum column widths; longer values push the line rather than being cut, because a
// truncated host or rule name is worse than a ragged line.
const SEVERITY_W: usize = 4;
const TAG_W: usize = 10;
const HOST_W: usize = 12;
const RULE_W: usize = 20;

/// How text output looks: the zone times are shown in and whether ANSI colours are used.
#[derive(Debug, Clone)]
pub struct Human {
    pub tz: TimeZone,
    pub color: bool,
}

impl Human {
    /// One line for an event of the incident stream.
    pub fn event_line(&self, e: &v1::IncidentEvent) -> String {
        let kind = e.kind();
        match (&e.incident, kind) {
            (Some(i), _) => {
                let line = self.incident_line(e.at_ms, &event_tag(kind, i.state()), i);
                match self.change_text(e, i) {
                    text if text.is_empty() => line,
                    text => format!("{line}  — {text}"),
                }
            }
            (None, EventKind::Resync) => format!(
                "{}  {}  {}  (fell behind and missed events; a fresh snapshot follows)",
                time::local(e.at_ms, &self.tz),
                pad("", SEVERITY_W),
                pad("RESYNC", TAG_W),
            ),
            (None, _) => format!(
                "{}  {}  {}  (event #{} without an incident)",
                time::local(e.at_ms, &self.tz),
                pad("", SEVERITY_W),
                pad(&kind.label().to_ascii_uppercase(), TAG_W),
                e.event_id,
            ),
        }
    }

    /// What an event changed, for the end of its line: the detail as a phrase, the note, and
    /// who did it when that was a person (`to bob "vendor ticket 42" (by ann)`).
    fn change_text(&self, e: &v1::IncidentEvent, i: &v1::Incident) -> String {
        let kind = e.kind();
        let mut parts = Vec::new();
        if kind == EventKind::Flapping {
            parts.push(if i.flapping { "started" } else { "stopped" }.to_owned());
        }
        parts.push(detail::phrase(kind, &e.detail, &self.tz));
        parts.push(quoted(&e.note));
        if !matches!(e.actor.as_str(), "" | SYSTEM_RULE | SYSTEM_ESCALATION)
            && !e.actor.starts_with(SYSTEM_CHANNEL)
        {
            parts.push(format!("(by {})", clean(&e.actor)));
        }
        parts.retain(|p| !p.is_empty());
        parts.join(" ")
    }

    /// One line for an incident at `at_ms`, tagged with what happened (`OPENED`, `ACKED`, ...).
    pub fn incident_line(&self, at_ms: i64, tag: &str, i: &v1::Incident) -> String {
        format!(
            "{}  {}  {}  {}  {}  #{}  {}",
            time::local(at_ms, &self.tz),
            self.paint(
                &pad(&clean(&i.severity), SEVERITY_W),
                severity_color(&i.severity)
            ),
            self.paint(&pad(tag, TAG_W), (tag == "RESOLVED").then_some(GREEN)),
            pad(&clean(&i.host), HOST_W),
            pad(&clean(&i.rule), RULE_W),
            i.id,
            clean(&i.summary),
        )
    }

    /// The line printed after `ack` or `resolve`: the incident tagged with its new state.
    pub fn changed_line(&self, i: &v1::Incident) -> String {
        self.incident_line(i.updated_ms, state_tag(i.state()), i)
    }

    /// Every field of an incident, one `name: value` per line.
    pub fn details(&self, i: &v1::Incident) -> String {
        let t = |ms| time::local(ms, &self.tz);
        let or_dash = |s: &str| {
            if s.is_empty() {
                "-".to_owned()
            } else {
                clean(s)
            }
        };
        let labels = i
            .label_set()
            .iter()
            .map(|(k, v)| format!("{}={}", clean(k), clean(v)))
            .collect::<Vec<_>>()
            .join(", ");
        let severity = self.paint(&clean(&i.severity), severity_color(&i.severity));
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = writeln!(out, "incident     #{}", i.id);
        let _ = writeln!(out, "state        {}", i.state().label());
        let _ = writeln!(out, "severity     {severity}");
        let _ = writeln!(out, "rule         {}", or_dash(&i.rule));
        let _ = writeln!(out, "host         {}", or_dash(&i.host));
        let _ = writeln!(out, "labels       {}", or_dash(&labels));
        let _ = writeln!(out, "summary      {}", or_dash(&i.summary));
        let _ = writeln!(out, "value        {}", i.value);
        let _ = writeln!(out, "fingerprint  {}", or_dash(&i.fingerprint));
        let _ = writeln!(out, "opened       {}", t(i.opened_ms));
        let _ = writeln!(out, "updated      {}", t(i.updated_ms));
        let _ = writeln!(out, "acked        {}", t(i.acked_ms));
        let _ = writeln!(out, "acked by     {}", or_dash(&i.acked_by));
        let _ = writeln!(out, "ack note     {}", or_dash(&i.ack_note));
        let _ = writeln!(out, "resolved     {}", t(i.resolved_ms));
        let _ = writeln!(out, "resolved by  {}", or_dash(&i.resolved_by));
        let _ = writeln!(out, "resolution   {}", or_dash(&i.resolution));
        let _ = writeln!(out, "source       {}", or_dash(&i.source));
        let _ = writeln!(out, "assignee     {}", or_dash(&i.assignee));
        let _ = writeln!(out, "waiting      {}", t(i.waiting_since_ms));
        let _ = writeln!(out, "planned      {}", t(i.planned_ms));
        let _ = writeln!(out, "closed       {}", t(i.closed_ms));
        let _ = writeln!(out, "clocks from  {}", t(i.clock_start_ms));
        let _ = writeln!(out, "maintenance  {}", or_dash(&i.suppressed_by));
        let _ = writeln!(
            out,
            "flapping     {}",
            if i.flapping { "yes" } else { "no" }
        );
        let _ = write!(out, "reopened     {}", i.reopened);
        out
    }

    /// Wraps already padded text in a colour when colour is on.
    pub fn paint(&self, text: &str, code: Option<&str>) -> String {
        match code {
            Some(code) if self.color => format!("{code}{text}{RESET}"),
            _ => text.to_owned(),
        }
    }
}

/// Actors that are Patrol itself rather than a person: their changes need no "by".
const SYSTEM_RULE: &str = "rule";
const SYSTEM_ESCALATION: &str = "escalation";
/// Prefix of a notification channel's actor (`channel:sms`).
const SYSTEM_CHANNEL: &str = "channel:";

/// A note in double quotes, cleaned; empty for no note.
pub fn quoted(note: &str) -> String {
    if note.trim().is_empty() {
        String::new()
    } else {
        format!("\"{}\"", clean(note.trim()))
    }
}

/// The colour of a severity. Only the shipped P1-P4 names have one: other site levels print
/// plain rather than guessing their rank.
pub fn severity_color(severity: &str) -> Option<&'static str> {
    match severity {
        "P1" => Some(BOLD_RED),
        "P2" => Some(RED),
        "P3" => Some(YELLOW),
        "P4" => Some(CYAN),
        _ => None,
    }
}

/// The upper-case word for what an event did. A snapshot row shows the state the incident is
/// in (OPEN or ACKED), since "opened" would claim a change that did not just happen.
pub fn event_tag(kind: EventKind, state: IncidentState) -> String {
    match kind {
        EventKind::Snapshot => state_tag(state).to_owned(),
        EventKind::Opened => "OPENED".to_owned(),
        EventKind::Acknowledged => "ACKED".to_owned(),
        EventKind::Resolved => "RESOLVED".to_owned(),
        EventKind::Resync => "RESYNC".to_owned(),
        EventKind::Unspecified => "UNKNOWN".to_owned(),
        // Short enough for the tag column.
        EventKind::LevelChanged => "LEVEL".to_owned(),
        EventKind::Commented => "COMMENT".to_owned(),
        other => other.label().to_uppercase(),
    }
}

/// The upper-case word for a state.
pub fn state_tag(state: IncidentState) -> &'static str {
    match state {
        IncidentState::Open => "OPEN",
        IncidentState::Acknowledged => "ACKED",
        IncidentState::Assigned => "ASSIGNED",
        IncidentState::Waiting => "WAITING",
        IncidentState::Resolved => "RESOLVED",
        IncidentState::Closed => "CLOSED",
        IncidentState::Unspecified => "UNKNOWN",
    }
}

/// Left-aligns `s` in `width` characters (not bytes, so CJK summaries and hosts line up better).
pub fn pad(s: &str, width: usize) -> String {
    let n = s.chars().count();
    let mut out = s.to_owned();
    out.extend(std::iter::repeat_n(' ', width.saturating_sub(n)));
    out
}

/// Server text with control characters replaced by spaces: a newline in a summary must not
/// break "one line per event", and an escape sequence must not drive the operator's terminal.
pub fn clean(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::tests::{OPENED, sample_incident};

    fn plain() -> Human {
        Human {
            tz: TimeZone::UTC,
            color: false,
        }
    }

    fn event(kind: EventKind, incident: Option<v1::Incident>) -> v1::IncidentEvent {
        v1::IncidentEvent {
            event_id: 12,
            kind: kind as i32,
            at_ms: OPENED,
            actor: "rule".to_owned(),
            incident,
            ..Default::default()
        }
    }

    #[test]
    fn opened_line_is_aligned_and_plain() {
        assert_eq!(
            plain().event_line(&event(EventKind::Opened, Some(sample_incident()))),
            "2026-11-23 09:12:01  P2    OPENED      db01          disk_full             #3  Disk / at 91.5% on db01"
        );
    }

    #[test]
    fn snapshot_rows_show_the_current_state() {
        let mut i = sample_incident();
        let h = plain();
        assert!(
            h.event_line(&event(EventKind::Snapshot, Some(i.clone())))
                .contains("  OPEN        db01")
        );
        i.state = IncidentState::Acknowledged as i32;
        assert!(
            h.event_line(&event(EventKind::Snapshot, Some(i)))
                .contains("  ACKED       db01")
        );
    }

    #[test]
    fn resync_line_explains_itself() {
        assert_eq!(
            plain().event_line(&event(EventKind::Resync, None)),
            "2026-11-23 09:12:01        RESYNC      (fell behind and missed events; a fresh snapshot follows)"
        );
    }

    #[test]
    fn times_follow_the_given_zone() {
        let h = Human {
            tz: TimeZone::fixed(jiff::tz::offset(8)),
            color: false,
        };
        assert!(
            h.event_line(&event(EventKind::Opened, Some(sample_incident())))
                .starts_with("2026-11-23 17:12:01  P2")
        );
    }

    #[test]
    fn colours_wrap_padded_text() {
        let h = Human {
            tz: TimeZone::UTC,
            color: true,
        };
        let mut i = sample_incident();
        i.severity = "P1".to_owned();
        i.state = IncidentState::Resolved as i32;
        assert_eq!(
            h.event_line(&event(EventKind::Resolved, Some(i))),
            "2026-11-23 09:12:01  \x1b[1;31mP1  \x1b[0m  \x1b[32mRESOLVED  \x1b[0m  db01          disk_full             #3  Disk / at 91.5% on db01"
        );
        assert_eq!(severity_color("P3"), Some(YELLOW));
        assert_eq!(severity_color("P4"), Some(CYAN));
        assert_eq!(severity_color("critical"), None);
    }

    #[test]
    fn server_text_cannot_break_the_line_or_the_terminal() {
        let mut i = sample_incident();
        i.summary = "two\nlines \x1b[2J".to_owned();
        let line = plain().event_line(&event(EventKind::Opened, Some(i)));
        assert!(line.ends_with("#3  two lines  [2J"), "{line}");
    }

    #[test]
    fn new_kinds_say_what_happened_at_the_end_of_the_line() {
        let h = plain();
        let with = |kind, actor: &str, note: &str, detail: &str, i: v1::Incident| {
            let mut e = event(kind, Some(i));
            e.actor = actor.to_owned();
            e.note = note.to_owned();
            e.detail = detail.to_owned();
            h.event_line(&e)
        };
        let line = with(
            EventKind::Escalated,
            "escalation",
            "",
            r#"{"policy":"major","step":"not_acknowledged","occurrence":1,"notify":["duty_manager"],"targets":[{"name":"duty_manager","members":["ann"],"channels":["sms"]}]}"#,
            sample_incident(),
        );
        assert_eq!(
            line,
            "2026-11-23 09:12:01  P2    ESCALATED   db01          disk_full             #3  Disk / at 91.5% on db01  \
             — step not_acknowledged #1 of major → duty_manager (ann via sms)"
        );
        let mut i = sample_incident();
        i.state = IncidentState::Assigned as i32;
        let line = with(
            EventKind::Assigned,
            "ann",
            "db team",
            r#"{"assignee":"bob"}"#,
            i.clone(),
        );
        assert!(line.contains("  ASSIGNED    db01"), "{line}");
        assert!(line.ends_with("  — to bob \"db team\" (by ann)"), "{line}");
        let line = with(
            EventKind::LevelChanged,
            "escalation",
            "",
            r#"{"from":"P3","to":"P2","step":"lasting_outage"}"#,
            i.clone(),
        );
        assert!(line.contains("  LEVEL       db01"), "{line}");
        assert!(
            line.ends_with("  — P3 → P2 (step lasting_outage)"),
            "{line}"
        );
        let line = with(
            EventKind::Breached,
            "escalation",
            "",
            r#"{"clock":"respond","due_ms":1795425720000}"#,
            i.clone(),
        );
        assert!(
            line.ends_with("  — respond deadline 2026-11-23 09:22:00 passed"),
            "{line}"
        );
        i.flapping = true;
        let line = with(EventKind::Flapping, "rule", "", "", i.clone());
        assert!(line.ends_with("  — started"), "{line}");
        let line = with(EventKind::Commented, "ann", "called the vendor", "", i);
        assert!(line.contains("  COMMENT     db01"), "{line}");
        assert!(
            line.ends_with("  — \"called the vendor\" (by ann)"),
            "{line}"
        );
    }

    #[test]
    fn changed_line_uses_the_new_state() {
        let mut i = sample_incident();
        i.state = IncidentState::Acknowledged as i32;
        i.updated_ms = OPENED + 60_000;
        assert_eq!(
            plain().changed_line(&i),
            "2026-11-23 09:13:01  P2    ACKED       db01          disk_full             #3  Disk / at 91.5% on db01"
        );
    }

    #[test]
    fn details_list_every_field() {
        let mut i = sample_incident();
        i.state = IncidentState::Acknowledged as i32;
        i.acked_by = "alice".to_owned();
        i.acked_ms = OPENED + 60_000;
        assert_eq!(
            plain().details(&i),
            "incident     #3\n\
             state        acknowledged\n\
             severity     P2\n\
             rule         disk_full\n\
             host         db01\n\
             labels       host=db01, mount=/\n\
             summary      Disk / at 91.5% on db01\n\
             value        91.5\n\
             fingerprint  00ab12cd34ef5678\n\
             opened       2026-11-23 09:12:01\n\
             updated      2026-11-23 09:12:01\n\
             acked        2026-11-23 09:13:01\n\
             acked by     alice\n\
             ack note     -\n\
             resolved     -\n\
             resolved by  -\n\
             resolution   -\n\
             source       rule\n\
             assignee     -\n\
             waiting      -\n\
             planned      -\n\
             closed       -\n\
             clocks from  2026-11-23 09:12:01\n\
             maintenance  -\n\
             flapping     no\n\
             reopened     0"
        );
    }
}
