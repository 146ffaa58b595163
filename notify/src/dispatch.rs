//! Delivers the notification outbox: one worker per channel, each handing its pending rows to
//! its channel oldest first and recording what came of them in the store.
//!
//! A row is `sent` only when the channel confirmed it. A transient failure (peer down, busy,
//! refusing the credentials) keeps the row and holds the whole channel for its retry delay
//! (the peer is what failed), then the same row is tried first, so nothing is given up while
//! the peer may come back; a permanent failure (the peer rejected the message itself) makes it
//! a dead letter and the queue moves on. A row waiting for its group or on a route over its
//! rate limit holds back only the later rows of its own incident: each incident's changes
//! arrive in order, and a P1 never waits behind a P4 digest. Workers are independent tasks: a
//! channel that is down delays only itself, never ingest, rule evaluation or the other
//! channels. When the site is reloaded the workers are rebuilt from its channel configuration;
//! the outbox is durable, so nothing is lost in between.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use patrol_incident::IncidentEvent;
use patrol_proto::model::now_ms;
use patrol_site::SiteHandle;
use patrol_store::IncidentStore;
use tokio::sync::{broadcast, watch};

use crate::channel::{Channel, DeliveryError, Message};
use patrol_site::notify::NotifySettings;
use patrol_site::notify::RetryPolicy;
use patrol_site::notify::route::RateLimit;
use patrol_store::{Delivery, Due, OutboxItem};

/// Rows read per round.
const BATCH: usize = 64;
/// Most rows one grouped message carries; a bigger group goes out in several.
const GROUP_MAX: usize = 500;
/// Longest a worker sleeps without looking at its queue (new events wake it at once).
const IDLE: Duration = Duration::from_secs(1);
/// How often the supervisor looks for a reloaded site.
const SITE_CHECK: Duration = Duration::from_secs(1);

/// What the dispatcher works with: the store's outbox, the site in force (its channels and
/// routes), the bus that says a new event was committed, the board `patrolctl channels status`
/// reads, and the counters the collector exports.
pub struct Context {
    /// The incident store whose outbox is delivered.
    pub store: Arc<dyn IncidentStore>,
    /// The site in force; a reload swaps it and the workers are rebuilt.
    pub site: SiteHandle,
    /// Committed events: a worker wakes on each instead of waiting for its next look.
    pub events: broadcast::Sender<Arc<IncidentEvent>>,
    /// Each channel's live state.
    pub board: Arc<Board>,
    /// Delivery outcomes, by channel.
    pub counters: Arc<dyn Counters>,
}

/// What the dispatcher counts, by channel (exported as `patrol_notify_*_total`).
pub trait Counters: Send + Sync {
    /// A delivery the peer confirmed.
    fn sent(&self, channel: &str);
    /// A delivery that failed (each try).
    fn failed(&self, channel: &str);
    /// A row set aside for a later retry.
    fn retried(&self, channel: &str, n: u64);
    /// Rows given up as dead letters.
    fn dead(&self, channel: &str, n: u64);
}

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
    /// Rate limits by outbox route (`route/<name>`).
    limits: HashMap<String, RateLimit>,
    /// Whether grouped rows go out as one message (not on MQTT: dashboards want each change).
    groups: bool,
}

/// Runs the channel workers of the site in force, rebuilding them when the site changes,
/// until `shutdown`.
pub async fn supervise(core: Arc<Context>, mut shutdown: watch::Receiver<bool>) {
    let mut site = patrol_site::current(&core.site);
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
            let now = patrol_site::current(&core.site);
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
    core: &Arc<Context>,
    settings: &NotifySettings,
    stop: watch::Receiver<bool>,
) -> Vec<tokio::task::JoinHandle<()>> {
    core.board.reset(settings);
    let (channels, failed): (BTreeMap<String, Arc<dyn Channel>>, _) = crate::build_all(settings);
    for (name, e) in failed {
        tracing::error!(
            "notification channel not started: {e}; its notifications wait in the outbox"
        );
        core.board
            .update(&name, |s| s.last_error = Some(e.to_string()));
    }
    let mut handles = Vec::new();
    for (name, channel) in channels {
        let Some(cfg) = settings.channels.get(&name) else {
            continue;
        };
        let limits = settings
            .routes
            .iter()
            .filter(|r| r.channels.contains(&name))
            .filter_map(|r| Some((format!("route/{}", r.name), r.rate_limit?)))
            .collect();
        let w = Worker {
            groups: cfg.kind.name() != "mqtt",
            channel,
            retry: cfg.retry,
            timeout: cfg.timeout,
            limits,
        };
        core.board.update(&name, |s| s.running = true);
        let (core, stop) = (Arc::clone(core), stop.clone());
        handles.push(tokio::spawn(async move {
            // Probed in its own task, so a peer that accepts and then says nothing delays only
            // its own channel's start, by at most its timeout.
            let mut stopping = stop.clone();
            tokio::select! {
                _ = probe(&core, &w) => {}
                _ = stopping.changed() => return,
            }
            run(core, w, stop).await;
        }));
    }
    handles
}

