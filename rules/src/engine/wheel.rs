//! A hierarchical timer wheel (after tokio's `time/wheel`): six levels of 64 slots, level `n`
//! slots `64^n` ms wide, so inserting and expiring a timer cost O(1) and advancing the clock
//! visits only occupied slots — the engine wakes silent series without scanning every series.
//!
//! Timers are keys with a deadline; the wheel hands a key back at the first `advance` whose time
//! is at or past the deadline. It never cancels: the engine checks, when a key comes back,
//! whether its series still needs waking (and re-inserts it at the real deadline if a sample
//! pushed it back), which keeps a sample's cost to a field write.

/// Levels and slots per level.
const LEVELS: usize = 6;
const SLOTS: usize = 64;
const BITS: u32 = 6;
/// The furthest a deadline can be from the wheel's time (~2.2 years of ms); further ones are
/// clamped and come back early, which the engine's re-check absorbs.
const MAX_SPAN: u64 = (1 << (BITS * LEVELS as u32)) - 1;

/// The timer wheel. Times are ms on the engine's clock; negative times count as 0.
#[derive(Debug)]
pub struct Wheel {
    /// The wheel's current time; `None` until the first insert or advance sets it.
    elapsed: Option<u64>,
    levels: Vec<Level>,
    /// Keys already due when inserted: returned by the next advance.
    ready: Vec<u32>,
    len: usize,
}

#[derive(Debug)]
struct Level {
    level: u32,
    occupied: u64,
    slots: Vec<Vec<(u64, u32)>>,
}

/// The next slot to expire.
#[derive(Debug, Clone, Copy)]
struct Expiration {
    level: usize,
    slot: usize,
    deadline: u64,
}

fn slot_range(level: u32) -> u64 {
    1 << (BITS * level)
}

fn level_range(level: u32) -> u64 {
    1 << (BITS * (level + 1))
}

/// The level a deadline belongs to: the highest 6-bit group in which it differs from now.
fn level_for(elapsed: u64, when: u64) -> usize {
    let masked = (elapsed ^ when) | (SLOTS as u64 - 1);
    let significant = 63 - masked.leading_zeros();
    ((significant / BITS) as usize).min(LEVELS - 1)
}

fn ms(t: i64) -> u64 {
    u64::try_from(t).unwrap_or(0)
}

impl Default for Wheel {
    fn default() -> Self {
        Self::new()
    }
}

impl Wheel {
    /// An empty wheel.
    pub fn new() -> Self {
        Wheel {
            elapsed: None,
            levels: (0..LEVELS as u32)
                .map(|level| Level {
                    level,
                    occupied: 0,
                    slots: vec![Vec::new(); SLOTS],
                })
                .collect(),
            ready: Vec::new(),
            len: 0,
        }
    }

    /// Timers waiting.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no timer waits.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Schedules `key` for `deadline_ms`; `now_ms` starts the wheel's clock if nothing has
    /// yet.
    pub fn insert(&mut self, now_ms: i64, deadline_ms: i64, key: u32) {
        let when = ms(deadline_ms);
        let elapsed = *self.elapsed.get_or_insert(ms(now_ms));
        self.len += 1;
        if when <= elapsed {
            self.ready.push(key);
            return;
        }
        self.place(elapsed, when.min(elapsed + MAX_SPAN), key);
    }

    fn place(&mut self, elapsed: u64, when: u64, key: u32) {
        let level = level_for(elapsed, when);
        let lv = &mut self.levels[level];
        let slot = ((when >> (BITS * lv.level)) % SLOTS as u64) as usize;
        lv.slots[slot].push((when, key));
        lv.occupied |= 1 << slot;
    }

    /// Moves the clock to `now_ms` and appends every key whose deadline is at or before it.
    pub fn advance(&mut self, now_ms: i64, due: &mut Vec<u32>) {
        let now = ms(now_ms);
        let elapsed = *self.elapsed.get_or_insert(now);
        self.len -= self.ready.len();
        due.append(&mut self.ready);
        if now < elapsed {
            return;
        }
        let mut elapsed = elapsed;
        while let Some(exp) = self.next_expiration(elapsed) {
            if exp.deadline > now {
                break;
            }
            elapsed = exp.deadline;
            let lv = &mut self.levels[exp.level];
            lv.occupied &= !(1 << exp.slot);
            let entries = std::mem::take(&mut lv.slots[exp.slot]);
            for (when, key) in entries {
                if when <= elapsed {
                    self.len -= 1;
                    due.push(key);
                } else {
                    // Cascade to a finer level, relative to the slot's time.
                    self.place(elapsed, when, key);
                }
            }
        }
        self.elapsed = Some(now);
    }

