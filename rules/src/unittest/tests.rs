//! `rules test` files: parsed with every problem located, run on the real engine.

use std::path::Path;

use super::*;

const RULES: &str = r#"[[rule]]
name     = "cpu_high"
expr     = 'cpu_usage_percent > 90'
for      = "3m"
severity = "P3"
summary  = "CPU at {{value}}% on {{host}} (limit {{threshold}}%)"
overrides = [{ match = '{host=~"batch-.*"}', threshold = 98 }]

[[rule]]
name     = "agent_silent"
expr     = 'absent(cpu_usage_percent[5m])'
severity = "P2"
summary  = "no CPU figure from {{host}} for 5m"

[[rule]]
name     = "cpu_busy"
expr     = 'avg_over_time(cpu_usage_percent[5m]) > 80'
severity = "P4"
summary  = "CPU busy on {{host}}: {{value}}% over 5m"
"#;

/// A directory with `rules.toml` and the test file `t.toml`; returns the test file's path.
fn files(dir: &Path, test: &str) -> PathBuf {
    std::fs::write(dir.join("rules.toml"), RULES).unwrap();
    let path = dir.join("t.toml");
    std::fs::write(&path, test).unwrap();
    path
}

fn run(test: &str) -> Result<Report, Vec<String>> {
    let dir = tempfile::tempdir().unwrap();
    let path = files(dir.path(), test);
    run_file(&path, &Levels::default()).map_err(|d| {
        d.iter()
            .map(|d| {
                d.to_string()
                    .replace(&format!("{}/", dir.path().display()), "")
            })
            .collect()
    })
}

fn failures(test: &str) -> Vec<String> {
    let r = run(test).unwrap();
    r.failures
        .iter()
        .map(|f| f.to_string().replace(&f.file, "t.toml"))
        .collect()
}

