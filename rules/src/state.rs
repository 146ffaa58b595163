//! The alert state machine per (rule, series): pure functions of the previous state, the value
//! and the time, so tests step time with no clocks or sleeps.

use crate::program::Verdict;

/// Where one (rule, series) stands. The transition table (`breach` = the expression holds;
/// `past clear` = the value is strictly beyond `clear` on the resolving side, or, without
/// `clear`, simply no breach; *undecided* = the expression cannot be evaluated: a NaN sample, a
/// series of the expression not seen yet, an empty window):
///
/// | state              | input                                   | next                 | returns     |
/// |--------------------|-----------------------------------------|----------------------|-------------|
/// | any                | `step`, undecided                       | unchanged            | `None`      |
/// | `Inactive`         | `step`, breach, `for` = 0               | `Firing{since: now}` | `Fired`     |
/// | `Inactive`         | `step`, breach, `for` > 0               | `Pending{since: now}`| `Pending`   |
/// | `Inactive`         | `step`, no breach                       | `Inactive`           | `None`      |
/// | `Pending{since}`   | `step`, breach, `now - since >= for`    | `Firing{since}`      | `Fired`     |
/// | `Pending{since}`   | `step`, breach, `for` not elapsed       | unchanged            | `None`      |
/// | `Pending{since}`   | `step`, no breach                       | `Inactive`           | `Cancelled` |
/// | `Pending{since}`   | `tick`, `now - since >= for`            | `Firing{since}`      | `Fired`     |
/// | `Firing{since}`    | `step`, past clear                      | `Inactive`           | `Resolved`  |
/// | `Firing{since}`    | `step`, not past clear (hysteresis)     | unchanged            | `None`      |
/// | anything else      | `tick`                                  | unchanged            | `None`      |
///
/// `since_ms` of a firing alert is when the breach began (the pending start), so an incident's
/// start time does not depend on `for`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum AlertState {
    /// No breach seen (or the last one ended).
    #[default]
    Inactive,
    /// Breaching since `since_ms`, `for` not yet elapsed.
    Pending {
        /// When the breach began, ms since the Unix epoch.
        since_ms: i64,
    },
    /// Firing: an incident is open.
    Firing {
        /// When the breach began, ms since the Unix epoch.
        since_ms: i64,
    },
}

/// What a `step` or `tick` changed, so the caller can log why and open or resolve incidents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transition {
    /// Nothing changed.
    None,
    /// A breach began; the alert waits for `for` to elapse.
    Pending,
    /// The alert fired: open an incident.
    Fired,
    /// A firing alert's condition cleared: resolve the incident.
    Resolved,
    /// A pending breach ended before `for` elapsed; nothing was ever reported.
    Cancelled,
}

impl AlertState {
    /// Feeds one evaluation at `now_ms` with the `for` of the series' rule (or override).
    ///
    /// `None` (the condition could not be decided: a NaN sample, a missing series, an empty
    /// window) changes nothing: a probe glitch must neither resolve a firing alert nor cancel a
    /// pending one.
    #[inline]
    pub fn step(&mut self, verdict: Option<Verdict>, for_ms: i64, now_ms: i64) -> Transition {
        let Some(v) = verdict else {
            return Transition::None;
        };
        match *self {
            AlertState::Inactive if v.breach => {
                if for_ms <= 0 {
                    *self = AlertState::Firing { since_ms: now_ms };
                    Transition::Fired
                } else {
                    *self = AlertState::Pending { since_ms: now_ms };
                    Transition::Pending
                }
            }
            AlertState::Inactive => Transition::None,
            AlertState::Pending { .. } if v.breach => self.tick(for_ms, now_ms),
            AlertState::Pending { .. } => {
                *self = AlertState::Inactive;
                Transition::Cancelled
            }
            AlertState::Firing { .. } if v.past_clear => {
                *self = AlertState::Inactive;
                Transition::Resolved
            }
            AlertState::Firing { .. } => Transition::None,
        }
    }

    /// Promotes a `Pending` alert whose `for` has elapsed at `now_ms` to `Firing` without a new
    /// sample; the collector calls it from a periodic sweep. Safe because `Pending` only
    /// persists while every evaluation still breaches.
    pub fn tick(&mut self, for_ms: i64, now_ms: i64) -> Transition {
        if let AlertState::Pending { since_ms } = *self
            && now_ms.saturating_sub(since_ms) >= for_ms
        {
            *self = AlertState::Firing { since_ms };
            return Transition::Fired;
        }
        Transition::None
    }

