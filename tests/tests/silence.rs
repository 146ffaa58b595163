//! An agent that stops reporting becomes an incident on its host through the shipped
//! `agent_silent` rule, and reporting again resolves it.

mod support;

use std::sync::Arc;
use std::time::Duration;

use patrol_agent::{Agent, AgentConfig};
use patrol_collector::incident::{EventKind, IncidentEvent};
use support::inproc;
use tokio::sync::broadcast;

/// An agent running the real host probe every 100 ms, so it reports well within the silence.
fn agent(address: String) -> Agent {
    let mut cfg: AgentConfig = toml::from_str(
        "agent_id = \"quiet-one\"\nhost = \"db7\"\n[labels]\nsite = \"lab\"\n\
         [collector]\nbackoff_min = \"20ms\"\nbackoff_max = \"50ms\"\n\
         [[probe]]\ntype = \"host\"\ninterval = \"100ms\"\n",
    )
    .expect("agent config");
    cfg.collector.address = address;
    Agent::start(cfg.settle("test").expect("settings")).expect("agent")
}

async fn next_event(rx: &mut broadcast::Receiver<Arc<IncidentEvent>>) -> Arc<IncidentEvent> {
    tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("an incident event within 10s")
        .expect("bus open")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_agent_opens_an_incident_and_resolves_when_it_returns() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rules = dir.path().join("rules");
    std::fs::create_dir_all(&rules).expect("rules dir");
    let shipped = concat!(env!("CARGO_MANIFEST_DIR"), "/../rules/default/agents.toml");
    std::fs::copy(shipped, rules.join("agents.toml")).expect("copy shipped rule");
    let c = inproc::collector(dir.path(), |s| s.agent_silence = Duration::from_millis(300)).await;
    let mut events = c.core.bus.subscribe();

    let a = agent(format!("http://{}", c.grpc_addr));
    // Reporting: no incident. Then the agent stops: after the silence, the rule fires.
    let reporting = a
        .wait_for(Duration::from_secs(10), |s| s.batches_acked >= 3)
        .await;
    assert!(reporting, "the agent reports within 10s: {:?}", a.stats());
    assert!(
        events.try_recv().is_err(),
        "a reporting agent is not silent"
    );
    a.shutdown(Duration::from_secs(1)).await;
    let opened = next_event(&mut events).await;
    assert_eq!(opened.kind, EventKind::Opened);
    let i = &opened.incident;
    assert_eq!(i.rule, "agent_silent");
    assert_eq!(i.severity, "P2");
    assert_eq!(i.host, "db7");
    assert_eq!(i.labels.get("agent"), Some("quiet-one"));
    assert_eq!(i.labels.get("site"), Some("lab"));
    assert_eq!(i.summary, "Agent quiet-one on db7 has stopped reporting");

    // It comes back (a restarted agent: new epoch) and reports: resolved.
    let back = agent(format!("http://{}", c.grpc_addr));
    let resolved = next_event(&mut events).await;
    assert_eq!(resolved.kind, EventKind::Resolved);
    assert_eq!(resolved.incident.id, i.id);
    back.shutdown(Duration::from_secs(1)).await;
    c.stop().await;
}
