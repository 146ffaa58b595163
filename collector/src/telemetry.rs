//! The collector's own counters, exported on `/metrics` as `patrol_*`.
//!
//! prometheus-client appends `_total` to counters itself, so they are registered without it.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabel {
    pub reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabel {
    pub kind: String,
}

/// Every counter the collector keeps. Cheap to clone (atomics behind `Arc`).
#[derive(Clone, Default)]
pub struct Telemetry {
    pub batches_applied: Counter,
    pub batches_duplicate: Counter,
    pub samples_ingested: Counter,
    pub rejected: Family<ReasonLabel, Counter>,
    pub rule_evaluations: Counter,
    pub incident_changes: Family<KindLabel, Counter>,
    pub agents_connected: Gauge,
    pub series: Gauge,
    pub rules_loaded: Gauge,
    pub rule_reload_failures: Counter,
    pub store_errors: Counter,
    pub watchers_lagged: Counter,
}

impl Telemetry {
    pub fn registry(&self) -> Registry {
        let mut r = Registry::with_prefix("patrol");
        r.register(
            "ingest_batches_applied",
            "Batches applied",
            self.batches_applied.clone(),
        );
        r.register(
            "ingest_batches_duplicate",
            "Batches dropped because they were already applied (resent after a reconnect)",
            self.batches_duplicate.clone(),
        );
        r.register(
            "ingest_samples",
            "Samples applied",
            self.samples_ingested.clone(),
        );
        r.register(
            "ingest_rejected",
            "Streams or batches refused, by reason",
            self.rejected.clone(),
        );
        r.register(
            "rule_evaluations",
            "Rule evaluations (one per sample per rule watching its series)",
            self.rule_evaluations.clone(),
        );
        r.register(
            "incident_changes",
            "Incident changes decided by rules, by kind",
            self.incident_changes.clone(),
        );
        r.register(
            "agents_connected",
            "Agents with an open stream",
            self.agents_connected.clone(),
        );
        r.register(
            "series",
            "Series in the latest-value table",
            self.series.clone(),
        );
        r.register(
            "rules_loaded",
            "Rules in the active rule set",
            self.rules_loaded.clone(),
        );
        r.register(
            "rule_reload_failures",
            "Rule reloads refused because a file had errors",
            self.rule_reload_failures.clone(),
        );
        r.register(
            "store_errors",
            "Failed incident store commits",
            self.store_errors.clone(),
        );
        r.register(
            "watchers_lagged",
            "Incident watchers that fell behind and were resynchronised",
            self.watchers_lagged.clone(),
        );
        r
    }

    pub fn reject(&self, reason: &str) {
        self.rejected
            .get_or_create(&ReasonLabel {
                reason: reason.to_owned(),
            })
            .inc();
    }
}
