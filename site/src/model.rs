//! The site configuration file: severity levels with their clock targets, service calendars,
//! escalation policies and their targets, maintenance windows, and incident settings.
//!
//! Loaded like the rule files: every problem of the file at once at `file:line:column`, and a
//! collector that fails to reload it keeps its last good site. Without a site file the collector
//! runs on [`Site::default`]: P1–P4 with DESIGN's targets on the 7×24 calendar.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use jiff::civil::Weekday;
use jiff::tz::TimeZone;
use patrol_rules::{Diagnostic, Levels, Matcher};

use super::calendar::{Calendar, Window};

mod check;

pub use check::{parse_site, parse_weekly};

/// Name of the built-in round-the-clock calendar.
pub const ALWAYS: &str = "24x7";

/// Default for `[incidents] reopen_within`.
pub const DEFAULT_REOPEN_WITHIN: Duration = Duration::from_secs(10 * 60);

/// One severity level: a name, what it means, and its clock targets on a calendar.
#[derive(Debug, Clone, PartialEq)]
pub struct Level {
    /// As written in rules and on incidents (`P1`, `I`...).
    pub name: String,
    /// What the level means, for people.
    pub meaning: String,
    /// The calendar its clocks run on.
    pub calendar: String,
    /// Time to acknowledge.
    pub respond: Duration,
    /// Time to a recorded fix plan, when the site uses that clock.
    pub fix_plan: Option<Duration>,
    /// Time to resolve.
    pub resolve: Duration,
    /// Whether time spent `waiting` (on a vendor, the customer) stops the resolve clock.
    pub waiting_pauses_resolve: bool,
    /// Escalation policy applied to incidents of this level.
    pub escalation: Option<String>,
}

/// Who an escalation step reaches: people or a group, and the channels that reach them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Name used in steps.
    pub name: String,
    /// People (names, accounts, numbers: whatever the channels understand).
    pub members: Vec<String>,
    /// Channel names (delivered by the notification channels).
    pub channels: Vec<String>,
}

/// When an escalation step applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Condition {
    /// Nobody has acknowledged (or taken) the incident; `after` counts from its clock start.
    Unacknowledged,
    /// The incident is still live; `after` counts from its clock start.
    Unresolved,
    /// The respond deadline passed without an acknowledgement; `after` counts from it.
    RespondBreached,
    /// The fix-plan deadline passed without a plan; `after` counts from it.
    FixPlanBreached,
    /// The resolve deadline passed; `after` counts from it.
    ResolveBreached,
}

impl Condition {
    const ALL: [(&'static str, Condition); 5] = [
        ("unacknowledged", Condition::Unacknowledged),
        ("unresolved", Condition::Unresolved),
        ("respond_breached", Condition::RespondBreached),
        ("fix_plan_breached", Condition::FixPlanBreached),
        ("resolve_breached", Condition::ResolveBreached),
    ];

    /// The name used in the site file.
    pub fn as_str(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, c)| *c == self)
            .map_or("?", |(n, _)| n)
    }

    fn parse(s: &str) -> Option<Condition> {
        Self::ALL.iter().find(|(n, _)| *n == s).map(|(_, c)| *c)
    }
}

/// One escalation step.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// Unique within its policy; recorded in the journal and used to fire it once.
    pub name: String,
    /// When it applies.
    pub when: Condition,
    /// Working time (on the level's calendar) after the condition's start before it fires.
    pub after: Duration,
    /// Fire again every this much working time while the condition holds (reminders).
    pub every: Option<Duration>,
    /// Targets to notify.
    pub notify: Vec<String>,
    /// Raise the incident to this (more severe) level.
    pub raise_to: Option<String>,
}

/// An ordered list of steps.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    /// Name levels refer to.
    pub name: String,
    /// In file order.
    pub steps: Vec<Step>,
}

/// When a maintenance window is.
#[derive(Debug, Clone)]
pub enum MaintenanceTime {
    /// From `start_ms` to `end_ms`.
    Once { start_ms: i64, end_ms: i64 },
    /// Every week on `days` (Monday first) during `window`, in zone `tz`.
    Weekly {
        days: [bool; 7],
        window: Window,
        tz: TimeZone,
    },
}

/// A maintenance window: incidents of matching series that open inside it are suppressed and
/// their clocks start when it ends.
#[derive(Debug, Clone)]
pub struct Maintenance {
    /// For the journal.
    pub name: String,
    /// Incident labels (series labels, `host` included) that must all match.
    pub matchers: Vec<Matcher>,
    /// When.
    pub time: MaintenanceTime,
}

/// `[incidents]` settings.
#[derive(Debug, Clone, PartialEq)]
pub struct IncidentSettings {
    /// A condition that returns within this long after its incident resolved reopens it.
    pub reopen_within: Duration,
    /// Flap detection: start above this percent of state changes.
    pub flap_high: f64,
    /// Flap detection: stop below this percent.
    pub flap_low: f64,
}

impl Default for IncidentSettings {
    fn default() -> Self {
        Self {
            reopen_within: DEFAULT_REOPEN_WITHIN,
            flap_high: super::flap::DEFAULT_HIGH,
            flap_low: super::flap::DEFAULT_LOW,
        }
    }
}

