//! `patrolctl`: the operator's command line for a Patrol collector. This file wires the parsed
//! command to its module and owns the only reads of the clock, the time zone and the terminal.
//!
//! A client: it speaks the wire contract (`patrol-proto`) and runs the rule and site checkers
//! (`patrol-rules`, `patrol-site`) for the offline checks. It must never depend on server code
//! — the collector, the incident store (SQLite) or the channels (MQTT, HTTP clients, SMTP) —
//! so it stays small and installs on a NOC desk.

mod agents;
mod channels;
mod cli;
mod clocks;
mod connect;
mod detail;
mod diagnose;
mod docs;
mod facts;
mod failure;
mod format;
mod history;
mod incidents;
mod json;
mod output;
mod report;
mod rules;
mod show;
mod table;
mod tail;
mod time;

use clap::Parser;
use cli::{
    AgentsCommand, ChannelsCommand, Cli, Command, HistoryCommand, RulesCommand, SiteCommand,
};
use failure::Failure;
use format::Human;
use std::io::IsTerminal;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            return Failure::Other(anyhow::Error::new(e).context("cannot start the runtime"))
                .report();
        }
    };
    let tls = cli.tls.clone();
    let url = connect::normalise(&cli.collector, tls.ca_file.is_some());
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            let mut failure = failure.at(&url);
            // A TLS connection that broke under the request: find out why (diagnose.rs).
            if failure.is_broken()
                && url.starts_with("https://")
                && let Some(text) = runtime.block_on(diagnose::tls_failure(&url, &tls))
            {
                let why = failure::tls_refusal(std::slice::from_ref(&text))
                    .unwrap_or_else(|| format!("the collector closed the connection: {text}"));
                failure = Failure::TlsRefused {
                    url: url.clone(),
                    why,
                };
            }
            failure.report()
        }
    }
}

async fn run(cli: Cli) -> Result<(), Failure> {
    let human = Human {
        // A system without a usable zone database still gets correct (UTC) times.
        tz: jiff::tz::TimeZone::try_system().unwrap_or(jiff::tz::TimeZone::UTC),
        color: use_color(),
    };
    let now_ms = jiff::Timestamp::now().as_millisecond();
    connect::configure(cli.tls);
    let url = cli.collector.as_str();
    match cli.command {
        Command::Tail(args) => tail::run(url, args, &human).await,
        Command::Incidents(command) => incidents::run(url, command, &human, now_ms).await,
        Command::Agents(AgentsCommand::List { json }) => {
            agents::list(url, json, &human, now_ms).await
        }
        Command::Agents(AgentsCommand::Show { id, json }) => {
            agents::show(url, &id, json, &human, now_ms).await
        }
        Command::Rules(RulesCommand::Check { paths, site }) => {
            rules::check_cmd(&paths, site.as_deref())
        }
        Command::Channels(ChannelsCommand::Status { json }) => {
            channels::status(url, json, &human, now_ms).await
        }
        Command::Site(SiteCommand::Check { file, rules }) => rules::check_cmd(&rules, Some(&file)),
        Command::Rules(RulesCommand::Test { files, site }) => {
            rules::test_cmd(&files, site.as_deref())
        }
        Command::Rules(RulesCommand::List { json }) => rules::list(url, json, &human).await,
        Command::Rules(RulesCommand::Reload) => rules::reload(url).await,
        Command::Query(args) => {
            let format = if args.json {
                history::Format::Json
            } else if args.csv {
                history::Format::Csv
            } else {
                history::Format::Table
            };
            let q = history::QueryArgs {
                query: &args.query,
                range_ms: args.range,
                step_ms: args.step,
                format,
            };
            history::query(url, q, &human, now_ms).await
        }
        Command::Series { selector, json } => history::series(url, &selector, json).await,
        Command::History(HistoryCommand::Status) => history::status(url, &human, now_ms).await,
        Command::Report(command) => report::run(url, command, &human).await,
        Command::GenerateDocs { dir } => {
            use clap::CommandFactory;
            let files = docs::write(Cli::command(), &dir).map_err(|e| {
                Failure::Other(anyhow::Error::new(e).context(dir.display().to_string()))
            })?;
            for f in files {
                output::line(&f.display().to_string())?;
            }
            Ok(())
        }
    }
}

/// Colour only for a person at a terminal, and never when `NO_COLOR` is set (no-color.org:
/// any non-empty value).
fn use_color() -> bool {
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}
