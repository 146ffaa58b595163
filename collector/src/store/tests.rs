//! Tests of the incident store against real SQLite files in temporary directories.
#![allow(clippy::unwrap_used)] // a failing unwrap is a failing test

use std::collections::HashSet;
use std::sync::Arc;

use patrol_proto::Labels;
use tokio::sync::broadcast;

use super::*;
use crate::incident::{EventKind, IncidentEvent, IncidentState};

fn bus() -> (
    broadcast::Sender<Arc<IncidentEvent>>,
    broadcast::Receiver<Arc<IncidentEvent>>,
) {
    broadcast::channel(4096)
}

fn open_change(rule: &str, fp: u64, at_ms: i64) -> Change {
    Change::Open {
        rule: rule.into(),
        severity: "P2".into(),
        fingerprint: fp,
        host: "db1".into(),
        labels: Labels::from_pairs([("host", "db1"), ("mount", "/u01")]),
        summary: "disk above 90%".into(),
        value: 93.5,
        at_ms,
    }
}

fn resolve_change(rule: &str, fp: u64, at_ms: i64) -> Change {
    Change::Resolve {
        rule: rule.into(),
        fingerprint: fp,
        value: 40.0,
        at_ms,
    }
}

fn batch(changes: Vec<Change>) -> WriteBatch {
    WriteBatch {
        changes,
        applied: Vec::new(),
    }
}

fn drain(rx: &mut broadcast::Receiver<Arc<IncidentEvent>>) -> Vec<Arc<IncidentEvent>> {
    let mut out = Vec::new();
    while let Ok(ev) = rx.try_recv() {
        out.push(ev);
    }
    out
}

// u64::MAX checks that a fingerprint above i64::MAX survives the round trip.
const FP: u64 = u64::MAX - 5;

#[tokio::test]
async fn open_survives_reopen_and_resent_open_is_a_no_op() {
    let dir = tempfile::tempdir().unwrap();
    let (tx, mut rx) = bus();
    let store = Store::open(dir.path(), tx.clone()).unwrap();
    store
        .commit(batch(vec![open_change("disk_full", FP, 1_000)]))
        .await
        .unwrap();
    let listed = store.list(&[], 10).unwrap();
    assert_eq!(listed.len(), 1);
    let inc = &listed[0];
    assert_eq!(
        (inc.rule.as_str(), inc.fingerprint, inc.state),
        ("disk_full", FP, IncidentState::Open)
    );
    assert_eq!(inc.labels.get("mount"), Some("/u01"));
    assert_eq!((inc.opened_ms, inc.updated_ms), (1_000, 1_000));
    assert_eq!(drain(&mut rx).len(), 1);

    // A clone keeps the writer alive; dropping the last one stops and joins it.
    let clone = store.clone();
    drop(store);
    assert_eq!(clone.list(&[], 0).unwrap().len(), 1);
    drop(clone);

    let store = Store::open(dir.path(), tx).unwrap();
    let open = store.open_incidents().unwrap();
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].state, IncidentState::Open);
    assert_eq!(open[0].fingerprint, FP);
    let last = store.last_event_id().unwrap();
    assert_eq!(last, 1);

    store
        .commit(batch(vec![open_change("disk_full", FP, 2_000)]))
        .await
        .unwrap();
    assert_eq!(store.list(&IncidentState::ALL, 0).unwrap().len(), 1);
    assert_eq!(store.last_event_id().unwrap(), last);
    assert!(drain(&mut rx).is_empty(), "a resent open publishes nothing");
}

