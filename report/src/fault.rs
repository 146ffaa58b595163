//! The fault report of a major incident (the written report a vendor owes after a P1/P2
//! fault): what happened, the timeline from the journal, each deadline met or missed, the
//! notifications and their outcomes, and the resolution.

use std::collections::BTreeMap;

use jiff::tz::TimeZone;
use patrol_incident::{EventKind, Incident, IncidentEvent};
use patrol_site::Site;
use serde::Serialize;
use serde_json::Value;

use crate::doc::{Block, Doc, Line};
use crate::format;
use crate::lang::{Language, Text};
use crate::sheet::state_text;
use crate::sla::business_times;

/// What a fault report is made from.
pub struct FaultInput<'a> {
    /// Shown at the top.
    pub title: String,
    /// Levels and calendars.
    pub site: &'a Site,
    /// The incident as it is now.
    pub incident: &'a Incident,
    /// Its journal (other incidents' entries are ignored), any order.
    pub journal: &'a [IncidentEvent],
    /// When the report is made.
    pub now_ms: i64,
    /// Its language.
    pub language: Language,
    /// The zone times are shown in.
    pub time_zone: TimeZone,
}

/// Why no fault report was written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FaultError {
    /// Not one of the site's two most severe levels.
    #[error(
        "incident {id} is {level}: a fault report is written for incidents of the two most severe levels ({major})"
    )]
    NotMajor {
        /// The incident.
        id: u64,
        /// Its level.
        level: String,
        /// The levels that qualify.
        major: String,
    },
}

/// The fault report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FaultReport {
    /// Shown at the top.
    pub title: String,
    /// Its language.
    pub language: Language,
    /// The zone of the times shown.
    pub time_zone: String,
    /// When it was made.
    pub now_ms: i64,
    /// The incident's particulars.
    pub incident: Facts,
    /// Each clock.
    pub deadlines: Vec<Deadline>,
    /// The journal, oldest first.
    pub timeline: Vec<Entry>,
    /// Deliveries and their outcomes, oldest first.
    pub notifications: Vec<Notification>,
}

/// The incident's particulars.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Facts {
    /// Id.
    pub id: u64,
    /// Level now.
    pub level: String,
    /// Rule (`manual` when reported by hand).
    pub rule: String,
    /// Summary line.
    pub summary: String,
    /// Host.
    pub host: String,
    /// Series labels.
    pub labels: BTreeMap<String, String>,
    /// `rule`, `phone`, ...
    pub source: String,
    /// Assigned to.
    pub assignee: Option<String>,
    /// State now.
    pub state: &'static str,
    /// Opened.
    pub opened_ms: i64,
    /// Acknowledged by.
    pub acked_by: Option<String>,
    /// Acknowledged at.
    pub acked_ms: Option<i64>,
    /// Resolved at.
    pub resolved_ms: Option<i64>,
    /// Resolved by.
    pub resolved_by: Option<String>,
    /// The resolution note.
    pub resolution: Option<String>,
    /// Opening to resolution (to now while unresolved), ms.
    pub duration_ms: i64,
    /// Business time from the clock start to the resolution, on the level's calendar.
    pub business_to_resolve_ms: Option<i64>,
}

/// One clock.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Deadline {
    /// `respond`, `fix_plan`, `resolve`.
    pub clock: &'static str,
    /// Due.
    pub due_ms: i64,
    /// Met at.
    pub met_ms: Option<i64>,
    /// `met`, `met_late`, `missed`, `not_needed`, `running`, `overdue`.
    pub standing: &'static str,
}

/// One journal entry.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Entry {
    /// Journal id.
    pub event_id: u64,
    /// When.
    pub at_ms: i64,
    /// Who.
    pub actor: String,
    /// What (`escalated`).
    pub kind: &'static str,
    /// The note given.
    pub note: Option<String>,
    /// The particulars in a few words.
    pub detail: String,
}

