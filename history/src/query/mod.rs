//! Queries over the history: [`parse`] reads the Prometheus-compatible subset, [`eval`]
//! answers it at an instant or over a range.

pub mod eval;
pub mod parse;

pub use eval::{Answer, LabelMap, QueryError, SeriesPoints};
pub use parse::{Func, ParseError, Query, Selector, duration_ms, parse};
