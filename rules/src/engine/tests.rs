//! Engine tests: time stepped by hand, every decision recorded by a sink.

use std::collections::HashMap;
use std::sync::Arc;

use patrol_proto::Labels;
use patrol_proto::model::fingerprint;

use super::*;
use crate::file::parse_rules;
use crate::level::Levels;

const S: i64 = 1_000;
const M: i64 = 60_000;

fn rules(src: &str) -> Arc<RuleSet> {
    let rules = parse_rules("t.toml", src, &Levels::default())
        .map_err(|d| d.iter().map(|d| d.to_string()).collect::<Vec<_>>())
        .unwrap();
    Arc::new(RuleSet::from_rules(rules))
}

fn rule(name: &str, expr: &str, extra: &str) -> String {
    format!(
        "[[rule]]\nname = '{name}'\nexpr = '{expr}'\nseverity = 'P2'\nsummary = '{{{{value}}}} (limit {{{{threshold}}}}) on {{{{host}}}}'\n{extra}\n"
    )
}

fn host(h: &str) -> Labels {
    Labels::from_pairs([("host", h)])
}

/// Records the transitions, as "fired rule host: summary" / "resolved rule host".
#[derive(Default)]
struct Log(Vec<String>);

impl Sink<()> for Log {
    fn event(&mut self, ev: Event<'_, ()>) {
        let who = format!("{} {}", ev.rule.name, ev.labels.get("host").unwrap_or("-"));
        match ev.transition {
            Transition::Fired => self.0.push(format!("fired {who}: {}", ev.summary())),
            Transition::Resolved => self.0.push(format!("resolved {who}")),
            _ => {}
        }
    }
}

impl Log {
    fn take(&mut self) -> Vec<String> {
        std::mem::take(&mut self.0)
    }
}

/// Feeds samples of one series at (seconds, value), sample time = arrival time.
fn feed(e: &mut Engine, log: &mut Log, id: SeriesId, samples: &[(i64, f64)]) {
    for &(t, v) in samples {
        e.observe(id, v, t * S, t * S, log);
    }
}

#[test]
fn avg_over_time_fires_on_the_window_not_on_one_sample() {
    let mut e = Engine::new(rules(&rule(
        "cpu_busy",
        "avg_over_time(cpu_usage_percent[5m]) > 90",
        "",
    )));
    let id = e.intern("cpu_usage_percent", &host("a"));
    let mut log = Log::default();
    // One spike does not fire: the 5-minute mean stays low.
    feed(
        &mut e,
        &mut log,
        id,
        &[(0, 50.0), (60, 50.0), (120, 100.0), (180, 50.0)],
    );
    assert!(log.take().is_empty());
    // Busy: the mean climbs (69.8, 79.6, 89.4, 89.2 — the spike at 120 s leaves the window at
    // 420 s) and passes 90 once the window holds only busy samples.
    feed(
        &mut e,
        &mut log,
        id,
        &[(240, 99.0), (300, 99.0), (360, 99.0), (420, 99.0)],
    );
    assert!(log.take().is_empty());
    feed(&mut e, &mut log, id, &[(480, 99.0)]);
    assert_eq!(log.take(), ["fired cpu_busy a: 99 (limit 90) on a"]);
    feed(
        &mut e,
        &mut log,
        id,
        &[(540, 10.0), (600, 10.0), (660, 10.0)],
    );
    assert_eq!(log.take(), ["resolved cpu_busy a"]);
}

#[test]
fn rate_of_a_counter_with_a_reset() {
    let mut e = Engine::new(rules(&rule("errors", "rate(errors_total[2m]) > 1", "")));
    let id = e.intern("errors_total", &host("a"));
    let mut log = Log::default();
    // +30 a minute: 0.5/s.
    feed(&mut e, &mut log, id, &[(0, 0.0), (60, 30.0), (120, 60.0)]);
    assert!(log.take().is_empty());
    // Reset (restart of the process) then +150 in a minute: 150 / 120 s = 1.25/s (the zero
    // point stops the extrapolation), not a negative rate.
    feed(
        &mut e,
        &mut log,
        id,
        &[(180, 90.0), (240, 0.0), (300, 150.0)],
    );
    let fired = log.take();
    assert_eq!(fired.len(), 1, "{fired:?}");
    assert!(fired[0].starts_with("fired errors a: "), "{fired:?}");
}

