//! What each request for a record means, once for the gRPC service and the HTTP pages: which
//! sheet a request names, a sign-off, and the SLA report, monthly summary and fault report
//! made from the incidents, the archive and the site. Blocking (SQLite, history): callers run
//! these on the blocking pool.

use std::str::FromStr;

use jiff::civil::{Date, DateTime};
use jiff::tz::TimeZone;
use patrol_incident::{EventKind, IncidentEvent};
use patrol_report::fault::{self, FaultInput, FaultReport};
use patrol_report::monthly::{self, MonthlyInput, MonthlySummary};
use patrol_report::sla::{self, PeriodError, SlaInput, SlaReport};
use patrol_report::{Language, Sheet, sheet};

use super::archive::{SheetRow, Signing};
use super::{Reports, inputs, report_zone};

/// Longest reviewer name (as for incident journals).
pub const MAX_NAME: usize = 256;
/// Longest sign-off note (as for incident journals).
pub const MAX_NOTE: usize = 16 << 10;
/// Journal entries of an incident a fault report reads at most.
const FAULT_JOURNAL: u32 = 10_000;

/// Why a record was not given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReportError {
    /// No such sheet or incident.
    #[error("{0}")]
    NotFound(String),
    /// The request is malformed (a date, a format, a language).
    #[error("{0}")]
    Invalid(String),
    /// The period is longer than a report covers; the message names the limit.
    #[error("{0}")]
    TooLong(String),
    /// Refused as asked (a sheet signed before, a fault report of a minor incident).
    #[error("{0}")]
    Refused(String),
    /// The archive or the incident store failed.
    #[error("{0}")]
    Unavailable(String),
}

/// A store or archive failure as a [`ReportError`].
pub fn unavailable(e: impl std::fmt::Display) -> ReportError {
    ReportError::Unavailable(e.to_string())
}

/// `en` / `zh-CN`, or empty for the default.
pub fn language(s: &str) -> Result<Option<Language>, ReportError> {
    if s.trim().is_empty() {
        return Ok(None);
    }
    Language::from_str(s)
        .map(Some)
        .map_err(|e| ReportError::Invalid(e.to_string()))
}

/// Which sheet a request names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Which {
    /// By id.
    Id(u64),
    /// The newest of a local date (YYYY-MM-DD).
    Date(String),
    /// The newest of all.
    Newest,
    /// One built now, for the period since the previous inspection of this schedule (or the
    /// first), not stored.
    Now(Option<String>),
}

impl Reports {
    /// The sheet `which` names, with its archive row (none for one built now), in `lang`
    /// when given.
    pub fn sheet(
        &self,
        which: &Which,
        lang: Option<Language>,
    ) -> Result<(Option<SheetRow>, Sheet), ReportError> {
        let row = match which {
            Which::Now(schedule) => {
                let mut s = self.build_now(schedule.as_deref())?;
                if let Some(l) = lang {
                    s.language = l;
                }
                return Ok((None, s));
            }
            Which::Id(id) => self
                .archive
                .row(*id)
                .map_err(unavailable)?
                .ok_or_else(|| ReportError::NotFound(format!("there is no inspection sheet #{id}")))?,
            Which::Date(date) => {
                let d = Date::from_str(date.trim()).map_err(|_| {
                    ReportError::Invalid(format!(
                        "'{date}' is not a date: write YYYY-MM-DD, e.g. 2026-10-09"
                    ))
                })?;
                self.archive
                    .row_of_date(&d.to_string())
                    .map_err(unavailable)?
                    .ok_or_else(|| {
                        ReportError::NotFound(format!(
                            "no inspection sheet was made on {d} (`patrolctl report list` shows the sheets kept; `--now` makes one now)"
                        ))
                    })?
            }
            Which::Newest => self.archive.newest().map_err(unavailable)?.ok_or_else(|| {
                ReportError::NotFound(
                    "no inspection sheet has been made yet (the site's [[inspection]] schedule makes them; `--now` makes one now)"
                        .to_owned(),
                )
            })?,
        };
        let mut s = self.archive.sheet(&row).map_err(unavailable)?;
        if let Some(l) = lang {
            s.language = l;
        }
        Ok((Some(row), s))
    }