    /// The earliest occupied slot: lower levels always expire before higher ones.
    fn next_expiration(&self, now: u64) -> Option<Expiration> {
        self.levels.iter().find_map(|l| l.next_expiration(now))
    }
}

impl Level {
    fn next_expiration(&self, now: u64) -> Option<Expiration> {
        if self.occupied == 0 {
            return None;
        }
        let now_slot = now / slot_range(self.level);
        let occupied = self.occupied.rotate_right((now_slot % SLOTS as u64) as u32);
        let slot = ((u64::from(occupied.trailing_zeros()) + now_slot) % SLOTS as u64) as usize;
        let level_start = now & !(level_range(self.level) - 1);
        let mut deadline = level_start + slot as u64 * slot_range(self.level);
        if deadline <= now {
            // Only the top level wraps: its slots are a ring the clock goes round.
            deadline += level_range(self.level);
        }
        Some(Expiration {
            level: self.level as usize,
            slot,
            deadline,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use proptest::prelude::*;

    use super::*;

    #[test]
    fn fires_at_the_deadline_not_before() {
        let mut w = Wheel::new();
        w.insert(0, 1_000, 1);
        w.insert(0, 1_000 + 300_000, 2);
        w.insert(0, 1_000 + 300_001, 3);
        let mut due = Vec::new();
        w.advance(1_000 + 299_999, &mut due);
        assert_eq!(due, [1]);
        due.clear();
        w.advance(1_000 + 300_000, &mut due);
        assert_eq!(due, [2]);
        due.clear();
        w.advance(1_000 + 400_000, &mut due);
        assert_eq!(due, [3]);
        assert!(w.is_empty());
    }

    #[test]
    fn works_at_epoch_times_and_past_deadlines() {
        let t0 = 1_764_000_000_000i64;
        let mut w = Wheel::new();
        w.insert(t0, t0 + 5 * 60_000, 7);
        let mut due = Vec::new();
        w.advance(t0, &mut due);
        assert!(due.is_empty());
        // A deadline already past comes back at the next advance.
        w.insert(t0, t0 - 10, 8);
        w.advance(t0, &mut due);
        assert_eq!(due, [8]);
        due.clear();
        w.advance(t0 + 3_600_000, &mut due);
        assert_eq!(due, [7]);
        assert_eq!(w.len(), 0);
    }

    #[derive(Debug, Clone)]
    enum Op {
        Insert(i64),
        Advance(i64),
    }

    proptest! {
        /// Against a sorted map: every key comes back exactly once, at the first advance at or
        /// past its deadline.
        #[test]
        fn matches_a_sorted_model(
            start in 0i64..1_800_000_000_000,
            ops in proptest::collection::vec(prop_oneof![
                3 => prop_oneof![0i64..200, 0i64..100_000, 0i64..20_000_000, 0i64..10_000_000_000]
                    .prop_map(Op::Insert),
                2 => prop_oneof![0i64..100, 0i64..50_000, 0i64..5_000_000, 0i64..5_000_000_000]
                    .prop_map(Op::Advance),
            ], 1..200),
        ) {
            let mut w = Wheel::new();
            let mut model: BTreeMap<u32, i64> = BTreeMap::new();
            let mut now = start;
            w.advance(now, &mut Vec::new());
            let mut next_key = 0u32;
            for op in ops {
                match op {
                    Op::Insert(d) => {
                        w.insert(now, now + d, next_key);
                        model.insert(next_key, now + d);
                        next_key += 1;
                    }
                    Op::Advance(d) => {
                        now += d;
                        let mut due = Vec::new();
                        w.advance(now, &mut due);
                        due.sort_unstable();
                        let want: Vec<u32> = model
                            .iter()
                            .filter(|(_, t)| **t <= now)
                            .map(|(&k, _)| k)
                            .collect();
                        for k in &want {
                            model.remove(k);
                        }
                        prop_assert_eq!(due, want, "at {}", now);
                        prop_assert_eq!(w.len(), model.len());
                    }
                }
            }
        }
    }
}
