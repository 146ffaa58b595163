//! Per-second rates from SNMP counters between two polls of one device.
//!
//! The rule, in order:
//! 1. The first reading of a counter gives no rate (nothing to compare with).
//! 2. If the device's sysUpTime went backwards since the last poll, the agent restarted and
//!    every counter may have restarted at 0: no rate this round, the readings become the
//!    new baseline.
//! 3. If the row's discontinuity marker changed (IF-MIB `ifCounterDiscontinuityTime`: the
//!    interface was re-created or its counters cleared), no rate for that row.
//! 4. A counter that grew gives (new − old) ÷ seconds between the two polls.
//! 5. A Counter32 that went down wrapped once past 2³²: (new + 2³² − old) ÷ seconds.
//!    A Counter64 that went down was reset (it wraps after centuries at line rate): no rate.
//!
//! So a rate is never negative, and a restart never shows as a spike.

use std::collections::HashMap;

/// Width of an SNMP counter, which decides how a decrease is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Width {
    Bits32,
    Bits64,
}

#[derive(Debug, Clone, Copy)]
struct Reading {
    value: u64,
    width: Width,
    discontinuity: Option<u32>,
}

/// Counter readings of one device, kept between polls.
#[derive(Debug, Default)]
pub struct Counters {
    /// Seconds (monotonic) and sysUpTime of the previous poll.
    previous_poll: Option<(f64, Option<u32>)>,
    /// Seconds since the previous poll; `None` when no rate can be given this round.
    elapsed: Option<f64>,
    readings: HashMap<String, Reading>,
    /// Keys read this round; the others are forgotten at the end of the round so that
    /// vanished interfaces do not pile up.
    seen: Vec<String>,
}

impl Counters {
    /// Starts a round taken at `now_s` (monotonic seconds) with the device's sysUpTime.
    pub fn begin(&mut self, now_s: f64, uptime: Option<u32>) {
        self.elapsed = match self.previous_poll {
            Some((then, old_uptime)) => {
                let restarted = matches!((old_uptime, uptime), (Some(old), Some(new)) if new < old);
                let elapsed = now_s - then;
                (!restarted && elapsed > 0.0).then_some(elapsed)
            }
            None => None,
        };
        self.previous_poll = Some((now_s, uptime));
        self.seen.clear();
    }

    /// Records a counter reading and returns its rate per second, if the rule allows one.
    pub fn rate(
        &mut self,
        key: String,
        value: u64,
        width: Width,
        discontinuity: Option<u32>,
    ) -> Option<f64> {
        let reading = Reading {
            value,
            width,
            discontinuity,
        };
        let previous = self.readings.insert(key.clone(), reading);
        self.seen.push(key);
        let elapsed = self.elapsed?;
        let previous = previous?;
        if previous.discontinuity != discontinuity || previous.width != width {
            return None;
        }
        let delta = if value >= previous.value {
            value - previous.value
        } else {
            match width {
                Width::Bits32 => (value + (1u64 << 32)).checked_sub(previous.value)?,
                Width::Bits64 => return None,
            }
        };
        Some(delta as f64 / elapsed)
    }

    /// Ends the round: forgets counters not read in it.
    pub fn finish(&mut self) {
        let seen: std::collections::HashSet<&String> = self.seen.iter().collect();
        self.readings.retain(|k, _| seen.contains(k));
    }

    /// The device did not answer: the next answer starts from scratch.
    pub fn reset(&mut self) {
        self.previous_poll = None;
        self.elapsed = None;
        self.readings.clear();
        self.seen.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round(c: &mut Counters, t: f64, up: u32, v: u64, w: Width) -> Option<f64> {
        c.begin(t, Some(up));
        let r = c.rate("x".into(), v, w, None);
        c.finish();
        r
    }

    #[test]
    fn first_reading_has_no_rate_then_rates_follow() {
        let mut c = Counters::default();
        assert_eq!(round(&mut c, 0.0, 100, 1_000, Width::Bits64), None);
        assert_eq!(round(&mut c, 10.0, 1100, 6_000, Width::Bits64), Some(500.0));
    }

    #[test]
    fn counter32_wrap_is_counted_once() {
        let mut c = Counters::default();
        round(&mut c, 0.0, 100, u64::from(u32::MAX) - 99, Width::Bits32);
        assert_eq!(round(&mut c, 10.0, 1100, 100, Width::Bits32), Some(20.0));
    }

    #[test]
    fn counter64_going_down_is_a_reset_not_a_spike() {
        let mut c = Counters::default();
        round(&mut c, 0.0, 100, 5_000_000, Width::Bits64);
        assert_eq!(round(&mut c, 10.0, 1100, 10, Width::Bits64), None);
        assert_eq!(round(&mut c, 20.0, 2100, 110, Width::Bits64), Some(10.0));
    }

    #[test]
    fn agent_restart_gives_no_rate_for_that_round() {
        let mut c = Counters::default();
        round(&mut c, 0.0, 100_000, 4_000_000_000, Width::Bits32);
        // sysUpTime went back: even a Counter32 that "wrapped" is not a wrap.
        assert_eq!(round(&mut c, 10.0, 50, 1_000, Width::Bits32), None);
        assert_eq!(round(&mut c, 20.0, 1050, 2_000, Width::Bits32), Some(100.0));
    }

    #[test]
    fn discontinuity_marker_change_suppresses_the_rate() {
        let mut c = Counters::default();
        c.begin(0.0, Some(1));
        c.rate("x".into(), 500, Width::Bits64, Some(7));
        c.finish();
        c.begin(10.0, Some(1001));
        assert_eq!(c.rate("x".into(), 10, Width::Bits64, Some(900)), None);
    }

    #[test]
    fn vanished_rows_are_forgotten_and_reset_clears_everything() {
        let mut c = Counters::default();
        c.begin(0.0, Some(1));
        c.rate("a".into(), 1, Width::Bits64, None);
        c.rate("b".into(), 1, Width::Bits64, None);
        c.finish();
        c.begin(10.0, Some(1001));
        c.rate("a".into(), 11, Width::Bits64, None);
        c.finish();
        assert_eq!(c.readings.len(), 1);
        c.reset();
        c.begin(20.0, Some(2001));
        assert_eq!(c.rate("a".into(), 21, Width::Bits64, None), None);
    }
}
