//! What every channel implements ([`Channel`]), what it is given ([`Message`]) and how it
//! fails ([`DeliveryError`]) — the seam between the channels and the durable outbox.

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

/// Why a delivery was not confirmed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeliveryError {
    /// Worth retrying: the peer was unreachable, busy, timed out or failed on its side.
    #[error("temporary failure: {0}")]
    Transient(String),
    /// Retrying the same message cannot succeed (rejected as malformed, unauthorised
    /// recipient...): the dispatcher dead-letters it.
    #[error("permanent failure: {0}")]
    Permanent(String),
}

impl DeliveryError {
    /// Whether the dispatcher should try again.
    pub fn is_transient(&self) -> bool {
        matches!(self, DeliveryError::Transient(_))
    }
}

/// A notification channel: MQTT, webhook or e-mail.
///
/// `deliver` may be called concurrently. It is cancel-safe in the sense the outbox needs:
/// dropping the future never makes a later delivery report the wrong message.
#[async_trait::async_trait]
pub trait Channel: Send + Sync {
    /// The channel's name in the site file (`[channel.<name>]`).
    fn name(&self) -> &str;

    /// Sends `msg`. Returns `Ok` only when the peer confirmed it: MQTT PUBACK for every
    /// publish, HTTP 2xx, SMTP 250 for the message.
    async fn deliver(&self, msg: &Message) -> Result<(), DeliveryError>;

    /// Checks, without sending anything, that the peer is reachable and (where the protocol
    /// says so before a message) accepts the credentials: for a start-up line naming a channel
    /// that cannot work while the others run. MQTT: the broker's CONNACK; SMTP: connect,
    /// EHLO, STARTTLS, AUTH and NOOP; webhook: a TCP connection to the URL's host and port.
    async fn probe(&self) -> Result<(), DeliveryError>;
}
