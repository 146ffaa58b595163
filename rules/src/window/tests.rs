//! Window functions against hand-computed values, and the incremental window against a
//! recomputation from the raw samples.

use proptest::prelude::*;

use super::*;

const S: i64 = 1_000;

fn window(rings: &mut Rings, func: Func, range_s: i64, samples: &[(i64, f64)]) -> Window {
    let mut w = Window::new(func, range_s * S, rings);
    for &(t, v) in samples {
        w.insert(rings, t * S, v);
    }
    w
}

fn at(func: Func, range_s: i64, samples: &[(i64, f64)], t_s: i64) -> Option<f64> {
    let mut rings = Rings::default();
    window(&mut rings, func, range_s, samples).value(&mut rings, t_s * S)
}

#[test]
fn aggregates_over_time() {
    let s = [(0, 4.0), (60, 8.0), (120, 3.0), (180, 9.0)];
    assert_eq!(at(Func::AvgOverTime, 300, &s, 180), Some(6.0));
    assert_eq!(at(Func::SumOverTime, 300, &s, 180), Some(24.0));
    assert_eq!(at(Func::CountOverTime, 300, &s, 180), Some(4.0));
    assert_eq!(at(Func::MinOverTime, 300, &s, 180), Some(3.0));
    assert_eq!(at(Func::MaxOverTime, 300, &s, 180), Some(9.0));
    assert_eq!(at(Func::LastOverTime, 300, &s, 180), Some(9.0));
    // Two minutes later the window (60, 300] has lost the first sample only.
    assert_eq!(at(Func::AvgOverTime, 300, &s, 300), Some(20.0 / 3.0));
    assert_eq!(at(Func::MinOverTime, 120, &s, 240), Some(9.0));
}

#[test]
fn the_window_is_open_at_its_start_and_closed_at_its_end() {
    // A 5-minute window at 300 s holds (0, 300]: the sample at 0 is out, the one at 300 in.
    let s = [(0, 1.0), (1, 2.0), (300, 3.0)];
    assert_eq!(at(Func::CountOverTime, 300, &s, 300), Some(2.0));
    assert_eq!(at(Func::CountOverTime, 300, &s, 301), Some(1.0));
}

#[test]
fn an_empty_window_has_no_value() {
    let s = [(0, 5.0)];
    for f in Func::ALL {
        assert_eq!(at(f, 60, &s, 61), None, "{f:?} after the only sample left");
        assert_eq!(at(f, 60, &[], 10), None, "{f:?} with no sample at all");
    }
    // A gap longer than the window empties it; the next sample starts afresh.
    let mut r = Rings::default();
    let mut w = window(&mut r, Func::AvgOverTime, 60, &[(0, 10.0), (30, 20.0)]);
    assert_eq!(w.value(&mut r, 200 * S), None);
    w.insert(&mut r, 210 * S, 7.0);
    assert_eq!(w.value(&mut r, 210 * S), Some(7.0));
}

#[test]
fn increase_and_rate_handle_a_counter_reset() {
    // 0, 10, 20, reset to 5, 15: the increase is 15 - 0 + 20 = 35. The first sample is at the
    // counter's zero point, so nothing is extrapolated before it.
    let s = [(0, 0.0), (60, 10.0), (120, 20.0), (180, 5.0), (240, 15.0)];
    assert_eq!(at(Func::Increase, 300, &s, 240), Some(35.0));
    assert_eq!(at(Func::Rate, 300, &s, 240), Some(35.0 / 300.0));
    // delta ignores resets: 15 - 0, extrapolated like a gauge (60 s to the start < 66 s).
    assert_eq!(at(Func::Delta, 300, &s, 240), Some(15.0 * 300.0 / 240.0));
}

#[test]
fn increase_extrapolates_to_the_window_edges_as_prometheus() {
    // 100, 110, 120 at 0, 60, 120 s; window (-180, 120]. 180 s to the start is more than
    // 1.1 intervals, so half an interval (30 s) is added; the zero point (600 s back) is
    // further. 20 × (120 + 30) / 120 = 25.
    let s = [(0, 100.0), (60, 110.0), (120, 120.0)];
    assert_eq!(at(Func::Increase, 300, &s, 120), Some(25.0));
    assert_eq!(at(Func::Rate, 300, &s, 120), Some(25.0 / 300.0));
    // Evaluated 30 s after the last sample: 30 s to the end is extrapolated too.
    assert_eq!(at(Func::Increase, 300, &s, 150), Some(20.0 * 180.0 / 120.0));
}

#[test]
fn delta_of_a_gauge() {
    // 10 then 5 over 60 s in a 2-minute window: 60 s to the start (< 66 s) is extrapolated:
    // -5 × 120 / 60.
    assert_eq!(
        at(Func::Delta, 120, &[(0, 10.0), (60, 5.0)], 60),
        Some(-10.0)
    );
    assert_eq!(at(Func::Delta, 120, &[(60, 5.0)], 60), None, "one sample");
}

#[test]
fn changes_counts_value_changes_inside_the_window() {
    let s = [
        (0, 1.0),
        (10, 1.0),
        (20, 2.0),
        (30, 2.0),
        (40, 1.0),
        (50, 1.0),
    ];
    assert_eq!(at(Func::Changes, 60, &s, 50), Some(2.0));
    // At 75 s the window (15, 75] starts at 20: the change into 20 is not inside it.
    assert_eq!(at(Func::Changes, 60, &s, 75), Some(1.0));
    assert_eq!(at(Func::Changes, 60, &[(0, 3.0)], 0), Some(0.0));
}

