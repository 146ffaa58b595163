//! The Ingest stream: connect, hello, resend what is unacknowledged, send new batches, apply
//! acks; on any failure back off with jitter and start over.
//!
//! Series definitions are attached per stream: the first time a stream sends a point of a
//! series it sends the series' name and labels with it. A new stream starts with nothing
//! defined, so resent batches carry the definitions they need.
//!
//! Batches go out strictly in sequence order (the collector drops a number at or below the
//! last it applied): first those only the spool still has (replay), then those in memory.
//! With the spool, a batch goes out only below the durable reservation, so a restarted agent
//! never reuses a number the collector may have seen. Sending is paced at `catch_up_rate`
//! samples per second, which only a backlog ever reaches.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use patrol_proto::v1::{self, agent_message, collector_message, ingest_client::IngestClient};
use rand::Rng;
use tokio::sync::{mpsc, watch};
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::Endpoint;

use crate::Shared;
use crate::config::Settings;
use crate::drops::DropReason;
use crate::outbox::{Batch, Interner, Point};

/// How long the collector has to answer the hello.
const WELCOME_TIMEOUT: Duration = Duration::from_secs(10);
/// Batches encoded per lock of the outbox, so probes are never kept waiting long.
const SEND_CHUNK: usize = 16;
/// Largest message accepted from the collector (acks are tiny).
const MAX_INBOUND: usize = 64 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    #[error("invalid collector address '{0}': {1}")]
    Address(String, String),
    #[error("cannot connect: {0}")]
    Connect(String),
    #[error("collector refused the stream: {0}")]
    Refused(String),
    #[error("collector did not answer the hello within {0:?}")]
    NoWelcome(Duration),
    #[error("stream ended: {0}")]
    Ended(String),
}

/// How one connection ended without an error.
enum Ended {
    Shutdown,
    /// New connection settings (a reload): connect again at once.
    Reconnect,
}

/// Runs until `shutdown` turns true, reconnecting as needed; a reload that changes the
/// connection settings (see [`Settings::connection_differs`]) reconnects at once.
pub async fn run(
    mut settings_rx: watch::Receiver<Arc<Settings>>,
    shared: Arc<Shared>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut settings = settings_rx.borrow_and_update().clone();
    let mut backoff = first_backoff(&settings);
    let mut failures = 0u32;
    let mut pace = Pace::new(catch_up_rate(&settings));
    loop {
        let attempt = connect_and_stream(
            &settings,
            &shared,
            &mut shutdown,
            &mut settings_rx,
            &mut pace,
        );
        let result = attempt.await;
        shared.stats.connected.store(false, Ordering::Relaxed);
        shared.progress.notify_waiters();
        if *shutdown.borrow() {
            return;
        }
        if settings_rx.has_changed().unwrap_or(false) || matches!(result, Ok(Ended::Reconnect)) {
            settings = settings_rx.borrow_and_update().clone();
            pace.rate = catch_up_rate(&settings);
            backoff = first_backoff(&settings);
            failures = 0;
            if matches!(result, Ok(Ended::Reconnect)) {
                tracing::info!(collector = %settings.collector.address,
                    "connection settings changed; reconnecting");
                continue;
            }
        }
        match result {
            Ok(_) => {
                backoff = first_backoff(&settings);
                failures = 0;
            }
            Err((e, was_connected)) => {
                if was_connected {
                    backoff = first_backoff(&settings);
                    failures = 0;
                }
                failures += 1;
                // One line when the link goes, then one a minute or so while it stays down.
                if failures == 1 || failures.is_multiple_of(20) {
                    tracing::warn!(collector = %settings.collector.address, error = %e,
                        pending_batches = shared.outbox.lock().map(|o| o.pending_batches()).unwrap_or(0),
                        "collector unavailable; keeping samples and retrying");
                } else {
                    tracing::debug!(error = %e, "reconnect failed");
                }
            }
        }
        // Full jitter: agents that lost the same collector do not come back in lockstep.
        let wait = rand::rng().random_range(backoff / 2..=backoff);
        backoff = (backoff * 2).min(settings.collector.backoff_max);
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = shutdown.changed() => return,
        }
    }
}

/// The first wait after a failure: `backoff_min`, unless `backoff_max` caps it lower.
fn first_backoff(settings: &Settings) -> Duration {
    settings
        .collector
        .backoff_min
        .min(settings.collector.backoff_max)
}

