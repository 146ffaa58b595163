//! The seam a second incident-store backend plugs into: everything the collector and the
//! notification dispatcher ask of a store, as one object-safe trait. [`Store`] (SQLite, one
//! collector) implements it today; a PostgreSQL backend shared by several collectors implements
//! the same trait, with the same guarantees:
//!
//! - a write returns once it is durable, and its events are published on the bus after the
//!   commit, in event-id order;
//! - a rule decision that finds its incident already live is a no-op (no duplicate incident
//!   after a restart or a resent batch), and every clock and escalation step fires once;
//! - outbox rows are written in the transaction that journals their event.
//!
//! Callers hold an `Arc<dyn IncidentStore>`; what opens a backend (a data directory, a
//! connection string) is the backend's own constructor.

use async_trait::async_trait;

use crate::incident::Incident;
use crate::{
    AgentFacts, AppliedSeq, Backlog, Delivery, Due, JournalEntry, NewIncident, Op, OutboxItem,
    Store, StoreError, WriteBatch,
};

/// What the collector and the dispatcher need of an incident store.
#[async_trait]
pub trait IncidentStore: Send + Sync {
    /// Applies rule decisions and applied batch numbers in one durable transaction.
    async fn commit(&self, batch: WriteBatch) -> Result<(), StoreError>;

    /// Applies a person's operation to incident `id` and journals it; returns the incident as
    /// it is after the change.
    async fn act(
        &self,
        id: u64,
        op: Op,
        by: &str,
        note: Option<&str>,
        at_ms: i64,
    ) -> Result<Incident, StoreError>;

    /// Acknowledges incident `id` by hand; returns it as it is after the change.
    async fn acknowledge(
        &self,
        id: u64,
        by: &str,
        note: Option<&str>,
        at_ms: i64,
    ) -> Result<Incident, StoreError> {
        self.act(id, Op::Acknowledge, by, note, at_ms).await
    }

    /// Resolves incident `id` by hand; returns it as it is after the change.
    async fn resolve(
        &self,
        id: u64,
        by: &str,
        note: Option<&str>,
        at_ms: i64,
    ) -> Result<Incident, StoreError> {
        self.act(id, Op::Resolve, by, note, at_ms).await
    }

    /// Opens a manual incident reported by `by`; returns it as stored.
    async fn create(&self, new: NewIncident, by: &str, at_ms: i64) -> Result<Incident, StoreError>;

    /// Fires the deadlines and escalation steps due at `now_ms`, each exactly once; returns how
    /// many journal entries it wrote.
    async fn run_clocks(&self, now_ms: i64) -> Result<usize, StoreError>;

    /// Records what delivering outbox row `id` came to.
    async fn outbox_record(&self, id: u64, outcome: Delivery, at_ms: i64)
    -> Result<(), StoreError>;

    /// Up to `limit` notifications of `channel` that may go out at `now_ms`, oldest first.
    fn outbox_due(
        &self,
        channel: &str,
        now_ms: i64,
        held_routes: &[String],
        limit: usize,
    ) -> Result<Due, StoreError>;

    /// Up to `limit` pending notifications of `channel` in group `key`, oldest first.
    fn outbox_group(
        &self,
        channel: &str,
        key: &str,
        now_ms: i64,
        held_routes: &[String],
        limit: usize,
    ) -> Result<Vec<OutboxItem>, StoreError>;

    /// Messages `channel` sent for `route` since `since_ms`, and when the oldest was sent.
    fn outbox_sent_since(
        &self,
        channel: &str,
        route: &str,
        since_ms: i64,
    ) -> Result<(u64, Option<i64>), StoreError>;

    /// Pending, sent and dead counts per channel.
    fn outbox_backlog(&self) -> Result<Vec<Backlog>, StoreError>;

    /// The incident with this id, if any.
    fn get(&self, id: u64) -> Result<Option<Incident>, StoreError>;

    /// Incidents in `states` (empty = the live states), newest first, at most `limit` (0 = no
    /// limit).
    fn list(
        &self,
        states: &[crate::incident::IncidentState],
        limit: usize,
    ) -> Result<Vec<Incident>, StoreError>;

    /// Live incidents, oldest first.
    fn open_incidents(&self) -> Result<Vec<Incident>, StoreError>;

    /// Incidents that existed at some time in `[from_ms, to_ms]` (opened by `to_ms`, not
    /// resolved nor closed before `from_ms`), oldest first: what a report of the period reads.
    fn overlapping(&self, from_ms: i64, to_ms: i64) -> Result<Vec<Incident>, StoreError>;

