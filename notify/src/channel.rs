//! What every channel implements ([`Channel`]), what it is given ([`Message`], defined with
//! the payload in `patrol-site`) and how it fails ([`DeliveryError`]) — the seam between the
//! channels and the durable outbox.

pub use patrol_site::notify::Message;

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
