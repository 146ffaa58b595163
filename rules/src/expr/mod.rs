//! Rule expressions: the AST, its canonical `Display`, and how a selector matches a series.
//! Lexing and parsing live in `lexer.rs` and `parser.rs`, selectors in `selector.rs`, range
//! durations in `duration.rs`.
//!
//! An expression is a *condition* about one series (or about several metrics of the same label
//! set): comparisons of values, `absent(...)`, joined with `and`, `or`, `unless`. A *value* is a
//! number, the latest sample of a series, a window function over a series, or arithmetic on
//! those.

mod duration;
mod lexer;
mod parser;
#[cfg(test)]
mod proptests;
mod selector;

use std::fmt;

pub use duration::{format_duration_ms, parse_duration_ms, parse_duration_or_zero_ms};
pub use parser::{parse, parse_matchers};
pub use selector::{MatchOp, Matcher, Selector};

/// A comparison between two values.
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
    #[inline]
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

/// Arithmetic between values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ArithOp {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/` (IEEE: `x / 0` is ±Inf, `0 / 0` NaN, as in PromQL)
    Div,
    /// `%` (remainder with the sign of the dividend, as Go's `math.Mod`)
    Mod,
}

impl ArithOp {
    /// The operator as written.
    pub fn as_str(self) -> &'static str {
        match self {
            ArithOp::Add => "+",
            ArithOp::Sub => "-",
            ArithOp::Mul => "*",
            ArithOp::Div => "/",
            ArithOp::Mod => "%",
        }
    }

    /// Applies the operator.
    pub fn apply(self, a: f64, b: f64) -> f64 {
        match self {
            ArithOp::Add => a + b,
            ArithOp::Sub => a - b,
            ArithOp::Mul => a * b,
            ArithOp::Div => a / b,
            ArithOp::Mod => a % b,
        }
    }

    fn precedence(self) -> u8 {
        match self {
            ArithOp::Add | ArithOp::Sub => 4,
            ArithOp::Mul | ArithOp::Div | ArithOp::Mod => 5,
        }
    }
}

/// How two conditions about the same series combine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LogicOp {
    /// Both hold.
    And,
    /// Either holds.
    Or,
    /// The left holds and the right does not.
    Unless,
}

impl LogicOp {
    /// The keyword as written.
    pub fn as_str(self) -> &'static str {
        match self {
            LogicOp::And => "and",
            LogicOp::Or => "or",
            LogicOp::Unless => "unless",
        }
    }

    fn precedence(self) -> u8 {
        match self {
            LogicOp::Or => 1,
            LogicOp::And | LogicOp::Unless => 2,
        }
    }
}

/// A function over a window of one series' samples.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Func {
    /// Mean of the samples in the window.
    AvgOverTime,
    /// Smallest sample.
    MinOverTime,
    /// Largest sample.
    MaxOverTime,
    /// Sum of the samples.
    SumOverTime,
    /// Number of samples.
    CountOverTime,
    /// The newest sample, if it is inside the window.
    LastOverTime,
    /// Per-second increase of a counter, resets handled, extrapolated as Prometheus does.
    Rate,
    /// Increase of a counter over the window, resets handled, extrapolated.
    Increase,
    /// Difference between the newest and oldest sample of a gauge, extrapolated.
    Delta,
    /// How many times the value changed.
    Changes,
}

impl Func {
    /// Every window function, in the order the docs list them.
    pub const ALL: [Func; 10] = [
        Func::AvgOverTime,
        Func::MinOverTime,
        Func::MaxOverTime,
        Func::SumOverTime,
        Func::CountOverTime,
        Func::LastOverTime,
        Func::Rate,
        Func::Increase,
        Func::Delta,
        Func::Changes,
    ];

    /// The function's name.
    pub fn name(self) -> &'static str {
        match self {
            Func::AvgOverTime => "avg_over_time",
            Func::MinOverTime => "min_over_time",
            Func::MaxOverTime => "max_over_time",
            Func::SumOverTime => "sum_over_time",
            Func::CountOverTime => "count_over_time",
            Func::LastOverTime => "last_over_time",
            Func::Rate => "rate",
            Func::Increase => "increase",
            Func::Delta => "delta",
            Func::Changes => "changes",
        }
    }

    /// The function called `name`.
    pub fn from_name(name: &str) -> Option<Func> {
        Func::ALL.into_iter().find(|f| f.name() == name)
    }
}

