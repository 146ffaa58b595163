//! `patrolctl agents list`: the agents the collector knows, as a table or JSON;
//! `patrolctl agents show ID`: one agent with its facts (what its box is).

use std::fmt::Write as _;

use crate::failure::Failure;
use crate::format::{Human, clean};
use crate::table::{self, Cell};
use crate::{connect, facts, json, output, time};
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

/// Shows one agent; `now_ms` is the clock for ages.
pub async fn show(
    url: &str,
    id: &str,
    as_json: bool,
    human: &Human,
    now_ms: i64,
) -> Result<(), Failure> {
    let mut client = AgentsClient::new(connect::channel(url).await?);
    let agent = client
        .get(v1::AgentsGetRequest {
            agent_id: id.to_owned(),
        })
        .await
        .map_err(|s| match s.code() {
            tonic::Code::Unimplemented => Failure::Status(tonic::Status::unimplemented(
                "this collector predates `agents show`: upgrade patrol-collector",
            )),
            _ => Failure::from(s),
        })?
        .into_inner();
    if as_json {
        output::line(&json::agent_show(&agent))
    } else {
        output::line(&show_text(&agent, human, now_ms))
    }
}

/// The `agents show` text: the agent, then its host's facts, then each device's.
pub fn show_text(a: &v1::AgentInfo, human: &Human, now_ms: i64) -> String {
    let t = |ms| time::local(ms, &human.tz);
    let mut out = String::new();
    let labels = a
        .labels
        .iter()
        .map(|l| format!("{}={}", clean(&l.name), clean(&l.value)))
        .collect::<Vec<_>>()
        .join(", ");
    let connected = match (a.connected, a.last_seen_ms) {
        (true, _) => format!("yes, since {}", t(a.connected_ms)),
        (false, 0) => "no (not since the collector started)".to_owned(),
        (false, ms) => format!("no, last seen {} ago", time::age(ms, now_ms)),
    };
    // Writing to a String cannot fail.
    let _ = writeln!(out, "agent      {}", clean(&a.agent_id));
    let _ = writeln!(out, "host       {}", clean(&a.host));
    if !a.version.is_empty() {
        let _ = writeln!(out, "version    {}", clean(&a.version));
    }
    let _ = writeln!(out, "connected  {connected}");
    if !a.peer.is_empty() {
        let _ = writeln!(out, "peer       {}", clean(&a.peer));
    }
    if !labels.is_empty() {
        let _ = writeln!(out, "labels     {labels}");
    }
    match a.facts_ms {
        0 => {
            let _ = write!(
                out,
                "facts      none yet (an agent sends them at start; `[inventory]` in its config)"
            );
        }
        ms => {
            let _ = write!(
                out,
                "facts      gathered {} ({} ago)",
                t(ms),
                time::age(ms, now_ms)
            );
        }
    }
    if let Some(table) = facts::table(human, &a.facts) {
        out.push_str("\n\n");
        out.push_str(table.trim_end());
    }
    for d in &a.devices {
        let _ = write!(out, "\n\ndevice {}\n", clean(&d.device));
        match facts::table(human, &d.facts) {
            Some(table) => out.push_str(table.trim_end()),
            None => out.push_str("(no facts)"),
        }
    }
    out
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
    fn show_is_pinned() {
        let human = Human {
            tz: TimeZone::UTC,
            color: false,
        };
        let now = 1_795_425_121_000;
        let map = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect()
        };
        let a = v1::AgentInfo {
            agent_id: "db01".to_owned(),
            host: "db01".to_owned(),
            version: "0.1.0".to_owned(),
            connected: true,
            connected_ms: now - 60_000,
            last_seen_ms: now - 3_000,
            peer: "10.0.0.5:51234".to_owned(),
            facts: map(&[
                ("hw.model", "PowerEdge R740"),
                ("memory.bytes", "68719476736"),
            ]),
            devices: vec![v1::DeviceFacts {
                device: "sw1".to_owned(),
                facts: map(&[("chassis[3001].serial", "CAT0952N20R")]),
            }],
            facts_ms: now - 120_000,
            ..Default::default()
        };
        assert_eq!(
            show_text(&a, &human, now),
            "agent      db01\n\
             host       db01\n\
             version    0.1.0\n\
             connected  yes, since 2026-11-23 09:11:01\n\
             peer       10.0.0.5:51234\n\
             facts      gathered 2026-11-23 09:10:01 (2m ago)\n\
             \n\
             FACT          VALUE\n\
             hw.model      PowerEdge R740\n\
             memory.bytes  68719476736 (64.0 GiB)\n\
             \n\
             device sw1\n\
             FACT                  VALUE\n\
             chassis[3001].serial  CAT0952N20R"
        );
        let stored = v1::AgentInfo {
            agent_id: "web01".to_owned(),
            host: "web01".to_owned(),
            ..Default::default()
        };
        let text = show_text(&stored, &human, now);
        assert!(
            text.contains("connected  no (not since the collector started)\nfacts      none yet"),
            "{text}"
        );
    }

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
