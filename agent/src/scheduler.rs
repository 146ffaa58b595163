//! Runs each probe on its own interval, in its own task, so a slow probe delays nobody else.

use std::sync::Arc;
use std::time::{Duration, Instant};

use patrol_probes::{BuildContext, CollectContext, Probe, ProbeConfig};
use patrol_proto::model::now_ms;
use patrol_proto::{Labels, Sample};
use tokio::sync::watch;
use tokio::time::MissedTickBehavior;

use crate::Shared;

/// Runs one probe until shutdown, handing each round to the outbox.
pub async fn run_probe(
    kind: &'static str,
    interval: Duration,
    mut probe: Box<dyn Probe>,
    shared: Arc<Shared>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut ticker = tokio::time::interval(interval);
    // A round that overran shifts the schedule instead of firing a burst to catch up.
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut failures = 0u64;
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = shutdown.changed() => return,
        }
        let samples = collect_round(kind, interval, probe.as_mut(), &mut failures).await;
        shared.push(kind, samples);
    }
}

/// One round of one probe, plus the probe's own status samples
/// (`patrol_probe_up{probe}`, `patrol_probe_duration_ms{probe}`).
pub async fn collect_round(
    kind: &'static str,
    timeout: Duration,
    probe: &mut dyn Probe,
    failures: &mut u64,
) -> Vec<Sample> {
    let now = now_ms();
    let started = Instant::now();
    let mut out = Vec::new();
    let ok = match tokio::time::timeout(
        timeout,
        probe.collect(CollectContext { now_ms: now }, &mut out),
    )
    .await
    {
        Ok(Ok(())) => {
            if *failures > 0 {
                tracing::info!(probe = kind, "probe recovered");
            }
            *failures = 0;
            true
        }
        Ok(Err(e)) => {
            *failures += 1;
            // The first failure and then every hundredth, so a broken probe cannot flood the log.
            if *failures == 1 || (*failures).is_multiple_of(100) {
                tracing::warn!(probe = kind, error = %e, failures = *failures, "probe failed");
            }
            false
        }
        Err(_) => {
            *failures += 1;
            if *failures == 1 || (*failures).is_multiple_of(100) {
                tracing::warn!(
                    probe = kind,
                    ?timeout,
                    "probe did not finish within its interval"
                );
            }
            false
        }
    };
    let labels = Labels::from_pairs([("probe", kind)]);
    out.push(Sample::new(
        "patrol_probe_up",
        labels.clone(),
        if ok { 1.0 } else { 0.0 },
        now,
    ));
    out.push(Sample::new(
        "patrol_probe_duration_ms",
        labels,
        started.elapsed().as_secs_f64() * 1000.0,
        now,
    ));
    out
}

/// A built probe with its type name and interval.
pub type BuiltProbe = (&'static str, Duration, Box<dyn Probe>);

/// Builds every configured probe, failing on the first that cannot be built.
pub fn build_all(
    probes: &[ProbeConfig],
    ctx: &BuildContext,
) -> Result<Vec<BuiltProbe>, patrol_probes::ProbeError> {
    probes
        .iter()
        .map(|c| Ok((c.kind(), c.interval(), c.build(ctx)?)))
        .collect()
}
