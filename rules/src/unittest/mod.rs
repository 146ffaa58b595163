//! `patrolctl rules test`: unit tests for rule files in the shape of `promtool test rules`,
//! written in TOML like the rule files. Input series in promtool's expanding notation are fed
//! to the real engine ([`crate::engine`]) step by step, and the incidents open at each
//! `eval_time` are compared with the expected ones.
//!
//! ```toml
//! rule_files = ["../host.toml"]     # relative to this file
//! evaluation_interval = "1m"        # how often the engine's clock ticks (default 1m)
//!
//! [[test]]
//! name = "busy CPU"                 # optional
//! interval = "1m"                   # time between input samples (default: evaluation_interval)
//! input_series = [
//!   { series = 'cpu_usage_percent{host="db1"}', values = '50+10x10' },
//! ]
//!
//! [[test.alert_rule_test]]
//! eval_time = "10m"
//! alertname = "cpu_high"
//! exp_alerts = [
//!   { exp_labels = { host = "db1" }, level = "P3", exp_summary = "CPU at 100% on db1" },
//! ]
//! ```
//!
//! Parsing is here, the run in `run.rs`, the notation in `notation.rs`.

pub mod notation;
mod run;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use patrol_proto::Labels;
use serde::Deserialize;
use toml::Spanned;

use crate::diag::{Diagnostic, LineIndex};
use crate::expr::parse_duration_or_zero_ms;
use crate::file::value_offset;
use crate::level::Levels;

pub use run::{Failure, Report, run_file};

