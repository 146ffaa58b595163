//! The latest facts per agent (schema v8, table `agent_facts`): what each box is, kept so
//! that `patrolctl agents show` and an incident's host facts survive a collector restart.
//! One row per agent, replaced whole by each facts message that changed something.

use std::collections::BTreeMap;

use patrol_proto::facts::{FactMap, Facts};
use rusqlite::{Connection, params};
use serde_json::{Map, Value};

use super::StoreError;

/// One agent's facts as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentFacts {
    /// The agent.
    pub agent_id: String,
    /// Its host (the `host` label of its samples) when the facts came.
    pub host: String,
    /// Its host's and its devices' facts.
    pub facts: Facts,
    /// When the agent gathered them (ms since the epoch).
    pub gathered_ms: i64,
}

fn map_json(m: &FactMap) -> Value {
    Value::Object(
        m.iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect(),
    )
}

/// `{"host": {...}, "devices": {"sw1": {...}}}`, readable with the sqlite3 shell.
fn to_json(f: &Facts) -> String {
    let devices: Map<String, Value> = f
        .devices
        .iter()
        .map(|(d, m)| (d.clone(), map_json(m)))
        .collect();
    let mut o = Map::new();
    o.insert("host".into(), map_json(&f.host));
    o.insert("devices".into(), Value::Object(devices));
    Value::Object(o).to_string()
}

fn json_map(v: Option<&Value>) -> FactMap {
    v.and_then(Value::as_object)
        .map(|o| {
            o.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                .collect()
        })
        .unwrap_or_default()
}

fn from_json(text: &str) -> Result<Facts, StoreError> {
    let v: Value = serde_json::from_str(text)
        .map_err(|e| StoreError::Setup(format!("agent_facts: bad facts_json: {e}")))?;
    let devices: BTreeMap<String, FactMap> = v
        .get("devices")
        .and_then(Value::as_object)
        .map(|o| {
            o.iter()
                .map(|(d, m)| (d.clone(), json_map(Some(m))))
                .collect()
        })
        .unwrap_or_default();
    Ok(Facts {
        host: json_map(v.get("host")),
        devices,
    })
}

/// Replaces the agent's row (inside the writer's transaction).
pub(crate) fn save(conn: &Connection, f: &AgentFacts) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO agent_facts (agent_id, host, facts_json, gathered_ms) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (agent_id) DO UPDATE SET host = excluded.host,
             facts_json = excluded.facts_json, gathered_ms = excluded.gathered_ms",
    )?
    .execute(params![
        f.agent_id,
        f.host,
        to_json(&f.facts),
        f.gathered_ms
    ])?;
    Ok(())
}

/// Every agent's row, by agent id.
pub(crate) fn load(conn: &Connection) -> Result<Vec<AgentFacts>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT agent_id, host, facts_json, gathered_ms FROM agent_facts ORDER BY agent_id",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, i64>(3)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (agent_id, host, json, gathered_ms) = row?;
        match from_json(&json) {
            Ok(facts) => out.push(AgentFacts {
                agent_id,
                host,
                facts,
                gathered_ms,
            }),
            // One damaged row costs that agent's facts until it sends them again, not the
            // collector's start.
            Err(e) => tracing::warn!(%agent_id, error = %e, "stored facts unreadable; skipped"),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn facts_round_trip_through_json() {
        let f = Facts {
            host: [("hw.model".to_owned(), "R740 \"2U\"".to_owned())].into(),
            devices: [(
                "sw1".to_owned(),
                [("sys.name".to_owned(), "core-sw1".to_owned())].into(),
            )]
            .into(),
        };
        assert_eq!(from_json(&to_json(&f)).unwrap(), f);
        assert!(from_json("not json").is_err());
    }
}
