//! Recursive-descent parser for rule expressions.
//!
//! Grammar today (see docs/rules.md):
//! ```text
//! expr     = selector cmp_op number
//! selector = metric_name [ "{" [ matcher { "," matcher } [ "," ] ] "}" ]
//! matcher  = label_name ( "=" | "!=" | "=~" | "!~" ) string
//! number   = [ "+" | "-" ] unsigned_number
//! ```
//! `expr` is the entry point so that function calls (`absent(...)`, `rate(m[5m])`) can be
//! added as further alternatives of a primary expression without touching the selector code.

use super::lexer::{Lexer, Tok, Token};
use super::{CmpOp, Expr, ExprError, MatchOp, Matcher, Selector};

/// Parses a rule expression such as `disk_used_percent{mount!~"/run.*"} > 90`.
pub fn parse(src: &str) -> Result<Expr, ExprError> {
    let mut p = Parser::new(src)?;
    let expr = p.compare()?;
    let t = p.peek();
    if t.tok != Tok::Eof {
        return Err(ExprError::new(
            t.start,
            format!(
                "unexpected '{}' after the threshold: the expression should end there",
                p.text(t)
            ),
        ));
    }
    Ok(expr)
}

/// Parses label matchers alone, `{host="db1", role=~"db.*"}`, as used outside rule expressions
/// (maintenance windows, routes) so the syntax is the same everywhere.
pub fn parse_matchers(src: &str) -> Result<Vec<Matcher>, ExprError> {
    let mut p = Parser::new(src)?;
    let t = p.peek().clone();
    if t.tok != Tok::LBrace {
        return Err(ExprError::new(
            t.start,
            format!(
                "expected label matchers in braces such as {{host=\"db1\"}}, {}",
                p.found(&t)
            ),
        ));
    }
    let matchers = p.braced_matchers()?;
    let t = p.peek();
    if t.tok != Tok::Eof {
        return Err(ExprError::new(
            t.start,
            format!("unexpected '{}' after the closing '}}'", p.text(t)),
        ));
    }
    Ok(matchers)
}

struct Parser<'a> {
    src: &'a str,
    lexer: Lexer<'a>,
    peeked: Token,
}

impl<'a> Parser<'a> {
    fn new(src: &'a str) -> Result<Self, ExprError> {
        let mut lexer = Lexer::new(src);
        let peeked = lexer.next_token()?;
        Ok(Self { src, lexer, peeked })
    }

    fn peek(&self) -> &Token {
        &self.peeked
    }

    fn advance(&mut self) -> Result<Token, ExprError> {
        let next = self.lexer.next_token()?;
        Ok(std::mem::replace(&mut self.peeked, next))
    }

    /// How a token is quoted in messages.
    fn text(&self, t: &Token) -> String {
        if t.tok == Tok::Eof {
            "end of expression".to_owned()
        } else {
            self.src.get(t.start..t.end).unwrap_or_default().to_owned()
        }
    }

    /// `found 'x'` or `found end of expression`.
    fn found(&self, t: &Token) -> String {
        if t.tok == Tok::Eof {
            "found the end of the expression".to_owned()
        } else {
            format!("found '{}'", self.text(t))
        }
    }

    fn compare(&mut self) -> Result<Expr, ExprError> {
        let selector = self.selector()?;
        let t = self.peek().clone();
        let op = match t.tok {
            Tok::Gt => CmpOp::Gt,
            Tok::Ge => CmpOp::Ge,
            Tok::Lt => CmpOp::Lt,
            Tok::Le => CmpOp::Le,
            Tok::EqEq => CmpOp::Eq,
            Tok::Ne => CmpOp::Ne,
            Tok::Assign => {
                return Err(ExprError::new(
                    t.start,
                    "'=' is not a comparison: use '==' to compare with a number",
                ));
            }
            _ => {
                return Err(ExprError::new(
                    t.start,
                    format!(
                        "expected a comparison operator (> >= < <= == !=) after the selector, {}",
                        self.found(&t)
                    ),
                ));
            }
        };
        self.advance()?;
        let threshold = self.number()?;
        Ok(Expr::Compare {
            selector,
            op,
            threshold,
        })
    }

    fn number(&mut self) -> Result<f64, ExprError> {
        let t = self.advance()?;
        let (negative, t) = match t.tok {
            Tok::Minus => (true, self.advance()?),
            Tok::Plus => (false, self.advance()?),
            _ => (false, t),
        };
        match t.tok {
            Tok::Number(v) => Ok(if negative { -v } else { v }),
            _ => Err(ExprError::new(
                t.start,
                format!(
                    "expected a number after the comparison operator, {}",
                    self.found(&t)
                ),
            )),
        }
    }

