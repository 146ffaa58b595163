//! Routing (`[[route]]` in the site file): which incident changes go to which channels, by
//! level, event kind, labels and service calendar, with the per-route rate limit and grouping
//! settings the dispatcher applies.
//!
//! ```toml
//! [[route]]
//! name = "office-hours-db"
//! levels = ["P1", "P2"]            # default: every level
//! kinds = ["opened", "escalated"]  # default: every kind
//! match = '{role="db"}'            # default: every series
//! calendar = "office"              # only during this calendar's working time
//! channels = ["email", "sms"]
//! rate_limit = "20/1h"             # at most 20 messages per hour on this route
//! group_by = ["rule"]              # changes with equal values within group_wait: one message
//! group_wait = "30s"
//! stop = true                      # later routes are not considered for a matching change
//! ```
//!
//! Every route that matches contributes its channels (each channel once per change), in file
//! order, until a matching route with `stop = true`. [`select`] is pure: it takes the change
//! and the calendars and returns, for each route, the reason it matched or did not.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use patrol_rules::{Matcher, parse_matchers, value_offset};
use serde::Deserialize;
use toml::Spanned;

use super::config::Report;
use super::message::Message;
use crate::calendar::Calendar;
use patrol_incident::EventKind;

/// A checked route.
#[derive(Debug, Clone)]
pub struct Route {
    /// Unique name, for logs and counters.
    pub name: String,
    /// Levels it takes (empty: all).
    pub levels: Vec<String>,
    /// Event kinds it takes (empty: all).
    pub kinds: Vec<EventKind>,
    /// Label matchers that must all match the incident's labels.
    pub matchers: Vec<Matcher>,
    /// Only during (`Inside`) or outside (`Outside`) a calendar's working time.
    pub hours: Option<Hours>,
    /// Channels, in file order.
    pub channels: Vec<String>,
    /// At most this many messages per window on this route.
    pub rate_limit: Option<RateLimit>,
    /// Changes with equal values of these labels within `wait` become one message.
    pub group: Option<Grouping>,
    /// A matching route ends the selection.
    pub stop: bool,
}

/// A calendar condition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hours {
    /// During the calendar's working time.
    Inside(String),
    /// Outside it (nights, weekends, holidays).
    Outside(String),
}

/// `count` messages per `per`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Messages allowed per window.
    pub count: u32,
    /// The window.
    pub per: Duration,
}

/// Grouping settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grouping {
    /// Labels (or `rule`, `level`, `host`) whose values form a group.
    pub by: Vec<String>,
    /// How long a group collects changes before it is sent.
    pub wait: Duration,
}

/// Why a route did or did not take a change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// It matched.
    Matched,
    /// The level is not one of `levels`.
    Level,
    /// The kind is not one of `kinds`.
    Kind,
    /// A label matcher failed.
    Labels,
    /// The change happened outside the calendar's working time (route wants inside).
    OutsideHours,
    /// The change happened during working time (route wants outside).
    InsideHours,
    /// An earlier matching route had `stop = true`.
    Stopped,
}

impl Route {
    /// Whether this route takes `msg`, and if not, why.
    pub fn decide(&self, msg: &Message, calendars: &HashMap<String, Arc<Calendar>>) -> Decision {
        if !self.levels.is_empty() && !self.levels.contains(&msg.level) {
            return Decision::Level;
        }
        if !self.kinds.is_empty()
            && !EventKind::parse(&msg.kind).is_some_and(|k| self.kinds.contains(&k))
        {
            return Decision::Kind;
        }
        let label = |name: &str| msg.labels.get(name).map_or("", String::as_str);
        if !self.matchers.iter().all(|m| m.matches(label(&m.name))) {
            return Decision::Labels;
        }
        let at = msg.payload.time.ms;
        // A checked site has every calendar a route names; a missing one counts as 7x24.
        let working = |cal: &str| calendars.get(cal).is_none_or(|c| c.is_working(at));
        match &self.hours {
            Some(Hours::Inside(c)) if !working(c) => Decision::OutsideHours,
            Some(Hours::Outside(c)) if working(c) => Decision::InsideHours,
            _ => Decision::Matched,
        }
    }
}

/// Each route's decision for `msg`, in order, and the channels selected (each once, in the
/// order routes and their channel lists name them).
pub fn select<'r>(
    routes: &'r [Route],
    msg: &Message,
    calendars: &HashMap<String, Arc<Calendar>>,
) -> (Vec<(&'r str, Decision)>, Vec<&'r str>) {
    let mut decisions = Vec::with_capacity(routes.len());
    let mut channels: Vec<&str> = Vec::new();
    let mut stopped = false;
    for r in routes {
        let d = if stopped {
            Decision::Stopped
        } else {
            r.decide(msg, calendars)
        };
        if d == Decision::Matched {
            for c in &r.channels {
                if !channels.contains(&c.as_str()) {
                    channels.push(c);
                }
            }
            stopped = r.stop;
        }
        decisions.push((r.name.as_str(), d));
    }
    (decisions, channels)
}

/// `[[route]]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRoute {
    name: Spanned<String>,
    channels: Vec<Spanned<String>>,
    #[serde(default)]
    levels: Vec<Spanned<String>>,
    #[serde(default)]
    kinds: Vec<Spanned<String>>,
    #[serde(rename = "match")]
    matchers: Option<Spanned<String>>,
    calendar: Option<Spanned<String>>,
    outside_calendar: Option<Spanned<String>>,
    rate_limit: Option<Spanned<String>>,
    #[serde(default)]
    group_by: Vec<String>,
    group_wait: Option<Spanned<String>>,
    #[serde(default)]
    stop: bool,
}

