//! Numbered batches kept until the collector acknowledges them.
//!
//! Batches hold points by agent-wide series id; label sets are attached at send time, once per
//! stream (see [`crate::stream`]). The backlog is bounded in points: past the bound the oldest
//! batches are dropped and counted, so a long collector outage costs memory up to a known limit
//! and never the agent. With the disk spool, batches already on disk leave memory first and are
//! read back from the spool when their turn comes; only batches not yet on disk are dropped.

use std::collections::{HashMap, VecDeque};

use patrol_proto::{Labels, Sample};

/// A series as the agent knows it: metric name and the probe's own labels.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SeriesKey {
    pub name: String,
    pub labels: Labels,
}

/// Gives each distinct series a small id for the agent's whole life.
#[derive(Debug, Default)]
pub struct Interner {
    // Nested by name so a lookup borrows the sample's name and labels and allocates nothing.
    ids: HashMap<String, HashMap<Labels, u32>>,
    keys: Vec<SeriesKey>,
}

impl Interner {
    pub fn intern(&mut self, name: &str, labels: &Labels) -> u32 {
        if let Some(id) = self.ids.get(name).and_then(|m| m.get(labels)) {
            return *id;
        }
        let id = self.keys.len() as u32;
        self.keys.push(SeriesKey {
            name: name.to_owned(),
            labels: labels.clone(),
        });
        self.ids
            .entry(name.to_owned())
            .or_default()
            .insert(labels.clone(), id);
        id
    }

    pub fn key(&self, id: u32) -> Option<&SeriesKey> {
        self.keys.get(id as usize)
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    pub series: u32,
    pub value: f64,
    pub timestamp_ms: i64,
}

#[derive(Debug, Clone)]
pub struct Batch {
    pub seq: u64,
    pub points: Vec<Point>,
}

/// Unacknowledged batches, oldest first.
#[derive(Debug)]
pub struct Outbox {
    interner: Interner,
    batches: VecDeque<Batch>,
    next_seq: u64,
    pending_points: usize,
    max_points: usize,
    max_pending_points: usize,
    dropped_points: u64,
}

/// What [`Outbox::bound`] removed from memory.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Shed {
    /// Batches (and their points) that were on disk: they are read back from the spool.
    pub spilled_batches: u64,
    /// Batches and points lost.
    pub dropped_batches: u64,
    pub dropped_points: u64,
    /// The newest sequence number lost (0 if none).
    pub dropped_through: u64,
}

impl Outbox {
    pub fn new(max_points: usize, max_pending_points: usize) -> Self {
        Self::starting_at(max_points, max_pending_points, 1)
    }

    /// An outbox whose first batch gets `next_seq` (after a restart, from the spool).
    pub fn starting_at(max_points: usize, max_pending_points: usize, next_seq: u64) -> Self {
        Self {
            interner: Interner::default(),
            batches: VecDeque::new(),
            next_seq: next_seq.max(1),
            pending_points: 0,
            max_points: max_points.max(1),
            max_pending_points,
            dropped_points: 0,
        }
    }

    /// New `[batch]` limits (a reload); the bound applies at the next [`Self::bound`].
    pub fn set_limits(&mut self, max_points: usize, max_pending_points: usize) {
        self.max_points = max_points.max(1);
        self.max_pending_points = max_pending_points;
    }

    /// Appends one probe round as one or more numbered batches; returns their numbers.
    /// Call [`Self::bound`] afterwards.
    pub fn push(&mut self, samples: &[Sample]) -> std::ops::Range<u64> {
        let first = self.next_seq;
        for chunk in samples.chunks(self.max_points) {
            let points = chunk
                .iter()
                .map(|s| Point {
                    series: self.interner.intern(&s.name, &s.labels),
                    value: s.value,
                    timestamp_ms: s.timestamp_ms,
                })
                .collect::<Vec<_>>();
            self.pending_points += points.len();
            self.batches.push_back(Batch {
                seq: self.next_seq,
                points,
            });
            self.next_seq += 1;
        }
        first..self.next_seq
    }