#[test]
fn nan_samples_decide_nothing_and_enter_no_window() {
    let mut e = Engine::new(rules(&rule("hot", "max_over_time(t[1m]) > 50", "")));
    let id = e.intern("t", &host("a"));
    let mut log = Log::default();
    feed(&mut e, &mut log, id, &[(0, 60.0)]);
    assert_eq!(log.take().len(), 1);
    // NaN neither resolves nor extends anything; the window then empties and 10 resolves.
    feed(&mut e, &mut log, id, &[(30, f64::NAN), (61, f64::NAN)]);
    assert!(log.take().is_empty());
    feed(&mut e, &mut log, id, &[(90, 10.0)]);
    assert_eq!(log.take(), ["resolved hot a"]);
}

#[test]
fn absent_with_a_range_fires_when_a_seen_series_stops() {
    let mut e = Engine::new(rules(&rule("nodata", "absent(up[5m])", "")));
    let a = e.intern("up", &host("a"));
    let b = e.intern("up", &host("b"));
    let mut log = Log::default();
    feed(&mut e, &mut log, a, &[(0, 1.0)]);
    feed(&mut e, &mut log, b, &[(0, 1.0)]);
    // b keeps reporting every minute, a stops.
    for t in 1..=6 {
        feed(&mut e, &mut log, b, &[(t * 60, 1.0)]);
        e.tick(t * M, &mut log);
    }
    assert_eq!(log.take(), ["fired nodata a: 1 (limit ) on a"]);
    // Exactly at 5 minutes, not before: replay with ticks every second around the edge.
    let mut e2 = Engine::new(rules(&rule("nodata", "absent(up[5m])", "")));
    let a2 = e2.intern("up", &host("a"));
    feed(&mut e2, &mut log, a2, &[(10, 1.0)]);
    e2.tick(309 * S, &mut log);
    assert!(log.take().is_empty());
    e2.tick(310 * S, &mut log);
    assert_eq!(log.take().len(), 1);
    // a reports again: resolves at once.
    feed(&mut e, &mut log, a, &[(400, 1.0)]);
    assert_eq!(log.take(), ["resolved nodata a"]);
}

#[test]
fn absent_timers_are_not_a_scan_of_every_series() {
    let mut e = Engine::new(rules(&rule("nodata", "absent(up[5m])", "")));
    let mut log = Log::default();
    let ids: Vec<_> = (0..1000)
        .map(|i| e.intern("up", &host(&format!("h{i}"))))
        .collect();
    for &id in &ids {
        e.observe(id, 1.0, 0, 0, &mut log);
    }
    // A tick before any deadline wakes nothing.
    assert_eq!(e.tick(M, &mut log).evaluations, 0);
    // At the deadline, each series is woken once.
    assert_eq!(e.tick(5 * M, &mut log).evaluations, 1000);
    assert_eq!(log.take().len(), 1000);
    assert_eq!(
        e.tick(10 * M, &mut log).evaluations,
        0,
        "no timer until they report"
    );
}

#[test]
fn absent_without_range_fires_once_after_the_grace_if_nothing_appeared() {
    let src = rule(
        "no_oracle",
        r#"absent(oracle_up{db="ORCL"})"#,
        "grace = '10m'",
    );
    let mut e = Engine::new(rules(&src));
    let mut log = Log::default();
    e.tick(0, &mut log);
    e.tick(9 * M, &mut log);
    assert!(log.take().is_empty());
    e.tick(10 * M, &mut log);
    assert_eq!(log.take(), ["fired no_oracle -: 1 (limit ) on "]);
    assert_eq!(
        e.alerts("no_oracle")[0].0,
        Labels::from_pairs([("db", "ORCL")])
    );
    // Another database appearing changes nothing; ORCL appearing resolves.
    let other = e.intern("oracle_up", &Labels::from_pairs([("db", "TEST")]));
    feed(&mut e, &mut log, other, &[(700, 1.0)]);
    assert!(log.take().is_empty());
    let orcl = e.intern(
        "oracle_up",
        &Labels::from_pairs([("db", "ORCL"), ("host", "x")]),
    );
    feed(&mut e, &mut log, orcl, &[(710, 1.0)]);
    assert_eq!(log.take(), ["resolved no_oracle -"]);
    e.tick(60 * M, &mut log);
    assert!(
        log.take().is_empty(),
        "it appeared once: absent(m) stays clear"
    );
}

