//! The incident board, `/console`: the open incidents, most severe first, each with its level
//! colour and the countdown of its nearest deadline. The first paint is rendered here; the
//! script then follows `/console/events` ([`super::events`]), which sends rows rendered by
//! the same [`row`], so the board looks the same however a row arrived.

use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;
use patrol_incident::Incident;
use patrol_proto::model::now_ms;
use patrol_report::markup::esc;

use super::{Nav, Refusal, blocking, html, local, page, rank_class, span};
use crate::core::Core;

/// Rows the board shows at most; past it a line says how many more are open, since a board
/// of thousands helps nobody and would cost every browser the page.
pub const BOARD_MAX: usize = 500;

/// Sorted for the board: most severe first (unknown levels last), then newest first.
pub fn sort(core: &Core, incidents: &mut [Incident]) {
    let levels = core.levels();
    incidents.sort_by_key(|i| {
        (
            levels.rank(&i.severity).unwrap_or(usize::MAX),
            std::cmp::Reverse(i.id),
        )
    });
}

/// The unmet running clock of `i` that comes first: (name, due).
fn nearest(i: &Incident, now: i64) -> Option<(&'static str, i64)> {
    i.clocks()
        .into_iter()
        .filter(|c| i.standing(c, now).left_ms().is_some())
        .min_by_key(|c| c.due_ms)
        .map(|c| (c.kind.as_str(), c.due_ms))
}

/// A ticking deadline: the script recomputes its text every second from `data-due`.
pub fn clock(kind: &str, due_ms: i64, now: i64) -> String {
    let text = if due_ms >= now {
        format!("{} left", span(due_ms - now))
    } else {
        format!("{} overdue", span(now - due_ms))
    };
    format!(
        "<span class=\"clock{}\" data-due=\"{due_ms}\" data-kind=\"{}\">{} {text}</span>",
        if due_ms < now { " overdue" } else { "" },
        esc(kind),
        esc(kind)
    )
}

/// One incident's row; `data-rank` and `data-id` let the script keep the board's order.
pub fn row(core: &Core, i: &Incident, now: i64, tz: &jiff::tz::TimeZone) -> String {
    let rank = core.levels().rank(&i.severity).unwrap_or(usize::MAX);
    let clock = nearest(i, now).map_or_else(|| "–".to_owned(), |(k, due)| clock(k, due, now));
    format!(
        "<tr id=\"incident-{id}\" class=\"{class} state-{state}\" data-id=\"{id}\" data-rank=\"{rank}\" data-rule=\"{rule}\">\
         <td class=\"num\"><a href=\"/console/incidents/{id}\">#{id}</a></td>\
         <td><span class=\"level {class}\">{level}</span></td>\
         <td class=\"state\">{state}</td>\
         <td><a href=\"/console/hosts/{host_url}\">{host}</a></td>\
         <td class=\"summary\">{summary}</td>\
         <td>{rule}</td>\
         <td class=\"when\">{opened}</td>\
         <td class=\"who\">{who}</td>\
         <td>{clock}</td></tr>",
        id = i.id,
        class = rank_class(core, &i.severity),
        state = i.state.as_str(),
        rule = esc(&i.rule),
        level = esc(&i.severity),
        host_url = esc(&path_segment(&i.host)),
        host = esc(&i.host),
        summary = esc(&i.summary),
        opened = esc(&local(i.opened_ms, tz)),
        who = esc(i
            .handling
            .assignee
            .as_deref()
            .or(i.acked_by.as_deref())
            .unwrap_or("")),
    )
}

/// `s` percent-encoded for one path segment (host names are agent input).
pub fn path_segment(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

/// The board's rows for `incidents` (sorted, at most [`BOARD_MAX`]) and how many were left
/// out.
pub fn rows(core: &Core, mut incidents: Vec<Incident>, now: i64) -> (Vec<String>, usize) {
    sort(core, &mut incidents);
    let tz = super::zone(core);
    let more = incidents.len().saturating_sub(BOARD_MAX);
    let rows = incidents
        .iter()
        .take(BOARD_MAX)
        .map(|i| row(core, i, now, &tz))
        .collect();
    (rows, more)
}

pub async fn show(State(core): State<Arc<Core>>) -> Result<Response, Refusal> {
    let store = core.store.clone();
    let open = blocking(move || store.open_incidents()).await?;
    let now = now_ms();
    let (rows, more) = rows(&core, open, now);
    let mut b = String::from(
        "<header class=\"page\"><h1>Incident board</h1>\
         <p class=\"live\" id=\"live\" data-state=\"connecting\">live updates: connecting…</p></header>\n",
    );
    b.push_str(&legend(&core));
    b.push_str(&format!(
        "<table class=\"board\" id=\"board\" data-now=\"{now}\">\n<thead><tr><th>#</th><th>Level</th><th>State</th>\
         <th>Host</th><th>Summary</th><th>Rule</th><th>Opened</th><th>Taken by</th><th>Next deadline</th></tr></thead>\n\
         <tbody id=\"board-rows\">\n"
    ));
    for r in &rows {
        b.push_str(r);
        b.push('\n');
    }
    b.push_str("</tbody>\n</table>\n");
    b.push_str(&format!(
        "<p id=\"board-empty\" class=\"muted\"{}>No open incidents.</p>\n<p id=\"board-more\" class=\"muted\"{}>{}</p>\n",
        if rows.is_empty() { "" } else { " hidden" },
        if more == 0 { " hidden" } else { "" },
        more_text(more)
    ));
    Ok(html(page("Incident board", Nav::Board, &b)))
}

/// The line under a board cut at [`BOARD_MAX`].
pub fn more_text(more: usize) -> String {
    format!(
        "and {more} more open incidents, less severe or older (patrolctl incidents list shows all)"
    )
}

/// The site's levels with their colours and meanings.
fn legend(core: &Core) -> String {
    let site = patrol_site::current(&core.site);
    let mut out = String::from("<p class=\"legend\">");
    for l in &site.levels {
        out.push_str(&format!(
            "<span class=\"level {}\" title=\"{}\">{}</span> ",
            rank_class(core, &l.name),
            esc(&l.meaning),
            esc(&l.name)
        ));
    }
    out.push_str("</p>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_names_are_one_path_segment() {
        assert_eq!(path_segment("db01"), "db01");
        assert_eq!(path_segment("a/b c"), "a%2Fb%20c");
        assert_eq!(path_segment("<x>"), "%3Cx%3E");
    }

    #[test]
    fn a_clock_says_left_or_overdue() {
        assert_eq!(
            clock("respond", 70_000, 10_000),
            "<span class=\"clock\" data-due=\"70000\" data-kind=\"respond\">respond 1m 0s left</span>"
        );
        assert!(clock("resolve", 0, 5_000).contains("resolve 5s overdue"));
    }
}
