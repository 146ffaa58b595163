use std::cell::RefCell;
use std::collections::HashSet;

use super::*;
use crate::{Site, parse_site};

const EXAMPLE: &str = include_str!("../../packaging/examples/site.toml");
const MIN: i64 = 60_000;

fn site() -> Site {
    parse_site("site.toml", EXAMPLE).unwrap()
}

fn t(s: &str) -> i64 {
    s.parse::<jiff::Timestamp>().unwrap().as_millisecond()
}

/// Drives the schedule like the runner does, with a test clock and no sleeps: each call is one
/// tick at `now`, firing what is due and remembering it.
struct Sim {
    site: Site,
    level: String,
    facts: ClockFacts,
    fired: RefCell<HashSet<(String, u32)>>,
}

impl Sim {
    fn new(level: &str, start_ms: i64) -> Self {
        let site = site();
        let l = site.level(level).unwrap().clone();
        let cal = site.calendar_of(&l);
        let facts = ClockFacts {
            start_ms,
            live: true,
            taken: false,
            planned: false,
            resolve_paused: false,
            deadlines: deadlines(&l, &cal, start_ms),
        };
        Self {
            site,
            level: level.to_owned(),
            facts,
            fired: RefCell::new(HashSet::new()),
        }
    }

    fn tick(&self, now: i64) -> Vec<(String, u32)> {
        let level = self.site.level(&self.level).unwrap();
        let cal = self.site.calendar_of(level);
        let policy = self.site.policy_of(level).unwrap();
        let due = due_steps(policy, &cal, &self.facts, now, |s, o| {
            self.fired.borrow().contains(&(s.to_owned(), o))
        });
        let names: Vec<(String, u32)> = due
            .iter()
            .map(|d| (policy.steps[d.step].name.clone(), d.occurrence))
            .collect();
        self.fired.borrow_mut().extend(names.iter().cloned());
        names
    }
}

fn fired(names: &[(&str, u32)]) -> Vec<(String, u32)> {
    names.iter().map(|(n, o)| ((*n).to_owned(), *o)).collect()
}

#[test]
fn deadlines_follow_the_level_and_its_calendar() {
    let site = site();
    let p1 = site.level("P1").unwrap();
    let opened = t("2026-11-20T17:00:00+08:00");
    let d = deadlines(p1, &site.calendar_of(p1), opened);
    assert_eq!(d.respond, Some(opened + 10 * MIN));
    assert_eq!(d.fix_plan, Some(opened + 30 * MIN));
    assert_eq!(d.resolve, Some(opened + 240 * MIN));
    // P3 on office hours: 20 min respond from Friday 17:00 is Friday 17:20; 12 h resolve is
    // 1 h Friday + 8 h Monday + 3 h Tuesday = Tuesday 11:00.
    let p3 = site.level("P3").unwrap();
    let d = deadlines(p3, &site.calendar_of(p3), opened);
    assert_eq!(d.respond, Some(t("2026-11-20T17:20:00+08:00")));
    assert_eq!(d.fix_plan, None);
    assert_eq!(d.resolve, Some(t("2026-11-24T11:00:00+08:00")));
}

#[test]
fn unacknowledged_incident_escalates_once_then_reminds_every_30_minutes() {
    let t0 = t("2026-11-23T09:00:00+08:00");
    let sim = Sim::new("P1", t0);
    assert!(sim.tick(t0).is_empty());
    assert!(sim.tick(t0 + 9 * MIN).is_empty());
    assert_eq!(sim.tick(t0 + 10 * MIN), fired(&[("not_acknowledged", 0)]));
    // Due once: the next ticks do not repeat it.
    assert!(sim.tick(t0 + 10 * MIN + 500).is_empty());
    assert!(sim.tick(t0 + 29 * MIN).is_empty());
    assert_eq!(sim.tick(t0 + 30 * MIN), fired(&[("progress_report", 0)]));
    assert_eq!(sim.tick(t0 + 60 * MIN), fired(&[("progress_report", 1)]));
    assert!(sim.tick(t0 + 61 * MIN).is_empty());
}

