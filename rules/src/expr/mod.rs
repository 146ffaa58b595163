//! Rule expressions: the AST, its canonical `Display`, and how a selector matches a series.
//! Lexing and parsing live in `lexer.rs` and `parser.rs`.

mod lexer;
mod parser;
#[cfg(test)]
mod proptests;

use std::fmt;

use patrol_proto::Labels;
use regex::Regex;

pub use parser::{parse, parse_matchers};

/// A comparison between a sample value and a threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CmpOp {
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `==`
    Eq,
    /// `!=`
    Ne,
}

impl CmpOp {
    /// Whether `value OP threshold` holds. A NaN value never holds, not even for `!=`: a value
    /// that is not a number says nothing about the condition.
    pub fn holds(self, value: f64, threshold: f64) -> bool {
        if value.is_nan() {
            return false;
        }
        match self {
            CmpOp::Gt => value > threshold,
            CmpOp::Ge => value >= threshold,
            CmpOp::Lt => value < threshold,
            CmpOp::Le => value <= threshold,
            CmpOp::Eq => value == threshold,
            CmpOp::Ne => value != threshold,
        }
    }

    /// The operator as written in an expression.
    pub fn as_str(self) -> &'static str {
        match self {
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Eq => "==",
            CmpOp::Ne => "!=",
        }
    }
}

impl fmt::Display for CmpOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a label matcher compares the label value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MatchOp {
    /// `=`
    Equal,
    /// `!=`
    NotEqual,
    /// `=~` (fully anchored)
    Regex,
    /// `!~` (fully anchored)
    NotRegex,
}

impl MatchOp {
    /// The operator as written in a selector.
    pub fn as_str(self) -> &'static str {
        match self {
            MatchOp::Equal => "=",
            MatchOp::NotEqual => "!=",
            MatchOp::Regex => "=~",
            MatchOp::NotRegex => "!~",
        }
    }
}

/// One `label OP "value"` condition of a selector; regexes are compiled once, at construction.
#[derive(Debug, Clone)]
pub struct Matcher {
    /// The label name.
    pub name: String,
    /// How the value is compared.
    pub op: MatchOp,
    /// The value or regex source as written (decoded, unanchored).
    pub value: String,
    /// `^(?:value)$` for regex matchers, like PromQL.
    re: Option<Regex>,
}

impl Matcher {
    /// A matcher; fails only when a regex matcher's value is not a valid regular expression.
    pub fn new(
        name: impl Into<String>,
        op: MatchOp,
        value: impl Into<String>,
    ) -> Result<Self, regex::Error> {
        let value = value.into();
        let re = match op {
            MatchOp::Regex | MatchOp::NotRegex => Some(Regex::new(&format!("^(?:{value})$"))?),
            MatchOp::Equal | MatchOp::NotEqual => None,
        };
        Ok(Self {
            name: name.into(),
            op,
            value,
            re,
        })
    }

    /// Whether a label value (empty when the label is missing) satisfies this matcher.
    pub fn matches(&self, label_value: &str) -> bool {
        match (self.op, &self.re) {
            (MatchOp::Equal, _) => label_value == self.value,
            (MatchOp::NotEqual, _) => label_value != self.value,
            (MatchOp::Regex, Some(re)) => re.is_match(label_value),
            (MatchOp::NotRegex, Some(re)) => !re.is_match(label_value),
            // `new` always compiles a regex for regex ops; fail closed if that ever changes.
            (MatchOp::Regex | MatchOp::NotRegex, None) => false,
        }
    }
}

impl PartialEq for Matcher {
    /// Equal when written the same; the compiled regex follows from `value`.
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && self.op == other.op && self.value == other.value
    }
}

impl fmt::Display for Matcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.name, self.op.as_str())?;
        write_quoted(f, &self.value)
    }
}

/// Writes `s` double-quoted with the escapes the lexer understands, so output re-parses.
fn write_quoted(f: &mut fmt::Formatter<'_>, s: &str) -> fmt::Result {
    f.write_str("\"")?;
    for c in s.chars() {
        match c {
            '"' => f.write_str("\\\"")?,
            '\\' => f.write_str("\\\\")?,
            '\n' => f.write_str("\\n")?,
            '\t' => f.write_str("\\t")?,
            '\r' => f.write_str("\\r")?,
            c => write!(f, "{c}")?,
        }
    }
    f.write_str("\"")
}

/// A metric name with label matchers: `metric{label="v", ...}`.
#[derive(Debug, Clone, PartialEq)]
pub struct Selector {
    /// The metric name the selector is about.
    pub metric: String,
    /// All must match.
    pub matchers: Vec<Matcher>,
}

impl Selector {
    /// Whether a series (metric name and labels) is selected.
    pub fn matches(&self, name: &str, labels: &Labels) -> bool {
        name == self.metric && self.matches_labels(labels)
    }

