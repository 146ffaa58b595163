//! The rule driver: incident changes, flap gating, reloads and restores.

use patrol_proto::model::fingerprint;

use super::*;
use patrol_rules::Levels;

fn rules(src: &str) -> Arc<RuleSet> {
    let rules = patrol_rules::file::parse_rules("t.toml", src, &Levels::default())
        .map_err(|d| d.iter().map(|d| d.to_string()).collect::<Vec<_>>())
        .unwrap();
    Arc::new(RuleSet::from_rules(rules))
}

const DISK: &str = r#"
[[rule]]
name = "disk_full"
expr = 'disk_used_percent{mount!="/boot"} > 90'
clear = 85
severity = "P2"
summary = "Disk {{mount}} at {{value}}% on {{host}}"
"#;

fn disk(mount: &str) -> Labels {
    Labels::from_pairs([("host", "db1"), ("mount", mount)])
}

fn kinds(changes: &[Change]) -> Vec<String> {
    changes
        .iter()
        .map(|c| match c {
            Change::Open { rule, summary, .. } => format!("open {rule}: {summary}"),
            Change::Resolve { rule, .. } => format!("resolve {rule}"),
            Change::Flapping { rule, flapping, .. } => format!("flapping {rule} {flapping}"),
        })
        .collect()
}

#[test]
fn a_flapping_series_is_one_incident_marked_flapping_then_resolved_when_calm() {
    let mut e = Engine::new(rules(DISK));
    let id = e.intern("disk_used_percent", &disk("/"));
    let (mut out, mut st) = (Vec::new(), Evaluated::default());
    let mut t = 0;
    let mut feed = |e: &mut Engine, v: f64, out: &mut Vec<Change>| {
        t += 1000;
        e.observe(id, v, t, t, out, &mut st);
    };
    for i in 0..40 {
        feed(&mut e, if i % 2 == 0 { 95.0 } else { 50.0 }, &mut out);
    }
    let k = kinds(&out);
    // Opens and resolves until the detector starts (the 6th change), then nothing more.
    let started = k
        .iter()
        .position(|c| c == "flapping disk_full true")
        .unwrap();
    assert_eq!(
        k.iter().filter(|c| c.starts_with("flapping")).count(),
        1,
        "{k:?}"
    );
    assert!(k[started + 1..].is_empty(), "changes while flapping: {k:?}");
    assert!(
        k[..started]
            .iter()
            .all(|c| c.starts_with("open") || c.starts_with("resolve"))
    );
    // The last change before it was an open or a held resolve: the incident is live.
    out.clear();
    // Calm and clear: flapping stops, and the held resolve goes through once.
    for _ in 0..30 {
        feed(&mut e, 50.0, &mut out);
    }
    assert_eq!(
        kinds(&out),
        ["flapping disk_full false", "resolve disk_full"],
    );
}

#[test]
fn breach_opens_and_clear_resolves_with_hysteresis() {
    let mut e = Engine::new(rules(DISK));
    let id = e.intern("disk_used_percent", &disk("/"));
    let (mut out, mut st) = (Vec::new(), Evaluated::default());
    e.observe(id, 91.5, 1, 1, &mut out, &mut st);
    assert_eq!(kinds(&out), vec!["open disk_full: Disk / at 91.5% on db1"]);
    out.clear();
    e.observe(id, 88.0, 2, 2, &mut out, &mut st);
    assert!(out.is_empty(), "88 is above clear 85: still firing");
    e.observe(id, 80.0, 3, 3, &mut out, &mut st);
    assert_eq!(kinds(&out), vec!["resolve disk_full"]);
    assert_eq!(
        (st.samples, st.rule_evaluations, st.fired, st.resolved),
        (3, 3, 1, 1)
    );
}

