//! The query language: the part of PromQL Patrol's rules express. A vector selector
//! (`metric{label="v", label=~"re"}`, or `{__name__="m", ...}`), a range selector
//! (`metric{...}[5m]`), and the window functions over a range: `avg_over_time`,
//! `min_over_time`, `max_over_time`, `sum_over_time`, `count_over_time`, `last_over_time`,
//! `rate`, `increase`, `delta`, `changes`. Anything else is refused with the column where it
//! starts and a sentence.

use patrol_rules::{MatchOp, Matcher};

/// A parsed query.
#[derive(Debug, Clone, PartialEq)]
pub enum Query {
    /// The latest sample of each selected series.
    Vector(Selector),
    /// Every sample of each selected series in the window before the evaluation time.
    Matrix(Selector, i64),
    /// A function of each selected series' samples in the window.
    Call(Func, Selector, i64),
}

/// A series selector.
#[derive(Debug, Clone, PartialEq)]
pub struct Selector {
    /// The metric name, when the selector fixes it.
    pub metric: Option<String>,
    /// Label matchers (a `__name__` matcher other than `=` stays here).
    pub matchers: Vec<Matcher>,
}

/// A window function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Func {
    /// Mean.
    Avg,
    /// Smallest.
    Min,
    /// Largest.
    Max,
    /// Sum.
    Sum,
    /// Number of samples.
    Count,
    /// Newest.
    Last,
    /// Per-second increase of a counter (resets handled).
    Rate,
    /// Increase of a counter (resets handled).
    Increase,
    /// Last minus first.
    Delta,
    /// Times the value changed.
    Changes,
}

const FUNCS: [(&str, Func); 10] = [
    ("avg_over_time", Func::Avg),
    ("min_over_time", Func::Min),
    ("max_over_time", Func::Max),
    ("sum_over_time", Func::Sum),
    ("count_over_time", Func::Count),
    ("last_over_time", Func::Last),
    ("rate", Func::Rate),
    ("increase", Func::Increase),
    ("delta", Func::Delta),
    ("changes", Func::Changes),
];

impl Func {
    /// As written.
    pub fn name(self) -> &'static str {
        FUNCS
            .iter()
            .find(|(_, f)| *f == self)
            .map_or("?", |(n, _)| n)
    }
}

/// A query that does not parse: the 1-based column and a sentence.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("column {column}: {message}")]
pub struct ParseError {
    /// 1-based column (in characters).
    pub column: usize,
    /// What is wrong.
    pub message: String,
}

struct P<'a> {
    src: &'a str,
    pos: usize,
}

impl<'a> P<'a> {
    fn err<T>(&self, at: usize, message: impl Into<String>) -> Result<T, ParseError> {
        Err(ParseError {
            column: self.src[..at.min(self.src.len())].chars().count() + 1,
            message: message.into(),
        })
    }

    fn ws(&mut self) {
        while let Some(c) = self.src[self.pos..].chars().next() {
            if c.is_whitespace() {
                self.pos += c.len_utf8();
            } else {
                break;
            }
        }
    }

    fn peek(&self) -> Option<char> {
        self.src[self.pos..].chars().next()
    }

    fn eat(&mut self, s: &str) -> bool {
        self.ws();
        if self.src[self.pos..].starts_with(s) {
            self.pos += s.len();
            true
        } else {
            false
        }
    }

    fn ident(&mut self) -> Option<(usize, &'a str)> {
        self.ws();
        let start = self.pos;
        let rest = &self.src[start..];
        let mut end = 0;
        for (i, c) in rest.char_indices() {
            let ok =
                c.is_ascii_alphabetic() || c == '_' || c == ':' || (i > 0 && c.is_ascii_digit());
            if !ok {
                break;
            }
            end = i + c.len_utf8();
        }
        if end == 0 {
            return None;
        }
        self.pos += end;
        Some((start, &rest[..end]))
    }

