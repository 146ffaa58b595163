//! How long the dispatcher waits before trying a failed delivery again: capped exponential
//! backoff with optional jitter, per channel (`[channel.X.retry]`).

use std::time::Duration;

/// Capped exponential backoff: attempt 1 waits `initial`, each further attempt `factor` times
/// longer, never more than `max`; `jitter` spreads each wait over ±that fraction so channels
/// that failed together do not retry together.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    /// Wait before the first retry.
    pub initial: Duration,
    /// Longest wait.
    pub max: Duration,
    /// Growth per attempt (≥ 1).
    pub factor: f64,
    /// Fraction (0 to 1) of each wait that is randomised.
    pub jitter: f64,
}

impl Default for RetryPolicy {
    /// 1 s, doubling, at most 5 min, ±20 %.
    fn default() -> Self {
        Self {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(300),
            factor: 2.0,
            jitter: 0.2,
        }
    }
}

impl RetryPolicy {
    /// The wait before retry number `attempt` (1 = the first retry), without jitter.
    /// Attempt 0 waits nothing.
    pub fn delay(&self, attempt: u32) -> Duration {
        if attempt == 0 {
            return Duration::ZERO;
        }
        let exp = self.factor.powi(attempt.saturating_sub(1).min(1024) as i32);
        let secs = self.initial.as_secs_f64() * exp;
        if !secs.is_finite() || secs >= self.max.as_secs_f64() {
            self.max
        } else {
            Duration::from_secs_f64(secs)
        }
    }

    /// [`RetryPolicy::delay`] with jitter applied; `unit` is a random number in `[0, 1)` the
    /// caller draws (so this stays a pure function), mapped onto `±jitter`. Never above `max`.
    pub fn delay_jittered(&self, attempt: u32, unit: f64) -> Duration {
        let base = self.delay(attempt).as_secs_f64();
        let spread = (unit.clamp(0.0, 1.0) * 2.0 - 1.0) * self.jitter;
        let secs = (base * (1.0 + spread)).clamp(0.0, self.max.as_secs_f64());
        Duration::from_secs_f64(secs)
    }

    /// Checks the invariants; the message names the field to fix.
    pub fn check(&self) -> Result<(), String> {
        if self.initial.is_zero() {
            return Err("retry 'initial' must be longer than zero".to_owned());
        }
        if self.max < self.initial {
            return Err(format!(
                "retry 'max' ({}) must not be shorter than 'initial' ({})",
                humantime::format_duration(self.max),
                humantime::format_duration(self.initial)
            ));
        }
        if !(self.factor.is_finite() && self.factor >= 1.0) {
            return Err(format!(
                "retry 'factor' must be 1 or more (got {})",
                self.factor
            ));
        }
        if !(0.0..=1.0).contains(&self.jitter) {
            return Err(format!(
                "retry 'jitter' is a fraction between 0 and 1 (got {})",
                self.jitter
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failing unwrap is a failing test
mod tests {
    use super::*;

    fn policy() -> RetryPolicy {
        RetryPolicy {
            initial: Duration::from_millis(500),
            max: Duration::from_secs(10),
            factor: 3.0,
            jitter: 0.5,
        }
    }

    #[test]
    fn grows_by_factor_until_capped() {
        let p = policy();
        let got: Vec<u128> = (0..7).map(|a| p.delay(a).as_millis()).collect();
        assert_eq!(got, [0, 500, 1500, 4500, 10_000, 10_000, 10_000]);
    }

    #[test]
    fn huge_attempt_numbers_stay_at_max() {
        assert_eq!(policy().delay(u32::MAX), Duration::from_secs(10));
    }

    #[test]
    fn jitter_spreads_both_ways_and_never_exceeds_max() {
        let p = policy();
        assert_eq!(p.delay_jittered(2, 0.0), Duration::from_millis(750));
        assert_eq!(p.delay_jittered(2, 0.5), Duration::from_millis(1500));
        assert_eq!(p.delay_jittered(2, 1.0), Duration::from_millis(2250));
        assert_eq!(p.delay_jittered(9, 1.0), Duration::from_secs(10));
        assert_eq!(
            p.delay_jittered(2, f64::NAN.max(7.0)),
            p.delay_jittered(2, 1.0)
        );
    }

    #[test]
    fn check_names_the_bad_field() {
        let mut p = policy();
        p.factor = 0.5;
        assert!(p.check().unwrap_err().contains("'factor'"));
        let mut p = policy();
        p.max = Duration::from_millis(1);
        assert!(p.check().unwrap_err().contains("'max'"));
        let mut p = policy();
        p.jitter = 2.0;
        assert!(p.check().unwrap_err().contains("'jitter'"));
        assert_eq!(RetryPolicy::default().check(), Ok(()));
    }
}
