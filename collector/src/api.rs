//! The query services: `Incidents`, `Agents`, `Rules`. Thin: check the request, call the core,
//! map errors to a status in one place.

use std::pin::Pin;
use std::sync::Arc;

use futures::Stream;
use patrol_proto::model::now_ms;
use patrol_proto::v1::{
    self, agents_server::Agents, channels_server::Channels, incidents_server::Incidents,
    rules_server::Rules,
};
use prost::Message as _;
use tokio::sync::{broadcast, mpsc};
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use crate::core::{Core, next_event};
use patrol_incident::{EventKind, Incident, IncidentEvent, IncidentState};
use patrol_store::{JournalEntry, NewIncident, Op, StoreError};

/// Events buffered per watcher between the bus and its connection.
const WATCH_BUFFER: usize = 256;
/// Open incidents read per page of a watcher's snapshot: a watcher that stops reading holds
/// one page, not a copy of every open incident (18 MB at 12 k open incidents).
const SNAPSHOT_PAGE: usize = 128;

/// Journal entries one answer carries by default, and at most: an incident that flapped or
/// was reminded about for weeks must not make an answer too big to send.
const JOURNAL_DEFAULT: u32 = 1000;
const JOURNAL_MAX: u32 = 10_000;
/// Encoded bytes of journal one answer carries at most, well under the 4 MiB message limit
/// of gRPC clients.
const JOURNAL_BYTES: usize = 2 << 20;
/// Longest note (ack, assign, wait, comment, plan, resolve, close).
const MAX_NOTE: usize = 16 << 10;
/// Longest person name or account (`by`, `to`).
const MAX_NAME: usize = 256;

pub struct Api {
    core: Arc<Core>,
}

impl Api {
    pub fn new(core: Arc<Core>) -> Self {
        Self { core }
    }
}

/// The one place domain errors become gRPC statuses.
fn status(e: StoreError) -> Status {
    match e {
        StoreError::NotFound(_) => Status::not_found(e.to_string()),
        StoreError::Illegal { .. } => Status::failed_precondition(e.to_string()),
        StoreError::Invalid { .. } | StoreError::InvalidNew(_) => {
            Status::invalid_argument(e.to_string())
        }
        other => Status::internal(other.to_string()),
    }
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

/// Who acts: the authenticated caller, or the person a shared identity names in `by`
/// (`auth::Caller::actor`). Every journal entry names someone.
fn actor<T>(request: &Request<T>, by: &str) -> Result<String, Status> {
    let who = crate::auth::caller(request).actor(by)?;
    name("by", &who)?;
    Ok(who)
}

/// A person's name or account as stored in the journal (`by`, an assignee).
pub(crate) fn name<'a>(what: &str, n: &'a str) -> Result<&'a str, Status> {
    if n.len() > MAX_NAME {
        return Err(Status::invalid_argument(format!(
            "'{what}' is {} bytes long; at most {MAX_NAME}",
            n.len()
        )));
    }
    Ok(n)
}

/// The wire's empty string is "no note". Notes are bounded so that no journal entry can make
/// the incident's journal too big to send.
pub(crate) fn note(n: &str) -> Result<Option<&str>, Status> {
    if n.len() > MAX_NOTE {
        return Err(Status::invalid_argument(format!(
            "the note is {} bytes long; at most {MAX_NOTE} (link a ticket or document for more)",
            n.len()
        )));
    }
    Ok(Some(n).filter(|n| !n.trim().is_empty()))
}

/// The newest of `entries` that fit in `budget` encoded bytes, oldest first.
fn newest_within(mut entries: Vec<v1::JournalEntry>, budget: usize) -> Vec<v1::JournalEntry> {
    let mut bytes = 0;
    let mut first = entries.len();
    for (i, e) in entries.iter().enumerate().rev() {
        // Each entry also costs its field tag and length prefix in the response.
        bytes += e.encoded_len() + 8;
        if bytes > budget {
            break;
        }
        first = i;
    }
    entries.split_off(first)
}

impl Api {
    /// A person's operation on incident `id`, answered with the incident after it.
    async fn act(
        &self,
        id: u64,
        op: Op,
        by: &str,
        text: &str,
    ) -> Result<Response<v1::Incident>, Status> {
        let i = self
            .core
            .store
            .act(id, op, by, note(text)?, now_ms())
            .await
            .map_err(status)?;
        Ok(Response::new((&i).into()))
    }
}

