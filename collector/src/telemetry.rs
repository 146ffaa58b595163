//! The collector's own counters, exported on `/metrics` as `patrol_*` in the Prometheus text
//! format 0.0.4 — the same format as the samples that follow them, so one scrape parses as one
//! document (prometheus-client only writes OpenMetrics, whose counter naming differs).

use std::collections::BTreeMap;
use std::fmt::{self, Write};
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

#[derive(Debug, Default)]
pub struct Counter(AtomicU64);

impl Counter {
    pub fn inc(&self) {
        self.inc_by(1);
    }
    pub fn inc_by(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

#[derive(Debug, Default)]
pub struct Gauge(AtomicI64);

impl Gauge {
    pub fn set(&self, v: i64) {
        self.0.store(v, Ordering::Relaxed);
    }
    pub fn get(&self) -> i64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// A counter per value of one label.
#[derive(Debug, Default)]
pub struct LabeledCounter(Mutex<BTreeMap<String, u64>>);

impl LabeledCounter {
    pub fn inc_by(&self, label: &str, n: u64) {
        if let Ok(mut m) = self.0.lock() {
            *m.entry(label.to_owned()).or_default() += n;
        }
    }
    pub fn get(&self, label: &str) -> u64 {
        self.0
            .lock()
            .ok()
            .and_then(|m| m.get(label).copied())
            .unwrap_or(0)
    }
    fn snapshot(&self) -> Vec<(String, u64)> {
        self.0
            .lock()
            .map(|m| m.iter().map(|(k, v)| (k.clone(), *v)).collect())
            .unwrap_or_default()
    }
}

/// A counter per pair of label values, with a bound on distinct pairs: the first label may
/// come from a peer (an agent id), so past [`PAIRS_MAX`] new first values count as `_other`.
#[derive(Debug, Default)]
pub struct PairCounter(Mutex<BTreeMap<(String, String), u64>>);

/// Distinct label pairs a [`PairCounter`] keeps.
pub const PAIRS_MAX: usize = 4096;

impl PairCounter {
    pub fn inc(&self, first: &str, second: &str) {
        if let Ok(mut m) = self.0.lock() {
            let key = (first.to_owned(), second.to_owned());
            if m.len() >= PAIRS_MAX && !m.contains_key(&key) {
                *m.entry(("_other".into(), second.to_owned())).or_default() += 1;
            } else {
                *m.entry(key).or_default() += 1;
            }
        }
    }
    pub fn get(&self, first: &str, second: &str) -> u64 {
        self.0
            .lock()
            .ok()
            .and_then(|m| m.get(&(first.to_owned(), second.to_owned())).copied())
            .unwrap_or(0)
    }
    fn snapshot(&self) -> Vec<((String, String), u64)> {
        self.0
            .lock()
            .map(|m| m.iter().map(|(k, v)| (k.clone(), *v)).collect())
            .unwrap_or_default()
    }
}

/// A gauge per value of one label.
#[derive(Debug, Default)]
pub struct LabeledGauge(Mutex<BTreeMap<String, i64>>);

impl LabeledGauge {
    pub fn set(&self, label: &str, v: i64) {
        if let Ok(mut m) = self.0.lock() {
            m.insert(label.to_owned(), v);
        }
    }
    pub fn get(&self, label: &str) -> i64 {
        self.0
            .lock()
            .ok()
            .and_then(|m| m.get(label).copied())
            .unwrap_or(0)
    }
}

/// Notification outcomes, exported as `patrol_notify_*_total` by channel.
impl patrol_notify::dispatch::Counters for Telemetry {
    fn sent(&self, channel: &str) {
        self.notify_sent.inc_by(channel, 1);
    }
    fn failed(&self, channel: &str) {
        self.notify_failed.inc_by(channel, 1);
    }
    fn retried(&self, channel: &str, n: u64) {
        self.notify_retried.inc_by(channel, n);
    }
    fn dead(&self, channel: &str, n: u64) {
        self.notify_dead.inc_by(channel, n);
    }
}

/// Every counter the collector keeps.
#[derive(Debug, Default)]
pub struct Telemetry {
    pub batches_applied: Counter,
    pub batches_duplicate: Counter,
    pub samples_ingested: Counter,
    /// By `reason`.
    pub rejected: LabeledCounter,
    pub rule_evaluations: Counter,
    /// By `kind` (fired, resolved).
    pub incident_changes: LabeledCounter,
    pub agents_connected: Gauge,
    pub series: Gauge,
    pub rules_loaded: Gauge,
    pub rule_reload_failures: Counter,
    pub site_reload_failures: Counter,
    /// Journal entries written by the clock runner (breaches, escalations, reminders, raises).
    pub clock_events: Counter,
    pub store_errors: Counter,
    /// Batches whose samples the history's log refused (the batch was not acknowledged).
    pub history_errors: Counter,
    pub watchers_lagged: Counter,
    /// Notification deliveries the peer confirmed, by `channel` (patrol_notify::counted).
    pub notify_sent: LabeledCounter,
    /// Notification deliveries that failed, by `channel` (each try counts).
    pub notify_failed: LabeledCounter,
    /// By channel: failed tries put back for a retry.
    pub notify_retried: LabeledCounter,
    /// By channel: notifications given up on (dead letters).
    pub notify_dead: LabeledCounter,
    /// Refused credentials and requests, by reason, with their rate-limited log.
    pub auth_refused: crate::auth::refusals::Refusals,
    /// Batches refused over a limit, by (`agent`, `reason`).
    pub refused: PairCounter,
    /// Points dropped from accepted batches, by `reason` (`non_finite`).
    pub samples_dropped: LabeledCounter,
    /// Series freed because their agents were gone longer than `forget_agent_after`.
    pub series_freed: Counter,
    /// Open connections by `listener` (grpc, http).
    pub connections: LabeledGauge,
    /// Connections refused or closed by the budget, by (`listener`, `reason`).
    pub connections_refused: PairCounter,
    /// Incident watchers (`patrolctl tail`, `Incidents.Watch`) connected.
    pub watchers: Gauge,
    /// Watch requests refused because `max_watchers` were connected.
    pub watchers_refused: Counter,
    /// Inspection sheets made, missed and sent (`patrol_report_*`).
    pub reports: crate::reports::metrics::ReportCounters,
    /// The web console's live-update clients and writes (`patrol_console_*`).
    pub console: crate::console::metrics::ConsoleMetrics,
    /// The last rule and site reload's outcome (the console's status page, `/metrics`).
    pub reloads: crate::console::metrics::Reloads,
}

impl Telemetry {
    pub fn reject(&self, reason: &str) {
        self.rejected.inc_by(reason, 1);
    }

    /// A batch of `agent` refused over a limit: counted by agent and by reason.
    pub fn refuse(&self, agent: &str, reason: &str) {
        self.rejected.inc_by(reason, 1);
        self.refused.inc(agent, reason);
    }

    pub fn connection_refused(&self, listener: &str, reason: &str) {
        self.connections_refused.inc(listener, reason);
    }

    pub fn connections_open(&self, listener: &str, n: usize) {
        self.connections.set(listener, n as i64);
    }

    /// Writes every metric with its HELP and TYPE lines.
    pub fn encode(&self, out: &mut impl Write) -> fmt::Result {
        let counter = |out: &mut dyn Write, name: &str, help: &str, v: u64| -> fmt::Result {
            writeln!(out, "# HELP {name} {help}")?;
            writeln!(out, "# TYPE {name} counter")?;
            writeln!(out, "{name} {v}")
        };
        let gauge = |out: &mut dyn Write, name: &str, help: &str, v: i64| -> fmt::Result {
            writeln!(out, "# HELP {name} {help}")?;
            writeln!(out, "# TYPE {name} gauge")?;
            writeln!(out, "{name} {v}")
        };
        let labeled = |out: &mut dyn Write,
                       name: &str,
                       help: &str,
                       label: &str,
                       c: &LabeledCounter|
         -> fmt::Result {
            writeln!(out, "# HELP {name} {help}")?;
            writeln!(out, "# TYPE {name} counter")?;
            for (value, n) in c.snapshot() {
                write!(out, "{name}{{{label}=\"")?;
                patrol_proto::exposition::write_escaped(out, &value)?;
                writeln!(out, "\"}} {n}")?;
            }
            Ok(())
        };
        let pairs = |out: &mut dyn Write,
                     name: &str,
                     help: &str,
                     labels: (&str, &str),
                     c: &PairCounter|
         -> fmt::Result {
            writeln!(out, "# HELP {name} {help}")?;
            writeln!(out, "# TYPE {name} counter")?;
            for ((a, b), n) in c.snapshot() {
                write!(out, "{name}{{{}=\"", labels.0)?;
                patrol_proto::exposition::write_escaped(out, &a)?;
                write!(out, "\",{}=\"", labels.1)?;
                patrol_proto::exposition::write_escaped(out, &b)?;
                writeln!(out, "\"}} {n}")?;
            }
            Ok(())
        };
        counter(
            out,
            "patrol_ingest_batches_applied_total",
            "Batches applied.",
            self.batches_applied.get(),
        )?;
        counter(
            out,
            "patrol_ingest_batches_duplicate_total",
            "Batches dropped because they were already applied (resent after a reconnect).",
            self.batches_duplicate.get(),
        )?;
        counter(
            out,
            "patrol_ingest_samples_total",
            "Samples applied.",
            self.samples_ingested.get(),
        )?;
        labeled(
            out,
            "patrol_ingest_rejected_total",
            "Streams or batches refused, by reason.",
            "reason",
            &self.rejected,
        )?;
        writeln!(
            out,
            "# HELP patrol_auth_refused_total Requests and agent streams refused for their credential or role, by reason."
        )?;
        writeln!(out, "# TYPE patrol_auth_refused_total counter")?;
        for reason in crate::auth::refusals::Reason::ALL {
            writeln!(
                out,
                "patrol_auth_refused_total{{reason=\"{}\"}} {}",
                reason.label(),
                self.auth_refused.count(reason)
            )?;
        }
        counter(
            out,
            "patrol_rule_evaluations_total",
            "Rule evaluations (one per sample per rule watching its series).",
            self.rule_evaluations.get(),
        )?;
        labeled(
            out,
            "patrol_incident_changes_total",
            "Incident changes decided by rules, by kind.",
            "kind",
            &self.incident_changes,
        )?;
        gauge(
            out,
            "patrol_agents_connected",
            "Agents with an open stream.",
            self.agents_connected.get(),
        )?;
        gauge(
            out,
            "patrol_series",
            "Series in the latest-value table.",
            self.series.get(),
        )?;
        gauge(
            out,
            "patrol_rules_loaded",
            "Rules in the active rule set.",
            self.rules_loaded.get(),
        )?;
        counter(
            out,
            "patrol_rule_reload_failures_total",
            "Rule reloads refused because a file had errors.",
            self.rule_reload_failures.get(),
        )?;
        counter(
            out,
            "patrol_site_reload_failures_total",
            "Site reloads refused because the site file had errors or the rules did not check against its levels.",
            self.site_reload_failures.get(),
        )?;
        counter(
            out,
            "patrol_clock_events_total",
            "Deadline breaches, escalation steps, reminders and level raises fired by the clock runner.",
            self.clock_events.get(),
        )?;
        counter(
            out,
            "patrol_store_errors_total",
            "Failed incident store commits.",
            self.store_errors.get(),
        )?;
        counter(
            out,
            "patrol_history_ingest_errors_total",
            "Batches not acknowledged because the history's log refused their samples.",
            self.history_errors.get(),
        )?;
        labeled(
            out,
            "patrol_notify_sent_total",
            "Notifications a channel's peer confirmed (MQTT PUBACK, HTTP 2xx, SMTP 250), by channel.",
            "channel",
            &self.notify_sent,
        )?;
        labeled(
            out,
            "patrol_notify_failed_total",
            "Notification deliveries that failed (each try), by channel.",
            "channel",
            &self.notify_failed,
        )?;
        labeled(
            out,
            "patrol_notify_retried_total",
            "Failed notification deliveries scheduled for a retry, by channel.",
            "channel",
            &self.notify_retried,
        )?;
        labeled(
            out,
            "patrol_notify_dead_letters_total",
            "Notifications given up on after a permanent failure (kept in the outbox as dead letters), by channel.",
            "channel",
            &self.notify_dead,
        )?;
        counter(
            out,
            "patrol_watchers_lagged_total",
            "Incident watchers that fell behind and were resynchronised.",
            self.watchers_lagged.get(),
        )?;
        gauge(
            out,
            "patrol_watchers",
            "Incident watchers connected.",
            self.watchers.get(),
        )?;
        counter(
            out,
            "patrol_watchers_refused_total",
            "Watch requests refused because max_watchers were connected.",
            self.watchers_refused.get(),
        )?;
        pairs(
            out,
            "patrol_ingest_refused_total",
            "Batches (and facts messages) refused over a limit, by agent and limit (agents past the 4096th counted as _other).",
            ("agent", "reason"),
            &self.refused,
        )?;
        labeled(
            out,
            "patrol_ingest_samples_dropped_total",
            "Points dropped from accepted batches, by reason (non_finite: NaN or infinite values).",
            "reason",
            &self.samples_dropped,
        )?;
        counter(
            out,
            "patrol_series_freed_total",
            "Series freed because their agents were gone longer than forget_agent_after.",
            self.series_freed.get(),
        )?;
        writeln!(
            out,
            "# HELP patrol_connections Open connections, by listener.\n# TYPE patrol_connections gauge"
        )?;
        for listener in ["grpc", "http"] {
            writeln!(
                out,
                "patrol_connections{{listener=\"{listener}\"}} {}",
                self.connections.get(listener)
            )?;
        }
        pairs(
            out,
            "patrol_connections_refused_total",
            "Connections refused or closed by the connection budget, by listener and reason.",
            ("listener", "reason"),
            &self.connections_refused,
        )?;
        self.reports.encode(out)?;
        self.console.encode(out)?;
        self.reloads.encode(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use patrol_notify::counted::deliver;
    use patrol_notify::{Channel, DeliveryError, Message, Payload};

    #[test]
    fn labeled_counters_are_escaped_and_sorted() {
        let t = Telemetry::default();
        t.reject("z");
        t.reject("a\"b");
        t.reject("z");
        let mut out = String::new();
        t.encode(&mut out).unwrap();
        assert!(out.contains("patrol_ingest_rejected_total{reason=\"a\\\"b\"} 1\npatrol_ingest_rejected_total{reason=\"z\"} 2\n"), "{out}");
        assert_eq!(t.rejected.get("z"), 2);
    }

    /// A channel that fails `fail` times, then succeeds: counting is what is tested here, the
    /// real channels are tested against real peers in notify/tests/notify_*.rs.
    struct Flaky {
        fail: std::sync::atomic::AtomicU32,
    }

    #[async_trait::async_trait]
    impl Channel for Flaky {
        fn name(&self) -> &str {
            "flaky"
        }
        async fn probe(&self) -> Result<(), DeliveryError> {
            Ok(())
        }
        async fn deliver(&self, _: &Message) -> Result<(), DeliveryError> {
            let left = self.fail.load(std::sync::atomic::Ordering::SeqCst);
            if left > 0 {
                self.fail
                    .store(left - 1, std::sync::atomic::Ordering::SeqCst);
                Err(DeliveryError::Transient("down".into()))
            } else {
                Ok(())
            }
        }
    }

    #[tokio::test]
    async fn notification_outcomes_are_counted_by_channel() {
        let t = Telemetry::default();
        let ch = Flaky { fail: 2.into() };
        let msg = Message::new(Payload::sample("hq"));
        for _ in 0..3 {
            let _ = deliver(&ch, &msg, &t).await;
        }
        assert_eq!(t.notify_failed.get("flaky"), 2);
        assert_eq!(t.notify_sent.get("flaky"), 1);
        let mut out = String::new();
        t.encode(&mut out).unwrap();
        assert!(
            out.contains("patrol_notify_sent_total{channel=\"flaky\"} 1\n"),
            "{out}"
        );
        assert!(
            out.contains("patrol_notify_failed_total{channel=\"flaky\"} 2\n"),
            "{out}"
        );
    }
}