/// A numeric value of the series a rule looks at.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A finite constant.
    Number(f64),
    /// The latest sample of the selected series.
    Series(Selector),
    /// A window function over the selected series' samples of the last `range_ms`.
    Func {
        /// Which function.
        func: Func,
        /// The series.
        selector: Selector,
        /// The window length, ms (> 0).
        range_ms: i64,
    },
    /// `-value`.
    Neg(Box<Value>),
    /// `lhs OP rhs`.
    Arith {
        /// The operator.
        op: ArithOp,
        /// Left operand.
        lhs: Box<Value>,
        /// Right operand.
        rhs: Box<Value>,
    },
}

impl Value {
    /// Whether a series is involved (a comparison of two constants is refused).
    pub fn reads_series(&self) -> bool {
        match self {
            Value::Number(_) => false,
            Value::Series(_) | Value::Func { .. } => true,
            Value::Neg(v) => v.reads_series(),
            Value::Arith { lhs, rhs, .. } => lhs.reads_series() || rhs.reads_series(),
        }
    }

    fn precedence(&self) -> u8 {
        match self {
            Value::Arith { op, .. } => op.precedence(),
            Value::Neg(_) => 6,
            // A negative number literal binds like a unary minus.
            Value::Number(n) if n.is_sign_negative() => 6,
            _ => 7,
        }
    }

    fn visit_selectors<'a>(&'a self, out: &mut impl FnMut(&'a Selector)) {
        match self {
            Value::Number(_) => {}
            Value::Series(s) | Value::Func { selector: s, .. } => out(s),
            Value::Neg(v) => v.visit_selectors(out),
            Value::Arith { lhs, rhs, .. } => {
                lhs.visit_selectors(out);
                rhs.visit_selectors(out);
            }
        }
    }
}

/// A parsed rule expression: a condition.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// `lhs OP rhs`: holds while the comparison of the two values holds.
    Compare {
        /// The value reported as `{{value}}`.
        lhs: Value,
        /// The comparison.
        op: CmpOp,
        /// What it is compared with; a number here is a threshold per-label overrides can change.
        rhs: Value,
    },
    /// `absent(selector)` or `absent(selector[range])`.
    Absent {
        /// The series expected.
        selector: Selector,
        /// With a range: a series seen that has had no sample for this long (Zabbix `nodata`).
        /// Without: no series matching the selector has appeared at all.
        range_ms: Option<i64>,
    },
    /// `lhs and|or|unless rhs` over the same series.
    Logic {
        /// The operator.
        op: LogicOp,
        /// Left condition.
        lhs: Box<Expr>,
        /// Right condition.
        rhs: Box<Expr>,
    },
}

impl Expr {
    /// Parses an expression; see [`parse`].
    pub fn parse(src: &str) -> Result<Expr, ExprError> {
        parse(src)
    }

    /// Every selector, left to right (a metric may appear more than once).
    pub fn selectors(&self) -> Vec<&Selector> {
        let mut out = Vec::new();
        self.visit_selectors(&mut |s| out.push(s));
        out
    }

    fn visit_selectors<'a>(&'a self, out: &mut impl FnMut(&'a Selector)) {
        match self {
            Expr::Compare { lhs, rhs, .. } => {
                lhs.visit_selectors(out);
                rhs.visit_selectors(out);
            }
            Expr::Absent { selector, .. } => out(selector),
            Expr::Logic { lhs, rhs, .. } => {
                lhs.visit_selectors(out);
                rhs.visit_selectors(out);
            }
        }
    }

    /// The metric the expression is first about: its incidents' fingerprints are computed with
    /// this name, as they were when a rule could read only one metric.
    pub fn metric(&self) -> &str {
        &self.selector().metric
    }

    /// The first selector of the expression.
    pub fn selector(&self) -> &Selector {
        match self {
            Expr::Compare { lhs, rhs, .. } => first_selector(lhs)
                .or_else(|| first_selector(rhs))
                // The parser refuses a comparison without a series.
                .unwrap_or(&EMPTY_SELECTOR),
            Expr::Absent { selector, .. } => selector,
            Expr::Logic { lhs, .. } => lhs.selector(),
        }
    }

    /// The threshold: the number on the right of the first comparison (left to right) that
    /// has one, as written. Per-label overrides replace it.
    pub fn threshold(&self) -> Option<f64> {
        match self {
            Expr::Compare {
                rhs: Value::Number(n),
                ..
            } => Some(*n),
            Expr::Compare { .. } | Expr::Absent { .. } => None,
            Expr::Logic { lhs, rhs, .. } => lhs.threshold().or_else(|| rhs.threshold()),
        }
    }

    fn precedence(&self) -> u8 {
        match self {
            Expr::Logic { op, .. } => op.precedence(),
            Expr::Compare { .. } => 3,
            Expr::Absent { .. } => 7,
        }
    }
}

static EMPTY_SELECTOR: Selector = Selector {
    metric: String::new(),
    matchers: Vec::new(),
};

