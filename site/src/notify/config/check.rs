//! `[notify]` and `[channel.<name>]` as written, and their check into [`NotifySettings`]
//! (every problem reported at file:line:column through the site checker). Secrets come from
//! `*_file` or `*_env`, never inline; templates are rendered against a sample event here, so a
//! broken one is refused at load.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use super::{
    ChannelConfig, ChannelKind, Credentials, DEFAULT_MAX_BACKLOG, DEFAULT_TIMEOUT, EmailConfig,
    MqttConfig, NotifySettings, RetryPolicy, SecretSource, SmtpSecurity, Templates, WebhookConfig,
};

/// The notification parts of the site file as written, and what they may refer to.
pub struct RawParts<'a, T> {
    /// `[notify]`.
    pub notify: Option<RawNotify>,
    /// `[channel.<name>]`.
    pub channels: BTreeMap<String, Spanned<RawChannel>>,
    /// `[[route]]`.
    pub routes: Vec<Spanned<crate::notify::route::RawRoute>>,
    /// (target name, channel name as written) for every target's channel.
    pub target_channels: T,
    /// The site's level names.
    pub levels: &'a [String],
    /// The site's calendar names.
    pub calendars: BTreeSet<String>,
    /// The site file's text (for positions inside strings).
    pub src: &'a str,
}

/// `[notify]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawNotify {
    /// Site name used in MQTT topics and payloads.
    site: Option<Spanned<String>>,
}

/// `[channel.<name>]`: one flat table whose `kind` says which keys apply (serde's tagged
/// enums would lose the positions the error messages need).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawChannel {
    /// `mqtt`, `webhook` or `email`.
    kind: Spanned<String>,
    /// Broker or SMTP server host (mqtt, email).
    host: Option<Spanned<String>>,
    /// Broker or SMTP port (mqtt, email).
    port: Option<Spanned<u16>>,
    /// `none`, `tls` (mqtt, email) or `starttls` (email).
    tls: Option<Spanned<String>>,
    /// A PEM CA file to trust.
    ca_file: Option<Spanned<String>>,
    /// User name (all kinds).
    username: Option<Spanned<String>>,
    /// Password, read from this file.
    password_file: Option<Spanned<String>>,
    /// Password, read from this environment variable.
    password_env: Option<Spanned<String>>,
    /// Delivery timeout.
    timeout: Option<Spanned<String>>,
    /// Backoff between tries.
    retry: Option<Spanned<RawRetry>>,
    /// Most notifications that may wait for the channel.
    max_backlog: Option<Spanned<i64>>,
    /// MQTT client id.
    client_id: Option<Spanned<String>>,
    /// MQTT topic prefix.
    topic_prefix: Option<Spanned<String>>,
    /// MQTT keep-alive.
    keep_alive: Option<Spanned<String>>,
    /// Webhook URL.
    url: Option<Spanned<String>>,
    /// Webhook extra headers.
    headers: Option<Spanned<BTreeMap<String, String>>>,
    /// Webhook body content type.
    content_type: Option<Spanned<String>>,
    /// Webhook bearer token from a file.
    token_file: Option<Spanned<String>>,
    /// Webhook bearer token from an environment variable.
    token_env: Option<Spanned<String>>,
    /// Webhook or e-mail body template.
    body_template: Option<Spanned<String>>,
    /// E-mail sender.
    from: Option<Spanned<String>>,
    /// E-mail recipients.
    to: Option<Spanned<Vec<String>>>,
    /// E-mail subject template.
    subject_template: Option<Spanned<String>>,
}

/// `[channel.<name>.retry]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRetry {
    initial: Option<String>,
    max: Option<String>,
    factor: Option<f64>,
    jitter: Option<f64>,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Mqtt,
    Webhook,
    Email,
}

impl Kind {
    const ALL: [(&'static str, Kind); 3] = [
        ("mqtt", Kind::Mqtt),
        ("webhook", Kind::Webhook),
        ("email", Kind::Email),
    ];

    fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, k)| *k == self)
            .map_or("?", |(n, _)| n)
    }
}

