//! The JSON shapes patrolctl prints: incidents and incident events (shared by `tail`,
//! `incidents list` and `incidents show` so scripts see one schema everywhere) and agents.
//!
//! Structs rather than `json!` maps keep the key order fixed whatever serde_json features are
//! enabled. Zero or empty optional wire fields become `null`, so scripts test for null instead
//! of guessing which sentinel the wire used.

use crate::time::rfc3339;
use patrol_proto::v1;
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;

/// One incident as JSON.
#[derive(Debug, Serialize)]
pub struct IncidentJson<'a> {
    id: u64,
    rule: &'a str,
    severity: &'a str,
    state: &'static str,
    host: &'a str,
    labels: BTreeMap<&'a str, &'a str>,
    summary: &'a str,
    value: f64,
    fingerprint: &'a str,
    opened_at: Option<String>,
    opened_ms: i64,
    acked_by: Option<&'a str>,
    acked_at: Option<String>,
    ack_note: Option<&'a str>,
    resolved_at: Option<String>,
    resolved_by: Option<&'a str>,
    source: Option<&'a str>,
    assignee: Option<&'a str>,
    clock_start_at: Option<String>,
    suppressed_by: Option<&'a str>,
    flapping: bool,
    reopened: u32,
    planned_at: Option<String>,
    waiting_since_at: Option<String>,
    closed_at: Option<String>,
    resolution: Option<&'a str>,
    respond_due_at: Option<String>,
    fix_plan_due_at: Option<String>,
    resolve_due_at: Option<String>,
}

/// One event of the incident stream as JSON.
#[derive(Debug, Serialize)]
pub struct EventJson<'a> {
    event_id: u64,
    kind: &'static str,
    at: Option<String>,
    at_ms: i64,
    actor: Option<&'a str>,
    note: Option<&'a str>,
    detail: Option<Value>,
    incident: Option<IncidentJson<'a>>,
}

/// One agent as JSON.
#[derive(Debug, Serialize)]
pub struct AgentJson<'a> {
    agent_id: &'a str,
    host: &'a str,
    version: &'a str,
    labels: BTreeMap<&'a str, &'a str>,
    connected: bool,
    connected_at: Option<String>,
    last_seen_at: Option<String>,
    last_seen_ms: i64,
    batches: u64,
    samples: u64,
    peer: Option<&'a str>,
    /// When its facts were gathered (null: none yet); `agents show` prints the facts.
    facts_at: Option<String>,
}

/// `agents show --json`: the agent, its host's facts and each device's.
#[derive(Debug, Serialize)]
struct AgentShowJson<'a> {
    #[serde(flatten)]
    agent: AgentJson<'a>,
    facts: &'a BTreeMap<String, String>,
    devices: BTreeMap<&'a str, &'a BTreeMap<String, String>>,
}

/// One agent with its facts as JSON.
pub fn agent_show(a: &v1::AgentInfo) -> String {
    to_string(&AgentShowJson {
        agent: AgentJson::new(a),
        facts: &a.facts,
        devices: a
            .devices
            .iter()
            .map(|d| (d.device.as_str(), &d.facts))
            .collect(),
    })
}

impl<'a> AgentJson<'a> {
    pub fn new(a: &'a v1::AgentInfo) -> Self {
        Self {
            agent_id: &a.agent_id,
            host: &a.host,
            version: &a.version,
            labels: label_map(&a.labels),
            connected: a.connected,
            connected_at: rfc3339(a.connected_ms),
            last_seen_at: rfc3339(a.last_seen_ms),
            last_seen_ms: a.last_seen_ms,
            batches: a.batches,
            samples: a.samples,
            peer: non_empty(&a.peer),
            facts_at: rfc3339(a.facts_ms),
        }
    }
}

