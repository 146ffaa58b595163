//! Selectors, `metric{label OP "value", …}`: how one matches a series, and how it is written
//! back in canonical form.

use std::fmt;

use patrol_proto::Labels;
use regex::Regex;

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
            MatchOp::Regex | MatchOp::NotRegex => Some(regex_cache::compile(&value)?),
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

/// Compiled regexes shared by pattern: rule sets generated per host or per tablespace repeat the
/// same few patterns thousands of times, and compiling one costs ~100 µs, which dominated loading
/// 10 000 rules. `Regex` clones share the compiled program.
mod regex_cache {
    use std::collections::HashMap;
    use std::sync::{Mutex, OnceLock, PoisonError};

    use regex::Regex;

    /// Bounded so a collector reloading ever-new patterns does not grow without end; past the
    /// bound, patterns are compiled without caching.
    const MAX: usize = 4096;

    pub fn compile(pattern: &str) -> Result<Regex, regex::Error> {
        static CACHE: OnceLock<Mutex<HashMap<String, Regex>>> = OnceLock::new();
        let cache = CACHE.get_or_init(Default::default);
        if let Some(re) = cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(pattern)
        {
            return Ok(re.clone());
        }
        let re = Regex::new(&format!("^(?:{pattern})$"))?;
        let mut map = cache.lock().unwrap_or_else(PoisonError::into_inner);
        if map.len() < MAX {
            map.insert(pattern.to_owned(), re.clone());
        }
        Ok(re)
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

    /// The labels its equality matchers with a non-empty value fix: what `absent(m{…})`
    /// reports, as PromQL's `absent()` does.
    pub fn fixed_labels(&self) -> Labels {
        Labels::from_pairs(
            self.matchers
                .iter()
                .filter(|m| m.op == MatchOp::Equal && !m.value.is_empty())
                .map(|m| (m.name.clone(), m.value.clone())),
        )
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