#[test]
fn absent_without_range_stays_quiet_when_the_series_comes_in_time() {
    let mut e = Engine::new(rules(&rule("no_up", "absent(up)", "")));
    let mut log = Log::default();
    e.tick(0, &mut log);
    let id = e.intern("up", &host("a"));
    feed(&mut e, &mut log, id, &[(30, 1.0)]);
    e.tick(3600 * S, &mut log);
    assert!(log.take().is_empty());
}

#[test]
fn arithmetic_joins_metrics_of_the_same_labels() {
    let src = rule("disk", "disk_used_bytes / disk_total_bytes > 0.9", "");
    let mut e = Engine::new(rules(&src));
    let l = Labels::from_pairs([("host", "a"), ("mount", "/")]);
    let other = Labels::from_pairs([("host", "a"), ("mount", "/var")]);
    let used = e.intern("disk_used_bytes", &l);
    let total = e.intern("disk_total_bytes", &l);
    let used_var = e.intern("disk_used_bytes", &other);
    let mut log = Log::default();
    feed(&mut e, &mut log, used, &[(0, 95.0)]);
    assert!(log.take().is_empty(), "the total is not known yet");
    // /var's total never arrives: it never fires, whatever its used bytes.
    feed(&mut e, &mut log, used_var, &[(0, 1e12)]);
    feed(&mut e, &mut log, total, &[(1, 100.0)]);
    assert_eq!(log.take(), ["fired disk a: 0.95 (limit 0.9) on a"]);
    assert_eq!(e.instance_count(), 2);
    // The incident's identity is the first metric's series.
    let alerts = e.alerts("disk");
    assert!(alerts.iter().any(|(lab, s)| lab == &l && s.is_firing()));
    feed(&mut e, &mut log, total, &[(2, 200.0)]);
    assert_eq!(log.take(), ["resolved disk a"]);
}

#[test]
fn and_unless_over_one_series() {
    let src = rule(
        "busy",
        "cpu_usage_percent > 90 and avg_over_time(cpu_usage_percent[5m]) > 80 unless maintenance_mode == 1",
        "",
    );
    let mut e = Engine::new(rules(&src));
    let cpu = e.intern("cpu_usage_percent", &host("a"));
    let mm = e.intern("maintenance_mode", &host("a"));
    let mut log = Log::default();
    feed(&mut e, &mut log, cpu, &[(0, 95.0)]);
    assert_eq!(
        log.take().len(),
        1,
        "no maintenance_mode series: unless does not hold it back"
    );
    feed(&mut e, &mut log, mm, &[(10, 1.0)]);
    assert_eq!(log.take(), ["resolved busy a"]);
    feed(&mut e, &mut log, mm, &[(20, 0.0)]);
    assert_eq!(log.take().len(), 1);
    // The instant value drops under 90: and no longer holds.
    feed(&mut e, &mut log, cpu, &[(30, 85.0)]);
    assert_eq!(log.take(), ["resolved busy a"]);
}

