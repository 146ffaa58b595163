//! The inspection scheduler: at each `[[inspection]]` time the sheet of the period since the
//! previous inspection is made and archived, once per schedule and time, even across restarts.
//!
//! Which time is due is decided by [`plan`], a pure function of the schedule, its calendar,
//! what the archive says was made, and the time. A time the collector was down for is caught
//! up at the next start — only the newest one missed per schedule (the older ones are counted
//! and logged: a sheet for each day of a long outage would only say "no data"), and never a
//! time from before the collector first saw the schedule.

use std::sync::Arc;
use std::time::Duration;

use patrol_site::Inspection;
use patrol_site::calendar::Calendar;
use tokio::sync::watch;

use super::Reports;

/// The longest the scheduler sleeps without looking again: a reloaded site may have moved the
/// next inspection earlier.
const LOOK_AGAIN: Duration = Duration::from_secs(30);

/// A sheet made more than this after its time reads the values of that time from the history
/// (see `inputs`); sooner, the latest values are that time's.
pub const ON_TIME_MS: i64 = 60_000;

/// More missed times than this are not counted one by one.
const MAX_SKIPPED_COUNTED: u32 = 10_000;

/// What is due for one schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    /// Make the sheet of this inspection time now.
    pub make: Option<i64>,
    /// Missed times older than `make` that are not made.
    pub skipped: u32,
    /// The next inspection time after now.
    pub next: Option<i64>,
}

/// The plan for `schedule` on `calendar` at `now_ms`, when every time up to `floor_ms` is
/// done with (the newest sheet made, or when the schedule was first seen).
pub fn plan(schedule: &Inspection, calendar: &Calendar, floor_ms: i64, now_ms: i64) -> Plan {
    // The newest time at or before now.
    let newest = schedule.previous_before(calendar, now_ms.saturating_add(1));
    let make = newest.filter(|t| *t > floor_ms);
    let mut skipped = 0;
    if let Some(made) = make {
        let mut t = floor_ms;
        while let Some(n) = schedule.next_after(calendar, t) {
            if n >= made || skipped >= MAX_SKIPPED_COUNTED {
                break;
            }
            skipped += 1;
            t = n;
        }
    }
    Plan {
        make,
        skipped,
        next: schedule.next_after(calendar, now_ms),
    }
}

/// Runs the scheduler until shutdown.
pub async fn run(reports: Arc<Reports>, mut shutdown: watch::Receiver<bool>) {
    loop {
        let wait = match tokio::task::spawn_blocking({
            let reports = Arc::clone(&reports);
            move || round(&reports)
        })
        .await
        {
            Ok(wait) => wait,
            Err(e) => {
                tracing::error!(error = %e, "inspection scheduler round failed; looking again");
                LOOK_AGAIN
            }
        };
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = shutdown.changed() => return,
        }
    }
}

/// One look at every schedule: makes what is due, returns how long to sleep.
fn round(reports: &Arc<Reports>) -> Duration {
    let site = patrol_site::current(&reports.core.site);
    let now = reports.clock.now_ms();
    let mut wake = now.saturating_add(LOOK_AGAIN.as_millis() as i64);
    let mut next_of = std::collections::BTreeMap::new();
    for schedule in &site.inspections {
        let Some(cal) = site.calendar_named(&schedule.calendar) else {
            continue;
        };
        let floor = match floor(reports, &schedule.name, now) {
            Ok(f) => f,
            Err(e) => {
                reports.core.telemetry.reports.archive_errors.inc();
                tracing::error!(schedule = %schedule.name, error = %e,
                    "inspection sheet archive unreadable; looking again");
                continue;
            }
        };
        let p = plan(schedule, &cal, floor, now);
        if p.skipped > 0 {
            reports
                .core
                .telemetry
                .reports
                .skipped
                .inc_by(u64::from(p.skipped));
            tracing::warn!(schedule = %schedule.name, missed = p.skipped,
                "inspection times missed while the collector was down; only the newest is caught up");
        }
        if let Some(at) = p.make {
            let caught_up = now - at > ON_TIME_MS;
            if let Err(e) = reports.make_scheduled(&site, schedule, at, now, caught_up) {
                reports.core.telemetry.reports.archive_errors.inc();
                tracing::error!(schedule = %schedule.name, at_ms = at, error = %e,
                    "inspection sheet not stored; trying again");
                // Look again soon rather than at the next time: the sheet is still owed.
                wake = wake.min(now + 5_000);
            }
        }
        if let Some(n) = p.next {
            wake = wake.min(n);
            next_of.insert(schedule.name.clone(), n);
        }
    }
    // Published after the round's sheets are made: a reader that sees it knows they are.
    reports.core.telemetry.reports.set_next(next_of);
    Duration::from_millis(u64::try_from(wake - now).unwrap_or(0))
}