#[tokio::test]
async fn rule_resolve_resolves_the_live_incident_and_is_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let (tx, mut rx) = bus();
    let store = Store::open(dir.path(), tx).unwrap();
    store
        .commit(batch(vec![open_change("r", 7, 10)]))
        .await
        .unwrap();
    store
        .commit(batch(vec![resolve_change("r", 7, 20)]))
        .await
        .unwrap();
    // Nothing live any more: a second resolve is a no-op.
    store
        .commit(batch(vec![resolve_change("r", 7, 30)]))
        .await
        .unwrap();

    assert!(store.open_incidents().unwrap().is_empty());
    let all = store.list(&[IncidentState::Resolved], 0).unwrap();
    assert_eq!(all.len(), 1);
    let inc = &all[0];
    assert_eq!(inc.resolved_by.as_deref(), Some(RULE_ACTOR));
    assert_eq!(
        (inc.resolved_ms, inc.updated_ms, inc.value),
        (Some(20), 20, 40.0)
    );

    let kinds: Vec<_> = drain(&mut rx).iter().map(|e| e.kind).collect();
    assert_eq!(kinds, [EventKind::Opened, EventKind::Resolved]);

    // The series fires again long after (beyond the default 10 min reopen window): a new
    // incident, since the old one is no longer live.
    let later = 20 + 11 * 60_000;
    store
        .commit(batch(vec![open_change("r", 7, later)]))
        .await
        .unwrap();
    assert_eq!(store.list(&IncidentState::ALL, 0).unwrap().len(), 2);
    assert_eq!(store.open_incidents().unwrap().len(), 1);
}

#[tokio::test]
async fn ack_then_resolve_by_hand_and_rule_resolve_after_is_a_no_op() {
    let dir = tempfile::tempdir().unwrap();
    let (tx, mut rx) = bus();
    let store = Store::open(dir.path(), tx).unwrap();
    store
        .commit(batch(vec![open_change("r", 1, 10)]))
        .await
        .unwrap();
    let id = store.open_incidents().unwrap()[0].id;

    let acked = store
        .acknowledge(id, "ann", Some("looking"), 20)
        .await
        .unwrap();
    assert_eq!(acked.state, IncidentState::Acknowledged);
    assert_eq!(acked.acked_by.as_deref(), Some("ann"));
    assert_eq!(acked.acked_ms, Some(20));
    assert_eq!(acked.ack_note.as_deref(), Some("looking"));
    assert_eq!(store.get(id).unwrap().as_ref(), Some(&acked));
    assert_eq!(store.list(&[], 0).unwrap().len(), 1, "acknowledged is live");

    let resolved = store
        .resolve(id, "bob", Some("freed space"), 30)
        .await
        .unwrap();
    assert_eq!(resolved.state, IncidentState::Resolved);
    assert_eq!(resolved.resolved_by.as_deref(), Some("bob"));
    assert_eq!(resolved.acked_by.as_deref(), Some("ann"));
    assert_eq!(store.get(id).unwrap(), Some(resolved));

    store
        .commit(batch(vec![resolve_change("r", 1, 40)]))
        .await
        .unwrap();
    assert_eq!(
        store
            .get(id)
            .unwrap()
            .and_then(|i| i.resolved_by)
            .as_deref(),
        Some("bob")
    );

    let events = drain(&mut rx);
    let got: Vec<_> = events
        .iter()
        .map(|e| {
            (
                e.kind,
                e.actor.as_str(),
                e.note.as_deref(),
                e.incident.state,
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (EventKind::Opened, RULE_ACTOR, None, IncidentState::Open),
            (
                EventKind::Acknowledged,
                "ann",
                Some("looking"),
                IncidentState::Acknowledged
            ),
            (
                EventKind::Resolved,
                "bob",
                Some("freed space"),
                IncidentState::Resolved
            ),
        ]
    );
}

#[tokio::test]
async fn illegal_transitions_are_refused_with_the_id_and_reason() {
    let dir = tempfile::tempdir().unwrap();
    let (tx, mut rx) = bus();
    let store = Store::open(dir.path(), tx).unwrap();
    store
        .commit(batch(vec![open_change("r", 1, 10)]))
        .await
        .unwrap();
    let id = store.open_incidents().unwrap()[0].id;
    store.resolve(id, "bob", None, 20).await.unwrap();
    let before = drain(&mut rx).len();

    let err = store.acknowledge(id, "ann", None, 30).await.unwrap_err();
    assert!(matches!(err, StoreError::Illegal(_)), "{err:?}");
    assert_eq!(
        err.to_string(),
        format!("incident {id}: cannot acknowledge a resolved incident")
    );
    let err = store.resolve(id, "bob", None, 40).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("incident {id}: incident is already resolved")
    );
    let err = store.acknowledge(999, "ann", None, 50).await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound(999)), "{err:?}");

    // Refused requests change nothing and publish nothing.
    assert_eq!(before, 2);
    assert!(drain(&mut rx).is_empty());
    assert_eq!(store.get(id).unwrap().map(|i| i.updated_ms), Some(20));
}