    /// Live incidents with an id above `after`, oldest first, at most `limit`: a page, so a
    /// reader of thousands holds one page at a time.
    fn open_incidents_after(&self, after: u64, limit: usize) -> Result<Vec<Incident>, StoreError> {
        let mut all = self.open_incidents()?;
        all.retain(|i| i.id > after);
        all.truncate(limit);
        Ok(all)
    }

    /// The id of the newest committed event (0 when there is none).
    fn last_event_id(&self) -> Result<u64, StoreError>;

    /// The newest `limit` entries of incident `id`'s journal, oldest first, and how many it has.
    fn journal_newest(&self, id: u64, limit: u32) -> Result<(Vec<JournalEntry>, u64), StoreError>;

    /// The highest batch applied per agent.
    fn applied_seqs(&self) -> Result<Vec<AppliedSeq>, StoreError>;

    /// Keeps an agent's latest facts, replacing what it had; returns once durable.
    async fn save_facts(&self, facts: AgentFacts) -> Result<(), StoreError>;

    /// Every agent's latest facts.
    fn agent_facts(&self) -> Result<Vec<AgentFacts>, StoreError>;
}

#[async_trait]
impl IncidentStore for Store {
    async fn commit(&self, batch: WriteBatch) -> Result<(), StoreError> {
        Store::commit(self, batch).await
    }

    async fn act(
        &self,
        id: u64,
        op: Op,
        by: &str,
        note: Option<&str>,
        at_ms: i64,
    ) -> Result<Incident, StoreError> {
        Store::act(self, id, op, by, note, at_ms).await
    }

    async fn create(&self, new: NewIncident, by: &str, at_ms: i64) -> Result<Incident, StoreError> {
        Store::create(self, new, by, at_ms).await
    }

    async fn run_clocks(&self, now_ms: i64) -> Result<usize, StoreError> {
        Store::run_clocks(self, now_ms).await
    }

    async fn outbox_record(
        &self,
        id: u64,
        outcome: Delivery,
        at_ms: i64,
    ) -> Result<(), StoreError> {
        Store::outbox_record(self, id, outcome, at_ms).await
    }

    fn outbox_due(
        &self,
        channel: &str,
        now_ms: i64,
        held_routes: &[String],
        limit: usize,
    ) -> Result<Due, StoreError> {
        Store::outbox_due(self, channel, now_ms, held_routes, limit)
    }

    fn outbox_group(
        &self,
        channel: &str,
        key: &str,
        now_ms: i64,
        held_routes: &[String],
        limit: usize,
    ) -> Result<Vec<OutboxItem>, StoreError> {
        Store::outbox_group(self, channel, key, now_ms, held_routes, limit)
    }

    fn outbox_sent_since(
        &self,
        channel: &str,
        route: &str,
        since_ms: i64,
    ) -> Result<(u64, Option<i64>), StoreError> {
        Store::outbox_sent_since(self, channel, route, since_ms)
    }

    fn outbox_backlog(&self) -> Result<Vec<Backlog>, StoreError> {
        Store::outbox_backlog(self)
    }

    fn get(&self, id: u64) -> Result<Option<Incident>, StoreError> {
        Store::get(self, id)
    }

    fn list(
        &self,
        states: &[crate::incident::IncidentState],
        limit: usize,
    ) -> Result<Vec<Incident>, StoreError> {
        Store::list(self, states, limit)
    }

    fn open_incidents(&self) -> Result<Vec<Incident>, StoreError> {
        Store::open_incidents(self)
    }

    fn overlapping(&self, from_ms: i64, to_ms: i64) -> Result<Vec<Incident>, StoreError> {
        Store::overlapping(self, from_ms, to_ms)
    }

    fn open_incidents_after(&self, after: u64, limit: usize) -> Result<Vec<Incident>, StoreError> {
        Store::open_incidents_after(self, after, limit)
    }

    fn last_event_id(&self) -> Result<u64, StoreError> {
        Store::last_event_id(self)
    }

    fn journal_newest(&self, id: u64, limit: u32) -> Result<(Vec<JournalEntry>, u64), StoreError> {
        Store::journal_newest(self, id, limit)
    }

    fn applied_seqs(&self) -> Result<Vec<AppliedSeq>, StoreError> {
        Store::applied_seqs(self)
    }

    async fn save_facts(&self, facts: AgentFacts) -> Result<(), StoreError> {
        Store::save_facts(self, facts).await
    }

    fn agent_facts(&self) -> Result<Vec<AgentFacts>, StoreError> {
        Store::agent_facts(self)
    }
}
