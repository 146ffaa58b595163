//! The e-mail channel: plain-text mail over SMTP (`lettre`), plain, STARTTLS or TLS, with
//! optional AUTH. Delivered means the server answered 250 to the message's data.
//!
//! The subject and body are the default texts (`[P1] OPENED #42 db1: ...`, deadlines with time
//! left, how to acknowledge) unless the channel has `subject_template` / `body_template`.
//! The Message-ID is derived from the event id, so a mail system that sees the same event
//! twice can tell.
//!
//! Besides incident changes the channel carries [`Document`]s: an inspection sheet made on the
//! site's schedule goes out as a short text with its HTML rendering attached, over the same
//! transport, with the same outcome classification.

use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::message::{
    Attachment as MailAttachment, Mailbox, Message as Mail, MultiPart, SinglePart,
};
use lettre::transport::smtp::authentication::Credentials as SmtpCredentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use crate::channel::{Channel, DeliveryError, Message};
use crate::secret::ReadSecret;
use patrol_site::notify::config::{EmailConfig, SmtpSecurity};
use patrol_site::notify::template::Templates;

/// An e-mail channel.
pub struct EmailChannel {
    name: String,
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    to: Vec<Mailbox>,
    templates: Templates,
    /// lettre applies its timeout to connecting only; a server that accepts and never greets
    /// (plain SMTP spoken to an SMTPS port) would hold a delivery until it hangs up.
    timeout: Duration,
}

/// A document sent by e-mail apart from incident changes (an inspection sheet).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    /// The subject line.
    pub subject: String,
    /// The plain-text body.
    pub text: String,
    /// A file attached to it.
    pub attachment: Option<Attachment>,
    /// Unique per document and the same for every send of it, so a mail system that gets it
    /// twice can tell (the Message-ID is `<patrol.{id}@{domain}>`).
    pub id: String,
    /// The Message-ID's domain part (the site).
    pub domain: String,
}

/// A file attached to a [`Document`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    /// File name shown to the reader (`inspection-2026-10-09-1600.html`).
    pub filename: String,
    /// Its MIME type (`text/html; charset=utf-8`).
    pub content_type: String,
    /// Its content.
    pub body: Vec<u8>,
}

/// An e-mail channel that cannot be set up.
#[derive(Debug, thiserror::Error)]
#[error("channel '{channel}': {reason}")]
pub struct EmailSetupError {
    channel: String,
    reason: String,
}

impl EmailChannel {
    /// Builds the channel (the SMTP connection is opened per delivery).
    pub fn new(
        name: &str,
        cfg: &EmailConfig,
        timeout: Duration,
    ) -> Result<EmailChannel, EmailSetupError> {
        let fail = |reason: String| EmailSetupError {
            channel: name.to_owned(),
            reason,
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&cfg.host)
            .port(cfg.port)
            .timeout(Some(timeout));
        if cfg.security != SmtpSecurity::None {
            let mut params = TlsParameters::builder(cfg.host.clone());
            if let Some(ca) = &cfg.ca_file {
                let pem = std::fs::read(ca)
                    .map_err(|e| fail(format!("cannot read CA file {}: {e}", ca.display())))?;
                let cert = Certificate::from_pem(&pem)
                    .map_err(|e| fail(format!("CA file {}: {e}", ca.display())))?;
                params = params.add_root_certificate(cert);
            }
            let params = params
                .build_rustls()
                .map_err(|e| fail(format!("TLS setup: {e}")))?;
            builder = builder.tls(match cfg.security {
                SmtpSecurity::Tls => Tls::Wrapper(params),
                _ => Tls::Required(params),
            });
        }
        if let Some(c) = &cfg.credentials {
            let password = c.password.read().map_err(fail)?;
            builder = builder.credentials(SmtpCredentials::new(
                c.username.clone(),
                password.expose().to_owned(),
            ));
        }
        let parse = |a: &str| {
            a.parse::<Mailbox>()
                .map_err(|e| fail(format!("'{a}' is not a mail address: {e}")))
        };
        Ok(EmailChannel {
            name: name.to_owned(),
            transport: builder.build(),
            from: parse(&cfg.from)?,
            to: cfg.to.iter().map(|a| parse(a)).collect::<Result<_, _>>()?,
            templates: cfg.templates.clone(),
            timeout,
        })
    }