#[tokio::test]
async fn events_follow_commit_in_increasing_id_order() {
    let dir = tempfile::tempdir().unwrap();
    let (tx, mut rx) = bus();
    let store = Store::open(dir.path(), tx).unwrap();
    store
        .commit(batch(vec![
            open_change("a", 1, 10),
            open_change("b", 2, 10),
            resolve_change("a", 1, 20),
        ]))
        .await
        .unwrap();
    // Published before `commit` returned, so already in the receiver.
    let events = drain(&mut rx);
    let kinds: Vec<_> = events
        .iter()
        .map(|e| (e.kind, e.incident.rule.as_str()))
        .collect();
    assert_eq!(
        kinds,
        [
            (EventKind::Opened, "a"),
            (EventKind::Opened, "b"),
            (EventKind::Resolved, "a")
        ]
    );
    assert!(events.windows(2).all(|w| w[0].id < w[1].id));
    assert_eq!(
        events.last().map(|e| e.id),
        Some(store.last_event_id().unwrap())
    );
    // The incident in an event is the state after the change, as stored.
    let b = &events[1].incident;
    assert_eq!(store.get(b.id).unwrap().as_ref(), Some(b));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_commits_group_and_never_duplicate() {
    let dir = tempfile::tempdir().unwrap();
    let (tx, mut rx) = bus();
    let store = Store::open(dir.path(), tx).unwrap();
    const TASKS: u64 = 200;
    const KEYS: u64 = 37;
    let mut handles = Vec::new();
    for t in 0..TASKS {
        let store = store.clone();
        handles.push(tokio::spawn(async move {
            // Every task opens a few overlapping keys: many duplicates race each other.
            let changes = (0..5)
                .map(|k| open_change(&format!("rule{}", (t + k) % 3), (t + k) % KEYS, t as i64))
                .collect();
            store
                .commit(WriteBatch {
                    changes,
                    applied: vec![AppliedSeq {
                        agent_id: format!("agent{}", t % 4),
                        epoch: 1,
                        seq: t,
                    }],
                })
                .await
        }));
    }
    for h in handles {
        h.await.unwrap().unwrap();
    }
    let mut expected = HashSet::new();
    for t in 0..TASKS {
        for k in 0..5 {
            expected.insert((format!("rule{}", (t + k) % 3), (t + k) % KEYS));
        }
    }
    let all = store.list(&IncidentState::ALL, 0).unwrap();
    let got: HashSet<_> = all
        .iter()
        .map(|i| (i.rule.clone(), i.fingerprint))
        .collect();
    assert_eq!(all.len(), got.len(), "no duplicate incident");
    assert_eq!(got, expected);
    let events = drain(&mut rx);
    assert_eq!(events.len(), expected.len());
    assert!(events.windows(2).all(|w| w[0].id < w[1].id));
    // The newest seq per agent wins whatever order the tasks committed in.
    let seqs = store.applied_seqs().unwrap();
    let want: Vec<_> = (0..4)
        .map(|a| AppliedSeq {
            agent_id: format!("agent{a}"),
            epoch: 1,
            seq: (0..TASKS).filter(|t| t % 4 == a).max().unwrap(),
        })
        .collect();
    assert_eq!(seqs, want);
}

#[tokio::test]
async fn applied_seqs_keep_the_newest_and_survive_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let (tx, _rx) = bus();
    let seq = |agent: &str, epoch, seq| AppliedSeq {
        agent_id: agent.into(),
        epoch,
        seq,
    };
    {
        let store = Store::open(dir.path(), tx.clone()).unwrap();
        store
            .commit(WriteBatch {
                changes: Vec::new(),
                applied: vec![seq("a", 1, 10), seq("b", 3, 5)],
            })
            .await
            .unwrap();
        store
            .commit(WriteBatch {
                changes: Vec::new(),
                // Older ones (a late resend) must not move it back; a new epoch wins.
                applied: vec![seq("a", 1, 9), seq("b", 4, 1), seq("a", 0, 99)],
            })
            .await
            .unwrap();
    }
    let store = Store::open(dir.path(), tx).unwrap();
    assert_eq!(
        store.applied_seqs().unwrap(),
        [seq("a", 1, 10), seq("b", 4, 1)]
    );
}

