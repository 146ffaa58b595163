//! Recursive-descent parser for rule expressions, with precedence climbing for the binary
//! operators.
//!
//! Grammar (see docs/rules.md); lower lines bind tighter:
//! ```text
//! expr      = expr "or" expr
//!           | expr ("and" | "unless") expr
//!           | expr cmp_op expr
//!           | expr ("+" | "-") expr
//!           | expr ("*" | "/" | "%") expr
//!           | ("-" | "+") expr
//!           | primary
//! primary   = number | selector [ "[" duration "]" ] | name "(" [ expr { "," expr } ] ")"
//!           | "(" expr ")"
//! selector  = metric_name [ "{" [ matcher { "," matcher } [ "," ] ] "}" ]
//! matcher   = label_name ( "=" | "!=" | "=~" | "!~" ) string
//! ```
//! The syntax tree is parsed untyped first (so parentheses can hold a condition or a value) and
//! then checked: the whole expression must be a condition, `and`/`or`/`unless` join conditions,
//! comparisons and arithmetic take values, window functions take a range.

use super::lexer::{Lexer, Tok, Token};
use super::{
    ArithOp, CmpOp, Expr, ExprError, Func, LogicOp, MatchOp, Matcher, Selector, Value,
    parse_duration_ms,
};

/// Parses a rule expression such as `disk_used_percent{mount!~"/run.*"} > 90`.
pub fn parse(src: &str) -> Result<Expr, ExprError> {
    let mut p = Parser::new(src)?;
    let node = p.expr(0)?;
    let t = p.peek().clone();
    if t.tok != Tok::Eof {
        return Err(p.trailing(&node, &t));
    }
    if !node.is_condition() {
        return Err(ExprError::new(t.start, no_comparison(&node, &p.found(&t))));
    }
    let expr = cond(node)?;
    check_absent_alone(&expr, true)?;
    Ok(expr)
}

/// Parses label matchers alone, `{host="db1", role=~"db.*"}`, as used outside rule expressions
/// (maintenance windows, routes, overrides) so the syntax is the same everywhere.
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

/// An untyped syntax node with its byte range in the expression.
#[derive(Debug)]
struct Node {
    kind: Kind,
    start: usize,
}

#[derive(Debug)]
enum Kind {
    Num(f64),
    Sel(Selector),
    Range(Selector, i64),
    Call(String, Vec<Node>),
    Neg(Box<Node>),
    Arith(ArithOp, Box<Node>, Box<Node>),
    Cmp(CmpOp, Box<Node>, Box<Node>),
    Logic(LogicOp, Box<Node>, Box<Node>),
    Paren(Box<Node>),
}

impl Node {
    /// Whether the node is a condition (as opposed to a value); decided by its outermost
    /// operator, so checking can say precisely what is misplaced.
    fn is_condition(&self) -> bool {
        match &self.kind {
            Kind::Cmp(..) | Kind::Logic(..) => true,
            Kind::Call(name, _) => name == "absent",
            Kind::Paren(inner) => inner.is_condition(),
            _ => false,
        }
    }
}

/// A binary operator token: its kind and precedence (higher binds tighter).
#[derive(Clone, Copy)]
enum BinOp {
    Logic(LogicOp),
    Cmp(CmpOp),
    Arith(ArithOp),
}

impl BinOp {
    fn precedence(self) -> u8 {
        match self {
            BinOp::Logic(op) => op.precedence(),
            BinOp::Cmp(_) => 3,
            BinOp::Arith(op) => op.precedence(),
        }
    }
}