#[test]
fn overrides_change_threshold_and_for_per_label_most_specific_first() {
    let src = r#"
[[rule]]
name = "ts"
expr = 'oracle_tablespace_used_percent > 90'
for = "0s"
severity = "P2"
summary = "{{tablespace}} at {{value}}% (limit {{threshold}}%)"
overrides = [
  { match = '{tablespace=~"UNDO.*"}', threshold = 95 },
  { match = '{tablespace="UNDOTBS1"}', threshold = 97 },
  { match = '{host=~"batch-.*"}', threshold = 98, for = "30m" },
]
"#;
    let mut e = Engine::new(rules(src));
    let ts =
        |h: &str, t: &str| Labels::from_pairs([("host", h), ("db", "ORCL"), ("tablespace", t)]);
    let mut log = Log::default();
    let users = e.intern("oracle_tablespace_used_percent", &ts("db1", "USERS"));
    let undo1 = e.intern("oracle_tablespace_used_percent", &ts("db1", "UNDOTBS1"));
    let undo2 = e.intern("oracle_tablespace_used_percent", &ts("db1", "UNDOTBS2"));
    let batch = e.intern("oracle_tablespace_used_percent", &ts("batch-7", "USERS"));
    for id in [users, undo1, undo2, batch] {
        feed(&mut e, &mut log, id, &[(0, 96.0)]);
    }
    // USERS: rule's 90. UNDOTBS2: the regex override's 95. UNDOTBS1: its equality override's
    // 97 wins over the regex one. batch: 98 and for 30m.
    assert_eq!(
        log.take(),
        [
            "fired ts db1: USERS at 96% (limit 90%)",
            "fired ts db1: UNDOTBS2 at 96% (limit 95%)"
        ]
    );
    feed(&mut e, &mut log, batch, &[(60, 99.0)]);
    e.tick(30 * M, &mut log);
    assert!(log.take().is_empty(), "pending since 60 s");
    e.tick(31 * M, &mut log);
    assert_eq!(log.take(), ["fired ts batch-7: USERS at 99% (limit 98%)"]);
}

#[test]
fn reload_keeps_windows_and_state_and_reevaluates() {
    let src = rule("cpu", "avg_over_time(cpu_usage_percent[10m]) > 80", "");
    let mut e = Engine::new(rules(&src));
    let id = e.intern("cpu_usage_percent", &host("a"));
    let mut log = Log::default();
    feed(&mut e, &mut log, id, &[(0, 70.0), (60, 70.0), (120, 76.0)]);
    assert!(log.take().is_empty());
    // Threshold lowered: the same window (mean 72) now breaches, at once.
    e.replace_rules(rules(&src.replace("> 80", "> 70")), 130 * S, &mut log);
    assert_eq!(log.take(), ["fired cpu a: 72 (limit 70) on a"]);
    // Same rule again: nothing new.
    e.replace_rules(rules(&src.replace("> 80", "> 70")), 140 * S, &mut log);
    assert!(log.take().is_empty());
    // Window changed: the new window starts empty, so nothing can be said yet; still firing.
    e.replace_rules(
        rules(&src.replace("[10m]) > 80", "[5m]) > 70")),
        150 * S,
        &mut log,
    );
    assert!(log.take().is_empty());
    assert!(e.alerts("cpu")[0].1.is_firing());
    // The rule removed: its incident resolves.
    e.replace_rules(Arc::new(RuleSet::default()), 160 * S, &mut log);
    assert_eq!(log.take(), ["resolved cpu a"]);
}

#[test]
fn window_buckets_go_back_when_windows_do() {
    let src = rule("cpu", "avg_over_time(cpu_usage_percent[10m]) > 80", "")
        + &rule(
            "m",
            "max_over_time(cpu_usage_percent[5m]) > 99 and rate(cpu_usage_percent[5m]) > 1",
            "",
        );
    let mut e = Engine::new(rules(&src));
    let a = e.intern("cpu_usage_percent", &host("a"));
    let b = e.intern("cpu_usage_percent", &host("b"));
    assert_eq!(e.rings.len(), 6, "three windows per series");
    let mut log = Log::default();
    feed(&mut e, &mut log, a, &[(0, 70.0), (60, 70.0)]);
    // The same rules again keep every window; a changed range replaces one per series.
    e.replace_rules(rules(&src), 70 * S, &mut log);
    assert_eq!(e.rings.len(), 6);
    e.replace_rules(rules(&src.replace("[10m]", "[15m]")), 80 * S, &mut log);
    assert_eq!(e.rings.len(), 6);
    assert!(e.forget(b));
    assert_eq!(e.rings.len(), 3);
    // A new series takes the freed buckets, starting empty.
    let c = e.intern("cpu_usage_percent", &host("c"));
    assert_eq!(e.rings.len(), 6);
    feed(&mut e, &mut log, c, &[(90, 85.0)]);
    assert_eq!(log.take(), ["fired cpu c: 85 (limit 80) on c"]);
    e.replace_rules(Arc::new(RuleSet::default()), 100 * S, &mut log);
    assert!(e.rings.is_empty());
}