#[tokio::test]
async fn list_filters_orders_and_limits() {
    let dir = tempfile::tempdir().unwrap();
    let (tx, _rx) = bus();
    let store = Store::open(dir.path(), tx).unwrap();
    store
        .commit(batch(
            (0..5).map(|i| open_change("r", i, i as i64)).collect(),
        ))
        .await
        .unwrap();
    store
        .commit(batch(vec![resolve_change("r", 0, 10)]))
        .await
        .unwrap();
    let ids = |v: Vec<Incident>| v.into_iter().map(|i| i.fingerprint).collect::<Vec<_>>();
    assert_eq!(ids(store.list(&[], 0).unwrap()), [4, 3, 2, 1]);
    assert_eq!(ids(store.list(&[], 2).unwrap()), [4, 3]);
    assert_eq!(ids(store.list(&[IncidentState::Resolved], 0).unwrap()), [0]);
    assert_eq!(ids(store.open_incidents().unwrap()), [1, 2, 3, 4]);
    assert_eq!(store.get(12345).unwrap(), None);
}

#[test]
fn database_refuses_a_second_live_incident_for_the_same_series() {
    let dir = tempfile::tempdir().unwrap();
    let mut conn = Connection::open(dir.path().join("t.db")).unwrap();
    schema::configure_writer(&conn).unwrap();
    schema::migrate(&mut conn).unwrap();
    // Migrating twice is a no-op.
    schema::migrate(&mut conn).unwrap();
    let insert = |state: &str| {
        conn.execute(
            "INSERT INTO incidents (rule, severity, state, host, labels_json, summary, value, \
             fingerprint, opened_ms, updated_ms, clock_start_ms) VALUES ('r', 'P1', ?1, 'h', \
             '{}', '', 0, '0000000000000001', 0, 0, 0)",
            [state],
        )
    };
    insert("resolved").unwrap();
    insert("open").unwrap();
    for live in ["open", "acknowledged", "assigned", "waiting"] {
        assert!(insert(live).is_err(), "{live}");
    }
    insert("closed").unwrap();
    assert!(insert("snoozed").is_err(), "unknown states are refused");
    let version: u32 = conn
        .query_row("SELECT version FROM schema_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, SCHEMA_VERSION);
}

#[test]
fn newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    {
        let conn = Connection::open(dir.path().join(DB_FILE)).unwrap();
        conn.execute_batch(
            "CREATE TABLE schema_version (version INTEGER NOT NULL);
             INSERT INTO schema_version VALUES (99);",
        )
        .unwrap();
    }
    let (tx, _rx) = bus();
    let err = Store::open(dir.path(), tx).err().unwrap();
    assert!(
        matches!(err, StoreError::SchemaTooNew { found: 99, .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_version_1_store_migrates_with_its_incidents_and_journal() {
    let dir = tempfile::tempdir().unwrap();
    {
        // The version 1 schema exactly as released, with an open and a resolved incident.
        let mut conn = Connection::open(dir.path().join(DB_FILE)).unwrap();
        conn.execute_batch(
            "CREATE TABLE schema_version (version INTEGER NOT NULL);
             INSERT INTO schema_version VALUES (1);",
        )
        .unwrap();
        let tx = conn.transaction().unwrap();
        tx.execute_batch(schema::MIGRATIONS[0]).unwrap();
        tx.execute_batch(
            "INSERT INTO incidents (id, rule, severity, state, host, labels_json, summary, value,
                 fingerprint, opened_ms, updated_ms, acked_by, acked_ms)
             VALUES (1, 'disk_full', 'P2', 'acknowledged', 'db1', '{\"host\":\"db1\"}', 's', 95,
                 '00000000000000aa', 1000, 2000, 'ann', 2000),
                    (2, 'cpu_high', 'P3', 'resolved', 'db1', '{}', 's', 10,
                 '00000000000000bb', 500, 900, NULL, NULL);
             INSERT INTO incident_events (incident_id, kind, at_ms, actor, state)
             VALUES (1, 'opened', 1000, 'rule', 'open'), (1, 'acknowledged', 2000, 'ann', 'acknowledged');",
        )
        .unwrap();
        tx.commit().unwrap();
    }
    let (tx, _rx) = bus();
    let store = Store::open(dir.path(), tx).unwrap();
    let live = store.open_incidents().unwrap();
    assert_eq!(live.len(), 1);
    let inc = &live[0];
    assert_eq!(inc.state, IncidentState::Acknowledged);
    assert_eq!(inc.acked_by.as_deref(), Some("ann"));
    assert_eq!(
        inc.handling.clock_start_ms, 1000,
        "clocks of old incidents start at opening"
    );
    assert_eq!(inc.handling.source, "rule");
    assert_eq!(store.last_event_id().unwrap(), 2);
    assert_eq!(
        store.get(2).unwrap().unwrap().state,
        IncidentState::Resolved
    );
    // The rebuilt table still refuses a duplicate live incident and takes new ones.
    store
        .commit(batch(vec![open_change("disk_full", 0xaa, 3000)]))
        .await
        .unwrap();
    assert_eq!(store.open_incidents().unwrap().len(), 1);
}

fn store_with(
    site_src: &str,
) -> (
    tempfile::TempDir,
    Store,
    broadcast::Receiver<Arc<IncidentEvent>>,
) {
    let dir = tempfile::tempdir().unwrap();
    let site = crate::noc::site::parse_site("site.toml", site_src).unwrap();
    let (tx, rx) = bus();
    let store = Store::open_with_site(dir.path(), tx, crate::noc::site_handle(site)).unwrap();
    (dir, store, rx)
}

const MIN: i64 = 60_000;
const T0: i64 = 1_795_425_120_000; // 2026-11-23T09:12:00Z

const PAUSING_SITE: &str = r#"
[incidents]
reopen_within = "10m"

[[level]]
name = "P2"
respond = "10m"
fix_plan = "1h"
resolve = "6h"
waiting_pauses_resolve = true

[[maintenance]]
name = "db1 patching"
match = '{host="db1"}'
start = "2026-11-23T12:00:00Z"
end = "2026-11-23T14:00:00Z"
"#;

async fn open_one(store: &Store, at: i64) -> Incident {
    store
        .commit(batch(vec![open_change("disk_full", FP, at)]))
        .await
        .unwrap();
    store.open_incidents().unwrap().pop().unwrap()
}

#[tokio::test]
async fn every_operation_of_the_lifecycle_is_journalled() {
    let (_dir, store, mut rx) = store_with(PAUSING_SITE);
    let inc = open_one(&store, T0).await;
    assert_eq!(inc.handling.respond_due_ms, Some(T0 + 10 * MIN));
    assert_eq!(inc.handling.fix_plan_due_ms, Some(T0 + 60 * MIN));
    assert_eq!(inc.handling.resolve_due_ms, Some(T0 + 360 * MIN));
    let id = inc.id;

    // Waiting needs someone to have taken it.
    let err = store
        .act(id, Op::Wait, "ann", None, T0 + MIN)
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "incident {id}: cannot put an open incident on wait (acknowledge or assign it first)"
        )
    );
    // Assigning an open incident takes it (respond clock met).
    let inc = store
        .act(id, Op::Assign("bob".into()), "ann", None, T0 + 2 * MIN)
        .await
        .unwrap();
    assert_eq!(inc.state, IncidentState::Assigned);
    assert_eq!(inc.handling.assignee.as_deref(), Some("bob"));
    assert_eq!(inc.acked_by.as_deref(), Some("ann"));
    assert_eq!(inc.acked_ms, Some(T0 + 2 * MIN));

    // Waiting 1 h on the vendor moves the resolve deadline out by 1 h on this level.
    let inc = store
        .act(id, Op::Wait, "bob", Some("vendor case 4711"), T0 + 60 * MIN)
        .await
        .unwrap();
    assert_eq!(inc.state, IncidentState::Waiting);
    let inc = store
        .act(id, Op::Assign("bob".into()), "bob", None, T0 + 120 * MIN)
        .await
        .unwrap();
    assert_eq!(inc.state, IncidentState::Assigned);
    assert_eq!(inc.handling.waiting_since_ms, None);
    assert_eq!(inc.handling.resolve_due_ms, Some(T0 + 420 * MIN));

    let err = store
        .act(id, Op::Comment, "bob", Some("  "), T0)
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("incident {id}: a comment needs its text")
    );
    store
        .act(id, Op::Comment, "bob", Some("disk ordered"), T0 + 121 * MIN)
        .await
        .unwrap();
    let inc = store
        .act(
            id,
            Op::Plan,
            "bob",
            Some("swap disk tonight"),
            T0 + 122 * MIN,
        )
        .await
        .unwrap();
    assert_eq!(inc.handling.planned_ms, Some(T0 + 122 * MIN));
    let inc = store
        .act(id, Op::Resolve, "bob", Some("disk swapped"), T0 + 200 * MIN)
        .await
        .unwrap();
    assert_eq!(inc.handling.resolution.as_deref(), Some("disk swapped"));
    let err = store
        .act(id, Op::Assign("x".into()), "ann", None, T0)
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("incident {id}: cannot assign a resolved incident")
    );
    let inc = store
        .act(id, Op::Close, "ann", None, T0 + 300 * MIN)
        .await
        .unwrap();
    assert_eq!(inc.state, IncidentState::Closed);
    assert_eq!(inc.handling.closed_ms, Some(T0 + 300 * MIN));
    let err = store
        .act(id, Op::Comment, "ann", Some("late"), T0)
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("incident {id}: a closed incident takes no more comments")
    );

    let journal = store.journal(id).unwrap();
    let kinds: Vec<&str> = journal.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "opened",
            "assigned",
            "waiting",
            "assigned",
            "commented",
            "planned",
            "resolved",
            "closed"
        ]
    );
    assert_eq!(journal[2].note.as_deref(), Some("vendor case 4711"));
    assert_eq!(journal[1].actor, "ann");
    assert_eq!(journal[0].level.as_deref(), Some("P2"));
    // The resolution records each clock and whether it was met.
    let resolved: serde_json::Value =
        serde_json::from_str(journal[6].detail.as_deref().unwrap()).unwrap();
    assert_eq!(resolved["respond"]["met"], true);
    assert_eq!(
        resolved["fix_plan"]["met"], false,
        "planned at +122 min, due at +60 min"
    );
    assert_eq!(resolved["resolve"]["met"], true);
    // Published in order, same ids as the journal.
    let published: Vec<u64> = drain(&mut rx).iter().map(|e| e.id).collect();
    let stored: Vec<u64> = journal.iter().map(|e| e.event_id).collect();
    assert_eq!(published, stored);
}

