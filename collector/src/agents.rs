//! Which agents exist, which are connected, how far each one's batches have been applied,
//! and what each one's box is (its latest facts, docs/inventory.md).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use patrol_proto::Labels;
use patrol_proto::facts::{FactMap, Facts, key_device_facts, key_host_facts};
use patrol_proto::v1;

use patrol_store::{AgentFacts, AppliedSeq};

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
    /// How far each recent epoch got, the current one (the last hello's) last. Epochs carry no
    /// order — old agents pick them at random, newer ones from a clock that may step back — so
    /// an agent that returns to an earlier epoch (two streams racing, a restored spool) finds
    /// its numbers again instead of having its batches applied a second time.
    epochs: Vec<EpochSeq>,
    /// What `patrol_agent_up` last said for this agent, so it is published only on change.
    reported_up: Option<bool>,
    /// Its latest facts (from a stream, or from the store until it is back).
    facts: Option<Arc<KnownFacts>>,
    /// Whether those facts are in the store (a failed write is retried when they come again).
    facts_stored: bool,
}

/// An agent's facts and when it gathered them.
#[derive(Debug, Clone, PartialEq, Eq)]
struct KnownFacts {
    facts: Facts,
    gathered_ms: i64,
}

/// Epochs remembered per agent, as many as the store keeps.
const EPOCHS_KEPT: usize = patrol_store::EPOCHS_KEPT;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct EpochSeq {
    epoch: u64,
    /// Highest batch applied to the engine (its commit may still be in flight). Kept across
    /// reconnects: the engine already holds what it changed, so a resend of it is a duplicate;
    /// its ack waits behind the in-flight commit (the store commits in order).
    applied: u64,
    /// Highest batch whose changes are durable (acknowledged).
    durable: u64,
}

impl Entry {
    /// The numbers of `epoch`, made the current one (created at 0 when unknown).
    fn enter(&mut self, epoch: u64) -> &mut EpochSeq {
        let seq = match self.epochs.iter().position(|e| e.epoch == epoch) {
            Some(i) => self.epochs.remove(i),
            None => EpochSeq {
                epoch,
                ..EpochSeq::default()
            },
        };
        self.epochs.push(seq);
        if self.epochs.len() > EPOCHS_KEPT {
            self.epochs.remove(0);
        }
        let last = self.epochs.len() - 1;
        &mut self.epochs[last]
    }

    fn epoch_mut(&mut self, epoch: u64) -> Option<&mut EpochSeq> {
        self.epochs.iter_mut().find(|e| e.epoch == epoch)
    }
}

/// A change of an agent's `patrol_agent_up`, with the labels of its series.
#[derive(Debug, Clone, PartialEq)]
pub struct Liveness {
    pub agent_id: String,
    /// The agent's host and static labels plus `agent`.
    pub labels: Labels,
    pub up: bool,
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
    /// Seeds the applied sequence numbers persisted by the store (each agent's epochs in the
    /// order they were first seen).
    pub fn restore(&self, applied: Vec<AppliedSeq>) {
        let Ok(mut m) = self.inner.lock() else { return };
        for a in applied {
            let e = m.entry(a.agent_id).or_default();
            let seq = e.enter(a.epoch);
            seq.applied = seq.applied.max(a.seq);
            seq.durable = seq.durable.max(a.seq);
        }
    }

