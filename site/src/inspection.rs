//! The inspection schedule (`[[inspection]]`) and the report settings (`[report]`) of the site
//! file: when the daily inspection sheet is made, on which service calendar, in which
//! language, and where it is sent; which levels count against availability, over which
//! calendar, grouped by which labels.
//!
//! ```toml
//! [report]
//! language = "zh-CN"              # default language of sheets and reports: "zh-CN" or "en"
//! title = "HQ data centre"        # shown at the top of every sheet and report
//!
//! [report.availability]
//! calendar = "24x7"               # the service time availability is counted over
//! levels = ["P1", "P2"]           # incidents at these levels are outage time
//! group_by = ["role"]             # availability per value of these labels, besides per host
//!
//! [[inspection]]
//! name = "daily"
//! calendar = "office"             # inspections happen on this calendar's working days
//! at = ["09:00", "16:00"]         # local times (the calendar's zone)
//! language = "zh-CN"              # this schedule's sheets; default [report] language
//! send = ["email"]                # channels or routes the sheet goes out through
//! ```
//!
//! Checked with the rest of the file (every problem at `file:line:column`); the arithmetic
//! ([`Inspection::next_after`]) is pure, time passed in.

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use jiff::civil::Date;
use serde::{Deserialize, Serialize};
use toml::Spanned;

use crate::calendar::{Calendar, MAX_DAYS};
use crate::model::ALWAYS;

/// The language of sheets and reports: every label and heading exists in both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum Language {
    /// English.
    #[default]
    #[serde(rename = "en")]
    En,
    /// Simplified Chinese, as the operations handbooks are written.
    #[serde(rename = "zh-CN")]
    ZhCn,
}

impl Language {
    /// Both languages.
    pub const ALL: [Language; 2] = [Language::En, Language::ZhCn];

    /// The code written in the site file and in HTML's `lang`: `en`, `zh-CN`.
    pub fn code(self) -> &'static str {
        match self {
            Language::En => "en",
            Language::ZhCn => "zh-CN",
        }
    }
}

impl fmt::Display for Language {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// A language code that is neither `en` nor `zh-CN`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown language '{0}': write \"zh-CN\" or \"en\"")]
pub struct UnknownLanguage(pub String);

impl FromStr for Language {
    type Err = UnknownLanguage;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Language::ALL
            .into_iter()
            .find(|l| l.code().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| UnknownLanguage(s.to_owned()))
    }
}

/// `[report]`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ReportSettings {
    /// Language of sheets and reports unless a schedule says otherwise.
    pub language: Language,
    /// Shown at the top of every sheet and report (default: the `[notify]` site name).
    pub title: Option<String>,
    /// What counts against availability.
    pub availability: AvailabilitySettings,
}

/// `[report.availability]`: the Q availability figure's definition.
#[derive(Debug, Clone, PartialEq)]
pub struct AvailabilitySettings {
    /// The service calendar availability is counted over.
    pub calendar: String,
    /// Incidents at these levels are outage time; empty: the site's most severe level.
    pub levels: Vec<String>,
    /// Availability is also reported per value of each of these labels.
    pub group_by: Vec<String>,
}

impl Default for AvailabilitySettings {
    fn default() -> Self {
        Self {
            calendar: ALWAYS.to_owned(),
            levels: Vec::new(),
            group_by: Vec::new(),
        }
    }
}

/// One `[[inspection]]` schedule.
#[derive(Debug, Clone, PartialEq)]
pub struct Inspection {
    /// Unique name (`daily`), on each sheet it makes.
    pub name: String,
    /// The calendar whose working days it runs on (holidays skipped, adjusted working days
    /// included), and whose zone `at` is in.
    pub calendar: String,
    /// Local times, minutes after midnight, ascending, no duplicates.
    pub at: Vec<u16>,
    /// The language of its sheets.
    pub language: Language,
    /// Channels or routes the sheet is sent through.
    pub send: Vec<String>,
}

impl Inspection {
    /// The first inspection time strictly after `t_ms`, on `calendar` (this schedule's):
    /// `None` when the calendar has no working day in the next two years.
    pub fn next_after(&self, calendar: &Calendar, t_ms: i64) -> Option<i64> {
        let first = calendar.date_of(t_ms)?;
        self.days(calendar, first, 1)
            .flat_map(|d| {
                self.at
                    .iter()
                    .filter_map(move |m| calendar.instant_at(d, *m))
            })
            .find(|ms| *ms > t_ms)
    }

