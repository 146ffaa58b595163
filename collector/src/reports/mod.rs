//! The inspection round's records in the running collector (docs/reports.md): sheets made on
//! the site's `[[inspection]]` schedule ([`schedule`]) and archived immutably with the data
//! they were made from ([`archive`], `data/reports.db`), sent through the site's e-mail
//! channels ([`send`]), and every record — sheets, SLA report, monthly summary, fault report —
//! served over gRPC ([`api`]) and as pages on the HTTP port ([`http`]) from the same code
//! ([`records`]).
//!
//! The records are `patrol-report`'s; this module fills their inputs — the values at
//! inspection time ([`inputs`]), the worst values from the history ([`worst`]), the rules in
//! force, the incidents — and keeps what it made. It reaches the incident store only through
//! `IncidentStore` and never writes to it.

pub mod api;
pub mod archive;
pub mod http;
pub mod inputs;
pub mod metrics;
pub mod records;
pub mod render;
pub mod schedule;
pub mod send;
pub mod worst;

use std::path::Path;
use std::sync::Arc;

use jiff::tz::TimeZone;
use patrol_incident::Incident;
use patrol_proto::model::now_ms;
use patrol_report::sheet::{self, Period, SheetInput};
use patrol_report::{Current, Sheet, Worst};
use patrol_site::{Inspection, Site};

use crate::core::Core;
use archive::{Archive, ArchiveError, NewSheet, Stored};

/// The environment variable that shifts the report clock (tests only): milliseconds added to
/// the system clock when deciding which inspection time is due and when "now" is.
pub const CLOCK_OFFSET_ENV: &str = "PATROL_REPORTS_TEST_CLOCK_OFFSET_MS";

/// The clock inspection times are judged by: the system clock, shifted by
/// [`CLOCK_OFFSET_ENV`] when a test sets it so that a schedule on whole minutes falls a few
/// seconds after the collector starts. Sample and incident times are never shifted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Clock {
    offset_ms: i64,
}

impl Clock {
    /// The system clock, shifted as [`CLOCK_OFFSET_ENV`] says (logged loudly when it does).
    pub fn from_env() -> Clock {
        let offset_ms = std::env::var(CLOCK_OFFSET_ENV)
            .ok()
            .and_then(|v| v.trim().parse::<i64>().ok())
            .unwrap_or(0);
        if offset_ms != 0 {
            tracing::warn!(
                offset_ms,
                "{CLOCK_OFFSET_ENV} is set: inspection times are judged by a shifted clock (tests only)"
            );
        }
        Clock { offset_ms }
    }

    /// A clock shifted by `offset_ms`.
    pub fn shifted(offset_ms: i64) -> Clock {
        Clock { offset_ms }
    }

    /// Now, as inspection times are judged.
    pub fn now_ms(&self) -> i64 {
        now_ms().saturating_add(self.offset_ms)
    }
}

/// What the report wiring shares: the collector, the archive and the clock.
pub struct Reports {
    pub core: Arc<Core>,
    pub archive: Archive,
    pub clock: Clock,
    /// Deliveries running now, by (sheet, channel): one task each.
    sending: std::sync::Mutex<std::collections::HashSet<(u64, String)>>,
}

