//! The query services: `Incidents`, `Agents`, `Rules`. Thin: check the request, call the core,
//! map errors to a status in one place. The watch stream is `watch.rs`.

mod watch;

use std::sync::Arc;

use patrol_proto::model::now_ms;
use patrol_proto::v1::{
    self, agents_server::Agents, channels_server::Channels, incidents_server::Incidents,
    rules_server::Rules,
};
use prost::Message as _;
use tonic::{Request, Response, Status};

use crate::core::Core;
use patrol_incident::{EventKind, IncidentState};
use patrol_store::{JournalEntry, NewIncident, Op, StoreError};

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

use watch::WatchStream;

#[tonic::async_trait]
impl Incidents for Api {
    type WatchStream = WatchStream;

    async fn watch(
        &self,
        request: Request<v1::WatchRequest>,
    ) -> Result<Response<WatchStream>, Status> {
        watch::start(Arc::clone(&self.core), request.get_ref()).map(Response::new)
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
