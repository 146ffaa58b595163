//! `/console/hosts` (the hosts agents report for) and `/console/hosts/{host}`: the host's
//! current values from the latest-value view (never the engine: a page must not hold ingest
//! back), the last 24 hours of its series from the history as SVG charts ([`super::chart`]),
//! and its incidents.

use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::response::Response;
use patrol_history::History;
use patrol_history::read::Budget;
use patrol_incident::IncidentState;
use patrol_proto::Labels;
use patrol_proto::model::now_ms;
use patrol_report::markup::esc;

use super::board::path_segment;
use super::{Nav, Refusal, blocking, html, local, page, rank_class, span};
use crate::core::Core;

/// The window the charts show.
pub const CHART_WINDOW_MS: i64 = 24 * 3_600_000;
/// Charts on one page at most; `?metric=NAME` shows one metric's series.
pub const CHARTS_MAX: usize = 24;
/// Series of one host looked at, at most.
const SERIES_MAX: usize = 2_000;
/// Samples one chart's read may touch (a day of minutes plus up to 6 h of 1 s samples).
const READ_BUDGET: u64 = 200_000;
/// The raw samples read after the newest minute aggregate (the rest comes from minutes).
const RAW_TAIL_MS: i64 = 6 * 3_600_000;
/// Newest incidents looked through for the host's list.
const INCIDENTS_SCANNED: usize = 5_000;
/// The host's incidents listed.
const INCIDENTS_SHOWN: usize = 50;

const ALL_STATES: [IncidentState; 6] = [
    IncidentState::Open,
    IncidentState::Acknowledged,
    IncidentState::Assigned,
    IncidentState::Waiting,
    IncidentState::Resolved,
    IncidentState::Closed,
];

pub async fn list(State(core): State<Arc<Core>>) -> Result<Response, Refusal> {
    let agents = core.agents.list();
    let store = core.store.clone();
    let open = blocking(move || store.open_incidents()).await?;
    let tz = super::zone(&core);
    let now = now_ms();
    let mut b = String::from(
        "<header class=\"page\"><h1>Hosts</h1></header>\n<table id=\"hosts\">\n<thead><tr><th>Host</th><th>Agent</th><th>Connection</th><th>Last seen</th><th>Open incidents</th></tr></thead>\n<tbody>\n",
    );
    for a in &agents {
        let n = open.iter().filter(|i| i.host == a.host).count();
        b.push_str(&format!(
            "<tr><td><a href=\"/console/hosts/{}\">{}</a></td><td>{}</td><td class=\"{}\">{}</td><td>{} ({} ago)</td><td class=\"num\">{n}</td></tr>\n",
            esc(&path_segment(&a.host)),
            esc(&a.host),
            esc(&a.agent_id),
            if a.connected { "ok" } else { "bad" },
            if a.connected { "connected" } else { "disconnected" },
            esc(&local(a.last_seen_ms, &tz)),
            span(now - a.last_seen_ms),
        ));
    }
    b.push_str("</tbody>\n</table>\n");
    if agents.is_empty() {
        b.push_str("<p class=\"muted\">No agent has connected since the collector started.</p>\n");
    }
    Ok(html(page("Hosts", Nav::Hosts, &b)))
}

/// Whether label text `{a="1",b="2"}` holds the pair `p` (`b="2"`) whole: quotes inside values
/// are escaped, so a match after `{` or `,` and before `,` or `}` is a pair.
fn has_pair(labels: &str, p: &str) -> bool {
    labels.match_indices(p).any(|(i, _)| {
        let before = labels[..i].chars().next_back();
        let after = labels[i + p.len()..].chars().next();
        matches!(before, Some('{' | ',')) && matches!(after, Some(',' | '}'))
    })
}

/// A series' labels without `host`, as `a="1", b="2"`.
fn other_labels(l: &Labels) -> String {
    l.iter()
        .filter(|(k, _)| *k != "host")
        .map(|(k, v)| format!("{k}=\"{v}\""))
        .collect::<Vec<_>>()
        .join(", ")
}

