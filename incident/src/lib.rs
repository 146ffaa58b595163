//! The incident model every part of Patrol shares: its lifecycle state machine (one enum, one
//! transition table), the incident record, the journal event and its kinds, and the single
//! domain → wire conversion.
//!
//! Its own crate because the site file names its vocabulary (route `kinds`, the payload
//! templates see) and the store persists it, while the store depends on the site: the model
//! sits below both. Pure data and rules: must never depend on storage, the site, channels or
//! any I/O.

use std::fmt;
use std::str::FromStr;

pub mod clocks;

pub use clocks::{Clock, ClockKind, Standing};

use patrol_proto::Labels;
use patrol_proto::v1;

/// The lifecycle state of an incident.
///
/// Transition table — the only place legality is decided ([`IncidentState::apply`]):
///
/// | from                                         | action        | to           |
/// |----------------------------------------------|---------------|--------------|
/// | `open`                                       | `Acknowledge` | acknowledged |
/// | `open`, `acknowledged`, `assigned`, `waiting`| `Assign`      | assigned     |
/// | `acknowledged`, `assigned`                   | `Wait`        | waiting      |
/// | `open`, `acknowledged`, `assigned`, `waiting`| `Resolve`     | resolved     |
/// | `resolved`                                   | `Close`       | closed       |
/// | `resolved`                                   | `Reopen`      | open         |
///
/// Assigning an open incident takes it (it meets the respond clock like an acknowledgement);
/// `wait` needs someone to have taken it first. Every other (state, action) pair is an
/// [`IllegalTransition`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IncidentState {
    /// Firing and nobody has taken it yet.
    Open,
    /// Someone on duty has taken it; still firing.
    Acknowledged,
    /// Handed to someone to fix.
    Assigned,
    /// Waiting on a vendor or the customer.
    Waiting,
    /// The condition cleared (by rule) or someone resolved it by hand.
    Resolved,
    /// Done with: no further changes.
    Closed,
}

/// Something a person or a rule does to an incident.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// Take the incident (NOC staff).
    Acknowledge,
    /// Hand it to someone.
    Assign,
    /// Park it while waiting on a vendor or the customer.
    Wait,
    /// The condition is over (rule cleared, or by hand).
    Resolve,
    /// Archive a resolved incident.
    Close,
    /// The condition came back soon after it resolved.
    Reopen,
}

impl Action {
    /// The verb used in messages (`acknowledge`, `resolve`, `close`).
    pub fn verb(self) -> &'static str {
        match self {
            Action::Acknowledge => "acknowledge",
            Action::Assign => "assign",
            Action::Wait => "wait",
            Action::Resolve => "resolve",
            Action::Close => "close",
            Action::Reopen => "reopen",
        }
    }

    /// The state this action leads to when legal; used to word "already ..." messages.
    fn target(self) -> IncidentState {
        match self {
            Action::Acknowledge => IncidentState::Acknowledged,
            Action::Assign => IncidentState::Assigned,
            Action::Wait => IncidentState::Waiting,
            Action::Resolve => IncidentState::Resolved,
            Action::Close => IncidentState::Closed,
            Action::Reopen => IncidentState::Open,
        }
    }
}

/// A (state, action) pair the transition table does not allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub struct IllegalTransition {
    /// The state the incident was in.
    pub from: IncidentState,
    /// What was attempted.
    pub action: Action,
}

impl fmt::Display for IllegalTransition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Re-assigning is allowed, so "already assigned" never applies to it.
        if self.from == self.action.target() && self.action != Action::Assign {
            write!(f, "incident is already {}", self.from.as_str())
        } else if self.action == Action::Wait {
            write!(
                f,
                "cannot put {} {} incident on wait (acknowledge or assign it first)",
                article(self.from),
                self.from.as_str()
            )
        } else {
            write!(
                f,
                "cannot {} {} {} incident",
                self.action.verb(),
                article(self.from),
                self.from.as_str()
            )
        }
    }
}

fn article(state: IncidentState) -> &'static str {
    match state {
        IncidentState::Open | IncidentState::Acknowledged | IncidentState::Assigned => "an",
        IncidentState::Waiting | IncidentState::Resolved | IncidentState::Closed => "a",
    }
}

