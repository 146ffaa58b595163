//! The site file as written (serde structures with spans) and its checker: every problem of
//! the file at once at `file:line:column`, then the checked [`Site`].

use crate::calendar::{Calendar, CalendarError, DAY_MINUTES, Window, weekday_name};
use jiff::civil::{Date, Weekday};
use jiff::tz::TimeZone;
use patrol_rules::{Diagnostic, parse_matchers, value_offset};
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ops::Range;
use std::sync::Arc;
use std::time::Duration;
use toml::Spanned;

use super::*;

/// Longest duration the site file accepts (a deadline, a step's delay, a reminder): beyond it a
/// clock could never fall due in any calendar, and its arithmetic would leave the time range.
const MAX_DEADLINE: Duration = Duration::from_secs(10 * 366 * 24 * 3600);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSite {
    incidents: Option<RawIncidents>,
    #[serde(default)]
    calendar: BTreeMap<String, Spanned<RawCalendar>>,
    #[serde(default)]
    level: Vec<Spanned<RawLevel>>,
    #[serde(default)]
    target: BTreeMap<String, Spanned<RawTarget>>,
    #[serde(default)]
    escalation: BTreeMap<String, Spanned<RawPolicy>>,
    #[serde(default)]
    maintenance: Vec<Spanned<RawMaintenance>>,
    // Notification channels: checked by crate::notify::config.
    notify: Option<crate::notify::config::RawNotify>,
    #[serde(default)]
    channel: BTreeMap<String, Spanned<crate::notify::config::RawChannel>>,
    #[serde(default)]
    route: Vec<Spanned<crate::notify::route::RawRoute>>,
    // Report settings and inspection schedules: checked by crate::inspection.
    report: Option<crate::inspection::RawReport>,
    #[serde(default)]
    inspection: Vec<Spanned<crate::inspection::RawInspection>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawIncidents {
    reopen_within: Option<Spanned<String>>,
    flap_high: Option<Spanned<f64>>,
    flap_low: Option<Spanned<f64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCalendar {
    timezone: Spanned<String>,
    hours: Vec<Spanned<String>>,
    #[serde(default)]
    holidays: Vec<Spanned<String>>,
    #[serde(default)]
    working_days: Vec<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLevel {
    name: Spanned<String>,
    #[serde(default)]
    meaning: String,
    calendar: Option<Spanned<String>>,
    respond: Spanned<String>,
    fix_plan: Option<Spanned<String>>,
    resolve: Spanned<String>,
    #[serde(default)]
    waiting_pauses_resolve: bool,
    escalation: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTarget {
    #[serde(default)]
    members: Vec<String>,
    #[serde(default)]
    channels: Vec<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    step: Vec<Spanned<RawStep>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStep {
    name: Spanned<String>,
    when: Spanned<String>,
    after: Option<Spanned<String>>,
    every: Option<Spanned<String>>,
    #[serde(default)]
    notify: Vec<Spanned<String>>,
    raise_to: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMaintenance {
    name: Spanned<String>,
    #[serde(rename = "match")]
    matchers: Spanned<String>,
    start: Option<Spanned<String>>,
    end: Option<Spanned<String>>,
    weekly: Option<Spanned<String>>,
    timezone: Option<Spanned<String>>,
}

/// Parses and checks a site file; every problem at once, ordered by position.
pub fn parse_site(file: &str, src: &str) -> Result<Site, Vec<Diagnostic>> {
    let raw: RawSite = toml::from_str(src).map_err(|e| {
        let offset = e.span().map_or(0, |s| s.start);
        vec![Diagnostic::at(file, src, offset, e.message().trim())]
    })?;
    let mut cx = Checker {
        file,
        src,
        diags: Vec::new(),
    };
    let site = cx.site(raw);
    if cx.diags.is_empty() {
        let mut site = site;
        site.source = file.to_owned();
        Ok(site)
    } else {
        cx.diags.sort_by_key(|d| (d.line, d.column));
        Err(cx.diags)
    }
}

struct Checker<'a> {
    file: &'a str,
    src: &'a str,
    diags: Vec<Diagnostic>,
}

impl Checker<'_> {
    fn error(&mut self, offset: usize, message: impl Into<String>) {
        self.diags
            .push(Diagnostic::at(self.file, self.src, offset, message));
    }

    fn site(&mut self, raw: RawSite) -> Site {
        let mut site = Site {
            incidents: raw.incidents.map(|i| self.incidents(i)).unwrap_or_default(),
            ..Site::default()
        };
        let written: BTreeSet<String> = raw.calendar.keys().cloned().collect();
        for (name, cal) in raw.calendar {
            if name == ALWAYS {
                self.error(
                    cal.span().start,
                    format!("calendar '{ALWAYS}' is built in and cannot be redefined"),
                );
                continue;
            }
            if let Some(c) = self.calendar(&name, cal) {
                site.calendars.insert(name, Arc::new(c));
            }
        }
        let target_channels = raw
            .target
            .iter()
            .flat_map(|(t, raw)| raw.get_ref().channels.iter().map(move |c| (t.as_str(), c)));
        let notify_levels: Vec<String> = if raw.level.is_empty() {
            site.levels.iter().map(|l| l.name.clone()).collect()
        } else {
            raw.level
                .iter()
                .map(|l| l.get_ref().name.get_ref().clone())
                .collect()
        };
        // What inspection schedules may send through, as written (checked or not).
        let channel_names: BTreeSet<String> = raw.channel.keys().cloned().collect();
        let route_names: BTreeSet<String> = raw
            .route
            .iter()
            .map(|r| r.get_ref().name().to_owned())
            .collect();
        let (raw_report, raw_inspections) = (raw.report, raw.inspection);
        let parts = crate::notify::config::RawParts {
            notify: raw.notify,
            channels: raw.channel,
            routes: raw.route,
            target_channels,
            levels: &notify_levels,
            calendars: site.calendars.keys().cloned().collect(),
            src: self.src,
        };
        site.notify = crate::notify::config::check(parts, &mut |at, msg| self.error(at, msg));
        site.targets = raw
            .target
            .into_iter()
            .map(|(name, t)| {
                let t = t.into_inner();
                let target = Target {
                    name: name.clone(),
                    members: t.members,
                    channels: t.channels.into_iter().map(Spanned::into_inner).collect(),
                };
                (name, target)
            })
            .collect();

        // Level names first: steps refer to them (raise_to) and levels to policies.
        let level_names: Vec<String> = raw
            .level
            .iter()
            .map(|l| l.get_ref().name.get_ref().clone())
            .collect();
        let policy_names: BTreeSet<String> = raw.escalation.keys().cloned().collect();
        if !raw.level.is_empty() {
            let mut levels = Vec::new();
            let mut seen = BTreeSet::new();
            for l in raw.level {
                let name = l.get_ref().name.clone();
                if !seen.insert(name.get_ref().clone()) {
                    self.error(
                        name.span().start,
                        format!("level '{}' is defined twice", name.get_ref()),
                    );
                    continue;
                }
                if let Some(level) = self.level(l, &site.calendars, &written, &policy_names) {
                    levels.push(level);
                }
            }
            site.levels = levels;
            // A site that writes its own levels writes its own policies too.
            site.policies.clear();
        }
        let level_names = if level_names.is_empty() {
            site.levels.iter().map(|l| l.name.clone()).collect()
        } else {
            level_names
        };
        for (name, p) in raw.escalation {
            if let Some(policy) = self.policy(&name, p, &site.targets, &level_names) {
                site.policies.insert(name, policy);
            }
        }
        site.maintenance = raw
            .maintenance
            .into_iter()
            .filter_map(|m| self.maintenance(m))
            .collect();
        let known = crate::inspection::Known {
            calendars: &site.calendars,
            written_calendars: &written,
            levels: &level_names,
            channels: &channel_names,
            routes: &route_names,
        };
        let mut report = |at: usize, msg: String| self.error(at, msg);
        site.report = crate::inspection::check_report(raw_report, &known, &mut report);
        site.inspections = crate::inspection::check_inspections(
            raw_inspections,
            &known,
            site.report.language,
            &mut report,
        );
        site
    }

    fn incidents(&mut self, raw: RawIncidents) -> IncidentSettings {
        let mut s = IncidentSettings::default();
        if let Some(d) = raw.reopen_within.as_ref().and_then(|d| self.duration(d)) {
            s.reopen_within = d;
        }
        for (field, slot) in [
            (&raw.flap_high, &mut s.flap_high),
            (&raw.flap_low, &mut s.flap_low),
        ] {
            if let Some(v) = field {
                if !(0.0..=100.0).contains(v.get_ref()) {
                    self.error(
                        v.span().start,
                        "a flap threshold is a percentage between 0 and 100",
                    );
                } else {
                    *slot = *v.get_ref();
                }
            }
        }
        if s.flap_low > s.flap_high {
            let at = raw.flap_low.as_ref().map_or(0, |v| v.span().start);
            self.error(
                at,
                format!(
                    "flap_low ({}) must not be above flap_high ({})",
                    s.flap_low, s.flap_high
                ),
            );
        }
        s
    }

    fn duration(&mut self, field: &Spanned<String>) -> Option<Duration> {
        let text = field.get_ref().trim();
        match humantime::parse_duration(text) {
            Ok(d) if d > MAX_DEADLINE => {
                self.error(
                    field.span().start,
                    format!(
                        "'{text}' is longer than any deadline can run (at most 10 years): write e.g. \"4h\" or \"30d\""
                    ),
                );
                None
            }
            Ok(d) => Some(d),
            Err(e) => {
                self.error(
                    field.span().start,
                    format!(
                        "invalid duration '{text}': {e} (write e.g. \"10m\", \"4h\", \"1h 30m\")"
                    ),
                );
                None
            }
        }
    }

    fn date(&mut self, field: &Spanned<String>) -> Option<Date> {
        match field.get_ref().trim().parse::<Date>() {
            Ok(d) => Some(d),
            Err(_) => {
                self.error(
                    field.span().start,
                    format!("invalid date '{}': write it as YYYY-MM-DD", field.get_ref()),
                );
                None
            }
        }
    }

    fn time_zone(&mut self, field: &Spanned<String>) -> Option<TimeZone> {
        match TimeZone::get(field.get_ref()) {
            Ok(tz) => Some(tz),
            Err(_) => {
                self.error(
                    field.span().start,
                    format!(
                        "unknown time zone '{}': use an IANA name such as \"Asia/Shanghai\" or \"UTC\"",
                        field.get_ref()
                    ),
                );
                None
            }
        }
    }

    fn calendar(&mut self, name: &str, raw: Spanned<RawCalendar>) -> Option<Calendar> {
        let at = raw.span().start;
        let raw = raw.into_inner();
        let before = self.diags.len();
        let tz = self.time_zone(&raw.timezone);
        let mut week: [Vec<Window>; 7] = Default::default();
        // Where each window was written, to point an overlap at the second one.
        let mut written: [Vec<(Window, Range<usize>)>; 7] = Default::default();
        let mut hours_failed = false;
        for h in &raw.hours {
            match parse_weekly(h.get_ref()) {
                Ok((days, window)) => {
                    for (i, on) in days.iter().enumerate() {
                        if *on {
                            week[i].push(window);
                            written[i].push((window, h.span()));
                        }
                    }
                }
                Err(msg) => {
                    hours_failed = true;
                    self.error(h.span().start, msg);
                }
            }
        }
        let holidays: BTreeSet<Date> = raw.holidays.iter().filter_map(|d| self.date(d)).collect();
        let working: BTreeSet<Date> = raw
            .working_days
            .iter()
            .filter_map(|d| self.date(d))
            .collect();
        for (d, field) in working.iter().zip(raw.working_days.iter()) {
            if holidays.contains(d) {
                self.error(
                    field.span().start,
                    format!("{d} is listed both as a holiday and as a working day"),
                );
            }
        }
        // The windows are checked whatever else failed: an unknown zone must not hide an
        // overlap (every error in one pass, docs/noc.md).
        let failed = self.diags.len() != before;
        let zone = tz.clone().unwrap_or(TimeZone::UTC);
        match Calendar::new(name, zone, week, holidays, working, Weekday::Monday) {
            Ok(c) => (!failed).then_some(c).filter(|_| tz.is_some()),
            Err(CalendarError::Overlap { day, first, second }) => {
                let offset = weekday_index(&day)
                    .and_then(|i| {
                        // The later-written of the two overlapping windows.
                        written[i]
                            .iter()
                            .filter(|(w, _)| *w == first || *w == second)
                            .map(|(_, span)| span.start)
                            .max()
                    })
                    .unwrap_or(at);
                self.error(
                    offset,
                    format!("calendar '{name}': window {second} overlaps window {first} on {day}"),
                );
                None
            }
            // Hours that did not parse are reported already; their absence is no news.
            Err(CalendarError::Empty) if hours_failed => None,
            Err(CalendarError::Empty) => {
                self.error(
                    at,
                    format!("calendar '{name}' has no working hours: add e.g. hours = [\"mon-fri 09:00-18:00\"]"),
                );
                None
            }
            Err(e) => {
                self.error(at, format!("calendar '{name}': {e}"));
                None
            }
        }
    }

    fn level(
        &mut self,
        raw: Spanned<RawLevel>,
        calendars: &HashMap<String, Arc<Calendar>>,
        written: &BTreeSet<String>,
        policies: &BTreeSet<String>,
    ) -> Option<Level> {
        let raw = raw.into_inner();
        let before = self.diags.len();
        let name = raw.name.get_ref().clone();
        if name.trim().is_empty() {
            self.error(raw.name.span().start, "a level name must not be empty");
        }
        let mut broken_calendar = false;
        let calendar = match &raw.calendar {
            None => ALWAYS.to_owned(),
            Some(c) => {
                if written.contains(c.get_ref()) && !calendars.contains_key(c.get_ref()) {
                    // Defined with errors, reported there: the level is not usable either,
                    // but its own fields are still checked below.
                    broken_calendar = true;
                } else if !calendars.contains_key(c.get_ref()) {
                    let mut known: Vec<&str> = calendars.keys().map(String::as_str).collect();
                    known.sort();
                    self.error(
                        c.span().start,
                        format!(
                            "level '{name}' uses calendar '{}', which is not defined (defined: {})",
                            c.get_ref(),
                            known.join(", ")
                        ),
                    );
                }
                c.get_ref().clone()
            }
        };
        let respond = self.duration(&raw.respond);
        let fix_plan = raw.fix_plan.as_ref().map(|d| self.duration(d));
        let resolve = self.duration(&raw.resolve);
        if let Some(p) = &raw.escalation
            && !policies.contains(p.get_ref())
        {
            self.error(
                p.span().start,
                format!(
                    "level '{name}' uses escalation policy '{}', which is not defined",
                    p.get_ref()
                ),
            );
        }
        if self.diags.len() != before || broken_calendar {
            return None;
        }
        Some(Level {
            name,
            meaning: raw.meaning,
            calendar,
            respond: respond?,
            fix_plan: fix_plan.flatten(),
            resolve: resolve?,
            waiting_pauses_resolve: raw.waiting_pauses_resolve,
            escalation: raw.escalation.map(|p| p.into_inner()),
        })
    }

    fn policy(
        &mut self,
        name: &str,
        raw: Spanned<RawPolicy>,
        targets: &BTreeMap<String, Target>,
        levels: &[String],
    ) -> Option<Policy> {
        let raw = raw.into_inner();
        let before = self.diags.len();
        let mut steps = Vec::new();
        let mut seen = BTreeSet::new();
        for s in raw.step {
            let s = s.into_inner();
            if !seen.insert(s.name.get_ref().clone()) {
                self.error(
                    s.name.span().start,
                    format!(
                        "escalation '{name}' has two steps named '{}'",
                        s.name.get_ref()
                    ),
                );
            }
            let when = Condition::parse(s.when.get_ref());
            if when.is_none() {
                let names: Vec<&str> = Condition::ALL.iter().map(|(n, _)| *n).collect();
                self.error(
                    s.when.span().start,
                    format!(
                        "unknown condition '{}': expected one of {}",
                        s.when.get_ref(),
                        names.join(", ")
                    ),
                );
            }
            let after = match &s.after {
                Some(d) => self.duration(d),
                None => Some(Duration::ZERO),
            };
            let every = match &s.every {
                Some(d) => match self.duration(d) {
                    Some(d) if d.is_zero() => {
                        self.error(d_span(&s.every), "'every' must be longer than zero");
                        None
                    }
                    other => other.map(Some),
                },
                None => Some(None),
            };
            for t in &s.notify {
                if !targets.contains_key(t.get_ref()) {
                    self.error(
                        t.span().start,
                        format!(
                            "step '{}' notifies '{}', which is not a defined target (add a [target.{}] table)",
                            s.name.get_ref(),
                            t.get_ref(),
                            t.get_ref()
                        ),
                    );
                }
            }
            if let Some(r) = &s.raise_to
                && !levels.contains(r.get_ref())
            {
                self.error(
                    r.span().start,
                    format!(
                        "step '{}' raises to level '{}', which is not defined",
                        s.name.get_ref(),
                        r.get_ref()
                    ),
                );
            }
            if s.notify.is_empty()
                && s.raise_to.is_none()
                && !matches!(
                    when,
                    Some(
                        Condition::RespondBreached
                            | Condition::FixPlanBreached
                            | Condition::ResolveBreached
                    )
                )
            {
                self.error(
                    s.name.span().start,
                    format!(
                        "step '{}' neither notifies anyone nor raises the level",
                        s.name.get_ref()
                    ),
                );
            }
            if let (Some(when), Some(after), Some(every)) = (when, after, every) {
                steps.push(Step {
                    name: s.name.into_inner(),
                    when,
                    after,
                    every,
                    notify: s.notify.into_iter().map(Spanned::into_inner).collect(),
                    raise_to: s.raise_to.map(Spanned::into_inner),
                });
            }
        }
        (self.diags.len() == before).then(|| Policy {
            name: name.to_owned(),
            steps,
        })
    }

    fn maintenance(&mut self, raw: Spanned<RawMaintenance>) -> Option<Maintenance> {
        let at = raw.span().start;
        let raw = raw.into_inner();
        let before = self.diags.len();
        let matchers = match parse_matchers(raw.matchers.get_ref()) {
            Ok(m) => Some(m),
            Err(e) => {
                let off = value_offset(self.src, &raw.matchers.span(), e.offset);
                self.error(off, e.message);
                None
            }
        };
        let name = raw.name.get_ref().clone();
        let time = match (&raw.start, &raw.end, &raw.weekly) {
            (Some(s), Some(e), None) => {
                let start = self.instant(s);
                let end = self.instant(e);
                match (start, end) {
                    (Some(start_ms), Some(end_ms)) if end_ms <= start_ms => {
                        self.error(
                            e.span().start,
                            format!("maintenance '{name}' ends before it starts"),
                        );
                        None
                    }
                    (Some(start_ms), Some(end_ms)) => {
                        Some(MaintenanceTime::Once { start_ms, end_ms })
                    }
                    _ => None,
                }
            }
            (None, None, Some(w)) => {
                let tz = match &raw.timezone {
                    Some(tz) => self.time_zone(tz),
                    None => Some(TimeZone::UTC),
                };
                match parse_weekly(w.get_ref()) {
                    Ok((days, window)) => tz.map(|tz| MaintenanceTime::Weekly { days, window, tz }),
                    Err(msg) => {
                        self.error(w.span().start, msg);
                        None
                    }
                }
            }
            _ => {
                self.error(
                    at,
                    format!("maintenance '{name}' needs either 'start' and 'end', or 'weekly'"),
                );
                None
            }
        };
        if self.diags.len() != before {
            return None;
        }
        Some(Maintenance {
            name,
            matchers: matchers?,
            time: time?,
        })
    }

    fn instant(&mut self, field: &Spanned<String>) -> Option<i64> {
        match field.get_ref().parse::<jiff::Timestamp>() {
            Ok(t) => Some(t.as_millisecond()),
            Err(_) => {
                self.error(
                    field.span().start,
                    format!(
                        "invalid time '{}': write it as RFC 3339 with its offset, e.g. \"2026-11-28T22:00:00+08:00\"",
                        field.get_ref()
                    ),
                );
                None
            }
        }
    }
}

fn d_span(field: &Option<Spanned<String>>) -> usize {
    field.as_ref().map_or(0, |f| f.span().start)
}

fn weekday_index(name: &str) -> Option<usize> {
    (0..7).find(|&i| weekday_name(i) == name)
}

const DAY_ABBREV: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// Parses `"mon-fri 08:00-12:00"`, `"sat,sun 00:00-24:00"`, `"daily 09:00-17:00"`.
pub fn parse_weekly(s: &str) -> Result<([bool; 7], Window), String> {
    let hint = "write hours as \"mon-fri 08:00-12:00\" (days: mon..sun, ranges with '-', lists with ',', or daily)";
    let (days_text, time_text) = s
        .trim()
        .split_once(char::is_whitespace)
        .ok_or_else(|| format!("invalid hours '{s}': {hint}"))?;
    let mut days = [false; 7];
    if days_text.eq_ignore_ascii_case("daily") {
        days = [true; 7];
    } else {
        for part in days_text.split(',') {
            let day = |d: &str| {
                DAY_ABBREV
                    .iter()
                    .position(|a| a.eq_ignore_ascii_case(d))
                    .ok_or_else(|| format!("invalid day '{d}' in '{s}': {hint}"))
            };
            match part.split_once('-') {
                Some((a, b)) => {
                    let (a, b) = (day(a)?, day(b)?);
                    if b < a {
                        return Err(format!(
                            "day range '{part}' in '{s}' runs backwards: write it from Monday towards Sunday"
                        ));
                    }
                    days[a..=b].iter_mut().for_each(|d| *d = true);
                }
                None => days[day(part)?] = true,
            }
        }
    }
    let (from, to) = time_text
        .trim()
        .split_once('-')
        .ok_or_else(|| format!("invalid hours '{s}': {hint}"))?;
    let minutes = |t: &str| -> Result<u16, String> {
        let bad = || format!("invalid time '{t}' in '{s}': write HH:MM, 00:00 to 24:00");
        let (h, m) = t.trim().split_once(':').ok_or_else(bad)?;
        let (h, m): (u16, u16) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
        if m >= 60 || h * 60 + m > DAY_MINUTES {
            return Err(bad());
        }
        Ok(h * 60 + m)
    };
    let window = Window {
        start: minutes(from)?,
        end: minutes(to)?,
    };
    if window.end <= window.start {
        return Err(format!(
            "window {window} in '{s}' ends before it starts: a window cannot cross midnight, split it in two (e.g. \"22:00-24:00\" and \"00:00-06:00\")"
        ));
    }
    Ok((days, window))
}
