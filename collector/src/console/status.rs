//! `/console/status`: the rules in force (how many, from where, the last reload's time and
//! outcome with every error of a refused one), the site (levels, calendars, inspection
//! schedules with their next times), the agents connected and disconnected, and links to the
//! records under `/reports/`.

use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;
use patrol_proto::model::now_ms;
use patrol_report::markup::esc;

use super::metrics::Outcome;
use super::{Nav, Refusal, html, local, page, rank_class, span};
use crate::core::Core;

/// Rules listed at most (the count is always whole).
const RULES_SHOWN: usize = 500;
/// Next inspection times listed per schedule.
const NEXT_TIMES: usize = 3;

fn outcome(what: &str, o: Option<Outcome>, started_ms: i64, tz: &jiff::tz::TimeZone) -> String {
    match o {
        None => format!(
            "<p id=\"{what}-reload\" class=\"ok\">Loaded at start, {}; not reloaded since.</p>\n",
            esc(&local(started_ms, tz))
        ),
        Some(o) if o.errors.is_empty() => format!(
            "<p id=\"{what}-reload\" class=\"ok\">Last reload {}: applied ({} rules in force).</p>\n",
            esc(&local(o.at_ms, tz)),
            o.rules
        ),
        Some(o) => format!(
            "<p id=\"{what}-reload\" class=\"bad\">Last reload {}: <strong>refused</strong>; the collector keeps running on the last good {what} ({} rules in force).</p>\n<pre class=\"errors\">{}</pre>\n",
            esc(&local(o.at_ms, tz)),
            o.rules,
            esc(&o.errors.join("\n"))
        ),
    }
}

