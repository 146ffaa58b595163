//! The command line: clap definitions and the parsers for severity and state arguments.

use clap::{Args, Parser, Subcommand};
use patrol_proto::v1::IncidentState;
use std::path::PathBuf;

/// The collector address used when neither `--collector` nor `PATROL_COLLECTOR` is set.
pub const DEFAULT_COLLECTOR: &str = "http://127.0.0.1:7070";

/// The help heading of the options every command shares (where the collector is, TLS), shown
/// after each command's own options.
pub const CONNECTION: &str = "Connection options";

/// The version and the commit it was built from (build.rs).
pub const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " (", env!("PATROL_COMMIT"), ")");

#[derive(Debug, Parser)]
#[command(
    name = "patrolctl",
    version = VERSION,
    about = "Watch and manage Patrol incidents, agents and rules",
    long_about = "patrolctl is the operator's command line for a Patrol collector.\n\n\
        NOC staff follow incidents live with `patrolctl tail` and list, acknowledge and resolve \
        them with `patrolctl incidents ...`; operators check rule files offline with \
        `patrolctl rules check` before the collector picks them up.\n\n\
        Exit status: 0 on success, 1 when the command failed (a refused request, rule errors, \
        the incident stream ended), 2 on usage errors or when the collector cannot be reached.",
    after_help = "Examples:\n  \
        patrolctl tail --severity P2\n  \
        patrolctl incidents list --state open --state acknowledged\n  \
        patrolctl incidents ack 42 --by alice --note 'looking into it'\n  \
        patrolctl incidents create --level P2 --host db01 --summary 'slow logins' --source phone --by alice\n  \
        patrolctl incidents show 42\n  \
        patrolctl rules check /etc/patrol/rules\n  \
        patrolctl rules test /etc/patrol/rules/tests/*.toml"
)]
pub struct Cli {
    /// gRPC address of the collector.
    #[arg(
        long,
        global = true,
        env = "PATROL_COLLECTOR",
        default_value = DEFAULT_COLLECTOR,
        value_name = "URL",
        help_heading = CONNECTION
    )]
    pub collector: String,

    #[command(flatten)]
    pub tls: crate::connect::TlsArgs,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Follow incidents live: the open ones first, then every change
    #[command(long_about = "Follow incidents live.\n\n\
        Prints the incidents open right now (OPEN / ACKED / ASSIGNED / WAITING rows), then one \
        line per change until Ctrl-C: OPENED, ACKED, ASSIGNED, WAITING, COMMENT, PLANNED, \
        RESOLVED, CLOSED, REOPENED, ESCALATED, REMINDED, BREACHED, LEVEL, FLAPPING, SUPPRESSED, \
        each ending with what changed (step and targets, clock and deadline, levels, note, who). \
        Filtering is done by the collector, so \
        `--severity P2` means P2 and everything more severe as the site's levels define. \
        When the collector ends the stream, patrolctl says so on stderr and exits 1.")]
    Tail(TailArgs),
    /// List, show, create and handle incidents (ack, assign, wait, comment, plan, resolve, close)
    #[command(subcommand)]
    Incidents(IncidentsCommand),
    /// Show the agents known to the collector
    #[command(subcommand)]
    Agents(AgentsCommand),
    /// Check rule files offline, list or reload the collector's rules
    #[command(subcommand)]
    Rules(RulesCommand),
    /// Check a site file offline
    #[command(subcommand)]
    Site(SiteCommand),
    /// Show the notification channels and their outbox
    #[command(subcommand)]
    Channels(ChannelsCommand),
    /// Current values of the series a query selects, or the series over a time range
    #[command(
        long_about = "Current values of the series a query selects (what the collector \
        holds now; a series that stopped reporting is not current), or with --range the series \
        over that span ending now, one point per --step. The query is a series selector or a \
        window function over one (docs/history.md), e.g. \
        'tablespace_used_percent{tablespace=\"USERS\"}' or 'max_over_time(cpu_usage_percent[1h])'."
    )]
    Query(QueryArgs),
    /// List the series a selector matches, with their labels
    Series {
        /// A series selector, e.g. 'disk_used_percent{host="db01"}'.
        selector: String,
        /// A JSON array of label sets instead of one line per series.
        #[arg(long)]
        json: bool,
    },
    /// The sample history's figures and its remote-write endpoints
    #[command(subcommand)]
    History(HistoryCommand),
    /// Inspection sheets (print, list, sign off), SLA report, monthly summary, fault report
    #[command(subcommand)]
    Report(crate::report::ReportCommand),
    /// Write the man pages and shell completions into DIR (packaging)
    #[command(hide = true)]
    GenerateDocs {
        #[arg(value_name = "DIR")]
        dir: PathBuf,
    },
}