#[tokio::test]
async fn a_condition_back_within_the_reopen_window_reopens_the_same_incident() {
    let (_dir, store, mut rx) = store_with(PAUSING_SITE);
    let first = open_one(&store, T0).await;
    store
        .commit(batch(vec![resolve_change("disk_full", FP, T0 + MIN)]))
        .await
        .unwrap();
    // Back after 5 min (window 10 min): the same incident, reopened.
    let again = open_one(&store, T0 + 6 * MIN).await;
    assert_eq!(again.id, first.id);
    assert_eq!(again.state, IncidentState::Open);
    assert_eq!(again.handling.reopened, 1);
    assert_eq!(again.resolved_ms, None);
    let kinds: Vec<EventKind> = drain(&mut rx).iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        [EventKind::Opened, EventKind::Resolved, EventKind::Reopened]
    );
    // Back after the window: a new incident.
    store
        .commit(batch(vec![resolve_change("disk_full", FP, T0 + 7 * MIN)]))
        .await
        .unwrap();
    let third = open_one(&store, T0 + 30 * MIN).await;
    assert_ne!(third.id, first.id);
    assert_eq!(third.handling.reopened, 0);
}

#[tokio::test]
async fn an_incident_opening_in_maintenance_is_suppressed_and_its_clocks_shift() {
    let (_dir, store, mut rx) = store_with(PAUSING_SITE);
    let noon = 1_795_435_200_000; // 2026-11-23T12:00:00Z
    let inc = open_one(&store, noon + 30 * MIN).await;
    let end = noon + 120 * MIN;
    assert_eq!(inc.handling.suppressed_by.as_deref(), Some("db1 patching"));
    assert_eq!(inc.handling.clock_start_ms, end);
    assert_eq!(inc.handling.respond_due_ms, Some(end + 10 * MIN));
    let kinds: Vec<EventKind> = drain(&mut rx).iter().map(|e| e.kind).collect();
    assert_eq!(kinds, [EventKind::Opened, EventKind::Suppressed]);
}

