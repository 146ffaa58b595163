//! The `Ingest.Stream` service: check the agent, drop batches already applied, decode, hand the
//! samples to the engine, and acknowledge each batch once what it changed is durable.
//!
//! Garbage is refused with a status and counted; it ends that agent's stream only.

mod check;

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use futures::stream::FuturesOrdered;
use futures::{Stream, StreamExt};
use patrol_proto::model::now_ms;
use patrol_proto::v1::{self, agent_message, collector_message};
use patrol_proto::{Labels, v1::ingest_server::Ingest};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};

use crate::core::Core;
use crate::engine::{Evaluated, SeriesId};
use check::{check_hello, check_series};
use patrol_store::{AppliedSeq, WriteBatch};

/// Commits in flight per stream before the stream stops reading (backpressure to the agent).
const MAX_IN_FLIGHT: usize = 64;

pub struct IngestService {
    core: Arc<Core>,
}

impl IngestService {
    pub fn new(core: Arc<Core>) -> Self {
        Self { core }
    }
}

type Outbound = Pin<Box<dyn Stream<Item = Result<v1::CollectorMessage, Status>> + Send>>;

#[tonic::async_trait]
impl Ingest for IngestService {
    type StreamStream = Outbound;

    async fn stream(
        &self,
        request: Request<Streaming<v1::AgentMessage>>,
    ) -> Result<Response<Outbound>, Status> {
        let conn = crate::conn::info(&request).cloned();
        let peer = conn
            .as_ref()
            .and_then(|c| c.remote)
            .or_else(|| request.remote_addr())
            .map(|a| a.to_string())
            .unwrap_or_default();
        let caller = crate::auth::caller(&request);
        let mut inbound = request.into_inner();
        let core = Arc::clone(&self.core);
        let hello_timeout = core.connections.hello_timeout;
        let hello = match tokio::time::timeout(hello_timeout, inbound.message()).await {
            Ok(Ok(Some(v1::AgentMessage {
                msg: Some(agent_message::Msg::Hello(h)),
            }))) => h,
            Ok(Ok(_)) => {
                core.telemetry.reject("no_hello");
                return Err(Status::invalid_argument(
                    "the first message must be a hello",
                ));
            }
            Ok(Err(s)) => {
                core.telemetry.reject("decode");
                return Err(s);
            }
            Err(_) => {
                core.telemetry.reject("no_hello");
                return Err(Status::deadline_exceeded(format!(
                    "no hello within {} (hello_timeout)",
                    humantime_serde::re::humantime::format_duration(hello_timeout)
                )));
            }
        };
        // The agent's credential must be its own (docs/security.md); refusals are counted in
        // both the ingest and the auth counters.
        if let Err((reason, status)) = core.auth.admit_agent(
            &caller,
            &hello.agent_id,
            &hello.token,
            core.local_agent.get(),
        ) {
            core.telemetry.reject("unauthenticated");
            core.telemetry.auth_refused.refuse(
                reason,
                std::time::Instant::now(),
                &peer,
                "the agent stream",
                &format!("agent '{}': {}", hello.agent_id, status.message()),
            );
            return Err(status);
        }
        let labels = check_hello(&hello).inspect_err(|_| core.telemetry.reject("bad_hello"))?;
        if let Some(c) = &conn {
            c.identify_agent()
                .inspect_err(|_| core.telemetry.refuse(&hello.agent_id, "max_connections"))?;
        }
        let now = now_ms();
        let reg = core
            .agents
            .connect(&hello, labels.clone(), peer.clone(), now);
        core.telemetry
            .agents_connected
            .set(core.agents.connected_count() as i64);
        tracing::info!(agent_id = %hello.agent_id, %peer, epoch = hello.epoch,
            applied_seq = reg.durable_seq, "agent connected");

        let (tx, rx) = mpsc::channel(MAX_IN_FLIGHT * 2);
        let welcome = v1::CollectorMessage {
            msg: Some(collector_message::Msg::Welcome(v1::Welcome {
                applied_seq: reg.durable_seq,
                max_batch_points: core.max_batch_points,
                accepts_facts: true,
            })),
        };
        let _ = tx.send(Ok(welcome)).await;
        let history_removals = core_history_removals(&core);
        let session = Session {
            core,
            agent_id: hello.agent_id.clone(),
            epoch: hello.epoch,
            generation: reg.generation,
            labels,
            series: HashMap::new(),
            history_removals,
        };
        tokio::spawn(session.run(inbound, tx));
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }
}

