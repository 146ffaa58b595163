//! Rule files: turns the TOML of one file into checked [`Rule`]s, reporting every problem of
//! the file at once at `file:line:column`, and warnings (a metric no probe emits, an override
//! that can never apply) beside them. Directory loading lives in `load.rs`, overrides in
//! `overrides.rs`.

mod load;
mod overrides;
mod span;

use std::collections::HashMap;
use std::ops::Range;
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use crate::catalog::Catalog;
use crate::diag::{Diagnostic, LineIndex};
use crate::expr::{CmpOp, Expr, Value};
use crate::level::{Levels, Severity};
use crate::program::Program;
use crate::rule::{DEFAULT_GRACE, Rule};
use crate::template::Template;

pub use load::{Checked, check_path, load_dir, load_path};
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
    grace: Option<Spanned<String>>,
    overrides: Option<Vec<Spanned<overrides::RawOverride>>>,
}

/// What one file yielded: its valid rules, and where every well-formed rule name is (also of
/// rules with other problems, so a duplicate name is reported in the same pass).
pub(crate) struct Parsed {
    pub rules: Vec<Rule>,
    pub names: Vec<NameAt>,
    pub diags: Vec<Diagnostic>,
    pub warnings: Vec<Diagnostic>,
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
/// A file with no rules is valid. Warnings are dropped; see [`check_rules`].
pub fn parse_rules(file: &str, src: &str, levels: &Levels) -> Result<Vec<Rule>, Vec<Diagnostic>> {
    check_rules(file, src, levels).0
}

/// [`parse_rules`] with the file's warnings (`file:line:column: warning: ...`), which never
/// stop a rule from loading.
#[allow(clippy::type_complexity)]
pub fn check_rules(
    file: &str,
    src: &str,
    levels: &Levels,
) -> (Result<Vec<Rule>, Vec<Diagnostic>>, Vec<Diagnostic>) {
    let Parsed {
        rules,
        names,
        mut diags,
        warnings,
    } = parse_file(file, src, levels);
    check_unique_names(file, &names, &mut HashMap::new(), &mut diags);
    if diags.is_empty() {
        (Ok(rules), warnings)
    } else {
        sort(&mut diags);
        (Err(diags), warnings)
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
                warnings: Vec::new(),
            };
        }
    };
    let mut cx = Checker {
        file,
        src,
        lines: LineIndex::new(src),
        levels,
        catalog: Catalog::shipped(),
        names: Vec::new(),
        diags: Vec::new(),
        warnings: Vec::new(),
    };
    let rules = raw.rule.into_iter().filter_map(|r| cx.rule(r)).collect();
    sort(&mut cx.diags);
    sort(&mut cx.warnings);
    Parsed {
        rules,
        names: cx.names,
        diags: cx.diags,
        warnings: cx.warnings,
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

/// Parses a non-negative humantime duration for `key`.
fn duration(text: &str, key: &str) -> Result<Duration, String> {
    let text = text.trim();
    if text.starts_with('-') {
        return Err(format!("'{key}' must not be negative"));
    }
    humantime::parse_duration(text).map_err(|e| {
        format!(
            "invalid duration '{text}' for '{key}': {e} (write e.g. \"30s\", \"5m\" or \"1m 30s\")"
        )
    })
}

struct Checker<'a> {
    file: &'a str,
    src: &'a str,
    lines: LineIndex,
    levels: &'a Levels,
    catalog: &'a Catalog,
    names: Vec<NameAt>,
    diags: Vec<Diagnostic>,
    warnings: Vec<Diagnostic>,
}

