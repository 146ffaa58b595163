//! One message for a group of changes (a route's `group_by`/`group_wait`): a hundred disks
//! filling at once reach the duty phone as one text, not a hundred.
//!
//! The digest is the newest change's message with its subject, text and JSON replaced: the
//! subject counts the changes, the text lists each one, and the JSON body is
//! `{"schema":"patrol.notify.v1.digest","route":…,"count":N,"events":[payload, …]}`. Its event
//! id (the receiver's deduplication key) is the newest change's. Templates see the newest
//! change's fields, with `subject` and `text` describing the whole group.

use std::fmt::Write;

use crate::channel::Message;
use patrol_site::notify::text::SUBJECT_MAX_CHARS;

/// The digest of `msgs` (oldest first, at least one) grouped by route `route`.
pub fn digest(route: &str, msgs: &[Message]) -> Option<Message> {
    let newest = msgs.last()?;
    if msgs.len() == 1 {
        return Some(newest.clone());
    }
    let mut hosts: Vec<&str> = msgs.iter().map(|m| m.host.as_str()).collect();
    hosts.sort_unstable();
    hosts.dedup();
    // The newest change's level: a route grouping by rule sees one level per group.
    let level = newest.level.as_str();
    let subject = format!(
        "[{level}] {} changes ({}): {} on {}",
        msgs.len(),
        route.trim_start_matches("route/"),
        newest.payload.rule,
        hosts.join(", ")
    );
    let mut text = String::new();
    let _ = writeln!(text, "{} changes grouped by {route}:", msgs.len());
    let _ = writeln!(text);
    for m in msgs {
        let _ = writeln!(text, "- {}", m.subject);
    }
    let _ = writeln!(text);
    let _ = writeln!(
        text,
        "Acknowledge each with: patrolctl incidents ack ID --by NAME"
    );
    let events: Vec<serde_json::Value> = msgs
        .iter()
        .map(|m| serde_json::from_str(&m.json).unwrap_or(serde_json::Value::Null))
        .collect();
    let json = serde_json::json!({
        "schema": "patrol.notify.v1.digest",
        "site": newest.payload.site,
        "route": route,
        "count": msgs.len(),
        "events": events,
    })
    .to_string();
    Some(Message {
        subject: cut(&subject),
        text,
        json,
        ..newest.clone()
    })
}

fn cut(s: &str) -> String {
    if s.chars().count() <= SUBJECT_MAX_CHARS {
        s.to_owned()
    } else {
        let mut out: String = s.chars().take(SUBJECT_MAX_CHARS - 3).collect();
        out.push_str("...");
        out
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use patrol_site::notify::Payload;

    fn msg(id: u64, host: &str, level: &str) -> Message {
        let mut p = Payload::sample("lab");
        p.event_id = id;
        p.incident_id = id;
        p.host = host.into();
        p.level = level.into();
        Message::new(p)
    }

    #[test]
    fn a_group_is_one_message_listing_each_change() {
        let group = [
            msg(1, "db2", "P3"),
            msg(2, "db1", "P2"),
            msg(3, "db1", "P3"),
        ];
        let d = digest("route/office-hours", &group).unwrap();
        assert_eq!(d.event_id, 3);
        assert!(
            d.subject.starts_with("[P3] 3 changes (office-hours): "),
            "{}",
            d.subject
        );
        assert!(d.subject.ends_with(" on db1, db2"), "{}", d.subject);
        for m in &group {
            assert!(d.text.contains(&m.subject), "{}", d.text);
        }
        let json: serde_json::Value = serde_json::from_str(&d.json).unwrap();
        assert_eq!(json["count"], 3);
        assert_eq!(json["events"][0]["event_id"], 1);
        assert_eq!(json["schema"], "patrol.notify.v1.digest");
    }

    #[test]
    fn a_group_of_one_is_the_message_itself() {
        let one = [msg(9, "db1", "P3")];
        assert_eq!(digest("route/x", &one).unwrap(), one[0]);
        assert!(digest("route/x", &[]).is_none());
    }
}