impl IncidentState {
    /// Applies `action` according to the transition table in this type's doc comment.
    pub fn apply(self, action: Action) -> Result<IncidentState, IllegalTransition> {
        use IncidentState::*;
        match (self, action) {
            (Open, Action::Acknowledge) => Ok(Acknowledged),
            (Open | Acknowledged | Assigned | Waiting, Action::Assign) => Ok(Assigned),
            (Acknowledged | Assigned, Action::Wait) => Ok(Waiting),
            (Open | Acknowledged | Assigned | Waiting, Action::Resolve) => Ok(Resolved),
            (Resolved, Action::Close) => Ok(Closed),
            (Resolved, Action::Reopen) => Ok(Open),
            (from, action) => Err(IllegalTransition { from, action }),
        }
    }

    /// True for the states in which the incident is still live (one per fingerprint).
    pub fn is_live(self) -> bool {
        Self::LIVE.contains(&self)
    }

    /// The live states.
    pub const LIVE: [IncidentState; 4] = [
        IncidentState::Open,
        IncidentState::Acknowledged,
        IncidentState::Assigned,
        IncidentState::Waiting,
    ];

    /// Whether someone has taken the incident (the respond clock is met).
    pub fn is_taken(self) -> bool {
        matches!(
            self,
            IncidentState::Acknowledged | IncidentState::Assigned | IncidentState::Waiting
        )
    }

    /// The lower-case name used in the store, the CLI and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            IncidentState::Open => "open",
            IncidentState::Acknowledged => "acknowledged",
            IncidentState::Assigned => "assigned",
            IncidentState::Waiting => "waiting",
            IncidentState::Resolved => "resolved",
            IncidentState::Closed => "closed",
        }
    }

    /// Every state, in lifecycle order.
    pub const ALL: [IncidentState; 6] = [
        IncidentState::Open,
        IncidentState::Acknowledged,
        IncidentState::Assigned,
        IncidentState::Waiting,
        IncidentState::Resolved,
        IncidentState::Closed,
    ];
}

impl fmt::Display for IncidentState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A state name that is not one of `open|acknowledged|resolved|closed`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown incident state '{0}' (expected open, acknowledged, assigned, waiting, resolved or closed)"
)]
pub struct UnknownState(pub String);

impl FromStr for IncidentState {
    type Err = UnknownState;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        IncidentState::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| UnknownState(s.to_owned()))
    }
}

impl From<IncidentState> for v1::IncidentState {
    fn from(s: IncidentState) -> Self {
        match s {
            IncidentState::Open => v1::IncidentState::Open,
            IncidentState::Acknowledged => v1::IncidentState::Acknowledged,
            IncidentState::Assigned => v1::IncidentState::Assigned,
            IncidentState::Waiting => v1::IncidentState::Waiting,
            IncidentState::Resolved => v1::IncidentState::Resolved,
            IncidentState::Closed => v1::IncidentState::Closed,
        }
    }
}

/// One incident: a rule firing for one series (fingerprint), from open until closed.
#[derive(Debug, Clone, PartialEq)]
pub struct Incident {
    /// Store-assigned id.
    pub id: u64,
    /// Name of the rule that fired.
    pub rule: String,
    /// Severity level name (e.g. `P1`).
    pub severity: String,
    /// Lifecycle state.
    pub state: IncidentState,
    /// Host the series belongs to.
    pub host: String,
    /// The series' labels.
    pub labels: Labels,
    /// Human-readable summary rendered by the rule.
    pub summary: String,
    /// Last value seen (at open, or at rule resolve).
    pub value: f64,
    /// Hash of the series' sorted label set.
    pub fingerprint: u64,
    /// When it opened (ms since the epoch).
    pub opened_ms: i64,
    /// When it last changed.
    pub updated_ms: i64,
    /// Who acknowledged it.
    pub acked_by: Option<String>,
    /// When it was acknowledged.
    pub acked_ms: Option<i64>,
    /// Note given with the acknowledgement.
    pub ack_note: Option<String>,
    /// When it was resolved.
    pub resolved_ms: Option<i64>,
    /// Who resolved it (`rule` when the condition cleared).
    pub resolved_by: Option<String>,
    /// The NOC side: who has it, its clocks, how it came about.
    pub handling: Handling,
}

