//! `patrolctl agents list`: the agents the collector knows, as a table or JSON.

use crate::failure::Failure;
use crate::format::Human;
use crate::table::{self, Cell};
use crate::{connect, json, output, time};
use patrol_proto::v1::{self, agents_client::AgentsClient};

/// Lists agents; `now_ms` is the clock for the LAST SEEN column.
pub async fn list(url: &str, as_json: bool, human: &Human, now_ms: i64) -> Result<(), Failure> {
    let mut client = AgentsClient::new(connect::channel(url).await?);
    let agents = client
        .list(v1::AgentsListRequest {})
        .await?
        .into_inner()
        .agents;
    if as_json {
        output::line(&json::agents(&agents))
    } else if agents.is_empty() {
        output::line("no agents")
    } else {
        output::text(&agents_table(&agents, human, now_ms))
    }
}

/// The agent table: AGENT, HOST, VERSION, CONNECTED, LAST SEEN, BATCHES, SAMPLES, PEER.
pub fn agents_table(agents: &[v1::AgentInfo], human: &Human, now_ms: i64) -> String {
    let rows: Vec<Vec<Cell>> = agents
        .iter()
        .map(|a| {
            let last_seen = match a.last_seen_ms {
                0 => "never".to_owned(),
                ms => format!("{} ago", time::age(ms, now_ms)),
            };
            vec![
                Cell::new(&a.agent_id),
                Cell::new(&a.host),
                Cell::new(&a.version),
                if a.connected {
                    Cell::colored("yes", Some("\x1b[32m"))
                } else {
                    Cell::colored("no", Some("\x1b[31m"))
                },
                Cell::new(last_seen),
                Cell::new(a.batches.to_string()),
                Cell::new(a.samples.to_string()),
                Cell::new(&a.peer),
            ]
        })
        .collect();
    table::render(
        human,
        &[
            "AGENT",
            "HOST",
            "VERSION",
            "CONNECTED",
            "LAST SEEN",
            "BATCHES",
            "SAMPLES",
            "PEER",
        ],
        &rows,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::tz::TimeZone;

    #[test]
    fn agents_table_is_pinned() {
        let human = Human {
            tz: TimeZone::UTC,
            color: false,
        };
        let now = 1_795_425_121_000;
        let agents = [
            v1::AgentInfo {
                agent_id: "db01".to_owned(),
                host: "db01".to_owned(),
                version: "0.1.0".to_owned(),
                connected: true,
                last_seen_ms: now - 3_000,
                batches: 120,
                samples: 4800,
                peer: "10.0.0.5:51234".to_owned(),
                ..Default::default()
            },
            v1::AgentInfo {
                agent_id: "web01".to_owned(),
                host: "web01".to_owned(),
                version: "0.1.0".to_owned(),
                ..Default::default()
            },
        ];
        assert_eq!(
            agents_table(&agents, &human, now),
            "AGENT  HOST   VERSION  CONNECTED  LAST SEEN  BATCHES  SAMPLES  PEER\n\
             db01   db01   0.1.0    yes        3s ago     120      4800     10.0.0.5:51234\n\
             web01  web01  0.1.0    no         never      0        0\n"
        );
    }
}