    /// Keeps memory within `max_pending_points` by removing the oldest batches: those up to
    /// `on_disk_through` are in the spool (spilled, read back later), the others are lost.
    pub fn bound(&mut self, on_disk_through: u64) -> Shed {
        let mut shed = Shed::default();
        while self.pending_points > self.max_pending_points {
            let Some(b) = self.batches.pop_front() else {
                break;
            };
            self.pending_points -= b.points.len();
            if b.seq <= on_disk_through {
                shed.spilled_batches += 1;
            } else {
                self.dropped_points += b.points.len() as u64;
                shed.dropped_batches += 1;
                shed.dropped_points += b.points.len() as u64;
                shed.dropped_through = b.seq;
            }
        }
        shed
    }

    /// Forgets batches up to `seq` that the spool dropped (trimmed to its limits), so memory
    /// and disk agree on what is lost. Returns how many went.
    pub fn prune_through(&mut self, seq: u64) -> usize {
        self.ack(seq)
    }

    /// Sequence number of the oldest batch in memory.
    pub fn front_seq(&self) -> Option<u64> {
        self.batches.front().map(|b| b.seq)
    }

    /// A batch in memory by its sequence number.
    pub fn get(&self, seq: u64) -> Option<&Batch> {
        let front = self.batches.front()?.seq;
        self.batches.get(seq.checked_sub(front)? as usize)
    }

    /// Unacknowledged batches in memory, oldest first, with their total points.
    pub fn pending(&self) -> (usize, usize) {
        (self.batches.len(), self.pending_points)
    }

    /// Interns a replayed sample's series (for batches read back from the spool).
    pub fn intern(&mut self, name: &str, labels: &Labels) -> u32 {
        self.interner.intern(name, labels)
    }

    /// Forgets every batch up to and including `seq` (acks are cumulative).
    pub fn ack(&mut self, seq: u64) -> usize {
        let mut n = 0;
        while let Some(front) = self.batches.front() {
            if front.seq > seq {
                break;
            }
            self.pending_points -= front.points.len();
            self.batches.pop_front();
            n += 1;
        }
        n
    }

    /// Batches with a sequence number above `after`, oldest first.
    pub fn after(&self, after: u64) -> impl Iterator<Item = &Batch> {
        // Sequence numbers in the deque are contiguous (pushed in order, dropped from the
        // front), so the first one to send is found by arithmetic, not by a scan.
        let start = self
            .batches
            .front()
            .map(|f| (after + 1).saturating_sub(f.seq) as usize)
            .unwrap_or(0)
            .min(self.batches.len());
        self.batches.range(start..)
    }

    pub fn interner(&self) -> &Interner {
        &self.interner
    }

    pub fn pending_batches(&self) -> usize {
        self.batches.len()
    }

    pub fn pending_points(&self) -> usize {
        self.pending_points
    }

    pub fn dropped_points(&self) -> u64 {
        self.dropped_points
    }

    /// Sequence number the next batch will get.
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn samples(n: usize) -> Vec<Sample> {
        (0..n)
            .map(|i| Sample::new("m", Labels::from_pairs([("i", i.to_string())]), i as f64, 1))
            .collect()
    }

    #[test]
    fn rounds_are_split_and_numbered() {
        let mut o = Outbox::new(2, 100);
        o.push(&samples(5));
        let seqs: Vec<_> = o.after(0).map(|b| (b.seq, b.points.len())).collect();
        assert_eq!(seqs, vec![(1, 2), (2, 2), (3, 1)]);
        assert_eq!(o.pending_points(), 5);
    }

    #[test]
    fn acks_are_cumulative() {
        let mut o = Outbox::new(10, 100);
        for _ in 0..4 {
            o.push(&samples(1));
        }
        assert_eq!(o.ack(2), 2);
        assert_eq!(o.after(0).map(|b| b.seq).collect::<Vec<_>>(), vec![3, 4]);
        assert_eq!(o.ack(2), 0);
        assert_eq!(o.pending_points(), 2);
    }