    /// Lowers each agent's welcome to what the history holds of it (its marks), so batches
    /// the store applied but the history lost in a crash are sent again: the engine sees them
    /// as duplicates, the history keeps their samples. An agent the history has nothing of
    /// for its epoch is welcomed from 0.
    pub fn limit_to_history(&self, marks: &[patrol_history::Mark]) {
        let Ok(mut m) = self.inner.lock() else { return };
        for (id, e) in m.iter_mut() {
            for es in &mut e.epochs {
                let held = marks
                    .iter()
                    .find(|k| &k.source == id && k.epoch == es.epoch)
                    .map_or(0, |k| k.seq);
                // Only the welcome goes back: what the engine applied stays applied, so the
                // resent batches are duplicates to it and samples to the history.
                if held < es.durable {
                    tracing::info!(agent_id = %id, epoch = es.epoch, store = es.durable,
                        history = held,
                        "the history lacks batches the store applied; the agent is asked to send them again");
                    es.durable = held;
                }
            }
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
        // A restarted agent numbers its batches afresh in a new epoch; a known one goes on.
        let durable_seq = e.enter(hello.epoch).durable;
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
            durable_seq,
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
        // The stream's epoch is the current one: a newer stream would have replaced it.
        let current = e.epochs.last_mut()?;
        if seq <= current.applied {
            return Some(false);
        }
        current.applied = seq;
        e.batches += 1;
        e.samples += points;
        Some(true)
    }

    /// Batch `seq` of `epoch` is durable. By epoch: the commit of a replaced stream may finish
    /// after the agent came back in another epoch.
    pub fn durable(&self, agent_id: &str, epoch: u64, seq: u64) {
        if let Ok(mut m) = self.inner.lock()
            && let Some(e) = m.get_mut(agent_id)
            && let Some(s) = e.epoch_mut(epoch)
        {
            s.durable = s.durable.max(seq);
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

    /// Agents whose liveness changed: up when heard from within `silence`, down when not.
    /// Only agents that have connected since the collector started are judged (their labels
    /// are known); an incident about an agent that never came back stays open from the store.
    pub fn liveness_changes(&self, now_ms: i64, silence_ms: i64) -> Vec<Liveness> {
        let Ok(mut m) = self.inner.lock() else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for (id, e) in m.iter_mut() {
            if e.generation == 0 {
                continue;
            }
            // Connected or not: a stream that carries no batch is as silent as a closed one.
            let up = now_ms - e.last_seen_ms <= silence_ms;
            if e.reported_up != Some(up) {
                e.reported_up = Some(up);
                let mut labels = e.labels.clone();
                labels.insert("agent", id.as_str());
                out.push(Liveness {
                    agent_id: id.clone(),
                    labels,
                    up,
                });
            }
        }
        out
    }

    /// Host and static labels of each agent whose stream is gone and whose silence has been
    /// confirmed (`patrol_agent_up` 0): its series are no longer current.
    pub fn silent_labels(&self) -> Vec<Labels> {
        let Ok(m) = self.inner.lock() else {
            return Vec::new();
        };
        m.values()
            .filter(|e| !e.connected && e.reported_up == Some(false))
            .map(|e| e.labels.clone())
            .collect()
    }

    /// Whether `agent_id` is disconnected and was last heard of more than `after_ms` ago.
    pub fn gone_longer_than(&self, agent_id: &str, now_ms: i64, after_ms: i64) -> bool {
        self.inner.lock().is_ok_and(|m| {
            m.get(agent_id)
                .is_some_and(|e| !e.connected && now_ms - e.last_seen_ms > after_ms)
        })
    }

    /// Seeds the facts the store kept (agents not connected yet are known by them).
    pub fn restore_facts(&self, stored: Vec<AgentFacts>) {
        let Ok(mut m) = self.inner.lock() else { return };
        for f in stored {
            let e = m.entry(f.agent_id).or_default();
            if e.host.is_empty() {
                e.host = f.host;
            }
            e.facts = Some(Arc::new(KnownFacts {
                facts: f.facts,
                gathered_ms: f.gathered_ms,
            }));
            e.facts_stored = true;
        }
    }

    /// Takes an agent's facts from its stream `generation`. `Some(true)` when they are to be
    /// stored (they differ from what was known, or what was known never reached the store),
    /// `None` when the stream has been replaced by a newer one.
    pub fn set_facts(
        &self,
        agent_id: &str,
        generation: u64,
        facts: Facts,
        gathered_ms: i64,
    ) -> Option<bool> {
        let mut m = self.inner.lock().ok()?;
        let e = m.get_mut(agent_id)?;
        if e.generation != generation {
            return None;
        }
        if e.facts_stored && e.facts.as_ref().is_some_and(|k| k.facts == facts) {
            return Some(false);
        }
        e.facts = Some(Arc::new(KnownFacts { facts, gathered_ms }));
        e.facts_stored = false;
        Some(true)
    }

    /// The facts gathered at `gathered_ms` are durable.
    pub fn facts_stored(&self, agent_id: &str, gathered_ms: i64) {
        if let Ok(mut m) = self.inner.lock()
            && let Some(e) = m.get_mut(agent_id)
            && e.facts
                .as_ref()
                .is_some_and(|k| k.gathered_ms == gathered_ms)
        {
            e.facts_stored = true;
        }
    }

    /// Key facts (model, serial, OS, addresses) of `host`'s agent, and of `device` among the
    /// devices it polls; the agent whose facts are newest when several share the host name.
    pub fn key_facts(&self, host: &str, device: Option<&str>) -> (FactMap, FactMap) {
        let Ok(m) = self.inner.lock() else {
            return Default::default();
        };
        let newest = m
            .values()
            .filter(|e| e.host == host)
            .filter_map(|e| e.facts.as_ref())
            .max_by_key(|k| k.gathered_ms);
        let Some(k) = newest else {
            return Default::default();
        };
        let device = device
            .and_then(|d| k.facts.devices.get(d))
            .map(key_device_facts)
            .unwrap_or_default();
        (key_host_facts(&k.facts.host), device)
    }

    /// One agent with its facts: connected since the start, or known from the store.
    pub fn get(&self, agent_id: &str) -> Option<v1::AgentInfo> {
        let m = self.inner.lock().ok()?;
        let e = m.get(agent_id)?;
        if e.generation == 0 && e.facts.is_none() {
            return None;
        }
        let mut info = info(agent_id, e);
        if let Some(k) = &e.facts {
            info.facts = k.facts.host.clone();
            info.devices = k
                .facts
                .devices
                .iter()
                .map(|(device, facts)| v1::DeviceFacts {
                    device: device.clone(),
                    facts: facts.clone(),
                })
                .collect();
        }
        Some(info)
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
            .map(|(id, e)| info(id, e))
            .collect();
        out.sort_by(|a, b| a.agent_id.cmp(&b.agent_id));
        out
    }
}

/// An agent as listed: its connection and counters, without its facts.
fn info(agent_id: &str, e: &Entry) -> v1::AgentInfo {
    v1::AgentInfo {
        agent_id: agent_id.to_owned(),
        host: e.host.clone(),
        version: e.version.clone(),
        labels: (&e.labels).into(),
        connected: e.connected,
        connected_ms: e.connected_ms,
        last_seen_ms: e.last_seen_ms,
        batches: e.batches,
        samples: e.samples,
        peer: e.peer.clone(),
        facts_ms: e.facts.as_ref().map_or(0, |k| k.gathered_ms),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hello(id: &str, epoch: u64) -> v1::Hello {
        v1::Hello {
            agent_id: id.into(),
            host: "db1".into(),
            version: "t".into(),
            labels: vec![],
            token: String::new(),
            epoch,
        }
    }

    #[test]
    fn liveness_is_reported_on_change_only() {
        let r = Registry::default();
        let reg = r.connect(
            &hello("a", 1),
            Labels::from_pairs([("host", "db1")]),
            String::new(),
            0,
        );
        let first = r.liveness_changes(1_000, 60_000);
        assert_eq!(first.len(), 1);
        assert!(first[0].up);
        assert_eq!(first[0].labels.get("agent"), Some("a"));
        assert_eq!(first[0].labels.get("host"), Some("db1"));
        assert!(
            r.liveness_changes(2_000, 60_000).is_empty(),
            "no change, nothing reported"
        );
        // No batch for longer than the silence: down, even though the stream is open.
        let down = r.liveness_changes(60_001, 60_000);
        assert_eq!(down.len(), 1);
        assert!(!down[0].up);
        // A batch brings it back.
        assert_eq!(r.begin_batch("a", reg.generation, 1, 1, 70_000), Some(true));
        assert!(r.liveness_changes(70_001, 60_000)[0].up);
    }

    #[test]
    fn duplicates_and_new_epochs() {
        let r = Registry::default();
        let g = r
            .connect(&hello("a", 1), Labels::new(), String::new(), 0)
            .generation;
        assert_eq!(r.begin_batch("a", g, 1, 1, 0), Some(true));
        assert_eq!(
            r.begin_batch("a", g, 1, 1, 0),
            Some(false),
            "same seq again is a duplicate"
        );
        // A newer stream of the same agent replaces the older one.
        let g2 = r
            .connect(&hello("a", 1), Labels::new(), String::new(), 0)
            .generation;
        assert_eq!(
            r.begin_batch("a", g, 2, 1, 0),
            None,
            "the old stream is told to stop"
        );
        assert_eq!(r.begin_batch("a", g2, 2, 1, 0), Some(true));
        // A restarted agent (new epoch) counts from 1 again.
        let g3 = r.connect(&hello("a", 2), Labels::new(), String::new(), 0);
        assert_eq!(g3.durable_seq, 0);
        assert_eq!(r.begin_batch("a", g3.generation, 1, 1, 0), Some(true));
    }

    #[test]
    fn facts_are_kept_per_agent_and_found_by_host_and_device() {
        let r = Registry::default();
        let f = |serial: &str| Facts {
            host: [
                ("hw.serial".to_owned(), serial.to_owned()),
                ("memory.bytes".to_owned(), "1024".to_owned()),
            ]
            .into(),
            devices: [(
                "sw1".to_owned(),
                [
                    ("sys.name".to_owned(), "core-sw1".to_owned()),
                    ("sys.object_id".to_owned(), "1.3.6.1.4.1.9.1.516".to_owned()),
                ]
                .into(),
            )]
            .into(),
        };
        // Known from the store before the agent is back: shown, not listed.
        r.restore_facts(vec![AgentFacts {
            agent_id: "a".into(),
            host: "db1".into(),
            facts: f("OLD"),
            gathered_ms: 1,
        }]);
        assert!(r.list().is_empty());
        let stored = r.get("a").expect("known from the store");
        assert!(!stored.connected);
        assert_eq!(stored.facts["hw.serial"], "OLD");
        assert_eq!(stored.devices[0].device, "sw1");

        let g = r
            .connect(&hello("a", 1), Labels::new(), String::new(), 0)
            .generation;
        assert_eq!(r.set_facts("a", g, f("NEW"), 5), Some(true));
        assert_eq!(
            r.set_facts("a", g, f("NEW"), 5),
            Some(true),
            "not stored yet: to be stored when sent again"
        );
        r.facts_stored("a", 5);
        assert_eq!(r.set_facts("a", g, f("NEW"), 6), Some(false), "unchanged");
        assert_eq!(
            r.set_facts("a", g + 1, f("X"), 7),
            None,
            "a replaced stream"
        );
        assert_eq!(r.list()[0].facts_ms, 5);
        assert!(r.list()[0].facts.is_empty(), "list carries no facts");

        let (host, device) = r.key_facts("db1", Some("sw1"));
        assert_eq!(
            host.into_iter().collect::<Vec<_>>(),
            [("hw.serial".to_owned(), "NEW".to_owned())]
        );
        assert_eq!(device.keys().collect::<Vec<_>>(), ["sys.name"]);
        assert_eq!(r.key_facts("db2", None), Default::default());
        assert!(r.get("nobody").is_none());
    }

    #[test]
    fn epochs_are_remembered_apart_whatever_their_order() {
        let r = Registry::default();
        // Restored from the store: epoch 9000 first, then the smaller 4000 (current).
        r.restore(vec![
            AppliedSeq {
                agent_id: "a".into(),
                epoch: 9_000,
                seq: 5,
            },
            AppliedSeq {
                agent_id: "a".into(),
                epoch: 4_000,
                seq: 3,
            },
        ]);
        let g = r.connect(&hello("a", 4_000), Labels::new(), String::new(), 0);
        assert_eq!(g.durable_seq, 3);
        assert_eq!(r.begin_batch("a", g.generation, 3, 1, 0), Some(false));
        assert_eq!(r.begin_batch("a", g.generation, 4, 1, 0), Some(true));
        // A late commit of the older epoch lands after the agent moved on: it moves only its own.
        r.durable("a", 9_000, 6);
        r.durable("a", 4_000, 4);
        let back = r.connect(&hello("a", 9_000), Labels::new(), String::new(), 0);
        assert_eq!(back.durable_seq, 6);
        let again = r.connect(&hello("a", 4_000), Labels::new(), String::new(), 0);
        assert_eq!(again.durable_seq, 4);
    }
}