/// Why a scheduled sheet was not made.
#[derive(Debug, thiserror::Error)]
pub enum MakeError {
    /// The archive failed.
    #[error(transparent)]
    Archive(#[from] ArchiveError),
    /// The incidents could not be read.
    #[error("incident store: {0}")]
    Store(#[from] patrol_store::StoreError),
}

/// Opens `data/reports.db`, resumes the deliveries still owed and starts the scheduler.
/// Returns the shared state (for the gRPC service and the HTTP routes) and the scheduler task.
pub fn start(
    core: Arc<Core>,
    data: &Path,
) -> Result<(Arc<Reports>, tokio::task::JoinHandle<()>), ArchiveError> {
    let archive = Archive::open(&data.join("reports.db"))?;
    let shutdown = core.shutdown.clone();
    let reports = Arc::new(Reports {
        core,
        archive,
        clock: Clock::from_env(),
        sending: Default::default(),
    });
    send::resume(&reports);
    let task = tokio::spawn(schedule::run(Arc::clone(&reports), shutdown));
    Ok((reports, task))
}

/// The zone reports are dated in: the first schedule's calendar's, else the availability
/// calendar's (UTC for the 7×24 calendar).
pub fn report_zone(site: &Site) -> TimeZone {
    site.inspections
        .first()
        .map(|i| i.calendar.as_str())
        .into_iter()
        .chain([site.report.availability.calendar.as_str()])
        .find_map(|c| site.calendar_named(c))
        .map_or(TimeZone::UTC, |c| c.time_zone().clone())
}

/// The local date (`YYYY-MM-DD`) of `ms` in `tz`.
pub fn local_date(ms: i64, tz: &TimeZone) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(|t| t.to_zoned(tz.clone()).date().to_string())
        .unwrap_or_default()
}

impl Reports {
    /// Builds the sheet of `period` (blocking work: history reads).
    fn build(
        &self,
        site: &Site,
        schedule: &str,
        period: &Period,
        current: &[Current],
        incidents: &[Incident],
    ) -> Sheet {
        let worst: Box<dyn Worst> = match &self.core.history {
            Some(h) => Box::new(worst::HistoryWorst::new(h.clone())),
            None => Box::new(worst::NoWorst),
        };
        let rules = self.core.rules();
        sheet::build(&SheetInput {
            title: sheet::site_title(site),
            schedule: schedule.to_owned(),
            at_ms: period.at_ms,
            previous_ms: period.previous_ms,
            language: period.language,
            time_zone: period.time_zone.clone(),
            current,
            worst: worst.as_ref(),
            rules: &rules,
            incidents,
        })
    }

    /// Makes and archives the sheet `schedule` owes for `at_ms`, and starts sending it. A
    /// sheet already archived for that time is left as it is.
    pub fn make_scheduled(
        self: &Arc<Self>,
        site: &Site,
        schedule: &Inspection,
        at_ms: i64,
        now: i64,
        caught_up: bool,
    ) -> Result<(), MakeError> {
        let Some(period) = sheet::period(site, schedule, at_ms) else {
            return Ok(());
        };
        let current = if caught_up {
            match &self.core.history {
                Some(h) => inputs::current_at(h, at_ms, self.core.stale_after),
                // Without history nothing says what the values were then.
                None => Vec::new(),
            }
        } else {
            inputs::current_now(&self.core)
        };
        let incidents = inputs::incidents(&self.core, period.previous_ms, period.at_ms)?;
        let sheet = self.build(site, &schedule.name, &period, &current, &incidents);
        let channels = send::channels(site, &schedule.send);
        let stored = self.archive.insert(&NewSheet {
            sheet: &sheet,
            local_date: local_date(at_ms, &period.time_zone),
            created_ms: now,
            caught_up,
            send: &channels,
        })?;
        let Stored::New(id) = stored else {
            return Ok(());
        };
        let counters = &self.core.telemetry.reports;
        if caught_up {
            counters.caught_up.inc();
        } else {
            counters.on_time.inc();
        }
        tracing::info!(
            sheet = id,
            schedule = %schedule.name,
            at_ms,
            caught_up,
            checks = sheet.summary.checks,
            abnormal = sheet.summary.abnormal_checks,
            "inspection sheet made"
        );
        for channel in channels {
            send::spawn(self, id, at_ms, channel);
        }
        Ok(())
    }

    /// A sheet of the period from `schedule`'s previous inspection (the first schedule's when
    /// none is named; a day when the site has none) to now, not stored.
    pub fn build_now(&self, schedule: Option<&str>) -> Result<Sheet, records::ReportError> {
        let site = patrol_site::current(&self.core.site);
        let now = self.clock.now_ms();
        let chosen = match schedule {
            Some(name) => Some(site.inspection(name).ok_or_else(|| {
                records::ReportError::NotFound(format!(
                    "the site has no inspection schedule '{name}' (schedules: {})",
                    names(&site)
                ))
            })?),
            None => site.inspections.first(),
        };
        let period = chosen
            .and_then(|s| sheet::period(&site, s, now))
            .unwrap_or_else(|| Period {
                at_ms: now,
                previous_ms: now - 86_400_000,
                language: site.report.language,
                time_zone: report_zone(&site),
            });
        let current = inputs::current_now(&self.core);
        let incidents = inputs::incidents(&self.core, period.previous_ms, period.at_ms)
            .map_err(records::unavailable)?;
        Ok(self.build(&site, "manual", &period, &current, &incidents))
    }
}

/// The site's schedule names, for a message.
fn names(site: &Site) -> String {
    if site.inspections.is_empty() {
        return "none".to_owned();
    }
    site.inspections
        .iter()
        .map(|i| i.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}