    /// Whether the labels satisfy every matcher; a missing label counts as the empty string,
    /// as in PromQL, so `mount!="/"` selects series without a `mount` label.
    pub fn matches_labels(&self, labels: &Labels) -> bool {
        self.matchers
            .iter()
            .all(|m| m.matches(labels.get(&m.name).unwrap_or("")))
    }
}

impl fmt::Display for Selector {
    /// Canonical form: no braces without matchers, `, ` between matchers.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.metric)?;
        if self.matchers.is_empty() {
            return Ok(());
        }
        f.write_str("{")?;
        for (i, m) in self.matchers.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{m}")?;
        }
        f.write_str("}")
    }
}

/// A parsed rule expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// `selector OP threshold`: breaches while a selected series' value compares true.
    Compare {
        /// Which series the rule watches.
        selector: Selector,
        /// The comparison.
        op: CmpOp,
        /// A finite number.
        threshold: f64,
    },
}

impl Expr {
    /// Parses an expression; see [`parse`].
    pub fn parse(src: &str) -> Result<Expr, ExprError> {
        parse(src)
    }

    /// The metric the expression reads.
    pub fn metric(&self) -> &str {
        &self.selector().metric
    }

    /// The series selector.
    pub fn selector(&self) -> &Selector {
        match self {
            Expr::Compare { selector, .. } => selector,
        }
    }

    /// Whether `value` of a selected series breaches the condition. NaN never does.
    pub fn is_breach(&self, value: f64) -> bool {
        match self {
            Expr::Compare { op, threshold, .. } => op.holds(value, *threshold),
        }
    }
}

impl fmt::Display for Expr {
    /// The canonical form, which parses back to an equal `Expr`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expr::Compare {
                selector,
                op,
                threshold,
            } => write!(f, "{selector} {op} {threshold}"),
        }
    }
}

/// Why an expression did not parse: a plain sentence and the byte offset in the expression.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ExprError {
    /// Byte offset in the expression source where the problem starts.
    pub offset: usize,
    /// What is wrong, for an operator.
    pub message: String,
}

impl ExprError {
    pub(crate) fn new(offset: usize, message: impl Into<String>) -> Self {
        Self {
            offset,
            message: message.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        Labels::from_pairs(pairs.iter().copied())
    }

    #[test]
    fn cmp_ops_hold_as_written() {
        assert!(CmpOp::Gt.holds(41.0, 40.0) && !CmpOp::Gt.holds(40.0, 40.0));
        assert!(CmpOp::Ge.holds(40.0, 40.0) && !CmpOp::Ge.holds(39.9, 40.0));
        assert!(CmpOp::Lt.holds(39.0, 40.0) && !CmpOp::Lt.holds(40.0, 40.0));
        assert!(CmpOp::Le.holds(40.0, 40.0) && !CmpOp::Le.holds(40.1, 40.0));
        assert!(CmpOp::Eq.holds(1.0, 1.0) && !CmpOp::Eq.holds(1.0, 2.0));
        assert!(CmpOp::Ne.holds(1.0, 2.0) && !CmpOp::Ne.holds(1.0, 1.0));
        assert!(!CmpOp::Ne.holds(f64::NAN, 1.0));
    }

    #[test]
    fn missing_label_counts_as_empty() {
        let sel = parse(r#"disk_used_percent{mount!="/", fs=""} > 90"#).unwrap();
        let sel = sel.selector();
        assert!(sel.matches_labels(&labels(&[("mount", "/data")])));
        assert!(!sel.matches_labels(&labels(&[("mount", "/")])));
        assert!(!sel.matches_labels(&labels(&[("mount", "/data"), ("fs", "xfs")])));
        assert!(sel.matches("disk_used_percent", &labels(&[])));
        assert!(!sel.matches("cpu_usage_percent", &labels(&[])));
    }

    #[test]
    fn regex_matchers_are_fully_anchored() {
        let e = parse(r#"m{host=~"db.", env!~"test|dev"} > 1"#).unwrap();
        let s = e.selector();
        assert!(s.matches_labels(&labels(&[("host", "db1")])));
        assert!(!s.matches_labels(&labels(&[("host", "xdb1")])));
        assert!(!s.matches_labels(&labels(&[("host", "db12")])));
        assert!(!s.matches_labels(&labels(&[("host", "db1"), ("env", "dev")])));
        assert!(s.matches_labels(&labels(&[("host", "db1"), ("env", "devel")])));
    }

    #[test]
    fn display_is_canonical() {
        let e = parse("  m:x { a = 'v\"' , b=~\"x|y\" , } >=1e3 ").unwrap();
        assert_eq!(e.to_string(), r#"m:x{a="v\"", b=~"x|y"} >= 1000"#);
        assert_eq!(parse("m{} < -0.5").unwrap().to_string(), "m < -0.5");
    }
}