/// Where problems go: `(byte offset in the site file, message)`.
pub type Report<'a> = &'a mut dyn FnMut(usize, String);

/// Checks `[notify]`, every `[channel.X]` and `[[route]]`, and that each target's channel is
/// defined.
pub fn check<'t, T>(raw: RawParts<'_, T>, report: Report<'_>) -> NotifySettings
where
    T: Iterator<Item = (&'t str, &'t Spanned<String>)>,
{
    let RawParts {
        notify,
        channels,
        routes,
        target_channels,
        levels,
        calendars,
        src,
    } = raw;
    let mut settings = NotifySettings::default();
    let channel_names: BTreeSet<String> = channels.keys().cloned().collect();
    let known = crate::notify::route::Known {
        channels: &channel_names,
        levels,
        calendars: &calendars,
    };
    settings.routes = crate::notify::route::check(routes, &known, src, &mut *report);
    if let Some(site) = notify.and_then(|n| n.site) {
        if valid_name(site.get_ref()) {
            settings.site = site.into_inner();
        } else {
            report(
                site.span().start,
                format!(
                    "site name '{}' may hold only letters, digits, '-' and '_' (it is an MQTT topic level)",
                    site.get_ref()
                ),
            );
        }
    }
    for (t, ch) in target_channels {
        if !channels.contains_key(ch.get_ref()) {
            report(
                ch.span().start,
                format!(
                    "target '{t}' uses channel '{}', which is not defined (add a [channel.{}] table)",
                    ch.get_ref(),
                    ch.get_ref()
                ),
            );
        }
    }
    for (name, raw) in channels {
        let at = raw.span().start;
        if !valid_name(&name) {
            report(
                at,
                format!("channel name '{name}' may hold only letters, digits, '-' and '_'"),
            );
            continue;
        }
        let mut cx = ChannelCheck {
            name: &name,
            at,
            site: &settings.site,
            report: &mut *report,
            failed: false,
        };
        if let Some(c) = cx.channel(raw.into_inner())
            && !cx.failed
        {
            settings.channels.insert(name.clone(), c);
        }
    }
    settings
}

fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

struct ChannelCheck<'a> {
    name: &'a str,
    /// Where the channel's table is, for keys it lacks.
    at: usize,
    site: &'a str,
    report: &'a mut dyn FnMut(usize, String),
    failed: bool,
}

