//! The formats a record is asked for in (`html`, `md`, `csv`, `json`), and which record comes in
//! which: every record as HTML, Markdown and JSON; CSV for the sheet and the SLA report only.

use std::fmt;
use std::str::FromStr;

/// An output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// A self-contained page.
    Html,
    /// Markdown (the default: readable in a terminal and a mail).
    #[default]
    Md,
    /// RFC 4180.
    Csv,
    /// The record itself.
    Json,
}

/// A format name that is none of them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown format '{0}': write html, md, csv or json")]
pub struct UnknownFormat(pub String);

impl FromStr for Format {
    type Err = UnknownFormat;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "" | "md" | "markdown" => Ok(Format::Md),
            "html" => Ok(Format::Html),
            "csv" => Ok(Format::Csv),
            "json" => Ok(Format::Json),
            _ => Err(UnknownFormat(s.to_owned())),
        }
    }
}

impl Format {
    /// The name on the wire and the command line.
    pub fn name(self) -> &'static str {
        match self {
            Format::Html => "html",
            Format::Md => "md",
            Format::Csv => "csv",
            Format::Json => "json",
        }
    }

    /// The HTTP content type of a rendering in this format.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Html => "text/html; charset=utf-8",
            Format::Md => "text/markdown; charset=utf-8",
            Format::Csv => "text/csv; charset=utf-8; header=present",
            Format::Json => "application/json",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The sheet in `format`.
pub fn sheet(s: &patrol_report::Sheet, format: Format) -> String {
    use patrol_report::sheet_render as r;
    match format {
        Format::Html => r::html(s),
        Format::Md => r::markdown(s),
        Format::Csv => r::csv(s),
        Format::Json => r::json(s),
    }
}

/// The SLA report in `format` (its CSV is the per-level table).
pub fn sla(report: &patrol_report::sla::SlaReport, format: Format) -> String {
    use patrol_report::sla_render as r;
    match format {
        Format::Html => r::html(report),
        Format::Md => r::markdown(report),
        Format::Csv => r::csv(report),
        Format::Json => r::json(report),
    }
}

/// The monthly summary in `format`; `None` for CSV (it is several tables).
pub fn monthly(m: &patrol_report::monthly::MonthlySummary, format: Format) -> Option<String> {
    use patrol_report::monthly as r;
    match format {
        Format::Html => Some(r::html(m)),
        Format::Md => Some(r::markdown(m)),
        Format::Csv => None,
        Format::Json => Some(r::json(m)),
    }
}

/// The fault report in `format`; `None` for CSV (it is several tables).
pub fn fault(f: &patrol_report::fault::FaultReport, format: Format) -> Option<String> {
    use patrol_report::fault as r;
    match format {
        Format::Html => Some(r::html(f)),
        Format::Md => Some(r::markdown(f)),
        Format::Csv => None,
        Format::Json => Some(r::json(f)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_by_name() {
        assert_eq!("".parse::<Format>(), Ok(Format::Md));
        assert_eq!("HTML".parse::<Format>(), Ok(Format::Html));
        assert_eq!(
            "pdf".parse::<Format>().map_err(|e| e.to_string()),
            Err("unknown format 'pdf': write html, md, csv or json".to_owned())
        );
    }
}
