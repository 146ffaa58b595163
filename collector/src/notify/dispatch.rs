//! Delivers the notification outbox: one worker per channel, each handing its pending rows to
//! its channel in order and recording what came of them in the store.
//!
//! A row is `sent` only when the channel confirmed it. A transient failure (peer down, busy,
//! refusing the credentials) keeps the row at the head of its channel's queue until a retry
//! succeeds, waiting per the channel's retry policy, so each incident's notifications arrive in
//! order and none is given up while the peer may come back; a permanent failure (the peer
//! rejected the message itself) makes it a dead letter and the queue moves on. Workers are
//! independent tasks: a channel that is down delays only itself, never ingest, rule evaluation
//! or the other channels. When the site is reloaded the workers are rebuilt from its channel
//! configuration; the outbox is durable, so nothing is lost in between.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use patrol_proto::model::now_ms;
use tokio::sync::watch;

use super::channel::{Channel, DeliveryError, Message};
use super::config::NotifySettings;
use super::retry::RetryPolicy;
use crate::core::Core;
use crate::noc;
use crate::store::{Delivery, OutboxItem};

/// Rows read per round.
const BATCH: usize = 64;
/// Longest a worker sleeps without looking at its queue (new events wake it at once).
const IDLE: Duration = Duration::from_secs(1);
/// How often the supervisor looks for a reloaded site.
const SITE_CHECK: Duration = Duration::from_secs(1);

/// What the workers know about their channels, for `patrolctl channels status`.
#[derive(Debug, Default)]
pub struct Board(std::sync::Mutex<BTreeMap<String, ChannelState>>);

/// One channel's live state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChannelState {
    /// `mqtt`, `webhook`, `email`.
    pub kind: String,
    /// Its worker runs.
    pub running: bool,
    /// The last failure; cleared by a confirmed delivery.
    pub last_error: Option<String>,
    /// When the peer last confirmed a message.
    pub last_sent_ms: Option<i64>,
}

impl Board {
    /// The state of every configured channel.
    pub fn snapshot(&self) -> BTreeMap<String, ChannelState> {
        self.0.lock().map(|m| m.clone()).unwrap_or_default()
    }

    fn update(&self, name: &str, f: impl FnOnce(&mut ChannelState)) {
        if let Ok(mut m) = self.0.lock() {
            f(m.entry(name.to_owned()).or_default());
        }
    }

    fn reset(&self, settings: &NotifySettings) {
        if let Ok(mut m) = self.0.lock() {
            m.clear();
            for (name, cfg) in &settings.channels {
                m.insert(
                    name.clone(),
                    ChannelState {
                        kind: cfg.kind.name().to_owned(),
                        ..ChannelState::default()
                    },
                );
            }
        }
    }
}

/// One channel as its worker runs it.
struct Worker {
    channel: Arc<dyn Channel>,
    retry: RetryPolicy,
    timeout: Duration,
}

/// Runs the channel workers of the site in force, rebuilding them when the site changes,
/// until `shutdown`.
pub async fn supervise(core: Arc<Core>, mut shutdown: watch::Receiver<bool>) {
    let mut site = noc::current(&core.site);
    loop {
        let (stop_tx, stop_rx) = watch::channel(false);
        let handles = start(&core, &site.notify, stop_rx).await;
        loop {
            tokio::select! {
                _ = tokio::time::sleep(SITE_CHECK) => {}
                _ = shutdown.changed() => {
                    let _ = stop_tx.send(true);
                    for h in handles {
                        let _ = h.await;
                    }
                    return;
                }
            }
            let now = noc::current(&core.site);
            if !Arc::ptr_eq(&now, &site) {
                site = now;
                break;
            }
        }
        tracing::info!("site reloaded: restarting the notification channels");
        let _ = stop_tx.send(true);
        for h in handles {
            let _ = h.await;
        }
    }
}

