//! `/console/incidents/{id}`: one incident's fields, its deadlines — met, met late, missed,
//! running, overdue — from `patrol_incident::Standing` (the numbers `patrolctl incidents show`
//! prints and the SLA report counts), its journal, and for an operator the write buttons
//! ([`super::write`]; hidden until the script knows who is signed in).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use patrol_incident::{Incident, Standing};
use patrol_proto::model::now_ms;
use patrol_report::markup::esc;

use super::board::{clock, path_segment};
use super::{Nav, Refusal, blocking, html, local, page, rank_class, span};
use crate::core::Core;

/// Journal entries shown (the newest); `patrolctl incidents show` pages further.
const JOURNAL_SHOWN: u32 = 1000;

pub async fn show(
    State(core): State<Arc<Core>>,
    Path(id): Path<String>,
) -> Result<Response, Refusal> {
    let id: u64 = id.parse().map_err(|_| {
        Refusal(
            StatusCode::BAD_REQUEST,
            format!(
                "'{}' is not an incident number",
                id.chars().take(40).collect::<String>()
            ),
        )
    })?;
    let store = core.store.clone();
    let (incident, journal) = blocking(move || {
        let Some(i) = store.get(id)? else {
            return Err(patrol_store::StoreError::NotFound(id));
        };
        Ok((i, store.journal_newest(id, JOURNAL_SHOWN)?))
    })
    .await?;
    let now = now_ms();
    let tz = super::zone(&core);
    let mut b = String::new();
    let i = &incident;
    b.push_str(&format!(
        "<header class=\"page\"><h1><span class=\"level {class}\">{level}</span> #{id} {summary}</h1>\
         <p class=\"muted\">{state} · rule {rule} · on <a href=\"/console/hosts/{host_url}\">{host}</a></p></header>\n",
        class = rank_class(&core, &i.severity),
        level = esc(&i.severity),
        id = i.id,
        summary = esc(&i.summary),
        state = i.state.as_str(),
        rule = esc(&i.rule),
        host_url = esc(&path_segment(&i.host)),
        host = esc(&i.host),
    ));
    b.push_str(&actions(i));
    b.push_str(&fields(i, &tz));
    b.push_str(&deadlines(i, now, &tz));
    b.push_str(&journal_table(&journal.0, journal.1, &tz));
    if core.levels().rank(&i.severity).is_some_and(|r| r <= 1) {
        b.push_str(&format!(
            "<p><a href=\"/reports/fault/{}\">Fault report</a></p>\n",
            i.id
        ));
    }
    Ok(html(page(
        &format!("#{} {}", i.id, i.summary),
        Nav::None,
        &b,
    )))
}

fn fields(i: &Incident, tz: &jiff::tz::TimeZone) -> String {
    let t = |ms: Option<i64>| ms.map_or_else(String::new, |ms| local(ms, tz));
    let o = |s: Option<&str>| s.unwrap_or("").to_owned();
    let labels = i
        .labels
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(", ");
    let rows: Vec<(&str, String)> = vec![
        ("State", i.state.as_str().to_owned()),
        ("Level", i.severity.clone()),
        ("Rule", i.rule.clone()),
        ("Host", i.host.clone()),
        ("Labels", labels),
        ("Value", super::value(i.value)),
        ("Source", i.handling.source.clone()),
        ("Opened", local(i.opened_ms, tz)),
        ("Updated", local(i.updated_ms, tz)),
        ("Acknowledged by", o(i.acked_by.as_deref())),
        ("Acknowledged at", t(i.acked_ms)),
        ("Assigned to", o(i.handling.assignee.as_deref())),
        ("Resolved at", t(i.resolved_ms)),
        ("Resolved by", o(i.resolved_by.as_deref())),
        ("Resolution", o(i.handling.resolution.as_deref())),
        (
            "Flapping",
            if i.handling.flapping { "yes" } else { "no" }.to_owned(),
        ),
        ("Reopened", i.handling.reopened.to_string()),
    ];
    let mut out = String::from("<h2>Incident</h2>\n<dl class=\"meta\" id=\"fields\">\n");
    for (k, v) in rows.into_iter().filter(|(_, v)| !v.is_empty()) {
        out.push_str(&format!("<dt>{k}</dt><dd>{}</dd>\n", esc(&v)));
    }
    out.push_str("</dl>\n");
    out
}