    /// Journals `by`'s sign-off on sheet `id`.
    pub fn sign(&self, id: u64, by: &str, note: &str) -> Result<SheetRow, ReportError> {
        let by = by.trim();
        if by.is_empty() {
            return Err(ReportError::Invalid(
                "say who signs the sheet off: 'by' is required".to_owned(),
            ));
        }
        if by.len() > MAX_NAME {
            return Err(ReportError::Invalid(format!(
                "'by' is {} bytes long; at most {MAX_NAME}",
                by.len()
            )));
        }
        if note.len() > MAX_NOTE {
            return Err(ReportError::Invalid(format!(
                "the note is {} bytes long; at most {MAX_NOTE} (link a ticket or document for more)",
                note.len()
            )));
        }
        let note = Some(note).filter(|n| !n.trim().is_empty());
        match self
            .archive
            .sign(id, by, note, self.clock.now_ms())
            .map_err(unavailable)?
        {
            Signing::Signed(row) => {
                tracing::info!(sheet = id, by, "inspection sheet signed off");
                Ok(row)
            }
            Signing::NotFound => Err(ReportError::NotFound(format!(
                "there is no inspection sheet #{id}"
            ))),
            Signing::Already(s) => {
                let site = patrol_site::current(&self.core.site);
                let tz = report_zone(&site);
                Err(ReportError::Refused(format!(
                    "inspection sheet #{id} was signed off by {} at {}; a sheet is signed once",
                    s.by,
                    patrol_report::format::datetime(Language::En, s.at_ms, &tz)
                )))
            }
        }
    }

    /// The SLA report of `[from, to)` (dates or times in the report's zone, or RFC 3339).
    pub fn sla(
        &self,
        from: &str,
        to: &str,
        lang: Option<Language>,
    ) -> Result<SlaReport, ReportError> {
        let site = patrol_site::current(&self.core.site);
        let tz = report_zone(&site);
        let from_ms = instant(from, &tz, "from")?;
        let to_ms = instant(to, &tz, "to")?;
        self.sla_of(&site, from_ms, to_ms, lang, &tz)
    }

    fn sla_of(
        &self,
        site: &patrol_site::Site,
        from_ms: i64,
        to_ms: i64,
        lang: Option<Language>,
        tz: &TimeZone,
    ) -> Result<SlaReport, ReportError> {
        sla::check_period(from_ms, to_ms).map_err(period_error)?;
        let incidents = inputs::incidents(&self.core, from_ms, to_ms).map_err(unavailable)?;
        let known = inputs::known(&self.core);
        sla::build(&SlaInput {
            title: sheet::site_title(site),
            site,
            incidents: &incidents,
            from_ms,
            to_ms,
            now_ms: self.clock.now_ms(),
            known: &known,
            language: lang.unwrap_or(site.report.language),
            time_zone: tz.clone(),
        })
        .map_err(period_error)
    }

    /// The monthly summary of `month` (YYYY-MM; empty: the previous month).
    pub fn monthly(
        &self,
        month: &str,
        lang: Option<Language>,
    ) -> Result<MonthlySummary, ReportError> {
        let site = patrol_site::current(&self.core.site);
        let tz = report_zone(&site);
        let (year, m) = if month.trim().is_empty() {
            previous_month(self.clock.now_ms(), &tz)
        } else {
            parse_month(month)?
        };
        let (from, to) = monthly::month_period(year, m, &tz).ok_or_else(|| {
            ReportError::Invalid(format!("{month} is not a month this calendar has"))
        })?;
        let sla = self.sla_of(&site, from, to, lang, &tz)?;
        let sheets = self.archive.sheets_between(from, to).map_err(unavailable)?;
        Ok(monthly::build(&MonthlyInput {
            title: sheet::site_title(&site),
            year,
            month: m,
            sheets: &sheets,
            sla: &sla,
            language: lang.unwrap_or(site.report.language),
            time_zone: tz,
        }))
    }

    /// The fault report of incident `id`.
    pub fn fault(&self, id: u64, lang: Option<Language>) -> Result<FaultReport, ReportError> {
        let site = patrol_site::current(&self.core.site);
        let store = &self.core.store;
        let incident = store
            .get(id)
            .map_err(unavailable)?
            .ok_or_else(|| ReportError::NotFound(format!("there is no incident #{id}")))?;
        let (entries, _) = store
            .journal_newest(id, FAULT_JOURNAL)
            .map_err(unavailable)?;
        let journal: Vec<IncidentEvent> = entries
            .into_iter()
            .filter_map(|e| {
                Some(IncidentEvent {
                    id: e.event_id,
                    kind: EventKind::parse(&e.kind)?,
                    at_ms: e.at_ms,
                    actor: e.actor,
                    note: e.note,
                    detail: e.detail,
                    incident: incident.clone(),
                })
            })
            .collect();
        fault::build(&FaultInput {
            title: sheet::site_title(&site),
            site: &site,
            incident: &incident,
            journal: &journal,
            now_ms: self.clock.now_ms(),
            language: lang.unwrap_or(site.report.language),
            time_zone: report_zone(&site),
        })
        .map_err(|e| ReportError::Refused(e.to_string()))
    }
}