impl ChannelCheck<'_> {
    fn error(&mut self, at: usize, msg: impl Into<String>) {
        self.failed = true;
        (self.report)(at, format!("channel '{}': {}", self.name, msg.into()));
    }

    fn channel(&mut self, raw: RawChannel) -> Option<ChannelConfig> {
        let kind = match Kind::ALL.iter().find(|(n, _)| *n == raw.kind.get_ref()) {
            Some((_, k)) => *k,
            None => {
                self.error(
                    raw.kind.span().start,
                    format!(
                        "unknown kind '{}': expected mqtt, webhook or email",
                        raw.kind.get_ref()
                    ),
                );
                return None;
            }
        };
        self.applicability(kind, &raw);
        // Every check runs before giving up, so one load reports all of a channel's problems.
        let timeout = match &raw.timeout {
            Some(t) => self.duration(t, "timeout"),
            None => Some(DEFAULT_TIMEOUT),
        };
        let retry = self.retry(raw.retry.as_ref());
        let max_backlog = match &raw.max_backlog {
            Some(m) => match u64::try_from(*m.get_ref()) {
                Ok(n) if n > 0 => Some(n),
                _ => {
                    self.error(
                        m.span().start,
                        format!(
                            "max_backlog must be a positive number of notifications, not {}",
                            m.get_ref()
                        ),
                    );
                    None
                }
            },
            None => Some(DEFAULT_MAX_BACKLOG),
        };
        let credentials = self.credentials(&raw);
        // Read when the channel starts, like secrets.
        let ca_file = raw.ca_file.as_ref().map(|f| PathBuf::from(f.get_ref()));
        let kind = match kind {
            Kind::Mqtt => ChannelKind::Mqtt(self.mqtt(&raw, credentials, ca_file)?),
            Kind::Webhook => ChannelKind::Webhook(self.webhook(&raw, credentials, ca_file)?),
            Kind::Email => ChannelKind::Email(self.email(&raw, credentials, ca_file)?),
        };
        Some(ChannelConfig {
            name: self.name.to_owned(),
            timeout: timeout?,
            retry: retry?,
            max_backlog: max_backlog?,
            kind,
        })
    }

    /// Refuses keys that do not belong to `kind` (`url` on an mqtt channel...).
    fn applicability(&mut self, kind: Kind, raw: &RawChannel) {
        use Kind::*;
        let present: [(&str, Option<usize>, &[Kind]); 17] = [
            ("host", pos(&raw.host), &[Mqtt, Email]),
            ("port", pos(&raw.port), &[Mqtt, Email]),
            ("tls", pos(&raw.tls), &[Mqtt, Email]),
            ("client_id", pos(&raw.client_id), &[Mqtt]),
            ("topic_prefix", pos(&raw.topic_prefix), &[Mqtt]),
            ("keep_alive", pos(&raw.keep_alive), &[Mqtt]),
            ("url", pos(&raw.url), &[Webhook]),
            ("headers", pos(&raw.headers), &[Webhook]),
            ("content_type", pos(&raw.content_type), &[Webhook]),
            ("token_file", pos(&raw.token_file), &[Webhook]),
            ("token_env", pos(&raw.token_env), &[Webhook]),
            ("body_template", pos(&raw.body_template), &[Webhook, Email]),
            ("from", pos(&raw.from), &[Email]),
            ("to", pos(&raw.to), &[Email]),
            ("subject_template", pos(&raw.subject_template), &[Email]),
            ("username", pos(&raw.username), &[Mqtt, Webhook, Email]),
            ("ca_file", pos(&raw.ca_file), &[Mqtt, Webhook, Email]),
        ];
        for (key, at, kinds) in present {
            if let Some(at) = at
                && !kinds.contains(&kind)
            {
                self.error(
                    at,
                    format!("'{key}' does not apply to a {} channel", kind.name()),
                );
            }
        }
    }

    fn required<'s>(&mut self, v: &'s Option<Spanned<String>>, key: &str) -> Option<&'s str> {
        match v {
            Some(s) if !s.get_ref().trim().is_empty() => Some(s.get_ref().trim()),
            Some(s) => {
                self.error(s.span().start, format!("'{key}' must not be empty"));
                None
            }
            None => {
                self.missing(key);
                None
            }
        }
    }

    fn missing(&mut self, key: &str) {
        self.error(self.at, format!("'{key}' is missing"));
    }

    fn duration(&mut self, field: &Spanned<String>, key: &str) -> Option<Duration> {
        match humantime::parse_duration(field.get_ref().trim()) {
            Ok(d) if !d.is_zero() => Some(d),
            Ok(_) => {
                self.error(
                    field.span().start,
                    format!("'{key}' must be longer than zero"),
                );
                None
            }
            Err(e) => {
                self.error(
                    field.span().start,
                    format!(
                        "invalid duration '{}' for '{key}': {e} (write e.g. \"10s\", \"1m 30s\")",
                        field.get_ref()
                    ),
                );
                None
            }
        }
    }

    fn retry(&mut self, raw: Option<&Spanned<RawRetry>>) -> Option<RetryPolicy> {
        let Some(raw) = raw else {
            return Some(RetryPolicy::default());
        };
        let at = raw.span().start;
        let r = raw.get_ref();
        let mut policy = RetryPolicy::default();
        for (key, text, slot) in [
            ("initial", &r.initial, &mut policy.initial),
            ("max", &r.max, &mut policy.max),
        ] {
            if let Some(text) = text {
                match humantime::parse_duration(text.trim()) {
                    Ok(d) => *slot = d,
                    Err(e) => self.error(
                        at,
                        format!("retry: invalid duration '{text}' for '{key}': {e}"),
                    ),
                }
            }
        }
        if let Some(f) = r.factor {
            policy.factor = f;
        }
        if let Some(j) = r.jitter {
            policy.jitter = j;
        }
        match policy.check() {
            Ok(()) => Some(policy),
            Err(msg) => {
                self.error(at, msg);
                None
            }
        }
    }

    /// Where a secret is kept: `<key>_file` or `<key>_env` (exactly one).
    fn secret(
        &mut self,
        file: &Option<Spanned<String>>,
        env: &Option<Spanned<String>>,
        key: &str,
    ) -> Option<SecretSource> {
        match (file, env) {
            (Some(_), Some(e)) => {
                self.error(
                    e.span().start,
                    format!("give either '{key}_file' or '{key}_env', not both"),
                );
                None
            }
            (Some(f), None) if f.get_ref().trim().is_empty() => {
                self.error(f.span().start, format!("'{key}_file' must not be empty"));
                None
            }
            (Some(f), None) => Some(SecretSource::File(PathBuf::from(f.get_ref()))),
            (None, Some(e)) if e.get_ref().trim().is_empty() => {
                self.error(e.span().start, format!("'{key}_env' must not be empty"));
                None
            }
            (None, Some(e)) => Some(SecretSource::Env(e.get_ref().clone())),
            (None, None) => None,
        }
    }

    fn credentials(&mut self, raw: &RawChannel) -> Option<Credentials> {
        let password = self.secret(&raw.password_file, &raw.password_env, "password");
        match (&raw.username, password) {
            (Some(u), Some(p)) => Some(Credentials {
                username: u.get_ref().clone(),
                password: p,
            }),
            (Some(u), None) if raw.password_file.is_none() && raw.password_env.is_none() => {
                self.error(
                    u.span().start,
                    "'username' needs a password: set 'password_file' or 'password_env' (passwords are never written inline)",
                );
                None
            }
            (None, Some(_)) => {
                let at = pos(&raw.password_file)
                    .or(pos(&raw.password_env))
                    .unwrap_or(0);
                self.error(at, "a password is given without 'username'");
                None
            }
            _ => None,
        }
    }

    fn tls(&mut self, raw: &RawChannel, allowed: &[&str]) -> Option<String> {
        let Some(t) = &raw.tls else {
            return Some("none".to_owned());
        };
        if allowed.contains(&t.get_ref().as_str()) {
            Some(t.get_ref().clone())
        } else {
            self.error(
                t.span().start,
                format!(
                    "unknown tls mode '{}': expected {}",
                    t.get_ref(),
                    allowed.join(", ")
                ),
            );
            None
        }
    }

    fn template(&mut self, t: &mut Templates, field: &Option<Spanned<String>>, key: &str) {
        let Some(src) = field else { return };
        if let Err(e) = t.add(key.trim_end_matches("_template"), src.get_ref()) {
            let line = e
                .line
                .map_or(String::new(), |l| format!(" (line {l} of the template)"));
            self.error(
                src.span().start,
                format!(
                    "'{key}' does not render against a sample event{line}: {}",
                    e.message
                ),
            );
        }
    }

    fn mqtt(
        &mut self,
        raw: &RawChannel,
        credentials: Option<Credentials>,
        ca_file: Option<PathBuf>,
    ) -> Option<MqttConfig> {
        let host = self.required(&raw.host, "host").map(str::to_owned);
        let tls = self.tls(raw, &["none", "tls"]);
        let topic_prefix = match &raw.topic_prefix {
            Some(p) => {
                let s = p.get_ref().trim_end_matches('/');
                if s.is_empty() || s.contains(['+', '#']) || s.starts_with('/') {
                    self.error(
                        p.span().start,
                        "'topic_prefix' must be a topic without wildcards ('+', '#') or a leading '/'",
                    );
                }
                s.to_owned()
            }
            None => format!("patrol/{}", self.site),
        };
        let keep_alive = match &raw.keep_alive {
            Some(k) => self.duration(k, "keep_alive")?,
            None => Duration::from_secs(30),
        };
        let tls = tls?;
        Some(MqttConfig {
            host: host?,
            port: raw
                .port
                .as_ref()
                .map_or(if tls == "tls" { 8883 } else { 1883 }, |p| *p.get_ref()),
            client_id: raw.client_id.as_ref().map_or_else(
                || format!("patrol-{}-{}", self.site, self.name),
                |c| c.get_ref().clone(),
            ),
            topic_prefix,
            keep_alive,
            credentials,
            tls: (tls == "tls").then_some(ca_file),
        })
    }

    fn webhook(
        &mut self,
        raw: &RawChannel,
        credentials: Option<Credentials>,
        ca_file: Option<PathBuf>,
    ) -> Option<WebhookConfig> {
        let url = self.required(&raw.url, "url").and_then(|u| {
            let at = pos(&raw.url).unwrap_or(0);
            match url::Url::parse(u) {
                Ok(url) if matches!(url.scheme(), "http" | "https") => Some(url),
                Ok(url) => {
                    self.error(
                        at,
                        format!("'url' must be http:// or https://, not {}://", url.scheme()),
                    );
                    None
                }
                Err(e) => {
                    self.error(at, format!("invalid 'url' '{u}': {e}"));
                    None
                }
            }
        });
        let token = self.secret(&raw.token_file, &raw.token_env, "token");
        let mut templates = Templates::default();
        self.template(&mut templates, &raw.body_template, "body_template");
        let mut headers = Vec::new();
        if let Some(h) = &raw.headers {
            for (k, v) in h.get_ref() {
                let bad_name = http::HeaderName::from_bytes(k.as_bytes()).is_err();
                let bad_value = http::HeaderValue::from_str(v).is_err();
                if bad_name || bad_value {
                    self.error(
                        h.span().start,
                        format!("header '{k}' is not a valid HTTP header"),
                    );
                } else {
                    headers.push((k.clone(), v.clone()));
                }
            }
        }
        let default_type = if raw.body_template.is_some() {
            "text/plain; charset=utf-8"
        } else {
            "application/json"
        };
        Some(WebhookConfig {
            url: url?,
            headers,
            content_type: raw
                .content_type
                .as_ref()
                .map_or(default_type.to_owned(), |c| c.get_ref().clone()),
            credentials,
            token,
            ca_file,
            templates,
        })
    }

    fn email(
        &mut self,
        raw: &RawChannel,
        credentials: Option<Credentials>,
        ca_file: Option<PathBuf>,
    ) -> Option<EmailConfig> {
        let host = self.required(&raw.host, "host").map(str::to_owned);
        let security = self
            .tls(raw, &["none", "starttls", "tls"])
            .map(|t| match t.as_str() {
                "starttls" => SmtpSecurity::StartTls,
                "tls" => SmtpSecurity::Tls,
                _ => SmtpSecurity::None,
            });
        let from = self.required(&raw.from, "from").map(str::to_owned);
        if let (Some(f), Some(spanned)) = (&from, &raw.from)
            && !crate::notify::mailbox::is_mailbox(f)
        {
            self.error(
                spanned.span().start,
                format!("'from' is not a mail address: '{f}'"),
            );
        }
        let to = match &raw.to {
            Some(to) if !to.get_ref().is_empty() => {
                for addr in to.get_ref() {
                    if !crate::notify::mailbox::is_mailbox(addr) {
                        self.error(
                            to.span().start,
                            format!("'to' holds '{addr}', which is not a mail address"),
                        );
                    }
                }
                Some(to.get_ref().clone())
            }
            Some(to) => {
                self.error(to.span().start, "'to' needs at least one address");
                None
            }
            None => {
                self.missing("to");
                None
            }
        };
        let mut templates = Templates::default();
        self.template(&mut templates, &raw.subject_template, "subject_template");
        self.template(&mut templates, &raw.body_template, "body_template");
        let security = security?;
        Some(EmailConfig {
            host: host?,
            port: raw.port.as_ref().map_or(
                match security {
                    SmtpSecurity::None => 25,
                    SmtpSecurity::StartTls => 587,
                    SmtpSecurity::Tls => 465,
                },
                |p| *p.get_ref(),
            ),
            security,
            ca_file,
            credentials,
            from: from?,
            to: to?,
            templates,
        })
    }
}

fn pos<T>(v: &Option<Spanned<T>>) -> Option<usize> {
    v.as_ref().map(|s| s.span().start)
}
