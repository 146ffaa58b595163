//! `patrolctl incidents list|show|ack|resolve`: thin calls to the Incidents service and their
//! output, as a table, a detail view, one changed-incident line or JSON.

use crate::cli::IncidentsCommand;
use crate::failure::Failure;
use crate::format::{Human, severity_color};
use crate::table::{self, Cell};
use crate::{connect, json, output, time};
use patrol_proto::v1::{self, incidents_client::IncidentsClient};

/// Runs one `incidents` subcommand; `now_ms` is the clock for the AGE column.
pub async fn run(
    url: &str,
    command: IncidentsCommand,
    human: &Human,
    now_ms: i64,
) -> Result<(), Failure> {
    let mut client = IncidentsClient::new(connect::channel(url).await?);
    match command {
        IncidentsCommand::List { state, limit, json } => {
            let request = v1::ListRequest {
                states: state.into_iter().map(|s| s as i32).collect(),
                limit,
            };
            let list = client.list(request).await?.into_inner().incidents;
            if json {
                output::line(&json::incidents(&list))
            } else if list.is_empty() {
                output::line("no incidents")
            } else {
                output::text(&list_table(&list, human, now_ms))
            }
        }
        IncidentsCommand::Show { id, json } => {
            let incident = client.get(v1::GetRequest { id }).await?.into_inner();
            if json {
                output::line(&json::incident(&incident))
            } else {
                output::line(&human.details(&incident))
            }
        }
        IncidentsCommand::Ack { id, by, note } => {
            let request = v1::AckRequest {
                id,
                by,
                note: note.unwrap_or_default(),
            };
            let incident = client.ack(request).await?.into_inner();
            output::line(&human.changed_line(&incident))
        }
        IncidentsCommand::Resolve { id, by, note } => {
            let request = v1::ResolveRequest {
                id,
                by,
                note: note.unwrap_or_default(),
            };
            let incident = client.resolve(request).await?.into_inner();
            output::line(&human.changed_line(&incident))
        }
    }
}

/// The incident table: ID, SEVERITY, STATE, HOST, RULE, AGE (since opened), SUMMARY.
pub fn list_table(list: &[v1::Incident], human: &Human, now_ms: i64) -> String {
    let rows: Vec<Vec<Cell>> = list
        .iter()
        .map(|i| {
            vec![
                Cell::new(i.id.to_string()),
                Cell::colored(&i.severity, severity_color(&i.severity)),
                Cell::new(i.state().label()),
                Cell::new(&i.host),
                Cell::new(&i.rule),
                Cell::new(time::age(i.opened_ms, now_ms)),
                Cell::new(&i.summary),
            ]
        })
        .collect();
    table::render(
        human,
        &["ID", "SEVERITY", "STATE", "HOST", "RULE", "AGE", "SUMMARY"],
        &rows,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::tests::{OPENED, sample_incident};
    use jiff::tz::TimeZone;

    #[test]
    fn list_table_is_pinned() {
        let human = Human {
            tz: TimeZone::UTC,
            color: false,
        };
        let mut acked = sample_incident();
        acked.id = 12;
        acked.state = v1::IncidentState::Acknowledged as i32;
        acked.host = "web01".to_owned();
        acked.rule = "weblogic_log_high".to_owned();
        acked.severity = "P3".to_owned();
        acked.summary = "WebLogic log at 55%".to_owned();
        let list = [sample_incident(), acked];
        assert_eq!(
            list_table(&list, &human, OPENED + 3_725_000),
            "ID  SEVERITY  STATE         HOST   RULE               AGE    SUMMARY\n\
             3   P2        open          db01   disk_full          1h02m  Disk / at 91.5% on db01\n\
             12  P3        acknowledged  web01  weblogic_log_high  1h02m  WebLogic log at 55%\n"
        );
    }
}