    fn string(&mut self) -> Result<String, ParseError> {
        self.ws();
        let start = self.pos;
        let quote = match self.peek() {
            Some(q @ ('"' | '\'' | '`')) => q,
            _ => return self.err(start, "expected a quoted label value"),
        };
        self.pos += 1;
        let mut out = String::new();
        let mut chars = self.src[self.pos..].char_indices();
        while let Some((i, c)) = chars.next() {
            if c == quote {
                self.pos += i + 1;
                return Ok(out);
            }
            if c == '\\' && quote != '`' {
                match chars.next() {
                    Some((_, 'n')) => out.push('\n'),
                    Some((_, 't')) => out.push('\t'),
                    Some((_, 'r')) => out.push('\r'),
                    Some((_, e)) => out.push(e),
                    None => break,
                }
            } else {
                out.push(c);
            }
        }
        self.err(start, "the label value's quote is never closed")
    }

    fn matchers(&mut self, sel: &mut Selector) -> Result<(), ParseError> {
        loop {
            if self.eat("}") {
                return Ok(());
            }
            let Some((at, name)) = self.ident() else {
                self.ws();
                return self.err(self.pos, "expected a label name or '}'");
            };
            self.ws();
            let op_at = self.pos;
            let op = if self.eat("=~") {
                MatchOp::Regex
            } else if self.eat("!~") {
                MatchOp::NotRegex
            } else if self.eat("!=") {
                MatchOp::NotEqual
            } else if self.eat("=") {
                MatchOp::Equal
            } else {
                return self.err(op_at, "expected one of = != =~ !~ after the label name");
            };
            let value_at = {
                self.ws();
                self.pos
            };
            let value = self.string()?;
            if name == "__name__" && op == MatchOp::Equal && sel.metric.is_none() {
                sel.metric = Some(value);
            } else {
                match Matcher::new(name, op, value) {
                    Ok(m) => sel.matchers.push(m),
                    Err(e) => {
                        return self.err(
                            value_at,
                            format!("the regular expression does not compile: {e}"),
                        );
                    }
                }
            }
            let _ = at;
            if self.eat(",") {
                continue;
            }
            if self.eat("}") {
                return Ok(());
            }
            self.ws();
            return self.err(self.pos, "expected ',' or '}'");
        }
    }

    fn selector(&mut self, name: Option<&str>) -> Result<Selector, ParseError> {
        let mut sel = Selector {
            metric: name.map(str::to_owned),
            matchers: Vec::new(),
        };
        let open = {
            self.ws();
            self.pos
        };
        if self.eat("{") {
            self.matchers(&mut sel)?;
        }
        if sel.metric.is_none() && !sel.matchers.iter().any(|m| !m.matches("")) {
            return self.err(
                open,
                "a selector needs a metric name or a matcher that does not match the empty string",
            );
        }
        Ok(sel)
    }

    fn range(&mut self) -> Result<Option<i64>, ParseError> {
        self.ws();
        let at = self.pos;
        if !self.eat("[") {
            return Ok(None);
        }
        let close = self.src[self.pos..].find(']');
        let Some(len) = close else {
            return self.err(at, "the range's '[' is never closed");
        };
        let text = self.src[self.pos..self.pos + len].trim();
        let ms = duration_ms(text).ok_or_else(|| ParseError {
            column: self.src[..at].chars().count() + 2,
            message: format!("'{text}' is not a duration (e.g. 30s, 5m, 1h30m, 1d)"),
        })?;
        if ms <= 0 {
            return self.err(at + 1, "a range must be longer than zero");
        }
        self.pos += len + 1;
        Ok(Some(ms))
    }
}

/// Milliseconds of a Prometheus duration (`1h30m`, `5m`, `250ms`, `2d`, `1w`, `1y`).
pub fn duration_ms(text: &str) -> Option<i64> {
    if text.is_empty() {
        return None;
    }
    let mut total: i64 = 0;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if digits == 0 {
            return None;
        }
        let n: i64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let (unit, len) = [
            ("ms", 1i64),
            ("s", 1000),
            ("m", 60_000),
            ("h", 3_600_000),
            ("d", 86_400_000),
            ("w", 604_800_000),
            ("y", 31_536_000_000),
        ]
        .into_iter()
        .find(|(u, _)| rest.starts_with(u))
        .map(|(u, ms)| (ms, u.len()))?;
        total = total.checked_add(n.checked_mul(unit)?)?;
        rest = &rest[len..];
    }
    Some(total)
}