/// Connects to the channel's peer without sending anything, and names a broken channel in the
/// log and its status; its worker runs regardless and retries.
async fn probe(core: &Context, w: &Worker) {
    let name = w.channel.name();
    let probed = match tokio::time::timeout(w.timeout, w.channel.probe()).await {
        Ok(r) => r,
        Err(_) => Err(DeliveryError::Transient(format!(
            "the peer did not answer within {}",
            humantime::format_duration(w.timeout)
        ))),
    };
    if let Err(e) = &probed {
        tracing::error!(channel = %name, "notification channel not ready: {e}; its notifications wait in the outbox");
    }
    core.board
        .update(name, |s| s.last_error = probed.err().map(|e| e.to_string()));
}

async fn run(core: Arc<Context>, w: Worker, mut stop: watch::Receiver<bool>) {
    let name = w.channel.name().to_owned();
    let mut events = core.events.subscribe();
    // After a temporary failure the whole channel waits out the retry delay: it is the peer
    // that failed, and every row would fail the same way.
    let mut backoff_until: Option<i64> = None;
    loop {
        if let Some(until) = backoff_until.take() {
            let wait = until_ms(until);
            if !wait.is_zero() {
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = stop.changed() => return,
                }
            }
        }
        let (held, rate_wake) = held_routes(&core, &w, &name);
        let store = core.store.clone();
        let ch = name.clone();
        let now = now_ms();
        let held_now = held.clone();
        let due =
            tokio::task::spawn_blocking(move || store.outbox_due(&ch, now, &held_now, BATCH)).await;
        let due = match due {
            Ok(Ok(d)) => d,
            Ok(Err(e)) => {
                tracing::error!(channel = %name, error = %e, "cannot read the outbox");
                Due {
                    items: Vec::new(),
                    next_ms: None,
                }
            }
            Err(_) => return,
        };
        if due.items.is_empty() {
            let wake = [due.next_ms, rate_wake].into_iter().flatten().min();
            tokio::select! {
                _ = tokio::time::sleep(until(wake, IDLE)) => {}
                _ = events.recv() => {}
                _ = stop.changed() => return,
            }
            continue;
        }
        for item in due.items {
            // A route may reach its limit during this pass; the next read holds it.
            if !until(Some(rate_hold(&core, &w, &name, &item.route)), IDLE).is_zero() {
                break;
            }
            // A grouped row goes out with every pending row of its group, as one message.
            let batch = match (&item.group_key, w.groups) {
                (Some(key), true) => core
                    .store
                    .outbox_group(&name, key, now_ms(), &held, GROUP_MAX)
                    .ok()
                    .filter(|b| b.first().is_some_and(|head| head.id == item.id))
                    .unwrap_or_else(|| vec![item.clone()]),
                _ => vec![item.clone()],
            };
            let grouped = batch.len() > 1;
            let outcome = tokio::select! {
                o = attempt(&core, &w, &batch) => o,
                // Stopping mid-send leaves the rows pending: they are sent by the next worker.
                _ = stop.changed() => return,
            };
            core.board.update(&name, |s| match &outcome {
                Delivery::Sent => {
                    s.last_error = None;
                    s.last_sent_ms = Some(now_ms());
                }
                Delivery::Retry { error, .. } | Delivery::Dead { error } => {
                    s.last_error = Some(error.clone());
                }
            });
            if let Delivery::Dead { error } = &outcome {
                tracing::error!(channel = %name, event_id = item.event_id, rows = batch.len(),
                    "notification dead-lettered: {error}");
                core.counters.dead(&name, batch.len() as u64);
            }
            let retry = match &outcome {
                Delivery::Retry { next_ms, .. } => Some(*next_ms),
                _ => None,
            };
            // A retry is about the head row, which keeps its place; a final outcome is every
            // row's, recorded at one instant (so a grouped message counts once for rate limits).
            let rows: &[OutboxItem] = if retry.is_some() { &batch[..1] } else { &batch };
            let at = now_ms();
            let mut recorded = true;
            for row in rows {
                if let Err(e) = core.store.outbox_record(row.id, outcome.clone(), at).await {
                    tracing::error!(channel = %name, error = %e, "cannot record a delivery");
                    recorded = false;
                    break;
                }
            }
            if retry.is_some() {
                core.counters.retried(&name, 1);
                backoff_until = retry;
            }
            // After a retry, a group (its other rows are further down this list) or a failed
            // record, read the queue afresh.
            if retry.is_some() || grouped || !recorded {
                break;
            }
        }
    }
}

