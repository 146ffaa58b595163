//! Rule files: parsing, validation, evaluation and alert state.
//!
//! Stages are separate: `file` turns TOML into checked [`Rule`]s (every error at once, at
//! `file:line:column`), `program` compiles expressions, `set` indexes rules by metric,
//! `window` keeps windows over samples, `state` steps the alert state machine, and `engine`
//! evaluates rules as samples arrive, time passed in. `unittest` runs `patrolctl rules test`
//! files on that same engine.
//!
//! Depends on the wire model (`patrol-proto`) only: the collector, `patrolctl` and the tests
//! all run this code, so it must never depend on the store, the site or any server code.

// Tests may unwrap (brief and STYLE); library code may not.
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod catalog;
pub mod diag;
pub mod engine;
pub mod expr;
pub mod file;
pub mod level;
pub mod program;
pub mod rule;
pub mod set;
pub mod state;
pub mod template;
pub mod unittest;
pub mod window;

pub use diag::{Diagnostic, line_col};
pub use expr::{CmpOp, Expr, ExprError, MatchOp, Matcher, Selector, parse_matchers};
pub use file::{check_path, load_dir, load_path, parse_rules, value_offset};
pub use level::{Levels, LevelsError, Severity};
pub use rule::{MANUAL_RULE, Override, Params, Rule};
pub use set::RuleSet;
pub use state::{AlertState, Transition};
pub use template::{Template, TemplateError};