/// One delivery outcome (`notified` entries).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Notification {
    /// When it was confirmed or given up.
    pub at_ms: i64,
    /// Channel.
    pub channel: String,
    /// Route or escalation step it went out for.
    pub route: String,
    /// `sent` or `dead`.
    pub outcome: String,
    /// Tries.
    pub attempts: u64,
    /// The last error.
    pub error: Option<String>,
}

/// The two most severe levels of the site.
fn major_levels(site: &Site) -> Vec<String> {
    site.levels.iter().take(2).map(|l| l.name.clone()).collect()
}

/// Builds the report of a major incident.
pub fn build(input: &FaultInput<'_>) -> Result<FaultReport, FaultError> {
    let i = input.incident;
    let major = major_levels(input.site);
    if !major.contains(&i.severity) {
        return Err(FaultError::NotMajor {
            id: i.id,
            level: i.severity.clone(),
            major: major.join(", "),
        });
    }
    let mut journal: Vec<&IncidentEvent> = input
        .journal
        .iter()
        .filter(|e| e.incident.id == i.id)
        .collect();
    journal.sort_by_key(|e| (e.at_ms, e.id));
    let detail = |e: &IncidentEvent| -> Option<serde_json::Map<String, Value>> {
        match serde_json::from_str::<Value>(e.detail.as_deref()?) {
            Ok(Value::Object(m)) => Some(m),
            _ => None,
        }
    };
    let notifications = journal
        .iter()
        .filter(|e| e.kind == EventKind::Notified)
        .filter_map(|e| {
            let d = detail(e)?;
            let s = |k: &str| d.get(k).and_then(Value::as_str).map(str::to_owned);
            Some(Notification {
                at_ms: e.at_ms,
                channel: s("channel").unwrap_or_default(),
                route: s("route").unwrap_or_default(),
                outcome: s("outcome").unwrap_or_default(),
                attempts: d.get("attempts").and_then(Value::as_u64).unwrap_or(0),
                error: s("error"),
            })
        })
        .collect();
    let timeline = journal
        .iter()
        .map(|e| Entry {
            event_id: e.id,
            at_ms: e.at_ms,
            actor: e.actor.clone(),
            kind: e.kind.as_str(),
            note: e.note.clone(),
            detail: detail(e)
                .map(|d| phrase(e.kind, &d))
                .unwrap_or_else(|| e.detail.clone().unwrap_or_default()),
        })
        .collect();
    let deadlines = i
        .clocks()
        .iter()
        .map(|c| Deadline {
            clock: c.kind.as_str(),
            due_ms: c.due_ms,
            met_ms: c.met_ms,
            standing: i.standing(c, input.now_ms).as_str(),
        })
        .collect();
    let (_, business_to_resolve_ms) = business_times(input.site, i);
    Ok(FaultReport {
        title: input.title.clone(),
        language: input.language,
        time_zone: format::zone_name(&input.time_zone),
        now_ms: input.now_ms,
        incident: Facts {
            id: i.id,
            level: i.severity.clone(),
            rule: i.rule.clone(),
            summary: i.summary.clone(),
            host: i.host.clone(),
            labels: i
                .labels
                .iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
            source: i.handling.source.clone(),
            assignee: i.handling.assignee.clone(),
            state: i.state.as_str(),
            opened_ms: i.opened_ms,
            acked_by: i.acked_by.clone(),
            acked_ms: i.acked_ms,
            resolved_ms: i.resolved_ms,
            resolved_by: i.resolved_by.clone(),
            resolution: i.handling.resolution.clone(),
            duration_ms: i.resolved_ms.unwrap_or(input.now_ms) - i.opened_ms,
            business_to_resolve_ms,
        },
        deadlines,
        timeline,
        notifications,
    })
}