#[derive(Debug, Args)]
pub struct QueryArgs {
    /// The query, e.g. 'disk_used_percent{host="db01"}'.
    pub query: String,
    /// Show the series over this span ending now (24h, 15m, 7d...).
    #[arg(long, value_parser = crate::history::parse_span, value_name = "DURATION")]
    pub range: Option<i64>,
    /// Time between points with --range [default: the range / 240, at least 1s].
    #[arg(long, value_parser = crate::history::parse_span, value_name = "DURATION", requires = "range")]
    pub step: Option<i64>,
    /// JSON instead of a table.
    #[arg(long, conflicts_with = "csv")]
    pub json: bool,
    /// CSV (series,time,value) instead of a table.
    #[arg(long)]
    pub csv: bool,
}

#[derive(Debug, Subcommand)]
pub enum HistoryCommand {
    /// Series, disk use and bytes per sample; each remote-write endpoint's lag and failures
    Status,
}

#[derive(Debug, Subcommand)]
pub enum ChannelsCommand {
    /// Each channel: running or not, notifications waiting (and since when), sent, dead
    /// letters, the last confirmed delivery and the last error
    Status {
        /// A JSON array instead of a table.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum SiteCommand {
    /// Validate a site file (levels, calendars, escalation, maintenance, channels) offline
    #[command(long_about = "Validate a site file offline (no collector needed).\n\n\
        Every problem is printed to stderr as `file:line:column: message`, followed by the \
        count; the exit status is 1 when there is any. With --rules, the rule files are \
        checked against the site's levels too, as the collector does on a reload.")]
    Check {
        /// The site file.
        #[arg(value_name = "FILE")]
        file: PathBuf,
        /// Also check these rule files or directories against its levels.
        #[arg(long, value_name = "PATH")]
        rules: Vec<PathBuf>,
    },
}

#[derive(Debug, Args)]
pub struct TailArgs {
    /// One JSON object per line instead of text.
    #[arg(long)]
    pub json: bool,
    /// Only this severity and more severe ones (e.g. P2).
    #[arg(long, value_name = "LEVEL", value_parser = parse_severity)]
    pub severity: Option<String>,
    /// Only incidents on this host.
    #[arg(long, value_name = "HOST")]
    pub host: Option<String>,
    /// Only incidents of this rule.
    #[arg(long, value_name = "RULE")]
    pub rule: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum IncidentsCommand {
    /// List incidents (the live ones unless --state says otherwise)
    List {
        /// Only incidents in this state (open, acknowledged, assigned, waiting, resolved,
        /// closed); repeat or separate with commas.
        #[arg(
            long,
            value_name = "STATE",
            value_parser = parse_state,
            value_delimiter = ','
        )]
        state: Vec<IncidentState>,
        /// At most this many incidents.
        #[arg(long, default_value_t = 100, value_name = "N")]
        limit: u32,
        /// A JSON array instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Report an incident by hand (a phone call, an e-mail, an inspection round)
    #[command(long_about = "Report an incident by hand.\n\n\
        It gets the same lifecycle, clocks and escalation as an incident a rule opened, under \
        the rule name `manual`. The level must be one of the site's levels; the source is one \
        of phone, email, inspection or other. Prints the new incident.")]
    Create(CreateArgs),
    /// Show one incident with its deadlines and its journal
    Show {
        /// Incident id.
        id: u64,
        /// Journal entries to show, newest (the collector sends at most 10000, and never more
        /// than 2 MiB).
        #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..=10_000))]
        limit: u32,
        /// A JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Acknowledge an incident: someone is on it
    Ack {
        /// Incident id.
        id: u64,
        /// Who acknowledges it (only with a shared identity).
        #[arg(long, value_name = "NAME")]
        by: Option<String>,
        /// A note kept with the acknowledgement.
        #[arg(long, value_name = "TEXT")]
        note: Option<String>,
        /// The changed incident as a JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Hand an incident to someone (takes it if nobody had acknowledged it)
    Assign {
        /// Incident id.
        id: u64,
        /// Whom it is assigned to.
        #[arg(long, value_name = "NAME")]
        to: String,
        /// Who assigns it (only with a shared identity).
        #[arg(long, value_name = "NAME")]
        by: Option<String>,
        /// A note kept with the assignment.
        #[arg(long, value_name = "TEXT")]
        note: Option<String>,
        /// The changed incident as a JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Park an incident while waiting on a vendor or the customer
    Wait(NoteArgs),
    /// Add a note to an incident's journal
    Comment(NoteArgs),
    /// Record the fix plan (meets the fix-plan clock)
    Plan(NoteArgs),
    /// Resolve an incident by hand
    Resolve {
        /// Incident id.
        id: u64,
        /// Who resolves it (only with a shared identity).
        #[arg(long, value_name = "NAME")]
        by: Option<String>,
        /// The resolution: what was wrong and what fixed it.
        #[arg(long, value_name = "TEXT")]
        note: Option<String>,
        /// The changed incident as a JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Close a resolved incident
    Close {
        /// Incident id.
        id: u64,
        /// Who closes it (only with a shared identity).
        #[arg(long, value_name = "NAME")]
        by: Option<String>,
        /// A note kept with the closing.
        #[arg(long, value_name = "TEXT")]
        note: Option<String>,
        /// The changed incident as a JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
}

/// `incidents create`.
#[derive(Debug, Args)]
pub struct CreateArgs {
    /// One of the site's levels (e.g. P2).
    #[arg(long, value_name = "LEVEL", value_parser = parse_severity)]
    pub level: String,
    /// The host it is about.
    #[arg(long, value_name = "HOST")]
    pub host: String,
    /// What is wrong, one line.
    #[arg(long, value_name = "TEXT")]
    pub summary: String,
    /// How it was reported: phone, email, inspection or other.
    #[arg(long, value_name = "SOURCE")]
    pub source: String,
    /// A label (maintenance windows match on labels); repeat for more.
    #[arg(long = "label", value_name = "NAME=VALUE", value_parser = parse_label)]
    pub labels: Vec<(String, String)>,
    /// Who reports it (only with a shared identity).
    #[arg(long, value_name = "NAME")]
    pub by: Option<String>,
    /// The new incident as a JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

/// `wait`, `comment` and `plan`: an incident, who, and the text that is the point of it.
#[derive(Debug, Args)]
pub struct NoteArgs {
    /// Incident id.
    pub id: u64,
    /// Who does it (only with a shared identity).
    #[arg(long, value_name = "NAME")]
    pub by: Option<String>,
    /// The text: on what it waits, the comment, or the plan.
    #[arg(long, value_name = "TEXT")]
    pub note: String,
    /// The changed incident as a JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum AgentsCommand {
    /// List agents with their connection state and counters
    List {
        /// A JSON array instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Show one agent and what its box is: hardware, OS, CPU, memory, addresses, Oracle and
    /// WebLogic versions, and the devices it polls (docs/inventory.md)
    Show {
        /// Agent id (as `agents list` prints it).
        id: String,
        /// A JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum RulesCommand {
    /// Validate rule files or directories offline (no collector needed)
    #[command(long_about = "Validate rule files or directories offline.\n\n\
        Every problem is printed to stderr as `file:line:column: message`, followed by the \
        count; the exit status is 1 when any path has an error. Warnings (a metric no probe \
        emits according to docs/metrics.md, an override that can never apply) are printed as \
        `file:line:column: warning: ...` and do not change the exit status. On success prints \
        `ok: N rules`. Severities are checked against the levels of the site file given with \
        --site (checked too), else against the shipped default levels P1-P4.")]
    Check {
        /// Rule files (*.toml) or directories holding them.
        #[arg(required = true, value_name = "PATH")]
        paths: Vec<PathBuf>,
        /// Check severities against this site file's levels (docs/noc.md).
        #[arg(long, value_name = "FILE")]
        site: Option<PathBuf>,
    },
    /// Run rule unit tests (promtool's `test rules`, in TOML) offline
    #[command(
        long_about = "Run rule unit tests offline, in the shape of `promtool test rules`.\n\n\
        Each test file names the rule files it tests, input series in promtool's expanding \
        notation ('50+10x5', '1 _ 3', '_x3', 'stale') and, at each eval_time, the incidents \
        expected open with their labels, level and rendered summary (docs/rules.md). The rules \
        run on the collector's own engine. A failed check prints a diff (`-` expected but not \
        open, `+` open but not expected); a malformed file prints `file:line:column: message`. \
        The exit status is 1 when any check fails or any file has an error."
    )]
    Test {
        /// Test files (*.toml).
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        /// Check severities against this site file's levels.
        #[arg(long, value_name = "FILE")]
        site: Option<PathBuf>,
    },
    /// List the rules the collector is running, with how many series are inactive, pending
    /// and firing for each
    List {
        /// A JSON array instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Make the collector reload its rule files now
    Reload,
}

/// Accepts a severity level name as given.
///
/// Levels are site data, so any name the site configured is valid here; the collector decides
/// what it means. Only names that cannot be a level at all are refused.
pub fn parse_severity(s: &str) -> Result<String, String> {
    let s = s.trim();
    if s.is_empty() {
        return Err("a severity level must not be empty (e.g. P2)".to_owned());
    }
    if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!(
            "'{s}' is not a severity level name (no spaces; e.g. P2)"
        ));
    }
    Ok(s.to_owned())
}

/// Parses `NAME=VALUE`; the collector checks the name.
pub fn parse_label(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((name, value)) if !name.trim().is_empty() => {
            Ok((name.trim().to_owned(), value.to_owned()))
        }
        _ => Err(format!("'{s}' is not NAME=VALUE (e.g. service=portal)")),
    }
}

/// Parses an incident state name (`open`, `acknowledged`/`ack`, `assigned`, `waiting`,
/// `resolved`, `closed`).
pub fn parse_state(s: &str) -> Result<IncidentState, String> {
    IncidentState::from_label(&s.trim().to_ascii_lowercase()).ok_or_else(|| {
        format!(
            "unknown state '{s}': expected open, acknowledged, assigned, waiting, resolved or closed"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    /// Every command's help lists its own options first and the connection options under a
    /// heading of their own after them, never interleaved.
    #[test]
    fn connection_options_follow_each_commands_own_options() {
        fn check(cmd: &mut clap::Command, path: &str) {
            let help = cmd.render_long_help().to_string();
            let heading = help
                .find(&format!("{CONNECTION}:"))
                .unwrap_or_else(|| panic!("{path}: no '{CONNECTION}' heading in\n{help}"));
            let (own, shared) = help.split_at(heading);
            for flag in [
                "--collector",
                "--ca-file",
                "--cert-file",
                "--key-file",
                "--token-file",
            ] {
                assert!(
                    !own.contains(flag),
                    "{path}: {flag} among the command's own options"
                );
                assert!(
                    shared.contains(flag),
                    "{path}: {flag} missing under '{CONNECTION}'"
                );
            }
            assert!(
                !shared.contains("--help"),
                "{path}: the command's options after the connection options"
            );
            // clap's generated `help` subcommands take no options.
            for sub in cmd.get_subcommands_mut().filter(|s| s.get_name() != "help") {
                let name = format!("{path} {}", sub.get_name());
                check(sub, &name);
            }
        }
        let mut cmd = Cli::command();
        cmd.build();
        check(&mut cmd, "patrolctl");
    }

    #[test]
    fn severity_is_kept_verbatim_because_levels_are_site_data() {
        assert_eq!(parse_severity("P2"), Ok("P2".to_owned()));
        assert_eq!(parse_severity(" critical "), Ok("critical".to_owned()));
        assert!(parse_severity("").is_err());
        assert!(parse_severity("P 2").is_err());
    }

    #[test]
    fn state_accepts_names_and_short_forms() {
        assert_eq!(parse_state("open"), Ok(IncidentState::Open));
        assert_eq!(parse_state("ACK"), Ok(IncidentState::Acknowledged));
        assert_eq!(parse_state("acknowledged"), Ok(IncidentState::Acknowledged));
        assert_eq!(parse_state("resolved"), Ok(IncidentState::Resolved));
        assert_eq!(parse_state("closed"), Ok(IncidentState::Closed));
        assert!(parse_state("unspecified").is_err());
        assert!(parse_state("opened").is_err());
    }

    #[test]
    fn states_repeat_and_split_on_commas() {
        let cli = Cli::try_parse_from([
            "patrolctl",
            "incidents",
            "list",
            "--state",
            "open,ack",
            "--state",
            "closed",
        ])
        .expect("valid command line");
        let Command::Incidents(IncidentsCommand::List { state, limit, .. }) = cli.command else {
            panic!("parsed the wrong command: {:?}", cli.command);
        };
        assert_eq!(
            state,
            [
                IncidentState::Open,
                IncidentState::Acknowledged,
                IncidentState::Closed
            ]
        );
        assert_eq!(limit, 100);
    }

    #[test]
    fn bad_state_is_a_usage_error() {
        let err = Cli::try_parse_from(["patrolctl", "incidents", "list", "--state", "gone"])
            .expect_err("must be refused");
        assert_eq!(err.exit_code(), 2);
    }

    #[test]
    fn create_takes_repeated_labels() {
        let cli = Cli::try_parse_from([
            "patrolctl",
            "incidents",
            "create",
            "--level",
            "P2",
            "--host",
            "db01",
            "--summary",
            "slow logins",
            "--source",
            "phone",
            "--label",
            "service=portal",
            "--label",
            "a=b=c",
            "--by",
            "ann",
        ])
        .expect("valid command line");
        let Command::Incidents(IncidentsCommand::Create(c)) = cli.command else {
            panic!("parsed the wrong command: {:?}", cli.command);
        };
        assert_eq!(
            c.labels,
            [
                ("service".to_owned(), "portal".to_owned()),
                ("a".to_owned(), "b=c".to_owned())
            ]
        );
        assert!(parse_label("novalue").is_err());
        assert!(parse_label("=x").is_err());
    }

    /// `--by` is optional: an authenticated identity is the actor; only a shared one (or no
    /// [auth] at all) must name who acts, and the collector says so.
    #[test]
    fn wait_comment_and_plan_need_their_text_and_by_is_optional() {
        for sub in ["wait", "comment", "plan"] {
            let err = Cli::try_parse_from(["patrolctl", "incidents", sub, "7", "--by", "ann"])
                .expect_err("--note is required");
            assert_eq!(err.exit_code(), 2, "{sub}");
        }
        let cli = Cli::try_parse_from(["patrolctl", "incidents", "close", "7"])
            .expect("--by may be left out");
        assert!(matches!(
            cli.command,
            Command::Incidents(IncidentsCommand::Close { by: None, .. })
        ));
    }

    #[test]
    fn tail_filters_parse() {
        let cli = Cli::try_parse_from([
            "patrolctl",
            "--collector",
            "http://c:1",
            "tail",
            "--severity",
            "P2",
            "--host",
            "db01",
        ])
        .expect("valid command line");
        assert_eq!(cli.collector, "http://c:1");
        let Command::Tail(t) = cli.command else {
            panic!("parsed the wrong command");
        };
        assert_eq!(t.severity.as_deref(), Some("P2"));
        assert_eq!(t.host.as_deref(), Some("db01"));
        assert_eq!(t.rule, None);
        assert!(!t.json);
    }
}
