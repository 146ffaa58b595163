//! `patrolctl rules check|list|reload`: offline validation of rule files with the collector's
//! own loader, and the Rules service calls.

use crate::failure::Failure;
use crate::format::{Human, severity_color};
use crate::table::{self, Cell};
use crate::{connect, output, time};
use patrol_proto::v1::{self, rules_client::RulesClient};
use patrol_rules::level::Levels;
use patrol_site::Site;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Checks every path and reports like a compiler: each problem on `err`, then the count; on
/// success `ok: N rules` on `out`. Returns the exit status: 1 when any path has a problem.
///
/// Severities are checked against the levels of `site` when given (the site file is checked
/// too), else against the shipped default levels P1–P4.
pub fn check(
    paths: &[PathBuf],
    site: Option<&Path>,
    out: &mut impl Write,
    err: &mut impl Write,
) -> io::Result<u8> {
    let mut rules = 0;
    let mut errors = 0;
    let mut warnings = 0;
    let Some(levels) = levels(site, err)? else {
        return Ok(1);
    };
    for path in paths {
        let checked = patrol_rules::file::check_path(path, &levels);
        // Warnings and errors of a path together, in position order, as a compiler prints.
        let mut lines: Vec<&patrol_rules::Diagnostic> = checked.warnings.iter().collect();
        warnings += checked.warnings.len();
        match &checked.result {
            Ok(set) => rules += set.len(),
            Err(diags) => {
                lines.extend(diags);
                errors += diags.len();
            }
        }
        lines.sort_by(|a, b| (&a.file, a.line, a.column).cmp(&(&b.file, b.line, b.column)));
        for d in lines {
            writeln!(err, "{d}")?;
        }
    }
    if errors > 0 {
        if warnings > 0 {
            writeln!(err, "{errors} error(s), {warnings} warning(s)")?;
        } else {
            writeln!(err, "{errors} error(s)")?;
        }
        return Ok(1);
    }
    let warned = if warnings > 0 {
        format!(", {warnings} warning(s)")
    } else {
        String::new()
    };
    match site {
        Some(site) if paths.is_empty() => writeln!(out, "ok: {}", site.display())?,
        Some(site) => writeln!(out, "ok: {rules} rules{warned}, site {}", site.display())?,
        None => writeln!(out, "ok: {rules} rules{warned}")?,
    }
    Ok(0)
}

/// The levels severities are checked against: the site's when given (its problems printed on
/// `err`, `None` then), else the shipped P1–P4.
fn levels(site: Option<&Path>, err: &mut impl Write) -> io::Result<Option<Levels>> {
    match site.map(Site::load) {
        None => Ok(Some(Levels::default())),
        Some(Ok(site)) => Ok(Some(site.scale())),
        Some(Err(diags)) => {
            for d in &diags {
                writeln!(err, "{d}")?;
            }
            writeln!(err, "{} error(s)", diags.len())?;
            Ok(None)
        }
    }
}

/// Runs rule test files: each failed check's diff on `out`, problems that kept a file from
/// running on `err` at `file:line:column`, then the totals. Returns the exit status: 1 when any
/// check failed or any file could not run.
pub fn test(
    files: &[PathBuf],
    site: Option<&Path>,
    out: &mut impl Write,
    err: &mut impl Write,
) -> io::Result<u8> {
    let Some(levels) = levels(site, err)? else {
        return Ok(1);
    };
    let (mut tests, mut checks, mut failed, mut broken) = (0, 0, 0, 0);
    for file in files {
        match patrol_rules::unittest::run_file(file, &levels) {
            Ok(report) => {
                tests += report.tests;
                checks += report.checks;
                failed += report.failures.len();
                for f in &report.failures {
                    writeln!(out, "{f}")?;
                }
            }
            Err(diags) => {
                broken += 1;
                for d in &diags {
                    writeln!(err, "{d}")?;
                }
            }
        }
    }
    if broken > 0 {
        writeln!(err, "{broken} test file(s) could not run")?;
    }
    if failed > 0 {
        writeln!(out, "FAILED: {failed} of {checks} checks in {tests} tests")?;
    } else if broken == 0 {
        writeln!(out, "ok: {checks} checks in {tests} tests")?;
    }
    Ok(u8::from(failed > 0 || broken > 0))
}

/// Runs `rules test` on the real stdout and stderr.
pub fn test_cmd(files: &[PathBuf], site: Option<&Path>) -> Result<(), Failure> {
    let code = test(
        files,
        site,
        &mut io::stdout().lock(),
        &mut io::stderr().lock(),
    )?;
    match code {
        0 => Ok(()),
        code => Err(Failure::Reported(code)),
    }
}