/// The routes of this channel over their rate limit now, and when the first of them has room.
fn held_routes(core: &Context, w: &Worker, channel: &str) -> (Vec<String>, Option<i64>) {
    let now = now_ms();
    let mut held = Vec::new();
    let mut wake: Option<i64> = None;
    for route in w.limits.keys() {
        let at = rate_hold(core, w, channel, route);
        if at > now {
            held.push(route.clone());
            wake = Some(wake.map_or(at, |w| w.min(at)));
        }
    }
    (held, wake)
}

/// How long from now until `at_ms` (zero when past).
fn until_ms(at_ms: i64) -> Duration {
    Duration::from_millis(u64::try_from(at_ms - now_ms()).unwrap_or(0))
}

/// How long from now until `at_ms` (zero when past or none), at most `max`.
fn until(at_ms: Option<i64>, max: Duration) -> Duration {
    match at_ms {
        None => max,
        Some(at) => {
            let now = now_ms();
            if at <= now {
                Duration::ZERO
            } else {
                Duration::from_millis(u64::try_from(at - now).unwrap_or(0)).min(max)
            }
        }
    }
}

/// When a message of `route` may go out on this channel under the route's rate limit (now,
/// when the window has room). Held rows wait in the outbox, none is dropped; on a grouping
/// route they go out together when the window opens.
fn rate_hold(core: &Context, w: &Worker, channel: &str, route: &str) -> i64 {
    let now = now_ms();
    let Some(limit) = w.limits.get(route) else {
        return now;
    };
    let per = i64::try_from(limit.per.as_millis()).unwrap_or(i64::MAX);
    match core
        .store
        .outbox_sent_since(channel, route, now.saturating_sub(per))
    {
        Ok((sent, Some(oldest))) if sent >= u64::from(limit.count) => oldest.saturating_add(per),
        Ok(_) => now,
        Err(e) => {
            tracing::error!(channel, error = %e, "cannot read the rate limit's window");
            now
        }
    }
}

/// One delivery attempt of `batch` (one row, or a group as one message), and what to record.
async fn attempt(core: &Context, w: &Worker, batch: &[OutboxItem]) -> Delivery {
    let Some(head) = batch.first() else {
        return Delivery::Sent;
    };
    let mut msgs = Vec::with_capacity(batch.len());
    for item in batch {
        match Message::from_json(&item.payload) {
            Ok(m) => msgs.push(m),
            Err(e) => {
                return Delivery::Dead {
                    error: format!("stored payload of event {} unreadable: {e}", item.event_id),
                };
            }
        }
    }
    let Some(msg) = crate::digest::digest(&head.route, &msgs) else {
        return Delivery::Sent;
    };
    let send = crate::counted::deliver(w.channel.as_ref(), &msg, core.counters.as_ref());
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
                .delay_jittered(head.attempts + 1, rand::random::<f64>());
            Delivery::Retry {
                next_ms: now_ms() + i64::try_from(wait.as_millis()).unwrap_or(i64::MAX),
                error: e,
            }
        }
    }
}
