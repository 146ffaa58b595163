//! Exactly-once across agent and collector restarts, with a scripted agent over the real wire
//! and the real collector binary killed with SIGKILL.
//!
//! Epochs carry no order: old agents pick them at random, newer ones from the clock (which can
//! step back). Whatever the order, the collector must remember how far each epoch was applied.

mod support;

use support::procs::{self, http_get};
use support::wire::{ScriptedAgent, hello, metric};

const METRIC: &str = "scripted_round";

fn counters(http: &str) -> (f64, f64) {
    let (status, body) = http_get(http, "/metrics");
    assert_eq!(status, 200, "{body}");
    (
        metric(&body, "patrol_ingest_batches_applied_total"),
        metric(&body, "patrol_ingest_batches_duplicate_total"),
    )
}

/// An agent that restarts with a *smaller* epoch, then the collector is killed: after the
/// collector's restart the agent's welcome still says how far the new epoch was applied, and
/// resent batches are dropped as duplicates, not applied a second time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_agent_with_a_smaller_epoch_is_not_applied_twice_after_a_collector_kill() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rules = dir.path().join("rules");
    let data = dir.path().join("data");
    std::fs::create_dir_all(&rules).expect("rules dir");

    let (mut first, grpc, _) = procs::collector(&rules, &data);
    let mut a = ScriptedAgent::connect(&grpc, hello("a1", 9_000))
        .await
        .expect("welcome");
    assert_eq!(a.welcome_seq, 0);
    a.send_and_ack(METRIC, 1..=5).await;
    drop(a);

    // The agent restarts with an epoch below the one before.
    let mut a = ScriptedAgent::connect(&grpc, hello("a1", 4_000))
        .await
        .expect("welcome");
    assert_eq!(a.welcome_seq, 0, "a new epoch counts from 1");
    a.send_and_ack(METRIC, 1..=3).await;
    drop(a);

    // A second agent whose new epoch is larger: the ordinary case, kept working.
    let mut b = ScriptedAgent::connect(&grpc, hello("b1", 100))
        .await
        .expect("welcome");
    b.send_and_ack(METRIC, 1..=2).await;
    drop(b);
    let mut b = ScriptedAgent::connect(&grpc, hello("b1", 200))
        .await
        .expect("welcome");
    b.send_and_ack(METRIC, 1..=4).await;
    drop(b);

    first.kill();
    let (_second, grpc, http) = procs::collector(&rules, &data);

    let mut a = ScriptedAgent::connect(&grpc, hello("a1", 4_000))
        .await
        .expect("welcome");
    assert_eq!(
        a.welcome_seq, 3,
        "the collector must remember epoch 4000 of a1 although 9000 came before it"
    );
    // An agent that missed the acks resends: each is a duplicate, acknowledged, not applied.
    a.send_and_ack(METRIC, 1..=3).await;
    let mut b = ScriptedAgent::connect(&grpc, hello("b1", 200))
        .await
        .expect("welcome");
    assert_eq!(b.welcome_seq, 4);
    b.send_and_ack(METRIC, 1..=4).await;
    assert_eq!(
        counters(&http),
        (0.0, 7.0),
        "(applied, duplicate) after the restart"
    );

    // And new batches of the epoch go on being applied.
    a.send_and_ack(METRIC, 4..=4).await;
    assert_eq!(counters(&http).0, 1.0);
}