fn journal_entry(e: &JournalEntry) -> v1::JournalEntry {
    let kind = EventKind::parse(&e.kind).map_or(v1::EventKind::Unspecified, Into::into);
    let state = e
        .state
        .parse::<IncidentState>()
        .map_or(v1::IncidentState::Unspecified, Into::into);
    v1::JournalEntry {
        event_id: e.event_id,
        kind: kind as i32,
        at_ms: e.at_ms,
        actor: e.actor.clone(),
        note: e.note.clone().unwrap_or_default(),
        state: state as i32,
        detail: e.detail.clone().unwrap_or_default(),
        level: e.level.clone().unwrap_or_default(),
    }
}

type WatchStream = Pin<Box<dyn Stream<Item = Result<v1::IncidentEvent, Status>> + Send>>;

#[tonic::async_trait]
impl Incidents for Api {
    type WatchStream = WatchStream;

    async fn watch(
        &self,
        request: Request<v1::WatchRequest>,
    ) -> Result<Response<WatchStream>, Status> {
        let core = Arc::clone(&self.core);
        let filter = Filter::from_request(&core, request.get_ref())?;
        let slot = WatcherSlot::take(&core)?;
        // Subscribe before reading the snapshot so nothing falls between the two; events the
        // snapshot already covers are skipped by id.
        let bus = core.bus.subscribe();
        let (tx, rx) = mpsc::channel(WATCH_BUFFER);
        tokio::spawn(async move {
            watch_loop(core, filter, bus, tx).await;
            drop(slot);
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }

    async fn list(
        &self,
        request: Request<v1::ListRequest>,
    ) -> Result<Response<v1::ListResponse>, Status> {
        let r = request.into_inner();
        let mut states = Vec::new();
        for s in r.states {
            let s = v1::IncidentState::try_from(s)
                .ok()
                .and_then(|s| s.label().parse::<IncidentState>().ok())
                .ok_or_else(|| Status::invalid_argument(format!("unknown incident state {s}")))?;
            states.push(s);
        }
        let limit = if r.limit == 0 {
            100
        } else {
            r.limit.min(10_000)
        } as usize;
        let store = self.core.store.clone();
        let incidents = tokio::task::spawn_blocking(move || store.list(&states, limit))
            .await
            .map_err(|e| Status::internal(e.to_string()))?
            .map_err(status)?;
        Ok(Response::new(v1::ListResponse {
            incidents: incidents.iter().map(Into::into).collect(),
        }))
    }

    async fn get(
        &self,
        request: Request<v1::GetRequest>,
    ) -> Result<Response<v1::Incident>, Status> {
        let id = request.into_inner().id;
        let store = self.core.store.clone();
        let found = tokio::task::spawn_blocking(move || store.get(id))
            .await
            .map_err(|e| Status::internal(e.to_string()))?
            .map_err(status)?;
        match found {
            Some(i) => {
                let mut wire: v1::Incident = (&i).into();
                // What the box is, for the person on duty: its agent's latest facts.
                let (host, device) = self.core.agents.key_facts(&i.host, i.labels.get("device"));
                wire.host_facts = host;
                wire.device_facts = device;
                Ok(Response::new(wire))
            }
            None => Err(status(StoreError::NotFound(id))),
        }
    }

    async fn ack(
        &self,
        request: Request<v1::AckRequest>,
    ) -> Result<Response<v1::Incident>, Status> {
        let by = actor(&request, &request.get_ref().by)?;
        let r = request.into_inner();
        let note = note(&r.note)?;
        let i = self
            .core
            .store
            .acknowledge(r.id, &by, note, now_ms())
            .await
            .map_err(status)?;
        Ok(Response::new((&i).into()))
    }

    async fn resolve(
        &self,
        request: Request<v1::ResolveRequest>,
    ) -> Result<Response<v1::Incident>, Status> {
        let caller = crate::auth::caller(&request);
        // Anonymous callers (no [auth], loopback) could always resolve without naming anyone.
        let by = if caller.how == crate::auth::How::Anonymous
            && request.get_ref().by.trim().is_empty()
        {
            "patrolctl".to_owned()
        } else {
            actor(&request, &request.get_ref().by)?
        };
        let r = request.into_inner();
        let note = note(&r.note)?;
        let i = self
            .core
            .store
            .resolve(r.id, &by, note, now_ms())
            .await
            .map_err(status)?;
        Ok(Response::new((&i).into()))
    }

    async fn create(
        &self,
        request: Request<v1::CreateRequest>,
    ) -> Result<Response<v1::Incident>, Status> {
        let by = actor(&request, &request.get_ref().by)?;
        let r = request.into_inner();
        let new = NewIncident {
            level: r.level,
            host: r.host,
            summary: r.summary,
            source: r.source,
            labels: patrol_proto::convert::labels_from_wire(&r.labels),
        };
        let i = self
            .core
            .store
            .create(new, &by, now_ms())
            .await
            .map_err(status)?;
        Ok(Response::new((&i).into()))
    }

    async fn assign(
        &self,
        request: Request<v1::AssignRequest>,
    ) -> Result<Response<v1::Incident>, Status> {
        let by = actor(&request, &request.get_ref().by)?;
        let r = request.into_inner();
        name("to", &r.to)?;
        self.act(r.id, Op::Assign(r.to), &by, &r.note).await
    }

    async fn wait(
        &self,
        request: Request<v1::WaitRequest>,
    ) -> Result<Response<v1::Incident>, Status> {
        let by = actor(&request, &request.get_ref().by)?;
        let r = request.into_inner();
        self.act(r.id, Op::Wait, &by, &r.note).await
    }

    async fn comment(
        &self,
        request: Request<v1::CommentRequest>,
    ) -> Result<Response<v1::Incident>, Status> {
        let by = actor(&request, &request.get_ref().by)?;
        let r = request.into_inner();
        self.act(r.id, Op::Comment, &by, &r.note).await
    }

    async fn plan(
        &self,
        request: Request<v1::PlanRequest>,
    ) -> Result<Response<v1::Incident>, Status> {
        let by = actor(&request, &request.get_ref().by)?;
        let r = request.into_inner();
        self.act(r.id, Op::Plan, &by, &r.note).await
    }

    async fn close(
        &self,
        request: Request<v1::CloseRequest>,
    ) -> Result<Response<v1::Incident>, Status> {
        let by = actor(&request, &request.get_ref().by)?;
        let r = request.into_inner();
        self.act(r.id, Op::Close, &by, &r.note).await
    }

    async fn journal(
        &self,
        request: Request<v1::JournalRequest>,
    ) -> Result<Response<v1::JournalResponse>, Status> {
        let v1::JournalRequest { id, limit } = request.into_inner();
        let limit = match limit {
            0 => JOURNAL_DEFAULT,
            n if n > JOURNAL_MAX => {
                return Err(Status::invalid_argument(format!(
                    "limit {n} is above the most one answer carries ({JOURNAL_MAX})"
                )));
            }
            n => n,
        };
        let store = self.core.store.clone();
        let found = tokio::task::spawn_blocking(move || {
            // An unknown id is "not found", not an empty journal.
            match store.get(id)? {
                Some(_) => store.journal_newest(id, limit).map(Some),
                None => Ok(None),
            }
        })
        .await
        .map_err(|e| Status::internal(e.to_string()))?
        .map_err(status)?;
        let (entries, total) = found.ok_or_else(|| status(StoreError::NotFound(id)))?;
        Ok(Response::new(v1::JournalResponse {
            entries: newest_within(entries.iter().map(journal_entry).collect(), JOURNAL_BYTES),
            total,
        }))
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

#[tonic::async_trait]
impl Agents for Api {
    async fn list(
        &self,
        _request: Request<v1::AgentsListRequest>,
    ) -> Result<Response<v1::AgentsListResponse>, Status> {
        Ok(Response::new(v1::AgentsListResponse {
            agents: self.core.agents.list(),
        }))
    }

    async fn get(
        &self,
        request: Request<v1::AgentsGetRequest>,
    ) -> Result<Response<v1::AgentInfo>, Status> {
        let id = request.into_inner().agent_id;
        match self.core.agents.get(&id) {
            Some(info) => Ok(Response::new(info)),
            None => Err(Status::not_found(format!(
                "no agent '{}' is known to this collector (`patrolctl agents list` shows those \
                 connected since it started)",
                id.chars().take(200).collect::<String>()
            ))),
        }
    }
}

#[tonic::async_trait]
impl Rules for Api {
    async fn list(
        &self,
        _request: Request<v1::RulesListRequest>,
    ) -> Result<Response<v1::RulesListResponse>, Status> {
        let (rules, counts) = self.core.rules_with_states();
        Ok(Response::new(v1::RulesListResponse {
            rules: rules
                .rules()
                .iter()
                .enumerate()
                .map(|(i, r)| {
                    let c = counts.get(i).copied().unwrap_or_default();
                    v1::RuleInfo {
                        name: r.name.clone(),
                        expr: r.expr.to_string(),
                        severity: r.severity.name.clone(),
                        file: format!("{}:{}", r.file, r.line),
                        for_ms: r.for_.as_millis() as i64,
                        inactive: c.inactive,
                        pending: c.pending,
                        firing: c.firing,
                        overrides: r.overrides.len() as u32,
                    }
                })
                .collect(),
        }))
    }

    async fn reload(
        &self,
        _request: Request<v1::RulesReloadRequest>,
    ) -> Result<Response<v1::RulesReloadResponse>, Status> {
        Ok(Response::new(match self.core.reload_rules().await {
            Ok(n) => v1::RulesReloadResponse {
                ok: true,
                rules: n as u32,
                errors: Vec::new(),
            },
            Err(errors) => v1::RulesReloadResponse {
                ok: false,
                rules: self.core.rules().len() as u32,
                errors,
            },
        }))
    }
}

#[tonic::async_trait]
impl Channels for Api {
    async fn status(
        &self,
        _request: Request<v1::ChannelsStatusRequest>,
    ) -> Result<Response<v1::ChannelsStatusResponse>, Status> {
        let store = self.core.store.clone();
        let backlog = tokio::task::spawn_blocking(move || store.outbox_backlog())
            .await
            .map_err(|e| Status::internal(e.to_string()))?
            .map_err(status)?;
        let live = self.core.channels.snapshot();
        // Configured channels first, then channels that only have rows left from an older site.
        let mut names: Vec<&String> = live.keys().collect();
        names.extend(
            backlog
                .iter()
                .map(|b| &b.channel)
                .filter(|c| !live.contains_key(*c)),
        );
        let channels = names
            .into_iter()
            .map(|name| {
                let s = live.get(name).cloned().unwrap_or_default();
                let b = backlog.iter().find(|b| &b.channel == name);
                v1::ChannelStatus {
                    name: name.clone(),
                    kind: s.kind,
                    running: s.running,
                    pending: b.map_or(0, |b| b.pending),
                    sent: b.map_or(0, |b| b.sent),
                    dead: b.map_or(0, |b| b.dead),
                    oldest_pending_ms: b.and_then(|b| b.oldest_pending_ms).unwrap_or(0),
                    last_error: s
                        .last_error
                        .or_else(|| b.and_then(|b| b.last_error.clone()))
                        .unwrap_or_default(),
                    last_sent_ms: s.last_sent_ms.unwrap_or(0),
                }
            })
            .collect();
        Ok(Response::new(v1::ChannelsStatusResponse { channels }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: u64, note_bytes: usize) -> v1::JournalEntry {
        v1::JournalEntry {
            event_id: id,
            note: "n".repeat(note_bytes),
            ..Default::default()
        }
    }

    #[test]
    fn an_answer_keeps_the_newest_entries_that_fit() {
        let entries: Vec<_> = (1..=10).map(|id| entry(id, 1000)).collect();
        let one = entries[0].encoded_len() + 8;
        let kept = newest_within(entries.clone(), 3 * one);
        let ids: Vec<u64> = kept.iter().map(|e| e.event_id).collect();
        assert_eq!(ids, [8, 9, 10]);
        assert_eq!(newest_within(entries.clone(), usize::MAX), entries);
        assert!(newest_within(entries, one - 1).is_empty());
    }

    #[test]
    fn notes_and_names_are_bounded() {
        assert_eq!(note("  ").unwrap(), None);
        assert_eq!(
            note(&"x".repeat(MAX_NOTE)).unwrap().map(str::len),
            Some(MAX_NOTE)
        );
        let long = note(&"x".repeat(MAX_NOTE + 1)).unwrap_err();
        assert_eq!(long.code(), tonic::Code::InvalidArgument);
        assert!(
            long.message().starts_with("the note is 16385 bytes long"),
            "{long:?}"
        );
        let request = Request::new(());
        assert!(actor(&request, &"a".repeat(MAX_NAME + 1)).is_err());
        assert_eq!(actor(&request, " ann ").unwrap(), "ann");
    }
}
