//! Notification delivery: how incident changes reach people and dashboards.
//!
//! - [`channel`]: the [`Channel`] trait and [`DeliveryError`] — the seam between the channels
//!   and the durable outbox;
//! - [`mqtt`], [`webhook`], [`email`]: the channels; [`tls`]: their shared rustls setup;
//!   [`secret`]: reading the secrets the site file names, when a channel starts;
//! - [`router`]: which channels a committed event goes to (run by the store inside the
//!   transaction that journals it); [`dispatch`]: one worker per channel delivering the outbox
//!   in order, with retries, grouping ([`digest`]) and rate limits; [`counted`]: one try,
//!   counted and logged.
//!
//! What the channels are built from — `[notify]`, `[channel.<name>]`, `[[route]]`, templates,
//! the `patrol.notify.v1` payload — is the site file's (`patrol_site::notify`).
//! Reference for operators: docs/notifications.md.
//!
//! Must never depend on: the collector (the daemon wires this crate in through
//! [`dispatch::Context`]) or the rule engine. The store is read and written only through its
//! public API.

pub mod channel;
pub mod counted;
pub mod digest;
pub mod dispatch;
pub mod email;
pub mod mqtt;
pub mod router;
pub mod secret;
pub mod tls;
pub mod webhook;

use std::collections::BTreeMap;
use std::sync::Arc;

pub use channel::{Channel, DeliveryError, Message};
pub use patrol_site::notify::{ChannelConfig, ChannelKind, NotifySettings, Payload, RetryPolicy};

/// A channel that could not be set up (unreadable CA file, invalid header...). Its events
/// stay in the outbox; the other channels run.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// MQTT.
    #[error(transparent)]
    Mqtt(#[from] mqtt::MqttSetupError),
    /// Webhook.
    #[error(transparent)]
    Webhook(#[from] webhook::WebhookSetupError),
    /// E-mail.
    #[error(transparent)]
    Email(#[from] email::EmailSetupError),
}

/// Builds one channel. MQTT connects in the background (needs a tokio runtime); a broker
/// that is down is not a setup error but a transient delivery failure.
pub fn build(cfg: &ChannelConfig) -> Result<Arc<dyn Channel>, SetupError> {
    Ok(match &cfg.kind {
        ChannelKind::Mqtt(m) => Arc::new(mqtt::MqttChannel::start(&cfg.name, m, cfg.timeout)?),
        ChannelKind::Webhook(w) => {
            Arc::new(webhook::WebhookChannel::new(&cfg.name, w, cfg.timeout)?)
        }
        ChannelKind::Email(e) => Arc::new(email::EmailChannel::new(&cfg.name, e, cfg.timeout)?),
    })
}

/// The channels that started, by name, and the ones that did not with their errors.
pub type Built = (
    BTreeMap<String, Arc<dyn Channel>>,
    Vec<(String, SetupError)>,
);

/// Builds every configured channel; the ones that fail are returned apart, each error naming
/// its channel, so the caller logs them and runs the rest.
pub fn build_all(settings: &NotifySettings) -> Built {
    let mut ok = BTreeMap::new();
    let mut failed = Vec::new();
    for (name, cfg) in &settings.channels {
        match build(cfg) {
            Ok(c) => {
                ok.insert(name.clone(), c);
            }
            Err(e) => failed.push((name.clone(), e)),
        }
    }
    (ok, failed)
}

/// An error with its causes (`a: b: c`): transport errors say little at the top level.
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        out.push_str(": ");
        out.push_str(&s.to_string());
        cur = s.source();
    }
    out
}
