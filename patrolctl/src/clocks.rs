//! An incident's clocks as patrolctl shows them: per clock its deadline and where it stands
//! (met, met late, missed, running, overdue), computed from the incident's own fields and `now`.
//! The respond clock is met by the acknowledgement (or the first assignment), the fix-plan clock
//! by the plan, the resolve clock by the resolution.

use crate::time;
use jiff::tz::TimeZone;
use patrol_proto::v1::{self, IncidentState};

/// One clock of an incident.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Clock {
    /// `respond`, `fix_plan` or `resolve`.
    pub name: &'static str,
    /// The deadline (ms since the epoch).
    pub due_ms: i64,
    /// When it was met, if it was.
    pub met_ms: Option<i64>,
}

/// Where a clock stands: the incident model's definition, which the SLA report counts too.
pub use patrol_incident::Standing;

/// The clocks the incident has (a level without a fix-plan target has no fix-plan clock).
pub fn clocks(i: &v1::Incident) -> Vec<Clock> {
    let set = |ms: i64| (ms != 0).then_some(ms);
    [
        ("respond", i.respond_due_ms, i.acked_ms),
        ("fix_plan", i.fix_plan_due_ms, i.planned_ms),
        ("resolve", i.resolve_due_ms, i.resolved_ms),
    ]
    .into_iter()
    .filter(|(_, due, _)| *due != 0)
    .map(|(name, due_ms, met)| Clock {
        name,
        due_ms,
        met_ms: set(met),
    })
    .collect()
}

/// Whether clocks still run: the incident is neither resolved nor closed.
fn live(i: &v1::Incident) -> bool {
    matches!(
        i.state(),
        IncidentState::Open
            | IncidentState::Acknowledged
            | IncidentState::Assigned
            | IncidentState::Waiting
    )
}

/// When the incident stopped needing anything (its resolution, else its closing, else its last
/// change), once it is over.
fn ended_ms(i: &v1::Incident) -> Option<i64> {
    if live(i) {
        return None;
    }
    [i.resolved_ms, i.closed_ms, i.updated_ms]
        .into_iter()
        .find(|ms| *ms != 0)
        .or(Some(0))
}

/// Where `clock` of `i` stands at `now_ms` ([`Standing::of`] on the wire record's fields).
pub fn standing(i: &v1::Incident, clock: &Clock, now_ms: i64) -> Standing {
    Standing::of(clock.due_ms, clock.met_ms, ended_ms(i), now_ms)
}

/// The unmet clock of a live incident whose deadline comes first, as `respond 4m left` or
/// `resolve 12m overdue`; `-` when no clock runs.
pub fn nearest(i: &v1::Incident, now_ms: i64) -> String {
    clocks(i)
        .into_iter()
        .filter(|c| standing(i, c, now_ms).left_ms().is_some())
        .min_by_key(|c| c.due_ms)
        .map_or_else(
            || "-".to_owned(),
            |c| format!("{} {}", c.name, time::left_or_overdue(c.due_ms, now_ms)),
        )
}