impl<'a> IncidentJson<'a> {
    pub fn new(i: &'a v1::Incident) -> Self {
        Self {
            id: i.id,
            rule: &i.rule,
            severity: &i.severity,
            state: i.state().label(),
            host: &i.host,
            labels: label_map(&i.labels),
            summary: &i.summary,
            value: i.value,
            fingerprint: &i.fingerprint,
            opened_at: rfc3339(i.opened_ms),
            opened_ms: i.opened_ms,
            acked_by: non_empty(&i.acked_by),
            acked_at: rfc3339(i.acked_ms),
            ack_note: non_empty(&i.ack_note),
            resolved_at: rfc3339(i.resolved_ms),
            resolved_by: non_empty(&i.resolved_by),
            source: non_empty(&i.source),
            assignee: non_empty(&i.assignee),
            clock_start_at: rfc3339(i.clock_start_ms),
            suppressed_by: non_empty(&i.suppressed_by),
            flapping: i.flapping,
            reopened: i.reopened,
            planned_at: rfc3339(i.planned_ms),
            waiting_since_at: rfc3339(i.waiting_since_ms),
            closed_at: rfc3339(i.closed_ms),
            resolution: non_empty(&i.resolution),
            respond_due_at: rfc3339(i.respond_due_ms),
            fix_plan_due_at: rfc3339(i.fix_plan_due_ms),
            resolve_due_at: rfc3339(i.resolve_due_ms),
        }
    }
}

impl<'a> EventJson<'a> {
    pub fn new(e: &'a v1::IncidentEvent) -> Self {
        Self {
            event_id: e.event_id,
            kind: e.kind().label(),
            at: rfc3339(e.at_ms),
            at_ms: e.at_ms,
            actor: non_empty(&e.actor),
            note: non_empty(&e.note),
            detail: detail(&e.detail),
            incident: e.incident.as_ref().map(IncidentJson::new),
        }
    }
}

/// The event as one line of JSON (no trailing newline).
pub fn event_line(e: &v1::IncidentEvent) -> String {
    to_string(&EventJson::new(e))
}

/// The incident as one line of JSON (no trailing newline).
pub fn incident(i: &v1::Incident) -> String {
    to_string(&IncidentJson::new(i))
}

/// The incidents as one JSON array (no trailing newline).
pub fn incidents(list: &[v1::Incident]) -> String {
    to_string(&list.iter().map(IncidentJson::new).collect::<Vec<_>>())
}

/// Serialises a value whose every field is a string, number, bool, null or map with string
/// keys; serde_json cannot fail on those, and non-finite floats become null.
pub fn to_string<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
}

/// The agents as one JSON array (no trailing newline).
pub fn agents(list: &[v1::AgentInfo]) -> String {
    to_string(&list.iter().map(AgentJson::new).collect::<Vec<_>>())
}

/// Wire labels as a JSON object, sorted and deduplicated (last wins) like a label set.
fn label_map(labels: &[v1::Label]) -> BTreeMap<&str, &str> {
    labels
        .iter()
        .map(|l| (l.name.as_str(), l.value.as_str()))
        .collect()
}

pub(crate) fn non_empty(s: &str) -> Option<&str> {
    (!s.is_empty()).then_some(s)
}

