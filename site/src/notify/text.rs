//! The default plain-text rendering of a payload: an e-mail/SMS subject line and a body a
//! person on duty can act on (what, where, deadlines with time left, how to acknowledge).

use std::fmt::Write;
use std::time::Duration;

use super::payload::{Payload, Time};

/// Subjects longer than this are cut (with `...`): mail clients and SMS gateways truncate
/// anyway, and a cut we choose keeps the level, kind, id and host visible.
pub const SUBJECT_MAX_CHARS: usize = 120;

/// `[P1] OPENED #42 db1: tablespace USERS 93% on db1/ORCL (limit 90%)`.
pub fn subject(p: &Payload) -> String {
    let full = format!(
        "[{}] {} #{} {}: {}",
        p.level,
        p.kind.to_uppercase(),
        p.incident_id,
        p.host,
        one_line(&p.summary)
    );
    truncate(&full, SUBJECT_MAX_CHARS)
}

/// The plain-text body.
pub fn body(p: &Payload) -> String {
    let mut out = String::new();
    // Writing to a String cannot fail.
    let _ = write_body(&mut out, p);
    out
}

fn write_body(out: &mut String, p: &Payload) -> std::fmt::Result {
    writeln!(
        out,
        "Incident #{} {} ({}, now {})",
        p.incident_id,
        p.kind.to_uppercase(),
        p.level,
        p.state
    )?;
    writeln!(out)?;
    writeln!(out, "Summary:  {}", one_line(&p.summary))?;
    writeln!(out, "Host:     {}", p.host)?;
    writeln!(out, "Site:     {}", p.site)?;
    writeln!(out, "Rule:     {}", p.rule)?;
    if let Some(v) = p.value {
        writeln!(out, "Value:    {v}")?;
    }
    let labels: Vec<String> = p.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
    writeln!(out, "Labels:   {}", labels.join(", "))?;
    writeln!(out, "Opened:   {}", p.opened.rfc3339())?;
    if let Some(a) = &p.assignee {
        writeln!(out, "Assignee: {a}")?;
    }
    writeln!(
        out,
        "Change:   {} by {} at {}",
        p.kind,
        p.actor,
        p.time.rfc3339()
    )?;
    if let Some(note) = &p.note {
        writeln!(out, "Note:     {}", note.trim())?;
    }
    if let Some(detail) = &p.detail {
        writeln!(out, "Detail:   {detail}")?;
    }
    let clocks = [
        ("respond by ", p.deadlines.respond),
        ("fix plan by", p.deadlines.fix_plan),
        ("resolve by ", p.deadlines.resolve),
    ];
    if p.is_live() && clocks.iter().any(|(_, t)| t.is_some()) {
        writeln!(out)?;
        writeln!(out, "Deadlines (time left when this changed):")?;
        for (name, due) in clocks {
            if let Some(due) = due {
                writeln!(
                    out,
                    "  {name}  {}  ({})",
                    due.rfc3339(),
                    time_left(p.time, due)
                )?;
            }
        }
    }
    writeln!(out)?;
    if p.state == "open" {
        writeln!(out, "To acknowledge:")?;
        writeln!(
            out,
            "  patrolctl incidents ack {} --by NAME [--note TEXT]",
            p.incident_id
        )?;
    } else {
        writeln!(out, "Details and history:")?;
        writeln!(out, "  patrolctl incidents show {}", p.incident_id)?;
    }
    writeln!(out)?;
    writeln!(
        out,
        "Event {} ({}). A repeated event id is a duplicate and can be ignored.",
        p.event_id, p.schema
    )
}

/// `in 9m 58s`, `overdue by 3m`, `due now`.
pub fn time_left(now: Time, due: Time) -> String {
    let diff = due.ms.saturating_sub(now.ms);
    // Whole seconds: sub-second precision is noise to a person reading a deadline.
    let span = |ms: i64| {
        humantime::format_duration(Duration::from_secs(ms.unsigned_abs() / 1000)).to_string()
    };
    match diff {
        d if d.abs() < 1000 => "due now".to_owned(),
        d if d > 0 => format!("in {}", span(d)),
        d => format!("overdue by {}", span(d)),
    }
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    let mut cut: String = s.chars().take(max.saturating_sub(3)).collect();
    cut.push_str("...");
    cut
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn subject_names_level_kind_id_host_and_summary() {
        let p = Payload::sample("hq");
        assert_eq!(
            subject(&p),
            "[P1] OPENED #42 db1: tablespace USERS 93% on db1/ORCL (limit 90%)"
        );
    }

    #[test]
    fn long_subjects_are_cut_on_a_character_boundary() {
        let mut p = Payload::sample("hq");
        p.summary = "表空间".repeat(100);
        let s = subject(&p);
        assert_eq!(s.chars().count(), SUBJECT_MAX_CHARS);
        assert!(s.ends_with("..."));
    }

    #[test]
    fn body_has_deadlines_with_time_left_and_how_to_acknowledge() {
        let b = body(&Payload::sample("hq"));
        assert!(
            b.contains("respond by   2026-11-18T11:16:40Z  (in 10m)"),
            "{b}"
        );
        assert!(
            b.contains("resolve by   2026-11-18T15:06:40Z  (in 4h)"),
            "{b}"
        );
        assert!(b.contains("patrolctl incidents ack 42 --by NAME"), "{b}");
        assert!(b.contains("Note:     sample note"), "{b}");
        assert!(b.contains("Event 1017"), "{b}");
    }

    #[test]
    fn a_resolved_incident_has_no_deadlines_or_ack_hint() {
        let mut p = Payload::sample("hq");
        p.kind = "resolved".into();
        p.state = "resolved".into();
        let b = body(&p);
        assert!(!b.contains("Deadlines"), "{b}");
        assert!(!b.contains("incidents ack"), "{b}");
    }

    #[test]
    fn time_left_words() {
        let t = Time::from_ms;
        assert_eq!(time_left(t(0), t(598_000)), "in 9m 58s");
        assert_eq!(time_left(t(180_000), t(0)), "overdue by 3m");
        assert_eq!(time_left(t(0), t(400)), "due now");
    }
}