struct Session {
    core: Arc<Core>,
    agent_id: String,
    epoch: u64,
    generation: u64,
    /// Host and static labels of the agent, added to every series it defines.
    labels: Labels,
    /// Wire series id → (engine series id, history series id), for this stream only.
    series: HashMap<u32, (SeriesId, u32)>,
    /// The history's removal count when the history ids above were looked up: when it moves,
    /// they are looked up again (a removed series' id is dead).
    history_removals: u64,
}

fn core_history_removals(core: &Core) -> u64 {
    core.history
        .as_ref()
        .map_or(0, patrol_history::History::removals)
}

/// Looks a stream's history ids up again after the history removed series (ids of series
/// with no data left are dead); a series that comes back gets a new id there.
fn refresh_history_ids(
    h: &patrol_history::History,
    engine: &crate::engine::Engine,
    series: &mut HashMap<u32, (SeriesId, u32)>,
    seen: &mut u64,
) {
    // Read before the lookups: a removal during them is seen at the next batch.
    let removals = h.removals();
    if removals == *seen {
        return;
    }
    for (id, hid) in series.values_mut() {
        if let Some((name, labels)) = engine.key(*id) {
            *hid = h.series(name, labels);
        }
    }
    *seen = removals;
}

/// What acknowledging a batch waits for: its incident changes in the store and its samples in
/// the history's log.
type Commit = Pin<Box<dyn Future<Output = (u64, Result<(), CommitError>)> + Send>>;

