//! The particulars of a journal entry or stream event (its `detail` JSON) as a short phrase:
//! `step not_acknowledged #1 of major → duty_manager (ann via sms)`, `respond deadline
//! 09:22 passed`, `P3 → P2 (step lasting_outage)`. Keys this build does not know are shown as
//! `key=value` rather than dropped or failed on, so a newer collector stays readable.

use crate::format::clean;
use crate::time;
use jiff::tz::TimeZone;
use patrol_proto::v1::EventKind;
use serde_json::{Map, Value};

/// `detail` (JSON text, possibly empty) of an event of `kind` as a phrase; empty when there is
/// nothing to say. Text that is not a JSON object is shown cleaned, as it is.
pub fn phrase(kind: EventKind, detail: &str, tz: &TimeZone) -> String {
    if detail.trim().is_empty() {
        return String::new();
    }
    let Ok(Value::Object(mut map)) = serde_json::from_str::<Value>(detail) else {
        return clean(detail);
    };
    let mut parts = Vec::new();
    let known = match kind {
        EventKind::Escalated | EventKind::Reminded => step(&mut map),
        EventKind::Breached => breach(&mut map, tz),
        EventKind::LevelChanged => level_change(&mut map),
        EventKind::Suppressed => maintenance(&mut map, tz),
        EventKind::Assigned => take_str(&mut map, "assignee").map(|to| format!("to {to}")),
        EventKind::Reopened => take(&mut map, "reopened")
            .and_then(|n| n.as_u64())
            .map(|n| format!("back for the {} time", ordinal(n))),
        EventKind::Opened | EventKind::Resolved => deadlines(kind, &mut map, tz),
        EventKind::Notified => delivery(&mut map),
        _ => None,
    };
    parts.extend(known.filter(|p| !p.is_empty()));
    parts.extend(
        map.iter()
            .map(|(k, v)| format!("{}={}", clean(k), scalar(v))),
    );
    parts.join(", ")
}

/// Escalated / reminded: `{"policy","step","occurrence","notify":[..],"targets":[{name,members,channels}]}`.
fn step(map: &mut Map<String, Value>) -> Option<String> {
    let name = take_str(map, "step")?;
    let mut out = format!("step {name}");
    if let Some(n) = take(map, "occurrence").and_then(|v| v.as_u64()) {
        out.push_str(&format!(" #{n}"));
    }
    if let Some(policy) = take_str(map, "policy") {
        out.push_str(&format!(" of {policy}"));
    }
    let targets = take(map, "targets");
    let notify = take(map, "notify");
    let reached: Vec<String> = match (&targets, &notify) {
        (Some(Value::Array(ts)), _) if !ts.is_empty() => ts.iter().map(target).collect(),
        (_, Some(Value::Array(ns))) => ns.iter().map(scalar).collect(),
        _ => Vec::new(),
    };
    if !reached.is_empty() {
        out.push_str(&format!(" → {}", reached.join("; ")));
    }
    Some(out)
}

/// Notified: `{"channel","route","event_id","outcome","attempts","error"}` as
/// `sms sent event 12 after 3 attempts (escalation/major/not_acknowledged)` or
/// `chat dead letter event 9 after 1 attempt: HTTP 400 ...`.
fn delivery(map: &mut Map<String, Value>) -> Option<String> {
    let channel = take_str(map, "channel")?;
    let outcome = match take_str(map, "outcome").as_deref() {
        Some("dead") => "dead letter".to_owned(),
        Some(other) => other.to_owned(),
        None => "?".to_owned(),
    };
    let mut out = format!("{channel} {outcome}");
    if let Some(id) = take(map, "event_id").and_then(|v| v.as_u64()) {
        out.push_str(&format!(" event {id}"));
    }
    if let Some(n) = take(map, "attempts").and_then(|v| v.as_u64()) {
        let s = if n == 1 { "" } else { "s" };
        out.push_str(&format!(" after {n} attempt{s}"));
    }
    if let Some(route) = take_str(map, "route") {
        out.push_str(&format!(" ({route})"));
    }
    if let Some(Value::String(e)) = take(map, "error") {
        out.push_str(&format!(": {}", clean(&e)));
    }
    Some(out)
}

