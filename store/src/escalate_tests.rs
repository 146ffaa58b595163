//! The clock runner against a real store: breaches and steps fire once, acknowledging stops a
//! step, a restart fires what fell due while down exactly once, a step raises the level.
#![allow(clippy::unwrap_used)] // a failing unwrap is a failing test

use std::sync::Arc;

use patrol_proto::Labels;
use tokio::sync::broadcast;

use super::*;
use crate::incident::{EventKind, IncidentEvent};

const MIN: i64 = 60_000;
const T0: i64 = 1_795_425_120_000; // 2026-11-23T09:12:00Z, a Monday

const SITE: &str = r#"
[[level]]
name = "P2"
respond = "10m"
resolve = "6h"
escalation = "major"

[[level]]
name = "P3"
respond = "20m"
resolve = "12h"
escalation = "minor"

[channel.sms]
kind = "webhook"
url = "http://127.0.0.1:9/send"

[target.manager]
members = ["Li Na"]
channels = ["sms"]

[[escalation.major.step]]
name = "not_acknowledged"
when = "unacknowledged"
after = "10m"
notify = ["manager"]

[[escalation.major.step]]
name = "progress"
when = "unresolved"
after = "30m"
every = "30m"
notify = ["manager"]

[[escalation.minor.step]]
name = "lasting"
when = "unresolved"
after = "4h"
raise_to = "P2"
"#;

fn open(level: &str, at_ms: i64) -> WriteBatch {
    WriteBatch {
        changes: vec![Change::Open {
            rule: "disk_full".into(),
            severity: level.into(),
            fingerprint: 7,
            host: "db1".into(),
            labels: Labels::from_pairs([("host", "db1")]),
            summary: "disk above 90%".into(),
            threshold: None,
            value: 93.0,
            at_ms,
        }],
        applied: Vec::new(),
    }
}

fn start(dir: &std::path::Path) -> (Store, broadcast::Receiver<Arc<IncidentEvent>>) {
    let site = patrol_site::parse_site("site.toml", SITE).unwrap();
    let (tx, rx) = broadcast::channel(4096);
    let store = Store::open_with_site(dir, tx, patrol_site::site_handle(site)).unwrap();
    (store, rx)
}

/// (kind, detail) of each event published since the last call.
fn drain(rx: &mut broadcast::Receiver<Arc<IncidentEvent>>) -> Vec<(EventKind, serde_json::Value)> {
    let mut out = Vec::new();
    while let Ok(ev) = rx.try_recv() {
        let detail = ev
            .detail
            .as_deref()
            .map(|d| serde_json::from_str(d).unwrap())
            .unwrap_or_default();
        out.push((ev.kind, detail));
    }
    out
}

fn kinds(events: &[(EventKind, serde_json::Value)]) -> Vec<EventKind> {
    events.iter().map(|(k, _)| *k).collect()
}

#[tokio::test]
async fn steps_and_breaches_fire_once_each_and_missed_reminders_fire_once() {
    let dir = tempfile::tempdir().unwrap();
    let (store, mut rx) = start(dir.path());
    store.commit(open("P2", T0)).await.unwrap();
    drain(&mut rx);

    assert_eq!(store.run_clocks(T0 + 9 * MIN).await.unwrap(), 0);
    assert_eq!(store.run_clocks(T0 + 10 * MIN).await.unwrap(), 2);
    let ev = drain(&mut rx);
    assert_eq!(kinds(&ev), [EventKind::Breached, EventKind::Escalated]);
    assert_eq!(ev[0].1["clock"], "respond");
    assert_eq!(ev[0].1["due_ms"], T0 + 10 * MIN);
    assert_eq!(ev[1].1["step"], "not_acknowledged");
    assert_eq!(ev[1].1["targets"][0]["members"][0], "Li Na");
    assert_eq!(ev[1].1["targets"][0]["channels"][0], "sms");
    // Running again at the same or a later time fires nothing new.
    assert_eq!(store.run_clocks(T0 + 10 * MIN).await.unwrap(), 0);
    assert_eq!(store.run_clocks(T0 + 29 * MIN).await.unwrap(), 0);

    assert_eq!(store.run_clocks(T0 + 30 * MIN).await.unwrap(), 1);
    let ev = drain(&mut rx);
    assert_eq!(kinds(&ev), [EventKind::Reminded]);
    assert_eq!(ev[0].1["occurrence"], 0);
    // Occurrences at 60 and 90 min both fell due unseen: only the latest fires.
    assert_eq!(store.run_clocks(T0 + 95 * MIN).await.unwrap(), 1);
    let ev = drain(&mut rx);
    assert_eq!(ev[0].1["occurrence"], 2);
    assert_eq!(ev[0].1["due_ms"], T0 + 90 * MIN);

    let journal: Vec<String> = store
        .journal(1)
        .unwrap()
        .into_iter()
        .map(|e| format!("{}:{}", e.kind, e.actor))
        .collect();
    assert_eq!(
        journal,
        [
            "opened:rule",
            "breached:escalation",
            "escalated:escalation",
            "reminded:escalation",
            "reminded:escalation"
        ]
    );
}

#[tokio::test]
async fn acknowledging_stops_the_unacknowledged_step_and_meets_the_respond_clock() {
    let dir = tempfile::tempdir().unwrap();
    let (store, mut rx) = start(dir.path());
    store.commit(open("P2", T0)).await.unwrap();
    store
        .act(1, Op::Acknowledge, "ann", None, T0 + 5 * MIN)
        .await
        .unwrap();
    drain(&mut rx);
    assert_eq!(store.run_clocks(T0 + 25 * MIN).await.unwrap(), 0);
    // The reminder is about being unresolved, which acknowledging does not change.
    assert_eq!(store.run_clocks(T0 + 30 * MIN).await.unwrap(), 1);
    assert_eq!(kinds(&drain(&mut rx)), [EventKind::Reminded]);
}

