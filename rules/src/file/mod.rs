//! Rule files: turns the TOML of one file into checked [`Rule`]s, reporting every problem of
//! the file at once at `file:line:column`. Directory loading lives in `load.rs`.

mod load;
mod span;

use std::collections::HashMap;
use std::ops::Range;
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use crate::diag::Diagnostic;
use crate::expr::{CmpOp, Expr};
use crate::level::{Levels, Severity};
use crate::rule::Rule;
use crate::template::Template;

pub use load::{load_dir, load_path};
pub use span::value_offset;

/// A rule file as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    rule: Vec<Spanned<RawRule>>,
}

/// One `[[rule]]` table as written. Every field is optional here so that a missing field is
/// reported together with the file's other problems instead of stopping at the first.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    name: Option<Spanned<String>>,
    expr: Option<Spanned<String>>,
    #[serde(rename = "for")]
    for_: Option<Spanned<String>>,
    clear: Option<Spanned<f64>>,
    severity: Option<Spanned<String>>,
    summary: Option<Spanned<String>>,
}

/// What one file yielded: its valid rules, and where every well-formed rule name is (also of
/// rules with other problems, so a duplicate name is reported in the same pass).
pub(crate) struct Parsed {
    pub rules: Vec<Rule>,
    pub names: Vec<NameAt>,
    pub diags: Vec<Diagnostic>,
}

/// A rule name and the position of its value.
pub(crate) struct NameAt {
    pub name: String,
    pub line: usize,
    pub column: usize,
}

/// Parses and checks one rule file. `file` is only used in diagnostics and [`Rule::file`].
///
/// Returns every problem of the file at once, ordered by position, including rule names used
/// twice in the file. A TOML syntax error, an unknown key or a value of the wrong type stops
/// the file early and yields one diagnostic, since the rest of the file cannot be trusted.
/// A file with no rules is valid.
pub fn parse_rules(file: &str, src: &str, levels: &Levels) -> Result<Vec<Rule>, Vec<Diagnostic>> {
    let Parsed {
        rules,
        names,
        mut diags,
    } = parse_file(file, src, levels);
    check_unique_names(file, &names, &mut HashMap::new(), &mut diags);
    if diags.is_empty() {
        Ok(rules)
    } else {
        sort(&mut diags);
        Err(diags)
    }
}

/// Parses one file without the uniqueness check (the directory loader checks across files).
pub(crate) fn parse_file(file: &str, src: &str, levels: &Levels) -> Parsed {
    let raw: RawFile = match toml::from_str(src) {
        Ok(raw) => raw,
        Err(e) => {
            let offset = e.span().map_or(0, |s| s.start);
            let message = e.message().trim().to_owned();
            return Parsed {
                rules: Vec::new(),
                names: Vec::new(),
                diags: vec![Diagnostic::at(file, src, offset, message)],
            };
        }
    };
    let mut cx = Checker {
        file,
        src,
        levels,
        names: Vec::new(),
        diags: Vec::new(),
    };
    let rules = raw.rule.into_iter().filter_map(|r| cx.rule(r)).collect();
    sort(&mut cx.diags);
    Parsed {
        rules,
        names: cx.names,
        diags: cx.diags,
    }
}

fn sort(diags: &mut [Diagnostic]) {
    diags.sort_by(|a, b| (&a.file, a.line, a.column).cmp(&(&b.file, b.line, b.column)));
}

/// Reports a rule name seen before (in `seen`, which spans files for the directory loader) at
/// its second occurrence, naming the first.
pub(crate) fn check_unique_names(
    file: &str,
    names: &[NameAt],
    seen: &mut HashMap<String, String>,
    diags: &mut Vec<Diagnostic>,
) {
    for n in names {
        if let Some(first) = seen.get(&n.name) {
            diags.push(Diagnostic {
                file: file.to_owned(),
                line: n.line,
                column: n.column,
                message: format!(
                    "duplicate rule name '{}' (first defined at {first})",
                    n.name
                ),
            });
        } else {
            seen.insert(n.name.clone(), format!("{file}:{}:{}", n.line, n.column));
        }
    }
}

fn is_rule_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

struct Checker<'a> {
    file: &'a str,
    src: &'a str,
    levels: &'a Levels,
    names: Vec<NameAt>,
    diags: Vec<Diagnostic>,
}