// --- Manual incidents (Store::create) ---

fn report(level: &str, source: &str) -> NewIncident {
    NewIncident {
        level: level.into(),
        host: "db1".into(),
        summary: "users report slow logins".into(),
        source: source.into(),
        labels: Labels::from_pairs([("service", "portal")]),
    }
}

#[tokio::test]
async fn a_manual_incident_gets_the_site_clocks_and_the_reporter_as_actor() {
    let (_dir, store, mut rx) = store_with(PAUSING_SITE);
    let inc = store
        .create(report("P2", "phone"), "ann", T0)
        .await
        .unwrap();
    assert_eq!(inc.rule, MANUAL_RULE);
    assert_eq!(inc.state, IncidentState::Open);
    assert_eq!(inc.handling.source, "phone");
    assert_eq!(inc.labels.get("host"), Some("db1"));
    assert_eq!(inc.labels.get("service"), Some("portal"));
    assert_eq!(inc.handling.clock_start_ms, T0);
    assert_eq!(inc.handling.respond_due_ms, Some(T0 + 10 * MIN));
    assert_eq!(inc.handling.fix_plan_due_ms, Some(T0 + 60 * MIN));
    assert_eq!(inc.handling.resolve_due_ms, Some(T0 + 360 * MIN));
    // What was returned is what was stored.
    assert_eq!(store.get(inc.id).unwrap().as_ref(), Some(&inc));

    let journal = store.journal(inc.id).unwrap();
    assert_eq!(journal.len(), 1);
    assert_eq!(
        (journal[0].kind.as_str(), journal[0].actor.as_str()),
        ("opened", "ann")
    );
    assert_eq!(journal[0].level.as_deref(), Some("P2"));
    let events = drain(&mut rx);
    assert_eq!(events.len(), 1);
    assert_eq!(
        (events[0].kind, events[0].actor.as_str()),
        (EventKind::Opened, "ann")
    );

    // It goes through the same lifecycle as a rule's incident.
    let acked = store
        .act(inc.id, Op::Acknowledge, "bob", None, T0 + 5 * MIN)
        .await
        .unwrap();
    assert_eq!(acked.state, IncidentState::Acknowledged);
}

