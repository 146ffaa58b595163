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
    let latest = core.engine.lock().map(|e| e.latest()).unwrap_or_default();
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
