//! `Incidents.Watch`: a snapshot of the open incidents a watcher wants, then the live events,
//! resynchronised when the watcher falls behind the bus; a bounded number of watchers.

use std::pin::Pin;
use std::sync::Arc;

use futures::Stream;
use patrol_incident::{Incident, IncidentEvent};
use patrol_proto::model::now_ms;
use patrol_proto::v1;
use tokio::sync::{broadcast, mpsc};
use tokio_stream::wrappers::ReceiverStream;
use tonic::Status;

use super::status;
use crate::core::{Core, next_event};

pub(super) type WatchStream = Pin<Box<dyn Stream<Item = Result<v1::IncidentEvent, Status>> + Send>>;

/// Events buffered per watcher between the bus and its connection.
const WATCH_BUFFER: usize = 256;
/// Open incidents read per page of a watcher's snapshot: a watcher that stops reading holds
/// one page, not a copy of every open incident (18 MB at 12 k open incidents).
const SNAPSHOT_PAGE: usize = 128;

/// Starts a watcher: its place among `max_watchers`, its filter, and the task that sends it the
/// snapshot and then the live events.
pub(super) fn start(core: Arc<Core>, request: &v1::WatchRequest) -> Result<WatchStream, Status> {
    let filter = Filter::from_request(&core, request)?;
    let slot = WatcherSlot::take(&core)?;
    // Subscribe before reading the snapshot so nothing falls between the two; events the
    // snapshot already covers are skipped by id.
    let bus = core.bus.subscribe();
    let (tx, rx) = mpsc::channel(WATCH_BUFFER);
    tokio::spawn(async move {
        watch_loop(core, filter, bus, tx).await;
        drop(slot);
    });
    Ok(Box::pin(ReceiverStream::new(rx)))
}

/// Which incidents a watcher wants.
#[derive(Debug, Clone)]
struct Filter {
    max_rank: Option<usize>,
    host: String,
    rule: String,
}

impl Filter {
    fn from_request(core: &Core, r: &v1::WatchRequest) -> Result<Self, Status> {
        let max_rank = if r.min_severity.is_empty() {
            None
        } else {
            Some(core.levels().rank(&r.min_severity).ok_or_else(|| {
                Status::invalid_argument(format!(
                    "unknown severity '{}': expected one of {}",
                    r.min_severity,
                    core.levels().names().join(", ")
                ))
            })?)
        };
        Ok(Self {
            max_rank,
            host: r.host.clone(),
            rule: r.rule.clone(),
        })
    }

    fn wants(&self, core: &Core, i: &Incident) -> bool {
        if let Some(max) = self.max_rank {
            // An unknown level (rules from an older level set) is shown rather than hidden.
            if core.levels().rank(&i.severity).is_some_and(|r| r > max) {
                return false;
            }
        }
        (self.host.is_empty() || self.host == i.host)
            && (self.rule.is_empty() || self.rule == i.rule)
    }
}

fn snapshot_event(i: &Incident, kind: v1::EventKind) -> v1::IncidentEvent {
    v1::IncidentEvent {
        event_id: 0,
        kind: kind as i32,
        at_ms: now_ms(),
        actor: String::new(),
        incident: Some(i.into()),
        ..Default::default()
    }
}

/// One of the `max_watchers` places, given back when the watcher ends.
struct WatcherSlot(Arc<Core>);

impl WatcherSlot {
    fn take(core: &Arc<Core>) -> Result<Self, Status> {
        use std::sync::atomic::Ordering;
        let max = core.connections.max_watchers;
        let taken = core
            .watchers
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < max).then_some(n + 1)
            });
        match taken {
            Ok(n) => {
                core.telemetry.watchers.set(n as i64 + 1);
                Ok(Self(Arc::clone(core)))
            }
            Err(_) => {
                core.telemetry.watchers_refused.inc();
                core.log.warn("max_watchers", || {
                    format!("incident watcher refused: {max} are connected (max_watchers)")
                });
                Err(Status::resource_exhausted(format!(
                    "max_watchers: {max} watchers are connected already; close one, or raise \
                     [connections] max_watchers on the collector"
                )))
            }
        }
    }
}