/// The standing as words for a person (`met at 2026-11-23 09:15:00`, `4m left`).
pub fn describe(i: &v1::Incident, clock: &Clock, now_ms: i64, tz: &TimeZone) -> String {
    let at = |ms: Option<i64>| time::local(ms.unwrap_or_default(), tz);
    match standing(i, clock, now_ms) {
        Standing::Met => format!("met at {}", at(clock.met_ms)),
        Standing::MetLate { late_ms } => {
            format!(
                "met late at {} ({} late)",
                at(clock.met_ms),
                time::span(late_ms)
            )
        }
        Standing::Missed => "missed".to_owned(),
        Standing::NotNeeded => "not needed (ended before it was due)".to_owned(),
        Standing::Running { .. } | Standing::Overdue { .. } => {
            time::left_or_overdue(clock.due_ms, now_ms)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::tests::{OPENED, sample_incident};

    const MIN: i64 = 60_000;

    /// The sample incident (open at OPENED) with respond 10 min, resolve 4 h.
    fn with_clocks() -> v1::Incident {
        let mut i = sample_incident();
        i.respond_due_ms = OPENED + 10 * MIN;
        i.resolve_due_ms = OPENED + 240 * MIN;
        i
    }

    #[test]
    fn only_configured_clocks_are_listed() {
        let names: Vec<_> = clocks(&with_clocks()).iter().map(|c| c.name).collect();
        assert_eq!(names, ["respond", "resolve"]);
        assert!(clocks(&sample_incident()).is_empty());
    }

    #[test]
    fn standing_table() {
        let open = with_clocks();
        let mut acked = with_clocks();
        acked.state = IncidentState::Acknowledged as i32;
        acked.acked_ms = OPENED + 4 * MIN;
        let mut acked_late = acked.clone();
        acked_late.acked_ms = OPENED + 15 * MIN;
        let mut resolved_fast = with_clocks();
        resolved_fast.state = IncidentState::Resolved as i32;
        resolved_fast.resolved_ms = OPENED + 2 * MIN;
        let mut resolved_slow = resolved_fast.clone();
        resolved_slow.resolved_ms = OPENED + 300 * MIN;

        let respond = |i: &v1::Incident| clocks(i)[0];
        let resolve = |i: &v1::Incident| clocks(i)[1];
        let cases: Vec<(&str, &v1::Incident, Clock, i64, Standing)> = vec![
            (
                "open, early",
                &open,
                respond(&open),
                OPENED + 6 * MIN,
                Standing::Running { left_ms: 4 * MIN },
            ),
            (
                "open, at the deadline",
                &open,
                respond(&open),
                OPENED + 10 * MIN,
                Standing::Running { left_ms: 0 },
            ),
            (
                "open, past it",
                &open,
                respond(&open),
                OPENED + 22 * MIN,
                Standing::Overdue { over_ms: 12 * MIN },
            ),
            (
                "acked in time",
                &acked,
                respond(&acked),
                OPENED + 60 * MIN,
                Standing::Met,
            ),
            (
                "acked late",
                &acked_late,
                respond(&acked_late),
                OPENED + 60 * MIN,
                Standing::MetLate { late_ms: 5 * MIN },
            ),
            (
                "resolved fast, never acked",
                &resolved_fast,
                respond(&resolved_fast),
                OPENED + 60 * MIN,
                Standing::NotNeeded,
            ),
            (
                "resolved fast: resolve met",
                &resolved_fast,
                resolve(&resolved_fast),
                OPENED + 60 * MIN,
                Standing::Met,
            ),
            (
                "resolved slow, never acked",
                &resolved_slow,
                respond(&resolved_slow),
                OPENED + 400 * MIN,
                Standing::Missed,
            ),
            (
                "resolved slow: resolve late",
                &resolved_slow,
                resolve(&resolved_slow),
                OPENED + 400 * MIN,
                Standing::MetLate { late_ms: 60 * MIN },
            ),
        ];
        for (name, i, clock, now, want) in cases {
            assert_eq!(standing(i, &clock, now), want, "{name}");
        }
    }

    #[test]
    fn nearest_open_clock_for_the_list() {
        let open = with_clocks();
        assert_eq!(nearest(&open, OPENED + 6 * MIN), "respond 4m left");
        assert_eq!(nearest(&open, OPENED + 22 * MIN), "respond 12m overdue");
        let mut acked = with_clocks();
        acked.state = IncidentState::Acknowledged as i32;
        acked.acked_ms = OPENED + MIN;
        assert_eq!(nearest(&acked, OPENED + 6 * MIN), "resolve 3h54m left");
        assert_eq!(nearest(&acked, OPENED + 252 * MIN), "resolve 12m overdue");
        let mut resolved = acked.clone();
        resolved.state = IncidentState::Resolved as i32;
        resolved.resolved_ms = OPENED + 300 * MIN;
        assert_eq!(nearest(&resolved, OPENED + 400 * MIN), "-");
        assert_eq!(nearest(&sample_incident(), OPENED), "-");
    }

    #[test]
    fn descriptions_for_people() {
        let tz = TimeZone::UTC;
        let mut acked = with_clocks();
        acked.state = IncidentState::Acknowledged as i32;
        acked.acked_ms = OPENED + 15 * MIN;
        let c = clocks(&acked);
        assert_eq!(
            describe(&acked, &c[0], OPENED, &tz),
            "met late at 2026-11-23 09:27:01 (5m late)"
        );
        assert_eq!(
            describe(&acked, &c[1], OPENED + 30 * MIN, &tz),
            "3h30m left"
        );
    }
}