/// A checked site configuration.
#[derive(Debug, Clone)]
pub struct Site {
    /// Most severe first.
    pub levels: Vec<Level>,
    /// By name, `24x7` always present.
    pub calendars: HashMap<String, Arc<Calendar>>,
    /// By name.
    pub targets: BTreeMap<String, Target>,
    /// By name.
    pub policies: HashMap<String, Policy>,
    /// In file order.
    pub maintenance: Vec<Maintenance>,
    /// Reopen and flap settings.
    pub incidents: IncidentSettings,
    /// Notification channels (`[notify]`, `[channel.<name>]`): see crate::notify.
    pub notify: crate::notify::NotifySettings,
    /// `[report]`: language, title, what counts against availability.
    pub report: crate::inspection::ReportSettings,
    /// `[[inspection]]` schedules, in file order.
    pub inspections: Vec<crate::inspection::Inspection>,
    /// Where it came from (`built-in` for the default).
    pub source: String,
}

impl Default for Site {
    /// DESIGN's P1–P4 on the 7×24 calendar; a breached respond or resolve deadline escalates
    /// (an event on every stream) without notifying anyone, since nobody is configured.
    fn default() -> Self {
        let level = |name: &str, meaning: &str, respond: u64, resolve: u64| Level {
            name: name.to_owned(),
            meaning: meaning.to_owned(),
            calendar: ALWAYS.to_owned(),
            respond: Duration::from_secs(respond * 60),
            fix_plan: None,
            resolve: Duration::from_secs(resolve * 3600),
            waiting_pauses_resolve: false,
            escalation: Some("default".to_owned()),
        };
        let step = |name: &str, when| Step {
            name: name.to_owned(),
            when,
            after: Duration::ZERO,
            every: None,
            notify: Vec::new(),
            raise_to: None,
        };
        Site {
            levels: vec![
                level("P1", "outage: system down, data at risk", 10, 4),
                level(
                    "P2",
                    "severe: part failed or heavily degraded, business affected",
                    10,
                    6,
                ),
                level("P3", "errors or warnings, business still runs", 20, 12),
                level("P4", "minor, informational", 30, 24),
            ],
            calendars: HashMap::from([(ALWAYS.to_owned(), Arc::new(Calendar::always(ALWAYS)))]),
            targets: BTreeMap::new(),
            policies: HashMap::from([(
                "default".to_owned(),
                Policy {
                    name: "default".to_owned(),
                    steps: vec![
                        step("respond_overdue", Condition::RespondBreached),
                        step("resolve_overdue", Condition::ResolveBreached),
                    ],
                },
            )]),
            maintenance: Vec::new(),
            incidents: IncidentSettings::default(),
            notify: crate::notify::NotifySettings::default(),
            report: crate::inspection::ReportSettings::default(),
            inspections: Vec::new(),
            source: "built-in".to_owned(),
        }
    }
}

impl Site {
    /// The level scale for the rule loader.
    pub fn scale(&self) -> Levels {
        Levels::new(self.levels.iter().map(|l| l.name.clone())).unwrap_or_default()
    }

    /// The level called `name`.
    pub fn level(&self, name: &str) -> Option<&Level> {
        self.levels.iter().find(|l| l.name == name)
    }

    /// The calendar of `level` (7×24 when unknown, which a checked site never has).
    pub fn calendar_of(&self, level: &Level) -> Arc<Calendar> {
        self.calendars
            .get(&level.calendar)
            .cloned()
            .unwrap_or_else(|| Arc::new(Calendar::always(ALWAYS)))
    }

    /// The escalation policy of `level`, if it has one.
    pub fn policy_of(&self, level: &Level) -> Option<&Policy> {
        level.escalation.as_ref().and_then(|p| self.policies.get(p))
    }

    /// Reads and checks `path`.
    pub fn load(path: &std::path::Path) -> Result<Site, Vec<Diagnostic>> {
        let file = path.display().to_string();
        let src = std::fs::read_to_string(path)
            .map_err(|e| vec![Diagnostic::whole_file(&file, format!("cannot read: {e}"))])?;
        parse_site(&file, &src)
    }
}

impl Maintenance {
    /// If `at_ms` is inside this window for series `labels`, when the window ends.
    pub fn covering(&self, labels: &patrol_proto::Labels, at_ms: i64) -> Option<i64> {
        if !self
            .matchers
            .iter()
            .all(|m| m.matches(labels.get(&m.name).unwrap_or("")))
        {
            return None;
        }
        match &self.time {
            MaintenanceTime::Once { start_ms, end_ms } => {
                (*start_ms <= at_ms && at_ms < *end_ms).then_some(*end_ms)
            }
            MaintenanceTime::Weekly { days, window, tz } => {
                let cal = Calendar::new(
                    "maintenance",
                    tz.clone(),
                    std::array::from_fn(|i| if days[i] { vec![*window] } else { Vec::new() }),
                    BTreeSet::new(),
                    BTreeSet::new(),
                    Weekday::Monday,
                )
                .ok()?;
                cal.interval_at(at_ms).map(|(_, end)| end)
            }
        }
    }
}

impl Site {
    /// If an incident of series `labels` opening at `at_ms` falls in a maintenance window: the
    /// window's name and when it ends (the latest end when several cover it).
    pub fn maintenance_at(
        &self,
        labels: &patrol_proto::Labels,
        at_ms: i64,
    ) -> Option<(String, i64)> {
        self.maintenance
            .iter()
            .filter_map(|m| m.covering(labels, at_ms).map(|end| (m.name.clone(), end)))
            .max_by_key(|(_, end)| *end)
    }
}

#[cfg(test)]
#[path = "model_tests.rs"]
mod tests;
