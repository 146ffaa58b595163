//! The agent's own counters, reported the way everything else is: as samples in its batches,
//! every [`EVERY`] and right after a reload, so they reach the collector (and its `/metrics`)
//! with the agent's `host` and static labels. Listed in `docs/metrics.md`.

use std::sync::atomic::Ordering;
use std::time::Duration;

use patrol_proto::model::now_ms;
use patrol_proto::{Labels, Sample};

use crate::Shared;
use crate::drops::DropReason;

/// How often the agent reports its own counters.
pub const EVERY: Duration = Duration::from_secs(10);

/// The agent's counters and gauges as samples, stamped now.
pub fn samples(shared: &Shared) -> Vec<Sample> {
    let now = now_ms();
    let mut out = Vec::new();
    let mut put = |name: &str, labels: Labels, value: u64| {
        out.push(Sample::new(name, labels, value as f64, now));
    };
    for reason in DropReason::ALL {
        put(
            "patrol_agent_dropped_samples_total",
            Labels::from_pairs([("reason", reason.label())]),
            shared.drops.get(reason),
        );
    }
    put(
        "patrol_agent_reload_failures_total",
        Labels::new(),
        shared.reload_failures.load(Ordering::Relaxed),
    );
    let (batches, _) = shared
        .outbox
        .lock()
        .map(|o| o.pending())
        .unwrap_or_default();
    put(
        "patrol_agent_memory_pending_batches",
        Labels::new(),
        batches as u64,
    );
    if let Some(spool) = &shared.spool {
        let s = &spool.state;
        put(
            "patrol_agent_spool_pending_batches",
            Labels::new(),
            s.pending_batches.load(Ordering::Relaxed),
        );
        put(
            "patrol_agent_spool_bytes",
            Labels::new(),
            s.bytes.load(Ordering::Relaxed),
        );
        put(
            "patrol_agent_spool_repairs_total",
            Labels::new(),
            s.repairs.load(Ordering::Relaxed),
        );
        put(
            "patrol_agent_spool_errors_total",
            Labels::new(),
            s.errors.load(Ordering::Relaxed),
        );
    }
    out
}