#[test]
fn samples_of_other_metrics_or_unmatched_labels_cost_no_rule() {
    let mut e = Engine::new(rules(DISK));
    let boot = e.intern("disk_used_percent", &disk("/boot"));
    let cpu = e.intern("cpu_usage_percent", &Labels::new());
    let (mut out, mut st) = (Vec::new(), Evaluated::default());
    e.observe(boot, 99.0, 1, 1, &mut out, &mut st);
    e.observe(cpu, 99.0, 1, 1, &mut out, &mut st);
    assert!(out.is_empty());
    assert_eq!(st.rule_evaluations, 0);
    assert_eq!(st.samples, 2);
}

#[test]
fn interning_is_stable() {
    let mut e = Engine::new(rules(DISK));
    let a = e.intern("disk_used_percent", &disk("/"));
    let b = e.intern("disk_used_percent", &disk("/"));
    let c = e.intern("disk_used_percent", &disk("/data"));
    assert_eq!(a, b);
    assert_ne!(a, c);
    assert_eq!(e.series_count(), 2);
}

#[test]
fn late_sample_does_not_overwrite_newer_value() {
    let mut e = Engine::new(rules(DISK));
    let id = e.intern("disk_used_percent", &disk("/"));
    let (mut out, mut st) = (Vec::new(), Evaluated::default());
    e.observe(id, 50.0, 20, 20, &mut out, &mut st);
    e.observe(id, 95.0, 10, 21, &mut out, &mut st);
    assert!(out.is_empty());
    assert_eq!(e.latest()[0].value, 50.0);
}

#[test]
fn sweep_promotes_pending_after_for() {
    let src = DISK.replace("clear = 85", "for = \"5m\"");
    let mut e = Engine::new(rules(&src));
    let id = e.intern("disk_used_percent", &disk("/"));
    let (mut out, mut st) = (Vec::new(), Evaluated::default());
    e.observe(id, 95.0, 0, 0, &mut out, &mut st);
    e.tick(299_999, &mut out, &mut st);
    assert!(out.is_empty(), "not yet: for is 5m");
    e.tick(300_000, &mut out, &mut st);
    assert_eq!(kinds(&out), vec!["open disk_full: Disk / at 95% on db1"]);
    out.clear();
    e.tick(400_000, &mut out, &mut st);
    assert!(out.is_empty(), "a firing alert is no longer swept");
}

#[test]
fn reload_keeps_state_by_name_and_reevaluates_at_once() {
    let mut e = Engine::new(rules(DISK));
    let id = e.intern("disk_used_percent", &disk("/"));
    let (mut out, mut st) = (Vec::new(), Evaluated::default());
    e.observe(id, 95.0, 1, 1, &mut out, &mut st);
    assert_eq!(out.len(), 1);
    out.clear();
    // Same rule, same threshold: still firing, nothing new.
    e.replace_rules(rules(DISK), 2, &mut out);
    assert!(out.is_empty(), "{:?}", kinds(&out));
    // Threshold raised above the value: resolves on the spot, no sample needed.
    e.replace_rules(
        rules(&DISK.replace("> 90", "> 97").replace("85", "96")),
        3,
        &mut out,
    );
    assert_eq!(kinds(&out), vec!["resolve disk_full"]);
}

#[test]
fn reload_without_the_rule_resolves_its_incidents() {
    let mut e = Engine::new(rules(DISK));
    let id = e.intern("disk_used_percent", &disk("/"));
    let (mut out, mut st) = (Vec::new(), Evaluated::default());
    e.observe(id, 95.0, 1, 1, &mut out, &mut st);
    out.clear();
    e.replace_rules(Arc::new(RuleSet::default()), 2, &mut out);
    assert_eq!(kinds(&out), vec!["resolve disk_full"]);
}