#[test]
fn a_rule_added_by_reload_is_evaluated_on_the_latest_values() {
    let mut e = Engine::new(rules(&rule("a", "m > 1", "")));
    let id = e.intern("n", &host("h"));
    let mut log = Log::default();
    feed(&mut e, &mut log, id, &[(0, 5.0)]);
    e.replace_rules(rules(&rule("b", "n > 1", "")), 10 * S, &mut log);
    assert_eq!(log.take(), ["fired b h: 5 (limit 1) on h"]);
}

#[test]
fn pending_survives_a_reload_and_is_still_swept() {
    let src = rule("m", "m > 1", "for = '5m'");
    let mut e = Engine::new(rules(&src));
    let id = e.intern("m", &host("h"));
    let mut log = Log::default();
    feed(&mut e, &mut log, id, &[(0, 5.0)]);
    e.replace_rules(rules(&src), 10 * S, &mut log);
    e.tick(5 * M, &mut log);
    assert_eq!(log.take(), ["fired m h: 5 (limit 1) on h"]);
}

#[test]
fn restored_firing_state_does_not_reopen() {
    let mut e = Engine::new(rules(&rule("disk", "disk_used_percent > 90", "")));
    let l = Labels::from_pairs([("host", "a"), ("mount", "/")]);
    e.restore_firing("disk", fingerprint("disk_used_percent", &l), 1);
    let id = e.intern("disk_used_percent", &l);
    let mut log = Log::default();
    feed(&mut e, &mut log, id, &[(2, 95.0)]);
    assert!(log.take().is_empty());
    feed(&mut e, &mut log, id, &[(3, 10.0)]);
    assert_eq!(log.take(), ["resolved disk a"]);
}

/// History in memory, for the warm-up.
#[derive(Default)]
struct Memory(HashMap<(String, Labels), Vec<(i64, f64)>>);

impl WindowSource for Memory {
    fn series(&self, metric: &str, from: i64, to: i64) -> Vec<Labels> {
        self.0
            .iter()
            .filter(|((m, _), s)| m == metric && s.iter().any(|(t, _)| *t >= from && *t <= to))
            .map(|((_, l), _)| l.clone())
            .collect()
    }

    fn samples(&self, metric: &str, labels: &Labels, from: i64, to: i64) -> Vec<(i64, f64)> {
        self.0
            .get(&(metric.to_owned(), labels.clone()))
            .map(|s| {
                s.iter()
                    .copied()
                    .filter(|(t, _)| *t >= from && *t <= to)
                    .collect()
            })
            .unwrap_or_default()
    }
}

#[test]
fn a_restart_mid_window_neither_opens_nor_resolves() {
    let src = rule("low", "avg_over_time(free_percent[10m]) < 20", "")
        + &rule("high", "avg_over_time(load[10m]) > 50", "");
    let a = host("a");
    let mut history = Memory::default();
    // Before the restart: free at 40 (mean well above 20), load at 60 (firing).
    history.0.insert(
        ("free_percent".into(), a.clone()),
        (0..8).map(|i| (i * M, 40.0)).collect(),
    );
    history.0.insert(
        ("load".into(), a.clone()),
        (0..8).map(|i| (i * M, 60.0)).collect(),
    );
    let restart = 8 * M;
    let after = |warm: bool| {
        let mut e: Engine = Engine::new(rules(&src));
        e.restore_firing("high", fingerprint("load", &a), 0);
        if warm {
            e.warm_up(&history, &[("high".into(), a.clone())], restart);
        }
        let free = e.intern("free_percent", &a);
        let load = e.intern("load", &a);
        let mut log = Log::default();
        // The first samples after the restart: a dip and a drop.
        e.observe(free, 5.0, restart + 30 * S, restart + 30 * S, &mut log);
        e.observe(load, 10.0, restart + 30 * S, restart + 30 * S, &mut log);
        log.take()
    };
    assert!(after(true).is_empty(), "{:?}", after(true));
    // Without the history the same samples open and resolve: the test can fail.
    assert_eq!(
        after(false),
        ["fired low a: 5 (limit 20) on a", "resolved high a"]
    );
}

