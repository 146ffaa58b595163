//! Tests of rule-file checking: exact `file:line:column` diagnostics and directory loading.

use std::path::Path;

use patrol_proto::Labels;

use super::*;

fn diags(src: &str) -> Vec<String> {
    parse_rules("rules.toml", src, &Levels::default())
        .unwrap_err()
        .iter()
        .map(ToString::to_string)
        .collect()
}

fn one(src: &str) -> Rule {
    let mut rules = parse_rules("rules.toml", src, &Levels::default()).unwrap();
    assert_eq!(rules.len(), 1);
    rules.remove(0)
}

const GOOD: &str = r#"
[[rule]]
name     = "archive_log_high"
expr     = 'oracle_archive_log_used_percent{db=~"ORCL.*"} > 40'
for      = "1m 30s"
clear    = 35
severity = "P2"
summary  = "Archive log at {{value}}% on {{host}}/{{db}} (limit 40%)"
"#;

#[test]
fn parses_a_complete_rule() {
    let r = one(GOOD);
    assert_eq!(r.name, "archive_log_high");
    assert_eq!(r.metric(), "oracle_archive_log_used_percent");
    assert_eq!(r.for_, Duration::from_secs(90));
    assert_eq!(r.clear, Some(35.0));
    assert_eq!((r.severity.name.as_str(), r.severity.rank), ("P2", 1));
    assert_eq!((r.file.as_str(), r.line), ("rules.toml", 3));
    let l = Labels::from_pairs([("host", "db1"), ("db", "ORCL")]);
    assert_eq!(
        r.summary.render(r.metric(), 41.256, &l, None),
        "Archive log at 41.26% on db1/ORCL (limit 40%)"
    );
}

#[test]
fn for_defaults_to_zero_and_clear_to_none() {
    let r = one("[[rule]]\nname='a'\nexpr='m < 1'\nseverity='P4'\nsummary='s'\n");
    assert_eq!(r.for_, Duration::ZERO);
    assert_eq!(r.clear, None);
}

#[test]
fn empty_file_has_no_rules() {
    assert!(
        parse_rules("e.toml", "# nothing yet\n", &Levels::default())
            .unwrap()
            .is_empty()
    );
}

#[test]
fn missing_operator_points_inside_the_expr() {
    let src = "[[rule]]\nname = \"a\"\nexpr = 'disk_used_percent{mount=\"/\"} 90'\nseverity = \"P2\"\nsummary = \"s\"\n";
    assert_eq!(
        diags(src),
        vec![
            "rules.toml:3:38: expected a comparison operator (> >= < <= == !=) after the selector, found '90'"
        ]
    );
}

#[test]
fn expr_column_is_exact_after_escapes_in_basic_strings() {
    let src = "[[rule]]\nname = \"a\"\nexpr = \"m{a=\\\"x\\\"} foo\"\nseverity = \"P2\"\nsummary = \"s\"\n";
    // Line 3 is: expr = "m{a=\"x\"} foo"  -> 'foo' starts at column 20.
    assert_eq!(
        diags(src),
        vec![
            "rules.toml:3:20: expected a comparison operator (> >= < <= == !=) after the selector, found 'foo'"
        ]
    );
}

#[test]
fn reports_every_error_of_the_file_at_once() {
    let src = r#"[[rule]]
name     = "9lives"
expr     = 'm{mount=~"(x"} > 1'
for      = "-5m"
severity = "P5"
summary  = "at {{value"

[[rule]]
name     = "clear_wrong_side"
expr     = 'm > 40'
for      = "5 parsecs"
clear    = 45
severity = "P2"
summary  = "ok"

[[rule]]
name = "lonely"
"#;
    let got = diags(src);
    let expected_prefixes = [
        "rules.toml:2:12: invalid rule name '9lives': use letters, digits and '_', not starting with a digit",
        "rules.toml:3:22: invalid regular expression for label 'mount': ",
        "rules.toml:4:12: 'for' must not be negative",
        "rules.toml:5:12: unknown severity 'P5': expected one of P1, P2, P3, P4",
        "rules.toml:6:16: '{{' is not closed: expected '}}'",
        "rules.toml:11:12: invalid duration '5 parsecs' for 'for': ",
        "rules.toml:12:12: 'clear' (45) must be below the threshold 40 of '>'",
        "rules.toml:16:1: this rule is missing 'expr', 'severity', 'summary'",
    ];
    assert_eq!(got.len(), expected_prefixes.len(), "{got:#?}");
    for (g, e) in got.iter().zip(expected_prefixes) {
        assert!(g.starts_with(e), "got {g:?}, expected prefix {e:?}");
    }
}