/// How an incident is being handled: assignee, clocks and deadlines, origin, flags.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Handling {
    /// `rule`, or how a person reported it (`phone`, `email`, `inspection`...).
    pub source: String,
    /// Who it is assigned to.
    pub assignee: Option<String>,
    /// When its clocks started (opening, or the end of the maintenance window it opened in).
    pub clock_start_ms: i64,
    /// The maintenance window it opened in, if any.
    pub suppressed_by: Option<String>,
    /// Its series is flapping.
    pub flapping: bool,
    /// How often the condition came back after it resolved.
    pub reopened: u32,
    /// When a fix plan was recorded.
    pub planned_ms: Option<i64>,
    /// Since when it waits (on a vendor, the customer).
    pub waiting_since_ms: Option<i64>,
    /// When it was closed.
    pub closed_ms: Option<i64>,
    /// The resolution note.
    pub resolution: Option<String>,
    /// Acknowledge by.
    pub respond_due_ms: Option<i64>,
    /// Record a fix plan by.
    pub fix_plan_due_ms: Option<i64>,
    /// Resolve by.
    pub resolve_due_ms: Option<i64>,
}

impl Handling {
    /// A rule's incident opening at `at_ms`, before clocks are computed.
    pub fn rule(at_ms: i64) -> Self {
        Self {
            source: "rule".to_owned(),
            clock_start_ms: at_ms,
            ..Self::default()
        }
    }
}

/// What kind of change a journal event records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventKind {
    /// The incident was created.
    Opened,
    /// Someone acknowledged it.
    Acknowledged,
    /// It was assigned to someone.
    Assigned,
    /// It waits on a vendor or the customer.
    Waiting,
    /// A note was added.
    Commented,
    /// A fix plan was recorded.
    Planned,
    /// It was resolved (by rule or by hand).
    Resolved,
    /// It was closed.
    Closed,
    /// The condition came back within the reopen window.
    Reopened,
    /// An escalation step fired.
    Escalated,
    /// A repeated escalation step (reminder) fired again.
    Reminded,
    /// A clock's deadline passed unmet.
    Breached,
    /// Its level changed.
    LevelChanged,
    /// Flapping started or stopped.
    Flapping,
    /// It opened inside a maintenance window.
    Suppressed,
    /// A notification about it was delivered (or given up on) by a channel.
    Notified,
}

impl EventKind {
    const NAMES: [(EventKind, &'static str, v1::EventKind); 16] = [
        (EventKind::Opened, "opened", v1::EventKind::Opened),
        (
            EventKind::Acknowledged,
            "acknowledged",
            v1::EventKind::Acknowledged,
        ),
        (EventKind::Assigned, "assigned", v1::EventKind::Assigned),
        (EventKind::Waiting, "waiting", v1::EventKind::Waiting),
        (EventKind::Commented, "commented", v1::EventKind::Commented),
        (EventKind::Planned, "planned", v1::EventKind::Planned),
        (EventKind::Resolved, "resolved", v1::EventKind::Resolved),
        (EventKind::Closed, "closed", v1::EventKind::Closed),
        (EventKind::Reopened, "reopened", v1::EventKind::Reopened),
        (EventKind::Escalated, "escalated", v1::EventKind::Escalated),
        (EventKind::Reminded, "reminded", v1::EventKind::Reminded),
        (EventKind::Breached, "breached", v1::EventKind::Breached),
        (
            EventKind::LevelChanged,
            "level_changed",
            v1::EventKind::LevelChanged,
        ),
        (EventKind::Flapping, "flapping", v1::EventKind::Flapping),
        (
            EventKind::Suppressed,
            "suppressed",
            v1::EventKind::Suppressed,
        ),
        (EventKind::Notified, "notified", v1::EventKind::Notified),
    ];

    /// The lower-case name stored in the journal.
    pub fn as_str(self) -> &'static str {
        Self::NAMES
            .iter()
            .find(|(k, _, _)| *k == self)
            .map_or("unknown", |(_, n, _)| n)
    }

    /// The kind stored as `name`.
    pub fn parse(name: &str) -> Option<EventKind> {
        Self::NAMES
            .iter()
            .find(|(_, n, _)| *n == name)
            .map(|(k, _, _)| *k)
    }
}