    fn selector(&mut self) -> Result<Selector, ExprError> {
        let t = self.advance()?;
        let metric = match t.tok {
            Tok::Ident(name) => name,
            _ => {
                return Err(ExprError::new(
                    t.start,
                    format!("expected a metric name, {}", self.found(&t)),
                ));
            }
        };
        match self.peek().tok {
            Tok::LParen => {
                return Err(ExprError::new(
                    t.start,
                    format!("unknown function '{metric}': functions are not supported yet"),
                ));
            }
            Tok::LBracket => {
                return Err(ExprError::new(
                    self.peek().start,
                    "range selectors like [5m] are not supported yet",
                ));
            }
            Tok::LBrace => {}
            _ => {
                return Ok(Selector {
                    metric,
                    matchers: Vec::new(),
                });
            }
        }
        let matchers = self.braced_matchers()?;
        Ok(Selector { metric, matchers })
    }

    /// `{ matcher, ... }` with the `{` next.
    fn braced_matchers(&mut self) -> Result<Vec<Matcher>, ExprError> {
        self.advance()?;
        let mut matchers = Vec::new();
        loop {
            if self.peek().tok == Tok::RBrace {
                self.advance()?;
                break;
            }
            matchers.push(self.matcher()?);
            let t = self.advance()?;
            match t.tok {
                Tok::Comma => continue,
                Tok::RBrace => break,
                _ => {
                    return Err(ExprError::new(
                        t.start,
                        format!(
                            "expected ',' or '}}' after a label matcher, {}",
                            self.found(&t)
                        ),
                    ));
                }
            }
        }
        Ok(matchers)
    }

    fn matcher(&mut self) -> Result<Matcher, ExprError> {
        let t = self.advance()?;
        let name = match t.tok {
            Tok::Ident(name) if !name.contains(':') => name,
            Tok::Ident(name) => {
                return Err(ExprError::new(
                    t.start,
                    format!("invalid label name '{name}': label names cannot contain ':'"),
                ));
            }
            _ => {
                return Err(ExprError::new(
                    t.start,
                    format!("expected a label name or '}}', {}", self.found(&t)),
                ));
            }
        };
        let t = self.advance()?;
        let op = match t.tok {
            Tok::Assign => MatchOp::Equal,
            Tok::Ne => MatchOp::NotEqual,
            Tok::ReMatch => MatchOp::Regex,
            Tok::ReNotMatch => MatchOp::NotRegex,
            Tok::EqEq => {
                return Err(ExprError::new(
                    t.start,
                    format!("use '=' rather than '==' to match label '{name}'"),
                ));
            }
            _ => {
                return Err(ExprError::new(
                    t.start,
                    format!(
                        "expected a label match operator (= != =~ !~) after '{name}', {}",
                        self.found(&t)
                    ),
                ));
            }
        };
        let t = self.advance()?;
        let value = match t.tok {
            Tok::Str(v) => v,
            _ => {
                return Err(ExprError::new(
                    t.start,
                    format!(
                        "expected a quoted label value after '{name}{}', {}",
                        op.as_str(),
                        self.found(&t)
                    ),
                ));
            }
        };
        Matcher::new(name.clone(), op, value).map_err(|e| {
            ExprError::new(
                t.start,
                format!(
                    "invalid regular expression for label '{name}': {}",
                    regex_error_summary(&e)
                ),
            )
        })
    }
}