/// Builds the channels and starts a worker for each. A channel that cannot be built (a missing
/// secret, an unreadable CA file) is logged by name; its rows wait in the outbox.
async fn start(
    core: &Arc<Core>,
    settings: &NotifySettings,
    stop: watch::Receiver<bool>,
) -> Vec<tokio::task::JoinHandle<()>> {
    core.channels.reset(settings);
    let (channels, failed): (BTreeMap<String, Arc<dyn Channel>>, _) = super::build_all(settings);
    for (name, e) in failed {
        tracing::error!(
            "notification channel not started: {e}; its notifications wait in the outbox"
        );
        core.channels
            .update(&name, |s| s.last_error = Some(e.to_string()));
    }
    let mut handles = Vec::new();
    for (name, channel) in channels {
        let Some(cfg) = settings.channels.get(&name) else {
            continue;
        };
        // A broken channel is named at start; its worker still runs and retries.
        let probed = channel.probe().await;
        if let Err(e) = &probed {
            tracing::error!(channel = %name, "notification channel not ready: {e}; its notifications wait in the outbox");
        }
        core.channels.update(&name, |s| {
            s.running = true;
            s.last_error = probed.err().map(|e| e.to_string());
        });
        let w = Worker {
            channel,
            retry: cfg.retry,
            timeout: cfg.timeout,
        };
        handles.push(tokio::spawn(run(Arc::clone(core), w, stop.clone())));
    }
    handles
}

async fn run(core: Arc<Core>, w: Worker, mut stop: watch::Receiver<bool>) {
    let name = w.channel.name().to_owned();
    let mut events = core.bus.subscribe();
    loop {
        let store = core.store.clone();
        let ch = name.clone();
        let pending = tokio::task::spawn_blocking(move || store.outbox_pending(&ch, BATCH)).await;
        let (items, head_due) = match pending {
            Ok(Ok(p)) => p,
            Ok(Err(e)) => {
                tracing::error!(channel = %name, error = %e, "cannot read the outbox");
                (Vec::new(), None)
            }
            Err(_) => return,
        };
        let now = now_ms();
        let wait = match head_due {
            None => IDLE,
            Some(due) if due > now => Duration::from_millis((due - now) as u64).min(IDLE),
            Some(_) => Duration::ZERO,
        };
        if items.is_empty() || !wait.is_zero() {
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = events.recv() => {}
                _ = stop.changed() => return,
            }
            continue;
        }
        for item in items {
            let outcome = tokio::select! {
                o = attempt(&core, &w, &item) => o,
                // Stopping mid-send leaves the row pending: it is sent again by the next worker.
                _ = stop.changed() => return,
            };
            let retry = matches!(outcome, Delivery::Retry { .. });
            core.channels.update(&name, |s| match &outcome {
                Delivery::Sent => {
                    s.last_error = None;
                    s.last_sent_ms = Some(now_ms());
                }
                Delivery::Retry { error, .. } | Delivery::Dead { error } => {
                    s.last_error = Some(error.clone());
                }
            });
            if let Delivery::Dead { error } = &outcome {
                tracing::error!(channel = %name, event_id = item.event_id, "notification dead-lettered: {error}");
                core.telemetry.notify_dead.inc_by(&name, 1);
            }
            if let Err(e) = core.store.outbox_record(item.id, outcome, now_ms()).await {
                tracing::error!(channel = %name, error = %e, "cannot record a delivery");
                break;
            }
            if retry {
                core.telemetry.notify_retried.inc_by(&name, 1);
                break;
            }
        }
    }
}

/// One delivery attempt of `item`, and what to record about it.
async fn attempt(core: &Core, w: &Worker, item: &OutboxItem) -> Delivery {
    let msg = match Message::from_json(&item.payload) {
        Ok(m) => m,
        Err(e) => {
            return Delivery::Dead {
                error: format!("stored payload unreadable: {e}"),
            };
        }
    };
    let send = super::counted::deliver(w.channel.as_ref(), &msg, &core.telemetry);
    let result = match tokio::time::timeout(w.timeout, send).await {
        Ok(r) => r,
        Err(_) => Err(DeliveryError::Transient(format!(
            "no confirmation within {}",
            humantime::format_duration(w.timeout)
        ))),
    };
    match result {
        Ok(()) => Delivery::Sent,
        Err(DeliveryError::Permanent(e)) => Delivery::Dead { error: e },
        Err(DeliveryError::Transient(e)) => {
            let wait = w
                .retry
                .delay_jittered(item.attempts + 1, rand::random::<f64>());
            Delivery::Retry {
                next_ms: now_ms() + i64::try_from(wait.as_millis()).unwrap_or(i64::MAX),
                error: e,
            }
        }
    }
}
