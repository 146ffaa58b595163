//! The outbox against a real store: rows are written with their event, handed out in order,
//! survive a restart, and a final outcome is journalled once.
#![allow(clippy::unwrap_used)] // a failing unwrap is a failing test

use std::sync::Arc;

use patrol_proto::Labels;
use tokio::sync::broadcast;

use super::*;
use crate::incident::{EventKind, IncidentEvent};

const T0: i64 = 1_795_425_120_000;

/// Every event to `dash`; resolutions also to `mail`.
fn router() -> Router {
    Arc::new(|_site, ev: &IncidentEvent| {
        let mut out = vec![Notification {
            channel: "dash".into(),
            route: "all".into(),
            payload: format!("{}#{}", ev.kind.as_str(), ev.id),
            group: None,
        }];
        if ev.kind == EventKind::Resolved {
            out.push(Notification {
                channel: "mail".into(),
                route: "resolutions".into(),
                payload: format!("resolved #{}", ev.incident.id),
                group: Some(("resolutions".into(), ev.at_ms + 60_000)),
            });
        }
        out
    })
}

fn start(dir: &std::path::Path) -> (Store, broadcast::Receiver<Arc<IncidentEvent>>) {
    let (tx, rx) = broadcast::channel(4096);
    let site = patrol_site::site_handle(patrol_site::Site::default());
    (Store::open_with(dir, tx, site, Some(router())).unwrap(), rx)
}

fn batch(change: Change) -> WriteBatch {
    WriteBatch {
        changes: vec![change],
        applied: Vec::new(),
    }
}

fn open(at_ms: i64) -> WriteBatch {
    batch(Change::Open {
        rule: "disk_full".into(),
        severity: "P2".into(),
        fingerprint: 9,
        host: "db1".into(),
        labels: Labels::from_pairs([("host", "db1")]),
        summary: "disk above 90%".into(),
        threshold: None,
        value: 93.0,
        at_ms,
    })
}

/// The rule resolves incident `fingerprint`.
fn resolve(fingerprint: u64, at_ms: i64) -> WriteBatch {
    batch(Change::Resolve {
        rule: "disk_full".into(),
        fingerprint,
        value: 50.0,
        at_ms,
    })
}

fn due(store: &Store, channel: &str, now_ms: i64) -> Due {
    store.outbox_due(channel, now_ms, &[], 10).unwrap()
}

#[tokio::test]
async fn rows_are_written_with_their_event_and_handed_out_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _rx) = start(dir.path());
    store.commit(open(T0)).await.unwrap();
    store.commit(resolve(9, T0 + 1000)).await.unwrap();
    let dash = due(&store, "dash", T0 + 1000);
    let payloads: Vec<&str> = dash.items.iter().map(|i| i.payload.as_str()).collect();
    assert_eq!(payloads, ["opened#1", "resolved#2"]);
    assert_eq!(dash.next_ms, None);
    assert_eq!((dash.items[0].event_id, dash.items[1].event_id), (1, 2));
    // Grouped: held for the group's wait, then due and found by its key.
    let mail = due(&store, "mail", T0 + 1000);
    assert!(mail.items.is_empty());
    assert_eq!(mail.next_ms, Some(T0 + 61_000));
    let mail = due(&store, "mail", T0 + 61_000).items;
    assert_eq!(mail.len(), 1);
    assert_eq!(mail[0].route, "resolutions");
    assert_eq!(mail[0].group_key.as_deref(), Some("resolutions"));
    assert_eq!(
        store
            .outbox_group("mail", "resolutions", T0 + 61_000, &[], 10)
            .unwrap(),
        mail
    );
    assert!(due(&store, "nobody", T0 + 1000).items.is_empty());
}

#[tokio::test]
async fn retries_keep_the_row_and_a_final_outcome_is_journalled_once() {
    let dir = tempfile::tempdir().unwrap();
    let (store, mut rx) = start(dir.path());
    store.commit(open(T0)).await.unwrap();
    let _ = rx.try_recv();
    let id = due(&store, "dash", T0).items[0].id;

    let retry = Delivery::Retry {
        next_ms: T0 + 5000,
        error: "connection refused".into(),
    };
    store.outbox_record(id, retry, T0 + 10).await.unwrap();
    let waiting = due(&store, "dash", T0 + 10);
    assert!(waiting.items.is_empty());
    assert_eq!(waiting.next_ms, Some(T0 + 5000));
    assert_eq!(due(&store, "dash", T0 + 5000).items[0].attempts, 1);
    let backlog = store.outbox_backlog().unwrap();
    assert_eq!(backlog[0].pending, 1);
    assert_eq!(backlog[0].last_error.as_deref(), Some("connection refused"));
    assert!(rx.try_recv().is_err(), "a retry is not journalled");

    store
        .outbox_record(id, Delivery::Sent, T0 + 5100)
        .await
        .unwrap();
    assert!(due(&store, "dash", T0 + 5100).items.is_empty());
    let notified = rx.try_recv().unwrap();
    assert_eq!(notified.kind, EventKind::Notified);
    assert_eq!(notified.actor, "channel:dash");
    let detail: serde_json::Value =
        serde_json::from_str(notified.detail.as_deref().unwrap()).unwrap();
    assert_eq!(detail["outcome"], "sent");
    assert_eq!(detail["attempts"], 2);
    assert_eq!(detail["event_id"], 1);
    // A second report of the same row changes nothing.
    store
        .outbox_record(id, Delivery::Sent, T0 + 5200)
        .await
        .unwrap();
    assert!(rx.try_recv().is_err());
    // The delivery report itself is never routed.
    assert!(due(&store, "dash", T0 + 5200).items.is_empty());
    let b = &store.outbox_backlog().unwrap()[0];
    assert_eq!((b.pending, b.sent, b.dead), (0, 1, 0));
}

