//! HTTP: `/healthz`, and `/metrics` in the Prometheus text format (the collector's own
//! counters, then the latest value of every series).

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;

use crate::core::Core;

pub fn router(core: Arc<Core>) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
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
    // From the published view, never the engine: a scrape must not hold ingest back
    // (crate::latest). Rendering a million series is CPU work: off the async workers.
    let view = Arc::clone(&core);
    let text = match tokio::task::spawn_blocking(move || {
        view.latest.render(&mut text, patrol_probes::catalog::help);
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

/// `patrol_notify_backlog{channel}`, `patrol_notify_oldest_pending_seconds{channel}` and
/// `patrol_notify_refused_total{channel}`.
fn write_backlog(out: &mut String, backlog: &[patrol_store::Backlog]) {
    use std::fmt::Write;
    let now = patrol_proto::model::now_ms();
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