/// A journal entry's particulars in a few words (identifiers as stored: step, clock, level,
/// channel names). Keys not understood are shown as `key=value`.
fn phrase(kind: EventKind, d: &serde_json::Map<String, Value>) -> String {
    let s = |k: &str| d.get(k).and_then(Value::as_str).unwrap_or("?").to_owned();
    let n = |k: &str| d.get(k).and_then(Value::as_i64);
    match kind {
        EventKind::Escalated | EventKind::Reminded => {
            let targets: Vec<String> = d
                .get("targets")
                .and_then(Value::as_array)
                .map(|ts| {
                    ts.iter()
                        .map(|t| {
                            let name = t.get("name").and_then(Value::as_str).unwrap_or("?");
                            let members: Vec<&str> = t
                                .get("members")
                                .and_then(Value::as_array)
                                .map(|m| m.iter().filter_map(Value::as_str).collect())
                                .unwrap_or_default();
                            if members.is_empty() {
                                name.to_owned()
                            } else {
                                format!("{name} ({})", members.join(", "))
                            }
                        })
                        .collect()
                })
                .unwrap_or_default();
            let mut out = format!("{} #{}", s("step"), n("occurrence").unwrap_or(0));
            if !targets.is_empty() {
                out.push_str(&format!(" → {}", targets.join("; ")));
            }
            out
        }
        EventKind::Breached => s("clock"),
        EventKind::LevelChanged => format!("{} → {}", s("from"), s("to")),
        EventKind::Assigned => format!("→ {}", s("assignee")),
        EventKind::Suppressed => s("maintenance"),
        EventKind::Notified => {
            let mut out = format!(
                "{} {} ×{}",
                s("channel"),
                s("outcome"),
                n("attempts").unwrap_or(0)
            );
            if let Some(e) = d.get("error").and_then(Value::as_str) {
                out.push_str(&format!(": {e}"));
            }
            out
        }
        EventKind::Opened | EventKind::Resolved => ["respond", "fix_plan", "resolve"]
            .iter()
            .filter_map(|c| {
                let clock = d.get(*c)?.as_object()?;
                let met = clock.get("met").and_then(Value::as_bool);
                Some(match met {
                    Some(true) => format!("{c} ✓"),
                    Some(false) => format!("{c} ✗"),
                    None => (*c).to_owned(),
                })
            })
            .collect::<Vec<_>>()
            .join(", "),
        _ => d
            .iter()
            .map(|(k, v)| match v {
                Value::String(s) => format!("{k}={s}"),
                other => format!("{k}={other}"),
            })
            .collect::<Vec<_>>()
            .join(", "),
    }
}

/// The text of a journal event kind.
pub fn kind_text(kind: &str) -> Option<Text> {
    Some(match EventKind::parse(kind)? {
        EventKind::Opened => Text::EvOpened,
        EventKind::Acknowledged => Text::EvAcknowledged,
        EventKind::Assigned => Text::EvAssigned,
        EventKind::Waiting => Text::EvWaiting,
        EventKind::Commented => Text::EvCommented,
        EventKind::Planned => Text::EvPlanned,
        EventKind::Resolved => Text::EvResolved,
        EventKind::Closed => Text::EvClosed,
        EventKind::Reopened => Text::EvReopened,
        EventKind::Escalated => Text::EvEscalated,
        EventKind::Reminded => Text::EvReminded,
        EventKind::Breached => Text::EvBreached,
        EventKind::LevelChanged => Text::EvLevelChanged,
        EventKind::Flapping => Text::EvFlapping,
        EventKind::Suppressed => Text::EvSuppressed,
        EventKind::Notified => Text::EvNotified,
    })
}

/// The text of a clock standing.
pub fn standing_text(standing: &str) -> Text {
    match standing {
        "met" => Text::StandingMet,
        "met_late" => Text::StandingMetLate,
        "missed" => Text::StandingMissed,
        "not_needed" => Text::StandingNotNeeded,
        "overdue" => Text::StandingOverdue,
        _ => Text::StandingRunning,
    }
}

fn clock_text(clock: &str) -> Text {
    match clock {
        "respond" => Text::Respond,
        "fix_plan" => Text::FixPlan,
        _ => Text::Resolve,
    }
}