pub async fn show(State(core): State<Arc<Core>>) -> Result<Response, Refusal> {
    let now = now_ms();
    let tz = super::zone(&core);
    let reloads = &core.telemetry.reloads;
    let mut b = String::from("<header class=\"page\"><h1>Status</h1></header>\n");

    // Rules.
    let (rules, counts) = core.rules_with_states();
    b.push_str(&format!(
        "<h2>Rules</h2>\n<p id=\"rules-count\">{} rules in force from <code>{}</code>.</p>\n",
        rules.len(),
        esc(&core.rules_dir.display().to_string())
    ));
    b.push_str(&outcome("rules", reloads.rules(), reloads.started_ms, &tz));
    b.push_str("<table id=\"rules\" class=\"rows\">\n<thead><tr><th>Rule</th><th>Level</th><th>Expression</th><th>File</th><th>Pending</th><th>Firing</th></tr></thead>\n<tbody>\n");
    for (i, r) in rules.rules().iter().enumerate().take(RULES_SHOWN) {
        let c = counts.get(i).copied().unwrap_or_default();
        b.push_str(&format!(
            "<tr><td>{}</td><td><span class=\"level {}\">{}</span></td><td><code>{}</code></td><td>{}:{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>\n",
            esc(&r.name),
            rank_class(&core, &r.severity.name),
            esc(&r.severity.name),
            esc(&r.expr.to_string()),
            esc(&r.file),
            r.line,
            c.pending,
            c.firing
        ));
    }
    b.push_str("</tbody>\n</table>\n");
    if rules.len() > RULES_SHOWN {
        b.push_str(&format!(
            "<p class=\"muted\">{} more: patrolctl rules list shows all.</p>\n",
            rules.len() - RULES_SHOWN
        ));
    }

    // Site.
    let site = patrol_site::current(&core.site);
    b.push_str(&format!(
        "<h2>Site</h2>\n<p>{}</p>\n",
        match &core.site_path {
            Some(p) => format!("From <code>{}</code>.", esc(&p.display().to_string())),
            None => "The built-in default site (no --site file).".to_owned(),
        }
    ));
    if core.site_path.is_some() {
        b.push_str(&outcome("site", reloads.site(), reloads.started_ms, &tz));
    }
    b.push_str("<table id=\"levels\">\n<thead><tr><th>Level</th><th>Meaning</th><th>Respond</th><th>Fix plan</th><th>Resolve</th><th>Calendar</th></tr></thead>\n<tbody>\n");
    for l in &site.levels {
        let d = |d: std::time::Duration| span(i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        b.push_str(&format!(
            "<tr><td><span class=\"level {}\">{}</span></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
            rank_class(&core, &l.name),
            esc(&l.name),
            esc(&l.meaning),
            d(l.respond),
            l.fix_plan.map_or_else(|| "–".to_owned(), d),
            d(l.resolve),
            esc(&l.calendar)
        ));
    }
    b.push_str("</tbody>\n</table>\n");
    let mut calendars: Vec<_> = site.calendars.values().collect();
    calendars.sort_by(|a, b| a.name().cmp(b.name()));
    b.push_str("<h3>Calendars</h3>\n<ul id=\"calendars\">\n");
    for c in calendars {
        b.push_str(&format!(
            "<li>{} ({}; {} now)</li>\n",
            esc(c.name()),
            esc(&patrol_report::format::zone_name(c.time_zone())),
            if c.is_working(now) {
                "in service time"
            } else {
                "outside service time"
            }
        ));
    }
    b.push_str("</ul>\n<h3>Inspection schedules</h3>\n");
    if site.inspections.is_empty() {
        b.push_str("<p class=\"muted\">The site has no [[inspection]] schedule.</p>\n");
    } else {
        b.push_str("<table id=\"inspections\">\n<thead><tr><th>Schedule</th><th>Calendar</th><th>Times</th><th>Next</th></tr></thead>\n<tbody>\n");
        for s in &site.inspections {
            let times =
                s.at.iter()
                    .map(|m| format!("{:02}:{:02}", m / 60, m % 60))
                    .collect::<Vec<_>>()
                    .join(", ");
            let next = match site.calendar_named(&s.calendar) {
                Some(cal) => {
                    let mut out = Vec::new();
                    let mut t = now;
                    while out.len() < NEXT_TIMES {
                        match s.next_after(&cal, t) {
                            Some(n) => {
                                out.push(local(n, cal.time_zone()));
                                t = n;
                            }
                            None => break,
                        }
                    }
                    if out.is_empty() {
                        "none in the next two years".to_owned()
                    } else {
                        out.join(" · ")
                    }
                }
                None => "its calendar is missing".to_owned(),
            };
            b.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
                esc(&s.name),
                esc(&s.calendar),
                esc(&times),
                esc(&next)
            ));
        }
        b.push_str("</tbody>\n</table>\n");
    }

    // Agents.
    let agents = core.agents.list();
    let up = agents.iter().filter(|a| a.connected).count();
    b.push_str(&format!(
        "<h2>Agents</h2>\n<p id=\"agents-count\">{up} connected, {} disconnected.</p>\n",
        agents.len() - up
    ));
    if !agents.is_empty() {
        b.push_str("<table id=\"agents\">\n<thead><tr><th>Agent</th><th>Host</th><th>Connection</th><th>Since</th><th>Last seen</th><th>Version</th><th>Samples</th></tr></thead>\n<tbody>\n");
        for a in &agents {
            b.push_str(&format!(
                "<tr><td>{}</td><td><a href=\"/console/hosts/{}\">{}</a></td><td class=\"{}\">{}</td><td>{}</td><td>{} ago</td><td>{}</td><td class=\"num\">{}</td></tr>\n",
                esc(&a.agent_id),
                esc(&super::board::path_segment(&a.host)),
                esc(&a.host),
                if a.connected { "ok" } else { "bad" },
                if a.connected { "connected" } else { "disconnected" },
                esc(&local(a.connected_ms, &tz)),
                span(now - a.last_seen_ms),
                esc(&a.version),
                a.samples
            ));
        }
        b.push_str("</tbody>\n</table>\n");
    }

    // Records: the SLA report of this month so far.
    let today = jiff::Timestamp::from_millisecond(now)
        .map(|t| t.to_zoned(tz.clone()).date())
        .unwrap_or_default();
    let month_start = today.first_of_month();
    let tomorrow = today.tomorrow().unwrap_or(today);
    b.push_str(&format!(
        "<h2>Records</h2>\n<ul id=\"records\">\n\
         <li><a href=\"/reports/\">Inspection sheets</a> (archive)</li>\n\
         <li><a href=\"/reports/sheets?now=1\">Inspection sheet as of now</a></li>\n\
         <li><a href=\"/reports/monthly\">Monthly summary (last month)</a></li>\n\
         <li><a href=\"/reports/sla?from={month_start}&amp;to={tomorrow}\">SLA report of this month</a></li>\n</ul>\n",
    ));
    Ok(html(page("Status", Nav::Status, &b)))
}