/// Runs `rules check` (or `site check`) on the real stdout and stderr.
pub fn check_cmd(paths: &[PathBuf], site: Option<&Path>) -> Result<(), Failure> {
    let code = check(
        paths,
        site,
        &mut io::stdout().lock(),
        &mut io::stderr().lock(),
    )?;
    match code {
        0 => Ok(()),
        code => Err(Failure::Reported(code)),
    }
}

/// `rules list`: the rules the collector runs with their state counts, as a table or JSON.
pub async fn list(url: &str, as_json: bool, human: &Human) -> Result<(), Failure> {
    let mut client = RulesClient::new(connect::channel(url).await?);
    let rules = client
        .list(v1::RulesListRequest {})
        .await?
        .into_inner()
        .rules;
    if as_json {
        output::line(&rules_json(&rules))
    } else if rules.is_empty() {
        output::line("no rules")
    } else {
        output::text(&rules_table(&rules, human))
    }
}

/// One rule as `rules list --json` prints it.
#[derive(Debug, serde::Serialize)]
struct RuleJson<'a> {
    name: &'a str,
    severity: &'a str,
    expr: &'a str,
    #[serde(rename = "for")]
    for_: String,
    for_ms: i64,
    file: &'a str,
    overrides: u32,
    inactive: u64,
    pending: u64,
    firing: u64,
}

/// The rules as a JSON array.
pub fn rules_json(rules: &[v1::RuleInfo]) -> String {
    let list: Vec<RuleJson> = rules
        .iter()
        .map(|r| RuleJson {
            name: &r.name,
            severity: &r.severity,
            expr: &r.expr,
            for_: time::duration(r.for_ms),
            for_ms: r.for_ms,
            file: &r.file,
            overrides: r.overrides,
            inactive: r.inactive,
            pending: r.pending,
            firing: r.firing,
        })
        .collect();
    serde_json::to_string(&list).unwrap_or_else(|_| "[]".to_owned())
}

/// `rules reload`: asks the collector to reload; its problems go to stderr and exit 1.
pub async fn reload(url: &str) -> Result<(), Failure> {
    let mut client = RulesClient::new(connect::channel(url).await?);
    let response = client.reload(v1::RulesReloadRequest {}).await?.into_inner();
    let (code, text) = reload_report(&response);
    if code == 0 {
        output::line(&text)
    } else {
        eprint!("{text}");
        Err(Failure::Reported(code))
    }
}

/// What `rules reload` prints and its exit status. A failed reload leaves the collector on its
/// last good rules, which the message says so nobody thinks monitoring stopped.
pub fn reload_report(r: &v1::RulesReloadResponse) -> (u8, String) {
    if r.ok {
        return (0, format!("ok: {} rules loaded", r.rules));
    }
    let mut text = String::new();
    for e in &r.errors {
        text.push_str(e);
        text.push('\n');
    }
    text.push_str(&format!(
        "{} error(s); the collector keeps its previous rules\n",
        r.errors.len()
    ));
    (1, text)
}

