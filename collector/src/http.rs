//! HTTP: `/healthz`, `/metrics` in the Prometheus text format (the collector's own counters,
//! then the latest value of every series still reporting), and the Prometheus-compatible query
//! API under `/api/v1/` ([`crate::query_api`]), which needs the viewer role
//! ([`crate::auth::http`]).

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;

use std::time::Duration;

use patrol_proto::Labels;
use patrol_proto::model::now_ms;

use crate::core::{AGENT_UP, Core};

pub fn router(core: Arc<Core>) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        // The query API is a read: the viewer role, as the History gRPC service.
        .merge(
            crate::query_api::router().route_layer(axum::middleware::from_fn_with_state(
                Arc::clone(&core),
                crate::auth::http::require_viewer,
            )),
        )
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
    // From the published view, never the engine: a scrape must not hold ingest back
    // (crate::latest). Rendering a million series is CPU work: off the async workers.
    let view = Arc::clone(&core);
    let text = match tokio::task::spawn_blocking(move || {
        let current = Current::new(now_ms(), view.stale_after, &view.agents.silent_labels());
        view.latest.render_where(
            &mut text,
            patrol_probes::catalog::help,
            |name, labels, ts| current.keeps(name, labels, ts),
        );
        text
    })
    .await
    {
        Ok(text) => text,
        Err(e) => {
            return (
                StatusCode::INTERNAL_SERVER_ERROR,
                [(header::CONTENT_TYPE, "text/plain")],
                e.to_string(),
            );
        }
    };
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
}

/// Which series are still current: a series that sent nothing for `stale_after`, or whose
/// agent's stream is gone and whose silence is confirmed, is left out, so a scraper records a
/// gap instead of a stopped agent's last value as fresh. `patrol_agent_up` always stays: it is
/// the collector's own verdict on the agent.
pub struct Current {
    now_ms: i64,
    stale_ms: i64,
    /// Each silent agent's labels as `k="v"` pairs, written as the exposition writes them.
    silent: Vec<Vec<String>>,
}

impl Current {
    pub fn new(now_ms: i64, stale_after: Duration, silent: &[Labels]) -> Self {
        let silent = silent
            .iter()
            .map(|l| {
                l.iter()
                    .map(|(k, v)| {
                        let one = Labels::from_pairs([(k, v)]).to_string();
                        one.trim_start_matches('{').trim_end_matches('}').to_owned()
                    })
                    .collect()
            })
            .collect();
        Current {
            now_ms,
            stale_ms: i64::try_from(stale_after.as_millis()).unwrap_or(i64::MAX),
            silent,
        }
    }

    /// Whether the series `name` with the label text `labels` (`{a="b",...}`, as
    /// [`Labels`]' `Display` writes it) and newest sample at `ts` is current.
    pub fn keeps(&self, name: &str, labels: &str, ts: i64) -> bool {
        name == AGENT_UP
            || (self.now_ms.saturating_sub(ts) <= self.stale_ms
                && !self
                    .silent
                    .iter()
                    .any(|pairs| pairs.iter().all(|p| has_pair(labels, p))))
    }
}

/// Whether the label text `{a="1",b="2"}` holds the pair `p` (`b="2"`) whole. Quotes inside
/// values are escaped, so a match starting after `{` or `,` and ending before `,` or `}` is a
/// pair, never part of a value.
fn has_pair(labels: &str, p: &str) -> bool {
    labels.match_indices(p).any(|(i, _)| {
        let before = labels[..i].chars().next_back();
        let after = labels[i + p.len()..].chars().next();
        matches!(before, Some('{' | ',')) && matches!(after, Some(',' | '}'))
    })
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

    #[test]
    fn stale_and_silent_series_are_not_current() {
        let now = 1_000_000;
        let silent = vec![Labels::from_pairs([("host", "c")])];
        let c = Current::new(now, Duration::from_secs(300), &silent);
        let text = |host: &str| Labels::from_pairs([("host", host), ("mount", "/")]).to_string();
        assert!(c.keeps("cpu_usage_percent", &text("a"), now - 1_000));
        assert!(
            !c.keeps("cpu_usage_percent", &text("b"), now - 301_000),
            "stale"
        );
        assert!(
            !c.keeps("cpu_usage_percent", &text("c"), now - 1_000),
            "agent silent"
        );
        assert!(
            c.keeps(AGENT_UP, &text("c"), now - 500_000),
            "the verdict stays"
        );
        // A value that merely contains the pair is not the pair.
        assert!(c.keeps("x", &text("c\",host=\"c"), now));
        assert!(c.keeps("x", &text("cc"), now));
        assert!(!c.keeps("x", "{host=\"c\"}", now));
    }
}
