//! `patrolctl channels status`: each notification channel, whether its worker runs, and its
//! outbox figures, as a table or JSON.

use crate::failure::Failure;
use crate::format::Human;
use crate::table::{self, Cell};
use crate::{connect, output, time};
use patrol_proto::v1::{self, channels_client::ChannelsClient};
use serde::Serialize;

/// One channel as JSON.
#[derive(Debug, Serialize)]
struct ChannelJson<'a> {
    name: &'a str,
    kind: &'a str,
    running: bool,
    pending: u64,
    sent: u64,
    dead: u64,
    oldest_pending_at: Option<String>,
    last_error: Option<&'a str>,
    last_sent_at: Option<String>,
}

pub async fn status(url: &str, as_json: bool, human: &Human, now_ms: i64) -> Result<(), Failure> {
    let mut client = ChannelsClient::new(connect::channel(url).await?);
    let channels = client
        .status(v1::ChannelsStatusRequest {})
        .await?
        .into_inner()
        .channels;
    if as_json {
        let rows: Vec<ChannelJson<'_>> = channels.iter().map(channel_json).collect();
        output::line(&serde_json::to_string(&rows).unwrap_or_else(|_| "[]".to_owned()))
    } else if channels.is_empty() {
        output::line("no notification channels configured")
    } else {
        output::text(&channels_table(&channels, human, now_ms))
    }
}

fn channel_json(c: &v1::ChannelStatus) -> ChannelJson<'_> {
    ChannelJson {
        name: &c.name,
        kind: &c.kind,
        running: c.running,
        pending: c.pending,
        sent: c.sent,
        dead: c.dead,
        oldest_pending_at: time::rfc3339(c.oldest_pending_ms),
        last_error: (!c.last_error.is_empty()).then_some(c.last_error.as_str()),
        last_sent_at: time::rfc3339(c.last_sent_ms),
    }
}

/// CHANNEL, KIND, STATE, PENDING, OLDEST, SENT, DEAD, LAST SENT, LAST ERROR.
pub fn channels_table(channels: &[v1::ChannelStatus], human: &Human, now_ms: i64) -> String {
    let ago = |ms: i64| match ms {
        0 => "-".to_owned(),
        ms => format!("{} ago", time::age(ms, now_ms)),
    };
    let rows: Vec<Vec<Cell>> = channels
        .iter()
        .map(|c| {
            let state = if !c.running {
                Cell::colored("stopped", Some("\x1b[31m"))
            } else if c.last_error.is_empty() {
                Cell::colored("ok", Some("\x1b[32m"))
            } else {
                Cell::colored("failing", Some("\x1b[33m"))
            };
            vec![
                Cell::new(&c.name),
                Cell::new(&c.kind),
                state,
                Cell::new(c.pending.to_string()),
                Cell::new(ago(c.oldest_pending_ms)),
                Cell::new(c.sent.to_string()),
                Cell::new(c.dead.to_string()),
                Cell::new(ago(c.last_sent_ms)),
                Cell::new(&c.last_error),
            ]
        })
        .collect();
    table::render(
        human,
        &[
            "CHANNEL",
            "KIND",
            "STATE",
            "PENDING",
            "OLDEST",
            "SENT",
            "DEAD",
            "LAST SENT",
            "LAST ERROR",
        ],
        &rows,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::tz::TimeZone;

    #[test]
    fn channels_table_is_pinned() {
        let human = Human {
            tz: TimeZone::UTC,
            color: false,
        };
        let now = 1_795_425_121_000;
        let channels = [
            v1::ChannelStatus {
                name: "noc-mqtt".into(),
                kind: "mqtt".into(),
                running: true,
                sent: 120,
                last_sent_ms: now - 2_000,
                ..Default::default()
            },
            v1::ChannelStatus {
                name: "sms".into(),
                kind: "webhook".into(),
                running: true,
                pending: 3,
                oldest_pending_ms: now - 65_000,
                sent: 7,
                dead: 1,
                last_error: "HTTP 503".into(),
                ..Default::default()
            },
            v1::ChannelStatus {
                name: "email".into(),
                kind: "email".into(),
                ..Default::default()
            },
        ];
        assert_eq!(
            channels_table(&channels, &human, now),
            "CHANNEL   KIND     STATE    PENDING  OLDEST  SENT  DEAD  LAST SENT  LAST ERROR\n\
             noc-mqtt  mqtt     ok       0        -       120   0     2s ago\n\
             sms       webhook  failing  3        1m ago  7     1     -          HTTP 503\n\
             email     email    stopped  0        -       0     0     -\n"
        );
    }
}