#[test]
fn the_start_is_exact_to_one_bucket_between_bucket_edges() {
    // 20 buckets of 3 s for a 60 s window. At t = 61 s the newest bucket ends at 63 s, so the
    // window is (3, 61]: the sample at 2 s is out although 61 - 60 = 1 < 2.
    let s = [(2, 1.0), (4, 1.0)];
    assert_eq!(at(Func::CountOverTime, 60, &s, 61), Some(1.0));
    assert_eq!(at(Func::CountOverTime, 60, &s, 60), Some(2.0));
}

/// Prometheus's algorithms, straight from the raw samples of the window.
fn reference(func: Func, range_ms: i64, samples: &[(i64, f64)], t: i64) -> Option<f64> {
    let width = (range_ms + B - 1) / B;
    let h = t.div_euclid(width) + i64::from(t.rem_euclid(width) != 0);
    let start = (h - B) * width;
    let w: Vec<(i64, f64)> = samples
        .iter()
        .copied()
        .filter(|&(ts, _)| ts > start && ts <= t)
        .collect();
    let vals = || w.iter().map(|s| s.1);
    if w.is_empty() {
        return None;
    }
    let n = w.len() as f64;
    Some(match func {
        Func::SumOverTime => vals().sum(),
        Func::CountOverTime => n,
        Func::AvgOverTime => vals().sum::<f64>() / n,
        Func::MinOverTime => vals().fold(f64::INFINITY, f64::min),
        Func::MaxOverTime => vals().fold(f64::NEG_INFINITY, f64::max),
        Func::LastOverTime => w[w.len() - 1].1,
        Func::Changes => w.windows(2).filter(|p| p[0].1 != p[1].1).count() as f64,
        Func::Rate | Func::Increase | Func::Delta => {
            let counter = func != Func::Delta;
            let mut correction = 0.0;
            let mut last = 0.0;
            for &(_, v) in &w {
                if v < last {
                    correction += last;
                }
                last = v;
            }
            return extrapolated_rate(
                extrapolate::Span {
                    first: w[0],
                    last: w[w.len() - 1],
                    samples: w.len() as u64,
                    correction: if counter { correction } else { 0.0 },
                    range_start: t - range_ms,
                    range_end: t,
                },
                counter,
                (func == Func::Rate).then_some(range_ms),
            );
        }
    })
}

fn close(a: Option<f64>, b: Option<f64>, scale: f64) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => a == b || (a - b).abs() <= 1e-9 * scale.max(1.0),
        _ => false,
    }
}

#[derive(Debug, Clone)]
enum Step {
    /// A sample `dt` ms after the previous event.
    Sample(i64, f64),
    /// A query `dt` ms after the previous event.
    Query(i64),
}

fn steps() -> impl Strategy<Value = Vec<Step>> {
    let value = prop_oneof![
        4 => -1e3f64..1e3,
        // Counters: mostly rising integers, sometimes reset.
        4 => (0u32..2000).prop_map(f64::from),
        1 => Just(0.0),
    ];
    let step = prop_oneof![
        5 => (0i64..40_000, value).prop_map(|(dt, v)| Step::Sample(dt, v)),
        2 => (0i64..90_000).prop_map(Step::Query),
    ];
    proptest::collection::vec(step, 1..80)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    /// The incremental window equals a recomputation from scratch at every query, whatever
    /// the gaps, resets and query times.
    #[test]
    fn incremental_equals_recomputation(
        func in proptest::sample::select(Func::ALL.to_vec()),
        range_ms in prop_oneof![Just(60_000i64), Just(300_000), 1_000i64..400_000],
        steps in steps(),
    ) {
        // Other windows share the rings, so a window reading or writing outside its own
        // ring would show.
        let mut rings = Rings::default();
        let mut others: Vec<Window> = Func::ALL.iter().map(|&f| Window::new(f, range_ms, &mut rings)).collect();
        let mut w = Window::new(func, range_ms, &mut rings);
        let mut samples = Vec::new();
        let mut now = 1_700_000_000_000i64;
        for step in steps {
            match step {
                Step::Sample(dt, v) => {
                    now += dt;
                    w.insert(&mut rings, now, v);
                    for o in &mut others {
                        o.insert(&mut rings, now, -v);
                    }
                    samples.push((now, v));
                }
                Step::Query(dt) => {
                    now += dt;
                    let got = w.value(&mut rings, now);
                    let want = reference(func, range_ms, &samples, now);
                    let scale: f64 = samples.iter().map(|s| s.1.abs()).sum();
                    prop_assert!(close(got, want, scale),
                        "{func:?} over {range_ms} ms at {now}: got {got:?}, want {want:?}");
                }
            }
        }
        let got = w.value(&mut rings, now);
        let want = reference(func, range_ms, &samples, now);
        let scale: f64 = samples.iter().map(|s| s.1.abs()).sum();
        prop_assert!(close(got, want, scale), "{func:?} at the end: got {got:?}, want {want:?}");
    }
}
