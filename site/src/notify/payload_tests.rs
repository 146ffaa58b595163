#![allow(clippy::unwrap_used)] // a failing unwrap is a failing test

use patrol_proto::Labels;

use super::*;
use patrol_incident::{EventKind, Handling, Incident, IncidentState};

fn event() -> IncidentEvent {
    let mut handling = Handling::rule(1_000);
    handling.respond_due_ms = Some(601_000);
    handling.resolve_due_ms = Some(14_401_000);
    IncidentEvent {
        id: 77,
        kind: EventKind::Escalated,
        at_ms: 660_000,
        actor: "rule".into(),
        note: Some("nobody took it".into()),
        detail: Some(r#"{"step":"not_acknowledged","targets":["duty_manager"]}"#.into()),
        incident: Incident {
            id: 42,
            rule: "disk_full".into(),
            severity: "P2".into(),
            state: IncidentState::Open,
            host: "db1".into(),
            labels: Labels::from_pairs([("mount", "/u01"), ("host", "db1")]),
            summary: "disk /u01 95%".into(),
            value: 95.5,
            fingerprint: 9,
            opened_ms: 1_000,
            updated_ms: 660_000,
            acked_by: None,
            acked_ms: None,
            ack_note: None,
            resolved_ms: None,
            resolved_by: None,
            handling,
        },
    }
}

#[test]
fn built_from_an_event_with_every_documented_field() {
    let p = Payload::from_event("hq", &event());
    let json: serde_json::Value = serde_json::from_str(&p.to_json()).unwrap();
    assert_eq!(
        json,
        serde_json::json!({
            "schema": "patrol.notify.v1",
            "site": "hq",
            "event_id": 77,
            "incident_id": 42,
            "kind": "escalated",
            "state": "open",
            "level": "P2",
            "host": "db1",
            "rule": "disk_full",
            "labels": {"host": "db1", "mount": "/u01"},
            "summary": "disk /u01 95%",
            "value": 95.5,
            "assignee": null,
            "opened": {"at": "1970-01-01T00:00:01Z", "ms": 1000},
            "deadlines": {
                "respond": {"at": "1970-01-01T00:10:01Z", "ms": 601_000},
                "fix_plan": null,
                "resolve": {"at": "1970-01-01T04:00:01Z", "ms": 14_401_000}
            },
            "actor": "rule",
            "note": "nobody took it",
            "detail": {"step": "not_acknowledged", "targets": ["duty_manager"]},
            "time": {"at": "1970-01-01T00:11:00Z", "ms": 660_000}
        })
    );
    assert!(p.is_live());
}

#[test]
fn the_stored_json_rebuilds_the_same_payload() {
    let p = Payload::from_event("hq", &event());
    assert_eq!(Payload::from_json(&p.to_json()).unwrap(), p);
    let other = p.to_json().replace("patrol.notify.v1", "patrol.notify.v9");
    assert!(matches!(
        Payload::from_json(&other),
        Err(PayloadError::Schema(s)) if s == "patrol.notify.v9"
    ));
    assert!(matches!(
        Payload::from_json("{\"schema\": 1"),
        Err(PayloadError::Invalid(_))
    ));
}

#[test]
fn odd_journal_data_is_carried_not_dropped() {
    let mut e = event();
    e.detail = Some("not json {".into());
    e.incident.value = f64::NAN;
    e.incident.state = IncidentState::Resolved;
    let p = Payload::from_event("hq", &e);
    assert_eq!(
        p.detail,
        Some(serde_json::Value::String("not json {".into()))
    );
    assert_eq!(p.value, None);
    assert!(!p.is_live());
    assert!(p.to_json().contains("\"value\":null"));
}
