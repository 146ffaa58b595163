//! `Incidents.Watch`: the snapshot of open incidents first, then live changes, filtered by the
//! collector (severity meaning "this level and worse", host, rule).

mod support;

use std::time::Duration;

use patrol_proto::Labels;
use patrol_proto::v1::{self, incidents_client::IncidentsClient};
use patrol_store::{Change, WriteBatch};
use support::inproc;

fn open(rule: &str, severity: &str, host: &str, fp: u64) -> Change {
    Change::Open {
        rule: rule.into(),
        severity: severity.into(),
        fingerprint: fp,
        host: host.into(),
        labels: Labels::from_pairs([("host", host)]),
        summary: format!("{rule} on {host}"),
        threshold: None,
        value: 1.0,
        // Now, not a fixed instant: an incident opened long ago is overdue at once and the
        // clock runner would add breach and escalation events to the stream.
        at_ms: patrol_proto::model::now_ms(),
    }
}

async fn next(stream: &mut tonic::Streaming<v1::IncidentEvent>) -> v1::IncidentEvent {
    tokio::time::timeout(Duration::from_secs(10), stream.message())
        .await
        .expect("an event within 10s")
        .expect("stream ok")
        .expect("stream open")
}

fn rule_of(e: &v1::IncidentEvent) -> String {
    e.incident
        .as_ref()
        .map(|i| i.rule.clone())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshot_then_live_with_server_side_filters() {
    let dir = tempfile::tempdir().expect("tempdir");
    let c = inproc::collector(dir.path(), |_| {}).await;
    let store = c.core.store.clone();
    store
        .commit(WriteBatch {
            changes: vec![open("p1_down", "P1", "a", 1), open("p3_warn", "P3", "a", 2)],
            applied: vec![],
        })
        .await
        .expect("commit");

    let mut client = IncidentsClient::connect(format!("http://{}", c.grpc_addr))
        .await
        .expect("connect");
    let mut p2_and_worse = client
        .watch(v1::WatchRequest {
            min_severity: "P2".into(),
            ..Default::default()
        })
        .await
        .expect("watch")
        .into_inner();
    let mut host_b = client
        .watch(v1::WatchRequest {
            host: "b".into(),
            ..Default::default()
        })
        .await
        .expect("watch")
        .into_inner();

    // Snapshot: only the P1 is P2-or-worse; host b has nothing open yet.
    let first = next(&mut p2_and_worse).await;
    assert_eq!(first.kind, v1::EventKind::Snapshot as i32);
    assert_eq!(rule_of(&first), "p1_down");

    store
        .commit(WriteBatch {
            changes: vec![
                open("p4_info", "P4", "b", 3),
                open("p2_degraded", "P2", "b", 4),
            ],
            applied: vec![],
        })
        .await
        .expect("commit");

    // Live: the P4 is filtered out, the P2 comes through; host b sees both, in order.
    let live = next(&mut p2_and_worse).await;
    assert_eq!(live.kind, v1::EventKind::Opened as i32);
    assert_eq!(rule_of(&live), "p2_degraded");
    assert_eq!(rule_of(&next(&mut host_b).await), "p4_info");
    assert_eq!(rule_of(&next(&mut host_b).await), "p2_degraded");

    // An unknown level is refused with the list of known ones.
    let err = client
        .watch(v1::WatchRequest {
            min_severity: "P9".into(),
            ..Default::default()
        })
        .await
        .expect_err("unknown level refused");
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    assert!(
        err.message().contains("expected one of P1, P2, P3, P4"),
        "{err:?}"
    );
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watcher_that_stops_reading_never_blocks_commits_and_is_resynchronised() {
    let dir = tempfile::tempdir().expect("tempdir");
    let c = inproc::collector(dir.path(), |_| {}).await;
    // A small HTTP/2 window, so the transport cannot absorb the flood on the watcher's behalf.
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{}", c.grpc_addr))
        .expect("endpoint")
        .initial_stream_window_size(Some(65_535))
        .initial_connection_window_size(Some(65_535))
        .connect()
        .await
        .expect("connect");
    let mut client = IncidentsClient::new(channel);
    let mut slow = client
        .watch(v1::WatchRequest::default())
        .await
        .expect("watch")
        .into_inner();

    // Far more events than the bus keeps (4096) while the watcher reads nothing: every commit
    // must still complete.
    const TOTAL: u64 = 6000;
    for chunk in 0..(TOTAL / 500) {
        let changes = (0..500)
            .map(|i| open("flood", "P4", "h", chunk * 500 + i + 1))
            .collect();
        tokio::time::timeout(
            Duration::from_secs(30),
            c.core.store.commit(WriteBatch {
                changes,
                applied: vec![],
            }),
        )
        .await
        .expect("a commit is never held up by a watcher")
        .expect("commit");
    }

    // Now it reads: what was buffered, then RESYNC, then a snapshot of everything open.
    let mut seen_resync = false;
    let mut snapshot = 0u64;
    while snapshot < TOTAL {
        let e = next(&mut slow).await;
        if e.kind == v1::EventKind::Resync as i32 {
            seen_resync = true;
            snapshot = 0;
        } else if seen_resync && e.kind == v1::EventKind::Snapshot as i32 {
            snapshot += 1;
        }
    }
    assert!(seen_resync);
    assert_eq!(c.core.telemetry.watchers_lagged.get(), 1);
    c.stop().await;
}
