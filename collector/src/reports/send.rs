//! Sending a scheduled sheet through the channels its schedule's `send` names (a channel, or a
//! route standing for its channels): by e-mail, a short text with the sheet's HTML page
//! attached, through `patrol-notify`'s e-mail channel — the same transport, TLS, credentials
//! and outcome classification as incident mail.
//!
//! Each (sheet, channel) is one task: a confirmed delivery is journaled `sent`; a permanent
//! failure (the server refused the message, a channel that is not e-mail, a channel no longer
//! in the site) is journaled `dead` at once; a temporary one is tried again on the channel's
//! `retry` backoff until it goes through or the sheet is a day old, then journaled `dead`. The
//! archive knows what is still owed, so a restart resumes it; the incident outbox is not used
//! (its rows are incident changes, and a sheet is none).

use std::sync::Arc;

use patrol_notify::email::{Attachment, Document, EmailChannel};
use patrol_notify::{ChannelKind, DeliveryError};
use patrol_report::format;
use patrol_report::lang::Text;
use patrol_site::Site;

use super::Reports;
use super::metrics::Outcome;

/// A sheet not delivered within this long after its inspection time is given up on: the
/// next one is on its way by then.
pub const GIVE_UP_MS: i64 = 24 * 3_600_000;

/// The channels `send` stands for: a channel by name, a route by its channels; each once, in
/// order. Names that are neither (the site was checked, so only after a reload dropped one)
/// are kept, to be journaled as undeliverable.
pub fn channels(site: &Site, send: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for name in send {
        let of_route = site.notify.routes.iter().find(|r| &r.name == name);
        let names: Vec<String> = match of_route {
            Some(r) if !site.notify.channels.contains_key(name) => r.channels.clone(),
            _ => vec![name.clone()],
        };
        for n in names {
            if !out.contains(&n) {
                out.push(n);
            }
        }
    }
    out
}

/// Starts the deliveries a previous run left owed, and gives up those too old to matter.
pub fn resume(reports: &Arc<Reports>) {
    let owed = match reports.archive.owed(0) {
        Ok(o) => o,
        Err(e) => {
            reports.core.telemetry.reports.archive_errors.inc();
            tracing::error!(error = %e, "inspection sheets owed to channels not read; they are not resent");
            return;
        }
    };
    let now = reports.clock.now_ms();
    for o in owed {
        if now - o.at_ms > GIVE_UP_MS {
            record(
                reports,
                o.sheet_id,
                &o.channel,
                false,
                0,
                Some("not sent within a day of the inspection (the collector was down)"),
            );
            reports
                .core
                .telemetry
                .reports
                .send(&o.channel, Outcome::Dead);
        } else {
            spawn(reports, o.sheet_id, o.at_ms, o.channel);
        }
    }
}

/// Starts sending sheet `id` (inspection time `at_ms`) to `channel`, unless already under way.
pub fn spawn(reports: &Arc<Reports>, id: u64, at_ms: i64, channel: String) {
    {
        let mut sending = reports
            .sending
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if !sending.insert((id, channel.clone())) {
            return;
        }
    }
    tokio::spawn(deliver(Arc::clone(reports), id, at_ms, channel));
}

async fn deliver(reports: Arc<Reports>, id: u64, at_ms: i64, channel: String) {
    let mut shutdown = reports.core.shutdown.clone();
    let counters = &reports.core.telemetry.reports;
    let mut attempt: u32 = 0;
    loop {
        attempt += 1;
        let site = patrol_site::current(&reports.core.site);
        let retry = site
            .notify
            .channels
            .get(&channel)
            .map(|c| c.retry)
            .unwrap_or_default();
        match try_once(&reports, &site, id, &channel).await {
            // Journaled before counted: a reader of the counter knows the journal has it.
            Ok(()) => {
                record(&reports, id, &channel, true, attempt, None);
                counters.send(&channel, Outcome::Sent);
                tracing::info!(sheet = id, channel = %channel, attempts = attempt, "inspection sheet sent");
                break;
            }
            Err(DeliveryError::Permanent(why)) => {
                record(&reports, id, &channel, false, attempt, Some(&why));
                counters.send(&channel, Outcome::Dead);
                tracing::warn!(sheet = id, channel = %channel, error = %why, "inspection sheet not sent");
                break;
            }
            Err(DeliveryError::Transient(why)) => {
                counters.send(&channel, Outcome::Failed);
                if reports.clock.now_ms() - at_ms > GIVE_UP_MS {
                    let why = format!("given up after {attempt} tries in a day: {why}");
                    record(&reports, id, &channel, false, attempt, Some(&why));
                    counters.send(&channel, Outcome::Dead);
                    tracing::warn!(sheet = id, channel = %channel, error = %why, "inspection sheet not sent");
                    break;
                }
                let wait = retry.delay(attempt);
                tracing::warn!(sheet = id, channel = %channel, error = %why, retry_in = ?wait,
                    "inspection sheet not sent yet; trying again");
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    // Still owed in the archive: the next start resumes it.
                    _ = shutdown.changed() => break,
                }
            }
        }
    }
    reports
        .sending
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .remove(&(id, channel));
}