/// One chart's points over `[from, to]`: the minutes' min and max, then the raw samples after
/// the newest minute (at most [`RAW_TAIL_MS`] of them).
fn points(
    h: &History,
    e: &patrol_history::series::Entry,
    from: i64,
    to: i64,
) -> Vec<super::chart::Point> {
    let mut budget = Budget::new(READ_BUDGET);
    let mut out: Vec<super::chart::Point> = Vec::new();
    let mut raw_from = (to - RAW_TAIL_MS).max(from);
    match h.minutes(e, from, to, &mut budget) {
        Ok(minutes) => {
            if let Some(last) = minutes.last() {
                raw_from = raw_from.max(last.minute_ms + 60_000);
            }
            out.extend(minutes.iter().map(|m| (m.minute_ms, m.min, m.max)));
        }
        Err(err) => {
            tracing::warn!(metric = %e.name, labels = %e.labels, error = %err,
                "console chart: this series' minutes could not be read");
        }
    }
    match h.raw(e, raw_from, to, &mut budget) {
        Ok(raw) => out.extend(raw.into_iter().map(|(t, v)| (t, v, v))),
        Err(err) => {
            tracing::warn!(metric = %e.name, labels = %e.labels, error = %err,
                "console chart: this series' samples could not be read");
        }
    }
    out
}