#[test]
fn a_passing_file() {
    let r = run(r#"
rule_files = ["rules.toml"]

[[test]]
name = "busy then quiet"
input_series = [
  { series = 'cpu_usage_percent{host="db1"}', values = '95x5 20x5' },
  { series = 'cpu_usage_percent{host="batch-1"}', values = '95x10' },
]

[[test.alert_rule_test]]
eval_time = "2m"
alertname = "cpu_high"
exp_alerts = []

[[test.alert_rule_test]]
eval_time = "3m"
alertname = "cpu_high"
exp_alerts = [
  { exp_labels = { host = "db1" }, level = "P3", exp_summary = "CPU at 95% on db1 (limit 90%)" },
]

[[test.alert_rule_test]]
eval_time = "6m"
alertname = "cpu_high"
exp_alerts = []

[[test.alert_rule_test]]
eval_time = "5m"
alertname = "cpu_busy"
exp_alerts = [
  { exp_labels = { host = "batch-1" } },
  { exp_labels = { host = "db1" }, exp_summary = "CPU busy on db1: 95% over 5m" },
]
"#)
    .unwrap();
    assert_eq!((r.tests, r.checks), (1, 4));
    assert!(r.failures.is_empty(), "{:#?}", r.failures);
}

#[test]
fn a_failing_check_shows_a_readable_diff() {
    let got = failures(
        r#"
rule_files = ["rules.toml"]

[[test]]
input_series = [{ series = 'cpu_usage_percent{host="db1"}', values = '50+10x6' }]

[[test.alert_rule_test]]
eval_time = "6m"
alertname = "cpu_high"
exp_alerts = [
  { exp_labels = { host = "db1" }, exp_summary = "CPU at 110% on db1 (limit 90%)" },
  { exp_labels = { host = "db2" } },
]
"#,
    );
    // 50..110 a minute apart: above 90 from 5m, so at 6m it is only pending (for = 3m).
    assert_eq!(
        got,
        [r#"t.toml:7: FAILED test "test 1": cpu_high at eval_time 6m
  - {host="db1"} "CPU at 110% on db1 (limit 90%)"
  - {host="db2"}"#]
    );
    let got = failures(
        r#"
rule_files = ["rules.toml"]

[[test]]
input_series = [{ series = 'cpu_usage_percent{host="db1"}', values = '95x9' }]

[[test.alert_rule_test]]
eval_time = "9m"
alertname = "cpu_high"
exp_alerts = [{ exp_labels = { host = "db1" }, level = "P2", exp_summary = "CPU at 95% on db1 (limit 90%)" }]
"#,
    );
    assert_eq!(
        got,
        [r#"t.toml:7: FAILED test "test 1": cpu_high at eval_time 9m
  - {host="db1"} P2 "CPU at 95% on db1 (limit 90%)"
  + {host="db1"} P3 "CPU at 95% on db1 (limit 90%)""#]
    );
}

#[test]
fn missing_and_stale_samples_send_nothing() {
    // a: samples at 0 and 1m, nothing after: absent(m[5m]) fires 5m after the last one (6m).
    // b: samples at 0, 4m and 6m: never 5m without one.
    let r = run(r#"
rule_files = ["rules.toml"]

[[test]]
input_series = [
  { series = 'cpu_usage_percent{host="a"}', values = '1 1 stale' },
  { series = 'cpu_usage_percent{host="b"}', values = '1 _x3 1 _ 1' },
]

[[test.alert_rule_test]]
eval_time = "5m59s"
alertname = "agent_silent"
exp_alerts = []

[[test.alert_rule_test]]
eval_time = "6m"
alertname = "agent_silent"
exp_alerts = [{ exp_labels = { host = "a" }, exp_summary = "no CPU figure from a for 5m" }]
"#)
    .unwrap();
    assert!(r.failures.is_empty(), "{:#?}", r.failures);
}

#[test]
fn every_problem_of_a_test_file_at_once() {
    let got = run(r#"
rule_files = ["rules.toml"]
evaluation_interval = "0s"

[[test]]
interval = "soon"
input_series = [
  { series = 'cpu_usage_percent{host=~"db.*"}', values = '1 2' },
  { series = '9cpu', values = '1' },
  { series = 'cpu_usage_percent{host="a"}', values = '1 2 abc' },
  { series = 'cpu_usage_percent{host="b"}', values = '50+10' },
]

[[test.alert_rule_test]]
eval_time = "-1m"
alertname = "cpu_high"
"#)
    .unwrap_err();
    assert_eq!(
        got,
        [
            "t.toml:3:23: 'evaluation_interval' must be longer than 0",
            "t.toml:6:12: 'interval': invalid duration 'soon': write a whole number and a unit (ms, s, m, h, d, w, y), e.g. 5m, 90s or 1h30m",
            "t.toml:8:33: an input series has fixed labels: write host=\"...\", not =~",
            "t.toml:9:15: expected a metric name such as cpu_usage_percent{host=\"db1\"}, found '9cpu'",
            "t.toml:10:59: 'abc' is not a number: write numbers and the expanding notation, e.g. '1 2 3', '50+10x5', '1x4', '_x3', 'stale'",
            "t.toml:11:60: expected 'x' and a count after '50+10' (e.g. '50+10x5')",
            "t.toml:15:13: 'eval_time': invalid duration '-1m': write a whole number and a unit (ms, s, m, h, d, w, y), e.g. 5m, 90s or 1h30m",
        ]
    );
}

#[test]
fn an_unknown_alertname_and_broken_rule_files_stop_the_run() {
    let got = run(r#"
rule_files = ["rules.toml"]

[[test]]
input_series = []

[[test.alert_rule_test]]
eval_time = "1m"
alertname = "cpu_hihg"
"#)
    .unwrap_err();
    assert_eq!(
        got,
        ["t.toml:9:13: no rule 'cpu_hihg' in the rule files this file tests (rules.toml)"]
    );
    let got = run("rule_files = [\"nope.toml\"]\n[[test]]\n").unwrap_err();
    assert_eq!(got.len(), 1);
    assert!(got[0].starts_with("nope.toml: cannot read"), "{got:?}");
    let got = run("[[test]]\nfoo = 1\n").unwrap_err();
    assert_eq!(
        got,
        [
            "t.toml:2:1: unknown field `foo`, expected one of `name`, `interval`, `input_series`, `alert_rule_test`"
        ]
    );
}

/// The shipped rules come with their tests (`rules/default-tests/`, one file per rule file):
/// every test passes, and every shipped rule is shown firing by at least one check.
#[test]
fn shipped_rules_pass_their_tests_and_each_is_seen_firing() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let levels = Levels::default();
    let shipped = crate::file::load_dir(&root.join("default"), &levels).unwrap();
    let mut files: Vec<PathBuf> = std::fs::read_dir(root.join("default-tests"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    let mut shown = std::collections::HashSet::new();
    for path in &files {
        let parsed = parse_file(path).unwrap_or_else(|d| panic!("{d:#?}"));
        for a in parsed.tests.iter().flat_map(|t| &t.alerts) {
            if !a.expected.is_empty() {
                shown.insert(a.alertname.clone());
            }
        }
        let report = run_file(path, &levels).unwrap_or_else(|d| panic!("{d:#?}"));
        let failed: Vec<String> = report.failures.iter().map(ToString::to_string).collect();
        assert!(failed.is_empty(), "{}", failed.join("\n"));
        assert!(report.checks > 0, "{}: no checks", path.display());
    }
    let untested: Vec<&str> = shipped
        .rules()
        .iter()
        .map(|r| r.name.as_str())
        .filter(|n| !shown.contains(*n))
        .collect();
    assert!(
        untested.is_empty(),
        "shipped rules no test in rules/default-tests/ shows firing: {untested:?}"
    );
    for rule_file in std::fs::read_dir(root.join("default")).unwrap() {
        let name = rule_file.unwrap().file_name();
        assert!(
            root.join("default-tests").join(&name).is_file(),
            "rules/default/{} has no rules/default-tests/{}",
            name.to_string_lossy(),
            name.to_string_lossy()
        );
    }
}

/// The fenced blocks of a markdown document: (info string, body, line of the opening fence).
fn fenced(doc: &str) -> Vec<(String, String, usize)> {
    let mut out = Vec::new();
    let mut open: Option<(String, String, usize)> = None;
    for (n, line) in doc.lines().enumerate() {
        match (&mut open, line.strip_prefix("```")) {
            (None, Some(info)) => open = Some((info.trim().to_owned(), String::new(), n + 1)),
            (Some(_), Some("")) => out.extend(open.take()),
            (Some((_, body, _)), _) => {
                body.push_str(line);
                body.push('\n');
            }
            (None, None) => {}
        }
    }
    out
}

/// docs/rules.md documents every form of the language with a rule file (` ```toml example `)
/// followed by its test (` ```toml example-test `): each pair runs here, every check must pass
/// and show an incident, and together the examples must use every form.
#[test]
fn every_documented_form_runs_as_documented() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let doc = std::fs::read_to_string(root.join("../docs/rules.md")).unwrap();
    let blocks = fenced(&doc);
    let dir = tempfile::tempdir().unwrap();
    let levels = Levels::default();
    let mut exprs = String::new();
    let mut examples = 0;
    let mut paired = std::collections::HashSet::new();
    for (k, (info, body, line)) in blocks.iter().enumerate() {
        if info != "toml example" {
            assert!(
                info != "toml example-test" || paired.contains(&k),
                "docs/rules.md:{line}: a test without its rules"
            );
            continue;
        }
        paired.insert(k + 1);
        let (test_info, test, _) = blocks
            .get(k + 1)
            .unwrap_or_else(|| panic!("docs/rules.md:{line}: an example without its test"));
        assert_eq!(test_info, "toml example-test", "docs/rules.md:{line}");
        let rules = dir.path().join(format!("example{k}.toml"));
        std::fs::write(&rules, body).unwrap();
        let rules_parsed = crate::file::parse_rules("example", body, &levels)
            .unwrap_or_else(|d| panic!("docs/rules.md:{line}: {d:#?}"));
        for r in &rules_parsed {
            exprs.push_str(&format!("{} | {:?} | ", r.expr, r.summary.source()));
            if !r.overrides.is_empty() {
                exprs.push_str("overrides | ");
            }
            if r.clear.is_some() {
                exprs.push_str("clear | ");
            }
        }
        let test_path = dir.path().join(format!("example{k}.test.toml"));
        std::fs::write(
            &test_path,
            format!("rule_files = [\"example{k}.toml\"]\n{test}"),
        )
        .unwrap();
        let report = run_file(&test_path, &levels)
            .unwrap_or_else(|d| panic!("docs/rules.md:{line}: {d:#?}"));
        let failed: Vec<String> = report.failures.iter().map(ToString::to_string).collect();
        assert!(
            failed.is_empty(),
            "docs/rules.md:{line}:\n{}",
            failed.join("\n")
        );
        let parsed = parse_file(&test_path).unwrap();
        for r in &rules_parsed {
            assert!(
                parsed
                    .tests
                    .iter()
                    .flat_map(|t| &t.alerts)
                    .any(|a| a.alertname == r.name && !a.expected.is_empty()),
                "docs/rules.md:{line}: no check shows '{}' firing",
                r.name
            );
        }
        examples += 1;
    }
    assert!(examples >= 10, "only {examples} examples found");
    let mut forms: Vec<String> = crate::expr::Func::ALL
        .iter()
        .map(|f| format!("{}(", f.name()))
        .collect();
    forms.extend(
        [
            "absent(",
            "]) ",
            " and ",
            " or ",
            " unless ",
            " / ",
            " - ",
            "overrides",
            "{{threshold}}",
            "clear",
            " > ",
            " < ",
            " >= ",
            " == ",
        ]
        .map(str::to_owned),
    );
    let missing: Vec<&String> = forms
        .iter()
        .filter(|f| !exprs.contains(f.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "forms without a documented example: {missing:?}"
    );
    // absent with and without a range.
    assert!(
        exprs.contains("absent(oracle_up[5m])") && exprs.contains("absent(oracle_up{db=\"ORCL\"})")
    );
}