impl Checker<'_> {
    fn diag(&self, offset: usize, message: String) -> Diagnostic {
        let (line, column) = self.lines.line_col(self.src, offset);
        Diagnostic {
            file: self.file.to_owned(),
            line,
            column,
            message,
        }
    }

    fn error(&mut self, offset: usize, message: impl Into<String>) {
        let d = self.diag(offset, message.into());
        self.diags.push(d);
    }

    fn warn(&mut self, offset: usize, message: impl Into<String>) {
        let d = self.diag(offset, format!("warning: {}", message.into()));
        self.warnings.push(d);
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
            let (line, column) = self.lines.line_col(self.src, span.start);
            self.names.push(NameAt {
                name: n.clone(),
                line,
                column,
            });
            line
        });
        let expr = self.expr(raw.expr.as_ref());
        let for_ = match &raw.for_ {
            None => Some(Duration::ZERO),
            Some(f) => self.duration(f, "for"),
        };
        let severity = self.severity(raw.severity.as_ref());
        let summary = self.summary(raw.summary.as_ref());
        let clear = match (&raw.clear, &expr) {
            (Some(clear), Some((expr, program))) => self.clear(clear, expr, program),
            // Without a valid expr there is no threshold to check `clear` against.
            _ => raw.clear.as_ref().map(|c| *c.get_ref()),
        };
        let grace = self.grace(raw.grace.as_ref(), expr.as_ref().map(|e| &e.1));
        let overrides = match (&raw.overrides, &expr) {
            (Some(list), Some((expr, program))) => self.overrides(list, expr, program, clear),
            _ => Vec::new(),
        };

        if self.diags.len() != before {
            return None;
        }
        let (expr, program) = expr?;
        let precedence = crate::rule::precedence(&overrides);
        let mut rule = Rule {
            name: name?.0,
            expr,
            program,
            for_: for_?,
            clear,
            severity: severity?,
            summary: summary?,
            overrides,
            precedence,
            grace: grace?,
            file: self.file.to_owned(),
            line: line?,
            resolved: Vec::new(),
        };
        rule.resolved = rule.resolve_params();
        Some(rule)
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

    fn expr(&mut self, field: Option<&Spanned<String>>) -> Option<(Expr, Program)> {
        let field = field?;
        let e = match Expr::parse(field.get_ref()) {
            Ok(e) => e,
            Err(e) => {
                let at = span::value_offset(self.src, &field.span(), e.offset);
                self.error(at, e.message);
                return None;
            }
        };
        let program = match Program::compile(&e) {
            Ok(p) => p,
            Err(err) => {
                self.error(field.span().start, err.to_string());
                return None;
            }
        };
        // A metric no probe emits may come from a textfile or exec probe: a warning only.
        let mut warned: Vec<&str> = Vec::new();
        for s in e.selectors() {
            if self.catalog.labels(&s.metric).is_none() && !warned.contains(&s.metric.as_str()) {
                warned.push(&s.metric);
                let at = word_offset(field.get_ref(), &s.metric).map_or(field.span().start, |o| {
                    span::value_offset(self.src, &field.span(), o)
                });
                self.warn(
                    at,
                    format!(
                        "no probe emits '{}' (docs/metrics.md): the rule never fires unless a textfile or exec probe reports it",
                        s.metric
                    ),
                );
            }
        }
        Some((e, program))
    }

    fn duration(&mut self, field: &Spanned<String>, key: &str) -> Option<Duration> {
        match duration(field.get_ref(), key) {
            Ok(d) => Some(d),
            Err(message) => {
                self.error(field.span().start, message);
                None
            }
        }
    }

    fn grace(
        &mut self,
        field: Option<&Spanned<String>>,
        program: Option<&Program>,
    ) -> Option<Duration> {
        let Some(field) = field else {
            return Some(DEFAULT_GRACE);
        };
        let d = self.duration(field, "grace")?;
        if program.is_some_and(|p| !p.is_absent_once()) {
            self.error(
                field.span().start,
                "'grace' applies only to absent(...) without a range (how long a series has to appear after the rule is loaded)",
            );
            return None;
        }
        Some(d)
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

    fn clear(&mut self, field: &Spanned<f64>, expr: &Expr, program: &Program) -> Option<f64> {
        let clear = *field.get_ref();
        let at = field.span().start;
        if !clear.is_finite() {
            self.error(at, "'clear' must be a finite number");
            return None;
        }
        if let Expr::Compare {
            op: op @ (CmpOp::Eq | CmpOp::Ne),
            rhs: Value::Number(_),
            ..
        } = expr
        {
            self.error(
                at,
                format!("'clear' cannot be used with '{op}': hysteresis needs one of > >= < <="),
            );
            return None;
        }
        let (Some(op), Some(threshold)) = (program.hysteresis_op(), expr.threshold()) else {
            self.error(
                at,
                "'clear' needs an expression that is one comparison with a number (like m > 90): there is no threshold to apply hysteresis to",
            );
            return None;
        };
        if let Err(message) = clear_side(clear, op, threshold) {
            self.error(at, message);
            return None;
        }
        Some(clear)
    }
}

/// Checks `clear` is on the resolving side of `threshold` for `op`.
fn clear_side(clear: f64, op: CmpOp, threshold: f64) -> Result<(), String> {
    let (ok, side) = match op {
        CmpOp::Gt | CmpOp::Ge => (clear < threshold, "below"),
        CmpOp::Lt | CmpOp::Le => (clear > threshold, "above"),
        CmpOp::Eq | CmpOp::Ne => (false, "away from"),
    };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "'clear' ({clear}) must be {side} the threshold {threshold} of '{op}'"
        ))
    }
}

/// The byte offset of `word` in `text` where it stands as a whole name (not inside a longer
/// identifier or a quoted value).
fn word_offset(text: &str, word: &str) -> Option<usize> {
    let is_ident = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == ':';
    let mut in_quote: Option<char> = None;
    let mut prev: Option<char> = None;
    for (i, c) in text.char_indices() {
        match in_quote {
            Some(q) => {
                if c == q && prev != Some('\\') {
                    in_quote = None;
                }
            }
            None if c == '"' || c == '\'' => in_quote = Some(c),
            None => {
                if text[i..].starts_with(word)
                    && !prev.is_some_and(is_ident)
                    && !text[i + word.len()..].starts_with(is_ident)
                {
                    return Some(i);
                }
            }
        }
        prev = Some(c);
    }
    None
}

#[cfg(test)]
mod tests;