#[test]
fn warm_up_restarts_silences_and_knows_what_appeared() {
    let src = rule("nodata", "absent(up[5m])", "") + &rule("never", "absent(up)", "");
    let mut history = Memory::default();
    history
        .0
        .insert(("up".into(), host("a")), vec![(16 * M, 1.0)]);
    let mut e: Engine = Engine::new(rules(&src));
    let restart = 20 * M;
    assert_eq!(e.warm_up(&history, &[], restart), 1);
    let mut log = Log::default();
    e.tick(restart, &mut log);
    e.tick(restart + 4 * M, &mut log);
    assert!(
        log.take().is_empty(),
        "a silent series gets a whole range after a restart"
    );
    e.tick(restart + 5 * M, &mut log);
    assert_eq!(log.take(), ["fired nodata a: 1 (limit ) on a"]);
    e.tick(restart + 60 * M, &mut log);
    assert!(
        log.take().is_empty(),
        "absent(up): the history shows it appeared"
    );
}

#[test]
fn state_counts_per_rule() {
    let src = rule("a", "m > 1", "") + &rule("b", "m > 10", "for = '1m'");
    let mut e = Engine::new(rules(&src));
    let mut log = Log::default();
    for (h, v) in [("x", 0.0), ("y", 5.0), ("z", 50.0)] {
        let id = e.intern("m", &host(h));
        feed(&mut e, &mut log, id, &[(0, v)]);
    }
    let c = e.state_counts();
    assert_eq!((c[0].inactive, c[0].pending, c[0].firing), (1, 0, 2));
    assert_eq!((c[1].inactive, c[1].pending, c[1].firing), (2, 1, 0));
}

#[test]
fn forgetting_series_retires_what_only_they_fed_and_keeps_firing_incidents() {
    let src = rule("disk", "disk_used_bytes / disk_total_bytes > 0.9", "");
    let mut e = Engine::new(rules(&src));
    let l = Labels::from_pairs([("host", "a"), ("mount", "/")]);
    let used = e.intern("disk_used_bytes", &l);
    let total = e.intern("disk_total_bytes", &l);
    let mut log = Log::default();
    feed(&mut e, &mut log, used, &[(0, 95.0)]);
    feed(&mut e, &mut log, total, &[(1, 100.0)]);
    assert_eq!(log.take(), ["fired disk a: 0.95 (limit 0.9) on a"]);
    // One side of the join gone: the instance lives on, with its labels.
    assert!(e.forget(used));
    assert_eq!((e.series_count(), e.instance_count()), (1, 1));
    assert!(
        e.alerts("disk")
            .iter()
            .any(|(lab, s)| lab == &l && s.is_firing())
    );
    // Both gone: nothing is left but the firing state, kept for when they come back.
    assert!(e.forget(total));
    assert_eq!((e.series_count(), e.instance_count()), (0, 0));
    assert!(e.alerts("disk").is_empty());
    let used = e.intern("disk_used_bytes", &l);
    let total = e.intern("disk_total_bytes", &l);
    assert_eq!((e.series_count(), e.instance_count()), (2, 1), "ids reused");
    feed(&mut e, &mut log, used, &[(10, 96.0)]);
    feed(&mut e, &mut log, total, &[(11, 100.0)]);
    assert!(log.take().is_empty(), "the open incident continues");
    feed(&mut e, &mut log, used, &[(12, 10.0)]);
    assert_eq!(log.take(), ["resolved disk a"]);
}

#[test]
fn a_forgotten_series_with_a_timer_in_the_wheel_wakes_nothing() {
    let mut e = Engine::new(rules(&rule("nodata", "absent(up[5m])", "")));
    let mut log = Log::default();
    let a = e.intern("up", &host("a"));
    feed(&mut e, &mut log, a, &[(0, 1.0)]);
    assert!(e.forget(a));
    assert_eq!(e.instance_count(), 1, "its slot waits for its timer");
    assert_eq!(e.tick(6 * M, &mut log).evaluations, 0);
    assert!(log.take().is_empty(), "a forgotten series is not absent");
    assert_eq!(e.instance_count(), 0);
    // The freed slots serve the next series, which is watched as usual.
    let b = e.intern("up", &host("b"));
    assert_eq!(b, a);
    feed(&mut e, &mut log, b, &[(400, 1.0)]);
    e.tick(701 * S, &mut log);
    assert_eq!(log.take(), ["fired nodata b: 1 (limit ) on b"]);
}
