//! `patrolctl report ...`: the inspection round's records from the collector's `Reports`
//! service — the inspection sheet (stored, or made now), the list of sheets kept, the
//! reviewer's sign-off, the SLA report, the monthly summary and the fault report. Records are
//! rendered by the collector; patrolctl prints them as they come (Markdown unless `--format`
//! says html, csv or json), so a page can be saved with `> sheet.html`.

use clap::{Args, Subcommand};
use patrol_proto::v1::{self, reports_client::ReportsClient};
use serde::Serialize;

use crate::failure::Failure;
use crate::format::Human;
use crate::table::{self, Cell};
use crate::{connect, output, time};

/// Largest answer accepted: a sheet of a very large site as HTML (the default 4 MiB would
/// refuse a sheet of some thousands of rows).
const MAX_ANSWER_BYTES: usize = 256 << 20;

#[derive(Debug, Subcommand)]
pub enum ReportCommand {
    /// Print an inspection sheet: the newest (of --date), a stored one by --id, or --now
    #[command(long_about = "Print an inspection sheet.\n\n\
        The collector makes a sheet at each time of the site's [[inspection]] schedule and \
        keeps it as made. Without options this prints the newest; --date the newest of that \
        day; --id a given one; --now makes one at once for the period since the previous \
        inspection (not stored). Markdown unless --format says html (a page to open in a \
        browser and print), csv or json.")]
    Inspection(InspectionArgs),
    /// List the inspection sheets kept, newest first
    List(ListArgs),
    /// Sign a sheet off as its reviewer (journaled; a sheet is signed once)
    Sign(SignArgs),
    /// The SLA report of a period: deadlines met per level, times to respond and resolve,
    /// availability
    Sla(SlaArgs),
    /// The monthly summary: the month's sheets rolled up, incidents per level, the month's SLA
    Monthly(MonthlyArgs),
    /// The fault report of a major incident (the site's two most severe levels)
    Fault(FaultArgs),
}

#[derive(Debug, Args)]
pub struct Render {
    /// Output format: md, html, csv or json.
    #[arg(long, default_value = "md", value_parser = ["md", "html", "csv", "json"])]
    pub format: String,
    /// Language of the record: en or zh-CN [default: the sheet's, or the site's `[report]
    /// language`].
    #[arg(long, value_name = "LANG", value_parser = ["en", "zh-CN"])]
    pub lang: Option<String>,
}

#[derive(Debug, Args)]
pub struct InspectionArgs {
    /// The newest sheet of this day (YYYY-MM-DD, the schedule's calendar's date).
    #[arg(long, value_name = "DATE", conflicts_with_all = ["id", "now"])]
    pub date: Option<String>,
    /// The sheet with this number (`patrolctl report list`).
    #[arg(long, conflicts_with = "now")]
    pub id: Option<u64>,
    /// Make one now, for the period since the previous inspection; not stored.
    #[arg(long)]
    pub now: bool,
    /// With --now: the schedule whose previous inspection starts the period [default: the
    /// site's first].
    #[arg(long, requires = "now", value_name = "NAME")]
    pub schedule: Option<String>,
    #[command(flatten)]
    pub render: Render,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// At most this many sheets.
    #[arg(long, default_value_t = 100, value_name = "N")]
    pub limit: u32,
    /// Only this month's sheets (YYYY-MM).
    #[arg(long, value_name = "MONTH")]
    pub month: Option<String>,
    /// Only this schedule's sheets.
    #[arg(long, value_name = "NAME")]
    pub schedule: Option<String>,
    /// A JSON array instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct SignArgs {
    /// The sheet's number.
    pub id: u64,
    /// The reviewer, as recorded on the sheet.
    #[arg(long, value_name = "NAME")]
    pub by: String,
    /// The reviewer's note.
    #[arg(long, value_name = "TEXT")]
    pub note: Option<String>,
    /// Print the signed sheet's particulars as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct SlaArgs {
    /// Start: a date (2026-10-01, midnight), a local time (2026-10-01T09:00) in the report's
    /// zone, or RFC 3339.
    #[arg(long, value_name = "TIME")]
    pub from: String,
    /// End (not included), as --from.
    #[arg(long, value_name = "TIME")]
    pub to: String,
    #[command(flatten)]
    pub render: Render,
}

