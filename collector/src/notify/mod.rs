//! Notification channels: how incident changes reach people and dashboards.
//!
//! - [`payload`]: the versioned JSON every channel sends (`patrol.notify.v1`);
//! - [`channel`]: the [`Channel`] trait, [`Message`] and [`DeliveryError`] — the seam the
//!   durable outbox and dispatcher build on;
//! - [`mqtt`], [`webhook`], [`email`]: the channels;
//! - [`config`]: `[notify]` and `[channel.<name>]` in the site file; [`template`]: per-channel
//!   templates checked at load; [`route`]: `[[route]]` (which changes go where); [`retry`]:
//!   per-channel backoff; [`text`]: the default
//!   plain-text subject and body; [`tls`]: the shared rustls setup.
//!
//! Reference for operators: docs/notifications.md.

pub mod channel;
pub mod config;
pub mod counted;
pub mod digest;
pub mod dispatch;
pub mod email;
pub mod mqtt;
pub mod payload;
pub mod retry;
pub mod route;
pub mod router;
pub mod template;
pub mod text;
pub mod tls;
pub mod webhook;

use std::collections::BTreeMap;
use std::sync::Arc;

pub use channel::{Channel, DeliveryError, Message};
pub use config::{ChannelConfig, ChannelKind, DEFAULT_MAX_BACKLOG, NotifySettings};
pub use payload::Payload;
pub use retry::RetryPolicy;

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