#[test]
fn the_manual_incidents_rule_name_is_reserved() {
    let src = "[[rule]]\nname = 'manual'\nexpr='up == 0'\nseverity='P4'\nsummary='s'\n";
    assert_eq!(
        diags(src),
        vec![
            "rules.toml:2:8: rule name 'manual' is reserved for incidents opened by hand (patrolctl incidents create); choose another"
        ]
    );
}

#[test]
fn clear_must_be_above_threshold_for_less_than() {
    let src = "[[rule]]\nname='a'\nexpr='free < 10'\nclear=5\nseverity='P4'\nsummary='s'\n";
    assert_eq!(
        diags(src),
        vec!["rules.toml:4:7: 'clear' (5) must be above the threshold 10 of '<'"]
    );
}

#[test]
fn clear_is_refused_for_equality() {
    let src = "[[rule]]\nname='a'\nexpr='up == 0'\nclear=1\nseverity='P1'\nsummary='s'\n";
    assert_eq!(
        diags(src),
        vec!["rules.toml:4:7: 'clear' cannot be used with '==': hysteresis needs one of > >= < <="]
    );
}

#[test]
fn empty_name_is_refused() {
    let src = "[[rule]]\nname=''\nexpr='m > 1'\nseverity='P1'\nsummary='s'\n";
    assert_eq!(diags(src), vec!["rules.toml:2:6: 'name' must not be empty"]);
}

#[test]
fn unknown_key_is_one_diagnostic() {
    let src = "[[rule]]\nname = \"x\"\nseverty = \"P1\"\n";
    let got = diags(src);
    assert_eq!(got.len(), 1);
    assert!(
        got[0].starts_with("rules.toml:3:1: unknown field `severty`"),
        "{got:?}"
    );
}

#[test]
fn toml_syntax_error_is_one_diagnostic() {
    let got = diags("[[rule]]\nname = \"x\nexpr = 'm > 1'\n");
    assert_eq!(got.len(), 1);
    assert!(got[0].starts_with("rules.toml:2:"), "{got:?}");
}

#[test]
fn wrong_value_type_is_reported_at_the_value() {
    let got = diags("[[rule]]\nname = 'x'\nclear = \"35\"\n");
    assert_eq!(got.len(), 1);
    assert!(got[0].starts_with("rules.toml:3:9: "), "{got:?}");
}

#[test]
fn duplicate_name_in_one_file_names_the_first() {
    let src = "[[rule]]\nname = 'a'\nexpr = 'm > 1'\nseverity = 'P1'\nsummary = 's'\n\n[[rule]]\nname = 'a'\nexpr = 'n > 1'\nseverity = 'P1'\nsummary = 's'\n";
    assert_eq!(
        diags(src),
        vec!["rules.toml:8:8: duplicate rule name 'a' (first defined at rules.toml:2:8)"]
    );
}

#[test]
fn custom_levels_are_listed_in_the_message() {
    let levels = Levels::new(["critical", "warning"]).unwrap();
    let src = "[[rule]]\nname='a'\nexpr='m > 1'\nseverity='P1'\nsummary='s'\n";
    let got = parse_rules("r.toml", src, &levels).unwrap_err();
    assert_eq!(
        got[0].to_string(),
        "r.toml:4:10: unknown severity 'P1': expected one of critical, warning"
    );
}

fn rule_toml(name: &str, metric: &str) -> String {
    format!(
        "[[rule]]\nname = \"{name}\"\nexpr = '{metric} > 1'\nseverity = \"P3\"\nsummary = \"s\"\n"
    )
}

fn write(dir: &Path, name: &str, body: &str) {
    std::fs::write(dir.join(name), body).unwrap();
}