pub async fn show(
    State(core): State<Arc<Core>>,
    Path(host): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response, Refusal> {
    let metric = super::param(q.as_deref(), "metric").filter(|m| !m.is_empty());
    let now = now_ms();
    let tz = super::zone(&core);
    let pair = {
        let one = Labels::from_pairs([("host", host.as_str())]).to_string();
        one.trim_start_matches('{').trim_end_matches('}').to_owned()
    };
    // Current values, from the published view.
    let values = {
        let core = Arc::clone(&core);
        let pair = pair.clone();
        tokio::task::spawn_blocking(move || {
            core.latest
                .snapshot_where(|_, labels, _| has_pair(labels, &pair))
        })
        .await
        .unwrap_or_default()
    };
    let stale_ms = i64::try_from(core.stale_after.as_millis()).unwrap_or(i64::MAX);
    let mut b = format!(
        "<header class=\"page\"><h1>Host {}</h1></header>\n",
        esc(&host)
    );
    b.push_str("<h2>Current values</h2>\n");
    if values.is_empty() {
        b.push_str("<p class=\"muted\">No current values for this host.</p>\n");
    } else {
        b.push_str("<table id=\"values\" class=\"rows\">\n<thead><tr><th>Metric</th><th>Labels</th><th>Value</th><th>Taken</th></tr></thead>\n<tbody>\n");
        for (name, labels, value, ts) in &values {
            let labels = labels.trim_start_matches('{').trim_end_matches('}');
            let labels = labels
                .split(',')
                .filter(|p| !p.is_empty() && *p != pair)
                .collect::<Vec<_>>()
                .join(", ");
            let stale = now - ts > stale_ms;
            b.push_str(&format!(
                "<tr{}><td><a href=\"?metric={}\">{}</a></td><td>{}</td><td class=\"num\">{}</td><td>{} ago{}</td></tr>\n",
                if stale { " class=\"stale\"" } else { "" },
                esc(&path_segment(name)),
                esc(name),
                esc(labels.as_str()),
                esc(&super::value(*value)),
                span(now - ts),
                if stale { " (stale)" } else { "" },
            ));
        }
        b.push_str("</tbody>\n</table>\n");
    }
    b.push_str(&charts(&core, &host, metric.as_deref(), now, &tz).await);
    b.push_str(&incidents(&core, &host, &tz).await?);
    Ok(html(page(&format!("Host {host}"), Nav::Hosts, &b)))
}

async fn charts(
    core: &Arc<Core>,
    host: &str,
    metric: Option<&str>,
    now: i64,
    tz: &jiff::tz::TimeZone,
) -> String {
    let Some(h) = core.history.clone() else {
        return "<h2>The last 24 hours</h2>\n<p class=\"muted\">The history is off on this collector ([history] enabled = false): no charts.</p>\n".to_owned();
    };
    let host_owned = host.to_owned();
    let metric_owned = metric.map(str::to_owned);
    let tz_owned = tz.clone();
    let from = now - CHART_WINDOW_MS;
    let drawn = tokio::task::spawn_blocking(move || {
        let mut series = match h.select(
            metric_owned.as_deref(),
            |e| e.labels.get("host") == Some(host_owned.as_str()),
            SERIES_MAX,
        ) {
            Ok(s) => s,
            Err(e) => return (Vec::new(), 0, Some(e.to_string())),
        };
        series
            .sort_by(|a, b| (&a.name, a.labels.to_string()).cmp(&(&b.name, b.labels.to_string())));
        let total = series.len();
        let svgs = series
            .iter()
            .take(CHARTS_MAX)
            .map(|e| {
                let title = match other_labels(&e.labels) {
                    l if l.is_empty() => e.name.clone(),
                    l => format!("{}{{{l}}}", e.name),
                };
                let pts = points(&h, e, from, now);
                let label = |ms: i64| local(ms, &tz_owned);
                (
                    title.clone(),
                    super::chart::svg(&title, &pts, from, now, label),
                )
            })
            .collect::<Vec<_>>();
        (svgs, total, None)
    })
    .await
    .unwrap_or_else(|e| (Vec::new(), 0, Some(e.to_string())));
    let (svgs, total, error) = drawn;
    let mut out = format!(
        "<h2>The last 24 hours{}</h2>\n",
        metric.map_or_else(String::new, |m| format!(": {}", esc(m)))
    );
    if let Some(e) = error {
        out.push_str(&format!(
            "<p class=\"error\">The history could not be read: {}</p>\n",
            esc(&e)
        ));
        return out;
    }
    if svgs.is_empty() {
        out.push_str("<p class=\"muted\">No history for this host.</p>\n");
    }
    for (title, svg) in &svgs {
        out.push_str(&format!(
            "<figure class=\"chart\"><figcaption>{}</figcaption>{svg}</figure>\n",
            esc(title)
        ));
    }
    if total > svgs.len() {
        out.push_str(&format!(
            "<p class=\"muted\">{} more series: pick a metric in the table above, or use patrolctl query.</p>\n",
            total - svgs.len()
        ));
    }
    if metric.is_some() {
        out.push_str("<p><a href=\"?\">All metrics</a></p>\n");
    }
    out
}

async fn incidents(
    core: &Arc<Core>,
    host: &str,
    tz: &jiff::tz::TimeZone,
) -> Result<String, Refusal> {
    let store = core.store.clone();
    let all = blocking(move || store.list(&ALL_STATES, INCIDENTS_SCANNED)).await?;
    let mine: Vec<_> = all
        .into_iter()
        .filter(|i| i.host == host)
        .take(INCIDENTS_SHOWN)
        .collect();
    let mut out = String::from("<h2>Incidents</h2>\n");
    if mine.is_empty() {
        out.push_str("<p class=\"muted\">No recent incidents on this host.</p>\n");
        return Ok(out);
    }
    out.push_str("<table id=\"host-incidents\">\n<thead><tr><th>#</th><th>Level</th><th>State</th><th>Summary</th><th>Opened</th></tr></thead>\n<tbody>\n");
    for i in &mine {
        out.push_str(&format!(
            "<tr><td class=\"num\"><a href=\"/console/incidents/{id}\">#{id}</a></td><td><span class=\"level {c}\">{l}</span></td><td>{s}</td><td>{sum}</td><td>{o}</td></tr>\n",
            id = i.id,
            c = rank_class(core, &i.severity),
            l = esc(&i.severity),
            s = i.state.as_str(),
            sum = esc(&i.summary),
            o = esc(&local(i.opened_ms, tz)),
        ));
    }
    out.push_str("</tbody>\n</table>\n");
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_host_pair_matches_whole() {
        assert!(has_pair("{host=\"db\",mount=\"/\"}", "host=\"db\""));
        assert!(!has_pair("{host=\"db2\"}", "host=\"db\""));
        assert!(!has_pair("{x=\"host=\\\"db\\\"\"}", "host=\"db\""));
    }
}