/// The rule table: NAME, SEVERITY, FOR, INACTIVE, PENDING, FIRING, FILE, EXPR — the three
/// counts are series (rule instances) in each alert state.
pub fn rules_table(rules: &[v1::RuleInfo], human: &Human) -> String {
    let rows: Vec<Vec<Cell>> = rules
        .iter()
        .map(|r| {
            vec![
                Cell::new(&r.name),
                Cell::colored(&r.severity, severity_color(&r.severity)),
                Cell::new(time::duration(r.for_ms)),
                Cell::new(r.inactive.to_string()),
                Cell::new(r.pending.to_string()),
                Cell::new(r.firing.to_string()),
                Cell::new(&r.file),
                Cell::new(&r.expr),
            ]
        })
        .collect();
    table::render(
        human,
        &[
            "NAME", "SEVERITY", "FOR", "INACTIVE", "PENDING", "FIRING", "FILE", "EXPR",
        ],
        &rows,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    const GOOD: &str = r#"
[[rule]]
name     = "archive_log_high"
expr     = 'oracle_archive_log_used_percent > 40'
for      = "0s"
severity = "P2"
summary  = "Archive log at {{value}}% on {{host}}"

[[rule]]
name     = "tablespace_high"
expr     = 'oracle_tablespace_used_percent > 90'
for      = "5m"
severity = "P2"
summary  = "Tablespace at {{value}}% on {{host}}"
"#;

    const BAD: &str = r#"
[[rule]]
name     = "weblogic_log_high"
expr     = 'weblogic_log_used_percent > 50'
for      = "0s"
severity = "P9"
summary  = "WebLogic log at {{value}}%"
"#;

    fn run_check(paths: &[PathBuf]) -> (u8, String, String) {
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let code = check(paths, None, &mut out, &mut err).expect("writing to a Vec cannot fail");
        (
            code,
            String::from_utf8_lossy(&out).into_owned(),
            String::from_utf8_lossy(&err).into_owned(),
        )
    }

    #[test]
    fn severities_are_checked_against_a_site_s_levels() {
        let dir = tempfile::tempdir().expect("tempdir");
        let rule = dir.path().join("r.toml");
        std::fs::write(&rule, GOOD).expect("write rule");
        let site = dir.path().join("site.toml");
        let check_with = |site_text: &str| {
            std::fs::write(&site, site_text).expect("write site");
            let (mut out, mut err) = (Vec::new(), Vec::new());
            let code =
                check(std::slice::from_ref(&rule), Some(&site), &mut out, &mut err).expect("vec");
            (
                code,
                String::from_utf8_lossy(&out).into_owned(),
                String::from_utf8_lossy(&err).into_owned(),
            )
        };
        let (code, _, err) =
            check_with("[[level]]\nname = \"I\"\nrespond = \"5m\"\nresolve = \"1h\"\n");
        assert_eq!(code, 1);
        assert!(
            err.contains("unknown severity 'P2': expected one of I"),
            "{err}"
        );
        let (code, out, _) =
            check_with("[[level]]\nname = \"P2\"\nrespond = \"5m\"\nresolve = \"1h\"\n");
        assert_eq!(code, 0);
        assert!(out.starts_with("ok: 2 rules, site "), "{out}");
        // A broken site file is reported at its position, and nothing else is checked.
        let (code, _, err) =
            check_with("[[level]]\nname = \"P2\"\nrespond = \"soon\"\nresolve = \"1h\"\n");
        assert_eq!(code, 1);
        assert!(
            err.contains("site.toml:3:11: invalid duration 'soon'"),
            "{err}"
        );
    }

    #[test]
    fn good_file_and_directory_pass() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("oracle.toml");
        fs::write(&file, GOOD).expect("write rules");
        assert_eq!(
            run_check(&[file]),
            (0, "ok: 2 rules\n".to_owned(), String::new())
        );
        assert_eq!(
            run_check(&[dir.path().to_path_buf()]),
            (0, "ok: 2 rules\n".to_owned(), String::new())
        );
    }

    #[test]
    fn any_bad_path_fails_with_located_errors_and_a_count() {
        let dir = tempfile::tempdir().expect("tempdir");
        let good = dir.path().join("oracle.toml");
        let bad = dir.path().join("weblogic.toml");
        fs::write(&good, GOOD).expect("write rules");
        fs::write(&bad, BAD).expect("write rules");
        let (code, out, err) = run_check(&[good, bad.clone()]);
        assert_eq!(code, 1);
        assert_eq!(out, "");
        let lines: Vec<&str> = err.lines().collect();
        assert_eq!(lines.len(), 2, "{err}");
        assert!(
            lines[0].starts_with(&format!("{}:6:", bad.display())),
            "{err}"
        );
        assert_eq!(lines[1], "1 error(s)");
    }

    #[test]
    fn missing_path_is_an_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let missing = dir.path().join("nope.toml");
        let (code, out, err) = run_check(std::slice::from_ref(&missing));
        assert_eq!(code, 1);
        assert_eq!(out, "");
        assert!(
            err.starts_with(&format!("{}: ", missing.display())),
            "{err}"
        );
        assert!(err.ends_with("1 error(s)\n"), "{err}");
    }

    #[test]
    fn failed_reload_lists_errors_and_exits_1() {
        let r = v1::RulesReloadResponse {
            ok: false,
            rules: 0,
            errors: vec!["rules/a.toml:3:1: unknown field 'sevrity'".to_owned()],
        };
        assert_eq!(
            reload_report(&r),
            (
                1,
                "rules/a.toml:3:1: unknown field 'sevrity'\n\
                 1 error(s); the collector keeps its previous rules\n"
                    .to_owned()
            )
        );
        let ok = v1::RulesReloadResponse {
            ok: true,
            rules: 7,
            errors: vec![],
        };
        assert_eq!(reload_report(&ok), (0, "ok: 7 rules loaded".to_owned()));
    }

    #[test]
    fn rules_table_is_pinned() {
        let human = Human {
            tz: jiff::tz::TimeZone::UTC,
            color: false,
        };
        let rules = [v1::RuleInfo {
            name: "archive_log_high".to_owned(),
            expr: "oracle_archive_log_used_percent > 40".to_owned(),
            severity: "P2".to_owned(),
            file: "rules/oracle.toml".to_owned(),
            for_ms: 300_000,
            inactive: 12,
            pending: 1,
            firing: 2,
            overrides: 1,
        }];
        assert_eq!(
            rules_table(&rules, &human),
            "NAME              SEVERITY  FOR  INACTIVE  PENDING  FIRING  FILE               EXPR\n\
             archive_log_high  P2        5m   12        1        2       rules/oracle.toml  oracle_archive_log_used_percent > 40\n"
        );
        assert_eq!(
            rules_json(&rules),
            r#"[{"name":"archive_log_high","severity":"P2","expr":"oracle_archive_log_used_percent > 40","for":"5m","for_ms":300000,"file":"rules/oracle.toml","overrides":1,"inactive":12,"pending":1,"firing":2}]"#
        );
    }

    #[test]
    fn warnings_are_printed_and_do_not_fail_the_check() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("app.toml");
        fs::write(
            &file,
            "[[rule]]\nname = 'q'\nexpr = 'app_queue_depth > 10'\nseverity = 'P3'\nsummary = 's'\n",
        )
        .expect("write rules");
        let (code, out, err) = run_check(std::slice::from_ref(&file));
        assert_eq!(code, 0, "{err}");
        assert_eq!(out, "ok: 1 rules, 1 warning(s)\n");
        assert_eq!(
            err,
            format!(
                "{}:3:9: warning: no probe emits 'app_queue_depth' (docs/metrics.md): the rule never fires unless a textfile or exec probe reports it\n",
                file.display()
            )
        );
    }

    fn run_test(files: &[PathBuf]) -> (u8, String, String) {
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let code = test(files, None, &mut out, &mut err).expect("writing to a Vec cannot fail");
        (
            code,
            String::from_utf8_lossy(&out).into_owned(),
            String::from_utf8_lossy(&err).into_owned(),
        )
    }

    #[test]
    fn rule_tests_pass_fail_with_a_diff_or_cannot_run() {
        let dir = tempfile::tempdir().expect("tempdir");
        fs::write(dir.path().join("oracle.toml"), GOOD).expect("write rules");
        let t = dir.path().join("t.toml");
        let write_test = |expected: &str| {
            fs::write(
                &t,
                format!(
                    "rule_files = ['oracle.toml']\n[[test]]\n\
                     input_series = [{{ series = 'oracle_archive_log_used_percent{{host=\"db1\"}}', values = '30 45' }}]\n\
                     [[test.alert_rule_test]]\neval_time = '1m'\nalertname = 'archive_log_high'\n\
                     exp_alerts = [{expected}]\n"
                ),
            )
            .expect("write test");
        };
        write_test("{ exp_labels = { host = 'db1' }, exp_summary = 'Archive log at 45% on db1' }");
        assert_eq!(
            run_test(std::slice::from_ref(&t)),
            (0, "ok: 1 checks in 1 tests\n".to_owned(), String::new())
        );
        write_test("{ exp_labels = { host = 'db1' }, exp_summary = 'Archive log at 40% on db1' }");
        let (code, out, err) = run_test(std::slice::from_ref(&t));
        assert_eq!(code, 1);
        assert_eq!(err, "");
        assert_eq!(
            out,
            format!(
                "{}:4: FAILED test \"test 1\": archive_log_high at eval_time 1m\n  \
                 - {{host=\"db1\"}} \"Archive log at 40% on db1\"\n  \
                 + {{host=\"db1\"}} P2 \"Archive log at 45% on db1\"\n\
                 FAILED: 1 of 1 checks in 1 tests\n",
                t.display()
            )
        );
        fs::write(&t, "rule_files = ['oracle.toml']\n[[test]]\ninput_series = [{ series = 'm', values = '1 2x' }]\n").expect("write test");
        let (code, out, err) = run_test(std::slice::from_ref(&t));
        assert_eq!((code, out.as_str()), (1, ""));
        assert_eq!(
            err,
            format!(
                "{}:3:47: invalid repetition count '' after 'x': write a whole number, e.g. x5\n1 test file(s) could not run\n",
                t.display()
            )
        );
    }
}
