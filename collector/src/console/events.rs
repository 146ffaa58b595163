//! `/console/events`: the board's live updates as server-sent events, fed by the incident
//! event bus the gRPC `Watch` stream reads.
//!
//! A browser gets a `snapshot` (every open incident's row, as [`super::board`] renders them)
//! and then an `incident` event for each change after it. Browsers are bounded by
//! `[connections] max_watchers` (counted apart from gRPC watchers); one more is answered 503
//! with a sentence and counted. A browser that does not keep up — its small buffer full, or
//! the bus gone past it — is dropped rather than waited for: nothing on the collector waits
//! on it, and `EventSource` reconnects by itself and gets a fresh snapshot.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::StreamExt as _;
use patrol_incident::IncidentEvent;
use patrol_proto::model::now_ms;
use tokio::sync::{broadcast, mpsc};
use tokio_stream::wrappers::ReceiverStream;

use super::Refusal;
use crate::core::{Core, next_event};

/// Events buffered per browser; a browser this far behind is dropped.
const BUFFER: usize = 64;
/// How soon a dropped browser comes back (the `retry` field of the first event).
const RETRY: Duration = Duration::from_secs(1);

/// One of the browser places, given back when its stream ends.
struct Slot(Arc<Core>);

impl Slot {
    fn take(core: &Arc<Core>) -> Result<Self, Refusal> {
        let max = core.connections.max_watchers;
        let m = &core.telemetry.console;
        match m
            .sse_taken
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < max).then_some(n + 1)
            }) {
            Ok(n) => {
                m.sse_clients.set(n as i64 + 1);
                Ok(Slot(Arc::clone(core)))
            }
            Err(_) => {
                m.sse_refused.inc();
                core.log.warn("console_sse", || {
                    format!("console live updates refused: {max} browsers follow the board (max_watchers)")
                });
                Err(Refusal(
                    StatusCode::SERVICE_UNAVAILABLE,
                    format!(
                        "{max} browsers already follow the board's live updates, the most this \
                         collector serves ([connections] max_watchers); close one or raise the \
                         limit. The page retries by itself."
                    ),
                ))
            }
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let m = &self.0.telemetry.console;
        let n = m.sse_taken.fetch_sub(1, Ordering::AcqRel);
        m.sse_clients.set(n as i64 - 1);
    }
}

pub async fn stream(State(core): State<Arc<Core>>) -> Response {
    let slot = match Slot::take(&core) {
        Ok(s) => s,
        Err(r) => return r.into_response(),
    };
    // Subscribed before the snapshot is read, so no change falls between the two; changes
    // the snapshot already shows are skipped by event id.
    let bus = core.bus.subscribe();
    let (tx, rx) = mpsc::channel(BUFFER);
    tokio::spawn(async move {
        feed(&core, bus, &tx).await;
        drop(slot);
    });
    Sse::new(ReceiverStream::new(rx).map(Ok::<_, Infallible>))
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response()
}

/// The snapshot event: `{now_ms, rows, more}`.
fn snapshot(core: &Core, open: Vec<patrol_incident::Incident>) -> Event {
    let now = now_ms();
    let (rows, more) = super::board::rows(core, open, now);
    let data = serde_json::json!({
        "now_ms": now,
        "rows": rows,
        "more": more,
        "more_text": super::board::more_text(more),
    });
    Event::default()
        .event("snapshot")
        .retry(RETRY)
        .data(data.to_string())
}

/// One change: `{id, live, html, now_ms}`; a row that is no longer live leaves the board.
fn change(core: &Core, ev: &IncidentEvent) -> Event {
    let now = now_ms();
    let i = &ev.incident;
    let data = serde_json::json!({
        "id": i.id,
        "live": i.state.is_live(),
        "kind": ev.kind.as_str(),
        "now_ms": now,
        "html": super::board::row(core, i, now, &super::zone(core)),
    });
    Event::default().event("incident").data(data.to_string())
}

async fn feed(
    core: &Arc<Core>,
    mut bus: broadcast::Receiver<Arc<IncidentEvent>>,
    tx: &mpsc::Sender<Event>,
) {
    let store = core.store.clone();
    let read = tokio::task::spawn_blocking(move || {
        let last = store.last_event_id()?;
        Ok::<_, patrol_store::StoreError>((last, store.open_incidents()?))
    })
    .await;
    let (last_id, open) = match read {
        Ok(Ok(v)) => v,
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "console live updates: the store could not be read");
            return;
        }
        Err(_) => return,
    };
    if tx.try_send(snapshot(core, open)).is_err() {
        return;
    }
    let mut shutdown = core.shutdown.clone();
    loop {
        let Some(received) = next_event(&mut bus, tx.closed(), &mut shutdown).await else {
            return;
        };
        match received {
            Ok(ev) if ev.id <= last_id => {}
            Ok(ev) => {
                if tx.try_send(change(core, &ev)).is_err() {
                    drop_slow(core);
                    return;
                }
            }
            Err(broadcast::error::RecvError::Lagged(_)) => {
                drop_slow(core);
                return;
            }
            Err(broadcast::error::RecvError::Closed) => return,
        }
    }
}

/// A browser that fell behind is let go; it reconnects to a fresh snapshot.
fn drop_slow(core: &Core) {
    core.telemetry.console.sse_dropped.inc();
    core.log.warn("console_sse_slow", || {
        "a console browser fell behind the live updates and was dropped; it reconnects to a fresh snapshot".to_owned()
    });
}
