//! The inspection round's records as a library: the daily inspection sheet, the SLA report,
//! the monthly summary and the fault report of a major incident, each rendered as a
//! self-contained HTML page (inline CSS with a print stylesheet, no script, no external URL),
//! Markdown, CSV (RFC 4180) or JSON, in English or Simplified Chinese.
//!
//! Owns: the models of those records, how they are computed from what the collector has (the
//! latest values, the worst values since the previous inspection, the rules in force, the
//! incidents and their journals, the site's levels and calendars), and how they are printed.
//! Business time comes from the site crate's calendars and deadline standing from the incident
//! model, never reimplemented here.
//!
//! Pure: time is an argument, nothing here reads a clock, a file, a database or the network.
//! Must never depend on: the incident store (SQLite), the history, the notification channels,
//! the collector, tokio or any I/O — the collector fills the inputs and serves the output.

// Tests may unwrap (brief and STYLE); library code may not.
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod availability;
pub mod checks;
pub mod doc;
pub mod fault;
pub mod format;
pub mod lang;
pub mod markup;
pub mod monthly;
pub mod sheet;
pub mod sheet_render;
pub mod sla;
pub mod sla_render;
pub mod watch;

pub use checks::{Bad, Group};
pub use lang::{Language, Text};
pub use sheet::{Current, Sheet, SheetInput, Worst};
