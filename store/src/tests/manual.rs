//! Manual incidents (`Store::create`).

use super::*;

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