/// One target: `duty_manager (ann, bob via sms, email)`.
fn target(t: &Value) -> String {
    let Value::Object(t) = t else {
        return scalar(t);
    };
    let list = |key: &str| match t.get(key) {
        Some(Value::Array(a)) => a.iter().map(scalar).collect::<Vec<_>>().join(", "),
        _ => String::new(),
    };
    let name = t.get("name").map(scalar).unwrap_or_else(|| "?".to_owned());
    let (members, channels) = (list("members"), list("channels"));
    match (members.is_empty(), channels.is_empty()) {
        (true, true) => name,
        (false, true) => format!("{name} ({members})"),
        (true, false) => format!("{name} (via {channels})"),
        (false, false) => format!("{name} ({members} via {channels})"),
    }
}

/// Breached: `{"clock":"respond","due_ms":N}`.
fn breach(map: &mut Map<String, Value>, tz: &TimeZone) -> Option<String> {
    let clock = take_str(map, "clock")?;
    Some(match take(map, "due_ms").and_then(|v| v.as_i64()) {
        Some(due) => format!("{clock} deadline {} passed", time::local(due, tz)),
        None => format!("{clock} deadline passed"),
    })
}

/// Level changed: `{"from":"P3","to":"P2","step":"lasting_outage"}`.
fn level_change(map: &mut Map<String, Value>) -> Option<String> {
    let to = take_str(map, "to")?;
    let from = take_str(map, "from").unwrap_or_else(|| "?".to_owned());
    let mut out = format!("{from} → {to}");
    if let Some(step) = take_str(map, "step") {
        out.push_str(&format!(" (step {step})"));
    }
    Some(out)
}

/// Suppressed: `{"maintenance":"db1 patching","clocks_start_ms":N}`.
fn maintenance(map: &mut Map<String, Value>, tz: &TimeZone) -> Option<String> {
    let window = take_str(map, "maintenance")?;
    Some(
        match take(map, "clocks_start_ms").and_then(|v| v.as_i64()) {
            Some(start) => format!(
                "in maintenance '{window}', clocks start {}",
                time::local(start, tz)
            ),
            None => format!("in maintenance '{window}'"),
        },
    )
}

/// Opened / resolved carry the clocks: `{"level","clock_start_ms","respond":{due_ms,met_ms,met},...}`.
/// Opening shows the deadlines, resolving whether each was met.
fn deadlines(kind: EventKind, map: &mut Map<String, Value>, tz: &TimeZone) -> Option<String> {
    // The level and the start are on the incident itself.
    take(map, "level");
    take(map, "clock_start_ms");
    let mut parts = Vec::new();
    for (clock, label) in [
        ("respond", "respond"),
        ("fix_plan", "fix plan"),
        ("resolve", "resolve"),
    ] {
        let Some(v) = take(map, clock) else { continue };
        let Value::Object(c) = v else { continue };
        let due = c.get("due_ms").and_then(Value::as_i64);
        let met = c.get("met").and_then(Value::as_bool);
        parts.push(match (kind, due, met) {
            (EventKind::Opened, Some(due), _) => format!("{label} by {}", time::local(due, tz)),
            (_, _, Some(true)) => format!("{label} met"),
            (_, _, Some(false)) => format!("{label} met late"),
            _ => format!("{label} not met"),
        });
    }
    Some(parts.join(", "))
}

fn take(map: &mut Map<String, Value>, key: &str) -> Option<Value> {
    map.remove(key).filter(|v| !v.is_null())
}

fn take_str(map: &mut Map<String, Value>, key: &str) -> Option<String> {
    take(map, key).map(|v| scalar(&v))
}

/// A JSON value as plain text: strings unquoted and cleaned, the rest compact JSON.
fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => clean(s),
        other => clean(&other.to_string()),
    }
}