#[derive(Debug, Args)]
pub struct MonthlyArgs {
    /// The month (YYYY-MM) [default: the previous month].
    #[arg(long, value_name = "MONTH")]
    pub month: Option<String>,
    #[command(flatten)]
    pub render: Render,
}

#[derive(Debug, Args)]
pub struct FaultArgs {
    /// The incident's number.
    pub incident: u64,
    #[command(flatten)]
    pub render: Render,
}

/// A sheet's particulars as JSON.
#[derive(Debug, Serialize)]
struct SheetJson<'a> {
    id: u64,
    schedule: &'a str,
    at: Option<String>,
    at_ms: i64,
    previous_at: Option<String>,
    date: &'a str,
    time_zone: &'a str,
    language: &'a str,
    created_at: Option<String>,
    caught_up: bool,
    no_data: bool,
    checks: u32,
    abnormal_checks: u32,
    open_incidents: u32,
    signed_by: Option<&'a str>,
    signed_at: Option<String>,
    sign_note: Option<&'a str>,
}

fn some(t: &str) -> Option<&str> {
    (!t.is_empty()).then_some(t)
}

fn sheet_json(s: &v1::SheetInfo) -> SheetJson<'_> {
    SheetJson {
        id: s.id,
        schedule: &s.schedule,
        at: time::rfc3339(s.at_ms),
        at_ms: s.at_ms,
        previous_at: time::rfc3339(s.previous_ms),
        date: &s.date,
        time_zone: &s.time_zone,
        language: &s.language,
        created_at: time::rfc3339(s.created_ms),
        caught_up: s.caught_up,
        no_data: s.no_data,
        checks: s.checks,
        abnormal_checks: s.abnormal_checks,
        open_incidents: s.open_incidents,
        signed_by: some(&s.signed_by),
        signed_at: time::rfc3339(s.signed_ms),
        sign_note: some(&s.sign_note),
    }
}

async fn client(url: &str) -> Result<ReportsClient<connect::Conn>, Failure> {
    Ok(
        ReportsClient::new(connect::channel(url).await?)
            .max_decoding_message_size(MAX_ANSWER_BYTES),
    )
}

/// A rendered record as it goes to stdout: control characters other than line ends and tabs
/// are dropped, so a record cannot drive the terminal (the renderers never write them).
fn print_body(body: &str) -> Result<(), Failure> {
    let clean = clean_body(body);
    if clean.ends_with('\n') {
        output::text(&clean)
    } else {
        output::line(&clean)
    }
}

pub async fn run(url: &str, command: ReportCommand, human: &Human) -> Result<(), Failure> {
    match command {
        ReportCommand::Inspection(a) => {
            let r = client(url)
                .await?
                .get_sheet(v1::GetSheetRequest {
                    id: a.id.unwrap_or(0),
                    date: a.date.unwrap_or_default(),
                    format: a.render.format,
                    language: a.render.lang.unwrap_or_default(),
                    now: a.now,
                    schedule: a.schedule.unwrap_or_default(),
                })
                .await?
                .into_inner();
            print_body(&r.body)
        }
        ReportCommand::List(a) => {
            let sheets = client(url)
                .await?
                .list_sheets(v1::ListSheetsRequest {
                    limit: a.limit,
                    schedule: a.schedule.unwrap_or_default(),
                    month: a.month.unwrap_or_default(),
                })
                .await?
                .into_inner()
                .sheets;
            if a.json {
                let rows: Vec<SheetJson<'_>> = sheets.iter().map(sheet_json).collect();
                output::line(&serde_json::to_string(&rows).unwrap_or_else(|_| "[]".to_owned()))
            } else if sheets.is_empty() {
                output::line("no inspection sheets kept yet")
            } else {
                output::text(&sheets_table(&sheets, human))
            }
        }
        ReportCommand::Sign(a) => {
            let s = client(url)
                .await?
                .sign(v1::SignRequest {
                    id: a.id,
                    by: a.by,
                    note: a.note.unwrap_or_default(),
                })
                .await?
                .into_inner();
            if a.json {
                output::line(&serde_json::to_string(&sheet_json(&s)).unwrap_or_default())
            } else {
                output::line(&format!(
                    "sheet #{} ({} {}) signed off by {} at {}",
                    s.id,
                    crate::format::clean(&s.schedule),
                    time::local(s.at_ms, &human.tz),
                    crate::format::clean(&s.signed_by),
                    time::local(s.signed_ms, &human.tz)
                ))
            }
        }
        ReportCommand::Sla(a) => {
            let r = client(url)
                .await?
                .sla_report(v1::SlaReportRequest {
                    from: a.from,
                    to: a.to,
                    format: a.render.format,
                    language: a.render.lang.unwrap_or_default(),
                })
                .await?
                .into_inner();
            print_body(&r.body)
        }
        ReportCommand::Monthly(a) => {
            let r = client(url)
                .await?
                .monthly_summary(v1::MonthlySummaryRequest {
                    month: a.month.unwrap_or_default(),
                    format: a.render.format,
                    language: a.render.lang.unwrap_or_default(),
                })
                .await?
                .into_inner();
            print_body(&r.body)
        }
        ReportCommand::Fault(a) => {
            let r = client(url)
                .await?
                .fault_report(v1::FaultReportRequest {
                    incident: a.incident,
                    format: a.render.format,
                    language: a.render.lang.unwrap_or_default(),
                })
                .await?
                .into_inner();
            print_body(&r.body)
        }
    }
}