    #[test]
    fn backlog_is_bounded_by_dropping_oldest() {
        let mut o = Outbox::new(10, 5);
        o.push(&samples(3));
        o.push(&samples(3));
        o.bound(0);
        assert_eq!(o.pending_points(), 3);
        assert_eq!(o.dropped_points(), 3);
        assert_eq!(o.after(0).next().map(|b| b.seq), Some(2));
    }

    #[test]
    fn batches_on_disk_are_spilled_not_dropped() {
        let mut o = Outbox::new(10, 5);
        o.push(&samples(3));
        o.push(&samples(3));
        o.push(&samples(3));
        // Batch 1 is on disk, batch 2 is not yet: 1 spills, 2 is lost.
        let shed = o.bound(1);
        assert_eq!(shed.spilled_batches, 1);
        assert_eq!(
            (
                shed.dropped_batches,
                shed.dropped_points,
                shed.dropped_through
            ),
            (1, 3, 2)
        );
        assert_eq!(o.front_seq(), Some(3));
        assert_eq!(o.get(3).map(|b| b.points.len()), Some(3));
        assert!(o.get(2).is_none());
    }

    #[test]
    fn same_series_same_id() {
        let mut o = Outbox::new(10, 100);
        o.push(&samples(2));
        o.push(&samples(2));
        assert_eq!(o.interner().len(), 2);
    }
}

#[cfg(test)]
mod model_tests {
    //! The outbox against a plain model: any interleaving of rounds and (possibly stale or
    //! future) acks keeps exactly the unacknowledged batches, in order, within the bound.

    use super::*;
    use proptest::prelude::*;
    use std::collections::VecDeque;

    #[derive(Debug, Clone)]
    enum Op {
        Push(usize),
        Ack(u64),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            3 => (0usize..12).prop_map(Op::Push),
            1 => (0u64..40).prop_map(Op::Ack),
        ]
    }

    proptest! {
        #[test]
        fn behaves_like_the_model(ops in proptest::collection::vec(op(), 1..80),
                                  max_points in 1usize..6, max_pending in 6usize..30) {
            let mut outbox = Outbox::new(max_points, max_pending);
            // Model: (seq, points) of kept batches; dropped point count.
            let mut model: VecDeque<(u64, usize)> = VecDeque::new();
            let mut next = 1u64;
            let mut dropped = 0u64;
            for op in ops {
                match op {
                    Op::Push(n) => {
                        let samples: Vec<Sample> = (0..n)
                            .map(|i| Sample::new("m", Labels::from_pairs([("i", i.to_string())]), 1.0, 1))
                            .collect();
                        outbox.push(&samples);
                        outbox.bound(0);
                        let mut left = n;
                        while left > 0 {
                            let take = left.min(max_points);
                            model.push_back((next, take));
                            next += 1;
                            left -= take;
                        }
                        while model.iter().map(|b| b.1).sum::<usize>() > max_pending {
                            if let Some((_, p)) = model.pop_front() {
                                dropped += p as u64;
                            }
                        }
                    }
                    Op::Ack(seq) => {
                        outbox.ack(seq);
                        while model.front().is_some_and(|b| b.0 <= seq) {
                            model.pop_front();
                        }
                    }
                }
                let kept: Vec<(u64, usize)> =
                    outbox.after(0).map(|b| (b.seq, b.points.len())).collect();
                prop_assert_eq!(&kept, &model.iter().copied().collect::<Vec<_>>());
                prop_assert_eq!(outbox.pending_points(), model.iter().map(|b| b.1).sum::<usize>());
                prop_assert!(outbox.pending_points() <= max_pending);
                prop_assert_eq!(outbox.dropped_points(), dropped);
                prop_assert_eq!(outbox.next_seq(), next);
                // `after(s)` is exactly the kept batches above s, whatever s is.
                for s in [0, next / 2, next.saturating_sub(1), next + 3] {
                    let above: Vec<u64> = outbox.after(s).map(|b| b.seq).collect();
                    let want: Vec<u64> = model.iter().map(|b| b.0).filter(|q| *q > s).collect();
                    prop_assert_eq!(above, want);
                }
            }
        }
    }
}
