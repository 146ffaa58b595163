//! The checked `[notify]` and `[channel.<name>]` settings of a site: what the channels and the
//! dispatcher are built from. The tables as written and their check live in `check.rs`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use super::retry::RetryPolicy;
use super::template::Templates;

mod check;
pub use check::{RawChannel, RawNotify, RawParts, Report, check};

/// Default `[notify] site`.
pub const DEFAULT_SITE: &str = "default";

/// Default per-delivery timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// How many notifications may wait for one channel before new ones are refused (each then
/// becomes a dead letter): about 100 MB of outbox for a channel that stays down.
pub const DEFAULT_MAX_BACKLOG: u64 = 100_000;

/// The checked notification settings of a site.
#[derive(Debug, Clone)]
pub struct NotifySettings {
    /// Site name, in topics and payloads.
    pub site: String,
    /// By name.
    pub channels: BTreeMap<String, ChannelConfig>,
    /// `[[route]]`, in file order.
    pub routes: Vec<super::route::Route>,
}

impl Default for NotifySettings {
    fn default() -> Self {
        Self {
            site: DEFAULT_SITE.to_owned(),
            channels: BTreeMap::new(),
            routes: Vec::new(),
        }
    }
}

/// One checked `[channel.<name>]`.
#[derive(Debug, Clone)]
pub struct ChannelConfig {
    /// The table's name.
    pub name: String,
    /// How long one delivery may take before it counts as a transient failure.
    pub timeout: Duration,
    /// Backoff the dispatcher applies between tries.
    pub retry: RetryPolicy,
    /// At most this many notifications wait for the channel; further ones are dead letters.
    pub max_backlog: u64,
    /// Kind-specific settings.
    pub kind: ChannelKind,
}

/// The kind of a channel and its settings.
#[derive(Debug, Clone)]
pub enum ChannelKind {
    /// `kind = "mqtt"`.
    Mqtt(MqttConfig),
    /// `kind = "webhook"`.
    Webhook(WebhookConfig),
    /// `kind = "email"`.
    Email(EmailConfig),
}

impl ChannelKind {
    /// `mqtt`, `webhook` or `email`, as written in `kind`.
    pub fn name(&self) -> &'static str {
        match self {
            ChannelKind::Mqtt(_) => "mqtt",
            ChannelKind::Webhook(_) => "webhook",
            ChannelKind::Email(_) => "email",
        }
    }
}

/// Where a secret is kept. Read when the channel starts (not when the site file is checked),
/// so a site file can be checked on a machine without the secrets, and a missing secret
/// stops only its own channel, with an error naming it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    /// `*_file`: the file's content, without its trailing newline.
    File(PathBuf),
    /// `*_env`: the environment variable's value.
    Env(String),
}

/// User name and where its password is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    /// User name.
    pub username: String,
    /// Password.
    pub password: SecretSource,
}

/// MQTT settings.
#[derive(Debug, Clone)]
pub struct MqttConfig {
    /// Broker host.
    pub host: String,
    /// Broker port (1883, 8883 with TLS).
    pub port: u16,
    /// MQTT client id.
    pub client_id: String,
    /// Topic prefix (`patrol/<site>`).
    pub topic_prefix: String,
    /// Keep-alive interval.
    pub keep_alive: Duration,
    /// Optional credentials.
    pub credentials: Option<Credentials>,
    /// TLS: `Some(ca_file)` (None in it: the system roots).
    pub tls: Option<Option<PathBuf>>,
}

/// Webhook settings.
#[derive(Debug, Clone)]
pub struct WebhookConfig {
    /// Where to POST.
    pub url: url::Url,
    /// Extra headers.
    pub headers: Vec<(String, String)>,
    /// `Content-Type` of the body.
    pub content_type: String,
    /// Basic authentication.
    pub credentials: Option<Credentials>,
    /// `Authorization: Bearer` token.
    pub token: Option<SecretSource>,
    /// A CA file to trust besides the system roots (private gateways).
    pub ca_file: Option<PathBuf>,
    /// `body` template (otherwise the payload JSON is sent).
    pub templates: Templates,
}

/// How the SMTP connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpSecurity {
    /// Plain SMTP (a relay on the local network).
    None,
    /// STARTTLS, required.
    StartTls,
    /// TLS from the first byte (port 465).
    Tls,
}

/// E-mail settings.
#[derive(Debug, Clone)]
pub struct EmailConfig {
    /// SMTP server host.
    pub host: String,
    /// SMTP port.
    pub port: u16,
    /// Transport security.
    pub security: SmtpSecurity,
    /// A CA file to trust besides the system roots.
    pub ca_file: Option<PathBuf>,
    /// Optional SMTP AUTH.
    pub credentials: Option<Credentials>,
    /// Sender mailbox.
    pub from: String,
    /// Recipient mailboxes.
    pub to: Vec<String>,
    /// `subject` and `body` templates (otherwise the default texts).
    pub templates: Templates,
}

#[cfg(test)]
mod tests;