fn clean_body(body: &str) -> String {
    body.chars()
        .filter(|c| !c.is_control() || matches!(c, '\n' | '\r' | '\t'))
        .collect()
}

/// ID, TIME, SCHEDULE, CHECKS, ABNORMAL, OPEN, SIGNED BY.
pub fn sheets_table(sheets: &[v1::SheetInfo], human: &Human) -> String {
    let rows: Vec<Vec<Cell>> = sheets
        .iter()
        .map(|s| {
            let mut when = time::local(s.at_ms, &human.tz);
            if s.caught_up {
                when.push_str(" (caught up)");
            }
            let abnormal = if s.abnormal_checks > 0 {
                Cell::colored(s.abnormal_checks.to_string(), Some("\x1b[31m"))
            } else {
                Cell::new(s.abnormal_checks.to_string())
            };
            vec![
                Cell::new(format!("#{}", s.id)),
                Cell::new(when),
                Cell::new(&s.schedule),
                Cell::new(if s.no_data {
                    "no data".to_owned()
                } else {
                    s.checks.to_string()
                }),
                abnormal,
                Cell::new(s.open_incidents.to_string()),
                Cell::new(if s.signed_by.is_empty() {
                    "-"
                } else {
                    &s.signed_by
                }),
            ]
        })
        .collect();
    table::render(
        human,
        &[
            "ID",
            "TIME",
            "SCHEDULE",
            "CHECKS",
            "ABNORMAL",
            "OPEN",
            "SIGNED BY",
        ],
        &rows,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::tz::TimeZone;

    #[test]
    fn sheets_table_is_pinned() {
        let human = Human {
            tz: TimeZone::UTC,
            color: false,
        };
        let at = 1_791_532_800_000; // 2026-10-09 08:00:00 UTC
        let sheets = [
            v1::SheetInfo {
                id: 2,
                schedule: "daily".into(),
                at_ms: at,
                checks: 18,
                abnormal_checks: 2,
                open_incidents: 1,
                signed_by: "Li Na".into(),
                ..Default::default()
            },
            v1::SheetInfo {
                id: 1,
                schedule: "daily".into(),
                at_ms: at - 61_200_000,
                caught_up: true,
                no_data: true,
                ..Default::default()
            },
        ];
        assert_eq!(
            sheets_table(&sheets, &human),
            "ID  TIME                             SCHEDULE  CHECKS   ABNORMAL  OPEN  SIGNED BY\n\
             #2  2026-10-09 08:00:00              daily     18       2         1     Li Na\n\
             #1  2026-10-08 15:00:00 (caught up)  daily     no data  0         0     -\n"
        );
    }

    #[test]
    fn control_characters_do_not_reach_the_terminal() {
        // CSV keeps its CRLF line ends.
        assert_eq!(clean_body("a\x1b[31mb\r\n\tc\x07"), "a[31mb\r\n\tc");
    }
}