#[test]
fn restored_firing_state_does_not_reopen() {
    let mut e = Engine::new(rules(DISK));
    let fp = fingerprint("disk_used_percent", &disk("/"));
    e.restore_firing("disk_full", fp, 1);
    let id = e.intern("disk_used_percent", &disk("/"));
    let (mut out, mut st) = (Vec::new(), Evaluated::default());
    e.observe(id, 95.0, 2, 2, &mut out, &mut st);
    assert!(
        out.is_empty(),
        "the incident is already open: {:?}",
        kinds(&out)
    );
    e.observe(id, 10.0, 3, 3, &mut out, &mut st);
    assert_eq!(kinds(&out), vec!["resolve disk_full"]);
}

#[test]
fn an_override_s_threshold_is_in_the_opening_change() {
    let src = r#"
[[rule]]
name = "ts"
expr = 'oracle_tablespace_used_percent > 90'
severity = "P2"
summary = "{{tablespace}} at {{value}}% (limit {{threshold}}%)"
overrides = [{ match = '{tablespace="UNDOTBS1"}', threshold = 97 }]
"#;
    let mut e = Engine::new(rules(src));
    let (mut out, mut st) = (Vec::new(), Evaluated::default());
    for t in ["USERS", "UNDOTBS1"] {
        let id = e.intern(
            "oracle_tablespace_used_percent",
            &Labels::from_pairs([("host", "db1"), ("tablespace", t)]),
        );
        e.observe(id, 98.0, 1, 1, &mut out, &mut st);
    }
    let opened: Vec<_> = out
        .iter()
        .map(|c| match c {
            Change::Open {
                summary, threshold, ..
            } => (summary.clone(), threshold.clone()),
            _ => panic!("{c:?}"),
        })
        .collect();
    assert_eq!(
        opened,
        [
            (
                "USERS at 98% (limit 90%)".to_owned(),
                Some("90 (rule)".to_owned())
            ),
            (
                "UNDOTBS1 at 98% (limit 97%)".to_owned(),
                Some(r#"97 (override {tablespace="UNDOTBS1"} at t.toml:7)"#.to_owned())
            ),
        ]
    );
}

#[test]
fn a_silent_series_opens_from_the_sweep() {
    let src = r#"
[[rule]]
name = "nodata"
expr = 'absent(oracle_up[5m])'
severity = "P2"
summary = "no data from {{host}}"
"#;
    let mut e = Engine::new(rules(src));
    let id = e.intern("oracle_up", &Labels::from_pairs([("host", "db1")]));
    let (mut out, mut st) = (Vec::new(), Evaluated::default());
    e.observe(id, 1.0, 0, 0, &mut out, &mut st);
    e.tick(299_999, &mut out, &mut st);
    assert!(out.is_empty());
    e.tick(300_000, &mut out, &mut st);
    assert_eq!(kinds(&out), ["open nodata: no data from db1"]);
    assert_eq!(st.fired, 1);
}

#[test]
fn a_forgotten_series_frees_its_id_and_keeps_its_open_incident() {
    let mut e = Engine::new(rules(DISK));
    let root = e.intern("disk_used_percent", &disk("/"));
    let other = e.intern("disk_used_percent", &disk("/data"));
    let (mut out, mut st) = (Vec::new(), Evaluated::default());
    e.observe(root, 95.0, 1, 1, &mut out, &mut st);
    assert_eq!(out.len(), 1);
    out.clear();
    assert!(e.forget(root));
    assert!(!e.forget(root), "forgotten once");
    assert_eq!(e.series_count(), 1);
    assert_eq!(e.lookup("disk_used_percent", &disk("/")), None);
    assert_eq!(e.lookup("disk_used_percent", &disk("/data")), Some(other));
    assert!(e.latest().is_empty(), "no value is left of it");
    // It comes back (its id reused): still firing, no second incident; it resolves later.
    let back = e.intern("disk_used_percent", &disk("/"));
    assert_eq!(back, root);
    e.observe(back, 96.0, 2, 2, &mut out, &mut st);
    assert!(out.is_empty(), "{:?}", kinds(&out));
    e.observe(back, 10.0, 3, 3, &mut out, &mut st);
    assert_eq!(kinds(&out), vec!["resolve disk_full"]);
}
