//! Flap detection as Icinga and Nagios do it: the share of state changes over the last 21
//! evaluations (20 possible changes), newer changes weighing more (0.8 for the oldest to 1.2
//! for the newest), with a high threshold to start flapping and a lower one to stop, so a
//! series that keeps crossing its threshold yields one incident marked flapping instead of a
//! storm of open/resolve pairs.

/// Default threshold (percent) above which a series starts flapping (Icinga 2's default).
pub const DEFAULT_HIGH: f64 = 30.0;
/// Default threshold (percent) below which it stops (Icinga 2's default).
pub const DEFAULT_LOW: f64 = 25.0;

/// Changes remembered.
const WINDOW: u32 = 20;

/// What a recorded evaluation changed about flapping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlapChange {
    /// The series started flapping.
    Started,
    /// It stopped.
    Stopped,
}

/// Flap state of one (rule, series).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Flap {
    /// Bit i set = the (i+1)-th newest evaluation changed state; bit 0 is the newest.
    changes: u32,
    /// Evaluations recorded after the first (at most WINDOW count).
    recorded: u32,
    last: Option<bool>,
    flapping: bool,
}

impl Flap {
    /// Whether recording `state` can change nothing but the count of evaluations: the same
    /// state as the last one, no change in the window, not flapping. The collector checks it
    /// on every evaluation of every rule before [`Flap::record`].
    #[inline]
    pub fn is_steady(&self, state: bool) -> bool {
        self.last == Some(state) && self.changes == 0 && !self.flapping
    }

    /// [`Flap::record`] for a state [`Flap::is_steady`] said is steady.
    #[inline]
    pub fn record_steady(&mut self) {
        self.recorded = (self.recorded + 1).min(WINDOW);
    }

    /// Records one evaluation's state (true = breaching) and returns a change of flapping.
    pub fn record(&mut self, state: bool, high: f64, low: f64) -> Option<FlapChange> {
        let last = self.last.replace(state)?;
        self.changes = ((self.changes << 1) | u32::from(last != state)) & ((1 << WINDOW) - 1);
        self.recorded = (self.recorded + 1).min(WINDOW);
        let pct = self.percent();
        if !self.flapping && pct > high {
            self.flapping = true;
            Some(FlapChange::Started)
        } else if self.flapping && pct < low {
            self.flapping = false;
            Some(FlapChange::Stopped)
        } else {
            None
        }
    }

    /// The weighted share of changes in the window, 0–100.
    pub fn percent(&self) -> f64 {
        // The common case, a series that keeps its state: nothing to weigh. Recorded on every
        // evaluation of every rule, so it is on the ingest path.
        if self.changes == 0 {
            return 0.0;
        }
        let mut sum = 0.0;
        for age in 0..WINDOW {
            if self.changes & (1 << age) != 0 {
                // age 0 is the newest (weight 1.2), age 19 the oldest (0.8).
                sum += 0.8 + 0.4 * f64::from(WINDOW - 1 - age) / f64::from(WINDOW - 1);
            }
        }
        100.0 * sum / f64::from(WINDOW)
    }

    /// Whether the series is flapping now.
    pub fn is_flapping(&self) -> bool {
        self.flapping
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(f: &mut Flap, states: &[bool]) -> Vec<(usize, FlapChange)> {
        states
            .iter()
            .enumerate()
            .filter_map(|(i, s)| f.record(*s, DEFAULT_HIGH, DEFAULT_LOW).map(|c| (i, c)))
            .collect()
    }

    #[test]
    fn the_steady_short_cut_records_what_record_would() {
        // Every sequence of four-state runs up to 60 long, from a seeded generator: a flap
        // driven through the short cut where it says steady equals one driven by `record`.
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..500 {
            let (mut a, mut b) = (Flap::default(), Flap::default());
            for _ in 0..60 {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                let state = !seed.is_multiple_of(5);
                let full = a.record(state, DEFAULT_HIGH, DEFAULT_LOW);
                if b.is_steady(state) {
                    assert_eq!(full, None, "steady means no change");
                    b.record_steady();
                } else {
                    assert_eq!(b.record(state, DEFAULT_HIGH, DEFAULT_LOW), full);
                }
                assert_eq!(a, b);
            }
        }
    }

    #[test]
    fn a_steady_series_never_flaps() {
        let mut f = Flap::default();
        assert!(feed(&mut f, &[true; 50]).is_empty());
        assert_eq!(f.percent(), 0.0);
        // One clean transition is 6 % at most.
        let mut f = Flap::default();
        let mut states = vec![false; 10];
        states.extend([true; 30]);
        assert!(feed(&mut f, &states).is_empty());
    }

    #[test]
    fn alternating_states_start_flapping_and_calm_states_stop_it() {
        let mut f = Flap::default();
        let alternating: Vec<bool> = (0..10).map(|i| i % 2 == 0).collect();
        let changes = feed(&mut f, &alternating);
        // Changes at evaluations 1..: newest weigh 1.2 → 6 %, 5.98+..., > 30 % at the 6th change.
        assert_eq!(changes.len(), 1, "{changes:?}");
        assert_eq!(changes[0].1, FlapChange::Started);
        assert_eq!(changes[0].0, 6);
        assert!(f.is_flapping());
        // Stays flapping while it keeps changing.
        assert!(feed(&mut f, &alternating).is_empty());
        // Calm: the changes age out; it stops once below 25 %.
        let calm = feed(&mut f, &[true; 25]);
        assert_eq!(calm.len(), 1);
        assert_eq!(calm[0].1, FlapChange::Stopped);
        assert!(!f.is_flapping());
        assert!(f.percent() < DEFAULT_LOW);
    }

    #[test]
    fn weights_match_the_icinga_definition() {
        // Every evaluation a change: the full window is 100 %.
        let mut f = Flap::default();
        let all: Vec<bool> = (0..21).map(|i| i % 2 == 0).collect();
        feed(&mut f, &all);
        assert!((f.percent() - 100.0).abs() < 1e-9);
        // Only the newest evaluation changed: 1.2 / 20 = 6 %.
        let mut f = Flap::default();
        let mut states = vec![false; 20];
        states.push(true);
        feed(&mut f, &states);
        assert!((f.percent() - 6.0).abs() < 1e-9);
        // Only the oldest remembered change: 0.8 / 20 = 4 %.
        feed(&mut f, &[true; 19]);
        assert!((f.percent() - 4.0).abs() < 1e-9);
        feed(&mut f, &[true]);
        assert_eq!(f.percent(), 0.0);
    }

    #[test]
    fn hysteresis_between_the_thresholds() {
        // Between low and high nothing changes in either direction.
        let mut f = Flap::default();
        // 5 changes spread: about 27 %, under high: not flapping.
        let s = [
            false, true, true, false, false, true, true, false, false, true,
        ];
        feed(&mut f, &s);
        let p = f.percent();
        assert!(p > DEFAULT_LOW && p < DEFAULT_HIGH, "{p}");
        assert!(!f.is_flapping());
    }
}
