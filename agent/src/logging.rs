//! The daemons' logs on stderr, set up the same way for `patrol-agent` and `patrol-collector`:
//! `PATROL_LOG` is the filter (`info` by default); `--log-format text` is tracing's text
//! format, coloured only when stderr is a terminal (journald and log files get plain text, never
//! escape codes); `--log-format json` is one JSON object per line for log shippers.

use std::io::IsTerminal;

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum LogFormat {
    /// `2026-11-23T09:32:58.123Z  INFO target: message key=value`, coloured on a terminal.
    #[default]
    Text,
    /// One JSON object per line: `timestamp`, `level`, `target`, `fields` (with `message`).
    Json,
}

/// Installs the process's log subscriber writing to stderr. Colour only when stderr is a
/// terminal and `NO_COLOR` is unset or empty (no-color.org).
pub fn init(format: LogFormat) {
    let color = std::io::stderr().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let filter = tracing_subscriber::EnvFilter::try_from_env("PATROL_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.with_ansi(color).init(),
        // Never colour JSON: escape codes inside strings would break every parser.
        LogFormat::Json => builder.json().with_ansi(false).init(),
    }
}