fn binop(t: &Tok) -> Option<BinOp> {
    Some(match t {
        Tok::Ident(w) if w == "or" => BinOp::Logic(LogicOp::Or),
        Tok::Ident(w) if w == "and" => BinOp::Logic(LogicOp::And),
        Tok::Ident(w) if w == "unless" => BinOp::Logic(LogicOp::Unless),
        Tok::Gt => BinOp::Cmp(CmpOp::Gt),
        Tok::Ge => BinOp::Cmp(CmpOp::Ge),
        Tok::Lt => BinOp::Cmp(CmpOp::Lt),
        Tok::Le => BinOp::Cmp(CmpOp::Le),
        Tok::EqEq => BinOp::Cmp(CmpOp::Eq),
        Tok::Ne => BinOp::Cmp(CmpOp::Ne),
        Tok::Plus => BinOp::Arith(ArithOp::Add),
        Tok::Minus => BinOp::Arith(ArithOp::Sub),
        Tok::Star => BinOp::Arith(ArithOp::Mul),
        Tok::Slash => BinOp::Arith(ArithOp::Div),
        Tok::Percent => BinOp::Arith(ArithOp::Mod),
        _ => return None,
    })
}

const FUNCTIONS: &str = "avg_over_time, min_over_time, max_over_time, sum_over_time, \
    count_over_time, last_over_time, rate, increase, delta, changes, absent";