fn first_selector(v: &Value) -> Option<&Selector> {
    let mut first = None;
    v.visit_selectors(&mut |s| {
        if first.is_none() {
            first = Some(s);
        }
    });
    first
}

impl fmt::Display for Value {
    /// The canonical form, with the parentheses precedence needs and no others.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Number(n) => write!(f, "{n}"),
            Value::Series(s) => write!(f, "{s}"),
            Value::Func {
                func,
                selector,
                range_ms,
            } => write!(
                f,
                "{}({selector}[{}])",
                func.name(),
                format_duration_ms(*range_ms)
            ),
            Value::Neg(v) => {
                f.write_str("-")?;
                // `-5` would read back as the literal -5, not as the negation of 5.
                if v.precedence() <= 6 || matches!(**v, Value::Number(_)) {
                    write!(f, "({v})")
                } else {
                    write!(f, "{v}")
                }
            }
            Value::Arith { op, lhs, rhs } => {
                let p = op.precedence();
                if lhs.precedence() < p {
                    write!(f, "({lhs})")?;
                } else {
                    write!(f, "{lhs}")?;
                }
                write!(f, " {} ", op.as_str())?;
                // Left-associative: an equal-precedence right operand needs parentheses.
                if rhs.precedence() <= p {
                    write!(f, "({rhs})")
                } else {
                    write!(f, "{rhs}")
                }
            }
        }
    }
}

impl fmt::Display for Expr {
    /// The canonical form, which parses back to an equal `Expr`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expr::Compare { lhs, op, rhs } => write!(f, "{lhs} {op} {rhs}"),
            Expr::Absent { selector, range_ms } => match range_ms {
                Some(r) => write!(f, "absent({selector}[{}])", format_duration_ms(*r)),
                None => write!(f, "absent({selector})"),
            },
            Expr::Logic { op, lhs, rhs } => {
                let p = op.precedence();
                if lhs.precedence() < p {
                    write!(f, "({lhs})")?;
                } else {
                    write!(f, "{lhs}")?;
                }
                write!(f, " {} ", op.as_str())?;
                if rhs.precedence() <= p {
                    write!(f, "({rhs})")
                } else {
                    write!(f, "{rhs}")
                }
            }
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
    use patrol_proto::Labels;

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
        assert_eq!(
            parse("(a - (b - c)) * -(d + 1) > ((2))")
                .unwrap()
                .to_string(),
            "(a - (b - c)) * -(d + 1) > 2"
        );
        assert_eq!(
            parse("(a > 1 or b > 2) and absent(c[1h30m]) unless d < 0")
                .unwrap()
                .to_string(),
            "(a > 1 or b > 2) and absent(c[1h30m]) unless d < 0"
        );
        assert_eq!(
            parse("rate( x_total{a='b'}[300s] ) > 1")
                .unwrap()
                .to_string(),
            r#"rate(x_total{a="b"}[5m]) > 1"#
        );
    }

    #[test]
    fn threshold_is_the_first_comparison_with_a_number() {
        let t = |s: &str| parse(s).unwrap().threshold();
        assert_eq!(t("m > 90"), Some(90.0));
        assert_eq!(t("a / b > 0.9"), Some(0.9));
        assert_eq!(t("m > n"), None);
        assert_eq!(
            t("m > n or avg_over_time(m[5m]) > 80 and m < 3"),
            Some(80.0)
        );
        assert_eq!(t("absent(m[5m])"), None);
    }

    #[test]
    fn selectors_and_metric_are_read_left_to_right() {
        let e = parse("disk_used_bytes{mount='/'} / disk_total_bytes > 0.9").unwrap();
        let metrics: Vec<_> = e.selectors().iter().map(|s| s.metric.as_str()).collect();
        assert_eq!(metrics, ["disk_used_bytes", "disk_total_bytes"]);
        assert_eq!(e.metric(), "disk_used_bytes");
        assert_eq!(parse("2 < m").unwrap().metric(), "m");
        assert_eq!(
            parse(r#"absent(up{job="x", env!="", host=""})"#)
                .unwrap()
                .selector()
                .fixed_labels(),
            labels(&[("job", "x")])
        );
    }

    #[test]
    fn regexes_are_compiled_once_per_pattern() {
        let a = Matcher::new("a", MatchOp::Regex, "x.*y").unwrap();
        let b = Matcher::new("b", MatchOp::NotRegex, "x.*y").unwrap();
        assert!(a.matches("xzzy") && !b.matches("xzzy"));
        assert!(!a.matches("axzzy"));
        assert!(Matcher::new("a", MatchOp::Regex, "(").is_err());
    }
}