/// The report as blocks.
pub fn doc(r: &FaultReport) -> Doc {
    let lang = r.language;
    let t = |x: Text| x.get(lang).to_owned();
    let tz = format::zone(&r.time_zone);
    let when = |ms: i64| format::datetime(lang, ms, &tz);
    let f = &r.incident;
    let opt = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".to_owned());
    let labels: Vec<String> = f.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let mut blocks = vec![Block::Facts(vec![
        (t(Text::Incident), format!("#{}", f.id)),
        (t(Text::Level), f.level.clone()),
        (t(Text::SummaryLine), f.summary.clone()),
        (t(Text::Host), f.host.clone()),
        (t(Text::Rule), f.rule.clone()),
        (t(Text::Labels), labels.join(", ")),
        (t(Text::Source), f.source.clone()),
        (t(Text::State), t(state_text(f.state))),
        (t(Text::FactOpened), when(f.opened_ms)),
        (
            t(Text::FactAcknowledged),
            match (&f.acked_by, f.acked_ms) {
                (Some(who), Some(at)) => format!("{who} ({})", when(at)),
                _ => "-".to_owned(),
            },
        ),
        (t(Text::Assignee), opt(&f.assignee)),
        (
            t(Text::FactResolved),
            f.resolved_ms.map_or_else(|| t(Text::NotResolved), &when),
        ),
        (t(Text::Duration), format::duration(lang, f.duration_ms)),
        (
            t(Text::BusinessToResolve),
            f.business_to_resolve_ms
                .map_or_else(|| "-".to_owned(), |ms| format::duration(lang, ms)),
        ),
        (t(Text::FactResolution), opt(&f.resolution)),
    ])];
    blocks.push(Block::Heading(t(Text::Deadlines)));
    blocks.push(Block::Table {
        head: vec![
            t(Text::Clock),
            t(Text::Due),
            t(Text::MetAt),
            t(Text::Outcome),
        ],
        rows: r
            .deadlines
            .iter()
            .map(|d| Line {
                marked: matches!(d.standing, "met_late" | "missed" | "overdue"),
                cells: vec![
                    t(clock_text(d.clock)),
                    when(d.due_ms),
                    d.met_ms.map_or_else(|| "-".to_owned(), when),
                    t(standing_text(d.standing)),
                ],
            })
            .collect(),
        text_columns: 4,
    });
    blocks.push(Block::Heading(t(Text::Timeline)));
    blocks.push(Block::Table {
        head: vec![
            t(Text::Time),
            t(Text::Actor),
            t(Text::Event),
            t(Text::Detail),
            t(Text::Note),
        ],
        rows: r
            .timeline
            .iter()
            .map(|e| Line {
                marked: e.kind == "breached",
                cells: vec![
                    when(e.at_ms),
                    e.actor.clone(),
                    kind_text(e.kind).map_or_else(|| e.kind.to_owned(), &t),
                    e.detail.clone(),
                    e.note.clone().unwrap_or_default(),
                ],
            })
            .collect(),
        text_columns: 5,
    });
    blocks.push(Block::Heading(t(Text::Notifications)));
    if r.notifications.is_empty() {
        blocks.push(Block::Para(t(Text::NoNotifications)));
    } else {
        blocks.push(Block::Table {
            head: vec![
                t(Text::Time),
                t(Text::Channel),
                t(Text::Route),
                t(Text::Outcome),
                t(Text::Attempts),
            ],
            rows: r
                .notifications
                .iter()
                .map(|n| Line {
                    marked: n.outcome != "sent",
                    cells: vec![
                        when(n.at_ms),
                        n.channel.clone(),
                        n.route.clone(),
                        match &n.error {
                            Some(e) => format!("{}: {e}", n.outcome),
                            None => n.outcome.clone(),
                        },
                        n.attempts.to_string(),
                    ],
                })
                .collect(),
            text_columns: 4,
        });
    }
    Doc {
        lang,
        title: format!("{} #{}", t(Text::FaultTitle), f.id),
        subtitle: r.title.clone(),
        blocks,
    }
}

/// As a self-contained HTML page.
pub fn html(r: &FaultReport) -> String {
    doc(r).html()
}

/// As Markdown.
pub fn markdown(r: &FaultReport) -> String {
    doc(r).markdown()
}

/// As JSON.
pub fn json(r: &FaultReport) -> String {
    serde_json::to_string_pretty(r).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
}
