//! Which channels an incident change goes to, decided inside the store's transaction that
//! journals it (so the outbox rows and the event are written together): the channels of the
//! targets an escalation step or reminder names, then every `[[route]]` that takes the change.

use std::sync::Arc;

use crate::channel::Message;
use patrol_incident::{EventKind, IncidentEvent};
use patrol_site::Site;
use patrol_site::notify::Payload;
use patrol_site::notify::route::{Decision, select};
use patrol_store::{Notification, Router};

/// The router the store runs for every committed event.
pub fn router() -> Router {
    Arc::new(|site: &Site, ev: &IncidentEvent| route(site, ev))
}

/// The notifications `ev` calls for under `site`: each channel at most once, with the first
/// reason that selected it.
pub fn route(site: &Site, ev: &IncidentEvent) -> Vec<Notification> {
    let notify = &site.notify;
    if notify.channels.is_empty() {
        return Vec::new();
    }
    let msg = Message::new(Payload::from_event(&notify.site, ev));
    let mut out: Vec<Notification> = Vec::new();
    let mut add = |channel: &str, why: String, group: Option<(String, i64)>| {
        // A checked site only names defined channels; a reload may have dropped one since.
        if notify.channels.contains_key(channel) && !out.iter().any(|n| n.channel == channel) {
            out.push(Notification {
                channel: channel.to_owned(),
                route: why,
                payload: msg.json.clone(),
                group,
            });
        }
    };
    if matches!(ev.kind, EventKind::Escalated | EventKind::Reminded) {
        let detail: serde_json::Value = ev
            .detail
            .as_deref()
            .and_then(|d| serde_json::from_str(d).ok())
            .unwrap_or_default();
        let why = format!(
            "escalation/{}/{}",
            detail["policy"].as_str().unwrap_or("?"),
            detail["step"].as_str().unwrap_or("?")
        );
        for target in detail["targets"].as_array().into_iter().flatten() {
            for channel in target["channels"].as_array().into_iter().flatten() {
                if let Some(c) = channel.as_str() {
                    add(c, why.clone(), None);
                }
            }
        }
    }
    let (decisions, _) = select(&notify.routes, &msg, &site.calendars);
    for (name, decision) in decisions {
        if decision != Decision::Matched {
            continue;
        }
        if let Some(r) = notify.routes.iter().find(|r| r.name == name) {
            let group = r.group.as_ref().map(|g| {
                let wait = i64::try_from(g.wait.as_millis()).unwrap_or(i64::MAX);
                (group_key(name, &g.by, &msg), ev.at_ms.saturating_add(wait))
            });
            for c in &r.channels {
                add(c, format!("route/{name}"), group.clone());
            }
        }
    }
    out
}

/// The group of a change on a grouping route: the route and the values of its `group_by`
/// fields (`rule`, `level`, `host`, `kind`, or a label).
fn group_key(route: &str, by: &[String], msg: &Message) -> String {
    let values: Vec<&str> = by
        .iter()
        .map(|f| match f.as_str() {
            "rule" => msg.payload.rule.as_str(),
            "level" => msg.level.as_str(),
            "host" => msg.host.as_str(),
            "kind" => msg.kind.as_str(),
            label => msg.labels.get(label).map_or("", String::as_str),
        })
        .collect();
    format!("route/{route}|{}", values.join("|"))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use patrol_incident::{Handling, Incident, IncidentState};
    use patrol_proto::Labels;

    const SITE: &str = r#"
[notify]
site = "lab"

[channel.dash]
kind = "mqtt"
host = "127.0.0.1"

[channel.sms]
kind = "webhook"
url = "http://127.0.0.1:9/send"

[channel.mail]
kind = "email"
host = "127.0.0.1"
from = "patrol@lab"
to = ["noc@lab"]

[target.manager]
members = ["Li Na"]
channels = ["sms"]

[[route]]
name = "dashboards"
channels = ["dash"]

[[route]]
name = "severe"
levels = ["P1"]
channels = ["mail", "sms"]

[[route]]
name = "digest"
levels = ["P3"]
channels = ["mail"]
group_by = ["rule", "host"]
group_wait = "30s"
"#;

    fn event(kind: EventKind, level: &str, detail: Option<&str>) -> IncidentEvent {
        IncidentEvent {
            id: 7,
            kind,
            at_ms: 1_795_425_120_000,
            actor: "escalation".into(),
            note: None,
            detail: detail.map(str::to_owned),
            incident: Incident {
                id: 3,
                rule: "disk_full".into(),
                severity: level.into(),
                state: IncidentState::Open,
                host: "db1".into(),
                labels: Labels::from_pairs([("host", "db1")]),
                summary: "disk above 90%".into(),
                value: 93.0,
                fingerprint: 1,
                opened_ms: 1_795_425_000_000,
                updated_ms: 1_795_425_000_000,
                acked_by: None,
                acked_ms: None,
                ack_note: None,
                resolved_ms: None,
                resolved_by: None,
                handling: Handling::rule(1_795_425_000_000),
            },
        }
    }

    fn channels(n: &[Notification]) -> Vec<(String, String)> {
        n.iter()
            .map(|n| (n.channel.clone(), n.route.clone()))
            .collect()
    }

    #[test]
    fn routes_and_escalation_targets_pick_each_channel_once() {
        let site = patrol_site::parse_site("site.toml", SITE).unwrap();
        let opened = route(&site, &event(EventKind::Opened, "P2", None));
        assert_eq!(
            channels(&opened),
            [("dash".into(), "route/dashboards".into())]
        );
        let payload: serde_json::Value = serde_json::from_str(&opened[0].payload).unwrap();
        assert_eq!(payload["event_id"], 7);
        assert_eq!(payload["site"], "lab");

        let detail = r#"{"policy":"major","step":"not_acknowledged","targets":[{"name":"manager","members":["Li Na"],"channels":["sms"]}]}"#;
        let escalated = route(&site, &event(EventKind::Escalated, "P1", Some(detail)));
        assert_eq!(
            channels(&escalated),
            [
                ("sms".into(), "escalation/major/not_acknowledged".into()),
                ("dash".into(), "route/dashboards".into()),
                ("mail".into(), "route/severe".into()),
            ]
        );
    }

    #[test]
    fn a_grouping_route_keys_rows_by_its_fields_and_holds_them_for_the_wait() {
        let site = patrol_site::parse_site("site.toml", SITE).unwrap();
        let ev = event(EventKind::Opened, "P3", None);
        let n = route(&site, &ev);
        let mail = n.iter().find(|n| n.channel == "mail").unwrap();
        assert_eq!(
            mail.group,
            Some(("route/digest|disk_full|db1".to_owned(), ev.at_ms + 30_000))
        );
        // The dashboard route does not group.
        assert!(
            n.iter()
                .find(|n| n.channel == "dash")
                .unwrap()
                .group
                .is_none()
        );
    }

    #[test]
    fn a_site_without_channels_routes_nothing() {
        let site = Site::default();
        assert!(route(&site, &event(EventKind::Opened, "P1", None)).is_empty());
    }
}