#[test]
fn acknowledging_stops_the_unacknowledged_step() {
    let t0 = t("2026-11-23T09:00:00+08:00");
    let mut sim = Sim::new("P1", t0);
    assert!(sim.tick(t0 + 5 * MIN).is_empty());
    sim.facts.taken = true;
    assert!(sim.tick(t0 + 10 * MIN).is_empty());
    assert!(sim.tick(t0 + 20 * MIN).is_empty());
    // Progress reports go on while it is unresolved.
    assert_eq!(sim.tick(t0 + 30 * MIN), fired(&[("progress_report", 0)]));
    // Resolved: nothing more.
    sim.facts.live = false;
    assert!(sim.tick(t0 + 5 * 60 * MIN).is_empty());
}

#[test]
fn steps_missed_while_down_fire_once_and_fired_steps_never_again() {
    let t0 = t("2026-11-23T09:00:00+08:00");
    let sim = Sim::new("P1", t0);
    assert_eq!(sim.tick(t0 + 10 * MIN), fired(&[("not_acknowledged", 0)]));
    // The collector is down from +11 min to +2 h 05 min: reminders 0, 1, 2 and 3 fell due;
    // only the latest fires, and the resolve deadline (4 h) has not passed.
    assert_eq!(sim.tick(t0 + 125 * MIN), fired(&[("progress_report", 3)]));
    assert!(sim.tick(t0 + 126 * MIN).is_empty());
    // At 4 h the resolve deadline passes and the department head is told.
    assert_eq!(
        sim.tick(t0 + 240 * MIN),
        fired(&[("resolve_overdue", 0), ("progress_report", 7)])
    );
}

#[test]
fn office_hours_levels_escalate_on_working_time() {
    // P3 opened Friday 17:50: 10 working minutes left on Friday, so the 30 min step is due
    // Monday 08:20, not Friday 18:20.
    let t0 = t("2026-11-20T17:50:00+08:00");
    let sim = Sim::new("P3", t0);
    assert!(sim.tick(t("2026-11-20T18:20:00+08:00")).is_empty());
    assert!(sim.tick(t("2026-11-22T12:00:00+08:00")).is_empty());
    assert_eq!(
        sim.tick(t("2026-11-23T08:20:00+08:00")),
        fired(&[("not_acknowledged", 0)])
    );
    // 4 working hours unresolved raises it: Friday 10 min + Monday 08:00–11:50.
    assert!(sim.tick(t("2026-11-23T11:49:00+08:00")).is_empty());
    assert_eq!(
        sim.tick(t("2026-11-23T11:50:00+08:00")),
        fired(&[("lasting_outage", 0)])
    );
}

#[test]
fn breached_clocks_are_reported_until_met() {
    let t0 = t("2026-11-23T09:00:00+08:00");
    let mut sim = Sim::new("P1", t0);
    assert!(breached_clocks(&sim.facts, t0 + 9 * MIN).is_empty());
    assert_eq!(
        breached_clocks(&sim.facts, t0 + 10 * MIN),
        [("respond", t0 + 10 * MIN)]
    );
    assert_eq!(breached_clocks(&sim.facts, t0 + 31 * MIN).len(), 2);
    sim.facts.taken = true;
    sim.facts.planned = true;
    assert!(breached_clocks(&sim.facts, t0 + 31 * MIN).is_empty());
    // Waiting on a level that pauses resolve: no resolve breach while paused.
    sim.facts.resolve_paused = true;
    assert!(breached_clocks(&sim.facts, t0 + 300 * MIN).is_empty());
    sim.facts.resolve_paused = false;
    assert_eq!(
        breached_clocks(&sim.facts, t0 + 300 * MIN),
        [("resolve", t0 + 240 * MIN)]
    );
}
