//! Rule files: parsing, validation, evaluation and alert state.
//!
//! Stages are separate: `file` turns TOML into checked [`Rule`]s (every error at once, at
//! `file:line:column`), `set` indexes them by metric, and `state` steps the per-series alert
//! state machine with time passed in.

// Tests may unwrap (brief and STYLE); library code may not.
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod diag;
pub mod expr;
pub mod file;
pub mod level;
pub mod rule;
pub mod set;
pub mod state;
pub mod template;

pub use diag::{Diagnostic, line_col};
pub use expr::{CmpOp, Expr, ExprError, MatchOp, Matcher, Selector, parse_matchers};
pub use file::{load_dir, load_path, parse_rules, value_offset};
pub use level::{Levels, LevelsError, Severity};
pub use rule::{MANUAL_RULE, Rule};
pub use set::RuleSet;
pub use state::{AlertState, Transition};
pub use template::{Template, TemplateError};