#[tokio::test]
async fn identical_manual_reports_are_two_incidents() {
    let (_dir, store, _rx) = store_with(PAUSING_SITE);
    let a = store
        .create(report("P2", "email"), "ann", T0)
        .await
        .unwrap();
    let b = store
        .create(report("P2", "email"), "ann", T0)
        .await
        .unwrap();
    assert_ne!(a.id, b.id);
    assert_ne!(a.fingerprint, b.fingerprint);
    assert_eq!(store.open_incidents().unwrap().len(), 2);
}

#[tokio::test]
async fn a_manual_incident_in_maintenance_is_suppressed_like_a_rule_one() {
    let (_dir, store, mut rx) = store_with(PAUSING_SITE);
    let noon = 1_795_435_200_000; // 2026-11-23T12:00:00Z, inside "db1 patching"
    let inc = store
        .create(report("P2", "inspection"), "ann", noon + 30 * MIN)
        .await
        .unwrap();
    assert_eq!(inc.handling.suppressed_by.as_deref(), Some("db1 patching"));
    assert_eq!(inc.handling.respond_due_ms, Some(noon + 130 * MIN));
    let kinds: Vec<(EventKind, String)> = drain(&mut rx)
        .iter()
        .map(|e| (e.kind, e.actor.clone()))
        .collect();
    assert_eq!(
        kinds,
        [
            (EventKind::Opened, "ann".to_owned()),
            (EventKind::Suppressed, "ann".to_owned())
        ]
    );
}