impl Checker<'_> {
    fn error(&mut self, offset: usize, message: impl Into<String>) {
        self.diags
            .push(Diagnostic::at(self.file, self.src, offset, message));
    }

    /// Checks one rule, recording every problem; `None` if any.
    fn rule(&mut self, raw: Spanned<RawRule>) -> Option<Rule> {
        let table = raw.span();
        let raw = raw.into_inner();
        let before = self.diags.len();
        let missing: Vec<&str> = [
            ("name", raw.name.is_none()),
            ("expr", raw.expr.is_none()),
            ("severity", raw.severity.is_none()),
            ("summary", raw.summary.is_none()),
        ]
        .into_iter()
        .filter_map(|(key, absent)| absent.then_some(key))
        .collect();
        if !missing.is_empty() {
            let keys: Vec<String> = missing.iter().map(|k| format!("'{k}'")).collect();
            self.error(
                table.start,
                format!("this rule is missing {}", keys.join(", ")),
            );
        }

        let name = self.name(raw.name.as_ref());
        let line = name.as_ref().map(|(n, span)| {
            let (line, column) = crate::diag::line_col(self.src, span.start);
            self.names.push(NameAt {
                name: n.clone(),
                line,
                column,
            });
            line
        });
        let expr = self.expr(raw.expr.as_ref());
        let for_ = self.for_(raw.for_.as_ref());
        let severity = self.severity(raw.severity.as_ref());
        let summary = self.summary(raw.summary.as_ref());
        let clear = match (&raw.clear, &expr) {
            (Some(clear), Some(expr)) => self.clear(clear, expr),
            // Without a valid expr there is no threshold to check `clear` against.
            _ => raw.clear.as_ref().map(|c| *c.get_ref()),
        };

        if self.diags.len() != before {
            return None;
        }
        Some(Rule {
            name: name?.0,
            expr: expr?,
            for_: for_?,
            clear,
            severity: severity?,
            summary: summary?,
            file: self.file.to_owned(),
            line: line?,
        })
    }

    fn name(&mut self, field: Option<&Spanned<String>>) -> Option<(String, Range<usize>)> {
        let field = field?;
        let name = field.get_ref();
        if name.is_empty() {
            self.error(field.span().start, "'name' must not be empty");
            return None;
        }
        if !is_rule_name(name) {
            self.error(
                field.span().start,
                format!(
                    "invalid rule name '{name}': use letters, digits and '_', not starting with a digit"
                ),
            );
            return None;
        }
        if name == crate::rule::MANUAL_RULE {
            self.error(
                field.span().start,
                format!(
                    "rule name '{name}' is reserved for incidents opened by hand (patrolctl incidents create); choose another"
                ),
            );
            return None;
        }
        Some((name.clone(), field.span()))
    }

    fn expr(&mut self, field: Option<&Spanned<String>>) -> Option<Expr> {
        let field = field?;
        match Expr::parse(field.get_ref()) {
            Ok(e) => Some(e),
            Err(e) => {
                let at = span::value_offset(self.src, &field.span(), e.offset);
                self.error(at, e.message);
                None
            }
        }
    }

    fn for_(&mut self, field: Option<&Spanned<String>>) -> Option<Duration> {
        let Some(field) = field else {
            return Some(Duration::ZERO);
        };
        let text = field.get_ref().trim();
        if text.starts_with('-') {
            self.error(field.span().start, "'for' must not be negative");
            return None;
        }
        match humantime::parse_duration(text) {
            Ok(d) => Some(d),
            Err(e) => {
                self.error(
                    field.span().start,
                    format!(
                        "invalid duration '{text}' for 'for': {e} (write e.g. \"30s\", \"5m\" or \"1m 30s\")"
                    ),
                );
                None
            }
        }
    }

    fn severity(&mut self, field: Option<&Spanned<String>>) -> Option<Severity> {
        let field = field?;
        let sev = self.levels.severity(field.get_ref());
        if sev.is_none() {
            self.error(
                field.span().start,
                format!(
                    "unknown severity '{}': expected one of {}",
                    field.get_ref(),
                    self.levels.names().join(", ")
                ),
            );
        }
        sev
    }

    fn summary(&mut self, field: Option<&Spanned<String>>) -> Option<Template> {
        let field = field?;
        match Template::parse(field.get_ref()) {
            Ok(t) => Some(t),
            Err(e) => {
                let at = span::value_offset(self.src, &field.span(), e.offset);
                self.error(at, e.message);
                None
            }
        }
    }

    fn clear(&mut self, field: &Spanned<f64>, expr: &Expr) -> Option<f64> {
        let clear = *field.get_ref();
        let at = field.span().start;
        let Expr::Compare { op, threshold, .. } = expr;
        if !clear.is_finite() {
            self.error(at, "'clear' must be a finite number");
            return None;
        }
        let (ok, side) = match op {
            CmpOp::Gt | CmpOp::Ge => (clear < *threshold, "below"),
            CmpOp::Lt | CmpOp::Le => (clear > *threshold, "above"),
            CmpOp::Eq | CmpOp::Ne => {
                self.error(
                    at,
                    format!(
                        "'clear' cannot be used with '{op}': hysteresis needs one of > >= < <="
                    ),
                );
                return None;
            }
        };
        if !ok {
            self.error(
                at,
                format!("'clear' ({clear}) must be {side} the threshold {threshold} of '{op}'"),
            );
            return None;
        }
        Some(clear)
    }
}

#[cfg(test)]
mod tests;