#[test]
fn load_dir_reads_toml_files_in_name_order_and_ignores_others() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "b.toml", &rule_toml("second", "m2"));
    write(dir.path(), "a.toml", &rule_toml("first", "m1"));
    write(dir.path(), "README.md", "not rules");
    write(dir.path(), ".a.toml.swp", "garbage [[");
    write(dir.path(), "a.toml~", "garbage [[");
    write(dir.path(), ".#a.toml", "garbage [[");
    std::fs::create_dir(dir.path().join("sub.toml")).unwrap();
    let set = load_dir(dir.path(), &Levels::default()).unwrap();
    let names: Vec<_> = set.rules().iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, vec!["first", "second"]);
    assert_eq!(set.for_metric("m2"), &[1]);
    assert_eq!(
        set.rules()[0].file,
        dir.path().join("a.toml").display().to_string()
    );
}

#[test]
fn load_dir_reports_errors_of_all_files() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "a.toml",
        "[[rule]]\nname = 'x'\nexpr = 'm ~ 1'\nseverity = 'P1'\nsummary = 's'\n",
    );
    write(dir.path(), "b.toml", &rule_toml("ok", "m"));
    write(
        dir.path(),
        "c.toml",
        "[[rule]]\nname = 'y'\nexpr = 'm > 1'\nseverity = 'P9'\nsummary = 's'\n",
    );
    let got: Vec<String> = load_dir(dir.path(), &Levels::default())
        .unwrap_err()
        .iter()
        .map(ToString::to_string)
        .collect();
    let a = dir.path().join("a.toml").display().to_string();
    let c = dir.path().join("c.toml").display().to_string();
    assert_eq!(
        got,
        vec![
            format!("{a}:3:11: unexpected character '~'"),
            format!("{c}:4:12: unknown severity 'P9': expected one of P1, P2, P3, P4"),
        ]
    );
}

#[test]
fn load_dir_rejects_duplicate_names_across_files() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "host.toml",
        &format!("# host rules\n\n{}", rule_toml("disk_full", "d")),
    );
    write(dir.path(), "more.toml", &rule_toml("disk_full", "e"));
    let got = load_dir(dir.path(), &Levels::default()).unwrap_err();
    let host = dir.path().join("host.toml").display().to_string();
    let more = dir.path().join("more.toml").display().to_string();
    assert_eq!(got.len(), 1);
    assert_eq!(
        got[0].to_string(),
        format!("{more}:2:8: duplicate rule name 'disk_full' (first defined at {host}:4:8)")
    );
}

#[test]
fn load_dir_missing_dir_is_a_positionless_diagnostic() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope");
    let got = load_dir(&missing, &Levels::default()).unwrap_err();
    assert_eq!(got.len(), 1);
    assert_eq!((got[0].line, got[0].column), (0, 0));
    assert!(got[0].to_string().starts_with(&format!(
        "{}: cannot read rules directory: ",
        missing.display()
    )));
}

#[test]
fn load_path_accepts_a_file_or_a_dir() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "a.toml", &rule_toml("a", "m"));
    write(dir.path(), "b.toml", &rule_toml("b", "m"));
    let levels = Levels::default();
    assert_eq!(load_path(dir.path(), &levels).unwrap().len(), 2);
    let one = load_path(&dir.path().join("a.toml"), &levels).unwrap();
    assert_eq!(one.for_metric("m"), &[0]);
}