#[tokio::test]
async fn pending_rows_survive_a_restart_and_dead_letters_are_kept() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (store, _rx) = start(dir.path());
        store.commit(open(T0)).await.unwrap();
    }
    let (store, _rx) = start(dir.path());
    let items = due(&store, "dash", T0).items;
    assert_eq!(items.len(), 1);
    store
        .outbox_record(
            items[0].id,
            Delivery::Dead {
                error: "HTTP 400: bad template".into(),
            },
            T0 + 1,
        )
        .await
        .unwrap();
    let b = &store.outbox_backlog().unwrap()[0];
    assert_eq!((b.pending, b.sent, b.dead), (0, 0, 1));
    let kinds: Vec<String> = store
        .journal(1)
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(kinds, ["opened", "notified"]);
}

/// Openings on host `slow` wait a minute for their group; everything goes to `hook`, on a route
/// named after the host.
fn holding_router() -> Router {
    Arc::new(|_site, ev: &IncidentEvent| {
        let group = (ev.incident.host == "slow" && ev.kind == EventKind::Opened)
            .then(|| ("slow".to_owned(), ev.at_ms + 60_000));
        vec![Notification {
            channel: "hook".into(),
            route: format!("route/{}", ev.incident.host),
            payload: format!("{}:{}", ev.incident.host, ev.kind.as_str()),
            group,
        }]
    })
}

fn open_on(host: &str, fingerprint: u64, at_ms: i64) -> WriteBatch {
    batch(Change::Open {
        rule: "disk_full".into(),
        severity: "P2".into(),
        fingerprint,
        host: host.into(),
        labels: Labels::from_pairs([("host", host)]),
        summary: "disk above 90%".into(),
        threshold: None,
        value: 93.0,
        at_ms,
    })
}

#[tokio::test]
async fn a_waiting_row_holds_back_its_own_incident_only() {
    let dir = tempfile::tempdir().unwrap();
    let (tx, _rx) = broadcast::channel(4096);
    let site = patrol_site::site_handle(patrol_site::Site::default());
    let store = Store::open_with(dir.path(), tx, site, Some(holding_router())).unwrap();
    store.commit(open_on("slow", 1, T0)).await.unwrap();
    store.commit(open_on("fast", 2, T0 + 1)).await.unwrap();
    store.commit(resolve(1, T0 + 2)).await.unwrap();
    let payloads = |d: &Due| -> Vec<String> { d.items.iter().map(|i| i.payload.clone()).collect() };
    // The slow incident's opening waits for its group, and its resolution behind it; the
    // other incident goes ahead.
    let now = due(&store, "hook", T0 + 10);
    assert_eq!(payloads(&now), ["fast:opened"]);
    assert_eq!(now.next_ms, Some(T0 + 60_000));
    // A route over its rate limit waits too.
    let limited = store
        .outbox_due("hook", T0 + 10, &["route/fast".to_owned()], 10)
        .unwrap();
    assert!(limited.items.is_empty());
    // Once the group is due, everything goes, each incident in its order.
    let later = due(&store, "hook", T0 + 60_000);
    assert_eq!(
        payloads(&later),
        ["slow:opened", "fast:opened", "slow:resolved"]
    );
}