#[derive(Debug, thiserror::Error)]
enum CommitError {
    #[error("incident store: {0}")]
    Store(#[from] patrol_store::StoreError),
    #[error("{0}")]
    History(#[from] patrol_history::HistoryError),
}

impl Session {
    async fn run(
        mut self,
        mut inbound: Streaming<v1::AgentMessage>,
        tx: mpsc::Sender<Result<v1::CollectorMessage, Status>>,
    ) {
        let mut commits = FuturesOrdered::new();
        let mut shutdown = self.core.shutdown.clone();
        let end: Option<Status> = loop {
            tokio::select! {
                r = shutdown.changed() => {
                    if r.is_err() || *shutdown.borrow() {
                        break Some(Status::unavailable("collector shutting down"));
                    }
                }
                msg = inbound.message(), if commits.len() < MAX_IN_FLIGHT => match msg {
                    Ok(Some(v1::AgentMessage { msg: Some(agent_message::Msg::Batch(b)) })) => {
                        match self.batch(b).await {
                            Ok(Some(fut)) => commits.push_back(fut),
                            Ok(None) => break None,
                            Err(status) => break Some(status),
                        }
                    }
                    Ok(Some(v1::AgentMessage { msg: Some(agent_message::Msg::Facts(f)) })) => {
                        self.facts(f).await;
                    }
                    Ok(Some(_)) => {
                        self.core.telemetry.reject("protocol");
                        break Some(Status::invalid_argument("expected a batch"));
                    }
                    Ok(None) => break None,
                    Err(status) if is_disconnect(&status) => {
                        tracing::debug!(agent_id = %self.agent_id, error = %status.message(), "agent connection lost");
                        break None;
                    }
                    Err(status) => {
                        // Undecodable or oversized messages end up here.
                        self.core.telemetry.reject("decode");
                        tracing::warn!(agent_id = %self.agent_id, error = %status.message(), "bad message from agent");
                        break Some(status);
                    }
                },
                Some(done) = commits.next(), if !commits.is_empty() => {
                    if !self.acked(done, &tx).await { break None; }
                }
            }
        };
        // Acknowledge what is already on its way to disk before saying goodbye.
        while let Some(done) = commits.next().await {
            if !self.acked(done, &tx).await {
                break;
            }
        }
        if let Some(status) = end {
            let _ = tx.send(Err(status)).await;
        }
        self.core
            .agents
            .disconnect(&self.agent_id, self.generation, now_ms());
        self.core
            .telemetry
            .agents_connected
            .set(self.core.agents.connected_count() as i64);
        tracing::info!(agent_id = %self.agent_id, "agent stream closed");
    }

    async fn acked(
        &self,
        done: (u64, Result<(), CommitError>),
        tx: &mpsc::Sender<Result<v1::CollectorMessage, Status>>,
    ) -> bool {
        let (seq, result) = done;
        if let Err(e) = result {
            // Not durable: do not acknowledge, the agent resends after reconnecting.
            match &e {
                CommitError::Store(_) => self.core.telemetry.store_errors.inc(),
                CommitError::History(_) => self.core.telemetry.history_errors.inc(),
            }
            tracing::error!(error = %e, "batch not durable; dropping the stream so the agent resends");
            return false;
        }
        self.core.agents.durable(&self.agent_id, self.epoch, seq);
        let ack = v1::CollectorMessage {
            msg: Some(collector_message::Msg::Ack(v1::Ack { seq })),
        };
        tx.send(Ok(ack)).await.is_ok()
    }

    /// Takes the agent's facts and stores them when they changed. A refused message is
    /// counted and logged, and the stream goes on: facts must never hold samples back (the
    /// agent would send the same facts again on its next connection).
    async fn facts(&self, wire: v1::Facts) {
        let core = &self.core;
        let facts = match patrol_proto::facts::check(&wire) {
            Ok(f) => f,
            Err(refusal) => {
                let reason = refusal.reason();
                core.telemetry.refuse(&self.agent_id, reason);
                core.log.warn(&format!("{reason} {}", self.agent_id), || {
                    format!(
                        "agent {}: facts refused: {refusal} (docs/inventory.md); its samples go on",
                        self.agent_id
                    )
                });
                return;
            }
        };
        let changed = core.agents.set_facts(
            &self.agent_id,
            self.generation,
            facts.clone(),
            wire.gathered_ms,
        );
        if changed != Some(true) {
            return;
        }
        let Some(host) = self.labels.get("host").map(str::to_owned) else {
            return;
        };
        let stored = patrol_store::AgentFacts {
            agent_id: self.agent_id.clone(),
            host,
            facts,
            gathered_ms: wire.gathered_ms,
        };
        match core.store.save_facts(stored).await {
            Ok(()) => {
                core.agents.facts_stored(&self.agent_id, wire.gathered_ms);
                tracing::info!(agent_id = %self.agent_id, "agent facts updated");
            }
            Err(e) => {
                core.telemetry.store_errors.inc();
                tracing::error!(agent_id = %self.agent_id, error = %e,
                    "agent facts not stored (kept in memory; stored when the agent sends them again)");
            }
        }
    }

    /// Counts and logs (rate-limited) a refused batch of this agent.
    fn refused(&self, reason: &str, status: &Status) {
        self.core.telemetry.refuse(&self.agent_id, reason);
        self.core
            .log
            .warn(&format!("{reason} {}", self.agent_id), || {
                format!(
                    "agent {}: batch refused: {}",
                    self.agent_id,
                    status.message()
                )
            });
    }

    /// Checks the batch's new series against the limits (per agent, in all, per minute),
    /// taking them from the agent's budget when admitted.
    fn admit(
        &self,
        engine: &crate::engine::Engine,
        series: &[v1::SeriesDef],
        defs: &[(u32, Labels)],
        now: i64,
    ) -> Result<(), Status> {
        let core = &self.core;
        let limits = &core.limits;
        // A stream may map many wire ids to the same series: bound the map too.
        let fresh_wire = defs
            .iter()
            .filter(|(w, _)| !self.series.contains_key(w))
            .count();
        if self.series.len() + fresh_wire > limits.max_series_per_agent {
            let status = Status::resource_exhausted(format!(
                "max_series_per_agent: this stream defined {} series ids and the batch adds \
                 {fresh_wire}, over the limit of {}",
                self.series.len(),
                limits.max_series_per_agent
            ));
            self.refused("max_series_per_agent", &status);
            return Err(status);
        }
        let mut book = core
            .book
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut seen = std::collections::HashSet::new();
        let (mut new_for_agent, mut new_in_table) = (0, 0);
        for ((_, labels), def) in defs.iter().zip(series) {
            if !seen.insert((def.name.as_str(), labels)) {
                continue;
            }
            match engine.lookup(&def.name, labels) {
                Some(id) if book.owns(&self.agent_id, id) => {}
                Some(_) => new_for_agent += 1,
                None => {
                    new_for_agent += 1;
                    new_in_table += 1;
                }
            }
        }
        book.admit(
            &self.agent_id,
            new_for_agent,
            new_in_table,
            engine.series_count(),
            limits,
            now,
        )
        .map_err(|r| {
            let status = r.status();
            drop(book);
            self.refused(r.reason(), &status);
            status
        })
    }

    /// Applies one batch and returns the commit to wait for before acknowledging it.
    async fn batch(&mut self, b: v1::Batch) -> Result<Option<Commit>, Status> {
        let core = &self.core;
        if b.seq == 0 {
            core.telemetry.reject("bad_batch");
            return Err(Status::invalid_argument(
                "batch sequence numbers start at 1",
            ));
        }
        if b.points.len() > core.max_batch_points as usize {
            core.telemetry.refuse(&self.agent_id, "oversized");
            core.log.warn(&format!("oversized {}", self.agent_id), || {
                format!(
                    "agent {}: batch of {} points refused, over max_batch_points {}",
                    self.agent_id,
                    b.points.len(),
                    core.max_batch_points
                )
            });
            return Err(Status::resource_exhausted(format!(
                "max_batch_points: batch of {} points exceeds the limit of {}; the agent must \
                 send smaller batches (it learns the limit from the welcome)",
                b.points.len(),
                core.max_batch_points
            )));
        }
        let now = now_ms();
        let Some(new) = core.agents.begin_batch(
            &self.agent_id,
            self.generation,
            b.seq,
            b.points.len() as u64,
            now,
        ) else {
            tracing::info!(agent_id = %self.agent_id, "stream replaced by a newer one");
            return Ok(None);
        };
        let mut changes = Vec::new();
        let mut stats = Evaluated::default();
        // Checked before the engine lock: a refused batch costs ingest nothing.
        let mut defs = Vec::with_capacity(b.series.len());
        for def in &b.series {
            let labels = check_series(def, &self.labels, &core.limits).inspect_err(|s| {
                // Limit refusals name the limit first ("max_labels: ...").
                let reason = match s.message().split_once(':') {
                    Some((limit, _)) if limit.starts_with("max_") => limit,
                    _ => "bad_series",
                };
                self.refused(reason, s);
            })?;
            defs.push((def.id, labels));
        }
        {
            let Ok(mut engine) = core.engine.lock() else {
                return Err(Status::internal("engine unavailable"));
            };
            // Definitions are registered even for a duplicate batch: later batches of this
            // stream refer to them. Every limit is checked before any is, so a refused batch
            // changes nothing.
            self.admit(&engine, &b.series, &defs, now)?;
            let mut book = core
                .book
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            for ((wire, labels), def) in defs.iter().zip(&b.series) {
                let id = core.intern(&mut engine, &def.name, labels);
                book.record(&self.agent_id, id);
                let hid = core
                    .history
                    .as_ref()
                    .map_or(0, |h| h.series(&def.name, labels));
                self.series.insert(*wire, (id, hid));
            }
            drop(book);
            if let Some(h) = core.history.as_ref() {
                refresh_history_ids(h, &engine, &mut self.series, &mut self.history_removals);
            }
            if new {
                // Check every reference before applying any point, so a bad batch changes nothing.
                if let Some(p) = b
                    .points
                    .iter()
                    .find(|p| !self.series.contains_key(&p.series))
                {
                    core.telemetry.reject("undefined_series");
                    return Err(Status::invalid_argument(format!(
                        "point refers to series {} which this stream never defined",
                        p.series
                    )));
                }
                let mut values = Vec::with_capacity(b.points.len());
                let mut non_finite = 0u64;
                for p in &b.points {
                    // NaN and infinities are no measurement: a +Inf once opened a
                    // "+Inf% full" incident. Dropped and counted, the rest of the batch stands.
                    if !p.value.is_finite() {
                        non_finite += 1;
                        continue;
                    }
                    if let Some(&(id, _)) = self.series.get(&p.series) {
                        engine.observe(id, p.value, p.timestamp_ms, now, &mut changes, &mut stats);
                        values.push((id, p.value, p.timestamp_ms));
                    }
                }
                core.latest.values(values);
                if non_finite > 0 {
                    core.telemetry
                        .samples_dropped
                        .inc_by("non_finite", non_finite);
                    core.log.warn(&format!("non_finite {}", self.agent_id), || {
                        format!(
                            "agent {}: {non_finite} NaN or infinite value(s) dropped from batch \
                             {} (a probe divided by zero?); the rest of the batch was applied",
                            self.agent_id, b.seq
                        )
                    });
                }
            }
            core.telemetry.series.set(engine.series_count() as i64);
        }
        let mut applied = Vec::new();
        if new {
            core.telemetry.batches_applied.inc();
            core.count(&stats);
            applied.push(AppliedSeq {
                agent_id: self.agent_id.clone(),
                epoch: self.epoch,
                seq: b.seq,
            });
        } else {
            core.telemetry.batches_duplicate.inc();
        }
        // A duplicate's samples go to the history too: the history keeps only samples newer
        // than their series' last one, so a batch applied before a crash but lost from the
        // history's log (or never written to it) is filled in, and one already there is not
        // kept twice. Queued here, in stream order; awaited with the store's commit.
        let history = match &self.core.history {
            Some(h) => {
                let samples = self.history_samples(&b.points);
                let mark = patrol_history::Mark {
                    source: self.agent_id.clone(),
                    epoch: self.epoch,
                    seq: b.seq,
                };
                Some(h.submit(samples, Some(mark)).await.map_err(|e| {
                    tracing::error!(error = %e, "history is not taking samples");
                    Status::unavailable("the collector's history is not taking samples")
                })?)
            }
            None => None,
        };
        // A duplicate still goes through the store: its (empty) commit completes only after
        // the original's, so its ack never claims more durability than there is.
        let core = Arc::clone(&self.core);
        let seq = b.seq;
        Ok(Some(Box::pin(async move {
            let stored = commit_until_durable(&core, WriteBatch { changes, applied }).await;
            let kept = match history {
                Some(pending) => pending.await.map(|_| ()),
                None => Ok(()),
            };
            let result = match (stored, kept) {
                (Err(e), _) => Err(CommitError::Store(e)),
                (Ok(()), Err(e)) => Err(CommitError::History(e)),
                (Ok(()), Ok(())) => Ok(()),
            };
            (seq, result)
        })))
    }

    /// The batch's points as history samples (points of undefined series were refused above).
    fn history_samples(&self, points: &[v1::Point]) -> Vec<patrol_history::Sample> {
        points
            .iter()
            // What the engine drops (NaN, infinities) is no measurement for the history either.
            .filter(|p| p.value.is_finite())
            .filter_map(|p| {
                self.series
                    .get(&p.series)
                    .map(|&(_, series)| patrol_history::Sample {
                        series,
                        ts: p.timestamp_ms,
                        value: p.value,
                    })
            })
            .collect()
    }
}

/// Commits, retrying with backoff while the store fails (disk full, locked file): the engine
/// has already applied the batch, so giving up would lose its incident changes. Meanwhile the
/// stream stops acknowledging and the agent keeps the batch.
async fn commit_until_durable(
    core: &Core,
    batch: WriteBatch,
) -> Result<(), patrol_store::StoreError> {
    let mut wait = Duration::from_millis(100);
    let mut failures = 0u32;
    loop {
        match core.store.commit(batch.clone()).await {
            Ok(()) => return Ok(()),
            Err(patrol_store::StoreError::Closed) => return Err(patrol_store::StoreError::Closed),
            Err(e) => {
                failures += 1;
                core.telemetry.store_errors.inc();
                if failures == 1 || failures.is_multiple_of(20) {
                    tracing::error!(error = %e, failures, "incident store commit failed; retrying");
                }
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(5));
            }
        }
    }
}

/// A transport failure (peer gone, connection reset) rather than something the agent sent.
fn is_disconnect(status: &Status) -> bool {
    matches!(
        status.code(),
        tonic::Code::Unknown | tonic::Code::Cancelled | tonic::Code::Unavailable
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stream's history ids are looked up again after the history removed series, so a
    /// series whose old id died is written under its new one.
    #[test]
    #[allow(clippy::unwrap_used)] // a failing unwrap is a failing test
    fn history_ids_are_looked_up_again_after_a_removal() {
        let dir = tempfile::tempdir().unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let h = patrol_history::History::open(
            dir.path(),
            patrol_history::HistoryConfig {
                raw_retention: Duration::from_secs(2 * 86_400),
                aggregate_retention: Duration::from_secs(10 * 86_400),
                ..patrol_history::HistoryConfig::default()
            },
        )
        .unwrap();
        let rules = patrol_rules::RuleSet::from_rules(Vec::new());
        let mut engine = crate::engine::Engine::new(Arc::new(rules));
        let labels = Labels::from_pairs([("host", "db1")]);
        let id = engine.intern("load1", &labels);
        let old = h.series("load1", &labels);
        let mut series = HashMap::from([(7u32, (id, old))]);
        let mut seen = h.removals();
        // Twenty days old: retention takes it all and the series goes.
        let ts = now_ms() - 20 * 86_400_000;
        rt.block_on(h.append(vec![patrol_history::Sample {
            series: old,
            ts,
            value: 1.0,
        }]))
        .unwrap();
        refresh_history_ids(&h, &engine, &mut series, &mut seen);
        assert_eq!(series[&7].1, old, "nothing removed yet: nothing looked up");
        h.checkpoint().unwrap();
        assert_eq!(h.stats().series_removed.get(), 1);
        refresh_history_ids(&h, &engine, &mut series, &mut seen);
        let new = series[&7].1;
        assert!(new > old, "a new id after the removal ({new} after {old})");
        assert_eq!(seen, h.removals());
        assert_eq!(h.series("load1", &labels), new);
    }
}