/// Parses a query.
pub fn parse(src: &str) -> Result<Query, ParseError> {
    let mut p = P { src, pos: 0 };
    p.ws();
    if p.pos == src.len() {
        return p.err(0, "the query is empty");
    }
    let start = p.pos;
    let q = match p.ident() {
        Some((at, name)) => {
            p.ws();
            let aggregation = matches!(
                name,
                "sum" | "avg" | "min" | "max" | "count" | "topk" | "bottomk" | "quantile"
            ) && (p.peek() == Some('(')
                || p.src[p.pos..].trim_start().starts_with("by"));
            if aggregation {
                return p.err(
                    at,
                    format!("'{name}' aggregation is not supported by Patrol's query API"),
                );
            }
            if p.peek() == Some('(') {
                let Some(&(_, func)) = FUNCS.iter().find(|(n, _)| *n == name) else {
                    return p.err(
                        at,
                        format!(
                            "'{name}' is not a function Patrol evaluates; known: {}",
                            FUNCS.map(|(n, _)| n).join(", ")
                        ),
                    );
                };
                p.eat("(");
                let inner_at = {
                    p.ws();
                    p.pos
                };
                let name = p.ident().map(|(_, n)| n.to_owned());
                let sel = p.selector(name.as_deref())?;
                let Some(range) = p.range()? else {
                    return p.err(
                        inner_at,
                        format!(
                            "{} takes a range, e.g. {}(metric[5m])",
                            func.name(),
                            func.name()
                        ),
                    );
                };
                if !p.eat(")") {
                    p.ws();
                    return p.err(p.pos, "expected ')'");
                }
                Query::Call(func, sel, range)
            } else {
                let sel = p.selector(Some(name))?;
                match p.range()? {
                    Some(r) => Query::Matrix(sel, r),
                    None => Query::Vector(sel),
                }
            }
        }
        None if p.peek() == Some('{') => {
            let sel = p.selector(None)?;
            match p.range()? {
                Some(r) => Query::Matrix(sel, r),
                None => Query::Vector(sel),
            }
        }
        None => {
            return p.err(
                start,
                "expected a metric name, a '{' selector or a function",
            );
        }
    };
    p.ws();
    if p.pos < src.len() {
        let what = &src[p.pos..];
        let word = what.split_whitespace().next().unwrap_or(what);
        return p.err(
            p.pos,
            format!("unexpected '{word}': operators and binary expressions are not supported by Patrol's query API"),
        );
    }
    Ok(q)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selectors_ranges_and_functions_parse() {
        let Query::Vector(s) = parse(r#"disk_used_percent{host="db1", mount=~"/u0.*"}"#).unwrap()
        else {
            panic!("vector")
        };
        assert_eq!(s.metric.as_deref(), Some("disk_used_percent"));
        assert_eq!(s.matchers.len(), 2);
        assert!(matches!(parse("m[5m]").unwrap(), Query::Matrix(_, 300_000)));
        assert!(matches!(
            parse("max_over_time(cpu_usage_percent{host='a'}[1d])").unwrap(),
            Query::Call(Func::Max, _, 86_400_000)
        ));
        let Query::Vector(s) = parse(r#"{__name__="up", job!="x"}"#).unwrap() else {
            panic!("vector")
        };
        assert_eq!(s.metric.as_deref(), Some("up"));
        assert_eq!(duration_ms("1h30m"), Some(5_400_000));
        assert_eq!(duration_ms("250ms"), Some(250));
    }

    #[test]
    fn what_is_not_supported_is_refused_with_its_column() {
        let cases = [
            ("m > 5", 3, "unexpected '>'"),
            ("sum(m)", 1, "'sum' aggregation"),
            (
                "histogram_quantile(0.9, m)",
                1,
                "not a function Patrol evaluates",
            ),
            ("rate(m)", 6, "rate takes a range"),
            ("m[5x]", 3, "'5x' is not a duration"),
            ("m{a=~\"(\"}", 6, "does not compile"),
            ("m{a=\"x}", 5, "never closed"),
            ("{a=\"\"}", 1, "needs a metric name"),
            ("", 1, "empty"),
        ];
        for (q, col, text) in cases {
            let e = parse(q).unwrap_err();
            assert_eq!(e.column, col, "{q}: {e}");
            assert!(e.message.contains(text), "{q}: {e}");
        }
    }
}