    /// The last inspection time strictly before `t_ms` (the start of the period a sheet made
    /// at `t_ms` covers).
    pub fn previous_before(&self, calendar: &Calendar, t_ms: i64) -> Option<i64> {
        let first = calendar.date_of(t_ms)?;
        self.days(calendar, first, -1)
            .flat_map(|d| {
                self.at
                    .iter()
                    .rev()
                    .filter_map(move |m| calendar.instant_at(d, *m))
            })
            .find(|ms| *ms < t_ms)
    }

    /// The inspection times on `date` (none on a day off).
    pub fn times_on(&self, calendar: &Calendar, date: Date) -> Vec<i64> {
        if !calendar.is_working_day(date) {
            return Vec::new();
        }
        self.at
            .iter()
            .filter_map(|m| calendar.instant_at(date, *m))
            .collect()
    }

    /// Working days from `first`, forwards (`step` 1) or backwards (-1), for two years.
    fn days<'c>(
        &self,
        calendar: &'c Calendar,
        first: Date,
        step: i64,
    ) -> impl Iterator<Item = Date> + 'c {
        first
            .series(jiff::Span::new().days(step))
            .take(MAX_DAYS as usize)
            .filter(|d| calendar.is_working_day(*d))
    }
}

impl crate::Site {
    /// The calendar called `name` (`24x7` included).
    pub fn calendar_named(&self, name: &str) -> Option<Arc<Calendar>> {
        self.calendars.get(name).cloned()
    }

    /// The schedule called `name`.
    pub fn inspection(&self, name: &str) -> Option<&Inspection> {
        self.inspections.iter().find(|i| i.name == name)
    }

    /// The next inspection of any schedule strictly after `t_ms`: the schedule and the time.
    pub fn next_inspection_after(&self, t_ms: i64) -> Option<(&Inspection, i64)> {
        self.inspections
            .iter()
            .filter_map(|i| {
                let cal = self.calendar_named(&i.calendar)?;
                i.next_after(&cal, t_ms).map(|at| (i, at))
            })
            .min_by_key(|(_, at)| *at)
    }

    /// The levels whose incidents count against availability (the most severe level when
    /// the site names none).
    pub fn availability_levels(&self) -> Vec<String> {
        if self.report.availability.levels.is_empty() {
            self.levels.iter().take(1).map(|l| l.name.clone()).collect()
        } else {
            self.report.availability.levels.clone()
        }
    }
}

/// `[report]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawReport {
    language: Option<Spanned<String>>,
    title: Option<String>,
    availability: Option<RawAvailability>,
}

/// `[report.availability]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAvailability {
    calendar: Option<Spanned<String>>,
    #[serde(default)]
    levels: Vec<Spanned<String>>,
    #[serde(default)]
    group_by: Vec<Spanned<String>>,
}

/// `[[inspection]]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawInspection {
    name: Spanned<String>,
    calendar: Option<Spanned<String>>,
    at: Spanned<Vec<Spanned<String>>>,
    language: Option<Spanned<String>>,
    #[serde(default)]
    send: Vec<Spanned<String>>,
}

/// What the report settings and schedules may refer to.
pub(crate) struct Known<'a> {
    /// Calendars that checked (`24x7` included).
    pub calendars: &'a HashMap<String, Arc<Calendar>>,
    /// Calendars written in the file, checked or not (a broken one is reported there).
    pub written_calendars: &'a BTreeSet<String>,
    /// Level names.
    pub levels: &'a [String],
    /// Channel names written in the file.
    pub channels: &'a BTreeSet<String>,
    /// Route names written in the file.
    pub routes: &'a BTreeSet<String>,
}

/// Where problems go: `(byte offset in the site file, message)`.
type Report<'a> = &'a mut dyn FnMut(usize, String);

/// Checks `[report]`.
pub(crate) fn check_report(
    raw: Option<RawReport>,
    known: &Known<'_>,
    report: Report<'_>,
) -> ReportSettings {
    let mut s = ReportSettings::default();
    let Some(raw) = raw else { return s };
    if let Some(l) = raw.language {
        match l.get_ref().parse() {
            Ok(lang) => s.language = lang,
            Err(e) => report(l.span().start, format!("{e}")),
        }
    }
    s.title = raw.title.filter(|t| !t.trim().is_empty());
    if let Some(a) = raw.availability {
        if let Some(c) = a.calendar
            && calendar_ok(&c, known, "availability", report)
        {
            s.availability.calendar = c.into_inner();
        }
        for l in a.levels {
            if known.levels.contains(l.get_ref()) {
                s.availability.levels.push(l.into_inner());
            } else {
                report(
                    l.span().start,
                    format!(
                        "availability counts level '{}', which is not defined (levels: {})",
                        l.get_ref(),
                        known.levels.join(", ")
                    ),
                );
            }
        }
        for g in a.group_by {
            if valid_label(g.get_ref()) {
                s.availability.group_by.push(g.into_inner());
            } else {
                report(
                    g.span().start,
                    format!(
                        "'{}' is not a label name: write letters, digits and '_', not starting with a digit (e.g. \"role\")",
                        g.get_ref()
                    ),
                );
            }
        }
    }
    s
}

