//! The versioned JSON payload every channel sends (`"schema": "patrol.notify.v1"`), built from
//! one committed [`IncidentEvent`]. Field by field reference: docs/notifications.md.
//!
//! The payload is self-contained: a receiver needs nothing else to display the change, and the
//! event id lets it drop the duplicate an at-least-once transport may produce.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use patrol_incident::IncidentEvent;

/// The schema name and version; bumped only on an incompatible change.
pub const SCHEMA: &str = "patrol.notify.v1";

/// One incident change as sent to every channel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Payload {
    /// Always [`SCHEMA`].
    pub schema: String,
    /// The site name (`[notify] site` in the site file).
    pub site: String,
    /// The journal event's id: store-wide, increasing; the deduplication key.
    pub event_id: u64,
    /// The incident's id.
    pub incident_id: u64,
    /// What changed (`opened`, `acknowledged`, `resolved`, `escalated`...).
    pub kind: String,
    /// The incident's state after the change (`open`, `acknowledged`, ..., `closed`).
    pub state: String,
    /// Severity level name (`P1`...).
    pub level: String,
    /// Host of the series.
    pub host: String,
    /// Name of the rule that fired.
    pub rule: String,
    /// The series' labels (`host` included), sorted by name.
    pub labels: BTreeMap<String, String>,
    /// The rule's rendered summary.
    pub summary: String,
    /// Last value seen; `null` when not a finite number.
    pub value: Option<f64>,
    /// Who the incident is assigned to.
    pub assignee: Option<String>,
    /// When the incident opened.
    pub opened: Time,
    /// The incident's deadlines (unset clocks are `null`).
    pub deadlines: Deadlines,
    /// Who made the change (`rule` for rule-driven changes).
    pub actor: String,
    /// The note given with the change.
    pub note: Option<String>,
    /// The change's particulars (escalation step, level from/to...) as JSON, or `null`.
    pub detail: Option<serde_json::Value>,
    /// When the change happened.
    pub time: Time,
}

/// A point in time, both readable and exact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Time {
    /// RFC 3339 in UTC (`2026-11-23T11:50:57.123Z`).
    #[serde(with = "rfc3339")]
    pub at: i64,
    /// Milliseconds since the Unix epoch.
    pub ms: i64,
}

impl Time {
    /// The time `ms` milliseconds after the epoch.
    pub fn from_ms(ms: i64) -> Self {
        Self { at: ms, ms }
    }

    /// RFC 3339 text (UTC); an out-of-range value prints as its milliseconds.
    pub fn rfc3339(&self) -> String {
        rfc3339::format(self.ms)
    }
}

/// The SLA clocks' due times.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Deadlines {
    /// Acknowledge by.
    pub respond: Option<Time>,
    /// Record a fix plan by.
    pub fix_plan: Option<Time>,
    /// Resolve by.
    pub resolve: Option<Time>,
}

/// Errors turning stored text back into a payload (the outbox keeps the JSON).
#[derive(Debug, thiserror::Error)]
pub enum PayloadError {
    /// Not JSON of this schema.
    #[error("not a {SCHEMA} payload: {0}")]
    Invalid(#[from] serde_json::Error),
    /// A payload of another schema version.
    #[error("payload schema '{0}' is not {SCHEMA}")]
    Schema(String),
}

impl Payload {
    /// The payload for `event`, at site `site`.
    pub fn from_event(site: &str, event: &IncidentEvent) -> Self {
        let inc = &event.incident;
        let h = &inc.handling;
        Payload {
            schema: SCHEMA.to_owned(),
            site: site.to_owned(),
            event_id: event.id,
            incident_id: inc.id,
            kind: event.kind.as_str().to_owned(),
            state: inc.state.as_str().to_owned(),
            level: inc.severity.clone(),
            host: inc.host.clone(),
            rule: inc.rule.clone(),
            labels: inc
                .labels
                .iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
            summary: inc.summary.clone(),
            value: inc.value.is_finite().then_some(inc.value),
            assignee: h.assignee.clone(),
            opened: Time::from_ms(inc.opened_ms),
            deadlines: Deadlines {
                respond: h.respond_due_ms.map(Time::from_ms),
                fix_plan: h.fix_plan_due_ms.map(Time::from_ms),
                resolve: h.resolve_due_ms.map(Time::from_ms),
            },
            actor: event.actor.clone(),
            note: event.note.clone(),
            // The journal stores detail as JSON text; text that is not JSON is still shown.
            detail: event.detail.as_deref().map(|d| {
                serde_json::from_str(d).unwrap_or_else(|_| serde_json::Value::String(d.to_owned()))
            }),
            time: Time::from_ms(event.at_ms),
        }
    }

    /// The payload as compact JSON: the exact bytes MQTT and webhooks send.
    pub fn to_json(&self) -> String {
        // Serialising plain structs of strings and numbers cannot fail; keep a readable
        // fallback rather than a panic all the same.
        serde_json::to_string(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }

    /// Parses JSON written by [`Payload::to_json`].
    pub fn from_json(text: &str) -> Result<Self, PayloadError> {
        let p: Payload = serde_json::from_str(text)?;
        if p.schema != SCHEMA {
            return Err(PayloadError::Schema(p.schema));
        }
        Ok(p)
    }

    /// A representative payload (a P1 tablespace incident on `db1`, opened, with every
    /// optional field set) that templates are rendered against when the site file loads.
    pub fn sample(site: &str) -> Self {
        let at = 1_795_000_000_000; // 2026-11-18, any fixed instant will do
        Payload {
            schema: SCHEMA.to_owned(),
            site: site.to_owned(),
            event_id: 1017,
            incident_id: 42,
            kind: "opened".to_owned(),
            state: "open".to_owned(),
            level: "P1".to_owned(),
            host: "db1".to_owned(),
            rule: "tablespace_high".to_owned(),
            labels: BTreeMap::from([
                ("db".to_owned(), "ORCL".to_owned()),
                ("host".to_owned(), "db1".to_owned()),
                ("tablespace".to_owned(), "USERS".to_owned()),
            ]),
            summary: "tablespace USERS 93% on db1/ORCL (limit 90%)".to_owned(),
            value: Some(93.0),
            assignee: Some("Li Na".to_owned()),
            opened: Time::from_ms(at),
            deadlines: Deadlines {
                respond: Some(Time::from_ms(at + 10 * 60_000)),
                fix_plan: Some(Time::from_ms(at + 30 * 60_000)),
                resolve: Some(Time::from_ms(at + 4 * 3_600_000)),
            },
            actor: "rule".to_owned(),
            note: Some("sample note".to_owned()),
            detail: Some(serde_json::json!({"step": "not_acknowledged"})),
            time: Time::from_ms(at),
        }
    }

    /// Whether the incident is still live after this change (its open-state topic is kept).
    pub fn is_live(&self) -> bool {
        self.state
            .parse::<patrol_incident::IncidentState>()
            .is_ok_and(|s| s.is_live())
    }
}

/// RFC 3339 (de)serialisation of milliseconds since the epoch.
mod rfc3339 {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn format(ms: i64) -> String {
        jiff::Timestamp::from_millisecond(ms).map_or_else(|_| ms.to_string(), |t| t.to_string())
    }

    pub fn serialize<S: Serializer>(ms: &i64, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format(*ms))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
        let text = String::deserialize(d)?;
        text.parse::<jiff::Timestamp>()
            .map(|t| t.as_millisecond())
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
#[path = "payload_tests.rs"]
mod tests;