fn period_error(e: PeriodError) -> ReportError {
    match e {
        PeriodError::Reversed => ReportError::Invalid(e.to_string()),
        PeriodError::TooLong { .. } => ReportError::TooLong(e.to_string()),
    }
}

/// `YYYY-MM-DD` (midnight), `YYYY-MM-DDTHH:MM[:SS]` in `tz`, or RFC 3339 with an offset.
pub fn instant(s: &str, tz: &TimeZone, what: &str) -> Result<i64, ReportError> {
    let s = s.trim();
    let bad = || {
        ReportError::Invalid(format!(
            "'{what}' {}: write a date (2026-10-01), a local time (2026-10-01T09:00) or RFC 3339 (2026-10-01T01:00:00Z)",
            if s.is_empty() {
                "is required".to_owned()
            } else {
                format!("'{s}' is not a time")
            }
        ))
    };
    if s.is_empty() {
        return Err(bad());
    }
    if let Ok(t) = s.parse::<jiff::Timestamp>() {
        return Ok(t.as_millisecond());
    }
    let civil = s
        .parse::<DateTime>()
        .ok()
        .or_else(|| {
            s.parse::<Date>()
                .ok()
                .map(|d| d.to_datetime(jiff::civil::Time::midnight()))
        })
        .ok_or_else(bad)?;
    tz.to_timestamp(civil)
        .map(|t| t.as_millisecond())
        .map_err(|_| bad())
}

/// `YYYY-MM`.
pub fn parse_month(s: &str) -> Result<(i16, i8), ReportError> {
    let bad = || ReportError::Invalid(format!("'{s}' is not a month: write YYYY-MM, e.g. 2026-10"));
    let (y, m) = s.trim().split_once('-').ok_or_else(bad)?;
    let year: i16 = y.parse().map_err(|_| bad())?;
    let month: i8 = m.parse().map_err(|_| bad())?;
    if !(1..=12).contains(&month) || y.len() != 4 || m.len() != 2 {
        return Err(bad());
    }
    Ok((year, month))
}

/// The month before the one `now_ms` falls in, in `tz`.
pub fn previous_month(now_ms: i64, tz: &TimeZone) -> (i16, i8) {
    let today = jiff::Timestamp::from_millisecond(now_ms)
        .map(|t| t.to_zoned(tz.clone()).date())
        .unwrap_or_default();
    let first = today.first_of_month();
    let prev = first.yesterday().unwrap_or(first);
    (prev.year(), prev.month())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_in_the_reports_zone() {
        let tz = TimeZone::get("Asia/Shanghai").unwrap_or(TimeZone::UTC);
        let at = |s: &str| {
            s.parse::<jiff::Timestamp>()
                .map(|t| t.as_millisecond())
                .unwrap_or(0)
        };
        assert_eq!(
            instant("2026-10-01", &tz, "from"),
            Ok(at("2026-09-30T16:00:00Z"))
        );
        assert_eq!(
            instant("2026-10-01T09:30", &tz, "from"),
            Ok(at("2026-10-01T01:30:00Z"))
        );
        assert_eq!(
            instant("2026-10-01T01:00:00Z", &tz, "from"),
            Ok(at("2026-10-01T01:00:00Z"))
        );
        assert_eq!(
            instant("yesterday", &tz, "from"),
            Err(ReportError::Invalid(
                "'from' 'yesterday' is not a time: write a date (2026-10-01), a local time (2026-10-01T09:00) or RFC 3339 (2026-10-01T01:00:00Z)".to_owned()
            ))
        );
        assert!(
            matches!(instant("", &tz, "to"), Err(ReportError::Invalid(m)) if m.contains("'to' is required"))
        );
    }

    #[test]
    fn months() {
        assert_eq!(parse_month("2026-10"), Ok((2026, 10)));
        assert!(parse_month("2026-13").is_err());
        assert!(parse_month("26-1").is_err());
        let tz = TimeZone::UTC;
        let at = |s: &str| {
            s.parse::<jiff::Timestamp>()
                .map(|t| t.as_millisecond())
                .unwrap_or(0)
        };
        assert_eq!(previous_month(at("2026-11-02T09:00:00Z"), &tz), (2026, 10));
        assert_eq!(previous_month(at("2026-01-15T00:00:00Z"), &tz), (2025, 12));
    }
}