#[tokio::test]
async fn a_restart_fires_a_step_that_fell_due_while_down_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (store, _rx) = start(dir.path());
        store.commit(open("P2", T0)).await.unwrap();
        assert_eq!(store.run_clocks(T0 + 10 * MIN).await.unwrap(), 2);
    } // dropped: the writer is joined, like a stopped collector
    let (store, mut rx) = start(dir.path());
    // The fired step and breach are remembered.
    assert_eq!(store.run_clocks(T0 + 11 * MIN).await.unwrap(), 0);
    drop(store);
    let (store, _) = start(dir.path());
    // Down across the first reminder: it fires on the first run after the start...
    assert_eq!(store.run_clocks(T0 + 40 * MIN).await.unwrap(), 1);
    drop(store);
    // ...and not again after another restart.
    let (store, _) = start(dir.path());
    assert_eq!(store.run_clocks(T0 + 41 * MIN).await.unwrap(), 0);
    assert!(drain(&mut rx).is_empty());
}

#[tokio::test]
async fn a_lasting_outage_is_raised_and_its_deadlines_recomputed() {
    let dir = tempfile::tempdir().unwrap();
    let (store, mut rx) = start(dir.path());
    store.commit(open("P3", T0)).await.unwrap();
    store
        .act(1, Op::Acknowledge, "ann", None, T0 + MIN)
        .await
        .unwrap();
    drain(&mut rx);
    assert_eq!(store.run_clocks(T0 + 240 * MIN).await.unwrap(), 2);
    let ev = drain(&mut rx);
    assert_eq!(kinds(&ev), [EventKind::Escalated, EventKind::LevelChanged]);
    assert_eq!(ev[0].1["raise_to"], "P2");
    assert_eq!(
        (&ev[1].1["from"], &ev[1].1["to"]),
        (&"P3".into(), &"P2".into())
    );
    let inc = store.get(1).unwrap().unwrap();
    assert_eq!(inc.severity, "P2");
    // P2's resolve target (6 h) from the clock start.
    assert_eq!(inc.handling.resolve_due_ms, Some(T0 + 360 * MIN));
    // Now on P2's policy: acknowledged, so only its reminder applies, anchored at the start.
    assert_eq!(store.run_clocks(T0 + 241 * MIN).await.unwrap(), 1);
    assert_eq!(kinds(&drain(&mut rx)), [EventKind::Reminded]);
    // Past the new resolve deadline: a breach, once.
    assert_eq!(store.run_clocks(T0 + 361 * MIN).await.unwrap(), 2);
    assert_eq!(
        kinds(&drain(&mut rx)),
        [EventKind::Breached, EventKind::Reminded]
    );
}

#[tokio::test]
async fn a_raise_keeps_the_time_already_credited_for_waiting() {
    let site = SITE.replace(
        "escalation = \"minor\"",
        "escalation = \"minor\"\nwaiting_pauses_resolve = true",
    );
    let site = site.replace(
        "escalation = \"major\"",
        "escalation = \"major\"\nwaiting_pauses_resolve = true",
    );
    let dir = tempfile::tempdir().unwrap();
    let site = patrol_site::parse_site("site.toml", &site).unwrap();
    let (tx, _rx) = broadcast::channel(4096);
    let store = Store::open_with_site(dir.path(), tx, patrol_site::site_handle(site)).unwrap();
    store.commit(open("P3", T0)).await.unwrap();
    store
        .act(1, Op::Acknowledge, "ann", None, T0 + MIN)
        .await
        .unwrap();
    // An hour waiting on the vendor moves P3's 12 h resolve target out by that hour.
    store
        .act(1, Op::Wait, "ann", Some("vendor case 42"), T0 + 10 * MIN)
        .await
        .unwrap();
    store
        .act(1, Op::Assign("bob".into()), "ann", None, T0 + 70 * MIN)
        .await
        .unwrap();
    let inc = store.get(1).unwrap().unwrap();
    assert_eq!(inc.handling.resolve_due_ms, Some(T0 + 780 * MIN));
    store.run_clocks(T0 + 240 * MIN).await.unwrap();
    let inc = store.get(1).unwrap().unwrap();
    assert_eq!(inc.severity, "P2");
    // P2's 6 h target from the clock start, plus the hour already waited.
    assert_eq!(inc.handling.resolve_due_ms, Some(T0 + 420 * MIN));
}

#[tokio::test]
async fn resolved_incidents_stop_their_clocks_and_flapping_is_marked_once() {
    let dir = tempfile::tempdir().unwrap();
    let (store, mut rx) = start(dir.path());
    store.commit(open("P2", T0)).await.unwrap();
    let flap = |flapping| WriteBatch {
        changes: vec![Change::Flapping {
            rule: "disk_full".into(),
            fingerprint: 7,
            flapping,
            percent: 42.0,
            at_ms: T0 + MIN,
        }],
        applied: Vec::new(),
    };
    store.commit(flap(true)).await.unwrap();
    store.commit(flap(true)).await.unwrap();
    assert!(store.get(1).unwrap().unwrap().handling.flapping);
    store
        .act(1, Op::Resolve, "ann", Some("fixed"), T0 + 2 * MIN)
        .await
        .unwrap();
    let ev = drain(&mut rx);
    assert_eq!(
        kinds(&ev),
        [EventKind::Opened, EventKind::Flapping, EventKind::Resolved]
    );
    assert_eq!(store.run_clocks(T0 + 600 * MIN).await.unwrap(), 0);
}