/// The deadlines table: each clock's due time, when it was met, and where it stands.
fn deadlines(i: &Incident, now: i64, tz: &jiff::tz::TimeZone) -> String {
    let clocks = i.clocks();
    if clocks.is_empty() {
        return "<h2>Deadlines</h2>\n<p class=\"muted\">This incident's level has no deadlines.</p>\n".to_owned();
    }
    let mut out = String::from(
        "<h2>Deadlines</h2>\n<table id=\"deadlines\">\n<thead><tr><th>Clock</th><th>Due</th><th>Met</th><th>Status</th><th>Standing</th></tr></thead>\n<tbody>\n",
    );
    for c in &clocks {
        let s = i.standing(c, now);
        let standing = match s {
            Standing::Met => "met in time".to_owned(),
            Standing::MetLate { late_ms } => format!("met {} late", span(late_ms)),
            Standing::Missed => "missed".to_owned(),
            Standing::NotNeeded => "not needed (ended before it was due)".to_owned(),
            Standing::Running { .. } | Standing::Overdue { .. } => {
                clock(c.kind.as_str(), c.due_ms, now)
            }
        };
        let standing = if matches!(s, Standing::Running { .. } | Standing::Overdue { .. }) {
            standing
        } else {
            esc(&standing)
        };
        out.push_str(&format!(
            "<tr data-clock=\"{kind}\" class=\"standing-{status}\"><td>{kind}</td><td>{due}</td><td>{met}</td><td class=\"status\">{status}</td><td>{standing}</td></tr>\n",
            kind = c.kind.as_str(),
            due = esc(&local(c.due_ms, tz)),
            met = esc(&c.met_ms.map_or_else(String::new, |ms| local(ms, tz))),
            status = s.as_str(),
        ));
    }
    out.push_str("</tbody>\n</table>\n");
    out
}

fn journal_table(
    entries: &[patrol_store::JournalEntry],
    total: u64,
    tz: &jiff::tz::TimeZone,
) -> String {
    let mut out = format!(
        "<h2>Journal</h2>\n{}<table id=\"journal\" class=\"rows\">\n<thead><tr><th>When</th><th>What</th><th>Who</th><th>State</th><th>Note</th></tr></thead>\n<tbody>\n",
        if total > entries.len() as u64 {
            format!(
                "<p class=\"muted\">The newest {} of {total} entries (patrolctl incidents show --journal-limit shows more).</p>\n",
                entries.len()
            )
        } else {
            String::new()
        }
    );
    for e in entries {
        out.push_str(&format!(
            "<tr data-kind=\"{kind}\"><td class=\"when\">{when}</td><td>{kind}</td><td class=\"actor\">{actor}</td><td>{state}</td><td>{note}</td></tr>\n",
            when = esc(&local(e.at_ms, tz)),
            kind = esc(&e.kind),
            actor = esc(&e.actor),
            state = esc(&e.state),
            note = esc(e.note.as_deref().unwrap_or("")),
        ));
    }
    out.push_str("</tbody>\n</table>\n");
    out
}

/// The write buttons, hidden: the script shows them when the identity it is signed in with
/// has the operator role (the server checks again on every write).
fn actions(i: &Incident) -> String {
    format!(
        "<section id=\"actions\" class=\"actions noprint\" data-id=\"{id}\" hidden>\n\
         <h2>Handle</h2>\n\
         <p id=\"by-row\" hidden><label>Who acts (this identity is shared) <input id=\"by\" autocomplete=\"name\" maxlength=\"256\"></label></p>\n\
         <p><label>Note <textarea id=\"note\" rows=\"2\" maxlength=\"16384\"></textarea></label></p>\n\
         <p><button type=\"button\" data-op=\"ack\" id=\"do-ack\">Acknowledge</button>\n\
         <label>Assign to <input id=\"to\" maxlength=\"256\"></label> <button type=\"button\" data-op=\"assign\" id=\"do-assign\">Assign</button>\n\
         <button type=\"button\" data-op=\"comment\" id=\"do-comment\">Comment</button>\n\
         <button type=\"button\" data-op=\"resolve\" id=\"do-resolve\">Resolve</button></p>\n\
         <p id=\"action-error\" class=\"error\" role=\"alert\" hidden></p>\n\
         </section>\n",
        id = i.id
    )
}