/// Every time at or before this is done with: the newest sheet made, or when the schedule
/// was first seen.
fn floor(reports: &Reports, name: &str, now: i64) -> Result<i64, super::archive::ArchiveError> {
    let first = reports.archive.first_seen(name, now)?;
    let made = reports.archive.last_made(name)?;
    Ok(made.map_or(first, |m| m.max(first)))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use patrol_site::Site;

    const SITE: &str = r#"
[calendar.office]
timezone = "Asia/Shanghai"
hours = ["mon-fri 08:30-12:00", "mon-fri 13:30-17:30"]
holidays = ["2026-10-01", "2026-10-02", "2026-10-05"]

[[inspection]]
name = "daily"
calendar = "office"
at = ["09:00", "16:00"]
"#;

    fn at(s: &str) -> i64 {
        s.parse::<jiff::Timestamp>().unwrap().as_millisecond()
    }

    fn setup() -> (Site, Arc<Calendar>) {
        let site = patrol_site::parse_site("site.toml", SITE).unwrap_or_else(|d| panic!("{d:?}"));
        let cal = site.calendar_named("office").unwrap();
        (site, cal)
    }

    #[test]
    fn the_time_just_reached_is_made_once() {
        let (site, cal) = setup();
        let s = &site.inspections[0];
        let nine = at("2026-10-09T09:00:00+08:00");
        // First seen at 08:00: nothing due yet, next at 09:00.
        let p = plan(
            s,
            &cal,
            at("2026-10-09T08:00:00+08:00"),
            at("2026-10-09T08:59:59+08:00"),
        );
        assert_eq!(
            p,
            Plan {
                make: None,
                skipped: 0,
                next: Some(nine)
            }
        );
        // At 09:00 exactly it is due.
        let p = plan(s, &cal, at("2026-10-09T08:00:00+08:00"), nine);
        assert_eq!(p.make, Some(nine));
        assert_eq!(p.next, Some(at("2026-10-09T16:00:00+08:00")));
        // Made: the floor is 09:00, nothing is due again.
        assert_eq!(plan(s, &cal, nine, nine + 1_000).make, None);
    }

    #[test]
    fn a_restart_catches_up_the_newest_missed_time_only() {
        let (site, cal) = setup();
        let s = &site.inspections[0];
        // Last sheet Wednesday 30 September 16:00; down over the holiday until Tuesday 6
        // October 10:00 (Saturday 3, Sunday 4 are no working days either). Missed: Tuesday 09:00
        // only (1, 2 and 5 October are holidays).
        let p = plan(
            s,
            &cal,
            at("2026-09-30T16:00:00+08:00"),
            at("2026-10-06T10:00:00+08:00"),
        );
        assert_eq!(p.make, Some(at("2026-10-06T09:00:00+08:00")));
        assert_eq!(p.skipped, 0);
        // Down from Monday 28 September 08:00 to Wednesday 30 September 12:00: missed Mon
        // 09:00, 16:00, Tue 09:00, 16:00, Wed 09:00 — Wed 09:00 is made, four skipped.
        let p = plan(
            s,
            &cal,
            at("2026-09-28T08:00:00+08:00"),
            at("2026-09-30T12:00:00+08:00"),
        );
        assert_eq!(p.make, Some(at("2026-09-30T09:00:00+08:00")));
        assert_eq!(p.skipped, 4);
        // A schedule first seen after its last time makes nothing for it.
        let p = plan(
            s,
            &cal,
            at("2026-09-30T10:00:00+08:00"),
            at("2026-09-30T12:00:00+08:00"),
        );
        assert_eq!(p.make, None);
    }
}
