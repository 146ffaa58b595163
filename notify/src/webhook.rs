//! The webhook channel: an HTTP POST of the payload JSON, or of the channel's `body`
//! template (an SMS gateway's or a chat tool's API), with a timeout.
//!
//! Outcome: 2xx is delivered; connection errors, timeouts, 5xx, 429, 408, 401 and 403 are
//! transient (the dispatcher retries with the channel's
//! [`RetryPolicy`](patrol_site::notify::RetryPolicy)); any other status is permanent (the request
//! itself is wrong, resending it cannot help).

use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};

use crate::channel::{Channel, DeliveryError, Message};
use crate::secret::{ReadSecret, Secret};
use crate::tls;
use patrol_site::notify::config::WebhookConfig;
use patrol_site::notify::template::Templates;

/// The event id travels in this header too, so a receiver can deduplicate without parsing a
/// templated body.
pub const EVENT_ID_HEADER: &str = "x-patrol-event-id";

/// How much of an error response's body is kept for the log and the dead-letter record.
const ERROR_BODY_CHARS: usize = 200;

/// A webhook channel.
pub struct WebhookChannel {
    name: String,
    client: reqwest::Client,
    url: reqwest::Url,
    content_type: HeaderValue,
    templates: Templates,
    timeout: Duration,
    /// Basic authentication (user, password).
    basic: Option<(String, Secret)>,
    token: Option<Secret>,
}

/// A webhook channel that cannot be set up.
#[derive(Debug, thiserror::Error)]
pub enum WebhookSetupError {
    /// TLS roots or CA file.
    #[error("channel '{0}': {1}")]
    Tls(String, #[source] tls::TlsError),
    /// The HTTP client refused its settings.
    #[error("channel '{0}': HTTP client: {1}")]
    Client(String, #[source] reqwest::Error),
    /// A header that is not valid, or a secret that cannot be read.
    #[error("channel '{0}': {1}")]
    Header(String, String),
}

impl WebhookChannel {
    /// Builds the channel (no connection is made until the first delivery).
    pub fn new(
        name: &str,
        cfg: &WebhookConfig,
        timeout: Duration,
    ) -> Result<WebhookChannel, WebhookSetupError> {
        let tls = tls::client_config(cfg.ca_file.as_deref())
            .map_err(|e| WebhookSetupError::Tls(name.to_owned(), e))?;
        let headers =
            default_headers(cfg).map_err(|e| WebhookSetupError::Header(name.to_owned(), e))?;
        let client = reqwest::Client::builder()
            .tls_backend_preconfigured((*tls).clone())
            .timeout(timeout)
            .connect_timeout(timeout)
            .default_headers(headers)
            // A gateway that redirects a POST elsewhere is misconfigured; say so, don't follow.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| WebhookSetupError::Client(name.to_owned(), e))?;
        let secret_error = |e| WebhookSetupError::Header(name.to_owned(), e);
        let token = cfg
            .token
            .as_ref()
            .map(|t| t.read())
            .transpose()
            .map_err(secret_error)?;
        let basic = match &cfg.credentials {
            Some(c) => Some((c.username.clone(), c.password.read().map_err(secret_error)?)),
            None => None,
        };
        let content_type = HeaderValue::from_str(&cfg.content_type).map_err(|_| {
            WebhookSetupError::Header(
                name.to_owned(),
                format!(
                    "content_type '{}' is not a valid header value",
                    cfg.content_type
                ),
            )
        })?;
        Ok(WebhookChannel {
            name: name.to_owned(),
            client,
            url: cfg.url.clone(),
            content_type,
            templates: cfg.templates.clone(),
            timeout,
            basic,
            token,
        })
    }

    /// The body for `msg`: the rendered template, or the payload JSON.
    pub fn body(&self, msg: &Message) -> Result<String, DeliveryError> {
        match self.templates.render("body", msg) {
            Some(Ok(body)) => Ok(body),
            // It rendered against the sample at load; a failure now is this event's data
            // and will not change on retry.
            Some(Err(e)) => Err(DeliveryError::Permanent(format!(
                "body template does not render for event {}: {e}",
                msg.event_id
            ))),
            None => Ok(msg.json.clone()),
        }
    }
}

fn default_headers(cfg: &WebhookConfig) -> Result<HeaderMap, String> {
    let mut headers = HeaderMap::new();
    for (k, v) in &cfg.headers {
        let name =
            HeaderName::from_bytes(k.as_bytes()).map_err(|e| format!("header '{k}': {e}"))?;
        let value = HeaderValue::from_str(v).map_err(|e| format!("header '{k}': {e}"))?;
        headers.insert(name, value);
    }
    Ok(headers)
}

/// `None` for success, else whether the failure is transient. 401 and 403 count as transient:
/// a rejected token or password is the channel's configuration, not the message's, so the
/// events wait until an operator fixes it rather than being dead-lettered.
pub fn classify(status: StatusCode) -> Option<bool> {
    if status.is_success() {
        None
    } else {
        Some(
            status.is_server_error()
                || status == StatusCode::TOO_MANY_REQUESTS
                || status == StatusCode::REQUEST_TIMEOUT
                || status == StatusCode::UNAUTHORIZED
                || status == StatusCode::FORBIDDEN,
        )
    }
}

#[async_trait::async_trait]
impl Channel for WebhookChannel {
    fn name(&self) -> &str {
        &self.name
    }

    async fn probe(&self) -> Result<(), DeliveryError> {
        let host = self.url.host_str().unwrap_or_default();
        let port = self.url.port_or_known_default().unwrap_or(80);
        let connect = tokio::net::TcpStream::connect((host.trim_matches(['[', ']']), port));
        match tokio::time::timeout(self.timeout, connect).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(DeliveryError::Transient(format!(
                "cannot connect to {host}:{port}: {e}"
            ))),
            Err(_) => Err(DeliveryError::Transient(format!(
                "cannot connect to {host}:{port} within {}",
                humantime::format_duration(self.timeout)
            ))),
        }
    }

    async fn deliver(&self, msg: &Message) -> Result<(), DeliveryError> {
        let body = self.body(msg)?;
        let mut req = self
            .client
            .post(self.url.clone())
            .header(CONTENT_TYPE, self.content_type.clone())
            .header(EVENT_ID_HEADER, msg.event_id)
            .body(body);
        if let Some(t) = &self.token {
            req = req.bearer_auth(t.expose());
        } else if let Some((user, password)) = &self.basic {
            req = req.basic_auth(user, Some(password.expose()));
        }
        let resp = req.send().await.map_err(|e| {
            let what = if e.is_timeout() {
                "timed out"
            } else {
                "failed"
            };
            DeliveryError::Transient(format!(
                "POST {} {what}: {}",
                self.url,
                crate::error_chain(&e)
            ))
        })?;
        let status = resp.status();
        let Some(transient) = classify(status) else {
            return Ok(());
        };
        let text = resp.text().await.unwrap_or_default();
        let excerpt: String = text.chars().take(ERROR_BODY_CHARS).collect();
        let why = format!("POST {} answered {status}: {}", self.url, excerpt.trim());
        Err(if transient {
            DeliveryError::Transient(why)
        } else {
            DeliveryError::Permanent(why)
        })
    }
}
