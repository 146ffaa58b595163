//! Running a test file: its rule files loaded with the collector's loader, its input series fed
//! to the real [`Engine`] on a stepped clock, and the incidents open at each `eval_time`
//! compared with the expected ones.
//!
//! The clock: input sample `i` of every series is observed at `i × interval` (time 0 is the
//! first sample, as in promtool); the engine's periodic tick — what promotes a pending alert
//! whose `for` ran out and what wakes `absent(...)` — runs every `evaluation_interval`, at
//! every sample time and at every `eval_time`. At one instant, samples come first (in the file's
//! order of series), then the tick, then the checks of that instant.

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::path::Path;
use std::sync::Arc;

use patrol_proto::Labels;
use patrol_proto::model::fingerprint;

use super::notation::Point;
use super::{AlertTest, Expected, Test, TestFile, parse_file};
use crate::diag::Diagnostic;
use crate::engine::{Engine, Event, Sink};
use crate::expr::format_duration_ms;
use crate::level::Levels;
use crate::rule::Rule;
use crate::set::RuleSet;
use crate::state::Transition;

/// The outcome of one test file that could be run.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// The test file.
    pub file: String,
    /// `[[test]]` sections run.
    pub tests: usize,
    /// `alert_rule_test` checks made.
    pub checks: usize,
    /// The checks that failed.
    pub failures: Vec<Failure>,
}

/// A check whose incidents differ from the expected ones.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    /// The test file.
    pub file: String,
    /// Line of the `[[test.alert_rule_test]]`.
    pub line: usize,
    /// The `[[test]]`'s name.
    pub test: String,
    /// The rule.
    pub alertname: String,
    /// When, ms after the first input sample.
    pub eval_time_ms: i64,
    /// `  ` lines both sides agree on, `- ` expected but missing, `+ ` open but not expected.
    pub diff: Vec<String>,
}

impl fmt::Display for Failure {
    /// ```text
    /// tests/host.toml:14: FAILED test "busy CPU": cpu_high at eval_time 10m
    ///   - {host="db1"} P3 "CPU at 100% on db1"
    ///   + {host="db1"} P3 "CPU at 90% on db1"
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}: FAILED test \"{}\": {} at eval_time {}",
            self.file,
            self.line,
            self.test,
            self.alertname,
            format_duration_ms(self.eval_time_ms)
        )?;
        for d in &self.diff {
            write!(f, "\n  {d}")?;
        }
        Ok(())
    }
}

/// Reads, checks and runs one test file. `Err` holds every problem that kept it from running
/// (the file itself, its rule files, an `alertname` no rule file defines).
pub fn run_file(path: &Path, levels: &Levels) -> Result<Report, Vec<Diagnostic>> {
    let file = parse_file(path)?;
    let rules = load_rules(&file, levels)?;
    check_alertnames(&file, &rules)?;
    Ok(run(&file, &rules))
}

/// The rule files of a test file, as one set; every problem of every file at once.
fn load_rules(file: &TestFile, levels: &Levels) -> Result<Arc<RuleSet>, Vec<Diagnostic>> {
    let mut all: Vec<Rule> = Vec::new();
    let mut diags = Vec::new();
    let mut first: HashMap<String, String> = HashMap::new();
    for path in &file.rule_files {
        match crate::file::load_path(path, levels) {
            Ok(set) => {
                for r in set.rules() {
                    let at = format!("{}:{}", r.file, r.line);
                    if let Some(prev) = first.get(&r.name) {
                        diags.push(Diagnostic {
                            file: r.file.clone(),
                            line: r.line,
                            column: 1,
                            message: format!(
                                "duplicate rule name '{}' (first defined at {prev})",
                                r.name
                            ),
                        });
                        continue;
                    }
                    first.insert(r.name.clone(), at);
                    all.push(Rule::clone(r));
                }
            }
            Err(d) => diags.extend(d),
        }
    }
    if diags.is_empty() {
        Ok(Arc::new(RuleSet::from_rules(all)))
    } else {
        Err(diags)
    }
}

