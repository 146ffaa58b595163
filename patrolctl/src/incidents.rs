//! `patrolctl incidents ...`: thin calls to the Incidents service and their output, as a
//! table, the `show` view, one changed-incident line, or JSON.

use crate::cli::{CreateArgs, IncidentsCommand, NoteArgs};
use crate::failure::Failure;
use crate::format::{Human, severity_color};
use crate::table::{self, Cell};
use crate::{clocks, connect, json, output, show, time};
use patrol_proto::v1::{self, incidents_client::IncidentsClient};

type Client = IncidentsClient<connect::Conn>;

/// Runs one `incidents` subcommand; `now_ms` is the clock for ages and time left.
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
        IncidentsCommand::Show { id, limit, json } => {
            let incident = client.get(v1::GetRequest { id }).await?.into_inner();
            let journal = client
                .journal(v1::JournalRequest { id, limit })
                .await?
                .into_inner();
            if json {
                output::line(&show::json(&incident, &journal, now_ms))
            } else {
                output::line(&show::text(&incident, &journal, human, now_ms))
            }
        }
        IncidentsCommand::Create(args) => create(&mut client, args, human).await,
        IncidentsCommand::Ack { id, by, note, json } => {
            let note = note.unwrap_or_default();
            let by = by.unwrap_or_default();
            let request = v1::AckRequest { id, by, note };
            changed(client.ack(request).await?.into_inner(), json, human)
        }
        IncidentsCommand::Assign {
            id,
            to,
            by,
            note,
            json,
        } => {
            let note = note.unwrap_or_default();
            let by = by.unwrap_or_default();
            let request = v1::AssignRequest { id, to, by, note };
            changed(client.assign(request).await?.into_inner(), json, human)
        }
        IncidentsCommand::Wait(NoteArgs { id, by, note, json }) => {
            let request = v1::WaitRequest {
                id,
                by: by.unwrap_or_default(),
                note,
            };
            changed(client.wait(request).await?.into_inner(), json, human)
        }
        IncidentsCommand::Comment(NoteArgs { id, by, note, json }) => {
            let request = v1::CommentRequest {
                id,
                by: by.unwrap_or_default(),
                note,
            };
            changed(client.comment(request).await?.into_inner(), json, human)
        }
        IncidentsCommand::Plan(NoteArgs { id, by, note, json }) => {
            let request = v1::PlanRequest {
                id,
                by: by.unwrap_or_default(),
                note,
            };
            changed(client.plan(request).await?.into_inner(), json, human)
        }
        IncidentsCommand::Resolve { id, by, note, json } => {
            let note = note.unwrap_or_default();
            let by = by.unwrap_or_default();
            let request = v1::ResolveRequest { id, by, note };
            changed(client.resolve(request).await?.into_inner(), json, human)
        }
        IncidentsCommand::Close { id, by, note, json } => {
            let note = note.unwrap_or_default();
            let by = by.unwrap_or_default();
            let request = v1::CloseRequest { id, by, note };
            changed(client.close(request).await?.into_inner(), json, human)
        }
    }
}

async fn create(client: &mut Client, args: CreateArgs, human: &Human) -> Result<(), Failure> {
    let request = v1::CreateRequest {
        level: args.level,
        host: args.host,
        summary: args.summary,
        source: args.source,
        labels: args
            .labels
            .into_iter()
            .map(|(name, value)| v1::Label { name, value })
            .collect(),
        by: args.by.unwrap_or_default(),
    };
    changed(client.create(request).await?.into_inner(), args.json, human)
}

/// Prints an incident after a change: one line tagged with its state, or its JSON.
fn changed(incident: v1::Incident, as_json: bool, human: &Human) -> Result<(), Failure> {
    if as_json {
        output::line(&json::incident(&incident))
    } else {
        output::line(&human.changed_line(&incident))
    }
}

/// The incident table: ID, SEVERITY, STATE, HOST, RULE, AGE (since opened), CLOCK (the
/// nearest running clock's time left or overdue), SUMMARY.
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
                Cell::new(clocks::nearest(i, now_ms)),
                Cell::new(&i.summary),
            ]
        })
        .collect();
    table::render(
        human,
        &[
            "ID", "SEVERITY", "STATE", "HOST", "RULE", "AGE", "CLOCK", "SUMMARY",
        ],
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
        acked.acked_ms = OPENED + 60_000;
        acked.resolve_due_ms = OPENED + 4 * 3_600_000;
        let mut open = sample_incident();
        open.respond_due_ms = OPENED + 600_000;
        let list = [open, acked];
        assert_eq!(
            list_table(&list, &human, OPENED + 3_725_000),
            "ID  SEVERITY  STATE         HOST   RULE               AGE    CLOCK                SUMMARY\n\
             3   P2        open          db01   disk_full          1h02m  respond 52m overdue  Disk / at 91.5% on db01\n\
             12  P3        acknowledged  web01  weblogic_log_high  1h02m  resolve 2h57m left   WebLogic log at 55%\n"
        );
    }
}