#[test]
fn shipped_default_rules_load_cleanly() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("default");
    let set = match load_dir(&dir, &Levels::default()) {
        Ok(set) => set,
        Err(d) => panic!("{d:#?}"),
    };
    let names: Vec<_> = set.rules().iter().map(|r| r.name.as_str()).collect();
    assert_eq!(
        names,
        vec![
            "agent_silent",
            // gear.toml
            "ups_on_battery",
            "ups_on_battery_prolonged",
            "ups_battery_low",
            "ups_runtime_low",
            "ups_alarm_present",
            "entity_sensor_not_ok",
            "fc_port_down",
            "trap_link_down",
            "trap_device_restarted",
            "ipmi_sensor_critical",
            "ipmi_sensor_warning",
            "ipmi_unreachable",
            "cpu_high",
            "memory_high",
            "disk_full",
            "archive_log_high",
            "tablespace_high",
            "weblogic_log_high",
            // network-hardware.toml
            "ping_target_unreachable",
            "ping_loss_high",
            "trace_path_changed",
            "tcp_listener_missing",
            "hw_fan_failed",
            "hw_temperature_critical",
            "hw_temperature_high",
            "raid_degraded",
            "oracle_down",
            "oracle_archive_dest_error",
            "oracle_sessions_high",
            "oracle_processes_high",
            "oracle_backup_stale",
            "oracle_backup_missing",
            "oracle_dataguard_apply_lag_high",
            "oracle_dataguard_transport_lag_high",
            "oracle_blocking_locks",
            "oracle_deadlocks",
            "oracle_long_running_sql",
            "oracle_scheduler_job_failed",
            "oracle_scheduler_job_broken",
            "oracle_recovery_area_high",
            // services.toml
            "http_check_failed",
            "tcp_check_failed",
            "dns_check_failed",
            "tls_cert_expiring",
            "tls_cert_expiry_imminent",
            "process_missing",
            "files_stale",
            "backup_success_missing",
            "exec_critical",
            "exec_warning",
            "exec_unknown",
            "textfile_scrape_error",
            "interface_down",
            "snmp_device_unreachable",
            // weblogic.toml
            "weblogic_stuck_threads",
            "weblogic_out_of_memory",
            "weblogic_log_unreadable"
        ]
    );
    let disk = &set.rules()[set.for_metric("disk_used_percent")[0]];
    let l = Labels::from_pairs([("host", "web1"), ("mount", "/var")]);
    assert_eq!(
        disk.summary.render(disk.metric(), 93.456, &l, None),
        "Disk /var on web1 is 93.46% full (limit 90%, resolves below 85%)"
    );
}

#[test]
fn duplicate_is_reported_even_when_the_first_rule_has_other_errors() {
    let src = "[[rule]]\nname = 'a'\nexpr = 'm'\nseverity = 'P1'\nsummary = 's'\n[[rule]]\nname = 'a'\nexpr = 'n > 1'\nseverity = 'P1'\nsummary = 's'\n";
    assert_eq!(
        diags(src),
        vec![
            "rules.toml:3:10: expected a comparison operator (> >= < <= == !=) after the selector, found the end of the expression",
            "rules.toml:7:8: duplicate rule name 'a' (first defined at rules.toml:2:8)",
        ]
    );
}

/// docs/rules.md's "Shipped rules" table lists every rule of `rules/default/` under its file.
#[test]
fn shipped_rules_are_all_documented() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let doc = std::fs::read_to_string(root.join("../docs/rules.md")).expect("docs/rules.md");
    let section = doc
        .split("\n## Shipped rules\n")
        .nth(1)
        .expect("docs/rules.md has a '## Shipped rules' section");
    let section = section.split("\n## ").next().unwrap_or(section);
    let mut files: Vec<_> = std::fs::read_dir(root.join("default"))
        .expect("rules/default")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    let mut missing = Vec::new();
    let mut total = 0;
    for path in files {
        let file = path.file_name().and_then(|n| n.to_str()).expect("name");
        let src = std::fs::read_to_string(&path).expect("rule file");
        let rules = parse_rules(file, &src, &Levels::default()).expect("shipped file parses");
        for rule in rules {
            total += 1;
            let row = format!("| `{file}` | `{}` |", rule.name);
            if !section.lines().any(|l| l.starts_with(&row)) {
                missing.push(row);
            }
        }
    }
    assert!(total > 0, "no shipped rules found");
    assert!(
        missing.is_empty(),
        "add these rows to docs/rules.md's Shipped rules table:\n{}",
        missing.join("\n")
    );
}

fn warnings(src: &str) -> Vec<String> {
    let (result, warnings) = check_rules("rules.toml", src, &Levels::default());
    if let Err(d) = result {
        panic!("{d:#?}");
    }
    warnings.iter().map(ToString::to_string).collect()
}

