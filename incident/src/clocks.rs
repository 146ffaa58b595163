//! An incident's clocks and where each stands: the one definition of "met", "met late",
//! "missed" that `patrolctl incidents show` prints and the SLA report counts, so the two can
//! never disagree. Everything is computed from the incident's own deadline records (the
//! `*_due_ms` fields written when it opened or changed level) and the times they were met;
//! nothing here recomputes a deadline.
//!
//! The respond clock is met by the acknowledgement (or the first assignment), the fix-plan
//! clock by the plan, the resolve clock by the resolution.

use crate::{Incident, IncidentState};

/// Which clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ClockKind {
    /// Acknowledge (or assign) by.
    Respond,
    /// Record a fix plan by.
    FixPlan,
    /// Resolve by.
    Resolve,
}

impl ClockKind {
    /// Every clock, in the order they are shown.
    pub const ALL: [ClockKind; 3] = [ClockKind::Respond, ClockKind::FixPlan, ClockKind::Resolve];

    /// `respond`, `fix_plan`, `resolve`: the names in journal details and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            ClockKind::Respond => "respond",
            ClockKind::FixPlan => "fix_plan",
            ClockKind::Resolve => "resolve",
        }
    }
}

/// One clock of an incident.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Clock {
    /// Which clock.
    pub kind: ClockKind,
    /// The deadline (ms since the epoch).
    pub due_ms: i64,
    /// When it was met, if it was.
    pub met_ms: Option<i64>,
}

/// Where a clock stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    /// Met by the deadline.
    Met,
    /// Met after the deadline, by this much.
    MetLate {
        /// How late, ms.
        late_ms: i64,
    },
    /// Never met, and the incident is over (resolved or closed) past the deadline.
    Missed,
    /// Never met, but the incident was over before the deadline: nothing was late.
    NotNeeded,
    /// Still running: this much left.
    Running {
        /// Time to the deadline, ms.
        left_ms: i64,
    },
    /// Still unmet and past its deadline by this much.
    Overdue {
        /// Time past the deadline, ms.
        over_ms: i64,
    },
}

impl Standing {
    /// Where a clock due at `due_ms` stands at `now_ms`: met at `met_ms`, or not met and the
    /// incident over at `ended_ms` (`None` while it is live).
    pub fn of(due_ms: i64, met_ms: Option<i64>, ended_ms: Option<i64>, now_ms: i64) -> Standing {
        match (met_ms, ended_ms) {
            (Some(met), _) if met <= due_ms => Standing::Met,
            (Some(met), _) => Standing::MetLate {
                late_ms: met - due_ms,
            },
            (None, Some(ended)) if ended <= due_ms => Standing::NotNeeded,
            (None, Some(_)) => Standing::Missed,
            (None, None) if now_ms <= due_ms => Standing::Running {
                left_ms: due_ms - now_ms,
            },
            (None, None) => Standing::Overdue {
                over_ms: now_ms.saturating_sub(due_ms),
            },
        }
    }

    /// The word scripts test in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Standing::Met => "met",
            Standing::MetLate { .. } => "met_late",
            Standing::Missed => "missed",
            Standing::NotNeeded => "not_needed",
            Standing::Running { .. } => "running",
            Standing::Overdue { .. } => "overdue",
        }
    }

    /// Milliseconds to the deadline while the clock runs (negative once overdue).
    pub fn left_ms(self) -> Option<i64> {
        match self {
            Standing::Running { left_ms } => Some(left_ms),
            Standing::Overdue { over_ms } => Some(over_ms.saturating_neg()),
            _ => None,
        }
    }

    /// Whether the deadline was kept: met in time. `None` while that is not decided yet
    /// (running) or when the clock was never needed.
    pub fn kept(self) -> Option<bool> {
        match self {
            Standing::Met => Some(true),
            Standing::MetLate { .. } | Standing::Missed | Standing::Overdue { .. } => Some(false),
            Standing::Running { .. } | Standing::NotNeeded => None,
        }
    }
}

impl Incident {
    /// The clocks the incident has (a level without a fix-plan target has no fix-plan clock).
    pub fn clocks(&self) -> Vec<Clock> {
        let h = &self.handling;
        [
            (ClockKind::Respond, h.respond_due_ms, self.acked_ms),
            (ClockKind::FixPlan, h.fix_plan_due_ms, h.planned_ms),
            (ClockKind::Resolve, h.resolve_due_ms, self.resolved_ms),
        ]
        .into_iter()
        .filter_map(|(kind, due, met_ms)| {
            due.map(|due_ms| Clock {
                kind,
                due_ms,
                met_ms,
            })
        })
        .collect()
    }

    /// The clock of this kind, if the incident has it.
    pub fn clock(&self, kind: ClockKind) -> Option<Clock> {
        self.clocks().into_iter().find(|c| c.kind == kind)
    }

    /// When the incident stopped needing anything, if it has: its resolution, else its
    /// closing, else its last change.
    pub fn ended_ms(&self) -> Option<i64> {
        if self.state.is_live() {
            return None;
        }
        Some(
            self.resolved_ms
                .or(self.handling.closed_ms)
                .unwrap_or(self.updated_ms),
        )
    }

    /// Where `clock` stands at `now_ms`.
    pub fn standing(&self, clock: &Clock, now_ms: i64) -> Standing {
        Standing::of(clock.due_ms, clock.met_ms, self.ended_ms(), now_ms)
    }