impl Drop for WatcherSlot {
    fn drop(&mut self) {
        let n = self
            .0
            .watchers
            .fetch_sub(1, std::sync::atomic::Ordering::AcqRel);
        self.0.telemetry.watchers.set(n as i64 - 1);
    }
}

/// Sends the open incidents `filter` wants, a page at a time; false when the watcher is gone.
async fn send_snapshot(
    core: &Arc<Core>,
    filter: &Filter,
    tx: &mpsc::Sender<Result<v1::IncidentEvent, Status>>,
) -> bool {
    let mut after = 0;
    loop {
        let store = core.store.clone();
        let page =
            tokio::task::spawn_blocking(move || store.open_incidents_after(after, SNAPSHOT_PAGE))
                .await;
        let page = match page {
            Ok(Ok(page)) => page,
            Ok(Err(e)) => {
                let _ = tx.send(Err(status(e))).await;
                return false;
            }
            Err(e) => {
                let _ = tx.send(Err(Status::internal(e.to_string()))).await;
                return false;
            }
        };
        let Some(last) = page.last() else {
            return true;
        };
        after = last.id;
        let full = page.len() == SNAPSHOT_PAGE;
        for i in page.iter().filter(|i| filter.wants(core, i)) {
            if tx
                .send(Ok(snapshot_event(i, v1::EventKind::Snapshot)))
                .await
                .is_err()
            {
                return false;
            }
        }
        if !full {
            return true;
        }
    }
}

async fn watch_loop(
    core: Arc<Core>,
    filter: Filter,
    mut bus: broadcast::Receiver<Arc<IncidentEvent>>,
    tx: mpsc::Sender<Result<v1::IncidentEvent, Status>>,
) {
    let mut kind = v1::EventKind::Snapshot;
    'resync: loop {
        let store = core.store.clone();
        let snap = tokio::task::spawn_blocking(move || store.last_event_id()).await;
        let last_id = match snap {
            Ok(Ok(v)) => v,
            Ok(Err(e)) => {
                let _ = tx.send(Err(status(e))).await;
                return;
            }
            Err(e) => {
                let _ = tx.send(Err(Status::internal(e.to_string()))).await;
                return;
            }
        };
        if kind == v1::EventKind::Resync {
            let marker = v1::IncidentEvent {
                event_id: 0,
                kind: v1::EventKind::Resync as i32,
                at_ms: now_ms(),
                actor: String::new(),
                incident: None,
                ..Default::default()
            };
            if tx.send(Ok(marker)).await.is_err() {
                return;
            }
        }
        // Events after `last_id` are forwarded below; an incident changed while the pages
        // are read shows in its page as it is then, and its event follows.
        if !send_snapshot(&core, &filter, &tx).await {
            return;
        }
        let mut shutdown = core.shutdown.clone();
        loop {
            let Some(received) = next_event(&mut bus, tx.closed(), &mut shutdown).await else {
                return;
            };
            match received {
                Ok(ev) => {
                    if ev.id <= last_id || !filter.wants(&core, &ev.incident) {
                        continue;
                    }
                    // A watcher whose connection cannot keep up is cut off from the bus by lag,
                    // never waited for by the bus: this send only waits on this watcher.
                    if tx.send(Ok(ev.as_ref().into())).await.is_err() {
                        return;
                    }
                }
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    core.telemetry.watchers_lagged.inc();
                    tracing::warn!(missed = n, "incident watcher fell behind; resynchronising");
                    kind = v1::EventKind::Resync;
                    continue 'resync;
                }
                Err(broadcast::error::RecvError::Closed) => return,
            }
        }
    }
}
