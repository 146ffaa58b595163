//! HTTP: `/healthz`, `/metrics` in the Prometheus text format (the collector's own counters,
//! then the latest value of every series still reporting), and the Prometheus-compatible query
//! API under `/api/v1/` ([`crate::query_api`]).

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;

use std::time::Duration;

use patrol_proto::Labels;
use patrol_proto::model::{Sample, now_ms};

use crate::core::{AGENT_UP, Core};

pub fn router(core: Arc<Core>) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .merge(crate::query_api::router())
        .with_state(core)
}

async fn healthz(State(core): State<Arc<Core>>) -> impl IntoResponse {
    let store = core.store.clone();
    // Healthy means the store answers a read; a collector that cannot read its store cannot
    // do its job either.
    match tokio::task::spawn_blocking(move || store.last_event_id()).await {
        Ok(Ok(_)) => (StatusCode::OK, "ok\n".to_owned()),
        Ok(Err(e)) => (StatusCode::SERVICE_UNAVAILABLE, format!("store: {e}\n")),
        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, format!("store: {e}\n")),
    }
}

async fn metrics(State(core): State<Arc<Core>>) -> impl IntoResponse {
    let mut text = String::new();
    if let Err(e) = core.telemetry.encode(&mut text) {
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            [(header::CONTENT_TYPE, "text/plain")],
            e.to_string(),
        );
    }
    // The outbox backlog is read from the store at scrape time: it is the durable truth.
    let store = core.store.clone();
    if let Ok(Ok(backlog)) = tokio::task::spawn_blocking(move || store.outbox_backlog()).await {
        write_backlog(&mut text, &backlog);
    }
    if let Some(h) = &core.history {
        let _ = crate::history_metrics::write(&mut text, h, &core.remote, now_ms());
    }
    let latest = core.engine.lock().map(|e| e.latest()).unwrap_or_default();
    let latest = current(
        latest,
        now_ms(),
        core.stale_after,
        &core.agents.silent_labels(),
    );
    if let Err(e) = patrol_proto::exposition::write_samples(
        &mut text,
        &latest,
        patrol_probes::catalog::help,
        false,
    ) {
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            [(header::CONTENT_TYPE, "text/plain")],
            e.to_string(),
        );
    }
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
}

/// The samples still current: a series that sent nothing for `stale_after`, or whose agent's
/// stream is gone and whose silence is confirmed, is left out, so a scraper records a gap
/// instead of a stopped agent's last value as fresh. `patrol_agent_up` always stays: it is
/// the collector's own verdict on the agent.
pub fn current(
    mut samples: Vec<Sample>,
    now_ms: i64,
    stale_after: Duration,
    silent: &[Labels],
) -> Vec<Sample> {
    let stale_ms = i64::try_from(stale_after.as_millis()).unwrap_or(i64::MAX);
    samples.retain(|s| {
        s.name == AGENT_UP
            || (now_ms.saturating_sub(s.timestamp_ms) <= stale_ms
                && !silent
                    .iter()
                    .any(|l| l.iter().all(|(k, v)| s.labels.get(k) == Some(v))))
    });
    samples
}

/// `patrol_notify_backlog{channel}`, `patrol_notify_oldest_pending_seconds{channel}` and
/// `patrol_notify_refused_total{channel}`.
fn write_backlog(out: &mut String, backlog: &[patrol_store::Backlog]) {
    use std::fmt::Write;
    let now = now_ms();
    let _ = writeln!(
        out,
        "# HELP patrol_notify_backlog Notifications waiting in the outbox, by channel.\n\
         # TYPE patrol_notify_backlog gauge"
    );
    for b in backlog {
        let _ = write!(out, "patrol_notify_backlog{{channel=\"");
        let _ = patrol_proto::exposition::write_escaped(out, &b.channel);
        let _ = writeln!(out, "\"}} {}", b.pending);
    }
    let _ = writeln!(
        out,
        "# HELP patrol_notify_oldest_pending_seconds Age of the oldest notification waiting in the outbox, by channel (0 when none waits).\n\
         # TYPE patrol_notify_oldest_pending_seconds gauge"
    );
    for b in backlog {
        let age = b
            .oldest_pending_ms
            .map_or(0.0, |t| (now - t).max(0) as f64 / 1000.0);
        let _ = write!(out, "patrol_notify_oldest_pending_seconds{{channel=\"");
        let _ = patrol_proto::exposition::write_escaped(out, &b.channel);
        let _ = writeln!(out, "\"}} {age}");
    }
    // Read from the outbox (dead letters with no attempt), so it survives restarts.
    let _ = writeln!(
        out,
        "# HELP patrol_notify_refused_total Notifications not queued because their channel's backlog was at max_backlog (kept as dead letters), by channel.\n\
         # TYPE patrol_notify_refused_total counter"
    );
    for b in backlog {
        let _ = write!(out, "patrol_notify_refused_total{{channel=\"");
        let _ = patrol_proto::exposition::write_escaped(out, &b.channel);
        let _ = writeln!(out, "\"}} {}", b.refused);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(name: &str, host: &str, ts: i64) -> Sample {
        Sample::new(name, Labels::from_pairs([("host", host)]), 1.0, ts)
    }

    #[test]
    fn stale_and_silent_series_are_not_current() {
        let now = 1_000_000;
        let all = vec![
            sample("cpu_usage_percent", "a", now - 1_000),
            sample("cpu_usage_percent", "b", now - 301_000),
            sample("cpu_usage_percent", "c", now - 1_000),
            sample(AGENT_UP, "c", now - 500_000),
        ];
        let silent = vec![Labels::from_pairs([("host", "c")])];
        let kept = current(all, now, Duration::from_secs(300), &silent);
        let hosts: Vec<_> = kept
            .iter()
            .map(|s| (s.name.as_str(), s.labels.get("host").unwrap_or("")))
            .collect();
        assert_eq!(
            hosts,
            vec![("cpu_usage_percent", "a"), (AGENT_UP, "c")],
            "b is stale, c's agent is silent, its patrol_agent_up stays"
        );
    }
}