/// An event's detail as parsed JSON, so scripts need not decode a string inside the JSON; text
/// that is not JSON stays a string rather than being lost.
pub(crate) fn detail(text: &str) -> Option<Value> {
    if text.trim().is_empty() {
        return None;
    }
    Some(serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_owned())))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// 2026-11-23T09:12:01.123Z
    pub(crate) const OPENED: i64 = 1_795_425_121_123;

    /// A fixed open incident used by the formatting tests.
    pub(crate) fn sample_incident() -> v1::Incident {
        v1::Incident {
            id: 3,
            rule: "disk_full".to_owned(),
            severity: "P2".to_owned(),
            state: v1::IncidentState::Open as i32,
            host: "db01".to_owned(),
            labels: vec![
                v1::Label {
                    name: "mount".to_owned(),
                    value: "/".to_owned(),
                },
                v1::Label {
                    name: "host".to_owned(),
                    value: "db01".to_owned(),
                },
            ],
            summary: "Disk / at 91.5% on db01".to_owned(),
            value: 91.5,
            fingerprint: "00ab12cd34ef5678".to_owned(),
            opened_ms: OPENED,
            updated_ms: OPENED,
            source: "rule".to_owned(),
            clock_start_ms: OPENED,
            ..Default::default()
        }
    }

    #[test]
    fn open_incident_has_nulls_for_unset_fields() {
        assert_eq!(
            incident(&sample_incident()),
            r#"{"id":3,"rule":"disk_full","severity":"P2","state":"open","host":"db01","labels":{"host":"db01","mount":"/"},"summary":"Disk / at 91.5% on db01","value":91.5,"fingerprint":"00ab12cd34ef5678","opened_at":"2026-11-23T09:12:01.123Z","opened_ms":1795425121123,"acked_by":null,"acked_at":null,"ack_note":null,"resolved_at":null,"resolved_by":null,"source":"rule","assignee":null,"clock_start_at":"2026-11-23T09:12:01.123Z","suppressed_by":null,"flapping":false,"reopened":0,"planned_at":null,"waiting_since_at":null,"closed_at":null,"resolution":null,"respond_due_at":null,"fix_plan_due_at":null,"resolve_due_at":null}"#
        );
    }

    #[test]
    fn acknowledged_incident_fills_the_ack_fields() {
        let mut i = sample_incident();
        i.state = v1::IncidentState::Acknowledged as i32;
        i.acked_by = "alice".to_owned();
        i.acked_ms = OPENED + 60_000;
        i.ack_note = "on it".to_owned();
        let v: serde_json::Value = serde_json::from_str(&incident(&i)).expect("valid JSON");
        assert_eq!(v["state"], "acknowledged");
        assert_eq!(v["acked_by"], "alice");
        assert_eq!(v["acked_at"], "2026-11-23T09:13:01.123Z");
        assert_eq!(v["ack_note"], "on it");
        assert_eq!(v["resolved_at"], serde_json::Value::Null);
    }

    #[test]
    fn opened_event_line_is_pinned() {
        let e = v1::IncidentEvent {
            event_id: 12,
            kind: v1::EventKind::Opened as i32,
            at_ms: OPENED,
            actor: "rule".to_owned(),
            incident: Some(sample_incident()),
            ..Default::default()
        };
        assert_eq!(
            event_line(&e),
            r#"{"event_id":12,"kind":"opened","at":"2026-11-23T09:12:01.123Z","at_ms":1795425121123,"actor":"rule","note":null,"detail":null,"incident":{"id":3,"rule":"disk_full","severity":"P2","state":"open","host":"db01","labels":{"host":"db01","mount":"/"},"summary":"Disk / at 91.5% on db01","value":91.5,"fingerprint":"00ab12cd34ef5678","opened_at":"2026-11-23T09:12:01.123Z","opened_ms":1795425121123,"acked_by":null,"acked_at":null,"ack_note":null,"resolved_at":null,"resolved_by":null,"source":"rule","assignee":null,"clock_start_at":"2026-11-23T09:12:01.123Z","suppressed_by":null,"flapping":false,"reopened":0,"planned_at":null,"waiting_since_at":null,"closed_at":null,"resolution":null,"respond_due_at":null,"fix_plan_due_at":null,"resolve_due_at":null}}"#
        );
    }

    #[test]
    fn resync_without_incident_and_bad_server_values_do_not_panic() {
        let e = v1::IncidentEvent {
            kind: v1::EventKind::Resync as i32,
            at_ms: i64::MAX,
            ..Default::default()
        };
        assert_eq!(
            event_line(&e),
            r#"{"event_id":0,"kind":"resync","at":null,"at_ms":9223372036854775807,"actor":null,"note":null,"detail":null,"incident":null}"#
        );
        let mut i = sample_incident();
        i.value = f64::NAN;
        i.state = 99;
        let v: serde_json::Value = serde_json::from_str(&incident(&i)).expect("valid JSON");
        assert_eq!(v["value"], serde_json::Value::Null);
        assert_eq!(v["state"], "unspecified");
    }

    #[test]
    fn event_note_and_detail_are_json_not_strings() {
        let mut i = sample_incident();
        i.state = v1::IncidentState::Assigned as i32;
        i.assignee = "bob".to_owned();
        i.respond_due_ms = OPENED + 600_000;
        let e = v1::IncidentEvent {
            event_id: 13,
            kind: v1::EventKind::Escalated as i32,
            at_ms: OPENED,
            actor: "escalation".to_owned(),
            note: "second call".to_owned(),
            detail: r#"{"policy":"major","step":"not_acknowledged","occurrence":1,"notify":["duty_manager"],"targets":[{"name":"duty_manager","members":["ann"],"channels":["sms"]}]}"#.to_owned(),
            incident: Some(i),
        };
        let v: serde_json::Value = serde_json::from_str(&event_line(&e)).expect("valid JSON");
        assert_eq!(v["kind"], "escalated");
        assert_eq!(v["note"], "second call");
        assert_eq!(v["detail"]["step"], "not_acknowledged");
        assert_eq!(v["detail"]["targets"][0]["members"][0], "ann");
        assert_eq!(v["incident"]["assignee"], "bob");
        assert_eq!(v["incident"]["respond_due_at"], "2026-11-23T09:22:01.123Z");
        // A detail that is not JSON is kept as a string, not lost.
        let mut odd = e.clone();
        odd.detail = "not json".to_owned();
        let v: serde_json::Value = serde_json::from_str(&event_line(&odd)).expect("valid JSON");
        assert_eq!(v["detail"], "not json");
    }

    #[test]
    fn agent_json_is_pinned() {
        let a = v1::AgentInfo {
            agent_id: "db01".to_owned(),
            host: "db01".to_owned(),
            version: "0.1.0".to_owned(),
            labels: vec![v1::Label {
                name: "site".to_owned(),
                value: "bj".to_owned(),
            }],
            connected: true,
            connected_ms: OPENED,
            last_seen_ms: OPENED,
            batches: 2,
            samples: 80,
            peer: String::new(),
            ..Default::default()
        };
        assert_eq!(
            agents(std::slice::from_ref(&a)),
            r#"[{"agent_id":"db01","host":"db01","version":"0.1.0","labels":{"site":"bj"},"connected":true,"connected_at":"2026-11-23T09:12:01.123Z","last_seen_at":"2026-11-23T09:12:01.123Z","last_seen_ms":1795425121123,"batches":2,"samples":80,"peer":null,"facts_at":null}]"#
        );
        let mut shown = a;
        shown.facts_ms = OPENED;
        shown.facts = [(
            "os.name".to_owned(),
            "Debian GNU/Linux 12 (bookworm)".to_owned(),
        )]
        .into();
        shown.devices = vec![v1::DeviceFacts {
            device: "sw1".to_owned(),
            facts: [("sys.name".to_owned(), "core-sw1".to_owned())].into(),
        }];
        let v: serde_json::Value = serde_json::from_str(&agent_show(&shown)).expect("JSON");
        assert_eq!(v["agent_id"], "db01");
        assert_eq!(v["facts_at"], "2026-11-23T09:12:01.123Z");
        assert_eq!(v["facts"]["os.name"], "Debian GNU/Linux 12 (bookworm)");
        assert_eq!(v["devices"]["sw1"]["sys.name"], "core-sw1");
    }

    #[test]
    fn list_is_an_array() {
        assert_eq!(incidents(&[]), "[]");
        let two = incidents(&[sample_incident(), sample_incident()]);
        let v: serde_json::Value = serde_json::from_str(&two).expect("valid JSON");
        assert_eq!(v.as_array().map(Vec::len), Some(2));
    }
}