impl From<EventKind> for v1::EventKind {
    fn from(k: EventKind) -> Self {
        EventKind::NAMES
            .iter()
            .find(|(d, _, _)| *d == k)
            .map_or(v1::EventKind::Unspecified, |(_, _, w)| *w)
    }
}

/// One appended journal entry, as published on the event bus after its commit.
#[derive(Debug, Clone, PartialEq)]
pub struct IncidentEvent {
    /// Store-wide increasing id (the journal row id).
    pub id: u64,
    /// What changed.
    pub kind: EventKind,
    /// When the change happened.
    pub at_ms: i64,
    /// Who made it (`rule` for rule-driven changes).
    pub actor: String,
    /// Optional free-text note given with the change.
    pub note: Option<String>,
    /// The change's particulars as JSON (clock, step and targets, level from/to).
    pub detail: Option<String>,
    /// The incident as it is after the change.
    pub incident: Incident,
}

impl From<&Incident> for v1::Incident {
    fn from(i: &Incident) -> Self {
        v1::Incident {
            id: i.id,
            rule: i.rule.clone(),
            severity: i.severity.clone(),
            state: v1::IncidentState::from(i.state) as i32,
            host: i.host.clone(),
            labels: (&i.labels).into(),
            summary: i.summary.clone(),
            value: i.value,
            fingerprint: format_fingerprint(i.fingerprint),
            opened_ms: i.opened_ms,
            updated_ms: i.updated_ms,
            acked_by: i.acked_by.clone().unwrap_or_default(),
            acked_ms: i.acked_ms.unwrap_or_default(),
            ack_note: i.ack_note.clone().unwrap_or_default(),
            resolved_ms: i.resolved_ms.unwrap_or_default(),
            resolved_by: i.resolved_by.clone().unwrap_or_default(),
            source: i.handling.source.clone(),
            assignee: i.handling.assignee.clone().unwrap_or_default(),
            clock_start_ms: i.handling.clock_start_ms,
            suppressed_by: i.handling.suppressed_by.clone().unwrap_or_default(),
            flapping: i.handling.flapping,
            reopened: i.handling.reopened,
            planned_ms: i.handling.planned_ms.unwrap_or_default(),
            waiting_since_ms: i.handling.waiting_since_ms.unwrap_or_default(),
            closed_ms: i.handling.closed_ms.unwrap_or_default(),
            resolution: i.handling.resolution.clone().unwrap_or_default(),
            respond_due_ms: i.handling.respond_due_ms.unwrap_or_default(),
            fix_plan_due_ms: i.handling.fix_plan_due_ms.unwrap_or_default(),
            resolve_due_ms: i.handling.resolve_due_ms.unwrap_or_default(),
            // Facts are the agent registry's, added by Incidents.Get.
            host_facts: Default::default(),
            device_facts: Default::default(),
        }
    }
}

impl From<&IncidentEvent> for v1::IncidentEvent {
    fn from(e: &IncidentEvent) -> Self {
        v1::IncidentEvent {
            event_id: e.id,
            kind: v1::EventKind::from(e.kind) as i32,
            at_ms: e.at_ms,
            actor: e.actor.clone(),
            incident: Some((&e.incident).into()),
            note: e.note.clone().unwrap_or_default(),
            detail: e.detail.clone().unwrap_or_default(),
        }
    }
}

/// A fingerprint as 16 lower-case hex digits: the form used on the wire and in the store
/// (SQLite integers are signed, so a u64 does not fit one losslessly).
pub fn format_fingerprint(fp: u64) -> String {
    format!("{fp:016x}")
}

