//! Which agents exist, which are connected, and how far each one's batches have been applied.

use std::collections::HashMap;
use std::sync::Mutex;

use patrol_proto::Labels;
use patrol_proto::v1;

use crate::store::AppliedSeq;

#[derive(Debug, Clone, Default)]
struct Entry {
    host: String,
    version: String,
    labels: Labels,
    peer: String,
    connected: bool,
    /// Increases with every new stream of this agent; an older stream that sees a newer
    /// generation knows it has been replaced and stops.
    generation: u64,
    connected_ms: i64,
    last_seen_ms: i64,
    batches: u64,
    samples: u64,
    epoch: u64,
    /// Highest batch applied to the engine (its commit may still be in flight). Kept across
    /// reconnects: the engine already holds what it changed, so a resend of it is a duplicate;
    /// its ack waits behind the in-flight commit (the store commits in order).
    applied_seq: u64,
    /// Highest batch whose changes are durable (acknowledged).
    durable_seq: u64,
}

#[derive(Default)]
pub struct Registry {
    inner: Mutex<HashMap<String, Entry>>,
}

/// What a new stream learns when it registers.
pub struct Registered {
    pub generation: u64,
    /// Welcome value: highest durable batch for the stream's epoch (0 for a new epoch).
    pub durable_seq: u64,
}

impl Registry {
    /// Seeds the applied sequence numbers persisted by the store.
    pub fn restore(&self, applied: Vec<AppliedSeq>) {
        let Ok(mut m) = self.inner.lock() else { return };
        for a in applied {
            let e = m.entry(a.agent_id).or_default();
            e.epoch = a.epoch;
            e.applied_seq = a.seq;
            e.durable_seq = a.seq;
        }
    }

    pub fn connect(
        &self,
        hello: &v1::Hello,
        labels: Labels,
        peer: String,
        now_ms: i64,
    ) -> Registered {
        let Ok(mut m) = self.inner.lock() else {
            return Registered {
                generation: 0,
                durable_seq: 0,
            };
        };
        let e = m.entry(hello.agent_id.clone()).or_default();
        if e.epoch != hello.epoch {
            // A restarted agent numbers its batches afresh.
            e.epoch = hello.epoch;
            e.applied_seq = 0;
            e.durable_seq = 0;
        }
        e.host = hello.host.clone();
        e.version = hello.version.clone();
        e.labels = labels;
        e.peer = peer;
        e.connected = true;
        e.generation += 1;
        e.connected_ms = now_ms;
        e.last_seen_ms = now_ms;
        Registered {
            generation: e.generation,
            durable_seq: e.durable_seq,
        }
    }

    /// Decides whether a batch is new; marks it applied when it is. `None` means the stream
    /// has been replaced by a newer one of the same agent.
    pub fn begin_batch(
        &self,
        agent_id: &str,
        generation: u64,
        seq: u64,
        points: u64,
        now_ms: i64,
    ) -> Option<bool> {
        let mut m = self.inner.lock().ok()?;
        let e = m.get_mut(agent_id)?;
        if e.generation != generation {
            return None;
        }
        e.last_seen_ms = now_ms;
        if seq <= e.applied_seq {
            return Some(false);
        }
        e.applied_seq = seq;
        e.batches += 1;
        e.samples += points;
        Some(true)
    }

    pub fn durable(&self, agent_id: &str, seq: u64) {
        if let Ok(mut m) = self.inner.lock()
            && let Some(e) = m.get_mut(agent_id)
        {
            e.durable_seq = e.durable_seq.max(seq);
        }
    }

    pub fn disconnect(&self, agent_id: &str, generation: u64, now_ms: i64) {
        if let Ok(mut m) = self.inner.lock()
            && let Some(e) = m.get_mut(agent_id)
            && e.generation == generation
        {
            e.connected = false;
            e.last_seen_ms = now_ms;
        }
    }

    pub fn connected_count(&self) -> usize {
        self.inner
            .lock()
            .map(|m| m.values().filter(|e| e.connected).count())
            .unwrap_or(0)
    }

    pub fn list(&self) -> Vec<v1::AgentInfo> {
        let Ok(m) = self.inner.lock() else {
            return Vec::new();
        };
        let mut out: Vec<_> = m
            .iter()
            .filter(|(_, e)| e.generation > 0)
            .map(|(id, e)| v1::AgentInfo {
                agent_id: id.clone(),
                host: e.host.clone(),
                version: e.version.clone(),
                labels: (&e.labels).into(),
                connected: e.connected,
                connected_ms: e.connected_ms,
                last_seen_ms: e.last_seen_ms,
                batches: e.batches,
                samples: e.samples,
                peer: e.peer.clone(),
            })
            .collect();
        out.sort_by(|a, b| a.agent_id.cmp(&b.agent_id));
        out
    }
}