fn no_comparison(node: &Node, found: &str) -> String {
    let what = match &node.kind {
        Kind::Sel(_) => "the selector",
        _ => "the expression",
    };
    format!("expected a comparison operator (> >= < <= == !=) after {what}, {found}")
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

    /// `found 'x'` or `found the end of the expression`.
    fn found(&self, t: &Token) -> String {
        if t.tok == Tok::Eof {
            "found the end of the expression".to_owned()
        } else {
            format!("found '{}'", self.text(t))
        }
    }

    /// What is wrong with a token left over after a complete expression.
    fn trailing(&self, node: &Node, t: &Token) -> ExprError {
        let message = if !node.is_condition() {
            if t.tok == Tok::Assign {
                "'=' is not a comparison: use '==' to compare with a number".to_owned()
            } else {
                no_comparison(node, &self.found(t))
            }
        } else if t.tok == Tok::RParen {
            "unexpected ')': there is no '(' to close".to_owned()
        } else if matches!(&node.kind, Kind::Cmp(_, _, rhs) if matches!(rhs.kind, Kind::Num(_))) {
            format!(
                "unexpected '{}' after the threshold: the expression should end there",
                self.text(t)
            )
        } else {
            format!(
                "unexpected '{}': expected 'and', 'or', 'unless' or the end of the expression",
                self.text(t)
            )
        };
        ExprError::new(t.start, message)
    }

    /// Binary operators of at least `min` precedence, left-associative.
    fn expr(&mut self, min: u8) -> Result<Node, ExprError> {
        let mut lhs = self.unary()?;
        loop {
            let Some(op) = binop(&self.peek().tok) else {
                return Ok(lhs);
            };
            let p = op.precedence();
            if p < min {
                return Ok(lhs);
            }
            self.advance()?;
            let rhs = self.expr(p + 1)?;
            let start = lhs.start;
            let (l, r) = (Box::new(lhs), Box::new(rhs));
            let kind = match op {
                BinOp::Logic(op) => Kind::Logic(op, l, r),
                BinOp::Cmp(op) => Kind::Cmp(op, l, r),
                BinOp::Arith(op) => Kind::Arith(op, l, r),
            };
            lhs = Node { kind, start };
        }
    }

    fn unary(&mut self) -> Result<Node, ExprError> {
        let t = self.peek().clone();
        let negative = match t.tok {
            Tok::Minus => true,
            Tok::Plus => false,
            _ => return self.primary(),
        };
        self.advance()?;
        // A sign directly on a number literal is part of the number (`-1`), as in PromQL.
        let literal = matches!(self.peek().tok, Tok::Number(_));
        let inner = self.unary()?;
        if !negative {
            return Ok(Node {
                start: t.start,
                ..inner
            });
        }
        let kind = match inner.kind {
            Kind::Num(v) if literal => Kind::Num(-v),
            kind => Kind::Neg(Box::new(Node {
                kind,
                start: inner.start,
            })),
        };
        Ok(Node {
            kind,
            start: t.start,
        })
    }

    fn primary(&mut self) -> Result<Node, ExprError> {
        let t = self.advance()?;
        let start = t.start;
        let kind = match t.tok {
            Tok::Number(v) => Kind::Num(v),
            Tok::LParen => {
                let inner = self.expr(0)?;
                let close = self.advance()?;
                if close.tok != Tok::RParen {
                    return Err(ExprError::new(
                        close.start,
                        format!(
                            "expected ')' to close the '(' at offset {start}, {}",
                            self.found(&close)
                        ),
                    ));
                }
                Kind::Paren(Box::new(inner))
            }
            Tok::Ident(w) if matches!(w.as_str(), "and" | "or" | "unless") => {
                return Err(ExprError::new(
                    start,
                    format!("'{w}' joins two conditions and cannot start one"),
                ));
            }
            Tok::Ident(name) if self.peek().tok == Tok::LParen => {
                self.advance()?;
                Kind::Call(name, self.args()?)
            }
            Tok::Ident(metric) => {
                let matchers = if self.peek().tok == Tok::LBrace {
                    self.braced_matchers()?
                } else {
                    Vec::new()
                };
                let selector = Selector { metric, matchers };
                if self.peek().tok == Tok::LBracket {
                    let range = self.range()?;
                    Kind::Range(selector, range)
                } else {
                    Kind::Sel(selector)
                }
            }
            _ => {
                return Err(ExprError::new(
                    start,
                    format!(
                        "expected a number, a metric name, a function or '(', {}",
                        self.found(&t)
                    ),
                ));
            }
        };
        Ok(Node { kind, start })
    }

    /// A call's arguments, with the `(` consumed.
    fn args(&mut self) -> Result<Vec<Node>, ExprError> {
        let mut args = Vec::new();
        if self.peek().tok == Tok::RParen {
            self.advance()?;
            return Ok(args);
        }
        loop {
            args.push(self.expr(0)?);
            let t = self.advance()?;
            match t.tok {
                Tok::Comma => continue,
                Tok::RParen => return Ok(args),
                _ => {
                    return Err(ExprError::new(
                        t.start,
                        format!(
                            "expected ',' or ')' after a function argument, {}",
                            self.found(&t)
                        ),
                    ));
                }
            }
        }
    }

    /// `[duration]` with the `[` next: the duration is read raw, not as tokens.
    fn range(&mut self) -> Result<i64, ExprError> {
        let (text, at, _) = self.lexer.duration_text();
        let close = self.lexer.next_token()?;
        if close.tok != Tok::RBracket {
            return Err(ExprError::new(
                close.start,
                format!(
                    "expected ']' after the window's duration, {}",
                    self.found(&close)
                ),
            ));
        }
        let range = parse_duration_ms(&text).map_err(|m| ExprError::new(at, m))?;
        self.peeked = self.lexer.next_token()?;
        Ok(range)
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

/// Checks a node is a condition and builds it.
fn cond(node: Node) -> Result<Expr, ExprError> {
    let start = node.start;
    match node.kind {
        Kind::Paren(inner) => cond(*inner),
        Kind::Logic(op, l, r) => Ok(Expr::Logic {
            op,
            lhs: Box::new(cond(*l)?),
            rhs: Box::new(cond(*r)?),
        }),
        Kind::Cmp(op, l, r) => {
            if l.is_condition() || r.is_condition() {
                let side = if l.is_condition() { &l } else { &r };
                return Err(ExprError::new(
                    side.start,
                    "a condition cannot be compared: join conditions with 'and', 'or' or 'unless'",
                ));
            }
            let (lhs, rhs) = (value(*l)?, value(*r)?);
            if !lhs.reads_series() && !rhs.reads_series() {
                return Err(ExprError::new(
                    start,
                    "this compares two numbers, which is always true or always false: compare a metric, e.g. m > 90",
                ));
            }
            Ok(Expr::Compare { lhs, op, rhs })
        }
        Kind::Call(name, args) if name == "absent" => {
            let mut args = args.into_iter();
            match (args.next(), args.next()) {
                (Some(arg), None) => match arg.kind {
                    Kind::Sel(selector) => Ok(Expr::Absent {
                        selector,
                        range_ms: None,
                    }),
                    Kind::Range(selector, range) => Ok(Expr::Absent {
                        selector,
                        range_ms: Some(range),
                    }),
                    _ => Err(ExprError::new(
                        arg.start,
                        "absent() takes a metric selector, such as m{db=\"ORCL\"}, or a range such as m{db=\"ORCL\"}[5m]",
                    )),
                },
                _ => Err(ExprError::new(
                    start,
                    "absent() takes one argument: a metric selector or a range such as m[5m]",
                )),
            }
        }
        _ => Err(ExprError::new(
            start,
            "this is a value, not a condition: compare it (e.g. ... > 90) or use absent(...)",
        )),
    }
}

/// Checks a node is a value and builds it.
fn value(node: Node) -> Result<Value, ExprError> {
    let start = node.start;
    match node.kind {
        Kind::Num(v) => Ok(Value::Number(v)),
        Kind::Sel(s) => Ok(Value::Series(s)),
        Kind::Paren(inner) => value(*inner),
        Kind::Neg(inner) => Ok(Value::Neg(Box::new(value(*inner)?))),
        Kind::Arith(op, l, r) => {
            for side in [&l, &r] {
                if side.is_condition() {
                    return Err(ExprError::new(
                        side.start,
                        format!(
                            "'{}' needs numbers or series on both sides, not a condition",
                            op.as_str()
                        ),
                    ));
                }
            }
            Ok(Value::Arith {
                op,
                lhs: Box::new(value(*l)?),
                rhs: Box::new(value(*r)?),
            })
        }
        Kind::Range(s, _) => Err(ExprError::new(
            start,
            format!(
                "a range such as {s}[5m] must be the argument of a window function, e.g. avg_over_time({s}[5m])"
            ),
        )),
        Kind::Call(name, args) => {
            let Some(func) = Func::from_name(&name) else {
                let message = if name == "absent" {
                    "absent(...) is a condition, not a number: use it alone or with 'and', 'or', 'unless'".to_owned()
                } else {
                    format!("unknown function '{name}': expected one of {FUNCTIONS}")
                };
                return Err(ExprError::new(start, message));
            };
            let mut args = args.into_iter();
            let (Some(arg), None) = (args.next(), args.next()) else {
                return Err(ExprError::new(
                    start,
                    format!(
                        "{}() takes one argument: a range such as m[5m]",
                        func.name()
                    ),
                ));
            };
            match arg.kind {
                Kind::Range(selector, range_ms) => Ok(Value::Func {
                    func,
                    selector,
                    range_ms,
                }),
                Kind::Sel(s) => Err(ExprError::new(
                    arg.start,
                    format!(
                        "{}() needs a range, not the latest value: add a window, e.g. {}({s}[5m])",
                        func.name(),
                        func.name()
                    ),
                )),
                Kind::Num(_) => Err(ExprError::new(
                    arg.start,
                    format!(
                        "{}() needs a range such as m[5m], found a number",
                        func.name()
                    ),
                )),
                _ => Err(ExprError::new(
                    arg.start,
                    format!(
                        "{}() needs a range of one metric such as m[5m], found an expression",
                        func.name()
                    ),
                )),
            }
        }
        Kind::Cmp(..) | Kind::Logic(..) => Err(ExprError::new(
            start,
            "expected a value here, found a condition",
        )),
    }
}

/// `absent(m{…})` without a range is about the whole selector, not one series: it cannot be
/// joined with conditions about a series.
fn check_absent_alone(expr: &Expr, top: bool) -> Result<(), ExprError> {
    match expr {
        Expr::Absent { range_ms: None, .. } if !top => Err(ExprError::new(
            0,
            "absent(...) without a range is about the whole selector, not one series: it must be the whole expression (absent(m[5m]) can be joined)",
        )),
        Expr::Logic { lhs, rhs, .. } => {
            check_absent_alone(lhs, false)?;
            check_absent_alone(rhs, false)
        }
        _ => Ok(()),
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
mod tests;