/// A test file as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    rule_files: Option<Spanned<Vec<Spanned<String>>>>,
    evaluation_interval: Option<Spanned<String>>,
    #[serde(default)]
    test: Vec<Spanned<RawTest>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTest {
    name: Option<String>,
    interval: Option<Spanned<String>>,
    #[serde(default)]
    input_series: Vec<RawSeries>,
    #[serde(default)]
    alert_rule_test: Vec<Spanned<RawAlertTest>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSeries {
    series: Spanned<String>,
    values: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAlertTest {
    eval_time: Spanned<String>,
    alertname: Spanned<String>,
    #[serde(default)]
    exp_alerts: Vec<RawExpected>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExpected {
    #[serde(default)]
    exp_labels: BTreeMap<String, String>,
    exp_summary: Option<String>,
    level: Option<String>,
}

/// A checked test file.
#[derive(Debug, Clone)]
pub struct TestFile {
    /// The file, as given.
    pub path: String,
    /// The rule files, resolved against the test file's directory.
    pub rule_files: Vec<PathBuf>,
    /// Engine clock tick, ms.
    pub evaluation_interval_ms: i64,
    /// The tests.
    pub tests: Vec<Test>,
}

/// One `[[test]]`.
#[derive(Debug, Clone)]
pub struct Test {
    /// Its name, or `test N`.
    pub name: String,
    /// Line of the `[[test]]` header.
    pub line: usize,
    /// Time between input samples, ms.
    pub interval_ms: i64,
    /// Input series: metric, labels, steps.
    pub series: Vec<(String, Labels, Vec<notation::Point>)>,
    /// The checks.
    pub alerts: Vec<AlertTest>,
}

/// One `[[test.alert_rule_test]]`.
#[derive(Debug, Clone)]
pub struct AlertTest {
    /// Line of the check.
    pub line: usize,
    /// When, ms after the first input sample.
    pub eval_time_ms: i64,
    /// The rule.
    pub alertname: String,
    /// Where `alertname` is written, for the "no such rule" error.
    pub alertname_at: (usize, usize),
    /// The incidents expected open at `eval_time`.
    pub expected: Vec<Expected>,
}

/// An incident expected open.
#[derive(Debug, Clone, PartialEq)]
pub struct Expected {
    /// Its full label set.
    pub labels: Labels,
    /// Its level, when the test says.
    pub level: Option<String>,
    /// Its rendered summary, when the test says.
    pub summary: Option<String>,
}

/// Reads and checks a test file: every problem at once, at `file:line:column`.
pub fn parse_file(path: &Path) -> Result<TestFile, Vec<Diagnostic>> {
    let name = path.display().to_string();
    let src = std::fs::read_to_string(path).map_err(|e| {
        vec![Diagnostic::whole_file(
            &name,
            format!("cannot read test file: {e}"),
        )]
    })?;
    parse(&name, &src, path.parent().unwrap_or(Path::new(".")))
}

/// Parses test file text; `dir` resolves `rule_files`.
pub fn parse(file: &str, src: &str, dir: &Path) -> Result<TestFile, Vec<Diagnostic>> {
    let raw: RawFile = toml::from_str(src).map_err(|e| {
        vec![Diagnostic::at(
            file,
            src,
            e.span().map_or(0, |s| s.start),
            e.message().trim(),
        )]
    })?;
    let mut d = Diags {
        file,
        src,
        lines: LineIndex::new(src),
        list: Vec::new(),
    };
    let mut rule_files = Vec::new();
    match &raw.rule_files {
        None => d.at(
            0,
            "the file needs 'rule_files = [\"...\"]': the rule files it tests".to_owned(),
        ),
        Some(list) if list.get_ref().is_empty() => d.at(
            list.span().start,
            "'rule_files' is empty: name the rule files this file tests".to_owned(),
        ),
        Some(list) => {
            rule_files = list
                .get_ref()
                .iter()
                .map(|f| dir.join(f.get_ref()))
                .collect()
        }
    }
    let evaluation_interval_ms = match &raw.evaluation_interval {
        Some(f) => d
            .duration(f, "evaluation_interval", false)
            .unwrap_or(60_000),
        None => 60_000,
    };
    let mut tests = Vec::new();
    for (n, t) in raw.test.iter().enumerate() {
        let header = t.span().start;
        let t = t.get_ref();
        let interval_ms = match &t.interval {
            Some(f) => d
                .duration(f, "interval", false)
                .unwrap_or(evaluation_interval_ms),
            None => evaluation_interval_ms,
        };
        let mut series = Vec::new();
        for s in &t.input_series {
            let sel = match parse_series(s.series.get_ref()) {
                Ok(sel) => Some(sel),
                Err((off, m)) => {
                    d.at(value_offset(src, &s.series.span(), off), m);
                    None
                }
            };
            let points = match notation::expand(s.values.get_ref()) {
                Ok(p) => Some(p),
                Err(e) => {
                    d.at(value_offset(src, &s.values.span(), e.offset), e.message);
                    None
                }
            };
            if let (Some((metric, labels)), Some(points)) = (sel, points) {
                series.push((metric, labels, points));
            }
        }
        let mut alerts = Vec::new();
        for a in &t.alert_rule_test {
            let line_at = a.span().start;
            let a = a.get_ref();
            let Some(eval_time_ms) = d.duration(&a.eval_time, "eval_time", true) else {
                continue;
            };
            alerts.push(AlertTest {
                line: d.lines.line_col(src, line_at).0,
                eval_time_ms,
                alertname: a.alertname.get_ref().clone(),
                alertname_at: d.lines.line_col(src, a.alertname.span().start),
                expected: a
                    .exp_alerts
                    .iter()
                    .map(|e| Expected {
                        labels: Labels::from_pairs(e.exp_labels.iter()),
                        level: e.level.clone(),
                        summary: e.exp_summary.clone(),
                    })
                    .collect(),
            });
        }
        tests.push(Test {
            name: t.name.clone().unwrap_or_else(|| format!("test {}", n + 1)),
            line: d.lines.line_col(src, header).0,
            interval_ms,
            series,
            alerts,
        });
    }
    if tests.is_empty() && raw.rule_files.is_some() {
        d.at(0, "the file has no [[test]]".to_owned());
    }
    let mut diags = d.list;
    if diags.is_empty() {
        Ok(TestFile {
            path: file.to_owned(),
            rule_files,
            evaluation_interval_ms,
            tests,
        })
    } else {
        diags.sort_by_key(|d| (d.line, d.column));
        Err(diags)
    }
}

/// Diagnostics of one test file.
struct Diags<'a> {
    file: &'a str,
    src: &'a str,
    lines: LineIndex,
    list: Vec<Diagnostic>,
}

impl Diags<'_> {
    fn at(&mut self, offset: usize, message: String) {
        let (line, column) = self.lines.line_col(self.src, offset);
        self.list.push(Diagnostic {
            file: self.file.to_owned(),
            line,
            column,
            message,
        });
    }

    /// A duration field (`5m`, `90s`); zero only where `allow_zero` (an `eval_time`).
    fn duration(&mut self, field: &Spanned<String>, key: &str, allow_zero: bool) -> Option<i64> {
        match parse_duration_or_zero_ms(field.get_ref().trim()) {
            Ok(0) if !allow_zero => {
                self.at(field.span().start, format!("'{key}' must be longer than 0"));
                None
            }
            Ok(ms) => Some(ms),
            Err(m) => {
                self.at(field.span().start, format!("'{key}': {m}"));
                None
            }
        }
    }
}

/// `metric{label="value", ...}` with equality labels only: an input series is one series.
fn parse_series(src: &str) -> Result<(String, Labels), (usize, String)> {
    let trimmed = src.trim_end();
    let lead = src.len() - src.trim_start().len();
    let body = &trimmed[lead..];
    let (metric, braces) = match body.find('{') {
        Some(i) => (&body[..i], Some(i)),
        None => (body, None),
    };
    let metric = metric.trim_end();
    let valid = metric
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && metric
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':');
    if !valid {
        return Err((
            lead,
            format!(
                "expected a metric name such as cpu_usage_percent{{host=\"db1\"}}, found '{metric}'"
            ),
        ));
    }
    let Some(b) = braces else {
        return Ok((metric.to_owned(), Labels::new()));
    };
    let matchers =
        crate::expr::parse_matchers(&body[b..]).map_err(|e| (lead + b + e.offset, e.message))?;
    let mut labels = Labels::new();
    for m in matchers {
        if m.op != crate::expr::MatchOp::Equal {
            let off = body[b..].find(&m.name).map_or(b, |o| b + o);
            return Err((
                lead + off,
                format!(
                    "an input series has fixed labels: write {}=\"...\", not {}",
                    m.name,
                    m.op.as_str()
                ),
            ));
        }
        labels.insert(m.name, m.value);
    }
    Ok((metric.to_owned(), labels))
}

/// Runs every test file; severities are checked against `levels`.
pub fn run_files(paths: &[PathBuf], levels: &Levels) -> Vec<Result<Report, Vec<Diagnostic>>> {
    paths.iter().map(|p| run_file(p, levels)).collect()
}