const TABLESPACE: &str = r#"[[rule]]
name     = "tablespace_high"
expr     = 'oracle_tablespace_used_percent > 90'
for      = "5m"
clear    = 85
severity = "P2"
summary  = "{{tablespace}} at {{value}}% (limit {{threshold}}%)"
overrides = [
  { match = '{host=~"batch-.*"}', threshold = 98, clear = 95, for = "30m" },
  { match = '{tablespace="UNDOTBS1"}', threshold = 97 },
  { match = '{db="ORCL", tablespace="UNDOTBS1"}', for = "0s" },
]
"#;

#[test]
fn overrides_load_with_their_precedence() {
    let r = one(TABLESPACE);
    assert_eq!(r.overrides.len(), 3);
    let l = |pairs: &[(&str, &str)]| Labels::from_pairs(pairs.iter().copied());
    // Two equalities beat one, one beats a regex.
    let both = l(&[
        ("host", "batch-1"),
        ("db", "ORCL"),
        ("tablespace", "UNDOTBS1"),
    ]);
    assert_eq!(r.override_for(&both), Some(2));
    let p = r.params(Some(2));
    assert_eq!(
        (p.threshold, p.clear, p.for_ms),
        (Some(90.0), Some(85.0), 0)
    );
    let undo = l(&[
        ("host", "batch-1"),
        ("db", "TEST"),
        ("tablespace", "UNDOTBS1"),
    ]);
    assert_eq!(r.override_for(&undo), Some(1));
    assert_eq!(r.params(Some(1)).threshold, Some(97.0));
    assert_eq!(r.params(Some(1)).for_ms, 300_000);
    let batch = l(&[("host", "batch-1"), ("tablespace", "USERS")]);
    assert_eq!(r.override_for(&batch), Some(0));
    let p = r.params(Some(0));
    assert_eq!(
        (p.threshold, p.clear, p.for_ms),
        (Some(98.0), Some(95.0), 1_800_000)
    );
    assert_eq!(r.override_for(&l(&[("host", "db1")])), None);
    assert_eq!(
        r.threshold_detail(Some(1)).as_deref(),
        Some(r#"97 (override {tablespace="UNDOTBS1"} at rules.toml:10)"#)
    );
    assert_eq!(r.threshold_detail(None).as_deref(), Some("90 (rule)"));
}

#[test]
fn bad_overrides_are_each_reported_at_their_place() {
    let src = r#"[[rule]]
name = "t"
expr = 'oracle_tablespace_used_percent > 90'
clear = 85
severity = "P2"
summary = "s"
overrides = [
  { threshold = 97 },
  { match = '{tablespace="X"', threshold = 97 },
  { match = '{tablespace=~"(x"}', threshold = 97 },
  { match = '{tablespace="X"}' },
  { match = '{tablespace="X"}', threshold = 80 },
  { match = '{mount="/"}', threshold = 95 },
  { match = '{tablespace="X"}', for = "-1m" },
  { match = '{tablespace="X"}', treshold = 1 },
]
"#;
    let got = diags(src);
    // An unknown key stops the file (the rest of it cannot be trusted).
    assert_eq!(got.len(), 1, "{got:#?}");
    assert!(got[0].contains("unknown field `treshold`"), "{got:?}");
    let got = diags(&src.replace("  { match = '{tablespace=\"X\"}', treshold = 1 },\n", ""));
    let expected = [
        "rules.toml:8:3: this override is missing 'match'",
        "rules.toml:9:29: expected ',' or '}' after a label matcher, found the end of the expression",
        "rules.toml:10:27: invalid regular expression for label 'tablespace': ",
        "rules.toml:11:3: this override changes nothing: give it 'threshold', 'clear' or 'for'",
        "rules.toml:12:45: with this threshold the rule's 'clear' (85) is on the wrong side",
        "rules.toml:13:15: 'oracle_tablespace_used_percent' never has a label 'mount' (its labels: 'db', 'tablespace', 'contents', 'host' and the agents' static labels): this override could never apply",
        "rules.toml:14:39: 'for' must not be negative",
    ];
    assert_eq!(got.len(), expected.len(), "{got:#?}");
    for (g, e) in got.iter().zip(expected) {
        assert!(g.starts_with(e), "got {g:?}, expected prefix {e:?}");
    }
}

#[test]
fn overrides_on_static_labels_and_undocumented_metrics_are_allowed() {
    let src = r#"[[rule]]
name = "t"
expr = 'cpu_usage_percent > 90'
severity = "P2"
summary = "s"
overrides = [{ match = '{site="dc2", role=~"batch.*"}', threshold = 99 }]
"#;
    assert!(warnings(src).is_empty());
    let src = src.replace("cpu_usage_percent", "my_app_queue_depth");
    let w = warnings(&src.replace("site=", "tablespace="));
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(
        w[0].starts_with("rules.toml:3:9: warning: no probe emits 'my_app_queue_depth'"),
        "{w:?}"
    );
}

#[test]
fn threshold_and_clear_need_a_comparison_with_a_number() {
    let src = r#"[[rule]]
name = "t"
expr = 'disk_used_bytes > disk_total_bytes'
clear = 3
severity = "P2"
summary = "s"
overrides = [{ match = '{mount="/"}', threshold = 1 }]
"#;
    let got = diags(src);
    assert_eq!(got.len(), 2, "{got:#?}");
    assert!(got[0].starts_with(
        "rules.toml:4:9: 'clear' needs an expression that is one comparison with a number"
    ));
    assert!(got[1].starts_with(
        "rules.toml:7:51: 'threshold' needs a rule whose expression compares with a number"
    ));
}

#[test]
fn overrides_that_never_apply_are_warnings() {
    let src = r#"[[rule]]
name = "t"
expr = 'disk_used_percent{mount="/"} > 90'
severity = "P2"
summary = "s"
overrides = [
  { match = '{mount="/var"}', threshold = 95 },
  { match = '{host="a"}', threshold = 95 },
  { match = '{host="a"}', threshold = 99 },
]
"#;
    assert_eq!(
        warnings(src),
        [
            r#"rules.toml:7:3: warning: the override {mount="/var"} never applies: the rule's selector never selects such a series"#,
            r#"rules.toml:9:3: warning: the override {host="a"} never applies: the override at line 8 has the same match and comes first"#,
        ]
    );
}

#[test]
fn grace_only_with_absent_without_range() {
    let ok = "[[rule]]\nname='a'\nexpr='absent(oracle_up{db=\"X\"})'\ngrace='30m'\nseverity='P1'\nsummary='s'\n";
    assert_eq!(one(ok).grace, Duration::from_secs(1800));
    let bad = ok.replace("absent(oracle_up{db=\"X\"})", "absent(oracle_up[5m])");
    assert_eq!(
        diags(&bad),
        [
            "rules.toml:4:7: 'grace' applies only to absent(...) without a range (how long a series has to appear after the rule is loaded)"
        ]
    );
}

/// The issue's bad-input list, in one file: every problem in one pass, each at its place.
#[test]
fn every_bad_input_of_a_file_is_reported_in_one_pass() {
    let src = r#"[[rule]]
name = "a"
expr = 'frobnicate(cpu_usage_percent[5m]) > 1'
severity = "P2"
summary = "s"

[[rule]]
name = "b"
expr = 'rate(cpu_usage_percent) > 1'
severity = "P2"
summary = "s"

[[rule]]
name = "c"
expr = 'avg_over_time(cpu_usage_percent[]) > 1'
severity = "P2"
summary = "s"

[[rule]]
name = "d"
expr = 'cpu_usage_percent{host=~"db[0-9"} > 1'
severity = "P2"
summary = "s"

[[rule]]
name = "e"
expr = 'disk_used_percent > 1'
severity = "P2"
summary = "s"
overrides = [{ match = '{tablespace="UNDOTBS1"}', threshold = 97 }]
"#;
    assert_eq!(
        diags(src),
        [
            "rules.toml:3:9: unknown function 'frobnicate': expected one of avg_over_time, min_over_time, max_over_time, sum_over_time, count_over_time, last_over_time, rate, increase, delta, changes, absent",
            "rules.toml:9:14: rate() needs a range, not the latest value: add a window, e.g. rate(cpu_usage_percent[5m])",
            "rules.toml:15:41: a window needs a duration, e.g. [5m]",
            "rules.toml:21:33: invalid regular expression for label 'host': unclosed character class",
            "rules.toml:30:26: 'disk_used_percent' never has a label 'tablespace' (its labels: 'mount', 'host' and the agents' static labels): this override could never apply",
        ]
    );
}
