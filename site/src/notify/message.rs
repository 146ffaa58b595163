//! One notification as every channel is given it: the payload with its compact JSON and its
//! default plain-text subject and body. Routes decide on it and templates are rendered
//! against it.

use std::collections::BTreeMap;

use super::payload::{Payload, PayloadError};
use super::text;

/// One notification, ready for any channel.
///
/// Built once per (event, site) and handed to every channel the event is routed to. The
/// outbox stores only [`Message::json`]; [`Message::from_json`] rebuilds the rest, so what a
/// channel sends after a restart is byte for byte what it would have sent before.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    /// The journal event id: the deduplication key every channel carries to the receiver.
    pub event_id: u64,
    /// The incident's id.
    pub incident_id: u64,
    /// Routing facts: the level (`P1`...).
    pub level: String,
    /// Routing facts: the host.
    pub host: String,
    /// Routing facts: the event kind (`opened`...).
    pub kind: String,
    /// Routing facts: the series labels.
    pub labels: BTreeMap<String, String>,
    /// The structured payload (what templates see).
    pub payload: Payload,
    /// The payload as compact JSON: the body MQTT and template-less webhooks send.
    pub json: String,
    /// The default plain-text subject (`[P1] OPENED #42 db1: ...`), for channels without a
    /// subject template.
    pub subject: String,
    /// The default plain-text body, for channels without a body template.
    pub text: String,
}

impl Message {
    /// The message for `payload`.
    pub fn new(payload: Payload) -> Self {
        Message {
            event_id: payload.event_id,
            incident_id: payload.incident_id,
            level: payload.level.clone(),
            host: payload.host.clone(),
            kind: payload.kind.clone(),
            labels: payload.labels.clone(),
            json: payload.to_json(),
            subject: text::subject(&payload),
            text: text::body(&payload),
            payload,
        }
    }

    /// Rebuilds a message from the JSON the outbox stored.
    pub fn from_json(json: &str) -> Result<Self, PayloadError> {
        Payload::from_json(json).map(Message::new)
    }
}