fn ordinal(n: u64) -> String {
    let suffix = match (n % 10, n % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(kind: EventKind, detail: &str) -> String {
        phrase(kind, detail, &TimeZone::UTC)
    }

    #[test]
    fn escalation_names_step_and_targets() {
        let d = r#"{"policy":"major","step":"not_acknowledged","occurrence":1,"notify":["duty_manager"],
            "targets":[{"name":"duty_manager","members":["ann","bob"],"channels":["sms","email"]}]}"#;
        assert_eq!(
            p(EventKind::Escalated, d),
            "step not_acknowledged #1 of major → duty_manager (ann, bob via sms, email)"
        );
        let d =
            r#"{"policy":"major","step":"progress","occurrence":3,"notify":["noc"],"targets":[]}"#;
        assert_eq!(p(EventKind::Reminded, d), "step progress #3 of major → noc");
    }

    #[test]
    fn deliveries_say_channel_outcome_attempts_and_why() {
        let d = r#"{"channel":"sms","route":"escalation/major/not_acknowledged","event_id":12,"outcome":"sent","attempts":3,"error":null}"#;
        assert_eq!(
            p(EventKind::Notified, d),
            "sms sent event 12 after 3 attempts (escalation/major/not_acknowledged)"
        );
        let d = r#"{"channel":"chat","route":"route/openings","event_id":9,"outcome":"dead","attempts":1,"error":"HTTP 400 Bad Request"}"#;
        assert_eq!(
            p(EventKind::Notified, d),
            "chat dead letter event 9 after 1 attempt (route/openings): HTTP 400 Bad Request"
        );
    }

    #[test]
    fn breach_level_change_suppression_assignment_reopen() {
        assert_eq!(
            p(
                EventKind::Breached,
                r#"{"clock":"respond","due_ms":1795425720000}"#
            ),
            "respond deadline 2026-11-23 09:22:00 passed"
        );
        assert_eq!(
            p(
                EventKind::LevelChanged,
                r#"{"from":"P3","to":"P2","step":"lasting_outage"}"#
            ),
            "P3 → P2 (step lasting_outage)"
        );
        assert_eq!(
            p(
                EventKind::Suppressed,
                r#"{"maintenance":"db1 patching","clocks_start_ms":1795435200000}"#
            ),
            "in maintenance 'db1 patching', clocks start 2026-11-23 12:00:00"
        );
        assert_eq!(p(EventKind::Assigned, r#"{"assignee":"bob"}"#), "to bob");
        assert_eq!(
            p(EventKind::Reopened, r#"{"reopened":2}"#),
            "back for the 2nd time"
        );
    }

    #[test]
    fn opening_shows_deadlines_and_resolving_whether_they_were_met() {
        let opened = r#"{"level":"P2","clock_start_ms":1,"respond":{"due_ms":1795425720000,"met_ms":null,"met":null},"fix_plan":null,"resolve":{"due_ms":1795447320000,"met_ms":null,"met":null}}"#;
        assert_eq!(
            p(EventKind::Opened, opened),
            "respond by 2026-11-23 09:22:00, resolve by 2026-11-23 15:22:00"
        );
        let resolved = r#"{"level":"P2","clock_start_ms":1,"respond":{"due_ms":5,"met_ms":4,"met":true},"fix_plan":{"due_ms":5,"met_ms":null,"met":null},"resolve":{"due_ms":5,"met_ms":9,"met":false}}"#;
        assert_eq!(
            p(EventKind::Resolved, resolved),
            "respond met, fix plan not met, resolve met late"
        );
    }

    #[test]
    fn unknown_keys_and_shapes_are_shown_not_dropped() {
        assert_eq!(
            p(
                EventKind::Breached,
                r#"{"clock":"resolve","due_ms":null,"by":"x","n":[1,2]}"#
            ),
            "resolve deadline passed, by=x, n=[1,2]"
        );
        assert_eq!(p(EventKind::Flapping, r#"{"share":0.42}"#), "share=0.42");
        assert_eq!(p(EventKind::Escalated, r#"{"what":"new"}"#), "what=new");
        assert_eq!(p(EventKind::Commented, ""), "");
        assert_eq!(p(EventKind::Commented, "not json\n"), "not json ");
        assert_eq!(p(EventKind::Commented, "[1]"), "[1]");
    }
}