fn record(
    reports: &Reports,
    id: u64,
    channel: &str,
    sent: bool,
    attempts: u32,
    error: Option<&str>,
) {
    let at = reports.clock.now_ms();
    if let Err(e) = reports
        .archive
        .record_delivery(id, channel, sent, attempts, error, at)
    {
        reports.core.telemetry.reports.archive_errors.inc();
        tracing::error!(sheet = id, channel, error = %e, "delivery outcome not journaled");
    }
}

async fn try_once(
    reports: &Arc<Reports>,
    site: &Site,
    id: u64,
    channel: &str,
) -> Result<(), DeliveryError> {
    let Some(cfg) = site.notify.channels.get(channel) else {
        return Err(DeliveryError::Permanent(format!(
            "channel '{channel}' is not in the site file any more"
        )));
    };
    let ChannelKind::Email(email) = &cfg.kind else {
        return Err(DeliveryError::Permanent(format!(
            "channel '{channel}' is a {} channel; inspection sheets are sent by e-mail only",
            cfg.kind.name()
        )));
    };
    // A setup failure (an unreadable password file) is the operator's to fix: try again.
    let ch = EmailChannel::new(channel, email, cfg.timeout)
        .map_err(|e| DeliveryError::Transient(e.to_string()))?;
    let doc = {
        let reports = Arc::clone(reports);
        let domain = site.notify.site.clone();
        tokio::task::spawn_blocking(move || document(&reports, id, &domain))
            .await
            .map_err(|e| DeliveryError::Transient(e.to_string()))??
    };
    ch.deliver_document(&doc).await
}

/// The mail of sheet `id`: its summary, how to sign it off, and its page attached.
fn document(reports: &Reports, id: u64, domain: &str) -> Result<Document, DeliveryError> {
    let unreadable = |e: String| DeliveryError::Transient(format!("sheet #{id}: {e}"));
    let row = reports
        .archive
        .row(id)
        .map_err(|e| unreadable(e.to_string()))?
        .ok_or_else(|| DeliveryError::Permanent(format!("sheet #{id} is not in the archive")))?;
    let sheet = reports
        .archive
        .sheet(&row)
        .map_err(|e| unreadable(e.to_string()))?;
    let lang = sheet.language;
    let t = |x: Text| x.get(lang);
    let when = format::datetime(lang, sheet.at_ms, &sheet.zone());
    let s = &sheet.summary;
    let mut subject = format!(
        "{}: {} — {} {when}",
        t(Text::SheetTitle),
        sheet.title,
        sheet.schedule
    );
    if s.abnormal_checks > 0 {
        subject.push_str(&format!(
            " — {} {}",
            t(Text::AbnormalChecks),
            s.abnormal_checks
        ));
    }
    let mut text = format!(
        "{} #{id}\n\n{}: {}\n{}: {}\n{}: {when}\n\n{}: {}\n{}: {}\n{}: {}\n{}: {}\n",
        t(Text::SheetTitle),
        t(Text::Site),
        sheet.title,
        t(Text::Schedule),
        sheet.schedule,
        t(Text::InspectedAt),
        t(Text::ObjectsChecked),
        s.objects,
        t(Text::ChecksMade),
        s.checks,
        t(Text::AbnormalChecks),
        s.abnormal_checks,
        t(Text::OpenIncidents),
        s.open_incidents,
    );
    if sheet.no_data {
        text.push_str(&format!("\n{}\n", t(Text::NoData)));
    }
    text.push_str(&format!(
        "\n{}\n\n{}:\n  patrolctl report sign {id} --by NAME [--note TEXT]\n",
        t(Text::MailAttached),
        t(Text::MailSignOff)
    ));
    let stamp = jiff::Timestamp::from_millisecond(sheet.at_ms)
        .map(|ts| {
            ts.to_zoned(sheet.zone())
                .strftime("%Y-%m-%d-%H%M")
                .to_string()
        })
        .unwrap_or_else(|_| sheet.at_ms.to_string());
    let schedule: String = sheet
        .schedule
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    Ok(Document {
        subject,
        text,
        attachment: Some(Attachment {
            filename: format!("inspection-{stamp}-{schedule}.html"),
            content_type: "text/html; charset=utf-8".to_owned(),
            body: patrol_report::sheet_render::html(&sheet).into_bytes(),
        }),
        id: format!("sheet.{id}.{}", sheet.at_ms),
        domain: domain.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_stand_for_their_channels_each_once() {
        let site = patrol_site::parse_site(
            "site.toml",
            r#"
[channel.mail]
kind = "email"
host = "127.0.0.1"
from = "patrol@example.test"
to = ["noc@example.test"]

[channel.boss]
kind = "email"
host = "127.0.0.1"
from = "patrol@example.test"
to = ["boss@example.test"]

[[route]]
name = "office"
channels = ["boss", "mail"]
"#,
        )
        .unwrap_or_else(|d| panic!("{d:?}"));
        assert_eq!(
            channels(&site, &["mail".into(), "office".into()]),
            vec!["mail".to_owned(), "boss".to_owned()]
        );
        assert_eq!(channels(&site, &["gone".into()]), vec!["gone".to_owned()]);
    }
}
