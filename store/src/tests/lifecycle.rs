//! The NOC lifecycle of rule-opened incidents on a site file: every operation journalled,
//! the reopen window, maintenance.

use super::*;

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