    /// The state the incident was in at `at_ms`, as far as its record tells: resolved or
    /// closed from their times, open until it was taken (acknowledged or assigned), then
    /// acknowledged; an assignment or wait is not dated on the record, so a still-live incident
    /// taken by then shows its current state.
    pub fn state_at(&self, at_ms: i64) -> IncidentState {
        let before = |t: Option<i64>| t.is_some_and(|t| t <= at_ms);
        if before(self.handling.closed_ms) {
            IncidentState::Closed
        } else if before(self.resolved_ms) {
            IncidentState::Resolved
        } else if !before(self.acked_ms) {
            IncidentState::Open
        } else if self.state.is_live() {
            self.state
        } else {
            IncidentState::Acknowledged
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failing unwrap is a failing test
mod tests {
    use super::*;
    use crate::Handling;
    use patrol_proto::Labels;

    const MIN: i64 = 60_000;
    const OPENED: i64 = 1_000 * MIN;

    fn incident() -> Incident {
        let mut handling = Handling::rule(OPENED);
        handling.respond_due_ms = Some(OPENED + 10 * MIN);
        handling.resolve_due_ms = Some(OPENED + 240 * MIN);
        Incident {
            id: 1,
            rule: "r".into(),
            severity: "P1".into(),
            state: IncidentState::Open,
            host: "h".into(),
            labels: Labels::new(),
            summary: String::new(),
            value: 0.0,
            fingerprint: 0,
            opened_ms: OPENED,
            updated_ms: OPENED,
            acked_by: None,
            acked_ms: None,
            ack_note: None,
            resolved_ms: None,
            resolved_by: None,
            handling,
        }
    }

    #[test]
    fn only_configured_clocks_are_listed() {
        let kinds: Vec<_> = incident().clocks().iter().map(|c| c.kind).collect();
        assert_eq!(kinds, [ClockKind::Respond, ClockKind::Resolve]);
    }

    #[test]
    fn standing_table() {
        let open = incident();
        let mut acked = incident();
        acked.state = IncidentState::Acknowledged;
        acked.acked_ms = Some(OPENED + 4 * MIN);
        let mut acked_late = acked.clone();
        acked_late.acked_ms = Some(OPENED + 15 * MIN);
        let mut fast = incident();
        fast.state = IncidentState::Resolved;
        fast.resolved_ms = Some(OPENED + 2 * MIN);
        let mut slow = fast.clone();
        slow.resolved_ms = Some(OPENED + 300 * MIN);
        let respond = |i: &Incident| i.clock(ClockKind::Respond).unwrap();
        let resolve = |i: &Incident| i.clock(ClockKind::Resolve).unwrap();
        let cases = [
            (
                &open,
                respond(&open),
                OPENED + 6 * MIN,
                Standing::Running { left_ms: 4 * MIN },
            ),
            (
                &open,
                respond(&open),
                OPENED + 10 * MIN,
                Standing::Running { left_ms: 0 },
            ),
            (
                &open,
                respond(&open),
                OPENED + 22 * MIN,
                Standing::Overdue { over_ms: 12 * MIN },
            ),
            (&acked, respond(&acked), OPENED + 60 * MIN, Standing::Met),
            (
                &acked_late,
                respond(&acked_late),
                OPENED + 60 * MIN,
                Standing::MetLate { late_ms: 5 * MIN },
            ),
            (
                &fast,
                respond(&fast),
                OPENED + 60 * MIN,
                Standing::NotNeeded,
            ),
            (&fast, resolve(&fast), OPENED + 60 * MIN, Standing::Met),
            (&slow, respond(&slow), OPENED + 400 * MIN, Standing::Missed),
            (
                &slow,
                resolve(&slow),
                OPENED + 400 * MIN,
                Standing::MetLate { late_ms: 60 * MIN },
            ),
        ];
        for (i, (inc, clock, now, want)) in cases.into_iter().enumerate() {
            assert_eq!(inc.standing(&clock, now), want, "case {i}");
        }
        assert_eq!(Standing::Met.kept(), Some(true));
        assert_eq!(Standing::Overdue { over_ms: 1 }.kept(), Some(false));
        assert_eq!(Standing::NotNeeded.kept(), None);
    }

    #[test]
    fn state_at_follows_the_record_times() {
        let mut i = incident();
        i.state = IncidentState::Resolved;
        i.acked_ms = Some(OPENED + 5 * MIN);
        i.resolved_ms = Some(OPENED + 50 * MIN);
        assert_eq!(i.state_at(OPENED + MIN), IncidentState::Open);
        assert_eq!(i.state_at(OPENED + 6 * MIN), IncidentState::Acknowledged);
        assert_eq!(i.state_at(OPENED + 50 * MIN), IncidentState::Resolved);
        i.state = IncidentState::Closed;
        i.handling.closed_ms = Some(OPENED + 60 * MIN);
        assert_eq!(i.state_at(OPENED + 55 * MIN), IncidentState::Resolved);
        assert_eq!(i.state_at(OPENED + 61 * MIN), IncidentState::Closed);
        // Still live and assigned now, but not yet taken at the time asked about.
        let mut live = incident();
        live.state = IncidentState::Assigned;
        live.acked_ms = Some(OPENED + 5 * MIN);
        assert_eq!(live.state_at(OPENED + MIN), IncidentState::Open);
        assert_eq!(live.state_at(OPENED + 6 * MIN), IncidentState::Assigned);
    }
}