/// Parses [`format_fingerprint`]'s output.
pub fn parse_fingerprint(s: &str) -> Option<u64> {
    u64::from_str_radix(s, 16).ok()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failing unwrap is a failing test
mod tests {
    use super::*;

    const ACTIONS: [Action; 6] = [
        Action::Acknowledge,
        Action::Assign,
        Action::Wait,
        Action::Resolve,
        Action::Close,
        Action::Reopen,
    ];

    #[test]
    fn transition_table_every_pair() {
        use IncidentState::*;
        for from in IncidentState::ALL {
            for action in ACTIONS {
                let expected = match (from, action) {
                    (Open, Action::Acknowledge) => Some(Acknowledged),
                    (Open | Acknowledged | Assigned | Waiting, Action::Assign) => Some(Assigned),
                    (Acknowledged | Assigned, Action::Wait) => Some(Waiting),
                    (Open | Acknowledged | Assigned | Waiting, Action::Resolve) => Some(Resolved),
                    (Resolved, Action::Close) => Some(Closed),
                    (Resolved, Action::Reopen) => Some(Open),
                    _ => None,
                };
                match (from.apply(action), expected) {
                    (Ok(to), Some(want)) => assert_eq!(to, want, "{from:?} {action:?}"),
                    (Err(e), None) => assert_eq!(e, IllegalTransition { from, action }),
                    (got, want) => panic!("{from:?} {action:?}: got {got:?}, want {want:?}"),
                }
            }
        }
    }

    #[test]
    fn illegal_transition_messages() {
        let msg = |from: IncidentState, action| from.apply(action).unwrap_err().to_string();
        assert_eq!(
            msg(IncidentState::Acknowledged, Action::Acknowledge),
            "incident is already acknowledged"
        );
        assert_eq!(
            msg(IncidentState::Resolved, Action::Resolve),
            "incident is already resolved"
        );
        assert_eq!(
            msg(IncidentState::Resolved, Action::Acknowledge),
            "cannot acknowledge a resolved incident"
        );
        assert_eq!(
            msg(IncidentState::Open, Action::Close),
            "cannot close an open incident"
        );
        assert_eq!(
            msg(IncidentState::Closed, Action::Close),
            "incident is already closed"
        );
        assert_eq!(
            msg(IncidentState::Open, Action::Wait),
            "cannot put an open incident on wait (acknowledge or assign it first)"
        );
        assert_eq!(
            msg(IncidentState::Closed, Action::Reopen),
            "cannot reopen a closed incident"
        );
        assert_eq!(
            msg(IncidentState::Waiting, Action::Acknowledge),
            "cannot acknowledge a waiting incident"
        );
    }

    #[test]
    fn state_names_round_trip() {
        for s in IncidentState::ALL {
            assert_eq!(s.as_str().parse::<IncidentState>(), Ok(s));
        }
        assert!("ack".parse::<IncidentState>().is_err());
    }

    #[test]
    fn fingerprint_round_trips_full_u64() {
        for fp in [0, 1, u64::MAX, 0x8000_0000_0000_0000] {
            let s = format_fingerprint(fp);
            assert_eq!(s.len(), 16);
            assert_eq!(parse_fingerprint(&s), Some(fp));
        }
    }

    #[test]
    fn converts_to_wire_with_defaults_for_none() {
        let inc = Incident {
            id: 7,
            rule: "disk_full".into(),
            severity: "P2".into(),
            state: IncidentState::Acknowledged,
            host: "db1".into(),
            labels: Labels::from_pairs([("mount", "/"), ("host", "db1")]),
            summary: "disk 95%".into(),
            value: 95.0,
            fingerprint: 0xabc,
            opened_ms: 10,
            updated_ms: 20,
            acked_by: Some("ann".into()),
            acked_ms: Some(20),
            ack_note: None,
            resolved_ms: None,
            resolved_by: None,
            handling: Handling::rule(10),
        };
        let w = v1::Incident::from(&inc);
        assert_eq!(w.state, v1::IncidentState::Acknowledged as i32);
        assert_eq!(w.fingerprint, "0000000000000abc");
        assert_eq!(w.labels.len(), 2);
        assert_eq!(w.acked_by, "ann");
        assert_eq!(w.ack_note, "");
        assert_eq!(w.resolved_ms, 0);
        let ev = IncidentEvent {
            id: 3,
            kind: EventKind::Acknowledged,
            at_ms: 20,
            actor: "ann".into(),
            note: None,
            detail: None,
            incident: inc,
        };
        let we = v1::IncidentEvent::from(&ev);
        assert_eq!(we.event_id, 3);
        assert_eq!(we.kind, v1::EventKind::Acknowledged as i32);
        assert_eq!(we.incident.map(|i| i.id), Some(7));
    }
}
