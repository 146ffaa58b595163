//! Inserting a new incident: its clocks computed on the site's level and calendar (shifted by a
//! maintenance window it opens in), the row, and its `opened` (and `suppressed`) journal
//! entries. Rule-opened and manual incidents both come through here, so they start alike.

use patrol_proto::Labels;
use rusqlite::{Connection, params};

use super::StoreError;
use super::schema::{fingerprint_text, labels_to_json};
use super::writer::{deadlines_detail, journal};
use crate::incident::{EventKind, Handling, Incident, IncidentEvent, IncidentState};
use patrol_site::Site;
use patrol_site::escalation::open_clocks;

/// A new incident as the writer inserts it.
pub(super) struct Opening<'a> {
    /// Rule name (`manual` for a person's).
    pub rule: &'a str,
    /// Level name.
    pub severity: &'a str,
    /// Identity within the rule.
    pub fingerprint: u64,
    /// Host it is about.
    pub host: &'a str,
    /// Its labels (maintenance windows match on them).
    pub labels: &'a Labels,
    /// What it is about.
    pub summary: &'a str,
    /// The rule's threshold in force, for the journal (rule-opened incidents only).
    pub threshold: Option<&'a str>,
    /// The value that breached (0 for a manual report).
    pub value: f64,
    /// `rule`, or how a person reported it.
    pub source: &'a str,
    /// Who opened it: recorded as the actor of the `opened` entry.
    pub actor: &'a str,
    /// When.
    pub at_ms: i64,
}

/// Inserts `o` with its clocks and journals it; returns the incident as stored.
pub(super) fn open_incident(
    tx: &Connection,
    site: &Site,
    o: Opening<'_>,
    events: &mut Vec<IncidentEvent>,
) -> Result<Incident, StoreError> {
    let clocks = open_clocks(site, o.severity, o.labels, o.at_ms);
    tx.prepare_cached(
        "INSERT INTO incidents (rule, severity, state, host, labels_json, summary, \
         value, fingerprint, opened_ms, updated_ms, clock_start_ms, suppressed_by, \
         respond_due_ms, fix_plan_due_ms, resolve_due_ms, source) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
    )?
    .execute(params![
        o.rule,
        o.severity,
        IncidentState::Open.as_str(),
        o.host,
        labels_to_json(o.labels),
        o.summary,
        o.value,
        fingerprint_text(o.fingerprint),
        o.at_ms,
        clocks.start_ms,
        clocks.suppressed_by,
        clocks.deadlines.respond,
        clocks.deadlines.fix_plan,
        clocks.deadlines.resolve,
        o.source,
    ])?;
    let incident = Incident {
        id: u64::try_from(tx.last_insert_rowid()).unwrap_or_default(),
        rule: o.rule.to_owned(),
        severity: o.severity.to_owned(),
        state: IncidentState::Open,
        host: o.host.to_owned(),
        labels: o.labels.clone(),
        summary: o.summary.to_owned(),
        value: o.value,
        fingerprint: o.fingerprint,
        opened_ms: o.at_ms,
        updated_ms: o.at_ms,
        acked_by: None,
        acked_ms: None,
        ack_note: None,
        resolved_ms: None,
        resolved_by: None,
        handling: Handling {
            source: o.source.to_owned(),
            clock_start_ms: clocks.start_ms,
            suppressed_by: clocks.suppressed_by.clone(),
            respond_due_ms: clocks.deadlines.respond,
            fix_plan_due_ms: clocks.deadlines.fix_plan,
            resolve_due_ms: clocks.deadlines.resolve,
            ..Handling::default()
        },
    };
    let mut detail = deadlines_detail(&incident);
    if let Some(t) = o.threshold
        && let Ok(serde_json::Value::Object(mut map)) = serde_json::from_str(&detail)
    {
        map.insert("threshold".to_owned(), t.into());
        detail = serde_json::Value::Object(map).to_string();
    }
    events.push(journal(
        tx,
        EventKind::Opened,
        o.at_ms,
        o.actor,
        None,
        Some(detail),
        incident.clone(),
    )?);
    if let Some(window) = clocks.suppressed_by {
        let detail = serde_json::json!({
            "maintenance": window,
            "clocks_start_ms": clocks.start_ms,
        });
        events.push(journal(
            tx,
            EventKind::Suppressed,
            o.at_ms,
            o.actor,
            None,
            Some(detail.to_string()),
            incident.clone(),
        )?);
    }
    Ok(incident)
}