    /// Whether an incident is open.
    pub fn is_firing(&self) -> bool {
        matches!(self, AlertState::Firing { .. })
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::expr::parse;
    use crate::program::Program;

    /// A single-series rule: its program, `for` and `clear`, stepped with plain values.
    struct R {
        program: Program,
        for_ms: i64,
        clear: Option<f64>,
    }

    fn rule(expr: &str, for_s: u64, clear: Option<f64>) -> R {
        R {
            program: Program::compile(&parse(expr).unwrap()).unwrap(),
            for_ms: (for_s * 1000) as i64,
            clear,
        }
    }

    impl R {
        fn verdict(&self, value: f64) -> Option<Verdict> {
            self.program.verdict(None, self.clear, &mut |_| Some(value))
        }

        fn step(&self, s: &mut AlertState, value: f64, now: i64) -> Transition {
            s.step(self.verdict(value), self.for_ms, now)
        }

        fn tick(&self, s: &mut AlertState, now: i64) -> Transition {
            s.tick(self.for_ms, now)
        }

        fn is_breach(&self, value: f64) -> bool {
            self.verdict(value).is_some_and(|v| v.breach)
        }
    }

    #[test]
    fn pending_fires_after_for_elapses() {
        let r = rule("m > 90", 300, None);
        let mut s = AlertState::Inactive;
        assert_eq!(r.step(&mut s, 95.0, 1_000), Transition::Pending);
        assert_eq!(s, AlertState::Pending { since_ms: 1_000 });
        assert_eq!(r.step(&mut s, 96.0, 300_999), Transition::None);
        assert_eq!(r.step(&mut s, 96.0, 301_000), Transition::Fired);
        assert_eq!(s, AlertState::Firing { since_ms: 1_000 });
        assert_eq!(r.step(&mut s, 97.0, 400_000), Transition::None);
    }

    #[test]
    fn zero_for_fires_immediately() {
        let r = rule("m > 40", 0, None);
        let mut s = AlertState::Inactive;
        assert_eq!(r.step(&mut s, 41.0, 5), Transition::Fired);
        assert_eq!(s, AlertState::Firing { since_ms: 5 });
    }

    #[test]
    fn no_breach_stays_inactive() {
        let r = rule("m > 40", 0, None);
        let mut s = AlertState::Inactive;
        assert_eq!(r.step(&mut s, 40.0, 5), Transition::None);
        assert_eq!(s, AlertState::Inactive);
    }

    #[test]
    fn pending_cancelled_when_breach_ends() {
        let r = rule("m > 90", 300, None);
        let mut s = AlertState::Inactive;
        r.step(&mut s, 95.0, 0);
        assert_eq!(r.step(&mut s, 50.0, 10_000), Transition::Cancelled);
        assert_eq!(s, AlertState::Inactive);
        // A new breach starts a new pending period.
        assert_eq!(r.step(&mut s, 95.0, 20_000), Transition::Pending);
        assert_eq!(s, AlertState::Pending { since_ms: 20_000 });
    }

    #[test]
    fn clear_hysteresis_keeps_firing_until_below_clear() {
        let r = rule("m > 90", 0, Some(80.0));
        let mut s = AlertState::Inactive;
        assert_eq!(r.step(&mut s, 95.0, 0), Transition::Fired);
        assert_eq!(r.step(&mut s, 85.0, 1), Transition::None);
        assert_eq!(r.step(&mut s, 80.0, 2), Transition::None);
        assert!(matches!(s, AlertState::Firing { .. }));
        assert_eq!(r.step(&mut s, 79.9, 3), Transition::Resolved);
        assert_eq!(s, AlertState::Inactive);
    }

    #[test]
    fn clear_hysteresis_works_for_below_thresholds() {
        let r = rule("free_percent < 10", 0, Some(15.0));
        let mut s = AlertState::Inactive;
        assert_eq!(r.step(&mut s, 5.0, 0), Transition::Fired);
        assert_eq!(r.step(&mut s, 12.0, 1), Transition::None);
        assert_eq!(r.step(&mut s, 15.5, 2), Transition::Resolved);
    }

    #[test]
    fn resolves_without_clear_when_no_longer_breaching() {
        let r = rule("m > 90", 0, None);
        let mut s = AlertState::Inactive;
        r.step(&mut s, 95.0, 0);
        assert_eq!(r.step(&mut s, 90.0, 1), Transition::Resolved);
        assert_eq!(s, AlertState::Inactive);
    }

    #[test]
    fn nan_changes_nothing() {
        let r = rule("m > 90", 60, None);
        for mut s in [
            AlertState::Inactive,
            AlertState::Pending { since_ms: 0 },
            AlertState::Firing { since_ms: 0 },
        ] {
            let before = s;
            assert_eq!(r.step(&mut s, f64::NAN, 1_000_000), Transition::None);
            assert_eq!(s, before);
        }
    }

    #[test]
    fn tick_promotes_pending() {
        let r = rule("m > 90", 60, None);
        let mut s = AlertState::Pending { since_ms: 1_000 };
        assert_eq!(r.tick(&mut s, 60_999), Transition::None);
        assert_eq!(r.tick(&mut s, 61_000), Transition::Fired);
        assert_eq!(s, AlertState::Firing { since_ms: 1_000 });
        assert_eq!(r.tick(&mut s, 999_999), Transition::None);
        let mut inactive = AlertState::Inactive;
        assert_eq!(r.tick(&mut inactive, 999_999), Transition::None);
        assert_eq!(inactive, AlertState::Inactive);
    }

    #[test]
    fn clock_going_backwards_does_not_fire() {
        let r = rule("m > 90", 60, None);
        let mut s = AlertState::Pending { since_ms: 100_000 };
        assert_eq!(r.step(&mut s, 95.0, 0), Transition::None);
        assert_eq!(r.tick(&mut s, i64::MIN), Transition::None);
    }

    #[derive(Debug, Clone)]
    enum Input {
        Sample(f64),
        Tick,
    }

    fn input() -> impl Strategy<Value = (Input, i64)> {
        let value = prop_oneof![
            8 => (0.0f64..100.0).prop_map(Input::Sample),
            1 => Just(Input::Sample(f64::NAN)),
            2 => Just(Input::Tick),
        ];
        (value, 0i64..120_000)
    }

    proptest! {
        /// Model check: firing only ever follows a breach, and Fired/Resolved alternate.
        #[test]
        fn fired_and_resolved_alternate_and_need_a_breach(
            op in prop_oneof![Just(">"), Just(">="), Just("<"), Just("<=")],
            threshold in 10.0f64..90.0,
            clear_gap in proptest::option::of(0.1f64..10.0),
            for_s in 0u64..120,
            inputs in proptest::collection::vec(input(), 0..60),
        ) {
            let below = op.starts_with('>');
            let clear = clear_gap.map(|g| if below { threshold - g } else { threshold + g });
            let r = rule(&format!("m {op} {threshold}"), for_s, clear);
            let mut s = AlertState::Inactive;
            let mut now = 0i64;
            let mut last_edge = Transition::Resolved;
            for (inp, dt) in inputs {
                now += dt;
                let before = s;
                let t = match inp {
                    Input::Sample(v) => {
                        let t = r.step(&mut s, v, now);
                        if before == AlertState::Inactive && t != Transition::None {
                            prop_assert!(r.is_breach(v), "left Inactive without a breach");
                        }
                        t
                    }
                    Input::Tick => {
                        let t = r.tick(&mut s, now);
                        let was_pending = matches!(before, AlertState::Pending { .. });
                        prop_assert!(t == Transition::None || (was_pending && t == Transition::Fired));
                        prop_assert!(was_pending || s == before, "tick changed a non-pending state");
                        t
                    }
                };
                match t {
                    Transition::Fired | Transition::Resolved => {
                        prop_assert_ne!(t, last_edge, "two {:?} in a row", t);
                        last_edge = t;
                    }
                    _ => {}
                }
                if t == Transition::Fired {
                    let AlertState::Firing { since_ms } = s else {
                        return Err(TestCaseError::fail("Fired but not Firing"));
                    };
                    prop_assert!(now - since_ms >= i64::try_from(for_s * 1000).unwrap());
                }
                // The state agrees with the last edge reported.
                prop_assert_eq!(matches!(s, AlertState::Firing { .. }), last_edge == Transition::Fired);
            }
        }
    }
}