impl RawRoute {
    /// The route's name as written (inspection schedules may send through a route).
    pub(crate) fn name(&self) -> &str {
        self.name.get_ref()
    }
}

/// What routes may refer to.
pub struct Known<'a> {
    /// Defined channel names.
    pub channels: &'a BTreeSet<String>,
    /// Level names.
    pub levels: &'a [String],
    /// Calendar names (`24x7` included).
    pub calendars: &'a BTreeSet<String>,
}

/// Checks every route; problems go to `report` at their position in `src`.
pub fn check(
    raw: Vec<Spanned<RawRoute>>,
    known: &Known<'_>,
    src: &str,
    report: Report<'_>,
) -> Vec<Route> {
    let mut routes = Vec::new();
    let mut names = BTreeSet::new();
    for r in raw {
        let r = r.into_inner();
        let name = r.name.get_ref().clone();
        let mut failed = false;
        let mut err = |at: usize, msg: String| {
            failed = true;
            report(at, format!("route '{name}': {msg}"));
        };
        if !names.insert(name.clone()) {
            err(r.name.span().start, "is defined twice".to_owned());
        }
        if r.channels.is_empty() {
            err(
                r.name.span().start,
                "'channels' is empty: name at least one channel".to_owned(),
            );
        }
        for c in &r.channels {
            if !known.channels.contains(c.get_ref()) {
                err(
                    c.span().start,
                    format!(
                        "channel '{}' is not defined (add a [channel.{}] table)",
                        c.get_ref(),
                        c.get_ref()
                    ),
                );
            }
        }
        for l in &r.levels {
            if !known.levels.contains(l.get_ref()) {
                err(
                    l.span().start,
                    format!(
                        "level '{}' is not defined (levels: {})",
                        l.get_ref(),
                        known.levels.join(", ")
                    ),
                );
            }
        }
        let mut kinds = Vec::new();
        for k in &r.kinds {
            match EventKind::parse(k.get_ref()) {
                Some(kind) => kinds.push(kind),
                None => err(
                    k.span().start,
                    format!(
                        "unknown event kind '{}' (e.g. opened, acknowledged, escalated, resolved)",
                        k.get_ref()
                    ),
                ),
            }
        }
        let matchers = match &r.matchers {
            Some(m) => match parse_matchers(m.get_ref()) {
                Ok(ms) => ms,
                Err(e) => {
                    err(value_offset(src, &m.span(), e.offset), e.message);
                    Vec::new()
                }
            },
            None => Vec::new(),
        };
        let hours = match (&r.calendar, &r.outside_calendar) {
            (Some(_), Some(o)) => {
                err(
                    o.span().start,
                    "give either 'calendar' or 'outside_calendar', not both".to_owned(),
                );
                None
            }
            (Some(c), None) => Some((c, Hours::Inside(c.get_ref().clone()))),
            (None, Some(c)) => Some((c, Hours::Outside(c.get_ref().clone()))),
            (None, None) => None,
        };
        if let Some((c, _)) = &hours
            && !known.calendars.contains(c.get_ref())
        {
            err(
                c.span().start,
                format!("calendar '{}' is not defined", c.get_ref()),
            );
        }
        let rate_limit = r
            .rate_limit
            .as_ref()
            .and_then(|s| match parse_rate(s.get_ref()) {
                Ok(rl) => Some(rl),
                Err(msg) => {
                    err(s.span().start, msg);
                    None
                }
            });
        let group = match (&r.group_wait, r.group_by.is_empty()) {
            (Some(w), false) => match humantime::parse_duration(w.get_ref().trim()) {
                Ok(wait) => Some(Grouping {
                    by: r.group_by.clone(),
                    wait,
                }),
                Err(e) => {
                    err(
                        w.span().start,
                        format!("invalid duration '{}' for 'group_wait': {e}", w.get_ref()),
                    );
                    None
                }
            },
            (Some(w), true) => {
                err(w.span().start, "'group_wait' needs 'group_by'".to_owned());
                None
            }
            (None, false) => {
                err(
                    r.name.span().start,
                    "'group_by' needs 'group_wait' (e.g. \"30s\")".to_owned(),
                );
                None
            }
            (None, true) => None,
        };
        if !failed {
            routes.push(Route {
                name,
                levels: r.levels.into_iter().map(Spanned::into_inner).collect(),
                kinds,
                matchers,
                hours: hours.map(|(_, h)| h),
                channels: r.channels.into_iter().map(Spanned::into_inner).collect(),
                rate_limit,
                group,
                stop: r.stop,
            });
        }
    }
    routes
}

/// `"20/1h"`, `"5/10m"`.
pub fn parse_rate(s: &str) -> Result<RateLimit, String> {
    let bad = || format!("invalid rate_limit '{s}': write COUNT/PERIOD, e.g. \"20/1h\"");
    let (count, per) = s.split_once('/').ok_or_else(bad)?;
    let count: u32 = count.trim().parse().map_err(|_| bad())?;
    let per = humantime::parse_duration(per.trim()).map_err(|_| bad())?;
    if count == 0 || per.is_zero() {
        return Err(format!(
            "rate_limit '{s}' allows nothing: count and period must be above zero"
        ));
    }
    Ok(RateLimit { count, per })
}

#[cfg(test)]
#[path = "route_tests.rs"]
mod tests;