fn catch_up_rate(settings: &Settings) -> f64 {
    settings
        .spool
        .as_ref()
        .map(|s| s.catch_up_rate)
        .unwrap_or(crate::config::SpoolSection::default().catch_up_rate)
}

/// One connection's life. The flag in the error says whether the stream got as far as the
/// welcome (then the backoff starts afresh).
async fn connect_and_stream(
    settings: &Settings,
    shared: &Arc<Shared>,
    shutdown: &mut watch::Receiver<bool>,
    settings_rx: &mut watch::Receiver<Arc<Settings>>,
    pace: &mut Pace,
) -> Result<Ended, (StreamError, bool)> {
    let address = settings.collector.address.clone();
    let mut endpoint = Endpoint::from_shared(address.clone())
        .map_err(|e| (StreamError::Address(address.clone(), e.to_string()), false))?;
    if let Some(tls) = &settings.tls {
        endpoint = endpoint
            .tls_config(tls.clone())
            .map_err(|e| (StreamError::Address(address, error_chain(&e)), false))?;
    }
    let endpoint = endpoint
        .connect_timeout(settings.collector.connect_timeout)
        .tcp_nodelay(true)
        .http2_keep_alive_interval(Duration::from_secs(20))
        .keep_alive_timeout(Duration::from_secs(10));
    let channel = endpoint
        .connect()
        .await
        .map_err(|e| (StreamError::Connect(error_chain(&e)), false))?;
    let mut client = IngestClient::new(channel).max_decoding_message_size(MAX_INBOUND);

    let (tx, rx) = mpsc::channel::<v1::AgentMessage>(SEND_CHUNK * 2);
    let hello = v1::Hello {
        agent_id: settings.agent_id.clone(),
        host: settings.host.clone(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        labels: (&settings.labels).into(),
        token: settings.token.clone().unwrap_or_default(),
        epoch: shared.epoch,
    };
    let _ = tx
        .send(v1::AgentMessage {
            msg: Some(agent_message::Msg::Hello(hello)),
        })
        .await;
    let response = client
        .stream(ReceiverStream::new(rx))
        .await
        .map_err(|s| (StreamError::Refused(status_text(&s)), false))?;
    let mut inbound = response.into_inner();
    let welcome = match tokio::time::timeout(WELCOME_TIMEOUT, inbound.message()).await {
        Err(_) => return Err((StreamError::NoWelcome(WELCOME_TIMEOUT), false)),
        Ok(Err(s)) => return Err((StreamError::Refused(status_text(&s)), false)),
        Ok(Ok(None)) => return Err((StreamError::Ended("closed before welcome".into()), false)),
        Ok(Ok(Some(v1::CollectorMessage {
            msg: Some(collector_message::Msg::Welcome(w)),
        }))) => w,
        Ok(Ok(Some(_))) => {
            return Err((
                StreamError::Refused("expected a welcome first".into()),
                false,
            ));
        }
    };
    let mut last_sent = welcome.applied_seq;
    shared.ack(welcome.applied_seq);
    shared.stats.connected.store(true, Ordering::Relaxed);
    shared.stats.connects.fetch_add(1, Ordering::Relaxed);
    shared.progress.notify_waiters();
    tracing::info!(collector = %settings.collector.address, applied_seq = welcome.applied_seq,
        "connected to collector");

    // Acks are read by their own task so a full send buffer can never stop us reading them.
    let reader_shared = Arc::clone(shared);
    let mut reader = tokio::spawn(async move {
        loop {
            match inbound.message().await {
                Ok(Some(v1::CollectorMessage {
                    msg: Some(collector_message::Msg::Ack(ack)),
                })) => {
                    let n = reader_shared.ack(ack.seq);
                    reader_shared
                        .stats
                        .batches_acked
                        .fetch_add(n as u64, Ordering::Relaxed);
                    reader_shared.progress.notify_waiters();
                }
                Ok(Some(_)) => {}
                Ok(None) => return StreamError::Ended("collector closed the stream".into()),
                Err(s) => return StreamError::Ended(s.message().to_owned()),
            }
        }
    });

    let mut defined = Vec::<bool>::new();
    let max_points = welcome.max_batch_points as usize;
    // Facts go to a collector that takes them, again on every connection (it may have
    // restarted without them); an older one is never sent a message it does not know.
    let mut facts_sent = 0;
    let result = loop {
        // Registered before looking, so a batch queued meanwhile is not missed.
        let queued = shared.notify.notified();
        tokio::pin!(queued);
        queued.as_mut().enable();
        if welcome.accepts_facts
            && let Some((generation, facts)) = shared.facts_after(facts_sent)
        {
            let msg = v1::AgentMessage {
                msg: Some(agent_message::Msg::Facts(facts.as_ref().clone())),
            };
            tokio::select! {
                r = tx.send(msg) => if r.is_err() {
                    break Err(StreamError::Ended("send channel closed".into()));
                },
                e = &mut reader => break Err(e.unwrap_or_else(|j| StreamError::Ended(j.to_string()))),
            }
            facts_sent = generation;
            tracing::debug!(generation, "facts sent");
        }
        let (messages, skipped_through) = match next_chunk(shared, last_sent, &mut defined).await {
            Ok(c) => c,
            Err(e) => break Err(e),
        };
        last_sent = last_sent.max(skipped_through);
        if messages.is_empty() {
            tokio::select! {
                _ = &mut queued => continue,
                e = &mut reader => break Err(e.unwrap_or_else(|j| StreamError::Ended(j.to_string()))),
                _ = shutdown.changed() => break Ok(Ended::Shutdown),
                r = settings_rx.changed() => {
                    if r.is_err() { break Ok(Ended::Shutdown); }
                    let new = settings_rx.borrow().clone();
                    if settings.connection_differs(&new) { break Ok(Ended::Reconnect); }
                    pace.rate = catch_up_rate(&new);
                    continue;
                }
            }
        }
        let mut failed = None;
        for m in messages {
            if max_points > 0 && m.points.len() > max_points {
                tracing::warn!(
                    points = m.points.len(),
                    max_points,
                    "batch larger than the collector accepts"
                );
            }
            pace.take(m.points.len()).await;
            let seq = m.seq;
            let msg = v1::AgentMessage {
                msg: Some(agent_message::Msg::Batch(m)),
            };
            tokio::select! {
                r = tx.send(msg) => if r.is_err() {
                    failed = Some(StreamError::Ended("send channel closed".into()));
                    break;
                },
                e = &mut reader => {
                    failed = Some(e.unwrap_or_else(|j| StreamError::Ended(j.to_string())));
                    break;
                }
            }
            last_sent = seq;
            shared.stats.batches_sent.fetch_add(1, Ordering::Relaxed);
        }
        if let Some(e) = failed {
            break Err(e);
        }
    };
    reader.abort();
    result.map_err(|e| (e, true))
}

/// The next batches to send after `last_sent`, and the newest number skipped as unreadable
/// (0 if none): from the spool while the next batch is no longer in memory, else from memory
/// (below the durable reservation when there is a spool).
async fn next_chunk(
    shared: &Shared,
    last_sent: u64,
    defined: &mut Vec<bool>,
) -> Result<(Vec<v1::Batch>, u64), StreamError> {
    let poisoned = || StreamError::Ended("outbox lock poisoned".into());
    let mut limit = u64::MAX;
    if let Some(spool) = &shared.spool {
        limit = spool.state.reserved.load(Ordering::Relaxed);
        let front = shared.outbox.lock().map_err(|_| poisoned())?.front_seq();
        let next = last_sent + 1;
        let on_disk = spool.state.durable_through.load(Ordering::Relaxed);
        if next <= on_disk && front.is_none_or(|f| next < f) {
            let stored = spool
                .read(last_sent, front.unwrap_or(u64::MAX), SEND_CHUNK)
                .await
                .map_err(|e| StreamError::Ended(e.to_string()))?;
            if !stored.is_empty() {
                let mut o = shared.outbox.lock().map_err(|_| poisoned())?;
                let mut out = Vec::new();
                let mut skipped = 0;
                for s in stored {
                    match crate::spool::body::decode(&s.body) {
                        Ok(samples) => {
                            let points = samples
                                .iter()
                                .map(|x| Point {
                                    series: o.intern(&x.name, &x.labels),
                                    value: x.value,
                                    timestamp_ms: x.timestamp_ms,
                                })
                                .collect();
                            let batch = Batch {
                                seq: s.meta.seq,
                                points,
                            };
                            out.push(encode(&batch, o.interner(), defined));
                        }
                        Err(e) => {
                            tracing::warn!(seq = s.meta.seq, error = %e,
                                "spool: batch body undecodable; skipped");
                            shared.drops.count(
                                DropReason::SpoolDamaged,
                                u64::from(s.meta.points),
                                1,
                            );
                            skipped = s.meta.seq;
                        }
                    }
                }
                return Ok((out, skipped));
            }
        }
    }
    let o = shared.outbox.lock().map_err(|_| poisoned())?;
    let out = o
        .after(last_sent)
        .take_while(|b| b.seq < limit)
        .take(SEND_CHUNK)
        .map(|b| encode(b, o.interner(), defined))
        .collect();
    Ok((out, 0))
}

/// Paces sending at `rate` samples per second, with a second's worth of burst: live rounds
/// never wait, a backlog goes out at the rate.
pub(crate) struct Pace {
    pub(crate) rate: f64,
    tokens: f64,
    last: tokio::time::Instant,
}

impl Pace {
    pub(crate) fn new(rate: f64) -> Self {
        Self {
            rate,
            tokens: rate,
            last: tokio::time::Instant::now(),
        }
    }

    /// Waits until `n` samples may go. A batch larger than the burst goes once the bucket is
    /// full, leaving it in debt.
    pub(crate) async fn take(&mut self, n: usize) {
        let now = tokio::time::Instant::now();
        self.tokens =
            (self.tokens + now.duration_since(self.last).as_secs_f64() * self.rate).min(self.rate);
        self.last = now;
        let need = (n as f64).min(self.rate);
        if self.tokens < need {
            let wait = Duration::from_secs_f64((need - self.tokens) / self.rate);
            tokio::time::sleep(wait).await;
            self.tokens = need;
            self.last = tokio::time::Instant::now();
        }
        self.tokens -= n as f64;
    }
}

/// Wire form of a batch, defining on this stream the series it uses for the first time.
fn encode(batch: &Batch, interner: &Interner, defined: &mut Vec<bool>) -> v1::Batch {
    let mut series = Vec::new();
    let points = batch
        .points
        .iter()
        .map(|p| {
            let idx = p.series as usize;
            if defined.len() <= idx {
                defined.resize(idx + 1, false);
            }
            if !defined[idx] {
                defined[idx] = true;
                if let Some(key) = interner.key(p.series) {
                    series.push(v1::SeriesDef {
                        id: p.series,
                        name: key.name.clone(),
                        labels: (&key.labels).into(),
                    });
                }
            }
            v1::Point {
                series: p.series,
                value: p.value,
                timestamp_ms: p.timestamp_ms,
            }
        })
        .collect();
    v1::Batch {
        seq: batch.seq,
        series,
        points,
    }
}

/// A status's message, plus the transport error under it when there is one: a collector that
/// rejects our client certificate shows up only there (`received fatal alert:
/// CertificateRequired`), behind a bare "operation was canceled".
fn status_text(s: &tonic::Status) -> String {
    let mut text = s.message().to_owned();
    push_chain(&mut text, std::error::Error::source(s));
    text
}

/// An error with its causes, `outer: cause: cause`, without repeating a cause its parent
/// already quoted (tonic and rustls errors often do).
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    push_chain(&mut text, e.source());
    text
}