/// Every `alertname` must name a loaded rule: a typo would otherwise pass as "no incident".
fn check_alertnames(file: &TestFile, rules: &RuleSet) -> Result<(), Vec<Diagnostic>> {
    let diags: Vec<Diagnostic> = file
        .tests
        .iter()
        .flat_map(|t| &t.alerts)
        .filter(|a| !rules.rules().iter().any(|r| r.name == a.alertname))
        .map(|a| Diagnostic {
            file: file.path.clone(),
            line: a.alertname_at.0,
            column: a.alertname_at.1,
            message: format!(
                "no rule '{}' in the rule files this file tests ({})",
                a.alertname,
                file.rule_files
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        })
        .collect();
    if diags.is_empty() { Ok(()) } else { Err(diags) }
}

fn run(file: &TestFile, rules: &Arc<RuleSet>) -> Report {
    let mut report = Report {
        file: file.path.clone(),
        tests: file.tests.len(),
        checks: 0,
        failures: Vec::new(),
    };
    for test in &file.tests {
        report.checks += test.alerts.len();
        run_test(file, test, rules, &mut report.failures);
    }
    report
}

/// Remembers the summary each incident opened with: what the incident shows.
#[derive(Default)]
struct Opened(HashMap<(String, u64), String>);

impl Sink<()> for Opened {
    fn event(&mut self, ev: Event<'_, ()>) {
        if ev.transition == Transition::Fired {
            self.0
                .insert((ev.rule.name.clone(), ev.fingerprint), ev.summary());
        }
    }
}

fn run_test(file: &TestFile, test: &Test, rules: &Arc<RuleSet>, failures: &mut Vec<Failure>) {
    let mut engine: Engine<()> = Engine::new(Arc::clone(rules));
    let ids: Vec<_> = test
        .series
        .iter()
        .map(|(metric, labels, _)| engine.intern(metric, labels))
        .collect();
    let mut checks: Vec<&AlertTest> = test.alerts.iter().collect();
    checks.sort_by_key(|a| a.eval_time_ms);
    let Some(end) = checks.last().map(|a| a.eval_time_ms) else {
        return;
    };
    let steps = test.series.iter().map(|s| s.2.len()).max().unwrap_or(0);
    let mut times = BTreeSet::new();
    for i in 0..steps {
        let t = i64::try_from(i)
            .unwrap_or(i64::MAX)
            .saturating_mul(test.interval_ms);
        if t > end {
            break;
        }
        times.insert(t);
    }
    let mut t = 0;
    while t <= end {
        times.insert(t);
        t = t.saturating_add(file.evaluation_interval_ms);
    }
    times.extend(checks.iter().map(|a| a.eval_time_ms));

    let mut opened = Opened::default();
    let mut next_check = 0;
    for &t in &times {
        if t % test.interval_ms == 0 {
            let step = usize::try_from(t / test.interval_ms).unwrap_or(usize::MAX);
            for (k, (_, _, points)) in test.series.iter().enumerate() {
                // `_` and `stale` both send nothing: an agent has no staleness marker, a
                // series that stops is noticed by absent(m[d]).
                if let Some(Point::Value(v)) = points.get(step) {
                    engine.observe(ids[k], *v, t, t, &mut opened);
                }
            }
        }
        engine.tick(t, &mut opened);
        while let Some(check) = checks.get(next_check).filter(|c| c.eval_time_ms == t) {
            next_check += 1;
            if let Some(f) = compare(file, test, check, &engine, rules, &opened) {
                failures.push(f);
            }
        }
    }
}

/// One incident as the test file writes it.
#[derive(Debug, Clone, PartialEq)]
struct Got {
    labels: Labels,
    level: String,
    summary: String,
}

fn compare(
    file: &TestFile,
    test: &Test,
    check: &AlertTest,
    engine: &Engine<()>,
    rules: &RuleSet,
    opened: &Opened,
) -> Option<Failure> {
    let rule = rules.rules().iter().find(|r| r.name == check.alertname)?;
    let mut got: Vec<Got> = engine
        .alerts(&rule.name)
        .into_iter()
        .filter(|(_, state)| state.is_firing())
        .map(|(labels, _)| {
            let fp = fingerprint(rule.metric(), &labels);
            Got {
                summary: opened
                    .0
                    .get(&(rule.name.clone(), fp))
                    .cloned()
                    .unwrap_or_default(),
                level: rule.severity.name.clone(),
                labels,
            }
        })
        .collect();
    got.sort_by_key(|g| g.labels.to_string());
    let mut unmatched: Vec<Option<&Got>> = got.iter().map(Some).collect();
    let mut diff = Vec::new();
    let mut failed = false;
    for e in &check.expected {
        let hit = unmatched
            .iter_mut()
            .find(|g| g.is_some_and(|g| matches(e, g)))
            .and_then(Option::take);
        match hit {
            Some(g) => diff.push(format!("  {}", show_got(g))),
            None => {
                failed = true;
                diff.push(format!("- {}", show_expected(e)));
            }
        }
    }
    for g in unmatched.into_iter().flatten() {
        failed = true;
        diff.push(format!("+ {}", show_got(g)));
    }
    failed.then(|| Failure {
        file: file.path.clone(),
        line: check.line,
        test: test.name.clone(),
        alertname: check.alertname.clone(),
        eval_time_ms: check.eval_time_ms,
        diff,
    })
}

fn matches(e: &Expected, g: &Got) -> bool {
    e.labels == g.labels
        && e.level.as_ref().is_none_or(|l| *l == g.level)
        && e.summary.as_ref().is_none_or(|s| *s == g.summary)
}

fn show_labels(l: &Labels) -> String {
    if l.is_empty() {
        "{}".to_owned()
    } else {
        l.to_string()
    }
}

fn show_got(g: &Got) -> String {
    format!("{} {} {:?}", show_labels(&g.labels), g.level, g.summary)
}

fn show_expected(e: &Expected) -> String {
    let mut s = show_labels(&e.labels);
    if let Some(l) = &e.level {
        s.push(' ');
        s.push_str(l);
    }
    if let Some(summary) = &e.summary {
        s.push_str(&format!(" {summary:?}"));
    }
    s
}
