//! Manual incidents: what a person reports by phone, e-mail or from an inspection round.
//! Checked here against the site's levels, then opened like a rule's incident (same clocks,
//! same journal), under the rule name [`MANUAL_RULE`] with a fingerprint of their own, so they
//! never deduplicate with each other and no rule ever resolves them.

use patrol_proto::Labels;
use patrol_rules::template::is_label_name;
use rusqlite::Connection;
use tokio::sync::oneshot;

use super::open::{Opening, open_incident};
use super::writer::Request;
use super::{Store, StoreError};
use crate::incident::{Incident, IncidentEvent};
use patrol_site::Site;

/// Rule name of manual incidents; the rule checker refuses it in rule files.
pub use patrol_rules::MANUAL_RULE;

/// How a person can have learnt of an incident. A closed set, so reports can be counted by
/// source; `other` covers the rest (the summary says how).
pub const SOURCES: [&str; 4] = ["phone", "email", "inspection", "other"];

/// Longest summary accepted, in characters: a summary is one line on a NOC screen.
const MAX_SUMMARY_CHARS: usize = 1024;
/// Longest host name (DNS's limit).
const MAX_HOST_CHARS: usize = 253;
/// Most labels on one manual incident.
const MAX_LABELS: usize = 32;
/// Longest label value, in characters.
const MAX_LABEL_VALUE_CHARS: usize = 256;

/// A manual incident as a person reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct NewIncident {
    /// One of the site's level names.
    pub level: String,
    /// Host it is about.
    pub host: String,
    /// What is wrong, one line.
    pub summary: String,
    /// One of [`SOURCES`].
    pub source: String,
    /// Extra labels (maintenance windows match on them); `host` is added from `host`.
    pub labels: Labels,
}

impl Store {
    /// Opens a manual incident reported by `by`; returns it as stored. Refused with
    /// [`StoreError::InvalidNew`] when the level is not one of the site's, the source is
    /// unknown, or the host, summary or labels are empty or too long.
    pub async fn create(
        &self,
        new: NewIncident,
        by: &str,
        at_ms: i64,
    ) -> Result<Incident, StoreError> {
        let (reply, rx) = oneshot::channel();
        self.send(Request::Create {
            new,
            by: by.to_owned(),
            at_ms,
            reply,
        })
        .await?;
        rx.await.map_err(|_| StoreError::Closed)?
    }
}

/// The writer's side of [`Store::create`]: checks against the site in force, then opens.
pub(super) fn apply_create(
    tx: &Connection,
    site: &Site,
    new: &NewIncident,
    by: &str,
    at_ms: i64,
    events: &mut Vec<IncidentEvent>,
) -> Result<Incident, StoreError> {
    let labels = check(site, new, by)?;
    let fingerprint = next_fingerprint(tx)?;
    open_incident(
        tx,
        site,
        Opening {
            rule: MANUAL_RULE,
            severity: &new.level,
            fingerprint,
            host: new.host.trim(),
            labels: &labels,
            summary: new.summary.trim(),
            threshold: None,
            value: 0.0,
            source: &new.source,
            actor: by,
            at_ms,
        },
        events,
    )
}

/// Checks a report; returns its labels with `host` set.
fn check(site: &Site, new: &NewIncident, by: &str) -> Result<Labels, StoreError> {
    let invalid = |m: String| Err(StoreError::InvalidNew(m));
    if by.trim().is_empty() {
        return invalid("say who reports the incident ('by' is required)".to_owned());
    }
    if site.level(&new.level).is_none() {
        let known: Vec<&str> = site.levels.iter().map(|l| l.name.as_str()).collect();
        return invalid(format!(
            "unknown level '{}': this site's levels are {}",
            new.level,
            known.join(", ")
        ));
    }
    if !SOURCES.contains(&new.source.as_str()) {
        return invalid(format!(
            "unknown source '{}': expected one of {}",
            new.source,
            SOURCES.join(", ")
        ));
    }
    let host = new.host.trim();
    if host.is_empty() || host.chars().count() > MAX_HOST_CHARS {
        return invalid(format!(
            "a manual incident needs the host it is about (1 to {MAX_HOST_CHARS} characters)"
        ));
    }
    let summary = new.summary.trim();
    if summary.is_empty() || summary.chars().count() > MAX_SUMMARY_CHARS {
        return invalid(format!(
            "a manual incident needs a summary of 1 to {MAX_SUMMARY_CHARS} characters"
        ));
    }
    if new.labels.len() > MAX_LABELS {
        return invalid(format!(
            "at most {MAX_LABELS} labels, got {}",
            new.labels.len()
        ));
    }
    for (name, value) in new.labels.iter() {
        if !is_label_name(name) {
            return invalid(format!(
                "'{name}' is not a label name (letters, digits and '_', not starting with a digit)"
            ));
        }
        if value.chars().count() > MAX_LABEL_VALUE_CHARS {
            return invalid(format!(
                "label '{name}' is longer than {MAX_LABEL_VALUE_CHARS} characters"
            ));
        }
    }
    if let Some(other) = new.labels.get("host").filter(|h| *h != host) {
        return invalid(format!(
            "label host=\"{other}\" contradicts the host '{host}' (leave the label out)"
        ));
    }
    let mut labels = new.labels.clone();
    labels.insert("host", host);
    Ok(labels)
}

/// The id the incident about to be inserted will get, used as its fingerprint: unique among
/// manual incidents, so none is ever taken for another. Inside the writer's transaction nothing
/// else inserts, and SQLite gives a new row the largest id plus one.
fn next_fingerprint(tx: &Connection) -> Result<u64, StoreError> {
    let max: i64 = tx.query_row("SELECT COALESCE(MAX(id), 0) FROM incidents", [], |r| {
        r.get(0)
    })?;
    Ok(u64::try_from(max).unwrap_or_default().saturating_add(1))
}