#[tokio::test]
async fn bad_reports_are_refused_with_what_is_known_and_store_nothing() {
    let (_dir, store, mut rx) = store_with(PAUSING_SITE);
    let refused = |r: Result<Incident, StoreError>| match r {
        Err(StoreError::InvalidNew(m)) => m,
        other => panic!("expected InvalidNew, got {other:?}"),
    };
    assert_eq!(
        refused(store.create(report("P9", "phone"), "ann", T0).await),
        "unknown level 'P9': this site's levels are P2"
    );
    assert_eq!(
        refused(store.create(report("P2", "pager"), "ann", T0).await),
        "unknown source 'pager': expected one of phone, email, inspection, other"
    );
    assert!(refused(store.create(report("P2", "phone"), " ", T0).await).contains("'by'"));
    let mut no_host = report("P2", "phone");
    no_host.host = "  ".into();
    assert!(refused(store.create(no_host, "ann", T0).await).contains("host"));
    let mut long = report("P2", "phone");
    long.summary = "x".repeat(1025);
    assert!(refused(store.create(long, "ann", T0).await).contains("summary"));
    let mut bad_label = report("P2", "phone");
    bad_label.labels.insert("9lives", "x");
    assert!(refused(store.create(bad_label, "ann", T0).await).contains("'9lives'"));
    let mut other_host = report("P2", "phone");
    other_host.labels.insert("host", "db2");
    assert!(refused(store.create(other_host, "ann", T0).await).contains("contradicts"));

    assert!(store.list(&IncidentState::ALL, 0).unwrap().is_empty());
    assert_eq!(store.last_event_id().unwrap(), 0);
    assert!(drain(&mut rx).is_empty());
}

#[tokio::test]
async fn the_default_site_names_p1_to_p4_when_refusing_a_level() {
    let dir = tempfile::tempdir().unwrap();
    let (tx, _rx) = bus();
    let store = Store::open(dir.path(), tx).unwrap();
    let err = store
        .create(report("critical", "phone"), "ann", T0)
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "unknown level 'critical': this site's levels are P1, P2, P3, P4"
    );
}