/// Checks every `[[inspection]]`; `default_language` is `[report]`'s.
pub(crate) fn check_inspections(
    raw: Vec<Spanned<RawInspection>>,
    known: &Known<'_>,
    default_language: Language,
    report: Report<'_>,
) -> Vec<Inspection> {
    let mut out = Vec::new();
    let mut names = BTreeSet::new();
    for r in raw {
        let r = r.into_inner();
        let name = r.name.get_ref().trim().to_owned();
        let mut failed = false;
        let mut err = |at: usize, msg: String| {
            failed = true;
            report(at, msg);
        };
        if name.is_empty() {
            err(
                r.name.span().start,
                "an inspection schedule needs a name (e.g. name = \"daily\")".to_owned(),
            );
        } else if !names.insert(name.clone()) {
            err(
                r.name.span().start,
                format!("inspection '{name}' is defined twice"),
            );
        }
        let mut calendar_broken = false;
        let calendar = match &r.calendar {
            None => ALWAYS.to_owned(),
            Some(c) => {
                calendar_broken = !calendar_ok(c, known, &format!("inspection '{name}'"), &mut err);
                c.get_ref().clone()
            }
        };
        let mut at = Vec::new();
        if r.at.get_ref().is_empty() {
            err(
                r.at.span().start,
                format!("inspection '{name}' has no times: write e.g. at = [\"09:00\", \"16:00\"]"),
            );
        }
        for t in r.at.get_ref() {
            match parse_time_of_day(t.get_ref()) {
                Ok(m) if at.contains(&m) => err(
                    t.span().start,
                    format!("inspection '{name}' lists {} twice", t.get_ref().trim()),
                ),
                Ok(m) => at.push(m),
                Err(msg) => err(t.span().start, msg),
            }
        }
        at.sort_unstable();
        let language = match &r.language {
            None => default_language,
            Some(l) => match l.get_ref().parse() {
                Ok(lang) => lang,
                Err(e) => {
                    err(l.span().start, format!("{e}"));
                    default_language
                }
            },
        };
        for s in &r.send {
            let n = s.get_ref();
            if !known.channels.contains(n) && !known.routes.contains(n) {
                err(
                    s.span().start,
                    format!(
                        "inspection '{name}' sends to '{n}', which is neither a channel nor a route of this site (add a [channel.{n}] table or name a [[route]])"
                    ),
                );
            }
        }
        if !failed && !calendar_broken {
            out.push(Inspection {
                name,
                calendar,
                at,
                language,
                send: r.send.into_iter().map(Spanned::into_inner).collect(),
            });
        }
    }
    out
}

/// Whether the calendar named in `field` can be used; reports it when it is not defined.
/// A calendar written with errors was reported where it is written.
fn calendar_ok(
    field: &Spanned<String>,
    known: &Known<'_>,
    what: &str,
    report: &mut dyn FnMut(usize, String),
) -> bool {
    let name = field.get_ref();
    if known.calendars.contains_key(name) {
        return true;
    }
    if !known.written_calendars.contains(name) {
        let mut defined: Vec<&str> = known.calendars.keys().map(String::as_str).collect();
        defined.sort_unstable();
        report(
            field.span().start,
            format!(
                "{what} uses calendar '{name}', which is not defined (defined: {})",
                defined.join(", ")
            ),
        );
    }
    false
}

/// `"09:00"` as minutes after midnight (00:00 to 23:59).
pub fn parse_time_of_day(s: &str) -> Result<u16, String> {
    let t = s.trim();
    let bad = || format!("invalid time '{t}': write HH:MM from 00:00 to 23:59, e.g. \"09:00\"");
    let (h, m) = t.split_once(':').ok_or_else(bad)?;
    if h.is_empty() || h.len() > 2 || m.len() != 2 {
        return Err(bad());
    }
    let h: u16 = h.parse().map_err(|_| bad())?;
    let m: u16 = m.parse().map_err(|_| bad())?;
    if h > 23 || m > 59 {
        return Err(bad());
    }
    Ok(h * 60 + m)
}

fn valid_label(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
#[path = "inspection_tests.rs"]
mod tests;