/// Appends each cause, skipping one whose text is already there (tonic and rustls errors
/// often repeat their source in their own message).
fn push_chain(text: &mut String, mut cur: Option<&(dyn std::error::Error + 'static)>) {
    while let Some(s) = cur {
        let part = s.to_string();
        if !text.contains(&part) {
            if !text.is_empty() {
                text.push_str(": ");
            }
            text.push_str(&part);
        }
        cur = s.source();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outbox::Outbox;
    use patrol_proto::{Labels, Sample};

    #[test]
    fn series_are_defined_once_per_stream() {
        let mut o = Outbox::new(100, 1000);
        let s = |v| Sample::new("m", Labels::from_pairs([("a", "1")]), v, 1);
        o.push(&[s(1.0)]);
        o.push(&[s(2.0)]);
        let mut defined = Vec::new();
        let batches: Vec<_> = o
            .after(0)
            .map(|b| encode(b, o.interner(), &mut defined))
            .collect();
        assert_eq!(batches[0].series.len(), 1);
        assert_eq!(batches[1].series.len(), 0);
        // A new stream starts with nothing defined, so a resend carries the definition again.
        let mut fresh = Vec::new();
        let resent = encode(o.after(1).next().unwrap(), o.interner(), &mut fresh);
        assert_eq!(resent.series.len(), 1);
        assert_eq!(resent.series[0].name, "m");
    }
}
