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
        threshold: None,
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
                // An older number (a late resend) must not move an epoch back; a new epoch
                // is kept beside the old one whether its number is larger or smaller.
                applied: vec![seq("a", 1, 9), seq("b", 4, 1), seq("a", 0, 99)],
            })
            .await
            .unwrap();
    }
    let store = Store::open(dir.path(), tx).unwrap();
    assert_eq!(
        store.applied_seqs().unwrap(),
        [
            seq("a", 1, 10),
            seq("a", 0, 99),
            seq("b", 3, 5),
            seq("b", 4, 1)
        ]
    );
}

#[tokio::test]
async fn an_agent_keeps_its_most_recent_epochs_whatever_their_values() {
    let dir = tempfile::tempdir().unwrap();
    let (tx, _rx) = bus();
    let store = Store::open(dir.path(), tx).unwrap();
    // Random epochs, as old agents pick them: first seen order is what counts.
    let epochs = [900_u64, 50, 7_000, 3, 600, 20];
    for (i, e) in epochs.iter().enumerate() {
        store
            .commit(WriteBatch {
                changes: Vec::new(),
                applied: vec![AppliedSeq {
                    agent_id: "c".into(),
                    epoch: *e,
                    seq: i as u64 + 1,
                }],
            })
            .await
            .unwrap();
    }
    let kept: Vec<(u64, u64)> = store
        .applied_seqs()
        .unwrap()
        .iter()
        .map(|a| (a.epoch, a.seq))
        .collect();
    assert_eq!(kept, [(7_000, 3), (3, 4), (600, 5), (20, 6)]);
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
    let site = patrol_site::parse_site("site.toml", site_src).unwrap();
    let (tx, rx) = bus();
    let store = Store::open_with_site(dir.path(), tx, patrol_site::site_handle(site)).unwrap();
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

// The NOC lifecycle (journal, reopen window, maintenance) on a site file.
mod lifecycle;
// Manual incidents (Store::create).
mod manual;

#[cfg(unix)]
#[tokio::test]
async fn the_database_is_readable_by_its_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let dir = tempfile::tempdir().unwrap();
    let (tx, _rx) = bus();
    let store = Store::open(dir.path(), tx.clone()).unwrap();
    store
        .commit(batch(vec![open_change("r", FP, 1_000)]))
        .await
        .unwrap();
    let db = dir.path().join(DB_FILE);
    assert_eq!(mode(&db), 0o600);
    let wal = dir.path().join(format!("{DB_FILE}-wal"));
    assert!(wal.exists(), "WAL mode keeps a -wal file while open");
    assert_eq!(mode(&wal), 0o600);
    drop(store);

    // A database an older version left readable by everyone is taken down to 0600.
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
    let store = Store::open(dir.path(), tx).unwrap();
    assert_eq!(mode(&db), 0o600);
    assert_eq!(store.open_incidents().unwrap().len(), 1);
}

#[tokio::test]
async fn facts_survive_a_reopen_and_a_newer_message_replaces_them() {
    let dir = tempfile::tempdir().unwrap();
    let facts = |model: &str| patrol_proto::facts::Facts {
        host: [("hw.model".to_owned(), model.to_owned())].into(),
        devices: [(
            "sw1".to_owned(),
            [("chassis[1001].serial".to_owned(), "FOC1234".to_owned())].into(),
        )]
        .into(),
    };
    {
        let (tx, _rx) = bus();
        let store = Store::open(dir.path(), tx).unwrap();
        for (model, at) in [("R730", 1_000), ("R740", 2_000)] {
            store
                .save_facts(AgentFacts {
                    agent_id: "db1".into(),
                    host: "db1".into(),
                    facts: facts(model),
                    gathered_ms: at,
                })
                .await
                .unwrap();
        }
    }
    let (tx, _rx) = bus();
    let store = Store::open(dir.path(), tx).unwrap();
    assert_eq!(
        store.agent_facts().unwrap(),
        [AgentFacts {
            agent_id: "db1".into(),
            host: "db1".into(),
            facts: facts("R740"),
            gathered_ms: 2_000,
        }]
    );
}

#[test]
fn a_version_7_store_gains_the_facts_table() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut conn = Connection::open(dir.path().join(DB_FILE)).unwrap();
        conn.execute_batch(
            "CREATE TABLE schema_version (version INTEGER NOT NULL);
             INSERT INTO schema_version VALUES (7);",
        )
        .unwrap();
        let tx = conn.transaction().unwrap();
        for sql in &schema::MIGRATIONS[..7] {
            tx.execute_batch(sql).unwrap();
        }
        tx.commit().unwrap();
    }
    let (tx, _rx) = bus();
    let store = Store::open(dir.path(), tx).unwrap();
    assert!(store.agent_facts().unwrap().is_empty());
    assert_eq!(SCHEMA_VERSION, 8);
}

#[tokio::test]
async fn a_period_reads_the_incidents_that_existed_in_it() {
    let dir = tempfile::tempdir().unwrap();
    let (tx, _rx) = bus();
    let store = Store::open(dir.path(), tx).unwrap();
    // (rule, opened, resolved): before the period, across its start, inside, across its
    // end, after it, and still open.
    let spans = [
        ("before", 100, Some(200)),
        ("across_start", 900, Some(1_100)),
        ("inside", 1_200, Some(1_300)),
        ("across_end", 1_900, Some(2_500)),
        ("after", 2_100, Some(2_200)),
        ("still_open", 500, None),
    ];
    for (i, (rule, opened, resolved)) in spans.iter().enumerate() {
        let fp = i as u64 + 1;
        store
            .commit(batch(vec![open_change(rule, fp, *opened)]))
            .await
            .unwrap();
        if let Some(at) = resolved {
            store
                .commit(batch(vec![resolve_change(rule, fp, *at)]))
                .await
                .unwrap();
        }
    }
    let rules = |from, to| -> Vec<String> {
        let mut r: Vec<String> = store
            .overlapping(from, to)
            .unwrap()
            .into_iter()
            .map(|i| i.rule)
            .collect();
        r.sort();
        r
    };
    assert_eq!(
        rules(1_000, 2_000),
        ["across_end", "across_start", "inside", "still_open"]
    );
    assert_eq!(rules(0, 50), Vec::<String>::new());
    assert_eq!(rules(200, 200), ["before"], "bounds are inclusive");
    assert_eq!(rules(3_000, 4_000), ["still_open"]);
}