#[tokio::test]
async fn a_full_backlog_refuses_new_rows_as_journalled_dead_letters() {
    let dir = tempfile::tempdir().unwrap();
    let (tx, mut rx) = broadcast::channel(4096);
    let site = patrol_site::parse_site(
        "site.toml",
        "[channel.hook]\nkind = \"webhook\"\nurl = \"http://127.0.0.1:9/\"\nmax_backlog = 2\n",
    )
    .unwrap();
    let site = patrol_site::site_handle(site);
    let store = Store::open_with(dir.path(), tx, site, Some(holding_router())).unwrap();
    for (i, host) in ["a", "b", "c"].into_iter().enumerate() {
        store
            .commit(open_on(host, i as u64 + 1, T0 + i as i64))
            .await
            .unwrap();
    }
    let queued: Vec<String> = due(&store, "hook", T0 + 10)
        .items
        .into_iter()
        .map(|i| i.payload)
        .collect();
    assert_eq!(queued, ["a:opened", "b:opened"]);
    let b = &store.outbox_backlog().unwrap()[0];
    assert_eq!((b.pending, b.dead, b.refused), (2, 1, 1));
    // The refusal is on the third incident's record, and on the event stream.
    let notified = store
        .journal(3)
        .unwrap()
        .into_iter()
        .find(|e| e.kind == "notified")
        .unwrap();
    let detail = notified.detail.unwrap();
    assert!(detail.contains("\"outcome\":\"dead\""), "{detail}");
    assert!(detail.contains("max_backlog = 2"), "{detail}");
    let mut seen = Vec::new();
    while let Ok(ev) = rx.try_recv() {
        seen.push((ev.incident.id, ev.kind));
    }
    assert!(seen.contains(&(3, EventKind::Notified)), "{seen:?}");
    // Once a row is delivered there is room again.
    let first = due(&store, "hook", T0 + 10).items[0].id;
    store
        .outbox_record(first, Delivery::Sent, T0 + 11)
        .await
        .unwrap();
    store.commit(open_on("d", 4, T0 + 12)).await.unwrap();
    let b = &store.outbox_backlog().unwrap()[0];
    assert_eq!((b.pending, b.sent, b.refused), (2, 1, 1));
}

/// Per channel: pending, sent, dead, and the dead never attempted, counted row by row.
fn counted(dir: &std::path::Path) -> Vec<(String, u64, u64, u64, u64)> {
    let conn = rusqlite::Connection::open(dir.join(DB_FILE)).unwrap();
    let mut stmt = conn
        .prepare(
            "SELECT channel, SUM(state = 'pending'), SUM(state = 'sent'), SUM(state = 'dead'), \
             SUM(state = 'dead' AND attempts = 0) FROM notify_outbox GROUP BY channel \
             ORDER BY channel",
        )
        .unwrap();
    stmt.query_map([], |r| {
        let n = |i| r.get::<_, i64>(i).map(|v| v as u64);
        Ok((r.get(0)?, n(1)?, n(2)?, n(3)?, n(4)?))
    })
    .unwrap()
    .collect::<Result<_, _>>()
    .unwrap()
}

fn figures(store: &Store) -> Vec<(String, u64, u64, u64, u64)> {
    store
        .outbox_backlog()
        .unwrap()
        .into_iter()
        .map(|b| (b.channel, b.pending, b.sent, b.dead, b.refused))
        .collect()
}

#[tokio::test]
async fn the_kept_figures_match_a_full_count_and_a_migration_rebuilds_them() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (store, _rx) = start(dir.path());
        store.commit(open(T0)).await.unwrap();
        store.commit(resolve(9, T0 + 1000)).await.unwrap();
        let dash = due(&store, "dash", T0 + 1000).items;
        store
            .outbox_record(dash[0].id, Delivery::Sent, T0 + 1001)
            .await
            .unwrap();
        let retry = Delivery::Retry {
            next_ms: T0 + 9000,
            error: "busy".into(),
        };
        store
            .outbox_record(dash[1].id, retry, T0 + 1002)
            .await
            .unwrap();
        let mail = due(&store, "mail", T0 + 61_000).items;
        let dead = Delivery::Dead {
            error: "550 no such user".into(),
        };
        store
            .outbox_record(mail[0].id, dead, T0 + 61_001)
            .await
            .unwrap();
        let expected = vec![
            ("dash".to_owned(), 1, 1, 0, 0),
            ("mail".to_owned(), 0, 0, 1, 0),
        ];
        assert_eq!(figures(&store), expected);
        assert_eq!(counted(dir.path()), expected);
        // The oldest pending row and its error come with the figures.
        let b = &store.outbox_backlog().unwrap()[0];
        assert_eq!(b.oldest_pending_ms, Some(T0 + 1000));
        assert_eq!(b.last_error.as_deref(), Some("busy"));
    }
    // A store written before the figures were kept: the migration counts them once.
    let conn = rusqlite::Connection::open(dir.path().join(DB_FILE)).unwrap();
    conn.execute_batch(
        "DROP TRIGGER notify_totals_insert; DROP TRIGGER notify_totals_update; \
         DROP TRIGGER notify_totals_delete; DROP TABLE notify_totals; UPDATE schema_version SET version = 5;",
    )
    .unwrap();
    drop(conn);
    let (store, _rx) = start(dir.path());
    assert_eq!(figures(&store), counted(dir.path()));
    assert_eq!(figures(&store)[0].1, 1);
}