/// The regex crate's message is multi-line with a caret diagram that points into our anchored
/// copy of the pattern, which would mislead; keep only its final sentence.
fn regex_error_summary(e: &regex::Error) -> String {
    let text = e.to_string();
    text.lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .map(|l| l.trim().trim_start_matches("error: ").to_owned())
        .unwrap_or(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(src: &str) -> (usize, String) {
        let e = parse(src).unwrap_err();
        (e.offset, e.message)
    }

    fn cmp(src: &str) -> (String, Vec<(String, MatchOp, String)>, CmpOp, f64) {
        let Expr::Compare {
            selector,
            op,
            threshold,
        } = parse(src).unwrap();
        let ms = selector
            .matchers
            .into_iter()
            .map(|m| (m.name, m.op, m.value))
            .collect();
        (selector.metric, ms, op, threshold)
    }

    #[test]
    fn parses_each_comparison_operator() {
        for (s, op) in [
            (">", CmpOp::Gt),
            (">=", CmpOp::Ge),
            ("<", CmpOp::Lt),
            ("<=", CmpOp::Le),
            ("==", CmpOp::Eq),
            ("!=", CmpOp::Ne),
        ] {
            let (_, _, got, t) = cmp(&format!("m {s} 40"));
            assert_eq!((got, t), (op, 40.0), "{s}");
        }
    }

    #[test]
    fn parses_all_matcher_kinds_and_trailing_comma() {
        let (metric, ms, _, _) = cmp(r#"disk_used_percent{a="1", b!="2", c=~"x.*", d!~'y',} > 90"#);
        assert_eq!(metric, "disk_used_percent");
        let ops: Vec<_> = ms.iter().map(|m| m.1).collect();
        assert_eq!(
            ops,
            vec![
                MatchOp::Equal,
                MatchOp::NotEqual,
                MatchOp::Regex,
                MatchOp::NotRegex
            ]
        );
        assert_eq!(ms[3].2, "y");
    }

    #[test]
    fn parses_without_braces_empty_braces_and_tight_spacing() {
        assert_eq!(cmp("m>1").0, "m");
        assert!(cmp("m{}>1").1.is_empty());
        assert_eq!(cmp("\tm { a = \"b\" }\n>\n1 ").1.len(), 1);
        assert_eq!(cmp("job:rate_5m:sum > 1").0, "job:rate_5m:sum");
    }

    #[test]
    fn parses_signed_and_scientific_numbers() {
        assert_eq!(cmp("m > -1").3, -1.0);
        assert_eq!(cmp("m > +2").3, 2.0);
        assert_eq!(cmp("m > 0.5").3, 0.5);
        assert_eq!(cmp("m > 1e3").3, 1000.0);
        assert_eq!(cmp("m > 1.5e-3").3, 0.0015);
    }

    #[test]
    fn decodes_escapes_in_label_values() {
        let (_, ms, _, _) = cmp(r#"m{a="q\"b\\s\nn"} > 1"#);
        assert_eq!(ms[0].2, "q\"b\\s\nn");
    }

    #[test]
    fn reports_errors_at_their_offset() {
        assert_eq!(
            err("m foo"),
            (
                2,
                "expected a comparison operator (> >= < <= == !=) after the selector, found 'foo'"
                    .into()
            )
        );
        assert_eq!(
            err("m"),
            (
                1,
                "expected a comparison operator (> >= < <= == !=) after the selector, found the end of the expression".into()
            )
        );
        assert_eq!(err(r#"m{a="x} > 1"#), (2 + 2, "unterminated string".into()));
        assert_eq!(err("m > x").0, 4);
        assert_eq!(err("m > 1 2").0, 6);
        assert_eq!(err("> 1").0, 0);
        assert_eq!(err("m{a=1} > 1").0, 4);
        assert_eq!(err("m{a:b=\"1\"} > 1").0, 2);
        assert_eq!(err("m{a=\"1\" b=\"2\"} > 1").0, 8);
        assert_eq!(
            err("m = 1").1,
            "'=' is not a comparison: use '==' to compare with a number"
        );
        assert_eq!(err("m > 1e999").1, "number '1e999' is out of range");
        assert!(
            err("rate(m[5m]) > 1")
                .1
                .starts_with("unknown function 'rate'")
        );
    }

    #[test]
    fn bad_regex_names_the_label() {
        let (off, msg) = err(r#"m{mount=~"(unclosed"} > 1"#);
        assert_eq!(off, 9);
        assert!(
            msg.starts_with("invalid regular expression for label 'mount': "),
            "{msg}"
        );
        assert!(!msg.contains('\n'), "{msg}");
    }
}

#[cfg(test)]
mod matcher_tests {
    use super::*;

    #[test]
    fn matchers_alone() {
        let m = parse_matchers(r#"{host="db1", role=~"db.*",}"#).unwrap();
        assert_eq!(m.len(), 2);
        assert_eq!(m[1].op, MatchOp::Regex);
        assert!(parse_matchers("{}").unwrap().is_empty());
        let e = parse_matchers(r#"host="db1""#).unwrap_err();
        assert_eq!(e.offset, 0);
        let e = parse_matchers(r#"{host="db1"} x"#).unwrap_err();
        assert_eq!(e.offset, 13);
    }
}
