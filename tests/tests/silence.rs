//! An agent that stops reporting becomes an incident on its host through the shipped
//! `agent_silent` rule, and reporting again resolves it.

mod support;

use std::sync::Arc;
use std::time::Duration;

use patrol_agent::{Agent, AgentConfig};
use patrol_incident::{EventKind, IncidentEvent};
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
    // Memory-only delivery of exactly the test's batches is what this test exercises: no
    // spool (it has tests of its own, agent_spool.rs; a default state_dir would be shared
    // between tests) and none of the agent's own counters.
    cfg.spool.enabled = false;
    cfg.self_metrics = false;
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

/// While an agent is silent, its other incidents stay as they were: no data is not a clear
/// condition, so nothing resolves by the absence of samples (DESIGN: resolve needs a value).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_agent_s_other_incidents_are_not_resolved_by_the_absence_of_data() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rules = dir.path().join("rules");
    std::fs::create_dir_all(&rules).expect("rules dir");
    let shipped = concat!(env!("CARGO_MANIFEST_DIR"), "/../rules/default/agents.toml");
    std::fs::copy(shipped, rules.join("agents.toml")).expect("copy shipped rule");
    // Any running host uses some memory: this fires as soon as the agent reports.
    std::fs::write(
        rules.join("mem.toml"),
        "[[rule]]\nname = \"memory_in_use\"\nexpr = 'memory_used_percent > 0'\n\
         severity = \"P4\"\nsummary = \"memory in use on {{host}}\"\n",
    )
    .expect("rule");
    let c = inproc::collector(dir.path(), |s| s.agent_silence = Duration::from_millis(300)).await;
    let mut events = c.core.bus.subscribe();
    let a = agent(format!("http://{}", c.grpc_addr));
    let opened = next_event(&mut events).await;
    assert_eq!(
        (opened.kind, opened.incident.rule.as_str()),
        (EventKind::Opened, "memory_in_use")
    );
    a.shutdown(Duration::from_secs(1)).await;
    let silent = next_event(&mut events).await;
    assert_eq!(
        (silent.kind, silent.incident.rule.as_str()),
        (EventKind::Opened, "agent_silent")
    );
    // Several sweeps and clock runs later (each 500 ms) nothing else has happened...
    let quiet = tokio::time::timeout(Duration::from_secs(3), events.recv()).await;
    assert!(
        quiet.is_err(),
        "an event while the agent is silent: {quiet:?}"
    );
    // ...and the memory incident is still open.
    let still = c
        .core
        .store
        .get(opened.incident.id)
        .expect("store read")
        .expect("incident exists");
    assert_eq!(still.state.as_str(), "open");
    c.stop().await;
}