    /// The mail for `msg`.
    pub fn compose(&self, msg: &Message) -> Result<Mail, DeliveryError> {
        let render = |name: &str, default: &str| match self.templates.render(name, msg) {
            Some(Ok(text)) => Ok(text),
            Some(Err(e)) => Err(DeliveryError::Permanent(format!(
                "{name} template does not render for event {}: {e}",
                msg.event_id
            ))),
            None => Ok(default.to_owned()),
        };
        // A header cannot hold a line break.
        let subject = render("subject", &msg.subject)?.replace(['\r', '\n'], " ");
        let body = render("body", &msg.text)?;
        let mut mail = Mail::builder()
            .from(self.from.clone())
            .subject(subject)
            .message_id(Some(format!(
                "<patrol.event.{}.incident.{}@{}>",
                msg.event_id, msg.incident_id, msg.payload.site
            )));
        for to in &self.to {
            mail = mail.to(to.clone());
        }
        mail.header(ContentType::TEXT_PLAIN)
            .body(body)
            .map_err(|e| DeliveryError::Permanent(format!("cannot build the mail: {e}")))
    }

    /// The mail for `doc`: its text, and its attachment when it has one.
    pub fn compose_document(&self, doc: &Document) -> Result<Mail, DeliveryError> {
        let bad = |e: String| DeliveryError::Permanent(format!("cannot build the mail: {e}"));
        let mut mail = Mail::builder()
            .from(self.from.clone())
            .subject(doc.subject.replace(['\r', '\n'], " "))
            .message_id(Some(format!("<patrol.{}@{}>", doc.id, doc.domain)));
        for to in &self.to {
            mail = mail.to(to.clone());
        }
        let text = SinglePart::plain(doc.text.clone());
        match &doc.attachment {
            None => mail.singlepart(text),
            Some(a) => {
                let kind = ContentType::parse(&a.content_type).map_err(|e| bad(e.to_string()))?;
                mail.multipart(
                    MultiPart::mixed().singlepart(text).singlepart(
                        MailAttachment::new(a.filename.clone()).body(a.body.clone(), kind),
                    ),
                )
            }
        }
        .map_err(|e| bad(e.to_string()))
    }

    /// Sends `doc`. `Ok` only when the server answered 250 to the message.
    pub async fn deliver_document(&self, doc: &Document) -> Result<(), DeliveryError> {
        let mail = self.compose_document(doc)?;
        self.send(mail).await
    }

    async fn send(&self, mail: Mail) -> Result<(), DeliveryError> {
        let sent = tokio::time::timeout(self.timeout, self.transport.send(mail)).await;
        match sent.map_err(|_| self.silent())? {
            Ok(resp) if resp.is_positive() => Ok(()),
            Ok(resp) => Err(DeliveryError::Transient(format!(
                "SMTP server answered {}",
                resp.code()
            ))),
            Err(e) => Err(classify(&e)),
        }
    }
}

#[async_trait::async_trait]
impl Channel for EmailChannel {
    fn name(&self) -> &str {
        &self.name
    }

    async fn probe(&self) -> Result<(), DeliveryError> {
        let tested = tokio::time::timeout(self.timeout, self.transport.test_connection()).await;
        match tested.map_err(|_| self.silent())? {
            Ok(true) => Ok(()),
            Ok(false) => Err(DeliveryError::Transient(
                "the SMTP server did not answer NOOP".to_owned(),
            )),
            Err(e) => Err(classify(&e)),
        }
    }

    async fn deliver(&self, msg: &Message) -> Result<(), DeliveryError> {
        let mail = self.compose(msg)?;
        self.send(mail).await
    }
}

impl EmailChannel {
    fn silent(&self) -> DeliveryError {
        DeliveryError::Transient(format!(
            "the SMTP server did not answer within {} (is `tls` right for this port? 465 is \
             usually \"tls\", 587 and 25 \"starttls\")",
            humantime::format_duration(self.timeout)
        ))
    }
}

/// SMTP 5xx is permanent — except authentication replies (530, 534, 535, 538): credentials
/// are the channel's configuration, not the message's, so the events wait until an operator
/// fixes them instead of being dead-lettered.
fn classify(e: &lettre::transport::smtp::Error) -> DeliveryError {
    let code = e.status().map(|c| c.to_string());
    let why = format!("SMTP: {}", crate::error_chain(e));
    match code.as_deref() {
        Some("530" | "534" | "535" | "538") => DeliveryError::Transient(format!(
            "{why} (authentication refused: check username and password)"
        )),
        _ if e.is_permanent() => DeliveryError::Permanent(why),
        _ => DeliveryError::Transient(why),
    }
}

#[cfg(test)]
mod tests {
    use patrol_site::notify::mailbox::{EXAMPLES, is_mailbox};

    /// The site checker judges `from`/`to` without lettre; the channel parses them with lettre
    /// when it starts. Both must give the same answer, or a checked site could hold a channel
    /// that cannot start.
    #[test]
    fn the_site_checker_and_lettre_agree_on_mailboxes() {
        let mut differ = Vec::new();
        for (text, _) in EXAMPLES {
            let lettre = text.parse::<lettre::message::Mailbox>().is_ok();
            if is_mailbox(text) != lettre {
                differ.push((*text, lettre));
            }
        }
        assert!(differ.is_empty(), "lettre says otherwise: {differ:?}");
    }
}
